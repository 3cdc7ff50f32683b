/* SPDX-License-Identifier: MIT */
/* The part of bluetoothd 5.66's D-Bus API that a GATT client uses: ObjectManager, Adapter1, Device1,
 * Battery1, GattService1, GattCharacteristic1, with BlueZ's paths, error names, timing and the
 * AcquireNotify/StartNotify rules (docs/simulator.md lists what is modelled). */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "sim.h"

#define BLUEZ_ERROR(name) "org.bluez.Error." name
#define ADAPTER_ADDRESS "DC:A6:32:00:00:01" /* a Raspberry Pi OUI */

static const char *const discovery_filter_keys[] = {
        "UUIDs", "RSSI", "Pathloss", "Transport", "DuplicateData", "Discoverable", "Pattern",
};

static bool bus_usable(Sim *sim) {
        return sim->bus && sim->bluez_up;
}

static void emit_changed(Sim *sim, const char *path, const char *iface, const char *prop) {
        if (!sim->bus)
                return;
        int r = sd_bus_emit_properties_changed(sim->bus, path, iface, prop, NULL);
        if (r < 0)
                log_debug_errno(r, "Failed to emit PropertiesChanged(%s.%s) on %s: %m", iface, prop, path);
}

static int append_strv(sd_bus_message *reply, const char *const *v, size_t n) {
        int r = sd_bus_message_open_container(reply, 'a', "s");
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                r = sd_bus_message_append(reply, "s", v[i]);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_close_container(reply);
}

/* ---- Adapter1 ---- */

static int adapter_get(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                       void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        static const char *const uuids[] = {
                "00001800-0000-1000-8000-00805f9b34fb", "00001801-0000-1000-8000-00805f9b34fb",
                "0000180a-0000-1000-8000-00805f9b34fb", "0000110e-0000-1000-8000-00805f9b34fb",
        };
        static const char *const roles[] = { "central", "peripheral" };

        if (streq(prop, "Address"))
                return sd_bus_message_append(reply, "s", ADAPTER_ADDRESS);
        if (streq(prop, "AddressType"))
                return sd_bus_message_append(reply, "s", "public");
        if (streq(prop, "Name"))
                return sd_bus_message_append(reply, "s", "raspberrypi");
        if (streq(prop, "Alias"))
                return sd_bus_message_append(reply, "s", sim->adapter_alias);
        if (streq(prop, "Class"))
                return sd_bus_message_append(reply, "u", (uint32_t) 0x6c0000);
        if (streq(prop, "Powered"))
                return sd_bus_message_append(reply, "b", sim->powered);
        if (streq(prop, "PowerState"))
                return sd_bus_message_append(reply, "s", sim->powered ? "on" : "off");
        if (streq(prop, "Discoverable") || streq(prop, "Pairable"))
                return sd_bus_message_append(reply, "b", false);
        if (streq(prop, "DiscoverableTimeout"))
                return sd_bus_message_append(reply, "u", (uint32_t) 180);
        if (streq(prop, "PairableTimeout"))
                return sd_bus_message_append(reply, "u", (uint32_t) 0);
        if (streq(prop, "Discovering"))
                return sd_bus_message_append(reply, "b", sim->discovering);
        if (streq(prop, "UUIDs"))
                return append_strv(reply, uuids, ELEMENTSOF(uuids));
        if (streq(prop, "Modalias"))
                return sd_bus_message_append(reply, "s", "usb:v1D6Bp0246d0542");
        if (streq(prop, "Roles"))
                return append_strv(reply, roles, ELEMENTSOF(roles));
        return -ENOENT;
}

static int adapter_set(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *value,
                       void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        int r;

        if (streq(prop, "Powered")) {
                int b;
                r = sd_bus_message_read(value, "b", &b);
                if (r < 0)
                        return r;
                return sim_adapter_set_powered(sim, b);
        }
        if (streq(prop, "Alias")) {
                const char *s;
                r = sd_bus_message_read(value, "s", &s);
                if (r < 0)
                        return r;
                snprintf(sim->adapter_alias, sizeof(sim->adapter_alias), "%s", s[0] ? s : "raspberrypi");
                emit_changed(sim, SIM_ADAPTER_PATH, "org.bluez.Adapter1", "Alias");
                return 0;
        }
        /* Discoverable, Pairable, timeouts: accepted, not modelled. */
        return sd_bus_message_skip(value, NULL);
}

static DiscoveryClient *client_find(Sim *sim, const char *sender, bool create) {
        for (size_t i = 0; i < sim->n_clients; i++)
                if (streq(sim->clients[i].sender, sender))
                        return &sim->clients[i];
        if (!create || sim->n_clients >= SIM_MAX_CLIENTS)
                return NULL;
        DiscoveryClient *c = &sim->clients[sim->n_clients];
        *c = (DiscoveryClient) { .sender = strdup(sender) };
        if (!c->sender)
                return NULL;
        sim->n_clients++;
        return c;
}

static void client_clear_filter(DiscoveryClient *c) {
        if (c->uuids)
                for (char **u = c->uuids; *u; u++)
                        free(*u);
        free(c->uuids);
        c->uuids = NULL;
        c->pattern = (free(c->pattern), NULL);
        c->has_filter = c->has_rssi = c->duplicate = false;
}

static void client_remove(Sim *sim, DiscoveryClient *c) {
        client_clear_filter(c);
        free(c->sender);
        size_t i = (size_t) (c - sim->clients);
        memmove(&sim->clients[i], &sim->clients[i + 1], (sim->n_clients - i - 1) * sizeof(DiscoveryClient));
        sim->n_clients--;
}

static void device_schedule_expiry(SimDevice *d);

static void update_discovering(Sim *sim) {
        bool any = false;
        for (size_t i = 0; i < sim->n_clients; i++)
                any = any || sim->clients[i].active;
        if (any == sim->discovering)
                return;
        sim->discovering = any;
        emit_changed(sim, SIM_ADAPTER_PATH, "org.bluez.Adapter1", "Discovering");
        if (!any)
                for (size_t i = 0; i < sim->n_devices; i++)
                        device_schedule_expiry(sim->devices[i]);
}

