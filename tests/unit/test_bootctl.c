/*
 * Boot control (lib/bootctl*.c): the record's invariants, the operations'
 * semantics (trial, boot count, fallback, commit with the anti-rollback
 * counter, rollback), and each backend: sim (two copies, torn and failed
 * writes never read as valid), uboot (a real environment through
 * libubootenv and a generated fw_env.config), grub (round trip, foreign
 * variables kept, malformed blocks refused, grub-editenv interop when
 * installed).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libuboot.h>

#include "airlock/bootctl.h"
#include "airlock/fault.h"
#include "testutil.h"

static char *join(const char *dir, const char *name)
{
	static char buf[4][512];
	static unsigned i;
	char *p = buf[i++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

static void clear_fault_env(void)
{
	unsetenv("AIRLOCK_FAULT_CUT");
	unsetenv("AIRLOCK_FAULT_TORN");
	unsetenv("AIRLOCK_FAULT_FAIL");
	unsetenv("AIRLOCK_FAULT_COUNT_FILE");
	airlock_fault_reset();
}

static int setup(void **state)
{
	(void)state;
	clear_fault_env();
	return 0;
}

static void test_record_check(void **state)
{
	(void)state;
	struct airlock_boot_record r;
	airlock_boot_record_init(&r, 1, 3);
	assert_err(airlock_boot_record_check(&r), AIRLOCK_OK);
	assert_int_equal(r.active, 1);
	assert_int_equal(r.good, 1);
	struct airlock_boot_record bad = r;
	bad.active = 0;  /* not pending, active != good */
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);
	bad = r;
	bad.pending = true;  /* trial of the good slot */
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);
	bad.active = 0;
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_OK);
	bad.bootcount = 5;  /* over limit + 1 */
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);
	bad = r;
	bad.bootlimit = 0;
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);
	bad = r;
	bad.good = bad.active = 2;
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);
	bad = r;
	bad.bootcount = 1;  /* a count without a trial */
	assert_err(airlock_boot_record_check(&bad), AIRLOCK_ERR_BOOT_RECORD);

	unsigned s;
	assert_err(airlock_slot_parse("b", &s), AIRLOCK_OK);
	assert_int_equal(s, 1);
	assert_err(airlock_slot_parse("c", &s), AIRLOCK_ERR_BAD_VALUE);
	assert_string_equal(airlock_slot_name(0), "a");
	assert_string_equal(airlock_slot_name(7), "?");
}

