/* SPDX-License-Identifier: MIT */
/* Scenario files (setup lines and timed "at" actions) and the harness control interface
 * net.insole2mqtt.Sim1, which runs the same action lines. docs/simulator.md has the grammar. */

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "log.h"
#include "macro.h"
#include "sim.h"

#define MAX_TOKENS 24
#define TOKEN_MAX 512

typedef struct Token {
        char s[TOKEN_MAX + 1]; /* NUL-terminated; may contain earlier NULs from \x00 */
        size_t len;
} Token;

typedef struct Tokens {
        Token t[MAX_TOKENS];
        size_t n;
} Tokens;

static int fail(char *err, size_t errsize, const char *fmt, ...) _printf_(3, 4);
static int fail(char *err, size_t errsize, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        if (err && errsize > 0)
                vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* Splits on blanks; "double quotes" group and understand \\ \" \n \t \xNN. '#' starts a comment
 * outside quotes. */
static int tokenize(const char *line, Tokens *ret, char *err, size_t errsize) {
        const char *p = line;
        ret->n = 0;
        for (;;) {
                while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
                        p++;
                if (!*p || *p == '#')
                        return 0;
                if (ret->n >= MAX_TOKENS)
                        return fail(err, errsize, "too many words");
                Token *t = &ret->t[ret->n++];
                t->len = 0;
                bool quoted = false;
                while (*p && (quoted || (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'))) {
                        char c = *p++;
                        if (c == '"') {
                                quoted = !quoted;
                                continue;
                        }
                        if (c == '\\' && quoted) {
                                char e = *p++;
                                switch (e) {
                                case 'n':
                                        c = '\n';
                                        break;
                                case 't':
                                        c = '\t';
                                        break;
                                case 'x': {
                                        int hi = unhexchar(p[0]), lo = hi >= 0 ? unhexchar(p[1]) : -1;
                                        if (lo < 0)
                                                return fail(err, errsize, "bad \\x escape");
                                        c = (char) (hi * 16 + lo);
                                        p += 2;
                                        break;
                                }
                                case 0:
                                        return fail(err, errsize, "dangling backslash");
                                default:
                                        c = e;
                                }
                        }
                        if (t->len >= TOKEN_MAX)
                                return fail(err, errsize, "word too long");
                        t->s[t->len++] = c;
                }
                if (quoted)
                        return fail(err, errsize, "unterminated quote");
                t->s[t->len] = 0;
        }
}

uint64_t sim_parse_duration(const char *s, int *ret_error) {
        char *end;
        double v = strtod(s, &end);
        double mult = 1e6;
        *ret_error = 0;
        if (end == s || !isfinite(v) || v < 0) {
                *ret_error = -EINVAL;
                return 0;
        }
        if (*end == 0 || streq(end, "s"))
                mult = 1e6;
        else if (streq(end, "ms"))
                mult = 1e3;
        else if (streq(end, "us"))
                mult = 1;
        else if (streq(end, "m") || streq(end, "min"))
                mult = 60e6;
        else if (streq(end, "h"))
                mult = 3600e6;
        else if (streq(end, "d"))
                mult = 86400e6;
        else {
                *ret_error = -EINVAL;
                return 0;
        }
        return (uint64_t) llround(v * mult);
}

static int parse_double(const char *s, double *ret) {
        char *end;
        double v = strtod(s, &end);
        if (end == s || *end || !isfinite(v))
                return -EINVAL;
        *ret = v;
        return 0;
}

static int parse_unsigned(const char *s, unsigned long long max, unsigned long long *ret) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 0);
        if (end == s || *end || errno || v > max || s[0] == '-')
                return -EINVAL;
        *ret = v;
        return 0;
}

static const char *kv(const Token *t, const char *key) {
        size_t k = strlen(key);
        if (strncmp(t->s, key, k) == 0 && t->s[k] == '=')
                return t->s + k + 1;
        return NULL;
}

/* mode=, cadence=, speed=, weight=, asymmetry=, pronation=, noise=, flat-foot, hard-heel-strike */
static int parse_gait_options(const Tokens *tk, size_t from, GaitModelParams *p, const char **ret_replay, char *err,
                              size_t errsize) {
        for (size_t i = from; i < tk->n; i++) {
                const Token *t = &tk->t[i];
                const char *v;
                double *target = NULL;
                if ((v = kv(t, "mode"))) {
                        GaitMode m = gait_mode_from_string(v);
                        if (m < 0)
                                return fail(err, errsize, "unknown mode '%s'", v);
                        p->mode = m;
                        continue;
                }
                if (ret_replay && (v = kv(t, "replay"))) {
                        *ret_replay = v;
                        continue;
                }
                if (streq(t->s, "flat-foot")) {
                        p->flat_foot = true;
                        continue;
                }
                if (streq(t->s, "hard-heel-strike")) {
                        p->hard_heel_strike = true;
                        continue;
                }
                if ((v = kv(t, "cadence")))
                        target = &p->cadence_spm;
                else if ((v = kv(t, "speed")))
                        target = &p->speed_m_s;
                else if ((v = kv(t, "weight")))
                        target = &p->body_weight_kg;
                else if ((v = kv(t, "asymmetry")))
                        target = &p->asymmetry;
                else if ((v = kv(t, "pronation")))
                        target = &p->pronation;
                else if ((v = kv(t, "noise")))
                        target = &p->noise;
                else if (i == from && gait_mode_from_string(t->s) >= 0) {
                        p->mode = gait_mode_from_string(t->s); /* a bare mode word */
                        continue;
                } else
                        return fail(err, errsize, "unknown option '%s'", t->s);
                if (parse_double(v, target) < 0)
                        return fail(err, errsize, "bad number in '%s'", t->s);
        }
        return 0;
}

static SimDevice *device_arg(Sim *sim, const Tokens *tk, size_t i, char *err, size_t errsize) {
        if (i >= tk->n) {
                fail(err, errsize, "missing device address");
                return NULL;
        }
        SimDevice *d = sim_find_device(sim, tk->t[i].s);
        if (!d)
                fail(err, errsize, "no device %s", tk->t[i].s);
        return d;
}

static int count_arg(const Tokens *tk, size_t i, unsigned long long def, unsigned long long *ret) {
        if (i >= tk->n) {
                *ret = def;
                return 0;
        }
        const char *v = kv(&tk->t[i], "count") ?: tk->t[i].s;
        return parse_unsigned(v, 1000000, ret);
}

/* BlueZ keeps names as UTF-8: the name ends at a NUL or at the first invalid sequence. */
static void set_name(SimDevice *d, const char *s, size_t len) {
        size_t n = 0;
        len = MIN(len, (size_t) SIM_NAME_MAX);
        while (n < len) {
                unsigned char c = (unsigned char) s[n];
                size_t k = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
                if (c == 0 || k == 0 || n + k > len)
                        break;
                bool ok = true;
                for (size_t j = 1; j < k; j++)
                        ok = ok && ((unsigned char) s[n + j] & 0xc0) == 0x80;
                if (!ok)
                        break;
                n += k;
        }
        memcpy(d->name, s, n);
        d->name[n] = 0;
        sim_device_name_changed(d);
}

static void hostile_name(char *buf, size_t *len) {
        /* MQTT wildcards and separators, a topic that starts with '$', dots, an escape sequence,
         * a quote, non-ASCII, padded to the 248-byte maximum of a BLE name. */
        static const char head[] = "$SYS/+/#/../\x1b[2J\"'%s\\ \xc3\xa4\xe2\x82\xac ";
        size_t n = sizeof(head) - 1;
        memcpy(buf, head, n);
        for (; n < SIM_NAME_MAX; n++)
                buf[n] = (char) ('A' + n % 26);
        *len = SIM_NAME_MAX;
}

static int device_fault(SimDevice *d, const Tokens *tk, char *err, size_t errsize) {
        const char *verb = tk->t[0].s;
        unsigned long long n;

        if (streq(verb, "out-of-range")) {
                d->in_range = false;
                sim_device_link_lost(d);
        } else if (streq(verb, "in-range"))
                d->in_range = true;
        else if (streq(verb, "drop-link"))
                sim_device_link_lost(d);
        else if (streq(verb, "distance")) {
                /* a footpod's Total Distance, in m (the u32 of 1/10 m wraps at 429496729.6) */
                char *end;
                double m;
                if (tk->n < 3)
                        return fail(err, errsize, "distance ADDRESS METERS");
                m = strtod(tk->t[2].s, &end);
                if (*end || !(m >= 0 && m < 1e12))
                        return fail(err, errsize, "bad distance '%s'", tk->t[2].s);
                d->rsc_distance_m = m;
        }
        else if (streq(verb, "reboot")) {
                sim_device_link_lost(d);
                sim_device_reboot(d);
        } else if (streq(verb, "fail-connect")) {
                d->fail_connect = 1;
                d->fail_after_connected = false;
                snprintf(d->fail_error, sizeof(d->fail_error), "org.bluez.Error.Failed");
                snprintf(d->fail_message, sizeof(d->fail_message), "le-connection-abort-by-local");
                for (size_t i = 2; i < tk->n; i++) {
                        const Token *t = &tk->t[i];
                        const char *v;
                        if ((v = kv(t, "count"))) {
                                if (parse_unsigned(v, 1000, &n) < 0)
                                        return fail(err, errsize, "bad count");
                                d->fail_connect = (unsigned) n;
                        } else if ((v = kv(t, "error")))
                                snprintf(d->fail_error, sizeof(d->fail_error), "%s", v);
                        else if ((v = kv(t, "message")))
                                snprintf(d->fail_message, sizeof(d->fail_message), "%s", v);
                        else if (streq(t->s, "after-connected"))
                                d->fail_after_connected = true;
                        else if (streq(t->s, "inprogress")) {
                                snprintf(d->fail_error, sizeof(d->fail_error), "org.bluez.Error.InProgress");
                                snprintf(d->fail_message, sizeof(d->fail_message), "In Progress");
                        } else if (streq(t->s, "abort")) {
                                /* the default */
                        } else if (streq(t->s, "software-abort"))
                                snprintf(d->fail_message, sizeof(d->fail_message), "Software caused connection abort");
                        else if (parse_unsigned(t->s, 1000, &n) >= 0)
                                d->fail_connect = (unsigned) n;
                        else
                                return fail(err, errsize, "unknown option '%s'", t->s);
                }
        } else if (streq(verb, "resolve-delay") || streq(verb, "objects-late")) {
                int e;
                if (tk->n < 3)
                        return fail(err, errsize, "%s ADDRESS DURATION", verb);
                uint64_t v = sim_parse_duration(tk->t[2].s, &e);
                if (e < 0)
                        return fail(err, errsize, "bad duration '%s'", tk->t[2].s);
                if (streq(verb, "resolve-delay"))
                        d->resolve_delay_us = v;
                else
                        d->objects_late_us = v;
        } else if (streq(verb, "burst") || streq(verb, "lose") || streq(verb, "malformed")) {
                if (count_arg(tk, 2, 1, &n) < 0)
                        return fail(err, errsize, "bad count");
                if (streq(verb, "burst"))
                        d->burst = (unsigned) n;
                else if (streq(verb, "lose"))
                        d->lose = (unsigned) n;
                else {
                        static const char *const kinds[_MALFORM_MAX] = { "short", "length", "version", "garbage" };
                        d->malform = (unsigned) n;
                        d->malform_kind = MALFORM_SHORT;
                        if (tk->n > 3) {
                                bool found = false;
                                for (int k = 0; k < _MALFORM_MAX; k++)
                                        if (streq(tk->t[3].s, kinds[k])) {
                                                d->malform_kind = k;
                                                found = true;
                                        }
                                if (!found)
                                        return fail(err, errsize, "malformed: short, length, version or garbage");
                        }
                }
        } else if (streq(verb, "name")) {
                if (tk->n < 3)
                        return fail(err, errsize, "name ADDRESS STRING|@hostile");
                if (streq(tk->t[2].s, "@hostile")) {
                        char buf[SIM_NAME_MAX];
                        size_t len;
                        hostile_name(buf, &len);
                        set_name(d, buf, len);
                } else
                        set_name(d, tk->t[2].s, tk->t[2].len);
        } else if (streq(verb, "unbond") || streq(verb, "bond")) {
                /* unbond: the bond was removed, or the device using this address never had one
                 * (an impostor); bond: it paired (as Device1.Pair() does) */
                d->paired = streq(verb, "bond");
                sim_device_bond_changed(d);
        } else if (streq(verb, "battery")) {
                if (tk->n < 3 || parse_unsigned(tk->t[2].s, 255, &n) < 0)
                        return fail(err, errsize, "battery ADDRESS PERCENT");
                d->battery = (uint8_t) n;
                sim_device_refresh_values(d);
                sim_device_battery_changed(d);
        } else
                return fail(err, errsize, "unknown action '%s'", verb);
        return 0;
}

int sim_action_run(Sim *sim, const char *line, char *err, size_t errsize) {
        Tokens tk;
        int r = tokenize(line, &tk, err, errsize);
        if (r < 0)
                return r;
        if (tk.n == 0)
                return 0;
        const char *verb = tk.t[0].s;
        unsigned long long n;

        if (streq(verb, "mode")) {
                if (tk.n < 3)
                        return fail(err, errsize, "mode WEARER MODE [options]");
                Wearer *w = sim_find_wearer(sim, tk.t[1].s);
                if (!w)
                        return fail(err, errsize, "no wearer '%s'", tk.t[1].s);
                if (!w->model)
                        return fail(err, errsize, "wearer '%s' replays a recording", w->name);
                GaitModelParams p = *gait_model_get_params(w->model);
                r = parse_gait_options(&tk, 2, &p, NULL, err, errsize);
                if (r < 0)
                        return r;
                gait_model_set_params(w->model, &p);
                return 0;
        }
        if (streq(verb, "day")) {
                /* day WEARER N [clinical]: that day's walking of the wearer, from its configured
                 * walking and the day-to-day variability (docs/simulator.md): a compressed month. */
                char *end = NULL;
                unsigned long day;

                if (tk.n < 3 || tk.n > 4 || (tk.n == 4 && !streq(tk.t[3].s, "clinical")))
                        return fail(err, errsize, "day WEARER N [clinical]");
                Wearer *w = sim_find_wearer(sim, tk.t[1].s);
                if (!w)
                        return fail(err, errsize, "no wearer '%s'", tk.t[1].s);
                if (!w->model)
                        return fail(err, errsize, "wearer '%s' replays a recording", w->name);
                errno = 0;
                day = strtoul(tk.t[2].s, &end, 10);
                if (errno != 0 || !end || *end || day > 100000)
                        return fail(err, errsize, "day number must be 0..100000");
                GaitModelParams usual = *gait_model_get_params(w->model), p;
                GaitDayVariability v = tk.n == 4 ? GAIT_DAY_VARIABILITY_CLINICAL : GAIT_DAY_VARIABILITY_HEALTHY;
                usual.cadence_spm = w->params.cadence_spm;
                usual.asymmetry = w->params.asymmetry;
                usual.pronation = w->params.pronation;
                usual.noise = w->params.noise;
                gait_model_params_for_day(&usual, &v, w->params.seed, (unsigned) day, &p);
                gait_model_set_params(w->model, &p);
                return 0;
        }
        if (streq(verb, "restart-bluetoothd")) {
                uint64_t down = 2 * USEC_PER_SEC;
                bool graceful = false;
                for (size_t i = 1; i < tk.n; i++) {
                        const char *v;
                        int e;
                        if ((v = kv(&tk.t[i], "down"))) {
                                down = sim_parse_duration(v, &e);
                                if (e < 0)
                                        return fail(err, errsize, "bad duration '%s'", v);
                        } else if (streq(tk.t[i].s, "graceful"))
                                graceful = true;
                        else
                                return fail(err, errsize, "unknown option '%s'", tk.t[i].s);
                }
                return sim_bluez_restart(sim, down, graceful);
        }
        if (streq(verb, "power")) {
                if (tk.n < 2 || !(streq(tk.t[1].s, "on") || streq(tk.t[1].s, "off")))
                        return fail(err, errsize, "power on|off");
                return sim_adapter_set_powered(sim, streq(tk.t[1].s, "on"));
        }
        if (streq(verb, "remove-adapter"))
                return sim_adapter_remove(sim);
        if (streq(verb, "add-adapter"))
                return sim_adapter_add(sim);
        if (streq(verb, "quit")) {
                if (tk.n > 1 && parse_unsigned(tk.t[1].s, 255, &n) < 0)
                        return fail(err, errsize, "quit [CODE]");
                return sd_event_exit(sim->event, tk.n > 1 ? (int) n : 0);
        }
        if (streq(verb, "log")) {
                log_info("scenario: %s", tk.n > 1 ? tk.t[1].s : "");
                return 0;
        }
        SimDevice *d = device_arg(sim, &tk, 1, err, errsize);
        if (!d)
                return -EINVAL;
        return device_fault(d, &tk, err, errsize);
}

static int add_action(Sim *sim, uint64_t at, const char *line) {
        SimAction *na = realloc(sim->actions, (sim->n_actions + 1) * sizeof(SimAction));
        if (!na)
                return -ENOMEM;
        sim->actions = na;
        char *copy = strdup(line);
        if (!copy)
                return -ENOMEM;
        /* keep the list sorted by time, stable for equal times */
        size_t i = sim->n_actions;
        while (i > 0 && sim->actions[i - 1].at_us > at) {
                sim->actions[i] = sim->actions[i - 1];
                i--;
        }
        sim->actions[i] = (SimAction) { .at_us = at, .line = copy };
        sim->n_actions++;
        return 0;
}

static int side_arg(const char *s, FootSide *ret) {
        if (streq(s, "left") || streq(s, "l"))
                *ret = FOOT_LEFT;
        else if (streq(s, "right") || streq(s, "r"))
                *ret = FOOT_RIGHT;
        else
                return -EINVAL;
        return 0;
}

static int add_device(Sim *sim, DeviceKind kind, Wearer *w, FootSide side, const char *address, char *err, size_t errsize) {
        SimDevice *d;
        int r = sim_device_new(sim, kind, address, w, side, &d);
        if (r == -EEXIST)
                return fail(err, errsize, "device %s exists already", address);
        if (r < 0)
                return fail(err, errsize, "bad device address '%s'", address);
        return 0;
}

int sim_config_line(Sim *sim, const char *line, char *err, size_t errsize) {
        Tokens tk;
        int r = tokenize(line, &tk, err, errsize);
        if (r < 0)
                return r;
        if (tk.n == 0)
                return 0;
        const char *verb = tk.t[0].s;
        unsigned long long n;
        int e;

        if (streq(verb, "at")) {
                if (tk.n < 3)
                        return fail(err, errsize, "at TIME ACTION ...");
                uint64_t at = sim_parse_duration(tk.t[1].s, &e);
                if (e < 0)
                        return fail(err, errsize, "bad time '%s'", tk.t[1].s);
                /* the action text after the time, re-tokenized when it runs */
                const char *p = line + strspn(line, " \t");
                p += 2; /* "at" */
                p += strspn(p, " \t");
                p += strcspn(p, " \t");
                return add_action(sim, at, p);
        }
        if (streq(verb, "wearer")) {
                if (tk.n < 2)
                        return fail(err, errsize, "wearer NAME [options]");
                GaitModelParams p = { .mode = GAIT_MODE_WALKING, .body_weight_kg = 70, .noise = 0.03,
                                      .seed = sim->opt.seed ^ (sim->n_wearers + 1) * 0x9e3779b97f4a7c15ULL };
                const char *replay_spec = NULL, *left = NULL, *right = NULL;
                Tokens rest = { .n = 0 };
                for (size_t i = 2; i < tk.n; i++) {
                        const char *v;
                        if ((v = kv(&tk.t[i], "left")))
                                left = v;
                        else if ((v = kv(&tk.t[i], "right")))
                                right = v;
                        else
                                rest.t[rest.n++] = tk.t[i];
                }
                r = parse_gait_options(&rest, 0, &p, &replay_spec, err, errsize);
                if (r < 0)
                        return r;
                Replay *replay = NULL;
                if (replay_spec) {
                        r = replay_open(sim->opt.datasets, replay_spec, &replay);
                        if (r < 0)
                                return fail(err, errsize, "cannot load recording '%s'", replay_spec);
                }
                Wearer *w;
                r = sim_wearer_new(sim, tk.t[1].s, &p, replay, &w);
                if (r < 0) {
                        replay_free(replay);
                        return fail(err, errsize, "cannot add wearer '%s': %s", tk.t[1].s, strerror(-r));
                }
                if (left && (r = add_device(sim, DEVICE_OIP, w, FOOT_LEFT, left, err, errsize)) < 0)
                        return r;
                if (right && (r = add_device(sim, DEVICE_OIP, w, FOOT_RIGHT, right, err, errsize)) < 0)
                        return r;
                return 0;
        }
        if (streq(verb, "insole") || streq(verb, "orphe") || streq(verb, "ukaton") || streq(verb, "footpod")) {
                bool footpod = streq(verb, "footpod");
                if (tk.n < (footpod ? 3u : 4u))
                        return fail(err, errsize, footpod ? "footpod WEARER ADDRESS" : "%s WEARER left|right ADDRESS", verb);
                Wearer *w = sim_find_wearer(sim, tk.t[1].s);
                FootSide side = FOOT_LEFT;
                if (!w)
                        return fail(err, errsize, "no wearer '%s'", tk.t[1].s);
                if (!footpod && side_arg(tk.t[2].s, &side) < 0)
                        return fail(err, errsize, "side must be left or right");
                return add_device(sim, footpod                  ? DEVICE_RSC
                                       : streq(verb, "orphe")  ? DEVICE_ORPHE
                                       : streq(verb, "ukaton") ? DEVICE_UKATON
                                                               : DEVICE_OIP,
                                  w, side,
                                  tk.t[footpod ? 2 : 3].s, err, errsize);
        }
        if (streq(verb, "unbond")) {
                /* from the start: a device with this address that never bonded with us */
                SimDevice *d = device_arg(sim, &tk, 1, err, errsize);
                if (!d)
                        return -EINVAL;
                d->paired = false;
                return 0;
        }
        if (streq(verb, "load")) {
                /* load N_INSOLES RATE_HZ: N/2 walking wearers, addresses 02:00:00:00:WW:0S */
                unsigned long long count, rate;
                if (tk.n < 3 || parse_unsigned(tk.t[1].s, SIM_MAX_DEVICES, &count) < 0 ||
                    parse_unsigned(tk.t[2].s, 400, &rate) < 0 || count == 0 || rate < SIM_MIN_RATE_HZ)
                        return fail(err, errsize, "load N_INSOLES RATE_HZ (N <= %d, %u..400 Hz)", SIM_MAX_DEVICES, SIM_MIN_RATE_HZ);
                sim->opt.load_mode = true;
                sim->opt.rate_hz = (unsigned) rate;
                for (unsigned long long i = 0; i < (count + 1) / 2; i++) {
                        char name[32], addr[2][18];
                        snprintf(name, sizeof(name), "load%llu", i);
                        GaitModelParams p = { .mode = GAIT_MODE_WALKING, .seed = sim->opt.seed + i, .noise = 0.03 };
                        Wearer *w;
                        r = sim_wearer_new(sim, name, &p, NULL, &w);
                        if (r < 0)
                                return fail(err, errsize, "cannot add load wearer: %s", strerror(-r));
                        for (int s = 0; s < 2 && i * 2 + s < count; s++) {
                                snprintf(addr[s], sizeof(addr[s]), "02:00:00:00:%02X:%02X", (unsigned) (i & 0xff), (unsigned) (s + 1));
                                r = add_device(sim, DEVICE_OIP, w, s, addr[s], err, errsize);
                                if (r < 0)
                                        return r;
                                sim_find_device(sim, addr[s])->rate_hz = (unsigned) rate;
                        }
                }
                return 0;
        }

        /* options */
        if (tk.n < 2 && !streq(verb, "require-start") && !streq(verb, "legacy-control"))
                return fail(err, errsize, "'%s' needs a value", verb);
        if (streq(verb, "seed"))
                return parse_unsigned(tk.t[1].s, UINT64_MAX, &n) < 0 ? fail(err, errsize, "bad seed") : (sim->opt.seed = n, 0);
        if (streq(verb, "time-scale")) {
                double v;
                if (parse_double(tk.t[1].s, &v) < 0 || v <= 0 || v > 100000)
                        return fail(err, errsize, "time-scale must be in (0, 100000]");
                sim->opt.time_scale = v;
                return 0;
        }
        if (streq(verb, "rate")) {
                if (parse_unsigned(tk.t[1].s, 400, &n) < 0 || n < SIM_MIN_RATE_HZ)
                        return fail(err, errsize, "rate must be %u..400 Hz", SIM_MIN_RATE_HZ);
                sim->opt.rate_hz = (unsigned) n;
                for (size_t i = 0; i < sim->n_devices; i++)
                        sim->devices[i]->rate_hz = (unsigned) n;
                return 0;
        }
        if (streq(verb, "samples-per-frame")) {
                if (parse_unsigned(tk.t[1].s, OIP_MAX_SAMPLES, &n) < 0 || n < 1)
                        return fail(err, errsize, "samples-per-frame must be 1..%d", OIP_MAX_SAMPLES);
                sim->opt.samples_per_frame = (unsigned) n;
                return 0;
        }
        if (streq(verb, "mtu")) {
                if (parse_unsigned(tk.t[1].s, 517, &n) < 0 || n < 23)
                        return fail(err, errsize, "mtu must be 23..517");
                sim->opt.mtu = (uint16_t) n;
                return 0;
        }
        if (streq(verb, "legacy-control")) {
                sim->opt.legacy_control = true;
                return 0;
        }
        if (streq(verb, "require-start")) {
                sim->opt.require_start = true;
                for (size_t i = 0; i < sim->n_devices; i++)
                        sim->devices[i]->streaming = false;
                return 0;
        }
        if (streq(verb, "datasets")) {
                char *copy = strdup(tk.t[1].s);
                if (!copy)
                        return -ENOMEM;
                sim->opt.datasets = copy; /* lives as long as the process */
                return 0;
        }
        static const struct {
                const char *name;
                size_t offset;
        } durations[] = {
                { "connect-delay", offsetof(SimOptions, connect_delay_us) },
                { "resolve-delay", offsetof(SimOptions, resolve_delay_us) },
                { "adv-interval", offsetof(SimOptions, adv_interval_us) },
                { "temporary-timeout", offsetof(SimOptions, temporary_timeout_us) },
                { "connect-timeout", offsetof(SimOptions, connect_timeout_us) },
                { "repeat", offsetof(SimOptions, repeat_us) },
        };
        for (size_t i = 0; i < ELEMENTSOF(durations); i++)
                if (streq(verb, durations[i].name)) {
                        uint64_t v = sim_parse_duration(tk.t[1].s, &e);
                        if (e < 0)
                                return fail(err, errsize, "bad duration '%s'", tk.t[1].s);
                        *(uint64_t *) ((uint8_t *) &sim->opt + durations[i].offset) = v;
                        return 0;
                }
        return fail(err, errsize, "unknown setting '%s'", verb);
}

int sim_scenario_load(Sim *sim, const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        if (!f)
                return log_error_errno(errno, "Failed to open %s: %m", path);
        char line[4096], err[256];
        unsigned lineno = 0;
        while (fgets(line, sizeof(line), f)) {
                lineno++;
                err[0] = 0;
                int r = sim_config_line(sim, line, err, sizeof(err));
                if (r < 0)
                        return log_error_errno(r, "%s:%u: %s", path, lineno, err[0] ? err : "invalid line");
        }
        return 0;
}

void sim_actions_due(Sim *sim, uint64_t now) {
        /* "repeat PERIOD": the timed actions run again every PERIOD of simulated time */
        if (sim->opt.repeat_us > 0 && now >= sim->repeat_base_us + sim->opt.repeat_us) {
                sim->repeat_base_us += (now - sim->repeat_base_us) / sim->opt.repeat_us * sim->opt.repeat_us;
                sim->next_action = 0;
        }
        while (sim->next_action < sim->n_actions && sim->repeat_base_us + sim->actions[sim->next_action].at_us <= now) {
                if (sim->opt.repeat_us > 0 && sim->actions[sim->next_action].at_us >= sim->opt.repeat_us) {
                        sim->next_action = sim->n_actions; /* beyond the period: never */
                        break;
                }
                SimAction *a = &sim->actions[sim->next_action++];
                char err[256] = "";
                log_debug("t=%.3fs: %s", (double) a->at_us / 1e6, a->line);
                if (sim_action_run(sim, a->line, err, sizeof(err)) < 0)
                        log_warning("Scenario action '%s' failed: %s", a->line, err);
        }
}

/* ---- net.insole2mqtt.Sim1 ---- */

static int method_action(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        const char *line;
        char err[256] = "";
        int r = sd_bus_message_read(m, "s", &line);
        if (r < 0)
                return r;
        r = sim_action_run(sim, line, err, sizeof(err));
        if (r < 0)
                return sd_bus_error_setf(error, SIM_CONTROL_NAME ".Error.InvalidAction", "%s", err[0] ? err : strerror(-r));
        return sd_bus_reply_method_return(m, NULL);
}

static int method_now(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_reply_method_return(m, "t", sim_now(userdata));
}

static int method_devices(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_open_container(reply, 'a', "(sssss)");
        if (r < 0)
                return r;
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                r = sd_bus_message_append(reply, "(sssss)", d->address, d->path, device_kind_to_string(d->kind),
                                          d->wearer ? d->wearer->name : "", foot_side_to_string(d->side));
                if (r < 0)
                        return r;
        }
        r = sd_bus_message_close_container(reply);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_stats(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        const char *address;
        int r = sd_bus_message_read(m, "s", &address);
        if (r < 0)
                return r;
        SimDevice *d = sim_find_device(sim, address);
        if (!d)
                return sd_bus_error_setf(error, SIM_CONTROL_NAME ".Error.NoDevice", "no device %s", address);

        uint64_t socket_dropped = 0, notify_sessions = 0;
        bool acquired = false;
        for (size_t s = 0; s < d->n_services; s++)
                for (size_t i = 0; i < d->services[s].n_chars; i++) {
                        SimChar *c = &d->services[s].chars[i];
                        socket_dropped += c->dropped;
                        notify_sessions += c->n_sessions;
                        acquired = acquired || c->acquired_fd >= 0;
                }
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append(reply, "a{sv}", 17,
                                  "frames_sent", "t", d->frames_sent,
                                  "frames_dropped", "t", d->frames_dropped,
                                  "socket_dropped", "t", socket_dropped,
                                  "frames_lost", "t", d->frames_lost,
                                  "frames_malformed", "t", d->frames_malformed,
                                  "steps", "t", sim_device_steps(d),
                                  "connected", "b", d->connected,
                                  "services_resolved", "b", d->resolved,
                                  "exported", "b", d->exported,
                                  "in_range", "b", d->in_range,
                                  "acquired", "b", acquired,
                                  "notify_sessions", "t", notify_sessions,
                                  "connects", "t", d->connects,
                                  "disconnects", "t", d->disconnects,
                                  "seq", "q", d->seq,
                                  "boot_id", "u", d->boot_id,
                                  "battery", "y", d->battery);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static const sd_bus_vtable control_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_METHOD_WITH_NAMES("Action", "s", SD_BUS_PARAM(line), "", , method_action, 0),
        SD_BUS_METHOD_WITH_NAMES("Now", "", , "t", SD_BUS_PARAM(usec), method_now, 0),
        SD_BUS_METHOD_WITH_NAMES("Devices", "", , "a(sssss)", SD_BUS_PARAM(devices), method_devices, 0),
        SD_BUS_METHOD_WITH_NAMES("Stats", "s", SD_BUS_PARAM(address), "a{sv}", SD_BUS_PARAM(stats), method_stats, 0),
        SD_BUS_VTABLE_END,
};

int sim_control_start(Sim *sim) {
        int r = sd_bus_open_system(&sim->control);
        if (r < 0)
                return log_error_errno(r, "Failed to connect the control interface: %m");
        r = sd_bus_attach_event(sim->control, sim->event, 0);
        if (r < 0)
                return r;
        r = sd_bus_add_object_vtable(sim->control, NULL, SIM_CONTROL_PATH, SIM_CONTROL_IFACE, control_vtable, sim);
        if (r < 0)
                return log_error_errno(r, "Failed to export the control interface: %m");
        r = sd_bus_request_name(sim->control, SIM_CONTROL_NAME, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to own " SIM_CONTROL_NAME ": %m");
        return 0;
}
