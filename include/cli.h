/* SPDX-License-Identifier: MIT */
#pragma once

/* Sub-commands of the insole2mqtt binary. Each returns a process exit status. argv[0] is the
 * sub-command's name. */

int decode_cli(int argc, char **argv);   /* daemon/cli/decode-cli.c */
int analyze_cli(int argc, char **argv);  /* daemon/cli/analyze-cli.c */

/* `analyze --validate=DATADIR`: prints the generated part of docs/validation.md (markdown) for the
 * recordings in DATADIR/gaitndd and DATADIR/gaitpdb. Returns a process exit status. */
int gait_validate_cli(const char *datadir); /* daemon/cli/validate-cli.c */
