/* SPDX-License-Identifier: MIT */
/* Ukaton Mission step counter (zakaton/ukaton-mission-firmware): characteristic c002 holds the
 * step count as a little-endian uint32 (read, notify). */

#include "bytes.h"
#include "decoders.h"
#include "macro.h"

static int ukaton_steps_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        if (len < 4)
                return DECODE_ERR_TOO_SHORT;
        if (len > 4)
                return DECODE_ERR_BAD_LENGTH;
        ret->ukaton_steps = (UkatonSteps) { .steps = read_le32(d) };
        return 0;
}

static void ukaton_steps_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        /* No boot id: a count below the last one is a restart (reconciliation). */
        if (sink->step_counter)
                sink->step_counter(userdata, rec->ukaton_steps.steps, 0);
}

static const DecoderCharacteristic ukaton_characteristics[] = {
        {
                .uuid = UKATON_STEP_COUNT_UUID,
                .name = "step_count",
                .role = DECODER_ROLE_COUNTER,
                .required = true,
                .record = RECORD_UKATON_STEPS,
                .decode = ukaton_steps_decode,
                .emit = ukaton_steps_emit,
        },
};

/* Some firmware versions register the service with the 16-bit UUID 0x0000 instead: match
 * characteristics by UUID (decoder_find_characteristic()), not only the service. */
const Decoder decoder_ukaton = {
        .name = "ukaton",
        .description = "Ukaton Mission step counter",
        .service_uuid = UKATON_SERVICE_UUID,
        .characteristics = ukaton_characteristics,
        .n_characteristics = ELEMENTSOF(ukaton_characteristics),
        .noun = "insole",
};
