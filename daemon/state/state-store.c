/* SPDX-License-Identifier: MIT */

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checksum.h"
#include "file-io.h"
#include "json-parse.h"
#include "state-store.h"
#include "topic-name.h"

static void wearer_state_init(WearerState *w, const char *name) {
        *w = (WearerState) { .activity = ACTIVITY_UNKNOWN };
        (void) snprintf(w->name, sizeof w->name, "%s", name);
        for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++)
                w->battery_percent[r] = -1;
}

void state_store_init(StateStore *s) {
        *s = (StateStore) {};
}

void state_store_done(StateStore *s) {
        if (!s)
                return;
        for (size_t i = 0; i < s->n_seqs; i++)
                free(s->seqs[i].topic);
        free(s->seqs);
        for (size_t i = 0; i < s->n_wearers; i++)
                free(s->wearers[i].coach_json);
        *s = (StateStore) {};
}

WearerState *state_store_wearer(StateStore *s, const char *name, bool create) {
        if (!topic_name_is_valid(name))
                return NULL;
        for (size_t i = 0; i < s->n_wearers; i++)
                if (streq(s->wearers[i].name, name))
                        return &s->wearers[i];
        if (!create || s->n_wearers >= CONFIG_MAX_WEARERS)
                return NULL;
        wearer_state_init(&s->wearers[s->n_wearers], name);
        return &s->wearers[s->n_wearers++];
}

static bool topic_is_plain(const char *t) {
        /* Only what our topic builders produce: [a-z0-9_-/], bounded. */
        size_t n = strnlen(t, TOPIC_MAX);
        if (n == 0 || n >= TOPIC_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9') || t[i] == '_' || t[i] == '-' ||
                      t[i] == '/'))
                        return false;
        return true;
}

int state_store_set_seq(StateStore *s, const char *topic, uint64_t seq) {
        StateSeq *n;

        if (!topic_is_plain(topic))
                return -EINVAL;
        for (size_t i = 0; i < s->n_seqs; i++)
                if (streq(s->seqs[i].topic, topic)) {
                        s->seqs[i].seq = seq;
                        return 0;
                }
        if (s->n_seqs >= STATE_STORE_MAX_SEQS)
                return -E2BIG;
        n = realloc(s->seqs, (s->n_seqs + 1) * sizeof *n);
        if (!n)
                return -ENOMEM;
        s->seqs = n;
        s->seqs[s->n_seqs].topic = strdup(topic);
        if (!s->seqs[s->n_seqs].topic)
                return -ENOMEM;
        s->seqs[s->n_seqs++].seq = seq;
        return 0;
}

uint64_t state_store_get_seq(const StateStore *s, const char *topic) {
        for (size_t i = 0; i < s->n_seqs; i++)
                if (streq(s->seqs[i].topic, topic))
                        return s->seqs[i].seq;
        return 0;
}

static const char *const device_info_keys[_STATE_DEVICE_INFO_MAX] = {
        [STATE_DEVICE_INFO_MANUFACTURER] = "manufacturer",
        [STATE_DEVICE_INFO_MODEL] = "model",
        [STATE_DEVICE_INFO_FIRMWARE] = "firmware",
        [STATE_DEVICE_INFO_HARDWARE] = "hardware",
};

/* Device-provided text as the daemon accepts it: printable ASCII, no surrounding space. */
static bool device_info_is_valid(const char *v) {
        size_t n = strlen(v);

        if (n == 0 || n > STATE_DEVICE_INFO_MAX || v[0] == ' ' || v[n - 1] == ' ')
                return false;
        for (size_t i = 0; i < n; i++)
                if (v[i] < 0x20 || v[i] > 0x7e)
                        return false;
        return true;
}

static bool day_is_valid(const char *d) {
        /* YYYY-MM-DD */
        if (strlen(d) != 10)
                return false;
        for (int i = 0; i < 10; i++) {
                if (i == 4 || i == 7) {
                        if (d[i] != '-')
                                return false;
                } else if (d[i] < '0' || d[i] > '9')
                        return false;
        }
        return true;
}