static int method_start_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        if (!sim->powered)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotReady"), "Resource Not Ready");
        DiscoveryClient *c = client_find(sim, sd_bus_message_get_sender(m), true);
        if (!c)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Too many clients");
        if (c->active)
                return sd_bus_error_set(error, BLUEZ_ERROR("InProgress"), "Operation already in progress");
        c->active = true;
        update_discovering(sim);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_stop_discovery(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        if (!sim->powered)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotReady"), "Resource Not Ready");
        DiscoveryClient *c = client_find(sim, sd_bus_message_get_sender(m), false);
        if (!c || !c->active)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "No discovery started");
        c->active = false;
        if (!c->has_filter)
                client_remove(sim, c);
        update_discovering(sim);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_set_discovery_filter(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        DiscoveryClient tmp = {};
        bool any = false;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        goto fail;
                any = true;
                if (streq(key, "UUIDs")) {
                        char **v = NULL;
                        r = sd_bus_message_enter_container(m, 'v', "as");
                        if (r < 0)
                                goto invalid;
                        r = sd_bus_message_read_strv(m, &v);
                        if (r < 0)
                                goto invalid;
                        tmp.uuids = v;
                        r = sd_bus_message_exit_container(m);
                } else if (streq(key, "RSSI")) {
                        r = sd_bus_message_read(m, "v", "n", &tmp.rssi);
                        if (r < 0)
                                goto invalid;
                        tmp.has_rssi = true;
                } else if (streq(key, "Pathloss")) {
                        uint16_t q;
                        r = sd_bus_message_read(m, "v", "q", &q);
                } else if (streq(key, "Transport")) {
                        const char *t;
                        r = sd_bus_message_read(m, "v", "s", &t);
                        if (r < 0 || !(streq(t, "auto") || streq(t, "le") || streq(t, "bredr")))
                                goto invalid;
                } else if (streq(key, "DuplicateData")) {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                        tmp.duplicate = b;
                } else if (streq(key, "Discoverable")) {
                        int b;
                        r = sd_bus_message_read(m, "v", "b", &b);
                } else if (streq(key, "Pattern")) {
                        const char *p;
                        r = sd_bus_message_read(m, "v", "s", &p);
                        if (r >= 0 && !(tmp.pattern = strdup(p)))
                                r = -ENOMEM;
                } else
                        goto invalid;
                if (r < 0)
                        goto invalid;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        goto fail;
        }
        if (r < 0)
                goto fail;

        DiscoveryClient *c = client_find(sim, sd_bus_message_get_sender(m), true);
        if (!c) {
                client_clear_filter(&tmp);
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Too many clients");
        }
        client_clear_filter(c);
        if (any) {
                c->uuids = TAKE_PTR(tmp.uuids);
                c->pattern = TAKE_PTR(tmp.pattern);
                c->rssi = tmp.rssi;
                c->has_rssi = tmp.has_rssi;
                c->duplicate = tmp.duplicate;
                c->has_filter = true;
        } else if (!c->active)
                client_remove(sim, c);
        return sd_bus_reply_method_return(m, NULL);

invalid:
        client_clear_filter(&tmp);
        return sd_bus_error_set(error, BLUEZ_ERROR("InvalidArguments"), "Invalid arguments in method call");
fail:
        client_clear_filter(&tmp);
        return r;
}

static int method_get_discovery_filters(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = append_strv(reply, discovery_filter_keys, ELEMENTSOF(discovery_filter_keys));
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static void device_unexport(SimDevice *d);
static void device_disconnect(SimDevice *d, const char *pending_error);

static int method_remove_device(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        const char *path;
        int r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                if (d->exported && streq(d->path, path)) {
                        device_disconnect(d, "le-connection-abort-by-local");
                        d->paired = d->trusted = false;
                        device_unexport(d);
                        return sd_bus_reply_method_return(m, NULL);
                }
        }
        return sd_bus_error_set(error, BLUEZ_ERROR("DoesNotExist"), "Does Not Exist");
}

