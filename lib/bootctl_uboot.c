/*
 * The "uboot" boot-control backend: U-Boot's environment through
 * libubootenv (docs/boot.md, "U-Boot").
 *
 * The record is six variables (lib/bootctl_env.c). A store sets all six and
 * writes the environment once with libuboot_env_store(): with a redundant
 * environment (two copies in fw_env.config) libubootenv writes the copy not
 * in force and flips the active flag last, so U-Boot sees either the old
 * environment or the new one, never a mix. With a single copy a power cut
 * in the middle of the write leaves a bad CRC and U-Boot falls back to its
 * built-in default environment: configure the redundant environment.
 *
 * The library's context is opened for each load and store, so a change
 * made by U-Boot or fw_setenv in between is always seen.
 */
#include "airlock/bootctl.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libuboot.h>

#include "airlock/fault.h"
#include "bootctl_backend.h"
#include "util.h"

#define UBOOT_DEFAULT_CONFIG "/etc/fw_env.config"

/* Opens libubootenv on the config; *loaded says whether a valid environment
 * was found (false: both copies bad or blank, a fresh device). */
static airlock_err env_open(struct airlock_bootctl *c, struct uboot_ctx **ctx, bool *loaded)
{
	const char *config = c->path[0] ? c->path : UBOOT_DEFAULT_CONFIG;
	*ctx = NULL;
	if (libuboot_initialize(ctx, NULL) < 0)
		return AIRLOCK_ERR_NOMEM;
	if (libuboot_read_config(*ctx, config) < 0) {
		libuboot_exit(*ctx);
		*ctx = NULL;
		return AIRLOCK_ERR_IO_OPEN;
	}
	int rc = libuboot_open(*ctx);
	if (rc < 0 && rc != -ENODATA) {
		libuboot_exit(*ctx);
		*ctx = NULL;
		return AIRLOCK_ERR_IO_READ;
	}
	*loaded = rc == 0;
	return AIRLOCK_OK;
}

static void env_close(struct uboot_ctx *ctx)
{
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

static airlock_err uboot_load(struct airlock_bootctl *c, struct airlock_boot_record *r)
{
	struct uboot_ctx *ctx;
	bool loaded;
	TRY(env_open(c, &ctx, &loaded));
	if (!loaded) {
		env_close(ctx);
		return AIRLOCK_ERR_NOT_FOUND;
	}
	char *values[AIRLOCK_BOOTENV_VARS] = { NULL };
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS; i++)
		values[i] = libuboot_get_env(ctx, airlock_bootenv_names[i]);
	airlock_err err = airlock_bootenv_to_record((const char *const *)values, r);
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS; i++)
		free(values[i]);
	env_close(ctx);
	return err;
}

static airlock_err uboot_store(struct airlock_bootctl *c, const struct airlock_boot_record *r)
{
	char values[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX];
	struct uboot_ctx *ctx;
	bool loaded;
	airlock_bootenv_from_record(r, values);
	TRY(env_open(c, &ctx, &loaded));
	/* Other variables (bootcmd, the board's own) are kept: only ours are set. */
	airlock_err err = AIRLOCK_OK;
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS && err == AIRLOCK_OK; i++)
		if (libuboot_set_env(ctx, airlock_bootenv_names[i], values[i]) < 0)
			err = AIRLOCK_ERR_IO_WRITE;
	/* The whole environment goes out in one store: one counted op. */
	if (err == AIRLOCK_OK)
		err = airlock_fault_point(AIRLOCK_FAULT_BOOT_WRITE, 0, NULL);
	if (err == AIRLOCK_OK && libuboot_env_store(ctx) < 0)
		err = AIRLOCK_ERR_IO_WRITE;
	env_close(ctx);
	return err;
}

static const struct airlock_bootctl_ops uboot_ops = {
	.name = "uboot",
	.load = uboot_load,
	.store = uboot_store,
	.close = NULL,
};

airlock_err airlock_bootctl_uboot_open(struct airlock_bootctl *c)
{
	c->ops = &uboot_ops;
	c->impl = NULL;
	return AIRLOCK_OK;
}
