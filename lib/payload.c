/*
 * Chunked payload digests (see include/airlock/payload.h for the scheme).
 *
 * Cost: each payload byte is hashed once (the inner hash of its chunk); the
 * outer hash sees 32 bytes per chunk, 0.05% more at 64 KiB chunks.
 */
#include "airlock/payload.h"

#include <string.h>

#include "util.h"

airlock_err airlock_payload_chunks(uint64_t size, uint32_t chunk_size, uint64_t *n)
{
	TRY(airlock_check_chunk_size(chunk_size));
	*n = size / chunk_size + (size % chunk_size != 0);
	return AIRLOCK_OK;
}

airlock_err airlock_payload_list_verify(const struct airlock_payload *p, const uint8_t *list, size_t len)
{
	uint64_t n;
	uint8_t got[AIRLOCK_SHA256_LEN];
	TRY(airlock_payload_chunks(p->size, p->chunk_size, &n));
	/* n <= 2^64 / 4096, so n * 32 cannot overflow a uint64_t. */
	if ((uint64_t)len != n * AIRLOCK_SHA256_LEN)
		return AIRLOCK_ERR_SIZE_MISMATCH;
	TRY(airlock_sha256(list, len, got));
	return airlock_ct_equal(got, p->digest, AIRLOCK_SHA256_LEN) ? AIRLOCK_OK : AIRLOCK_ERR_DIGEST_MISMATCH;
}

static airlock_err start(struct airlock_payload_check *c, uint64_t size, uint32_t chunk_size)
{
	uint64_t n;
	TRY(airlock_payload_chunks(size, chunk_size, &n));
	c->size = size;
	c->chunk_size = chunk_size;
	TRY(airlock_sha256_init(&c->outer));
	airlock_err err = airlock_sha256_init(&c->inner);
	if (err != AIRLOCK_OK)
		airlock_sha256_free(&c->outer);
	return err;
}

airlock_err airlock_payload_check_init(struct airlock_payload_check *c, const struct airlock_payload *p,
				       const uint8_t *list)
{
	if (!c || !p || !p->digest)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(c, 0, sizeof *c);
	memcpy(c->digest, p->digest, AIRLOCK_SHA256_LEN);
	c->list = list;
	c->compare = true;
	return start(c, p->size, p->chunk_size);
}

airlock_err airlock_payload_hash_init(struct airlock_payload_check *c, uint64_t size, uint32_t chunk_size,
				      airlock_chunk_fn on_chunk, void *ctx)
{
	if (!c)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(c, 0, sizeof *c);
	c->on_chunk = on_chunk;
	c->on_chunk_ctx = ctx;
	return start(c, size, chunk_size);
}

/* Length of the chunk being filled: full, or the remainder for the last one. */
static uint64_t current_chunk_len(const struct airlock_payload_check *c)
{
	uint64_t start_off = c->index * c->chunk_size;
	uint64_t left = c->size - start_off;
	return left < c->chunk_size ? left : c->chunk_size;
}

/* Closes the current chunk: its digest goes into the outer hash and, with a
 * list, is compared with the signed list entry. */
static airlock_err close_chunk(struct airlock_payload_check *c)
{
	uint8_t d[AIRLOCK_SHA256_LEN];
	TRY(airlock_sha256_final(&c->inner, d));
	if (c->list && !airlock_ct_equal(d, c->list + c->index * AIRLOCK_SHA256_LEN, AIRLOCK_SHA256_LEN)) {
		c->failed_index = c->index;
		return AIRLOCK_ERR_DIGEST_MISMATCH;
	}
	TRY(airlock_sha256_update(&c->outer, d, sizeof d));
	if (c->on_chunk)
		TRY(c->on_chunk(c->on_chunk_ctx, c->index, d));
	c->index++;
	/* A fresh inner hash only if another chunk follows. */
	if (c->offset < c->size)
		TRY(airlock_sha256_init(&c->inner));
	return AIRLOCK_OK;
}

static airlock_err update(struct airlock_payload_check *c, const uint8_t *data, size_t len)
{
	/* offset <= size always holds; bytes past the signed size are refused
	 * before any of them is hashed. */
	if ((uint64_t)len > c->size - c->offset) {
		c->failed_index = c->index;
		return AIRLOCK_ERR_TOO_LARGE;
	}
	while (len > 0) {
		uint64_t chunk_end = c->index * c->chunk_size + current_chunk_len(c);
		uint64_t room = chunk_end - c->offset;
		size_t take = (uint64_t)len < room ? len : (size_t)room;
		TRY(airlock_sha256_update(&c->inner, data, take));
		c->offset += take;
		data += take;
		len -= take;
		if (c->offset == chunk_end)
			TRY(close_chunk(c));
	}
	return AIRLOCK_OK;
}

airlock_err airlock_payload_check_update(struct airlock_payload_check *c, const uint8_t *data, size_t len)
{
	if (!c || (!data && len))
		return AIRLOCK_ERR_INVALID_ARG;
	if (c->sticky != AIRLOCK_OK)
		return c->sticky;
	airlock_err err = update(c, data, len);
	c->sticky = err;
	return err;
}

airlock_err airlock_payload_check_chunk(struct airlock_payload_check *c, const uint8_t *chunk, size_t len)
{
	if (!c || !chunk || !c->list)
		return AIRLOCK_ERR_INVALID_ARG;
	if (c->sticky != AIRLOCK_OK)
		return c->sticky;
	/* Whole chunks only, so that OK really means "this chunk is verified". */
	if (c->offset != c->index * c->chunk_size || c->offset >= c->size)
		return c->offset >= c->size ? AIRLOCK_ERR_TOO_LARGE : AIRLOCK_ERR_INVALID_ARG;
	if ((uint64_t)len != current_chunk_len(c))
		return (uint64_t)len > current_chunk_len(c) ? AIRLOCK_ERR_TOO_LARGE : AIRLOCK_ERR_INVALID_ARG;
	airlock_err err = update(c, chunk, len);
	c->sticky = err;
	return err;
}

airlock_err airlock_payload_check_final(struct airlock_payload_check *c, uint8_t digest_out[AIRLOCK_SHA256_LEN])
{
	uint8_t got[AIRLOCK_SHA256_LEN];
	airlock_err err;

	if (!c)
		return AIRLOCK_ERR_INVALID_ARG;
	if (c->sticky != AIRLOCK_OK) {
		err = c->sticky;
		goto out;
	}
	if (c->offset != c->size) {
		err = AIRLOCK_ERR_SIZE_MISMATCH;
		goto out;
	}
	/* With size 0 no chunk was opened-and-closed; the inner hash is unused. */
	err = airlock_sha256_final(&c->outer, got);
	if (err != AIRLOCK_OK)
		goto out;
	if (digest_out)
		memcpy(digest_out, got, sizeof got);
	if (c->compare && !airlock_ct_equal(got, c->digest, AIRLOCK_SHA256_LEN))
		err = AIRLOCK_ERR_DIGEST_MISMATCH;
out:
	airlock_payload_check_free(c);
	return err;
}

void airlock_payload_check_free(struct airlock_payload_check *c)
{
	if (!c)
		return;
	airlock_sha256_free(&c->inner);
	airlock_sha256_free(&c->outer);
}
