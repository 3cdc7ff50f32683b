/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <string.h>

#include "bluez-parse.h"
#include "bluez.h"
#include "decoder.h"

bool bluez_path_is_below(const char *path, const char *parent) {
        size_t n;

        if (!path || !parent)
                return false;
        n = strlen(parent);
        return strncmp(path, parent, n) == 0 && path[n] == '/' && path[n + 1] != 0;
}

/* ---- property tables ---------------------------------------------------------------------- */

typedef int (*PropSetter)(sd_bus_message *m, void *obj);

typedef struct PropEntry {
        const char *name;
        const char *signature; /* the variant's contents */
        PropSetter set;        /* reads exactly one value of `signature` */
} PropEntry;

static int parse_props(sd_bus_message *m, const PropEntry *table, size_t n, void *obj) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;

        for (;;) {
                const PropEntry *e = NULL;
                const char *key;

                r = sd_bus_message_enter_container(m, 'e', "sv");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;

                r = sd_bus_message_read(m, "s", &key);
                if (r < 0)
                        return r;

                for (size_t i = 0; i < n; i++)
                        if (streq(table[i].name, key)) {
                                e = &table[i];
                                break;
                        }

                /* Unknown keys and known keys with a surprising type are skipped, not fatal. */
                if (e && sd_bus_message_verify_type(m, 'v', e->signature) > 0) {
                        r = sd_bus_message_enter_container(m, 'v', e->signature);
                        if (r < 0)
                                return r;
                        r = e->set(m, obj);
                        if (r < 0)
                                return r;
                        r = sd_bus_message_exit_container(m);
                } else
                        r = sd_bus_message_skip(m, "v");
                if (r < 0)
                        return r;

                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }

        return sd_bus_message_exit_container(m);
}

static int read_bool(sd_bus_message *m, bool *has, bool *v) {
        int b, r;

        r = sd_bus_message_read(m, "b", &b);
        if (r < 0)
                return r;
        *has = true;
        *v = b;
        return 0;
}

static int read_address(sd_bus_message *m, bool *has, BdAddr *a) {
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        /* A malformed address is as good as none. */
        *has = bdaddr_from_string(s, a) >= 0;
        return 0;
}

static int adapter_address(sd_bus_message *m, void *obj) {
        BluezAdapterProps *p = obj;
        return read_address(m, &p->has_address, &p->address);
}
static int adapter_powered(sd_bus_message *m, void *obj) {
        BluezAdapterProps *p = obj;
        return read_bool(m, &p->has_powered, &p->powered);
}
static int adapter_discovering(sd_bus_message *m, void *obj) {
        BluezAdapterProps *p = obj;
        return read_bool(m, &p->has_discovering, &p->discovering);
}

static const PropEntry adapter_table[] = {
        { "Address", "s", adapter_address },
        { "Powered", "b", adapter_powered },
        { "Discovering", "b", adapter_discovering },
};

int bluez_parse_adapter_props(sd_bus_message *m, BluezAdapterProps *p) {
        return parse_props(m, adapter_table, ELEMENTSOF(adapter_table), p);
}

static int device_address(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return read_address(m, &p->has_address, &p->address);
}
static int device_adapter(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return sd_bus_message_read(m, "o", &p->adapter);
}
static int device_connected(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return read_bool(m, &p->has_connected, &p->connected);
}
static int device_services_resolved(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return read_bool(m, &p->has_services_resolved, &p->services_resolved);
}
static int device_paired(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return read_bool(m, &p->has_paired, &p->paired);
}
static int device_bonded(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        return read_bool(m, &p->has_bonded, &p->bonded);
}
static int device_rssi(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        int r;

        r = sd_bus_message_read(m, "n", &p->rssi);
        if (r < 0)
                return r;
        p->has_rssi = true;
        p->rssi_invalidated = false;
        return 0;
}
static int device_name(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        int r;

        r = sd_bus_message_read(m, "s", &p->name);
        if (r < 0)
                return r;
        p->name_len = strnlen(p->name, BLUEZ_NAME_MAX);
        return 0;
}

bool bluez_service_uuid_is_supported(const char *uuid) {
        const Decoder *d = decoder_find_by_service(uuid);

        /* Battery and Device Information are on everything with a battery; they make nothing an
         * insole. */
        return d && d->noun;
}

