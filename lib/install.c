/*
 * The install pipeline (include/airlock/install.h, docs/install.md).
 *
 * One buffer of AIRLOCK_INSTALL_BUF(chunk_size) bytes serves every stage:
 * the decryptor assembles a sealed chunk in it and opens it in place; a
 * plain stream assembles the chunk in it directly; resume reads chunks back
 * from the slot into it. A chunk leaves the buffer for the slot only through
 * commit_chunk(), after its digest matched the verified list.
 */
#include "airlock/install.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

enum {
	ST_UNUSABLE = 0,  /* zeroed: never initialised, failed init, or freed */
	ST_FRESH = 1,     /* initialised, nothing fed: resume allowed */
	ST_STREAM = 2,    /* bytes fed or resumed */
	ST_DONE = 3,      /* finish() succeeded */
};

/* Records the first error and the chunk it concerns; returns the first error. */
static airlock_err fail(struct airlock_install *in, airlock_err err, uint64_t chunk)
{
	if (in->sticky == AIRLOCK_OK) {
		in->sticky = err;
		in->failed = chunk;
	}
	return in->sticky;
}

/* Plaintext length of chunk i (i < n_chunks): full, or the rest for the last. */
static size_t chunk_len(const struct airlock_install *in, uint64_t i)
{
	uint64_t left = in->size - i * in->chunk_size;
	return (size_t)(left < in->chunk_size ? left : in->chunk_size);
}

/* Stream offset where chunk i starts; the stream's end once all are done.
 * An empty payload has no chunk to be done: its stream always starts at 0. */
static uint64_t stream_offset_of(const struct airlock_install *in, uint64_t chunks)
{
	if (in->n_chunks == 0)
		return 0;
	if (chunks >= in->n_chunks)
		return in->stream_size;
	uint64_t per = in->chunk_size + (in->encrypted ? AIRLOCK_AEAD_TAG_LEN : 0u);
	return chunks * per;
}

/*
 * The one place a chunk goes to the slot: after its length and digest were
 * checked (airlock_payload_check_chunk() also feeds the whole-payload hash).
 */
static airlock_err commit_chunk(struct airlock_install *in, const uint8_t *pt, size_t len, uint64_t index)
{
	if (index != in->chunks_done || index >= in->n_chunks)
		return fail(in, AIRLOCK_ERR_TOO_LARGE, index);
	/* Only an authentic last chunk of some other, shorter stream can have
	 * the wrong length here (a plain stream is cut to chunk lengths). */
	if (len != chunk_len(in, index))
		return fail(in, AIRLOCK_ERR_SIZE_MISMATCH, index);
	airlock_err err = airlock_payload_check_chunk(&in->check, pt, len);
	if (err != AIRLOCK_OK)
		return fail(in, err, index);
	err = airlock_slot_write(in->slot, index * in->chunk_size, pt, len);
	if (err != AIRLOCK_OK)
		return fail(in, err, index);
	in->chunks_done++;
	return AIRLOCK_OK;
}

/* The decryptor's sink: each authenticated chunk's plaintext. */
static airlock_err decrypted(void *ctx, const uint8_t *pt, size_t len, uint64_t index)
{
	struct airlock_install *in = ctx;
	/* The empty payload is one empty authenticated chunk: nothing to write. */
	if (len == 0 && in->size == 0 && index == 0)
		return AIRLOCK_OK;
	return commit_chunk(in, pt, len, index);
}

/* ---- init ---- */

/* Checks what the release says about encryption against the plaintext. */
static airlock_err check_encryption(const struct airlock_payload *p, uint64_t *stream_size)
{
	if (!p->encrypted) {
		*stream_size = p->size;
		return AIRLOCK_OK;
	}
	if (p->enc.alg != AIRLOCK_ENC_AES256GCM_CHUNKED)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (!p->enc.nonce_prefix)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_aead_ciphertext_size(p->size, p->chunk_size, stream_size));
	return *stream_size == p->enc.size ? AIRLOCK_OK : AIRLOCK_ERR_BAD_VALUE;
}

/* Starts the chunk checker from chunk 0 (init, and a resume that restarts). */
static airlock_err start_check(struct airlock_install *in, const uint8_t *list)
{
	struct airlock_payload p;
	memset(&p, 0, sizeof p);
	p.size = in->size;
	p.chunk_size = in->chunk_size;
	p.digest = in->digest;
	return airlock_payload_check_init(&in->check, &p, list);
}

