/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-parse.h"
#include "config.h"
#include "macro.h"

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

int config_parse_bool(const char *s, bool *ret) {
        static const char *const yes[] = { "yes", "true", "on", "1" };
        static const char *const no[] = { "no", "false", "off", "0" };

        for (size_t i = 0; i < ELEMENTSOF(yes); i++)
                if (strcasecmp(s, yes[i]) == 0) {
                        *ret = true;
                        return 0;
                }
        for (size_t i = 0; i < ELEMENTSOF(no); i++)
                if (strcasecmp(s, no[i]) == 0) {
                        *ret = false;
                        return 0;
                }
        return -EINVAL;
}

/* Reads the leading run of digits; -EINVAL if there is none, -ERANGE on overflow. */
static int parse_digits(const char **p, uint64_t *ret) {
        const char *s = *p;
        uint64_t v = 0;

        if (!is_digit(*s))
                return -EINVAL;
        for (; is_digit(*s); s++) {
                unsigned d = (unsigned) (*s - '0');
                if (v > (UINT64_MAX - d) / 10)
                        return -ERANGE;
                v = v * 10 + d;
        }
        *p = s;
        *ret = v;
        return 0;
}

int config_parse_uint64(const char *s, uint64_t min, uint64_t max, uint64_t *ret) {
        uint64_t v;
        int r;

        r = parse_digits(&s, &v);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

int config_parse_double(const char *s, double min, double max, double *ret) {
        const char *p = s;
        char *end;
        double v;

        /* strtod would also take "inf", "0x1p3" and leading spaces; allow plain decimals only. */
        if (!is_digit(*p))
                return -EINVAL;
        while (is_digit(*p))
                p++;
        if (*p == '.') {
                p++;
                if (!is_digit(*p))
                        return -EINVAL;
                while (is_digit(*p))
                        p++;
        }
        if (*p != '\0')
                return -EINVAL;

        errno = 0;
        v = strtod(s, &end);
        if (errno != 0 || *end != '\0' || !isfinite(v))
                return -EINVAL;
        if (v < min || v > max)
                return -ERANGE;
        *ret = v;
        return 0;
}

static const struct {
        const char *suffix;
        uint64_t usec;
} duration_units[] = {
        /* Longest first so that "ms" is not read as "m" + garbage, "min" not as "m". */
        { "min", USEC_PER_MINUTE },
        { "sec", USEC_PER_SEC },
        { "ms", USEC_PER_MSEC },
        { "h", USEC_PER_HOUR },
        { "m", USEC_PER_MINUTE },
        { "s", USEC_PER_SEC },
};

int config_parse_duration(const char *s, uint64_t min_usec, uint64_t max_usec, uint64_t *ret_usec) {
        uint64_t total = 0;
        bool any = false;

        for (;;) {
                uint64_t n, unit = 0;
                int r;

                while (*s == ' ')
                        s++;
                if (*s == '\0')
                        break;

                r = parse_digits(&s, &n);
                if (r < 0)
                        return r == -ERANGE ? -ERANGE : -EINVAL;

                const char *u = s;
                while (*u == ' ')
                        u++;
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++) {
                        size_t l = strlen(duration_units[i].suffix);
                        if (strncmp(u, duration_units[i].suffix, l) == 0 && !(u[l] >= 'a' && u[l] <= 'z')) {
                                unit = duration_units[i].usec;
                                s = u + l;
                                break;
                        }
                }
                if (unit == 0) {
                        /* A bare number is seconds, but only on its own: "1h 30" is a typo. */
                        if (any || *s != '\0')
                                return -EINVAL;
                        unit = USEC_PER_SEC;
                }
                if (n > UINT64_MAX / unit || total > UINT64_MAX - n * unit)
                        return -ERANGE;
                total += n * unit;
                any = true;
        }

        if (!any)
                return -EINVAL;
        if (total < min_usec || total > max_usec)
                return -ERANGE;
        *ret_usec = total;
        return 0;
}

