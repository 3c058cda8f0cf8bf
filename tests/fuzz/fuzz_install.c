/*
 * Fuzz target for the install pipeline (lib/install.c): arbitrary streams
 * into a fixed, valid release's pipeline, on a memory-backed slot defined
 * here whose write checks every byte it is handed.
 *
 * The release: 3 chunks of 4096 bytes and one of 100 (a fixed pattern),
 * plain or encrypted under a fixed key.
 *
 * Input: one header byte h, then (h >> 1 & 7) split bytes, then the body.
 * Bit 0 of h picks the encrypted release. A split byte s gives a piece size
 * of s + 1 (s < 128) or (s - 127) * 64; the pieces cycle, and no split
 * bytes means the body in one piece.
 *   h >> 6 == 0 or 1: the body is the stream.
 *   h >> 6 == 2:      the valid stream, edited: body[0] as a signed byte
 *                     shortens or lengthens it (new bytes are 0x5a), then
 *                     each 3 bytes (offset hi, lo, xor) flip bytes in it.
 *   h >> 6 == 3:      resume: body[0..1] is a cut offset; the valid stream
 *                     runs to the cut and checkpoints; if body[2] != 0 the
 *                     slot byte at body[3..4] is xored with it behind the
 *                     pipeline's back; a new pipeline resumes from the
 *                     encoded record and takes the rest of the valid stream.
 *                     It must end OK with the payload in the slot.
 * Invariants, each an abort(): every byte written equals the payload's
 * byte at that offset, writes start at chunk boundaries and are whole
 * chunks; the install succeeds exactly when the stream is the valid one,
 * and then the slot holds the payload; after a failure the chunks written
 * are exactly those before the position named; errors are only those the
 * header documents.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/install.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CS 4096u
#define SIZE (3u * CS + 100u)
#define NCHUNKS 4u
#define CAP (SIZE + CS)
#define MAX_STREAM (SIZE + NCHUNKS * AIRLOCK_AEAD_TAG_LEN + 256u)

static const uint8_t key[32] = { 0x10, 0x32, 0x54, 0x76, 0x98, 0xba, 0xdc, 0xfe, 0x01, 0x23, 0x45,
				 0x67, 0x89, 0xab, 0xcd, 0xef, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
				 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 };
static const uint8_t prefix[8] = { 0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7 };

static struct {
	bool ready;
	uint8_t plain[SIZE];
	uint8_t cipher[SIZE + NCHUNKS * AIRLOCK_AEAD_TAG_LEN];
	uint8_t list[NCHUNKS * 32];
	uint8_t digest[32];
	uint8_t enc_sha[32];
	struct airlock_payload p[2];   /* [0] plain, [1] encrypted */
} rel;

static void build_release(void)
{
	struct airlock_aead_enc enc;
	for (size_t i = 0; i < SIZE; i++)
		rel.plain[i] = (uint8_t)(i * 131u + (i >> 9));
	for (size_t k = 0; k < NCHUNKS; k++) {
		size_t len = k + 1 < NCHUNKS ? CS : SIZE - k * CS;
		if (airlock_sha256(rel.plain + k * CS, len, rel.list + 32 * k) != AIRLOCK_OK)
			abort();
	}
	if (airlock_sha256(rel.list, sizeof rel.list, rel.digest) != AIRLOCK_OK ||
	    airlock_aead_enc_init(&enc, key, prefix, CS) != AIRLOCK_OK)
		abort();
	size_t out = 0;
	for (size_t k = 0; k < NCHUNKS; k++) {
		size_t len = k + 1 < NCHUNKS ? CS : SIZE - k * CS;
		memcpy(rel.cipher + out, rel.plain + k * CS, len);
		if (airlock_aead_enc_chunk(&enc, rel.cipher + out, len, k + 1 == NCHUNKS, rel.cipher + out) != AIRLOCK_OK)
			abort();
		out += len + AIRLOCK_AEAD_TAG_LEN;
	}
	airlock_aead_enc_free(&enc);
	if (out != sizeof rel.cipher || airlock_sha256(rel.cipher, out, rel.enc_sha) != AIRLOCK_OK)
		abort();
	for (int e = 0; e < 2; e++) {
		struct airlock_payload *p = &rel.p[e];
		memset(p, 0, sizeof *p);
		p->name.ptr = "rootfs";
		p->name.len = 6;
		p->size = SIZE;
		p->chunk_size = CS;
		p->digest = rel.digest;
		if (e) {
			p->encrypted = true;
			p->enc.alg = AIRLOCK_ENC_AES256GCM_CHUNKED;
			p->enc.nonce_prefix = prefix;
			p->enc.size = sizeof rel.cipher;
			p->enc.sha256 = rel.enc_sha;
		}
	}
	rel.ready = true;
}

