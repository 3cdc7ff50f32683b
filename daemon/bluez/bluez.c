/* SPDX-License-Identifier: MIT */
/* The BlueZ client (include/bluez.h): bluetoothd's name and objects, the adapter, the registered
 * devices' links and their characteristics' bytes.
 *
 * It stays one file on purpose: its parts call each other both ways. A device's link state
 * machine asks the client to kick the next connection, refresh discovery and account adapter
 * health; the client's signal handlers drive devices and characteristics; a characteristic that
 * starts notifying moves its device to streaming, and a device tearing down its link releases its
 * characteristics. Cut into device/characteristic/adapter files, each would need the others'
 * internals. What depends one way is already apart: message parsing (bluez-parse.c), the pure
 * decisions (bluez-policy.c) and the notification sockets (bluez-notify.c). */
#include <fcntl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "backoff.h"
#include "bluez-notify.h"
#include "bluez-parse.h"
#include "bluez-policy.h"
#include "bluez.h"
#include "event-util.h"
#include "log.h"
#include "string-table.h"

#define BLUEZ_OBJECT_MANAGER_PATH "/"
#define BLUEZ_PATH_NAMESPACE "/org/bluez"
#define BLUEZ_ERROR_PREFIX "org.bluez.Error."

/* Calls other than Connect. */
#define CALL_TIMEOUT_USEC (10 * USEC_PER_SEC)
/* A start command fits the smallest ATT payload (MTU 23 minus the 3-byte header). */
#define BLUEZ_CONTROL_MAX 20
#define REPORTED_MAX 64
#define TIMER_ACCURACY_USEC (1 * USEC_PER_MSEC)
#define DISCOVERY_RETRY_USEC (5 * USEC_PER_SEC)
#define POWER_ON_GRACE_USEC (2 * USEC_PER_SEC)
/* notify-coalesce = auto with the raw stream off: 5 notifications per read at 100 Hz, far below
 * the ~278 an AcquireNotify socket holds. */
#define BLUEZ_NOTIFY_COALESCE_AUTO_USEC (50 * USEC_PER_MSEC)

typedef struct BluezDevice BluezDevice;

typedef struct BluezChar {
        BluezDevice *device;
        struct BluezChar *next;
        char *path;
        char uuid[37];
        unsigned flags;
        bool acquire_offered;   /* NotifyAcquired exists: AcquireNotify is available */
        bool acquire_refused;   /* AcquireNotify failed on this link: use StartNotify */
        bool setup_started;     /* read/subscribe issued on this link */
        const DecoderCharacteristic *dc;
        sd_bus_slot *slot;      /* the call in flight for this characteristic */
        BluezNotifyPath notify;
        int fd;
        uint16_t mtu;
        uint64_t reader;        /* its notify_drain id, 0 = none */
} BluezChar;

struct BluezDevice {
        BluezClient *client;
        void *userdata;              /* the caller's, handed back with every callback */
        BdAddr address;
        char label[CONFIG_NAME_MAX + 32]; /* "left insole of anna": what info-level logs say */
        LogContext ctx;
        uint16_t stream_rate_hz;     /* for the family's start command; 0: the device's own */

        char *path;                  /* BlueZ object, NULL while BlueZ has none */
        bool connected;
        bool services_resolved;
        bool advertised;             /* an advertisement arrived since the last attempt began */
        bool seen_at_attempt;        /* ... and had arrived when the current attempt began */
        bool failed_unseen;          /* the last failure happened while we saw no advertisements */
        bool has_bonded;             /* BlueZ reports Bonded (>= 5.65); else Paired is what we have */
        bool bonded;
        bool paired;
        bool refusal_logged;         /* "not bonded" said once per object, not per attempt */

        BluezLinkState state;
        uint64_t state_since_usec;
        bool streamed_this_link;
        unsigned start_attempt;      /* start commands the device refused; the family may have another */
        bool failure_counted;        /* this link's failure is already accounted for */
        uint64_t streaming_since_usec;

        Backoff backoff;
        sd_event_source *timer;      /* next connection attempt */
        bool want_connect;           /* queued behind another device's attempt */
        sd_bus_slot *connect_slot;
        sd_bus_slot *disconnect_slot;
        sd_bus_slot *control_slot;

        BluezChar *chars;
        BluezLinkStats stats;
};

typedef struct BluezAdapter {
        struct BluezAdapter *next;
        char *path;
        bool has_address;
        BdAddr address;
        bool powered;
} BluezAdapter;

typedef enum DiscoveryStep {
        DISCOVERY_IDLE,
        DISCOVERY_SETTING_FILTER,
        DISCOVERY_STARTING,
        DISCOVERY_STOPPING,
} DiscoveryStep;

struct BluezClient {
        sd_event *event;
        sd_bus *bus;
        const Config *config;
        BluezClientCallbacks cb;
        void *userdata;
        uint64_t (*rnd)(void *userdata);
        void *rnd_userdata;

        sd_bus_slot *match_owner;
        sd_bus_slot *match_added;
        sd_bus_slot *match_removed;
        sd_bus_slot *match_props[3];
        sd_bus_slot *owner_slot;
        sd_bus_slot *objects_slot;
        sd_event_source *tick;
        NotifyDrain *drain;          /* every AcquireNotify socket, read together */

        char *owner;                 /* bluetoothd's unique name */
        bool owner_changed;          /* a NameOwnerChanged arrived while GetNameOwner was in flight */
        bool snapshot_applied;
        unsigned snapshot_pass;      /* 0 = not inside a snapshot: handle every interface */

        BluezAdapter *adapters;
        BluezAdapter *adapter;       /* the one we use */
        BluezAdapterHealth health;
        BluezDevice *connecting;     /* one LE connection attempt at a time */
        sd_bus_slot *power_slot;
        bool power_cycling;          /* a power cycle is under way (both halves) */
        bool power_cycle_off_sent;   /* its first half (Powered=false) is in flight */
        bool warned_unpowered;
        sd_bus_slot *discovery_slot;
        DiscoveryStep discovery_step;
        bool discovery_active;
        uint64_t discovery_retry_usec;  /* after a failed start, not before this */
        uint64_t power_retry_usec;      /* after a failed power-on, not before this */

        char *reported[REPORTED_MAX];
        size_t reported_next;

        BluezDevice **devices;
        size_t n_devices;
        int fatal_error;
};

static const char *const bluez_link_state_table[_BLUEZ_LINK_STATE_MAX] = {
        [BLUEZ_LINK_ABSENT] = "absent",
        [BLUEZ_LINK_WAITING] = "waiting",
        [BLUEZ_LINK_CONNECTING] = "connecting",
        [BLUEZ_LINK_RESOLVING] = "resolving",
        [BLUEZ_LINK_SUBSCRIBING] = "subscribing",
        [BLUEZ_LINK_STREAMING] = "streaming",
        [BLUEZ_LINK_DISCONNECTING] = "disconnecting",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(bluez_link_state, BluezLinkState);

static const char *const bluez_notify_path_table[_BLUEZ_NOTIFY_PATH_MAX] = {
        [BLUEZ_NOTIFY_NONE] = "none",
        [BLUEZ_NOTIFY_ACQUIRE] = "acquire",
        [BLUEZ_NOTIFY_START] = "start-notify",
};

DEFINE_STRING_TABLE_LOOKUP_TO_STRING(bluez_notify_path, BluezNotifyPath);

static char *mfree_str(char *p) {
        free(p);
        return NULL;
}

static bool isempty_str(const char *s) {
        return !s || !*s;
}

static uint64_t now_usec(BluezClient *c) {
        return event_now_usec(c->event, CLOCK_MONOTONIC);
}

static uint64_t default_random(void *userdata) {
        uint64_t v = 0;

        if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
                v = (uint64_t) clock() * 6364136223846793005ULL + 1442695040888963407ULL;
        return v;
}

static bool bluez_error_is(const sd_bus_error *e, const char *name) {
        return e && e->name && streq(e->name, name);
}

static void device_record_error(BluezDevice *d, const sd_bus_error *e, int r) {
        if (e && e->name)
                (void) snprintf(d->stats.last_error, sizeof(d->stats.last_error), "%s%s%s", e->name,
                                e->message ? ": " : "", strempty(e->message));
        else
                (void) snprintf(d->stats.last_error, sizeof(d->stats.last_error), "%s", strerror(-r));
}

/* ---- calls ---------------------------------------------------------------------------------- */

static int new_call(BluezClient *c, const char *path, const char *interface, const char *member,
                    sd_bus_message **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = sd_bus_message_new_method_call(c->bus, &m, c->owner ?: BLUEZ_SERVICE, path, interface, member);
        if (r < 0)
                return r;
        /* Never start bluetoothd by accident: if it is gone, the call fails. */
        r = sd_bus_message_set_auto_start(m, 0);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(m);
        return 0;
}

static int call_simple(BluezClient *c, sd_bus_slot **slot, const char *path, const char *interface,
                       const char *member, bool empty_options, sd_bus_message_handler_t cb, void *userdata,
                       uint64_t timeout_usec) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = new_call(c, path, interface, member, &m);
        if (r < 0)
                return r;
        if (empty_options) {
                r = sd_bus_message_append(m, "a{sv}", 0);
                if (r < 0)
                        return r;
        }
        *slot = sd_bus_slot_unref(*slot);
        return sd_bus_call_async(c->bus, slot, m, cb, userdata, timeout_usec);
}


/* ---- forward declarations ------------------------------------------------------------------ */

static void client_update_discovery(BluezClient *c);
static void client_kick_connections(BluezClient *c);
static void device_try_connect(BluezDevice *d);
static void device_schedule(BluezDevice *d, uint64_t delay_usec);
static void device_disconnect(BluezDevice *d);
static void device_on_connected(BluezDevice *d);
static void device_on_disconnected(BluezDevice *d);
static bool device_refuse(BluezDevice *d);
static void char_setup(BluezChar *ch);

