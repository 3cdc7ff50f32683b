/* SPDX-License-Identifier: MIT */
/* Recording files `insole2mqtt analyze` reads, fuzzed: a gaitndd reference (.ts) and a gaitpdb walk
 * (text). Whatever parses must be internally consistent: a reference has at least 2 rows, a walk has
 * samples with strictly increasing times. */

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"
#include "gait-recording.h"
#include "gait-validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(gait_reference_freep) GaitReference *ref = NULL;
        _cleanup_(gait_recording_freep) GaitRecording *rec = NULL;
        char path[64];
        int fd;

        fd = memfd_create("fuzz-gait", MFD_CLOEXEC);
        if (fd < 0)
                return 0;
        if (size > 0 && write(fd, data, size) != (ssize_t) size) {
                close(fd);
                return 0;
        }
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);

        if (gait_reference_load(path, &ref) >= 0 && ref->n < 2)
                __builtin_trap();
        if (gait_recording_load(path, &rec) >= 0) {
                if (rec->format != GAIT_RECORDING_GAITPDB || rec->n[FOOT_LEFT] == 0)
                        __builtin_trap();
                for (size_t i = 1; i < rec->n[FOOT_LEFT]; i++)
                        if (rec->t_us[FOOT_LEFT][i] <= rec->t_us[FOOT_LEFT][i - 1])
                                __builtin_trap();
        }
        close(fd);
        return 0;
}
