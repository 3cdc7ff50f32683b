/* SPDX-License-Identifier: MIT */
/* JSON form of every record (docs/decoders.md lists the fields). */

#include <stdio.h>

#include "decoders.h"
#include "macro.h"

static void rsc_measurement_json(const RscMeasurement *m, JsonWriter *w) {
        json_kv_bool(w, "running", m->running);
        /* 1/256 m/s is exact in 8 decimals; 4 keep the resolution without noise. */
        json_kv_double(w, "speed_m_s", m->speed_m_s, 4);
        json_kv_uint(w, "cadence_per_min", m->cadence_per_min);
        if (m->has_stride_length)
                json_kv_double(w, "stride_length_m", m->stride_length_m, 2);
        if (m->has_total_distance)
                json_kv_double(w, "total_distance_m", m->total_distance_m, 1);
}

static void rsc_feature_json(const RscFeature *f, JsonWriter *w) {
        json_kv_uint(w, "features", f->bits);
        json_kv_bool(w, "stride_length", f->bits & RSC_FEATURE_STRIDE_LENGTH);
        json_kv_bool(w, "total_distance", f->bits & RSC_FEATURE_TOTAL_DISTANCE);
        json_kv_bool(w, "walking_running", f->bits & RSC_FEATURE_WALKING_RUNNING);
        json_kv_bool(w, "calibration", f->bits & RSC_FEATURE_CALIBRATION);
        json_kv_bool(w, "multiple_locations", f->bits & RSC_FEATURE_MULTIPLE_LOCATIONS);
}

static void oip_frame_json(const OipPressureFrame *f, JsonWriter *w) {
        json_kv_uint(w, "version", f->version);
        json_kv_uint(w, "seq", f->seq);
        json_kv_uint(w, "t0_us", f->t0_us);
        json_kv_uint(w, "sample_period_us", f->sample_period_us);
        json_kv_uint(w, "n_cells", f->n_cells);
        json_kv_uint(w, "n_samples", f->n_samples);
        json_kv_uint(w, "lost_frames_before", f->lost_frames_before);
        json_kv_bool(w, "clock_restarted", f->clock_restarted);
        json_key(w, "cells");
        json_array_begin(w);
        for (unsigned s = 0; s < f->n_samples; s++) {
                json_array_begin(w);
                for (unsigned c = 0; c < f->n_cells; c++)
                        json_uint(w, f->cells[s][c]);
                json_array_end(w);
        }
        json_array_end(w);
        if (f->has_imu) {
                json_key(w, "imu");
                json_array_begin(w);
                for (unsigned s = 0; s < f->n_samples; s++) {
                        json_object_begin(w);
                        json_key(w, "accel_g");
                        json_array_begin(w);
                        for (unsigned k = 0; k < 3; k++)
                                json_double(w, f->imu[s].accel_mg[k] / 1000.0, 3);
                        json_array_end(w);
                        json_key(w, "gyro_dps");
                        json_array_begin(w);
                        for (unsigned k = 0; k < 3; k++)
                                json_double(w, f->imu[s].gyro_ddps[k] / 10.0, 1);
                        json_array_end(w);
                        json_object_end(w);
                }
                json_array_end(w);
        }
}

static void oip_layout_json(const OipSensorLayout *l, JsonWriter *w) {
        json_kv_uint(w, "version", l->version);
        json_kv_string(w, "side", foot_side_to_string(l->layout.side));
        json_kv_string(w, "unit", pressure_unit_to_string(l->layout.unit));
        json_kv_double(w, "scale", l->layout.scale, 6);
        json_kv_double(w, "offset", l->layout.offset, 6);
        json_key(w, "cells");
        json_array_begin(w);
        for (unsigned c = 0; c < l->layout.n_cells && c < INSOLE_MAX_CELLS; c++) {
                json_object_begin(w);
                json_kv_double(w, "x", l->layout.cells[c].x, 4);
                json_kv_double(w, "y", l->layout.cells[c].y, 4);
                json_kv_double(w, "area_mm2", l->layout.cells[c].area_mm2, 0);
                json_object_end(w);
        }
        json_array_end(w);
}

