/* SPDX-License-Identifier: MIT */
#pragma once

/* insole-sim: a stand-in for bluetoothd 5.66 with simulated insoles in range, on the D-Bus it is
 * given. docs/simulator.md is the user documentation. */

#include <stdbool.h>
#include <stdint.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#include "gait-model.h"
#include "insole.h"
#include "macro.h"
#include "open-insole-profile.h"

#define SIM_ADAPTER_PATH "/org/bluez/hci0"
/* the slowest rate whose period fits OIP's u16 sample_period_us */
#define SIM_MIN_RATE_HZ 16u
#define SIM_CONTROL_NAME "net.insole2mqtt.Sim"
#define SIM_CONTROL_PATH "/net/insole2mqtt/Sim"
#define SIM_CONTROL_IFACE "net.insole2mqtt.Sim1"

#define SIM_MAX_DEVICES 128
#define SIM_MAX_WEARERS 64
#define SIM_MAX_SERVICES 4
#define SIM_MAX_CHARS 6
#define SIM_NAME_MAX 248
#define SIM_VALUE_MAX 512
#define SIM_MAX_CLIENTS 16

typedef struct Sim Sim;
typedef struct SimDevice SimDevice;
typedef struct SimService SimService;
typedef struct Wearer Wearer;
typedef struct Replay Replay;

typedef enum DeviceKind {
        DEVICE_OIP,   /* Open Insole Profile insole */
        DEVICE_RSC,   /* Running Speed and Cadence footpod */
        DEVICE_ORPHE, /* ORPHE INSOLE */
        DEVICE_UKATON, /* Ukaton Mission insole: sensor data (16 pressure sensors), step count */
        _DEVICE_KIND_MAX,
        _DEVICE_KIND_INVALID = -1,
} DeviceKind;

typedef enum CharRole {
        CHAR_OIP_FRAME,
        CHAR_OIP_LAYOUT,
        CHAR_OIP_STEPS,
        CHAR_OIP_CONTROL,
        CHAR_BATTERY_LEVEL,
        CHAR_DIS_MANUFACTURER,
        CHAR_DIS_MODEL,
        CHAR_DIS_FIRMWARE,
        CHAR_DIS_HARDWARE,
        CHAR_RSC_MEASUREMENT,
        CHAR_RSC_FEATURE,
        CHAR_RSC_LOCATION,
        CHAR_ORPHE_VALUES,
        CHAR_ORPHE_INFO,
        CHAR_UKATON_DATA,
        CHAR_UKATON_CONFIG,
        CHAR_UKATON_STEPS,
} CharRole;

enum {
        CHAR_F_READ = 1 << 0,
        CHAR_F_WRITE = 1 << 1,
        CHAR_F_WRITE_NO_RESPONSE = 1 << 2,
        CHAR_F_NOTIFY = 1 << 3,
        CHAR_F_INDICATE = 1 << 4,
};

typedef struct SimChar {
        SimService *service;
        CharRole role;
        const char *uuid;
        unsigned flags;
        uint16_t handle;
        char path[128];
        sd_bus_slot *slot;
        uint8_t value[SIM_VALUE_MAX];
        size_t value_len;
        char *sessions[SIM_MAX_CLIENTS]; /* StartNotify senders */
        size_t n_sessions;
        int acquired_fd;                 /* our end of the AcquireNotify socket pair, or -1 */
        sd_event_source *acquired_source;
        uint64_t sent, dropped;
} SimChar;

struct SimService {
        SimDevice *device;
        const char *uuid;
        uint16_t handle;
        char path[96];
        sd_bus_slot *slot;
        SimChar chars[SIM_MAX_CHARS];
        size_t n_chars;
};

typedef enum MalformKind {
        MALFORM_SHORT,
        MALFORM_LENGTH,
        MALFORM_VERSION,
        MALFORM_GARBAGE,
        _MALFORM_MAX,
} MalformKind;

