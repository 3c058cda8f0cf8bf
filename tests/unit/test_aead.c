/* Chunked AES-256-GCM payload stream (lib/aead.c). */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "airlock/aead.h"
#include "airlock/crypto.h"

#define CS 4096u
#define FULL (CS + AIRLOCK_AEAD_TAG_LEN)
#define MAX_PLAIN (4 * CS + 64)
#define MAX_STREAM (2 * MAX_PLAIN)

static const uint8_t key1[32] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
				  0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
				  0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f };
static const uint8_t key2[32] = { 0xff };
static const uint8_t prefix1[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7 };
static const uint8_t prefix2[8] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa8 };

/* The sizes the format has edge cases at, for chunk size CS. */
static const size_t sizes[] = { 0, 1, CS - 1, CS, CS + 1, 3 * CS, 3 * CS + 5 };

static uint64_t rng_state;
static uint64_t rng(void)
{
	/* xorshift64: reproducible splits, seeded per test. */
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void pattern(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + 3);
}

/* Encrypts a whole plaintext through the public encryptor. */
static size_t seal_stream(const uint8_t key[32], const uint8_t prefix[8], uint32_t cs, const uint8_t *pt,
			  size_t len, uint8_t *out, size_t cap)
{
	struct airlock_aead_enc enc;
	size_t off = 0, n = 0;
	uint64_t want;

	assert_err(airlock_aead_ciphertext_size(len, cs, &want), AIRLOCK_OK);
	assert_true(want <= cap);
	assert_err(airlock_aead_enc_init(&enc, key, prefix, cs), AIRLOCK_OK);
	do {
		size_t take = len - off > cs ? cs : len - off;
		bool last = off + take == len;
		/* NULL + 0 is undefined: the empty plaintext may come as NULL. */
		const uint8_t *p = pt ? pt + off : NULL;
		assert_err(airlock_aead_enc_chunk(&enc, p, take, last, out + n), AIRLOCK_OK);
		off += take;
		n += take + AIRLOCK_AEAD_TAG_LEN;
	} while (off < len);
	airlock_aead_enc_free(&enc);
	assert_int_equal(n, want);
	return n;
}

/* Seals one chunk at an arbitrary index and flag (for forged layouts). */
static void seal_one(const uint8_t key[32], const uint8_t prefix[8], uint64_t index, const uint8_t *pt,
		     size_t len, bool last, uint8_t *out)
{
	struct airlock_aead_enc enc;
	assert_err(airlock_aead_enc_init(&enc, key, prefix, CS), AIRLOCK_OK);
	enc.index = index;   /* white-box: jump to the index wanted */
	assert_err(airlock_aead_enc_chunk(&enc, pt, len, last, out), AIRLOCK_OK);
	airlock_aead_enc_free(&enc);
}

/* What the sink saw. */
struct seen {
	uint8_t *buf;
	size_t cap;
	size_t len;
	uint64_t chunks;          /* calls, which must come with indices 0, 1, 2, ... */
	uint64_t fail_at;         /* return fail_err for this index */
	airlock_err fail_err;
};

static airlock_err sink(void *ctx, const uint8_t *pt, size_t len, uint64_t index)
{
	struct seen *s = ctx;
	assert_int_equal(index, s->chunks);
	if (s->fail_err != AIRLOCK_OK && index == s->fail_at)
		return s->fail_err;
	assert_true(len <= s->cap - s->len);
	memcpy(s->buf + s->len, pt, len);
	s->len += len;
	s->chunks++;
	return AIRLOCK_OK;
}

enum split { WHOLE, BYTES, RANDOM };

/* Decrypts a stream fed in pieces; returns the first error, and the
 * decryptor's position through *pos. */
