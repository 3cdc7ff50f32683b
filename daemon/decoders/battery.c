/* SPDX-License-Identifier: MIT */
/* Bluetooth SIG Battery Service 0x180F: Battery Level 0x2A19, uint8 percent 0..100. */

#include "decoders.h"
#include "macro.h"

static int battery_level_decode(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) {
        if (len < 1)
                return DECODE_ERR_TOO_SHORT;
        if (len > 1)
                return DECODE_ERR_BAD_LENGTH;
        /* 101..255 are not defined; some stacks send 0xff for "unknown". Don't report it as full. */
        if (d[0] > 100)
                return DECODE_ERR_IMPLAUSIBLE;
        ret->battery = (BatteryLevel) { .percent = d[0] };
        return 0;
}

static void battery_level_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        if (sink->battery)
                sink->battery(userdata, rec->battery.percent);
}

static const DecoderCharacteristic battery_characteristics[] = {
        {
                .uuid = BATTERY_LEVEL_UUID,
                .name = "battery_level",
                .role = DECODER_ROLE_COUNTER, /* read after connecting, notify when supported */
                .required = true,
                .record = RECORD_BATTERY_LEVEL,
                .decode = battery_level_decode,
                .emit = battery_level_emit,
        },
};

const Decoder decoder_battery = {
        .name = "battery",
        .description = "Bluetooth SIG Battery Service",
        .service_uuid = BATTERY_SERVICE_UUID,
        .characteristics = battery_characteristics,
        .n_characteristics = ELEMENTSOF(battery_characteristics),
};
