#!/bin/sh
# SPDX-License-Identifier: MIT
# insole2mqtt --check-config, end to end: the example passes; each kind of broken file fails with
# exactly one line on stderr naming file:line; the password shows up nowhere.
# Usage: check-config.sh PATH-TO-insole2mqtt SOURCE-ROOT
set -u

exe=$1
src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
unset CREDENTIALS_DIRECTORY TZDIR
failures=0
secret='s3cret-Pa55w0rd'

fail() {
        echo "not ok: $*" >&2
        failures=$((failures + 1))
}

# The example configuration: exit 0, a summary, nothing on stderr.
if "$exe" --config "$src/config/insole2mqtt.conf" --check-config >"$tmp/out" 2>"$tmp/err"; then
        grep -q "OK" "$tmp/out" || fail "example: no OK in the summary: $(cat "$tmp/out")"
        grep -q "anna" "$tmp/out" || fail "example: wearer anna missing from the summary"
        [ -s "$tmp/err" ] && fail "example: stderr not empty: $(cat "$tmp/err")"
else
        fail "example: exit status $? ($(cat "$tmp/err"))"
fi

printf '%s\n' "$secret" >"$tmp/pw"
wearer='[wearer anna]
left = C0:FF:EE:00:00:01'

# expect_broken NAME LINE TEXT: non-zero exit, exactly one line on stderr starting with FILE:LINE:
expect_broken() {
        name=$1
        line=$2
        printf '%s\n' "$3" >"$tmp/$name.conf"
        if "$exe" --config "$tmp/$name.conf" --check-config >"$tmp/out" 2>"$tmp/err"; then
                fail "$name: exit status 0"
                return
        fi
        lines=$(wc -l <"$tmp/err")
        [ "$lines" -eq 1 ] || fail "$name: $lines lines on stderr: $(cat "$tmp/err")"
        case "$(cat "$tmp/err")" in
        "$tmp/$name.conf:$line: "*) ;;
        *) fail "$name: stderr does not start with $tmp/$name.conf:$line: $(cat "$tmp/err")" ;;
        esac
        grep -q "$secret" "$tmp/err" "$tmp/out" && fail "$name: the password was printed"
        return 0
}

expect_broken wrong-type 2 "[mqtt]
port = http
$wearer"
expect_broken out-of-range 3 "[mqtt]
host = localhost
qos = 3
$wearer"
expect_broken unknown-key 2 "[bluetooth]
discovery = yes
$wearer"
expect_broken unknown-section 1 "[broker]
$wearer"
# A topic level of 33 bytes: the MQTT module refuses it, so the check refuses it too (it used to
# print OK and the daemon then failed to start without naming the key).
expect_broken long-topic-level 2 "[mqtt]
base-topic = home/abcdefghijklmnopqrstuvwxyz0123456
$wearer"
expect_broken duplicate-wearer 3 "$wearer
[wearer anna]
right = C0:FF:EE:00:00:02"
expect_broken malformed-address 2 "[wearer anna]
left = C0:FF:EE:00:00"
expect_broken unreadable-password 3 "[mqtt]
username = u
password-file = $tmp/does-not-exist
$wearer"
expect_broken password-in-config 3 "[mqtt]
username = u
password = $secret
$wearer"
expect_broken error-after-password 4 "[mqtt]
username = u
password-file = $tmp/pw
keepalive = never
$wearer"

# A valid file with a password: the summary does not show it.
printf '[mqtt]\nusername = u\npassword-file = %s\n%s\n' "$tmp/pw" "$wearer" >"$tmp/good.conf"
if "$exe" --config "$tmp/good.conf" --check-config >"$tmp/out" 2>&1; then
        grep -q "$secret" "$tmp/out" && fail "good: the password was printed"
else
        fail "good: exit status $? ($(cat "$tmp/out"))"
fi

# No configuration file at all.
"$exe" --config "$tmp/missing.conf" --check-config >/dev/null 2>&1 && fail "missing file: exit status 0"

[ "$failures" -eq 0 ] || exit 1
echo "check-config: all cases passed"
