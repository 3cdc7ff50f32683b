/* SPDX-License-Identifier: MIT */
/* Unit tests of the BlueZ client's pure decisions (backoff, step reconciliation, watchdog,
 * adapter escalation) and of the parsing of real sd-bus messages in BlueZ's shapes. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "bluez-parse.h"
#include "bluez-policy.h"
#include "decoder-records.h"
#include "log.h"

/* ---- link ---------------------------------------------------------------------------------------- */

static void test_link_stable(void **state) {
        assert_false(bluez_link_is_stable(0, 100, 10));
        assert_false(bluez_link_is_stable(100, 105, 10));
        assert_true(bluez_link_is_stable(100, 110, 10));
        assert_false(bluez_link_is_stable(100, 50, 10)); /* clock confusion is not stability */
}

static void test_link_rate(void **state) {
        assert_true(bluez_link_rate(250, 1000000, 11000000) == 25.0);
        assert_true(bluez_link_rate(250, 0, 11000000) == 0);        /* link down */
        assert_true(bluez_link_rate(250, 11000000, 11000000) == 0); /* no time yet */
        assert_true(bluez_link_rate(250, 12000000, 11000000) == 0);
}

/* ---- watchdog ---------------------------------------------------------------------------------- */

static void test_watchdog_silence(void **state) {
        const uint64_t T = 5 * USEC_PER_SEC;

        /* Streaming since 100 s, last frame at 120 s. */
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 124 * USEC_PER_SEC, 100 * USEC_PER_SEC,
                                              120 * USEC_PER_SEC, T, T),
                         BLUEZ_WATCHDOG_OK);
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 125 * USEC_PER_SEC, 100 * USEC_PER_SEC,
                                              120 * USEC_PER_SEC, T, T),
                         BLUEZ_WATCHDOG_SILENT);
        /* No frame at all since streaming started at 100 s. */
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 104 * USEC_PER_SEC, 100 * USEC_PER_SEC, 0, T, T),
                         BLUEZ_WATCHDOG_OK);
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 105 * USEC_PER_SEC, 100 * USEC_PER_SEC, 0, T, T),
                         BLUEZ_WATCHDOG_SILENT);
        /* A frame of a previous link (older than the state) does not count against this one. */
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 103 * USEC_PER_SEC, 100 * USEC_PER_SEC,
                                              50 * USEC_PER_SEC, T, T),
                         BLUEZ_WATCHDOG_OK);
        /* Disabled. */
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_STREAMING, 1000 * USEC_PER_SEC, 0, 0, 0, T),
                         BLUEZ_WATCHDOG_OK);
}

static void test_watchdog_stuck_setup(void **state) {
        const uint64_t T = 10 * USEC_PER_SEC;

        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_RESOLVING, 9 * USEC_PER_SEC, 0, 0, T, T), BLUEZ_WATCHDOG_OK);
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_RESOLVING, 10 * USEC_PER_SEC, 0, 0, T, T), BLUEZ_WATCHDOG_STUCK);
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_SUBSCRIBING, 11 * USEC_PER_SEC, 0, 0, T, T),
                         BLUEZ_WATCHDOG_STUCK);
        /* Waiting and absent devices are never "stuck": the backoff owns them. */
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_WAITING, 1000 * USEC_PER_SEC, 0, 0, T, T), BLUEZ_WATCHDOG_OK);
        assert_int_equal(bluez_watchdog_check(BLUEZ_LINK_ABSENT, 1000 * USEC_PER_SEC, 0, 0, T, T), BLUEZ_WATCHDOG_OK);
}

/* ---- adapter escalation ------------------------------------------------------------------------ */

