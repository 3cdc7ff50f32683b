/* SPDX-License-Identifier: MIT */
/* What the simulated peripherals do: their GATT database, their clocks, sequence numbers and step
 * counters, and the bytes they notify (our own encoders, written against the published layouts,
 * so that the decoders are cross-checked by an independent implementation). */

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "macro.h"
#include "sim.h"

#define SIG(x) "0000" x "-0000-1000-8000-00805f9b34fb"
#define ORPHE_INFO_SERVICE_UUID "01a9d6b5-ff6e-444a-b266-0be75e85c064"
#define ORPHE_DEVICE_INFO_UUID "24354f22-1c46-430e-a4ab-a1eeabbcdfc0"
#define ORPHE_OTHER_SERVICE_UUID "db1b7aca-cda5-4453-a49b-33a53d3f0833"
#define ORPHE_SENSOR_VALUES_UUID "f3f9c7ce-46ee-4205-89ac-abe64e626c0f"
#define ORPHE_FRAME_SIZE 104
#define ORPHE_PERIOD_US 10000
#define OIP_NEWTON_PER_COUNT 0.1f
#define ORPHE_COUNTS_PER_NEWTON 5.0
/* Ukaton Mission (zakaton/ukaton-mission-firmware, docs/decoders.md) */
#define UKATON_SERVICE_UUID "5691eddf-0000-4420-b7a5-bb8751ab5181"
#define UKATON_STEPS_UUID "5691eddf-c002-4420-b7a5-bb8751ab5181"
#define UKATON_CONFIG_UUID "5691eddf-6001-4420-b7a5-bb8751ab5181"
#define UKATON_DATA_UUID "5691eddf-6002-4420-b7a5-bb8751ab5181"
#define UKATON_COUNTS_PER_NEWTON 4.0

static const char *const kind_names[_DEVICE_KIND_MAX] = {
        [DEVICE_OIP] = "oip",
        [DEVICE_RSC] = "rsc",
        [DEVICE_ORPHE] = "orphe",
        [DEVICE_UKATON] = "ukaton",
};

const char *device_kind_to_string(DeviceKind k) {
        return k >= 0 && k < _DEVICE_KIND_MAX ? kind_names[k] : NULL;
}

DeviceKind device_kind_from_string(const char *s) {
        for (DeviceKind k = 0; k < _DEVICE_KIND_MAX; k++)
                if (streq(s, kind_names[k]))
                        return k;
        return _DEVICE_KIND_INVALID;
}

bool address_is_valid(const char *s) {
        if (strlen(s) != 17)
                return false;
        for (int i = 0; i < 17; i++) {
                if (i % 3 == 2) {
                        if (s[i] != ':')
                                return false;
                } else if (!strchr("0123456789ABCDEFabcdef", s[i]))
                        return false;
        }
        return true;
}

static uint64_t mix(uint64_t x) {
        x += 0x9e3779b97f4a7c15ULL;
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
}

static uint64_t address_hash(const char *a) {
        uint64_t h = 1469598103934665603ULL;
        for (; *a; a++)
                h = (h ^ (uint8_t) *a) * 1099511628211ULL;
        return h;
}

static SimService *add_service(SimDevice *d, const char *uuid, uint16_t *handle) {
        SimService *s = &d->services[d->n_services++];
        *s = (SimService) { .device = d, .uuid = uuid, .handle = *handle };
        snprintf(s->path, sizeof(s->path), "%s/service%04x", d->path, *handle);
        (*handle)++;
        return s;
}

static SimChar *add_char(SimService *s, CharRole role, const char *uuid, unsigned flags, uint16_t *handle) {
        SimChar *c = &s->chars[s->n_chars++];
        *c = (SimChar) { .service = s, .role = role, .uuid = uuid, .flags = flags, .handle = *handle, .acquired_fd = -1 };
        snprintf(c->path, sizeof(c->path), "%s/char%04x", s->path, *handle);
        /* declaration, value, and a CCCD for notifiable characteristics */
        *handle += (flags & (CHAR_F_NOTIFY | CHAR_F_INDICATE)) ? 3 : 2;
        return c;
}