airlock_err airlock_install_init(struct airlock_install *in, const struct airlock_payload *p, const uint8_t *list,
				 size_t list_len, const uint8_t *key, struct airlock_slot *slot)
{
	static const uint8_t no_list[1];
	uint64_t n, stream_size;

	if (!in)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(in, 0, sizeof *in);
	if (!p || !p->digest || !slot || !slot->ops || (!list && list_len) || p->encrypted != (key != NULL))
		return AIRLOCK_ERR_INVALID_ARG;
	if (!list)
		list = no_list;
	TRY(airlock_payload_chunks(p->size, p->chunk_size, &n));
	/* The list first: nothing below trusts a chunk it has not vouched for. */
	TRY(airlock_payload_list_verify(p, list, list_len));
	TRY(check_encryption(p, &stream_size));
	if (p->size > slot->capacity)
		return AIRLOCK_ERR_NO_SPACE;

	in->slot = slot;
	in->size = p->size;
	in->chunk_size = p->chunk_size;
	in->n_chunks = n;
	in->stream_size = stream_size;
	in->encrypted = p->encrypted;
	memcpy(in->digest, p->digest, AIRLOCK_SHA256_LEN);
	in->buf = malloc(AIRLOCK_INSTALL_BUF(p->chunk_size));
	if (!in->buf) {
		memset(in, 0, sizeof *in);
		return AIRLOCK_ERR_NOMEM;
	}
	airlock_err err = start_check(in, list);
	if (err != AIRLOCK_OK) {
		free(in->buf);
		memset(in, 0, sizeof *in);
		return err;
	}
	if (p->encrypted) {
		err = airlock_aead_dec_init(&in->dec, key, p->enc.nonce_prefix, p->chunk_size, in->buf,
					    AIRLOCK_INSTALL_BUF(p->chunk_size));
		if (err != AIRLOCK_OK) {
			airlock_payload_check_free(&in->check);
			free(in->buf);
			memset(in, 0, sizeof *in);
			return err;
		}
		in->dec_open = true;
	}
	in->state = ST_FRESH;
	return AIRLOCK_OK;
}

/* ---- resume ---- */

static bool record_fits(const struct airlock_install *in, const struct airlock_install_progress *rec)
{
	return airlock_ct_equal(rec->payload_digest, in->digest, AIRLOCK_SHA256_LEN) &&
	       rec->payload_size == in->size && rec->chunk_size == in->chunk_size &&
	       rec->encrypted == in->encrypted && rec->chunks_done <= in->n_chunks &&
	       rec->stream_offset == stream_offset_of(in, rec->chunks_done);
}

/* Back to chunk 0 with a fresh whole-payload hash. */
static airlock_err restart(struct airlock_install *in)
{
	const uint8_t *list = in->check.list;
	airlock_payload_check_free(&in->check);
	airlock_wipe(in->buf, AIRLOCK_INSTALL_BUF(in->chunk_size));
	in->chunks_done = 0;
	in->stream_off = 0;
	airlock_err err = start_check(in, list);
	return err == AIRLOCK_OK ? AIRLOCK_OK : fail(in, err, 0);
}

/*
 * Re-reads chunks 0..k-1 from the slot through the same check as fresh
 * chunks. *bad is set to the first chunk that does not match (DIGEST_MISMATCH);
 * a slot error is returned as is.
 */
static airlock_err reverify(struct airlock_install *in, uint64_t k, uint64_t *bad)
{
	for (uint64_t i = 0; i < k; i++) {
		size_t len = chunk_len(in, i);
		TRY(airlock_slot_read(in->slot, i * in->chunk_size, in->buf, len));
		airlock_err err = airlock_payload_check_chunk(&in->check, in->buf, len);
		if (err != AIRLOCK_OK) {
			*bad = i;
			return err;
		}
		in->chunks_done = i + 1;
	}
	return AIRLOCK_OK;
}

airlock_err airlock_install_resume(struct airlock_install *in, const struct airlock_install_progress *rec,
				   struct airlock_install_resumed *out)
{
	struct airlock_install_resumed r = { 0, AIRLOCK_OK, 0 };

