/*
 * Fault injection and the durable primitives (lib/fault.c), and the sim
 * flash slot (lib/slot_sim.c): op counting, cuts (in a child process, since
 * a cut _exits), torn writes, injected failures, the atomic file write's
 * old-or-new property at every cut index, and the count file.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "airlock/slot.h"
#include "testutil.h"

static void clear_env(void)
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
	clear_env();
	return 0;
}

static char *join(const char *dir, const char *name)
{
	static char buf[4][512];
	static unsigned i;
	char *p = buf[i++ % 4];
	snprintf(p, 512, "%s/%s", dir, name);
	return p;
}

/* Runs fn in a child with the fault variables set; returns its exit status. */
static int in_child(const char *cut, const char *torn, void (*fn)(const char *), const char *arg)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("AIRLOCK_FAULT_CUT", cut, 1);
		if (torn)
			setenv("AIRLOCK_FAULT_TORN", torn, 1);
		airlock_fault_reset();
		fn(arg);
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_disabled_counts_nothing(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	assert_false(airlock_fault_enabled());
	assert_err(airlock_file_write_atomic(join(dir, "f"), "abc", 3), AIRLOCK_OK);
	assert_int_equal(airlock_fault_count(), 0);
}

static void test_atomic_write_counts_four_ops(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	setenv("AIRLOCK_FAULT_COUNT_FILE", join(dir, "count"), 1);
	airlock_fault_reset();
	assert_true(airlock_fault_enabled());
	assert_err(airlock_file_write_atomic(join(dir, "f"), "hello", 5), AIRLOCK_OK);
	assert_int_equal(airlock_fault_count(), 4);
	airlock_fault_report();
	size_t len;
	uint8_t *c = test_read_file(join(dir, "count"), &len);
	assert_string_equal((char *)c, "4\n");
	free(c);
	c = test_read_file(join(dir, "f"), &len);
	assert_int_equal(len, 5);
	assert_memory_equal(c, "hello", 5);
	free(c);
	struct stat st;
	assert_int_equal(stat(join(dir, "f.tmp"), &st), -1);
	assert_int_equal(stat(join(dir, "f"), &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static const char *g_path;

static void write_new(const char *path)
{
	if (airlock_file_write_atomic(path, "NEW-CONTENTS", 12) != AIRLOCK_OK)
		_exit(1);
}

/* The old-or-new property at every cut index, plain and torn. */
static void test_atomic_write_every_cut(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	g_path = join(dir, "state");
	for (int torn = 0; torn < 2; torn++) {
		for (int cut = 1; cut <= 5; cut++) {
			test_write_file(g_path, "old", 3);
			char n[8];
			snprintf(n, sizeof n, "%d", cut);
			int rc = in_child(n, torn ? "1" : NULL, write_new, g_path);
			size_t len;
			uint8_t *c = test_read_file(g_path, &len);
			if (cut <= 3) {
				/* temp write, temp fsync, rename: the old file */
				assert_int_equal(rc, AIRLOCK_FAULT_EXIT);
				assert_int_equal(len, 3);
				assert_memory_equal(c, "old", 3);
			} else {
				/* cut at the directory fsync (4), or none (5): new */
				assert_int_equal(rc, cut == 4 ? AIRLOCK_FAULT_EXIT : 0);
				assert_int_equal(len, 12);
				assert_memory_equal(c, "NEW-CONTENTS", 12);
			}
			free(c);
			/* A later write succeeds whatever temp a cut left. */
			assert_err(airlock_file_write_atomic(g_path, "again", 5), AIRLOCK_OK);
		}
	}
}

static void sim_write_two_pages(const char *path)
{
	struct airlock_slot s;
	uint8_t buf[8192];
	memset(buf, 0xAA, sizeof buf);
	if (airlock_slot_open(&s, "sim", path, 0, 0) != AIRLOCK_OK)
		_exit(1);
	if (airlock_slot_write(&s, 0, buf, sizeof buf) != AIRLOCK_OK)
		_exit(2);
	if (airlock_slot_sync(&s) != AIRLOCK_OK)
		_exit(3);
	airlock_slot_close(&s);
}

static void test_sim_slot_pages_and_torn(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	const char *path = join(dir, "slot");
	struct airlock_slot s;
	assert_err(airlock_slot_open(&s, "sim", path, 3 * 4096, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	assert_int_equal(s.capacity, 3 * 4096);
	uint8_t b[16];
	assert_err(airlock_slot_read(&s, 4096, b, sizeof b), AIRLOCK_OK);
	for (size_t i = 0; i < sizeof b; i++)
		assert_int_equal(b[i], 0xFF);  /* erased */
	assert_err(airlock_slot_read(&s, 3 * 4096 - 8, b, sizeof b), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_write(&s, 3 * 4096 - 8, b, sizeof b), AIRLOCK_ERR_NO_SPACE);
	airlock_slot_close(&s);

	/* Cut at the second page program, torn: page 0 new, page 1 all but its
	 * last byte, page 2 untouched. */
	assert_int_equal(in_child("2", "1", sim_write_two_pages, path), AIRLOCK_FAULT_EXIT);
	size_t len;
	uint8_t *c = test_read_file(path, &len);
	assert_int_equal(len, 3 * 4096);
	for (size_t i = 0; i < 8191; i++)
		assert_int_equal(c[i], 0xAA);
	assert_int_equal(c[8191], 0xFF);
	assert_int_equal(c[8192], 0xFF);
	free(c);

	/* Untorn cut at op 1: nothing written at all. */
	assert_err(airlock_slot_open(&s, "sim", path, 0, 0), AIRLOCK_OK);
	uint8_t ff[4096];
	memset(ff, 0xFF, sizeof ff);
	assert_err(airlock_slot_write(&s, 0, ff, 4096), AIRLOCK_OK);
	assert_err(airlock_slot_write(&s, 4096, ff, 4096), AIRLOCK_OK);
	airlock_slot_close(&s);
	assert_int_equal(in_child("1", NULL, sim_write_two_pages, path), AIRLOCK_FAULT_EXIT);
	c = test_read_file(path, &len);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(c[i], 0xFF);
	free(c);

	/* Writes split at page boundaries: 3 programs + 1 sync. */
	setenv("AIRLOCK_FAULT_COUNT_FILE", join(dir, "count"), 1);
	airlock_fault_reset();
	assert_err(airlock_slot_open(&s, "sim", path, 0, 0), AIRLOCK_OK);
	uint8_t big[8200];
	memset(big, 1, sizeof big);
	assert_err(airlock_slot_write(&s, 100, big, sizeof big), AIRLOCK_OK);
	assert_err(airlock_slot_sync(&s), AIRLOCK_OK);
	assert_int_equal(airlock_fault_count(), 4);
	airlock_slot_close(&s);
}

static void test_sim_slot_open_errors(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	struct airlock_slot s;
	assert_err(airlock_slot_open(&s, "sim", join(dir, "missing"), 4096, 0), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_slot_open(&s, "sim", join(dir, "x"), 0, AIRLOCK_SLOT_CREATE), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_open(&s, "sim", join(dir, "x"), 4096, 0x80), AIRLOCK_ERR_INVALID_ARG);
	test_write_file(join(dir, "small"), "abcd", 4);
	assert_err(airlock_slot_open(&s, "sim", join(dir, "small"), 4096, 0), AIRLOCK_ERR_NO_SPACE);
	airlock_slot_close(&s);
}

static void test_injected_failures(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	const char *path = join(dir, "f");
	test_write_file(path, "old", 3);
	setenv("AIRLOCK_FAULT_FAIL", "state:1.0", 1);
	airlock_fault_reset();
	assert_err(airlock_file_write_atomic(path, "new", 3), AIRLOCK_ERR_IO_WRITE);
	size_t len;
	uint8_t *c = test_read_file(path, &len);
	assert_memory_equal(c, "old", 3);
	free(c);
	struct stat st;
	assert_int_equal(stat(join(dir, "f.tmp"), &st), -1);

	/* Another class is not affected; rate 0.5 is deterministic per seed. */
	assert_err(airlock_fault_point(AIRLOCK_FAULT_SLOT_WRITE, 1, NULL), AIRLOCK_OK);
	unsigned fails[2] = { 0, 0 };
	for (int run = 0; run < 2; run++) {
		setenv("AIRLOCK_FAULT_FAIL", "boot:0.5:42", 1);
		airlock_fault_reset();
		for (int i = 0; i < 200; i++) {
			size_t allowed = 9;
			airlock_err e = airlock_fault_point(AIRLOCK_FAULT_BOOT_WRITE, 64, &allowed);
			if (e != AIRLOCK_OK) {
				assert_err(e, AIRLOCK_ERR_IO_WRITE);
				assert_int_equal(allowed, 0);
				fails[run]++;
			}
		}
		assert_err(airlock_fault_point(AIRLOCK_FAULT_FILE_WRITE, 0, NULL), AIRLOCK_OK);
	}
	assert_int_equal(fails[0], fails[1]);
	assert_in_range(fails[0], 60, 140);
}

static void exit_after_three_ops(const char *unused)
{
	(void)unused;
	for (int i = 0; i < 3; i++)
		if (airlock_fault_point(AIRLOCK_FAULT_SLOT_SYNC, 0, NULL) != AIRLOCK_OK)
			_exit(1);
	exit(0);  /* atexit handlers run: the count is written */
}

static void test_count_file_at_exit_and_bad_values(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	setenv("AIRLOCK_FAULT_COUNT_FILE", join(dir, "n"), 1);
	/* cut beyond the ops done: the child exits normally */
	assert_int_equal(in_child("100", NULL, exit_after_three_ops, NULL), 0);
	size_t len;
	uint8_t *c = test_read_file(join(dir, "n"), &len);
	assert_string_equal((char *)c, "3\n");
	free(c);
	unsetenv("AIRLOCK_FAULT_COUNT_FILE");
	/* A malformed cut is ignored (with a warning), never a cut at op 0. */
	setenv("AIRLOCK_FAULT_CUT", "12abc", 1);
	airlock_fault_reset();
	assert_false(airlock_fault_enabled());
	setenv("AIRLOCK_FAULT_CUT", "0", 1);
	airlock_fault_reset();
	assert_false(airlock_fault_enabled());
	clear_env();
}

static void test_read_small(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	char buf[8];
	size_t len = 99;
	assert_err(airlock_file_read_small(join(dir, "none"), buf, sizeof buf, &len), AIRLOCK_ERR_NOT_FOUND);
	test_write_file(join(dir, "eight"), "12345678", 8);
	assert_err(airlock_file_read_small(join(dir, "eight"), buf, 8, &len), AIRLOCK_OK);
	assert_int_equal(len, 8);
	assert_err(airlock_file_read_small(join(dir, "eight"), buf, 7, &len), AIRLOCK_ERR_TOO_LARGE);
	assert_int_equal(len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_disabled_counts_nothing, setup),
		cmocka_unit_test_setup(test_atomic_write_counts_four_ops, setup),
		cmocka_unit_test_setup(test_atomic_write_every_cut, setup),
		cmocka_unit_test_setup(test_sim_slot_pages_and_torn, setup),
		cmocka_unit_test_setup(test_sim_slot_open_errors, setup),
		cmocka_unit_test_setup(test_injected_failures, setup),
		cmocka_unit_test_setup(test_count_file_at_exit_and_bad_values, setup),
		cmocka_unit_test_setup(test_read_small, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
