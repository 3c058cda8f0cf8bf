/*
 * airlock-boot: the host simulator of the secure-boot stage (docs/boot.md).
 *
 *   airlock-boot --device DIR [--hardware ID] [--payload NAME] [-- CMD ARG...]
 *
 * At each "power-on" it reads the sim boot record, takes the bootloader's
 * step (a pending trial counts a boot, or falls back once over the limit),
 * verifies the chosen slot's image against the signed release stored with
 * it, and never boots an unverifiable slot: it falls back to the other slot
 * if that one verifies, else stops with "no bootable slot". Then it "boots":
 * execs CMD with AIRLOCK_BOOT_SLOT=a|b and AIRLOCK_BOOT_VERSION set, or,
 * without "--", prints the decision.
 *
 * Exit status: 0 booted or decided; 1 no bootable slot; 2 usage; 3 the
 * device directory or its root cannot be used; 127 CMD cannot be run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/bootctl.h"
#include "airlock/fault.h"
#include "verify.h"

#define PATH_LEN 4096

struct options {
	const char *device;
	const char *hardware;
	const char *payload;
	char **cmd;  /* after "--", or NULL */
};

/* Static, not on the heap or the stack: 130 KiB of metadata buffers. */
static struct boot_verifier verifier;
static char hardware_buf[AIRLOCK_MAX_NAME_LEN + 2];

static void usage(FILE *f)
{
	fprintf(f, "usage: airlock-boot --device DIR [--hardware ID] [--payload NAME] [-- CMD [ARG...]]\n"
		   "\n"
		   "Simulated secure-boot stage. DIR holds root.cbor, hardware, boot.rec,\n"
		   "slot-a.img, slot-a.release.cbor, slot-b.img, slot-b.release.cbor (docs/boot.md).\n"
		   "Verifies the slot the boot record chooses and boots it: runs CMD with\n"
		   "AIRLOCK_BOOT_SLOT and AIRLOCK_BOOT_VERSION set, or prints the decision.\n");
}

static int parse_args(int argc, char **argv, struct options *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (strcmp(a, "--") == 0) {
			if (i + 1 >= argc)
				return -1;
			o->cmd = &argv[i + 1];
			break;
		}
		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			usage(stdout);
			exit(0);
		}
		if (i + 1 >= argc)
			return -1;
		if (strcmp(a, "--device") == 0)
			o->device = argv[++i];
		else if (strcmp(a, "--hardware") == 0)
			o->hardware = argv[++i];
		else if (strcmp(a, "--payload") == 0)
			o->payload = argv[++i];
		else
			return -1;
	}
	return o->device ? 0 : -1;
}

static int dev_path(char *out, const struct options *o, const char *name)
{
	int n = snprintf(out, PATH_LEN, "%s/%s", o->device, name);
	return n > 0 && n < PATH_LEN ? 0 : -1;
}

/* The hardware id: --hardware, else DIR/hardware (first line). */
static int load_hardware(const struct options *o)
{
	if (o->hardware) {
		verifier.hardware = o->hardware;
		return 0;
	}
	char path[PATH_LEN];
	size_t len = 0;
	if (dev_path(path, o, "hardware") != 0 ||
	    airlock_file_read_small(path, hardware_buf, sizeof hardware_buf - 1, &len) != AIRLOCK_OK)
		return -1;
	hardware_buf[len] = '\0';
	hardware_buf[strcspn(hardware_buf, "\r\n")] = '\0';
	verifier.hardware = hardware_buf;
	return hardware_buf[0] ? 0 : -1;
}

static void verify(const struct options *o, unsigned slot, uint64_t secver, struct boot_slot_result *res)
{
	char img[PATH_LEN], rel[PATH_LEN], name[32];
	snprintf(name, sizeof name, "slot-%s.img", airlock_slot_name(slot));
	int bad = dev_path(img, o, name);
	snprintf(name, sizeof name, "slot-%s.release.cbor", airlock_slot_name(slot));
	bad |= dev_path(rel, o, name);
	if (bad) {
		memset(res, 0, sizeof *res);
		res->err = AIRLOCK_ERR_INVALID_ARG;
		res->failed = "path";
		return;
	}
	boot_verify_slot(&verifier, img, rel, secver, res);
	if (res->err != AIRLOCK_OK)
		fprintf(stderr, "airlock-boot: slot %s not bootable: %s check: %s (%s)\n", airlock_slot_name(slot),
			res->failed ? res->failed : "?", airlock_err_name(res->err), airlock_strerror(res->err));
}

/* Runs CMD as the booted system, or prints the decision. */
static int boot(const struct options *o, unsigned slot, const struct boot_slot_result *res, const char *why,
		const struct airlock_boot_record *r)
{
	char secver[24];
	snprintf(secver, sizeof secver, "%llu", (unsigned long long)r->secver);
	if (!o->cmd) {
		printf("slot=%s version=%s reason=%s bootcount=%u bootlimit=%u pending=%d secver=%s\n",
		       airlock_slot_name(slot), res->version, why, (unsigned)r->bootcount, (unsigned)r->bootlimit,
		       r->pending ? 1 : 0, secver);
		return 0;
	}
	fprintf(stderr, "airlock-boot: booting slot %s, version %s (%s)\n", airlock_slot_name(slot), res->version, why);
	/* Each boot is a new power-on: the fault settings of this stage end
	 * here (the command may set its own). */
	airlock_fault_report();
	unsetenv("AIRLOCK_FAULT_CUT");
	unsetenv("AIRLOCK_FAULT_TORN");
	unsetenv("AIRLOCK_FAULT_FAIL");
	unsetenv("AIRLOCK_FAULT_COUNT_FILE");
	if (setenv("AIRLOCK_BOOT_SLOT", airlock_slot_name(slot), 1) != 0 ||
	    setenv("AIRLOCK_BOOT_VERSION", res->version, 1) != 0 || setenv("AIRLOCK_BOOT_REASON", why, 1) != 0 ||
	    setenv("AIRLOCK_DEVICE_DIR", o->device, 1) != 0)
		return 3;
	fflush(NULL);
	execvp(o->cmd[0], o->cmd);
	fprintf(stderr, "airlock-boot: cannot run %s\n", o->cmd[0]);
	return 127;
}

