/*
 * Payload digests: verify every chunk before it is written.
 *
 * A payload of `size` bytes is cut into chunks of `chunk_size` bytes (the last
 * holds the rest; an empty payload has no chunks). Its chunk-digest list is
 * the concatenation of SHA-256(chunk i) for i = 0..n-1 (32 bytes each), and
 * the payload digest that the release signs is SHA-256(chunk-digest list).
 * Every byte is bound by that one signed digest, so a device that has checked
 * the list against it can check each chunk on its own, before any byte of it
 * reaches a slot, and a verifier that has no list still hashes each byte once.
 *
 * airlock_payload_check is that verifier. Without a list it computes the
 * digest as bytes stream through and compares at the end (the CLI verifying a
 * file). With a verified list it also refuses a chunk at the boundary where
 * it ends (the install pipeline, which hands a chunk on only after
 * airlock_payload_check_chunk() said OK). Either way, a byte beyond the
 * signed size is AIRLOCK_ERR_TOO_LARGE at once, never a silent truncation.
 */
#ifndef AIRLOCK_PAYLOAD_H
#define AIRLOCK_PAYLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/error.h"
#include "airlock/meta.h"

/* Number of chunks of a payload; AIRLOCK_ERR_BAD_VALUE for a chunk size that
 * is not a power of two within AIRLOCK_CHUNK_MIN..MAX. */
AIRLOCK_MUST_USE airlock_err airlock_payload_chunks(uint64_t size, uint32_t chunk_size, uint64_t *n);

/* Checks a chunk-digest list against the payload's signed digest
 * (AIRLOCK_ERR_SIZE_MISMATCH if its length is not 32 * chunks). */
AIRLOCK_MUST_USE airlock_err airlock_payload_list_verify(const struct airlock_payload *p,
							 const uint8_t *list, size_t len);

/* Called for each completed chunk with its digest (creating a list). */
typedef airlock_err (*airlock_chunk_fn)(void *ctx, uint64_t index, const uint8_t digest[AIRLOCK_SHA256_LEN]);

struct airlock_payload_check {
	uint64_t size;
	uint32_t chunk_size;
	uint8_t digest[AIRLOCK_SHA256_LEN];  /* expected; unused when creating */
	bool compare;                        /* false when creating a digest */
	const uint8_t *list;                 /* verified list, or NULL */
	airlock_chunk_fn on_chunk;           /* may be NULL */
	void *on_chunk_ctx;
	uint64_t offset;                     /* bytes consumed */
	uint64_t index;                      /* current chunk */
	uint64_t failed_index;               /* chunk that failed, for messages */
	struct airlock_sha256 inner;
	struct airlock_sha256 outer;
	airlock_err sticky;                  /* first error about the data: refused from then on
	                                      * (a misuse refused before consuming anything, such
	                                      * as a wrong chunk length, is not sticky) */
};

/* Starts checking against p's signed size, chunk size and digest. list, if
 * not NULL, must have passed airlock_payload_list_verify() and outlive c. */
AIRLOCK_MUST_USE airlock_err airlock_payload_check_init(struct airlock_payload_check *c,
							const struct airlock_payload *p,
							const uint8_t *list);
/* Starts computing the digest of a payload of `size` bytes (release creation). */
AIRLOCK_MUST_USE airlock_err airlock_payload_hash_init(struct airlock_payload_check *c, uint64_t size,
						       uint32_t chunk_size, airlock_chunk_fn on_chunk, void *ctx);
/* Any split of the bytes. */
AIRLOCK_MUST_USE airlock_err airlock_payload_check_update(struct airlock_payload_check *c,
							  const uint8_t *data, size_t len);
/* Exactly the next whole chunk; needs a list: OK means this chunk is verified. */
AIRLOCK_MUST_USE airlock_err airlock_payload_check_chunk(struct airlock_payload_check *c,
							 const uint8_t *chunk, size_t len);
/* All bytes seen (else AIRLOCK_ERR_SIZE_MISMATCH) and the digest matches.
 * digest_out (may be NULL) receives the computed digest. Releases c. */
AIRLOCK_MUST_USE airlock_err airlock_payload_check_final(struct airlock_payload_check *c,
							 uint8_t digest_out[AIRLOCK_SHA256_LEN]);
void airlock_payload_check_free(struct airlock_payload_check *c);

#endif
