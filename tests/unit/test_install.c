/*
 * The install pipeline (lib/install.c) on a real file slot.
 *
 * Every case runs the pipeline against the "file" backend in a temporary
 * directory, pre-filled with a sentinel byte. The slot the pipeline gets is
 * a thin observer around that real slot (struct spy): it forwards every
 * read, write and sync, counts them, can make the n-th one fail (the error a
 * real disk would give), and checks each written byte against the true
 * payload, so "no unverified byte is ever written" is asserted on every
 * case, not only where a test looks at the slot afterwards.
 *
 * Payloads, chunk lists and encrypted streams are built here with the
 * library's own creation APIs (payload hash, AEAD encryptor), as
 * tools/payload_io.c builds them for `airlock release create`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/install.h"
#include "testutil.h"

#define CS 4096u
#define PER (CS + AIRLOCK_AEAD_TAG_LEN)
#define SENTINEL 0xEE

static char dir[256];
static char slot_path[512];

/* ---- payloads ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

/* One payload as a release describes it, with its stream. */
struct rel {
	uint8_t *plain;
	size_t size;
	uint32_t cs;
	uint8_t *list;
	size_t list_len;
	uint8_t digest[32];
	bool encrypted;
	uint8_t key[32];
	uint8_t prefix[8];
	uint8_t enc_sha[32];
	uint8_t *stream;      /* ciphertext, or the plaintext itself */
	size_t stream_len;
	struct airlock_payload p;
};

static airlock_err collect(void *ctx, uint64_t index, const uint8_t d[AIRLOCK_SHA256_LEN])
{
	struct rel *r = ctx;
	memcpy(r->list + 32 * index, d, 32);
	return AIRLOCK_OK;
}

static void seal(struct rel *r)
{
	struct airlock_aead_enc enc;
	uint64_t clen;
	assert_err(airlock_aead_ciphertext_size(r->size, r->cs, &clen), AIRLOCK_OK);
	r->stream_len = (size_t)clen;
	r->stream = malloc(r->stream_len);
	assert_non_null(r->stream);
	assert_err(airlock_aead_enc_init(&enc, r->key, r->prefix, r->cs), AIRLOCK_OK);
	size_t off = 0, out = 0;
	do {
		size_t take = r->size - off < r->cs ? r->size - off : r->cs;
		memcpy(r->stream + out, r->plain + off, take);
		assert_err(airlock_aead_enc_chunk(&enc, r->stream + out, take, off + take == r->size, r->stream + out),
			   AIRLOCK_OK);
		off += take;
		out += take + AIRLOCK_AEAD_TAG_LEN;
	} while (off < r->size);
	airlock_aead_enc_free(&enc);
	assert_int_equal(out, r->stream_len);
	assert_err(airlock_sha256(r->stream, r->stream_len, r->enc_sha), AIRLOCK_OK);
}

/* A payload of `size` random bytes; key and prefix derive from key_seed. */
static void rel_make(struct rel *r, size_t size, bool encrypted, unsigned key_seed)
{
	struct airlock_payload_check h;
	uint64_t n;
	memset(r, 0, sizeof *r);
	r->size = size;
	r->cs = CS;
	r->plain = malloc(size ? size : 1);
	assert_non_null(r->plain);
	for (size_t i = 0; i < size; i++)
		r->plain[i] = (uint8_t)rng();
	assert_err(airlock_payload_chunks(size, CS, &n), AIRLOCK_OK);
	r->list_len = (size_t)n * 32;
	r->list = malloc(r->list_len ? r->list_len : 1);
	assert_non_null(r->list);
	assert_err(airlock_payload_hash_init(&h, size, CS, collect, r), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&h, r->plain, size), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(&h, r->digest), AIRLOCK_OK);
	r->encrypted = encrypted;
	r->p.name.ptr = "rootfs";
	r->p.name.len = 6;
	r->p.size = size;
	r->p.chunk_size = CS;
	r->p.digest = r->digest;
	if (!encrypted) {
		r->stream = r->plain;
		r->stream_len = size;
		return;
	}
	for (size_t i = 0; i < 32; i++)
		r->key[i] = (uint8_t)(key_seed * 13u + i);
	for (size_t i = 0; i < 8; i++)
		r->prefix[i] = (uint8_t)(key_seed * 29u + 0x40u + i);
	seal(r);
	r->p.encrypted = true;
	r->p.enc.alg = AIRLOCK_ENC_AES256GCM_CHUNKED;
	r->p.enc.nonce_prefix = r->prefix;
	r->p.enc.size = r->stream_len;
	r->p.enc.sha256 = r->enc_sha;
}

static void rel_free(struct rel *r)
{
	if (r->stream != r->plain)
		free(r->stream);
	free(r->plain);
	free(r->list);
	memset(r, 0, sizeof *r);
}

static const uint8_t *key_of(const struct rel *r)
{
	return r->encrypted ? r->key : NULL;
}

/* ---- the observed slot ---- */

struct spy {
	struct airlock_slot outer;   /* handed to the pipeline */
	struct airlock_slot inner;   /* the real file slot */
	const struct rel *truth;     /* every written byte must be this payload's */
	unsigned reads, writes, syncs;
	int fail_write_at;           /* 0-based write that fails, -1: none */
	int fail_sync_at;
	airlock_err fail_with;
	bool bad_write;
};

static airlock_err spy_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	struct spy *sp = s->impl;
	sp->reads++;
	return airlock_slot_read(&sp->inner, off, buf, len);
}

static airlock_err spy_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	struct spy *sp = s->impl;
	if ((int)sp->writes++ == sp->fail_write_at)
		return sp->fail_with;
	if (off > sp->truth->size || len > sp->truth->size - off || memcmp(sp->truth->plain + off, buf, len) != 0)
		sp->bad_write = true;
	return airlock_slot_write(&sp->inner, off, buf, len);
}

static airlock_err spy_sync(struct airlock_slot *s)
{
	struct spy *sp = s->impl;
	if ((int)sp->syncs++ == sp->fail_sync_at)
		return AIRLOCK_ERR_IO_SYNC;
	return airlock_slot_sync(&sp->inner);
}

static void spy_close(struct airlock_slot *s)
{
	struct spy *sp = s->impl;
	airlock_slot_close(&sp->inner);
}

