/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <limits.h>
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

#include "file-io.h"
#include "macro.h"

typedef struct Dir {
        char path[64];
} Dir;

static int dir_setup(void **state) {
        Dir *d = calloc(1, sizeof *d);

        assert_non_null(d);
        snprintf(d->path, sizeof(d->path), "/tmp/test-file-io.XXXXXX");
        assert_non_null(mkdtemp(d->path));
        *state = d;
        return 0;
}

static int dir_teardown(void **state) {
        Dir *d = *state;
        char cmd[128];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d->path);
        assert_int_equal(system(cmd), 0);
        free(d);
        return 0;
}

static void assert_file_in(const char *dir, const char *name, const char *expected) {
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        assert_int_equal(read_file_in(dir, name, 1024, &text, &len), 0);
        assert_int_equal(len, strlen(expected));
        assert_string_equal(text, expected);
}

static void test_write_replaces_and_keeps_previous(void **state) {
        Dir *d = *state;
        char sub[128], path[256];
        struct stat st;

        /* The directory is made (0700) on the first write. */
        snprintf(sub, sizeof(sub), "%s/state", d->path);
        assert_int_equal(write_file_atomic(sub, "state.json", "one", 3, true), 0);
        assert_int_equal(stat(sub, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0700);
        snprintf(path, sizeof(path), "%s/state.json", sub);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_file_in(sub, "state.json", "one");
        /* Nothing to keep yet: no .prev */
        assert_int_equal(read_file_in(sub, "state.json.prev", 1024, &(char *) { NULL }, &(size_t) { 0 }), -ENOENT);

        assert_int_equal(write_file_atomic(sub, "state.json", "two", 3, true), 0);
        assert_file_in(sub, "state.json", "two");
        assert_file_in(sub, "state.json.prev", "one");

        /* Without keep_previous the previous copy stays as it was. */
        assert_int_equal(write_file_atomic(sub, "state.json", "three", 5, false), 0);
        assert_file_in(sub, "state.json", "three");
        assert_file_in(sub, "state.json.prev", "one");

        /* No temporary file is left behind. */
        snprintf(path, sizeof(path), "find '%s' -name '.*' -type f | grep -q .", sub);
        assert_int_not_equal(system(path), 0);
}

static void test_read_refuses_what_is_not_a_bounded_file(void **state) {
        Dir *d = *state;
        char target[PATH_MAX + 16], link[PATH_MAX + 16];
        _cleanup_free_ char *text = NULL;
        size_t len = 0;

        assert_int_equal(write_file_atomic(d->path, "big", "0123456789", 10, false), 0);
        assert_int_equal(read_file_in(d->path, "big", 9, &text, &len), -E2BIG);
        assert_null(text);
        assert_int_equal(read_file_in(d->path, "big", 10, &text, &len), 0);
        assert_int_equal(len, 10);
        assert_string_equal(text, "0123456789");

        assert_int_equal(read_file_in(d->path, "missing", 10, &(char *) { NULL }, &len), -ENOENT);

        /* A symlink is not followed: the state directory is ours, a link in it is not. */
        snprintf(target, sizeof(target), "%s/big", d->path);
        snprintf(link, sizeof(link), "%s/link", d->path);
        assert_int_equal(symlink(target, link), 0);
        assert_int_equal(read_file_in(d->path, "link", 10, &(char *) { NULL }, &len), -ELOOP);

        /* A directory is not a file. */
        snprintf(target, sizeof(target), "%s/sub", d->path);
        assert_int_equal(mkdir(target, 0700), 0);
        assert_int_equal(read_file_in(d->path, "sub", 10, &(char *) { NULL }, &len), -EBADMSG);
}

static void test_set_aside(void **state) {
        Dir *d = *state;

        assert_int_equal(write_file_atomic(d->path, "history.json", "damaged", 7, false), 0);
        assert_int_equal(file_set_aside(d->path, "history.json", "history.json.damaged"), 0);
        assert_file_in(d->path, "history.json.damaged", "damaged");
        assert_int_equal(read_file_in(d->path, "history.json", 10, &(char *) { NULL }, &(size_t) { 0 }), -ENOENT);
        assert_int_equal(file_set_aside(d->path, "history.json", "again"), -ENOENT);
}

static void test_long_paths_fail_cleanly(void **state) {
        Dir *d = *state;
        _cleanup_free_ char *name = malloc(PATH_MAX + 1);

        /* Longer than any path: the system call says so, nothing is written. */
        assert_non_null(name);
        memset(name, 'a', PATH_MAX);
        name[PATH_MAX] = 0;
        assert_int_equal(write_file_atomic(d->path, name, "x", 1, true), -ENAMETOOLONG);
        assert_int_equal(read_file_in(d->path, name, 10, &(char *) { NULL }, &(size_t) { 0 }), -ENAMETOOLONG);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_write_replaces_and_keeps_previous, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_read_refuses_what_is_not_a_bounded_file, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_set_aside, dir_setup, dir_teardown),
                cmocka_unit_test_setup_teardown(test_long_paths_fail_cleanly, dir_setup, dir_teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
