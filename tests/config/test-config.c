/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config-parse.h"
#include "config.h"
#include "gait-metrics.h"
#include "log.h"

#define SECRET "s3cret-Pa55w0rd"

static char tmpdir[256];
static char error[CONFIG_ERROR_MAX];

/* Every log line produced while these tests run; the loader must produce none. */
static char logged[16384];
static unsigned log_lines;

static void capture(int level, const char *message, void *userdata) {
        size_t l = strlen(logged);
        (void) snprintf(logged + l, sizeof(logged) - l, "%s\n", message);
        log_lines++;
}

static int remove_one(const char *path, const struct stat *s, int flag, struct FTW *ftw) {
        return remove(path);
}

static int setup(void **state) {
        const char *base = getenv("TMPDIR");

        (void) snprintf(tmpdir, sizeof(tmpdir), "%s/test-config-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmpdir))
                return -1;
        unsetenv("CREDENTIALS_DIRECTORY");
        unsetenv("TZDIR");
        unsetenv("STATE_DIRECTORY");
        logged[0] = '\0';
        log_lines = 0;
        log_set_max_level(LOG_DEBUG);
        log_set_sink(capture, NULL);
        return 0;
}

static int teardown(void **state) {
        log_set_sink(NULL, NULL);
        /* Nothing at all is logged by the loader, whatever happened. */
        assert_int_equal(log_lines, 0);
        return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static const char *tmp_path(const char *name, char *buf, size_t size) {
        (void) snprintf(buf, size, "%s/%s", tmpdir, name);
        return buf;
}
#define TMP(name) tmp_path((name), (char[512]) {}, 512)

static const char *write_file(const char *name, const char *text) {
        static char path[512];
        FILE *f;

        tmp_path(name, path, sizeof(path));
        f = fopen(path, "we");
        assert_non_null(f);
        assert_int_equal(fputs(text, f) >= 0, 1);
        assert_int_equal(fclose(f), 0);
        return path;
}

/* Loads text from a file; on success hands the Config back, on failure the message. */
static int load_text(const char *text, Config *ret) {
        const char *path = write_file("test.conf", text);
        return config_load(path, ret, error, sizeof(error));
}

/* The message with "@" replaced by the file's path. */
static const char *expect_message(const char *pattern) {
        static char buf[CONFIG_ERROR_MAX * 2];
        char path[512];
        size_t o = 0;

        tmp_path("test.conf", path, sizeof(path));
        for (const char *p = pattern; *p && o + 1 < sizeof(buf); p++) {
                if (*p == '@') {
                        size_t l = strlen(path);
                        memcpy(buf + o, path, l);
                        o += l;
                } else
                        buf[o++] = *p;
        }
        buf[o] = '\0';
        return buf;
}

static void assert_load_fails(const char *text, int error_code, const char *pattern) {
        Config c;
        int r;

        r = load_text(text, &c);
        if (r >= 0)
                config_done(&c);
        if (r != error_code || !streq(error, expect_message(pattern)))
                print_error("text:\n%s\nreturned %d, message:\n  %s\nexpected %d:\n  %s\n", text, r, error, error_code,
                            expect_message(pattern));
        assert_int_equal(r, error_code);
        assert_string_equal(error, expect_message(pattern));
        assert_null(strchr(error, '\n'));
}

#define WEARER "[wearer anna]\nleft = C0:FF:EE:00:00:01\n"

/* ---- parsers ---- */

static void test_durations(void **state) {
        static const struct {
                const char *text;
                int r;
                uint64_t usec;
        } cases[] = {
                { "90", 0, 90 * USEC_PER_SEC },
                { "90s", 0, 90 * USEC_PER_SEC },
                { "90sec", 0, 90 * USEC_PER_SEC },
                { "250ms", 0, 250 * USEC_PER_MSEC },
                { "5min", 0, 5 * USEC_PER_MINUTE },
                { "5m", 0, 5 * USEC_PER_MINUTE },
                { "5 min", 0, 5 * USEC_PER_MINUTE },
                { "1h", 0, USEC_PER_HOUR },
                { "1h 30min", 0, 90 * USEC_PER_MINUTE },
                { "1h30min", 0, 90 * USEC_PER_MINUTE },
                { "0", 0, 0 },
                { "", -EINVAL, 0 },
                { "s", -EINVAL, 0 },
                { "-5s", -EINVAL, 0 },
                { "1h 30", -EINVAL, 0 },
                { "5mins", -EINVAL, 0 },
                { "1.5s", -EINVAL, 0 },
                { "5 fortnights", -EINVAL, 0 },
                { "99999999999999999999", -ERANGE, 0 },
                { "9999999999999h", -ERANGE, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                uint64_t v = 12345;
                int r = config_parse_duration(cases[i].text, 0, UINT64_MAX, &v);
                if (r != cases[i].r)
                        print_error("'%s' -> %d\n", cases[i].text, r);
                assert_int_equal(r, cases[i].r);
                if (r == 0)
                        assert_int_equal(v, cases[i].usec);
                else
                        assert_int_equal(v, 12345);
        }
        uint64_t v;
        assert_int_equal(config_parse_duration("59s", USEC_PER_MINUTE, USEC_PER_HOUR, &v), -ERANGE);
        assert_int_equal(config_parse_duration("61min", USEC_PER_MINUTE, USEC_PER_HOUR, &v), -ERANGE);
        assert_int_equal(config_parse_duration("1h", USEC_PER_MINUTE, USEC_PER_HOUR, &v), 0);

        char buf[64];
        assert_string_equal(config_format_duration(90 * USEC_PER_MINUTE, buf, sizeof(buf)), "1h 30min");
        assert_string_equal(config_format_duration(250 * USEC_PER_MSEC, buf, sizeof(buf)), "250ms");
        assert_string_equal(config_format_duration(0, buf, sizeof(buf)), "0");
        assert_int_equal(config_parse_duration(config_format_duration(3723 * USEC_PER_SEC, buf, sizeof(buf)), 0,
                                               UINT64_MAX, &v),
                         0);
        assert_int_equal(v, 3723 * USEC_PER_SEC);
}

static void test_bools_numbers(void **state) {
        const char *yes[] = { "yes", "true", "on", "1", "YES", "True" }, *no[] = { "no", "false", "off", "0", "Off" };
        bool b;
        uint64_t u;
        double d;

        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                b = false;
                assert_int_equal(config_parse_bool(yes[i], &b), 0);
                assert_true(b);
        }
        for (size_t i = 0; i < ELEMENTSOF(no); i++) {
                b = true;
                assert_int_equal(config_parse_bool(no[i], &b), 0);
                assert_false(b);
        }
        assert_int_equal(config_parse_bool("y", &b), -EINVAL);
        assert_int_equal(config_parse_bool("", &b), -EINVAL);
        assert_int_equal(config_parse_bool("2", &b), -EINVAL);

        assert_int_equal(config_parse_uint64("65535", 1, 65535, &u), 0);
        assert_int_equal(u, 65535);
        assert_int_equal(config_parse_uint64("65536", 1, 65535, &u), -ERANGE);
        assert_int_equal(config_parse_uint64("0", 1, 65535, &u), -ERANGE);
        assert_int_equal(config_parse_uint64("+1", 0, 10, &u), -EINVAL);
        assert_int_equal(config_parse_uint64(" 1", 0, 10, &u), -EINVAL);
        assert_int_equal(config_parse_uint64("0x10", 0, 100, &u), -EINVAL);
        assert_int_equal(config_parse_uint64("18446744073709551616", 0, UINT64_MAX, &u), -ERANGE);

        assert_int_equal(config_parse_double("42.5", 15, 60, &d), 0);
        assert_true(d == 42.5);
        assert_int_equal(config_parse_double("61", 15, 60, &d), -ERANGE);
        assert_int_equal(config_parse_double("inf", 15, 60, &d), -EINVAL);
        assert_int_equal(config_parse_double("4e1", 15, 60, &d), -EINVAL);
        assert_int_equal(config_parse_double("42.", 15, 60, &d), -EINVAL);
}

static void test_hours_days_names(void **state) {
        unsigned s, e;
        uint8_t m;

        assert_int_equal(config_parse_hours("08:00-20:00", &s, &e), 0);
        assert_int_equal(s, 480);
        assert_int_equal(e, 1200);
        assert_int_equal(config_parse_hours("00:00-24:00", &s, &e), 0);
        assert_int_equal(e, 1440);
        assert_int_equal(config_parse_hours("20:00-08:00", &s, &e), -ERANGE);
        assert_int_equal(config_parse_hours("24:00-24:00", &s, &e), -ERANGE);
        assert_int_equal(config_parse_hours("08:60-09:00", &s, &e), -ERANGE);
        assert_int_equal(config_parse_hours("8:00-20:00", &s, &e), -EINVAL);
        assert_int_equal(config_parse_hours("08:00-20:00x", &s, &e), -EINVAL);

        assert_int_equal(config_parse_weekdays("sat,sun", &m), 0);
        assert_int_equal(m, (1 << 6) | (1 << 0));
        assert_int_equal(config_parse_weekdays(" Mon , fri ", &m), 0);
        assert_int_equal(m, (1 << 1) | (1 << 5));
        assert_int_equal(config_parse_weekdays("none", &m), 0);
        assert_int_equal(m, 0);
        assert_int_equal(config_parse_weekdays("sat,,sun", &m), -EINVAL);
        assert_int_equal(config_parse_weekdays("saturday", &m), -EINVAL);

        assert_true(config_name_is_valid("anna_2-b", 32));
        assert_false(config_name_is_valid("Anna", 32));
        assert_false(config_name_is_valid("", 32));
        assert_false(config_name_is_valid("a/b", 32));
        assert_false(config_name_is_valid("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32));

        assert_true(config_topic_is_valid("insole2mqtt", 64));
        assert_true(config_topic_is_valid("home/insoles", 64));
        assert_false(config_topic_is_valid("home/+", 64));
        assert_false(config_topic_is_valid("home/#", 64));
        assert_false(config_topic_is_valid("$SYS", 64));
        assert_false(config_topic_is_valid("/home", 64));
        assert_false(config_topic_is_valid("home/", 64));
        assert_false(config_topic_is_valid("home//x", 64));
        assert_false(config_topic_is_valid("Home", 64));

        assert_true(config_timezone_name_is_valid("America/Argentina/Buenos_Aires"));
        assert_true(config_timezone_name_is_valid("Etc/GMT+5"));
        assert_false(config_timezone_name_is_valid("../etc/passwd"));
        assert_false(config_timezone_name_is_valid("/etc/localtime"));
        assert_false(config_timezone_name_is_valid("Europe/"));
}

static void test_bdaddr(void **state) {
        BdAddr a, b;
        char buf[18];

        assert_int_equal(bdaddr_from_string("c0:ff:ee:00:12:ab", &a), 0);
        assert_int_equal(a.b[0], 0xc0);
        assert_int_equal(a.b[5], 0xab);
        assert_string_equal(bdaddr_to_string(&a, buf), "C0:FF:EE:00:12:AB");
        assert_int_equal(bdaddr_from_string(buf, &b), 0);
        assert_true(bdaddr_equal(&a, &b));
        b.b[3] ^= 1;
        assert_false(bdaddr_equal(&a, &b));

        const char *bad[] = { "", "C0:FF:EE:00:12", "C0:FF:EE:00:12:AB:", "C0-FF-EE-00-12-AB", "C0:FF:EE:00:12:AG",
                              "C0:FF:EE:00:12:A", " C0:FF:EE:00:12:AB", "C0FFEE0012AB" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(bdaddr_from_string(bad[i], &a), -EINVAL);

        assert_string_equal(device_role_to_string(DEVICE_ROLE_LEFT), "left");
        assert_string_equal(device_role_to_string(DEVICE_ROLE_RIGHT), "right");
        assert_string_equal(device_role_to_string(DEVICE_ROLE_FOOTPOD), "footpod");
        assert_null(device_role_to_string(_DEVICE_ROLE_MAX));
        assert_int_equal(device_role_from_string("footpod"), DEVICE_ROLE_FOOTPOD);
        assert_int_equal(device_role_from_string("middle"), _DEVICE_ROLE_INVALID);
}

/* ---- whole files ---- */

static void test_defaults(void **state) {
        Config c;

        setenv("STATE_DIRECTORY", "/var/lib/private/insole2mqtt:/var/lib/other", 1);
        config_init(&c);
        assert_string_equal(c.state_directory, "/var/lib/private/insole2mqtt");
        assert_string_equal(c.host, "localhost");
        assert_int_equal(c.port, 1883);
        assert_int_equal(c.protocol_version, 5);
        assert_int_equal(c.qos, 1);
        assert_false(c.tls);
        assert_false(c.auto_discovery);
        assert_false(c.trust_wall_clock);
        assert_true(c.power_on_adapter);
        assert_int_equal(c.backoff_initial_usec, USEC_PER_SEC);
        assert_int_equal(c.backoff_max_usec, 60 * USEC_PER_SEC);
        assert_string_equal(c.base_topic, "insole2mqtt");
        assert_true(c.homeassistant);
        assert_string_equal(c.homeassistant_prefix, "homeassistant");
        assert_true(c.reminders);
        assert_int_equal(c.sitting_limit_usec, 50 * USEC_PER_MINUTE);
        assert_int_equal(c.standing_limit_usec, 30 * USEC_PER_MINUTE);
        assert_int_equal(c.repeat_interval_usec, 10 * USEC_PER_MINUTE);
        assert_int_equal(c.active_start_min, 8 * 60);
        assert_int_equal(c.active_end_min, 20 * 60);
        assert_int_equal(c.quiet_days, (1 << 0) | (1 << 6));
        assert_int_equal(c.hourly_step_goal, 250);
        assert_int_equal(c.publish_interval_usec, 10 * USEC_PER_SEC);
        assert_false(c.raw_stream);
        assert_true(config_name_is_valid(c.gateway_id, CONFIG_NAME_MAX));
        assert_null(c.password);
        config_done(&c);
        unsetenv("STATE_DIRECTORY");

        config_init(&c);
        assert_string_equal(c.state_directory, "/var/lib/insole2mqtt");
        config_done(&c);
        config_done(NULL);
}

static void test_valid_file(void **state) {
        char text[4096];
        Config c;
        const WearerConfig *w;
        char buf[18];

        write_file("ca.crt", "not parsed here\n");
        write_file("pw", SECRET "\n");
        (void) snprintf(text, sizeof(text),
                        "# a comment\n"
                        "; another\n"
                        "\n"
                        "[gateway]\n"
                        "id = hall-pi\n"
                        "state-directory = %s/state\n"
                        "[bluetooth]\n"
                        "adapter = 00:1a:7d:da:71:13\n"
                        "  power-on-adapter = off  \n"
                        "auto-discovery = yes\n"
                        "connect-timeout = 45s\n"
                        "backoff-initial = 500ms\n"
                        "backoff-max = 2min\n"
                        "stable-link = 1h\n"
                        "silence-timeout = 20\n"
                        "adapter-reset-after = 0\n"
                        "exit-after = 7\n"
                        "[mqtt]\n"
                        "host = broker.example.org\n"
                        "protocol = 5\n"
                        "tls = yes\n"
                        "ca-file = %s/ca.crt\n"
                        "tls-server-name = mqtt.example.org\n"
                        "username = gateway\n"
                        "password-file = %s/pw\n"
                        "base-topic = home/insoles\n"
                        "client-id = hall\n"
                        "keepalive = 2min\n"
                        "qos = 2\n"
                        "outbox-max = 0\n"
                        "homeassistant = no\n"
                        "homeassistant-prefix = ha\n"
                        "[wearer anna]\n"
                        "left = C0:FF:EE:00:00:01\n"
                        "right = C0:FF:EE:00:00:02\n"
                        "body-weight-kg = 61.5\n"
                        "timezone = Europe/Berlin\n"
                        "[wearer b_2]\n"
                        "footpod = c0:ff:ee:00:00:03\n"
                        "[reminders]\n"
                        "enabled = no\n"
                        "sitting-limit = 1h\n"
                        "standing-limit = 45min\n"
                        "repeat-interval = 15min\n"
                        "active-hours = 07:30-22:00\n"
                        "quiet-days = none\n"
                        "clear-steps = 0\n"
                        "clear-walking = 90s\n"
                        "clear-calf-raises = 12\n"
                        "hourly-step-goal = 300\n"
                        "[metrics]\n"
                        "publish-interval = 5s\n"
                        "raw-stream = yes\n"
                        "raw-rate = 25\n",
                        tmpdir, tmpdir, tmpdir);

        assert_int_equal(load_text(text, &c), 0);
        assert_string_equal(error, "");
        assert_string_equal(c.path, TMP("test.conf"));
        assert_string_equal(c.gateway_id, "hall-pi");
        assert_string_equal(c.state_directory, TMP("state"));
        assert_true(c.has_adapter);
        assert_string_equal(bdaddr_to_string(&c.adapter, buf), "00:1A:7D:DA:71:13");
        assert_false(c.power_on_adapter);
        assert_true(c.auto_discovery);
        assert_int_equal(c.connect_timeout_usec, 45 * USEC_PER_SEC);
        assert_int_equal(c.backoff_initial_usec, 500 * USEC_PER_MSEC);
        assert_int_equal(c.backoff_max_usec, 2 * USEC_PER_MINUTE);
        assert_int_equal(c.stable_link_usec, USEC_PER_HOUR);
        assert_int_equal(c.silence_timeout_usec, 20 * USEC_PER_SEC);
        assert_int_equal(c.adapter_reset_after, 0);
        assert_int_equal(c.exit_after, 7);

        assert_string_equal(c.host, "broker.example.org");
        assert_int_equal(c.port, 8883); /* the TLS default */
        assert_int_equal(c.protocol_version, 5);
        assert_true(c.tls);
        assert_string_equal(c.tls_ca_file, TMP("ca.crt"));
        assert_null(c.tls_ca_path);
        assert_string_equal(c.tls_server_name, "mqtt.example.org");
        assert_string_equal(c.username, "gateway");
        assert_string_equal(c.password, SECRET);
        assert_string_equal(c.base_topic, "home/insoles");
        assert_string_equal(c.client_id, "hall");
        assert_int_equal(c.keepalive_sec, 120);
        assert_int_equal(c.qos, 2);
        assert_int_equal(c.outbox_max, 0);
        assert_false(c.homeassistant);
        assert_string_equal(c.homeassistant_prefix, "ha");

        assert_int_equal(c.n_wearers, 2);
        w = config_find_wearer(&c, "anna");
        assert_non_null(w);
        assert_int_equal(w->line, 33);
        assert_true(w->has_device[DEVICE_ROLE_LEFT]);
        assert_true(w->has_device[DEVICE_ROLE_RIGHT]);
        assert_false(w->has_device[DEVICE_ROLE_FOOTPOD]);
        assert_string_equal(bdaddr_to_string(&w->device[DEVICE_ROLE_RIGHT], buf), "C0:FF:EE:00:00:02");
        assert_true(w->body_weight_kg == 61.5);
        assert_string_equal(w->timezone, "Europe/Berlin");
        w = config_find_wearer(&c, "b_2");
        assert_non_null(w);
        assert_true(w->has_device[DEVICE_ROLE_FOOTPOD]);
        assert_string_equal(bdaddr_to_string(&w->device[DEVICE_ROLE_FOOTPOD], buf), "C0:FF:EE:00:00:03");
        assert_true(w->body_weight_kg == 0);
        assert_string_equal(w->timezone, "");
        assert_null(config_find_wearer(&c, "carl"));

        assert_false(c.reminders);
        assert_int_equal(c.sitting_limit_usec, USEC_PER_HOUR);
        assert_int_equal(c.standing_limit_usec, 45 * USEC_PER_MINUTE);
        assert_int_equal(c.repeat_interval_usec, 15 * USEC_PER_MINUTE);
        assert_int_equal(c.active_start_min, 7 * 60 + 30);
        assert_int_equal(c.active_end_min, 22 * 60);
        assert_int_equal(c.quiet_days, 0);
        assert_int_equal(c.clear_steps, 0);
        assert_int_equal(c.clear_walking_usec, 90 * USEC_PER_SEC);
        assert_int_equal(c.clear_calf_raises, 12);
        assert_int_equal(c.hourly_step_goal, 300);
        assert_int_equal(c.publish_interval_usec, 5 * USEC_PER_SEC);
        assert_true(c.raw_stream);
        assert_int_equal(c.raw_rate_hz, 25);
        config_done(&c);
        assert_null(c.password);
        assert_null(c.host);
}

static void test_tls_defaults_and_string(void **state) {
        Config c;

        /* TLS without a CA of its own trusts the system's; an explicit port wins over 8883. */
        assert_int_equal(load_text("[mqtt]\ntls = on\nport = 1884\n" WEARER, &c), 0);
        assert_string_equal(c.tls_ca_path, "/etc/ssl/certs");
        assert_null(c.tls_ca_file);
        assert_int_equal(c.port, 1884);
        config_done(&c);

        /* A configuration held in memory: messages name what the caller calls it. */
        assert_int_equal(config_load_string("[bluetooth]\nauto-discovery = yes\n", "(built-in)", &c, error,
                                            sizeof(error)),
                         0);
        assert_string_equal(c.path, "(built-in)");
        assert_int_equal(c.n_wearers, 0);
        config_done(&c);
        assert_int_equal(config_load_string("[mqtt]\nqos = 3\n", "(built-in)", &c, error, sizeof(error)), -ERANGE);
        assert_string_equal(error, "(built-in):2: [mqtt] qos: found '3', expected 0, 1 or 2");

        /* A BOM and CRLF line ends are fine. */
        assert_int_equal(load_text("\xEF\xBB\xBF[mqtt]\r\nport = 1999\r\n[wearer anna]\r\nleft = C0:FF:EE:00:00:01\r\n", &c),
                         0);
        assert_int_equal(c.port, 1999);
        config_done(&c);
}

static void test_example_config(void **state) {
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        char path[1024];
        Config c;

        assert_non_null(root);
        (void) snprintf(path, sizeof(path), "%s/config/insole2mqtt.conf", root);
        int r = config_load(path, &c, error, sizeof(error));
        if (r < 0)
                print_error("%s\n", error);
        assert_int_equal(r, 0);
        assert_int_equal(c.n_wearers, 2);
        assert_non_null(config_find_wearer(&c, "anna"));
        assert_non_null(config_find_wearer(&c, "ben"));
        assert_string_equal(c.host, "localhost");
        assert_null(c.password);
        config_done(&c);
}

static void test_errors(void **state) {
        static const struct {
                const char *text;
                int r;
                const char *message;
        } cases[] = {
                /* wrong type */
                { "[mqtt]\nport = http\n" WEARER, -EINVAL,
                  "@:2: [mqtt] port: found 'http', expected a port number from 1 to 65535" },
                { "[bluetooth]\nauto-discovery = maybe\n" WEARER, -EINVAL,
                  "@:2: [bluetooth] auto-discovery: found 'maybe', expected yes or no" },
                { "[metrics]\npublish-interval = soon\n" WEARER, -EINVAL,
                  "@:2: [metrics] publish-interval: found 'soon', expected a duration between 1s and 1h such as 90s, 5min or 1h" },
                { "[mqtt]\nprotocol = 4\n" WEARER, -EINVAL, "@:2: [mqtt] protocol: found '4', expected 3.1.1 or 5" },
                { "[mqtt]\nkeepalive = 7500ms\n" WEARER, -EINVAL,
                  "@:2: [mqtt] keepalive: found '7500ms', expected whole seconds between 5s and 65535s such as 60s or 5min" },
                { "[reminders]\nactive-hours = 8-20\n" WEARER, -EINVAL,
                  "@:2: [reminders] active-hours: found '8-20', expected HH:MM-HH:MM within one day such as 08:00-20:00" },
                { "[reminders]\nquiet-days = weekend\n" WEARER, -EINVAL,
                  "@:2: [reminders] quiet-days: found 'weekend', expected a list of mon, tue, wed, thu, fri, sat, sun such as sat,sun, or none" },
                { "[alerts]\nmetrics = step_time_si,limp\n" WEARER, -EINVAL,
                  "@:2: [alerts] metrics: found 'step_time_si,limp', expected a list of cadence, stride_time, stance_time, "
                  "swing_time, stride_time_cv, step_time_asym, stance_time_asym, step_time_si, stance_time_si, "
                  "swing_time_si, heel_strike_share, midfoot_strike_share, forefoot_strike_share, flat_strike_share, "
                  "roll_forward, ml_index such as step_time_asym,cadence; default or none" },
                { "[alerts]\nmetrics = sway_path\n" WEARER, -EINVAL,
                  "@:2: [alerts] metrics: found 'sway_path', expected a list of cadence, stride_time, stance_time, "
                  "swing_time, stride_time_cv, step_time_asym, stance_time_asym, step_time_si, stance_time_si, "
                  "swing_time_si, heel_strike_share, midfoot_strike_share, forefoot_strike_share, flat_strike_share, "
                  "roll_forward, ml_index such as step_time_asym,cadence; default or none" },
                { "[alerts]\nmetrics = cadence,,ml_index\n" WEARER, -EINVAL,
                  "@:2: [alerts] metrics: found 'cadence,,ml_index', expected a list of cadence, stride_time, stance_time, "
                  "swing_time, stride_time_cv, step_time_asym, stance_time_asym, step_time_si, stance_time_si, "
                  "swing_time_si, heel_strike_share, midfoot_strike_share, forefoot_strike_share, flat_strike_share, "
                  "roll_forward, ml_index such as step_time_asym,cadence; default or none" },
                { "[alerts]\nsensitivity = paranoid\n" WEARER, -EINVAL,
                  "@:2: [alerts] sensitivity: found 'paranoid', expected low, normal or high" },
                { "[alerts]\nbaseline-days = 2\n" WEARER, -ERANGE,
                  "@:2: [alerts] baseline-days: found '2', expected a whole number of days from 3 to 28" },
                { "[mqtt]\nport = 1883 ; the default\n" WEARER, -EINVAL,
                  "@:2: [mqtt] port: found '1883 ; the default', expected a port number from 1 to 65535" },
                { "[gateway]\nstate-directory = var/lib\n" WEARER, -EINVAL,
                  "@:2: [gateway] state-directory: found 'var/lib', expected an absolute path" },
                /* out of range */
                { "[mqtt]\nport = 70000\n" WEARER, -ERANGE,
                  "@:2: [mqtt] port: found '70000', expected a port number from 1 to 65535" },
                { "[mqtt]\nqos = 3\n" WEARER, -ERANGE, "@:2: [mqtt] qos: found '3', expected 0, 1 or 2" },
                { "[reminders]\nsitting-limit = 30s\n" WEARER, -ERANGE,
                  "@:2: [reminders] sitting-limit: found '30s', expected a duration between 1min and 24h such as 90s, 5min or 1h" },
                { "[reminders]\nactive-hours = 20:00-08:00\n" WEARER, -ERANGE,
                  "@:2: [reminders] active-hours: found '20:00-08:00', expected HH:MM-HH:MM within one day such as 08:00-20:00" },
                { "[metrics]\nraw-rate = 0\n" WEARER, -ERANGE,
                  "@:2: [metrics] raw-rate: found '0', expected a rate in Hz from 1 to 400" },
                { WEARER "body-weight-kg = 900\n", -ERANGE,
                  "@:3: [wearer anna] body-weight-kg: found '900', expected a number of kilograms from 20 to 400" },
                { "[bluetooth]\nbackoff-initial = 2min\nbackoff-max = 1min\n" WEARER, -ERANGE,
                  "@:3: [bluetooth] backoff-max: found '1min', expected at least backoff-initial (2min)" },
                { "[bluetooth]\nbackoff-initial = 2min\n" WEARER, -ERANGE,
                  "@:2: [bluetooth] backoff-initial: found '2min', expected at most backoff-max (1min)" },
                /* unknown sections and keys */
                { "[mqtt]\nhots = example.org\n" WEARER, -EINVAL,
                  "@:2: [mqtt] hots: found an unknown key, expected one of host, port, protocol, tls, ca-file, ca-path, "
                  "cert-file, key-file, tls-server-name, username, password-file, password-credential, base-topic, "
                  "client-id, keepalive, qos, outbox-max, outbox-max-bytes, homeassistant, homeassistant-prefix" },
                { WEARER "hand = C0:FF:EE:00:00:09\n", -EINVAL,
                  "@:3: [wearer anna] hand: found an unknown key, expected one of left, right, footpod, body-weight-kg, "
                  "timezone, stream-rate" },
                { "[mosquitto]\n" WEARER, -EINVAL,
                  "@:1: found section '[mosquitto]', expected [gateway], [bluetooth], [mqtt], [wearer NAME], [reminders], [alerts] or [metrics]" },
                { "[MQTT]\nport = 1\n" WEARER, -EINVAL,
                  "@:1: found section '[MQTT]', expected [gateway], [bluetooth], [mqtt], [wearer NAME], [reminders], [alerts] or [metrics]" },
                { "port = 1883\n" WEARER, -EINVAL,
                  "@:1: found key 'port' outside any section, expected a section header such as [mqtt] before it" },
                /* syntax */
                { "[mqtt\nport = 1\n" WEARER, -EINVAL, "@:1: found '[mqtt', expected a section header such as [mqtt]" },
                { "[mqtt] # broker\n" WEARER, -EINVAL,
                  "@:1: found '[mqtt] # broker', expected nothing after ']' (comments go on their own line)" },
                { "[mqtt]\nport 1883\n" WEARER, -EINVAL,
                  "@:2: found 'port 1883', expected 'key = value', a [section] or a comment starting with # or ;" },
                { "[mqtt]\nport = 1883\n  1884\n" WEARER, -EINVAL,
                  "@:3: found '  1884', expected 'key = value', a [section] or a comment starting with # or ;" },
                /* duplicates */
                { "[mqtt]\nport = 1883\n\nport = 1884\n" WEARER, -EEXIST,
                  "@:4: [mqtt] port: found the key again, expected it once (first on line 2)" },
                { "[mqtt]\nport = 1883\n[bluetooth]\n[mqtt]\n" WEARER, -EEXIST,
                  "@:4: [mqtt]: found the section again, expected each section once (first on line 1)" },
                { WEARER "[wearer ben]\nfootpod = C0:FF:EE:00:00:03\n[wearer anna]\nright = C0:FF:EE:00:00:02\n", -EEXIST,
                  "@:5: [wearer anna]: found a second [wearer anna], expected each wearer once (first on line 1)" },
                { WEARER "left = C0:FF:EE:00:00:05\n", -EEXIST,
                  "@:3: [wearer anna] left: found the key again, expected it once (first on line 2)" },
                { WEARER "[wearer ben]\nright = c0:ff:ee:00:00:01\n", -EEXIST,
                  "@:4: [wearer ben] right: found 'C0:FF:EE:00:00:01', expected an address not used before ([wearer anna] left on line 2)" },
                { WEARER "footpod = C0:FF:EE:00:00:01\n", -EEXIST,
                  "@:3: [wearer anna] footpod: found 'C0:FF:EE:00:00:01', expected an address not used before ([wearer anna] left on line 2)" },
                /* malformed addresses and names */
                { "[wearer anna]\nleft = C0:FF:EE:00:00\n", -EINVAL,
                  "@:2: [wearer anna] left: found 'C0:FF:EE:00:00', expected a MAC address such as C0:FF:EE:00:00:01" },
                { "[wearer anna]\nright = C0-FF-EE-00-00-02\n", -EINVAL,
                  "@:2: [wearer anna] right: found 'C0-FF-EE-00-00-02', expected a MAC address such as C0:FF:EE:00:00:02" },
                { "[wearer anna]\nleft = 00:00:00:00:00:00\n", -EINVAL,
                  "@:2: [wearer anna] left: found '00:00:00:00:00:00', expected a MAC address such as C0:FF:EE:00:00:01" },
                { "[bluetooth]\nadapter = hci0\n" WEARER, -EINVAL,
                  "@:2: [bluetooth] adapter: found 'hci0', expected a MAC address such as 00:1A:7D:DA:71:13, or nothing for the first adapter" },
                { "[wearer Anna]\nleft = C0:FF:EE:00:00:01\n", -EINVAL,
                  "@:1: [wearer Anna]: found 'Anna', expected a wearer name of 1-32 characters from a-z, 0-9, '_' and '-', other than bridge" },
                { "[wearer]\nleft = C0:FF:EE:00:00:01\n", -EINVAL,
                  "@:1: [wearer]: found '', expected a wearer name of 1-32 characters from a-z, 0-9, '_' and '-', other than bridge" },
                { "[wearer ../x]\nleft = C0:FF:EE:00:00:01\n", -EINVAL,
                  "@:1: [wearer ../x]: found '../x', expected a wearer name of 1-32 characters from a-z, 0-9, '_' and '-', other than bridge" },
                /* <base>/bridge/ holds the gateways' topics: the MQTT module refuses it as a wearer */
                { "[wearer bridge]\nleft = C0:FF:EE:00:00:01\n", -EINVAL,
                  "@:1: [wearer bridge]: found 'bridge', expected a wearer name of 1-32 characters from a-z, 0-9, '_' and '-', other than bridge" },
                { "[gateway]\nid = Hall Pi\n" WEARER, -EINVAL,
                  "@:2: [gateway] id: found 'Hall Pi', expected a name of 1-32 characters from a-z, 0-9, '_' and '-'" },
                { "[mqtt]\nbase-topic = home/+/insoles\n" WEARER, -EINVAL,
                  "@:2: [mqtt] base-topic: found 'home/+/insoles', expected topic levels of 1-32 characters from a-z, 0-9, '_' and '-' separated by '/', at most 64 characters" },
                { "[mqtt]\nbase-topic = $SYS\n" WEARER, -EINVAL,
                  "@:2: [mqtt] base-topic: found '$SYS', expected topic levels of 1-32 characters from a-z, 0-9, '_' and '-' separated by '/', at most 64 characters" },
                /* the MQTT module's rule: a level of 33 bytes is refused here, not at start-up */
                { "[mqtt]\nbase-topic = home/abcdefghijklmnopqrstuvwxyz0123456\n" WEARER, -EINVAL,
                  "@:2: [mqtt] base-topic: found 'home/abcdefghijklmnopqrstuvwxyz0123456', " "expected topic levels of 1-32 characters from a-z, 0-9, '_' and '-' separated by '/', at most 64 characters" },
                { "[mqtt]\nclient-id = this-client-id-is-far-too-long\n" WEARER, -EINVAL,
                  "@:2: [mqtt] client-id: found 'this-client-id-is-far-too-long', expected at most 23 characters from A-Z, a-z, 0-9, '_' and '-'" },
                { WEARER "timezone = ../../etc/passwd\n", -EINVAL,
                  "@:3: [wearer anna] timezone: found '../../etc/passwd', expected an IANA time zone name such as Europe/Berlin" },
                /* missing things */
                { "[wearer anna]\nbody-weight-kg = 70\n[mqtt]\n", -EINVAL,
                  "@:1: [wearer anna]: found no device, expected at least one of left, right or footpod" },
                { WEARER "[wearer ben]\n", -EINVAL,
                  "@:3: [wearer ben]: found no device, expected at least one of left, right or footpod" },
                { "[mqtt]\nhost = localhost\n", -EINVAL,
                  "@: found no [wearer NAME] section, expected at least one (or auto-discovery = yes in [bluetooth])" },
                { "[mqtt]\nhost =\n" WEARER, -EINVAL, "@:2: [mqtt] host: found '', expected a host name or an IP address" },
                { "[reminders]\nclear-steps = 0\nclear-calf-raises = 0\nclear-walking = 0\n" WEARER, -EINVAL,
                  "@:4: [reminders] clear-walking: found '0', expected at least one of clear-steps, clear-walking and clear-calf-raises above 0" },
                /* TLS consistency */
                { "[mqtt]\nca-file = /etc/ssl/certs/ca-certificates.crt\n" WEARER, -EINVAL,
                  "@:2: [mqtt] ca-file: found '/etc/ssl/certs/ca-certificates.crt', expected tls = yes in [mqtt] as well" },
                { "[mqtt]\ntls = yes\ncert-file = /nonexistent/client.crt\n" WEARER, -EINVAL,
                  "@:3: [mqtt] cert-file: found '/nonexistent/client.crt', expected key-file as well" },
                { "[mqtt]\ntls = yes\nca-file = /nonexistent/ca.crt\n" WEARER, -ENOENT,
                  "@:3: [mqtt] ca-file: found '/nonexistent/ca.crt', expected a readable file (No such file or directory)" },
                { "[mqtt]\ntls = yes\nca-path = /etc/passwd\n" WEARER, -ENOTDIR,
                  "@:3: [mqtt] ca-path: found '/etc/passwd', expected a readable directory (Not a directory)" },
                /* the password, refused and misconfigured */
                { "[mqtt]\nusername = u\npassword-file = /nonexistent/pw\n" WEARER, -ENOENT,
                  "@:3: [mqtt] password-file: found '/nonexistent/pw', expected a readable file (No such file or directory)" },
                { "[mqtt]\nusername = u\npassword-file = /etc\n" WEARER, -EISDIR,
                  "@:3: [mqtt] password-file: found '/etc', expected a readable file (Is a directory)" },
                { "[mqtt]\nusername = u\npassword-credential = mqtt-password\n" WEARER, -ENOKEY,
                  "@:3: [mqtt] password-credential: found 'mqtt-password', expected $CREDENTIALS_DIRECTORY to be set (LoadCredential= in the service unit)" },
                { "[mqtt]\npassword-credential = ../mqtt-password\n" WEARER, -EINVAL,
                  "@:2: [mqtt] password-credential: found '../mqtt-password', expected a credential name such as mqtt-password" },
                { "[mqtt]\npassword-file = /a\npassword-credential = b\n" WEARER, -EINVAL,
                  "@:3: [mqtt] password-credential: found 'b', expected either password-file or password-credential, not both (password-file is on line 2)" },
                /* lines inih cannot take whole */
                { "[mqtt]\nhost = "
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n" WEARER,
                  -E2BIG, "@:2: found a line of 207 characters, expected at most 198" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_load_fails(cases[i].text, cases[i].r, cases[i].message);
}

static void test_missing_file(void **state) {
        Config c;

        char expected[1024];

        (void) snprintf(expected, sizeof(expected),
                        "%s/nope.conf: found no readable file (No such file or directory), expected the configuration", tmpdir);
        assert_int_equal(config_load(TMP("nope.conf"), &c, error, sizeof(error)), -ENOENT);
        assert_string_equal(error, expected);

        /* A message stays one line whatever the file is called. */
        assert_int_equal(config_load_string("[mqtt]\nqos = 5\n", "odd\nname", &c, error, sizeof(error)), -ERANGE);
        assert_string_equal(error, "odd\\x0aname:2: [mqtt] qos: found '5', expected 0, 1 or 2");
}

static void test_nul_and_line_length(void **state) {
        static const char text[] = "[mqtt]\nhost = a\0b\n[wearer anna]\nleft = C0:FF:EE:00:00:01\n";
        char line[256];
        Config c;
        FILE *f;

        f = fopen(TMP("test.conf"), "we");
        assert_non_null(f);
        assert_int_equal(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(config_load(TMP("test.conf"), &c, error, sizeof(error)), -EINVAL);
        assert_string_equal(error, expect_message("@:2: found a NUL byte, expected text"));

        /* 198 characters fit, 199 do not. */
        (void) snprintf(line, sizeof(line), "[mqtt]\nusername = %0*d\n" WEARER, 198 - 11, 7);
        assert_int_equal(load_text(line, &c), 0);
        assert_int_equal(strlen(c.username), 198 - 11);
        config_done(&c);
        (void) snprintf(line, sizeof(line), "[mqtt]\nusername = %0*d\n" WEARER, 199 - 11, 7);
        assert_load_fails(line, -E2BIG, "@:2: found a line of 199 characters, expected at most 198");
}

static void test_timezone_root(void **state) {
        Config c;
        char dir[512];

        /* TZDIR points the check at a zone database of our own. */
        (void) snprintf(dir, sizeof(dir), "%s/zoneinfo", tmpdir);
        assert_int_equal(mkdir(dir, 0755), 0);
        assert_int_equal(mkdir(TMP("zoneinfo/Mars"), 0755), 0);
        write_file("zoneinfo/Mars/Olympus_Mons", "TZif");
        setenv("TZDIR", dir, 1);

        assert_int_equal(load_text(WEARER "timezone = Mars/Olympus_Mons\n", &c), 0);
        assert_string_equal(c.wearers[0].timezone, "Mars/Olympus_Mons");
        config_done(&c);

        char expected[1024];
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [wearer anna] timezone: found 'Europe/Berlin', expected a time zone in %s such as Europe/Berlin",
                        dir);
        assert_load_fails(WEARER "timezone = Europe/Berlin\n", -ENOENT, expected);
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [wearer anna] timezone: found 'Mars', expected a time zone in %s such as Europe/Berlin", dir);
        assert_load_fails(WEARER "timezone = Mars\n", -ENOENT, expected);
        unsetenv("TZDIR");
}

/* ---- the password ---- */

static void assert_no_secret(void) {
        assert_null(strstr(error, SECRET));
        assert_null(strstr(error, "s3cret"));
        assert_null(strstr(logged, "s3cret"));
}

static void test_password(void **state) {
        char text[1024];
        Config c;

        /* From a file: one trailing line break is not part of it. */
        write_file("pw", SECRET "\r\n");
        (void) snprintf(text, sizeof(text), "[mqtt]\nusername = gw\npassword-file = %s/pw\n" WEARER, tmpdir);
        assert_int_equal(load_text(text, &c), 0);
        assert_string_equal(c.password, SECRET);
        config_done(&c);

        /* From a systemd credential. */
        assert_int_equal(mkdir(TMP("creds"), 0700), 0);
        write_file("creds/mqtt-password", SECRET);
        setenv("CREDENTIALS_DIRECTORY", TMP("creds"), 1);
        assert_int_equal(load_text("[mqtt]\nusername = gw\npassword-credential = mqtt-password\n" WEARER, &c), 0);
        assert_string_equal(c.password, SECRET);
        config_done(&c);

        /* A missing credential names the path, not a content. */
        char expected[1024];
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [mqtt] password-credential: found '%s/creds/other', expected a readable file (No such file or directory)",
                        tmpdir);
        assert_load_fails("[mqtt]\nusername = gw\npassword-credential = other\n" WEARER, -ENOENT, expected);
        unsetenv("CREDENTIALS_DIRECTORY");

        /* Written into the configuration: refused, and the value is not echoed. */
        assert_load_fails("[mqtt]\nusername = gw\npassword = " SECRET "\n" WEARER, -EPERM,
                          "@:3: [mqtt] password: found a password (not shown), expected password-file or "
                          "password-credential: the password never goes into this file");
        assert_no_secret();

        /* Files that do not hold one password line. */
        write_file("pw", "");
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [mqtt] password-file: found '%s/pw', expected a file holding the password (it is empty)", tmpdir);
        assert_load_fails(text, -ENODATA, expected);

        write_file("pw", SECRET "\n" SECRET "\n");
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [mqtt] password-file: found '%s/pw', expected a password on one line, without NUL bytes", tmpdir);
        assert_load_fails(text, -EBADMSG, expected);
        assert_no_secret();

        char big[CONFIG_PASSWORD_MAX + 2];
        memset(big, 'x', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        write_file("pw", big);
        (void) snprintf(expected, sizeof(expected),
                        "@:3: [mqtt] password-file: found '%s/pw', expected a password of at most 1024 bytes in it", tmpdir);
        assert_load_fails(text, -EFBIG, expected);
        big[CONFIG_PASSWORD_MAX] = '\0';
        write_file("pw", big);
        assert_int_equal(load_text(text, &c), 0);
        assert_int_equal(strlen(c.password), CONFIG_PASSWORD_MAX);
        config_done(&c);

        /* MQTT sends a password only with a user name. */
        write_file("pw", SECRET "\n");
        (void) snprintf(text, sizeof(text), "[mqtt]\npassword-file = %s/pw\n" WEARER, tmpdir);
        assert_load_fails(text, -EINVAL,
                          "@:2: [mqtt] password-file: found a password, expected username to be set as well (MQTT sends a "
                          "password only with a user name)");
        assert_no_secret();

        /* A later error in a file whose password was already read leaks nothing either. */
        (void) snprintf(text, sizeof(text), "[mqtt]\nusername = u\npassword-file = %s/pw\nqos = 9\n" WEARER, tmpdir);
        assert_load_fails(text, -ERANGE, "@:4: [mqtt] qos: found '9', expected 0, 1 or 2");
        assert_no_secret();
}

/* ---- reload ---- */

static void test_reload(void **state) {
        Config cur, next;
        char text[1024];
        int r;

        write_file("pw", SECRET "\n");
        (void) snprintf(text, sizeof(text),
                        "[mqtt]\nhost = a.example.org\nusername = u\npassword-file = %s/pw\n"
                        "[reminders]\nsitting-limit = 40min\n"
                        "[wearer anna]\nleft = C0:FF:EE:00:00:01\nbody-weight-kg = 70\n",
                        tmpdir);
        assert_int_equal(load_text(text, &cur), 0);

        /* Only reloadable keys changed: all applied. */
        (void) snprintf(text, sizeof(text),
                        "[mqtt]\nhost = a.example.org\nusername = u\npassword-file = %s/pw\n"
                        "[reminders]\nsitting-limit = 55min\nquiet-days = sun\n"
                        "[alerts]\nmetrics = step_time_si, cadence\nbaseline-days = 10\nsensitivity = low\n"
                        "[metrics]\nraw-stream = yes\n"
                        "[bluetooth]\nbackoff-max = 2min\n"
                        "[wearer anna]\nleft = C0:FF:EE:00:00:01\nbody-weight-kg = 72\ntimezone = Europe/Berlin\n",
                        tmpdir);
        assert_int_equal(load_text(text, &next), 0);
        assert_int_equal(config_apply_reload(&cur, &next, error, sizeof(error)), 0);
        assert_string_equal(error, "");
        assert_int_equal(cur.sitting_limit_usec, 55 * USEC_PER_MINUTE);
        assert_int_equal(cur.quiet_days, 1);
        assert_int_equal(cur.alert_metrics, (1u << GAIT_METRIC_STEP_TIME_SI) | (1u << GAIT_METRIC_CADENCE));
        assert_int_equal(cur.alert_baseline_days, 10);
        assert_int_equal(cur.alert_sensitivity, ALERT_SENSITIVITY_LOW);
        assert_true(cur.raw_stream);
        assert_int_equal(cur.backoff_max_usec, 2 * USEC_PER_MINUTE);
        assert_true(cur.wearers[0].body_weight_kg == 72);
        assert_string_equal(cur.wearers[0].timezone, "Europe/Berlin");
        config_done(&next);

        /* The broker changed too: that needs a restart, so it keeps its running value and the
         * message names the key and where it is; the reloadable keys still apply. */
        (void) snprintf(text, sizeof(text),
                        "[mqtt]\nusername = u\npassword-file = %s/pw\nhost = b.example.org\n"
                        "[reminders]\nsitting-limit = 20min\n"
                        "[wearer anna]\nleft = C0:FF:EE:00:00:01\n",
                        tmpdir);
        assert_int_equal(load_text(text, &next), 0);
        r = config_apply_reload(&cur, &next, error, sizeof(error));
        assert_int_equal(r, -EBUSY);
        assert_string_equal(error, expect_message("@:4: [mqtt] host: found a new value, expected the running one: this key "
                                                  "changes only with a restart"));
        assert_string_equal(cur.host, "a.example.org");
        assert_int_equal(cur.sitting_limit_usec, 20 * USEC_PER_MINUTE);
        assert_true(cur.wearers[0].body_weight_kg == 0);
        config_done(&next);

        /* Devices and wearers need a restart. */
        assert_int_equal(load_text("[mqtt]\nhost = a.example.org\nusername = u\n"
                                   "[wearer anna]\nleft = C0:FF:EE:00:00:01\nright = C0:FF:EE:00:00:02\n",
                                   &next),
                         0);
        r = config_apply_reload(&cur, &next, error, sizeof(error));
        assert_int_equal(r, -EBUSY);
        /* The password went away first (schema order: [mqtt] before wearers). */
        assert_string_equal(error, expect_message("@: [mqtt] password-file: found a new value, expected the running one: this "
                                                  "key changes only with a restart"));
        assert_false(cur.wearers[0].has_device[DEVICE_ROLE_RIGHT]);
        assert_string_equal(cur.password, SECRET);
        assert_string_equal(cur.password_file, TMP("pw"));
        config_done(&next);

        (void) snprintf(text, sizeof(text),
                        "[mqtt]\nhost = a.example.org\nusername = u\npassword-file = %s/pw\n"
                        "[wearer anna]\nleft = C0:FF:EE:00:00:01\n[wearer ben]\nfootpod = C0:FF:EE:00:00:03\n",
                        tmpdir);
        assert_int_equal(load_text(text, &next), 0);
        assert_int_equal(config_apply_reload(&cur, &next, error, sizeof(error)), -EBUSY);
        assert_string_equal(error, expect_message("@:7: [wearer ben]: found new or changed devices or stream-rate, "
                                                  "expected the running ones: wearers, devices and stream rates change only "
                                                  "with a restart"));
        assert_int_equal(cur.n_wearers, 1);
        config_done(&next);

        /* A rotated password is not shown and needs a restart. */
        (void) snprintf(text, sizeof(text),
                        "[mqtt]\nhost = a.example.org\nusername = u\npassword-file = %s/pw\n[wearer anna]\nleft = C0:FF:EE:00:00:01\n",
                        tmpdir);
        write_file("pw", "another-secret\n");
        assert_int_equal(load_text(text, &next), 0);
        assert_int_equal(config_apply_reload(&cur, &next, error, sizeof(error)), -EBUSY);
        assert_string_equal(error, expect_message("@:4: [mqtt] password-file: found a new password (not shown), expected the "
                                                  "running one: it changes only with a restart"));
        assert_null(strstr(error, "another-secret"));
        assert_no_secret();
        assert_string_equal(cur.password, SECRET);
        config_done(&next);

        config_done(&cur);
}

/* ---- the schema is documented ---- */

static char *read_all(const char *relative) {
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        char path[1024];
        FILE *f;
        char *buf;
        long n;

        assert_non_null(root);
        (void) snprintf(path, sizeof(path), "%s/%s", root, relative);
        f = fopen(path, "re");
        if (!f)
                print_error("cannot open %s\n", path);
        assert_non_null(f);
        assert_int_equal(fseek(f, 0, SEEK_END), 0);
        n = ftell(f);
        assert_true(n > 0);
        rewind(f);
        buf = malloc((size_t) n + 1);
        assert_non_null(buf);
        assert_int_equal(fread(buf, 1, (size_t) n, f), (size_t) n);
        buf[n] = '\0';
        fclose(f);
        return buf;
}

/* The section a line opens, as the schema names it ("wearer" for [wearer NAME]), whether the
 * header is live or commented out; NULL if the line is no header. */
static const char *header_section(const char *line, char *buf, size_t size) {
        const char *p = line, *end;

        while (*p == '#' || *p == ';' || *p == ' ' || *p == '`')
                p++;
        if (*p != '[')
                return NULL;
        end = strchr(p, ']');
        if (!end)
                return NULL;
        p++;
        size_t l = MIN((size_t) (end - p), size - 1);
        memcpy(buf, p, l);
        buf[l] = '\0';
        if (strncmp(buf, "wearer", 6) == 0)
                buf[6] = '\0';
        return buf;
}

/* Whether `key = ` starts the line, possibly commented out ("#key = x", "# key = x"). */
static bool line_sets_key(const char *line, const char *key) {
        const char *p = line;
        size_t l = strlen(key);

        if (*p == '#' || *p == ';')
                p++;
        while (*p == ' ')
                p++;
        if (strncmp(p, key, l) != 0)
                return false;
        p += l;
        while (*p == ' ')
                p++;
        return *p == '=';
}

/* Set-up code reports against a key: one line in the loader's form, with the key's line, or none
 * when the default is at fault; a wearer's key names the wearer; reload keeps the lines current. */
static void test_log_key(void **state) {
        Config c, next;

        assert_int_equal(load_text("[gateway]\nid = hall\n\n"
                                   "[mqtt]\nbase-topic = home/insoles\n"
                                   "[wearer anna]\nleft = C0:FF:EE:00:00:01\n"
                                   "[wearer ben]\nright = C0:FF:EE:00:00:02\ntimezone = UTC\n", &c), 0);

        assert_int_equal(config_log_key(&c, LOG_ERR, EACCES, &c.state_directory, "found '%s', expected more (%m)",
                                        c.state_directory), -EACCES);
        assert_int_equal(config_log_key(&c, LOG_WARNING, -EINVAL, c.base_topic, "found it"), -EINVAL);
        assert_int_equal(config_log_key(&c, LOG_ERR, EBADMSG, c.wearers[1].timezone, "found '%s'", c.wearers[1].timezone),
                         -EBADMSG);
        assert_int_equal(config_log_key(&c, LOG_ERR, EINVAL, &c.wearers[1].device[DEVICE_ROLE_RIGHT], "found it"), -EINVAL);
        assert_int_equal(config_log_key(&c, LOG_ERR, EINVAL, &c.adapter, "found none"), -EINVAL);
        assert_int_equal(log_lines, 5);
        assert_string_equal(logged, expect_message(
                "@: [gateway] state-directory: found '/var/lib/insole2mqtt', expected more (Permission denied)\n"
                "@:5: [mqtt] base-topic: found it\n"
                "@:10: [wearer ben] timezone: found 'UTC'\n"
                "@:9: [wearer ben] right: found it\n"
                "@: [bluetooth] adapter: found none\n"));

        /* The same values on other lines after a reload: reports follow the file. */
        assert_int_equal(load_text("[gateway]\n\nid = hall\n\n"
                                   "[mqtt]\nbase-topic = home/insoles\n"
                                   "[wearer anna]\nleft = C0:FF:EE:00:00:01\n"
                                   "[wearer ben]\nright = C0:FF:EE:00:00:02\n\ntimezone = UTC\n", &next), 0);
        assert_int_equal(config_apply_reload(&c, &next, error, sizeof(error)), 0);
        logged[0] = '\0';
        (void) config_log_key(&c, LOG_ERR, EINVAL, c.base_topic, "found it");
        (void) config_log_key(&c, LOG_ERR, EINVAL, c.wearers[1].timezone, "found it");
        assert_string_equal(logged, expect_message("@:6: [mqtt] base-topic: found it\n"
                                                   "@:12: [wearer ben] timezone: found it\n"));
        log_lines = 0; /* these lines were asked for */
        config_done(&next);
        config_done(&c);
}

static void test_schema_documented(void **state) {
        _cleanup_free_ char *example = read_all("config/insole2mqtt.conf");
        _cleanup_free_ char *doc = read_all("docs/configuration.md");
        size_t n = 0;

        for (const ConfigKeyInfo *k; (k = config_schema_key(n)); n++) {
                char section[64] = "", buf[64], quoted[96];
                bool in_example = false, in_doc = false;

                assert_non_null(k->expected);

                /* The example: a "key = " line (live or commented out) inside its section. */
                for (char *line = example; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (header_section(line, buf, sizeof(buf)))
                                snprintf(section, sizeof(section), "%s", buf);
                        else if (streq(section, k->section) && line_sets_key(line, k->key))
                                in_example = true;
                        if (nl)
                                *nl = '\n';
                        line = nl ? nl + 1 : NULL;
                }
                /* A refused secret is deliberately not shown as a key line in the example, but the
                 * example must still say that it is refused. */
                if (k->flags & CONFIG_KEY_SECRET) {
                        (void) snprintf(quoted, sizeof(quoted), "\"%s\" key is refused", k->key);
                        in_example = strstr(example, quoted) != NULL;
                }

                /* The reference: "`key`" under the section's heading ("## [section]"). */
                section[0] = '\0';
                (void) snprintf(quoted, sizeof(quoted), "`%s`", k->key);
                for (char *line = doc; line && *line;) {
                        char *nl = strchr(line, '\n');
                        if (nl)
                                *nl = '\0';
                        if (strncmp(line, "## ", 3) == 0) {
                                if (!header_section(line + 3, buf, sizeof(buf)))
                                        buf[0] = '\0';
                                snprintf(section, sizeof(section), "%s", buf);
                        } else if (streq(section, k->section) && strncmp(line, "| ", 2) == 0 &&
                                   strncmp(line + 2, quoted, strlen(quoted)) == 0)
                                in_doc = true;
                        if (nl)
                                *nl = '\n';
                        line = nl ? nl + 1 : NULL;
                }

                if (!in_example || !in_doc)
                        print_error("[%s] %s: %s%s\n", k->section, k->key,
                                    in_example ? "" : "missing from config/insole2mqtt.conf ",
                                    in_doc ? "" : "missing from the tables of docs/configuration.md");
                assert_true(in_example);
                assert_true(in_doc);
        }
        assert_true(n > 40);
        assert_true(n <= CONFIG_KEYS_MAX);
}

/* Every key is consumed: the member it sets is read somewhere outside the configuration module
 * (daemon/ but daemon/config/, and the headers but config.h). A key nobody reads is a promise
 * the gateway does not keep. */
static size_t path_basename_offset(const char *path) {
        const char *slash = strrchr(path, '/');
        return slash ? (size_t) (slash + 1 - path) : 0;
}

static char *consumed_text;
static size_t consumed_len;

static int append_source(const char *path, const struct stat *st, int type, struct FTW *ftw) {
        size_t l = strlen(path);
        FILE *f;

        if (type == FTW_D && strstr(path, "/daemon/config") && !strstr(path, "/daemon/config/"))
                return FTW_SKIP_SUBTREE;
        if (type != FTW_F || l < 3 || (strcmp(path + l - 2, ".c") != 0 && strcmp(path + l - 2, ".h") != 0) ||
            strcmp(path + path_basename_offset(path), "config.h") == 0)
                return FTW_CONTINUE;
        f = fopen(path, "re");
        assert_non_null(f);
        consumed_text = realloc(consumed_text, consumed_len + (size_t) st->st_size + 2);
        assert_non_null(consumed_text);
        consumed_len += fread(consumed_text + consumed_len, 1, (size_t) st->st_size, f);
        consumed_text[consumed_len++] = '\n';
        consumed_text[consumed_len] = '\0';
        fclose(f);
        return FTW_CONTINUE;
}

static char *sources_outside_config(void) {
        static const char *const dirs[] = { "daemon", "include" };
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        char path[1024];

        assert_non_null(root);
        consumed_text = NULL;
        consumed_len = 0;
        for (size_t d = 0; d < ELEMENTSOF(dirs); d++) {
                (void) snprintf(path, sizeof(path), "%s/%s", root, dirs[d]);
                assert_int_equal(nftw(path, append_source, 16, FTW_PHYS | FTW_ACTIONRETVAL), 0);
        }
        assert_non_null(consumed_text);
        return consumed_text;
}

static bool is_ident(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* "->name" or ".name", not followed by more of an identifier. */
static bool member_is_read(const char *text, const char *name) {
        size_t l = strlen(name);

        for (const char *p = text; (p = strstr(p, name)); p += l)
                if (p > text && (p[-1] == '.' || (p[-1] == '>' && p - 1 > text && p[-2] == '-')) && !is_ident(p[l]))
                        return true;
        return false;
}

static void test_schema_consumed(void **state) {
        _cleanup_free_ char *code = sources_outside_config();
        unsigned missing = 0;

        for (size_t i = 0; config_schema_key(i); i++) {
                const ConfigKeyInfo *k = config_schema_key(i);
                const char *field = config_schema_key_field(i);

                if (k->flags & CONFIG_KEY_SECRET) {
                        assert_null(field); /* refused: nothing to consume */
                        continue;
                }
                assert_non_null(field);
                if (!member_is_read(code, field)) {
                        print_error("[%s] %s: its member '%s' is read nowhere outside daemon/config\n", k->section,
                                    k->key, field);
                        missing++;
                }
        }
        assert_int_equal(missing, 0);
        /* and the check can fail: */
        assert_false(member_is_read(code, "no_such_member_anywhere"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_durations, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bools_numbers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_hours_days_names, setup, teardown),
                cmocka_unit_test_setup_teardown(test_bdaddr, setup, teardown),
                cmocka_unit_test_setup_teardown(test_defaults, setup, teardown),
                cmocka_unit_test_setup_teardown(test_valid_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tls_defaults_and_string, setup, teardown),
                cmocka_unit_test_setup_teardown(test_example_config, setup, teardown),
                cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_nul_and_line_length, setup, teardown),
                cmocka_unit_test_setup_teardown(test_timezone_root, setup, teardown),
                cmocka_unit_test_setup_teardown(test_password, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reload, setup, teardown),
                cmocka_unit_test_setup_teardown(test_log_key, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_documented, setup, teardown),
                cmocka_unit_test_setup_teardown(test_schema_consumed, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