	if (!in || !rec || in->state == ST_UNUSABLE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (in->sticky != AIRLOCK_OK)
		return in->sticky;
	if (in->state != ST_FRESH)
		return AIRLOCK_ERR_INVALID_ARG;
	in->state = ST_STREAM;

	if (!record_fits(in, rec)) {
		r.restart = AIRLOCK_ERR_STATE;
	} else {
		airlock_err err = reverify(in, rec->chunks_done, &r.bad_chunk);
		if (err == AIRLOCK_ERR_DIGEST_MISMATCH) {
			r.restart = err;
			TRY(restart(in));
		} else if (err != AIRLOCK_OK) {
			return fail(in, err, in->chunks_done);
		}
	}
	r.chunk = in->chunks_done;
	in->stream_off = stream_offset_of(in, in->chunks_done);
	/* The decryptor continues at the next chunk's nonce; once every chunk
	 * is done there is nothing left for it (finish() skips it). */
	if (in->encrypted && in->chunks_done > 0 && in->chunks_done < in->n_chunks) {
		airlock_err err = airlock_aead_dec_seek(&in->dec, in->chunks_done);
		if (err != AIRLOCK_OK)
			return fail(in, err, in->chunks_done);
	}
	airlock_wipe(in->buf, AIRLOCK_INSTALL_BUF(in->chunk_size));
	if (out)
		*out = r;
	return AIRLOCK_OK;
}

/* ---- streaming ---- */

/* A plain stream: assemble each chunk in the buffer, commit it when whole. */
static airlock_err feed_plain(struct airlock_install *in, const uint8_t *data, size_t len)
{
	while (len > 0) {
		/* chunks_done < n_chunks: the size check in feed() keeps the
		 * stream within the signed size. */
		size_t want = chunk_len(in, in->chunks_done);
		size_t take = len < want - in->fill ? len : want - in->fill;
		memcpy(in->buf + in->fill, data, take);
		in->fill += take;
		data += take;
		len -= take;
		if (in->fill == want) {
			in->fill = 0;
			TRY(commit_chunk(in, in->buf, want, in->chunks_done));
		}
	}
	return AIRLOCK_OK;
}

airlock_err airlock_install_feed(struct airlock_install *in, const uint8_t *data, size_t len)
{
	if (!in || in->state == ST_UNUSABLE || (!data && len))
		return AIRLOCK_ERR_INVALID_ARG;
	if (in->sticky != AIRLOCK_OK)
		return in->sticky;
	if (in->state == ST_DONE)
		return AIRLOCK_ERR_INVALID_ARG;
	in->state = ST_STREAM;
	/* Bounded by the signed size before a single byte is looked at. */
	if ((uint64_t)len > in->stream_size - in->stream_off)
		return fail(in, AIRLOCK_ERR_TOO_LARGE, in->chunks_done);
	in->stream_off += len;
	if (!in->encrypted)
		return feed_plain(in, data, len);
	airlock_err err = airlock_aead_dec_update(&in->dec, data, len, decrypted, in);
	return err == AIRLOCK_OK ? AIRLOCK_OK : fail(in, err, airlock_aead_dec_position(&in->dec));
}

airlock_err airlock_install_finish(struct airlock_install *in)
{
	airlock_err err;

	if (!in || in->state == ST_UNUSABLE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (in->sticky != AIRLOCK_OK)
		return in->sticky;
	if (in->state == ST_DONE)
		return AIRLOCK_ERR_INVALID_ARG;
	in->state = ST_STREAM;
	/* The last chunk of an encrypted stream is opened only now, as the last.
	 * If a resume found every chunk done, it was opened so before. */
	if (in->encrypted && !(in->n_chunks > 0 && in->chunks_done == in->n_chunks)) {
		err = airlock_aead_dec_final(&in->dec, decrypted, in);
		if (err != AIRLOCK_OK)
			return fail(in, err, airlock_aead_dec_position(&in->dec));
	}
	if (in->chunks_done != in->n_chunks || in->fill != 0)
		return fail(in, AIRLOCK_ERR_SIZE_MISMATCH, in->chunks_done);
	/* Each chunk matched a list entry and the list matched the signed
	 * digest; this recomputes the digest over the chunks as seen, a second,
	 * independent check. */
	err = airlock_payload_check_final(&in->check, NULL);
	if (err != AIRLOCK_OK)
		return fail(in, err, in->chunks_done);
	err = airlock_slot_sync(in->slot);
	if (err != AIRLOCK_OK)
		return fail(in, err, in->chunks_done);
	in->state = ST_DONE;
	return AIRLOCK_OK;
}

airlock_err airlock_install_checkpoint(struct airlock_install *in, struct airlock_install_progress *rec)
{
	if (!in || !rec || in->state == ST_UNUSABLE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (in->sticky != AIRLOCK_OK)
		return in->sticky;
	/* Durable first, then described: a record never claims chunks that a
	 * power cut could still take back. */
	airlock_err err = airlock_slot_sync(in->slot);
	if (err != AIRLOCK_OK)
		return fail(in, err, in->chunks_done);
	memset(rec, 0, sizeof *rec);
	memcpy(rec->payload_digest, in->digest, AIRLOCK_SHA256_LEN);
	rec->payload_size = in->size;
	rec->chunk_size = in->chunk_size;
	rec->encrypted = in->encrypted;
	rec->chunks_done = in->chunks_done;
	rec->stream_offset = stream_offset_of(in, in->chunks_done);
	return AIRLOCK_OK;
}

uint64_t airlock_install_position(const struct airlock_install *in)
{
	if (!in)
		return 0;
	return in->sticky != AIRLOCK_OK ? in->failed : in->chunks_done;
}

uint64_t airlock_install_stream_offset(const struct airlock_install *in)
{
	return in ? in->stream_off : 0;
}

uint64_t airlock_install_stream_size(const struct airlock_install *in)
{
	return in ? in->stream_size : 0;
}

void airlock_install_free(struct airlock_install *in)
{
	if (!in)
		return;
	if (in->dec_open)
		airlock_aead_dec_free(&in->dec);
	airlock_payload_check_free(&in->check);
	if (in->buf) {
		airlock_wipe(in->buf, AIRLOCK_INSTALL_BUF(in->chunk_size));
		free(in->buf);
	}
	airlock_wipe(in, sizeof *in);
}

/* ---- progress record ---- */

#define REC_MAGIC "AIP1"
#define REC_BODY 68u   /* everything before the check value */
_Static_assert(REC_BODY + 8u == AIRLOCK_INSTALL_PROGRESS_LEN, "record layout");

static void put_be(uint8_t *p, uint64_t v, unsigned bytes)
{
	for (unsigned i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8u * (bytes - 1u - i)));
}

static uint64_t get_be(const uint8_t *p, unsigned bytes)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < bytes; i++)
		v = (v << 8) | p[i];
	return v;
}