/* ---- device state --------------------------------------------------------------------------- */

static void device_set_state(BluezDevice *d, BluezLinkState s) {
        BluezClient *c = d->client;

        if (d->state == s)
                return;
        log_ctx(LOG_DEBUG, &d->ctx, "%s: %s -> %s", d->label, bluez_link_state_to_string(d->state),
                bluez_link_state_to_string(s));
        d->state = s;
        d->state_since_usec = now_usec(c);
        d->stats.state = s;
        if (c->cb.on_link_state)
                c->cb.on_link_state(c->userdata, d->userdata, s);
        client_update_discovery(c);
}

/* Stops reading the notification socket, then closes it. */
static void char_release_fd(BluezChar *ch) {
        notify_drain_remove(ch->device->client->drain, ch->reader);
        ch->reader = 0;
        ch->fd = safe_close(ch->fd);
}

static BluezChar *char_free(BluezChar *ch) {
        if (!ch)
                return NULL;
        ch->slot = sd_bus_slot_unref(ch->slot);
        char_release_fd(ch);
        free(ch->path);
        free(ch);
        return NULL;
}

static void char_link_reset(BluezChar *ch) {
        ch->slot = sd_bus_slot_unref(ch->slot);
        char_release_fd(ch);
        ch->notify = BLUEZ_NOTIFY_NONE;
        ch->setup_started = false;
        ch->acquire_refused = false;
}

static BluezChar *device_find_char(BluezDevice *d, const char *path) {
        for (BluezChar *ch = d->chars; ch; ch = ch->next)
                if (streq(ch->path, path))
                        return ch;
        return NULL;
}

static BluezChar *device_stream_char(BluezDevice *d) {
        for (BluezChar *ch = d->chars; ch; ch = ch->next)
                if (ch->dc && ch->dc->role == DECODER_ROLE_STREAM && (ch->flags & (BLUEZ_CHAR_NOTIFY | BLUEZ_CHAR_INDICATE)))
                        return ch;
        return NULL;
}

/* Drops everything that belongs to the current link (fds, subscriptions, calls in flight). */
static void device_link_teardown(BluezDevice *d) {
        for (BluezChar *ch = d->chars; ch; ch = ch->next)
                char_link_reset(ch);
        d->control_slot = sd_bus_slot_unref(d->control_slot);
        d->stats.notify_path = BLUEZ_NOTIFY_NONE;
}

static void device_free_chars(BluezDevice *d) {
        while (d->chars) {
                BluezChar *ch = d->chars;
                d->chars = ch->next;
                char_free(ch);
        }
}

static void client_fatal(BluezClient *c, int error) {
        if (c->fatal_error != 0)
                return;
        c->fatal_error = error;
        /* The one error line of this failure: the Manager only exits on it. */
        log_error_errno(error, "Bluetooth does not recover even after power-cycling the adapter, giving up "
                               "(%m); exiting so that systemd restarts the service.");
        if (c->cb.on_fatal)
                c->cb.on_fatal(c->userdata, error);
}

static void adapter_power_cycle(BluezClient *c);

/* A failure on this link or attempt. blame_adapter: it points at the controller rather than at a
 * device that is simply away. */
static void device_account_failure(BluezDevice *d, bool blame_adapter) {
        BluezClient *c = d->client;

        d->stats.connect_failures++;
        d->failure_counted = true;
        if (!blame_adapter || !c->adapter)
                return;

        switch (bluez_adapter_health_failure(&c->health)) {
        case BLUEZ_ESCALATE_POWER_CYCLE:
                log_warning("Bluetooth adapter keeps failing (%u failures in a row), power-cycling it.",
                            c->health.reset_after);
                adapter_power_cycle(c);
                break;
        case BLUEZ_ESCALATE_EXIT:
                client_fatal(c, -EIO);
                break;
        default:
                break;
        }
}

/* Whether the device showed itself around the current attempt: then a failure is not explained by
 * it being out of range, and counts against the adapter. */
static bool device_seen(BluezDevice *d) {
        return d->seen_at_attempt || d->advertised;
}

static uint64_t client_random(BluezClient *c) {
        return c->rnd ? c->rnd(c->rnd_userdata) : 0;
}

/* Back to WAITING with the next backoff delay. */
static void device_wait(BluezDevice *d) {
        BluezClient *c = d->client;
        uint64_t delay;

        if (!d->path) {
                device_set_state(d, BLUEZ_LINK_ABSENT);
                return;
        }
        delay = backoff_next(&d->backoff, client_random(c));
        device_set_state(d, BLUEZ_LINK_WAITING);
        log_ctx(LOG_DEBUG, &d->ctx, "%s: next connection attempt in %" PRIu64 " ms", d->label,
                delay / USEC_PER_MSEC);
        device_schedule(d, delay);
}

static int device_timer_handler(sd_event_source *s, uint64_t usec, void *userdata) {
        BluezDevice *d = userdata;

        device_try_connect(d);
        return 0;
}

static void device_schedule(BluezDevice *d, uint64_t delay_usec) {
        BluezClient *c = d->client;
        uint64_t when = now_usec(c) + delay_usec;
        int r;

        /* Accuracy 0 would mean sd-event's default of 250 ms: far coarser than the backoff. */
        r = event_timer_arm(c->event, &d->timer, CLOCK_MONOTONIC, when, TIMER_ACCURACY_USEC, device_timer_handler,
                            d, "bluez-device-reconnect");
        if (r < 0)
                log_ctx_errno(LOG_ERR, &d->ctx, r, "%s: failed to arm the reconnection timer: %m", d->label);
}

static void device_cancel_timer(BluezDevice *d) {
        if (d->timer)
                (void) sd_event_source_set_enabled(d->timer, SD_EVENT_OFF);
}

static int device_connect_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezDevice *d = userdata;
        BluezClient *c = d->client;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        d->connect_slot = sd_bus_slot_unref(d->connect_slot);
        if (c->connecting == d)
                c->connecting = NULL;

        if (!e || bluez_error_is(e, BLUEZ_ERROR_PREFIX "AlreadyConnected")) {
                log_ctx(LOG_DEBUG, &d->ctx, "%s: Connect() returned", d->label);
                d->connected = true;
                d->stats.connected = true;
                if (d->state == BLUEZ_LINK_CONNECTING) {
                        /* The link is up even if PropertiesChanged(Connected) is still in the queue. */
                        d->state = BLUEZ_LINK_WAITING; /* let device_on_connected() take over */
                        device_on_connected(d);
                }
                client_kick_connections(c);
                return 0;
        }

        device_record_error(d, e, sd_bus_message_get_errno(m));
        log_ctx(LOG_INFO, &d->ctx, "%s: connection attempt failed: %s", d->label, d->stats.last_error);
        if (d->state == BLUEZ_LINK_RESOLVING || d->state == BLUEZ_LINK_SUBSCRIBING) {
                /* Connected=true came first, then the error (bluetoothd answers only after service
                 * discovery): the attempt failed all the same. End it now instead of waiting the
                 * whole connect timeout for ServicesResolved. */
                device_link_teardown(d);
                if (!d->failure_counted)
                        device_account_failure(d, true);
                d->failed_unseen = false;
                device_set_state(d, BLUEZ_LINK_DISCONNECTING);
                device_disconnect(d);
        } else if (d->state == BLUEZ_LINK_CONNECTING) {
                bool seen = device_seen(d);
                /* InProgress: another client or a stale attempt holds the adapter; not its fault. */
                bool blame = seen && !bluez_error_is(e, BLUEZ_ERROR_PREFIX "InProgress");

                if (bluez_error_is(e, SD_BUS_ERROR_NO_REPLY) || bluez_error_is(e, SD_BUS_ERROR_TIMEOUT))
                        /* Cancel the attempt that BlueZ may still be making. */
                        device_disconnect(d);
                d->failed_unseen = !seen;
                device_account_failure(d, blame);
                if (d->connected) {
                        /* Half a link (e.g. "Software caused connection abort" during service
                         * discovery): take it down; Connected=false then starts the backoff. */
                        device_set_state(d, BLUEZ_LINK_DISCONNECTING);
                        device_disconnect(d);
                } else
                        device_wait(d);
        }
        client_kick_connections(c);
        return 0;
}

static bool client_can_connect(BluezClient *c) {
        return c->snapshot_applied && c->adapter && c->adapter->powered && !c->power_cycling &&
               c->fatal_error == 0;
}

static void device_try_connect(BluezDevice *d) {
        BluezClient *c = d->client;
        int r;

        if (d->state != BLUEZ_LINK_WAITING || !d->path)
                return;
        if (device_refuse(d)) {
                d->want_connect = false;
                return; /* retried when Bonded/Paired changes */
        }
        if (d->connected) {
                device_on_connected(d);
                return;
        }
        if (!client_can_connect(c) || (c->connecting && c->connecting != d)) {
                d->want_connect = true;
                return;
        }

        d->want_connect = false;
        r = call_simple(c, &d->connect_slot, d->path, BLUEZ_DEVICE_INTERFACE, "Connect", false,
                        device_connect_reply, d, c->config->connect_timeout_usec);
        if (r < 0) {
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to send Connect(): %m", d->label);
                device_account_failure(d, false);
                device_wait(d);
                return;
        }
        c->connecting = d;
        d->failure_counted = false;
        d->seen_at_attempt = d->advertised;
        d->advertised = false;
        log_ctx(LOG_DEBUG, &d->ctx, "%s: connecting", d->label);
        device_set_state(d, BLUEZ_LINK_CONNECTING);
}

static void client_kick_connections(BluezClient *c) {
        if (!client_can_connect(c) || c->connecting)
                return;
        for (size_t i = 0; i < c->n_devices; i++) {
                BluezDevice *d = c->devices[i];
                if (d->want_connect && d->state == BLUEZ_LINK_WAITING) {
                        device_try_connect(d);
                        if (c->connecting)
                                return;
                }
        }
}

