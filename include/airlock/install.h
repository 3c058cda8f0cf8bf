/*
 * The install pipeline: a payload stream into a slot, verified chunk by
 * chunk before any byte of a chunk is written (DESIGN.md, "The device
 * pipeline" and "Chunks: verify before write"; docs/install.md).
 *
 *   feed(bytes) -> [decrypt chunk] -> SHA-256(chunk) == signed list entry
 *               -> write chunk to the slot at its offset -> next chunk
 *   finish()    -> all chunks seen, digest of the list == signed digest,
 *                  slot synced -> AIRLOCK_OK (only now may the caller mark
 *                  the slot pending)
 *
 * Push style and transport-agnostic: the agent's libcurl callback, an
 * offline bundle reader, a test or a fuzzer all call feed() with whatever
 * pieces they have (any split of the stream gives the same result).
 *
 * Conventions for this header:
 *  - Every fallible function returns airlock_err; results go to out-params.
 *  - The caller owns the context struct, the chunk-digest list and the slot;
 *    the list and the slot must outlive the context. The context holds one
 *    heap buffer of AIRLOCK_INSTALL_BUF(chunk_size) bytes, allocated by
 *    _init() and released by _free(); nothing else is allocated by the
 *    pipeline after _init() (the crypto port's per-hash contexts aside, which
 *    are constant in size), so peak memory is one chunk plus a constant,
 *    whatever the image size. The list (32 bytes per chunk, 0.05% of the
 *    payload at 64 KiB chunks) is the caller's.
 *  - The slot is touched only through airlock_slot_read/write/sync (slot.h),
 *    so a fault-injecting slot backend sees every write and sync.
 *  - Errors are sticky: after the first failure every later feed()/finish()
 *    returns it, and airlock_install_position() names the chunk.
 *  - Fields of struct airlock_install are private.
 *
 * What is written, and when: chunk i is written at offset i * chunk_size
 * only after it was authenticated (encrypted payloads) and its SHA-256
 * matched entry i of the verified list. A failing chunk writes nothing. The
 * bytes of chunks already written stay in the slot after a failure (they
 * are verified bytes of the signed payload, and resume reuses them), but the
 * slot is never complete-and-verified until finish() says so.
 */
#ifndef AIRLOCK_INSTALL_H
#define AIRLOCK_INSTALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/aead.h"
#include "airlock/crypto.h"
#include "airlock/error.h"
#include "airlock/meta.h"
#include "airlock/payload.h"
#include "airlock/slot.h"

/* Bytes of the one chunk buffer: a sealed chunk plus the decryptor's byte
 * of look-ahead (plain payloads use chunk_size of it). */
#define AIRLOCK_INSTALL_BUF(chunk_size) AIRLOCK_AEAD_DEC_BUF(chunk_size)

/* ---- progress record (resume) ---- */

/*
 * What the agent persists between checkpoints to resume an install after a
 * network loss, a kill or a reboot. The record is a hint, never trusted:
 * resume re-reads and re-verifies every chunk it claims (see
 * airlock_install_resume()).
 */
struct airlock_install_progress {
	uint8_t payload_digest[AIRLOCK_SHA256_LEN]; /* signed digest of the payload (of its chunk list) */
	uint64_t payload_size;                      /* plaintext bytes, signed */
	uint32_t chunk_size;                        /* signed */
	bool encrypted;
	uint64_t chunks_done;   /* chunks 0..chunks_done-1 verified, written and synced */
	uint64_t stream_offset; /* byte of the downloaded stream where chunk chunks_done
	                         * starts: ask "Range: bytes=<stream_offset>-". For an
	                         * encrypted stream the ciphertext offset,
	                         * chunks_done * (chunk_size + 16); for a plain one
	                         * chunks_done * chunk_size. Equal to the stream's size
	                         * when every chunk is done: nothing left to fetch,
	                         * call finish(). */
};