static const sd_bus_vtable adapter_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AddressType", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_WRITABLE_PROPERTY("Alias", "s", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Class", "u", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_WRITABLE_PROPERTY("Powered", "b", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("PowerState", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Discoverable", "b", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("DiscoverableTimeout", "u", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Pairable", "b", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("PairableTimeout", "u", adapter_get, adapter_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Discovering", "b", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UUIDs", "as", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Modalias", "s", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Roles", "as", adapter_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_METHOD("StartDiscovery", "", "", method_start_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopDiscovery", "", "", method_stop_discovery, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("SetDiscoveryFilter", "a{sv}", "", method_set_discovery_filter, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("GetDiscoveryFilters", "", "as", method_get_discovery_filters, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("RemoveDevice", "o", "", method_remove_device, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int adapter_export(Sim *sim) {
        if (!sim->bus || sim->adapter_slot || !sim->adapter_present)
                return 0;
        int r = sd_bus_add_object_vtable(sim->bus, &sim->adapter_slot, SIM_ADAPTER_PATH, "org.bluez.Adapter1",
                                         adapter_vtable, sim);
        if (r < 0)
                return log_error_errno(r, "Failed to export the adapter: %m");
        (void) sd_bus_emit_interfaces_added(sim->bus, SIM_ADAPTER_PATH, "org.bluez.Adapter1", NULL);
        return 0;
}

static void adapter_unexport(Sim *sim) {
        if (!sim->adapter_slot)
                return;
        if (sim->bus)
                (void) sd_bus_emit_interfaces_removed(sim->bus, SIM_ADAPTER_PATH, "org.bluez.Adapter1", NULL);
        sim->adapter_slot = sd_bus_slot_unref(sim->adapter_slot);
}

/* ---- Device1 / Battery1 ---- */

static const char *kind_primary_uuid(DeviceKind k) {
        switch (k) {
        case DEVICE_RSC:
                return "00001814-0000-1000-8000-00805f9b34fb";
        case DEVICE_ORPHE:
                return "db1b7aca-cda5-4453-a49b-33a53d3f0833";
        case DEVICE_UKATON:
                return "5691eddf-0000-4420-b7a5-bb8751ab5181";
        default:
                return OIP_SERVICE_UUID;
        }
}

static int device_get(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                      void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        int r;

        if (streq(prop, "Address"))
                return sd_bus_message_append(reply, "s", d->address);
        if (streq(prop, "AddressType"))
                /* static random addresses have the two top bits set */
                return sd_bus_message_append(reply, "s", (strtoul(d->address, NULL, 16) & 0xc0) == 0xc0 ? "random" : "public");
        if (streq(prop, "Name"))
                return sd_bus_message_append(reply, "s", d->name);
        if (streq(prop, "Alias"))
                return sd_bus_message_append(reply, "s", d->alias[0] ? d->alias : d->name[0] ? d->name : d->address);
        if (streq(prop, "Paired") || streq(prop, "Bonded"))
                return sd_bus_message_append(reply, "b", d->paired);
        if (streq(prop, "Trusted"))
                return sd_bus_message_append(reply, "b", d->trusted);
        if (streq(prop, "Blocked"))
                return sd_bus_message_append(reply, "b", d->blocked);
        if (streq(prop, "LegacyPairing"))
                return sd_bus_message_append(reply, "b", false);
        if (streq(prop, "RSSI"))
                return sd_bus_message_append(reply, "n", d->rssi);
        if (streq(prop, "Connected"))
                return sd_bus_message_append(reply, "b", d->connected);
        if (streq(prop, "ServicesResolved"))
                return sd_bus_message_append(reply, "b", d->resolved);
        if (streq(prop, "Adapter"))
                return sd_bus_message_append(reply, "o", SIM_ADAPTER_PATH);
        if (streq(prop, "UUIDs")) {
                r = sd_bus_message_open_container(reply, 'a', "s");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "s", kind_primary_uuid(d->kind));
                if (r < 0)
                        return r;
                for (size_t i = 0; i < d->n_services; i++)
                        if (!streq(d->services[i].uuid, kind_primary_uuid(d->kind))) {
                                r = sd_bus_message_append(reply, "s", d->services[i].uuid);
                                if (r < 0)
                                        return r;
                        }
                return sd_bus_message_close_container(reply);
        }
        if (streq(prop, "AdvertisingFlags"))
                return sd_bus_message_append(reply, "ay", 1, 0x06);
        if (streq(prop, "ManufacturerData")) {
                /* OIP and RSC: 0xffff (no company) with version, side, battery; ORPHE uses company
                 * 0x0000 and puts the mount position and battery where its SDK looks. */
                uint8_t oip[3] = { OIP_VERSION, (uint8_t) d->side, d->battery };
                uint8_t orphe[16] = { 0 };
                uint16_t company = d->kind == DEVICE_ORPHE ? 0x0000 : 0xffff;
                orphe[3] = 2;                          /* model: insole */
                orphe[4] = d->side == FOOT_RIGHT ? 1 : 0; /* mount position bit0: 0 left, 1 right */
                orphe[12] = d->battery;
                r = sd_bus_message_open_container(reply, 'a', "{qv}");
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'e', "qv");
                if (r < 0)
                        return r;
                r = sd_bus_message_append(reply, "q", company);
                if (r < 0)
                        return r;
                r = sd_bus_message_open_container(reply, 'v', "ay");
                if (r < 0)
                        return r;
                if (d->kind == DEVICE_ORPHE)
                        r = sd_bus_message_append_array(reply, 'y', orphe, sizeof(orphe));
                else
                        r = sd_bus_message_append_array(reply, 'y', oip, sizeof(oip));
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                r = sd_bus_message_close_container(reply);
                if (r < 0)
                        return r;
                return sd_bus_message_close_container(reply);
        }
        if (streq(prop, "ServiceData")) {
                r = sd_bus_message_open_container(reply, 'a', "{sv}");
                if (r < 0)
                        return r;
                if (d->kind == DEVICE_OIP) {
                        /* step counter teaser in the advertisement: u32 LE steps */
                        uint32_t s = (uint32_t) sim_device_steps(d);
                        uint8_t b[4] = { s & 0xff, (s >> 8) & 0xff, (s >> 16) & 0xff, s >> 24 };
                        r = sd_bus_message_open_container(reply, 'e', "sv");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_append(reply, "s", OIP_SERVICE_UUID);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_open_container(reply, 'v', "ay");
                        if (r < 0)
                                return r;
                        r = sd_bus_message_append_array(reply, 'y', b, sizeof(b));
                        if (r < 0)
                                return r;
                        r = sd_bus_message_close_container(reply);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_close_container(reply);
                        if (r < 0)
                                return r;
                }
                return sd_bus_message_close_container(reply);
        }
        return -ENOENT;
}

static int device_set(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *value,
                      void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        int r;
        if (streq(prop, "Alias")) {
                const char *s;
                r = sd_bus_message_read(value, "s", &s);
                if (r < 0)
                        return r;
                snprintf(d->alias, sizeof(d->alias), "%s", s);
        } else {
                int b;
                r = sd_bus_message_read(value, "b", &b);
                if (r < 0)
                        return r;
                if (streq(prop, "Trusted"))
                        d->trusted = b;
                else
                        d->blocked = b;
        }
        emit_changed(d->sim, d->path, "org.bluez.Device1", prop);
        return 0;
}

static int battery_get(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                       void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        if (streq(prop, "Percentage"))
                return sd_bus_message_append(reply, "y", d->battery);
        return sd_bus_message_append(reply, "s", "org.bluez.Device1"); /* Source */
}

static const sd_bus_vtable battery_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Percentage", "y", battery_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Source", "s", battery_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

static SimDevice *char_device(SimChar *c) {
        return c->service->device;
}

static void char_release_acquired(SimChar *c, bool emit) {
        if (c->acquired_fd < 0)
                return;
        c->acquired_source = sd_event_source_disable_unref(c->acquired_source);
        c->acquired_fd = safe_close(c->acquired_fd);
        if (emit && c->slot) {
                emit_changed(char_device(c)->sim, c->path, "org.bluez.GattCharacteristic1", "NotifyAcquired");
                emit_changed(char_device(c)->sim, c->path, "org.bluez.GattCharacteristic1", "Notifying");
        }
}

static void char_drop_sessions(SimChar *c) {
        for (size_t i = 0; i < c->n_sessions; i++)
                free(c->sessions[i]);
        c->n_sessions = 0;
}

static void gatt_unexport(SimDevice *d) {
        Sim *sim = d->sim;
        for (size_t s = 0; s < d->n_services; s++) {
                SimService *svc = &d->services[s];
                for (size_t i = 0; i < svc->n_chars; i++) {
                        SimChar *c = &svc->chars[i];
                        /* bluetoothd closes the acquired fd on every disconnect (MTU renegotiation) */
                        char_release_acquired(c, false);
                        char_drop_sessions(c);
                        if (c->slot && sim->bus && d->gatt_exported)
                                (void) sd_bus_emit_interfaces_removed(sim->bus, c->path, "org.bluez.GattCharacteristic1", NULL);
                        c->slot = sd_bus_slot_unref(c->slot);
                }
                if (svc->slot && sim->bus && d->gatt_exported)
                        (void) sd_bus_emit_interfaces_removed(sim->bus, svc->path, "org.bluez.GattService1", NULL);
                svc->slot = sd_bus_slot_unref(svc->slot);
        }
        if (d->battery_slot && sim->bus && d->battery_exported)
                (void) sd_bus_emit_interfaces_removed(sim->bus, d->path, "org.bluez.Battery1", NULL);
        d->battery_slot = sd_bus_slot_unref(d->battery_slot);
        d->gatt_exported = d->battery_exported = false;
}

static void device_unexport(SimDevice *d) {
        Sim *sim = d->sim;
        gatt_unexport(d);
        if (d->exported && sim->bus)
                (void) sd_bus_emit_interfaces_removed(sim->bus, d->path, "org.bluez.Device1", NULL);
        d->slot = sd_bus_slot_unref(d->slot);
        d->exported = false;
        d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
}

static int pending_connect_fail(SimDevice *d, const char *name, const char *message) {
        if (!d->pending_connect)
                return 0;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = TAKE_PTR(d->pending_connect);
        sd_bus_error e = SD_BUS_ERROR_MAKE_CONST(name, message);
        if (!d->sim->bus)
                return 0;
        return sd_bus_reply_method_error(m, &e);
}

static void device_disconnect(SimDevice *d, const char *pending_error) {
        Sim *sim = d->sim;
        d->connect_timer = sd_event_source_disable_unref(d->connect_timer);
        d->resolve_timer = sd_event_source_disable_unref(d->resolve_timer);
        if (d->pending_connect)
                (void) pending_connect_fail(d, BLUEZ_ERROR("Failed"), pending_error ?: "le-connection-abort-by-local");
        if (!d->connected)
                return;
        if (d->resolved) {
                d->resolved = false;
                emit_changed(sim, d->path, "org.bluez.Device1", "ServicesResolved");
        }
        gatt_unexport(d);
        d->connected = false;
        d->disconnects++;
        d->streaming = !sim->opt.require_start;
        emit_changed(sim, d->path, "org.bluez.Device1", "Connected");
        device_schedule_expiry(d);
}

void sim_device_link_lost(SimDevice *d) {
        device_disconnect(d, "le-connection-abort-by-local");
}

/* ---- GATT objects ---- */

static int char_get(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                    void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        int r;
        if (streq(prop, "UUID"))
                return sd_bus_message_append(reply, "s", c->uuid);
        if (streq(prop, "Service"))
                return sd_bus_message_append(reply, "o", c->service->path);
        if (streq(prop, "Value"))
                return sd_bus_message_append_array(reply, 'y', c->value, c->value_len);
        if (streq(prop, "Notifying"))
                return sd_bus_message_append(reply, "b", c->n_sessions > 0 || c->acquired_fd >= 0);
        if (streq(prop, "NotifyAcquired"))
                return sd_bus_message_append(reply, "b", c->acquired_fd >= 0);
        if (streq(prop, "MTU"))
                return sd_bus_message_append(reply, "q", char_device(c)->sim->opt.mtu);
        if (streq(prop, "Flags")) {
                r = sd_bus_message_open_container(reply, 'a', "s");
                if (r < 0)
                        return r;
                static const struct {
                        unsigned f;
                        const char *s;
                } names[] = {
                        { CHAR_F_READ, "read" }, { CHAR_F_WRITE_NO_RESPONSE, "write-without-response" },
                        { CHAR_F_WRITE, "write" }, { CHAR_F_NOTIFY, "notify" }, { CHAR_F_INDICATE, "indicate" },
                };
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (c->flags & names[i].f) {
                                r = sd_bus_message_append(reply, "s", names[i].s);
                                if (r < 0)
                                        return r;
                        }
                return sd_bus_message_close_container(reply);
        }
        return -ENOENT;
}

static int skip_options(sd_bus_message *m, uint16_t *ret_offset) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *key;
                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;
                if (streq(key, "offset") && ret_offset)
                        r = sd_bus_message_read(m, "v", "q", ret_offset);
                else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static int method_read_value(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        SimDevice *d = char_device(c);
        uint16_t offset = 0;
        int r = skip_options(m, &offset);
        if (r < 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidArguments"), "Invalid arguments in method call");
        if (!d->connected)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Not connected");
        if (!(c->flags & CHAR_F_READ))
                return sd_bus_error_set(error, BLUEZ_ERROR("NotPermitted"), "Read not permitted");
        sim_device_refresh_values(d);
        if (offset > c->value_len)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidOffset"), "Invalid offset");
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        r = sd_bus_message_new_method_return(m, &reply);
        if (r < 0)
                return r;
        r = sd_bus_message_append_array(reply, 'y', c->value + offset, c->value_len - offset);
        if (r < 0)
                return r;
        return sd_bus_send(NULL, reply, NULL);
}

static int method_write_value(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        SimDevice *d = char_device(c);
        const void *data;
        size_t len;
        int r = sd_bus_message_read_array(m, 'y', &data, &len);
        if (r < 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidArguments"), "Invalid arguments in method call");
        r = skip_options(m, NULL);
        if (r < 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidArguments"), "Invalid arguments in method call");
        if (!d->connected)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Not connected");
        if (!(c->flags & (CHAR_F_WRITE | CHAR_F_WRITE_NO_RESPONSE)))
                return sd_bus_error_set(error, BLUEZ_ERROR("NotPermitted"), "Write not permitted");
        if (len > (size_t) d->sim->opt.mtu - 3)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidValueLength"), "Invalid Value Length");
        r = sim_device_write(d, c, data, len);
        if (r == -EBADMSG)
                /* the peripheral rejected it: BlueZ reports the ATT error code */
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Operation failed with ATT error: 0x80");
        if (r < 0)
                return r;
        return sd_bus_reply_method_return(m, NULL);
}

static void device_notify_started(SimChar *c) {
        sim_device_start_session(char_device(c));
}

static int method_start_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        SimDevice *d = char_device(c);
        const char *sender = sd_bus_message_get_sender(m);

        if (!(c->flags & (CHAR_F_NOTIFY | CHAR_F_INDICATE)))
                return sd_bus_error_set(error, BLUEZ_ERROR("NotSupported"), "Operation is not supported");
        if (!d->connected)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotConnected"), "Not Connected");
        if (c->acquired_fd >= 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotPermitted"), "Notify acquired");
        for (size_t i = 0; i < c->n_sessions; i++)
                if (streq(c->sessions[i], sender))
                        return sd_bus_reply_method_return(m, NULL); /* already subscribed: no-op */
        if (c->n_sessions >= SIM_MAX_CLIENTS)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Too many clients");
        c->sessions[c->n_sessions] = strdup(sender);
        if (!c->sessions[c->n_sessions])
                return -ENOMEM;
        if (++c->n_sessions == 1)
                emit_changed(d->sim, c->path, "org.bluez.GattCharacteristic1", "Notifying");
        device_notify_started(c);
        return sd_bus_reply_method_return(m, NULL);
}

static bool char_remove_session(SimChar *c, const char *sender) {
        for (size_t i = 0; i < c->n_sessions; i++)
                if (streq(c->sessions[i], sender)) {
                        free(c->sessions[i]);
                        memmove(&c->sessions[i], &c->sessions[i + 1], (c->n_sessions - i - 1) * sizeof(char *));
                        c->n_sessions--;
                        if (c->n_sessions == 0)
                                emit_changed(char_device(c)->sim, c->path, "org.bluez.GattCharacteristic1", "Notifying");
                        return true;
                }
        return false;
}

static int method_stop_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        if (!char_remove_session(c, sd_bus_message_get_sender(m)))
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "No notify session started");
        return sd_bus_reply_method_return(m, NULL);
}

static int on_acquired_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        SimChar *c = userdata;
        if (revents & EPOLLIN) {
                uint8_t buf[SIM_VALUE_MAX];
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n > 0)
                        return 0; /* the client wrote something: ignored, as bluetoothd does */
        }
        if (revents & (EPOLLHUP | EPOLLERR | EPOLLIN)) {
                /* the client closed its end: the acquisition is over */
                char_release_acquired(c, true);
        }
        return 0;
}

