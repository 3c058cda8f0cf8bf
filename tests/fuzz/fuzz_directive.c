/*
 * Fuzz target for the directive body parser. Whatever it accepts must encode
 * back to the same bytes, with one exception by design: non-critical
 * extensions (negative map keys) are skipped by the parser, so the encoding
 * may be shorter; it must then parse and encode to itself again.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t encode(const struct airlock_directive *v, uint8_t *out, size_t cap)
{
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_directive_encode_body(v, &e);
	if (airlock_cbor_enc_finish(&e, &len) != AIRLOCK_OK)
		abort();
	return len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct airlock_directive a, b;
	static uint8_t out1[1 << 17], out2[1 << 17];
	if (airlock_directive_parse_body(data, size, &a) != AIRLOCK_OK)
		return 0;
	size_t n1 = encode(&a, out1, sizeof out1);
	if (n1 == size && memcmp(out1, data, size) == 0)
		return 0;
	if (n1 >= size || airlock_directive_parse_body(out1, n1, &b) != AIRLOCK_OK)
		abort();
	size_t n2 = encode(&b, out2, sizeof out2);
	if (n2 != n1 || memcmp(out1, out2, n1) != 0)
		abort();
	return 0;
}