static airlock_err open_stream(const uint8_t key[32], const uint8_t prefix[8], uint32_t cs, const uint8_t *ct,
			       size_t len, enum split split, struct seen *s, uint64_t *pos)
{
	struct airlock_aead_dec dec;
	size_t cap = AIRLOCK_AEAD_DEC_BUF(cs);
	uint8_t *buf = malloc(cap);
	airlock_err err = AIRLOCK_OK;
	size_t off = 0;

	assert_non_null(buf);
	assert_err(airlock_aead_dec_init(&dec, key, prefix, cs, buf, cap), AIRLOCK_OK);
	while (off < len && err == AIRLOCK_OK) {
		size_t n = len - off;
		if (split == BYTES)
			n = 1;
		else if (split == RANDOM)
			n = (size_t)(rng() % (2 * (uint64_t)cs + 40)) + 1;
		if (n > len - off)
			n = len - off;
		err = airlock_aead_dec_update(&dec, ct + off, n, sink, s);
		off += n;
	}
	if (err == AIRLOCK_OK)
		err = airlock_aead_dec_final(&dec, sink, s);
	else
		/* A failed decryptor refuses everything with its first error. */
		assert_err(airlock_aead_dec_final(&dec, sink, s), err);
	/* Once over, the stream takes no more input. */
	assert_err(airlock_aead_dec_update(&dec, (const uint8_t *)"x", 1, sink, s),
		   err == AIRLOCK_OK ? AIRLOCK_ERR_INVALID_ARG : err);
	*pos = airlock_aead_dec_position(&dec);
	airlock_aead_dec_free(&dec);
	airlock_aead_dec_free(&dec);   /* idempotent */
	free(buf);
	return err;
}

static uint8_t plain[MAX_PLAIN], stream[MAX_STREAM], work[MAX_STREAM], got[MAX_PLAIN];

static struct seen fresh_seen(void)
{
	memset(got, 0, sizeof got);
	return (struct seen){ .buf = got, .cap = sizeof got };
}

/* Expects decryption of ct to fail with want at chunk `at`, the sink having
 * seen exactly chunks 0..at-1 of `plain` and nothing of chunk `at`. Checks
 * whole, byte-by-byte and random feeding. */
static void expect_fail(const uint8_t *ct, size_t len, airlock_err want, uint64_t at)
{
	for (int split = WHOLE; split <= RANDOM; split++) {
		struct seen s = fresh_seen();
		uint64_t pos;
		assert_err(open_stream(key1, prefix1, CS, ct, len, (enum split)split, &s, &pos), want);
		assert_int_equal(pos, at);
		assert_int_equal(s.chunks, at);
		assert_int_equal(s.len, at * CS);
		assert_memory_equal(got, plain, s.len);
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	rng_state = 0x1234567887654321u;
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t n = sizes[k];
		for (size_t i = 0; i < n; i++)
			plain[i] = (uint8_t)rng();
		size_t clen = seal_stream(key1, prefix1, CS, plain, n, stream, sizeof stream);
		uint64_t back;
		assert_err(airlock_aead_plaintext_size(clen, CS, &back), AIRLOCK_OK);
		assert_int_equal(back, n);
		uint64_t chunks = n == 0 ? 1 : (n + CS - 1) / CS;
		for (int split = WHOLE; split <= RANDOM; split++) {
			int rounds = split == RANDOM ? 8 : 1;
			for (int r = 0; r < rounds; r++) {
				struct seen s = fresh_seen();
				uint64_t pos;
				assert_err(open_stream(key1, prefix1, CS, stream, clen, (enum split)split, &s, &pos),
					   AIRLOCK_OK);
				assert_int_equal(s.len, n);
				assert_memory_equal(got, plain, n);
				assert_int_equal(s.chunks, chunks);
				assert_int_equal(pos, chunks);
			}
		}
	}
}

