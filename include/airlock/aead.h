/*
 * Airlock payload encryption: a chunked AES-256-GCM stream ("airlock-aead-v1").
 *
 * Format (normative; docs/format.md quotes this block):
 *
 *   Parameters, per payload:
 *     K           32-byte content key (random per release, see keywrap.h)
 *     prefix      8 random bytes, fresh for every payload sealed under K
 *     chunk_size  a power of two, 4096 <= chunk_size <= 16 MiB
 *                 (AIRLOCK_AEAD_MIN_CHUNK, AIRLOCK_AEAD_MAX_CHUNK)
 *
 *   Chunking: the plaintext is cut into chunks of chunk_size bytes; the last
 *   chunk holds the rest, 1..chunk_size bytes. An empty plaintext is exactly
 *   one empty last chunk. A plaintext whose size is a multiple of chunk_size
 *   (and not 0) ends with a full last chunk: there is never an extra empty
 *   chunk. So a plaintext of P bytes has n = max(1, ceil(P / chunk_size))
 *   chunks, and chunk i < n - 1 is always exactly chunk_size bytes.
 *
 *   Chunk i (0-based; i < 2^32, else AIRLOCK_ERR_LIMIT) is sealed with
 *   AES-256-GCM under K with
 *     nonce = prefix (8 bytes) || i as a 32-bit big-endian integer (4 bytes)
 *     AAD   = the 15 ASCII bytes "airlock-aead-v1" || one flag byte,
 *             0x01 if chunk i is the last chunk, else 0x00 (16 bytes in all)
 *   and contributes ciphertext (as long as its plaintext) || 16-byte tag.
 *
 *   The stream is the concatenation of the chunks, with no header or
 *   trailer (the parameters travel in the signed release metadata):
 *     ciphertext size = P + 16 * n.
 *
 *   The counter in the nonce binds each chunk to its position (reordering,
 *   dropping or replaying a chunk fails its tag); the flag in the AAD binds
 *   the end of the stream (cutting a stream at a chunk boundary leaves a
 *   last chunk sealed as "not last"; appending after the last chunk leaves a
 *   chunk sealed as "last" in the middle). The prefix keeps two payloads
 *   under one key from sharing nonces; a content key that encrypts at most
 *   a handful of payloads keeps random 64-bit prefixes far from collision.
 *
 * Conventions for this header:
 *  - Every fallible function returns airlock_err; results go to out-params.
 *  - Contexts and buffers are owned by the caller; nothing is allocated here.
 *    A context that was successfully initialised is released with its
 *    _free() (idempotent; wipes the key schedule and the buffer). Fields of
 *    the context structs are private: read them through the functions below.
 *  - chunk_size out of range or not a power of two is AIRLOCK_ERR_BAD_VALUE
 *    everywhere, since it normally comes from (signed) metadata.
 */
#ifndef AIRLOCK_AEAD_H
#define AIRLOCK_AEAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/error.h"

#define AIRLOCK_AEAD_KEY_LEN 32
#define AIRLOCK_AEAD_PREFIX_LEN 8
#define AIRLOCK_AEAD_TAG_LEN 16
#define AIRLOCK_AEAD_MIN_CHUNK (4u * 1024u)
#define AIRLOCK_AEAD_MAX_CHUNK (16u * 1024u * 1024u)
#define AIRLOCK_AEAD_MAX_CHUNKS (UINT64_C(1) << 32)   /* chunk indices 0 .. 2^32 - 1 */
#define AIRLOCK_AEAD_LABEL "airlock-aead-v1"           /* AAD without the flag byte */
#define AIRLOCK_AEAD_LABEL_LEN 15
#define AIRLOCK_AEAD_AAD_LEN 16

/*
 * Bytes of buffer the decryptor needs: one whole sealed chunk plus one byte
 * of look-ahead. A full-size chunk may be the last one or not, and the
 * stream itself does not say which: only the arrival of one more byte
 * proves that it is not the last. So the decryptor holds a full chunk until
 * either a further byte arrives (open it as "not last") or the input ends
 * (open it as "last"), and needs room for that one byte beside the chunk.
 */
#define AIRLOCK_AEAD_DEC_BUF(chunk_size) ((size_t)(chunk_size) + AIRLOCK_AEAD_TAG_LEN + 1u)

/* AIRLOCK_OK if chunk_size is a power of two within MIN..MAX, else AIRLOCK_ERR_BAD_VALUE. */
AIRLOCK_MUST_USE airlock_err airlock_aead_check_chunk_size(uint32_t chunk_size);

/*
 * Size of the stream for a plaintext of `plain` bytes: plain + 16 * chunks.
 * AIRLOCK_ERR_LIMIT if that needs more than 2^32 chunks (below that the sum
 * cannot overflow: it stays under 2^57).
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_ciphertext_size(uint64_t plain, uint32_t chunk_size, uint64_t *out);

/*
 * The inverse: the plaintext size of a stream of `cipher` bytes.
 * AIRLOCK_ERR_BAD_VALUE if no stream has that size (below 16 bytes, or a
 * last chunk of 1..16 bytes after full ones, which would be an empty or
 * tag-less last chunk), AIRLOCK_ERR_LIMIT if it would need more than 2^32 chunks.
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_plaintext_size(uint64_t cipher, uint32_t chunk_size, uint64_t *out);

/* ---- encryptor ---- */

struct airlock_aead_enc {
	struct airlock_gcm gcm;
	uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN];
	uint32_t chunk_size;
	uint64_t index;       /* next chunk to seal */
	uint8_t state;        /* 0 unusable, 1 open, 2 last chunk sealed */
};