static int device_disconnect_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezDevice *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        d->disconnect_slot = sd_bus_slot_unref(d->disconnect_slot);
        if (e && !bluez_error_is(e, BLUEZ_ERROR_PREFIX "NotConnected"))
                log_ctx(LOG_DEBUG, &d->ctx, "%s: Disconnect() failed: %s", d->label, e->name);
        /* If BlueZ says the device is not connected, the link is gone whatever the property says. */
        if (e && bluez_error_is(e, BLUEZ_ERROR_PREFIX "NotConnected") && d->state == BLUEZ_LINK_DISCONNECTING) {
                d->connected = false;
                device_on_disconnected(d);
        }
        return 0;
}

static void device_disconnect(BluezDevice *d) {
        BluezClient *c = d->client;
        int r;

        if (!d->path || d->disconnect_slot)
                return;
        r = call_simple(c, &d->disconnect_slot, d->path, BLUEZ_DEVICE_INTERFACE, "Disconnect", false,
                        device_disconnect_reply, d, CALL_TIMEOUT_USEC);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to send Disconnect(): %m", d->label);
        if (d->state >= BLUEZ_LINK_RESOLVING)
                device_set_state(d, BLUEZ_LINK_DISCONNECTING);
}

/* Cuts a link that misbehaves (silent, stuck in set-up, lost its notification fd). */
static void device_cut(BluezDevice *d, bool count_failure) {
        device_link_teardown(d);
        if (count_failure && !d->failure_counted)
                device_account_failure(d, true);
        d->failure_counted = true;
        device_disconnect(d);
}

static void device_check_ready(BluezDevice *d);

/* require-bonded: BlueZ connects to a bonded device at security level medium (it encrypts the
 * link with the stored key before any ATT traffic; bluez src/device.c, "LTK is available"), so
 * Bonded (Paired before 5.65) plus a link that came up means an encrypted link with the key of
 * the device the wearer paired. Someone else using the address cannot encrypt with that key:
 * the link fails. A device that was never bonded gets no link from us at all. */
static bool device_is_trusted(BluezDevice *d) {
        if (!d->client->config->require_bonded)
                return true;
        return d->has_bonded ? d->bonded : d->paired;
}

static bool device_refuse(BluezDevice *d) {
        char addr[18];

        if (device_is_trusted(d)) {
                d->stats.refused = false;
                return false;
        }
        d->stats.refused = true;
        if (!d->refusal_logged) {
                d->refusal_logged = true;
                bdaddr_to_string(&d->address, addr);
                log_ctx(LOG_WARNING, &d->ctx,
                        "%s: refused: BlueZ has no bond with this device (pair it once with bluetoothctl, "
                        "or set require-bonded = no); its data is not used",
                        d->label);
                log_ctx(LOG_DEBUG, &d->ctx, "%s: the unbonded device is %s", d->label, addr);
        }
        return true;
}

static void device_on_connected(BluezDevice *d) {
        BluezClient *c = d->client;

        if (d->state >= BLUEZ_LINK_RESOLVING) /* already up, or going down */
                return;
        if (device_refuse(d))
                return; /* connected by someone else: not ours to use */
        device_cancel_timer(d);
        d->want_connect = false;
        d->streamed_this_link = false;
        d->failure_counted = false;
        d->stats.connected = true;
        d->stats.link_up_usec = now_usec(c);
        d->stats.last_rx_usec = 0;
        d->stats.link_frames = 0;
        d->failed_unseen = false;
        log_ctx(LOG_DEBUG, &d->ctx, "%s: connected", d->label);
        device_set_state(d, BLUEZ_LINK_RESOLVING);
        device_check_ready(d);
}

static void device_on_disconnected(BluezDevice *d) {
        BluezClient *c = d->client;
        uint64_t now = now_usec(c);
        bool was_up = d->state >= BLUEZ_LINK_RESOLVING;

        if (c->connecting == d && d->state != BLUEZ_LINK_CONNECTING)
                c->connecting = NULL;
        if (d->state == BLUEZ_LINK_CONNECTING)
                return; /* the Connect() reply decides */
        if (!was_up)
                return;

        device_link_teardown(d);
        d->disconnect_slot = sd_bus_slot_unref(d->disconnect_slot);
        d->stats.connected = false;

        if (d->streamed_this_link) {
                if (bluez_link_is_stable(d->streaming_since_usec, now, c->config->stable_link_usec))
                        backoff_reset(&d->backoff);
                log_ctx(LOG_INFO, &d->ctx, "%s: link lost after %" PRIu64 " s, reconnecting", d->label,
                        (now - d->stats.link_up_usec) / USEC_PER_SEC);
        } else {
                if (!d->failure_counted)
                        device_account_failure(d, true);
                log_ctx(LOG_INFO, &d->ctx, "%s: link lost before streaming started, reconnecting", d->label);
        }
        d->stats.link_up_usec = 0;
        device_wait(d);
        client_kick_connections(c);
}

static void device_streaming(BluezDevice *d, BluezChar *stream);

/* ---- notifications and reads ------------------------------------------------------------- */

static void char_handle_value(BluezChar *ch, const uint8_t *data, size_t len, uint64_t rx_usec) {
        BluezDevice *d = ch->device;
        BluezClient *c = d->client;

        if (!ch->dc)
                return;
        if (ch->dc->role == DECODER_ROLE_STREAM) {
                d->stats.frames_received++;
                d->stats.link_frames++;
                d->stats.last_rx_usec = rx_usec;
        }
        if (c->cb.on_value)
                c->cb.on_value(c->userdata, d->userdata, ch->dc, data, len, rx_usec);
}

static void char_on_notification(void *userdata, const uint8_t *data, size_t len) {
        BluezChar *ch = userdata;

        char_handle_value(ch, data, len, now_usec(ch->device->client));
}

static void char_on_notify_closed(void *userdata) {
        BluezChar *ch = userdata;
        BluezDevice *d = ch->device;

        /* BlueZ closes the fd when the link goes down or the MTU is renegotiated. Release it; if
         * the device still looks connected, rebuild the link rather than sit on a dead one. */
        log_ctx(LOG_DEBUG, &d->ctx, "%s: notification fd of %s closed", d->label, ch->dc ? ch->dc->name : ch->uuid);
        ch->reader = 0; /* the drain already forgot it */
        ch->fd = safe_close(ch->fd);
        ch->notify = BLUEZ_NOTIFY_NONE;
        if (ch->dc && ch->dc->role == DECODER_ROLE_STREAM && d->connected &&
            (d->state == BLUEZ_LINK_STREAMING || d->state == BLUEZ_LINK_SUBSCRIBING))
                device_cut(d, false);
}

static void char_subscribed(BluezChar *ch) {
        BluezDevice *d = ch->device;

        if (ch->dc && ch->dc->role == DECODER_ROLE_STREAM && d->state == BLUEZ_LINK_SUBSCRIBING)
                device_streaming(d, ch);
}

static void char_start_notify(BluezChar *ch);

static int char_acquire_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezChar *ch = userdata;
        BluezDevice *d = ch->device;
        BluezClient *c = d->client;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint16_t mtu;
        int fd, r;

        ch->slot = sd_bus_slot_unref(ch->slot);
        if (e) {
                /* NotSupported, NotPermitted, InProgress (someone holds StartNotify), Failed: fall back.
                 * Do not call StopNotify after a failed AcquireNotify (bluetoothd < 5.84 may crash). */
                log_ctx(LOG_DEBUG, &d->ctx, "%s: AcquireNotify(%s) refused: %s, using StartNotify", d->label,
                        ch->dc ? ch->dc->name : ch->uuid, e->name);
                device_record_error(d, e, 0);
                ch->acquire_refused = true;
                char_start_notify(ch);
                return 0;
        }

        r = bluez_parse_acquire_reply(m, &fd, &mtu);
        if (r >= 0) {
                ch->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
                r = ch->fd < 0 ? -errno : 0;
        }
        if (r >= 0) {
                int flags = fcntl(ch->fd, F_GETFL);
                if (flags >= 0)
                        (void) fcntl(ch->fd, F_SETFL, flags | O_NONBLOCK);
                r = notify_drain_add(c->drain, ch->fd, char_on_notification, char_on_notify_closed, ch, &ch->reader);
        }
        if (r < 0) {
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: unusable AcquireNotify reply, using StartNotify: %m", d->label);
                char_release_fd(ch);
                ch->acquire_refused = true;
                char_start_notify(ch);
                return 0;
        }
        ch->mtu = mtu;
        ch->notify = BLUEZ_NOTIFY_ACQUIRE;
        log_ctx(LOG_DEBUG, &d->ctx, "%s: %s acquired (MTU %u)", d->label, ch->dc ? ch->dc->name : ch->uuid, mtu);
        char_subscribed(ch);
        return 0;
}

static int char_start_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezChar *ch = userdata;
        BluezDevice *d = ch->device;
        const sd_bus_error *e = sd_bus_message_get_error(m);

        ch->slot = sd_bus_slot_unref(ch->slot);
        if (e) {
                device_record_error(d, e, 0);
                log_ctx(LOG_DEBUG, &d->ctx, "%s: StartNotify(%s) failed: %s", d->label,
                        ch->dc ? ch->dc->name : ch->uuid, e->name);
                /* Without the data stream the link is useless; with a side channel it is fine. */
                if (ch->dc && ch->dc->role == DECODER_ROLE_STREAM && d->state == BLUEZ_LINK_SUBSCRIBING)
                        device_cut(d, true);
                return 0;
        }
        ch->notify = BLUEZ_NOTIFY_START;
        char_subscribed(ch);
        return 0;
}

static void char_start_notify(BluezChar *ch) {
        BluezDevice *d = ch->device;
        int r;

        r = call_simple(d->client, &ch->slot, ch->path, BLUEZ_CHARACTERISTIC_INTERFACE, "StartNotify", false,
                        char_start_reply, ch, CALL_TIMEOUT_USEC);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to send StartNotify(): %m", d->label);
}

