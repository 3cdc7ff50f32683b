/* SPDX-License-Identifier: MIT */
#pragma once

/* Helpers shared by the decoder tests. */

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>

/* Parses "01 a2:ff-00" into buf; returns the byte count, or -1 for malformed input. */
static inline int test_hex(const char *s, uint8_t *buf, size_t size) {
        size_t n = 0;
        int hi = -1;

        for (; *s; s++) {
                int v;
                if (*s == ' ' || *s == ':' || *s == '-')
                        continue;
                if (!isxdigit((unsigned char) *s))
                        return -1;
                v = isdigit((unsigned char) *s) ? *s - '0' : (tolower((unsigned char) *s) - 'a' + 10);
                if (hi < 0) {
                        hi = v;
                        continue;
                }
                if (n >= size)
                        return -1;
                buf[n++] = (uint8_t) (hi << 4 | v);
                hi = -1;
        }
        return hi < 0 ? (int) n : -1;
}
