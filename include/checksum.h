/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* FNV-1a 64 of the files we keep on disk (the state file, the gait history): catches a torn or
 * edited file; not a defence against someone who can write it. */
static inline uint64_t fnv1a64(const void *data, size_t n) {
        const uint8_t *p = data;
        uint64_t h = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++) {
                h ^= p[i];
                h *= 0x100000001b3ULL;
        }
        return h;
}
