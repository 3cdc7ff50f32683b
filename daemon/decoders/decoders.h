/* SPDX-License-Identifier: MIT */
#pragma once

/* The registry's declarations. The one list of decoder families is decoder_families in
 * daemon/decoders/meson.build, which generates DECODERS (decoder-families.h): each X is defined as
 * `const Decoder decoder_<X>` in daemon/decoders/<X>.c (dashes in file names, underscores here).
 * docs/decoders.md "Adding a decoder" has the checklist. */

#include "decoder-records.h"

#include "decoder-families.h"

#define DECL(x) extern const Decoder decoder_##x;
DECODERS
#undef DECL

/* Sequence-gap and clock bookkeeping shared by the stream decoders (decoder.c). raw_time wraps at
 * wrap_period (a power of two or not); frame_span is how long the frame lasts in unwrapped units.
 * Returns the unwrapped time of the frame and sets *ret_lost / *ret_restarted. state may be NULL. */
uint64_t decoder_sequence_update(DecoderSequence *s, uint16_t seq, uint32_t raw_time, uint64_t wrap_period,
                                 uint64_t frame_span, uint32_t *ret_lost, bool *ret_restarted);