static void char_subscribe(BluezChar *ch) {
        BluezDevice *d = ch->device;
        int r;

        if (!(ch->flags & (BLUEZ_CHAR_NOTIFY | BLUEZ_CHAR_INDICATE)))
                return;
        if (!ch->acquire_offered || ch->acquire_refused) {
                char_start_notify(ch);
                return;
        }
        r = call_simple(d->client, &ch->slot, ch->path, BLUEZ_CHARACTERISTIC_INTERFACE, "AcquireNotify", true,
                        char_acquire_reply, ch, CALL_TIMEOUT_USEC);
        if (r < 0) {
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to send AcquireNotify(): %m", d->label);
                char_start_notify(ch);
        }
}

static int char_read_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezChar *ch = userdata;
        BluezDevice *d = ch->device;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const uint8_t *value;
        size_t len;

        ch->slot = sd_bus_slot_unref(ch->slot);
        if (e) {
                device_record_error(d, e, 0);
                log_ctx(LOG_DEBUG, &d->ctx, "%s: reading %s failed: %s", d->label, ch->dc->name, e->name);
        } else if (bluez_parse_read_reply(m, &value, &len) >= 0)
                char_handle_value(ch, value, len, now_usec(d->client));
        else
                log_ctx(LOG_DEBUG, &d->ctx, "%s: malformed ReadValue reply for %s", d->label, ch->dc->name);

        /* Counters are read once, then followed through notifications. */
        if (ch->dc && ch->dc->role == DECODER_ROLE_COUNTER && !ch->slot && d->connected)
                char_subscribe(ch);
        return 0;
}

static void device_write_control(BluezDevice *d, BluezChar *ch);

static int device_control_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezDevice *d = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        uint8_t probe[BLUEZ_CONTROL_MAX];
        BluezChar *ch;

        d->control_slot = sd_bus_slot_unref(d->control_slot);
        if (!e)
                return 0;
        device_record_error(d, e, 0);
        log_ctx(LOG_DEBUG, &d->ctx, "%s: writing the control point failed: %s", d->label, e->name);
        /* The device refused the command itself (an ATT error, not the link): the family may know
         * another one to try (an older firmware's). */
        if (d->state != BLUEZ_LINK_STREAMING || !e->message || !strstr(e->message, "ATT error"))
                return 0;
        for (ch = d->chars; ch; ch = ch->next)
                if (ch->dc && ch->dc->start_command &&
                    ch->dc->start_command(d->stream_rate_hz, d->start_attempt + 1, probe, sizeof(probe)) > 0) {
                        d->start_attempt++;
                        device_write_control(d, ch);
                        break;
                }
        return 0;
}

/* Writes the family's start command (attempt d->start_attempt) to the control characteristic. */
static void device_write_control(BluezDevice *d, BluezChar *ch) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        uint8_t buf[BLUEZ_CONTROL_MAX];
        int n, r;

        if (!ch->dc || !ch->dc->start_command || d->control_slot)
                return;
        n = ch->dc->start_command(d->stream_rate_hz, d->start_attempt, buf, sizeof(buf));
        if (n <= 0)
                return;
        r = new_call(d->client, ch->path, BLUEZ_CHARACTERISTIC_INTERFACE, "WriteValue", &m);
        if (r >= 0)
                r = sd_bus_message_append_array(m, 'y', buf, (size_t) n);
        if (r >= 0)
                r = sd_bus_message_append(m, "a{sv}", 1, "type", "s", "request");
        if (r >= 0)
                r = sd_bus_call_async(d->client->bus, &d->control_slot, m, device_control_reply, d, CALL_TIMEOUT_USEC);
        if (r < 0)
                log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to write the control point: %m", d->label);
        else
                log_ctx(LOG_DEBUG, &d->ctx, "%s: writing the start command (attempt %u)", d->label, d->start_attempt);
}

static void char_setup(BluezChar *ch) {
        BluezDevice *d = ch->device;
        int r;

        if (ch->setup_started || !ch->dc)
                return;

        switch (ch->dc->role) {
        case DECODER_ROLE_STATIC:
        case DECODER_ROLE_COUNTER:
                ch->setup_started = true;
                if (!(ch->flags & BLUEZ_CHAR_READ)) {
                        if (ch->dc->role == DECODER_ROLE_COUNTER)
                                char_subscribe(ch);
                        return;
                }
                r = call_simple(d->client, &ch->slot, ch->path, BLUEZ_CHARACTERISTIC_INTERFACE, "ReadValue", true,
                                char_read_reply, ch, CALL_TIMEOUT_USEC);
                if (r < 0)
                        log_ctx_errno(LOG_WARNING, &d->ctx, r, "%s: failed to send ReadValue(): %m", d->label);
                break;

        case DECODER_ROLE_STREAM:
                ch->setup_started = true;
                char_subscribe(ch);
                break;

        case DECODER_ROLE_CONTROL:
                /* Written once the stream is subscribed, so no frame is sent before we listen. */
                if (d->state == BLUEZ_LINK_STREAMING) {
                        ch->setup_started = true;
                        device_write_control(d, ch);
                }
                break;

        default:
                break;
        }
}

static void device_streaming(BluezDevice *d, BluezChar *stream) {
        BluezClient *c = d->client;
        uint64_t now = now_usec(c);

        d->streamed_this_link = true;
        d->streaming_since_usec = now;
        d->stats.notify_path = stream->notify;
        d->stats.connects++;
        if (d->stats.connects > 1)
                d->stats.reconnects++;
        bluez_adapter_health_success(&c->health);
        log_ctx(LOG_INFO, &d->ctx, "%s: streaming (%s, %" PRIu64 " ms after connecting)", d->label,
                bluez_notify_path_to_string(stream->notify), (now - d->stats.link_up_usec) / USEC_PER_MSEC);
        device_set_state(d, BLUEZ_LINK_STREAMING);
        for (BluezChar *ch = d->chars; ch; ch = ch->next)
                if (ch->dc && ch->dc->role == DECODER_ROLE_CONTROL)
                        char_setup(ch);
}

static void device_check_ready(BluezDevice *d) {
        if (d->state != BLUEZ_LINK_RESOLVING || !d->services_resolved)
                return;
        /* ServicesResolved may come before the objects: wait for the data characteristic (the
         * watchdog cuts the link if it never shows up). */
        if (!device_stream_char(d))
                return;
        device_set_state(d, BLUEZ_LINK_SUBSCRIBING);
        for (BluezChar *ch = d->chars; ch; ch = ch->next)
                char_setup(ch);
}

/* ---- adapters --------------------------------------------------------------------------------- */

static BluezAdapter *adapter_free(BluezAdapter *a) {
        if (!a)
                return NULL;
        free(a->path);
        free(a);
        return NULL;
}

static BluezAdapter *client_find_adapter(BluezClient *c, const char *path) {
        for (BluezAdapter *a = c->adapters; a; a = a->next)
                if (streq(a->path, path))
                        return a;
        return NULL;
}

static int adapter_power_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int adapter_set_powered(BluezClient *c, bool on) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        int r;

        r = new_call(c, c->adapter->path, "org.freedesktop.DBus.Properties", "Set", &m);
        if (r < 0)
                return r;
        r = sd_bus_message_append(m, "ssv", BLUEZ_ADAPTER_INTERFACE, "Powered", "b", (int) on);
        if (r < 0)
                return r;
        c->power_slot = sd_bus_slot_unref(c->power_slot);
        return sd_bus_call_async(c->bus, &c->power_slot, m, adapter_power_reply, c, CALL_TIMEOUT_USEC);
}

static int adapter_power_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r;

        c->power_slot = sd_bus_slot_unref(c->power_slot);
        /* Busy/InProgress: bluetoothd is powering the adapter itself (it does so at start-up);
         * the Powered property will tell us how that ends. */
        if (e)
                c->power_retry_usec = now_usec(c) + DISCOVERY_RETRY_USEC;
        if (e)
                log_full(bluez_error_is(e, BLUEZ_ERROR_PREFIX "Busy") || bluez_error_is(e, BLUEZ_ERROR_PREFIX "InProgress")
                                 ? LOG_DEBUG : LOG_WARNING,
                         "Failed to change the Bluetooth adapter's power: %s", e->name);

        if (c->power_cycling && c->power_cycle_off_sent && c->adapter) {
                /* Second half of the cycle, whether or not Powered=false was signalled yet. */
                c->power_cycle_off_sent = false;
                r = adapter_set_powered(c, true);
                if (r >= 0)
                        return 0;
                log_warning_errno(r, "Failed to power the Bluetooth adapter on again: %m");
        }
        c->power_cycling = false;
        client_kick_connections(c);
        client_update_discovery(c);
        return 0;
}

static void adapter_power_cycle(BluezClient *c) {
        int r;

        if (!c->adapter || c->power_cycling)
                return;
        c->power_cycling = true;
        c->power_cycle_off_sent = true;
        c->discovery_active = false;
        r = adapter_set_powered(c, false);
        if (r < 0) {
                c->power_cycling = c->power_cycle_off_sent = false;
                log_warning_errno(r, "Failed to power the Bluetooth adapter off: %m");
        }
}

static void client_ensure_powered(BluezClient *c) {
        int r;

        if (!c->adapter || c->adapter->powered || c->power_slot || c->power_cycling)
                return;
        if (now_usec(c) < c->power_retry_usec)
                return; /* the tick calls again */
        if (!c->config->power_on_adapter) {
                if (!c->warned_unpowered)
                        log_warning("The Bluetooth adapter is powered off and power-on-adapter is disabled; waiting.");
                c->warned_unpowered = true;
                return;
        }
        log_info("Powering the Bluetooth adapter on.");
        r = adapter_set_powered(c, true);
        if (r < 0)
                log_warning_errno(r, "Failed to power the Bluetooth adapter on: %m");
}

