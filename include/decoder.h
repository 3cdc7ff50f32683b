/* SPDX-License-Identifier: MIT */
#pragma once

/* The decoder registry: one const Decoder per device family (daemon/decoders/<family>.c), all listed
 * once in daemon/decoders/decoders.h. A Decoder names its GATT service and the characteristics it
 * consumes. For every value a device sends, decoder_read() decodes the bytes with the family's
 * pure decode function (its typed records live in daemon/decoders/decoder-records.h, for the
 * decoder tools and tests) and hands the rest of the gateway the family-neutral readings below
 * through a ReadingSink: pressure samples with device time, a step counter, battery, motion
 * (cadence/speed/stride/distance), device information, a sensor layout. Nothing outside
 * daemon/decoders/ needs to know which family a device belongs to.
 *
 * Decoders never allocate, log, read a clock or do I/O, and never trust a length that a device
 * sends. The per-device DecoderState (sequence and clock unwrapping, the foot it is on) belongs to
 * whoever calls decoder_read() once per notification (the wearer's device in core).
 *
 *     static const ReadingSink sink = { .pressure = on_pressure, .battery = on_battery, ... };
 *     const DecoderCharacteristic *c = decoder_find_characteristic(char_uuid, NULL);
 *     int r = decoder_read(c, &dev->decoder_state, &dev->decoder_stats, value, len, &sink, dev);
 *     if (r < 0) ...   // a DecodeResult: decode_result_to_string(r) for the log; already counted
 *
 * Device-specific commands come from the family too: a characteristic of role CONTROL has a
 * start_command hook that encodes the bytes to write once the stream is subscribed.
 *
 * docs/decoders.md documents every family, its records and their JSON form, and how to add one. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "insole.h"

/* "0000xxxx-0000-1000-8000-00805f9b34fb" plus NUL */
#define DECODER_UUID_STRING_MAX 37

/* Normalises "2a53", "0x2A53", "00002a53", "00002A53-0000-1000-8000-00805F9B34FB" (and the same
 * with surrounding whitespace) to the lower-case 36-character form in ret (at least
 * DECODER_UUID_STRING_MAX bytes). Returns 0, or -EINVAL if s is no UUID. */
int decoder_uuid_normalize(const char *s, char ret[static DECODER_UUID_STRING_MAX]);

/* ---- Results -------------------------------------------------------------------------------- */

/* What decoder_decode() returns on rejection. The values lie far below any -errno, so a caller
 * that mixes them with -errno in one int can tell them apart (decode_result_is_error()). */
typedef enum DecodeResult {
        DECODE_OK = 0,
        DECODE_ERR_TOO_SHORT    = -10001, /* fewer bytes than the fixed header or the flags require */
        DECODE_ERR_BAD_LENGTH   = -10002, /* length disagrees with the self-described length */
        DECODE_ERR_BAD_CHECKSUM = -10003, /* reserved for formats with a checksum */
        DECODE_ERR_IMPLAUSIBLE  = -10004, /* field outside its defined range (battery 101 %, 0 cells, ...) */
        DECODE_ERR_UNSUPPORTED  = -10005, /* unknown protocol version / header / op code */
} DecodeResult;

#define _DECODE_ERR_FIRST DECODE_ERR_UNSUPPORTED
#define _DECODE_ERR_LAST DECODE_ERR_TOO_SHORT

static inline bool decode_result_is_error(int r) {
        return r >= _DECODE_ERR_FIRST && r <= _DECODE_ERR_LAST;
}
/* "ok", "too short", "bad length", "bad checksum", "implausible value", "unsupported version",
 * or NULL for anything else. */
const char *decode_result_to_string(int r);

/* ---- Neutral readings ------------------------------------------------------------------------ */

/* The most samples one value carries (every family's frames fit). */
#define DECODER_MAX_SAMPLES 40

typedef enum DeviceInfoField {
        DEVICE_INFO_MANUFACTURER,
        DEVICE_INFO_MODEL,
        DEVICE_INFO_SERIAL,
        DEVICE_INFO_HARDWARE_REVISION,
        DEVICE_INFO_FIRMWARE_REVISION,
        DEVICE_INFO_SOFTWARE_REVISION,
        _DEVICE_INFO_FIELD_MAX,
        _DEVICE_INFO_FIELD_INVALID = -1,
} DeviceInfoField;
/* "manufacturer", "model", "serial", "hardware_revision", "firmware_revision", "software_revision" */
const char *device_info_field_to_string(DeviceInfoField f);

#define DEVICE_INFO_STRING_MAX 64
/* A bounded copy: at most DEVICE_INFO_STRING_MAX bytes are kept (longer values are truncated, a
 * trailing NUL padding is dropped, embedded NULs end the string). The bytes are device-provided and
 * untrusted: escape before logging (log_escape) and never use them in topics or file names. */