static int method_acquire_notify(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimChar *c = userdata;
        SimDevice *d = char_device(c);
        int r = skip_options(m, NULL);
        if (r < 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("InvalidArguments"), "Invalid arguments in method call");
        if (!(c->flags & (CHAR_F_NOTIFY | CHAR_F_INDICATE)))
                return sd_bus_error_set(error, BLUEZ_ERROR("NotSupported"), "Operation is not supported");
        if (!d->connected)
                return sd_bus_error_set(error, BLUEZ_ERROR("Failed"), "Not connected");
        if (c->acquired_fd >= 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotPermitted"), "Notify acquired");
        if (c->n_sessions > 0)
                return sd_bus_error_set(error, BLUEZ_ERROR("InProgress"), "In Progress");

        int fds[2];
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) < 0)
                return sd_bus_error_set_errno(error, errno);
        _cleanup_close_ int theirs = fds[1];
        c->acquired_fd = fds[0];
        r = sd_event_add_io(d->sim->event, &c->acquired_source, c->acquired_fd, EPOLLIN, on_acquired_io, c);
        if (r < 0) {
                c->acquired_fd = safe_close(c->acquired_fd);
                return r;
        }
        r = sd_bus_reply_method_return(m, "hq", theirs, d->sim->opt.mtu);
        if (r < 0) {
                char_release_acquired(c, false);
                return r;
        }
        emit_changed(d->sim, c->path, "org.bluez.GattCharacteristic1", "NotifyAcquired");
        emit_changed(d->sim, c->path, "org.bluez.GattCharacteristic1", "Notifying");
        device_notify_started(c);
        return 1;
}