/* The whole life of a record, the same on every backend. */
static void exercise(struct airlock_bootctl *c)
{
	struct airlock_boot_record r;
	bool created;
	unsigned slot;
	enum airlock_boot_reason why;

	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_ERR_NOT_FOUND);
	assert_err(airlock_bootctl_provision(c, 0, 3, &created), AIRLOCK_OK);
	assert_true(created);
	assert_err(airlock_bootctl_provision(c, 1, 3, &created), AIRLOCK_OK);
	assert_false(created);  /* an existing record is kept */
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_int_equal(r.good, 0);
	assert_false(r.pending);

	/* normal boot */
	assert_err(airlock_bootctl_boot_step(c, &slot, &why, &r), AIRLOCK_OK);
	assert_int_equal(slot, 0);
	assert_int_equal(why, AIRLOCK_BOOT_NORMAL);

	/* no trial of the good slot; arm b */
	assert_err(airlock_bootctl_set_trial(c, 0), AIRLOCK_ERR_STATE);
	assert_err(airlock_bootctl_set_trial(c, 1), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_true(r.pending);
	assert_int_equal(r.active, 1);
	assert_int_equal(r.good, 0);

	/* three trial boots, then the fallback: the record stays pending */
	for (unsigned i = 1; i <= 3; i++) {
		assert_err(airlock_bootctl_boot_step(c, &slot, &why, &r), AIRLOCK_OK);
		assert_int_equal(slot, 1);
		assert_int_equal(why, AIRLOCK_BOOT_TRIAL);
		assert_int_equal(r.bootcount, i);
	}
	for (int i = 0; i < 2; i++) {
		assert_err(airlock_bootctl_boot_step(c, &slot, &why, &r), AIRLOCK_OK);
		assert_int_equal(slot, 0);
		assert_int_equal(why, AIRLOCK_BOOT_TRIAL_EXHAUSTED);
		assert_int_equal(r.bootcount, 4);
		assert_true(airlock_boot_record_exhausted(&r));
	}
	/* committing the failed trial from the good slot is refused */
	assert_err(airlock_bootctl_mark_good(c, 0, 9), AIRLOCK_ERR_STATE);
	assert_err(airlock_bootctl_rollback(c), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_false(r.pending);
	assert_int_equal(r.active, 0);
	assert_int_equal(r.bootcount, 0);
	assert_err(airlock_bootctl_rollback(c), AIRLOCK_OK);  /* idempotent */

	/* trial again, one boot, commit with the counter raised */
	assert_err(airlock_bootctl_set_trial(c, 1), AIRLOCK_OK);
	assert_err(airlock_bootctl_boot_step(c, &slot, &why, &r), AIRLOCK_OK);
	assert_int_equal(slot, 1);
	assert_err(airlock_bootctl_mark_good(c, 0, 5), AIRLOCK_ERR_STATE);  /* not the trial slot */
	assert_err(airlock_bootctl_mark_good(c, 1, 5), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_false(r.pending);
	assert_int_equal(r.good, 1);
	assert_int_equal(r.active, 1);
	assert_int_equal(r.secver, 5);
	/* redone commit: no change; a lower version never lowers the counter */
	assert_err(airlock_bootctl_mark_good(c, 1, 2), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_int_equal(r.secver, 5);

	/* exhaust: the boot stage found the trial image unverifiable */
	assert_err(airlock_bootctl_set_trial(c, 0), AIRLOCK_OK);
	assert_err(airlock_bootctl_exhaust(c), AIRLOCK_OK);
	assert_err(airlock_bootctl_boot_step(c, &slot, &why, &r), AIRLOCK_OK);
	assert_int_equal(slot, 1);
	assert_int_equal(why, AIRLOCK_BOOT_TRIAL_EXHAUSTED);
	assert_err(airlock_bootctl_rollback(c), AIRLOCK_OK);

	/* an illegal record is never stored */
	airlock_boot_record_init(&r, 1, 3);
	r.active = 0;
	assert_err(airlock_bootctl_store(c, &r), AIRLOCK_ERR_BOOT_RECORD);
	assert_err(airlock_bootctl_load(c, &r), AIRLOCK_OK);
	assert_int_equal(r.good, 1);
}

static void test_open_errors(void **state)
{
	(void)state;
	struct airlock_bootctl c;
	assert_err(airlock_bootctl_open(&c, "lilo", "/tmp/x"), AIRLOCK_ERR_NOT_FOUND);
	assert_err(airlock_bootctl_open(&c, "sim", NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_bootctl_open(&c, "grub", NULL), AIRLOCK_ERR_INVALID_ARG);
	airlock_bootctl_close(&c);
	airlock_bootctl_close(NULL);
}

static void test_sim_semantics(void **state)
{
	(void)state;
	struct airlock_bootctl c;
	assert_err(airlock_bootctl_open(&c, "sim", join(test_tmpdir(), "boot.rec")), AIRLOCK_OK);
	exercise(&c);
	airlock_bootctl_close(&c);
}

/* Flips one byte of the file at off. */
static void flip(const char *path, off_t off)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x01;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

static void test_sim_two_copies(void **state)
{
	(void)state;
	const char *path = join(test_tmpdir(), "boot.rec");
	struct airlock_bootctl c;
	struct airlock_boot_record r;
	bool created;
	assert_err(airlock_bootctl_open(&c, "sim", path), AIRLOCK_OK);
	assert_err(airlock_bootctl_provision(&c, 0, 3, &created), AIRLOCK_OK);  /* copy 0, seq 1 */
	assert_err(airlock_bootctl_set_trial(&c, 1), AIRLOCK_OK);               /* copy 1, seq 2 */
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1024);

	/* Damage to the copy not in force changes nothing. */
	flip(path, 10);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_true(r.pending);
	/* Damage to the copy in force: the previous record is in force. */
	flip(path, 512 + 40);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);  /* both bad now */
	flip(path, 10);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_false(r.pending);  /* copy 0: the provisioned record */
	/* A store goes over the damaged copy and is in force afterwards. */
	assert_err(airlock_bootctl_set_trial(&c, 1), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_true(r.pending);
	airlock_bootctl_close(&c);
}

static void store_trial(const char *path)
{
	struct airlock_bootctl c;
	if (airlock_bootctl_open(&c, "sim", path) != AIRLOCK_OK || airlock_bootctl_set_trial(&c, 1) != AIRLOCK_OK)
		_exit(1);
	_exit(0);
}

static int child_store(const char *path, const char *cut, const char *torn)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("AIRLOCK_FAULT_CUT", cut, 1);
		if (torn)
			setenv("AIRLOCK_FAULT_TORN", torn, 1);
		airlock_fault_reset();
		store_trial(path);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* F03: a torn record write is never read as valid; F09: failing writes keep the old record. */
static void test_sim_torn_and_failing(void **state)
{
	(void)state;
	const char *path = join(test_tmpdir(), "boot.rec");
	struct airlock_bootctl c;
	struct airlock_boot_record r;
	bool created;
	assert_err(airlock_bootctl_open(&c, "sim", path), AIRLOCK_OK);
	assert_err(airlock_bootctl_provision(&c, 0, 3, &created), AIRLOCK_OK);
	const char *torns[] = { "1", "half" };
	for (size_t i = 0; i < 2; i++) {
		assert_int_equal(child_store(path, "1", torns[i]), AIRLOCK_FAULT_EXIT);
		assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
		assert_false(r.pending);  /* the old record */
	}
	/* cut at the sync (op 2): the write is complete, the new record is in force */
	assert_int_equal(child_store(path, "2", NULL), AIRLOCK_FAULT_EXIT);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_true(r.pending);
	assert_err(airlock_bootctl_rollback(&c), AIRLOCK_OK);

	setenv("AIRLOCK_FAULT_FAIL", "boot:1.0", 1);
	airlock_fault_reset();
	for (int i = 0; i < 3; i++)
		assert_err(airlock_bootctl_set_trial(&c, 1), AIRLOCK_ERR_IO_WRITE);
	clear_fault_env();
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_false(r.pending);
	/* rate 0.5: every store either completes or keeps the old record */
	setenv("AIRLOCK_FAULT_FAIL", "boot:0.5:3", 1);
	airlock_fault_reset();
	unsigned ok = 0;
	bool pending = false;
	for (int i = 0; i < 20; i++) {
		airlock_err e = airlock_bootctl_set_trial(&c, 1);
		assert_true(e == AIRLOCK_OK || e == AIRLOCK_ERR_IO_WRITE);
		assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);  /* reads are never failed */
		/* a failed write keeps the old record */
		assert_int_equal(r.pending, e == AIRLOCK_OK || pending);
		pending = r.pending;
		ok += e == AIRLOCK_OK;
		e = airlock_bootctl_rollback(&c);
		assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
		assert_int_equal(r.pending, e != AIRLOCK_OK && pending);
		pending = r.pending;
	}
	clear_fault_env();
	assert_in_range(ok, 1, 19);
	airlock_bootctl_close(&c);
}

/* fw_env.config with a redundant environment in two files. */
static const char *make_uboot_env(const char *dir)
{
	static char config[512];
	uint8_t zero[0x4000];
	memset(zero, 0, sizeof zero);
	test_write_file(join(dir, "env1"), zero, sizeof zero);
	test_write_file(join(dir, "env2"), zero, sizeof zero);
	snprintf(config, sizeof config, "%s/fw_env.config", dir);
	char text[1200];
	int n = snprintf(text, sizeof text, "%s/env1 0x0 0x4000\n%s/env2 0x0 0x4000\n", dir, dir);
	test_write_file(config, text, (size_t)n);
	return config;
}

/* Reads or sets a variable as U-Boot's own tools (libubootenv) would. */
static char *uboot_get(const char *config, const char *name)
{
	struct uboot_ctx *ctx;
	assert_int_equal(libuboot_initialize(&ctx, NULL), 0);
	assert_int_equal(libuboot_read_config(ctx, config), 0);
	assert_int_equal(libuboot_open(ctx), 0);
	char *v = libuboot_get_env(ctx, name);
	libuboot_close(ctx);
	libuboot_exit(ctx);
	return v;
}

static void uboot_set(const char *config, const char *name, const char *value)
{
	struct uboot_ctx *ctx;
	assert_int_equal(libuboot_initialize(&ctx, NULL), 0);
	assert_int_equal(libuboot_read_config(ctx, config), 0);
	(void)libuboot_open(ctx);
	assert_int_equal(libuboot_set_env(ctx, name, value), 0);
	assert_int_equal(libuboot_env_store(ctx), 0);
	libuboot_close(ctx);
	libuboot_exit(ctx);
}

static void test_uboot(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	const char *config = make_uboot_env(dir);
	struct airlock_bootctl c;
	struct airlock_boot_record r;
	assert_err(airlock_bootctl_open(&c, "uboot", config), AIRLOCK_OK);
	exercise(&c);

	/* what U-Boot sees, and a variable of the board's kept across stores */
	uboot_set(config, "bootcmd", "run airlock_boot");
	assert_err(airlock_bootctl_set_trial(&c, 0), AIRLOCK_OK);
	char *v = uboot_get(config, "upgrade_available");
	assert_string_equal(v, "1");
	free(v);
	v = uboot_get(config, "airlock_slot");
	assert_string_equal(v, "a");
	free(v);
	v = uboot_get(config, "bootcmd");
	assert_string_equal(v, "run airlock_boot");
	free(v);
	/* U-Boot counts boots itself: the agent reads its count */
	uboot_set(config, "bootcount", "2");
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_int_equal(r.bootcount, 2);
	/* and keeps counting past the limit while booting altbootcmd */
	uboot_set(config, "bootcount", "17");
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_true(airlock_boot_record_exhausted(&r));
	assert_int_equal(r.bootcount, 4);
	/* a malformed value is a clear error */
	uboot_set(config, "airlock_secver", "12x");
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);
	airlock_bootctl_close(&c);

	assert_err(airlock_bootctl_open(&c, "uboot", join(dir, "no-such-config")), AIRLOCK_OK);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_IO_OPEN);
	airlock_bootctl_close(&c);
}

