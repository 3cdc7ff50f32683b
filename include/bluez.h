/* SPDX-License-Identifier: MIT */
#pragma once

/* The BlueZ client: follows bluetoothd as a peer service on the system bus (name watch, object
 * snapshot, deltas), picks the configured adapter, connects the configured wearers' insoles (an
 * allow-list of addresses), subscribes to their notifications and hands decoded records to the
 * Manager. It heals itself: reconnect with exponential backoff and jitter, a data-path watchdog,
 * an adapter power cycle after repeated failures, and finally a "give up" signal so that the
 * Manager exits non-zero and systemd restarts the service. docs/bluetooth.md describes it.
 *
 * It never blocks: after bluez_client_start() every D-Bus call is asynchronous. Nothing a device
 * sends (names, advertisement data) is trusted: lengths are bounded, bytes are escaped for logs,
 * and nothing of it reaches a topic or a file name. Addresses are logged at debug level only. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "config.h"
#include "decoder.h"

typedef struct BluezClient BluezClient;

/* Where one configured device is in its life cycle. */
typedef enum BluezLinkState {
        BLUEZ_LINK_ABSENT,      /* no adapter, bluetoothd away, or BlueZ has no object for it yet */
        BLUEZ_LINK_WAITING,     /* disconnected, next attempt after the backoff */
        BLUEZ_LINK_CONNECTING,  /* Device1.Connect in flight */
        BLUEZ_LINK_RESOLVING,   /* connected, waiting for ServicesResolved and the GATT objects */
        BLUEZ_LINK_SUBSCRIBING, /* reading static characteristics, acquiring notifications */
        BLUEZ_LINK_STREAMING,   /* notifications flowing (or expected to) */
        BLUEZ_LINK_DISCONNECTING,
        _BLUEZ_LINK_STATE_MAX,
        _BLUEZ_LINK_STATE_INVALID = -1,
} BluezLinkState;

const char *bluez_link_state_to_string(BluezLinkState s); /* "absent", "waiting", ... */

typedef enum BluezNotifyPath {
        BLUEZ_NOTIFY_NONE,
        BLUEZ_NOTIFY_ACQUIRE,      /* AcquireNotify: a private SOCK_SEQPACKET fd */
        BLUEZ_NOTIFY_START,        /* StartNotify + PropertiesChanged(Value) */
        _BLUEZ_NOTIFY_PATH_MAX,
        _BLUEZ_NOTIFY_PATH_INVALID = -1,
} BluezNotifyPath;

const char *bluez_notify_path_to_string(BluezNotifyPath p); /* "none", "acquire", "start-notify" */

#define BLUEZ_ERROR_MAX 128

/* Per-device link metrics for the MQTT/health layer. Counters survive reconnects and bluetoothd
 * restarts (but link_frames); they start at zero when the client is created. */
typedef struct BluezLinkStats {
        BluezLinkState state;
        bool connected;              /* Device1.Connected */
        bool refused;                /* require-bonded: BlueZ has no bond with it, so it is not used */
        bool has_rssi;
        int16_t rssi;                /* dBm, last advertisement or connection value */
        bool has_battery;
        uint8_t battery_percent;
        uint64_t link_up_usec;       /* CLOCK_MONOTONIC when the current link came up, 0 = down */
        uint64_t link_uptime_usec;   /* now - link_up_usec, filled by bluez_client_get_link_stats() */
        uint64_t last_rx_usec;       /* CLOCK_MONOTONIC of the last notification, 0 = none yet */
        uint64_t connects;           /* links established (the first one included) */
        uint64_t reconnects;         /* links established after an earlier one was lost */
        uint64_t connect_failures;   /* attempts that did not reach streaming */
        uint64_t watchdog_trips;     /* silent links we cut */
        uint64_t frames_received;    /* notifications of the data characteristic */
        uint64_t link_frames;        /* ... on the current link; reset on every (re)connect */
        double notifications_per_s;  /* link_frames per second since the link started streaming, 0 when
                                      * down; filled by bluez_client_get_link_stats() */
        uint64_t frames_lost;        /* gaps in the pressure frames' sequence numbers */
        uint64_t frames_rejected;    /* notifications the decoder refused (malformed) */
        BluezNotifyPath notify_path; /* of the data characteristic */
        char last_error[BLUEZ_ERROR_MAX]; /* D-Bus error name or errno text, "" = none */
} BluezLinkStats;

