/*
 * The chunked AES-256-GCM payload stream; the format is specified in
 * include/airlock/aead.h.
 */
#include "airlock/aead.h"

#include <string.h>

#include "airlock/meta.h"
#include "util.h"

_Static_assert(sizeof(AIRLOCK_AEAD_LABEL) - 1 == AIRLOCK_AEAD_LABEL_LEN, "label is 15 bytes");
_Static_assert(AIRLOCK_AEAD_LABEL_LEN + 1 == AIRLOCK_AEAD_AAD_LEN, "AAD is label || flag");
_Static_assert(AIRLOCK_AEAD_PREFIX_LEN + 4 == AIRLOCK_GCM_NONCE_LEN, "nonce is prefix || 32-bit index");
_Static_assert(AIRLOCK_AEAD_TAG_LEN == AIRLOCK_GCM_TAG_LEN, "GCM tag");
_Static_assert(AIRLOCK_AEAD_KEY_LEN == AIRLOCK_AES256_KEY_LEN, "AES-256 key");
/* One chunk-size rule for digests and encryption: the release's chunk_size
 * serves both, and meta.c's check is the one implementation of it. */
_Static_assert(AIRLOCK_AEAD_MIN_CHUNK == AIRLOCK_CHUNK_MIN && AIRLOCK_AEAD_MAX_CHUNK == AIRLOCK_CHUNK_MAX,
	       "chunk size bounds agree with meta.h");
_Static_assert(AIRLOCK_AEAD_PREFIX_LEN == AIRLOCK_NONCE_PREFIX_LEN, "nonce prefix agrees with meta.h");
/* The decryptor's buffer size is computed in size_t, also on 32-bit targets. */
_Static_assert((uint64_t)AIRLOCK_AEAD_MAX_CHUNK + AIRLOCK_AEAD_TAG_LEN + 1 <= (uint64_t)SIZE_MAX,
	       "AIRLOCK_AEAD_DEC_BUF fits size_t");

enum {
	ST_UNUSABLE = 0,   /* never initialised, failed init, or freed: all-zero */
	ST_OPEN = 1,
	ST_DONE = 2,       /* last chunk sealed / final() ran */
};

static void make_nonce(const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN], uint64_t index,
		       uint8_t nonce[AIRLOCK_GCM_NONCE_LEN])
{
	memcpy(nonce, prefix, AIRLOCK_AEAD_PREFIX_LEN);
	nonce[8] = (uint8_t)(index >> 24);
	nonce[9] = (uint8_t)(index >> 16);
	nonce[10] = (uint8_t)(index >> 8);
	nonce[11] = (uint8_t)index;
}

static void make_aad(bool last, uint8_t aad[AIRLOCK_AEAD_AAD_LEN])
{
	memcpy(aad, AIRLOCK_AEAD_LABEL, AIRLOCK_AEAD_LABEL_LEN);
	aad[AIRLOCK_AEAD_LABEL_LEN] = last ? 0x01 : 0x00;
}

airlock_err airlock_aead_check_chunk_size(uint32_t chunk_size)
{
	return airlock_check_chunk_size(chunk_size);
}

airlock_err airlock_aead_ciphertext_size(uint64_t plain, uint32_t chunk_size, uint64_t *out)
{
	if (!out)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_aead_check_chunk_size(chunk_size));
	uint64_t chunks = plain / chunk_size + (plain % chunk_size != 0);
	if (chunks == 0)
		chunks = 1;   /* the empty plaintext is one empty last chunk */
	if (chunks > AIRLOCK_AEAD_MAX_CHUNKS)
		return AIRLOCK_ERR_LIMIT;
	/* Cannot trigger below 2^32 chunks of at most 16 MiB, but states the bound. */
	if (plain > UINT64_MAX - AIRLOCK_AEAD_TAG_LEN * chunks)
		return AIRLOCK_ERR_LIMIT;
	*out = plain + AIRLOCK_AEAD_TAG_LEN * chunks;
	return AIRLOCK_OK;
}

