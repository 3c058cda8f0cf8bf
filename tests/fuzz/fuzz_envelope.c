/*
 * Fuzz target for the envelope parser: anything it accepts must encode back
 * to the very same bytes (the envelope has no skippable fields).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[AIRLOCK_RELEASE_MAX_LEN];
	struct airlock_envelope env;
	struct airlock_cbor_enc e;
	size_t len;
	if (airlock_envelope_parse(data, size, AIRLOCK_RELEASE_MAX_LEN, &env) != AIRLOCK_OK)
		return 0;
	airlock_cbor_enc_init(&e, out, sizeof out);
	airlock_envelope_encode(&env, &e);
	if (airlock_cbor_enc_finish(&e, &len) != AIRLOCK_OK || len != size || memcmp(out, data, size) != 0)
		abort();
	return 0;
}
