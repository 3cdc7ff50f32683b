/* SPDX-License-Identifier: MIT */
/* Time zones from TZif data (RFC 8536) and POSIX TZ rules, without the process-global TZ. */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "zone.h"

#define TZIF_MAX_SIZE (256U * 1024U)
#define TZIF_MAX_TRANSITIONS 4096U
#define TZIF_MAX_TYPES 256U

typedef struct PosixRuleDate {
        char kind;       /* 'J' (1..365, no Feb 29), 'D' (0..365), 'M' (month.week.day) */
        int n, month, week, wday;
        int32_t time_sec; /* local time of the change, may be negative or beyond 24 h */
} PosixRuleDate;

typedef struct PosixRule {
        bool valid;
        int32_t std_offset; /* seconds east of UTC */
        int32_t dst_offset;
        bool has_dst;
        PosixRuleDate start, end;
} PosixRule;

typedef struct ZoneType {
        int32_t utoff;
        bool isdst;
} ZoneType;

struct Zone {
        char name[ZONE_NAME_MAX + 1];
        size_t n_transitions;
        int64_t *transitions;
        uint8_t *transition_type;
        PosixRule rule;
        size_t n_types;
        ZoneType types[]; /* n_types: a zone has a few, the format allows 256 (2 KB a wearer, issue #15) */
};

/* ---- calendar ---- */

static bool is_leap(int y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m) {
        static const int dim[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

static int64_t floor_div(int64_t a, int64_t b) {
        int64_t q = a / b;
        if ((a % b != 0) && ((a < 0) != (b < 0)))
                q--;
        return q;
}

static int weekday_of_days(int64_t days) {
        return (int) ((days % 7 + 7 + 4) % 7); /* 1970-01-01 was a Thursday */
}

LocalDate local_date_next(LocalDate d) {
        int y, m, dd;

        if (d == 0)
                return 0;
        civil_from_days(days_from_civil((int) (d / 10000), (int) (d / 100 % 100), (int) (d % 100)) + 1, &y, &m, &dd);
        return LOCAL_DATE(y, m, dd);
}

char *local_date_to_string(LocalDate d, char *buf, size_t size) {
        if (d == 0)
                (void) snprintf(buf, size, "unknown");
        else
                (void) snprintf(buf, size, "%04u-%02u-%02u", d / 10000, d / 100 % 100, d % 100);
        return buf;
}

int local_date_from_string(const char *s, LocalDate *ret) {
        unsigned y, m, d;
        char tail;

        if (!s || strlen(s) != 10 || sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) != 3 || s[4] != '-' || s[7] != '-')
                return -EINVAL;
        if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || (int) d > days_in_month((int) y, (int) m))
                return -EINVAL;
        *ret = LOCAL_DATE(y, m, d);
        return 0;
}

/* ---- POSIX TZ rules ---- */

static const char *parse_tz_name(const char *p) {
        if (*p == '<') {
                const char *e = strchr(p, '>');
                return e && e - p >= 4 ? e + 1 : NULL;
        }
        const char *s = p;
        while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'))
                p++;
        return p - s >= 3 ? p : NULL;
}

/* [+-]hh[:mm[:ss]], hours up to max_hours. */
static const char *parse_tz_time(const char *p, int max_hours, int32_t *ret) {
        int sign = 1, h = 0, m = 0, s = 0, n = 0;

        if (*p == '+' || *p == '-') {
                sign = *p == '-' ? -1 : 1;
                p++;
        }
        if (*p < '0' || *p > '9')
                return NULL;
        while (*p >= '0' && *p <= '9' && n++ < 3)
                h = h * 10 + (*p++ - '0');
        if (h > max_hours)
                return NULL;
        if (*p == ':') {
                p++;
                if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                        return NULL;
                m = (p[0] - '0') * 10 + (p[1] - '0');
                p += 2;
                if (*p == ':') {
                        p++;
                        if (p[0] < '0' || p[0] > '5' || p[1] < '0' || p[1] > '9')
                                return NULL;
                        s = (p[0] - '0') * 10 + (p[1] - '0');
                        p += 2;
                }
        }
        *ret = sign * (h * 3600 + m * 60 + s);
        return p;
}

static const char *parse_tz_number(const char *p, int lo, int hi, int *ret) {
        int v = 0, n = 0;
        if (*p < '0' || *p > '9')
                return NULL;
        while (*p >= '0' && *p <= '9' && n++ < 4)
                v = v * 10 + (*p++ - '0');
        if (v < lo || v > hi)
                return NULL;
        *ret = v;
        return p;
}

