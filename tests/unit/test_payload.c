/*
 * Chunked payload digests (lib/payload.c): chunk counts, the digest scheme
 * against known answers, streaming in any split, the chunk-digest list, and
 * the streaming check's refusals (digest, size, length) and their stickiness.
 *
 * Known answers were computed independently with Python's hashlib:
 *   SHA-256("")                                = e3b0c442...b855
 *   SHA-256(4096 zero bytes)                   = ad7facb2...2ca7
 *   SHA-256(SHA-256(4096 zero bytes))          = bb9112be...6144
 *   pattern(i) = (7 i + 3) mod 256, 10000 bytes, chunk 4096:
 *   SHA-256(SHA-256(c0) || SHA-256(c1) || SHA-256(c2)) = d23105c8...0328
 */
#include <stdlib.h>
#include <string.h>

#include "airlock/payload.h"
#include "testutil.h"

#define CHUNK 4096u
#define KAT_EMPTY "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define KAT_ZERO_CHUNK "ad7facb2586fc6e966c004d7d1d16b024f5805ff7cb47c7a85dabd8b48892ca7"
#define KAT_ZERO_PAYLOAD "bb9112be14e7f7bedba9636f28a83d12784188a1aca78da399c6e61e35f06144"
#define KAT_PATTERN_PAYLOAD "d23105c86bdd4ef662158bcd5998cc87b1307351032bcb66be0bcb35373a0328"

static void fill_pattern(uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
}

/* Small deterministic PRNG (xorshift64*) for the random splits. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

/* Independent computation of the chunk-digest list and the payload digest,
 * from airlock_sha256 alone. list must hold 32 bytes per chunk. */
static size_t ref_list(const uint8_t *data, size_t len, uint32_t chunk, uint8_t *list, uint8_t digest[32])
{
	size_t n = 0;
	for (size_t off = 0; off < len; off += chunk, n++) {
		size_t take = len - off < chunk ? len - off : chunk;
		assert_err(airlock_sha256(data + off, take, list + 32 * n), AIRLOCK_OK);
	}
	assert_err(airlock_sha256(list, 32 * n, digest), AIRLOCK_OK);
	return 32 * n;
}

/* Digest by airlock_payload_hash_init + update in one call + final. */
static void hash_oneshot(const uint8_t *data, size_t len, uint32_t chunk, uint8_t out[32])
{
	struct airlock_payload_check c;
	assert_err(airlock_payload_hash_init(&c, len, chunk, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, len), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(&c, out), AIRLOCK_OK);
}

static void test_chunk_counts(void **state)
{
	(void)state;
	static const struct { uint64_t size; uint64_t n; } cases[] = {
		{ 0, 0 }, { 1, 1 }, { CHUNK - 1, 1 }, { CHUNK, 1 }, { CHUNK + 1, 2 },
		{ 3 * CHUNK, 3 }, { 3 * CHUNK + 1, 4 }, { UINT64_MAX, UINT64_MAX / CHUNK + 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint64_t n = 12345;
		assert_err(airlock_payload_chunks(cases[i].size, CHUNK, &n), AIRLOCK_OK);
		assert_int_equal(n, cases[i].n);
	}
	uint64_t n;
	assert_err(airlock_payload_chunks(AIRLOCK_CHUNK_MAX, AIRLOCK_CHUNK_MAX, &n), AIRLOCK_OK);
	assert_int_equal(n, 1);
	assert_err(airlock_payload_chunks(AIRLOCK_CHUNK_MAX + 1ull, AIRLOCK_CHUNK_MAX, &n), AIRLOCK_OK);
	assert_int_equal(n, 2);
}

static void test_chunk_size_refused(void **state)
{
	(void)state;
	static const uint32_t bad[] = { 0, 1, 2048, CHUNK - 1, CHUNK + 1, 6144, 3 * CHUNK, 65535,
					AIRLOCK_CHUNK_MAX * 2u, AIRLOCK_CHUNK_MAX + 1u, 0x80000000u, UINT32_MAX };
	uint64_t n;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_err(airlock_payload_chunks(100, bad[i], &n), AIRLOCK_ERR_BAD_VALUE);
		struct airlock_payload_check c;
		assert_err(airlock_payload_hash_init(&c, 100, bad[i], NULL, NULL), AIRLOCK_ERR_BAD_VALUE);
		uint8_t digest[32] = { 0 };
		struct airlock_payload p = { .size = 100, .chunk_size = bad[i], .digest = digest };
		assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_ERR_BAD_VALUE);
		assert_err(airlock_payload_list_verify(&p, digest, 32), AIRLOCK_ERR_BAD_VALUE);
	}
}

