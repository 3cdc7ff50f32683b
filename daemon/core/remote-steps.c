/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <string.h>

#include "json-parse.h"
#include "remote-steps.h"
#include "round-util.h"

static int get_u32(const JsonValue *obj, const char *key, uint32_t *ret) {
        uint64_t v;
        int r = json_value_get_uint64(json_value_member(obj, key), UINT32_MAX, &v);
        if (r < 0)
                return r;
        *ret = (uint32_t) v;
        return 0;
}

/* distances are written in m with one decimal; kept in 1/10 m, exact */
#define REMOTE_DISTANCE_M_MAX 1e12

static int get_distance_dm(const JsonValue *obj, const char *key, uint64_t *ret) {
        double m;

        if (json_value_get_double(json_value_member(obj, key), &m) < 0 || !(m >= 0 && m <= REMOTE_DISTANCE_M_MAX))
                return -EBADMSG;
        *ret = (uint64_t) round_half_away(m * 10);
        return 0;
}

int remote_steps_parse(const void *payload, size_t len, RemoteSteps *ret) {
        static const JsonParseLimits limits = { .max_size = 4096, .max_depth = 4, .max_values = 64 };
        _cleanup_(json_document_freep) JsonDocument *doc = NULL;
        const JsonValue *root, *devices;
        RemoteSteps rs = {};
        const char *s;
        size_t slen;

        if (json_parse(payload, len, &limits, &doc, NULL) < 0)
                return -EBADMSG;
        root = json_document_root(doc);
        if (json_value_type(root) != JSON_TYPE_OBJECT)
                return -EBADMSG;
        if (json_value_get_uint64(json_value_member(root, "steps_today"), UINT64_MAX / 2, &rs.steps_today) < 0 ||
            json_value_get_uint64(json_value_member(root, "steps_total"), UINT64_MAX / 2, &rs.steps_total) < 0)
                return -EBADMSG;
        if (json_value_get_string(json_value_member(root, "day"), &s, &slen) < 0 || slen >= sizeof(rs.day))
                return -EBADMSG;
        memcpy(rs.day, s, slen + 1);

        if (json_value_member(root, "seq") &&
            json_value_get_uint64(json_value_member(root, "seq"), UINT64_MAX / 2, &rs.seq) < 0)
                return -EBADMSG;
        if (json_value_member(root, "gateway")) {
                if (json_value_get_string(json_value_member(root, "gateway"), &s, &slen) < 0 ||
                    slen == 0 || slen > CONFIG_NAME_MAX)
                        return -EBADMSG;
                memcpy(rs.gateway, s, slen + 1);
        }

        if (json_value_member(root, "distance_today_m") || json_value_member(root, "distance_total_m")) {
                if (get_distance_dm(root, "distance_today_m", &rs.distance_today_dm) < 0 ||
                    get_distance_dm(root, "distance_total_m", &rs.distance_total_dm) < 0)
                        return -EBADMSG;
                rs.has_distance = true;
        }

        devices = json_value_member(root, "devices");
        if (devices) {
                if (json_value_type(devices) != JSON_TYPE_OBJECT)
                        return -EBADMSG;
                for (DeviceRole r = 0; r < _DEVICE_ROLE_MAX; r++) {
                        const JsonValue *d = json_value_member(devices, device_role_to_string(r));
                        bool pod = r == DEVICE_ROLE_FOOTPOD;
                        if (!d)
                                continue;
                        /* a footpod has no step counter, only its Total Distance */
                        if (!pod || json_value_member(d, "boot_id") || json_value_member(d, "steps")) {
                                if (get_u32(d, "boot_id", &rs.device[r].boot_id) < 0 ||
                                    get_u32(d, "steps", &rs.device[r].steps) < 0)
                                        return -EBADMSG;
                                rs.device[r].valid = true;
                        }
                        if (pod && json_value_member(d, "total_distance_dm")) {
                                if (get_u32(d, "total_distance_dm", &rs.footpod_total_dm) < 0)
                                        return -EBADMSG;
                                rs.has_footpod_total = true;
                        }
                }
        }
        *ret = rs;
        return 0;
}

bool remote_device_state_is_newer(const DeviceStepState *ours, const MqttDeviceSteps *remote) {
        if (!remote->valid)
                return false;
        if (!ours->valid || ours->boot_id != remote->boot_id)
                return true;
        return remote->steps > ours->steps;
}

static bool growth_plausible(uint64_t ours, uint64_t theirs, uint64_t known_usec, uint64_t now_usec,
                             uint64_t unknown_max, uint64_t max_per_sec) {
        uint64_t elapsed_sec;

        if (theirs <= ours)
                return true;
        if (known_usec == 0)
                return theirs - ours <= unknown_max;
        elapsed_sec = now_usec > known_usec ? (now_usec - known_usec) / USEC_PER_SEC : 0;
        /* a day's worth at most: beyond that the day changed anyway (today), and a total grows
         * by at most that much a day */
        elapsed_sec = MIN(elapsed_sec, (uint64_t) 365 * 24 * 3600) + REMOTE_STEPS_SLACK_SEC;
        return theirs - ours <= elapsed_sec * max_per_sec;
}

bool remote_steps_plausible(uint64_t ours, uint64_t theirs, uint64_t known_usec, uint64_t now_usec,
                            uint64_t unknown_max) {
        return growth_plausible(ours, theirs, known_usec, now_usec, unknown_max, REMOTE_STEPS_MAX_RATE);
}

bool remote_distance_plausible(uint64_t ours_dm, uint64_t theirs_dm, uint64_t known_usec, uint64_t now_usec,
                               uint64_t unknown_max_dm) {
        return growth_plausible(ours_dm, theirs_dm, known_usec, now_usec, unknown_max_dm, REMOTE_DISTANCE_MAX_DM_PER_S);
}

bool remote_gateway_is_trusted(const Config *config, const char *gateway) {
        if (config->n_trusted_gateways == 0)
                return true;
        if (!gateway || !gateway[0])
                return false;
        if (streq(gateway, config->gateway_id))
                return true;
        for (unsigned i = 0; i < config->n_trusted_gateways; i++)
                if (streq(gateway, config->trusted_gateways[i]))
                        return true;
        return false;
}

uint32_t device_steps_reconcile(DeviceStepState *state, uint32_t steps, uint32_t boot_id) {
        uint32_t delta;

        if (!state->valid)
                delta = 0;
        else if (state->boot_id != boot_id || steps < state->steps)
                delta = steps;
        else
                delta = steps - state->steps;

        *state = (DeviceStepState) {
                .valid = true,
                .boot_id = boot_id,
                .steps = steps,
        };
        return delta;
}