/* FNV-1a, 64 bits: detects a torn record; nothing relies on it for security. */
static uint64_t fnv1a64(const uint8_t *p, size_t len)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

void airlock_install_progress_encode(const struct airlock_install_progress *rec,
				     uint8_t out[AIRLOCK_INSTALL_PROGRESS_LEN])
{
	memcpy(out, REC_MAGIC, 4);
	memcpy(out + 4, rec->payload_digest, AIRLOCK_SHA256_LEN);
	put_be(out + 36, rec->payload_size, 8);
	put_be(out + 44, rec->chunk_size, 4);
	put_be(out + 48, rec->encrypted ? 1u : 0u, 4);
	put_be(out + 52, rec->chunks_done, 8);
	put_be(out + 60, rec->stream_offset, 8);
	put_be(out + REC_BODY, fnv1a64(out, REC_BODY), 8);
}

airlock_err airlock_install_progress_decode(const uint8_t *buf, size_t len, struct airlock_install_progress *rec)
{
	if (!rec || (!buf && len))
		return AIRLOCK_ERR_INVALID_ARG;
	if (len != AIRLOCK_INSTALL_PROGRESS_LEN || memcmp(buf, REC_MAGIC, 4) != 0 ||
	    get_be(buf + REC_BODY, 8) != fnv1a64(buf, REC_BODY))
		return AIRLOCK_ERR_MALFORMED;
	uint64_t flags = get_be(buf + 48, 4);
	uint64_t chunk = get_be(buf + 44, 4);
	/* How chunks_done and stream_offset fit the payload is resume's check
	 * (record_fits), which knows the payload. */
	if (flags > 1u || airlock_check_chunk_size(chunk) != AIRLOCK_OK)
		return AIRLOCK_ERR_BAD_VALUE;
	memset(rec, 0, sizeof *rec);
	memcpy(rec->payload_digest, buf + 4, AIRLOCK_SHA256_LEN);
	rec->payload_size = get_be(buf + 36, 8);
	rec->chunk_size = (uint32_t)chunk;
	rec->encrypted = (flags & 1u) != 0;
	rec->chunks_done = get_be(buf + 52, 8);
	rec->stream_offset = get_be(buf + 60, 8);
	return AIRLOCK_OK;
}