static void test_kat_empty(void **state)
{
	(void)state;
	uint8_t want[32], got[32];
	test_hex(KAT_EMPTY, want, sizeof want);
	hash_oneshot(NULL, 0, CHUNK, got);
	assert_memory_equal(got, want, 32);

	/* A check against that digest passes with no bytes and no list, and with
	 * an empty list. */
	struct airlock_payload p = { .size = 0, .chunk_size = CHUNK, .digest = want };
	struct airlock_payload_check c;
	assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(&c, got), AIRLOCK_OK);
	assert_memory_equal(got, want, 32);
	uint8_t empty[1];
	assert_err(airlock_payload_list_verify(&p, empty, 0), AIRLOCK_OK);
	assert_err(airlock_payload_check_init(&c, &p, empty), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_OK);
	/* With an empty payload there is no chunk to hand over. */
	assert_err(airlock_payload_check_init(&c, &p, empty), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, empty, 0), AIRLOCK_ERR_TOO_LARGE);
	airlock_payload_check_free(&c);
}

static void test_kat_zero_chunk(void **state)
{
	(void)state;
	uint8_t *zeros = calloc(1, CHUNK);
	assert_non_null(zeros);
	uint8_t inner[32], outer[32], want_inner[32], want[32], got[32];
	test_hex(KAT_ZERO_CHUNK, want_inner, sizeof want_inner);
	test_hex(KAT_ZERO_PAYLOAD, want, sizeof want);

	/* Independently: SHA-256(SHA-256(4096 zero bytes)). */
	assert_err(airlock_sha256(zeros, CHUNK, inner), AIRLOCK_OK);
	assert_memory_equal(inner, want_inner, 32);
	assert_err(airlock_sha256(inner, sizeof inner, outer), AIRLOCK_OK);
	assert_memory_equal(outer, want, 32);

	hash_oneshot(zeros, CHUNK, CHUNK, got);
	assert_memory_equal(got, want, 32);
	free(zeros);
}

static void test_kat_pattern(void **state)
{
	(void)state;
	uint8_t data[10000], list[3 * 32], ref[32], want[32], got[32];
	fill_pattern(data, sizeof data);
	test_hex(KAT_PATTERN_PAYLOAD, want, sizeof want);
	assert_int_equal(ref_list(data, sizeof data, CHUNK, list, ref), sizeof list);
	assert_memory_equal(ref, want, 32);
	hash_oneshot(data, sizeof data, CHUNK, got);
	assert_memory_equal(got, want, 32);
}

struct collect {
	uint64_t calls;
	uint8_t list[8 * 32];
	airlock_err fail_at_err;
	uint64_t fail_at;
};

static airlock_err collect_chunk(void *ctx, uint64_t index, const uint8_t digest[AIRLOCK_SHA256_LEN])
{
	struct collect *c = ctx;
	assert_int_equal(index, c->calls);
	if (c->fail_at_err != AIRLOCK_OK && index == c->fail_at)
		return c->fail_at_err;
	assert_true(index < 8);
	memcpy(c->list + 32 * index, digest, 32);
	c->calls++;
	return AIRLOCK_OK;
}