/* A larger chunk size, random splits around its boundaries. */
static void test_round_trip_64k(void **state)
{
	(void)state;
	const uint32_t cs = 64u * 1024u;
	const size_t sizes64[] = { cs - 1, cs, 2 * (size_t)cs + 7 };
	size_t cap = 3 * (size_t)cs + 64;
	uint8_t *pt = malloc(cap), *ct = malloc(cap + 64), *out = malloc(cap);
	assert_non_null(pt);
	assert_non_null(ct);
	assert_non_null(out);
	rng_state = 42;
	for (size_t k = 0; k < 3; k++) {
		size_t n = sizes64[k];
		for (size_t i = 0; i < n; i++)
			pt[i] = (uint8_t)rng();
		size_t clen = seal_stream(key2, prefix2, cs, pt, n, ct, cap + 64);
		for (int r = 0; r < 4; r++) {
			struct seen s = { .buf = out, .cap = cap };
			uint64_t pos;
			assert_err(open_stream(key2, prefix2, cs, ct, clen, RANDOM, &s, &pos), AIRLOCK_OK);
			assert_int_equal(s.len, n);
			assert_memory_equal(out, pt, n);
		}
	}
	free(pt);
	free(ct);
	free(out);
}

/*
 * Known answers, computed once with an independent implementation of the
 * format (Python, pyca/cryptography's AESGCM, chunking written from the
 * header's description). key = 00 01 .. 1f, prefix = a0 a1 .. a7,
 * chunk_size = 4096, plaintext byte i = (7 * i + 3) mod 256 (or "airlock").
 */
static void test_known_answer(void **state)
{
	(void)state;
	uint8_t want[64], digest[32];
	size_t n, wn;

	/* Empty plaintext: one empty last chunk, i.e. the tag alone. */
	n = seal_stream(key1, prefix1, CS, NULL, 0, stream, sizeof stream);
	wn = test_hex("2353f48d006845e6c37f41747c4d2a9d", want, sizeof want);
	assert_int_equal(n, wn);
	assert_memory_equal(stream, want, wn);

	n = seal_stream(key1, prefix1, CS, (const uint8_t *)"airlock", 7, stream, sizeof stream);
	wn = test_hex("9f309cc43e5119356eeb7152b198a1f4d2b9f5fab5f046", want, sizeof want);
	assert_int_equal(n, wn);
	assert_memory_equal(stream, want, wn);

	/* 4101 bytes: a full chunk, then a last chunk of 5. */
	pattern(plain, 4101);
	n = seal_stream(key1, prefix1, CS, plain, 4101, stream, sizeof stream);
	assert_int_equal(n, 4133);
	wn = test_hex("fd53ffb04e145f11ec3d93c9db2850c6", want, sizeof want);
	assert_memory_equal(stream, want, wn);
	wn = test_hex("e4042883c363a3ce87f0808e7dc380b1", want, sizeof want);   /* tag of chunk 0 */
	assert_memory_equal(stream + CS, want, wn);
	wn = test_hex("3089463c6bb0678c665efdb81b271c270363e5ce82", want, sizeof want);   /* chunk 1 */
	assert_memory_equal(stream + FULL, want, wn);
	assert_err(airlock_sha256(stream, n, digest), AIRLOCK_OK);
	wn = test_hex("671c6d75bf587722aef603d305900c0029ef2221450d427d2681df4ba6358473", want, sizeof want);
	assert_memory_equal(digest, want, wn);

	/* 8192 bytes: exactly two chunks, the second a full last chunk. */
	pattern(plain, 8192);
	n = seal_stream(key1, prefix1, CS, plain, 8192, stream, sizeof stream);
	assert_int_equal(n, 8224);
	wn = test_hex("9af4e1779277834c59896483b30c2659", want, sizeof want);   /* tag of chunk 1 */
	assert_memory_equal(stream + n - 16, want, wn);
	assert_err(airlock_sha256(stream, n, digest), AIRLOCK_OK);
	wn = test_hex("353536a32767d29b5c583ee74c96c6774fd616450ea7fe628139895e58d8908c", want, sizeof want);
	assert_memory_equal(digest, want, wn);

	struct seen s = fresh_seen();
	uint64_t pos;
	assert_err(open_stream(key1, prefix1, CS, stream, n, WHOLE, &s, &pos), AIRLOCK_OK);
	assert_int_equal(s.len, 8192);
	assert_memory_equal(got, plain, 8192);
}