static const char *parse_rule_date(const char *p, PosixRuleDate *ret) {
        PosixRuleDate d = { .time_sec = 2 * 3600 };

        if (*p == 'J') {
                d.kind = 'J';
                p = parse_tz_number(p + 1, 1, 365, &d.n);
        } else if (*p == 'M') {
                d.kind = 'M';
                p = parse_tz_number(p + 1, 1, 12, &d.month);
                if (p && *p == '.')
                        p = parse_tz_number(p + 1, 1, 5, &d.week);
                else
                        p = NULL;
                if (p && *p == '.')
                        p = parse_tz_number(p + 1, 0, 6, &d.wday);
                else
                        p = NULL;
        } else {
                d.kind = 'D';
                p = parse_tz_number(p, 0, 365, &d.n);
        }
        if (p && *p == '/')
                p = parse_tz_time(p + 1, 167, &d.time_sec);
        if (p)
                *ret = d;
        return p;
}

static int parse_posix_rule(const char *s, PosixRule *ret) {
        PosixRule r = {};
        int32_t off;
        const char *p = parse_tz_name(s);

        if (!p)
                return -EINVAL;
        p = parse_tz_time(p, 24, &off);
        if (!p)
                return -EINVAL;
        r.std_offset = -off; /* POSIX counts west of Greenwich as positive */
        if (*p) {
                p = parse_tz_name(p);
                if (!p)
                        return -EINVAL;
                r.has_dst = true;
                r.dst_offset = r.std_offset + 3600;
                if (*p && *p != ',') {
                        p = parse_tz_time(p, 24, &off);
                        if (!p)
                                return -EINVAL;
                        r.dst_offset = -off;
                }
                if (*p == ',') {
                        p = parse_rule_date(p + 1, &r.start);
                        if (!p || *p != ',')
                                return -EINVAL;
                        p = parse_rule_date(p + 1, &r.end);
                        if (!p)
                                return -EINVAL;
                } else {
                        /* No rule given: the POSIX default (US rules since 2007). */
                        r.start = (PosixRuleDate) { .kind = 'M', .month = 3, .week = 2, .wday = 0, .time_sec = 7200 };
                        r.end = (PosixRuleDate) { .kind = 'M', .month = 11, .week = 1, .wday = 0, .time_sec = 7200 };
                }
        }
        if (*p)
                return -EINVAL;
        r.valid = true;
        *ret = r;
        return 0;
}

/* Seconds since the epoch of the rule date in `year`, as local wall time (not yet shifted). */
static int64_t rule_date_local(const PosixRuleDate *d, int year) {
        int64_t days;

        switch (d->kind) {
        case 'J':
                days = days_from_civil(year, 1, 1) + d->n - 1 + (is_leap(year) && d->n >= 60 ? 1 : 0);
                break;
        case 'D':
                days = days_from_civil(year, 1, 1) + d->n;
                break;
        default: {
                int64_t first = days_from_civil(year, d->month, 1);
                int wd0 = weekday_of_days(first);
                int day = 1 + (d->wday - wd0 + 7) % 7 + 7 * (d->week - 1);
                while (day > days_in_month(year, d->month))
                        day -= 7;
                days = first + day - 1;
        }
        }
        return days * 86400 + d->time_sec;
}

static int32_t rule_offset(const PosixRule *r, int64_t t, bool *ret_dst) {
        int y, m, d;

        *ret_dst = false;
        if (!r->has_dst)
                return r->std_offset;

        civil_from_days(floor_div(t + r->std_offset, 86400), &y, &m, &d);
        /* Check the neighbouring years too, for rules whose DST spans the new year. */
        for (int yy = y - 1; yy <= y + 1; yy++) {
                int64_t start = rule_date_local(&r->start, yy) - r->std_offset;
                int64_t end = rule_date_local(&r->end, yy) - r->dst_offset;
                if (start < end) {
                        if (t >= start && t < end) {
                                *ret_dst = true;
                                return r->dst_offset;
                        }
                } else {
                        /* Southern hemisphere: DST from start to the end rule of the next year. */
                        int64_t next_end = rule_date_local(&r->end, yy + 1) - r->dst_offset;
                        if (t >= start && t < next_end) {
                                *ret_dst = true;
                                return r->dst_offset;
                        }
                }
        }
        return r->std_offset;
}

/* ---- TZif ---- */

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static int64_t be64(const uint8_t *p) {
        return (int64_t) ((uint64_t) be32(p) << 32 | be32(p + 4));
}

Zone *zone_free(Zone *z) {
        if (!z)
                return NULL;
        free(z->transitions);
        free(z->transition_type);
        free(z);
        return NULL;
}

