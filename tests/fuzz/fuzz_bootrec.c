/*
 * Fuzz target for the sim boot record (lib/bootctl_sim.c): the bytes of the
 * record file, two 64-byte copies in 512-byte sectors, each with a sequence
 * number and a SHA-256 (docs/boot.md, "The sim boot record").
 *
 * Input: one flags byte, then the file. Flag bit i (i = 0, 1) recomputes
 * copy i's digest over the fuzzed body first, so that the fields behind
 * the digest are explored too; without it a copy is as torn or hostile as
 * the fuzzer makes it.
 *
 * Invariants, each an abort(): only OK or BOOT_RECORD; a record is read
 * only from a copy that is whole (magic, format, flags, reserved word,
 * digest) and legal (airlock_boot_record_check), field for field, and from
 * the newer of two such copies in serial-number order; BOOT_RECORD exactly
 * when no copy is (or the file is larger than two sectors).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/bootctl.h"
#include "airlock/crypto.h"
#include "bootctl_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SECTOR 512u
#define COPY 64u
#define BODY 32u

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The oracle, written from the layout in the module's header comment. */
static bool copy_ok(const uint8_t *c, struct airlock_boot_record *r, uint32_t *seq)
{
	uint8_t d[AIRLOCK_SHA256_LEN];
	if (airlock_sha256(c, BODY, d) != AIRLOCK_OK)
		abort();
	if (memcmp(c, "ALBR", 4) != 0 || c[4] != 1 || c[7] > 1 || be32(c + 20) != 0 || memcmp(d, c + BODY, sizeof d) != 0)
		return false;
	memset(r, 0, sizeof *r);
	r->active = c[5];
	r->good = c[6];
	r->pending = c[7] == 1;
	r->bootcount = be32(c + 12);
	r->bootlimit = be32(c + 16);
	r->secver = (uint64_t)be32(c + 24) << 32 | be32(c + 28);
	*seq = be32(c + 8);
	return airlock_boot_record_check(r) == AIRLOCK_OK;
}

static bool same(const struct airlock_boot_record *a, const struct airlock_boot_record *b)
{
	return a->active == b->active && a->good == b->good && a->pending == b->pending &&
	       a->bootcount == b->bootcount && a->bootlimit == b->bootlimit && a->secver == b->secver;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t file[AIRLOCK_BOOTSIM_FILE_LEN + SECTOR];
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	size_t len = size - 1 < sizeof file ? size - 1 : sizeof file;
	memcpy(file, data + 1, len);
	for (unsigned i = 0; i < 2; i++)
		if (((unsigned)flags >> i & 1u) && len >= i * SECTOR + COPY &&
		    airlock_sha256(file + i * SECTOR, BODY, file + i * SECTOR + BODY) != AIRLOCK_OK)
			abort();

	struct airlock_boot_record r, want[2];
	uint32_t seq[2];
	bool ok[2] = { false, false };
	for (unsigned i = 0; i < 2; i++)
		ok[i] = len >= i * SECTOR + COPY && copy_ok(file + i * SECTOR, &want[i], &seq[i]);

	memset(&r, 0x5a, sizeof r);
	airlock_err err = airlock_bootsim_decode(file, len, &r);
	if (len > AIRLOCK_BOOTSIM_FILE_LEN) {
		if (err != AIRLOCK_ERR_BOOT_RECORD)
			abort();
		return 0;
	}
	if (!ok[0] && !ok[1]) {
		if (err != AIRLOCK_ERR_BOOT_RECORD)
			abort();
		return 0;
	}
	if (err != AIRLOCK_OK || airlock_boot_record_check(&r) != AIRLOCK_OK)
		abort();
	unsigned newest = ok[0] && ok[1] ? (seq[1] != seq[0] && seq[1] - seq[0] < 0x80000000u ? 1u : 0u)
					 : (ok[0] ? 0u : 1u);
	if (!same(&r, &want[newest]))
		abort();
	return 0;
}