static void test_sizes(void **state)
{
	(void)state;
	uint64_t v;

	assert_err(airlock_aead_ciphertext_size(0, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, 16);
	assert_err(airlock_aead_ciphertext_size(1, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, 17);
	assert_err(airlock_aead_ciphertext_size(CS, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, CS + 16);
	assert_err(airlock_aead_ciphertext_size(CS + 1, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, CS + 1 + 32);
	/* 2^32 chunks is the most there can be. */
	assert_err(airlock_aead_ciphertext_size((uint64_t)CS << 32, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, ((uint64_t)CS << 32) + (UINT64_C(16) << 32));
	assert_err(airlock_aead_ciphertext_size(((uint64_t)CS << 32) + 1, CS, &v), AIRLOCK_ERR_LIMIT);
	assert_err(airlock_aead_ciphertext_size(UINT64_MAX, AIRLOCK_AEAD_MAX_CHUNK, &v), AIRLOCK_ERR_LIMIT);

	assert_err(airlock_aead_plaintext_size(15, CS, &v), AIRLOCK_ERR_BAD_VALUE);
	assert_err(airlock_aead_plaintext_size(16, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, 0);
	assert_err(airlock_aead_plaintext_size(FULL, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, CS);
	/* After a full chunk, 1..16 more bytes cannot be a last chunk. */
	for (uint64_t r = 1; r <= 16; r++)
		assert_err(airlock_aead_plaintext_size(FULL + r, CS, &v), AIRLOCK_ERR_BAD_VALUE);
	assert_err(airlock_aead_plaintext_size(FULL + 17, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, CS + 1);
	assert_err(airlock_aead_plaintext_size(2 * FULL, CS, &v), AIRLOCK_OK);
	assert_int_equal(v, 2 * CS);
	assert_err(airlock_aead_plaintext_size((uint64_t)FULL << 32, CS, &v), AIRLOCK_OK);
	assert_err(airlock_aead_plaintext_size(((uint64_t)FULL << 32) + 17, CS, &v), AIRLOCK_ERR_LIMIT);
	/* Inverse over a range of sizes, including every residue near a boundary. */
	for (uint64_t p = 0; p < 3 * CS + 40; p += (p % CS < 20 || p % CS > CS - 20) ? 1 : 97) {
		uint64_t c, back;
		assert_err(airlock_aead_ciphertext_size(p, CS, &c), AIRLOCK_OK);
		assert_err(airlock_aead_plaintext_size(c, CS, &back), AIRLOCK_OK);
		assert_int_equal(back, p);
	}

	const uint32_t bad[] = { 0, 1, 2048, 4095, 4097, 6144, 3u << 20, 32u << 20, UINT32_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_err(airlock_aead_check_chunk_size(bad[i]), AIRLOCK_ERR_BAD_VALUE);
		assert_err(airlock_aead_ciphertext_size(1, bad[i], &v), AIRLOCK_ERR_BAD_VALUE);
		assert_err(airlock_aead_plaintext_size(100, bad[i], &v), AIRLOCK_ERR_BAD_VALUE);
	}
	assert_err(airlock_aead_check_chunk_size(AIRLOCK_AEAD_MIN_CHUNK), AIRLOCK_OK);
	assert_err(airlock_aead_check_chunk_size(AIRLOCK_AEAD_MAX_CHUNK), AIRLOCK_OK);
}

/* 3 * CS + 5 bytes: chunks 0..2 full, chunk 3 of 5 bytes. */
static size_t make_stream4(void)
{
	pattern(plain, 3 * CS + 5);
	return seal_stream(key1, prefix1, CS, plain, 3 * CS + 5, stream, sizeof stream);
}

static void test_drop_last(void **state)
{
	(void)state;
	/* Short last chunk dropped: three full chunks that are all "not last". */
	size_t n = make_stream4();
	expect_fail(stream, n - 21, AIRLOCK_ERR_AEAD_TRUNCATED, 2);
	/* Full last chunk dropped. */
	pattern(plain, 3 * CS);
	n = seal_stream(key1, prefix1, CS, plain, 3 * CS, stream, sizeof stream);
	expect_fail(stream, n - FULL, AIRLOCK_ERR_AEAD_TRUNCATED, 1);
	/* Everything dropped. */
	expect_fail(stream, 0, AIRLOCK_ERR_AEAD_TRUNCATED, 0);
}

static void test_cut_everywhere(void **state)
{
	(void)state;
	/* 2 * CS + 5: chunks 0, 1 full, chunk 2 of 5 bytes. */
	pattern(plain, 2 * CS + 5);
	size_t n = seal_stream(key1, prefix1, CS, plain, 2 * CS + 5, stream, sizeof stream);
	for (size_t cut = 0; cut < n; cut++) {
		size_t q = cut / FULL, r = cut % FULL;
		airlock_err want;
		uint64_t at;
		if (r == 0 && q > 0) {
			/* At a chunk boundary: the chunk before authenticates, but
			 * only as "not last". */
			want = AIRLOCK_ERR_AEAD_TRUNCATED;
			at = q - 1;
		} else if (r < AIRLOCK_AEAD_TAG_LEN) {
			want = AIRLOCK_ERR_AEAD_TRUNCATED;   /* not even a tag left */
			at = q;
		} else {
			want = AIRLOCK_ERR_AEAD_TAG;   /* a shortened chunk */
			at = q;
		}
		struct seen s = fresh_seen();
		uint64_t pos;
		assert_err(open_stream(key1, prefix1, CS, stream, cut, WHOLE, &s, &pos), want);
		assert_int_equal(pos, at);
		assert_int_equal(s.chunks, at);
		assert_memory_equal(got, plain, s.len);
	}
	/* A few with other feeding. */
	expect_fail(stream, FULL + 20, AIRLOCK_ERR_AEAD_TAG, 1);
	expect_fail(stream, 2 * FULL, AIRLOCK_ERR_AEAD_TRUNCATED, 1);
	expect_fail(stream, 2 * FULL + 15, AIRLOCK_ERR_AEAD_TRUNCATED, 2);
	expect_fail(stream, n - 1, AIRLOCK_ERR_AEAD_TAG, 2);
}

static void test_swap(void **state)
{
	(void)state;
	size_t n = make_stream4();
	memcpy(work, stream, n);
	memcpy(work + FULL, stream + 2 * FULL, FULL);
	memcpy(work + 2 * FULL, stream + FULL, FULL);
	expect_fail(work, n, AIRLOCK_ERR_AEAD_TAG, 1);
}

static void test_replay(void **state)
{
	(void)state;
	size_t n = make_stream4();
	/* c0 c1 c1 c2 c3 */
	memcpy(work, stream, 2 * FULL);
	memcpy(work + 2 * FULL, stream + FULL, n - FULL);
	expect_fail(work, n + FULL, AIRLOCK_ERR_AEAD_TAG, 2);
	/* c0 c0 c2 c3 */
	memcpy(work, stream, n);
	memcpy(work + FULL, stream, FULL);
	expect_fail(work, n, AIRLOCK_ERR_AEAD_TAG, 1);
}

static void test_append(void **state)
{
	(void)state;
	/* Full last chunk, then chunk 0 again: chunk 1 authenticates only as
	 * the last one, so the bytes after it are an extension. */
	pattern(plain, 2 * CS);
	size_t n = seal_stream(key1, prefix1, CS, plain, 2 * CS, stream, sizeof stream);
	memcpy(work, stream, n);
	memcpy(work + n, stream, FULL);
	expect_fail(work, n + FULL, AIRLOCK_ERR_AEAD_EXTENDED, 1);
	/* One stray byte is enough. */
	work[n] = 0;
	expect_fail(work, n + 1, AIRLOCK_ERR_AEAD_EXTENDED, 1);

	/* Short last chunk: appended bytes shift it out of its frame. */
	n = make_stream4();
	memcpy(work, stream, n);
	memcpy(work + n, stream, FULL);
	expect_fail(work, n + FULL, AIRLOCK_ERR_AEAD_TAG, 3);
	expect_fail(work, n + 1, AIRLOCK_ERR_AEAD_TAG, 3);
}

static void test_foreign_chunk(void **state)
{
	(void)state;
	size_t n = make_stream4();
	static uint8_t other[MAX_STREAM];
	const uint8_t *keys[] = { key2, key1 };
	const uint8_t *prefixes[] = { prefix1, prefix2 };
	for (int k = 0; k < 2; k++) {
		/* Same plaintext, another key or another prefix. */
		size_t m = seal_stream(keys[k], prefixes[k], CS, plain, 3 * CS + 5, other, sizeof other);
		assert_int_equal(m, n);
		for (uint64_t c = 0; c < 4; c++) {
			size_t off = (size_t)c * FULL, len = c == 3 ? n - off : FULL;
			memcpy(work, stream, n);
			memcpy(work + off, other + off, len);
			expect_fail(work, n, AIRLOCK_ERR_AEAD_TAG, c);
		}
	}
}

static void test_last_flag(void **state)
{
	(void)state;
	uint8_t *p = plain;
	pattern(plain, 2 * CS);
	/* Flag cleared on the true last chunk (re-encrypted with last = false):
	 * indistinguishable from a stream cut at a chunk boundary, and
	 * reported as such. */
	seal_one(key1, prefix1, 0, p, CS, false, work);
	seal_one(key1, prefix1, 1, p + CS, CS, false, work + FULL);
	expect_fail(work, 2 * FULL, AIRLOCK_ERR_AEAD_TRUNCATED, 1);
	/* Flag set on a middle chunk: the stream goes on after its last chunk. */
	seal_one(key1, prefix1, 0, p, CS, true, work);
	seal_one(key1, prefix1, 1, p + CS, CS, true, work + FULL);
	expect_fail(work, 2 * FULL, AIRLOCK_ERR_AEAD_EXTENDED, 0);
}

/* Authentic but not canonical: an empty last chunk after a full one. */
static void test_empty_tail(void **state)
{
	(void)state;
	pattern(plain, CS);
	seal_one(key1, prefix1, 0, plain, CS, false, work);
	struct airlock_gcm gcm;
	uint8_t nonce[12], aad[16];
	memcpy(nonce, prefix1, 8);
	memcpy(nonce + 8, "\0\0\0\1", 4);
	memcpy(aad, "airlock-aead-v1\1", 16);
	assert_err(airlock_gcm_init(&gcm, key1), AIRLOCK_OK);
	assert_err(airlock_gcm_seal(&gcm, nonce, aad, 16, NULL, 0, work + FULL, work + FULL), AIRLOCK_OK);
	airlock_gcm_free(&gcm);
	expect_fail(work, FULL + 16, AIRLOCK_ERR_MALFORMED, 1);
	/* ... which the encryptor refuses to write. */
	struct airlock_aead_enc enc;
	assert_err(airlock_aead_enc_init(&enc, key1, prefix1, CS), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS, false, work), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, plain, 0, true, work), AIRLOCK_ERR_INVALID_ARG);
	airlock_aead_enc_free(&enc);
}

/*
 * Every single bit flip over a three-chunk stream fails at the chunk that
 * holds the bit, and the sink never sees that chunk's plaintext.
 */
static void test_bit_flips(void **state)
{
	(void)state;
	pattern(plain, 2 * CS + 100);
	size_t n = seal_stream(key1, prefix1, CS, plain, 2 * CS + 100, stream, sizeof stream);
	rng_state = 99;
	for (size_t bit = 0; bit < 8 * n; bit++) {
		memcpy(work, stream, n);
		work[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		struct seen s = fresh_seen();
		uint64_t pos, at = bit / 8 / FULL;
		/* Mostly whole; every 61st flip with random feeding. */
		enum split split = bit % 61 == 0 ? RANDOM : WHOLE;
		assert_err(open_stream(key1, prefix1, CS, work, n, split, &s, &pos), AIRLOCK_ERR_AEAD_TAG);
		assert_int_equal(pos, at);
		assert_int_equal(s.chunks, at);
		assert_int_equal(s.len, at * CS);
		assert_memory_equal(got, plain, s.len);
	}
}

static void test_index_limit(void **state)
{
	(void)state;
	const uint64_t top = AIRLOCK_AEAD_MAX_CHUNKS - 1;   /* 2^32 - 1 */
	struct airlock_aead_enc enc;
	pattern(plain, CS);

	/* The encryptor seals index 2^32 - 1 with the counter's bytes ff ff ff ff,
	 * and refuses index 2^32. */
	assert_err(airlock_aead_enc_init(&enc, key1, prefix1, CS), AIRLOCK_OK);
	enc.index = top;
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS, false, work), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, plain, 5, true, work + FULL), AIRLOCK_ERR_LIMIT);
	airlock_aead_enc_free(&enc);

	/* The same chunk opens at index 2^32 - 1 ... */
	struct airlock_aead_dec dec;
	uint8_t buf[AIRLOCK_AEAD_DEC_BUF(CS)];
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf), AIRLOCK_OK);
	dec.index = top;   /* white-box: as if 2^32 - 1 chunks had passed */
	struct seen s = fresh_seen();
	s.chunks = top;
	memset(work + FULL, 0, FULL);
	assert_err(airlock_aead_dec_update(&dec, work, FULL + 1, sink, &s), AIRLOCK_OK);
	assert_int_equal(s.chunks, AIRLOCK_AEAD_MAX_CHUNKS);
	assert_memory_equal(got, plain, CS);
	/* ... but nothing can follow it. */
	assert_err(airlock_aead_dec_update(&dec, work + FULL + 1, FULL, sink, &s), AIRLOCK_ERR_LIMIT);
	assert_int_equal(airlock_aead_dec_position(&dec), AIRLOCK_AEAD_MAX_CHUNKS);
	assert_err(airlock_aead_dec_final(&dec, sink, &s), AIRLOCK_ERR_LIMIT);
	airlock_aead_dec_free(&dec);

	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf), AIRLOCK_OK);
	dec.index = top + 1;
	assert_err(airlock_aead_dec_update(&dec, work, 20, sink, &s), AIRLOCK_OK);
	assert_err(airlock_aead_dec_final(&dec, sink, &s), AIRLOCK_ERR_LIMIT);
	airlock_aead_dec_free(&dec);
}