static const struct airlock_slot_ops spy_ops = {
	.name = "spy", .read = spy_read, .write = spy_write, .sync = spy_sync, .close = spy_close,
};

/* Opens the slot file as it is (fresh = false) or refilled with the sentinel. */
static void spy_open(struct spy *sp, const struct rel *truth, size_t capacity, bool fresh)
{
	memset(sp, 0, sizeof *sp);
	if (fresh) {
		uint8_t *b = malloc(capacity ? capacity : 1);
		assert_non_null(b);
		memset(b, SENTINEL, capacity);
		test_write_file(slot_path, b, capacity);
		free(b);
	}
	assert_err(airlock_slot_open(&sp->inner, "file", slot_path, capacity, 0), AIRLOCK_OK);
	sp->outer.ops = &spy_ops;
	sp->outer.capacity = sp->inner.capacity;
	sp->outer.fd = -1;
	sp->outer.impl = sp;
	sp->truth = truth;
	sp->fail_write_at = -1;
	sp->fail_sync_at = -1;
	sp->fail_with = AIRLOCK_ERR_IO_WRITE;
}

static size_t cap_for(const struct rel *r)
{
	return r->size + 2 * CS + 123;
}

/* The slot holds the payload's first `upto` bytes, the sentinel after them. */
static void assert_slot(const struct rel *r, size_t upto)
{
	size_t len;
	uint8_t *b = test_read_file(slot_path, &len);
	assert_true(upto <= r->size && len >= r->size);
	if (upto)
		assert_memory_equal(b, r->plain, upto);
	for (size_t i = upto; i < len; i++) {
		if (b[i] != SENTINEL) {
			print_error("slot byte %zu written (chunk %zu)\n", i, i / CS);
			fail();
		}
	}
	free(b);
}

/* Feeds stream[from, to) in pieces of `piece` bytes (0: one call; SIZE_MAX: random). */
static airlock_err feed(struct airlock_install *in, const uint8_t *stream, size_t from, size_t to, size_t piece)
{
	while (from < to) {
		size_t n = to - from;
		if (piece == SIZE_MAX)
			n = 1 + (size_t)(rng() % (3 * CS));
		else if (piece)
			n = piece;
		if (n > to - from)
			n = to - from;
		airlock_err err = airlock_install_feed(in, stream + from, n);
		if (err != AIRLOCK_OK)
			return err;
		from += n;
	}
	return AIRLOCK_OK;
}

/* A whole install of `stream` (len bytes) for r into a fresh slot. */
static airlock_err install(struct spy *sp, const struct rel *r, const uint8_t *stream, size_t len, size_t piece,
			   const uint8_t *key, uint64_t *pos)
{
	struct airlock_install in;
	airlock_err err = airlock_install_init(&in, &r->p, r->list, r->list_len, key, &sp->outer);
	bool started = err == AIRLOCK_OK;
	if (err == AIRLOCK_OK)
		err = feed(&in, stream, 0, len, piece);
	if (err == AIRLOCK_OK)
		err = airlock_install_finish(&in);
	if (pos)
		*pos = airlock_install_position(&in);
	if (err != AIRLOCK_OK && started) {
		/* Sticky: the same error from then on, and the same chunk. */
		assert_err(airlock_install_feed(&in, stream, len ? 1 : 0), err);
		assert_err(airlock_install_finish(&in), err);
		if (pos)
			assert_int_equal(airlock_install_position(&in), *pos);
	}
	airlock_install_free(&in);
	return err;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	snprintf(slot_path, sizeof slot_path, "%s/slot.img", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* ---- success in every shape ---- */

static const size_t sizes[] = { 0, 1, CS - 1, CS, CS + 1, 3 * CS, 3 * CS + 5 };
static const size_t pieces[] = { 0, 1, 7, CS - 1, CS + 1, PER + 1, SIZE_MAX };

static void check_sizes(bool encrypted)
{
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		struct rel r;
		rel_make(&r, sizes[i], encrypted, 1);
		for (size_t j = 0; j < sizeof pieces / sizeof pieces[0]; j++) {
			struct spy sp;
			uint64_t pos, n;
			spy_open(&sp, &r, cap_for(&r), true);
			assert_err(install(&sp, &r, r.stream, r.stream_len, pieces[j], key_of(&r), &pos), AIRLOCK_OK);
			assert_err(airlock_payload_chunks(r.size, CS, &n), AIRLOCK_OK);
			assert_int_equal(pos, n);
			assert_int_equal(sp.writes, n);   /* one write per chunk */
			assert_true(sp.syncs >= 1);
			assert_false(sp.bad_write);
			airlock_slot_close(&sp.outer);
			assert_slot(&r, r.size);
		}
		rel_free(&r);
	}
}

static void test_plain_sizes(void **state)
{
	(void)state;
	check_sizes(false);
}

static void test_encrypted_sizes(void **state)
{
	(void)state;
	check_sizes(true);
}

/* Exactly the capacity fits; one byte less is refused before any write. */
static void test_no_space(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r;
		struct spy sp;
		struct airlock_install in;
		rel_make(&r, 3 * CS + 9, e, 2);
		spy_open(&sp, &r, r.size - 1, true);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_ERR_NO_SPACE);
		airlock_install_free(&in);
		assert_int_equal(sp.writes, 0);
		airlock_slot_close(&sp.outer);
		spy_open(&sp, &r, r.size, true);
		assert_err(install(&sp, &r, r.stream, r.stream_len, 0, key_of(&r), NULL), AIRLOCK_OK);
		airlock_slot_close(&sp.outer);
		rel_free(&r);
	}
}

/* ---- tampering: the failing chunk is named, and nothing of it is written ---- */

static void expect_refused(const struct rel *r, const uint8_t *stream, size_t len, const uint8_t *key,
			   airlock_err want, uint64_t chunk)
{
	static const size_t ps[] = { 0, 1000, 1 };
	for (size_t j = 0; j < sizeof ps / sizeof ps[0]; j++) {
		struct spy sp;
		uint64_t pos;
		spy_open(&sp, r, cap_for(r), true);
		assert_err(install(&sp, r, stream, len, ps[j], key, &pos), want);
		assert_int_equal(pos, chunk);
		assert_false(sp.bad_write);
		assert_int_equal(sp.syncs, 0);
		airlock_slot_close(&sp.outer);
		assert_slot(r, (size_t)chunk * CS);
	}
}