static void test_hash_callback_builds_list(void **state)
{
	(void)state;
	uint8_t data[3 * CHUNK + 5], list[4 * 32], ref[32], got[32];
	fill_pattern(data, sizeof data);
	assert_int_equal(ref_list(data, sizeof data, CHUNK, list, ref), sizeof list);

	struct collect col = { 0 };
	struct airlock_payload_check c;
	assert_err(airlock_payload_hash_init(&c, sizeof data, CHUNK, collect_chunk, &col), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, 100), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data + 100, sizeof data - 100), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(&c, got), AIRLOCK_OK);
	assert_int_equal(col.calls, 4);
	assert_memory_equal(col.list, list, sizeof list);
	assert_memory_equal(got, ref, 32);

	/* A callback error stops the stream and sticks. */
	struct collect bad = { .fail_at_err = AIRLOCK_ERR_IO_WRITE, .fail_at = 1 };
	assert_err(airlock_payload_hash_init(&c, sizeof data, CHUNK, collect_chunk, &bad), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, CHUNK), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data + CHUNK, CHUNK), AIRLOCK_ERR_IO_WRITE);
	assert_err(airlock_payload_check_update(&c, data + 2 * CHUNK, 1), AIRLOCK_ERR_IO_WRITE);
	assert_err(airlock_payload_check_final(&c, got), AIRLOCK_ERR_IO_WRITE);
}

static void test_random_splits(void **state)
{
	(void)state;
	static const size_t sizes[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 77 };
	size_t max = 5 * CHUNK + 77;
	uint8_t *data = malloc(max);
	uint8_t *list = malloc(6 * 32);
	assert_non_null(data);
	assert_non_null(list);
	fill_pattern(data, max);
	uint64_t seed = 0x9e3779b97f4a7c15ULL;

	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		size_t len = sizes[s];
		uint8_t ref[32], one[32];
		size_t list_len = ref_list(data, len, CHUNK, list, ref);
		hash_oneshot(data, len, CHUNK, one);
		assert_memory_equal(one, ref, 32);
		struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = ref };
		assert_err(airlock_payload_list_verify(&p, list, list_len), AIRLOCK_OK);

		for (int round = 0; round < 40; round++) {
			struct airlock_payload_check c;
			/* Alternate: hash-only, check without list, check with list. */
			int mode = round % 3;
			if (mode == 0)
				assert_err(airlock_payload_hash_init(&c, len, CHUNK, NULL, NULL), AIRLOCK_OK);
			else
				assert_err(airlock_payload_check_init(&c, &p, mode == 2 ? list : NULL), AIRLOCK_OK);
			size_t off = 0;
			while (off < len) {
				size_t left = len - off;
				/* Mostly small pieces, sometimes large ones, sometimes empty. */
				uint64_t r = rng_next(&seed);
				size_t take = (size_t)(r % 4 == 0 ? rng_next(&seed) % (left + 1)
								  : rng_next(&seed) % 700);
				if (take > left)
					take = left;
				assert_err(airlock_payload_check_update(&c, data + off, take), AIRLOCK_OK);
				off += take;
			}
			uint8_t got[32];
			assert_err(airlock_payload_check_final(&c, got), AIRLOCK_OK);
			assert_memory_equal(got, ref, 32);
		}
	}
	free(data);
	free(list);
}