airlock_err airlock_aead_plaintext_size(uint64_t cipher, uint32_t chunk_size, uint64_t *out)
{
	if (!out)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_aead_check_chunk_size(chunk_size));
	const uint64_t full = (uint64_t)chunk_size + AIRLOCK_AEAD_TAG_LEN;
	uint64_t chunks, plain;
	if (cipher < AIRLOCK_AEAD_TAG_LEN)
		return AIRLOCK_ERR_BAD_VALUE;
	if (cipher <= full) {
		chunks = 1;
		plain = cipher - AIRLOCK_AEAD_TAG_LEN;
	} else {
		uint64_t q = cipher / full, r = cipher % full;
		/* A last chunk after full ones carries 1..chunk_size bytes: with
		 * its tag that is r == 0 (a full one) or r > 16. */
		if (r != 0 && r <= AIRLOCK_AEAD_TAG_LEN)
			return AIRLOCK_ERR_BAD_VALUE;
		chunks = q + (r != 0);
		/* q * chunk_size < cipher: no overflow. */
		plain = q * chunk_size + (r != 0 ? r - AIRLOCK_AEAD_TAG_LEN : 0);
	}
	if (chunks > AIRLOCK_AEAD_MAX_CHUNKS)
		return AIRLOCK_ERR_LIMIT;
	*out = plain;
	return AIRLOCK_OK;
}

/* ---- encryptor ---- */

airlock_err airlock_aead_enc_init(struct airlock_aead_enc *enc, const uint8_t key[AIRLOCK_AEAD_KEY_LEN],
				  const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN], uint32_t chunk_size)
{
	if (!enc || !key || !prefix)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(enc, 0, sizeof *enc);
	TRY(airlock_aead_check_chunk_size(chunk_size));
	TRY(airlock_gcm_init(&enc->gcm, key));
	memcpy(enc->prefix, prefix, sizeof enc->prefix);
	enc->chunk_size = chunk_size;
	enc->state = ST_OPEN;
	return AIRLOCK_OK;
}

airlock_err airlock_aead_enc_chunk(struct airlock_aead_enc *enc, const uint8_t *pt, size_t len,
				   bool last, uint8_t *out)
{
	if (!enc || enc->state != ST_OPEN || !out || (len != 0 && !pt))
		return AIRLOCK_ERR_INVALID_ARG;
	if (len > enc->chunk_size || (!last && len != enc->chunk_size))
		return AIRLOCK_ERR_INVALID_ARG;
	/* An empty last chunk is only the whole of an empty plaintext: a stream
	 * whose size is a multiple of chunk_size ends with its full chunk. */
	if (last && len == 0 && enc->index != 0)
		return AIRLOCK_ERR_INVALID_ARG;
	if (enc->index >= AIRLOCK_AEAD_MAX_CHUNKS)
		return AIRLOCK_ERR_LIMIT;

	uint8_t nonce[AIRLOCK_GCM_NONCE_LEN], aad[AIRLOCK_AEAD_AAD_LEN];
	make_nonce(enc->prefix, enc->index, nonce);
	make_aad(last, aad);
	airlock_err err = airlock_gcm_seal(&enc->gcm, nonce, aad, sizeof aad, pt, len, out, out + len);
	if (err != AIRLOCK_OK) {
		airlock_wipe(out, len + AIRLOCK_AEAD_TAG_LEN);
		return err;
	}
	enc->index++;
	if (last)
		enc->state = ST_DONE;
	return AIRLOCK_OK;
}

void airlock_aead_enc_free(struct airlock_aead_enc *enc)
{
	if (!enc)
		return;
	airlock_gcm_free(&enc->gcm);
	airlock_wipe(enc, sizeof *enc);
}

/* ---- decryptor ---- */