static void build_gatt(SimDevice *d) {
        uint16_t h = 0x000a;
        SimService *s;
        switch (d->kind) {
        case DEVICE_OIP:
                s = add_service(d, OIP_SERVICE_UUID, &h);
                add_char(s, CHAR_OIP_FRAME, OIP_PRESSURE_FRAME_UUID, CHAR_F_NOTIFY, &h);
                add_char(s, CHAR_OIP_LAYOUT, OIP_SENSOR_LAYOUT_UUID, CHAR_F_READ, &h);
                add_char(s, CHAR_OIP_STEPS, OIP_STEP_COUNTER_UUID, CHAR_F_READ | CHAR_F_NOTIFY, &h);
                add_char(s, CHAR_OIP_CONTROL, OIP_CONTROL_POINT_UUID, CHAR_F_WRITE, &h);
                break;
        case DEVICE_RSC:
                s = add_service(d, SIG("1814"), &h);
                add_char(s, CHAR_RSC_MEASUREMENT, SIG("2a53"), CHAR_F_NOTIFY, &h);
                add_char(s, CHAR_RSC_FEATURE, SIG("2a54"), CHAR_F_READ, &h);
                add_char(s, CHAR_RSC_LOCATION, SIG("2a5d"), CHAR_F_READ, &h);
                break;
        case DEVICE_ORPHE:
                s = add_service(d, ORPHE_INFO_SERVICE_UUID, &h);
                add_char(s, CHAR_ORPHE_INFO, ORPHE_DEVICE_INFO_UUID, CHAR_F_READ | CHAR_F_WRITE, &h);
                s = add_service(d, ORPHE_OTHER_SERVICE_UUID, &h);
                add_char(s, CHAR_ORPHE_VALUES, ORPHE_SENSOR_VALUES_UUID, CHAR_F_NOTIFY, &h);
                return; /* battery is in its advertisement */
        case DEVICE_UKATON:
                s = add_service(d, UKATON_SERVICE_UUID, &h);
                add_char(s, CHAR_UKATON_STEPS, UKATON_STEPS_UUID, CHAR_F_READ | CHAR_F_NOTIFY, &h);
                add_char(s, CHAR_UKATON_CONFIG, UKATON_CONFIG_UUID, CHAR_F_READ | CHAR_F_WRITE, &h);
                add_char(s, CHAR_UKATON_DATA, UKATON_DATA_UUID, CHAR_F_NOTIFY, &h);
                break;
        default:
                return;
        }
        h = (uint16_t) ((h + 0x0f) & ~0x0f);
        s = add_service(d, SIG("180f"), &h);
        add_char(s, CHAR_BATTERY_LEVEL, SIG("2a19"), CHAR_F_READ | CHAR_F_NOTIFY, &h);
        h = (uint16_t) ((h + 0x0f) & ~0x0f);
        s = add_service(d, SIG("180a"), &h);
        add_char(s, CHAR_DIS_MANUFACTURER, SIG("2a29"), CHAR_F_READ, &h);
        add_char(s, CHAR_DIS_MODEL, SIG("2a24"), CHAR_F_READ, &h);
        add_char(s, CHAR_DIS_FIRMWARE, SIG("2a26"), CHAR_F_READ, &h);
        add_char(s, CHAR_DIS_HARDWARE, SIG("2a27"), CHAR_F_READ, &h);
}

static SimChar *find_char(SimDevice *d, CharRole role) {
        for (size_t s = 0; s < d->n_services; s++)
                for (size_t i = 0; i < d->services[s].n_chars; i++)
                        if (d->services[s].chars[i].role == role)
                                return &d->services[s].chars[i];
        return NULL;
}

static uint64_t wearer_foot_steps(Wearer *w, FootSide side) {
        if (!w)
                return 0;
        return w->replay ? w->replay_steps[side] : gait_model_steps(w->model, side);
}

static void device_boot(SimDevice *d, uint64_t now) {
        uint64_t h = mix(d->sim->opt.seed ^ address_hash(d->address) ^ mix(now + d->connects));
        d->boot_us = now;
        d->boot_id = (uint32_t) h ?: 1;
        /* the device clock starts somewhere in its 32-bit µs range, so that wraps happen */
        d->clock_offset_us = (h >> 32) & 0xffffffffULL;
        d->seq = (uint16_t) (h >> 16);
        d->steps_base = wearer_foot_steps(d->wearer, d->side);
        d->steps_reported = UINT32_MAX;
        /* a footpod's Total Distance starts again at 0 */
        d->rsc_distance_m = 0;
}

