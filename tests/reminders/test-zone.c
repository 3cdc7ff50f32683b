/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "zone.h"

#define BERLIN_RULE "CET-1CEST,M3.5.0,M10.5.0/3"

static uint64_t utc(int y, int m, int d, int h, int mi) {
        return ((uint64_t) days_from_civil(y, m, d) * 86400 + (uint64_t) h * 3600 + (uint64_t) mi * 60) * USEC_PER_SEC;
}

static void check_berlin(const Zone *z) {
        LocalTime lt;

        /* Winter: UTC+1; summer: UTC+2. */
        zone_local_time(z, utc(2026, 1, 15, 12, 0), &lt);
        assert_int_equal(lt.hour, 13);
        assert_int_equal(lt.utc_offset_sec, 3600);
        assert_false(lt.is_dst);
        zone_local_time(z, utc(2026, 7, 15, 12, 0), &lt);
        assert_int_equal(lt.hour, 14);
        assert_true(lt.is_dst);

        /* Spring forward, Sunday 2026-03-29: 02:00 local (01:00 UTC) becomes 03:00. */
        zone_local_time(z, utc(2026, 3, 29, 0, 59), &lt);
        assert_int_equal(lt.hour, 1);
        assert_int_equal(lt.minute, 59);
        zone_local_time(z, utc(2026, 3, 29, 1, 0), &lt);
        assert_int_equal(lt.hour, 3);
        assert_int_equal(lt.wday, 0);
        assert_int_equal(lt.yday, 31 + 28 + 28);

        /* Fall back, Sunday 2026-10-25: 03:00 local (01:00 UTC) becomes 02:00 again. */
        zone_local_time(z, utc(2026, 10, 25, 0, 30), &lt);
        assert_int_equal(lt.hour, 2);
        assert_true(lt.is_dst);
        zone_local_time(z, utc(2026, 10, 25, 1, 30), &lt);
        assert_int_equal(lt.hour, 2);
        assert_false(lt.is_dst);

        /* Day boundaries: 23- and 25-hour days. */
        uint64_t s1 = zone_day_start(z, 2026, 3, 29), e1 = zone_day_start(z, 2026, 3, 30);
        assert_true(s1 == utc(2026, 3, 28, 23, 0));
        assert_true(e1 - s1 == 23 * USEC_PER_HOUR);
        uint64_t s2 = zone_day_start(z, 2026, 10, 25), e2 = zone_day_start(z, 2026, 10, 26);
        assert_true(s2 == utc(2026, 10, 24, 22, 0));
        assert_true(e2 - s2 == 25 * USEC_PER_HOUR);
        assert_true(zone_day_start(z, 2026, 11, 23) == utc(2026, 11, 22, 23, 0));

        /* Far future (beyond any table): the footer rule still applies. */
        zone_local_time(z, utc(2091, 7, 1, 12, 0), &lt);
        assert_int_equal(lt.hour, 14);
        unsigned short_days = 0;
        for (int d = 25; d < 31; d++)
                if (zone_day_start(z, 2091, 3, d + 1) - zone_day_start(z, 2091, 3, d) == 23 * USEC_PER_HOUR)
                        short_days++;
        if (zone_day_start(z, 2091, 4, 1) - zone_day_start(z, 2091, 3, 31) == 23 * USEC_PER_HOUR)
                short_days++;
        assert_int_equal(short_days, 1);
}

static void test_berlin_posix(void **state) {
        _cleanup_(zone_freep) Zone *z = NULL;

        assert_int_equal(zone_from_posix(BERLIN_RULE, &z), 0);
        check_berlin(z);
}

static void test_berlin_tzif(void **state) {
        _cleanup_(zone_freep) Zone *z = NULL;
        int r = zone_load("Europe/Berlin", &z);

        if (r == -ENOENT) {
                skip(); /* no tzdata installed */
                return;
        }
        assert_int_equal(r, 0);
        assert_string_equal(zone_name(z), "Europe/Berlin");
        check_berlin(z);

        /* History from the table: no DST in (West) Germany from 1950 to 1979. */
        LocalTime lt;
        zone_local_time(z, utc(1975, 7, 1, 12, 0), &lt);
        assert_int_equal(lt.hour, 13);
}