/* Sets the key and prefix; key may be wiped by the caller afterwards. */
AIRLOCK_MUST_USE airlock_err airlock_aead_enc_init(struct airlock_aead_enc *enc,
						   const uint8_t key[AIRLOCK_AEAD_KEY_LEN],
						   const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN],
						   uint32_t chunk_size);
/*
 * Seals the next chunk into out, which must hold len + 16 bytes (ciphertext
 * then tag; out may equal pt when it has room for the tag).
 * len must equal chunk_size unless last; a last chunk holds 1..chunk_size
 * bytes, or 0 bytes if it is also the first (the empty plaintext).
 * AIRLOCK_ERR_INVALID_ARG for a length that breaks those rules or for any
 * chunk after the last; AIRLOCK_ERR_LIMIT for a chunk index of 2^32.
 * A refused call changes nothing.
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_enc_chunk(struct airlock_aead_enc *enc, const uint8_t *pt, size_t len,
						    bool last, uint8_t *out);
/* Releases the key schedule. Idempotent. */
void airlock_aead_enc_free(struct airlock_aead_enc *enc);

/* ---- decryptor ---- */

/*
 * Receives each chunk's plaintext, only after that chunk's tag verified,
 * with the chunk's index (0, 1, 2, ... in order). pt points into the
 * decryptor's buffer and is wiped after the call. Any error it returns
 * stops the stream and is returned by update/final (and by every later call).
 */
typedef airlock_err (*airlock_aead_sink)(void *ctx, const uint8_t *pt, size_t len, uint64_t index);

struct airlock_aead_dec {
	struct airlock_gcm gcm;
	uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN];
	uint32_t chunk_size;
	uint8_t *buf;         /* caller's, AIRLOCK_AEAD_DEC_BUF(chunk_size) bytes */
	size_t fill;          /* bytes buffered */
	uint64_t index;       /* chunk being assembled, or the one that failed */
	airlock_err sticky;   /* first error: returned from then on */
	uint8_t state;        /* 0 unusable, 1 open, 2 finished */
};

/*
 * Starts a decryptor. buf (buf_cap >= AIRLOCK_AEAD_DEC_BUF(chunk_size), else
 * AIRLOCK_ERR_BUFFER_TOO_SMALL) must stay valid until _free(); it holds one
 * sealed chunk and is wiped by _final() and _free().
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_dec_init(struct airlock_aead_dec *dec,
						   const uint8_t key[AIRLOCK_AEAD_KEY_LEN],
						   const uint8_t prefix[AIRLOCK_AEAD_PREFIX_LEN],
						   uint32_t chunk_size, uint8_t *buf, size_t buf_cap);
/*
 * Feeds len stream bytes (any split of the stream gives the same result).
 * Whenever more than chunk_size + 16 bytes are buffered, the first
 * chunk_size + 16 are opened as a chunk that is not the last, and its
 * plaintext goes to sink (sink may be NULL to verify only).
 * Errors (sticky, with airlock_aead_dec_position() naming the chunk):
 *   AIRLOCK_ERR_AEAD_TAG       the chunk does not authenticate;
 *   AIRLOCK_ERR_AEAD_EXTENDED  it authenticates only as the last chunk:
 *                              bytes follow the true end of the stream;
 *   AIRLOCK_ERR_LIMIT          a chunk index of 2^32;
 *   whatever sink returned.
 * AIRLOCK_ERR_INVALID_ARG after _final(), or on a context that was freed or
 * whose init failed.
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_dec_update(struct airlock_aead_dec *dec, const uint8_t *in, size_t len,
						     airlock_aead_sink sink, void *sink_ctx);
/*
 * Ends the stream: opens the 16 .. chunk_size + 16 bytes left as the last
 * chunk and passes its plaintext to sink. Then wipes the buffer and key
 * schedule, success or not (_free() stays harmless).
 * Errors, besides those of update:
 *   AIRLOCK_ERR_AEAD_TRUNCATED fewer than 16 bytes left (also no bytes at
 *                              all), or the chunk authenticates only as a
 *                              chunk that is not the last: the stream was
 *                              cut at a chunk boundary;
 *   AIRLOCK_ERR_MALFORMED      an authentic empty last chunk after full ones
 *                              (no conforming encryptor writes it).
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_dec_final(struct airlock_aead_dec *dec,
						    airlock_aead_sink sink, void *sink_ctx);
/*
 * Resumes a stream at chunk `index`, whose sealed chunks start at stream
 * offset index * (chunk_size + 16) (an install continued with an HTTP Range
 * request). Only right after _init(), before any byte was fed
 * (AIRLOCK_ERR_INVALID_ARG otherwise); AIRLOCK_ERR_LIMIT for index >= 2^32.
 * The nonce binds each chunk to its index, so bytes of another position
 * still fail their tag.
 */
AIRLOCK_MUST_USE airlock_err airlock_aead_dec_seek(struct airlock_aead_dec *dec, uint64_t index);
/*
 * Index of the chunk being assembled: after an error, the chunk that failed
 * (for messages such as "chunk 7 failed authentication"); after a successful
 * _final(), the number of chunks.
 */
uint64_t airlock_aead_dec_position(const struct airlock_aead_dec *dec);
/* Wipes the AIRLOCK_AEAD_DEC_BUF(chunk_size) bytes of buf it used and the
 * key schedule. Idempotent. */
void airlock_aead_dec_free(struct airlock_aead_dec *dec);

#endif
