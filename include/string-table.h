/* SPDX-License-Identifier: MIT */
#pragma once

/* One way to map an enum to its names and back, as systemd's DEFINE_STRING_TABLE_LOOKUP: a
 * `static const char *const NAME_table[]` indexed by the enum, then
 *
 *   DEFINE_STRING_TABLE_LOOKUP(device_role, DeviceRole);
 *
 * defines device_role_to_string() (NULL outside the table) and device_role_from_string()
 * (-EINVAL for NULL or an unknown name). The _TO_STRING and _FROM_STRING variants define one of
 * the two; the _SCOPE variants take `static` for a file's private table. */

#include <errno.h>
#include <stddef.h>

#include "macro.h"

#define _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, scope)                  \
        scope const char *name##_to_string(type i) {                             \
                if ((size_t) i >= ELEMENTSOF(name##_table)) /* negatives too */  \
                        return NULL;                                             \
                return name##_table[i];                                          \
        }

#define _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, scope)                \
        scope type name##_from_string(const char *s) {                           \
                if (!s)                                                          \
                        return (type) -EINVAL;                                   \
                for (size_t i = 0; i < ELEMENTSOF(name##_table); i++)            \
                        if (name##_table[i] && streq(name##_table[i], s))        \
                                return (type) i;                                 \
                return (type) -EINVAL;                                           \
        }

#define DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )
#define DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, )
#define DEFINE_STRING_TABLE_LOOKUP(name, type)                     \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, )        \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, )
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_TO_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_TO_STRING(name, type, static)
#define DEFINE_PRIVATE_STRING_TABLE_LOOKUP_FROM_STRING(name, type) \
        _DEFINE_STRING_TABLE_LOOKUP_FROM_STRING(name, type, static)
