/* SPDX-License-Identifier: MIT */
#pragma once

/* Small file helpers for state kept on disk (untrusted on the way in, durable on the way out). */

#include <stdbool.h>
#include <stddef.h>

/* Reads the regular file `path` (a symlink is not followed: -ELOOP) of at most max_size bytes
 * (-E2BIG, checked before reading) into a NUL-terminated heap buffer. */
int read_file_bounded(const char *path, size_t max_size, char **ret, size_t *ret_len);
/* The same for dir/name, the form the state files are named in. */
int read_file_in(const char *dir, const char *name, size_t max_size, char **ret, size_t *ret_len);
/* write(2) until done, retrying EINTR. */
int write_all(int fd, const void *data, size_t len);
/* Replaces dir/name atomically and durably: a new file next to it (mode 0600), fsync, rename over,
 * fsync of the directory. With keep_previous, the file it replaces stays as dir/name.prev (a hard
 * link, so that dir/name never goes missing). Creates dir (0700) if needed. */
int write_file_atomic(const char *dir, const char *name, const void *data, size_t len, bool keep_previous);
/* Renames dir/name to dir/aside_name (a damaged file kept for inspection, never read again). */
int file_set_aside(const char *dir, const char *name, const char *aside_name);
