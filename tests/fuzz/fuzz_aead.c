/*
 * Fuzz target for the chunked AES-256-GCM stream decryptor (lib/aead.c).
 *
 * Input: one header byte h, then (h & 15) split bytes, then the body.
 * A split byte s gives a piece size of s + 1 (s < 128) or (s - 127) * 64;
 * the pieces cycle, and no split bytes means the body in one piece.
 *   h >> 6 == 0 or 1: the body is a stream under a fixed key and prefix,
 *                     chunk size 4096 (the seed corpus holds valid ones).
 *   h >> 6 == 2:      the body (up to 3 chunks) is plaintext: it is
 *                     encrypted, then decrypted in pieces, and must come
 *                     back the same.
 *   h >> 6 == 3:      as 2, but the stream is cut at an offset taken from
 *                     the two bytes after the splits: it must be refused.
 * Invariants, each an abort(): the sink sees chunks 0, 1, 2, ... in order,
 * every one but the last exactly 4096 bytes, and none at or after the
 * position of a failure; the result and the position do not depend on the
 * split; a success means the stream length is a valid ciphertext size for
 * the plaintext delivered; errors are only those the header documents.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/aead.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CS 4096u
#define MAX_PLAIN (3u * CS)

static const uint8_t key[AIRLOCK_AEAD_KEY_LEN] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
						   0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
						   0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
						   0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };

static uint8_t dec_buf[AIRLOCK_AEAD_DEC_BUF(CS)];
static uint8_t sealed[MAX_PLAIN + 3 * AIRLOCK_AEAD_TAG_LEN];
static uint8_t opened[MAX_PLAIN];

struct seen {
	uint64_t chunks;
	uint64_t bytes;
	bool short_chunk;       /* a chunk under 4096 bytes arrived: it must be the last */
	uint8_t *copy;          /* where to keep the plaintext, or NULL */
	size_t copy_cap;
};

static airlock_err sink(void *ctx, const uint8_t *pt, size_t len, uint64_t index)
{
	struct seen *s = ctx;

	if (index != s->chunks || s->short_chunk || len > CS)
		abort();
	if (len < CS)
		s->short_chunk = true;
	if (s->copy) {
		if (len > s->copy_cap - s->bytes)
			abort();
		memcpy(s->copy + s->bytes, pt, len);
	}
	s->chunks++;
	s->bytes += len;
	return AIRLOCK_OK;
}

struct splits {
	const uint8_t *sizes;
	size_t n;
};

static size_t piece(const struct splits *sp, size_t i)
{
	if (sp->n == 0)
		return SIZE_MAX;
	uint8_t s = sp->sizes[i % sp->n];
	return s < 128 ? (size_t)s + 1 : (size_t)(s - 127) * 64;
}

static airlock_err run(const uint8_t *in, size_t len, const struct splits *sp, struct seen *s, uint64_t *pos)
{
	struct airlock_aead_dec dec;
	airlock_err err;
	size_t off = 0;

	if (airlock_aead_dec_init(&dec, key, prefix, CS, dec_buf, sizeof dec_buf) != AIRLOCK_OK)
		abort();
	err = AIRLOCK_OK;
	for (size_t i = 0; off < len && err == AIRLOCK_OK; i++) {
		size_t n = piece(sp, i);
		if (n > len - off)
			n = len - off;
		err = airlock_aead_dec_update(&dec, in + off, n, sink, s);
		off += n;
	}
	if (err == AIRLOCK_OK)
		err = airlock_aead_dec_final(&dec, sink, s);
	*pos = airlock_aead_dec_position(&dec);
	/* Sticky: a failed stream keeps failing the same way. */
	if (err != AIRLOCK_OK && airlock_aead_dec_update(&dec, in, len ? 1 : 0, sink, s) != err)
		abort();
	airlock_aead_dec_free(&dec);
	switch (err) {
	case AIRLOCK_OK:
		if (s->chunks != *pos)
			abort();
		break;
	case AIRLOCK_ERR_AEAD_TAG:
	case AIRLOCK_ERR_AEAD_TRUNCATED:
	case AIRLOCK_ERR_AEAD_EXTENDED:
	case AIRLOCK_ERR_MALFORMED:
		/* Nothing of the failed chunk, nor after it, reached the sink. */
		if (s->chunks != *pos)
			abort();
		break;
	default:
		abort();
	}
	return err;
}

/* Decrypts in the given pieces and in one piece; both must agree. */
static airlock_err check(const uint8_t *in, size_t len, const struct splits *sp, uint8_t *copy, size_t copy_cap,
			 uint64_t *bytes)
{
	static const struct splits whole = { NULL, 0 };
	struct seen a = { .copy = copy, .copy_cap = copy_cap }, b = { 0 };
	uint64_t pos_a, pos_b;
	airlock_err err = run(in, len, sp, &a, &pos_a);

	if (run(in, len, &whole, &b, &pos_b) != err || pos_a != pos_b || a.bytes != b.bytes)
		abort();
	if (err == AIRLOCK_OK) {
		uint64_t plain;
		if (airlock_aead_plaintext_size(len, CS, &plain) != AIRLOCK_OK || plain != a.bytes)
			abort();
	}
	*bytes = a.bytes;
	return err;
}

static size_t seal_all(const uint8_t *pt, size_t len)
{
	struct airlock_aead_enc enc;
	size_t off = 0, n = 0;

	if (airlock_aead_enc_init(&enc, key, prefix, CS) != AIRLOCK_OK)
		abort();
	do {
		size_t take = len - off > CS ? CS : len - off;
		if (airlock_aead_enc_chunk(&enc, take ? pt + off : pt, take, off + take == len, sealed + n) !=
		    AIRLOCK_OK)
			abort();
		off += take;
		n += take + AIRLOCK_AEAD_TAG_LEN;
	} while (off < len);
	airlock_aead_enc_free(&enc);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct splits sp;
	uint64_t bytes;

	if (size < 1)
		return 0;
	uint8_t h = data[0];
	sp.n = h & 15u;
	if (size - 1 < sp.n)
		return 0;
	sp.sizes = data + 1;
	const uint8_t *body = data + 1 + sp.n;
	size_t len = size - 1 - sp.n;

	switch (h >> 6) {
	case 0:
	case 1:
		(void)check(body, len, &sp, NULL, 0, &bytes);
		break;
	case 2: {
		if (len > MAX_PLAIN)
			len = MAX_PLAIN;
		size_t n = seal_all(body, len);
		if (check(sealed, n, &sp, opened, sizeof opened, &bytes) != AIRLOCK_OK || bytes != len ||
		    (len && memcmp(opened, body, len) != 0))
			abort();
		break;
	}
	case 3: {
		if (len < 2)
			return 0;
		size_t cut_at = (size_t)body[0] << 8 | body[1];
		body += 2;
		len -= 2;
		if (len > MAX_PLAIN)
			len = MAX_PLAIN;
		size_t n = seal_all(body, len);
		cut_at %= n;   /* always short of the whole stream */
		airlock_err err = check(sealed, cut_at, &sp, NULL, 0, &bytes);
		if (err != AIRLOCK_ERR_AEAD_TAG && err != AIRLOCK_ERR_AEAD_TRUNCATED)
			abort();
		break;
	}
	}
	return 0;
}