int state_store_format(const StateStore *s, char **ret, size_t *ret_len) {
        _cleanup_free_ char *buf = NULL;
        size_t size = 0;
        FILE *f;

        f = open_memstream(&buf, &size);
        if (!f)
                return -ENOMEM;
        fprintf(f, "insole2mqtt-state %d\n", STATE_STORE_VERSION);
        fprintf(f, "saved_usec=%" PRIu64 "\n", s->saved_usec);
        for (size_t i = 0; i < s->n_wearers; i++) {
                const WearerState *w = &s->wearers[i];

                if (!topic_name_is_valid(w->name))
                        continue;
                if (day_is_valid(w->day))
                        fprintf(f, "wearer.%s.day=%s\n", w->name, w->day);
                fprintf(f, "wearer.%s.steps_today=%" PRIu64 "\n", w->name, w->steps_today);
                fprintf(f, "wearer.%s.steps_total=%" PRIu64 "\n", w->name, w->steps_total);
                if (w->activity >= 0 && w->activity < _ACTIVITY_MAX)
                        fprintf(f, "wearer.%s.activity=%s\n", w->name, activity_state_to_string(w->activity));
                fprintf(f, "wearer.%s.activity_since_usec=%" PRIu64 "\n", w->name, w->activity_since_usec);
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        if (w->battery_percent[r] >= 0 && w->battery_percent[r] <= 100)
                                fprintf(f, "wearer.%s.%s.battery_pct=%d\n", w->name, device_role_to_string(r),
                                        w->battery_percent[r]);
                        if (w->has_device_steps[r])
                                fprintf(f, "wearer.%s.%s.device_steps=%" PRIu64 "\n", w->name,
                                        device_role_to_string(r), w->device_steps[r]);
                        if (w->has_device_boot_id[r])
                                fprintf(f, "wearer.%s.%s.boot_id=%" PRIu32 "\n", w->name, device_role_to_string(r),
                                        w->device_boot_id[r]);
                        for (StateDeviceInfo k = 0; k < _STATE_DEVICE_INFO_MAX; k++)
                                if (device_info_is_valid(w->device_info[r][k]))
                                        fprintf(f, "wearer.%s.%s.%s=%s\n", w->name, device_role_to_string(r),
                                                device_info_keys[k], w->device_info[r][k]);
                }
                if (w->distance_total_dm > 0)
                        fprintf(f, "wearer.%s.distance_total_dm=%" PRIu64 "\n", w->name, w->distance_total_dm);
                if (w->has_footpod_total)
                        fprintf(f, "wearer.%s.footpod.total_dm=%" PRIu32 "\n", w->name, w->footpod_total_dm);
                /* Written by our own JSON writer: one line, no newline inside. */
                if (w->coach_json && !strchr(w->coach_json, '\n'))
                        fprintf(f, "wearer.%s.coach=%s\n", w->name, w->coach_json);
        }
        for (size_t i = 0; i < s->n_seqs; i++)
                if (topic_is_plain(s->seqs[i].topic))
                        fprintf(f, "seq.%s=%" PRIu64 "\n", s->seqs[i].topic, s->seqs[i].seq);
        /* the end: a file without it was cut short */
        if (fflush(f) != 0) {
                fclose(f);
                return -ENOMEM;
        }
        fprintf(f, "end=%016" PRIx64 "\n", fnv1a64(buf, size));
        if (fclose(f) != 0)
                return -ENOMEM;
        *ret_len = size;
        *ret = TAKE_PTR(buf);
        return 0;
}

static int parse_u64(const char *v, uint64_t *ret) {
        uint64_t x = 0;

        if (!*v || strlen(v) > 20)
                return -EBADMSG;
        for (; *v; v++) {
                if (*v < '0' || *v > '9')
                        return -EBADMSG;
                if (x > (UINT64_MAX - (uint64_t) (*v - '0')) / 10)
                        return -EBADMSG;
                x = x * 10 + (uint64_t) (*v - '0');
        }
        *ret = x;
        return 0;
}

static ActivityState activity_from_string(const char *v) {
        ActivityState a = activity_state_from_string(v);
        return a < 0 ? ACTIVITY_UNKNOWN : a;
}