airlock_err airlock_aead_dec_init(struct airlock_aead_dec *dec, const uint8_t key[AIRLOCK_AEAD_KEY_LEN],
				  const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN], uint32_t chunk_size,
				  uint8_t *buf, size_t buf_cap)
{
	if (!dec || !key || !prefix || !buf)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(dec, 0, sizeof *dec);
	TRY(airlock_aead_check_chunk_size(chunk_size));
	if (buf_cap < AIRLOCK_AEAD_DEC_BUF(chunk_size))
		return AIRLOCK_ERR_BUFFER_TOO_SMALL;
	TRY(airlock_gcm_init(&dec->gcm, key));
	memcpy(dec->prefix, prefix, sizeof dec->prefix);
	dec->chunk_size = chunk_size;
	dec->buf = buf;
	dec->state = ST_OPEN;
	return AIRLOCK_OK;
}

/*
 * Opens the sealed chunk at the start of dec->buf (len bytes of ciphertext,
 * then its tag) in place, as chunk dec->index with the flag `last`.
 *
 * A tag failure is AEAD_TAG, unless the same bytes authenticate with the
 * other flag: then the stream was cut at a chunk boundary (TRUNCATED) or
 * runs on past its true end (EXTENDED), which callers report differently.
 * Only a full-size chunk can be either, so only it needs the second test.
 * That test cannot follow a failed open: airlock_gcm_open() wipes its output
 * on failure, and with a single chunk of memory the output is the
 * ciphertext itself. So the tag the chunk would carry under the other flag
 * is computed first, with the port's seal alone: GCM encrypts by XOR with a
 * keystream that depends on key and nonce but not on the AAD, so sealing C
 * in place gives C ^ KS, and sealing that again gives back C together with
 * the tag of C under the AAD passed. This costs two extra passes over each
 * full chunk (a port whose in-place open restored its input on failure would
 * save them).
 * Why this is safe: the computed tag never accepts anything, only
 * airlock_gcm_open() does; the tag merely names a failure. The first seal's
 * tag authenticates a second text under the same nonce and, together with
 * the real tag, would give away GCM's hash key: it stays in this function
 * and is wiped. The unverified C ^ KS never leaves the buffer and is turned
 * back into C before anything else runs.
 */
AIRLOCK_MUST_USE static airlock_err open_chunk(struct airlock_aead_dec *dec, size_t len, bool last)
{
	uint8_t nonce[AIRLOCK_GCM_NONCE_LEN], aad[AIRLOCK_AEAD_AAD_LEN];
	const uint8_t *tag = dec->buf + len;
	airlock_err err;

	make_nonce(dec->prefix, dec->index, nonce);
	make_aad(last, aad);
	err = airlock_gcm_open(&dec->gcm, nonce, aad, sizeof aad, dec->buf, len, dec->buf, tag);
	/* Only on failure, and only for a full chunk (the one case the stream
	 * cannot tell apart by length): a bad tag in place leaves the ciphertext
	 * restored, so try the other flag to name the error. An open that then
	 * succeeds is never delivered: it only picks TRUNCATED or EXTENDED. */
	if (err == AIRLOCK_ERR_AEAD_TAG && len == dec->chunk_size) {
		make_aad(!last, aad);
		if (airlock_gcm_open(&dec->gcm, nonce, aad, sizeof aad, dec->buf, len, dec->buf, tag) == AIRLOCK_OK)
			err = last ? AIRLOCK_ERR_AEAD_TRUNCATED : AIRLOCK_ERR_AEAD_EXTENDED;
	}
	if (err != AIRLOCK_OK)
		airlock_wipe(dec->buf, len);
	return err;
}

/* Opens the chunk at the start of the buffer and hands its plaintext on. */
AIRLOCK_MUST_USE static airlock_err deliver_chunk(struct airlock_aead_dec *dec, size_t len, bool last,
						  airlock_aead_sink sink, void *sink_ctx)
{
	airlock_err err;

	if (dec->index >= AIRLOCK_AEAD_MAX_CHUNKS)
		return AIRLOCK_ERR_LIMIT;
	TRY(open_chunk(dec, len, last));
	/* Authentic, but no conforming encryptor ends a non-empty stream with
	 * an empty chunk; refusing it keeps one stream per plaintext and keeps
	 * airlock_aead_plaintext_size() exact. */
	if (last && len == 0 && dec->index != 0)
		return AIRLOCK_ERR_MALFORMED;
	err = sink ? sink(sink_ctx, dec->buf, len, dec->index) : AIRLOCK_OK;
	airlock_wipe(dec->buf, len);
	if (err != AIRLOCK_OK)
		return err;
	dec->index++;
	return AIRLOCK_OK;
}