int sim_device_new(Sim *sim, DeviceKind kind, const char *address, Wearer *w, FootSide side, SimDevice **ret) {
        if (!address_is_valid(address) || kind < 0 || kind >= _DEVICE_KIND_MAX)
                return -EINVAL;
        if (sim_find_device(sim, address))
                return -EEXIST;
        if (sim->n_devices >= SIM_MAX_DEVICES)
                return -E2BIG;
        SimDevice *d = calloc(1, sizeof(SimDevice));
        if (!d)
                return -ENOMEM;
        d->sim = sim;
        d->kind = kind;
        d->wearer = w;
        d->side = side;
        for (int i = 0; i < 17; i++)
                d->address[i] = (char) (address[i] >= 'a' && address[i] <= 'f' ? address[i] - 32 : address[i]);
        snprintf(d->path, sizeof(d->path), SIM_ADAPTER_PATH "/dev_%s", d->address);
        for (char *p = d->path; *p; p++)
                if (*p == ':')
                        *p = '_';
        switch (kind) {
        case DEVICE_OIP:
                snprintf(d->name, sizeof(d->name), "OIP Insole %c %.2s%.2s", side == FOOT_RIGHT ? 'R' : 'L', d->address + 12,
                         d->address + 15);
                break;
        case DEVICE_RSC:
                snprintf(d->name, sizeof(d->name), "Footpod %.2s%.2s", d->address + 12, d->address + 15);
                break;
        case DEVICE_UKATON:
                snprintf(d->name, sizeof(d->name), "Ukaton Mission %c", side == FOOT_RIGHT ? 'R' : 'L');
                break;
        default:
                snprintf(d->name, sizeof(d->name), "ORPHE INSOLE");
                break;
        }
        d->in_range = true;
        /* bonded: a wearer who paired the insole once, as the gateway requires by default */
        d->paired = true;
        d->rssi = -62;
        d->battery = (uint8_t) (80 + address_hash(d->address) % 21);
        d->rate_hz = d->preferred_rate_hz = sim->opt.rate_hz;
        /* a Ukaton Mission sends nothing until its sensor data is configured */
        d->streaming = !sim->opt.require_start && kind != DEVICE_UKATON;
        snprintf(d->fail_error, sizeof(d->fail_error), "org.bluez.Error.Failed");
        snprintf(d->fail_message, sizeof(d->fail_message), "le-connection-abort-by-local");
        build_gatt(d);
        device_boot(d, 0);
        sim->devices[sim->n_devices++] = d;
        *ret = d;
        return 0;
}

SimDevice *sim_device_free(SimDevice *d) {
        if (!d)
                return NULL;
        for (size_t s = 0; s < d->n_services; s++)
                for (size_t i = 0; i < d->services[s].n_chars; i++) {
                        SimChar *c = &d->services[s].chars[i];
                        sd_event_source_disable_unref(c->acquired_source);
                        safe_close(c->acquired_fd);
                        for (size_t k = 0; k < c->n_sessions; k++)
                                free(c->sessions[k]);
                        sd_bus_slot_unref(c->slot);
                }
        for (size_t s = 0; s < d->n_services; s++)
                sd_bus_slot_unref(d->services[s].slot);
        sd_bus_slot_unref(d->slot);
        sd_bus_slot_unref(d->battery_slot);
        sd_bus_message_unref(d->pending_connect);
        sd_event_source_disable_unref(d->connect_timer);
        sd_event_source_disable_unref(d->resolve_timer);
        sd_event_source_disable_unref(d->expire_timer);
        free(d);
        return NULL;
}

SimDevice *sim_find_device(Sim *sim, const char *address) {
        for (size_t i = 0; i < sim->n_devices; i++)
                if (strcasecmp(sim->devices[i]->address, address) == 0)
                        return sim->devices[i];
        return NULL;
}

Wearer *sim_find_wearer(Sim *sim, const char *name) {
        for (size_t i = 0; i < sim->n_wearers; i++)
                if (streq(sim->wearers[i]->name, name))
                        return sim->wearers[i];
        return NULL;
}

int sim_wearer_new(Sim *sim, const char *name, const GaitModelParams *p, Replay *replay, Wearer **ret) {
        if (sim_find_wearer(sim, name))
                return -EEXIST;
        if (sim->n_wearers >= SIM_MAX_WEARERS || strlen(name) >= sizeof(((Wearer *) NULL)->name))
                return -E2BIG;
        Wearer *w = calloc(1, sizeof(Wearer));
        if (!w)
                return -ENOMEM;
        snprintf(w->name, sizeof(w->name), "%s", name);
        w->replay = replay;
        if (p)
                w->params = *p;
        if (!replay) {
                int r = gait_model_new(&w->params, &w->model);
                if (r < 0) {
                        free(w);
                        return r;
                }
                /* the model's time origin is simulation time 0 */
                for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                        PressureSample s;
                        gait_model_sample(w->model, side, 0, &s);
                }
        }
        sim->wearers[sim->n_wearers++] = w;
        *ret = w;
        return 0;
}

Wearer *sim_wearer_free(Wearer *w) {
        if (!w)
                return NULL;
        gait_model_free(w->model);
        replay_free(w->replay);
        free(w);
        return NULL;
}