static int service_get(sd_bus *bus, const char *path, const char *iface, const char *prop, sd_bus_message *reply,
                       void *userdata, sd_bus_error *error) {
        SimService *s = userdata;
        if (streq(prop, "UUID"))
                return sd_bus_message_append(reply, "s", s->uuid);
        if (streq(prop, "Device"))
                return sd_bus_message_append(reply, "o", s->device->path);
        if (streq(prop, "Primary"))
                return sd_bus_message_append(reply, "b", true);
        return sd_bus_message_append(reply, "ao", 0); /* Includes */
}

static const sd_bus_vtable service_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("UUID", "s", service_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Device", "o", service_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Primary", "b", service_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Includes", "ao", service_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_VTABLE_END,
};

#define CHAR_COMMON                                                                                            \
        SD_BUS_PROPERTY("UUID", "s", char_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),                               \
        SD_BUS_PROPERTY("Service", "o", char_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),                            \
        SD_BUS_PROPERTY("Value", "ay", char_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),                      \
        SD_BUS_PROPERTY("Flags", "as", char_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),                             \
        SD_BUS_PROPERTY("MTU", "q", char_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),                         \
        SD_BUS_METHOD_WITH_NAMES("ReadValue", "a{sv}", SD_BUS_PARAM(options), "ay", SD_BUS_PARAM(value),      \
                                 method_read_value, SD_BUS_VTABLE_UNPRIVILEGED),                               \
        SD_BUS_METHOD_WITH_NAMES("WriteValue", "aya{sv}", SD_BUS_PARAM(value) SD_BUS_PARAM(options), "",      \
                                 , method_write_value, SD_BUS_VTABLE_UNPRIVILEGED)