/*
 * Fixed on-disk form of the record, for agents that store it as bytes
 * (big-endian; docs/install.md gives the layout):
 *   "AIP1" | payload_digest[32] | payload_size u64 | chunk_size u32 |
 *   flags u32 (bit 0: encrypted) | chunks_done u64 | stream_offset u64 |
 *   FNV-1a 64 of the preceding 68 bytes (catches a torn or bit-rotted
 *   record; not a security check: resume re-verifies every chunk anyway).
 */
#define AIRLOCK_INSTALL_PROGRESS_LEN 76

void airlock_install_progress_encode(const struct airlock_install_progress *rec,
				     uint8_t out[AIRLOCK_INSTALL_PROGRESS_LEN]);
/* AIRLOCK_ERR_MALFORMED for a wrong length, magic or check value;
 * AIRLOCK_ERR_BAD_VALUE for unknown flags or a chunk size not allowed.
 * Whether the counts fit the payload is checked by airlock_install_resume(). */
AIRLOCK_MUST_USE airlock_err airlock_install_progress_decode(const uint8_t *buf, size_t len,
							     struct airlock_install_progress *rec);

/* ---- the pipeline ---- */

struct airlock_install {
	struct airlock_slot *slot;
	struct airlock_payload_check check;  /* chunk digests and the whole-payload digest */
	struct airlock_aead_dec dec;         /* encrypted payloads only */
	uint8_t *buf;                        /* AIRLOCK_INSTALL_BUF(chunk_size) bytes */
	size_t fill;                         /* plain: bytes of the current chunk buffered */
	uint8_t digest[AIRLOCK_SHA256_LEN];  /* signed payload digest */
	uint64_t size;                       /* signed plaintext size */
	uint64_t n_chunks;                   /* plaintext chunks (0 for an empty payload) */
	uint64_t stream_size;                /* signed size of the stream: size, or enc.size */
	uint64_t stream_off;                 /* stream bytes accounted for (resume start + fed) */
	uint64_t chunks_done;                /* chunks verified and written */
	uint64_t failed;                     /* chunk index of the first error */
	uint32_t chunk_size;
	bool encrypted;
	bool dec_open;
	airlock_err sticky;
	uint8_t state;
};

/*
 * Starts an install of payload p (from a release verified with
 * airlock_release_verify()) into slot, from chunk 0.
 *  - list/list_len: the payload's chunk-digest list as fetched. Checked with
 *    airlock_payload_list_verify() before anything else (DIGEST_MISMATCH or
 *    SIZE_MISMATCH: nothing allocated, nothing written). Must outlive `in`.
 *  - key: the 32-byte content key (already unwrapped) when p->encrypted,
 *    else NULL (either mismatch is AIRLOCK_ERR_INVALID_ARG). Copied into the
 *    decryptor's key schedule; the caller may wipe its copy afterwards. A
 *    wrong key is found at the first chunk (AEAD_TAG, chunk 0, nothing
 *    written): the format carries no key check value.
 *  - slot: open; p->size above its capacity is AIRLOCK_ERR_NO_SPACE.
 * Other errors: BAD_VALUE (chunk size, or an encrypted size that does not
 * belong to the plaintext size), UNSUPPORTED_ALG (encryption algorithm),
 * NOMEM. On error nothing needs freeing (_free() is harmless).
 */
AIRLOCK_MUST_USE airlock_err airlock_install_init(struct airlock_install *in, const struct airlock_payload *p,
						  const uint8_t *list, size_t list_len,
						  const uint8_t *key, struct airlock_slot *slot);

/* What airlock_install_resume() did. */
struct airlock_install_resumed {
	uint64_t chunk;      /* chunk the install continues at: rec->chunks_done, or 0 */
	airlock_err restart; /* AIRLOCK_OK when resumed as recorded, else why it restarted at 0:
	                      *   AIRLOCK_ERR_STATE            the record belongs to another
	                      *                                payload (digest, size, chunk size,
	                      *                                encryption) or does not add up;
	                      *   AIRLOCK_ERR_DIGEST_MISMATCH  a re-read chunk does not match the
	                      *                                list (the slot changed behind our
	                      *                                back, or was never synced) */
	uint64_t bad_chunk;  /* with DIGEST_MISMATCH: the first re-read chunk that did not match */
};

