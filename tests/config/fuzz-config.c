/* SPDX-License-Identifier: MIT */
/* Fuzzes the configuration loader with arbitrary file contents. Built as a libFuzzer target with
 * -Dfuzzers=true (clang); otherwise main() below replays the corpus as an ordinary test. Checks
 * beyond "no crash": a loaded Config keeps every documented invariant, a rejected one gives
 * exactly one line naming the file. */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-parse.h"
#include "config.h"
#include "macro.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok, const char *what) {
        if (!ok) {
                fprintf(stderr, "invariant broken: %s\n", what);
                abort();
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char error[CONFIG_ERROR_MAX];
        Config c;
        char *text;
        int r;

        if (size > 64 * 1024)
                return 0;
        text = strndup((const char *) data, size);
        if (!text)
                return 0;

        r = config_load_string(text, "fuzz.conf", &c, error, sizeof(error));
        if (r < 0) {
                check(strncmp(error, "fuzz.conf", 9) == 0, "the message names the file");
                check(!strchr(error, '\n'), "the message is one line");
        } else {
                check(config_name_is_valid(c.gateway_id, CONFIG_NAME_MAX), "gateway id");
                check(config_topic_is_valid(c.base_topic, CONFIG_TOPIC_MAX), "base topic");
                check(config_topic_is_valid(c.homeassistant_prefix, CONFIG_TOPIC_MAX), "discovery prefix");
                check(c.n_wearers <= CONFIG_MAX_WEARERS, "wearer count");
                check(c.n_wearers > 0 || c.auto_discovery, "wearers or discovery");
                check(c.qos >= 0 && c.qos <= 2, "qos");
                check(c.port > 0, "port");
                check(c.backoff_initial_usec <= c.backoff_max_usec, "backoff order");
                check(c.active_start_min < c.active_end_min && c.active_end_min <= 24 * 60, "active hours");
                check(!c.password || c.username, "password needs a user name");
                check(!c.tls || c.tls_ca_file || c.tls_ca_path, "TLS has a trust anchor");
                for (size_t i = 0; i < c.n_wearers; i++) {
                        const WearerConfig *w = &c.wearers[i];
                        bool any = false;
                        check(config_name_is_valid(w->name, CONFIG_NAME_MAX), "wearer name");
                        check(config_find_wearer(&c, w->name) == w, "wearer names are unique");
                        for (DeviceRole d = 0; d < _DEVICE_ROLE_MAX; d++) {
                                if (!w->has_device[d])
                                        continue;
                                any = true;
                                for (size_t j = 0; j < c.n_wearers; j++)
                                        for (DeviceRole e = 0; e < _DEVICE_ROLE_MAX; e++)
                                                if ((j != i || e != d) && c.wearers[j].has_device[e])
                                                        check(!bdaddr_equal(&w->device[d], &c.wearers[j].device[e]),
                                                              "addresses are unique");
                        }
                        check(any, "every wearer has a device");
                }
                config_done(&c);
        }
        free(text);
        return 0;
}

#ifndef FUZZ_WITH_LIBFUZZER
static int replay(const char *path) {
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        static uint8_t buf[64 * 1024];
        size_t n;

        if (!f) {
                fprintf(stderr, "%s: %m\n", path);
                return -1;
        }
        n = fread(buf, 1, sizeof(buf), f);
        _cleanup_free_ uint8_t *copy = malloc(n ?: 1);
        if (!copy)
                return -1;
        memcpy(copy, buf, n);
        (void) LLVMFuzzerTestOneInput(copy, n);
        return 0;
}

int main(int argc, char **argv) {
        unsigned n = 0;

        for (int i = 1; i < argc; i++) {
                DIR *d = opendir(argv[i]);
                struct dirent *de;

                if (!d) {
                        if (replay(argv[i]) < 0)
                                return EXIT_FAILURE;
                        n++;
                        continue;
                }
                while ((de = readdir(d))) {
                        char path[4096];
                        if (de->d_name[0] == '.')
                                continue;
                        (void) snprintf(path, sizeof(path), "%s/%s", argv[i], de->d_name);
                        if (replay(path) < 0) {
                                closedir(d);
                                return EXIT_FAILURE;
                        }
                        n++;
                }
                closedir(d);
        }
        printf("replayed %u inputs\n", n);
        return n > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
#endif
