/* Base64 (RFC 4648, standard alphabet, padded): binary metadata inside JSON. */
#ifndef AIRLOCK_BASE64_H
#define AIRLOCK_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

/* Characters needed for n bytes, without the NUL. */
#define AIRLOCK_BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes AIRLOCK_BASE64_LEN(n) characters and a NUL. */
void airlock_base64_encode(const uint8_t *in, size_t n, char *out);
/* Decodes canonical padded base64 (no whitespace, zero padding bits) into
 * out (cap bytes); AIRLOCK_ERR_BAD_VALUE for anything else,
 * AIRLOCK_ERR_TOO_LARGE when it does not fit. */
AIRLOCK_MUST_USE airlock_err airlock_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len);

#endif
