/* SPDX-License-Identifier: MIT */
#pragma once

/* The one hex digit helper: '0'-'9', 'a'-'f', 'A'-'F' -> 0-15, anything else -> -EINVAL. */

#include <errno.h>

static inline int unhexchar(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -EINVAL;
}