typedef struct DeviceInfoString {
        DeviceInfoField field;
        uint8_t len;                          /* bytes in value, without the NUL */
        bool truncated;
        char value[DEVICE_INFO_STRING_MAX + 1]; /* NUL-terminated, no embedded NUL */
} DeviceInfoString;

/* Speed, cadence, stride and distance of a footpod (or anything that measures them), in SI units. */
typedef struct MotionReading {
        bool running;            /* flags bit 2: 0 walking, 1 running */
        float speed_m_s;         /* raw u16 / 256 */
        uint8_t cadence_per_min; /* steps per minute as the sensor reports it (Garmin: L+R total) */
        bool has_stride_length;
        float stride_length_m;   /* raw u16 / 100 */
        bool has_total_distance;
        uint32_t total_distance_dm; /* raw, 1/10 m: exact, for reconciliation (MotionAccumulator) */
        double total_distance_m;    /* raw / 10 */
} MotionReading;

/* Pressure samples of one notification. Times are the device's clock, unwrapped (monotonic per
 * device). Cell values are raw: apply the device's layout (scale, offset) for its unit. */
typedef struct PressureReading {
        const PressureSample *samples;
        size_t n_samples;
        uint32_t lost_frames;  /* notifications missing before this one (sequence gaps) */
        bool clock_restarted;  /* the device clock went backwards (reboot): time was re-based */
} PressureReading;

/* Where a family's readings go. Every member may be NULL (not interested). userdata is the
 * caller's, passed to decoder_read(). */
typedef struct ReadingSink {
        /* The device's sensor map. is_default: the family's assumed map for this foot (the device
         * reports none); a map the device reported wins over it. */
        void (*layout)(void *userdata, const InsoleLayout *layout, bool is_default);
        void (*pressure)(void *userdata, const PressureReading *p);
        /* The device's own cumulative counter and the boot it belongs to (0 if the format has none):
         * reconcile before counting (counted once across reconnects and restarts). */
        void (*step_counter)(void *userdata, uint32_t steps, uint32_t boot_id);
        void (*battery)(void *userdata, uint8_t percent);
        void (*motion)(void *userdata, const MotionReading *m);
        void (*device_info)(void *userdata, const DeviceInfoString *s);
} ReadingSink;

/* ---- Per-device state and counters ------------------------------------------------------- */

/* Sequence / clock tracking of one stream. */
typedef struct DecoderSequence {
        bool valid;              /* the clock fields below are set */
        bool seq_valid;          /* last_seq is set (cleared by decoder_state_link_reset()) */
        uint16_t last_seq;
        uint32_t last_raw_time;  /* format's raw clock (us, ms of day, ...) */
        uint64_t time_base;      /* added to the raw clock when unwrapping */
        uint64_t last_end;       /* unwrapped time just after the last frame's last sample */
} DecoderSequence;

/* One per connected device; zero-initialise it (or decoder_state_reset()), then set side. */
typedef struct DecoderState {
        FootSide side;           /* the foot the device is on (_FOOT_SIDE_INVALID: not an insole) */
        DecoderSequence sequence;
        bool default_layout_sent; /* the family's assumed layout went to the sink on this link */
} DecoderState;

/* Forget everything (a new device on this foot). */
void decoder_state_reset(DecoderState *s, FootSide side);
/* After a reconnect: the next frame's sequence gap is not counted as lost (the device stops
 * notifying while disconnected), but the unwrapped clock keeps running monotonically. */
void decoder_state_link_reset(DecoderState *s);

typedef struct DecoderStats {
        uint64_t decoded;
        uint64_t too_short;
        uint64_t bad_length;
        uint64_t bad_checksum;
        uint64_t implausible;
        uint64_t unsupported;
        uint64_t lost_frames;
} DecoderStats;

uint64_t decoder_stats_rejected(const DecoderStats *s);

/* ---- Registry ----------------------------------------------------------------------------- */

typedef enum DecoderRole {
        DECODER_ROLE_STREAM,  /* notify: subscribe, frames arrive continuously */
        DECODER_ROLE_STATIC,  /* read once after connecting */
        DECODER_ROLE_COUNTER, /* cumulative: read after connecting, then notify */
        DECODER_ROLE_CONTROL, /* the gateway writes commands (decoding is for captures/tests) */
        _DECODER_ROLE_MAX,
        _DECODER_ROLE_INVALID = -1,
} DecoderRole;

const char *decoder_role_to_string(DecoderRole r); /* "stream", "static", "counter", "control" */

