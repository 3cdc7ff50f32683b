/* SPDX-License-Identifier: MIT */
/* Bluetooth SIG Device Information Service 0x180A: the utf8s string characteristics. */

#include <string.h>

#include "decoders.h"
#include "macro.h"

static int device_info_string(DeviceInfoField field, const uint8_t *d, size_t len, DecodedRecord *ret) {
        DeviceInfoString *s = &ret->device_info;
        size_t n;

        /* The length and content are the device's: keep a bounded copy, stop at an embedded NUL
         * (many firmwares pad with NULs), never more than DEVICE_INFO_STRING_MAX bytes. */
        n = 0;
        while (n < len && n < DEVICE_INFO_STRING_MAX && d[n] != 0)
                n++;

        s->field = field;
        s->len = (uint8_t) n;
        s->truncated = n == DEVICE_INFO_STRING_MAX && len > n && d[n] != 0;
        memcpy(s->value, d, n);
        s->value[n] = 0;
        return 0;
}

#define DEFINE_DIS_DECODER(fn, field)                                                            \
        static int fn(DecoderState *state, const uint8_t *d, size_t len, DecodedRecord *ret) { \
                return device_info_string(field, d, len, ret);                                   \
        }

DEFINE_DIS_DECODER(manufacturer_decode, DEVICE_INFO_MANUFACTURER)
DEFINE_DIS_DECODER(model_decode, DEVICE_INFO_MODEL)
DEFINE_DIS_DECODER(serial_decode, DEVICE_INFO_SERIAL)
DEFINE_DIS_DECODER(hardware_decode, DEVICE_INFO_HARDWARE_REVISION)
DEFINE_DIS_DECODER(firmware_decode, DEVICE_INFO_FIRMWARE_REVISION)
DEFINE_DIS_DECODER(software_decode, DEVICE_INFO_SOFTWARE_REVISION)

static const char *const device_info_field_table[_DEVICE_INFO_FIELD_MAX] = {
        [DEVICE_INFO_MANUFACTURER] = "manufacturer",
        [DEVICE_INFO_MODEL] = "model",
        [DEVICE_INFO_SERIAL] = "serial",
        [DEVICE_INFO_HARDWARE_REVISION] = "hardware_revision",
        [DEVICE_INFO_FIRMWARE_REVISION] = "firmware_revision",
        [DEVICE_INFO_SOFTWARE_REVISION] = "software_revision",
};

const char *device_info_field_to_string(DeviceInfoField f) {
        if (f < 0 || f >= _DEVICE_INFO_FIELD_MAX)
                return NULL;
        return device_info_field_table[f];
}

static void device_info_emit(const DecodedRecord *rec, DecoderState *state, const ReadingSink *sink, void *userdata) {
        if (sink->device_info)
                sink->device_info(userdata, &rec->device_info);
}

#define DIS_CHARACTERISTIC(u, n, fn)                   \
        {                                              \
                .uuid = u,                             \
                .name = n,                             \
                .role = DECODER_ROLE_STATIC,           \
                .record = RECORD_DEVICE_INFO_STRING,   \
                .decode = fn,                          \
                .emit = device_info_emit,              \
        }

static const DecoderCharacteristic device_info_characteristics[] = {
        DIS_CHARACTERISTIC(DIS_MANUFACTURER_NAME_UUID, "manufacturer_name", manufacturer_decode),
        DIS_CHARACTERISTIC(DIS_MODEL_NUMBER_UUID, "model_number", model_decode),
        DIS_CHARACTERISTIC(DIS_SERIAL_NUMBER_UUID, "serial_number", serial_decode),
        DIS_CHARACTERISTIC(DIS_HARDWARE_REVISION_UUID, "hardware_revision", hardware_decode),
        DIS_CHARACTERISTIC(DIS_FIRMWARE_REVISION_UUID, "firmware_revision", firmware_decode),
        DIS_CHARACTERISTIC(DIS_SOFTWARE_REVISION_UUID, "software_revision", software_decode),
};

const Decoder decoder_device_info = {
        .name = "device_info",
        .description = "Bluetooth SIG Device Information Service",
        .service_uuid = DEVICE_INFO_SERVICE_UUID,
        .characteristics = device_info_characteristics,
        .n_characteristics = ELEMENTSOF(device_info_characteristics),
};