uint64_t sim_device_steps(SimDevice *d) {
        uint64_t s = wearer_foot_steps(d->wearer, d->side);
        return s >= d->steps_base ? s - d->steps_base : 0;
}

/* ---- sampling ---- */

static void wearer_sample(Wearer *w, FootSide side, uint64_t t, PressureSample *ret) {
        if (w->replay) {
                size_t idx = (size_t) (t / replay_period_us(w->replay));
                replay_get(w->replay, side, idx, ret);
                ret->t_us = t;
        } else
                gait_model_sample(w->model, side, t, ret);
        if (t > w->last_sample_us[side])
                w->last_sample_us[side] = t;
}

void sim_wearer_advance(Wearer *w, uint64_t now) {
        for (FootSide side = 0; side < _FOOT_SIDE_MAX; side++) {
                if (w->replay) {
                        /* Count steps as the recording walks: a rising edge of contact is a step. */
                        size_t idx = (size_t) (now / replay_period_us(w->replay));
                        if (!w->replay_started[side]) {
                                w->replay_started[side] = true;
                                w->replay_last_index[side] = idx;
                                w->replay_loaded[side] = replay_loaded(w->replay, side, idx);
                                continue;
                        }
                        for (size_t i = w->replay_last_index[side] + 1; i <= idx; i++) {
                                bool loaded = replay_loaded(w->replay, side, i);
                                if (loaded && !w->replay_loaded[side])
                                        w->replay_steps[side]++;
                                w->replay_loaded[side] = loaded;
                        }
                        if (idx > w->replay_last_index[side])
                                w->replay_last_index[side] = idx;
                } else if (now >= w->last_sample_us[side] + 50 * USEC_PER_MSEC) {
                        PressureSample s;
                        wearer_sample(w, side, now / (10 * USEC_PER_MSEC) * (10 * USEC_PER_MSEC), &s);
                }
        }
}

static const InsoleLayout *device_layout(SimDevice *d) {
        if (!d->wearer)
                return NULL;
        if (d->wearer->replay)
                return replay_layout(d->wearer->replay, d->side);
        return gait_model_layout(d->wearer->model, d->side);
}

static uint64_t device_period_us(SimDevice *d) {
        if (d->kind == DEVICE_ORPHE)
                return ORPHE_PERIOD_US;
        if (d->wearer && d->wearer->replay)
                return replay_period_us(d->wearer->replay);
        return USEC_PER_SEC / MAX(d->rate_hz, 1u);
}

static uint64_t device_clock(SimDevice *d, uint64_t sim_us) {
        return sim_us - d->boot_us + d->clock_offset_us;
}

/* ---- encoders ---- */

static void put_le16(uint8_t *p, uint16_t v) {
        p[0] = v & 0xff;
        p[1] = v >> 8;
}

static void put_le32(uint8_t *p, uint32_t v) {
        put_le16(p, v & 0xffff);
        put_le16(p + 2, v >> 16);
}

static void put_be16(uint8_t *p, uint16_t v) {
        p[0] = v >> 8;
        p[1] = v & 0xff;
}

static void put_f32(uint8_t *p, float f) {
        uint32_t u;
        memcpy(&u, &f, sizeof(u));
        put_le32(p, u);
}

static uint16_t to_counts(float value, float scale, float offset) {
        double raw = ((double) value - offset) / scale;
        return (uint16_t) CLAMP(lround(raw), 0L, 65535L);
}

static size_t encode_layout(const InsoleLayout *l, uint8_t *buf) {
        buf[0] = OIP_VERSION;
        buf[1] = (uint8_t) l->side;
        buf[2] = l->n_cells;
        buf[3] = (uint8_t) l->unit;
        put_f32(buf + 4, l->scale);
        put_f32(buf + 8, l->offset);
        for (unsigned i = 0; i < l->n_cells; i++) {
                uint8_t *c = buf + OIP_LAYOUT_HEADER_SIZE + i * OIP_LAYOUT_CELL_SIZE;
                c[0] = (uint8_t) lroundf(CLAMP(l->cells[i].x, 0.0f, 1.0f) * 255);
                c[1] = (uint8_t) lroundf(CLAMP(l->cells[i].y, 0.0f, 1.0f) * 255);
                put_le16(c + 2, (uint16_t) CLAMP(lroundf(l->cells[i].area_mm2), 0L, 65535L));
        }
        return OIP_LAYOUT_HEADER_SIZE + (size_t) l->n_cells * OIP_LAYOUT_CELL_SIZE;
}

/* The layout as the device advertises it: same positions, but in transmitted units. */
static InsoleLayout wire_layout(SimDevice *d) {
        InsoleLayout l = *device_layout(d);
        l.side = d->side;
        if (l.unit == PRESSURE_UNIT_NEWTON)
                l.scale = OIP_NEWTON_PER_COUNT;
        return l;
}

