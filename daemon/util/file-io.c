/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file-io.h"
#include "macro.h"

int read_file_bounded(const char *path, size_t max_size, char **ret, size_t *ret_len) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *buf = NULL;
        struct stat st;
        size_t len = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (!S_ISREG(st.st_mode))
                return -EBADMSG;
        if ((uint64_t) st.st_size > max_size)
                return -E2BIG;
        buf = malloc((size_t) st.st_size + 1);
        if (!buf)
                return -ENOMEM;
        /* A file that grows while we read is cut at the size we checked. */
        while (len < (size_t) st.st_size) {
                ssize_t k = read(fd, buf + len, (size_t) st.st_size - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
        }
        buf[len] = '\0';
        *ret = TAKE_PTR(buf);
        *ret_len = len;
        return 0;
}

int write_all(int fd, const void *data, size_t len) {
        const char *p = data;

        while (len > 0) {
                ssize_t k = write(fd, p, len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += k;
                len -= (size_t) k;
        }
        return 0;
}

/* On the heap, not in PATH_MAX buffers: the main thread's stack stays resident at its deepest, and
 * four of them made saving the state the deepest path of the daemon (16 KB, issue #15). */
static int path_join(char **ret, const char *dir, const char *prefix, const char *name, const char *suffix) {
        if (asprintf(ret, "%s/%s%s%s", dir, prefix, name, suffix) < 0) {
                *ret = NULL;
                return -ENOMEM;
        }
        return 0;
}

int read_file_in(const char *dir, const char *name, size_t max_size, char **ret, size_t *ret_len) {
        _cleanup_free_ char *path = NULL;
        int r;

        r = path_join(&path, dir, "", name, "");
        if (r < 0)
                return r;
        return read_file_bounded(path, max_size, ret, ret_len);
}

int file_set_aside(const char *dir, const char *name, const char *aside_name) {
        _cleanup_free_ char *from = NULL, *to = NULL;
        int r;

        r = path_join(&from, dir, "", name, "");
        if (r >= 0)
                r = path_join(&to, dir, "", aside_name, "");
        if (r < 0)
                return r;
        return rename(from, to) < 0 ? -errno : 0;
}

int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, bool keep_previous) {
        _cleanup_free_ char *path = NULL, *tmp = NULL, *prev = NULL, *prev_tmp = NULL;
        _cleanup_close_ int fd = -1, dfd = -1;
        int r;

        r = path_join(&path, dir, "", name, "");
        if (r >= 0)
                r = path_join(&tmp, dir, ".", name, ".XXXXXX");
        if (r >= 0)
                r = path_join(&prev, dir, "", name, ".prev");
        if (r >= 0)
                r = path_join(&prev_tmp, dir, ".prev.", name, "");
        if (r < 0)
                return r;

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return -errno;
        fd = mkostemp(tmp, O_CLOEXEC);
        if (fd < 0)
                return -errno;
        r = write_all(fd, data, len);
        if (r >= 0 && fchmod(fd, 0600) < 0)
                r = -errno;
        if (r >= 0 && fsync(fd) < 0)
                r = -errno;
        if (r >= 0 && close(TAKE_FD(fd)) < 0)
                r = -errno;
        if (r >= 0 && keep_previous) {
                /* One writer per file (this process): a fixed name for the link is enough. */
                (void) unlink(prev_tmp);
                if (link(path, prev_tmp) >= 0 && rename(prev_tmp, prev) < 0)
                        (void) unlink(prev_tmp);
        }
        if (r >= 0 && rename(tmp, path) < 0)
                r = -errno;
        if (r < 0) {
                (void) unlink(tmp);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        if (fsync(dfd) < 0)
                return -errno;
        return 0;
}