static void device_attach(BluezDevice *d, const char *path, const BluezDeviceProps *p);
static void device_detach(BluezDevice *d);

static void client_select_adapter(BluezClient *c) {
        BluezAdapter *best = NULL;

        if (c->adapter)
                return;
        for (BluezAdapter *a = c->adapters; a; a = a->next) {
                if (c->config->has_adapter) {
                        if (a->has_address && memcmp(a->address.b, c->config->adapter.b, 6) == 0) {
                                best = a;
                                break;
                        }
                } else if (!best || strcmp(a->path, best->path) < 0)
                        /* "The first adapter": the lowest object path, so the choice is stable. */
                        best = a;
        }
        if (!best)
                return;

        c->adapter = best;
        c->warned_unpowered = false;
        log_info("Using Bluetooth adapter %s.", best->path); /* hciN, not its address */
        client_ensure_powered(c);
}

static void client_drop_adapter(BluezClient *c) {
        for (size_t i = 0; i < c->n_devices; i++)
                device_detach(c->devices[i]);
        c->adapter = NULL;
        c->connecting = NULL;
        c->power_slot = sd_bus_slot_unref(c->power_slot);
        c->power_cycling = c->power_cycle_off_sent = false;
        c->discovery_slot = sd_bus_slot_unref(c->discovery_slot);
        c->discovery_step = DISCOVERY_IDLE;
        c->discovery_active = false;
}

static void adapter_update(BluezClient *c, const char *path, const BluezAdapterProps *p) {
        BluezAdapter *a = client_find_adapter(c, path);
        bool was_powered;

        if (!a) {
                a = calloc(1, sizeof(*a));
                if (!a) {
                        (void) log_oom();
                        return;
                }
                a->path = strdup(path);
                if (!a->path) {
                        adapter_free(a);
                        (void) log_oom();
                        return;
                }
                a->next = c->adapters;
                c->adapters = a;
        }
        was_powered = a->powered;
        if (p->has_address) {
                a->has_address = true;
                a->address = p->address;
        }
        if (p->has_powered)
                a->powered = p->powered;
        if (p->has_discovering && !p->discovering && a == c->adapter && c->discovery_active) {
                /* Someone (a power cycle, another client, bluetoothd) ended our session. */
                c->discovery_active = false;
        }

        if (c->snapshot_pass != 0)
                return; /* the snapshot handler selects after the adapter pass */

        client_select_adapter(c);
        if (a != c->adapter)
                return;
        if (was_powered && !a->powered) {
                log_info("The Bluetooth adapter was powered off.");
                c->discovery_active = false;
                /* bluetoothd powers its adapters off on its way out, and releases its name and
                 * removes the adapter only afterwards: powering on at once would race its exit.
                 * The tick powers it on after a grace period if bluetoothd and the adapter stay. */
                if (!c->power_cycling)
                        c->power_retry_usec = MAX(c->power_retry_usec, now_usec(c) + POWER_ON_GRACE_USEC);
        } else if (!was_powered && a->powered) {
                log_info("The Bluetooth adapter is powered on.");
                client_kick_connections(c);
        }
        client_update_discovery(c);
}

static void adapter_remove(BluezClient *c, const char *path) {
        BluezAdapter **pp = &c->adapters;

        while (*pp && !streq((*pp)->path, path))
                pp = &(*pp)->next;
        if (!*pp)
                return;

        BluezAdapter *a = *pp;
        *pp = a->next;
        if (a == c->adapter) {
                log_warning("The Bluetooth adapter in use disappeared; waiting for it to return.");
                client_drop_adapter(c);
        }
        adapter_free(a);
        client_select_adapter(c);
        client_update_discovery(c);
}

/* ---- devices ----------------------------------------------------------------------------------- */

static BluezDevice *client_find_device_by_path(BluezClient *c, const char *path) {
        for (size_t i = 0; i < c->n_devices; i++)
                if (c->devices[i]->path && streq(c->devices[i]->path, path))
                        return c->devices[i];
        return NULL;
}

static BluezDevice *client_find_device_by_address(BluezClient *c, const BdAddr *a) {
        for (size_t i = 0; i < c->n_devices; i++)
                if (memcmp(c->devices[i]->address.b, a->b, 6) == 0)
                        return c->devices[i];
        return NULL;
}

static void device_apply(BluezDevice *d, const BluezDeviceProps *p) {
        BluezClient *c = d->client;
        bool was_trusted = device_is_trusted(d);

        if (p->has_bonded) {
                d->has_bonded = true;
                d->bonded = p->bonded;
        }
        if (p->has_paired)
                d->paired = p->paired;
        if (device_is_trusted(d) != was_trusted) {
                if (was_trusted) {
                        /* the bond was removed: stop using whatever link there is */
                        d->refusal_logged = false;
                        if (d->state >= BLUEZ_LINK_RESOLVING && d->state != BLUEZ_LINK_DISCONNECTING) {
                                (void) device_refuse(d);
                                device_cut(d, false);
                        }
                } else {
                        d->stats.refused = false;
                        d->refusal_logged = false;
                        log_ctx(LOG_INFO, &d->ctx, "%s: bonded now", d->label);
                        if (d->state == BLUEZ_LINK_WAITING)
                                device_schedule(d, 0);
                }
        }

        if (p->has_rssi) {
                d->stats.has_rssi = true;
                d->stats.rssi = p->rssi;
                if (!d->connected) {
                        /* An advertisement: the device is in range. If the last attempt failed
                         * because it was away, do not sit out the rest of a long backoff. */
                        d->advertised = true;
                        if (d->state == BLUEZ_LINK_WAITING && d->failed_unseen) {
                                d->failed_unseen = false;
                                device_schedule(d, backoff_delay(c->config->backoff_initial_usec,
                                                                 c->config->backoff_initial_usec, 0,
                                                                 client_random(c)));
                        }
                }
        } else if (p->rssi_invalidated)
                d->stats.has_rssi = false;

        if (p->has_services_resolved) {
                d->services_resolved = p->services_resolved;
                if (p->services_resolved)
                        device_check_ready(d);
        }
        if (p->has_connected && p->connected != d->connected) {
                d->connected = p->connected;
                if (p->connected) {
                        if (d->state != BLUEZ_LINK_CONNECTING)
                                device_on_connected(d);
                        else {
                                /* Connect() still in flight: the link is up, but its reply
                                 * still decides (an error ends the attempt). */
                                d->state = BLUEZ_LINK_WAITING;
                                if (c->connecting == d)
                                        c->connecting = NULL;
                                device_on_connected(d);
                                client_kick_connections(c);
                        }
                } else {
                        /* BlueZ 5.66 has no Device1.Disconnected signal: Connected=false is it. */
                        d->services_resolved = false;
                        device_on_disconnected(d);
                }
        }
}

static void device_attach(BluezDevice *d, const char *path, const BluezDeviceProps *p) {
        BluezClient *c = d->client;
        char addr[18];

        d->path = strdup(path);
        if (!d->path) {
                (void) log_oom();
                return;
        }
        bdaddr_to_string(&d->address, addr);
        log_ctx(LOG_DEBUG, &d->ctx, "%s is %s at %s", d->label, addr, path);
        log_ctx(LOG_INFO, &d->ctx, "%s: known to BlueZ", d->label);

        d->connected = false;
        d->services_resolved = false;
        d->want_connect = false;
        /* taken as they are at first sight: only later changes are news */
        d->has_bonded = p->has_bonded;
        d->bonded = p->has_bonded && p->bonded;
        d->paired = p->has_paired && p->paired;
        d->refusal_logged = false;
        device_set_state(d, BLUEZ_LINK_WAITING);
        device_apply(d, p);
        if (d->state == BLUEZ_LINK_WAITING)
                /* First sight (or bluetoothd came back): try soon, whatever the backoff says. */
                device_schedule(d, c->rnd ? c->rnd(c->rnd_userdata) % (c->config->backoff_initial_usec / 4 + 1) : 0);
}

/* BlueZ no longer has the object (or bluetoothd/the adapter went away). */
static void device_detach(BluezDevice *d) {
        if (!d->path)
                return;
        if (d->client->connecting == d)
                d->client->connecting = NULL;
        if (d->state >= BLUEZ_LINK_RESOLVING) {
                d->connected = false;
                device_on_disconnected(d);
        }
        device_link_teardown(d);
        device_free_chars(d);
        device_cancel_timer(d);
        d->connect_slot = sd_bus_slot_unref(d->connect_slot);
        d->disconnect_slot = sd_bus_slot_unref(d->disconnect_slot);
        d->path = mfree_str(d->path);
        d->connected = false;
        d->services_resolved = false;
        d->want_connect = false;
        d->stats.connected = false;
        d->stats.link_up_usec = 0;
        device_set_state(d, BLUEZ_LINK_ABSENT);
}

static bool client_already_reported(BluezClient *c, const char *path) {
        for (size_t i = 0; i < REPORTED_MAX; i++)
                if (c->reported[i] && streq(c->reported[i], path))
                        return true;
        return false;
}

static void client_maybe_report(BluezClient *c, const char *path, const BluezDeviceProps *p) {
        BluezDiscovery disc = {};
        char *copy;

        if (!c->config->auto_discovery || !c->cb.on_discovered)
                return;
        /* BlueZ merges every client's discovery filter: check the advertised services ourselves. */
        if (!p->has_uuids || !p->advertised)
                return;
        if (!p->has_address || client_already_reported(c, path))
                return;

        copy = strdup(path);
        if (!copy)
                return;
        free(c->reported[c->reported_next]);
        c->reported[c->reported_next] = copy;
        c->reported_next = (c->reported_next + 1) % REPORTED_MAX;

        bdaddr_to_string(&p->address, disc.address);
        if (p->name)
                (void) log_escape(p->name, p->name_len, disc.name_escaped, sizeof(disc.name_escaped));
        disc.has_rssi = p->has_rssi;
        disc.rssi = p->rssi;
        disc.noun = p->advertised ? p->advertised->noun : NULL;
        log_debug("Discovered an unconfigured insole \"%s\" at %s", disc.name_escaped, disc.address);
        c->cb.on_discovered(c->userdata, &disc);
}