static void orphe_json(const OrpheFrame *f, JsonWriter *w) {
        char time[sizeof("hh:mm:ss.mmm")];

        (void) snprintf(time, sizeof(time), "%02u:%02u:%02u.%03u",
                        (unsigned) f->hour % 100u, (unsigned) f->minute % 100u,
                        (unsigned) f->second % 100u, (unsigned) f->millisecond % 1000u);
        json_kv_uint(w, "header", f->header);
        json_kv_uint(w, "serial", f->serial);
        json_kv_string(w, "device_time", time);
        json_kv_uint(w, "t_us", f->t_us);
        json_kv_uint(w, "lost_frames_before", f->lost_frames_before);
        json_key(w, "samples");
        json_array_begin(w);
        for (unsigned s = 0; s < f->n_samples && s < ORPHE_MAX_SAMPLES; s++) {
                const OrpheSample *o = &f->samples[s];
                json_object_begin(w);
                if (f->has_quat) {
                        json_key(w, "quat");
                        json_array_begin(w);
                        for (unsigned k = 0; k < 4; k++)
                                json_double(w, o->quat[k] / 16384.0, 5);
                        json_array_end(w);
                }
                json_key(w, "gyro_raw");
                json_array_begin(w);
                for (unsigned k = 0; k < 3; k++)
                        json_int(w, o->gyro[k]);
                json_array_end(w);
                json_key(w, "accel_raw");
                json_array_begin(w);
                for (unsigned k = 0; k < 3; k++)
                        json_int(w, o->accel[k]);
                json_array_end(w);
                if (f->has_pressure) {
                        json_key(w, "pressure");
                        json_array_begin(w);
                        for (unsigned k = 0; k < ORPHE_PRESSURE_CHANNELS; k++)
                                json_uint(w, o->pressure[k]);
                        json_array_end(w);
                }
                if (f->header == ORPHE_HEADER_QUAT_GYRO_ACC)
                        json_kv_uint(w, "dt_ms", o->dt_ms);
                json_object_end(w);
        }
        json_array_end(w);
}

void decoded_record_to_json(const DecodedRecord *rec, JsonWriter *w) {
        json_object_begin(w);
        switch (rec->kind) {
        case RECORD_RSC_MEASUREMENT:
                rsc_measurement_json(&rec->rsc_measurement, w);
                break;
        case RECORD_RSC_FEATURE:
                rsc_feature_json(&rec->rsc_feature, w);
                break;
        case RECORD_SENSOR_LOCATION:
                json_kv_uint(w, "sensor_location", rec->sensor_location.location);
                json_kv_string(w, "sensor_location_name", sensor_location_to_string(rec->sensor_location.location));
                break;
        case RECORD_BATTERY_LEVEL:
                json_kv_uint(w, "battery_percent", rec->battery.percent);
                break;
        case RECORD_DEVICE_INFO_STRING:
                json_kv_string(w, "field", device_info_field_to_string(rec->device_info.field));
                json_key(w, "value");
                json_string_len(w, rec->device_info.value, MIN((size_t) rec->device_info.len, (size_t) DEVICE_INFO_STRING_MAX));
                json_kv_bool(w, "truncated", rec->device_info.truncated);
                break;
        case RECORD_OIP_PRESSURE_FRAME:
                oip_frame_json(&rec->oip_frame, w);
                break;
        case RECORD_OIP_SENSOR_LAYOUT:
                oip_layout_json(&rec->oip_layout, w);
                break;
        case RECORD_OIP_STEP_COUNTER:
                json_kv_uint(w, "version", rec->oip_steps.version);
                json_kv_uint(w, "steps", rec->oip_steps.steps);
                json_kv_uint(w, "boot_id", rec->oip_steps.boot_id);
                break;
        case RECORD_OIP_CONTROL_COMMAND:
                json_kv_string(w, "command", rec->oip_control.opcode == OIP_CP_START ? "start" :
                                             rec->oip_control.opcode == OIP_CP_STOP ? "stop" : NULL);
                if (rec->oip_control.opcode == OIP_CP_START)
                        json_kv_uint(w, "rate_hz", rec->oip_control.rate_hz);
                break;
        case RECORD_ORPHE_FRAME:
                orphe_json(&rec->orphe, w);
                break;
        case RECORD_UKATON_STEPS:
                json_kv_uint(w, "steps", rec->ukaton_steps.steps);
                break;
        case RECORD_OWN:
                if (rec->characteristic && rec->characteristic->own_to_json)
                        rec->characteristic->own_to_json(rec, w);
                break;
        default:
                break;
        }
        json_object_end(w);
}