/* Drops everything secret once the stream is over, by error or by final(). */
static void dec_release(struct airlock_aead_dec *dec)
{
	airlock_wipe(dec->buf, AIRLOCK_AEAD_DEC_BUF(dec->chunk_size));
	dec->fill = 0;
	airlock_gcm_free(&dec->gcm);
}

/* Records the first error: every later call returns it. */
static airlock_err dec_fail(struct airlock_aead_dec *dec, airlock_err err)
{
	dec->sticky = err;
	dec_release(dec);
	return err;
}

airlock_err airlock_aead_dec_update(struct airlock_aead_dec *dec, const uint8_t *in, size_t len,
				    airlock_aead_sink sink, void *sink_ctx)
{
	if (!dec || dec->state == ST_UNUSABLE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (dec->sticky != AIRLOCK_OK)
		return dec->sticky;
	if (dec->state != ST_OPEN || (len != 0 && !in))
		return AIRLOCK_ERR_INVALID_ARG;

	const size_t full = (size_t)dec->chunk_size + AIRLOCK_AEAD_TAG_LEN;
	while (len > 0) {
		/* fill <= full here: a chunk is opened as soon as one byte
		 * beyond it has arrived, so room is at least 1. */
		size_t room = full + 1 - dec->fill;
		size_t n = len < room ? len : room;
		memcpy(dec->buf + dec->fill, in, n);
		dec->fill += n;
		in += n;
		len -= n;
		if (dec->fill <= full)
			continue;
		/* A byte after a whole chunk proves that chunk is not the last. */
		airlock_err err = deliver_chunk(dec, dec->chunk_size, false, sink, sink_ctx);
		if (err != AIRLOCK_OK)
			return dec_fail(dec, err);
		dec->buf[0] = dec->buf[full];
		dec->buf[full] = 0;
		dec->fill = 1;
	}
	return AIRLOCK_OK;
}

airlock_err airlock_aead_dec_final(struct airlock_aead_dec *dec, airlock_aead_sink sink, void *sink_ctx)
{
	airlock_err err;

	if (!dec || dec->state == ST_UNUSABLE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (dec->sticky != AIRLOCK_OK)
		return dec->sticky;
	if (dec->state != ST_OPEN)
		return AIRLOCK_ERR_INVALID_ARG;

	/* update() leaves at most one whole chunk buffered. */
	if (dec->fill < AIRLOCK_AEAD_TAG_LEN)
		err = AIRLOCK_ERR_AEAD_TRUNCATED;
	else
		err = deliver_chunk(dec, dec->fill - AIRLOCK_AEAD_TAG_LEN, true, sink, sink_ctx);
	dec->sticky = err;
	dec_release(dec);
	dec->state = ST_DONE;
	return err;
}

airlock_err airlock_aead_dec_seek(struct airlock_aead_dec *dec, uint64_t index)
{
	if (!dec || dec->state != ST_OPEN || dec->sticky != AIRLOCK_OK || dec->fill != 0 || dec->index != 0)
		return AIRLOCK_ERR_INVALID_ARG;
	if (index >= AIRLOCK_AEAD_MAX_CHUNKS)
		return AIRLOCK_ERR_LIMIT;
	dec->index = index;
	return AIRLOCK_OK;
}

uint64_t airlock_aead_dec_position(const struct airlock_aead_dec *dec)
{
	return dec ? dec->index : 0;
}

void airlock_aead_dec_free(struct airlock_aead_dec *dec)
{
	if (!dec)
		return;
	if (dec->buf)
		airlock_wipe(dec->buf, AIRLOCK_AEAD_DEC_BUF(dec->chunk_size));
	airlock_gcm_free(&dec->gcm);
	airlock_wipe(dec, sizeof *dec);
}