static void test_list_verify(void **state)
{
	(void)state;
	uint8_t data[3 * CHUNK], list[4 * 32], digest[32];
	fill_pattern(data, sizeof data);
	size_t n = ref_list(data, sizeof data, CHUNK, list, digest);
	assert_int_equal(n, 3 * 32);
	struct airlock_payload p = { .size = sizeof data, .chunk_size = CHUNK, .digest = digest };

	assert_err(airlock_payload_list_verify(&p, list, n), AIRLOCK_OK);
	assert_err(airlock_payload_list_verify(&p, list, n - 32), AIRLOCK_ERR_SIZE_MISMATCH);
	assert_err(airlock_payload_list_verify(&p, list, n + 32), AIRLOCK_ERR_SIZE_MISMATCH);
	assert_err(airlock_payload_list_verify(&p, list, n - 1), AIRLOCK_ERR_SIZE_MISMATCH);
	assert_err(airlock_payload_list_verify(&p, list, 0), AIRLOCK_ERR_SIZE_MISMATCH);
	for (size_t i = 0; i < n; i++) {
		list[i] ^= 0x01;
		assert_err(airlock_payload_list_verify(&p, list, n), AIRLOCK_ERR_DIGEST_MISMATCH);
		list[i] ^= 0x01;
	}
	/* The list binds chunk contents, not the size within the last chunk
	 * (the release signs the size): with a size one short the list still
	 * matches, and the shortened last chunk is what gets refused. */
	p.size = sizeof data - 1;
	assert_err(airlock_payload_list_verify(&p, list, n), AIRLOCK_OK);
	struct airlock_payload_check c;
	assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data + CHUNK, CHUNK), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data + 2 * CHUNK, CHUNK - 1), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_int_equal(c.failed_index, 2);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_DIGEST_MISMATCH);
	/* Under another chunk count the list is refused by its length. */
	p.size = sizeof data + 1;
	assert_err(airlock_payload_list_verify(&p, list, n), AIRLOCK_ERR_SIZE_MISMATCH);
	p.size = sizeof data;
	p.chunk_size = 2 * CHUNK;
	assert_err(airlock_payload_list_verify(&p, list, n), AIRLOCK_ERR_SIZE_MISMATCH);
}

/* A flipped byte in chunk k is refused at chunk k, before any later chunk is
 * accepted, and everything after sticks to that error. */
static void test_check_chunk_flip(void **state)
{
	(void)state;
	enum { N = 4 };
	size_t len = (N - 1) * CHUNK + 1000;
	uint8_t *data = malloc(len);
	uint8_t list[N * 32], digest[32];
	assert_non_null(data);
	fill_pattern(data, len);
	assert_int_equal(ref_list(data, len, CHUNK, list, digest), sizeof list);
	struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = digest };
	assert_err(airlock_payload_list_verify(&p, list, sizeof list), AIRLOCK_OK);

	for (uint64_t k = 0; k < N; k++) {
		size_t flip_at = (size_t)k * CHUNK + (k == N - 1 ? 999 : 17 * (size_t)k);
		data[flip_at] ^= 0x40;
		struct airlock_payload_check c;
		assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
		for (uint64_t i = 0; i < N; i++) {
			size_t off = (size_t)i * CHUNK;
			size_t clen = len - off < CHUNK ? len - off : CHUNK;
			airlock_err want = i < k ? AIRLOCK_OK : AIRLOCK_ERR_DIGEST_MISMATCH;
			assert_err(airlock_payload_check_chunk(&c, data + off, clen), want);
			if (i >= k)
				assert_int_equal(c.failed_index, k);
		}
		assert_err(airlock_payload_check_update(&c, data, 1), AIRLOCK_ERR_DIGEST_MISMATCH);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_DIGEST_MISMATCH);

		/* The same through check_update in odd splits: the call that
		 * completes chunk k is the first to fail. */
		assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
		size_t off = 0, step = 1000;
		bool failed = false;
		while (off < len) {
			size_t take = len - off < step ? len - off : step;
			airlock_err err = airlock_payload_check_update(&c, data + off, take);
			size_t end_k = (size_t)(k + 1) * CHUNK < len ? (size_t)(k + 1) * CHUNK : len;
			if (!failed && off + take < end_k) {
				assert_err(err, AIRLOCK_OK);
			} else {
				assert_err(err, AIRLOCK_ERR_DIGEST_MISMATCH);
				failed = true;
			}
			off += take;
		}
		assert_true(failed);
		assert_int_equal(c.failed_index, k);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_DIGEST_MISMATCH);

		/* Without a list the mismatch shows at the end. */
		assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_OK);
		assert_err(airlock_payload_check_update(&c, data, len), AIRLOCK_OK);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_DIGEST_MISMATCH);
		data[flip_at] ^= 0x40;
	}
	free(data);
}

