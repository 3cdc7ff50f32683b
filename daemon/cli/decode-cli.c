/* SPDX-License-Identifier: MIT */
/* insole2mqtt decode <characteristic-uuid> <hex>...: decode one captured value and print it as
 * one JSON object. Exit 0 on success, 1 for a value or characteristic we cannot decode, 2 for usage
 * errors. */

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "decoder-records.h"
#include "decoder.h"
#include "hex.h"
#include "json.h"
#include "macro.h"

/* The largest attribute value ATT allows. */
#define DECODE_CLI_MAX_VALUE 512

static void decode_cli_usage(FILE *f) {
        fputs("Usage: insole2mqtt decode CHARACTERISTIC-UUID HEX...\n"
              "Decode one characteristic value as captured by btmon, nRF Connect or a log.\n"
              "UUID: 2a53, 0x2A53 or the full 128-bit form. HEX may contain spaces, ':' or '-'\n"
              "and may be split over several arguments, e.g. '04-00-03-b4'.\n",
              f);
}

/* Returns the number of bytes, -EINVAL for stray characters or an odd digit count, -E2BIG if too long. */
static int parse_hex_args(int n, char **args, uint8_t *buf, size_t size) {
        size_t len = 0;
        int hi = -1;

        for (int i = 0; i < n; i++) {
                const char *s = args[i];
                for (size_t j = 0; s[j]; j++) {
                        int v;

                        if (isspace((unsigned char) s[j]) || s[j] == ':' || s[j] == '-' || s[j] == ',')
                                continue;
                        /* "0x" before a group, as some logs print it */
                        if (s[j] == '0' && (s[j + 1] == 'x' || s[j + 1] == 'X') && hi < 0) {
                                j++;
                                continue;
                        }
                        v = unhexchar(s[j]);
                        if (v < 0)
                                return -EINVAL;
                        if (hi < 0) {
                                hi = v;
                                continue;
                        }
                        if (len >= size)
                                return -E2BIG;
                        buf[len++] = (uint8_t) (hi << 4 | v);
                        hi = -1;
                }
        }
        if (hi >= 0)
                return -EINVAL;
        return (int) len;
}

int decode_cli(int argc, char **argv) {
        char uuid[DECODER_UUID_STRING_MAX];
        uint8_t value[DECODE_CLI_MAX_VALUE];
        char out[16384];
        const Decoder *decoder = NULL;
        const DecoderCharacteristic *c;
        DecodedRecord rec;
        JsonWriter w;
        const char *json;
        int n, r;

        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                decode_cli_usage(stdout);
                return 0;
        }
        if (argc < 3) {
                decode_cli_usage(stderr);
                return 2;
        }
        if (decoder_uuid_normalize(argv[1], uuid) < 0) {
                fprintf(stderr, "decode: not a UUID: %s\n", argv[1]);
                return 2;
        }
        c = decoder_find_characteristic(uuid, &decoder);
        if (!c) {
                fprintf(stderr, "decode: no decoder for characteristic %s\n", uuid);
                return 1;
        }

        n = parse_hex_args(argc - 2, argv + 2, value, sizeof(value));
        if (n == -E2BIG) {
                fprintf(stderr, "decode: value longer than %d bytes\n", DECODE_CLI_MAX_VALUE);
                return 1;
        }
        if (n < 0) {
                fprintf(stderr, "decode: not a hex string (odd number of digits or stray characters)\n");
                return 1;
        }

        r = decoder_decode(c, NULL, value, (size_t) n, &rec);
        if (r < 0) {
                fprintf(stderr, "decode: %s %s: %s (%d bytes)\n", decoder->name, c->name,
                        strna(decode_result_to_string(r)), n);
                return 1;
        }

        json_writer_init(&w, out, sizeof(out));
        decoded_record_to_json(&rec, &w);
        r = json_writer_finish(&w, &json, NULL);
        if (r < 0) {
                fprintf(stderr, "decode: cannot format the record: %s\n", strerror(-r));
                return 1;
        }
        puts(json);
        return fflush(stdout) == 0 ? 0 : 1;
}
