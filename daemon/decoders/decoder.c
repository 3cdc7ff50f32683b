/* SPDX-License-Identifier: MIT */
/* The registry, UUID handling, result strings, per-device state and counters. */

#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "decoders.h"
#include "macro.h"

#define DECL(x) &decoder_##x,
const Decoder *const decoder_registry[] = { DECODERS };
#undef DECL
const size_t decoder_registry_size = ELEMENTSOF(decoder_registry);

static const char sig_base_suffix[] = "-0000-1000-8000-00805f9b34fb";

int decoder_uuid_normalize(const char *s, char ret[static DECODER_UUID_STRING_MAX]) {
        char hex[33];
        size_t n = 0, len;

        if (!s)
                return -EINVAL;

        while (isspace((unsigned char) *s))
                s++;
        len = strlen(s);
        while (len > 0 && isspace((unsigned char) s[len - 1]))
                len--;
        if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                s += 2;
                len -= 2;
        }

        if (len == 4 || len == 8) {
                /* 16- or 32-bit short form: expand with the Bluetooth base UUID. */
                for (size_t i = 0; i < len; i++) {
                        if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                }
                size_t pad = 8 - len;
                memset(ret, '0', pad);
                for (size_t i = 0; i < len; i++)
                        ret[pad + i] = (char) tolower((unsigned char) s[i]);
                memcpy(ret + 8, sig_base_suffix, sizeof(sig_base_suffix));
                return 0;
        }

        if (len == 36) {
                for (size_t i = 0; i < 36; i++) {
                        bool dash_pos = i == 8 || i == 13 || i == 18 || i == 23;
                        if (dash_pos != (s[i] == '-'))
                                return -EINVAL;
                        if (!dash_pos && !isxdigit((unsigned char) s[i]))
                                return -EINVAL;
                }
        } else if (len == 32) {
                for (size_t i = 0; i < 32; i++)
                        if (!isxdigit((unsigned char) s[i]))
                                return -EINVAL;
        } else
                return -EINVAL;

        for (size_t i = 0; i < len; i++)
                if (s[i] != '-')
                        hex[n++] = (char) tolower((unsigned char) s[i]);
        hex[n] = 0;

        /* 8-4-4-4-12 */
        memcpy(ret, hex, 8);
        ret[8] = '-';
        memcpy(ret + 9, hex + 8, 4);
        ret[13] = '-';
        memcpy(ret + 14, hex + 12, 4);
        ret[18] = '-';
        memcpy(ret + 19, hex + 16, 4);
        ret[23] = '-';
        memcpy(ret + 24, hex + 20, 12);
        ret[36] = 0;
        return 0;
}

const char *decode_result_to_string(int r) {
        switch (r) {
        case DECODE_OK:
                return "ok";
        case DECODE_ERR_TOO_SHORT:
                return "too short";
        case DECODE_ERR_BAD_LENGTH:
                return "bad length";
        case DECODE_ERR_BAD_CHECKSUM:
                return "bad checksum";
        case DECODE_ERR_IMPLAUSIBLE:
                return "implausible value";
        case DECODE_ERR_UNSUPPORTED:
                return "unsupported version";
        default:
                return NULL;
        }
}

static const char *const record_kind_table[_RECORD_KIND_MAX] = {
        [RECORD_RSC_MEASUREMENT] = "rsc_measurement",
        [RECORD_RSC_FEATURE] = "rsc_feature",
        [RECORD_SENSOR_LOCATION] = "sensor_location",
        [RECORD_BATTERY_LEVEL] = "battery_level",
        [RECORD_DEVICE_INFO_STRING] = "device_info",
        [RECORD_OIP_PRESSURE_FRAME] = "oip_pressure_frame",
        [RECORD_OIP_SENSOR_LAYOUT] = "oip_sensor_layout",
        [RECORD_OIP_STEP_COUNTER] = "oip_step_counter",
        [RECORD_OIP_CONTROL_COMMAND] = "oip_control_command",
        [RECORD_ORPHE_FRAME] = "orphe_frame",
        [RECORD_UKATON_STEPS] = "ukaton_steps",
        [RECORD_OWN] = "own",
};

const char *record_kind_to_string(RecordKind k) {
        if (k < 0 || k >= _RECORD_KIND_MAX)
                return NULL;
        return record_kind_table[k];
}

static const char *const role_table[_DECODER_ROLE_MAX] = {
        [DECODER_ROLE_STREAM] = "stream",
        [DECODER_ROLE_STATIC] = "static",
        [DECODER_ROLE_COUNTER] = "counter",
        [DECODER_ROLE_CONTROL] = "control",
};

const char *decoder_role_to_string(DecoderRole r) {
        if (r < 0 || r >= _DECODER_ROLE_MAX)
                return NULL;
        return role_table[r];
}

uint32_t decoded_record_lost_frames(const DecodedRecord *rec) {
        if (!rec)
                return 0;
        switch (rec->kind) {
        case RECORD_OIP_PRESSURE_FRAME:
                return rec->oip_frame.lost_frames_before;
        case RECORD_ORPHE_FRAME:
                return rec->orphe.lost_frames_before;
        default:
                return 0;
        }
}

void decoder_state_reset(DecoderState *s, FootSide side) {
        if (s)
                *s = (DecoderState) { .side = side };
}