static void test_check_chunk_lengths(void **state)
{
	(void)state;
	size_t len = 2 * CHUNK + 10;
	uint8_t data[2 * CHUNK + 10 + 1], list[3 * 32], digest[32];
	fill_pattern(data, sizeof data);
	assert_int_equal(ref_list(data, len, CHUNK, list, digest), sizeof list);
	struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = digest };
	struct airlock_payload_check c;

	/* Without a list there is no per-chunk verdict to give. */
	assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK), AIRLOCK_ERR_INVALID_ARG);
	airlock_payload_check_free(&c);

	assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK - 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK + 1), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_chunk(&c, data, 0), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_check_chunk(&c, NULL, CHUNK), AIRLOCK_ERR_INVALID_ARG);
	/* Those refusals consumed nothing. */
	assert_int_equal(c.offset, 0);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data + CHUNK, CHUNK), AIRLOCK_OK);
	/* The last chunk holds 10 bytes: 11 is too many, 9 too few. */
	assert_err(airlock_payload_check_chunk(&c, data + 2 * CHUNK, 11), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_chunk(&c, data + 2 * CHUNK, 9), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_check_chunk(&c, data + 2 * CHUNK, 10), AIRLOCK_OK);
	/* Nothing after the last chunk. */
	assert_err(airlock_payload_check_chunk(&c, data, 1), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_OK);

	/* A chunk handed over off a boundary (after a partial update). */
	assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, 5), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data + 5, CHUNK), AIRLOCK_ERR_INVALID_ARG);
	airlock_payload_check_free(&c);
}

static void test_past_signed_size(void **state)
{
	(void)state;
	size_t len = CHUNK + 100;
	uint8_t data[CHUNK + 200], list[2 * 32], digest[32];
	fill_pattern(data, sizeof data);
	assert_int_equal(ref_list(data, len, CHUNK, list, digest), sizeof list);
	struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = digest };
	struct airlock_payload_check c;

	for (int with_list = 0; with_list < 2; with_list++) {
		/* All bytes plus one in a single call: refused, nothing hashed. */
		assert_err(airlock_payload_check_init(&c, &p, with_list ? list : NULL), AIRLOCK_OK);
		assert_err(airlock_payload_check_update(&c, data, len + 1), AIRLOCK_ERR_TOO_LARGE);
		assert_int_equal(c.offset, 0);
		assert_err(airlock_payload_check_update(&c, data, 1), AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_TOO_LARGE);

		/* Exactly the signed size, then one more byte: refused at once,
		 * and the earlier good bytes do not rescue the final verdict. */
		assert_err(airlock_payload_check_init(&c, &p, with_list ? list : NULL), AIRLOCK_OK);
		assert_err(airlock_payload_check_update(&c, data, len), AIRLOCK_OK);
		assert_err(airlock_payload_check_update(&c, data + len, 1), AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_payload_check_update(&c, data, 0), AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_TOO_LARGE);
	}

	/* Empty payload: the very first byte is too many. */
	uint8_t empty_digest[32];
	test_hex(KAT_EMPTY, empty_digest, sizeof empty_digest);
	struct airlock_payload e = { .size = 0, .chunk_size = CHUNK, .digest = empty_digest };
	assert_err(airlock_payload_check_init(&c, &e, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, 1), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_TOO_LARGE);
}

static void test_short_input(void **state)
{
	(void)state;
	size_t len = 2 * CHUNK;
	uint8_t data[2 * CHUNK], list[2 * 32], digest[32];
	fill_pattern(data, sizeof data);
	assert_int_equal(ref_list(data, len, CHUNK, list, digest), sizeof list);
	struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = digest };
	struct airlock_payload_check c;
	static const size_t shorts[] = { 0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK - 1 };

	for (size_t i = 0; i < sizeof shorts / sizeof shorts[0]; i++) {
		for (int with_list = 0; with_list < 2; with_list++) {
			assert_err(airlock_payload_check_init(&c, &p, with_list ? list : NULL), AIRLOCK_OK);
			assert_err(airlock_payload_check_update(&c, data, shorts[i]), AIRLOCK_OK);
			assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_SIZE_MISMATCH);
		}
		assert_err(airlock_payload_hash_init(&c, len, CHUNK, NULL, NULL), AIRLOCK_OK);
		assert_err(airlock_payload_check_update(&c, data, shorts[i]), AIRLOCK_OK);
		assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_SIZE_MISMATCH);
	}
}