/* ---- the memory slot: refuses to hold anything but the payload ---- */

struct mem_slot {
	uint8_t bytes[CAP];
	unsigned writes;
};
static struct mem_slot mem;

static airlock_err mem_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	if (off > s->capacity || len > s->capacity - off)
		return AIRLOCK_ERR_NO_SPACE;
	memcpy(buf, mem.bytes + off, len);
	return AIRLOCK_OK;
}

static airlock_err mem_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	if (off > s->capacity || len > s->capacity - off)
		return AIRLOCK_ERR_NO_SPACE;
	/* The invariant this target exists for: no unverified byte, ever. */
	if (off % CS != 0 || off >= SIZE || len != (off + CS <= SIZE ? CS : SIZE - off) ||
	    memcmp(buf, rel.plain + off, len) != 0)
		abort();
	memcpy(mem.bytes + off, buf, len);
	mem.writes++;
	return AIRLOCK_OK;
}

static airlock_err mem_sync(struct airlock_slot *s)
{
	(void)s;
	return AIRLOCK_OK;
}

static void mem_close(struct airlock_slot *s)
{
	(void)s;
}

static const struct airlock_slot_ops mem_ops = {
	.name = "fuzz-mem", .read = mem_read, .write = mem_write, .sync = mem_sync, .close = mem_close,
};

static struct airlock_slot mem_slot(bool wipe)
{
	struct airlock_slot s = { &mem_ops, CAP, -1, &mem };
	if (wipe)
		memset(mem.bytes, 0xEE, sizeof mem.bytes);
	mem.writes = 0;
	return s;
}

/* ---- driving ---- */

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

static airlock_err feed_all(struct airlock_install *in, const uint8_t *s, size_t len, const struct splits *sp)
{
	airlock_err err = AIRLOCK_OK;
	size_t off = 0;
	for (size_t i = 0; off < len && err == AIRLOCK_OK; i++) {
		size_t n = piece(sp, i);
		if (n > len - off)
			n = len - off;
		err = airlock_install_feed(in, s + off, n);
		off += n;
	}
	return err;
}

static const uint8_t *valid_stream(bool e, size_t *len)
{
	*len = e ? sizeof rel.cipher : SIZE;
	return e ? rel.cipher : rel.plain;
}

/* A fresh install of stream s; checks the invariants on the outcome. */
static void run_stream(bool e, const uint8_t *s, size_t len, const struct splits *sp)
{
	struct airlock_slot slot = mem_slot(true);
	struct airlock_install in;
	if (airlock_install_init(&in, &rel.p[e], rel.list, sizeof rel.list, e ? key : NULL, &slot) != AIRLOCK_OK)
		abort();
	airlock_err err = feed_all(&in, s, len, sp);
	if (err == AIRLOCK_OK)
		err = airlock_install_finish(&in);
	uint64_t pos = airlock_install_position(&in);
	airlock_install_free(&in);

	size_t vlen;
	const uint8_t *v = valid_stream(e, &vlen);
	bool valid = len == vlen && memcmp(s, v, len) == 0;
	if (valid != (err == AIRLOCK_OK))
		abort();
	switch (err) {
	case AIRLOCK_OK:
		if (memcmp(mem.bytes, rel.plain, SIZE) != 0 ||
		    pos != NCHUNKS || mem.writes != NCHUNKS)
			abort();
		return;
	case AIRLOCK_ERR_TOO_LARGE:
	case AIRLOCK_ERR_SIZE_MISMATCH:
	case AIRLOCK_ERR_DIGEST_MISMATCH:
		break;
	case AIRLOCK_ERR_AEAD_TAG:
	case AIRLOCK_ERR_AEAD_TRUNCATED:
	case AIRLOCK_ERR_AEAD_EXTENDED:
		if (!e)
			abort();
		break;
	default:
		abort();
	}
	/* Chunks before the one named were written, and nothing else. */
	if (pos > NCHUNKS || mem.writes != pos)
		abort();
}