static void test_grub(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	const char *path = join(dir, "grubenv");
	struct airlock_bootctl c;
	struct airlock_boot_record r;
	assert_err(airlock_bootctl_open(&c, "grub", path), AIRLOCK_OK);
	exercise(&c);
	size_t len;
	uint8_t *blk = test_read_file(path, &len);
	assert_int_equal(len, 1024);
	assert_memory_equal(blk, "# GRUB Environment Block\n", 25);
	assert_non_null(strstr((char *)blk, "\nairlock_slot=b\n"));
	assert_int_equal(blk[1023], '#');
	free(blk);

	/* foreign variables and escapes are kept */
	char made[1024];
	memset(made, '#', sizeof made);
	const char *head = "# GRUB Environment Block\nsaved_entry=linux\\\\x\nairlock_slot=a\nmulti=1\\\n2\n";
	memcpy(made, head, strlen(head));
	test_write_file(path, made, sizeof made);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_int_equal(r.active, 0);
	assert_err(airlock_bootctl_set_trial(&c, 1), AIRLOCK_OK);
	blk = test_read_file(path, &len);
	assert_non_null(strstr((char *)blk, "\nsaved_entry=linux\\\\x\n"));
	assert_non_null(strstr((char *)blk, "\nmulti=1\\\n2\n"));
	free(blk);

	/* malformed blocks */
	test_write_file(path, made, 1000);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);
	made[0] = 'X';
	test_write_file(path, made, sizeof made);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);
	memset(made, '#', sizeof made);
	memcpy(made, "# GRUB Environment Block\nairlock_slot=a\nnoequals\n", 50);
	test_write_file(path, made, sizeof made);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);
	memset(made, '#', sizeof made);
	memcpy(made, "# GRUB Environment Block\nairlock_slot=a\n", 40);
	made[1000] = 'x';  /* garbage in the padding */
	test_write_file(path, made, sizeof made);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_ERR_BOOT_RECORD);

	/* a block too full for the record: refused, the file untouched */
	memset(made, '#', sizeof made);
	memcpy(made, "# GRUB Environment Block\n", 25);
	memset(made + 25, 'v', 950);
	made[25 + 1] = '=';
	made[25 + 949] = '\n';
	test_write_file(path, made, sizeof made);
	airlock_boot_record_init(&r, 0, 3);
	assert_err(airlock_bootctl_store(&c, &r), AIRLOCK_ERR_NO_SPACE);
	blk = test_read_file(path, &len);
	assert_memory_equal(blk, made, sizeof made);
	free(blk);
	airlock_bootctl_close(&c);
}

