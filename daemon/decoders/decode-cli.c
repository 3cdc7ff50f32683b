/* SPDX-License-Identifier: MIT */
/* Placeholder until the decoder registry lands (issue #3). */
#include <stdio.h>
#include "cli.h"

int decode_cli(int argc, char **argv) {
        fprintf(stderr, "decode: not implemented yet\n");
        return 2;
}
