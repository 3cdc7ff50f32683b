/* SPDX-License-Identifier: MIT */
/* The Prometheus text exposition format, version 0.0.4: "# HELP", "# TYPE", then
 * name{label="value",...} value, one family's samples together. Pure, bounded. */

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

#define PROM_WRITER_INITIAL 16384

static const char *const type_names[_PROM_TYPE_MAX] = {
        [PROM_GAUGE] = "gauge",
        [PROM_COUNTER] = "counter",
};

void prom_writer_init(PromWriter *w, size_t max) {
        *w = (PromWriter) { .max = max };
}

void prom_writer_done(PromWriter *w) {
        free(w->buf);
        prom_writer_init(w, w->max);
}

void prom_writer_reset(PromWriter *w) {
        w->len = 0;
        w->overflow = false;
        w->family[0] = '\0';
        w->help = NULL;
        w->family_written = false;
}

static bool reserve(PromWriter *w, size_t n) {
        size_t want;
        char *p;

        if (w->overflow)
                return false;
        if (w->len + n + 1 <= w->alloc)
                return true;
        if (w->len + n + 1 > w->max) {
                w->overflow = true;
                return false;
        }
        want = MAX(w->alloc * 2, (size_t) PROM_WRITER_INITIAL);
        while (want < w->len + n + 1)
                want *= 2;
        want = MIN(want, w->max);
        p = realloc(w->buf, want);
        if (!p) {
                w->overflow = true;
                return false;
        }
        w->buf = p;
        w->alloc = want;
        return true;
}

static void put(PromWriter *w, const char *s, size_t n) {
        if (!reserve(w, n))
                return;
        memcpy(w->buf + w->len, s, n);
        w->len += n;
        w->buf[w->len] = '\0';
}

static void puts_(PromWriter *w, const char *s) {
        put(w, s, strlen(s));
}

/* Label values escape backslash, double quote and line feed; HELP text backslash and line feed. */
static void put_escaped(PromWriter *w, const char *s, bool quote) {
        for (; *s; s++) {
                const char *e = NULL;
                if (*s == '\\')
                        e = "\\\\";
                else if (*s == '\n')
                        e = "\\n";
                else if (quote && *s == '"')
                        e = "\\\"";
                if (e)
                        puts_(w, e);
                else
                        put(w, s, 1);
        }
}

void prom_family(PromWriter *w, const char *name, PromType type, const char *help) {
        (void) snprintf(w->family, sizeof(w->family), "%s", strempty(name));
        w->help = strempty(help);
        w->type = type;
        w->family_written = false;
}

static void put_label(PromWriter *w, bool *first, const char *name, const char *value) {
        if (!value)
                return;
        puts_(w, *first ? "{" : ",");
        *first = false;
        puts_(w, name);
        puts_(w, "=\"");
        put_escaped(w, value, true);
        puts_(w, "\"");
}

void prom_sample_named(PromWriter *w, const char *name, const PromLabels *labels, double value) {
        char number[64];
        bool first = true;

        if (!isfinite(value) || !w->family[0])
                return;
        if (!w->family_written) {
                puts_(w, "# HELP ");
                puts_(w, w->family);
                puts_(w, " ");
                put_escaped(w, w->help, false);
                puts_(w, "\n# TYPE ");
                puts_(w, w->family);
                puts_(w, " ");
                puts_(w, type_names[w->type]);
                puts_(w, "\n");
                w->family_written = true;
        }
        puts_(w, name);
        if (labels) {
                put_label(w, &first, "gateway", labels->gateway);
                put_label(w, &first, "wearer", labels->wearer);
                put_label(w, &first, "foot", labels->foot);
                put_label(w, &first, "window", labels->window);
                if (labels->extra_name)
                        put_label(w, &first, labels->extra_name, labels->extra_value);
                if (!first)
                        puts_(w, "}");
        }
        /* Integers exactly (counters reach 2^53 long after anyone cares), fractions with enough
         * digits for any float they came from. */
        if (value == floor(value) && fabs(value) < 9007199254740992.0)
                (void) snprintf(number, sizeof(number), " %.0f\n", value);
        else
                (void) snprintf(number, sizeof(number), " %.9g\n", value);
        puts_(w, number);
}

void prom_sample(PromWriter *w, const PromLabels *labels, double value) {
        prom_sample_named(w, w->family, labels, value);
}

void prom_write_text(PromWriter *w, const char *text) {
        puts_(w, text);
}