/* Record unreadable (both copies bad): boot whatever verifies, write nothing. */
static int boot_without_record(const struct options *o)
{
	struct airlock_boot_record r;
	struct boot_slot_result res;
	fprintf(stderr, "airlock-boot: boot record unreadable: trying both slots\n");
	airlock_boot_record_init(&r, 0, AIRLOCK_BOOTLIMIT_DEFAULT);
	for (unsigned s = 0; s < AIRLOCK_SLOT_COUNT; s++) {
		verify(o, s, 0, &res);
		if (res.err == AIRLOCK_OK) {
			r.active = r.good = (uint8_t)s;
			return boot(o, s, &res, "no-record", &r);
		}
	}
	fprintf(stderr, "airlock-boot: no bootable slot\n");
	return 1;
}

static int run(const struct options *o, struct airlock_bootctl *ctl)
{
	struct airlock_boot_record r;
	struct boot_slot_result res;
	unsigned slot;
	enum airlock_boot_reason reason;
	airlock_err err = airlock_bootctl_boot_step(ctl, &slot, &reason, &r);
	if (err == AIRLOCK_ERR_BOOT_RECORD || err == AIRLOCK_ERR_NOT_FOUND)
		return boot_without_record(o);
	if ((err == AIRLOCK_ERR_IO_WRITE || err == AIRLOCK_ERR_IO_SYNC) && airlock_bootctl_load(ctl, &r) == AIRLOCK_OK) {
		/* The boot count cannot be recorded (a worn or failing record
		 * area, F09): a trial that is not counted could loop forever,
		 * so this boot is not a trial. The good slot boots. */
		fprintf(stderr, "airlock-boot: cannot write the boot record (%s): booting the good slot\n",
			airlock_err_name(err));
		verify(o, r.good, r.secver, &res);
		if (res.err == AIRLOCK_OK)
			return boot(o, r.good, &res, "record-unwritable", &r);
		fprintf(stderr, "airlock-boot: no bootable slot\n");
		return 1;
	}
	if (err != AIRLOCK_OK) {
		fprintf(stderr, "airlock-boot: boot record: %s\n", airlock_err_name(err));
		return 3;
	}
	verify(o, slot, r.secver, &res);
	if (res.err == AIRLOCK_OK)
		return boot(o, slot, &res, airlock_boot_reason_name(reason), &r);
	if (reason == AIRLOCK_BOOT_TRIAL) {
		/* An unverifiable trial uses up its boots at once: the agent on
		 * the good slot then sees a failed trial and rolls back. */
		err = airlock_bootctl_exhaust(ctl);
		if (err != AIRLOCK_OK)
			fprintf(stderr, "airlock-boot: cannot record the failed trial: %s\n", airlock_err_name(err));
		else
			err = airlock_bootctl_load(ctl, &r);
		slot = r.good;
		verify(o, slot, r.secver, &res);
		if (res.err == AIRLOCK_OK)
			return boot(o, slot, &res, "trial-unverifiable", &r);
	} else {
		/* The good slot is damaged: the other one, if it verifies,
		 * becomes the good slot (it passed the anti-rollback check). */
		unsigned other = airlock_slot_other(slot);
		verify(o, other, r.secver, &res);
		if (res.err == AIRLOCK_OK) {
			struct airlock_boot_record nr;
			airlock_boot_record_init(&nr, other, r.bootlimit);
			nr.secver = r.secver;
			err = airlock_bootctl_store(ctl, &nr);
			if (err != AIRLOCK_OK)
				fprintf(stderr, "airlock-boot: cannot record the fallback: %s\n", airlock_err_name(err));
			else
				r = nr;
			return boot(o, other, &res, "fallback", &r);
		}
	}
	fprintf(stderr, "airlock-boot: no bootable slot\n");
	return 1;
}

int main(int argc, char **argv)
{
	struct options o;
	if (parse_args(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	verifier.payload = o.payload;
	char path[PATH_LEN];
	if (load_hardware(&o) != 0) {
		fprintf(stderr, "airlock-boot: %s/hardware: no hardware id (or give --hardware)\n", o.device);
		return 3;
	}
	if (dev_path(path, &o, "root.cbor") != 0) {
		fprintf(stderr, "airlock-boot: device path too long\n");
		return 3;
	}
	airlock_err err = boot_verifier_load_root(&verifier, path);
	if (err != AIRLOCK_OK) {
		fprintf(stderr, "airlock-boot: trusted root %s: %s (%s)\n", path, airlock_err_name(err),
			airlock_strerror(err));
		return 3;
	}
	struct airlock_bootctl ctl;
	if (dev_path(path, &o, "boot.rec") != 0 || airlock_bootctl_open(&ctl, "sim", path) != AIRLOCK_OK) {
		fprintf(stderr, "airlock-boot: cannot open the boot record\n");
		return 3;
	}
	int rc = run(&o, &ctl);
	airlock_bootctl_close(&ctl);
	return rc;
}
