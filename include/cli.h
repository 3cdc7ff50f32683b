/* SPDX-License-Identifier: MIT */
#pragma once

/* Sub-commands of the insole2mqtt binary. Each returns a process exit status. argv[0] is the
 * sub-command's name. */

int decode_cli(int argc, char **argv);   /* daemon/decoders/decode-cli.c */
int analyze_cli(int argc, char **argv);  /* daemon/gait/analyze-cli.c */