char *config_format_duration(uint64_t usec, char *buf, size_t size) {
        static const struct {
                const char *suffix;
                uint64_t usec;
        } parts[] = {
                { "h", USEC_PER_HOUR },
                { "min", USEC_PER_MINUTE },
                { "s", USEC_PER_SEC },
                { "ms", USEC_PER_MSEC },
        };
        size_t o = 0;

        if (size == 0)
                return buf;
        buf[0] = '\0';
        if (usec == 0) {
                (void) snprintf(buf, size, "0");
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts) && usec >= USEC_PER_MSEC; i++) {
                uint64_t n = usec / parts[i].usec;
                if (n == 0)
                        continue;
                usec -= n * parts[i].usec;
                int k = snprintf(buf + o, size - o, "%s%llu%s", o > 0 ? " " : "", (unsigned long long) n,
                                 parts[i].suffix);
                if (k < 0 || (size_t) k >= size - o)
                        break;
                o += (size_t) k;
        }
        return buf;
}

static int parse_clock(const char **p, bool allow_24, unsigned *ret_min) {
        const char *s = *p;
        unsigned h, m;

        if (!is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' || !is_digit(s[3]) || !is_digit(s[4]))
                return -EINVAL;
        h = (unsigned) (s[0] - '0') * 10 + (unsigned) (s[1] - '0');
        m = (unsigned) (s[3] - '0') * 10 + (unsigned) (s[4] - '0');
        if (m > 59 || h > 24 || (h == 24 && (m != 0 || !allow_24)))
                return -ERANGE;
        *p = s + 5;
        *ret_min = h * 60 + m;
        return 0;
}

int config_parse_hours(const char *s, unsigned *ret_start_min, unsigned *ret_end_min) {
        unsigned start, end;
        int r;

        r = parse_clock(&s, false, &start);
        if (r < 0)
                return r;
        if (*s++ != '-')
                return -EINVAL;
        r = parse_clock(&s, true, &end);
        if (r < 0)
                return r;
        if (*s != '\0')
                return -EINVAL;
        if (start >= end)
                return -ERANGE;
        *ret_start_min = start;
        *ret_end_min = end;
        return 0;
}

int config_parse_weekdays(const char *s, uint8_t *ret_mask) {
        static const char *const days[7] = { "sun", "mon", "tue", "wed", "thu", "fri", "sat" };
        uint8_t mask = 0;

        if (strcasecmp(s, "none") == 0 || *s == '\0') {
                *ret_mask = 0;
                return 0;
        }
        for (;;) {
                const char *end;
                size_t l;
                bool found = false;

                while (*s == ' ')
                        s++;
                end = s + strcspn(s, ", ");
                l = (size_t) (end - s);
                for (unsigned d = 0; d < 7; d++)
                        if (l == 3 && strncasecmp(s, days[d], 3) == 0) {
                                mask |= (uint8_t) (1u << d);
                                found = true;
                        }
                if (!found)
                        return -EINVAL;
                s = end;
                while (*s == ' ')
                        s++;
                if (*s == '\0')
                        break;
                if (*s++ != ',')
                        return -EINVAL;
        }
        *ret_mask = mask;
        return 0;
}

/* Names and topics follow topic-name.h, the rule the MQTT module checks as well; `max` only
 * narrows it for a smaller buffer. */
bool config_name_is_valid(const char *s, size_t max) {
        return strlen(s) <= max && topic_name_is_valid(s);
}

bool config_topic_is_valid(const char *s, size_t max) {
        return strlen(s) <= max && topic_prefix_is_valid(s);
}

bool config_timezone_name_is_valid(const char *s) {
        size_t l = strlen(s), level = 0;

        if (l == 0 || l >= sizeof(((WearerConfig *) NULL)->timezone))
                return false;
        for (size_t i = 0; i <= l; i++) {
                char c = s[i];
                if (c == '/' || c == '\0') {
                        if (level == 0)
                                return false;
                        level = 0;
                } else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' ||
                           c == '+' || c == '-')
                        level++;
                else
                        return false; /* this also keeps "." and ".." out */
        }
        return true;
}

