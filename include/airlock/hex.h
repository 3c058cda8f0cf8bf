/* Lowercase hexadecimal, for ids and digests in text (logs, JSON, file names). */
#ifndef AIRLOCK_HEX_H
#define AIRLOCK_HEX_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

/* Writes 2n hex digits and a NUL into out (2n + 1 bytes). */
void airlock_hex_encode(const uint8_t *p, size_t n, char *out);
/* Decodes exactly 2n hex digits (either case) of s into out[n];
 * AIRLOCK_ERR_BAD_VALUE for any other length or character. */
AIRLOCK_MUST_USE airlock_err airlock_hex_decode(const char *s, size_t slen, uint8_t *out, size_t n);

#endif
