/* SPDX-License-Identifier: MIT */
/* Golden vectors for every decoder and characteristic: hex in, result and JSON out. The expected
 * values are worked out from the specifications' units (docs/decoders.md shows the arithmetic),
 * not taken from other parsers. */

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "decoder-records.h"
#include "decoders-test-util.h"
#include "macro.h"

typedef struct Golden {
        const char *uuid;
        const char *hex;
        int result;
        const char *json; /* NULL when result < 0 */
} Golden;

#define OIP_FRAME OIP_PRESSURE_FRAME_UUID
#define OIP_LAYOUT OIP_SENSOR_LAYOUT_UUID
#define OIP_STEPS OIP_STEP_COUNTER_UUID
#define OIP_CP OIP_CONTROL_POINT_UUID
/* The Ukaton pressure family keeps its UUIDs to itself: these are the firmware's. */
#define UK_DATA "5691eddf-6002-4420-b7a5-bb8751ab5181"
#define UK_CONFIG "5691eddf-6001-4420-b7a5-bb8751ab5181"
#define UK_12X(x) x x x x x x x x x x x x

/* ORPHE notifications, 104 bytes each, built by hand from the published layout. */
#define ORPHE_56                                                                                          \
        "38 12 34 0d 2d 07 00 fa"                                                                         \
        " 40 00 00 00 00 00 00 00 00 64 ff 9c 00 00 00 00 00 00 08 00 00 64 00 c8 01 2c 01 90 01 f4 ff ff" \
        " e0 00 20 00 00 00 00 00 00 01 00 02 00 03 ff ff ff fe ff fd 00 01 00 02 00 03 00 04 00 05 00 06" \
        " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
#define ORPHE_55                                                                                          \
        "37 ff ff 17 3b 3b 03 e7"                                                                         \
        " 00 0a 00 14 00 1e 00 28 00 32 00 3c 03 e8 03 e9 03 ea 03 eb 03 ec 03 ed"                        \
        " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00"                        \
        " 80 00 7f ff 00 00 00 00 00 00 f8 00 00 07 00 07 00 07 00 07 00 07 00 07"                        \
        " 00 01 00 01 00 01 00 01 00 01 00 01 00 02 00 02 00 02 00 02 00 02 00 02"
#define ORPHE_50                                                                                          \
        "32 00 00 00 00 00 00 05"                                                                         \
        " 40 00 00 00 00 00 00 00 00 01 00 02 00 03 00 04 00 05 00 06 05"                                 \
        " 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 05"                                 \
        " 00 00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 04"                                 \
        " 00 00 00 00 00 00 40 00 00 00 00 00 00 00 00 00 00 00 00 00 06"                                 \
        " 00 00 00 00 00 00 00 00 00 00 00 00"