bool config_host_is_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > 253)
                return false;
        for (size_t i = 0; i < l; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '.' || c == ':' ||
                      c == '_' || c == '-'))
                        return false;
        }
        return true;
}

int config_parse_listen_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len) {
        struct sockaddr_storage ss = {};
        char host[INET6_ADDRSTRLEN + 1];
        const char *port_text;
        uint64_t port;
        size_t host_len;
        socklen_t len;

        if (!s)
                return -EINVAL;
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end || end[1] != ':')
                        return -EINVAL;
                host_len = (size_t) (end - s - 1);
                port_text = end + 2;
                s++;
        } else {
                const char *colon = strrchr(s, ':');
                if (!colon || memchr(s, ':', (size_t) (colon - s)))
                        return -EINVAL; /* an IPv6 address needs its brackets */
                host_len = (size_t) (colon - s);
                port_text = colon + 1;
        }
        if (host_len == 0 || host_len >= sizeof(host))
                return -EINVAL;
        memcpy(host, s, host_len);
        host[host_len] = '\0';
        if (config_parse_uint64(port_text, 0, UINT64_MAX, &port) < 0)
                return -EINVAL;
        if (port < 1 || port > 65535)
                return -ERANGE;

        if (inet_pton(AF_INET, host, &((struct sockaddr_in *) &ss)->sin_addr) == 1) {
                struct sockaddr_in *in = (struct sockaddr_in *) &ss;
                in->sin_family = AF_INET;
                in->sin_port = htons((uint16_t) port);
                len = sizeof(*in);
        } else if (inet_pton(AF_INET6, host, &((struct sockaddr_in6 *) &ss)->sin6_addr) == 1) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *) &ss;
                in6->sin6_family = AF_INET6;
                in6->sin6_port = htons((uint16_t) port);
                len = sizeof(*in6);
        } else
                return -EINVAL;
        if (ret)
                *ret = ss;
        if (ret_len)
                *ret_len = len;
        return 0;
}

bool config_path_is_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || s[0] != '/' || l >= 4096)
                return false;
        for (size_t i = 0; i < l; i++)
                if ((unsigned char) s[i] < 0x20 || s[i] == 0x7f)
                        return false;
        return true;
}

bool config_credential_name_is_valid(const char *s) {
        size_t l = strlen(s);

        if (l == 0 || l > 255 || streq(s, ".") || streq(s, ".."))
                return false;
        for (size_t i = 0; i < l; i++) {
                char c = s[i];
                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '.' ||
                      c == '-'))
                        return false;
        }
        return true;
}

int config_read_secret_file(const char *path, size_t max, char **ret) {
        _cleanup_close_ int fd = -1;
        struct stat st;
        char *buf;
        size_t n = 0;
        int r = 0;

        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        if (!S_ISREG(st.st_mode))
                return -EBADF;

        /* max for the secret, 2 for "\r\n", 1 to notice that the file is longer. */
        buf = malloc(max + 3);
        if (!buf)
                return -ENOMEM;
        for (;;) {
                ssize_t k = read(fd, buf + n, max + 3 - n);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        goto fail;
                }
                if (k == 0)
                        break;
                n += (size_t) k;
                if (n == max + 3)
                        break;
        }

        if (n > 0 && buf[n - 1] == '\n')
                n--;
        if (n > 0 && buf[n - 1] == '\r')
                n--;
        if (n > max) {
                r = -EFBIG;
                goto fail;
        }
        if (n == 0) {
                r = -ENODATA;
                goto fail;
        }
        for (size_t i = 0; i < n; i++)
                if (buf[i] == '\0' || buf[i] == '\n' || buf[i] == '\r') {
                        r = -EBADMSG;
                        goto fail;
                }
        buf[n] = '\0';
        explicit_bzero(buf + n, max + 3 - n);
        *ret = buf;
        return 0;

fail:
        explicit_bzero(buf, max + 3);
        free(buf);
        return r;
}