/* After the first error, every later call returns it: update, chunk, final. */
static void test_sticky(void **state)
{
	(void)state;
	size_t len = 3 * CHUNK;
	uint8_t data[3 * CHUNK], list[3 * 32], digest[32];
	fill_pattern(data, sizeof data);
	assert_int_equal(ref_list(data, len, CHUNK, list, digest), sizeof list);
	struct airlock_payload p = { .size = len, .chunk_size = CHUNK, .digest = digest };
	struct airlock_payload_check c;

	/* DIGEST_MISMATCH at chunk 1, then the right bytes do not help. */
	assert_err(airlock_payload_check_init(&c, &p, list), AIRLOCK_OK);
	assert_err(airlock_payload_check_chunk(&c, data, CHUNK), AIRLOCK_OK);
	data[CHUNK + 5] ^= 1;
	assert_err(airlock_payload_check_chunk(&c, data + CHUNK, CHUNK), AIRLOCK_ERR_DIGEST_MISMATCH);
	data[CHUNK + 5] ^= 1;
	assert_int_equal(c.failed_index, 1);
	assert_err(airlock_payload_check_chunk(&c, data + CHUNK, CHUNK), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_err(airlock_payload_check_chunk(&c, data + 2 * CHUNK, CHUNK), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_err(airlock_payload_check_update(&c, data, 0), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_err(airlock_payload_check_update(&c, data + 2 * CHUNK, CHUNK), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_DIGEST_MISMATCH);

	/* TOO_LARGE sticks although the stream could still have been completed. */
	assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, CHUNK), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, len), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_update(&c, data + CHUNK, 2 * CHUNK), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_payload_check_final(&c, NULL), AIRLOCK_ERR_TOO_LARGE);

	/* A wrong digest without a list is only known at final. */
	digest[0] ^= 1;
	assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, data, len), AIRLOCK_OK);
	uint8_t got[32];
	assert_err(airlock_payload_check_final(&c, got), AIRLOCK_ERR_DIGEST_MISMATCH);
	digest[0] ^= 1;
	assert_memory_equal(got, digest, 32);
}

static void test_bad_args(void **state)
{
	(void)state;
	struct airlock_payload_check c;
	struct airlock_payload p = { .size = 10, .chunk_size = CHUNK, .digest = NULL };
	assert_err(airlock_payload_check_init(&c, &p, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_check_init(NULL, &p, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_hash_init(NULL, 10, CHUNK, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_hash_init(&c, 10, CHUNK, NULL, NULL), AIRLOCK_OK);
	assert_err(airlock_payload_check_update(&c, NULL, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_payload_check_update(&c, NULL, 0), AIRLOCK_OK);
	assert_err(airlock_payload_check_final(NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
	airlock_payload_check_free(&c);
	airlock_payload_check_free(&c);  /* idempotent */
	airlock_payload_check_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chunk_counts),
		cmocka_unit_test(test_chunk_size_refused),
		cmocka_unit_test(test_kat_empty),
		cmocka_unit_test(test_kat_zero_chunk),
		cmocka_unit_test(test_kat_pattern),
		cmocka_unit_test(test_hash_callback_builds_list),
		cmocka_unit_test(test_random_splits),
		cmocka_unit_test(test_list_verify),
		cmocka_unit_test(test_check_chunk_flip),
		cmocka_unit_test(test_check_chunk_lengths),
		cmocka_unit_test(test_past_signed_size),
		cmocka_unit_test(test_short_input),
		cmocka_unit_test(test_sticky),
		cmocka_unit_test(test_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