static void test_southern_and_odd_rules(void **state) {
        _cleanup_(zone_freep) Zone *syd = NULL, *ny = NULL, *fixed = NULL, *angle = NULL;
        LocalTime lt;

        /* Sydney: DST from October to April, across the new year. */
        assert_int_equal(zone_from_posix("AEST-10AEDT,M10.1.0,M4.1.0/3", &syd), 0);
        zone_local_time(syd, utc(2026, 1, 10, 0, 0), &lt);
        assert_int_equal(lt.utc_offset_sec, 11 * 3600);
        zone_local_time(syd, utc(2026, 7, 10, 0, 0), &lt);
        assert_int_equal(lt.utc_offset_sec, 10 * 3600);

        assert_int_equal(zone_from_posix("EST5EDT,M3.2.0,M11.1.0", &ny), 0);
        zone_local_time(ny, utc(2026, 3, 8, 6, 59), &lt); /* 01:59 EST */
        assert_int_equal(lt.hour, 1);
        zone_local_time(ny, utc(2026, 3, 8, 7, 0), &lt);  /* 03:00 EDT */
        assert_int_equal(lt.hour, 3);

        assert_int_equal(zone_from_posix("<+0530>-5:30", &fixed), 0);
        zone_local_time(fixed, utc(2026, 1, 1, 0, 0), &lt);
        assert_int_equal(lt.hour, 5);
        assert_int_equal(lt.minute, 30);

        assert_int_equal(zone_from_posix("<-03>3", &angle), 0);
        zone_local_time(angle, utc(2026, 1, 1, 0, 0), &lt);
        assert_int_equal(lt.day, 31);
        assert_int_equal(lt.hour, 21);

        Zone *bad = NULL;
        assert_int_equal(zone_from_posix("", &bad), -EINVAL);
        assert_int_equal(zone_from_posix("CET", &bad), -EINVAL);
        assert_int_equal(zone_from_posix("CET-1CEST,M3.5.0", &bad), -EINVAL);
        assert_int_equal(zone_from_posix("CET-1CEST,M13.5.0,M10.5.0", &bad), -EINVAL);
        assert_int_equal(zone_from_posix("CET-1 junk", &bad), -EINVAL);
        assert_null(bad);
}

static void test_names_and_garbage(void **state) {
        Zone *z = NULL;
        uint8_t junk[64] = "TZif2";

        assert_int_equal(zone_load("../etc/passwd", &z), -EINVAL);
        assert_int_equal(zone_load("/etc/passwd", &z), -EINVAL);
        assert_int_equal(zone_load("Europe/../../etc", &z), -EINVAL);
        assert_int_equal(zone_load("Europe/Berlin;rm", &z), -EINVAL);
        assert_int_equal(zone_load("No/Such_Zone", &z), -ENOENT);
        assert_null(z);

        /* UTC works even without a database. */
        assert_int_equal(zone_load_from("/nonexistent", "UTC", &z), 0);
        assert_int_equal(zone_utc_offset(z, 1000000, NULL), 0);
        z = zone_free(z);

        assert_int_equal(zone_from_tzif(junk, sizeof(junk), &z), -EBADMSG);
        assert_int_equal(zone_from_tzif("TZif", 4, &z), -EBADMSG);
        assert_null(z);

        /* Every truncation of a real file is refused or parsed, never read past. */
        _cleanup_free_ uint8_t *buf = malloc(65536);
        FILE *f = fopen(ZONEINFO_DIR "/Europe/Berlin", "re");
        if (!f) {
                skip();
                return;
        }
        size_t n = fread(buf, 1, 65536, f);
        fclose(f);
        for (size_t len = 0; len < n; len += 7) {
                _cleanup_free_ uint8_t *copy = malloc(len + 1);
                memcpy(copy, buf, len);
                if (zone_from_tzif(copy, len, &z) == 0)
                        z = zone_free(z);
        }
}

static void test_dates(void **state) {
        char buf[16];
        LocalDate d;
        int y, m, dd;

        assert_int_equal(days_from_civil(1970, 1, 1), 0);
        assert_int_equal(days_from_civil(2000, 3, 1), 11017);
        civil_from_days(11017, &y, &m, &dd);
        assert_int_equal(y, 2000);
        assert_int_equal(m, 3);
        assert_int_equal(dd, 1);
        assert_int_equal(local_date_next(LOCAL_DATE(2024, 2, 28)), LOCAL_DATE(2024, 2, 29));
        assert_int_equal(local_date_next(LOCAL_DATE(2026, 12, 31)), LOCAL_DATE(2027, 1, 1));
        assert_string_equal(local_date_to_string(LOCAL_DATE(2026, 3, 9), buf, sizeof(buf)), "2026-03-09");
        assert_int_equal(local_date_from_string("2026-03-09", &d), 0);
        assert_int_equal(d, LOCAL_DATE(2026, 3, 9));
        assert_int_equal(local_date_from_string("2026-02-30", &d), -EINVAL);
        assert_int_equal(local_date_from_string("2026-3-9", &d), -EINVAL);
        assert_int_equal(local_date_from_string("2026-03-09x", &d), -EINVAL);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_berlin_posix),
                cmocka_unit_test(test_berlin_tzif),
                cmocka_unit_test(test_southern_and_odd_rules),
                cmocka_unit_test(test_names_and_garbage),
                cmocka_unit_test(test_dates),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