/*
 * Continues an install from a persisted record; call right after _init(),
 * before any feed(), at most once. Re-reads chunks 0..rec->chunks_done-1
 * from the slot and checks each against the verified list, rebuilding the
 * whole-payload hash, so a resumed install is verified as strictly as a
 * fresh one. The stream is then expected from the record's stream_offset on
 * (airlock_install_stream_offset() says the same).
 *
 * When the record does not fit or a chunk does not match, the install falls
 * back to chunk 0 and resume still returns AIRLOCK_OK; *out (may be NULL)
 * reports which. Errors (sticky): IO_READ and the like from the slot;
 * INVALID_ARG after a feed() or a second resume.
 */
AIRLOCK_MUST_USE airlock_err airlock_install_resume(struct airlock_install *in,
						    const struct airlock_install_progress *rec,
						    struct airlock_install_resumed *out);

/*
 * Feeds the next len bytes of the stream (ciphertext for an encrypted
 * payload, else plaintext). Each chunk completed by these bytes is
 * decrypted, checked and written before feed() returns; an encrypted
 * stream's last full chunk waits for finish() (only the end of the stream
 * proves it is the last).
 * Errors (sticky; airlock_install_position() names the chunk):
 *   TOO_LARGE        these bytes would pass the signed stream size: none of
 *                    them is used (not even the part that would fit);
 *   DIGEST_MISMATCH  the chunk's SHA-256 is not its list entry;
 *   AEAD_TAG, AEAD_EXTENDED, LIMIT (see aead.h);
 *   IO_WRITE, NO_SPACE, POWER_CUT... whatever the slot's write returned.
 * A failed chunk writes nothing to the slot.
 */
AIRLOCK_MUST_USE airlock_err airlock_install_feed(struct airlock_install *in, const uint8_t *data, size_t len);

/*
 * Ends the stream: the last chunk (encrypted: authenticated as the last),
 * all of the signed size present (SIZE_MISMATCH, or AEAD_TRUNCATED for an
 * encrypted stream), the digest of the chunk list equal to the signed one
 * (DIGEST_MISMATCH), then airlock_slot_sync() (IO_SYNC...). AIRLOCK_OK only
 * when all of that holds: then, and only then, the slot holds the verified
 * payload durably and the caller may mark it pending.
 */
AIRLOCK_MUST_USE airlock_err airlock_install_finish(struct airlock_install *in);

/*
 * Syncs the slot, then fills *rec for the chunks written so far (the agent
 * persists rec afterwards, atomically). Syncing first means a record never
 * claims chunks that a power cut could still lose. Call it as often as the
 * agent likes (e.g. every few MiB); not after an error (returns it).
 */
AIRLOCK_MUST_USE airlock_err airlock_install_checkpoint(struct airlock_install *in,
							struct airlock_install_progress *rec);

/* After an error: the chunk that failed. Otherwise the number of chunks
 * verified and written so far (the next chunk's index). */
uint64_t airlock_install_position(const struct airlock_install *in);
/* Stream bytes accounted for: the resume point plus everything fed (for
 * progress reports; Range requests use the checkpoint's stream_offset). */
uint64_t airlock_install_stream_offset(const struct airlock_install *in);
/* The signed size of the stream: the plaintext size, or the ciphertext size. */
uint64_t airlock_install_stream_size(const struct airlock_install *in);

/* Wipes and releases the buffer and the crypto contexts. Idempotent; safe
 * after a failed _init(). Does not close the slot. */
void airlock_install_free(struct airlock_install *in);

/*
 * Room for block-level deltas (DESIGN.md: a device may skip chunks that its
 * active slot already holds): a later airlock_install_skip(in, source_slot)
 * would copy the current chunk from the active slot, check it against the
 * same list entry, and write it, in place of the bytes of the stream. Not
 * implemented yet.
 */

#endif