/* key is "wearer.<name>.<field>" or "wearer.<name>.<role>.<field>", already without "wearer." */
static int parse_wearer_key(StateStore *s, char *key, const char *value) {
        char *field, *sub;
        WearerState *w;
        uint64_t u;
        int r;

        field = strchr(key, '.');
        if (!field)
                return -EBADMSG;
        *field++ = 0;
        w = state_store_wearer(s, key, true);
        if (!w)
                return -EBADMSG;

        sub = strchr(field, '.');
        if (sub) {
                DeviceRole role;

                *sub++ = 0;
                role = device_role_from_string(field);
                if (role < 0)
                        return 0; /* a role from the future */
                if (streq(sub, "battery_pct")) {
                        r = parse_u64(value, &u);
                        if (r < 0 || u > 100)
                                return -EBADMSG;
                        w->battery_percent[role] = (int) u;
                } else if (streq(sub, "device_steps")) {
                        r = parse_u64(value, &w->device_steps[role]);
                        if (r < 0)
                                return r;
                        w->has_device_steps[role] = true;
                } else if (streq(sub, "boot_id")) {
                        r = parse_u64(value, &u);
                        if (r < 0 || u > UINT32_MAX)
                                return -EBADMSG;
                        w->device_boot_id[role] = (uint32_t) u;
                        w->has_device_boot_id[role] = true;
                } else if (streq(sub, "total_dm")) {
                        r = parse_u64(value, &u);
                        if (r < 0 || u > UINT32_MAX)
                                return -EBADMSG;
                        w->footpod_total_dm = (uint32_t) u;
                        w->has_footpod_total = true;
                } else
                        for (StateDeviceInfo k = 0; k < _STATE_DEVICE_INFO_MAX; k++)
                                if (streq(sub, device_info_keys[k])) {
                                        if (!device_info_is_valid(value))
                                                return -EBADMSG;
                                        memcpy(w->device_info[role][k], value, strlen(value) + 1);
                                }
                return 0;
        }

        if (streq(field, "day")) {
                if (!day_is_valid(value))
                        return -EBADMSG;
                memcpy(w->day, value, 11);
        } else if (streq(field, "steps_today"))
                return parse_u64(value, &w->steps_today);
        else if (streq(field, "steps_total"))
                return parse_u64(value, &w->steps_total);
        else if (streq(field, "distance_total_dm"))
                return parse_u64(value, &w->distance_total_dm);
        else if (streq(field, "activity"))
                w->activity = activity_from_string(value);
        else if (streq(field, "activity_since_usec"))
                return parse_u64(value, &w->activity_since_usec);
        else if (streq(field, "coach")) {
                /* Opaque here; the reminders module validates it when restoring. */
                char *j = strdup(value);
                if (!j)
                        return -ENOMEM;
                free(w->coach_json);
                w->coach_json = j;
        }
        return 0;
}

int state_store_parse(const char *text, size_t len, StateStore *s) {
        _cleanup_free_ char *copy = NULL;
        char *line, *save = NULL;
        unsigned major;
        int r;

        if (len > STATE_STORE_MAX_SIZE)
                return -E2BIG;
        if (memchr(text, 0, len))
                return -EBADMSG;
        copy = strndup(text, len);
        if (!copy)
                return -ENOMEM;

        state_store_done(s);
        line = strtok_r(copy, "\n", &save);
        if (!line || sscanf(line, "insole2mqtt-state %u", &major) != 1)
                return -EBADMSG;
        if (major > STATE_STORE_VERSION)
                return -EPROTONOSUPPORT;
        if (major < 1)
                return -EBADMSG;
        if (major >= 2) {
                /* all or nothing: the last line is "end=<checksum of everything before it>" */
                const char *end = len >= 2 ? memrchr(text, '\n', len - 1) : NULL;
                uint64_t sum;
                char tail[32];
                size_t tail_len;

                end = end ? end + 1 : NULL;
                if (!end || text[len - 1] != '\n')
                        return -EBADMSG;
                tail_len = (size_t) (text + len - 1 - end);
                if (tail_len != 4 + 16)
                        return -EBADMSG;
                memcpy(tail, end, tail_len);
                tail[tail_len] = 0;
                if (strncmp(tail, "end=", 4) != 0 || sscanf(tail + 4, "%16" SCNx64, &sum) != 1 ||
                    sum != fnv1a64(text, (size_t) (end - text)))
                        return -EBADMSG;
        }

        while ((line = strtok_r(NULL, "\n", &save))) {
                char *eq, *key = line;
                uint64_t u;

                if (line[0] == '#' || line[0] == 0)
                        continue;
                if (strncmp(line, "end=", 4) == 0)
                        break; /* checked above */
                eq = strchr(line, '=');
                if (!eq)
                        return -EBADMSG;
                *eq = 0;
                if (streq(key, "saved_usec")) {
                        r = parse_u64(eq + 1, &s->saved_usec);
                } else if (strncmp(key, "wearer.", 7) == 0) {
                        r = parse_wearer_key(s, key + 7, eq + 1);
                } else if (strncmp(key, "seq.", 4) == 0) {
                        r = parse_u64(eq + 1, &u);
                        if (r >= 0)
                                r = state_store_set_seq(s, key + 4, u);
                        if (r == -EINVAL)
                                r = -EBADMSG;
                } else
                        r = 0; /* unknown key: written by a newer daemon */
                if (r < 0) {
                        state_store_done(s);
                        return r;
                }
        }
        return 0;
}

