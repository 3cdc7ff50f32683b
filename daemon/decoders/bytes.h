/* SPDX-License-Identifier: MIT */
#pragma once

/* Unaligned, endian-explicit reads for the decoders. Callers check lengths first. */

#include <stdint.h>
#include <string.h>

static inline uint16_t read_le16(const uint8_t *p) {
        return (uint16_t) (p[0] | (p[1] << 8));
}
static inline uint32_t read_le32(const uint8_t *p) {
        return (uint32_t) p[0] | ((uint32_t) p[1] << 8) | ((uint32_t) p[2] << 16) | ((uint32_t) p[3] << 24);
}
static inline int16_t read_le16s(const uint8_t *p) {
        return (int16_t) read_le16(p);
}
static inline float read_lef32(const uint8_t *p) {
        uint32_t u = read_le32(p);
        float f;
        memcpy(&f, &u, sizeof(f));
        return f;
}
static inline uint16_t read_be16(const uint8_t *p) {
        return (uint16_t) ((p[0] << 8) | p[1]);
}
static inline int16_t read_be16s(const uint8_t *p) {
        return (int16_t) read_be16(p);
}
static inline void write_le16(uint8_t *p, uint16_t v) {
        p[0] = (uint8_t) v;
        p[1] = (uint8_t) (v >> 8);
}