void decoder_state_link_reset(DecoderState *s) {
        if (!s)
                return;
        s->sequence.seq_valid = false;
        s->default_layout_sent = false;
}

uint64_t decoder_sequence_update(DecoderSequence *s, uint16_t seq, uint32_t raw_time, uint64_t wrap_period,
                                 uint64_t frame_span, uint32_t *ret_lost, bool *ret_restarted) {
        uint32_t lost = 0;
        bool restarted = false;
        uint64_t t;

        if (!s) {
                *ret_lost = 0;
                *ret_restarted = false;
                return raw_time;
        }

        if (!s->valid)
                s->time_base = 0;
        else if (raw_time < s->last_raw_time) {
                if ((uint64_t) (s->last_raw_time - raw_time) > wrap_period / 2)
                        /* Far backwards: the raw clock wrapped. */
                        s->time_base += wrap_period;
                else {
                        /* A little backwards: the device restarted its clock (reboot, time sync).
                         * Keep our time monotonic by continuing where the last frame ended. */
                        restarted = true;
                        s->time_base = s->last_end - raw_time;
                }
        }
        t = s->time_base + raw_time;

        if (s->seq_valid && !restarted) {
                uint16_t gap = (uint16_t) (seq - s->last_seq - 1);
                /* The same sequence number again is a repeat, not 65535 losses. */
                lost = gap == UINT16_MAX ? 0 : gap;
        }

        s->valid = true;
        s->seq_valid = true;
        s->last_seq = seq;
        s->last_raw_time = raw_time;
        s->last_end = t + frame_span;

        *ret_lost = lost;
        *ret_restarted = restarted;
        return t;
}

void decoder_stats_account(DecoderStats *s, int result, const DecodedRecord *rec) {
        if (!s)
                return;
        switch (result) {
        case DECODE_ERR_TOO_SHORT:
                s->too_short++;
                return;
        case DECODE_ERR_BAD_LENGTH:
                s->bad_length++;
                return;
        case DECODE_ERR_BAD_CHECKSUM:
                s->bad_checksum++;
                return;
        case DECODE_ERR_IMPLAUSIBLE:
                s->implausible++;
                return;
        case DECODE_ERR_UNSUPPORTED:
                s->unsupported++;
                return;
        default:
                break;
        }
        if (result < 0)
                return; /* not a decode result: nothing decoded, nothing to blame on the device */
        s->decoded++;
        s->lost_frames += decoded_record_lost_frames(rec);
}

uint64_t decoder_stats_rejected(const DecoderStats *s) {
        if (!s)
                return 0;
        return s->too_short + s->bad_length + s->bad_checksum + s->implausible + s->unsupported;
}

const Decoder *decoder_find_by_service(const char *uuid) {
        char norm[DECODER_UUID_STRING_MAX];

        if (decoder_uuid_normalize(uuid, norm) < 0)
                return NULL;
        for (size_t i = 0; i < decoder_registry_size; i++)
                if (streq(decoder_registry[i]->service_uuid, norm))
                        return decoder_registry[i];
        return NULL;
}

const Decoder *decoder_find_by_name(const char *name) {
        if (!name)
                return NULL;
        for (size_t i = 0; i < decoder_registry_size; i++)
                if (streq(decoder_registry[i]->name, name))
                        return decoder_registry[i];
        return NULL;
}

const DecoderCharacteristic *decoder_find_characteristic(const char *char_uuid, const Decoder **ret_decoder) {
        char norm[DECODER_UUID_STRING_MAX];

        if (decoder_uuid_normalize(char_uuid, norm) < 0)
                return NULL;
        for (size_t i = 0; i < decoder_registry_size; i++) {
                const Decoder *d = decoder_registry[i];
                for (size_t j = 0; j < d->n_characteristics; j++)
                        if (streq(d->characteristics[j].uuid, norm)) {
                                if (ret_decoder)
                                        *ret_decoder = d;
                                return &d->characteristics[j];
                        }
        }
        return NULL;
}

int decoder_decode(const DecoderCharacteristic *c, DecoderState *state, const uint8_t *data, size_t len,
                   DecodedRecord *ret) {
        int r;

        if (!c || !c->decode || !ret || (!data && len > 0))
                return DECODE_ERR_UNSUPPORTED;

        /* No memset of the whole record: each decoder initialises its member, and the pressure
         * frame writes its sample arrays only up to n_samples x n_cells (clearing 3 KiB per frame
         * would cost more than decoding it). */
        ret->kind = c->record;
        ret->characteristic = c;
        r = c->decode(state, data ?: (const uint8_t *) "", len, ret);
        if (r < 0)
                return r;
        ret->kind = c->record;
        ret->characteristic = c;
        return 0;
}

int decoder_read(const DecoderCharacteristic *c, DecoderState *state, DecoderStats *stats, const uint8_t *data,
                 size_t len, const ReadingSink *sink, void *userdata) {
        DecodedRecord rec;
        int r;

        r = decoder_decode(c, state, data, len, &rec);
        decoder_stats_account(stats, r, r >= 0 ? &rec : NULL);
        if (r < 0)
                return r;
        if (sink && state && c->emit)
                c->emit(&rec, state, sink, userdata);
        return 0;
}
