/* SPDX-License-Identifier: MIT */
#pragma once

/* Parsing of BlueZ's D-Bus messages into plain structs. Every entry point checks the message's
 * signature first; unknown properties and properties of an unexpected type are skipped, so a
 * newer (or hostile) bluetoothd cannot derail the parser. Strings point into the message and are
 * valid as long as it is. Never logs. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-bus.h>

#include "decoder.h"
#include "insole.h"

#define BLUEZ_SERVICE "org.bluez"
#define BLUEZ_ADAPTER_INTERFACE "org.bluez.Adapter1"
#define BLUEZ_DEVICE_INTERFACE "org.bluez.Device1"
#define BLUEZ_CHARACTERISTIC_INTERFACE "org.bluez.GattCharacteristic1"

/* At most this many entries of a UUID or flag list are looked at; the rest is skipped. */
#define BLUEZ_LIST_MAX 64

typedef struct BluezAdapterProps {
        bool has_address;
        BdAddr address;
        bool has_powered;
        bool powered;
        bool has_discovering;
        bool discovering;
} BluezAdapterProps;

typedef struct BluezDeviceProps {
        bool has_address;
        BdAddr address;
        const char *adapter;          /* object path, NULL if absent */
        bool has_connected;
        bool connected;
        bool has_services_resolved;
        bool services_resolved;
        bool has_paired;
        bool paired;
        bool has_bonded;              /* BlueZ >= 5.65 has Bonded; older ones only Paired */
        bool bonded;
        bool has_rssi;
        int16_t rssi;
        bool rssi_invalidated;        /* PropertiesChanged listed RSSI as invalidated */
        const char *name;             /* untrusted: bound and escape before use */
        size_t name_len;              /* strnlen(name, BLUEZ_NAME_MAX) */
        bool has_uuids;
        const Decoder *advertised;    /* the family its advertised services make it, NULL: none */
} BluezDeviceProps;

enum {
        BLUEZ_CHAR_READ = 1 << 0,
        BLUEZ_CHAR_WRITE = 1 << 1,
        BLUEZ_CHAR_WRITE_WITHOUT_RESPONSE = 1 << 2,
        BLUEZ_CHAR_NOTIFY = 1 << 3,
        BLUEZ_CHAR_INDICATE = 1 << 4,
};

typedef struct BluezCharProps {
        bool has_uuid;
        char uuid[37];                /* normalised lower case */
        const char *service;          /* object path, NULL if absent */
        bool has_flags;
        unsigned flags;               /* BLUEZ_CHAR_* */
        bool has_notify_acquired;     /* the property exists: AcquireNotify is offered */
        bool notify_acquired;
        bool has_notifying;
        bool notifying;
        bool has_value;
        const uint8_t *value;
        size_t value_len;
} BluezCharProps;

/* Object path validation. */
bool bluez_path_is_below(const char *path, const char *parent);

/* A service of the decoder registry that makes a device an insole or footpod (Battery and Device
 * Information do not). uuid must be normalised. */
bool bluez_service_uuid_is_supported(const char *uuid);

/* Each reads one a{sv} at the current position (entering and leaving the array) and ORs what it
 * finds into *p (which the caller zero-initialises once). */
int bluez_parse_adapter_props(sd_bus_message *m, BluezAdapterProps *p);
int bluez_parse_device_props(sd_bus_message *m, BluezDeviceProps *p);
int bluez_parse_char_props(sd_bus_message *m, BluezCharProps *p);
/* Reads an "as" of invalidated property names (PropertiesChanged's third argument). */
int bluez_parse_device_invalidated(sd_bus_message *m, BluezDeviceProps *p);

/* Calls handler for every interface in an a{sa{sv}} at the current position; the handler must
 * consume the a{sv} (parse or sd_bus_message_skip(m, "a{sv}")). */
typedef int (*BluezInterfaceHandler)(sd_bus_message *m, const char *path, const char *interface, void *userdata);
int bluez_parse_interfaces(sd_bus_message *m, const char *path, BluezInterfaceHandler handler, void *userdata);

/* Whole messages. Each returns -EBADMSG if the signature is not the documented one. */
int bluez_parse_managed_objects(sd_bus_message *m, BluezInterfaceHandler handler, void *userdata);
int bluez_parse_interfaces_added(sd_bus_message *m, BluezInterfaceHandler handler, void *userdata);
/* handler gets each removed interface name; up to BLUEZ_LIST_MAX are reported. */
typedef int (*BluezRemovedHandler)(const char *path, const char *interface, void *userdata);
int bluez_parse_interfaces_removed(sd_bus_message *m, BluezRemovedHandler handler, void *userdata);
/* Reads the interface name and leaves m positioned at the a{sv}. */
int bluez_parse_properties_changed_header(sd_bus_message *m, const char **ret_interface);
/* NameOwnerChanged "sss". */
int bluez_parse_name_owner_changed(sd_bus_message *m, const char **ret_name, const char **ret_old,
                                   const char **ret_new);
/* AcquireNotify's reply "hq": the fd stays owned by the message (dup it). */
int bluez_parse_acquire_reply(sd_bus_message *m, int *ret_fd, uint16_t *ret_mtu);
/* ReadValue's reply "ay". */
int bluez_parse_read_reply(sd_bus_message *m, const uint8_t **ret_value, size_t *ret_len);
