/* SPDX-License-Identifier: MIT */
#pragma once

/* Several gateways, one broker: a clinic has a gateway per room and a wearer walks between them.
 * Every gateway stays subscribed to the wearer's retained <base>/<wearer>/steps. While it does not
 * hold the wearer's insoles itself, it takes over what the gateway that does published: today's
 * and the total count (the larger wins, so the merge is idempotent), and the insoles' own counter
 * states, so that when the wearer arrives, the steps taken on the way are counted exactly once
 * against the counter the previous gateway last accounted for. Pure: parsing and decisions only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mqtt-publish.h"

/* The step-counter reconciliation state of one device: the last cumulative count we accounted for
 * and the device boot it belongs to. The Manager persists it in the state directory and restores
 * it at start-up, so steps are counted exactly once across reconnects and our restarts. */
typedef struct DeviceStepState {
        bool valid;
        uint32_t boot_id;
        uint32_t steps;
} DeviceStepState;

/* Reconciles one reading (steps, boot_id) of the device's cumulative counter with the last one we
 * counted. Returns the number of new steps and updates *state:
 *   - first reading ever (state not valid): baseline only, 0 steps (we cannot know which of the
 *     device's earlier steps were already counted elsewhere);
 *   - same boot_id, counter grew: the difference (this covers steps taken out of range);
 *   - new boot_id, or the counter went backwards: the device restarted its count, so all its
 *     current steps are new.
 * A reading equal to the last one returns 0, so repeated reads and notifications count once. */
uint32_t device_steps_reconcile(DeviceStepState *state, uint32_t steps, uint32_t boot_id);

typedef struct RemoteSteps {
        uint64_t steps_today;
        uint64_t steps_total;
        char day[11];
        char gateway[CONFIG_NAME_MAX + 1]; /* "" when the publisher did not say */
        uint64_t seq;                      /* 0 when absent */
        MqttDeviceSteps device[_DEVICE_ROLE_MAX];
        bool has_distance;                 /* a footpod wearer's distance_today_m, distance_total_m */
        uint64_t distance_today_dm;
        uint64_t distance_total_dm;
        bool has_footpod_total;            /* devices.footpod.total_distance_dm */
        uint32_t footpod_total_dm;
} RemoteSteps;

/* Parses a retained steps payload (untrusted: another gateway, or anyone allowed to publish
 * there). -EBADMSG when it is not what docs/schema/steps.json describes. */
int remote_steps_parse(const void *payload, size_t len, RemoteSteps *ret);

/* Whether a device counter state published by another gateway should replace ours: ours is
 * unknown, the device restarted since (another boot), or it is the same boot further on. */
bool remote_device_state_is_newer(const DeviceStepState *ours, const MqttDeviceSteps *remote);

/* Plausibility of another gateway's count (anyone allowed to publish on the broker can write one):
 * today's count can only have grown by what the wearer could have walked since we last knew it,
 * REMOTE_STEPS_MAX_RATE steps per second (a sprint is about 4.5), plus REMOTE_STEPS_SLACK_SEC of
 * it for clocks that disagree. known_usec is the wall clock when `ours` was last known to be
 * right; 0 = never, and then the step may be up to unknown_max (REMOTE_STEPS_DAY_MAX for today's
 * count, REMOTE_STEPS_LIFETIME_MAX for a total a new gateway has never seen). */
#define REMOTE_STEPS_MAX_RATE 5u
#define REMOTE_STEPS_SLACK_SEC 10u
#define REMOTE_STEPS_DAY_MAX (REMOTE_STEPS_MAX_RATE * UINT64_C(3600) * 24)
#define REMOTE_STEPS_LIFETIME_MAX (REMOTE_STEPS_DAY_MAX * 365 * 120)
bool remote_steps_plausible(uint64_t ours, uint64_t theirs, uint64_t known_usec, uint64_t now_usec,
                            uint64_t unknown_max);

/* The same for a footpod wearer's distance in 1/10 m: at most REMOTE_DISTANCE_MAX_DM_PER_S
 * (10 m/s, faster than anyone runs for long) since it was last known. */
#define REMOTE_DISTANCE_MAX_DM_PER_S 100u
#define REMOTE_DISTANCE_DAY_MAX_DM (REMOTE_DISTANCE_MAX_DM_PER_S * UINT64_C(3600) * 24)
#define REMOTE_DISTANCE_LIFETIME_MAX_DM (REMOTE_DISTANCE_DAY_MAX_DM * 365 * 120)
bool remote_distance_plausible(uint64_t ours_dm, uint64_t theirs_dm, uint64_t known_usec, uint64_t now_usec,
                               uint64_t unknown_max_dm);

/* Whether the configuration believes this gateway's counts: an empty trusted-gateways list
 * believes every gateway; our own id is always believed; an anonymous count only with an empty
 * list. */
bool remote_gateway_is_trusted(const Config *config, const char *gateway);