static const Golden goldens[] = {
        /* RSC Measurement: speed raw/256 m/s, cadence 1/min, stride raw/100 m, distance raw/10 m */
        { RSC_MEASUREMENT_UUID, "00 00 01 5a", 0, /* 256/256 = 1 m/s, 90/min, walking */
          "{\"running\":false,\"speed_m_s\":1,\"cadence_per_min\":90}" },
        { RSC_MEASUREMENT_UUID, "04 80 03 b4", 0, /* 896/256 = 3.5 m/s, 180/min, running */
          "{\"running\":true,\"speed_m_s\":3.5,\"cadence_per_min\":180}" },
        { RSC_MEASUREMENT_UUID, "07 c0 03 a8 85 00 e8 03 00 00", 0, /* 960/256, 168, 133/100 m, 1000/10 m */
          "{\"running\":true,\"speed_m_s\":3.75,\"cadence_per_min\":168,\"stride_length_m\":1.33,\"total_distance_m\":100}" },
        { RSC_MEASUREMENT_UUID, "02 00 02 50 10 27 00 00", 0, /* total only: 10000/10 = 1000 m */
          "{\"running\":false,\"speed_m_s\":2,\"cadence_per_min\":80,\"total_distance_m\":1000}" },
        { RSC_MEASUREMENT_UUID, "01 00 02 50 20 03", 0, /* stride only: 800/100 = 8 m (not "800 mm") */
          "{\"running\":false,\"speed_m_s\":2,\"cadence_per_min\":80,\"stride_length_m\":8}" },
        /* Stryd-like: reserved flag 0x80 and 13 bytes; 666/256 = 2.6015625 m/s */
        { RSC_MEASUREMENT_UUID, "80 9a 02 ac 00 00 00 00 00 00 00 00 00", 0,
          "{\"running\":false,\"speed_m_s\":2.6016,\"cadence_per_min\":172}" },
        /* reserved bits with fields and trailing bytes */
        { RSC_MEASUREMENT_UUID, "fb 00 01 50 64 00 01 00 00 00 ff ff", 0,
          "{\"running\":false,\"speed_m_s\":1,\"cadence_per_min\":80,\"stride_length_m\":1,\"total_distance_m\":0.1}" },
        /* extremes: 65535/256, 255, 65535/100, (2^32-1)/10 */
        { RSC_MEASUREMENT_UUID, "07 ff ff ff ff ff ff ff ff ff", 0,
          "{\"running\":true,\"speed_m_s\":255.9961,\"cadence_per_min\":255,\"stride_length_m\":655.35,\"total_distance_m\":429496729.5}" },
        { RSC_MEASUREMENT_UUID, "", DECODE_ERR_TOO_SHORT, NULL },
        { RSC_MEASUREMENT_UUID, "00 00 01", DECODE_ERR_TOO_SHORT, NULL },
        { RSC_MEASUREMENT_UUID, "01 00 01 5a 64", DECODE_ERR_TOO_SHORT, NULL },          /* stride needs 6 */
        { RSC_MEASUREMENT_UUID, "02 00 01 5a 10 27 00", DECODE_ERR_TOO_SHORT, NULL },    /* distance needs 8 */
        { RSC_MEASUREMENT_UUID, "03 00 01 5a 64 00 10 27 00", DECODE_ERR_TOO_SHORT, NULL }, /* both need 10 */

        /* RSC Feature */
        { RSC_FEATURE_UUID, "1f 00", 0,
          "{\"features\":31,\"stride_length\":true,\"total_distance\":true,\"walking_running\":true,\"calibration\":true,\"multiple_locations\":true}" },
        { RSC_FEATURE_UUID, "04 00 00", 0,
          "{\"features\":4,\"stride_length\":false,\"total_distance\":false,\"walking_running\":true,\"calibration\":false,\"multiple_locations\":false}" },
        { RSC_FEATURE_UUID, "03", DECODE_ERR_TOO_SHORT, NULL },

        /* Sensor Location */
        { RSC_SENSOR_LOCATION_UUID, "02", 0, "{\"sensor_location\":2,\"sensor_location_name\":\"in_shoe\"}" },
        { RSC_SENSOR_LOCATION_UUID, "10", 0, "{\"sensor_location\":16,\"sensor_location_name\":\"chain_ring\"}" },
        { RSC_SENSOR_LOCATION_UUID, "11", DECODE_ERR_IMPLAUSIBLE, NULL },
        { RSC_SENSOR_LOCATION_UUID, "02 00", DECODE_ERR_BAD_LENGTH, NULL },
        { RSC_SENSOR_LOCATION_UUID, "", DECODE_ERR_TOO_SHORT, NULL },

        /* Battery Level */
        { BATTERY_LEVEL_UUID, "00", 0, "{\"battery_percent\":0}" },
        { BATTERY_LEVEL_UUID, "57", 0, "{\"battery_percent\":87}" },
        { BATTERY_LEVEL_UUID, "64", 0, "{\"battery_percent\":100}" },
        { BATTERY_LEVEL_UUID, "65", DECODE_ERR_IMPLAUSIBLE, NULL },
        { BATTERY_LEVEL_UUID, "ff", DECODE_ERR_IMPLAUSIBLE, NULL },
        { BATTERY_LEVEL_UUID, "", DECODE_ERR_TOO_SHORT, NULL },
        { BATTERY_LEVEL_UUID, "50 00", DECODE_ERR_BAD_LENGTH, NULL },

        /* Device Information strings */
        { DIS_MANUFACTURER_NAME_UUID, "41 63 6d 65", 0, "{\"field\":\"manufacturer\",\"value\":\"Acme\",\"truncated\":false}" },
        { DIS_MODEL_NUMBER_UUID, "49 4e 2d 32", 0, "{\"field\":\"model\",\"value\":\"IN-2\",\"truncated\":false}" },
        { DIS_SERIAL_NUMBER_UUID, "30 30 37", 0, "{\"field\":\"serial\",\"value\":\"007\",\"truncated\":false}" },
        { DIS_HARDWARE_REVISION_UUID, "", 0, "{\"field\":\"hardware_revision\",\"value\":\"\",\"truncated\":false}" },
        { DIS_FIRMWARE_REVISION_UUID, "31 2e 32 00 00 00", 0, /* NUL padding dropped */
          "{\"field\":\"firmware_revision\",\"value\":\"1.2\",\"truncated\":false}" },
        { DIS_SOFTWARE_REVISION_UUID, "41 00 42", 0, /* an embedded NUL ends the string */
          "{\"field\":\"software_revision\",\"value\":\"A\",\"truncated\":false}" },
        { DIS_MANUFACTURER_NAME_UUID, "22 0a", 0, /* control characters are escaped in JSON */
          "{\"field\":\"manufacturer\",\"value\":\"\\\"\\n\",\"truncated\":false}" },
        /* 65 bytes: the 64 kept are "0123456789abcdef" x 4 */
        { DIS_MODEL_NUMBER_UUID,
          "30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66"
          "30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66 7a", 0,
          "{\"field\":\"model\",\"value\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\",\"truncated\":true}" },

        /* Open Insole Profile: pressure frame */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03", 0,
          "{\"version\":1,\"seq\":7,\"t0_us\":1000000,\"sample_period_us\":10000,\"n_cells\":2,\"n_samples\":2,"
          "\"lost_frames_before\":0,\"clock_restarted\":false,\"cells\":[[100,200],[300,1023]]}" },
        /* IMU: 1000 mg = 1 g; 15 and -20 x 0.1 deg/s */
        { OIP_FRAME, "01 01 08 00 00 00 00 00 e8 03 01 01 f4 01 00 00 00 00 e8 03 0f 00 ec ff 00 00", 0,
          "{\"version\":1,\"seq\":8,\"t0_us\":0,\"sample_period_us\":1000,\"n_cells\":1,\"n_samples\":1,"
          "\"lost_frames_before\":0,\"clock_restarted\":false,\"cells\":[[500]],"
          "\"imu\":[{\"accel_g\":[0,0,1],\"gyro_dps\":[1.5,-2,0]}]}" },
        /* reserved flag bits are ignored */
        { OIP_FRAME, "01 fe ff ff ff ff ff ff ff ff 01 01 ff ff", 0,
          "{\"version\":1,\"seq\":65535,\"t0_us\":4294967295,\"sample_period_us\":65535,\"n_cells\":1,\"n_samples\":1,"
          "\"lost_frames_before\":0,\"clock_restarted\":false,\"cells\":[[65535]]}" },
        { OIP_FRAME, "", DECODE_ERR_TOO_SHORT, NULL },
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 02", DECODE_ERR_TOO_SHORT, NULL },
        { OIP_FRAME, "02 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03", DECODE_ERR_UNSUPPORTED, NULL },
        { OIP_FRAME, "00 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03", DECODE_ERR_UNSUPPORTED, NULL },
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03 00", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_FRAME, "01 01 07 00 40 42 0f 00 10 27 02 02 64 00 c8 00 2c 01 ff 03", DECODE_ERR_BAD_LENGTH, NULL }, /* IMU flag, no IMU */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 00 01", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 0 cells */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 21 01", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 33 cells */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 01 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 0 samples */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 10 27 01 29", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 41 samples */
        { OIP_FRAME, "01 00 07 00 40 42 0f 00 e7 03 01 01 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 999 us */

        /* Open Insole Profile: sensor layout. scale 0.5 = 0x3f000000, offset -1 = 0xbf800000;
         * x 255 -> 1, y 128 -> 128/255 = 0.50196 */
        { OIP_LAYOUT, "01 01 02 01 00 00 00 3f 00 00 80 bf 00 00 64 00 ff 80 fa 00", 0,
          "{\"version\":1,\"side\":\"right\",\"unit\":\"N\",\"scale\":0.5,\"offset\":-1,\"cells\":["
          "{\"x\":0,\"y\":0,\"area_mm2\":100},{\"x\":1,\"y\":0.502,\"area_mm2\":250}]}" },
        { OIP_LAYOUT, "01 00 01 00 00 00 80 3f 00 00 00 00 33 66 00 00", 0,
          "{\"version\":1,\"side\":\"left\",\"unit\":\"raw\",\"scale\":1,\"offset\":0,\"cells\":["
          "{\"x\":0.2,\"y\":0.4,\"area_mm2\":0}]}" },
        { OIP_LAYOUT, "01 01 02 01 00 00 00 3f 00 00 80 bf", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_LAYOUT, "01 01 02 01 00 00 00 3f 00 00 80 bf 00 00 64 00 ff 80 fa 00 00", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_LAYOUT, "01 02 01 00 00 00 80 3f 00 00 00 00 33 66 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* side 2 */
        { OIP_LAYOUT, "01 00 01 03 00 00 80 3f 00 00 00 00 33 66 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* unit 3 */
        { OIP_LAYOUT, "01 00 01 00 00 00 c0 7f 00 00 00 00 33 66 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* NaN */
        { OIP_LAYOUT, "01 00 01 00 00 00 00 00 00 00 00 00 33 66 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* scale 0 */
        { OIP_LAYOUT, "01 00 00 00 00 00 80 3f 00 00 00 00", DECODE_ERR_IMPLAUSIBLE, NULL }, /* 0 cells */
        { OIP_LAYOUT, "02 00 01 00 00 00 80 3f 00 00 00 00 33 66 00 00", DECODE_ERR_UNSUPPORTED, NULL },
        { OIP_LAYOUT, "01 00 01", DECODE_ERR_TOO_SHORT, NULL },

        /* Open Insole Profile: step counter (10000 steps, boot id 0xdeadbeef) */
        { OIP_STEPS, "01 00 10 27 00 00 ef be ad de", 0, "{\"version\":1,\"steps\":10000,\"boot_id\":3735928559}" },
        { OIP_STEPS, "01 00 10 27 00 00 ef be ad", DECODE_ERR_TOO_SHORT, NULL },
        { OIP_STEPS, "01 00 10 27 00 00 ef be ad de 00", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_STEPS, "02 00 10 27 00 00 ef be ad de", DECODE_ERR_UNSUPPORTED, NULL },
        { OIP_STEPS, "", DECODE_ERR_TOO_SHORT, NULL },

        /* Open Insole Profile: control point */
        { OIP_CP, "01 64 00", 0, "{\"command\":\"start\",\"rate_hz\":100}" },
        { OIP_CP, "01 90 01", 0, "{\"command\":\"start\",\"rate_hz\":400}" },
        { OIP_CP, "02", 0, "{\"command\":\"stop\"}" },
        { OIP_CP, "01 00 00", 0, "{\"command\":\"start\",\"rate_hz\":0}" }, /* the insole's own rate */
        { OIP_CP, "01 09 00", DECODE_ERR_IMPLAUSIBLE, NULL },
        { OIP_CP, "01 91 01", DECODE_ERR_IMPLAUSIBLE, NULL },
        { OIP_CP, "01 64", DECODE_ERR_TOO_SHORT, NULL },
        { OIP_CP, "01 64 00 00", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_CP, "02 00", DECODE_ERR_BAD_LENGTH, NULL },
        { OIP_CP, "03", DECODE_ERR_UNSUPPORTED, NULL },
        { OIP_CP, "", DECODE_ERR_TOO_SHORT, NULL },

        /* ORPHE INSOLE: 13:45:07.250 = 49507250 ms of day; quat Q14: 16384 -> 1, -8192 -> -0.5 */
        { ORPHE_SENSOR_VALUES_UUID, ORPHE_56, 0,
          "{\"header\":56,\"serial\":4660,\"device_time\":\"13:45:07.250\",\"t_us\":49507250000,\"lost_frames_before\":0,\"samples\":["
          "{\"quat\":[1,0,0,0],\"gyro_raw\":[100,-100,0],\"accel_raw\":[0,0,2048],\"pressure\":[100,200,300,400,500,65535]},"
          "{\"quat\":[-0.5,0.5,0,0],\"gyro_raw\":[1,2,3],\"accel_raw\":[-1,-2,-3],\"pressure\":[1,2,3,4,5,6]}]}" },
        /* 23:59:59.999 = 86399999 ms */
        { ORPHE_SENSOR_VALUES_UUID, ORPHE_55, 0,
          "{\"header\":55,\"serial\":65535,\"device_time\":\"23:59:59.999\",\"t_us\":86399999000,\"lost_frames_before\":0,\"samples\":["
          "{\"gyro_raw\":[10,20,30],\"accel_raw\":[40,50,60],\"pressure\":[1000,1001,1002,1003,1004,1005]},"
          "{\"gyro_raw\":[0,0,0],\"accel_raw\":[0,0,0],\"pressure\":[0,0,0,0,0,0]},"
          "{\"gyro_raw\":[-32768,32767,0],\"accel_raw\":[0,0,-2048],\"pressure\":[7,7,7,7,7,7]},"
          "{\"gyro_raw\":[1,1,1],\"accel_raw\":[1,1,1],\"pressure\":[2,2,2,2,2,2]}]}" },
        { ORPHE_SENSOR_VALUES_UUID, ORPHE_50, 0,
          "{\"header\":50,\"serial\":0,\"device_time\":\"00:00:00.005\",\"t_us\":5000,\"lost_frames_before\":0,\"samples\":["
          "{\"quat\":[1,0,0,0],\"gyro_raw\":[1,2,3],\"accel_raw\":[4,5,6],\"dt_ms\":5},"
          "{\"quat\":[0,1,0,0],\"gyro_raw\":[0,0,0],\"accel_raw\":[0,0,0],\"dt_ms\":5},"
          "{\"quat\":[0,0,1,0],\"gyro_raw\":[0,0,0],\"accel_raw\":[0,0,0],\"dt_ms\":4},"
          "{\"quat\":[0,0,0,1],\"gyro_raw\":[0,0,0],\"accel_raw\":[0,0,0],\"dt_ms\":6}]}" },
        { ORPHE_SENSOR_VALUES_UUID, ORPHE_56 " 00", DECODE_ERR_BAD_LENGTH, NULL },
        { ORPHE_SENSOR_VALUES_UUID, "38 12 34 0d 2d 07 00 fa 40 00", DECODE_ERR_BAD_LENGTH, NULL },
        { ORPHE_SENSOR_VALUES_UUID, "38 12 34 0d 2d 07 00", DECODE_ERR_TOO_SHORT, NULL },
        { ORPHE_SENSOR_VALUES_UUID, "39 12 34 0d 2d 07 00 fa", DECODE_ERR_UNSUPPORTED, NULL },

        /* Ukaton Mission step count, little-endian u32 */
        { UKATON_STEP_COUNT_UUID, "10 27 00 00", 0, "{\"steps\":10000}" },
        { UKATON_STEP_COUNT_UUID, "ff ff ff ff", 0, "{\"steps\":4294967295}" },
        { UKATON_STEP_COUNT_UUID, "10 27 00", DECODE_ERR_TOO_SHORT, NULL },
        { UKATON_STEP_COUNT_UUID, "10 27 00 00 00", DECODE_ERR_BAD_LENGTH, NULL },

        /* Ukaton Mission sensor data, built from the firmware's format (docs/decoders.md): u16 time
         * in ms, then [sensor type, size, entries]; pressure entry 1 = 16 x u16 12-bit readings */
        { UK_DATA, "34 12 00 00 01 21 01 00 00 10 00 00 01 ff 0f" UK_12X(" 64 00"), 0,
          "{\"time_ms\":4660,\"t_us\":4660000,\"clock_restarted\":false,\"pressure_bits\":12,"
          "\"pressure\":[0,16,256,4095,100,100,100,100,100,100,100,100,100,100,100,100]}" },
        /* 8-bit readings (entry 0), centre of mass 2 x f32 (0.5, 0.25), mass u32 4096, heel to toe
         * f64 0.75; no motion block */
        { UK_DATA, "e8 03 01 28 00" UK_12X(" 10") " 10 10 10 10 02 00 00 00 3f 00 00 80 3e 03 00 10 00 00"
                   " 04 00 00 00 00 00 00 e8 3f", 0,
          "{\"time_ms\":1000,\"t_us\":1000000,\"clock_restarted\":false,\"pressure_bits\":8,"
          "\"pressure\":[16,16,16,16,16,16,16,16,16,16,16,16,16,16,16,16],\"center_of_mass\":[0.5,0.25],"
          "\"mass\":4096,\"heel_to_toe\":0.75}" },
        /* motion only: acceleration (0, 0, 2511 x 2^-8 m/s^2), rotation rate (256, -256, 0) x 2^-9 */
        { UK_DATA, "00 00 00 0e 00 00 00 00 00 cf 09 03 00 01 00 ff 00 00 01 00", 0,
          "{\"time_ms\":0,\"t_us\":0,\"clock_restarted\":false,\"acceleration\":[0,0,9.809],"
          "\"rotation_rate\":[0.5,-0.5,0]}" },
        { UK_DATA, "34", DECODE_ERR_TOO_SHORT, NULL },
        { UK_DATA, "34 12 01", DECODE_ERR_TOO_SHORT, NULL },         /* half a block header */
        { UK_DATA, "34 12 02 00", DECODE_ERR_UNSUPPORTED, NULL },    /* sensor type 2 */
        { UK_DATA, "34 12 01 05 01 00 00", DECODE_ERR_BAD_LENGTH, NULL }, /* block beyond the value */
        { UK_DATA, "34 12 01 03 03 00 00", DECODE_ERR_BAD_LENGTH, NULL }, /* mass beyond its block */
        { UK_DATA, "34 12 00 00 00 00", DECODE_ERR_BAD_LENGTH, NULL }, /* a block twice */
        { UK_DATA, "34 12 01 01 07", DECODE_ERR_UNSUPPORTED, NULL },  /* pressure data type 7 */
        { UK_DATA, "34 12 01 21 01 00 10" UK_12X(" 00 00") " 00 00 00 00 00 00", DECODE_ERR_IMPLAUSIBLE, NULL },
        /* sensor data configuration: [sensor type, size, (data type, u16 delay ms)...] */
        { UK_CONFIG, "01 03 01 14 00", 0, "{\"entries\":[{\"sensor\":\"pressure\",\"data_type\":1,\"delay_ms\":20}]}" },
        { UK_CONFIG, "01 04 01 14 00 00", DECODE_ERR_BAD_LENGTH, NULL },
        { UK_CONFIG, "01", DECODE_ERR_TOO_SHORT, NULL },
};

static int decode_hex(const char *uuid, const char *hex, DecoderState *state, DecodedRecord *rec) {
        static uint8_t buf[4096];
        const DecoderCharacteristic *c = decoder_find_characteristic(uuid, NULL);
        int n;

        assert_non_null(c);
        n = test_hex(hex, buf, sizeof(buf));
        assert_true(n >= 0);
        return decoder_decode(c, state, buf, (size_t) n, rec);
}

static void test_goldens(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(goldens); i++) {
                const Golden *g = &goldens[i];
                DecodedRecord rec;
                char buf[8192];
                const char *json;
                JsonWriter w;
                int r;

                r = decode_hex(g->uuid, g->hex, NULL, &rec);
                if (r != g->result)
                        fail_msg("vector %zu (%s %s): result %d (%s), expected %d (%s)", i, g->uuid, g->hex, r,
                                 strna(decode_result_to_string(r)), g->result,
                                 strna(decode_result_to_string(g->result)));
                if (r < 0)
                        continue;
                json_writer_init(&w, buf, sizeof(buf));
                decoded_record_to_json(&rec, &w);
                assert_int_equal(json_writer_finish(&w, &json, NULL), 0);
                if (!streq(json, g->json))
                        fail_msg("vector %zu (%s):\n got      %s\n expected %s", i, g->uuid, json, g->json);
        }
}

/* Every characteristic of every decoder has a decodable vector and a rejected one. */
static void test_goldens_cover_registry(void **state) {
        for (size_t i = 0; i < decoder_registry_size; i++) {
                const Decoder *d = decoder_registry[i];
                for (size_t j = 0; j < d->n_characteristics; j++) {
                        bool ok = false, bad = false;
                        for (size_t k = 0; k < ELEMENTSOF(goldens); k++) {
                                if (!streq(goldens[k].uuid, d->characteristics[j].uuid))
                                        continue;
                                if (goldens[k].result == 0)
                                        ok = true;
                                else
                                        bad = true;
                        }
                        /* DIS strings accept anything: no rejected vector is possible */
                        if (!ok || (!bad && d != decoder_find_by_name("device_info")))
                                fail_msg("%s/%s lacks golden vectors", d->name, d->characteristics[j].name);
                }
        }
}

static void test_typed_records(void **state) {
        DecodedRecord rec;

        assert_int_equal(decode_hex(RSC_MEASUREMENT_UUID, "07 c0 03 a8 85 00 e8 03 00 00", NULL, &rec), 0);
        assert_int_equal(rec.kind, RECORD_RSC_MEASUREMENT);
        assert_true(rec.rsc_measurement.running);
        assert_float_equal(rec.rsc_measurement.speed_m_s, 3.75, 1e-6);
        assert_int_equal(rec.rsc_measurement.cadence_per_min, 168);
        assert_true(rec.rsc_measurement.has_stride_length);
        assert_float_equal(rec.rsc_measurement.stride_length_m, 1.33, 1e-6);
        assert_true(rec.rsc_measurement.has_total_distance);
        assert_int_equal(rec.rsc_measurement.total_distance_dm, 1000);
        assert_float_equal(rec.rsc_measurement.total_distance_m, 100.0, 1e-9);

        assert_int_equal(decode_hex(OIP_LAYOUT, "01 01 02 01 00 00 00 3f 00 00 80 bf 00 00 64 00 ff 80 fa 00", NULL, &rec), 0);
        assert_int_equal(rec.kind, RECORD_OIP_SENSOR_LAYOUT);
        assert_int_equal(rec.oip_layout.layout.side, FOOT_RIGHT);
        assert_int_equal(rec.oip_layout.layout.n_cells, 2);
        assert_int_equal(rec.oip_layout.layout.unit, PRESSURE_UNIT_NEWTON);
        assert_float_equal(rec.oip_layout.layout.scale, 0.5, 0);
        assert_float_equal(rec.oip_layout.layout.offset, -1.0, 0);
        assert_float_equal(rec.oip_layout.layout.cells[1].x, 1.0, 1e-6);
        assert_float_equal(rec.oip_layout.layout.cells[1].y, 128.0 / 255.0, 1e-6);
        assert_float_equal(rec.oip_layout.layout.cells[1].area_mm2, 250, 0);

        assert_int_equal(decode_hex(ORPHE_SENSOR_VALUES_UUID, ORPHE_56, NULL, &rec), 0);
        assert_int_equal(rec.kind, RECORD_ORPHE_FRAME);
        assert_int_equal(rec.orphe.n_samples, 2);
        assert_true(rec.orphe.has_quat && rec.orphe.has_pressure);
        assert_int_equal(rec.orphe.samples[0].pressure[5], 65535);
        assert_int_equal(rec.orphe.samples[1].accel[2], -3);
        assert_int_equal(rec.orphe.time_of_day_ms, 49507250);

        assert_int_equal(decode_hex(DIS_MODEL_NUMBER_UUID, "41 42", NULL, &rec), 0);
        assert_int_equal(rec.device_info.len, 2);
        assert_string_equal(rec.device_info.value, "AB");
}

/* Builds a minimal OIP frame: 1 cell, n samples, given seq and t0. */
static size_t oip_frame(uint8_t *b, uint16_t seq, uint32_t t0, uint16_t period, uint8_t n) {
        size_t len = OIP_FRAME_HEADER_SIZE + 2u * n;
        memset(b, 0, len);
        b[0] = 1;
        b[2] = seq & 0xff, b[3] = seq >> 8;
        b[4] = t0 & 0xff, b[5] = (t0 >> 8) & 0xff, b[6] = (t0 >> 16) & 0xff, b[7] = t0 >> 24;
        b[8] = period & 0xff, b[9] = period >> 8;
        b[10] = 1;
        b[11] = n;
        return len;
}

static int decode_oip(DecoderState *s, uint16_t seq, uint32_t t0, DecodedRecord *rec) {
        uint8_t b[64];
        size_t len = oip_frame(b, seq, t0, 5000, 2);
        return decoder_decode(decoder_find_characteristic(OIP_PRESSURE_FRAME_UUID, NULL), s, b, len, rec);
}

static void test_oip_sequence_wraparound(void **state) {
        DecoderState s = {};
        DecodedRecord rec;
        DecoderStats st = {};
        struct {
                uint16_t seq;
                uint32_t t0;
                uint32_t lost;
                uint64_t t0_us;
                bool restarted;
        } steps[] = {
                { 65533, 0xffffc568u, 0, 0xffffc568u, false },               /* first frame: no loss known */
                { 65534, 0xffffe0c0u, 0, 0xffffe0c0u, false },
                { 65535, 0xfffffc18u, 0, 0xfffffc18u, false },
                { 0, 0x00001770u, 0, 0x100001770ull, false },                 /* seq and clock both wrap */
                { 3, 0x00008ca0u, 2, 0x100008ca0ull, false },                 /* 1 and 2 lost */
                { 3, 0x00008ca0u, 0, 0x100008ca0ull, false },                 /* repeat is no loss */
                { 0, 0x00002710u, 0, 0x100008ca0ull + 10000, true },          /* reboot: clock re-based */
                { 10, 0x00004e20u, 9, 0x100008ca0ull + 20000, false },
        };

        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                int r = decode_oip(&s, steps[i].seq, steps[i].t0, &rec);
                decoder_stats_account(&st, r, &rec);
                assert_int_equal(r, 0);
                if (rec.oip_frame.lost_frames_before != steps[i].lost || rec.oip_frame.t0_us != steps[i].t0_us ||
                    rec.oip_frame.clock_restarted != steps[i].restarted)
                        fail_msg("step %zu: lost %u t0 %llu restarted %d", i, rec.oip_frame.lost_frames_before,
                                 (unsigned long long) rec.oip_frame.t0_us, rec.oip_frame.clock_restarted);
        }
        assert_int_equal(st.decoded, ELEMENTSOF(steps));
        assert_int_equal(st.lost_frames, 2 + 9);

        /* Reconnect: the gap is not counted, the clock stays monotonic. */
        decoder_state_link_reset(&s);
        assert_int_equal(decode_oip(&s, 500, 0x00010000u, &rec), 0);
        assert_int_equal(rec.oip_frame.lost_frames_before, 0);
        assert_int_equal(rec.oip_frame.t0_us, 0x100008ca0ull + 0x10000u);
        assert_int_equal(decode_oip(&s, 502, 0x00020000u, &rec), 0);
        assert_int_equal(rec.oip_frame.lost_frames_before, 1);

        /* A rejected frame leaves the state alone. */
        {
                uint8_t b[64];
                size_t len = oip_frame(b, 900, 0x00030000u, 5000, 2);
                int r = decoder_decode(decoder_find_characteristic(OIP_PRESSURE_FRAME_UUID, NULL), &s, b, len - 1, &rec);
                assert_int_equal(r, DECODE_ERR_BAD_LENGTH);
                decoder_stats_account(&st, r, NULL);
                assert_int_equal(st.bad_length, 1);
                assert_int_equal(decoder_stats_rejected(&st), 1);
        }
        assert_int_equal(decode_oip(&s, 503, 0x00030000u, &rec), 0);
        assert_int_equal(rec.oip_frame.lost_frames_before, 0);

        /* Without state: no loss detection, raw time. */
        assert_int_equal(decode_oip(NULL, 7, 1234, &rec), 0);
        assert_int_equal(rec.oip_frame.lost_frames_before, 0);
        assert_int_equal(rec.oip_frame.t0_us, 1234);
}

static int decode_orphe(DecoderState *s, uint16_t serial, uint8_t h, uint8_t m, uint8_t sec, uint16_t ms,
                        DecodedRecord *rec) {
        uint8_t b[ORPHE_FRAME_SIZE] = { ORPHE_HEADER_FULL };
        b[1] = serial >> 8, b[2] = serial & 0xff;
        b[3] = h, b[4] = m, b[5] = sec;
        b[6] = ms >> 8, b[7] = ms & 0xff;
        return decoder_decode(decoder_find_characteristic(ORPHE_SENSOR_VALUES_UUID, NULL), s, b, sizeof(b), rec);
}

static void test_orphe_serial_and_midnight(void **state) {
        DecoderState s = {};
        DecodedRecord rec;

        assert_int_equal(decode_orphe(&s, 65534, 23, 59, 59, 970, &rec), 0);
        assert_int_equal(rec.orphe.lost_frames_before, 0);
        assert_int_equal(rec.orphe.t_us, 86399970ull * 1000);
        assert_int_equal(decode_orphe(&s, 65535, 23, 59, 59, 990, &rec), 0);
        assert_int_equal(rec.orphe.lost_frames_before, 0);
        /* serial wraps to 0, the clock passes midnight: time keeps increasing */
        assert_int_equal(decode_orphe(&s, 0, 0, 0, 0, 10, &rec), 0);
        assert_int_equal(rec.orphe.lost_frames_before, 0);
        assert_int_equal(rec.orphe.t_us, 86400010ull * 1000);
        assert_int_equal(decode_orphe(&s, 4, 0, 0, 0, 90, &rec), 0);
        assert_int_equal(rec.orphe.lost_frames_before, 3);
        assert_int_equal(rec.orphe.t_us, 86400090ull * 1000);

        assert_int_equal(decode_orphe(&s, 5, 24, 0, 0, 0, &rec), DECODE_ERR_IMPLAUSIBLE);
        assert_int_equal(decode_orphe(&s, 5, 0, 60, 0, 0, &rec), DECODE_ERR_IMPLAUSIBLE);
        assert_int_equal(decode_orphe(&s, 5, 0, 0, 60, 0, &rec), DECODE_ERR_IMPLAUSIBLE);
        assert_int_equal(decode_orphe(&s, 5, 0, 0, 0, 1000, &rec), DECODE_ERR_IMPLAUSIBLE);
        /* the rejected frames did not move the serial */
        assert_int_equal(decode_orphe(&s, 5, 0, 0, 0, 110, &rec), 0);
        assert_int_equal(rec.orphe.lost_frames_before, 0);
}

static void test_uuid_normalize(void **state) {
        char u[DECODER_UUID_STRING_MAX];

        assert_int_equal(decoder_uuid_normalize("2a53", u), 0);
        assert_string_equal(u, "00002a53-0000-1000-8000-00805f9b34fb");
        assert_int_equal(decoder_uuid_normalize("0x2A53", u), 0);
        assert_string_equal(u, "00002a53-0000-1000-8000-00805f9b34fb");
        assert_int_equal(decoder_uuid_normalize(" 00002A53 ", u), 0);
        assert_string_equal(u, "00002a53-0000-1000-8000-00805f9b34fb");
        assert_int_equal(decoder_uuid_normalize("6F1D0002-2C4B-4E8A-9D3F-1B7E5A0C9F21", u), 0);
        assert_string_equal(u, OIP_PRESSURE_FRAME_UUID);
        assert_int_equal(decoder_uuid_normalize("6f1d00022c4b4e8a9d3f1b7e5a0c9f21", u), 0);
        assert_string_equal(u, OIP_PRESSURE_FRAME_UUID);

        assert_int_equal(decoder_uuid_normalize("", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize("2a5", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize("2a5g", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize("0x", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize("6f1d0002x2c4b-4e8a-9d3f-1b7e5a0c9f21", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize("6f1d00022c4b-4e8a-9d3f-1b7e5a0c9f21-", u), -EINVAL);
        assert_int_equal(decoder_uuid_normalize(NULL, u), -EINVAL);
}

static void test_registry(void **state) {
        const Decoder *d = NULL;
        const DecoderCharacteristic *c;
        char u[DECODER_UUID_STRING_MAX];

        assert_true(decoder_registry_size >= 6);
        for (size_t i = 0; i < decoder_registry_size; i++) {
                const Decoder *a = decoder_registry[i];
                assert_non_null(a->name);
                assert_int_equal(decoder_uuid_normalize(a->service_uuid, u), 0);
                assert_string_equal(u, a->service_uuid); /* stored normalised */
                /* A service may be shared by families (the Ukaton step counter and pressure
                 * stream): its first family in registry order answers for it. */
                for (size_t k = 0; k < decoder_registry_size; k++)
                        if (streq(decoder_registry[k]->service_uuid, a->service_uuid)) {
                                assert_ptr_equal(decoder_find_by_service(a->service_uuid), decoder_registry[k]);
                                break;
                        }
                assert_ptr_equal(decoder_find_by_name(a->name), a);
                assert_true(a->n_characteristics > 0);
                for (size_t j = 0; j < a->n_characteristics; j++) {
                        const DecoderCharacteristic *ch = &a->characteristics[j];
                        assert_non_null(ch->decode);
                        assert_non_null(ch->name);
                        assert_non_null(decoder_role_to_string(ch->role));
                        assert_non_null(record_kind_to_string(ch->record));
                        assert_int_equal(decoder_uuid_normalize(ch->uuid, u), 0);
                        assert_string_equal(u, ch->uuid);
                        /* unique across the registry */
                        assert_ptr_equal(decoder_find_characteristic(ch->uuid, &d), ch);
                        assert_ptr_equal(d, a);
                }
        }

        assert_ptr_equal(decoder_find_by_service("180f"), decoder_find_by_name("battery"));
        assert_ptr_equal(decoder_find_by_service("0x1814"), decoder_find_by_name("rsc"));
        assert_null(decoder_find_by_service("1815"));
        assert_null(decoder_find_by_service("nonsense"));
        c = decoder_find_characteristic("2A53", &d);
        assert_non_null(c);
        assert_string_equal(d->name, "rsc");
        assert_int_equal(c->role, DECODER_ROLE_STREAM);
        assert_null(decoder_find_characteristic("2a37", NULL));

        for (int r = DECODE_ERR_UNSUPPORTED; r <= DECODE_ERR_TOO_SHORT; r++) {
                assert_true(decode_result_is_error(r));
                assert_non_null(decode_result_to_string(r));
        }
        assert_false(decode_result_is_error(-EINVAL));
        assert_false(decode_result_is_error(0));
        assert_null(decode_result_to_string(-EINVAL));
        assert_string_equal(decode_result_to_string(DECODE_ERR_IMPLAUSIBLE), "implausible value");
}

/* The bytes each family writes to start its stream (the BlueZ client writes them as given). */
static void test_start_commands(void **state) {
        const DecoderCharacteristic *oip = decoder_find_characteristic(OIP_CP, NULL);
        const DecoderCharacteristic *uk = decoder_find_characteristic(UK_CONFIG, NULL);
        uint8_t buf[20], want[8];

        assert_non_null(oip->start_command);
        /* the insole's own rate; refused (an old insole): 100 Hz; nothing after that */
        assert_int_equal(oip->start_command(0, 0, buf, sizeof(buf)), 3);
        assert_int_equal(test_hex("01 00 00", want, sizeof(want)), 3);
        assert_memory_equal(buf, want, 3);
        assert_int_equal(oip->start_command(0, 1, buf, sizeof(buf)), 3);
        assert_int_equal(test_hex("01 64 00", want, sizeof(want)), 3);
        assert_memory_equal(buf, want, 3);
        assert_int_equal(oip->start_command(0, 2, buf, sizeof(buf)), -ENODATA);
        /* a configured rate has no fallback */
        assert_int_equal(oip->start_command(50, 0, buf, sizeof(buf)), 3);
        assert_int_equal(test_hex("01 32 00", want, sizeof(want)), 3);
        assert_memory_equal(buf, want, 3);
        assert_int_equal(oip->start_command(50, 1, buf, sizeof(buf)), -ENODATA);

        /* Ukaton: 12-bit pressure every 20 ms by default, delays in 10 ms steps, 10 ms at most */
        assert_non_null(uk->start_command);
        assert_int_equal(uk->start_command(0, 0, buf, sizeof(buf)), 5);
        assert_int_equal(test_hex("01 03 01 14 00", want, sizeof(want)), 5);
        assert_memory_equal(buf, want, 5);
        assert_int_equal(uk->start_command(30, 0, buf, sizeof(buf)), 5); /* 33 ms -> 30 */
        assert_int_equal(test_hex("01 03 01 1e 00", want, sizeof(want)), 5);
        assert_memory_equal(buf, want, 5);
        assert_int_equal(uk->start_command(400, 0, buf, sizeof(buf)), 5); /* 2.5 ms -> 10 */
        assert_int_equal(test_hex("01 03 01 0a 00", want, sizeof(want)), 5);
        assert_memory_equal(buf, want, 5);
        assert_int_equal(uk->start_command(0, 1, buf, sizeof(buf)), -ENODATA);
        /* and what the configuration characteristic decodes it back to */
        assert_int_equal(decode_hex(UK_CONFIG, "01 03 01 14 00", NULL, &(DecodedRecord) {}), 0);
}

static void test_stats(void **state) {
        DecoderStats s = {};
        DecodedRecord rec = { .kind = RECORD_BATTERY_LEVEL };

        decoder_stats_account(&s, 0, &rec);
        decoder_stats_account(&s, DECODE_ERR_TOO_SHORT, NULL);
        decoder_stats_account(&s, DECODE_ERR_BAD_LENGTH, NULL);
        decoder_stats_account(&s, DECODE_ERR_BAD_CHECKSUM, NULL);
        decoder_stats_account(&s, DECODE_ERR_IMPLAUSIBLE, NULL);
        decoder_stats_account(&s, DECODE_ERR_IMPLAUSIBLE, NULL);
        decoder_stats_account(&s, DECODE_ERR_UNSUPPORTED, NULL);
        decoder_stats_account(&s, -ENOMEM, NULL); /* not the device's fault */
        assert_int_equal(s.decoded, 1);
        assert_int_equal(s.too_short, 1);
        assert_int_equal(s.bad_length, 1);
        assert_int_equal(s.bad_checksum, 1);
        assert_int_equal(s.implausible, 2);
        assert_int_equal(s.unsupported, 1);
        assert_int_equal(decoder_stats_rejected(&s), 6);
        rec = (DecodedRecord) { .kind = RECORD_ORPHE_FRAME, .orphe.lost_frames_before = 4 };
        decoder_stats_account(&s, 0, &rec);
        assert_int_equal(s.lost_frames, 4);
        assert_int_equal(s.decoded, 2);
}

/* The hex examples of docs/open-insole-profile.md decode, and its JSON example is what we print. */
static void test_profile_doc_examples(void **state) {
        static const char *const oip_chars[] = {
                OIP_PRESSURE_FRAME_UUID, OIP_SENSOR_LAYOUT_UUID, OIP_STEP_COUNTER_UUID, OIP_CONTROL_POINT_UUID,
        };
        const char *root = getenv("INSOLE2MQTT_SOURCE_ROOT");
        char path[4096], line[4096], last_json[8192] = "";
        unsigned hex_blocks = 0, json_blocks = 0;
        enum { OUTSIDE, HEX_BLOCK, JSON_BLOCK } where = OUTSIDE;
        _cleanup_fclose_ FILE *f = NULL;

        if (!root)
                skip();
        (void) snprintf(path, sizeof(path), "%s/docs/open-insole-profile.md", root);
        f = fopen(path, "re");
        assert_non_null(f);

        while (fgets(line, sizeof(line), f)) {
                line[strcspn(line, "\n")] = 0;
                if (strncmp(line, "```", 3) == 0) {
                        if (where != OUTSIDE)
                                where = OUTSIDE;
                        else
                                where = streq(line, "```json") ? JSON_BLOCK : streq(line, "```") ? HEX_BLOCK : OUTSIDE;
                        continue;
                }
                if (where == HEX_BLOCK) {
                        DecodedRecord rec;
                        bool ok = false;
                        for (size_t i = 0; i < ELEMENTSOF(oip_chars) && !ok; i++) {
                                if (decode_hex(oip_chars[i], line, NULL, &rec) == 0) {
                                        JsonWriter w;
                                        const char *json;
                                        json_writer_init(&w, last_json, sizeof(last_json));
                                        decoded_record_to_json(&rec, &w);
                                        assert_int_equal(json_writer_finish(&w, &json, NULL), 0);
                                        ok = true;
                                }
                        }
                        if (!ok)
                                fail_msg("docs example does not decode: %s", line);
                        hex_blocks++;
                } else if (where == JSON_BLOCK) {
                        if (!streq(line, last_json))
                                fail_msg("docs JSON example:\n doc %s\n got %s", line, last_json);
                        json_blocks++;
                }
        }
        assert_true(hex_blocks >= 4);
        assert_true(json_blocks >= 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_goldens),
                cmocka_unit_test(test_goldens_cover_registry),
                cmocka_unit_test(test_typed_records),
                cmocka_unit_test(test_oip_sequence_wraparound),
                cmocka_unit_test(test_orphe_serial_and_midnight),
                cmocka_unit_test(test_uuid_normalize),
                cmocka_unit_test(test_registry),
                cmocka_unit_test(test_start_commands),
                cmocka_unit_test(test_stats),
                cmocka_unit_test(test_profile_doc_examples),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
