/* SPDX-License-Identifier: MIT */
#pragma once

/* Local calendar and time zones (daemon/reminders/zone.c).
 *
 * Zone: a time zone read from the TZ database (TZif files under /usr/share/zoneinfo, RFC 8536) with
 * its POSIX TZ footer rule for times after the last transition. Only zone_load() does I/O (once, at
 * start or on reload); every conversion afterwards is pure and never touches the process-global TZ,
 * so wearers in different zones can be served from one process. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "calendar.h"
#include "macro.h"

#define ZONE_NAME_MAX 63
#define ZONEINFO_DIR "/usr/share/zoneinfo"

typedef struct Zone Zone;

typedef struct LocalTime {
        int year;
        int month;  /* 1..12 */
        int day;    /* 1..31 */
        int hour;
        int minute;
        int second;
        int wday;   /* 0 = Sunday */
        int yday;   /* 0..365 */
        int32_t utc_offset_sec;
        bool is_dst;
} LocalTime;

/* Reads $TZDIR/name or ZONEINFO_DIR/name ("" = /etc/localtime). Names are checked (no "..", no leading '/',
 * characters [A-Za-z0-9/_+-.] only); "UTC" works without the database. -EINVAL for a bad name,
 * -ENOENT when missing, -EBADMSG when the file is not valid TZif. */
int zone_load(const char *name, Zone **ret);
int zone_load_from(const char *dir, const char *name, Zone **ret);
/* Pure parsers: TZif data (v1..v4), or a POSIX TZ rule such as "CET-1CEST,M3.5.0,M10.5.0/3". */
int zone_from_tzif(const void *data, size_t len, Zone **ret);
int zone_from_posix(const char *rule, Zone **ret);
Zone *zone_free(Zone *z);
DEFINE_TRIVIAL_CLEANUP_FUNC(Zone *, zone_free);
const char *zone_name(const Zone *z); /* the name given to zone_load(), or the rule */

/* Offset from UTC at the UTC instant (seconds since the epoch). */
int32_t zone_utc_offset(const Zone *z, int64_t utc_sec, bool *ret_is_dst);
void zone_local_time(const Zone *z, uint64_t utc_usec, LocalTime *ret);
/* The first UTC instant (usec) that belongs to the local day year-month-day. That is local
 * midnight, or the end of the gap when midnight does not exist on that day. */
uint64_t zone_day_start(const Zone *z, int year, int month, int day);

/* A local calendar date packed as YYYYMMDD (20260329), 0 = unknown. */
typedef uint32_t LocalDate;
#define LOCAL_DATE(y, m, d) ((LocalDate) ((y) * 10000 + (m) * 100 + (d)))
LocalDate local_date_next(LocalDate d);
/* "2026-03-29" into buf (>= 11 bytes); "unknown" for 0. */
char *local_date_to_string(LocalDate d, char *buf, size_t size);
int local_date_from_string(const char *s, LocalDate *ret);