static int device_uuids(sd_bus_message *m, void *obj) {
        BluezDeviceProps *p = obj;
        const Decoder *d;
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        p->has_uuids = true;
        for (;;) {
                char norm[DECODER_UUID_STRING_MAX];
                const char *s;

                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n > BLUEZ_LIST_MAX)
                        continue;
                if (decoder_uuid_normalize(s, norm) < 0)
                        continue;
                d = decoder_find_by_service(norm);
                /* A pressure insole's service names the device before a footpod's does. */
                if (d && d->noun && (!p->advertised || (d->pressure && !p->advertised->pressure)))
                        p->advertised = d;
        }
        return sd_bus_message_exit_container(m);
}

static const PropEntry device_table[] = {
        { "Address", "s", device_address },
        { "Adapter", "o", device_adapter },
        { "Connected", "b", device_connected },
        { "ServicesResolved", "b", device_services_resolved },
        { "Paired", "b", device_paired },
        { "Bonded", "b", device_bonded },
        { "RSSI", "n", device_rssi },
        { "Name", "s", device_name },
        { "UUIDs", "as", device_uuids },
};

int bluez_parse_device_props(sd_bus_message *m, BluezDeviceProps *p) {
        return parse_props(m, device_table, ELEMENTSOF(device_table), p);
}

int bluez_parse_device_invalidated(sd_bus_message *m, BluezDeviceProps *p) {
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (;;) {
                const char *s;

                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n <= BLUEZ_LIST_MAX && streq(s, "RSSI")) {
                        p->has_rssi = false;
                        p->rssi_invalidated = true;
                }
        }
        return sd_bus_message_exit_container(m);
}

static int char_uuid(sd_bus_message *m, void *obj) {
        BluezCharProps *p = obj;
        const char *s;
        int r;

        r = sd_bus_message_read(m, "s", &s);
        if (r < 0)
                return r;
        p->has_uuid = decoder_uuid_normalize(s, p->uuid) >= 0;
        return 0;
}
static int char_service(sd_bus_message *m, void *obj) {
        BluezCharProps *p = obj;
        return sd_bus_message_read(m, "o", &p->service);
}
static int char_flags(sd_bus_message *m, void *obj) {
        static const struct {
                const char *name;
                unsigned flag;
        } names[] = {
                { "read", BLUEZ_CHAR_READ },
                { "write", BLUEZ_CHAR_WRITE },
                { "write-without-response", BLUEZ_CHAR_WRITE_WITHOUT_RESPONSE },
                { "notify", BLUEZ_CHAR_NOTIFY },
                { "indicate", BLUEZ_CHAR_INDICATE },
        };
        BluezCharProps *p = obj;
        unsigned n = 0;
        int r;

        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        p->has_flags = true;
        p->flags = 0;
        for (;;) {
                const char *s;

                r = sd_bus_message_read(m, "s", &s);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n > BLUEZ_LIST_MAX)
                        continue;
                for (size_t i = 0; i < ELEMENTSOF(names); i++)
                        if (streq(s, names[i].name))
                                p->flags |= names[i].flag;
        }
        return sd_bus_message_exit_container(m);
}
static int char_notify_acquired(sd_bus_message *m, void *obj) {
        BluezCharProps *p = obj;
        return read_bool(m, &p->has_notify_acquired, &p->notify_acquired);
}
static int char_notifying(sd_bus_message *m, void *obj) {
        BluezCharProps *p = obj;
        return read_bool(m, &p->has_notifying, &p->notifying);
}
static int char_value(sd_bus_message *m, void *obj) {
        BluezCharProps *p = obj;
        const void *v;
        size_t n;
        int r;

        r = sd_bus_message_read_array(m, 'y', &v, &n);
        if (r < 0)
                return r;
        p->has_value = true;
        p->value = n > 0 ? v : (const uint8_t *) "";
        p->value_len = n;
        return 0;
}

static const PropEntry char_table[] = {
        { "UUID", "s", char_uuid },
        { "Service", "o", char_service },
        { "Flags", "as", char_flags },
        { "NotifyAcquired", "b", char_notify_acquired },
        { "Notifying", "b", char_notifying },
        { "Value", "ay", char_value },
};