int zone_from_tzif(const void *data, size_t len, Zone **ret) {
        const uint8_t *p = data;
        _cleanup_(zone_freep) Zone *z = NULL;
        uint32_t cnt[6];
        size_t pos = 0, tsize = 4;
        int version;

        if (!p || len < 44 || memcmp(p, "TZif", 4) != 0)
                return -EBADMSG;
        version = p[4] == 0 ? 1 : p[4] - '0';
        if (version < 1 || version > 4)
                return -EBADMSG;

        for (unsigned block = 0;; block++) {
                size_t need;

                if (len - pos < 44 || memcmp(p + pos, "TZif", 4) != 0)
                        return -EBADMSG;
                for (unsigned i = 0; i < 6; i++)
                        cnt[i] = be32(p + pos + 20 + 4 * i);
                /* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
                if (cnt[3] > TZIF_MAX_TRANSITIONS || cnt[4] == 0 || cnt[4] > TZIF_MAX_TYPES || cnt[5] > 4096 ||
                    cnt[2] > 1024 || cnt[0] > cnt[4] || cnt[1] > cnt[4])
                        return -EBADMSG;
                need = (size_t) cnt[3] * tsize + cnt[3] + (size_t) cnt[4] * 6 + cnt[5] + (size_t) cnt[2] * (tsize + 4) +
                       cnt[1] + cnt[0];
                pos += 44;
                if (len - pos < need)
                        return -EBADMSG;
                if (version >= 2 && block == 0) {
                        /* Skip the 32-bit block, use the 64-bit one that follows. */
                        pos += need;
                        tsize = 8;
                        continue;
                }
                break;
        }

        z = calloc(1, offsetof(Zone, types) + cnt[4] * sizeof(ZoneType));
        if (!z)
                return -ENOMEM;
        z->n_transitions = cnt[3];
        z->n_types = cnt[4];
        if (cnt[3] > 0) {
                z->transitions = calloc(cnt[3], sizeof(int64_t));
                z->transition_type = calloc(cnt[3], 1);
                if (!z->transitions || !z->transition_type)
                        return -ENOMEM;
        }
        const uint8_t *t = p + pos, *idx = t + (size_t) cnt[3] * tsize, *types = idx + cnt[3];
        for (size_t i = 0; i < cnt[3]; i++) {
                z->transitions[i] = tsize == 8 ? be64(t + 8 * i) : (int64_t) (int32_t) be32(t + 4 * i);
                if (i > 0 && z->transitions[i] <= z->transitions[i - 1])
                        return -EBADMSG;
                if (idx[i] >= cnt[4])
                        return -EBADMSG;
                z->transition_type[i] = idx[i];
        }
        for (size_t i = 0; i < cnt[4]; i++) {
                int32_t off = (int32_t) be32(types + 6 * i);
                if (off <= -25 * 3600 || off >= 26 * 3600)
                        return -EBADMSG;
                z->types[i] = (ZoneType) { .utoff = off, .isdst = types[6 * i + 4] != 0 };
        }
        pos += (size_t) cnt[3] * tsize + cnt[3] + (size_t) cnt[4] * 6 + cnt[5] + (size_t) cnt[2] * (tsize + 4) + cnt[1] +
               cnt[0];

        /* Footer: "\n<POSIX TZ>\n". An unusable footer is ignored: the table still applies. */
        if (version >= 2 && pos < len && p[pos] == '\n') {
                const uint8_t *e = memchr(p + pos + 1, '\n', len - pos - 1);
                if (e && (size_t) (e - (p + pos + 1)) < 128) {
                        char rule[128];
                        size_t n = (size_t) (e - (p + pos + 1));
                        memcpy(rule, p + pos + 1, n);
                        rule[n] = 0;
                        if (n > 0 && memchr(rule, 0, n) == NULL)
                                (void) parse_posix_rule(rule, &z->rule);
                }
        }

        *ret = TAKE_PTR(z);
        return 0;
}

int zone_from_posix(const char *rule, Zone **ret) {
        _cleanup_(zone_freep) Zone *z = NULL;
        int r;

        if (!rule)
                return -EINVAL;
        z = calloc(1, sizeof(Zone));
        if (!z)
                return -ENOMEM;
        r = parse_posix_rule(rule, &z->rule);
        if (r < 0)
                return r;
        (void) snprintf(z->name, sizeof(z->name), "%s", rule);
        *ret = TAKE_PTR(z);
        return 0;
}

static bool zone_name_valid(const char *name) {
        size_t n = strlen(name);

        if (n == 0 || n > ZONE_NAME_MAX || name[0] == '/' || name[0] == '.')
                return false;
        for (const char *p = name; *p; p++)
                if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                      strchr("/_+-.", *p)))
                        return false;
        if (strstr(name, "..") || strstr(name, "//") || name[n - 1] == '/')
                return false;
        return true;
}