static void device_object_update(BluezClient *c, const char *path, const BluezDeviceProps *p) {
        BluezDevice *d = client_find_device_by_path(c, path);

        if (d) {
                device_apply(d, p);
                return;
        }
        if (!c->adapter || !bluez_path_is_below(path, c->adapter->path))
                return;
        if (p->has_address) {
                d = client_find_device_by_address(c, &p->address);
                if (d && !d->path) {
                        device_attach(d, path, p);
                        return;
                }
        }
        if (!d)
                client_maybe_report(c, path, p);
}

static void device_object_remove(BluezClient *c, const char *path) {
        BluezDevice *d = client_find_device_by_path(c, path);

        if (d) {
                log_ctx(LOG_INFO, &d->ctx, "%s: BlueZ removed the device object", d->label);
                device_detach(d);
                client_update_discovery(c);
        }
        for (size_t i = 0; i < REPORTED_MAX; i++)
                if (c->reported[i] && streq(c->reported[i], path))
                        c->reported[i] = mfree_str(c->reported[i]);
}

/* ---- characteristics --------------------------------------------------------------------------- */

static BluezDevice *client_find_char_owner(BluezClient *c, const char *path) {
        for (size_t i = 0; i < c->n_devices; i++)
                if (c->devices[i]->path && bluez_path_is_below(path, c->devices[i]->path))
                        return c->devices[i];
        return NULL;
}

static void char_object_update(BluezClient *c, const char *path, const BluezCharProps *p) {
        BluezDevice *d = client_find_char_owner(c, path);
        BluezChar *ch;

        if (!d)
                return;
        ch = device_find_char(d, path);
        if (!ch) {
                const DecoderCharacteristic *dc;

                if (!p->has_uuid)
                        return;
                dc = decoder_find_characteristic(p->uuid, NULL);
                if (!dc)
                        return; /* nothing we decode */
                ch = calloc(1, sizeof(*ch));
                if (!ch) {
                        (void) log_oom();
                        return;
                }
                ch->path = strdup(path);
                if (!ch->path) {
                        free(ch);
                        (void) log_oom();
                        return;
                }
                ch->fd = -1;
                ch->device = d;
                ch->dc = dc;
                memcpy(ch->uuid, p->uuid, sizeof(ch->uuid));
                ch->next = d->chars;
                d->chars = ch;
                log_ctx(LOG_DEBUG, &d->ctx, "%s: characteristic %s (%s)", d->label, dc->name, path);
        }
        if (p->has_flags)
                ch->flags = p->flags;
        if (p->has_notify_acquired)
                ch->acquire_offered = true;

        if (p->has_value && ch->notify == BLUEZ_NOTIFY_START && c->snapshot_pass == 0)
                char_handle_value(ch, p->value, p->value_len, now_usec(c));

        if (d->state == BLUEZ_LINK_RESOLVING)
                device_check_ready(d);
        else if (d->state == BLUEZ_LINK_SUBSCRIBING || d->state == BLUEZ_LINK_STREAMING)
                char_setup(ch); /* objects that appeared late */
}

static void char_object_remove(BluezClient *c, const char *path) {
        BluezDevice *d = client_find_char_owner(c, path);
        BluezChar **pp;

        if (!d)
                return;
        for (pp = &d->chars; *pp; pp = &(*pp)->next)
                if (streq((*pp)->path, path)) {
                        BluezChar *ch = *pp;
                        bool stream = ch->dc && ch->dc->role == DECODER_ROLE_STREAM;

                        *pp = ch->next;
                        char_free(ch);
                        if (stream && d->state == BLUEZ_LINK_STREAMING && !device_stream_char(d))
                                device_cut(d, false);
                        return;
                }
}

/* ---- discovery ----------------------------------------------------------------------------------- */

static bool client_wants_discovery(BluezClient *c) {
        if (!client_can_connect(c))
                return false;
        if (c->n_devices == 0)
                return c->config->auto_discovery;
        for (size_t i = 0; i < c->n_devices; i++)
                if (c->devices[i]->state <= BLUEZ_LINK_WAITING)
                        return true;
        return false;
}

static int discovery_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error);

static int discovery_send(BluezClient *c, DiscoveryStep step) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = NULL;
        const char *member = step == DISCOVERY_SETTING_FILTER ? "SetDiscoveryFilter" :
                             step == DISCOVERY_STARTING       ? "StartDiscovery" :
                                                                "StopDiscovery";
        int r;

        r = new_call(c, c->adapter->path, BLUEZ_ADAPTER_INTERFACE, member, &m);
        if (r < 0)
                return r;
        if (step == DISCOVERY_SETTING_FILTER) {
                r = sd_bus_message_open_container(m, 'a', "{sv}");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'e', "sv");
                if (r >= 0)
                        r = sd_bus_message_append(m, "s", "UUIDs");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'v', "as");
                if (r >= 0)
                        r = sd_bus_message_open_container(m, 'a', "s");
                for (size_t i = 0; r >= 0 && i < decoder_registry_size; i++)
                        if (bluez_service_uuid_is_supported(decoder_registry[i]->service_uuid))
                                r = sd_bus_message_append(m, "s", decoder_registry[i]->service_uuid);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r >= 0)
                        r = sd_bus_message_append(m, "{sv}{sv}", "Transport", "s", "le", "DuplicateData", "b", 0);
                if (r >= 0)
                        r = sd_bus_message_close_container(m);
                if (r < 0)
                        return r;
        }
        c->discovery_slot = sd_bus_slot_unref(c->discovery_slot);
        r = sd_bus_call_async(c->bus, &c->discovery_slot, m, discovery_reply, c, CALL_TIMEOUT_USEC);
        if (r < 0)
                return r;
        c->discovery_step = step;
        return 0;
}

static int discovery_reply(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        DiscoveryStep step = c->discovery_step;
        int r;

        c->discovery_slot = sd_bus_slot_unref(c->discovery_slot);
        c->discovery_step = DISCOVERY_IDLE;

        switch (step) {
        case DISCOVERY_SETTING_FILTER:
                if (e)
                        log_debug("SetDiscoveryFilter failed: %s", e->name);
                if (!client_wants_discovery(c) || !c->adapter)
                        break;
                r = discovery_send(c, DISCOVERY_STARTING);
                if (r < 0)
                        log_warning_errno(r, "Failed to start discovery: %m");
                return 0;
        case DISCOVERY_STARTING:
                if (!e || bluez_error_is(e, BLUEZ_ERROR_PREFIX "InProgress")) {
                        c->discovery_active = true;
                        log_debug("Discovery started.");
                } else {
                        /* NotReady, Busy, ...: the watchdog tick tries again a little later. */
                        log_debug("StartDiscovery failed: %s", e->name);
                        c->discovery_retry_usec = now_usec(c) + DISCOVERY_RETRY_USEC;
                }
                break;
        case DISCOVERY_STOPPING:
                c->discovery_active = false;
                log_debug("Discovery stopped.");
                break;
        default:
                break;
        }
        client_update_discovery(c);
        return 0;
}

static void client_update_discovery(BluezClient *c) {
        bool want;
        int r;

        if (!c->adapter || c->discovery_slot)
                return; /* re-evaluated when the call in flight returns */
        want = client_wants_discovery(c);
        if (want == c->discovery_active)
                return;
        if (want && now_usec(c) < c->discovery_retry_usec)
                return;
        r = discovery_send(c, want ? DISCOVERY_SETTING_FILTER : DISCOVERY_STOPPING);
        if (r < 0)
                log_warning_errno(r, "Failed to %s discovery: %m", want ? "start" : "stop");
}

/* ---- signals and the snapshot --------------------------------------------------------------- */

static bool client_accepts(BluezClient *c, sd_bus_message *m) {
        const char *sender = sd_bus_message_get_sender(m);

        return c->snapshot_applied && c->owner && sender && streq(sender, c->owner);
}

static int handle_interface(sd_bus_message *m, const char *path, const char *interface, void *userdata) {
        BluezClient *c = userdata;
        unsigned pass = c->snapshot_pass;
        int r;

        if (streq(interface, BLUEZ_ADAPTER_INTERFACE) && (pass == 0 || pass == 1)) {
                BluezAdapterProps p = {};
                r = bluez_parse_adapter_props(m, &p);
                if (r < 0)
                        return r;
                adapter_update(c, path, &p);
                return 0;
        }
        if (streq(interface, BLUEZ_DEVICE_INTERFACE) && (pass == 0 || pass == 2)) {
                BluezDeviceProps p = {};
                r = bluez_parse_device_props(m, &p);
                if (r < 0)
                        return r;
                device_object_update(c, path, &p);
                return 0;
        }
        if (streq(interface, BLUEZ_CHARACTERISTIC_INTERFACE) && (pass == 0 || pass == 3)) {
                BluezCharProps p = {};
                r = bluez_parse_char_props(m, &p);
                if (r < 0)
                        return r;
                char_object_update(c, path, &p);
                return 0;
        }
        return sd_bus_message_skip(m, "a{sv}");
}

static int handle_removed(const char *path, const char *interface, void *userdata) {
        BluezClient *c = userdata;

        if (streq(interface, BLUEZ_ADAPTER_INTERFACE))
                adapter_remove(c, path);
        else if (streq(interface, BLUEZ_DEVICE_INTERFACE))
                device_object_remove(c, path);
        else if (streq(interface, BLUEZ_CHARACTERISTIC_INTERFACE))
                char_object_remove(c, path);
        return 0;
}

static int on_interfaces_added(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        int r;

        if (!client_accepts(c, m))
                return 0;
        r = bluez_parse_interfaces_added(m, handle_interface, c);
        if (r < 0)
                log_debug_errno(r, "Ignoring a malformed InterfacesAdded signal: %m");
        return 0;
}

