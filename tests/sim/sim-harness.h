/* SPDX-License-Identifier: MIT */
#pragma once

/* Test harness for insole-sim: a private dbus-daemon and a simulator per test case, and small
 * sd-bus helpers. Failures are cmocka assertions. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-bus.h>

#define L1 "AA:BB:CC:DD:EE:01"
#define L1_PATH "/org/bluez/hci0/dev_AA_BB_CC_DD_EE_01"
#define FRAME_PATH L1_PATH "/service000a/char000b"
#define LAYOUT_PATH L1_PATH "/service000a/char000e"
#define STEPS_PATH L1_PATH "/service000a/char0010"
#define CP_PATH L1_PATH "/service000a/char0013"
#define CHR "org.bluez.GattCharacteristic1"
#define DEV "org.bluez.Device1"
#define ADAPTER "org.bluez.Adapter1"

typedef struct Harness {
        char dir[64];
        pid_t bus_pid, sim_pid;
        sd_bus *bus;
} Harness;

typedef struct Frame {
        size_t len;
        uint16_t seq;
        uint32_t t0;
        uint16_t period;
        uint8_t n_cells, n_samples;
        uint8_t raw[256];
} Frame;

uint64_t now_ms(void);
pid_t spawn(char **argv, int stdout_fd);
void harness_start(Harness *h, const char *const *args);
void harness_stop(Harness *h);
void pump(Harness *h, unsigned ms);
int call(Harness *h, const char *path, const char *iface, const char *method, char *ret_error, sd_bus_message **reply,
         const char *types, ...);
void ok(Harness *h, const char *path, const char *iface, const char *method);
void expect_error(Harness *h, const char *path, const char *iface, const char *method, const char *name);
void action(Harness *h, const char *line);
uint64_t stat_u64(Harness *h, const char *address, const char *key);
int get_bool(Harness *h, const char *path, const char *iface, const char *prop);
bool exists(Harness *h, const char *path, const char *iface);
bool wait_bool(Harness *h, const char *path, const char *iface, const char *prop, int want, unsigned timeout_ms);
bool wait_exists(Harness *h, const char *path, const char *iface, bool want, unsigned timeout_ms);
void discover(Harness *h);
void connect_l1(Harness *h);
int acquire(Harness *h, const char *path, uint16_t *ret_mtu);
void parse_frame(const uint8_t *b, size_t len, Frame *f);
size_t read_frames(int fd, Frame *frames, size_t n, unsigned timeout_ms);
bool fd_hung_up(int fd, unsigned timeout_ms);
size_t managed_devices(Harness *h);
void read_value(Harness *h, const char *path, uint8_t *buf, size_t *len);
