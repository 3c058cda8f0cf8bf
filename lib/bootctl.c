/*
 * Boot control (include/airlock/bootctl.h): the backend table, the record's
 * invariants, and the operations computed on the record. Backends only load
 * and store it whole, so the semantics (U-Boot's) live here once.
 */
#include "airlock/bootctl.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "bootctl_backend.h"
#include "util.h"

/* One line per backend: lib/bootctl_<name>.c defines its open function. */
static const struct {
	const char *name;
	airlock_bootctl_open_fn open;
} backends[] = {
	{ "sim", airlock_bootctl_sim_open },
	{ "uboot", airlock_bootctl_uboot_open },
	{ "grub", airlock_bootctl_grub_open },
};

const char *airlock_slot_name(unsigned slot)
{
	return slot == 0 ? "a" : slot == 1 ? "b" : "?";
}

airlock_err airlock_slot_parse(const char *s, unsigned *slot)
{
	if (!s || !slot)
		return AIRLOCK_ERR_INVALID_ARG;
	if (strcmp(s, "a") == 0 || strcmp(s, "A") == 0 || strcmp(s, "0") == 0)
		*slot = 0;
	else if (strcmp(s, "b") == 0 || strcmp(s, "B") == 0 || strcmp(s, "1") == 0)
		*slot = 1;
	else
		return AIRLOCK_ERR_BAD_VALUE;
	return AIRLOCK_OK;
}

airlock_err airlock_boot_record_check(const struct airlock_boot_record *r)
{
	if (!r)
		return AIRLOCK_ERR_INVALID_ARG;
	if (r->active >= AIRLOCK_SLOT_COUNT || r->good >= AIRLOCK_SLOT_COUNT)
		return AIRLOCK_ERR_BOOT_RECORD;
	if (r->bootlimit < 1 || r->bootlimit > AIRLOCK_BOOTLIMIT_MAX)
		return AIRLOCK_ERR_BOOT_RECORD;
	if (!r->pending && (r->active != r->good || r->bootcount != 0))
		return AIRLOCK_ERR_BOOT_RECORD;
	/* A trial of the good slot would leave nothing to fall back to. */
	if (r->pending && (r->active == r->good || r->bootcount > r->bootlimit + 1))
		return AIRLOCK_ERR_BOOT_RECORD;
	return AIRLOCK_OK;
}

void airlock_boot_record_init(struct airlock_boot_record *r, unsigned slot, uint32_t bootlimit)
{
	memset(r, 0, sizeof *r);
	r->active = r->good = (uint8_t)(slot < AIRLOCK_SLOT_COUNT ? slot : 0);
	r->bootlimit = bootlimit >= 1 && bootlimit <= AIRLOCK_BOOTLIMIT_MAX ? bootlimit : AIRLOCK_BOOTLIMIT_DEFAULT;
}

bool airlock_boot_record_exhausted(const struct airlock_boot_record *r)
{
	return r->pending && r->bootcount > r->bootlimit;
}

airlock_err airlock_bootctl_open(struct airlock_bootctl *c, const char *backend, const char *path)
{
	if (!c)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(c, 0, sizeof *c);
	if (!backend)
		return AIRLOCK_ERR_INVALID_ARG;
	for (size_t i = 0; i < ARRAY_LEN(backends); i++) {
		if (strcmp(backends[i].name, backend) != 0)
			continue;
		/* Only uboot has a default (its system config file). */
		if (!path && strcmp(backend, "uboot") != 0)
			return AIRLOCK_ERR_INVALID_ARG;
		if (path && strlen(path) >= sizeof c->path)
			return AIRLOCK_ERR_INVALID_ARG;
		if (path)
			memcpy(c->path, path, strlen(path) + 1);
		airlock_err err = backends[i].open(c);
		if (err != AIRLOCK_OK)
			memset(c, 0, sizeof *c);
		return err;
	}
	return AIRLOCK_ERR_NOT_FOUND;
}

void airlock_bootctl_close(struct airlock_bootctl *c)
{
	if (!c)
		return;
	if (c->ops && c->ops->close)
		c->ops->close(c);
	c->ops = NULL;
	c->impl = NULL;
}

airlock_err airlock_bootctl_load(struct airlock_bootctl *c, struct airlock_boot_record *r)
{
	if (!c || !c->ops || !r)
		return AIRLOCK_ERR_INVALID_ARG;
	struct airlock_boot_record tmp;
	TRY(c->ops->load(c, &tmp));
	TRY(airlock_boot_record_check(&tmp));
	*r = tmp;
	return AIRLOCK_OK;
}

airlock_err airlock_bootctl_store(struct airlock_bootctl *c, const struct airlock_boot_record *r)
{
	if (!c || !c->ops || !r)
		return AIRLOCK_ERR_INVALID_ARG;
	/* An illegal record is never written, whatever the caller computed. */
	TRY(airlock_boot_record_check(r));
	return c->ops->store(c, r);
}

