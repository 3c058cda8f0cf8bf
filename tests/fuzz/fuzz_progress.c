/*
 * Fuzz target for the install resume record (lib/install.c:
 * airlock_install_progress_decode(), and what airlock_install_resume() does
 * with a record that decodes). The record is a hint the agent keeps on
 * disk; a torn, stale or hostile one must never make an install skip a
 * chunk it has not verified.
 *
 * Input: one flags byte f, then the record's bytes.
 *   f & 1: the harness recomputes the record's FNV-1a check value over the
 *          fuzzed body first (so the fields behind it are explored);
 *   f & 4: the release's own digest, size and chunk size (plain) are put
 *          in first, so that the counts are what the fuzzer varies;
 *   f & 2: resume: a plain release of 3 chunks of 4096 bytes and one of
 *          100 is installed on a memory slot that already holds its first
 *          k = (f >> 3) % 5 chunks (the rest 0xee), from the record.
 * Invariants, each an abort(): decode gives OK, MALFORMED or BAD_VALUE, and
 * what it accepts encodes to the same bytes; resume returns OK; it keeps
 * the record only when it fits the payload (digest, size, chunk size,
 * plaintext, chunks_done <= chunks, stream_offset where chunk chunks_done
 * starts) and the slot holds the chunks it claims, and otherwise starts at
 * chunk 0 saying why (STATE, or DIGEST_MISMATCH naming chunk k); the
 * stream from where it resumes then completes the install with the
 * payload in the slot, every write a whole chunk at or after the resume
 * point and equal to the payload.
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
#define REC_BODY (AIRLOCK_INSTALL_PROGRESS_LEN - 8)

static struct {
	bool ready;
	uint8_t plain[SIZE];
	uint8_t list[NCHUNKS * 32];
	uint8_t digest[32];
	struct airlock_payload p;
} rel;

static struct {
	uint8_t bytes[CAP];
	uint64_t min_off;  /* writes below this are a skipped check's sign */
} mem;

static void build_release(void)
{
	for (size_t i = 0; i < SIZE; i++)
		rel.plain[i] = (uint8_t)(i * 167u + (i >> 10));
	for (size_t k = 0; k < NCHUNKS; k++) {
		size_t len = k + 1 < NCHUNKS ? CS : SIZE - k * CS;
		if (airlock_sha256(rel.plain + k * CS, len, rel.list + 32 * k) != AIRLOCK_OK)
			abort();
	}
	if (airlock_sha256(rel.list, sizeof rel.list, rel.digest) != AIRLOCK_OK)
		abort();
	rel.p.name.ptr = "rootfs";
	rel.p.name.len = 6;
	rel.p.size = SIZE;
	rel.p.chunk_size = CS;
	rel.p.digest = rel.digest;
	rel.ready = true;
}

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
	if (off % CS != 0 || off < mem.min_off || off >= SIZE || len != (off + CS <= SIZE ? CS : SIZE - off) ||
	    memcmp(buf, rel.plain + off, len) != 0)
		abort();
	memcpy(mem.bytes + off, buf, len);
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

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return h;
}

static uint64_t offset_of(uint64_t chunks)
{
	return chunks >= NCHUNKS ? SIZE : chunks * CS;
}

static void resume(const struct airlock_install_progress *rec, unsigned k)
{
	struct airlock_slot slot = { &mem_ops, CAP, -1, &mem };
	struct airlock_install in;
	struct airlock_install_resumed res;
	memset(mem.bytes, 0xee, sizeof mem.bytes);
	memcpy(mem.bytes, rel.plain, k < NCHUNKS ? k * CS : SIZE);
	mem.min_off = 0;
	if (airlock_install_init(&in, &rel.p, rel.list, sizeof rel.list, NULL, &slot) != AIRLOCK_OK ||
	    airlock_install_resume(&in, rec, &res) != AIRLOCK_OK)
		abort();
	bool fits = memcmp(rec->payload_digest, rel.digest, 32) == 0 && rec->payload_size == SIZE &&
		    rec->chunk_size == CS && !rec->encrypted && rec->chunks_done <= NCHUNKS &&
		    rec->stream_offset == offset_of(rec->chunks_done);
	uint64_t from = airlock_install_stream_offset(&in);
	if (!fits) {
		if (res.restart != AIRLOCK_ERR_STATE || res.chunk != 0 || from != 0)
			abort();
	} else if (rec->chunks_done > k) {
		if (res.restart != AIRLOCK_ERR_DIGEST_MISMATCH || res.bad_chunk != k || res.chunk != 0 || from != 0)
			abort();
	} else if (res.restart != AIRLOCK_OK || res.chunk != rec->chunks_done || from != rec->stream_offset) {
		abort();
	}
	mem.min_off = res.chunk * CS;
	if ((from < SIZE && airlock_install_feed(&in, rel.plain + from, SIZE - from) != AIRLOCK_OK) ||
	    airlock_install_finish(&in) != AIRLOCK_OK || memcmp(mem.bytes, rel.plain, SIZE) != 0)
		abort();
	airlock_install_free(&in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[AIRLOCK_INSTALL_PROGRESS_LEN], out[AIRLOCK_INSTALL_PROGRESS_LEN];
	struct airlock_install_progress rec;
	if (!rel.ready)
		build_release();
	if (size < 1)
		return 0;
	uint8_t f = data[0];
	const uint8_t *body = data + 1;
	size_t len = size - 1;
	if (len == sizeof buf && (f & 5u)) {
		memcpy(buf, body, len);
		if (f & 4u) {
			memcpy(buf + 4, rel.digest, 32);
			put_be(buf + 36, SIZE, 8);
			put_be(buf + 44, CS, 4);
			put_be(buf + 48, 0, 4);
		}
		if (f & 1u)
			put_be(buf + REC_BODY, fnv1a64(buf, REC_BODY), 8);
		body = buf;
	}
	airlock_err err = airlock_install_progress_decode(body, len, &rec);
	if (err == AIRLOCK_ERR_MALFORMED || err == AIRLOCK_ERR_BAD_VALUE)
		return 0;
	if (err != AIRLOCK_OK)
		abort();
	airlock_install_progress_encode(&rec, out);
	if (len != sizeof out || memcmp(out, body, len) != 0)
		abort();
	if (f & 2u)
		resume(&rec, (unsigned)(f >> 3) % (NCHUNKS + 1));
	return 0;
}