static void test_tamper_plain(void **state)
{
	(void)state;
	struct rel r;
	rel_make(&r, 5 * CS + 100, false, 0);
	uint8_t *bad = malloc(r.size);
	assert_non_null(bad);
	static const size_t at[] = { 0, 1, CS - 1, 2 * CS + 77, 4 * CS, 5 * CS, 5 * CS + 99 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		memcpy(bad, r.plain, r.size);
		bad[at[i]] ^= 0x01;
		expect_refused(&r, bad, r.size, NULL, AIRLOCK_ERR_DIGEST_MISMATCH, at[i] / CS);
	}
	free(bad);
	rel_free(&r);
}

static void test_tamper_encrypted(void **state)
{
	(void)state;
	struct rel r;
	rel_make(&r, 5 * CS + 100, true, 3);
	uint8_t *bad = malloc(r.stream_len);
	assert_non_null(bad);
	/* Ciphertext and tag of the first, a middle, the last full and the
	 * short last chunk. */
	static const size_t at[] = { 0, CS, CS + 15, 2 * PER + 5, 5 * PER - 1, 5 * PER, 5 * PER + 100, 5 * PER + 115 };
	for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
		memcpy(bad, r.stream, r.stream_len);
		bad[at[i]] ^= 0x80;
		expect_refused(&r, bad, r.stream_len, r.key, AIRLOCK_ERR_AEAD_TAG, at[i] / PER);
	}
	/* A sweep of single-bit flips over the whole stream (A06). */
	for (size_t off = 3; off < r.stream_len; off += 61) {
		struct spy sp;
		uint64_t pos;
		memcpy(bad, r.stream, r.stream_len);
		bad[off] ^= (uint8_t)(1u << (off % 8));
		spy_open(&sp, &r, cap_for(&r), true);
		assert_err(install(&sp, &r, bad, r.stream_len, 0, r.key, &pos), AIRLOCK_ERR_AEAD_TAG);
		assert_int_equal(pos, off / PER);
		assert_false(sp.bad_write);
		assert_int_equal(sp.writes, off / PER);
		airlock_slot_close(&sp.outer);
	}
	free(bad);
	rel_free(&r);
}

/* A byte that decrypts fine but is not the signed plaintext: the key was
 * reused for another payload with the same prefix (or a release author's
 * mistake). The digest check still catches it. */
static void test_authentic_but_wrong(void **state)
{
	(void)state;
	struct rel a, b;
	rel_make(&a, 4 * CS, true, 4);
	rel_make(&b, 4 * CS, true, 4);   /* same key and prefix, other bytes */
	memcpy(b.plain, a.plain, 2 * CS);   /* chunks 0 and 1 agree */
	free(b.stream);
	seal(&b);
	expect_refused(&a, b.stream, b.stream_len, a.key, AIRLOCK_ERR_DIGEST_MISMATCH, 2);
	rel_free(&a);
	rel_free(&b);
}

static void test_truncated(void **state)
{
	(void)state;
	struct rel r;
	/* Plain: the last byte missing, the last chunk missing, nothing at all. */
	rel_make(&r, 3 * CS + 10, false, 0);
	expect_refused(&r, r.stream, r.stream_len - 1, NULL, AIRLOCK_ERR_SIZE_MISMATCH, 3);
	expect_refused(&r, r.stream, 3 * CS, NULL, AIRLOCK_ERR_SIZE_MISMATCH, 3);
	expect_refused(&r, r.stream, CS + 1, NULL, AIRLOCK_ERR_SIZE_MISMATCH, 1);
	expect_refused(&r, r.stream, 0, NULL, AIRLOCK_ERR_SIZE_MISMATCH, 0);
	rel_free(&r);
	/* Encrypted: cut at each chunk boundary (only the end says "last"), or
	 * inside a chunk. */
	rel_make(&r, 3 * CS + 10, true, 5);
	for (size_t k = 0; k <= 3; k++)   /* chunk k-1 ends the stream, sealed as "not last" */
		expect_refused(&r, r.stream, k * PER, r.key, AIRLOCK_ERR_AEAD_TRUNCATED, k ? k - 1 : 0);
	expect_refused(&r, r.stream, r.stream_len - 1, r.key, AIRLOCK_ERR_AEAD_TAG, 3);
	expect_refused(&r, r.stream, PER + 100, r.key, AIRLOCK_ERR_AEAD_TAG, 1);
	expect_refused(&r, r.stream, PER + 5, r.key, AIRLOCK_ERR_AEAD_TRUNCATED, 1);
	rel_free(&r);
	/* The empty payload's stream is one 16-byte chunk: missing it is caught. */
	rel_make(&r, 0, true, 5);
	expect_refused(&r, r.stream, 0, r.key, AIRLOCK_ERR_AEAD_TRUNCATED, 0);
	expect_refused(&r, r.stream, 15, r.key, AIRLOCK_ERR_AEAD_TRUNCATED, 0);
	rel_free(&r);
}

/* One byte past the signed size: refused, and never written (A10). */
static void test_extended(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r;
		struct spy sp;
		struct airlock_install in;
		rel_make(&r, 3 * CS + 10, e, 6);
		uint8_t *longer = malloc(r.stream_len + 1);
		assert_non_null(longer);
		memcpy(longer, r.stream, r.stream_len);
		longer[r.stream_len] = 0x42;
		/* In one piece: refused before any byte of it is used. */
		spy_open(&sp, &r, cap_for(&r), true);
		assert_err(install(&sp, &r, longer, r.stream_len + 1, 0, key_of(&r), NULL), AIRLOCK_ERR_TOO_LARGE);
		assert_int_equal(sp.writes, 0);
		airlock_slot_close(&sp.outer);
		assert_slot(&r, 0);
		/* The whole stream, then one more byte: the verified chunks are
		 * written (an encrypted stream's last one still waits for the end),
		 * the extra byte is not, and finish() refuses. */
		spy_open(&sp, &r, cap_for(&r), true);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, longer, r.stream_len), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, longer + r.stream_len, 1), AIRLOCK_ERR_TOO_LARGE);
		assert_int_equal(airlock_install_position(&in), e ? 3 : 4);
		assert_err(airlock_install_finish(&in), AIRLOCK_ERR_TOO_LARGE);
		airlock_install_free(&in);
		assert_false(sp.bad_write);
		assert_int_equal(sp.syncs, 0);
		airlock_slot_close(&sp.outer);
		assert_slot(&r, e ? 3 * CS : r.size);
		free(longer);
		rel_free(&r);
	}
}

