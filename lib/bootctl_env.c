/*
 * The boot record as bootloader environment variables, shared by the uboot
 * and grub backends (docs/boot.md, "U-Boot" and "GRUB"). The names are
 * U-Boot's own where it has them (upgrade_available, bootcount, bootlimit:
 * its bootcount feature reads them) and ours otherwise.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bootctl_backend.h"
#include "util.h"

enum { V_SLOT, V_GOOD, V_UPGRADE, V_COUNT, V_LIMIT, V_SECVER };

const char *const airlock_bootenv_names[AIRLOCK_BOOTENV_VARS] = {
	[V_SLOT] = "airlock_slot",       [V_GOOD] = "airlock_good",   [V_UPGRADE] = "upgrade_available",
	[V_COUNT] = "bootcount",         [V_LIMIT] = "bootlimit",     [V_SECVER] = "airlock_secver",
};

/* Decimal without sign, spaces or overflow; `dflt` when unset. */
static airlock_err parse_num(const char *s, uint64_t max, uint64_t dflt, uint64_t *out)
{
	if (!s) {
		*out = dflt;
		return AIRLOCK_OK;
	}
	if (*s < '0' || *s > '9')
		return AIRLOCK_ERR_BOOT_RECORD;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return AIRLOCK_ERR_BOOT_RECORD;
	*out = (uint64_t)v;
	return AIRLOCK_OK;
}

airlock_err airlock_bootenv_to_record(const char *const values[AIRLOCK_BOOTENV_VARS], struct airlock_boot_record *r)
{
	unsigned active, good;
	uint64_t upgrade, count, limit, secver;
	if (!values[V_SLOT])
		return AIRLOCK_ERR_NOT_FOUND;
	if (airlock_slot_parse(values[V_SLOT], &active) != AIRLOCK_OK)
		return AIRLOCK_ERR_BOOT_RECORD;
	good = active;
	if (values[V_GOOD] && airlock_slot_parse(values[V_GOOD], &good) != AIRLOCK_OK)
		return AIRLOCK_ERR_BOOT_RECORD;
	TRY(parse_num(values[V_UPGRADE], 1, 0, &upgrade));
	TRY(parse_num(values[V_COUNT], UINT32_MAX, 0, &count));
	TRY(parse_num(values[V_LIMIT], AIRLOCK_BOOTLIMIT_MAX, AIRLOCK_BOOTLIMIT_DEFAULT, &limit));
	TRY(parse_num(values[V_SECVER], UINT64_MAX, 0, &secver));
	memset(r, 0, sizeof *r);
	r->active = (uint8_t)active;
	r->good = (uint8_t)good;
	r->pending = upgrade == 1;
	/* U-Boot may leave a count behind when nothing is on trial, and keeps
	 * counting past the limit while booting altbootcmd: normalize both. */
	if (!r->pending)
		count = 0;
	if (limit == 0)
		limit = AIRLOCK_BOOTLIMIT_DEFAULT;
	if (count > limit + 1)
		count = limit + 1;
	r->bootcount = (uint32_t)count;
	r->bootlimit = (uint32_t)limit;
	r->secver = secver;
	return AIRLOCK_OK;
}

void airlock_bootenv_from_record(const struct airlock_boot_record *r,
				 char values[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX])
{
	snprintf(values[V_SLOT], AIRLOCK_BOOTENV_VALUE_MAX, "%s", airlock_slot_name(r->active));
	snprintf(values[V_GOOD], AIRLOCK_BOOTENV_VALUE_MAX, "%s", airlock_slot_name(r->good));
	snprintf(values[V_UPGRADE], AIRLOCK_BOOTENV_VALUE_MAX, "%u", r->pending ? 1u : 0u);
	snprintf(values[V_COUNT], AIRLOCK_BOOTENV_VALUE_MAX, "%" PRIu32, r->bootcount);
	snprintf(values[V_LIMIT], AIRLOCK_BOOTENV_VALUE_MAX, "%" PRIu32, r->bootlimit);
	snprintf(values[V_SECVER], AIRLOCK_BOOTENV_VALUE_MAX, "%" PRIu64, r->secver);
}