int zone_load_from(const char *dir, const char *name, Zone **ret) {
        _cleanup_close_ int fd = -1;
        _cleanup_free_ uint8_t *buf = NULL;
        char path[PATH_MAX];
        size_t len = 0;
        int r;

        if (!name || !ret)
                return -EINVAL;
        if (name[0] == 0)
                (void) snprintf(path, sizeof(path), "/etc/localtime");
        else {
                if (!zone_name_valid(name))
                        return -EINVAL;
                if ((size_t) snprintf(path, sizeof(path), "%s/%s", dir ?: ZONEINFO_DIR, name) >= sizeof(path))
                        return -ENAMETOOLONG;
        }

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno == ENOENT && (streq(name, "UTC") || streq(name, "Etc/UTC") || name[0] == 0)) {
                        r = zone_from_posix("UTC0", ret);
                        if (r >= 0)
                                (void) snprintf((*ret)->name, sizeof((*ret)->name), "%s", name[0] ? name : "UTC");
                        return r;
                }
                return -errno;
        }
        buf = malloc(TZIF_MAX_SIZE);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + len, TZIF_MAX_SIZE - len);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (k == 0)
                        break;
                len += (size_t) k;
                if (len == TZIF_MAX_SIZE)
                        return -EFBIG;
        }
        r = zone_from_tzif(buf, len, ret);
        if (r < 0)
                return r;
        (void) snprintf((*ret)->name, sizeof((*ret)->name), "%s", name[0] ? name : "localtime");
        return 0;
}

int zone_load(const char *name, Zone **ret) {
        /* Like libc: $TZDIR, when set to an absolute path, replaces the default database. */
        const char *dir = secure_getenv("TZDIR");
        return zone_load_from(dir && dir[0] == '/' ? dir : NULL, name, ret);
}

const char *zone_name(const Zone *z) {
        return z ? z->name : NULL;
}

int32_t zone_utc_offset(const Zone *z, int64_t t, bool *ret_is_dst) {
        bool dst = false;
        int32_t off = 0;

        if (!z)
                goto out;
        if (z->n_transitions == 0 || t >= z->transitions[z->n_transitions - 1]) {
                if (z->rule.valid) {
                        off = rule_offset(&z->rule, t, &dst);
                        goto out;
                }
                if (z->n_transitions == 0) {
                        if (z->n_types > 0) {
                                off = z->types[0].utoff;
                                dst = z->types[0].isdst;
                        }
                        goto out;
                }
        }
        if (t < z->transitions[0]) {
                off = z->types[0].utoff;
                dst = z->types[0].isdst;
                goto out;
        }
        /* Last transition <= t. */
        size_t lo = 0, hi = z->n_transitions;
        while (hi - lo > 1) {
                size_t mid = lo + (hi - lo) / 2;
                if (z->transitions[mid] <= t)
                        lo = mid;
                else
                        hi = mid;
        }
        off = z->types[z->transition_type[lo]].utoff;
        dst = z->types[z->transition_type[lo]].isdst;
out:
        if (ret_is_dst)
                *ret_is_dst = dst;
        return off;
}

void zone_local_time(const Zone *z, uint64_t utc_usec, LocalTime *ret) {
        int64_t t = (int64_t) (utc_usec / USEC_PER_SEC);
        bool dst;
        int32_t off = zone_utc_offset(z, t, &dst);
        int64_t local = t + off;
        int64_t days = floor_div(local, 86400);
        int64_t sod = local - days * 86400;

        *ret = (LocalTime) {
                .hour = (int) (sod / 3600),
                .minute = (int) (sod / 60 % 60),
                .second = (int) (sod % 60),
                .wday = weekday_of_days(days),
                .utc_offset_sec = off,
                .is_dst = dst,
        };
        civil_from_days(days, &ret->year, &ret->month, &ret->day);
        ret->yday = (int) (days - days_from_civil(ret->year, 1, 1));
}

static int64_t local_days_at(const Zone *z, int64_t t) {
        return floor_div(t + zone_utc_offset(z, t, NULL), 86400);
}

uint64_t zone_day_start(const Zone *z, int year, int month, int day) {
        int64_t target = days_from_civil(year, month, day);
        int64_t lo = target * 86400 - 30 * 3600, hi = target * 86400 + 30 * 3600;

        /* Smallest t with local date >= target; the local date only moves forward at day starts. */
        while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (local_days_at(z, mid) >= target)
                        hi = mid;
                else
                        lo = mid + 1;
        }
        return lo < 0 ? 0 : (uint64_t) lo * USEC_PER_SEC;
}
