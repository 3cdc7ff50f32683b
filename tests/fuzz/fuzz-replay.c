/* SPDX-License-Identifier: MIT */
/* Replays a fuzzing corpus through a harness without libFuzzer, so the corpus runs as an ordinary
 * test in every build (and under the sanitizers when the build has them). */

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (1024 * 1024)

static int replay_file(const char *path) {
        static uint8_t buf[REPLAY_MAX_INPUT];
        _cleanup_fclose_ FILE *f = fopen(path, "re");
        size_t n;

        if (!f) {
                fprintf(stderr, "%s: %m\n", path);
                return -errno;
        }
        n = fread(buf, 1, sizeof(buf), f);
        if (ferror(f)) {
                fprintf(stderr, "%s: read error\n", path);
                return -EIO;
        }
        /* A copy of exactly n bytes, so that ASan catches reads past the input; then once more at an
         * odd address, so that UBSan's alignment check (sanitizer and cross builds) catches a parser
         * that reads a wider type through a cast: armhf faults on some unaligned loads. */
        for (size_t offset = 0; offset <= 1; offset++) {
                _cleanup_free_ uint8_t *copy = malloc(n + offset ?: 1);
                if (!copy)
                        return -ENOMEM;
                memcpy(copy + offset, buf, n);
                (void) LLVMFuzzerTestOneInput(copy + offset, n);
        }
        return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b) {
        return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv) {
        unsigned files = 0;

        if (argc < 2) {
                fprintf(stderr, "Usage: %s CORPUS-DIR|FILE...\n", argv[0]);
                return 2;
        }
        for (int i = 1; i < argc; i++) {
                struct dirent **entries;
                int n = scandir(argv[i], &entries, NULL, by_name);

                if (n < 0) {
                        if (errno != ENOTDIR) {
                                fprintf(stderr, "%s: %m\n", argv[i]);
                                return 1;
                        }
                        if (replay_file(argv[i]) < 0)
                                return 1;
                        files++;
                        continue;
                }
                for (int j = 0; j < n; j++) {
                        char path[4096];
                        int r = 0;

                        if (entries[j]->d_name[0] != '.') {
                                (void) snprintf(path, sizeof(path), "%s/%s", argv[i], entries[j]->d_name);
                                r = replay_file(path);
                                files++;
                        }
                        free(entries[j]);
                        if (r < 0) {
                                for (j++; j < n; j++)
                                        free(entries[j]);
                                free(entries);
                                return 1;
                        }
                }
                free(entries);
        }
        if (files == 0) {
                fprintf(stderr, "no corpus files found\n");
                return 1;
        }
        printf("replayed %u inputs\n", files);
        return 0;
}
