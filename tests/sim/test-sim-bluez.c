/* SPDX-License-Identifier: MIT */
/* Pins insole-sim's BlueZ behaviour: a private dbus-daemon and the simulator per test, a plain
 * sd-bus client that discovers, connects, acquires, subscribes and checks each quirk and fault. */

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "open-insole-profile.h"
#include "sim-harness.h"

/* ---- tests ---- */

static void test_discovery(void **state) {
        Harness h;
        const char *args[] = { "--seed", "5", "-w", "anna:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02", "-w",
                               "ben:AA:BB:CC:DD:EE:03,AA:BB:CC:DD:EE:04:standing", "-c", "wearer zed mode=running",
                               "-c", "footpod zed 11:22:33:44:55:66",
                               /* never bonded: BlueZ knows them only from discovery */
                               "-c", "unbond AA:BB:CC:DD:EE:01", "-c", "unbond AA:BB:CC:DD:EE:02", "-c",
                               "unbond AA:BB:CC:DD:EE:03", "-c", "unbond AA:BB:CC:DD:EE:04", "-c",
                               "unbond 11:22:33:44:55:66", NULL };
        harness_start(&h, args);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Powered"), 1);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering"), 0);
        pump(&h, 300);
        assert_int_equal(managed_devices(&h), 0); /* nothing before discovery */

        /* a UUID filter: only Open Insole Profile devices */
        char err[256];
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "SetDiscoveryFilter", err, NULL, "a{sv}", 2, "UUIDs", "as", 1,
                         OIP_SERVICE_UUID, "Transport", "s", "le") >= 0);
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "SetDiscoveryFilter", err, NULL, "a{sv}", 1, "Colour", "s", "red") < 0);
        assert_non_null(strstr(err, "org.bluez.Error.InvalidArguments"));
        discover(&h);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering"), 1);
        expect_error(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery", "org.bluez.Error.InProgress");
        pump(&h, 300);
        assert_int_equal(managed_devices(&h), 4);
        assert_false(exists(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66", DEV));

        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "GetDiscoveryFilters", NULL, &reply, NULL) >= 0);

        ok(&h, "/org/bluez/hci0", ADAPTER, "StopDiscovery");
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering"), 0);
        expect_error(&h, "/org/bluez/hci0", ADAPTER, "StopDiscovery", "org.bluez.Error.Failed");

        /* the footpod shows without the filter */
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "SetDiscoveryFilter", err, NULL, "a{sv}", 0) >= 0);
        ok(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery");
        assert_true(wait_exists(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66", DEV, true, 2000));

        /* RemoveDevice */
        char path[] = L1_PATH;
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "RemoveDevice", err, NULL, "o", path) >= 0);
        assert_true(call(&h, "/org/bluez/hci0", ADAPTER, "RemoveDevice", err, NULL, "o", "/org/bluez/hci0/dev_00_00_00_00_00_00") < 0);
        assert_non_null(strstr(err, "org.bluez.Error.DoesNotExist"));
        harness_stop(&h);
}