/* A stream whose chunk 1 is sealed as the last, with more bytes after it
 * (same key and prefix: a shorter release's stream with a tail glued on). */
static void test_aead_extended(void **state)
{
	(void)state;
	struct rel a, b;
	rel_make(&a, 4 * CS, true, 7);
	rel_make(&b, 2 * CS, true, 7);
	memcpy(b.plain, a.plain, 2 * CS);
	free(b.stream);
	seal(&b);
	uint8_t *s = malloc(a.stream_len);
	assert_non_null(s);
	memcpy(s, b.stream, b.stream_len);
	memcpy(s + b.stream_len, a.stream + b.stream_len, a.stream_len - b.stream_len);
	expect_refused(&a, s, a.stream_len, a.key, AIRLOCK_ERR_AEAD_EXTENDED, 1);
	free(s);
	rel_free(&a);
	rel_free(&b);
}

/* ---- refusals before the first write ---- */

static void test_list_tampered(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r, other;
		struct spy sp;
		struct airlock_install in;
		rel_make(&r, 3 * CS + 1, e, 8);
		rel_make(&other, 3 * CS + 1, e, 8);
		spy_open(&sp, &r, cap_for(&r), true);
		for (size_t i = 0; i < r.list_len; i += 37) {
			r.list[i] ^= 4;
			assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer),
				   AIRLOCK_ERR_DIGEST_MISMATCH);
			airlock_install_free(&in);
			r.list[i] ^= 4;
		}
		/* Another payload's list, one entry short, one entry long. */
		assert_err(airlock_install_init(&in, &r.p, other.list, other.list_len, key_of(&r), &sp.outer),
			   AIRLOCK_ERR_DIGEST_MISMATCH);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len - 32, key_of(&r), &sp.outer),
			   AIRLOCK_ERR_SIZE_MISMATCH);
		uint8_t *longer = calloc(1, r.list_len + 32);
		assert_non_null(longer);
		memcpy(longer, r.list, r.list_len);
		assert_err(airlock_install_init(&in, &r.p, longer, r.list_len + 32, key_of(&r), &sp.outer),
			   AIRLOCK_ERR_SIZE_MISMATCH);
		assert_err(airlock_install_init(&in, &r.p, NULL, 0, key_of(&r), &sp.outer), AIRLOCK_ERR_SIZE_MISMATCH);
		free(longer);
		assert_int_equal(sp.writes + sp.reads + sp.syncs, 0);
		airlock_slot_close(&sp.outer);
		assert_slot(&r, 0);
		rel_free(&r);
		rel_free(&other);
	}
}

static void test_wrong_key(void **state)
{
	(void)state;
	struct rel r, other;
	rel_make(&r, 3 * CS + 1, true, 9);
	rel_make(&other, 16, true, 10);
	expect_refused(&r, r.stream, r.stream_len, other.key, AIRLOCK_ERR_AEAD_TAG, 0);
	/* The empty payload too: its one chunk is authenticated. */
	struct rel e;
	rel_make(&e, 0, true, 9);
	expect_refused(&e, e.stream, e.stream_len, other.key, AIRLOCK_ERR_AEAD_TAG, 0);
	rel_free(&e);
	rel_free(&r);
	rel_free(&other);
}

/* The payload of another (validly signed) release (A05): refused at the
 * first chunk, before anything is written. */
static void test_mix_and_match(void **state)
{
	(void)state;
	struct rel a, b;
	rel_make(&a, 4 * CS + 3, false, 0);
	rel_make(&b, 4 * CS + 3, false, 0);
	expect_refused(&a, b.stream, b.stream_len, NULL, AIRLOCK_ERR_DIGEST_MISMATCH, 0);
	rel_free(&a);
	rel_free(&b);
	/* Encrypted: another release's stream (its own key and prefix), given
	 * this release's key; then the same key with another prefix. */
	rel_make(&a, 4 * CS + 3, true, 11);
	rel_make(&b, 4 * CS + 3, true, 12);
	expect_refused(&a, b.stream, b.stream_len, a.key, AIRLOCK_ERR_AEAD_TAG, 0);
	rel_free(&b);
	rel_make(&b, 4 * CS + 3, true, 11);
	memcpy(b.plain, a.plain, b.size);
	b.prefix[7] ^= 1;
	free(b.stream);
	seal(&b);
	expect_refused(&a, b.stream, b.stream_len, a.key, AIRLOCK_ERR_AEAD_TAG, 0);
	rel_free(&a);
	rel_free(&b);
}

/* ---- slot faults ---- */

static void test_slot_faults(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r;
		struct spy sp;
		struct airlock_install in;
		uint64_t pos;
		rel_make(&r, 4 * CS + 3, e, 13);
		/* The third write fails: named, sticky, never OK. */
		spy_open(&sp, &r, cap_for(&r), true);
		sp.fail_write_at = 2;
		assert_err(install(&sp, &r, r.stream, r.stream_len, 999, key_of(&r), &pos), AIRLOCK_ERR_IO_WRITE);
		assert_int_equal(pos, 2);
		assert_int_equal(sp.writes, 3);
		airlock_slot_close(&sp.outer);
		assert_slot(&r, 2 * CS);
		/* Disk full on the last chunk. */
		spy_open(&sp, &r, cap_for(&r), true);
		sp.fail_write_at = 4;
		sp.fail_with = AIRLOCK_ERR_NO_SPACE;
		assert_err(install(&sp, &r, r.stream, r.stream_len, 0, key_of(&r), &pos), AIRLOCK_ERR_NO_SPACE);
		assert_int_equal(pos, 4);
		airlock_slot_close(&sp.outer);
		/* The final sync fails: finish() is not OK. */
		spy_open(&sp, &r, cap_for(&r), true);
		sp.fail_sync_at = 0;
		assert_err(install(&sp, &r, r.stream, r.stream_len, 0, key_of(&r), &pos), AIRLOCK_ERR_IO_SYNC);
		assert_int_equal(pos, 5);
		airlock_slot_close(&sp.outer);
		/* A checkpoint whose sync fails gives no record and stops the install. */
		spy_open(&sp, &r, cap_for(&r), true);
		sp.fail_sync_at = 0;
		struct airlock_install_progress rec;
		memset(&rec, 0x77, sizeof rec);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, r.stream, 2 * PER), AIRLOCK_OK);
		assert_err(airlock_install_checkpoint(&in, &rec), AIRLOCK_ERR_IO_SYNC);
		assert_int_equal(rec.chunks_done, 0x7777777777777777ull);
		assert_err(airlock_install_feed(&in, r.stream + 2 * PER, 1), AIRLOCK_ERR_IO_SYNC);
		airlock_install_free(&in);
		airlock_slot_close(&sp.outer);
		rel_free(&r);
	}
}

