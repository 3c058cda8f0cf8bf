/*
 * Fuzz target for the deterministic-CBOR decoder and encoder.
 *
 * 1. Skips items until the input ends or an error; a failing skip must leave
 *    the cursor in place, a successful one must move it forward.
 * 2. Every typed reader, tried on the first item, either succeeds or leaves
 *    the cursor in place; so does each step of the map iterator when the
 *    first item is a map.
 * 3. If the input is exactly one item (skip, then finish), walks it again
 *    with the typed readers only and re-encodes it: canonical decoding is a
 *    bijection, so the encoding must be byte-identical to the input. Any
 *    disagreement between skip() and the typed readers aborts too.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/cbor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must(airlock_err err)
{
	if (err != AIRLOCK_OK)
		abort();
}

static void walk(struct airlock_cbor_dec *d, struct airlock_cbor_enc *e, unsigned depth)
{
	enum airlock_cbor_major major;

	/* skip() accepted at most AIRLOCK_CBOR_MAX_DEPTH nested containers. */
	if (depth > AIRLOCK_CBOR_MAX_DEPTH)
		abort();
	must(airlock_cbor_peek(d, &major));
	switch (major) {
	case AIRLOCK_CBOR_UINT: {
		uint64_t v;
		must(airlock_cbor_read_uint(d, &v));
		airlock_cbor_put_uint(e, v);
		break;
	}
	case AIRLOCK_CBOR_NINT: {
		int64_t v;
		airlock_err err = airlock_cbor_read_int(d, &v);
		if (err == AIRLOCK_OK) {
			airlock_cbor_put_int(e, v);
			break;
		}
		/* Below INT64_MIN: canonical, skippable, but no typed reader or
		 * writer takes it. It can only be the 9-byte head 3b with the
		 * top argument bit set; copy it through after checking that. */
		if (err != AIRLOCK_ERR_BAD_VALUE)
			abort();
		const uint8_t *start = d->p;
		must(airlock_cbor_skip(d));
		if (d->p - start != 9 || start[0] != 0x3b || !(start[1] & 0x80))
			abort();
		airlock_cbor_put_raw(e, start, 9);
		break;
	}
	case AIRLOCK_CBOR_BSTR: {
		const uint8_t *p;
		size_t n;
		must(airlock_cbor_read_bstr(d, &p, &n));
		airlock_cbor_put_bstr(e, p, n);
		break;
	}
	case AIRLOCK_CBOR_TSTR: {
		const char *p;
		size_t n;
		must(airlock_cbor_read_tstr(d, &p, &n));
		airlock_cbor_put_tstr(e, p, n);
		break;
	}
	case AIRLOCK_CBOR_ARRAY: {
		size_t n;
		must(airlock_cbor_read_array(d, &n));
		airlock_cbor_put_array(e, n);
		for (size_t i = 0; i < n; i++)
			walk(d, e, depth + 1);
		break;
	}
	case AIRLOCK_CBOR_MAP: {
		struct airlock_cbor_map m;
		int64_t key;
		must(airlock_cbor_map_begin(d, &m));
		airlock_cbor_put_map(e, m.left);
		for (;;) {
			must(airlock_cbor_map_next(d, &m, &key));
			if (m.done)
				break;
			airlock_cbor_put_int(e, key);
			walk(d, e, depth + 1);
		}
		break;
	}
	case AIRLOCK_CBOR_SIMPLE: {
		bool v;
		must(airlock_cbor_read_bool(d, &v));
		airlock_cbor_put_bool(e, v);
		break;
	}
	default:
		abort();   /* skip() accepted a tag */
	}
}

/* Each reader on the first item: success, or the cursor where it was. */
static void try_readers(const uint8_t *data, size_t size)
{
	struct airlock_cbor_dec d;
	uint64_t u;
	int64_t i;
	bool b;
	size_t n;
	const uint8_t *bp;
	const char *tp;
	struct airlock_cbor_map m;
	airlock_err err;

#define TRY(call) \
	do { \
		airlock_cbor_dec_init(&d, data, size); \
		err = (call); \
		if (err != AIRLOCK_OK && d.p != data) \
			abort(); \
		if (err == AIRLOCK_OK && (d.p <= data || d.p > data + size)) \
			abort(); \
	} while (0)
	TRY(airlock_cbor_read_uint(&d, &u));
	TRY(airlock_cbor_read_int(&d, &i));
	TRY(airlock_cbor_read_bool(&d, &b));
	TRY(airlock_cbor_read_array(&d, &n));
	TRY(airlock_cbor_read_map(&d, &n));
	TRY(airlock_cbor_read_bstr(&d, &bp, &n));
	TRY(airlock_cbor_read_tstr(&d, &tp, &n));
	TRY(airlock_cbor_skip(&d));
	TRY(airlock_cbor_map_begin(&d, &m));
#undef TRY
	if (err != AIRLOCK_OK)
		return;

	/* The map iterator over any map: each key either advances or fails
	 * with the decoder and the iterator untouched. */
	for (;;) {
		struct airlock_cbor_map saved = m;
		const uint8_t *before = d.p;
		err = airlock_cbor_map_next(&d, &m, &i);
		if (err != AIRLOCK_OK) {
			if (d.p != before || m.left != saved.left || m.done != saved.done ||
			    m.have_prev != saved.have_prev || m.prev_major != saved.prev_major ||
			    m.prev_arg != saved.prev_arg)
				abort();
			return;
		}
		if (m.done) {
			if (d.p != before)
				abort();
			return;
		}
		if (d.p <= before || m.left != saved.left - 1)
			abort();
		if (airlock_cbor_skip(&d) != AIRLOCK_OK)
			return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct airlock_cbor_dec d;

	airlock_cbor_dec_init(&d, data, size);
	while (airlock_cbor_dec_finish(&d) != AIRLOCK_OK) {
		const uint8_t *before = d.p;
		airlock_err err = airlock_cbor_skip(&d);
		if (err != AIRLOCK_OK) {
			if (d.p != before)
				abort();
			break;
		}
		if (d.p <= before || d.p > data + size)
			abort();
	}

	if (size > 0)
		try_readers(data, size);

	airlock_cbor_dec_init(&d, data, size);
	if (airlock_cbor_skip(&d) != AIRLOCK_OK || airlock_cbor_dec_finish(&d) != AIRLOCK_OK)
		return 0;

	/* One clean item: re-encode it through the typed readers, first into
	 * a buffer of exactly the input's size (nothing may overflow), then
	 * measuring with no buffer (same length). */
	uint8_t *out = malloc(size);
	if (!out)
		return 0;
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_dec_init(&d, data, size);
	airlock_cbor_enc_init(&e, out, size);
	walk(&d, &e, 0);
	if (airlock_cbor_dec_finish(&d) != AIRLOCK_OK)
		abort();
	if (airlock_cbor_enc_finish(&e, &len) != AIRLOCK_OK || len != size)
		abort();
	if (memcmp(out, data, size) != 0)
		abort();
	free(out);

	airlock_cbor_dec_init(&d, data, size);
	airlock_cbor_enc_init(&e, NULL, 0);
	walk(&d, &e, 0);
	if (airlock_cbor_enc_finish(&e, &len) != AIRLOCK_ERR_BUFFER_TOO_SMALL || len != size)
		abort();
	return 0;
}