/* Notifying and NotifyAcquired exist only on characteristics that can notify, as in BlueZ. */
static const sd_bus_vtable char_notify_vtable[] = {
        SD_BUS_VTABLE_START(0),
        CHAR_COMMON,
        SD_BUS_PROPERTY("Notifying", "b", char_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("NotifyAcquired", "b", char_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("StartNotify", "", "", method_start_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopNotify", "", "", method_stop_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("AcquireNotify", "a{sv}", SD_BUS_PARAM(options), "hq", SD_BUS_PARAM(fd) SD_BUS_PARAM(mtu),
                                 method_acquire_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static const sd_bus_vtable char_plain_vtable[] = {
        SD_BUS_VTABLE_START(0),
        CHAR_COMMON,
        SD_BUS_METHOD("StartNotify", "", "", method_start_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("StopNotify", "", "", method_stop_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD_WITH_NAMES("AcquireNotify", "a{sv}", SD_BUS_PARAM(options), "hq", SD_BUS_PARAM(fd) SD_BUS_PARAM(mtu),
                                 method_acquire_notify, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

static int gatt_export(SimDevice *d) {
        Sim *sim = d->sim;
        int r;
        if (d->gatt_exported || !sim->bus)
                return 0;
        sim_device_refresh_values(d);
        for (size_t s = 0; s < d->n_services; s++) {
                SimService *svc = &d->services[s];
                r = sd_bus_add_object_vtable(sim->bus, &svc->slot, svc->path, "org.bluez.GattService1", service_vtable, svc);
                if (r < 0)
                        return log_error_errno(r, "Failed to export %s: %m", svc->path);
                (void) sd_bus_emit_interfaces_added(sim->bus, svc->path, "org.bluez.GattService1", NULL);
                for (size_t i = 0; i < svc->n_chars; i++) {
                        SimChar *c = &svc->chars[i];
                        bool notify = c->flags & (CHAR_F_NOTIFY | CHAR_F_INDICATE);
                        r = sd_bus_add_object_vtable(sim->bus, &c->slot, c->path, "org.bluez.GattCharacteristic1",
                                                     notify ? char_notify_vtable : char_plain_vtable, c);
                        if (r < 0)
                                return log_error_errno(r, "Failed to export %s: %m", c->path);
                        (void) sd_bus_emit_interfaces_added(sim->bus, c->path, "org.bluez.GattCharacteristic1", NULL);
                }
        }
        d->gatt_exported = true;
        if (d->kind != DEVICE_ORPHE) {
                /* bluetoothd's battery plugin adds Battery1 once it has read 0x2a19 */
                r = sd_bus_add_object_vtable(sim->bus, &d->battery_slot, d->path, "org.bluez.Battery1", battery_vtable, d);
                if (r < 0)
                        return log_error_errno(r, "Failed to export Battery1: %m");
                (void) sd_bus_emit_interfaces_added(sim->bus, d->path, "org.bluez.Battery1", NULL);
                d->battery_exported = true;
        }
        return 0;
}

static const sd_bus_vtable device_vtable[];

static int device_export(SimDevice *d) {
        Sim *sim = d->sim;
        if (d->exported || !sim->bus || !sim->adapter_present)
                return 0;
        int r = sd_bus_add_object_vtable(sim->bus, &d->slot, d->path, "org.bluez.Device1", device_vtable, d);
        if (r < 0)
                return log_error_errno(r, "Failed to export %s: %m", d->path);
        d->exported = true;
        (void) sd_bus_emit_interfaces_added(sim->bus, d->path, "org.bluez.Device1", NULL);
        return 0;
}

/* ---- connecting ---- */

static int on_objects_late(sd_event_source *s, uint64_t usec, void *userdata) {
        SimDevice *d = userdata;
        d->resolve_timer = sd_event_source_disable_unref(d->resolve_timer);
        if (d->connected)
                (void) gatt_export(d);
        return 0;
}

static int on_resolved(sd_event_source *s, uint64_t usec, void *userdata) {
        SimDevice *d = userdata;
        Sim *sim = d->sim;
        d->resolve_timer = sd_event_source_disable_unref(d->resolve_timer);
        if (!d->connected)
                return 0;
        if (d->objects_late_us > 0) {
                /* bluez#1489: the flag arrives before the objects it promises */
                uint64_t late = d->objects_late_us;
                d->objects_late_us = 0;
                (void) sd_event_add_time_relative(sim->event, &d->resolve_timer, CLOCK_MONOTONIC, late, 1, on_objects_late, d);
        } else
                (void) gatt_export(d);
        d->resolved = true;
        emit_changed(sim, d->path, "org.bluez.Device1", "ServicesResolved");
        emit_changed(sim, d->path, "org.bluez.Device1", "UUIDs");
        /* For LE, bluetoothd answers Connect() once the services are resolved. */
        if (d->pending_connect) {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *m = TAKE_PTR(d->pending_connect);
                (void) sd_bus_reply_method_return(m, NULL);
        }
        return 0;
}

static int on_connect_attempt(sd_event_source *s, uint64_t usec, void *userdata) {
        SimDevice *d = userdata;
        Sim *sim = d->sim;
        d->connect_timer = sd_event_source_disable_unref(d->connect_timer);

        if (d->fail_connect > 0 && d->fail_after_connected && d->in_range && sim->powered) {
                /* The link came up, then the attempt failed (e.g. during service discovery):
                 * Connected=true first, the error reply after it, and the link stays up until
                 * someone disconnects it. */
                d->fail_connect--;
                d->connected = true;
                d->connects++;
                d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
                emit_changed(sim, d->path, "org.bluez.Device1", "Connected");
                (void) sd_bus_flush(sim->bus);
                (void) pending_connect_fail(d, d->fail_error, d->fail_message);
                return 0;
        }
        if (d->fail_connect > 0) {
                d->fail_connect--;
                (void) pending_connect_fail(d, d->fail_error, d->fail_message);
                return 0;
        }
        if (!d->in_range || !sim->powered) {
                (void) pending_connect_fail(d, BLUEZ_ERROR("Failed"), "le-connection-abort-by-local");
                return 0;
        }
        d->connected = true;
        d->connects++;
        d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
        emit_changed(sim, d->path, "org.bluez.Device1", "Connected");
        uint64_t delay = d->resolve_delay_us > 0 ? d->resolve_delay_us : sim->opt.resolve_delay_us;
        return sd_event_add_time_relative(sim->event, &d->resolve_timer, CLOCK_MONOTONIC, delay, 1, on_resolved, d);
}

static int method_connect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        Sim *sim = d->sim;
        if (!sim->powered)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotReady"), "Resource Not Ready");
        if (d->pending_connect)
                return sd_bus_error_set(error, BLUEZ_ERROR("InProgress"), "In Progress");
        if (d->connected && d->resolved)
                return sd_bus_error_set(error, BLUEZ_ERROR("AlreadyConnected"), "Already Connected");
        if (d->fail_connect > 0 && streq(d->fail_error, BLUEZ_ERROR("InProgress"))) {
                d->fail_connect--;
                return sd_bus_error_set(error, d->fail_error, d->fail_message);
        }
        d->pending_connect = sd_bus_message_ref(m);
        if (d->connected)
                return 1; /* resolving: the reply comes with ServicesResolved */
        uint64_t delay = d->in_range ? sim->opt.connect_delay_us : sim->opt.connect_timeout_us;
        int r = sd_event_add_time_relative(sim->event, &d->connect_timer, CLOCK_MONOTONIC, delay, 1, on_connect_attempt, d);
        if (r < 0) {
                d->pending_connect = sd_bus_message_unref(d->pending_connect);
                return r;
        }
        return 1;
}

static int method_disconnect(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        if (!d->connected && !d->pending_connect)
                return sd_bus_error_set(error, BLUEZ_ERROR("NotConnected"), "Not Connected");
        device_disconnect(d, "Software caused connection abort");
        return sd_bus_reply_method_return(m, NULL);
}

void sim_device_bond_changed(SimDevice *d) {
        emit_changed(d->sim, d->path, "org.bluez.Device1", "Paired");
        emit_changed(d->sim, d->path, "org.bluez.Device1", "Bonded");
}

static int method_pair(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        SimDevice *d = userdata;
        if (d->paired)
                return sd_bus_error_set(error, BLUEZ_ERROR("AlreadyExists"), "Already Exists");
        if (!d->in_range)
                return sd_bus_error_set(error, BLUEZ_ERROR("ConnectionAttemptFailed"), "Page Timeout");
        d->paired = true;
        sim_device_bond_changed(d);
        return sd_bus_reply_method_return(m, NULL);
}

static int method_not_supported(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        return sd_bus_error_set(error, BLUEZ_ERROR("NotSupported"), "Operation is not supported");
}

static const sd_bus_vtable device_vtable[] = {
        SD_BUS_VTABLE_START(0),
        SD_BUS_PROPERTY("Address", "s", device_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("AddressType", "s", device_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("Name", "s", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Alias", "s", device_get, device_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Paired", "b", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Bonded", "b", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Trusted", "b", device_get, device_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_WRITABLE_PROPERTY("Blocked", "b", device_get, device_set, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("LegacyPairing", "b", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("RSSI", "n", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Connected", "b", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("UUIDs", "as", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("Adapter", "o", device_get, 0, SD_BUS_VTABLE_PROPERTY_CONST),
        SD_BUS_PROPERTY("ManufacturerData", "a{qv}", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ServiceData", "a{sv}", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("ServicesResolved", "b", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_PROPERTY("AdvertisingFlags", "ay", device_get, 0, SD_BUS_VTABLE_PROPERTY_EMITS_CHANGE),
        SD_BUS_METHOD("Connect", "", "", method_connect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Disconnect", "", "", method_disconnect, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("Pair", "", "", method_pair, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("CancelPairing", "", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("ConnectProfile", "s", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_METHOD("DisconnectProfile", "s", "", method_not_supported, SD_BUS_VTABLE_UNPRIVILEGED),
        SD_BUS_VTABLE_END,
};

/* ---- notifications ---- */

bool sim_char_notifying(const SimChar *c) {
        return c->slot && (c->acquired_fd >= 0 || c->n_sessions > 0);
}

void sim_char_set_value(SimChar *c, const uint8_t *data, size_t len) {
        len = MIN(len, sizeof(c->value));
        memcpy(c->value, data, len);
        c->value_len = len;
}

int sim_char_notify(SimChar *c, const uint8_t *data, size_t len) {
        SimDevice *d = char_device(c);
        size_t max = (size_t) d->sim->opt.mtu - 3; /* a notification carries at most MTU - 3 bytes */
        len = MIN(len, max);

        if (c->acquired_fd >= 0) {
                /* The Value property is not updated while acquired. A full socket drops. */
                ssize_t n = send(c->acquired_fd, data, len, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (n < 0) {
                        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
                                c->dropped++;
                                return 0;
                        }
                        log_warning_errno(errno, "Sending on the acquired socket of %s failed, releasing it: %m", c->path);
                        char_release_acquired(c, true);
                        return 0;
                }
                c->sent++;
                return 1;
        }
        if (c->n_sessions > 0 && c->slot) {
                sim_char_set_value(c, data, len);
                emit_changed(d->sim, c->path, "org.bluez.GattCharacteristic1", "Value");
                c->sent++;
                return 1;
        }
        return 0;
}

/* ---- discovery and advertising ---- */

static bool device_matches(SimDevice *d, const DiscoveryClient *c) {
        if (!c->has_filter)
                return true;
        if (c->has_rssi && d->rssi < c->rssi)
                return false;
        if (c->pattern && c->pattern[0] && strncmp(d->address, c->pattern, strlen(c->pattern)) != 0 &&
            strncmp(d->name, c->pattern, strlen(c->pattern)) != 0)
                return false;
        if (c->uuids && c->uuids[0]) {
                bool found = false;
                for (char **u = c->uuids; *u && !found; u++)
                        found = strcasecmp(*u, kind_primary_uuid(d->kind)) == 0;
                if (!found)
                        return false;
        }
        return true;
}

static int on_expire(sd_event_source *s, uint64_t usec, void *userdata) {
        SimDevice *d = userdata;
        d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
        if (d->connected || d->pending_connect || d->paired || d->trusted || d->sim->discovering)
                return 0;
        device_unexport(d);
        return 0;
}

static void device_schedule_expiry(SimDevice *d) {
        Sim *sim = d->sim;
        if (!d->exported || d->connected || d->paired || d->trusted || sim->discovering)
                return;
        d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
        (void) sd_event_add_time_relative(sim->event, &d->expire_timer, CLOCK_MONOTONIC, sim->opt.temporary_timeout_us, 1,
                                          on_expire, d);
}

void sim_advertise(Sim *sim) {
        if (!bus_usable(sim) || !sim->adapter_present || !sim->powered || !sim->discovering)
                return;
        uint64_t now = sim_mono_now();
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                if (!d->in_range || d->connected)
                        continue; /* connected peripherals stop advertising */
                /* RSSI wanders around -62 dBm, deterministic per device and advert */
                int16_t rssi = (int16_t) (-62 + (int) ((d->connects * 7 + d->address[16] + now / 1000000) % 9) - 4);
                bool matched = false, duplicate = false;
                for (size_t k = 0; k < sim->n_clients; k++)
                        if (sim->clients[k].active && device_matches(d, &sim->clients[k])) {
                                matched = true;
                                duplicate = duplicate || sim->clients[k].duplicate;
                        }
                if (!matched)
                        continue;
                d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
                if (!d->exported) {
                        d->rssi = rssi;
                        d->rssi_emitted_us = now;
                        (void) device_export(d);
                        continue;
                }
                /* Without DuplicateData, bluetoothd only signals changes; we also rate-limit. */
                if (duplicate || (rssi != d->rssi && now - d->rssi_emitted_us >= USEC_PER_SEC)) {
                        d->rssi = rssi;
                        d->rssi_emitted_us = now;
                        emit_changed(sim, d->path, "org.bluez.Device1", "RSSI");
                        if (duplicate)
                                emit_changed(sim, d->path, "org.bluez.Device1", "ManufacturerData");
                }
        }
}

void sim_device_name_changed(SimDevice *d) {
        if (d->exported) {
                emit_changed(d->sim, d->path, "org.bluez.Device1", "Name");
                if (!d->alias[0])
                        emit_changed(d->sim, d->path, "org.bluez.Device1", "Alias");
        }
}

void sim_device_battery_changed(SimDevice *d) {
        if (d->battery_exported)
                emit_changed(d->sim, d->path, "org.bluez.Battery1", "Percentage");
}

/* ---- adapter power, presence, bluetoothd lifetime ---- */

static void all_clients_forget(Sim *sim) {
        while (sim->n_clients > 0)
                client_remove(sim, &sim->clients[sim->n_clients - 1]);
        sim->discovering = false;
}

int sim_adapter_set_powered(Sim *sim, bool powered) {
        if (powered == sim->powered)
                return 0;
        if (!powered) {
                for (size_t i = 0; i < sim->n_devices; i++)
                        device_disconnect(sim->devices[i], "le-connection-abort-by-local");
                bool was = sim->discovering;
                for (size_t i = 0; i < sim->n_clients; i++)
                        sim->clients[i].active = false;
                sim->discovering = false;
                if (was)
                        emit_changed(sim, SIM_ADAPTER_PATH, "org.bluez.Adapter1", "Discovering");
        }
        sim->powered = powered;
        emit_changed(sim, SIM_ADAPTER_PATH, "org.bluez.Adapter1", "Powered");
        emit_changed(sim, SIM_ADAPTER_PATH, "org.bluez.Adapter1", "PowerState");
        return 0;
}

int sim_adapter_remove(Sim *sim) {
        if (!sim->adapter_present)
                return 0;
        for (size_t i = 0; i < sim->n_devices; i++) {
                device_disconnect(sim->devices[i], "le-connection-abort-by-local");
                device_unexport(sim->devices[i]);
        }
        all_clients_forget(sim);
        adapter_unexport(sim);
        sim->adapter_present = false;
        return 0;
}

static void export_known_devices(Sim *sim) {
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                if (d->paired || d->trusted)
                        (void) device_export(d);
        }
}

int sim_adapter_add(Sim *sim) {
        if (sim->adapter_present)
                return 0;
        sim->adapter_present = true;
        sim->powered = true;
        if (!sim->bus)
                return 0;
        int r = adapter_export(sim);
        if (r < 0)
                return r;
        export_known_devices(sim);
        return 0;
}

static int on_name_owner_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        Sim *sim = userdata;
        const char *name, *old_owner, *new_owner;
        if (sd_bus_message_read(m, "sss", &name, &old_owner, &new_owner) < 0)
                return 0;
        if (name[0] != ':' || new_owner[0] != 0)
                return 0;
        /* A client left the bus: its discovery and notify sessions end. */
        DiscoveryClient *c = client_find(sim, name, false);
        if (c) {
                client_remove(sim, c);
                update_discovering(sim);
        }
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                for (size_t s = 0; s < d->n_services; s++)
                        for (size_t k = 0; k < d->services[s].n_chars; k++)
                                (void) char_remove_session(&d->services[s].chars[k], name);
        }
        return 0;
}

int sim_bluez_start(Sim *sim) {
        int r;
        if (sim->bus)
                return 0;
        r = sd_bus_open_system(&sim->bus);
        if (r < 0)
                return log_error_errno(r, "Failed to connect to the system bus: %m");
        r = sd_bus_attach_event(sim->bus, sim->event, 0);
        if (r < 0)
                return log_error_errno(r, "Failed to attach the bus: %m");
        r = sd_bus_add_object_manager(sim->bus, NULL, "/");
        if (r < 0)
                return log_error_errno(r, "Failed to add the object manager: %m");
        r = sd_bus_match_signal(sim->bus, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
                                "NameOwnerChanged", on_name_owner_changed, sim);
        if (r < 0)
                return log_error_errno(r, "Failed to watch NameOwnerChanged: %m");
        if (sim->adapter_present) {
                r = adapter_export(sim);
                if (r < 0)
                        return r;
                export_known_devices(sim);
        }
        r = sd_bus_request_name(sim->bus, "org.bluez", 0);
        if (r < 0)
                return log_error_errno(r, "Failed to own org.bluez: %m");
        sim->bluez_up = true;
        log_info("org.bluez is up.");
        return 0;
}

#define GRACEFUL_STOP_DELAY_USEC (500 * USEC_PER_MSEC)

void sim_bluez_stop(Sim *sim, bool graceful) {
        if (!sim->bus)
                return;
        for (size_t i = 0; i < sim->n_devices; i++) {
                SimDevice *d = sim->devices[i];
                d->connect_timer = sd_event_source_disable_unref(d->connect_timer);
                d->resolve_timer = sd_event_source_disable_unref(d->resolve_timer);
                /* no reply: the bus tells the caller that we vanished */
                d->pending_connect = sd_bus_message_unref(d->pending_connect);
                if (graceful) {
                        device_disconnect(d, NULL);
                        device_unexport(d);
                } else {
                        /* a crash says nothing: no InterfacesRemoved */
                        d->gatt_exported = d->battery_exported = false;
                        gatt_unexport(d);
                        d->slot = sd_bus_slot_unref(d->slot);
                        d->exported = false;
                        d->expire_timer = sd_event_source_disable_unref(d->expire_timer);
                        if (d->connected)
                                d->disconnects++;
                        d->connected = d->resolved = false;
                        d->streaming = !sim->opt.require_start;
                }
        }
        if (graceful)
                adapter_unexport(sim);
        sim->adapter_slot = sd_bus_slot_unref(sim->adapter_slot);
        all_clients_forget(sim);
        sim->bluez_up = false;
        (void) sd_bus_flush(sim->bus);
        (void) sd_bus_detach_event(sim->bus);
        sim->bus = sd_bus_flush_close_unref(sim->bus);
        log_info("org.bluez is gone.");
}

static int on_restart(sd_event_source *s, uint64_t usec, void *userdata) {
        Sim *sim = userdata;
        sim->restart_timer = sd_event_source_disable_unref(sim->restart_timer);
        int r = sim_bluez_start(sim);
        if (r < 0)
                return sd_event_exit(sim->event, r);
        return 0;
}

static int on_stop_after_power_off(sd_event_source *s, uint64_t usec, void *userdata) {
        Sim *sim = userdata;
        sim->restart_timer = sd_event_source_disable_unref(sim->restart_timer);
        sim_bluez_stop(sim, true);
        /* bluetoothd's AutoEnable powers the adapter on when it comes back */
        sim->powered = true;
        return sd_event_add_time_relative(sim->event, &sim->restart_timer, CLOCK_MONOTONIC,
                                          MAX(sim->restart_down_us, (uint64_t) 1000), 1, on_restart, sim);
}

int sim_bluez_restart(Sim *sim, uint64_t down_us, bool graceful) {
        /* A new connection (and so a new unique name) and new objects, as a new bluetoothd would
         * have; devices remember paired/trusted state, as /var/lib/bluetooth does. */
        sim->restart_timer = sd_event_source_disable_unref(sim->restart_timer);
        if (graceful && sim->bus && sim->powered) {
                /* bluetoothd 5.66 on SIGTERM: powers its adapters off, and only a moment later
                 * removes them and releases its name. */
                (void) sim_adapter_set_powered(sim, false);
                sim->restart_down_us = down_us;
                return sd_event_add_time_relative(sim->event, &sim->restart_timer, CLOCK_MONOTONIC,
                                                  GRACEFUL_STOP_DELAY_USEC, 1, on_stop_after_power_off, sim);
        }
        sim_bluez_stop(sim, graceful);
        return sd_event_add_time_relative(sim->event, &sim->restart_timer, CLOCK_MONOTONIC, MAX(down_us, (uint64_t) 1000), 1,
                                          on_restart, sim);
}