static void test_discovery_session_ends_with_client(void **state) {
        Harness h;
        harness_start(&h, NULL);
        sd_bus *other = NULL;
        assert_int_equal(sd_bus_open_system(&other), 0);
        assert_true(sd_bus_call_method(other, "org.bluez", "/org/bluez/hci0", ADAPTER, "StartDiscovery", NULL, NULL, NULL) >= 0);
        assert_true(wait_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering", 1, 1000));
        sd_bus_flush_close_unref(other);
        assert_true(wait_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering", 0, 1000));
        harness_stop(&h);
}

static void test_temporary_devices_expire(void **state) {
        Harness h;
        const char *args[] = { "-c", "temporary-timeout 300ms", "-w", "anna:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02",
                               "-c", "unbond AA:BB:CC:DD:EE:01", "-c", "unbond AA:BB:CC:DD:EE:02", NULL };
        harness_start(&h, args);
        discover(&h);
        ok(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", DEV, "Connect");
        ok(&h, "/org/bluez/hci0", ADAPTER, "StopDiscovery");
        /* after discovery, devices that are neither connected nor known go away */
        assert_true(wait_exists(&h, L1_PATH, DEV, false, 2000));
        pump(&h, 300);
        assert_true(exists(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", DEV));
        harness_stop(&h);
}

static void test_acquire_notify(void **state) {
        Harness h;
        harness_start(&h, NULL);
        connect_l1(&h);
        expect_error(&h, L1_PATH, DEV, "Connect", "org.bluez.Error.AlreadyConnected");
        assert_true(exists(&h, L1_PATH, "org.bluez.Battery1"));

        uint16_t mtu;
        int fd = acquire(&h, FRAME_PATH, &mtu);
        assert_int_equal(mtu, 247);
        assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
        int type;
        socklen_t tl = sizeof(type);
        assert_int_equal(getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl), 0);
        assert_int_equal(type, SOCK_SEQPACKET);
        assert_int_equal(get_bool(&h, FRAME_PATH, CHR, "NotifyAcquired"), 1);
        assert_int_equal(get_bool(&h, FRAME_PATH, CHR, "Notifying"), 1);

        Frame f[30];
        size_t n = read_frames(fd, f, ELEMENTSOF(f), 3000);
        assert_int_equal(n, ELEMENTSOF(f));
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(f[i].raw[0], OIP_VERSION);
                assert_int_equal(f[i].n_cells, 8);
                assert_int_equal(f[i].n_samples, 4);
                assert_int_equal(f[i].period, 10000);
                assert_int_equal(f[i].len, OIP_FRAME_HEADER_SIZE + 4 * 8 * 2);
                if (i > 0) {
                        assert_int_equal((uint16_t) (f[i].seq - f[i - 1].seq), 1);
                        assert_int_equal((uint32_t) (f[i].t0 - f[i - 1].t0), 40000);
                }
        }

        /* quirks while acquired */
        expect_error(&h, FRAME_PATH, CHR, "StartNotify", "org.bluez.Error.NotPermitted");
        expect_error(&h, FRAME_PATH, CHR, "AcquireNotify", "org.bluez.Error.NotPermitted");
        {
                _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
                const void *v;
                size_t len = 1;
                assert_true(sd_bus_get_property(h.bus, "org.bluez", FRAME_PATH, CHR, "Value", NULL, &reply, "ay") >= 0);
                assert_true(sd_bus_message_read_array(reply, 'y', &v, &len) >= 0);
                assert_int_equal(len, 0); /* Value is not updated while acquired */
        }

        /* the fd is closed on every disconnect */
        ok(&h, L1_PATH, DEV, "Disconnect");
        assert_true(fd_hung_up(fd, 1000));
        close(fd);
        assert_int_equal(get_bool(&h, L1_PATH, DEV, "Connected"), 0);
        assert_false(exists(&h, FRAME_PATH, CHR));
        expect_error(&h, L1_PATH, DEV, "Disconnect", "org.bluez.Error.NotConnected");

        /* and a new acquisition works after reconnecting */
        ok(&h, L1_PATH, DEV, "Connect");
        fd = acquire(&h, FRAME_PATH, NULL);
        assert_true(read_frames(fd, f, 3, 2000) == 3);
        /* closing our end releases the acquisition */
        close(fd);
        assert_true(wait_bool(&h, FRAME_PATH, CHR, "NotifyAcquired", 0, 1000));
        harness_stop(&h);
}

static unsigned value_signals;

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *error) {
        const char *iface;
        if (sd_bus_message_read(m, "s", &iface) < 0 || !streq(iface, CHR))
                return 0;
        if (sd_bus_message_enter_container(m, 'a', "{sv}") <= 0)
                return 0;
        while (sd_bus_message_enter_container(m, 'e', "sv") > 0) {
                const char *k;
                if (sd_bus_message_read(m, "s", &k) < 0)
                        return 0;
                if (streq(k, "Value")) {
                        const void *v;
                        size_t len;
                        if (sd_bus_message_enter_container(m, 'v', "ay") > 0 && sd_bus_message_read_array(m, 'y', &v, &len) >= 0 &&
                            len == OIP_FRAME_HEADER_SIZE + 64)
                                value_signals++;
                        return 0;
                }
                sd_bus_message_skip(m, "v");
                sd_bus_message_exit_container(m);
        }
        return 0;
}

static void test_start_notify(void **state) {
        Harness h;
        harness_start(&h, NULL);
        connect_l1(&h);
        assert_true(sd_bus_match_signal(h.bus, NULL, "org.bluez", FRAME_PATH, "org.freedesktop.DBus.Properties",
                                        "PropertiesChanged", on_properties_changed, NULL) >= 0);
        value_signals = 0;
        ok(&h, FRAME_PATH, CHR, "StartNotify");
        ok(&h, FRAME_PATH, CHR, "StartNotify"); /* the same client again: a no-op */
        assert_int_equal(get_bool(&h, FRAME_PATH, CHR, "Notifying"), 1);
        assert_int_equal(get_bool(&h, FRAME_PATH, CHR, "NotifyAcquired"), 0);
        pump(&h, 1000);
        /* one PropertiesChanged(Value) per notification: 25 per second at 100 Hz x 4 */
        assert_in_range(value_signals, 18, 30);
        expect_error(&h, FRAME_PATH, CHR, "AcquireNotify", "org.bluez.Error.InProgress");

        /* sessions are per client and end when the client leaves the bus */
        sd_bus *other = NULL;
        assert_int_equal(sd_bus_open_system(&other), 0);
        assert_true(sd_bus_call_method(other, "org.bluez", FRAME_PATH, CHR, "StartNotify", NULL, NULL, NULL) >= 0);
        assert_int_equal(stat_u64(&h, L1, "notify_sessions"), 2);
        sd_bus_flush_close_unref(other);
        pump(&h, 200);
        assert_int_equal(stat_u64(&h, L1, "notify_sessions"), 1);

        ok(&h, FRAME_PATH, CHR, "StopNotify");
        assert_int_equal(get_bool(&h, FRAME_PATH, CHR, "Notifying"), 0);
        expect_error(&h, FRAME_PATH, CHR, "StopNotify", "org.bluez.Error.Failed");
        /* not notifiable */
        expect_error(&h, LAYOUT_PATH, CHR, "StartNotify", "org.bluez.Error.NotSupported");
        /* after the session ended, AcquireNotify is allowed again */
        int fd = acquire(&h, FRAME_PATH, NULL);
        close(fd);
        harness_stop(&h);
}

static void test_socket_full_drops(void **state) {
        Harness h;
        const char *args[] = { "--time-scale", "20", NULL };
        harness_start(&h, args);
        connect_l1(&h);
        int fd = acquire(&h, FRAME_PATH, NULL);
        /* 500 frames held back for 20 s of device time (1 s here), then sent back to back */
        action(&h, "burst " L1 " 500");
        uint64_t dropped = 0;
        for (int i = 0; i < 100 && dropped == 0; i++) {
                pump(&h, 50);
                dropped = stat_u64(&h, L1, "socket_dropped");
        }
        assert_true(dropped > 0);
        /* what was queued is delivered; the rest was dropped, not queued: a sequence gap */
        static Frame f[1000];
        size_t n = read_frames(fd, f, 400, 3000);
        assert_true(n > 50 && n <= 400);
        bool gap = false;
        for (size_t i = 1; i < n; i++)
                if ((uint16_t) (f[i].seq - f[i - 1].seq) > 1)
                        gap = true;
        if (!gap)
                fprintf(stderr, "# n=%zu dropped=%llu first=%u last=%u sent=%llu acq=%llu conn=%llu drop=%llu\n", n, (unsigned long long) dropped, f[0].seq, f[n - 1].seq,
                        (unsigned long long) stat_u64(&h, L1, "frames_sent"), (unsigned long long) stat_u64(&h, L1, "acquired"),
                        (unsigned long long) stat_u64(&h, L1, "connected"), (unsigned long long) stat_u64(&h, L1, "socket_dropped"));
        assert_true(gap);
        close(fd);
        harness_stop(&h);
}

static void test_connect_faults(void **state) {
        Harness h;
        const char *args[] = { "-c", "connect-timeout 300ms", NULL };
        harness_start(&h, args);
        discover(&h);
        action(&h, "fail-connect " L1 " inprogress");
        expect_error(&h, L1_PATH, DEV, "Connect", "org.bluez.Error.InProgress");
        action(&h, "fail-connect " L1 " count=2");
        expect_error(&h, L1_PATH, DEV, "Connect", "org.bluez.Error.Failed le-connection-abort-by-local");
        expect_error(&h, L1_PATH, DEV, "Connect", "org.bluez.Error.Failed le-connection-abort-by-local");
        ok(&h, L1_PATH, DEV, "Connect");

        /* out of range: the link drops; connecting fails; the steps go on counting */
        pump(&h, 1500);
        uint64_t steps = stat_u64(&h, L1, "steps");
        action(&h, "out-of-range " L1);
        assert_true(wait_bool(&h, L1_PATH, DEV, "Connected", 0, 1000));
        expect_error(&h, L1_PATH, DEV, "Connect", "org.bluez.Error.Failed le-connection-abort-by-local");
        pump(&h, 1500);
        assert_true(stat_u64(&h, L1, "steps") > steps);
        action(&h, "in-range " L1);
        ok(&h, L1_PATH, DEV, "Connect");

        /* link drop mid-stream */
        int fd = acquire(&h, FRAME_PATH, NULL);
        action(&h, "drop-link " L1);
        assert_true(fd_hung_up(fd, 1000));
        close(fd);
        assert_int_equal(get_bool(&h, L1_PATH, DEV, "Connected"), 0);

        /* late ServicesResolved */
        action(&h, "resolve-delay " L1 " 800ms");
        uint64_t t = now_ms();
        ok(&h, L1_PATH, DEV, "Connect");
        assert_true(now_ms() - t >= 800);
        ok(&h, L1_PATH, DEV, "Disconnect");

        /* ServicesResolved before the objects exist (bluez#1489) */
        action(&h, "resolve-delay " L1 " 10ms");
        action(&h, "objects-late " L1 " 500ms");
        ok(&h, L1_PATH, DEV, "Connect");
        assert_int_equal(get_bool(&h, L1_PATH, DEV, "ServicesResolved"), 1);
        assert_false(exists(&h, FRAME_PATH, CHR));
        assert_true(wait_exists(&h, FRAME_PATH, CHR, true, 1500));
        harness_stop(&h);
}

static void test_stream_faults(void **state) {
        Harness h;
        harness_start(&h, NULL);
        connect_l1(&h);
        int fd = acquire(&h, FRAME_PATH, NULL);
        Frame f[40];
        assert_int_equal(read_frames(fd, f, 5, 1000), 5);
        action(&h, "lose " L1 " 3");
        size_t n = read_frames(fd, f + 5, 10, 1500) + 5;
        assert_int_equal(n, 15);
        unsigned gaps = 0;
        for (size_t i = 1; i < n; i++)
                if ((uint16_t) (f[i].seq - f[i - 1].seq) == 4)
                        gaps++;
        assert_int_equal(gaps, 1);
        assert_int_equal(stat_u64(&h, L1, "frames_lost"), 3);

        static const struct {
                const char *kind;
                size_t len;
        } bad[] = { { "short", 7 }, { "length", 76 }, { "version", 76 } };
        for (size_t k = 0; k < ELEMENTSOF(bad); k++) {
                char line[128];
                snprintf(line, sizeof(line), "malformed " L1 " 1 %s", bad[k].kind);
                action(&h, line);
                n = read_frames(fd, f, 8, 1500);
                bool seen = false;
                for (size_t i = 0; i < n; i++) {
                        bool wrong = f[i].len != 76 || f[i].raw[0] != OIP_VERSION || f[i].n_samples != 4;
                        if (wrong) {
                                assert_int_equal(f[i].len, bad[k].len);
                                seen = true;
                        }
                }
                assert_true(seen);
        }
        close(fd);
        harness_stop(&h);
}

static bool name_has_owner(Harness *h, char *ret_owner) {
        const char *owner = NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        int r = sd_bus_call_method(h->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetNameOwner",
                                   NULL, &reply, "s", "org.bluez");
        if (r < 0)
                return false;
        assert_true(sd_bus_message_read(reply, "s", &owner) >= 0);
        snprintf(ret_owner, 64, "%s", owner);
        return true;
}

static void test_bluetoothd_restart(void **state) {
        Harness h;
        char before[64], after[64];
        const char *args[] = { "-w", "anna:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02", "-c", "unbond AA:BB:CC:DD:EE:01",
                                "-c", "unbond AA:BB:CC:DD:EE:02", NULL };
        harness_start(&h, args);
        connect_l1(&h);
        char err[256];
        assert_true(call(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", "org.freedesktop.DBus.Properties", "Set", err, NULL, "ssv",
                         DEV, "Trusted", "b", 1) >= 0);
        int fd = acquire(&h, FRAME_PATH, NULL);
        assert_true(name_has_owner(&h, before));
        action(&h, "restart-bluetoothd down=500ms");
        assert_true(fd_hung_up(fd, 1000));
        close(fd);
        pump(&h, 100);
        assert_false(name_has_owner(&h, after));
        pump(&h, 800);
        assert_true(name_has_owner(&h, after));
        assert_string_not_equal(before, after);
        /* new objects: the adapter, and only the known (trusted) device without discovery */
        assert_true(exists(&h, "/org/bluez/hci0", ADAPTER));
        assert_true(exists(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", DEV));
        assert_false(exists(&h, L1_PATH, DEV));
        assert_int_equal(get_bool(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_02", DEV, "Connected"), 0);
        connect_l1(&h);
        harness_stop(&h);
}

static void test_adapter_power_and_removal(void **state) {
        Harness h;
        harness_start(&h, NULL);
        connect_l1(&h);
        action(&h, "power off");
        assert_int_equal(get_bool(&h, L1_PATH, DEV, "Connected"), 0);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Powered"), 0);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Discovering"), 0);
        expect_error(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery", "org.bluez.Error.NotReady");
        /* powering on through the property, as a client would */
        char err[256];
        assert_true(call(&h, "/org/bluez/hci0", "org.freedesktop.DBus.Properties", "Set", err, NULL, "ssv", ADAPTER, "Powered", "b",
                         1) >= 0);
        assert_int_equal(get_bool(&h, "/org/bluez/hci0", ADAPTER, "Powered"), 1);
        action(&h, "remove-adapter");
        assert_false(exists(&h, "/org/bluez/hci0", ADAPTER));
        assert_false(exists(&h, L1_PATH, DEV));
        action(&h, "add-adapter");
        assert_true(exists(&h, "/org/bluez/hci0", ADAPTER));
        connect_l1(&h);
        harness_stop(&h);
}

static void test_hostile_name(void **state) {
        Harness h;
        harness_start(&h, NULL);
        discover(&h);
        action(&h, "name " L1 " @hostile");
        char *name = NULL;
        assert_true(sd_bus_get_property_string(h.bus, "org.bluez", L1_PATH, DEV, "Name", NULL, &name) >= 0);
        assert_int_equal(strlen(name), 248);
        assert_non_null(strstr(name, "$SYS/+/#/"));
        free(name);
        /* NUL ends a name; invalid UTF-8 ends it as well */
        action(&h, "name " L1 " \"abc\\x00def\"");
        assert_true(sd_bus_get_property_string(h.bus, "org.bluez", L1_PATH, DEV, "Name", NULL, &name) >= 0);
        assert_string_equal(name, "abc");
        free(name);
        action(&h, "name " L1 " \"ok\\xff\\xfe\"");
        assert_true(sd_bus_get_property_string(h.bus, "org.bluez", L1_PATH, DEV, "Name", NULL, &name) >= 0);
        assert_string_equal(name, "ok");
        free(name);
        harness_stop(&h);
}

static void test_characteristics(void **state) {
        Harness h;
        const char *args[] = { "--time-scale", "10", NULL };
        harness_start(&h, args);
        connect_l1(&h);
        uint8_t b[256];
        size_t len = sizeof(b);
        read_value(&h, LAYOUT_PATH, b, &len);
        assert_int_equal(len, OIP_LAYOUT_HEADER_SIZE + 8 * OIP_LAYOUT_CELL_SIZE);
        assert_int_equal(b[1], 0); /* left */
        assert_int_equal(b[2], 8);
        assert_int_equal(b[3], 1); /* newton */

        len = sizeof(b);
        read_value(&h, STEPS_PATH, b, &len);
        assert_int_equal(len, OIP_STEP_COUNTER_SIZE);
        uint32_t steps0 = b[2] | b[3] << 8 | b[4] << 16 | (uint32_t) b[5] << 24;
        uint32_t boot0 = b[6] | b[7] << 8 | b[8] << 16 | (uint32_t) b[9] << 24;
        pump(&h, 1000); /* 10 s of walking */
        len = sizeof(b);
        read_value(&h, STEPS_PATH, b, &len);
        uint32_t steps1 = b[2] | b[3] << 8 | b[4] << 16 | (uint32_t) b[5] << 24;
        assert_in_range(steps1 - steps0, 6, 12); /* one foot, ~108 steps/min in total */
        assert_int_equal(boot0, b[6] | b[7] << 8 | b[8] << 16 | (uint32_t) b[9] << 24);

        /* control point: a bad command is an ATT error; stop and start */
        char err[256];
        uint8_t bad[] = { 0x09 };
        assert_true(call(&h, CP_PATH, CHR, "WriteValue", err, NULL, "aya{sv}", 1, bad[0], 0) < 0);
        assert_non_null(strstr(err, "org.bluez.Error.Failed"));
        assert_true(call(&h, LAYOUT_PATH, CHR, "WriteValue", err, NULL, "aya{sv}", 1, 0x01, 0) < 0);
        assert_non_null(strstr(err, "org.bluez.Error.NotPermitted"));
        int fd = acquire(&h, FRAME_PATH, NULL);
        assert_true(call(&h, CP_PATH, CHR, "WriteValue", err, NULL, "aya{sv}", 1, OIP_CP_STOP, 0) >= 0);
        Frame f[4];
        pump(&h, 100);
        while (read_frames(fd, f, 1, 50) > 0)
                ;
        assert_int_equal(read_frames(fd, f, 1, 500), 0);
        assert_true(call(&h, CP_PATH, CHR, "WriteValue", err, NULL, "aya{sv}", 3, OIP_CP_START, 50, 0, 0) >= 0);
        assert_int_equal(read_frames(fd, f, 2, 1000), 2);
        assert_int_equal(f[0].period, 20000);
        close(fd);

        /* a reboot: new boot id, the counter starts again */
        action(&h, "reboot " L1);
        ok(&h, L1_PATH, DEV, "Connect");
        len = sizeof(b);
        read_value(&h, STEPS_PATH, b, &len);
        assert_true(boot0 != (b[6] | b[7] << 8 | b[8] << 16 | (uint32_t) b[9] << 24));
        assert_true((uint32_t) (b[2] | b[3] << 8 | b[4] << 16 | (uint32_t) b[5] << 24) < 6);
        harness_stop(&h);
}

static void collect(const char *seed, Frame *f, size_t n) {
        Harness h;
        const char *args[] = { "--seed", seed, NULL };
        harness_start(&h, args);
        connect_l1(&h);
        int fd = acquire(&h, FRAME_PATH, NULL);
        assert_int_equal(read_frames(fd, f, n, 3000), n);
        close(fd);
        harness_stop(&h);
}

static void test_deterministic(void **state) {
        /* frames on the same device clock carry the same samples for the same seed */
        static Frame a[60], b[60], c[60];
        collect("7", a, ELEMENTSOF(a));
        collect("7", b, ELEMENTSOF(b));
        collect("8", c, ELEMENTSOF(c));
        unsigned same = 0, differ = 0;
        for (size_t i = 0; i < ELEMENTSOF(a); i++)
                for (size_t j = 0; j < ELEMENTSOF(b); j++)
                        if (a[i].t0 == b[j].t0) {
                                assert_memory_equal(a[i].raw + 12, b[j].raw + 12, 64);
                                same++;
                        }
        for (size_t i = 0; i < ELEMENTSOF(a); i++)
                for (size_t j = 0; j < ELEMENTSOF(c); j++)
                        if (a[i].t0 == c[j].t0 && memcmp(a[i].raw + 12, c[j].raw + 12, 64) != 0)
                                differ++;
        assert_true(same >= 20);
        (void) differ; /* different seeds also move the device clock, so t0 rarely matches */
}

static void test_replay_and_other_devices(void **state) {
        const char *data = getenv("INSOLE2MQTT_DATA");
        char recording[4096];
        snprintf(recording, sizeof(recording), "%s/gaitndd/control1.let", data ? data : "");
        /* The recordings ship in data/physionet: their absence is a broken checkout, not a skip. */
        assert_non_null(data);
        assert_return_code(access(recording, R_OK), errno);
        Harness h;
        const char *args[] = { "-r", "pd:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02:gaitpdb/GaCo01_01",
                               "-r", "nd:AA:BB:CC:DD:EE:03,AA:BB:CC:DD:EE:04:gaitndd/control1",
                               "-c", "wearer w mode=running",
                               "-c", "footpod w 11:22:33:44:55:66",
                               "-c", "orphe w right 11:22:33:44:55:77",
                               "--time-scale", "5", NULL };
        harness_start(&h, args);
        connect_l1(&h);
        int fd = acquire(&h, FRAME_PATH, NULL);
        Frame f[3];
        assert_int_equal(read_frames(fd, f, 3, 1000), 3);
        assert_int_equal(f[0].n_cells, 8);
        assert_int_equal(f[0].period, 10000);
        close(fd);
        pump(&h, 2000); /* 10 s of the recording */
        assert_true(stat_u64(&h, L1, "steps") >= 3);

        ok(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_03", DEV, "Connect");
        fd = acquire(&h, "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_03/service000a/char000b", NULL);
        assert_int_equal(read_frames(fd, f, 3, 1000), 3);
        assert_int_equal(f[0].n_cells, 1);
        assert_int_equal(f[0].period, 3333);
        close(fd);

        ok(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66", DEV, "Connect");
        fd = acquire(&h, "/org/bluez/hci0/dev_11_22_33_44_55_66/service000a/char000b", NULL);
        uint8_t buf[64];
        struct pollfd p = { .fd = fd, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 2000), 1);
        ssize_t len = recv(fd, buf, sizeof(buf), 0);
        assert_int_equal(len, 10);
        assert_int_equal(buf[0], 0x07); /* stride, distance, running */
        assert_in_range(buf[1] | buf[2] << 8, 700, 840); /* 3.0 m/s in 1/256 */
        assert_int_equal(buf[3], 165);
        close(fd);

        ok(&h, "/org/bluez/hci0/dev_11_22_33_44_55_77", DEV, "Connect");
        fd = acquire(&h, "/org/bluez/hci0/dev_11_22_33_44_55_77/service000d/char000e", NULL);
        assert_int_equal(poll(&p, 1, 0) >= 0, 1);
        p.fd = fd;
        assert_int_equal(poll(&p, 1, 2000), 1);
        uint8_t ob[200];
        len = recv(fd, ob, sizeof(ob), 0);
        assert_int_equal(len, 104);
        assert_int_equal(ob[0], 56);
        assert_true(ob[3] <= 23 && ob[4] <= 59 && ob[5] <= 59);
        assert_int_equal(ob[8] << 8 | ob[9], 16384);
        close(fd);
        harness_stop(&h);
}

static void test_load_mode(void **state) {
        /* load mode: one sample per notification, t0_us = CLOCK_MONOTONIC µs mod 2^32 at send time */
        Harness h;
        const char *args[] = { "--load", "4:200", NULL };
        harness_start(&h, args);
        ok(&h, "/org/bluez/hci0", ADAPTER, "StartDiscovery");
        assert_true(wait_exists(&h, "/org/bluez/hci0/dev_02_00_00_00_00_01", DEV, true, 2000));
        ok(&h, "/org/bluez/hci0/dev_02_00_00_00_00_01", DEV, "Connect");
        int fd = acquire(&h, "/org/bluez/hci0/dev_02_00_00_00_00_01/service000a/char000b", NULL);
        uint64_t max_latency = 0, sum = 0;
        unsigned n = 0, late = 0;
        for (uint64_t end = now_ms() + 1000; now_ms() < end;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                if (poll(&p, 1, 50) <= 0)
                        continue;
                uint8_t buf[600];
                ssize_t len = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                assert_true(len > 0);
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                uint32_t now_us = (uint32_t) ((uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000);
                Frame f;
                parse_frame(buf, (size_t) len, &f);
                assert_int_equal(f.n_samples, 1);
                assert_int_equal(f.period, 5000);
                uint32_t latency = now_us - f.t0;
                max_latency = MAX(max_latency, (uint64_t) latency);
                late += latency >= 50000;
                sum += latency;
                n++;
        }
        assert_in_range(n, 150, 210);
        fprintf(stderr, "# load mode: %u frames, mean latency simulator -> client %llu us, max %llu us, %u over 50 ms\n",
                n, (unsigned long long) (sum / n), (unsigned long long) max_latency, late);
        /* Prompt delivery, judged on the frames as a whole: one preemption of either process on a
         * shared machine may hold back the few frames around it. */
        assert_true(late * 20 <= n);
        assert_true(sum / n < 20000);
        close(fd);
        harness_stop(&h);
}

static void test_frames_carry_gait(void **state) {
        /* the frames' cells are the gait model's newtons at 0.1 N per count: a walking foot goes
         * from ~0 in swing to over one body weight in stance */
        Harness h;
        const char *args[] = { "-w", "anna:AA:BB:CC:DD:EE:01,AA:BB:CC:DD:EE:02:walking", NULL };
        harness_start(&h, args);
        connect_l1(&h);
        int fd = acquire(&h, FRAME_PATH, NULL);
        static Frame f[100];
        size_t n = read_frames(fd, f, ELEMENTSOF(f), 6000);
        assert_int_equal(n, ELEMENTSOF(f));
        double lo = 1e9, hi = 0;
        for (size_t i = 0; i < n; i++)
                for (unsigned s = 0; s < f[i].n_samples; s++) {
                        double total = 0;
                        for (unsigned c = 0; c < f[i].n_cells; c++) {
                                const uint8_t *p = f[i].raw + OIP_FRAME_HEADER_SIZE + (s * f[i].n_cells + c) * 2;
                                total += (p[0] | p[1] << 8) * 0.1;
                        }
                        lo = MIN(lo, total);
                        hi = MAX(hi, total);
                }
        assert_true(lo < 5);
        assert_true(hi > 70 * 9.81 && hi < 1.4 * 70 * 9.81);
        close(fd);
        harness_stop(&h);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_discovery),
                cmocka_unit_test(test_discovery_session_ends_with_client),
                cmocka_unit_test(test_temporary_devices_expire),
                cmocka_unit_test(test_acquire_notify),
                cmocka_unit_test(test_start_notify),
                cmocka_unit_test(test_socket_full_drops),
                cmocka_unit_test(test_connect_faults),
                cmocka_unit_test(test_stream_faults),
                cmocka_unit_test(test_bluetoothd_restart),
                cmocka_unit_test(test_adapter_power_and_removal),
                cmocka_unit_test(test_hostile_name),
                cmocka_unit_test(test_characteristics),
                cmocka_unit_test(test_deterministic),
                cmocka_unit_test(test_replay_and_other_devices),
                cmocka_unit_test(test_load_mode),
                cmocka_unit_test(test_frames_carry_gait),
        };
        signal(SIGPIPE, SIG_IGN);
        if (getenv("SIM_TEST_FILTER"))
                cmocka_set_test_filter(getenv("SIM_TEST_FILTER"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
