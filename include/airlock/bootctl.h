/*
 * Boot control: which slot boots, and whether it boots on trial
 * (DESIGN.md, "Slots and boot control").
 *
 * Every backend stores the same small record, the boot record, and writes it
 * as a whole in one atomic step: writing the boot decision is the single
 * atomic commit point of an update. The operations below (arm a trial, mark
 * good, roll back, the bootloader's per-boot step) are computed here, once,
 * on that record; a backend only loads and stores it:
 *
 *   sim    a binary record in a file, two copies with sequence numbers and a
 *          SHA-256 each, so a torn write of one copy is never read as valid
 *          (lib/bootctl_sim.c; read by airlock-boot). path: the record file.
 *   uboot  U-Boot's environment through libubootenv (lib/bootctl_uboot.c):
 *          variables upgrade_available, bootcount, bootlimit and airlock_slot,
 *          airlock_good, airlock_secver. path: the fw_env.config file (NULL:
 *          /etc/fw_env.config).
 *   grub   GRUB's 1024-byte environment block (lib/bootctl_grub.c), same
 *          variable names, rewritten atomically. path: the grubenv file.
 *
 * docs/boot.md gives each backend's layout and the bootloader scripts.
 *
 * Semantics (U-Boot's, for all backends):
 *  - Not pending: the device boots `active`, which equals `good`.
 *  - Pending (upgrade_available=1): `active` is the slot on trial, `good` the
 *    committed one. The bootloader increments bootcount before each boot of
 *    the trial slot; once bootcount > bootlimit it boots `good` instead,
 *    leaving the record pending (as U-Boot's altbootcmd does), so the agent
 *    that then runs on the good slot sees the failed trial and finalizes the
 *    rollback (airlock_bootctl_rollback()).
 *  - `secver` is the anti-rollback counter: the boot stage refuses a slot
 *    whose release has a lower security_version. It is raised in the same
 *    atomic write that marks the trial slot good, so no power cut can leave
 *    it raised before the commit or the commit without it.
 *
 * Conventions: functions return airlock_err (results via out-params); no
 * function allocates after open; a failed store leaves the previous record
 * in force.
 */
#ifndef AIRLOCK_BOOTCTL_H
#define AIRLOCK_BOOTCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

/* Slots are numbered 0 (a) and 1 (b). */
#define AIRLOCK_SLOT_COUNT 2
#define AIRLOCK_BOOTLIMIT_DEFAULT 3u
#define AIRLOCK_BOOTLIMIT_MAX 255u

/* "a" or "b"; "?" for anything else. */
const char *airlock_slot_name(unsigned slot);
/* "a"/"b" (also "A"/"B", "0"/"1") to 0/1; else AIRLOCK_ERR_BAD_VALUE. */
AIRLOCK_MUST_USE airlock_err airlock_slot_parse(const char *s, unsigned *slot);
/* The other slot of an A/B pair. */
static inline unsigned airlock_slot_other(unsigned slot)
{
	return slot == 0 ? 1u : 0u;
}

struct airlock_boot_record {
	uint8_t active;       /* slot the bootloader boots next (the trial slot while pending) */
	uint8_t good;         /* last committed slot; where a failed trial falls back */
	bool pending;         /* a trial boot is armed (U-Boot's upgrade_available) */
	uint32_t bootcount;   /* boots of the trial slot so far (0 when not pending) */
	uint32_t bootlimit;   /* trial boots allowed before falling back, 1..255 */
	uint64_t secver;      /* anti-rollback counter: minimum security_version */
};

/*
 * The legal records: slots 0/1; not pending => active == good and
 * bootcount == 0; pending => active != good; bootlimit 1..255; bootcount at
 * most bootlimit + 1 (the bootloader stops counting once over the limit).
 * AIRLOCK_ERR_BOOT_RECORD otherwise. Every load and store checks it.
 */
AIRLOCK_MUST_USE airlock_err airlock_boot_record_check(const struct airlock_boot_record *r);
/* The factory record: slot `slot` good and active, nothing pending. */
void airlock_boot_record_init(struct airlock_boot_record *r, unsigned slot, uint32_t bootlimit);
/* Whether the trial has used up its boots (pending and bootcount > bootlimit). */
bool airlock_boot_record_exhausted(const struct airlock_boot_record *r);

struct airlock_bootctl;

