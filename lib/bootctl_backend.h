/*
 * Private to libairlock: the open functions of the boot-control backends,
 * one per file (lib/bootctl_<name>.c), listed by name in lib/bootctl.c.
 *
 * Each is called with c->path set (possibly empty for uboot: the default
 * config) and fills c->ops and c->impl, or returns an error with nothing to
 * release.
 */
#ifndef AIRLOCK_BOOTCTL_BACKEND_H
#define AIRLOCK_BOOTCTL_BACKEND_H

#include "airlock/bootctl.h"

typedef airlock_err (*airlock_bootctl_open_fn)(struct airlock_bootctl *c);

AIRLOCK_MUST_USE airlock_err airlock_bootctl_sim_open(struct airlock_bootctl *c);
AIRLOCK_MUST_USE airlock_err airlock_bootctl_uboot_open(struct airlock_bootctl *c);
AIRLOCK_MUST_USE airlock_err airlock_bootctl_grub_open(struct airlock_bootctl *c);

/*
 * The backends' decoders on bytes, which their load and store wrap in file
 * I/O (and the fuzz targets call directly).
 *
 * sim: the record file's bytes (at most AIRLOCK_BOOTSIM_FILE_LEN; a short
 * file holds fewer copies) to the newest valid copy's record; BOOT_RECORD
 * when no copy is valid.
 */
#define AIRLOCK_BOOTSIM_FILE_LEN 1024u
AIRLOCK_MUST_USE airlock_err airlock_bootsim_decode(const uint8_t *buf, size_t len, struct airlock_boot_record *r);
/*
 * grub: a grubenv block (exactly AIRLOCK_GRUBENV_LEN bytes) to the record
 * (NOT_FOUND when airlock_slot is unset, BOOT_RECORD when not a block);
 * and the block a store writes: old (old_len bytes, or NULL for a fresh
 * block) with its other lines kept and the record's variables set (NO_SPACE
 * when they do not fit, BOOT_RECORD when old is not a block).
 */
#define AIRLOCK_GRUBENV_LEN 1024u
AIRLOCK_MUST_USE airlock_err airlock_grubenv_decode(const char *blk, size_t len, struct airlock_boot_record *r);
AIRLOCK_MUST_USE airlock_err airlock_grubenv_update(const char *old, size_t old_len,
						    const struct airlock_boot_record *r,
						    char out[AIRLOCK_GRUBENV_LEN]);

/*
 * The environment-variable form of the record, shared by the uboot and grub
 * backends (docs/boot.md): names and a parser/formatter for the values.
 */
#define AIRLOCK_BOOTENV_VARS 6
extern const char *const airlock_bootenv_names[AIRLOCK_BOOTENV_VARS];
#define AIRLOCK_BOOTENV_VALUE_MAX 24

/* values[i] for airlock_bootenv_names[i] (NULL when unset) to a record:
 * NOT_FOUND when airlock_slot is unset (not provisioned), BOOT_RECORD for a
 * malformed value. */
AIRLOCK_MUST_USE airlock_err airlock_bootenv_to_record(const char *const values[AIRLOCK_BOOTENV_VARS],
						       struct airlock_boot_record *r);
void airlock_bootenv_from_record(const struct airlock_boot_record *r,
				 char values[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX]);

#endif
