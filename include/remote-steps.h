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

#include "bluez.h"
#include "config.h"
#include "mqtt-publish.h"

typedef struct RemoteSteps {
        uint64_t steps_today;
        uint64_t steps_total;
        char day[11];
        char gateway[CONFIG_NAME_MAX + 1]; /* "" when the publisher did not say */
        MqttDeviceSteps device[_DEVICE_ROLE_MAX];
} RemoteSteps;

/* Parses a retained steps payload (untrusted: another gateway, or anyone allowed to publish
 * there). -EBADMSG when it is not what docs/schema/steps.json describes. */
int remote_steps_parse(const void *payload, size_t len, RemoteSteps *ret);

/* Whether a device counter state published by another gateway should replace ours: ours is
 * unknown, the device restarted since (another boot), or it is the same boot further on. */
bool remote_device_state_is_newer(const BluezStepState *ours, const MqttDeviceSteps *remote);