static void malform(SimDevice *d, uint8_t *buf, size_t *len) {
        uint64_t h = mix(d->sim->opt.seed ^ d->frames_malformed ^ address_hash(d->address));
        d->malform--;
        d->frames_malformed++;
        switch (d->malform_kind) {
        case MALFORM_SHORT:
                *len = MIN(*len, (size_t) (d->kind == DEVICE_ORPHE ? 50 : d->kind == DEVICE_RSC ? 2 : 7));
                break;
        case MALFORM_LENGTH:
                if (d->kind == DEVICE_OIP)
                        buf[11] = (uint8_t) (buf[11] + 1); /* more samples than bytes */
                else
                        *len = *len - 1;
                break;
        case MALFORM_VERSION:
                if (d->kind == DEVICE_UKATON)
                        buf[4] = 0x7f; /* a sensor type the firmware does not have */
                else
                        buf[0] = d->kind == DEVICE_ORPHE ? 0x42 : 0x7f;
                break;
        default:
                *len = 1 + h % 60;
                for (size_t i = 0; i < *len; i++)
                        buf[i] = (uint8_t) (mix(h + i) >> 24);
                break;
        }
}

static void oip_emit_frame(SimDevice *d, SimChar *c) {
        Sim *sim = d->sim;
        uint8_t buf[SIM_VALUE_MAX];
        InsoleLayout l = wire_layout(d);
        unsigned n = d->n_pending;
        uint64_t period = device_period_us(d);
        uint32_t t0;

        d->n_pending = 0;
        if (d->lose > 0) {
                /* lost on the air: the sequence number moves on */
                d->lose--;
                d->seq++;
                d->frames_lost++;
                return;
        }
        if (sim->opt.load_mode)
                /* the last sample's time is the send time on CLOCK_MONOTONIC, for latency */
                t0 = (uint32_t) (sim_mono_now() - (n - 1) * period);
        else
                t0 = (uint32_t) device_clock(d, d->pending[0].t_us);

        buf[0] = OIP_VERSION;
        buf[1] = 0;
        put_le16(buf + 2, d->seq);
        put_le32(buf + 4, t0);
        put_le16(buf + 8, (uint16_t) MIN(period, (uint64_t) OIP_MAX_SAMPLE_PERIOD_US));
        buf[10] = l.n_cells;
        buf[11] = (uint8_t) n;
        size_t len = OIP_FRAME_HEADER_SIZE;
        for (unsigned s = 0; s < n; s++)
                for (unsigned i = 0; i < l.n_cells; i++, len += 2)
                        put_le16(buf + len, to_counts(d->pending[s].cell[i], l.scale, l.offset));
        if (d->malform > 0)
                malform(d, buf, &len);
        d->seq++;
        if (sim_char_notify(c, buf, len) > 0)
                d->frames_sent++;
        else
                d->frames_dropped++;
}

static unsigned oip_samples_per_frame(SimDevice *d) {
        const InsoleLayout *l = device_layout(d);
        unsigned cells = l ? l->n_cells : 8;
        unsigned fit = (unsigned) ((d->sim->opt.mtu - 3 - OIP_FRAME_HEADER_SIZE) / (2 * cells));
        unsigned want = d->sim->opt.load_mode ? 1 : d->sim->opt.samples_per_frame;
        unsigned n = MIN(want, fit);
        return CLAMP(n, 1u, (unsigned) OIP_MAX_SAMPLES);
}

static void orphe_emit_frame(SimDevice *d, SimChar *c) {
        uint8_t buf[ORPHE_FRAME_SIZE] = {};
        size_t len = ORPHE_FRAME_SIZE;
        uint64_t ms = device_clock(d, d->pending[0].t_us) / 1000 % (24ULL * 3600 * 1000);

        d->n_pending = 0;
        if (d->lose > 0) {
                d->lose--;
                d->seq++;
                d->frames_lost++;
                return;
        }
        buf[0] = 56; /* 100 Hz, 2 samples: quaternion, gyro, accelerometer, pressure */
        put_be16(buf + 1, d->seq);
        buf[3] = (uint8_t) (ms / 3600000);
        buf[4] = (uint8_t) (ms / 60000 % 60);
        buf[5] = (uint8_t) (ms / 1000 % 60);
        put_be16(buf + 6, (uint16_t) (ms % 1000));
        for (unsigned s = 0; s < 2; s++) {
                uint8_t *p = buf + 8 + s * 32;
                const float *cell = d->pending[s].cell;
                /* our 8 cells folded onto ORPHE's 6 channels (P0 hallux .. P5 lateral heel, as
                 * docs/decoders.md assumes) */
                double ch[6] = {
                        cell[7], cell[4] + 0.5 * cell[5], cell[6] + 0.5 * cell[5], cell[2] + cell[3], cell[0], cell[1],
                };
                put_be16(p, 16384); /* identity quaternion, Q14 */
                put_be16(p + 18, 2048); /* accel z = +1 g at ±16 g full scale */
                for (int k = 0; k < 6; k++)
                        put_be16(p + 20 + 2 * k, (uint16_t) CLAMP(lround(ch[k] * ORPHE_COUNTS_PER_NEWTON), 0L, 65535L));
        }
        if (d->malform > 0)
                malform(d, buf, &len);
        d->seq++;
        if (sim_char_notify(c, buf, len) > 0)
                d->frames_sent++;
        else
                d->frames_dropped++;
}

