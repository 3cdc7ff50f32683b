/* SPDX-License-Identifier: MIT */
/* What reaches us from the broker or the state directory, fuzzed: another gateway's retained step
 * counts (anyone allowed to publish on the topic can write them) and the state file. A state file
 * that parses must survive format -> parse unchanged in what it says. */

#include <string.h>

#include "fuzz.h"
#include "remote-steps.h"
#include "state-store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        RemoteSteps rs;
        StateStore a, b;
        char *text = NULL;
        size_t len = 0;

        if (remote_steps_parse(data, size, &rs) >= 0) {
                /* what the parser hands on is bounded and terminated */
                if (strlen(rs.day) >= sizeof(rs.day) || strlen(rs.gateway) > CONFIG_NAME_MAX)
                        __builtin_trap();
        }

        state_store_init(&a);
        state_store_init(&b);
        if (state_store_parse((const char *) data, size, &a) >= 0 && state_store_format(&a, &text, &len) >= 0) {
                if (state_store_parse(text, len, &b) < 0)
                        __builtin_trap();
                if (a.n_wearers != b.n_wearers || a.saved_usec != b.saved_usec)
                        __builtin_trap();
                for (size_t i = 0; i < a.n_wearers; i++)
                        if (a.wearers[i].steps_today != b.wearers[i].steps_today ||
                            a.wearers[i].steps_total != b.wearers[i].steps_total)
                                __builtin_trap();
        }
        free(text);
        state_store_done(&a);
        state_store_done(&b);
        return 0;
}