/* A backend: load and store the whole record. store is atomic. */
struct airlock_bootctl_ops {
	const char *name;  /* "sim", "uboot", "grub" */
	/* AIRLOCK_ERR_NOT_FOUND when no record exists yet (fresh device). */
	airlock_err (*load)(struct airlock_bootctl *c, struct airlock_boot_record *r);
	airlock_err (*store)(struct airlock_bootctl *c, const struct airlock_boot_record *r);
	void (*close)(struct airlock_bootctl *c);
};

#define AIRLOCK_BOOTCTL_PATH_MAX 4096

struct airlock_bootctl {
	const struct airlock_bootctl_ops *ops;
	char path[AIRLOCK_BOOTCTL_PATH_MAX];
	void *impl;           /* backend-private (uboot: the libubootenv context) */
};

/*
 * Opens a backend by name ("sim", "uboot", "grub") on path (see above).
 * Opening reads nothing: a missing record is found by the first load.
 * NOT_FOUND for an unknown backend name, INVALID_ARG for a NULL or too long
 * path (uboot accepts NULL). On error *c is closed.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_open(struct airlock_bootctl *c, const char *backend, const char *path);
/* Safe on a closed or failed bootctl. */
void airlock_bootctl_close(struct airlock_bootctl *c);

/* Loads and checks the record (NOT_FOUND, BOOT_RECORD, IO_*). */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_load(struct airlock_bootctl *c, struct airlock_boot_record *r);
/* Checks and stores a whole record: for provisioning and tests. */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_store(struct airlock_bootctl *c, const struct airlock_boot_record *r);
/* Stores the factory record (slot good, bootlimit) unless a record exists:
 * OK either way; *created says which. */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_provision(struct airlock_bootctl *c, unsigned slot, uint32_t bootlimit,
						       bool *created);

/*
 * Arms `slot` for a trial boot: active = slot, pending, bootcount 0; good
 * unchanged. The slot must not be the good one (AIRLOCK_ERR_STATE: that
 * would leave no fallback). Re-arming the slot already pending restarts its
 * count. Only after the slot's image is complete and synced.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_set_trial(struct airlock_bootctl *c, unsigned slot);

/*
 * Commits the trial: good = active, not pending, bootcount 0, and
 * secver = max(secver, security_version), in one atomic store. `slot` is
 * the slot the caller verified and booted: it must be the pending one
 * (AIRLOCK_ERR_STATE otherwise, nothing written). If nothing is pending and
 * `slot` is already good, OK without a write (a commit redone after a cut);
 * secver is still raised if lower (one store), never lowered.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_mark_good(struct airlock_bootctl *c, unsigned slot,
						       uint64_t security_version);

/*
 * Abandons the trial: active = good, not pending, bootcount 0, one atomic
 * store (mark bad). OK without a write if nothing is pending.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_rollback(struct airlock_bootctl *c);

/* Why the bootloader step chose its slot. */
enum airlock_boot_reason {
	AIRLOCK_BOOT_NORMAL = 0,     /* not pending: the good slot */
	AIRLOCK_BOOT_TRIAL,          /* pending: trial boot number bootcount */
	AIRLOCK_BOOT_TRIAL_EXHAUSTED,/* pending, bootcount over the limit: the good slot */
};
const char *airlock_boot_reason_name(enum airlock_boot_reason reason);

/*
 * The bootloader's step at power-on, as U-Boot and the GRUB script do it
 * (airlock-boot calls this for the sim backend): if pending and the trial
 * has boots left, bootcount += 1 is stored (before booting: a cut after
 * the store still counts the attempt) and the trial slot is chosen; if the
 * boots are used up, the good slot is chosen and bootcount is left at
 * bootlimit + 1 (stored if it was lower), the record stays pending for the
 * agent. *slot and *reason get the choice; *r (may be NULL) the record now
 * in force.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_boot_step(struct airlock_bootctl *c, unsigned *slot,
						       enum airlock_boot_reason *reason,
						       struct airlock_boot_record *r);

/*
 * Marks the pending trial as exhausted (bootcount = bootlimit + 1), as the
 * boot stage does when the trial slot fails verification: the next boot
 * step falls back to the good slot. OK without a write if not pending.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_exhaust(struct airlock_bootctl *c);

/*
 * The slot this system was booted from, as the boot stage told it:
 * AIRLOCK_BOOT_SLOT in the environment (airlock-boot), else the
 * "airlock.slot=a|b" word of /proc/cmdline (U-Boot and GRUB scripts in
 * docs/boot.md pass it). NOT_FOUND if neither says.
 */
AIRLOCK_MUST_USE airlock_err airlock_bootctl_booted_slot(unsigned *slot);

#endif
