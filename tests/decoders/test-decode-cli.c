/* SPDX-License-Identifier: MIT */
/* The `insole2mqtt decode` code path, run in-process with stdout and stderr captured. */

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli.h"
#include "decoder-records.h"
#include "macro.h"

typedef struct Captured {
        int status;
        char out[16384];
        char err[4096];
} Captured;

static void slurp(int fd, char *buf, size_t size) {
        ssize_t n;
        size_t len = 0;

        assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
        while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
                len += (size_t) n;
        buf[len] = 0;
}

static void run(Captured *c, int argc, char **argv) {
        char out_path[] = "/tmp/test-decode-cli-out.XXXXXX", err_path[] = "/tmp/test-decode-cli-err.XXXXXX";
        int out_fd = mkstemp(out_path), err_fd = mkstemp(err_path), saved_out, saved_err;

        assert_true(out_fd >= 0 && err_fd >= 0);
        (void) unlink(out_path);
        (void) unlink(err_path);
        fflush(stdout);
        fflush(stderr);
        saved_out = dup(STDOUT_FILENO);
        saved_err = dup(STDERR_FILENO);
        assert_true(dup2(out_fd, STDOUT_FILENO) >= 0);
        assert_true(dup2(err_fd, STDERR_FILENO) >= 0);

        c->status = decode_cli(argc, argv);

        fflush(stdout);
        fflush(stderr);
        assert_true(dup2(saved_out, STDOUT_FILENO) >= 0);
        assert_true(dup2(saved_err, STDERR_FILENO) >= 0);
        close(saved_out);
        close(saved_err);
        slurp(out_fd, c->out, sizeof(c->out));
        slurp(err_fd, c->err, sizeof(c->err));
        close(out_fd);
        close(err_fd);
}

#define RUN(c, ...)                                              \
        do {                                                     \
                char *_argv[] = { (char *) "decode", __VA_ARGS__ }; \
                run(c, (int) ELEMENTSOF(_argv), _argv);          \
        } while (0)

static size_t count_lines(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_rsc_json(void **state) {
        Captured c;

        RUN(&c, (char *) "2a53", (char *) "04 80 03 b4");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"running\":true,\"speed_m_s\":3.5,\"cadence_per_min\":180}\n");
        assert_string_equal(c.err, "");

        /* nRF Connect style, full upper-case UUID */
        RUN(&c, (char *) "00002A53-0000-1000-8000-00805F9B34FB", (char *) "07-C0-03-A8-85-00-E8-03-00-00");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"running\":true,\"speed_m_s\":3.75,\"cadence_per_min\":168,"
                                   "\"stride_length_m\":1.33,\"total_distance_m\":100}\n");

        /* btmon style with colons, and the Stryd frame with trailing bytes */
        RUN(&c, (char *) "0x2a53", (char *) "80:9a:02:ac:00:00:00:00:00:00:00:00:00");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"running\":false,\"speed_m_s\":2.6016,\"cadence_per_min\":172}\n");

        /* split over several arguments */
        RUN(&c, (char *) "2a53", (char *) "00", (char *) "00 01", (char *) "5a");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"running\":false,\"speed_m_s\":1,\"cadence_per_min\":90}\n");
}

static void test_other_characteristics(void **state) {
        Captured c;

        RUN(&c, (char *) "2a19", (char *) "57");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"battery_percent\":87}\n");

        RUN(&c, (char *) OIP_STEP_COUNTER_UUID, (char *) "01 00 10 27 00 00 ef be ad de");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"version\":1,\"steps\":10000,\"boot_id\":3735928559}\n");

        RUN(&c, (char *) "2a26", (char *) "31 2e 32");
        assert_int_equal(c.status, 0);
        assert_string_equal(c.out, "{\"field\":\"firmware_revision\",\"value\":\"1.2\",\"truncated\":false}\n");

        /* Every characteristic of the registry decodes through the CLI (value from the goldens'
         * minimal forms is not needed: a rejected value still proves the lookup, exit 1). */
        for (size_t i = 0; i < decoder_registry_size; i++)
                for (size_t j = 0; j < decoder_registry[i]->n_characteristics; j++) {
                        RUN(&c, (char *) decoder_registry[i]->characteristics[j].uuid, (char *) "");
                        assert_true(c.status == 0 || c.status == 1);
                        assert_true(count_lines(c.out) + count_lines(c.err) == 1);
                }
}

static void test_errors(void **state) {
        Captured c;

        /* truncated: one line on stderr, exit 1, nothing on stdout */
        RUN(&c, (char *) "2a53", (char *) "03 00 03 b4 20 03 00 10 00");
        assert_int_equal(c.status, 1);
        assert_string_equal(c.out, "");
        assert_int_equal(count_lines(c.err), 1);
        assert_non_null(strstr(c.err, "too short"));

        RUN(&c, (char *) "2a19", (char *) "65");
        assert_int_equal(c.status, 1);
        assert_non_null(strstr(c.err, "implausible"));

        RUN(&c, (char *) "2a53", (char *) "04 80 03 b");
        assert_int_equal(c.status, 1);
        assert_int_equal(count_lines(c.err), 1);

        RUN(&c, (char *) "2a53", (char *) "zz");
        assert_int_equal(c.status, 1);

        RUN(&c, (char *) "2a37", (char *) "00 50"); /* heart rate: not ours */
        assert_int_equal(c.status, 1);
        assert_non_null(strstr(c.err, "no decoder"));

        {
                static char big[2 * 600 + 1];
                memset(big, 'a', 2 * 600);
                RUN(&c, (char *) "2a53", big);
                assert_int_equal(c.status, 1);
                assert_int_equal(count_lines(c.err), 1);
        }
}

static void test_usage(void **state) {
        Captured c;

        RUN(&c, (char *) "2a53");
        assert_int_equal(c.status, 2);
        assert_string_equal(c.out, "");
        assert_non_null(strstr(c.err, "Usage"));

        RUN(&c, (char *) "not-a-uuid", (char *) "00");
        assert_int_equal(c.status, 2);

        RUN(&c, (char *) "--help");
        assert_int_equal(c.status, 0);
        assert_non_null(strstr(c.out, "Usage"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rsc_json),
                cmocka_unit_test(test_other_characteristics),
                cmocka_unit_test(test_errors),
                cmocka_unit_test(test_usage),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
