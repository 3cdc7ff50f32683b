/* SPDX-License-Identifier: MIT */
/* Placeholder until the gait engine lands (issue #6). */
#include <stdio.h>
#include "cli.h"

int analyze_cli(int argc, char **argv) {
        fprintf(stderr, "analyze: not implemented yet\n");
        return 2;
}
