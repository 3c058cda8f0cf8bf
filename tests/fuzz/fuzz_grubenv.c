/*
 * Fuzz target for the bootloader-environment form of the boot record: the
 * GRUB environment block (lib/bootctl_grub.c: its line splitter, escapes,
 * and the rebuild a store does) and the variable values both the grub and
 * the uboot backend hand to lib/bootctl_env.c.
 *
 * Input: one mode byte m, then the body.
 *   m & 3 == 0: the body is the block as stored (only 1024 bytes can pass);
 *   m & 3 == 1: the body goes after "# GRUB Environment Block\n" and is
 *               padded with '#' to 1024 bytes (cut to fit), so that the
 *               fuzzer works on lines, not on the frame;
 *   m & 3 >= 2: the body is the six values (airlock_slot, airlock_good,
 *               upgrade_available, bootcount, bootlimit, airlock_secver)
 *               separated by '\n'; a missing one or a lone 0x01 is unset.
 * For blocks, the record stored over it is the decoded one when legal,
 * else one built from m's upper bits.
 *
 * Invariants, each an abort(): decode gives only OK, NOT_FOUND (no
 * airlock_slot) or BOOT_RECORD; a decoded record is normalized (bootlimit
 * 1..255, bootcount at most bootlimit + 1, 0 when nothing is pending); the
 * rebuilt block decodes to exactly the record stored, whatever other lines
 * the old block held, and rebuilding it again changes no byte; a block the
 * rebuild refuses as not a block is one decode refused too; values that
 * decode format back to the same record.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/bootctl.h"
#include "bootctl_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char header[] = "# GRUB Environment Block\n";

static bool same(const struct airlock_boot_record *a, const struct airlock_boot_record *b)
{
	return a->active == b->active && a->good == b->good && a->pending == b->pending &&
	       a->bootcount == b->bootcount && a->bootlimit == b->bootlimit && a->secver == b->secver;
}

static void check_normal(const struct airlock_boot_record *r)
{
	if (r->active > 1 || r->good > 1 || r->bootlimit < 1 || r->bootlimit > AIRLOCK_BOOTLIMIT_MAX ||
	    r->bootcount > r->bootlimit + 1 || (!r->pending && r->bootcount != 0))
		abort();
}

/* A legal record from the mode byte's upper bits. */
static void record_from(uint8_t m, struct airlock_boot_record *r)
{
	airlock_boot_record_init(r, m >> 2 & 1u, 1u + (m >> 3 & 7u));
	if (m & 0x80u) {
		r->active = (uint8_t)airlock_slot_other(r->good);
		r->pending = true;
		r->bootcount = r->bootlimit + 1;
	}
	r->secver = (uint64_t)m << 40 | m;
}

static void fuzz_block(uint8_t m, const uint8_t *body, size_t len)
{
	static char blk[2048], out[AIRLOCK_GRUBENV_LEN], again[AIRLOCK_GRUBENV_LEN];
	size_t blen;
	if ((m & 3u) == 1) {
		memset(blk, '#', AIRLOCK_GRUBENV_LEN);
		size_t hl = sizeof header - 1;
		size_t n = len < AIRLOCK_GRUBENV_LEN - hl ? len : AIRLOCK_GRUBENV_LEN - hl;
		memcpy(blk, header, hl);
		memcpy(blk + hl, body, n);
		blen = AIRLOCK_GRUBENV_LEN;
	} else {
		blen = len < sizeof blk ? len : sizeof blk;
		memcpy(blk, body, blen);
	}

	struct airlock_boot_record r, back;
	airlock_err err = airlock_grubenv_decode(blk, blen, &r);
	if (err != AIRLOCK_OK && err != AIRLOCK_ERR_NOT_FOUND && err != AIRLOCK_ERR_BOOT_RECORD)
		abort();
	if (err == AIRLOCK_OK)
		check_normal(&r);
	if (err != AIRLOCK_OK || airlock_boot_record_check(&r) != AIRLOCK_OK)
		record_from(m, &r);

	airlock_err up = airlock_grubenv_update(blk, blen, &r, out);
	if (up == AIRLOCK_ERR_BOOT_RECORD && err != AIRLOCK_ERR_BOOT_RECORD)
		abort();
	if (up == AIRLOCK_ERR_BOOT_RECORD || up == AIRLOCK_ERR_NO_SPACE)
		return;
	if (up != AIRLOCK_OK || memcmp(out, header, sizeof header - 1) != 0 || out[AIRLOCK_GRUBENV_LEN - 1] != '#')
		abort();
	if (airlock_grubenv_decode(out, sizeof out, &back) != AIRLOCK_OK || !same(&r, &back))
		abort();
	if (airlock_grubenv_update(out, sizeof out, &r, again) != AIRLOCK_OK || memcmp(out, again, sizeof out) != 0)
		abort();
}

static void fuzz_values(const uint8_t *body, size_t len)
{
	static char vals[AIRLOCK_BOOTENV_VARS][256];
	const char *set[AIRLOCK_BOOTENV_VARS] = { NULL };
	size_t off = 0;
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS && off <= len; i++) {
		const uint8_t *nl = memchr(body + off, '\n', len - off);
		size_t n = nl ? (size_t)(nl - (body + off)) : len - off;
		size_t c = n < sizeof vals[i] - 1 ? n : sizeof vals[i] - 1;
		memcpy(vals[i], body + off, c);
		vals[i][c] = '\0';
		if (!(n == 1 && body[off] == 0x01))
			set[i] = vals[i];
		off += n + 1;
	}

	struct airlock_boot_record r, back;
	airlock_err err = airlock_bootenv_to_record(set, &r);
	if ((err == AIRLOCK_ERR_NOT_FOUND) != (set[0] == NULL))
		abort();
	if (err != AIRLOCK_OK) {
		if (err != AIRLOCK_ERR_NOT_FOUND && err != AIRLOCK_ERR_BOOT_RECORD)
			abort();
		return;
	}
	check_normal(&r);
	char out[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX];
	const char *outp[AIRLOCK_BOOTENV_VARS];
	airlock_bootenv_from_record(&r, out);
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS; i++)
		outp[i] = out[i];
	if (airlock_bootenv_to_record(outp, &back) != AIRLOCK_OK || !same(&r, &back))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if ((data[0] & 3u) < 2)
		fuzz_block(data[0], data + 1, size - 1);
	else
		fuzz_values(data + 1, size - 1);
	return 0;
}