/* Sends one notification as the device would, malformed if asked to, and counts it. */
static void device_send(SimDevice *d, SimChar *c, uint8_t *buf, size_t len) {
        if (d->malform > 0)
                malform(d, buf, &len);
        if (sim_char_notify(c, buf, len) > 0)
                d->frames_sent++;
        else
                d->frames_dropped++;
}

/* One notification per reading: u16 time in ms, an empty motion block, the 12-bit readings of
 * the 16 sensors. Our 8 cells spread onto them by position (heel 0/1, midfoot 2/3, metatarsal
 * heads 4-6, hallux 7; the Ukaton's 0/1 toes .. 14/15 heel). */
static void ukaton_emit_frame(SimDevice *d, SimChar *c) {
        const float *cell = d->pending[0].cell;
        const double sensor[16] = {
                0.7 * cell[7], 0.3 * cell[7], cell[4], 0.5 * cell[5], cell[6], 0.5 * cell[4], 0.5 * cell[5],
                0.5 * cell[6], cell[2], cell[3], 0.5 * cell[2], 0.5 * cell[3], 0.5 * cell[0], 0.5 * cell[1],
                cell[0], cell[1],
        };
        uint8_t buf[2 + 2 + 3 + 32];
        size_t len = sizeof(buf);

        put_le16(buf, (uint16_t) (device_clock(d, d->pending[0].t_us) / 1000));
        d->n_pending = 0;
        if (d->lose > 0) {
                d->lose--;
                d->frames_lost++;
                return;
        }
        buf[2] = 0; /* motion: nothing configured */
        buf[3] = 0;
        buf[4] = 1; /* pressure: 33 bytes, the 12-bit readings */
        buf[5] = 33;
        buf[6] = 1;
        for (int k = 0; k < 16; k++)
                put_le16(buf + 7 + 2 * k, (uint16_t) CLAMP(lround(sensor[k] * UKATON_COUNTS_PER_NEWTON), 0L, 4095L));
        device_send(d, c, buf, len);
}

static void rsc_motion(SimDevice *d, bool *ret_running, double *ret_speed, double *ret_cadence) {
        GaitMode mode = d->wearer && d->wearer->model ? gait_model_current_mode(d->wearer->model, FOOT_LEFT) : GAIT_MODE_WALKING;
        const GaitModelParams *p = d->wearer && d->wearer->model ? gait_model_get_params(d->wearer->model) : NULL;
        bool running = mode == GAIT_MODE_RUNNING;
        bool moving = running || mode == GAIT_MODE_WALKING || mode == GAIT_MODE_TOE_WALKING;

        *ret_running = running;
        *ret_speed = *ret_cadence = 0;
        if (moving) {
                *ret_speed = p && p->speed_m_s > 0 ? p->speed_m_s : running ? 3.0 : 1.3;
                *ret_cadence = p && p->cadence_spm > 0 ? p->cadence_spm : running ? 165 : 105;
        }
}

/* A footpod counts its Total Distance whether or not anyone listens (out of range, between two
 * gateways' rooms): two simulators playing the same person agree on it, like the insoles'
 * step counters. */
static void rsc_advance(SimDevice *d, uint64_t now) {
        bool running;
        double speed, cadence;

        rsc_motion(d, &running, &speed, &cadence);
        if (d->last_rsc_us > 0 && now > d->last_rsc_us)
                d->rsc_distance_m += speed * (double) (now - d->last_rsc_us) / 1e6;
        d->last_rsc_us = now;
}