struct SimDevice {
        Sim *sim;
        DeviceKind kind;
        char address[18];
        char path[64];
        char name[SIM_NAME_MAX + 1];
        Wearer *wearer;
        FootSide side;

        /* BlueZ-visible state */
        bool exported;
        sd_bus_slot *slot, *battery_slot;
        bool gatt_exported, battery_exported;
        bool connected, resolved, paired, trusted, blocked;
        char alias[SIM_NAME_MAX + 1];
        int16_t rssi;
        uint64_t rssi_emitted_us;
        sd_bus_message *pending_connect;
        sd_event_source *connect_timer, *resolve_timer, *expire_timer;
        SimService services[SIM_MAX_SERVICES];
        size_t n_services;

        /* radio and faults */
        bool in_range;
        unsigned fail_connect;
        bool fail_after_connected;  /* Connected=true first, then the error reply */
        char fail_error[96], fail_message[96];
        uint64_t resolve_delay_us; /* real time */
        uint64_t objects_late_us;  /* ServicesResolved before the GATT objects, by this much */
        unsigned lose, malform, burst;
        uint64_t burst_hold_until_us;
        MalformKind malform_kind;

        /* the device itself */
        bool streaming;            /* control point state */
        unsigned rate_hz;
        unsigned preferred_rate_hz; /* START at rate 0 streams at this one */
        uint64_t next_sample_us;   /* simulation time of the next sample */
        uint64_t clock_offset_us;  /* device clock = sim time - boot + offset */
        uint64_t boot_us;
        uint32_t boot_id;
        uint16_t seq;
        uint8_t battery;
        uint32_t steps_reported;
        uint64_t steps_base;       /* wearer foot steps at the device's boot */
        PressureSample pending[OIP_MAX_SAMPLES];
        unsigned n_pending;
        uint64_t next_rsc_us;
        double rsc_distance_m;
        uint64_t last_rsc_us;

        /* statistics */
        uint64_t frames_sent, frames_dropped, frames_lost, frames_malformed, connects, disconnects;
};

struct Wearer {
        char name[64];
        GaitModelParams params;
        GaitModel *model;
        Replay *replay;
        uint64_t last_sample_us[_FOOT_SIDE_MAX];
        uint64_t replay_steps[_FOOT_SIDE_MAX];
        bool replay_loaded[_FOOT_SIDE_MAX];
        bool replay_started[_FOOT_SIDE_MAX];
        uint64_t replay_last_index[_FOOT_SIDE_MAX];
};

typedef struct DiscoveryClient {
        char *sender;
        bool active; /* StartDiscovery called */
        bool has_filter;
        char **uuids;
        int16_t rssi;
        bool has_rssi;
        bool duplicate;
        char *pattern;
} DiscoveryClient;

typedef struct SimAction {
        uint64_t at_us; /* simulation time */
        char *line;
} SimAction;

typedef struct SimOptions {
        uint64_t seed;
        double time_scale;
        unsigned rate_hz;
        unsigned samples_per_frame;
        uint16_t mtu;
        uint64_t connect_delay_us;
        uint64_t resolve_delay_us;
        uint64_t adv_interval_us;
        uint64_t temporary_timeout_us;
        uint64_t connect_timeout_us;
        uint64_t repeat_us; /* timed actions repeat with this period; 0 = once */
        bool require_start;
        bool legacy_control;       /* refuse START at rate 0, as insoles from before it */
        bool load_mode;
        bool allow_system_bus;
        const char *datasets;
} SimOptions;

struct Sim {
        SimOptions opt;
        sd_event *event;
        sd_bus *bus;     /* the "bluetoothd" connection; replaced on restart */
        sd_bus *control; /* stable, owns SIM_CONTROL_NAME */
        bool bluez_up;
        bool adapter_present, powered;
        sd_bus_slot *adapter_slot;
        char adapter_alias[64];
        DiscoveryClient clients[SIM_MAX_CLIENTS];
        size_t n_clients;
        bool discovering;

        SimDevice *devices[SIM_MAX_DEVICES];
        size_t n_devices;
        Wearer *wearers[SIM_MAX_WEARERS];
        size_t n_wearers;