static int on_interfaces_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        int r;

        if (!client_accepts(c, m))
                return 0;
        r = bluez_parse_interfaces_removed(m, handle_removed, c);
        if (r < 0)
                log_debug_errno(r, "Ignoring a malformed InterfacesRemoved signal: %m");
        return 0;
}

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const char *interface, *path = sd_bus_message_get_path(m);
        int r;

        if (!client_accepts(c, m) || !path)
                return 0;
        r = bluez_parse_properties_changed_header(m, &interface);
        if (r < 0)
                goto malformed;

        if (streq(interface, BLUEZ_ADAPTER_INTERFACE)) {
                BluezAdapterProps p = {};
                if (!client_find_adapter(c, path))
                        return 0;
                r = bluez_parse_adapter_props(m, &p);
                if (r < 0)
                        goto malformed;
                adapter_update(c, path, &p);
        } else if (streq(interface, BLUEZ_DEVICE_INTERFACE)) {
                BluezDeviceProps p = {};
                BluezDevice *d = client_find_device_by_path(c, path);

                if (!d && !c->config->auto_discovery)
                        return 0;
                r = bluez_parse_device_props(m, &p);
                if (r >= 0)
                        r = bluez_parse_device_invalidated(m, &p);
                if (r < 0)
                        goto malformed;
                if (d)
                        device_apply(d, &p);
                else if (c->adapter && bluez_path_is_below(path, c->adapter->path) && p.has_uuids &&
                         !client_already_reported(c, path)) {
                        /* Addresses in PropertiesChanged are rare; the path carries it. */
                        const char *leaf = strrchr(path, '/');
                        char addr[18];
                        if (!p.has_address && leaf && strlen(leaf) == 1 + 4 + 17 && strncmp(leaf, "/dev_", 5) == 0) {
                                memcpy(addr, leaf + 5, 17);
                                addr[17] = 0;
                                for (size_t i = 2; i < 17; i += 3)
                                        addr[i] = addr[i] == '_' ? ':' : '!';
                                p.has_address = bdaddr_from_string(addr, &p.address) >= 0;
                        }
                        client_maybe_report(c, path, &p);
                }
        } else if (streq(interface, BLUEZ_CHARACTERISTIC_INTERFACE)) {
                BluezCharProps p = {};
                BluezDevice *d = client_find_char_owner(c, path);
                BluezChar *ch = d ? device_find_char(d, path) : NULL;

                if (!ch)
                        return 0;
                r = bluez_parse_char_props(m, &p);
                if (r < 0)
                        goto malformed;
                if (p.has_value && ch->notify == BLUEZ_NOTIFY_START)
                        char_handle_value(ch, p.value, p.value_len, now_usec(c));
                if (p.has_flags)
                        ch->flags = p.flags;
        }
        return 0;

malformed:
        log_debug_errno(r, "Ignoring a malformed PropertiesChanged signal: %m");
        return 0;
}

static int on_managed_objects(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        int r = 0;

        c->objects_slot = sd_bus_slot_unref(c->objects_slot);
        if (e) {
                if (bluez_error_is(e, SD_BUS_ERROR_NAME_HAS_NO_OWNER) || bluez_error_is(e, SD_BUS_ERROR_SERVICE_UNKNOWN))
                        log_debug("bluetoothd left before answering GetManagedObjects.");
                else
                        log_warning("GetManagedObjects failed: %s", e->name);
                return 0;
        }

        /* Three passes over one reply: adapters, then devices, then characteristics, because the
         * dictionary's order is arbitrary and each level needs its parent. */
        for (unsigned pass = 1; pass <= 3 && r >= 0; pass++) {
                r = sd_bus_message_rewind(m, true);
                if (r < 0)
                        break;
                c->snapshot_pass = pass;
                r = bluez_parse_managed_objects(m, handle_interface, c);
                if (pass == 1)
                        client_select_adapter(c);
        }
        c->snapshot_pass = 0;
        if (r < 0) {
                log_warning_errno(r, "Malformed GetManagedObjects reply, ignoring it: %m");
                return 0;
        }

        c->snapshot_applied = true;
        log_info("bluetoothd is available.");
        if (!c->adapter) {
                size_t n = 0;

                for (BluezAdapter *a = c->adapters; a; a = a->next)
                        n++;
                /* Not fatal: an adapter (a USB dongle) may appear later; client_select_adapter() takes it then. */
                if (c->config->has_adapter)
                        (void) config_log_key(c->config, LOG_WARNING, ENODEV, &c->config->adapter,
                                              "found no adapter with this address among the %zu that bluetoothd has, "
                                              "expected one (waiting for it)", n);
                else
                        log_warning("bluetoothd has no Bluetooth adapter; waiting for one.");
        }
        if (c->cb.on_service)
                c->cb.on_service(c->userdata, true);

        /* The devices attached during the snapshot may be connected already. */
        for (size_t i = 0; i < c->n_devices; i++) {
                BluezDevice *d = c->devices[i];
                if (d->path && d->connected && d->state == BLUEZ_LINK_WAITING)
                        device_on_connected(d);
        }
        if (c->adapter)
                client_ensure_powered(c);
        client_kick_connections(c);
        client_update_discovery(c);
        return 0;
}

static void client_get_managed_objects(BluezClient *c) {
        int r;

        if (c->objects_slot || c->snapshot_applied || !c->owner)
                return;
        r = call_simple(c, &c->objects_slot, BLUEZ_OBJECT_MANAGER_PATH, "org.freedesktop.DBus.ObjectManager",
                        "GetManagedObjects", false, on_managed_objects, c, CALL_TIMEOUT_USEC);
        if (r < 0)
                log_warning_errno(r, "Failed to ask bluetoothd for its objects: %m");
}

/* bluetoothd went away: nothing it told us is true any more. */
static void client_drop_bluez(BluezClient *c) {
        bool was = c->snapshot_applied;

        c->objects_slot = sd_bus_slot_unref(c->objects_slot);
        client_drop_adapter(c);
        while (c->adapters) {
                BluezAdapter *a = c->adapters;
                c->adapters = a->next;
                adapter_free(a);
        }
        for (size_t i = 0; i < REPORTED_MAX; i++)
                c->reported[i] = mfree_str(c->reported[i]);
        c->snapshot_applied = false;
        c->owner = mfree_str(c->owner);
        if (was) {
                log_warning("bluetoothd vanished; waiting for it to return.");
                if (c->cb.on_service)
                        c->cb.on_service(c->userdata, false);
        }
}

static void client_set_owner(BluezClient *c, const char *owner) {
        if (c->owner && streq(c->owner, owner))
                return;
        if (c->owner)
                client_drop_bluez(c);
        c->owner = strdup(owner);
        if (!c->owner) {
                (void) log_oom();
                return;
        }
        log_debug("bluetoothd is %s.", owner);
        client_get_managed_objects(c);
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const char *name, *old_owner, *new_owner;
        int r;

        r = bluez_parse_name_owner_changed(m, &name, &old_owner, &new_owner);
        if (r < 0 || !streq(name, BLUEZ_SERVICE))
                return 0;
        c->owner_changed = true;
        if (!isempty_str(old_owner) || c->owner)
                client_drop_bluez(c);
        if (!isempty_str(new_owner))
                client_set_owner(c, new_owner);
        return 0;
}

static int on_get_name_owner(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        BluezClient *c = userdata;
        const char *owner;

        c->owner_slot = sd_bus_slot_unref(c->owner_slot);
        if (c->owner_changed)
                return 0; /* NameOwnerChanged is newer than this answer */
        if (sd_bus_message_is_method_error(m, NULL)) {
                log_info("bluetoothd is not running; waiting for it.");
                return 0;
        }
        if (!sd_bus_message_has_signature(m, "s") || sd_bus_message_read(m, "s", &owner) < 0)
                return 0;
        client_set_owner(c, owner);
        return 0;
}

/* ---- watchdog ------------------------------------------------------------------------------------ */

static uint64_t tick_interval(const Config *config) {
        uint64_t t = config->silence_timeout_usec / 4;
        return CLAMP(t, 50 * USEC_PER_MSEC, USEC_PER_SEC);
}

static int client_tick(sd_event_source *s, uint64_t usec, void *userdata) {
        BluezClient *c = userdata;
        uint64_t now = now_usec(c);

        for (size_t i = 0; i < c->n_devices; i++) {
                BluezDevice *d = c->devices[i];

                if (d->state == BLUEZ_LINK_DISCONNECTING) {
                        /* Disconnect() answered but Connected never dropped: stop waiting. */
                        if (now - d->state_since_usec >= c->config->connect_timeout_usec && !d->disconnect_slot) {
                                d->connected = false;
                                device_on_disconnected(d);
                        }
                        continue;
                }
                switch (bluez_watchdog_check(d->state, now, d->state_since_usec, d->stats.last_rx_usec,
                                             c->config->silence_timeout_usec, c->config->connect_timeout_usec)) {
                case BLUEZ_WATCHDOG_SILENT:
                        d->stats.watchdog_trips++;
                        (void) snprintf(d->stats.last_error, sizeof(d->stats.last_error), "no data for %" PRIu64 " ms",
                                        c->config->silence_timeout_usec / USEC_PER_MSEC);
                        log_ctx(LOG_WARNING, &d->ctx, "%s: connected but silent for %" PRIu64 " s, reconnecting",
                                d->label, c->config->silence_timeout_usec / USEC_PER_SEC);
                        device_cut(d, true);
                        break;
                case BLUEZ_WATCHDOG_STUCK:
                        (void) snprintf(d->stats.last_error, sizeof(d->stats.last_error), "set-up stuck in %s",
                                        bluez_link_state_to_string(d->state));
                        log_ctx(LOG_WARNING, &d->ctx, "%s: connection set-up stuck (%s), reconnecting", d->label,
                                d->services_resolved ? "data characteristic missing" : "services not resolved");
                        device_cut(d, true);
                        break;
                default:
                        break;
                }
        }

        /* Retries of a power-on or a discovery that failed to start. */
        if (c->snapshot_applied)
                client_ensure_powered(c);
        client_update_discovery(c);
        (void) sd_event_source_set_time(s, now + tick_interval(c->config));
        return 0;
}