int bluez_parse_char_props(sd_bus_message *m, BluezCharProps *p) {
        return parse_props(m, char_table, ELEMENTSOF(char_table), p);
}

/* ---- whole messages ------------------------------------------------------------------------ */

int bluez_parse_interfaces(sd_bus_message *m, const char *path, BluezInterfaceHandler handler, void *userdata) {
        int r;

        r = sd_bus_message_enter_container(m, 'a', "{sa{sv}}");
        if (r < 0)
                return r;
        for (;;) {
                const char *interface;

                r = sd_bus_message_enter_container(m, 'e', "sa{sv}");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(m, "s", &interface);
                if (r < 0)
                        return r;
                r = handler(m, path, interface, userdata);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

int bluez_parse_managed_objects(sd_bus_message *m, BluezInterfaceHandler handler, void *userdata) {
        int r;

        if (!sd_bus_message_has_signature(m, "a{oa{sa{sv}}}"))
                return -EBADMSG;
        r = sd_bus_message_enter_container(m, 'a', "{oa{sa{sv}}}");
        if (r < 0)
                return r;
        for (;;) {
                const char *path;

                r = sd_bus_message_enter_container(m, 'e', "oa{sa{sv}}");
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                r = sd_bus_message_read(m, "o", &path);
                if (r < 0)
                        return r;
                r = bluez_parse_interfaces(m, path, handler, userdata);
                if (r < 0)
                        return r;
                r = sd_bus_message_exit_container(m);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

int bluez_parse_interfaces_added(sd_bus_message *m, BluezInterfaceHandler handler, void *userdata) {
        const char *path;
        int r;

        if (!sd_bus_message_has_signature(m, "oa{sa{sv}}"))
                return -EBADMSG;
        r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        return bluez_parse_interfaces(m, path, handler, userdata);
}

int bluez_parse_interfaces_removed(sd_bus_message *m, BluezRemovedHandler handler, void *userdata) {
        const char *path;
        unsigned n = 0;
        int r;

        if (!sd_bus_message_has_signature(m, "oas"))
                return -EBADMSG;
        r = sd_bus_message_read(m, "o", &path);
        if (r < 0)
                return r;
        r = sd_bus_message_enter_container(m, 'a', "s");
        if (r < 0)
                return r;
        for (;;) {
                const char *interface;

                r = sd_bus_message_read(m, "s", &interface);
                if (r < 0)
                        return r;
                if (r == 0)
                        break;
                if (++n > BLUEZ_LIST_MAX)
                        continue;
                r = handler(path, interface, userdata);
                if (r < 0)
                        return r;
        }
        return sd_bus_message_exit_container(m);
}

int bluez_parse_properties_changed_header(sd_bus_message *m, const char **ret_interface) {
        if (!sd_bus_message_has_signature(m, "sa{sv}as"))
                return -EBADMSG;
        return sd_bus_message_read(m, "s", ret_interface);
}

int bluez_parse_name_owner_changed(sd_bus_message *m, const char **ret_name, const char **ret_old,
                                   const char **ret_new) {
        if (!sd_bus_message_has_signature(m, "sss"))
                return -EBADMSG;
        return sd_bus_message_read(m, "sss", ret_name, ret_old, ret_new);
}

int bluez_parse_acquire_reply(sd_bus_message *m, int *ret_fd, uint16_t *ret_mtu) {
        int fd, r;
        uint16_t mtu;

        if (!sd_bus_message_has_signature(m, "hq"))
                return -EBADMSG;
        r = sd_bus_message_read(m, "hq", &fd, &mtu);
        if (r < 0)
                return r;
        *ret_fd = fd;
        *ret_mtu = mtu;
        return 0;
}

int bluez_parse_read_reply(sd_bus_message *m, const uint8_t **ret_value, size_t *ret_len) {
        const void *v;
        size_t n;
        int r;

        if (!sd_bus_message_has_signature(m, "ay"))
                return -EBADMSG;
        r = sd_bus_message_read_array(m, 'y', &v, &n);
        if (r < 0)
                return r;
        *ret_value = n > 0 ? v : (const uint8_t *) "";
        *ret_len = n;
        return 0;
}