static void test_sink_error(void **state)
{
	(void)state;
	size_t n = make_stream4();
	for (uint64_t at = 0; at < 4; at++) {
		for (int split = WHOLE; split <= RANDOM; split++) {
			struct seen s = fresh_seen();
			s.fail_at = at;
			s.fail_err = AIRLOCK_ERR_IO_WRITE;
			uint64_t pos;
			assert_err(open_stream(key1, prefix1, CS, stream, n, (enum split)split, &s, &pos),
				   AIRLOCK_ERR_IO_WRITE);
			assert_int_equal(pos, at);
			assert_int_equal(s.chunks, at);
		}
	}
}

static void test_misuse(void **state)
{
	(void)state;
	struct airlock_aead_enc enc;
	struct airlock_aead_dec dec;
	uint8_t buf[AIRLOCK_AEAD_DEC_BUF(CS)];
	pattern(plain, 2 * CS);

	assert_err(airlock_aead_enc_init(&enc, key1, prefix1, 1000), AIRLOCK_ERR_BAD_VALUE);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS, false, work), AIRLOCK_ERR_INVALID_ARG);
	airlock_aead_enc_free(&enc);
	assert_err(airlock_aead_enc_init(NULL, key1, prefix1, CS), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_enc_init(&enc, key1, prefix1, CS), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS - 1, false, work), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS + 1, true, work), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_enc_chunk(&enc, NULL, 5, true, work), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_enc_chunk(&enc, plain, 5, true, NULL), AIRLOCK_ERR_INVALID_ARG);
	/* A refused call changed nothing: this is still chunk 0. */
	assert_err(airlock_aead_enc_chunk(&enc, plain, 5, true, work), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, plain, 5, true, work), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS, false, work), AIRLOCK_ERR_INVALID_ARG);
	airlock_aead_enc_free(&enc);
	airlock_aead_enc_free(&enc);
	assert_err(airlock_aead_enc_chunk(&enc, plain, CS, false, work), AIRLOCK_ERR_INVALID_ARG);
	/* In-place sealing: out == pt, with room for the tag. */
	memcpy(work, plain, 5);
	assert_err(airlock_aead_enc_init(&enc, key1, prefix1, CS), AIRLOCK_OK);
	assert_err(airlock_aead_enc_chunk(&enc, work, 5, true, work), AIRLOCK_OK);
	airlock_aead_enc_free(&enc);
	seal_stream(key1, prefix1, CS, plain, 5, stream, sizeof stream);
	assert_memory_equal(work, stream, 21);

	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf - 1),
		   AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_err(airlock_aead_dec_update(&dec, stream, 1, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, 3000, buf, sizeof buf), AIRLOCK_ERR_BAD_VALUE);
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, NULL, sizeof buf), AIRLOCK_ERR_INVALID_ARG);
	/* Verify-only: no sink. */
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf), AIRLOCK_OK);
	assert_err(airlock_aead_dec_update(&dec, NULL, 1, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_dec_update(&dec, NULL, 0, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_aead_dec_update(&dec, stream, 21, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_aead_dec_final(&dec, NULL, NULL), AIRLOCK_OK);
	assert_int_equal(airlock_aead_dec_position(&dec), 1);
	assert_err(airlock_aead_dec_final(&dec, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_dec_update(&dec, stream, 1, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	/* final() wiped the buffer already. */
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);
	airlock_aead_dec_free(&dec);
	assert_err(airlock_aead_dec_final(&dec, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);

	/* free() wipes what is buffered. */
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf), AIRLOCK_OK);
	memset(work, 0x5a, FULL);
	assert_err(airlock_aead_dec_update(&dec, work, FULL, NULL, NULL), AIRLOCK_OK);
	airlock_aead_dec_free(&dec);
	for (size_t i = 0; i < sizeof buf; i++)
		assert_int_equal(buf[i], 0);

	/* Fewer than 16 bytes in all. */
	assert_err(airlock_aead_dec_init(&dec, key1, prefix1, CS, buf, sizeof buf), AIRLOCK_OK);
	assert_err(airlock_aead_dec_update(&dec, stream, 15, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_aead_dec_final(&dec, NULL, NULL), AIRLOCK_ERR_AEAD_TRUNCATED);
	assert_err(airlock_aead_dec_update(&dec, stream, 1, NULL, NULL), AIRLOCK_ERR_AEAD_TRUNCATED);
	airlock_aead_dec_free(&dec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_64k),
		cmocka_unit_test(test_known_answer),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_drop_last),
		cmocka_unit_test(test_cut_everywhere),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_replay),
		cmocka_unit_test(test_append),
		cmocka_unit_test(test_foreign_chunk),
		cmocka_unit_test(test_last_flag),
		cmocka_unit_test(test_empty_tail),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_index_limit),
		cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_misuse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