static void rsc_emit(SimDevice *d, SimChar *c, uint64_t now) {
        bool running;
        double speed, cadence;

        rsc_motion(d, &running, &speed, &cadence);
        uint8_t buf[16];
        size_t len = 10;
        buf[0] = 0x01 | 0x02 | (running ? 0x04 : 0);
        put_le16(buf + 1, (uint16_t) lround(speed * 256));
        buf[3] = (uint8_t) MIN(lround(cadence), 255L); /* total steps per minute, both feet */
        put_le16(buf + 4, (uint16_t) (cadence > 0 ? lround(speed / (cadence / 120.0) * 100) : 0));
        put_le32(buf + 6, (uint32_t) llround(d->rsc_distance_m * 10));
        if (d->lose > 0) {
                d->lose--;
                d->frames_lost++;
                return;
        }
        device_send(d, c, buf, len);
}

void sim_device_refresh_values(SimDevice *d) {
        uint8_t buf[SIM_VALUE_MAX];
        SimChar *c;

        if ((c = find_char(d, CHAR_OIP_LAYOUT)) && device_layout(d)) {
                InsoleLayout l = wire_layout(d);
                sim_char_set_value(c, buf, encode_layout(&l, buf));
        }
        if ((c = find_char(d, CHAR_OIP_STEPS))) {
                buf[0] = OIP_VERSION;
                buf[1] = 0;
                put_le32(buf + 2, (uint32_t) sim_device_steps(d));
                put_le32(buf + 6, d->boot_id);
                sim_char_set_value(c, buf, OIP_STEP_COUNTER_SIZE);
        }
        if ((c = find_char(d, CHAR_UKATON_STEPS))) {
                put_le32(buf, (uint32_t) sim_device_steps(d));
                sim_char_set_value(c, buf, 4);
        }
        if ((c = find_char(d, CHAR_BATTERY_LEVEL)))
                sim_char_set_value(c, &d->battery, 1);
        /* A footpod answers like a real one: its maker's name padded with NULs, as many firmwares do. */
        if ((c = find_char(d, CHAR_DIS_MANUFACTURER))) {
                if (d->kind == DEVICE_RSC)
                        sim_char_set_value(c, (const uint8_t *) "Simulated Footpods Ltd\0\0", 24);
                else
                        sim_char_set_value(c, (const uint8_t *) "insole2mqtt simulator", 21);
        }
        if ((c = find_char(d, CHAR_DIS_MODEL)))
                sim_char_set_value(c, (const uint8_t *) (d->kind == DEVICE_RSC ? "RSC-1" : "OIP-8"), 5);
        if ((c = find_char(d, CHAR_DIS_FIRMWARE)))
                sim_char_set_value(c, (const uint8_t *) "1.0.0", 5);
        if ((c = find_char(d, CHAR_DIS_HARDWARE)))
                sim_char_set_value(c, (const uint8_t *) "rev B", 5);
        if ((c = find_char(d, CHAR_RSC_FEATURE))) {
                put_le16(buf, 0x0007); /* stride length, total distance, walking/running */
                sim_char_set_value(c, buf, 2);
        }
        if ((c = find_char(d, CHAR_RSC_LOCATION))) {
                buf[0] = 2; /* in shoe */
                sim_char_set_value(c, buf, 1);
        }
        if ((c = find_char(d, CHAR_ORPHE_INFO)) && c->value_len == 0) {
                memset(buf, 0, 20);
                buf[0] = d->battery;
                buf[1] = d->side == FOOT_RIGHT ? 1 : 0;
                sim_char_set_value(c, buf, 20);
        }
}

int sim_device_write(SimDevice *d, SimChar *c, const uint8_t *data, size_t len) {
        switch (c->role) {
        case CHAR_OIP_CONTROL:
                if (len == 3 && data[0] == OIP_CP_START) {
                        unsigned rate = data[1] | (data[2] << 8);
                        /* 0: the insole's own rate, unless it emulates one from before rate 0 */
                        if (rate == 0 && !d->sim->opt.legacy_control)
                                rate = d->preferred_rate_hz;
                        if (rate < 10 || rate > 400)
                                return -EBADMSG;
                        /* below 16 Hz the period does not fit the frame's u16 field: the device
                         * streams at the slowest rate it can describe */
                        d->rate_hz = MAX(rate, SIM_MIN_RATE_HZ);
                        d->streaming = true;
                        sim_device_start_session(d);
                        return 0;
                }
                if (len == 1 && data[0] == OIP_CP_STOP) {
                        d->streaming = false;
                        return 0;
                }
                return -EBADMSG;
        case CHAR_ORPHE_INFO:
                sim_char_set_value(c, data, len);
                return 0;
        case CHAR_UKATON_CONFIG:
                /* [sensor type, size, (data type, u16 delay ms)...]: we follow the 12-bit pressure
                 * readings' delay (the firmware rounds it down to 10 ms steps) */
                for (size_t p = 0; p + 2 <= len; p += 2 + data[p + 1]) {
                        if (data[p] > 1 || p + 2 + data[p + 1] > len || data[p + 1] % 3 != 0)
                                return -EBADMSG;
                        for (size_t e = p + 2; data[p] == 1 && e + 3 <= p + 2 + data[p + 1]; e += 3) {
                                unsigned delay = (data[e + 1] | (data[e + 2] << 8)) / 10 * 10;
                                if (data[e] != 1)
                                        continue;
                                d->streaming = delay > 0;
                                if (delay > 0) {
                                        d->rate_hz = MAX(1000 / delay, (unsigned) SIM_MIN_RATE_HZ);
                                        sim_device_start_session(d);
                                }
                        }
                }
                sim_char_set_value(c, data, len);
                return 0;
        default:
                return -EBADMSG;
        }
}

