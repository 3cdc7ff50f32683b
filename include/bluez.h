/* SPDX-License-Identifier: MIT */
#pragma once

/* The BlueZ client: follows bluetoothd as a peer service on the system bus (name watch, object
 * snapshot, deltas), picks the configured adapter, connects the devices registered with
 * bluez_client_add_device() (an allow-list of addresses), subscribes to the characteristics the
 * decoder registry knows and hands their bytes, with the caller's per-device userdata, back to the
 * Manager. It moves bytes and link state only: decoding, step counting and wearers are core's.
 * It heals itself: reconnect with exponential backoff and jitter, a data-path watchdog,
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
#include "log.h"

typedef struct BluezClient BluezClient;
typedef struct BluezDevice BluezDevice;

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
        BluezNotifyPath notify_path; /* of the data characteristic */
        char last_error[BLUEZ_ERROR_MAX]; /* D-Bus error name or errno text, "" = none */
} BluezLinkStats;

#define BLUEZ_NAME_MAX 64 /* advertised names are cut here before escaping */

/* A device that advertises a supported service but is not configured (auto-discovery). */
typedef struct BluezDiscovery {
        char address[18];                         /* "AA:BB:..."; the Manager must not log it above debug */
        char name_escaped[BLUEZ_NAME_MAX * 4 + 1]; /* log_escape()d, may be "" */
        bool has_rssi;
        int16_t rssi;
        const char *noun;                         /* what its advertised service makes it (Decoder.noun) */
} BluezDiscovery;

/* Callbacks run inside the client's event handlers: they may query the client (stats) but must
 * not free it; to stop, exit the event loop and free it afterwards. userdata is the client's (from
 * bluez_client_new()), device_userdata the one the device was added with. */
typedef struct BluezClientCallbacks {
        /* A notification or read of a registered device's characteristic c (the registry's entry
         * for its UUID). The bytes are untrusted and only valid during the call. rx_usec is
         * CLOCK_MONOTONIC. */
        void (*on_value)(void *userdata, void *device_userdata, const DecoderCharacteristic *c, const uint8_t *data,
                         size_t len, uint64_t rx_usec);
        /* The link state changed. */
        void (*on_link_state)(void *userdata, void *device_userdata, BluezLinkState state);
        /* Auto-discovery report (only with Config.auto_discovery). At most once per device object. */
        void (*on_discovered)(void *userdata, const BluezDiscovery *d);
        /* bluetoothd appeared (true) or vanished (false). */
        void (*on_service)(void *userdata, bool available);
        /* Persistent failure: power cycles did not help. The Manager should exit non-zero so that
         * systemd restarts the service (Restart=on-failure). error is a negative errno. */
        void (*on_fatal)(void *userdata, int error);
} BluezClientCallbacks;

/* The Config (adapter, timeouts, backoff, discovery; not its wearers) must outlive the client.
 * The bus must be connected (the system bus in the daemon,
 * a private bus in tests). */
int bluez_client_new(sd_event *event, sd_bus *bus, const Config *config, const BluezClientCallbacks *cb,
                     void *userdata, BluezClient **ret);
BluezClient *bluez_client_free(BluezClient *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(BluezClient *, bluez_client_free);

/* What the client needs to know of a device it should connect. */
typedef struct BluezDeviceSetup {
        BdAddr address;
        const char *label;       /* "left insole of anna": what info-level logs say; copied */
        LogContext log;          /* its strings must outlive the client */
        uint16_t stream_rate_hz; /* passed to the family's start command; 0: the device's own rate */
} BluezDeviceSetup;

/* Registers a device before bluez_client_start(); userdata comes back with its callbacks.
 * ret (may be NULL) is the handle for bluez_client_get_link_stats(), owned by the client. */
int bluez_client_add_device(BluezClient *c, const BluezDeviceSetup *setup, void *userdata, BluezDevice **ret);

/* Installs the matches and asks for bluetoothd's owner; everything else follows asynchronously. */
int bluez_client_start(BluezClient *c);

/* -ENOENT when d is NULL. */
int bluez_client_get_link_stats(BluezClient *c, BluezDevice *d, BluezLinkStats *ret);

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
