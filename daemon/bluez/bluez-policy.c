/* SPDX-License-Identifier: MIT */
#include "bluez-policy.h"

bool bluez_link_is_stable(uint64_t link_up_usec, uint64_t link_down_usec, uint64_t stable_usec) {
        if (link_up_usec == 0 || link_down_usec < link_up_usec)
                return false;
        return link_down_usec - link_up_usec >= stable_usec;
}

double bluez_link_rate(uint64_t frames, uint64_t since_usec, uint64_t now_usec) {
        if (since_usec == 0 || now_usec <= since_usec)
                return 0;
        return (double) frames * 1e6 / (double) (now_usec - since_usec);
}

BluezWatchdogAction bluez_watchdog_check(BluezLinkState state, uint64_t now_usec, uint64_t since_usec,
                                         uint64_t last_rx_usec, uint64_t silence_timeout_usec,
                                         uint64_t setup_timeout_usec) {
        switch (state) {
        case BLUEZ_LINK_RESOLVING:
        case BLUEZ_LINK_SUBSCRIBING:
                if (setup_timeout_usec > 0 && now_usec >= since_usec &&
                    now_usec - since_usec >= setup_timeout_usec)
                        return BLUEZ_WATCHDOG_STUCK;
                return BLUEZ_WATCHDOG_OK;

        case BLUEZ_LINK_STREAMING: {
                /* Silence is measured from the last frame, or from when streaming began if none came. */
                uint64_t ref = MAX(last_rx_usec, since_usec);
                if (silence_timeout_usec > 0 && now_usec >= ref && now_usec - ref >= silence_timeout_usec)
                        return BLUEZ_WATCHDOG_SILENT;
                return BLUEZ_WATCHDOG_OK;
        }

        default:
                return BLUEZ_WATCHDOG_OK;
        }
}

void bluez_adapter_health_init(BluezAdapterHealth *h, unsigned reset_after, unsigned exit_after) {
        *h = (BluezAdapterHealth) {
                .reset_after = reset_after,
                .exit_after = exit_after,
        };
}

void bluez_adapter_health_set_limits(BluezAdapterHealth *h, unsigned reset_after, unsigned exit_after) {
        h->reset_after = reset_after;
        h->exit_after = exit_after;
}

void bluez_adapter_health_success(BluezAdapterHealth *h) {
        h->failures = 0;
        h->resets = 0;
}

BluezEscalation bluez_adapter_health_failure(BluezAdapterHealth *h) {
        if (h->reset_after == 0)
                return BLUEZ_ESCALATE_NONE;

        if (++h->failures < h->reset_after)
                return BLUEZ_ESCALATE_NONE;

        h->failures = 0;
        if (h->exit_after > 0 && h->resets >= h->exit_after)
                return BLUEZ_ESCALATE_EXIT;

        h->resets++;
        return BLUEZ_ESCALATE_POWER_CYCLE;
}