/* ---- resume ---- */

/* Installs up to `cut`, checkpoints, "dies"; returns the encoded record. */
static void run_until(const struct rel *r, size_t cut, bool fresh, uint8_t rec_bytes[AIRLOCK_INSTALL_PROGRESS_LEN],
		      const uint8_t *resume_from)
{
	struct spy sp;
	struct airlock_install in;
	struct airlock_install_progress rec;
	size_t start = 0;
	spy_open(&sp, r, cap_for(r), fresh);
	assert_err(airlock_install_init(&in, &r->p, r->list, r->list_len, key_of(r), &sp.outer), AIRLOCK_OK);
	if (resume_from) {
		struct airlock_install_resumed res;
		assert_err(airlock_install_progress_decode(resume_from, AIRLOCK_INSTALL_PROGRESS_LEN, &rec), AIRLOCK_OK);
		assert_err(airlock_install_resume(&in, &rec, &res), AIRLOCK_OK);
		assert_err(res.restart, AIRLOCK_OK);
		start = (size_t)rec.stream_offset;
	}
	assert_err(feed(&in, r->stream, start, cut, 1000), AIRLOCK_OK);
	assert_err(airlock_install_checkpoint(&in, &rec), AIRLOCK_OK);
	airlock_install_progress_encode(&rec, rec_bytes);
	airlock_install_free(&in);
	assert_false(sp.bad_write);
	airlock_slot_close(&sp.outer);
}

/* Resumes from a record and runs to the end; returns what resume did. */
static struct airlock_install_resumed resume_to_end(const struct rel *r, const uint8_t *rec_bytes,
						    unsigned *reads)
{
	struct spy sp;
	struct airlock_install in;
	struct airlock_install_progress rec;
	struct airlock_install_resumed res;
	spy_open(&sp, r, cap_for(r), false);
	assert_err(airlock_install_progress_decode(rec_bytes, AIRLOCK_INSTALL_PROGRESS_LEN, &rec), AIRLOCK_OK);
	assert_err(airlock_install_init(&in, &r->p, r->list, r->list_len, key_of(r), &sp.outer), AIRLOCK_OK);
	assert_err(airlock_install_resume(&in, &rec, &res), AIRLOCK_OK);
	assert_int_equal(airlock_install_position(&in), res.chunk);
	uint64_t from = airlock_install_stream_offset(&in);
	if (res.restart == AIRLOCK_OK)
		assert_int_equal(from, rec.stream_offset);
	else
		assert_int_equal(from, 0);
	assert_err(feed(&in, r->stream, (size_t)from, r->stream_len, 777), AIRLOCK_OK);
	assert_err(airlock_install_finish(&in), AIRLOCK_OK);
	airlock_install_free(&in);
	assert_false(sp.bad_write);
	if (reads)
		*reads = sp.reads;
	airlock_slot_close(&sp.outer);
	assert_slot(r, r->size);
	return res;
}

static void test_resume(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r;
		rel_make(&r, 6 * CS + 77, e, 14);
		const size_t per = e ? PER : CS;
		const size_t cuts[] = { 0, 1, CS / 2, per - 1, per, per + 1, 3 * per, 3 * per + 5, 6 * per,
					6 * per + 1, r.stream_len - 1, r.stream_len };
		for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
			uint8_t rec_bytes[AIRLOCK_INSTALL_PROGRESS_LEN];
			struct airlock_install_progress rec;
			unsigned reads;
			size_t cut = cuts[i];
			run_until(&r, cut, true, rec_bytes, NULL);
			assert_err(airlock_install_progress_decode(rec_bytes, sizeof rec_bytes, &rec), AIRLOCK_OK);
			/* Plain: every whole chunk. Encrypted: a full chunk only once a
			 * byte after it arrived (the last one waits for finish()). */
			uint64_t want = e ? (cut ? (cut - 1) / PER : 0) : cut == r.size ? 7 : cut / CS;
			assert_int_equal(rec.chunks_done, want);
			assert_true(rec.stream_offset <= cut);
			assert_int_equal(rec.stream_offset, want == 7 ? r.stream_len : want * per);
			struct airlock_install_resumed res = resume_to_end(&r, rec_bytes, &reads);
			assert_err(res.restart, AIRLOCK_OK);
			assert_int_equal(res.chunk, want);
			assert_int_equal(reads, want);   /* each done chunk re-read once */
		}
		/* Cut, resume, cut again, resume: records chain. */
		uint8_t r1[AIRLOCK_INSTALL_PROGRESS_LEN], r2[AIRLOCK_INSTALL_PROGRESS_LEN];
		run_until(&r, 2 * per + 3, true, r1, NULL);
		run_until(&r, 5 * per + 3, false, r2, r1);
		assert_int_equal(resume_to_end(&r, r2, NULL).chunk, 5);
		/* An old record while the slot holds more: resumes at the record. */
		run_until(&r, 1 * per + 3, true, r1, NULL);
		run_until(&r, 4 * per + 3, false, r2, r1);
		assert_int_equal(resume_to_end(&r, r1, NULL).chunk, 1);
		rel_free(&r);
	}
}

/* Every chunk done, killed before the caller marked the slot pending:
 * nothing left to fetch, finish() re-checks and syncs. */