static int load_file(const char *dir, const char *name, StateStore *s) {
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        int r;

        r = read_file_in(dir, name, STATE_STORE_MAX_SIZE, &buf, &len);
        if (r < 0)
                return r;
        if (len == 0)
                return -EBADMSG; /* empty: a save that never got its data */
        return state_store_parse(buf, len, s);
}

int state_store_load(const char *dir, StateStore *s, const char **ret_source) {
        int r, q;

        if (ret_source)
                *ret_source = NULL;
        r = load_file(dir, STATE_STORE_FILENAME, s);
        if (r >= 0) {
                if (ret_source)
                        *ret_source = STATE_STORE_FILENAME;
                return r;
        }
        if (r == -EPROTONOSUPPORT)
                return r; /* a newer version's: never ours to replace */
        if (r != -ENOENT)
                /* kept for whoever wants to look; it would otherwise become state.prev at the next save */
                (void) file_set_aside(dir, STATE_STORE_FILENAME, STATE_STORE_DAMAGED_FILENAME);
        q = load_file(dir, STATE_STORE_LAST_FILENAME, s);
        if (q >= 0) {
                if (ret_source)
                        *ret_source = STATE_STORE_LAST_FILENAME;
                return q;
        }
        state_store_done(s);
        return q == -EPROTONOSUPPORT ? q : -ENOENT;
}

int state_store_save(const char *dir, const StateStore *s) {
        _cleanup_free_ char *text = NULL;
        size_t len;
        int r;

        if (!dir || !dir[0])
                return -EINVAL;
        r = state_store_format(s, &text, &len);
        if (r < 0)
                return r;
        /* the file it replaces stays as state.prev: the last good copy that load falls back to */
        return write_file_atomic(dir, STATE_STORE_FILENAME, text, len, true);
}

int state_store_check_directory(const char *dir) {
        _cleanup_free_ char *parent = NULL;
        struct stat st;
        char *slash;

        if (!dir || dir[0] != '/')
                return -EINVAL;
        if (stat(dir, &st) >= 0) {
                if (!S_ISDIR(st.st_mode))
                        return -ENOTDIR;
                return access(dir, W_OK | X_OK) < 0 ? -errno : 0;
        }
        if (errno != ENOENT)
                return -errno;

        /* state_store_save() makes the last level only. */
        parent = strdup(dir);
        if (!parent)
                return -ENOMEM;
        while ((slash = strrchr(parent, '/')) && slash[1] == '\0' && slash != parent)
                *slash = '\0'; /* trailing slashes */
        slash = strrchr(parent, '/');
        slash[slash == parent ? 1 : 0] = '\0';
        if (stat(parent, &st) < 0)
                return -errno;
        if (!S_ISDIR(st.st_mode))
                return -ENOTDIR;
        return access(parent, W_OK | X_OK) < 0 ? -errno : 0;
}