static int run(const char *cmd)
{
	fflush(NULL);
	int rc = system(cmd);
	return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* Interop with GRUB's own tool, when Debian's grub-common is installed. */
static void test_grub_editenv_interop(void **state)
{
	(void)state;
	if (run("command -v grub-editenv >/dev/null 2>&1") != 0) {
		printf("grub-editenv not installed: interop not checked\n");
		skip();
	}
	const char *dir = test_tmpdir();
	const char *path = join(dir, "grubenv");
	char cmd[1200];
	snprintf(cmd, sizeof cmd, "grub-editenv %s create && grub-editenv %s set saved_entry=debian", path, path);
	assert_int_equal(run(cmd), 0);
	struct airlock_bootctl c;
	struct airlock_boot_record r;
	bool created;
	assert_err(airlock_bootctl_open(&c, "grub", path), AIRLOCK_OK);
	assert_err(airlock_bootctl_provision(&c, 0, 3, &created), AIRLOCK_OK);
	assert_true(created);
	assert_err(airlock_bootctl_set_trial(&c, 1), AIRLOCK_OK);
	snprintf(cmd, sizeof cmd,
		 "grub-editenv %s list > %s/list && grep -qx saved_entry=debian %s/list && "
		 "grep -qx airlock_slot=b %s/list && grep -qx upgrade_available=1 %s/list",
		 path, dir, dir, dir, dir);
	assert_int_equal(run(cmd), 0);
	/* the GRUB script's count, written by GRUB's tool, read by the agent */
	snprintf(cmd, sizeof cmd, "grub-editenv %s set bootcount=2", path);
	assert_int_equal(run(cmd), 0);
	assert_err(airlock_bootctl_load(&c, &r), AIRLOCK_OK);
	assert_int_equal(r.bootcount, 2);
	assert_true(r.pending);
	airlock_bootctl_close(&c);
}

static void test_booted_slot(void **state)
{
	(void)state;
	unsigned s = 9;
	setenv("AIRLOCK_BOOT_SLOT", "b", 1);
	assert_err(airlock_bootctl_booted_slot(&s), AIRLOCK_OK);
	assert_int_equal(s, 1);
	setenv("AIRLOCK_BOOT_SLOT", "z", 1);
	assert_err(airlock_bootctl_booted_slot(&s), AIRLOCK_ERR_BAD_VALUE);
	unsetenv("AIRLOCK_BOOT_SLOT");
	/* this host's /proc/cmdline has no airlock.slot= */
	assert_err(airlock_bootctl_booted_slot(&s), AIRLOCK_ERR_NOT_FOUND);
}

int main(void)
{
	clear_fault_env();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_record_check, setup),
		cmocka_unit_test_setup(test_open_errors, setup),
		cmocka_unit_test_setup(test_sim_semantics, setup),
		cmocka_unit_test_setup(test_sim_two_copies, setup),
		cmocka_unit_test_setup(test_sim_torn_and_failing, setup),
		cmocka_unit_test_setup(test_uboot, setup),
		cmocka_unit_test_setup(test_grub, setup),
		cmocka_unit_test_setup(test_grub_editenv_interop, setup),
		cmocka_unit_test_setup(test_booted_slot, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