static void test_resume_complete(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r;
		struct spy sp;
		struct airlock_install in;
		struct airlock_install_progress rec;
		struct airlock_install_resumed res;
		rel_make(&r, 2 * CS + 1, e, 15);
		spy_open(&sp, &r, cap_for(&r), true);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, r.stream, r.stream_len), AIRLOCK_OK);
		assert_err(airlock_install_finish(&in), AIRLOCK_OK);
		assert_err(airlock_install_checkpoint(&in, &rec), AIRLOCK_OK);
		airlock_install_free(&in);
		assert_int_equal(rec.chunks_done, 3);
		assert_int_equal(rec.stream_offset, r.stream_len);
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
		assert_err(airlock_install_resume(&in, &rec, &res), AIRLOCK_OK);
		assert_int_equal(res.chunk, 3);
		assert_int_equal(airlock_install_stream_offset(&in), airlock_install_stream_size(&in));
		assert_err(airlock_install_finish(&in), AIRLOCK_OK);
		airlock_install_free(&in);
		/* The same, with a byte too many offered: refused. */
		assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
		assert_err(airlock_install_resume(&in, &rec, &res), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, r.stream, 1), AIRLOCK_ERR_TOO_LARGE);
		airlock_install_free(&in);
		assert_false(sp.bad_write);
		airlock_slot_close(&sp.outer);
		rel_free(&r);
	}
}

/* The slot changed behind our back: found on re-read, restarted at 0. */
static void test_resume_altered(void **state)
{
	(void)state;
	for (int e = 0; e < 2; e++) {
		struct rel r, other;
		uint8_t rec_bytes[AIRLOCK_INSTALL_PROGRESS_LEN];
		struct airlock_install_progress rec;
		const size_t per = e ? PER : CS;
		rel_make(&r, 6 * CS + 77, e, 16);
		rel_make(&other, 6 * CS + 77, e, 17);
		run_until(&r, 4 * per + 9, true, rec_bytes, NULL);
		/* One byte of chunk 2 changes on the medium. */
		struct airlock_slot raw;
		uint8_t b;
		assert_err(airlock_slot_open(&raw, "file", slot_path, 0, 0), AIRLOCK_OK);
		assert_err(airlock_slot_read(&raw, 2 * CS + 300, &b, 1), AIRLOCK_OK);
		b ^= 0x10;
		assert_err(airlock_slot_write(&raw, 2 * CS + 300, &b, 1), AIRLOCK_OK);
		airlock_slot_close(&raw);
		struct airlock_install_resumed res = resume_to_end(&r, rec_bytes, NULL);
		assert_err(res.restart, AIRLOCK_ERR_DIGEST_MISMATCH);
		assert_int_equal(res.bad_chunk, 2);
		assert_int_equal(res.chunk, 0);

		/* Records that do not fit this payload: restart, nothing re-read. */
		run_until(&r, 4 * per + 9, true, rec_bytes, NULL);
		assert_err(airlock_install_progress_decode(rec_bytes, sizeof rec_bytes, &rec), AIRLOCK_OK);
		struct airlock_install_progress bad[5];
		for (size_t i = 0; i < 5; i++)
			bad[i] = rec;
		memcpy(bad[0].payload_digest, other.digest, 32);
		bad[1].chunks_done = 8;
		bad[1].stream_offset = 8 * per;
		bad[2].stream_offset += 1;
		bad[3].encrypted = !bad[3].encrypted;
		bad[4].payload_size += 1;
		for (size_t i = 0; i < 5; i++) {
			struct spy sp;
			struct airlock_install in;
			spy_open(&sp, &r, cap_for(&r), false);
			assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
			assert_err(airlock_install_resume(&in, &bad[i], &res), AIRLOCK_OK);
			assert_err(res.restart, AIRLOCK_ERR_STATE);
			assert_int_equal(res.chunk, 0);
			assert_int_equal(sp.reads, 0);
			assert_int_equal(airlock_install_stream_offset(&in), 0);
			assert_err(feed(&in, r.stream, 0, r.stream_len, 0), AIRLOCK_OK);
			assert_err(airlock_install_finish(&in), AIRLOCK_OK);
			airlock_install_free(&in);
			airlock_slot_close(&sp.outer);
		}
		/* A resumed install is checked as strictly as a fresh one: a bad
		 * byte after the resume point is still refused at its chunk. */
		run_until(&r, 2 * per + 1, true, rec_bytes, NULL);
		{
			struct spy sp;
			struct airlock_install in;
			uint8_t *s = malloc(r.stream_len);
			assert_non_null(s);
			memcpy(s, r.stream, r.stream_len);
			s[3 * per + 1] ^= 1;
			spy_open(&sp, &r, cap_for(&r), false);
			assert_err(airlock_install_progress_decode(rec_bytes, sizeof rec_bytes, &rec), AIRLOCK_OK);
			assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, key_of(&r), &sp.outer), AIRLOCK_OK);
			assert_err(airlock_install_resume(&in, &rec, &res), AIRLOCK_OK);
			assert_int_equal(rec.chunks_done, 2);
			assert_err(feed(&in, s, 2 * per, r.stream_len, 0), e ? AIRLOCK_ERR_AEAD_TAG : AIRLOCK_ERR_DIGEST_MISMATCH);
			assert_int_equal(airlock_install_position(&in), 3);
			airlock_install_free(&in);
			assert_false(sp.bad_write);
			assert_int_equal(sp.writes, 1);   /* chunk 2 only */
			airlock_slot_close(&sp.outer);
			free(s);
		}
		rel_free(&r);
		rel_free(&other);
	}
}

/* ---- the progress record's bytes ---- */