/* The step-counter reconciliation state of one device: the last cumulative count we accounted for
 * and the device boot it belongs to. The Manager persists it (e.g. in the state directory) and
 * restores it at start-up, so steps are counted exactly once across reconnects and our restarts. */
typedef struct BluezStepState {
        bool valid;
        uint32_t boot_id;
        uint32_t steps;
} BluezStepState;

#define BLUEZ_NAME_MAX 64 /* advertised names are cut here before escaping */

/* A device that advertises a supported service but is not configured (auto-discovery). */
typedef struct BluezDiscovery {
        char address[18];                         /* "AA:BB:..."; the Manager must not log it above debug */
        char name_escaped[BLUEZ_NAME_MAX * 4 + 1]; /* log_escape()d, may be "" */
        bool has_rssi;
        int16_t rssi;
        bool oip;                                 /* advertises the Open Insole Profile service */
        bool rsc;                                 /* advertises Running Speed and Cadence */
} BluezDiscovery;

/* Callbacks run inside the client's event handlers: they may query the client (stats, step state)
 * but must not free it; to stop, exit the event loop and free it afterwards. */
typedef struct BluezClientCallbacks {
        /* A decoded notification or read of a configured device. rx_usec is CLOCK_MONOTONIC. */
        void (*on_record)(void *userdata, size_t wearer, DeviceRole role, const DecodedRecord *record,
                          uint64_t rx_usec);
        /* The link state changed. */
        void (*on_link_state)(void *userdata, size_t wearer, DeviceRole role, BluezLinkState state);
        /* New steps from the device's cumulative counter, each counted once; *state is the updated
         * reconciliation state to persist. Also called with delta 0 when only the baseline moved
         * (first reading, device reboot), so that the state can be saved. */
        void (*on_step_counter_delta)(void *userdata, size_t wearer, DeviceRole role, uint32_t delta,
                                      const BluezStepState *state);
        /* Auto-discovery report (only with Config.auto_discovery). At most once per device object. */
        void (*on_discovered)(void *userdata, const BluezDiscovery *d);
        /* bluetoothd appeared (true) or vanished (false). */
        void (*on_service)(void *userdata, bool available);
        /* Persistent failure: power cycles did not help. The Manager should exit non-zero so that
         * systemd restarts the service (Restart=on-failure). error is a negative errno. */
        void (*on_fatal)(void *userdata, int error);
} BluezClientCallbacks;

/* The Config must outlive the client. The bus must be connected (the system bus in the daemon,
 * a private bus in tests). */
int bluez_client_new(sd_event *event, sd_bus *bus, const Config *config, const BluezClientCallbacks *cb,
                     void *userdata, BluezClient **ret);
BluezClient *bluez_client_free(BluezClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(BluezClient *, bluez_client_free);

/* Installs the matches and asks for bluetoothd's owner; everything else follows asynchronously. */
int bluez_client_start(BluezClient *c);

/* -ENOENT when the wearer/role is not configured. */
int bluez_client_get_link_stats(BluezClient *c, size_t wearer, DeviceRole role, BluezLinkStats *ret);
int bluez_client_get_step_state(BluezClient *c, size_t wearer, DeviceRole role, BluezStepState *ret);
int bluez_client_set_step_state(BluezClient *c, size_t wearer, DeviceRole role, const BluezStepState *state);

/* The adapter in use: its object path's last segment ("hci0") and power state. -ENODEV while
 * none is selected (bluetoothd away, no adapter). */
typedef struct BluezAdapterInfo {
        char name[16];
        bool powered;
} BluezAdapterInfo;
int bluez_client_get_adapter(BluezClient *c, BluezAdapterInfo *ret);

/* Whether bluetoothd is on the bus and its object snapshot has been applied. */
bool bluez_client_service_available(BluezClient *c);
/* 0, or the negative errno passed to on_fatal once the client gave up. */
int bluez_client_fatal_error(BluezClient *c);

/* The Config it was created with changed (a reload): take the new backoff limits and adapter
 * health thresholds. A device waiting longer than the new backoff-max for its next attempt is
 * rescheduled within the new limits; every other timer keeps its time. Timeouts are read from the
 * Config when they are used, so they need nothing here. */
void bluez_client_config_changed(BluezClient *c);

/* For tests: replace the jitter source (default: getrandom()). */
void bluez_client_set_random(BluezClient *c, uint64_t (*rnd)(void *userdata), void *userdata);
