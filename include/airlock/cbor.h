/*
 * Deterministic CBOR (RFC 8949, section 4.2.1): the subset Airlock uses.
 *
 * The decoder is a cursor over a caller's buffer: no heap, no copies; strings
 * are returned as pointers into that buffer. It accepts only what the
 * deterministic encoding allows and what the formats need:
 *   major types 0..5 (unsigned and negative integers, byte and text strings,
 *   arrays, maps) and the simple values false and true;
 *   every argument in its shortest form; definite lengths only;
 *   no tags, no floats, no null/undefined, no other simple values;
 *   text strings must be valid UTF-8 (no overlongs, no surrogates);
 *   map keys are integers in the deterministic order (bytewise order of their
 *   encodings: 0, 1, 2, ..., then -1, -2, ...), which also rules out duplicates.
 * Every length is checked against the bytes that remain before it is used.
 *
 * The encoder writes into a caller's buffer and records overflow instead of
 * failing at each call: check it once with airlock_cbor_enc_finish(). Passing
 * a NULL buffer with cap 0 measures the encoding.
 */
#ifndef AIRLOCK_CBOR_H
#define AIRLOCK_CBOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

#define AIRLOCK_CBOR_MAX_DEPTH 16   /* nesting limit of airlock_cbor_skip() */

enum airlock_cbor_major {
	AIRLOCK_CBOR_UINT = 0,
	AIRLOCK_CBOR_NINT = 1,
	AIRLOCK_CBOR_BSTR = 2,
	AIRLOCK_CBOR_TSTR = 3,
	AIRLOCK_CBOR_ARRAY = 4,
	AIRLOCK_CBOR_MAP = 5,
	AIRLOCK_CBOR_TAG = 6,
	AIRLOCK_CBOR_SIMPLE = 7,
};

struct airlock_cbor_dec {
	const uint8_t *p;
	const uint8_t *end;
};

void airlock_cbor_dec_init(struct airlock_cbor_dec *d, const uint8_t *buf, size_t len);
/* Major type of the next item without consuming it (AIRLOCK_ERR_MALFORMED at end of input). */
AIRLOCK_MUST_USE airlock_err airlock_cbor_peek(const struct airlock_cbor_dec *d, enum airlock_cbor_major *major);
/* Each reader consumes exactly one item of its type; on any error the cursor
 * is left where it was. AIRLOCK_ERR_WRONG_TYPE if the next item is another type. */
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_uint(struct airlock_cbor_dec *d, uint64_t *v);
/* Major 0 or 1; AIRLOCK_ERR_BAD_VALUE if it does not fit in int64_t. */
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_int(struct airlock_cbor_dec *d, int64_t *v);
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_bstr(struct airlock_cbor_dec *d, const uint8_t **p, size_t *len);
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_tstr(struct airlock_cbor_dec *d, const char **p, size_t *len);
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_bool(struct airlock_cbor_dec *d, bool *v);
/* Array and map heads: the count of elements (pairs for a map) that follow.
 * The count is checked against the remaining input (each item is >= 1 byte). */
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_array(struct airlock_cbor_dec *d, size_t *count);
AIRLOCK_MUST_USE airlock_err airlock_cbor_read_map(struct airlock_cbor_dec *d, size_t *count);
/* Skips one complete well-formed, canonical item (any nesting up to the depth limit). */
AIRLOCK_MUST_USE airlock_err airlock_cbor_skip(struct airlock_cbor_dec *d);
/* AIRLOCK_ERR_TRAILING_DATA unless the whole input was consumed. */
AIRLOCK_MUST_USE airlock_err airlock_cbor_dec_finish(const struct airlock_cbor_dec *d);

/*
 * Map iteration with integer keys in deterministic order:
 *   size_t n; struct airlock_cbor_map m;
 *   airlock_cbor_map_begin(d, &m)  (reads the map head)
 *   while (airlock_cbor_map_next(d, &m, &key) == OK && !m.done) { read value }
 * map_next returns AIRLOCK_ERR_DUPLICATE_KEY for a key not strictly after the
 * previous one, AIRLOCK_ERR_WRONG_TYPE for a non-integer key, and sets done
 * once all pairs were read.
 */
struct airlock_cbor_map {
	size_t left;
	bool have_prev;
	bool done;
	uint8_t prev_major;   /* 0 or 1 */
	uint64_t prev_arg;
};
AIRLOCK_MUST_USE airlock_err airlock_cbor_map_begin(struct airlock_cbor_dec *d, struct airlock_cbor_map *m);
AIRLOCK_MUST_USE airlock_err airlock_cbor_map_next(struct airlock_cbor_dec *d, struct airlock_cbor_map *m, int64_t *key);

struct airlock_cbor_enc {
	uint8_t *buf;
	size_t cap;
	size_t len;      /* bytes the encoding needs so far (may exceed cap) */
	bool overflow;
};

void airlock_cbor_enc_init(struct airlock_cbor_enc *e, uint8_t *buf, size_t cap);
void airlock_cbor_put_uint(struct airlock_cbor_enc *e, uint64_t v);
void airlock_cbor_put_int(struct airlock_cbor_enc *e, int64_t v);
void airlock_cbor_put_bstr(struct airlock_cbor_enc *e, const void *p, size_t len);
void airlock_cbor_put_tstr(struct airlock_cbor_enc *e, const char *p, size_t len);
void airlock_cbor_put_bool(struct airlock_cbor_enc *e, bool v);
void airlock_cbor_put_array(struct airlock_cbor_enc *e, size_t count);
void airlock_cbor_put_map(struct airlock_cbor_enc *e, size_t count);
/* Appends already-encoded CBOR verbatim (e.g. a body being wrapped). */
void airlock_cbor_put_raw(struct airlock_cbor_enc *e, const void *p, size_t len);
/* AIRLOCK_ERR_BUFFER_TOO_SMALL if anything did not fit; *len = bytes needed/written. */
AIRLOCK_MUST_USE airlock_err airlock_cbor_enc_finish(const struct airlock_cbor_enc *e, size_t *len);

#endif