/* The typed record of a family (daemon/decoders/decoder-records.h). */
typedef struct DecodedRecord DecodedRecord;
typedef struct JsonWriter JsonWriter;

typedef int (*DecodeFunc)(DecoderState *state, const uint8_t *data, size_t len, DecodedRecord *ret);
/* Turns a decoded record into neutral readings. state is the device's (never NULL). */
typedef void (*EmitFunc)(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata);
/* The command that starts the stream: rate_hz is what the wearer asked for (0: the device's own
 * rate); attempt counts the device's refusals of earlier commands on this link (0 first). Returns
 * the number of bytes written to buf, or -ENODATA when there is nothing (more) to try. */
typedef int (*StartCommandFunc)(uint16_t rate_hz, unsigned attempt, uint8_t *buf, size_t size);

typedef struct DecoderCharacteristic {
        const char *uuid;     /* normalised, lower case */
        const char *name;     /* "step_counter": names the value in logs and tools */
        DecoderRole role;
        bool required;        /* the service is not usable without it */
        int record;           /* its RecordKind (decoder-records.h) */
        DecodeFunc decode;
        EmitFunc emit;                   /* NULL: nothing for the gateway (captures only) */
        StartCommandFunc start_command;  /* CONTROL only */
        /* The JSON fields of a RECORD_OWN record (decode-cli, docs/decoders.md). */
        void (*own_to_json)(const DecodedRecord *rec, JsonWriter *w);
} DecoderCharacteristic;

typedef struct Decoder {
        const char *name;         /* the family's short name, as decode-cli and docs/decoders.md use it */
        const char *description;
        const char *service_uuid; /* normalised, lower case */
        const DecoderCharacteristic *characteristics;
        size_t n_characteristics;
        bool pressure;            /* yields pressure samples for the gait engine */
        /* What a device advertising the service is, for the auto-discovery log ("footpod");
         * NULL: the service makes nothing an insole or footpod (battery, device information). */
        const char *noun;
} Decoder;

extern const Decoder *const decoder_registry[];
extern const size_t decoder_registry_size;

/* uuid in any form decoder_uuid_normalize() accepts; NULL if unknown. */
const Decoder *decoder_find_by_service(const char *uuid);
const Decoder *decoder_find_by_name(const char *name);
/* Looks through every decoder; ret_decoder (may be NULL) gets the owner. */
const DecoderCharacteristic *decoder_find_characteristic(const char *char_uuid, const Decoder **ret_decoder);

/* Decodes one value of c and hands its readings to sink (may be NULL: decode and count only).
 * stats (may be NULL) counts the result. Returns 0 or a DecodeResult error. */
int decoder_read(const DecoderCharacteristic *c, DecoderState *state, DecoderStats *stats, const uint8_t *data,
                 size_t len, const ReadingSink *sink, void *userdata);

/* ---- Footpod accumulation ------------------------------------------------------------------ */

/* Steps from cadence over time (footpods without a step counter) and distance reconciled across
 * reconnects from Total Distance (or integrated from speed when the footpod sends none). Pure: the
 * caller passes the receive time. */
typedef struct MotionAccumulator {
        bool have_last;
        uint64_t last_time_us;
        float last_cadence_per_min;
        float last_speed_m_s;
        double steps;             /* fractional */
        double distance_m;
        bool have_total;
        uint32_t last_total_dm;
} MotionAccumulator;

/* Longest gap between two measurements that is still integrated (longer = link loss). */
#define MOTION_MAX_INTEGRATION_GAP_USEC (5 * 1000000ULL)

void motion_accumulator_init(MotionAccumulator *a);
void motion_accumulator_feed(MotionAccumulator *a, const MotionReading *m, uint64_t time_us);
/* The link dropped: do not integrate across the gap; Total Distance is reconciled on the next
 * measurement (a device that restarted from 0 does not subtract). */
void motion_accumulator_link_lost(MotionAccumulator *a);
uint64_t motion_accumulator_steps(const MotionAccumulator *a);
double motion_accumulator_distance_m(const MotionAccumulator *a);

/* Total Distance is a u32 in 1/10 m: it wraps after 429 496 km. A total below the last one is a
 * wrap when the forward difference modulo 2^32 is at most this much, otherwise a counter reset. */
#define MOTION_TOTAL_WRAP_MAX_DM 1000000u /* 100 km */
/* The footpod's Total Distance as last accounted for, to persist across our restarts (returns
 * false while none was seen), and to restore it: the next measurement then adds only what was
 * walked since, or its whole total after a reset. */
bool motion_accumulator_get_total(const MotionAccumulator *a, uint32_t *ret_total_dm);
void motion_accumulator_set_total(MotionAccumulator *a, uint32_t total_dm);