/* ---- public API -------------------------------------------------------------------------------- */

/* notify-coalesce = auto: with the raw stream off nothing is published per notification (gait
 * metrics use the insoles' own sample times), so reading them in batches costs no visible latency;
 * with it on, read at once. Asked after every wake-up, so a reload applies at once. */
static uint64_t client_notify_coalesce(void *userdata) {
        const Config *config = ((BluezClient *) userdata)->config;

        if (config->notify_coalesce_usec != CONFIG_NOTIFY_COALESCE_AUTO)
                return config->notify_coalesce_usec;
        return config->raw_stream ? 0 : BLUEZ_NOTIFY_COALESCE_AUTO_USEC;
}

int bluez_client_new(sd_event *event, sd_bus *bus, const Config *config, const BluezClientCallbacks *cb,
                     void *userdata, BluezClient **ret) {
        _cleanup_(bluez_client_freep) BluezClient *c = NULL;
        int k;

        if (!event || !bus || !config || !ret)
                return -EINVAL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->bus = sd_bus_ref(bus);
        c->config = config;
        if (cb)
                c->cb = *cb;
        c->userdata = userdata;
        c->rnd = default_random;
        k = notify_drain_new(event, client_notify_coalesce, c, &c->drain);
        if (k < 0)
                return k;
        bluez_adapter_health_init(&c->health, config->adapter_reset_after, config->exit_after);

        *ret = TAKE_PTR(c);
        return 0;
}

BluezClient *bluez_client_free(BluezClient *c) {
        if (!c)
                return NULL;

        for (size_t i = 0; i < c->n_devices; i++) {
                BluezDevice *d = c->devices[i];
                device_link_teardown(d);
                device_free_chars(d);
                d->timer = sd_event_source_disable_unref(d->timer);
                d->connect_slot = sd_bus_slot_unref(d->connect_slot);
                d->disconnect_slot = sd_bus_slot_unref(d->disconnect_slot);
                free(d->path);
                free(d);
        }
        free(c->devices);
        c->drain = notify_drain_free(c->drain);
        while (c->adapters) {
                BluezAdapter *a = c->adapters;
                c->adapters = a->next;
                adapter_free(a);
        }
        for (size_t i = 0; i < REPORTED_MAX; i++)
                free(c->reported[i]);

        c->match_owner = sd_bus_slot_unref(c->match_owner);
        c->match_added = sd_bus_slot_unref(c->match_added);
        c->match_removed = sd_bus_slot_unref(c->match_removed);
        for (size_t i = 0; i < ELEMENTSOF(c->match_props); i++)
                c->match_props[i] = sd_bus_slot_unref(c->match_props[i]);
        c->owner_slot = sd_bus_slot_unref(c->owner_slot);
        c->objects_slot = sd_bus_slot_unref(c->objects_slot);
        c->power_slot = sd_bus_slot_unref(c->power_slot);
        c->discovery_slot = sd_bus_slot_unref(c->discovery_slot);
        c->tick = sd_event_source_disable_unref(c->tick);
        free(c->owner);
        sd_bus_unref(c->bus);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

int bluez_client_start(BluezClient *c) {
        static const char *const prop_interfaces[] = {
                BLUEZ_ADAPTER_INTERFACE,
                BLUEZ_DEVICE_INTERFACE,
                BLUEZ_CHARACTERISTIC_INTERFACE,
        };
        int r;

        if (!c)
                return -EINVAL;

        /* Subscribe first, then ask: nothing can slip between the snapshot and the deltas. Signals
         * from bluetoothd are matched without sender= (sd-bus cannot resolve a well-known sender
         * locally) and checked against the current owner instead. */
        r = sd_bus_add_match_async(c->bus, &c->match_owner,
                                   "type='signal',sender='org.freedesktop.DBus',path='/org/freedesktop/DBus',"
                                   "interface='org.freedesktop.DBus',member='NameOwnerChanged',arg0='" BLUEZ_SERVICE "'",
                                   on_name_owner_changed, NULL, c);
        if (r < 0)
                return log_error_errno(r, "Failed to watch bluetoothd's bus name: %m");
        r = sd_bus_add_match_async(c->bus, &c->match_added,
                                   "type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesAdded'",
                                   on_interfaces_added, NULL, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the InterfacesAdded match: %m");
        r = sd_bus_add_match_async(c->bus, &c->match_removed,
                                   "type='signal',interface='org.freedesktop.DBus.ObjectManager',member='InterfacesRemoved'",
                                   on_interfaces_removed, NULL, c);
        if (r < 0)
                return log_error_errno(r, "Failed to add the InterfacesRemoved match: %m");
        for (size_t i = 0; i < ELEMENTSOF(prop_interfaces); i++) {
                char match[256];

                (void) snprintf(match, sizeof(match),
                                "type='signal',path_namespace='" BLUEZ_PATH_NAMESPACE "',"
                                "interface='org.freedesktop.DBus.Properties',member='PropertiesChanged',arg0='%s'",
                                prop_interfaces[i]);
                r = sd_bus_add_match_async(c->bus, &c->match_props[i], match, on_properties_changed, NULL, c);
                if (r < 0)
                        return log_error_errno(r, "Failed to add a PropertiesChanged match: %m");
        }

        r = sd_bus_call_method_async(c->bus, &c->owner_slot, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                     "org.freedesktop.DBus", "GetNameOwner", on_get_name_owner, c, "s", BLUEZ_SERVICE);
        if (r < 0)
                return log_error_errno(r, "Failed to ask for bluetoothd's bus name: %m");

        r = sd_event_add_time(c->event, &c->tick, CLOCK_MONOTONIC, now_usec(c) + tick_interval(c->config), TIMER_ACCURACY_USEC,
                              client_tick, c);
        if (r < 0)
                return log_error_errno(r, "Failed to arm the Bluetooth watchdog: %m");
        (void) sd_event_source_set_enabled(c->tick, SD_EVENT_ON);
        (void) sd_event_source_set_description(c->tick, "bluez-watchdog");
        return 0;
}

int bluez_client_add_device(BluezClient *c, const BluezDeviceSetup *setup, void *userdata, BluezDevice **ret) {
        BluezDevice **devices, *d;

        if (!c || !setup || !setup->label)
                return -EINVAL;
        devices = reallocarray(c->devices, c->n_devices + 1, sizeof(*devices));
        if (!devices)
                return -ENOMEM;
        c->devices = devices;
        d = calloc(1, sizeof(*d));
        if (!d)
                return -ENOMEM;
        d->client = c;
        d->userdata = userdata;
        d->address = setup->address;
        (void) snprintf(d->label, sizeof(d->label), "%s", setup->label);
        d->ctx = setup->log;
        d->stream_rate_hz = setup->stream_rate_hz;
        d->state = BLUEZ_LINK_ABSENT;
        backoff_init(&d->backoff, c->config->backoff_initial_usec, c->config->backoff_max_usec);
        c->devices[c->n_devices++] = d;
        if (ret)
                *ret = d;
        return 0;
}

int bluez_client_get_link_stats(BluezClient *c, BluezDevice *d, BluezLinkStats *ret) {
        if (!c || !d || !ret)
                return -ENOENT;
        *ret = d->stats;
        ret->link_uptime_usec = d->stats.link_up_usec > 0 ? now_usec(c) - d->stats.link_up_usec : 0;
        ret->notifications_per_s = d->state == BLUEZ_LINK_STREAMING
                                           ? bluez_link_rate(d->stats.link_frames, d->streaming_since_usec, now_usec(c))
                                           : 0;
        return 0;
}

bool bluez_client_service_available(BluezClient *c) {
        return c && c->snapshot_applied;
}

int bluez_client_fatal_error(BluezClient *c) {
        return c ? c->fatal_error : 0;
}

void bluez_client_config_changed(BluezClient *c) {
        uint64_t now = now_usec(c);

        bluez_adapter_health_set_limits(&c->health, c->config->adapter_reset_after, c->config->exit_after);
        for (size_t i = 0; i < c->n_devices; i++) {
                BluezDevice *d = c->devices[i];
                uint64_t when = 0;
                int enabled = SD_EVENT_OFF;

                backoff_set_limits(&d->backoff, c->config->backoff_initial_usec, c->config->backoff_max_usec);
                if (d->state != BLUEZ_LINK_WAITING || !d->timer ||
                    sd_event_source_get_enabled(d->timer, &enabled) < 0 || enabled == SD_EVENT_OFF ||
                    sd_event_source_get_time(d->timer, &when) < 0 || when <= now + d->backoff.max_usec)
                        continue;
                device_schedule(d, backoff_next(&d->backoff, client_random(c)));
        }
}

void bluez_client_set_random(BluezClient *c, uint64_t (*rnd)(void *userdata), void *userdata) {
        c->rnd = rnd ?: default_random;
        c->rnd_userdata = userdata;
}

int bluez_client_get_adapter(BluezClient *c, BluezAdapterInfo *ret) {
        const char *name;
        size_t n;

        if (!c || !ret)
                return -EINVAL;
        if (!c->adapter || !c->adapter->path)
                return -ENODEV;
        /* "hci0" from bluetoothd's object path: ours to publish, but still checked. */
        name = strrchr(c->adapter->path, '/');
        name = name ? name + 1 : c->adapter->path;
        n = strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789");
        if (n == 0 || n != strlen(name) || n >= sizeof(ret->name))
                return -EINVAL;
        memcpy(ret->name, name, n + 1);
        ret->powered = c->adapter->powered;
        return 0;
}
