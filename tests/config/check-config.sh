#!/bin/sh
# SPDX-License-Identifier: MIT
# insole2mqtt --check-config, end to end: the example passes; each kind of broken file fails with
# exactly one line on stderr naming file:line; the password shows up nowhere.
# Usage: check-config.sh PATH-TO-insole2mqtt SOURCE-ROOT
set -u

exe=$1
# a cross build's binary runs under qemu-user (tests/meson.build); split into words on purpose
wrap=${INSOLE2MQTT_EXE_WRAPPER:-}
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
mkdir "$tmp/state"
# (the state directory as the unit gives it: the default, /var/lib/insole2mqtt, is root's)
if STATE_DIRECTORY=$tmp/state $wrap "$exe" --config "$src/config/insole2mqtt.conf" --check-config >"$tmp/out" 2>"$tmp/err"; then
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
        if $wrap "$exe" --config "$tmp/$name.conf" --check-config >"$tmp/out" 2>"$tmp/err"; then
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

expect_broken wearer-named-bridge 1 "[wearer bridge]
left = C0:FF:EE:00:00:01"

# Problems that only setting the gateway up finds (the state directory, the content of TLS files, a
# time zone file) name the file, the line and the key as well, in one line.
# expect_setup_broken NAME LINE KEY TEXT [real]: as expect_broken, and the line names [section] key.
expect_setup_broken() {
        expect_broken "$1" "$2" "$4"
        grep -qF "$3: found " "$tmp/err" || fail "$1: stderr does not name $3: $(cat "$tmp/err")"
}
: >"$tmp/file"
expect_setup_broken state-directory-is-a-file 2 "[gateway] state-directory" "[gateway]
state-directory = $tmp/file
$wearer"
expect_setup_broken state-directory-parent-missing 2 "[gateway] state-directory" "[gateway]
state-directory = $tmp/no/such/parent
$wearer"
printf 'not a certificate\n' >"$tmp/ca.pem"
expect_setup_broken ca-file-not-pem 4 "[mqtt] ca-file" "[mqtt]
host = localhost
tls = yes
ca-file = $tmp/ca.pem
$wearer"
mkdir -p "$tmp/zoneinfo/Broken"
printf 'not TZif\n' >"$tmp/zoneinfo/Broken/Zone"
TZDIR=$tmp/zoneinfo expect_setup_broken timezone-not-tzif 3 "[wearer anna] timezone" "$wearer
timezone = Broken/Zone"

# A real start (not --check-config) says the same, in one line, and exits non-zero before it
# touches the bus or the broker.
for case in state-directory-is-a-file ca-file-not-pem; do
        if DBUS_SYSTEM_BUS_ADDRESS=unix:path=$tmp/no-bus JOURNAL_STREAM= $wrap "$exe" --config "$tmp/$case.conf" \
                        >"$tmp/out" 2>"$tmp/err"; then
                fail "start with $case: exit status 0"
                continue
        fi
        lines=$(wc -l <"$tmp/err")
        [ "$lines" -eq 1 ] || fail "start with $case: $lines lines on stderr: $(cat "$tmp/err")"
        grep -qF "$tmp/$case.conf:" "$tmp/err" || fail "start with $case: stderr does not name the file: $(cat "$tmp/err")"
done
grep -qF "$tmp/ca-file-not-pem.conf:4: [mqtt] ca-file: found '$tmp/ca.pem', expected CA certificates in PEM" "$tmp/err" ||
        fail "start with ca-file-not-pem: $(cat "$tmp/err")"
# An address the metrics endpoint cannot listen on (192.0.2.1 is TEST-NET-1, on no machine): only a
# start finds it, as binding is not something a check may do while the gateway runs.
printf '[gateway]\nstate-directory = %s/state\n[metrics]\nprometheus-listen = 192.0.2.1:9464\n%s\n' "$tmp" "$wearer" \
        >"$tmp/listen.conf"
if $wrap "$exe" --config "$tmp/listen.conf" >"$tmp/out" 2>"$tmp/err"; then
        fail "start with prometheus-listen 192.0.2.1: exit status 0"
else
        lines=$(wc -l <"$tmp/err")
        [ "$lines" -eq 1 ] || fail "start with prometheus-listen 192.0.2.1: $lines lines on stderr: $(cat "$tmp/err")"
        grep -qF "$tmp/listen.conf:4: [metrics] prometheus-listen: found '192.0.2.1:9464', expected an address to serve the metrics on" \
                "$tmp/err" || fail "start with prometheus-listen 192.0.2.1: $(cat "$tmp/err")"
fi

# A valid file with a password: the summary does not show it.
printf '[mqtt]\nusername = u\npassword-file = %s\n%s\n' "$tmp/pw" "$wearer" >"$tmp/good.conf"
if $wrap "$exe" --config "$tmp/good.conf" --check-config >"$tmp/out" 2>&1; then
        grep -q "$secret" "$tmp/out" && fail "good: the password was printed"
else
        fail "good: exit status $? ($(cat "$tmp/out"))"
fi

# No configuration file at all.
$wrap "$exe" --config "$tmp/missing.conf" --check-config >/dev/null 2>&1 && fail "missing file: exit status 0"

[ "$failures" -eq 0 ] || exit 1
echo "check-config: all cases passed"