static uint64_t device_frame_us(SimDevice *d) {
        unsigned spf = d->kind == DEVICE_ORPHE ? 2 : d->kind == DEVICE_OIP ? oip_samples_per_frame(d) : 1;
        return device_period_us(d) * spf;
}

void sim_device_start_session(SimDevice *d) {
        /* samples and frames on a fixed grid of simulation time, so that a seed gives the same
         * frames whenever the client subscribes */
        uint64_t frame = device_frame_us(d);
        d->next_sample_us = (sim_now(d->sim) / frame + 1) * frame;
        d->n_pending = 0;
        d->next_rsc_us = d->next_sample_us;
}

void sim_device_tick(SimDevice *d, uint64_t now) {
        SimChar *c;

        if ((d->kind == DEVICE_OIP && (c = find_char(d, CHAR_OIP_STEPS))) ||
            (d->kind == DEVICE_UKATON && (c = find_char(d, CHAR_UKATON_STEPS)))) {
                uint32_t steps = (uint32_t) sim_device_steps(d);
                if (steps != d->steps_reported && d->connected) {
                        d->steps_reported = steps;
                        sim_device_refresh_values(d);
                        if (sim_char_notifying(c))
                                (void) sim_char_notify(c, c->value, c->value_len);
                }
        }

        if (d->kind == DEVICE_RSC)
                rsc_advance(d, now);

        CharRole stream = d->kind == DEVICE_OIP      ? CHAR_OIP_FRAME
                          : d->kind == DEVICE_ORPHE  ? CHAR_ORPHE_VALUES
                          : d->kind == DEVICE_UKATON ? CHAR_UKATON_DATA
                                                     : CHAR_RSC_MEASUREMENT;
        c = find_char(d, stream);
        if (!c || !d->connected || !sim_char_notifying(c) ||
            ((d->kind == DEVICE_OIP || d->kind == DEVICE_UKATON) && !d->streaming)) {
                d->n_pending = 0;
                d->burst = 0;
                d->burst_hold_until_us = 0;
                return;
        }

        if (d->kind == DEVICE_RSC) {
                if (now >= d->next_rsc_us) {
                        rsc_emit(d, c, now);
                        d->next_rsc_us = now + USEC_PER_SEC;
                }
                return;
        }
        if (!d->wearer || !device_layout(d))
                return;

        uint64_t period = device_period_us(d);
        unsigned spf = d->kind == DEVICE_ORPHE ? 2 : d->kind == DEVICE_UKATON ? 1 : oip_samples_per_frame(d);
        if (d->burst > 0) {
                /* A burst: the device holds its frames back for `burst` frame periods, then
                 * flushes them back to back (correct times and sequence numbers). */
                d->burst_hold_until_us = now + (uint64_t) d->burst * spf * period;
                d->burst = 0;
        }
        if (d->burst_hold_until_us > 0) {
                if (now < d->burst_hold_until_us)
                        return;
                d->burst_hold_until_us = 0;
        } else if (d->next_sample_us + 2 * USEC_PER_SEC < now) {
                /* Never build a backlog otherwise: a device that could not send does not queue. */
                d->next_sample_us = now / (spf * period) * (spf * period);
                d->n_pending = 0;
        }
        while (d->next_sample_us <= now) {
                wearer_sample(d->wearer, d->side, d->next_sample_us, &d->pending[d->n_pending++]);
                d->next_sample_us += period;
                if (d->n_pending >= spf) {
                        if (d->kind == DEVICE_ORPHE)
                                orphe_emit_frame(d, c);
                        else if (d->kind == DEVICE_UKATON)
                                ukaton_emit_frame(d, c);
                        else
                                oip_emit_frame(d, c);
                }
        }
}

void sim_device_reboot(SimDevice *d) {
        device_boot(d, sim_now(d->sim));
}