static uint64_t fnv(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static void reseal(uint8_t *b)
{
	uint64_t h = fnv(b, 68);
	for (int i = 0; i < 8; i++)
		b[68 + i] = (uint8_t)(h >> (56 - 8 * i));
}

static void test_progress_codec(void **state)
{
	(void)state;
	struct airlock_install_progress a, b;
	uint8_t enc[AIRLOCK_INSTALL_PROGRESS_LEN], x[AIRLOCK_INSTALL_PROGRESS_LEN];
	memset(&a, 0, sizeof a);
	for (int i = 0; i < 32; i++)
		a.payload_digest[i] = (uint8_t)(i * 3 + 1);
	a.payload_size = 0x0102030405060708ull;
	a.chunk_size = 65536;
	a.encrypted = true;
	a.chunks_done = 77;
	a.stream_offset = 77ull * (65536 + 16);
	airlock_install_progress_encode(&a, enc);
	assert_memory_equal(enc, "AIP1", 4);
	assert_int_equal(enc[36], 0x01);   /* big-endian size */
	assert_int_equal(enc[43], 0x08);
	assert_err(airlock_install_progress_decode(enc, sizeof enc, &b), AIRLOCK_OK);
	assert_memory_equal(b.payload_digest, a.payload_digest, 32);
	assert_int_equal(b.payload_size, a.payload_size);
	assert_int_equal(b.chunk_size, a.chunk_size);
	assert_true(b.encrypted);
	assert_int_equal(b.chunks_done, a.chunks_done);
	assert_int_equal(b.stream_offset, a.stream_offset);
	/* Any torn or flipped byte is caught. */
	for (size_t i = 0; i < sizeof enc; i++) {
		memcpy(x, enc, sizeof x);
		x[i] ^= 0x20;
		assert_err(airlock_install_progress_decode(x, sizeof x, &b), AIRLOCK_ERR_MALFORMED);
	}
	assert_err(airlock_install_progress_decode(enc, sizeof enc - 1, &b), AIRLOCK_ERR_MALFORMED);
	assert_err(airlock_install_progress_decode(NULL, 0, &b), AIRLOCK_ERR_MALFORMED);
	/* Well-formed but not allowed: unknown flags, a chunk size off the rules. */
	memcpy(x, enc, sizeof x);
	x[51] = 3;
	reseal(x);
	assert_err(airlock_install_progress_decode(x, sizeof x, &b), AIRLOCK_ERR_BAD_VALUE);
	memcpy(x, enc, sizeof x);
	x[46] = 0x10;   /* chunk size 0x00011000 */
	reseal(x);
	assert_err(airlock_install_progress_decode(x, sizeof x, &b), AIRLOCK_ERR_BAD_VALUE);
	memcpy(x, enc, sizeof x);
	reseal(x);
	assert_err(airlock_install_progress_decode(x, sizeof x, &b), AIRLOCK_OK);
}

/* ---- misuse ---- */

static void test_misuse(void **state)
{
	(void)state;
	struct rel r, e;
	struct spy sp;
	struct airlock_install in;
	struct airlock_install_progress rec;
	rel_make(&r, 2 * CS, false, 0);
	rel_make(&e, 2 * CS, true, 18);
	spy_open(&sp, &r, cap_for(&r), true);
	/* Key where none belongs, none where one does. */
	assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, e.key, &sp.outer), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_init(&in, &e.p, e.list, e.list_len, NULL, &sp.outer), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_init(NULL, &r.p, r.list, r.list_len, NULL, &sp.outer), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	/* Metadata the pipeline cannot follow. */
	struct airlock_payload p = e.p;
	p.enc.size += 1;
	assert_err(airlock_install_init(&in, &p, e.list, e.list_len, e.key, &sp.outer), AIRLOCK_ERR_BAD_VALUE);
	p = e.p;
	p.enc.alg = 2;
	assert_err(airlock_install_init(&in, &p, e.list, e.list_len, e.key, &sp.outer), AIRLOCK_ERR_UNSUPPORTED_ALG);
	p = r.p;
	p.chunk_size = 1000;
	assert_err(airlock_install_init(&in, &p, r.list, r.list_len, NULL, &sp.outer), AIRLOCK_ERR_BAD_VALUE);
	/* A context that never initialised refuses everything. */
	assert_err(airlock_install_feed(&in, r.plain, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_finish(&in), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_checkpoint(&in, &rec), AIRLOCK_ERR_INVALID_ARG);
	airlock_install_free(&in);
	airlock_install_free(NULL);

	assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, NULL, &sp.outer), AIRLOCK_OK);
	assert_err(airlock_install_feed(&in, NULL, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_feed(&in, NULL, 0), AIRLOCK_OK);
	assert_err(airlock_install_feed(&in, r.plain, 10), AIRLOCK_OK);
	/* Resume only before the stream starts. */
	assert_err(airlock_install_checkpoint(&in, &rec), AIRLOCK_OK);
	assert_err(airlock_install_resume(&in, &rec, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_feed(&in, r.plain + 10, r.size - 10), AIRLOCK_OK);
	assert_err(airlock_install_finish(&in), AIRLOCK_OK);
	assert_err(airlock_install_finish(&in), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_install_feed(&in, r.plain, 1), AIRLOCK_ERR_INVALID_ARG);
	airlock_install_free(&in);
	airlock_install_free(&in);

	assert_err(airlock_install_init(&in, &r.p, r.list, r.list_len, NULL, &sp.outer), AIRLOCK_OK);
	assert_err(airlock_install_resume(&in, &rec, NULL), AIRLOCK_OK);
	assert_err(airlock_install_resume(&in, &rec, NULL), AIRLOCK_ERR_INVALID_ARG);
	airlock_install_free(&in);
	airlock_slot_close(&sp.outer);
	rel_free(&r);
	rel_free(&e);
}

/* airlock_aead_dec_seek(), which resume relies on (lib/aead.c): only before
 * the first byte, and a chunk sealed for another index fails its tag. */
static void test_aead_seek(void **state)
{
	(void)state;
	struct rel r;
	struct airlock_aead_dec dec;
	uint8_t *buf = malloc(AIRLOCK_AEAD_DEC_BUF(CS));
	assert_non_null(buf);
	rel_make(&r, 3 * CS + 5, true, 19);
	assert_err(airlock_aead_dec_init(&dec, r.key, r.prefix, CS, buf, AIRLOCK_AEAD_DEC_BUF(CS)), AIRLOCK_OK);
	assert_err(airlock_aead_dec_seek(&dec, AIRLOCK_AEAD_MAX_CHUNKS), AIRLOCK_ERR_LIMIT);
	assert_err(airlock_aead_dec_seek(&dec, 2), AIRLOCK_OK);
	assert_err(airlock_aead_dec_seek(&dec, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_dec_update(&dec, r.stream + 2 * PER, r.stream_len - 2 * PER, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_aead_dec_final(&dec, NULL, NULL), AIRLOCK_OK);
	assert_int_equal(airlock_aead_dec_position(&dec), 4);
	airlock_aead_dec_free(&dec);
	/* Chunk 2's bytes presented as chunk 1. */
	assert_err(airlock_aead_dec_init(&dec, r.key, r.prefix, CS, buf, AIRLOCK_AEAD_DEC_BUF(CS)), AIRLOCK_OK);
	assert_err(airlock_aead_dec_seek(&dec, 1), AIRLOCK_OK);
	assert_err(airlock_aead_dec_update(&dec, r.stream + 2 * PER, r.stream_len - 2 * PER, NULL, NULL),
		   AIRLOCK_ERR_AEAD_TAG);
	assert_int_equal(airlock_aead_dec_position(&dec), 1);
	airlock_aead_dec_free(&dec);
	/* Not after the first byte. */
	assert_err(airlock_aead_dec_init(&dec, r.key, r.prefix, CS, buf, AIRLOCK_AEAD_DEC_BUF(CS)), AIRLOCK_OK);
	assert_err(airlock_aead_dec_update(&dec, r.stream, 1, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_aead_dec_seek(&dec, 1), AIRLOCK_ERR_INVALID_ARG);
	airlock_aead_dec_free(&dec);
	assert_err(airlock_aead_dec_seek(&dec, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_aead_dec_seek(NULL, 1), AIRLOCK_ERR_INVALID_ARG);
	free(buf);
	rel_free(&r);
}

/* ---- a large image: memory stays one chunk ---- */

/*
 * 64 MiB, encrypted, 64 KiB chunks, generated and sealed chunk by chunk so
 * that the test itself holds no image either. Peak memory is measured from
 * outside (docs/install.md: /usr/bin/time -v with AIRLOCK_TEST_FILTER=
 * test_large_image); no timing or memory is asserted here.
 */
#ifndef AIRLOCK_TEST_BIG
#define BIG (64u << 20)
#else
#define BIG AIRLOCK_TEST_BIG   /* to compare peak memory at other sizes */
#endif
#define BIG_CS (64u * 1024u)

static void big_chunk(uint64_t i, uint8_t *out)
{
	uint64_t s = 0x1234567u + i * 0x9E3779B97F4A7C15ull;
	for (size_t k = 0; k < BIG_CS; k += 8) {
		s ^= s << 13;
		s ^= s >> 7;
		s ^= s << 17;
		memcpy(out + k, &s, 8);
	}
}

static void test_large_image(void **state)
{
	(void)state;
	const uint64_t n = BIG / BIG_CS;
	uint8_t *list = malloc(n * 32), *chunk = malloc(BIG_CS + AIRLOCK_AEAD_TAG_LEN), digest[32];
	uint8_t key[32], prefix[8], enc_sha[32] = { 0 };
	assert_non_null(list);
	assert_non_null(chunk);
	memset(key, 0x5c, sizeof key);
	memset(prefix, 0xa5, sizeof prefix);
	for (uint64_t i = 0; i < n; i++) {
		big_chunk(i, chunk);
		assert_err(airlock_sha256(chunk, BIG_CS, list + 32 * i), AIRLOCK_OK);
	}
	assert_err(airlock_sha256(list, n * 32, digest), AIRLOCK_OK);
	struct airlock_payload p;
	memset(&p, 0, sizeof p);
	p.size = BIG;
	p.chunk_size = BIG_CS;
	p.digest = digest;
	p.encrypted = true;
	p.enc.alg = AIRLOCK_ENC_AES256GCM_CHUNKED;
	p.enc.nonce_prefix = prefix;
	p.enc.sha256 = enc_sha;
	assert_err(airlock_aead_ciphertext_size(BIG, BIG_CS, &p.enc.size), AIRLOCK_OK);

	struct airlock_slot slot;
	struct airlock_install in;
	struct airlock_aead_enc enc;
	char path[600];
	snprintf(path, sizeof path, "%s/big.img", dir);
	assert_err(airlock_slot_open(&slot, "file", path, BIG, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	assert_err(airlock_install_init(&in, &p, list, n * 32, key, &slot), AIRLOCK_OK);
	assert_err(airlock_aead_enc_init(&enc, key, prefix, BIG_CS), AIRLOCK_OK);
	for (uint64_t i = 0; i < n; i++) {
		big_chunk(i, chunk);
		assert_err(airlock_aead_enc_chunk(&enc, chunk, BIG_CS, i == n - 1, chunk), AIRLOCK_OK);
		/* Fed in two uneven pieces, as a network would. */
		assert_err(airlock_install_feed(&in, chunk, 1000), AIRLOCK_OK);
		assert_err(airlock_install_feed(&in, chunk + 1000, BIG_CS + AIRLOCK_AEAD_TAG_LEN - 1000), AIRLOCK_OK);
	}
	airlock_aead_enc_free(&enc);
	assert_err(airlock_install_finish(&in), AIRLOCK_OK);
	airlock_install_free(&in);
	/* What landed in the slot is the image, chunk by chunk. */
	for (uint64_t i = 0; i < n; i++) {
		uint8_t d[32];
		assert_err(airlock_slot_read(&slot, i * BIG_CS, chunk, BIG_CS), AIRLOCK_OK);
		assert_err(airlock_sha256(chunk, BIG_CS, d), AIRLOCK_OK);
		assert_memory_equal(d, list + 32 * i, 32);
	}
	airlock_slot_close(&slot);
	remove(path);
	free(list);
	free(chunk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_sizes),
		cmocka_unit_test(test_encrypted_sizes),
		cmocka_unit_test(test_no_space),
		cmocka_unit_test(test_tamper_plain),
		cmocka_unit_test(test_tamper_encrypted),
		cmocka_unit_test(test_authentic_but_wrong),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_extended),
		cmocka_unit_test(test_aead_extended),
		cmocka_unit_test(test_list_tampered),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_mix_and_match),
		cmocka_unit_test(test_slot_faults),
		cmocka_unit_test(test_resume),
		cmocka_unit_test(test_resume_complete),
		cmocka_unit_test(test_resume_altered),
		cmocka_unit_test(test_progress_codec),
		cmocka_unit_test(test_misuse),
		cmocka_unit_test(test_aead_seek),
		cmocka_unit_test(test_large_image),
	};
	const char *filter = getenv("AIRLOCK_TEST_FILTER");
	if (filter)
		cmocka_set_test_filter(filter);
	return cmocka_run_group_tests(tests, setup, teardown);
}