static uint8_t edited[MAX_STREAM];

static void run_edited(bool e, const uint8_t *body, size_t blen, const struct splits *sp)
{
	size_t vlen;
	const uint8_t *v = valid_stream(e, &vlen);
	if (blen < 1)
		return;
	int adjust = (int8_t)body[0];
	size_t len = adjust < 0 ? vlen - (size_t)(-adjust) : vlen + (size_t)adjust;
	memset(edited, 0x5a, sizeof edited);
	memcpy(edited, v, len < vlen ? len : vlen);
	for (size_t i = 1; i + 3 <= blen; i += 3) {
		size_t off = ((size_t)body[i] << 8 | body[i + 1]) % (len ? len : 1);
		if (len)
			edited[off] ^= body[i + 2];
	}
	run_stream(e, edited, len, sp);
}

static void run_resume(bool e, const uint8_t *body, size_t blen, const struct splits *sp)
{
	size_t vlen;
	const uint8_t *v = valid_stream(e, &vlen);
	if (blen < 5)
		return;
	size_t cut = ((size_t)body[0] << 8 | body[1]) % (vlen + 1);
	struct airlock_slot slot = mem_slot(true);
	struct airlock_install in;
	struct airlock_install_progress rec;
	uint8_t rec_bytes[AIRLOCK_INSTALL_PROGRESS_LEN];
	if (airlock_install_init(&in, &rel.p[e], rel.list, sizeof rel.list, e ? key : NULL, &slot) != AIRLOCK_OK ||
	    feed_all(&in, v, cut, sp) != AIRLOCK_OK || airlock_install_checkpoint(&in, &rec) != AIRLOCK_OK)
		abort();
	airlock_install_free(&in);
	airlock_install_progress_encode(&rec, rec_bytes);
	if (body[2])
		mem.bytes[((size_t)body[3] << 8 | body[4]) % SIZE] ^= body[2];

	struct airlock_install_resumed res;
	slot = mem_slot(false);
	if (airlock_install_progress_decode(rec_bytes, sizeof rec_bytes, &rec) != AIRLOCK_OK ||
	    airlock_install_init(&in, &rel.p[e], rel.list, sizeof rel.list, e ? key : NULL, &slot) != AIRLOCK_OK ||
	    airlock_install_resume(&in, &rec, &res) != AIRLOCK_OK)
		abort();
	uint64_t from = airlock_install_stream_offset(&in);
	if ((res.restart == AIRLOCK_OK) != (from == rec.stream_offset && res.chunk == rec.chunks_done) ||
	    (res.restart != AIRLOCK_OK && (from != 0 || res.chunk != 0)) || from > cut)
		abort();
	/* A restart happens only when a claimed chunk really was altered. */
	if (res.restart == AIRLOCK_ERR_DIGEST_MISMATCH &&
	    (res.bad_chunk >= rec.chunks_done ||
	     memcmp(mem.bytes + res.bad_chunk * CS, rel.plain + res.bad_chunk * CS,
		    res.bad_chunk + 1 < NCHUNKS ? CS : SIZE - res.bad_chunk * CS) == 0))
		abort();
	if (res.restart != AIRLOCK_OK && res.restart != AIRLOCK_ERR_DIGEST_MISMATCH)
		abort();
	if (feed_all(&in, v + from, vlen - from, sp) != AIRLOCK_OK || airlock_install_finish(&in) != AIRLOCK_OK ||
	    memcmp(mem.bytes, rel.plain, SIZE) != 0)
		abort();
	airlock_install_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct splits sp;
	if (!rel.ready)
		build_release();
	if (size < 1)
		return 0;
	uint8_t h = data[0];
	bool e = (h & 1u) != 0;
	sp.n = (h >> 1) & 7u;
	if (size - 1 < sp.n)
		return 0;
	sp.sizes = data + 1;
	const uint8_t *body = data + 1 + sp.n;
	size_t len = size - 1 - sp.n;
	if (len > MAX_STREAM)
		len = MAX_STREAM;

	switch (h >> 6) {
	case 0:
	case 1:
		run_stream(e, body, len, &sp);
		break;
	case 2:
		run_edited(e, body, len, &sp);
		break;
	case 3:
		run_resume(e, body, len, &sp);
		break;
	}
	return 0;
}