static void test_adapter_escalation(void **state) {
        BluezAdapterHealth h;

        bluez_adapter_health_init(&h, 3, 2);
        for (unsigned cycle = 0; cycle < 2; cycle++) {
                assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);
                assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);
                assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_POWER_CYCLE);
        }
        assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);
        assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);
        assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_EXIT);

        /* One success forgives everything. */
        bluez_adapter_health_init(&h, 3, 2);
        for (unsigned i = 0; i < 5; i++)
                (void) bluez_adapter_health_failure(&h);
        bluez_adapter_health_success(&h);
        assert_int_equal(h.failures, 0);
        assert_int_equal(h.resets, 0);
        assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);

        /* reset_after 0: never escalate. */
        bluez_adapter_health_init(&h, 0, 1);
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_NONE);

        /* exit_after 0: power-cycle forever, never exit. */
        bluez_adapter_health_init(&h, 1, 0);
        for (unsigned i = 0; i < 100; i++)
                assert_int_equal(bluez_adapter_health_failure(&h), BLUEZ_ESCALATE_POWER_CYCLE);
}

/* ---- message parsing ---------------------------------------------------------------------------- */

typedef struct BusFixture {
        sd_bus *bus;
        int other;
} BusFixture;

/* A bus on one end of a socketpair: enough to build, seal and read real messages. */
static int bus_setup(void **state) {
        BusFixture *f = calloc(1, sizeof(*f));
        int fds[2];

        assert_non_null(f);
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
        assert_int_equal(sd_bus_new(&f->bus), 0);
        assert_int_equal(sd_bus_set_fd(f->bus, fds[0], fds[0]), 0);
        assert_true(sd_bus_negotiate_fds(f->bus, 1) >= 0);
        assert_int_equal(sd_bus_start(f->bus), 0);
        f->other = fds[1];
        *state = f;
        return 0;
}

static int bus_teardown(void **state) {
        BusFixture *f = *state;

        sd_bus_close_unref(f->bus);
        close(f->other);
        free(f);
        return 0;
}

static sd_bus_message *new_signal(BusFixture *f, const char *path, const char *interface, const char *member) {
        sd_bus_message *m = NULL;

        assert_int_equal(sd_bus_message_new_signal(f->bus, &m, path, interface, member), 0);
        return m;
}

static void seal(sd_bus_message *m) {
        assert_int_equal(sd_bus_message_seal(m, 1, 0), 0);
        assert_true(sd_bus_message_rewind(m, true) >= 0);
}

static void test_parse_adapter(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/org/bluez/hci0", "org.freedesktop.DBus.Properties", "PropertiesChanged");
        BluezAdapterProps p = {};
        const char *iface;

        assert_true(sd_bus_message_append(m, "sa{sv}as", BLUEZ_ADAPTER_INTERFACE, 5,
                                          "Address", "s", "00:1a:7D:DA:71:13",
                                          "Powered", "b", 1,
                                          "Discovering", "s", "yes", /* wrong type: skipped */
                                          "Modalias", "s", "usb:v1D6B",
                                          "Class", "u", 0x6c010c,
                                          0) >= 0);
        seal(m);
        assert_int_equal(bluez_parse_properties_changed_header(m, &iface), 1);
        assert_string_equal(iface, BLUEZ_ADAPTER_INTERFACE);
        assert_int_equal(bluez_parse_adapter_props(m, &p), 1);
        assert_true(p.has_address);
        assert_int_equal(p.address.b[0], 0x00);
        assert_int_equal(p.address.b[1], 0x1a);
        assert_int_equal(p.address.b[2], 0x7d);
        assert_int_equal(p.address.b[5], 0x13);
        assert_true(p.has_powered && p.powered);
        assert_false(p.has_discovering);
        sd_bus_message_unref(m);
}

