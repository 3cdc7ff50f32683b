/* SPDX-License-Identifier: MIT */
#pragma once

/* The one rule for what the configuration puts into MQTT topics: names (wearers, the gateway id:
 * one topic level) and prefixes (base-topic, homeassistant-prefix: one or more levels). The
 * configuration validates with it and the MQTT module checks with it, so that a file which
 * --check-config accepts is never refused when the daemon starts. */

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define TOPIC_LEVEL_MAX 32  /* bytes in one level */
#define TOPIC_PREFIX_MAX 64 /* bytes in a whole prefix, '/' included */
#define TOPIC_MAX 256       /* bytes in a whole topic and its NUL */

static inline bool topic_char_is_valid(char c) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Levels of 1-TOPIC_LEVEL_MAX characters from [a-z0-9_-], separated by single '/', at most
 * max_levels of them (1 for a name) and TOPIC_PREFIX_MAX bytes in all: no wildcards, no '$', no
 * empty level. */
static inline bool topic_levels_are_valid(const char *s, size_t max_levels) {
        size_t level = 0, levels = 1, n = 0;

        if (!s || !*s)
                return false;
        for (; s[n]; n++) {
                if (n >= TOPIC_PREFIX_MAX)
                        return false;
                if (s[n] == '/') {
                        if (level == 0 || ++levels > max_levels)
                                return false;
                        level = 0;
                } else if (!topic_char_is_valid(s[n]) || ++level > TOPIC_LEVEL_MAX)
                        return false;
        }
        return level > 0;
}

static inline bool topic_name_is_valid(const char *s) {
        return topic_levels_are_valid(s, 1);
}

static inline bool topic_prefix_is_valid(const char *s) {
        return topic_levels_are_valid(s, TOPIC_PREFIX_MAX);
}

/* A wearer's name is the level beside "bridge", which holds the gateways' own topics
 * (<base>/bridge/<id>/...). */
static inline bool topic_wearer_name_is_valid(const char *s) {
        return topic_name_is_valid(s) && strcmp(s, "bridge") != 0;
}