airlock_err airlock_bootctl_provision(struct airlock_bootctl *c, unsigned slot, uint32_t bootlimit, bool *created)
{
	struct airlock_boot_record r;
	if (!created || slot >= AIRLOCK_SLOT_COUNT || bootlimit < 1 || bootlimit > AIRLOCK_BOOTLIMIT_MAX)
		return AIRLOCK_ERR_INVALID_ARG;
	*created = false;
	airlock_err err = airlock_bootctl_load(c, &r);
	if (err != AIRLOCK_ERR_NOT_FOUND)
		return err;
	airlock_boot_record_init(&r, slot, bootlimit);
	TRY(airlock_bootctl_store(c, &r));
	*created = true;
	return AIRLOCK_OK;
}

airlock_err airlock_bootctl_set_trial(struct airlock_bootctl *c, unsigned slot)
{
	struct airlock_boot_record r;
	if (slot >= AIRLOCK_SLOT_COUNT)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_bootctl_load(c, &r));
	if (slot == r.good)
		return AIRLOCK_ERR_STATE;
	r.active = (uint8_t)slot;
	r.pending = true;
	r.bootcount = 0;
	return airlock_bootctl_store(c, &r);
}

airlock_err airlock_bootctl_mark_good(struct airlock_bootctl *c, unsigned slot, uint64_t security_version)
{
	struct airlock_boot_record r;
	if (slot >= AIRLOCK_SLOT_COUNT)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_bootctl_load(c, &r));
	if (r.pending ? slot != r.active : slot != r.good)
		return AIRLOCK_ERR_STATE;
	bool change = r.pending || security_version > r.secver;
	/* One store: the commit and the counter cannot be separated by a cut. */
	r.good = r.active;
	r.pending = false;
	r.bootcount = 0;
	if (security_version > r.secver)
		r.secver = security_version;
	return change ? airlock_bootctl_store(c, &r) : AIRLOCK_OK;
}

airlock_err airlock_bootctl_rollback(struct airlock_bootctl *c)
{
	struct airlock_boot_record r;
	TRY(airlock_bootctl_load(c, &r));
	if (!r.pending)
		return AIRLOCK_OK;
	r.active = r.good;
	r.pending = false;
	r.bootcount = 0;
	return airlock_bootctl_store(c, &r);
}

const char *airlock_boot_reason_name(enum airlock_boot_reason reason)
{
	switch (reason) {
	case AIRLOCK_BOOT_NORMAL:
		return "normal";
	case AIRLOCK_BOOT_TRIAL:
		return "trial";
	case AIRLOCK_BOOT_TRIAL_EXHAUSTED:
		return "trial-exhausted";
	}
	return "?";
}

airlock_err airlock_bootctl_boot_step(struct airlock_bootctl *c, unsigned *slot, enum airlock_boot_reason *reason,
				      struct airlock_boot_record *out)
{
	struct airlock_boot_record r;
	if (!slot || !reason)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_bootctl_load(c, &r));
	if (!r.pending) {
		*slot = r.active;
		*reason = AIRLOCK_BOOT_NORMAL;
	} else if (r.bootcount < r.bootlimit) {
		/* Counted before the boot: a trial that hangs or is cut still used
		 * up one attempt. */
		r.bootcount++;
		TRY(airlock_bootctl_store(c, &r));
		*slot = r.active;
		*reason = AIRLOCK_BOOT_TRIAL;
	} else {
		if (r.bootcount != r.bootlimit + 1) {
			r.bootcount = r.bootlimit + 1;
			TRY(airlock_bootctl_store(c, &r));
		}
		*slot = r.good;
		*reason = AIRLOCK_BOOT_TRIAL_EXHAUSTED;
	}
	if (out)
		*out = r;
	return AIRLOCK_OK;
}

airlock_err airlock_bootctl_exhaust(struct airlock_bootctl *c)
{
	struct airlock_boot_record r;
	TRY(airlock_bootctl_load(c, &r));
	if (!r.pending || r.bootcount == r.bootlimit + 1)
		return AIRLOCK_OK;
	r.bootcount = r.bootlimit + 1;
	return airlock_bootctl_store(c, &r);
}

/* "airlock.slot=X" as a whole word of a kernel command line. */
static airlock_err cmdline_slot(const char *line, unsigned *slot)
{
	static const char key[] = "airlock.slot=";
	for (const char *p = line; (p = strstr(p, key)) != NULL; p += sizeof key - 1) {
		if (p != line && p[-1] != ' ' && p[-1] != '\t')
			continue;
		const char *v = p + sizeof key - 1;
		size_t n = strcspn(v, " \t\n");
		char word[4];
		if (n == 0 || n >= sizeof word)
			return AIRLOCK_ERR_BAD_VALUE;
		memcpy(word, v, n);
		word[n] = '\0';
		return airlock_slot_parse(word, slot);
	}
	return AIRLOCK_ERR_NOT_FOUND;
}

airlock_err airlock_bootctl_booted_slot(unsigned *slot)
{
	if (!slot)
		return AIRLOCK_ERR_INVALID_ARG;
	const char *env = getenv("AIRLOCK_BOOT_SLOT");
	if (env && *env)
		return airlock_slot_parse(env, slot);
	char line[4096];
	size_t len = 0;
	airlock_err err = airlock_file_read_small("/proc/cmdline", line, sizeof line - 1, &len);
	if (err == AIRLOCK_ERR_TOO_LARGE || err == AIRLOCK_ERR_IO_OPEN)
		return AIRLOCK_ERR_NOT_FOUND;
	TRY(err);
	line[len] = '\0';
	return cmdline_slot(line, slot);
}