static void test_parse_device_hostile_name(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded");
        char name[300];
        BluezDeviceProps p = {};
        const char *path, *iface;
        char escaped[BLUEZ_NAME_MAX * 4 + 1];

        /* 299 bytes: slashes, MQTT wildcards, escapes, newlines, high bytes. */
        for (size_t i = 0; i < sizeof(name) - 1; i++)
                name[i] = "/#+$\n\x1b\x7f../"[i % 10];
        name[sizeof(name) - 1] = 0;

        assert_true(sd_bus_message_append(m, "o", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01") >= 0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sa{sv}}") >= 0);
        assert_true(sd_bus_message_append(m, "{sa{sv}}", BLUEZ_DEVICE_INTERFACE, 6,
                                          "Address", "s", "AA:BB:CC:DD:EE:01",
                                          "Name", "s", name,
                                          "RSSI", "n", (int16_t) -61,
                                          "Connected", "b", 0,
                                          "UUIDs", "as", 2, "0000180f-0000-1000-8000-00805f9b34fb",
                                                 "6F1D0001-2C4B-4E8A-9D3F-1B7E5A0C9F21",
                                          "Adapter", "o", "/org/bluez/hci0") >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        seal(m);

        assert_true(sd_bus_message_has_signature(m, "oa{sa{sv}}"));
        assert_int_equal(sd_bus_message_read(m, "o", &path), 1);
        assert_int_equal(sd_bus_message_enter_container(m, 'a', "{sa{sv}}"), 1);
        assert_int_equal(sd_bus_message_enter_container(m, 'e', "sa{sv}"), 1);
        assert_int_equal(sd_bus_message_read(m, "s", &iface), 1);
        assert_int_equal(bluez_parse_device_props(m, &p), 1);

        assert_true(p.has_address);
        assert_int_equal(p.address.b[5], 0x01);
        assert_non_null(p.name);
        assert_int_equal(p.name_len, BLUEZ_NAME_MAX);
        assert_true(p.has_rssi);
        assert_int_equal(p.rssi, -61);
        assert_true(p.has_connected);
        assert_false(p.connected);
        assert_true(p.has_uuids);
        /* the insole's service names it; battery (also advertised) makes nothing an insole */
        assert_ptr_equal(p.advertised, decoder_find_by_service(OIP_SERVICE_UUID));
        assert_string_equal(p.adapter, "/org/bluez/hci0");

        /* What the client does with the name before anyone sees it. */
        log_escape(p.name, p.name_len, escaped, sizeof(escaped));
        for (const char *c = escaped; *c; c++) {
                assert_true(*c >= 0x20 && *c < 0x7f);
        }
        assert_null(strchr(escaped, '\n'));
        assert_true(strlen(escaped) < sizeof(escaped));
        sd_bus_message_unref(m);
}

static void test_parse_bad_address_and_wrong_signature(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/", "org.freedesktop.DBus.ObjectManager", "InterfacesAdded");
        BdAddr a;

        assert_int_equal(bdaddr_from_string("AA:BB:CC:DD:EE:0", &a), -EINVAL);
        assert_int_equal(bdaddr_from_string("AA:BB:CC:DD:EE:0G", &a), -EINVAL);
        assert_int_equal(bdaddr_from_string("AA-BB:CC:DD:EE:00", &a), -EINVAL);
        assert_int_equal(bdaddr_from_string("aa:bb:cc:dd:ee:ff", &a), 0);
        char buf[18];
        bdaddr_to_string(&a, buf);
        assert_string_equal(buf, "AA:BB:CC:DD:EE:FF");

        /* InterfacesAdded with a body that is not oa{sa{sv}} is refused before any read. */
        assert_true(sd_bus_message_append(m, "ss", "/org/bluez/hci0", "nope") >= 0);
        seal(m);
        assert_int_equal(bluez_parse_interfaces_added(m, NULL, NULL), -EBADMSG);
        assert_int_equal(bluez_parse_managed_objects(m, NULL, NULL), -EBADMSG);
        assert_int_equal(bluez_parse_interfaces_removed(m, NULL, NULL), -EBADMSG);
        const char *s;
        assert_int_equal(bluez_parse_properties_changed_header(m, &s), -EBADMSG);
        sd_bus_message_unref(m);
}

typedef struct Seen {
        unsigned adapters, devices, chars, other;
        BluezCharProps chr;
        char char_path[128];
} Seen;

static int seen_handler(sd_bus_message *m, const char *path, const char *interface, void *userdata) {
        Seen *s = userdata;

        if (streq(interface, BLUEZ_ADAPTER_INTERFACE)) {
                BluezAdapterProps p = {};
                s->adapters++;
                return bluez_parse_adapter_props(m, &p);
        }
        if (streq(interface, BLUEZ_DEVICE_INTERFACE)) {
                BluezDeviceProps p = {};
                s->devices++;
                return bluez_parse_device_props(m, &p);
        }
        if (streq(interface, BLUEZ_CHARACTERISTIC_INTERFACE)) {
                s->chars++;
                snprintf(s->char_path, sizeof(s->char_path), "%s", path);
                return bluez_parse_char_props(m, &s->chr);
        }
        s->other++;
        return sd_bus_message_skip(m, "a{sv}");
}

static void test_parse_managed_objects(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/", "org.example", "Reply");
        const uint8_t value[] = { 1, 0, 0x10, 0, 0, 0, 0, 0, 0, 0 };
        Seen seen = {};

        assert_true(sd_bus_message_open_container(m, 'a', "{oa{sa{sv}}}") >= 0);
        assert_true(sd_bus_message_append(m, "{oa{sa{sv}}}", "/org/bluez/hci0", 2,
                                          BLUEZ_ADAPTER_INTERFACE, 1, "Powered", "b", 1,
                                          "org.freedesktop.DBus.Introspectable", 0) >= 0);
        assert_true(sd_bus_message_append(m, "{oa{sa{sv}}}", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01", 1,
                                          BLUEZ_DEVICE_INTERFACE, 1, "ServicesResolved", "b", 1) >= 0);
        /* A characteristic: UUID, flags including one we do not know, NotifyAcquired, a Value. */
        assert_true(sd_bus_message_open_container(m, 'e', "oa{sa{sv}}") >= 0);
        assert_true(sd_bus_message_append(m, "o", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service0010/char0011") >= 0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sa{sv}}") >= 0);
        assert_true(sd_bus_message_open_container(m, 'e', "sa{sv}") >= 0);
        assert_true(sd_bus_message_append(m, "s", BLUEZ_CHARACTERISTIC_INTERFACE) >= 0);
        assert_true(sd_bus_message_open_container(m, 'a', "{sv}") >= 0);
        assert_true(sd_bus_message_append(m, "{sv}", "UUID", "s", "6F1D0004-2C4B-4E8A-9D3F-1B7E5A0C9F21") >= 0);
        assert_true(sd_bus_message_append(m, "{sv}", "Service", "o", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01/service0010") >= 0);
        assert_true(sd_bus_message_append(m, "{sv}", "Flags", "as", 3, "read", "notify", "x-future-flag") >= 0);
        assert_true(sd_bus_message_append(m, "{sv}", "NotifyAcquired", "b", 0) >= 0);
        assert_true(sd_bus_message_open_container(m, 'e', "sv") >= 0);
        assert_true(sd_bus_message_append(m, "s", "Value") >= 0);
        assert_true(sd_bus_message_open_container(m, 'v', "ay") >= 0);
        assert_true(sd_bus_message_append_array(m, 'y', value, sizeof(value)) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        assert_true(sd_bus_message_close_container(m) >= 0);
        seal(m);

        assert_true(bluez_parse_managed_objects(m, seen_handler, &seen) >= 0);
        assert_int_equal(seen.adapters, 1);
        assert_int_equal(seen.devices, 1);
        assert_int_equal(seen.chars, 1);
        assert_int_equal(seen.other, 1);
        assert_true(seen.chr.has_uuid);
        assert_string_equal(seen.chr.uuid, OIP_STEP_COUNTER_UUID);
        assert_int_equal(seen.chr.flags, BLUEZ_CHAR_READ | BLUEZ_CHAR_NOTIFY);
        assert_true(seen.chr.has_notify_acquired);
        assert_true(seen.chr.has_value);
        assert_int_equal(seen.chr.value_len, sizeof(value));
        assert_memory_equal(seen.chr.value, value, sizeof(value));
        assert_true(bluez_path_is_below(seen.char_path, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"));
        assert_false(bluez_path_is_below("/org/bluez/hci0/dev_AA_BB_CC_DD_EE_012", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"));
        assert_false(bluez_path_is_below("/org/bluez/hci0", "/org/bluez/hci0"));

        /* The snapshot can be walked again after a rewind (the client makes three passes). */
        memset(&seen, 0, sizeof(seen));
        assert_true(sd_bus_message_rewind(m, true) >= 0);
        assert_true(bluez_parse_managed_objects(m, seen_handler, &seen) >= 0);
        assert_int_equal(seen.chars, 1);
        sd_bus_message_unref(m);
}

static int removed_handler(const char *path, const char *interface, void *userdata) {
        unsigned *n = userdata;
        (*n)++;
        return 0;
}

static void test_parse_removed_and_invalidated(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/", "org.freedesktop.DBus.ObjectManager", "InterfacesRemoved");
        unsigned n = 0;

        assert_true(sd_bus_message_append(m, "oas", "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01", 3,
                                          BLUEZ_DEVICE_INTERFACE, "org.freedesktop.DBus.Properties",
                                          "org.freedesktop.DBus.Introspectable") >= 0);
        seal(m);
        assert_true(bluez_parse_interfaces_removed(m, removed_handler, &n) >= 0);
        assert_int_equal(n, 3);
        sd_bus_message_unref(m);

        m = new_signal(f, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01", "org.freedesktop.DBus.Properties", "PropertiesChanged");
        assert_true(sd_bus_message_append(m, "sa{sv}as", BLUEZ_DEVICE_INTERFACE, 1, "Connected", "b", 0, 1, "RSSI") >= 0);
        seal(m);
        const char *iface;
        BluezDeviceProps p = { .has_rssi = true, .rssi = -50 };
        assert_int_equal(bluez_parse_properties_changed_header(m, &iface), 1);
        assert_true(bluez_parse_device_props(m, &p) >= 0);
        assert_true(bluez_parse_device_invalidated(m, &p) >= 0);
        assert_true(p.has_connected);
        assert_false(p.connected);
        assert_false(p.has_rssi);
        assert_true(p.rssi_invalidated);
        sd_bus_message_unref(m);
}

static void test_parse_replies(void **state) {
        BusFixture *f = *state;
        sd_bus_message *m = new_signal(f, "/", "org.example", "Reply");
        int fds[2], fd;
        uint16_t mtu;
        const uint8_t *v;
        size_t n;

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds), 0);
        assert_true(sd_bus_message_append(m, "hq", fds[0], (uint16_t) 247) >= 0);
        seal(m);
        assert_int_equal(bluez_parse_acquire_reply(m, &fd, &mtu), 0);
        assert_true(fd >= 0);
        assert_int_equal(mtu, 247);
        /* The fd we got is usable: a datagram written on the other end comes out whole. */
        assert_int_equal(send(fds[1], "abc", 3, 0), 3);
        char buf[8];
        assert_int_equal(recv(fd, buf, sizeof(buf), 0), 3);
        assert_int_equal(bluez_parse_read_reply(m, &v, &n), -EBADMSG);
        sd_bus_message_unref(m);
        close(fds[0]);
        close(fds[1]);

        m = new_signal(f, "/", "org.example", "Reply");
        assert_true(sd_bus_message_append_array(m, 'y', "\x64", 1) >= 0);
        seal(m);
        assert_int_equal(bluez_parse_read_reply(m, &v, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(v[0], 100);
        sd_bus_message_unref(m);

        m = new_signal(f, "/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged");
        assert_true(sd_bus_message_append(m, "sss", "org.bluez", ":1.4", "") >= 0);
        seal(m);
        const char *name, *o, *nw;
        assert_true(bluez_parse_name_owner_changed(m, &name, &o, &nw) >= 0);
        assert_string_equal(name, "org.bluez");
        assert_string_equal(o, ":1.4");
        assert_string_equal(nw, "");
        sd_bus_message_unref(m);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_link_stable),
                cmocka_unit_test(test_link_rate),
                cmocka_unit_test(test_watchdog_silence),
                cmocka_unit_test(test_watchdog_stuck_setup),
                cmocka_unit_test(test_adapter_escalation),
                cmocka_unit_test_setup_teardown(test_parse_adapter, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_parse_device_hostile_name, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_parse_bad_address_and_wrong_signature, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_parse_managed_objects, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_parse_removed_and_invalidated, bus_setup, bus_teardown),
                cmocka_unit_test_setup_teardown(test_parse_replies, bus_setup, bus_teardown),
        };

        return cmocka_run_group_tests_name("bluez", tests, NULL, NULL);
}