        SimAction *actions;
        size_t n_actions, next_action;
        uint64_t repeat_base_us;

        uint64_t start_mono_us;
        sd_event_source *tick, *adv, *restart_timer;
        uint64_t restart_down_us;   /* a graceful restart: how long bluetoothd stays away */
        uint64_t tick_us;
        int exit_code;
};

/* sim-main helpers */
uint64_t sim_now(Sim *sim);           /* simulation time, µs */
uint64_t sim_mono_now(void);          /* CLOCK_MONOTONIC, µs */
uint64_t sim_parse_duration(const char *s, int *ret_error);

/* sim-bluez.c: the BlueZ D-Bus objects */
int sim_bluez_start(Sim *sim);        /* connect, export the adapter and known devices, own org.bluez */
void sim_bluez_stop(Sim *sim, bool graceful);
int sim_bluez_restart(Sim *sim, uint64_t down_us, bool graceful);
int sim_adapter_set_powered(Sim *sim, bool powered);
int sim_adapter_remove(Sim *sim);
int sim_adapter_add(Sim *sim);
void sim_advertise(Sim *sim);
void sim_device_link_lost(SimDevice *d);
void sim_device_name_changed(SimDevice *d);
void sim_device_battery_changed(SimDevice *d);
void sim_device_bond_changed(SimDevice *d); /* emits Paired and Bonded */
int sim_char_notify(SimChar *c, const uint8_t *data, size_t len); /* 1 sent, 0 not notifying/dropped */
bool sim_char_notifying(const SimChar *c);
void sim_char_set_value(SimChar *c, const uint8_t *data, size_t len);

/* sim-device.c: what the devices do */
int sim_device_new(Sim *sim, DeviceKind kind, const char *address, Wearer *w, FootSide side, SimDevice **ret);
SimDevice *sim_device_free(SimDevice *d);
SimDevice *sim_find_device(Sim *sim, const char *address);
Wearer *sim_find_wearer(Sim *sim, const char *name);
int sim_wearer_new(Sim *sim, const char *name, const GaitModelParams *p, Replay *replay, Wearer **ret);
Wearer *sim_wearer_free(Wearer *w);
void sim_device_tick(SimDevice *d, uint64_t now);
void sim_wearer_advance(Wearer *w, uint64_t now);
void sim_device_start_session(SimDevice *d); /* notifications were enabled */
int sim_device_write(SimDevice *d, SimChar *c, const uint8_t *data, size_t len); /* -EBADMSG: ATT error */
void sim_device_refresh_values(SimDevice *d);
void sim_device_reboot(SimDevice *d); /* new boot id, counter and clock restart */
uint64_t sim_device_steps(SimDevice *d);
const char *device_kind_to_string(DeviceKind k);
DeviceKind device_kind_from_string(const char *s);
bool address_is_valid(const char *s);

/* sim-replay.c: PhysioNet recordings */
int replay_open(const char *datasets, const char *spec, Replay **ret); /* "gaitpdb/GaCo01_01" or "gaitndd/control1" */
Replay *replay_free(Replay *r);
DEFINE_TRIVIAL_CLEANUP_FUNC(Replay *, replay_free);
const InsoleLayout *replay_layout(const Replay *r, FootSide side);
uint64_t replay_period_us(const Replay *r);
size_t replay_length(const Replay *r);
void replay_get(const Replay *r, FootSide side, size_t index, PressureSample *ret); /* index modulo the length */
bool replay_loaded(const Replay *r, FootSide side, size_t index);                 /* contact, for step counting */

/* sim-action.c: scenario files and the control interface */
int sim_action_run(Sim *sim, const char *line, char *err, size_t errsize);
int sim_scenario_load(Sim *sim, const char *path);
int sim_config_line(Sim *sim, const char *line, char *err, size_t errsize);
void sim_actions_due(Sim *sim, uint64_t now);
int sim_control_start(Sim *sim);
