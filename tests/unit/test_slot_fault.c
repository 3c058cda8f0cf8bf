/*
 * The file and block slot backends under fault injection (lib/fault.c):
 * every write and sync is one counted op, a cut op stops the process (in a
 * child, since a cut _exits) with exactly the torn prefix written, O_DIRECT
 * tears at logical-block boundaries, and an injected "slot" failure writes
 * nothing. Without fault variables nothing is counted.
 */
#define _GNU_SOURCE /* O_DIRECT, to probe whether the temp dir supports it */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "airlock/slot.h"
#include "testutil.h"

#define PAGE 4096u
#define CAP (4u * PAGE)

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

static char g_path[512];

/* A fresh slot image of CAP bytes, all 'o' (the old contents). */
static const char *fresh_image(const char *name)
{
	static uint8_t old[CAP];
	memset(old, 'o', sizeof old);
	snprintf(g_path, sizeof g_path, "%s/%s", test_tmpdir(), name);
	test_write_file(g_path, old, sizeof old);
	return g_path;
}

static const char *g_backend;
static unsigned g_flags;

/* Writes page 0 ('A') and pages 1-2 ('B', one write), then syncs: 3 ops. */
static void write_pages(void)
{
	struct airlock_slot s;
	static uint8_t a[PAGE], b[2 * PAGE];
	memset(a, 'A', sizeof a);
	memset(b, 'B', sizeof b);
	if (airlock_slot_open(&s, g_backend, g_path, 0, g_flags) != AIRLOCK_OK ||
	    airlock_slot_write(&s, 0, a, sizeof a) != AIRLOCK_OK ||
	    airlock_slot_write(&s, PAGE, b, sizeof b) != AIRLOCK_OK || airlock_slot_sync(&s) != AIRLOCK_OK)
		_exit(1);
	airlock_slot_close(&s);
}

/* Runs write_pages in a child with the cut (and torn mode); its exit status. */
static int cut_child(const char *cut, const char *torn)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		setenv("AIRLOCK_FAULT_CUT", cut, 1);
		if (torn)
			setenv("AIRLOCK_FAULT_TORN", torn, 1);
		airlock_fault_reset();
		write_pages();
		_exit(0);
	}
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* The image holds n bytes of ch from off. */
static void assert_run(const uint8_t *img, size_t off, size_t n, char ch)
{
	for (size_t i = 0; i < n; i++)
		if (img[off + i] != (uint8_t)ch)
			fail_msg("byte %zu is '%c', want '%c'", off + i, img[off + i], ch);
}

static void counts_ops(const char *backend, unsigned flags)
{
	g_backend = backend;
	g_flags = flags;
	fresh_image("count.img");
	write_pages();   /* no fault variables: nothing counted */
	assert_int_equal(airlock_fault_count(), 0);
	char count[700];
	snprintf(count, sizeof count, "%s.count", g_path);
	setenv("AIRLOCK_FAULT_COUNT_FILE", count, 1);
	airlock_fault_reset();
	write_pages();
	assert_int_equal(airlock_fault_count(), 3);
	clear_env();
}

static void cuts(const char *backend, unsigned flags, size_t torn_unit)
{
	g_backend = backend;
	g_flags = flags;
	size_t len;
	/* Cut at the second write, plain: page 0 new, pages 1-2 old. */
	fresh_image("cut.img");
	assert_int_equal(cut_child("2", NULL), AIRLOCK_FAULT_EXIT);
	uint8_t *img = test_read_file(g_path, &len);
	assert_int_equal(len, CAP);
	assert_run(img, 0, PAGE, 'A');
	assert_run(img, PAGE, 3 * PAGE, 'o');
	free(img);
	/* The same, torn: all but the last byte of the write, rounded down to
	 * the torn unit (a logical block under O_DIRECT). */
	fresh_image("torn.img");
	assert_int_equal(cut_child("2", "1"), AIRLOCK_FAULT_EXIT);
	img = test_read_file(g_path, &len);
	size_t prefix = (2 * PAGE - 1) / torn_unit * torn_unit;
	assert_run(img, 0, PAGE, 'A');
	assert_run(img, PAGE, prefix, 'B');
	assert_run(img, PAGE + prefix, 3 * PAGE - prefix, 'o');
	free(img);
	/* Cut at the sync: both writes are there (the process died, the
	 * kernel did not). */
	fresh_image("sync.img");
	assert_int_equal(cut_child("3", "1"), AIRLOCK_FAULT_EXIT);
	img = test_read_file(g_path, &len);
	assert_run(img, 0, PAGE, 'A');
	assert_run(img, PAGE, 2 * PAGE, 'B');
	free(img);
}

static void fails(const char *backend, unsigned flags)
{
	struct airlock_slot s;
	uint8_t a[PAGE];
	memset(a, 'A', sizeof a);
	fresh_image("fail.img");
	setenv("AIRLOCK_FAULT_FAIL", "slot:1.0", 1);
	airlock_fault_reset();
	assert_err(airlock_slot_open(&s, backend, g_path, 0, flags), AIRLOCK_OK);
	assert_err(airlock_slot_write(&s, 0, a, sizeof a), AIRLOCK_ERR_IO_WRITE);
	assert_err(airlock_slot_sync(&s), AIRLOCK_OK);
	airlock_slot_close(&s);
	clear_env();
	size_t len;
	uint8_t *img = test_read_file(g_path, &len);
	assert_run(img, 0, CAP, 'o');
	free(img);
}

static void test_file(void **state)
{
	(void)state;
	counts_ops("file", 0);
	cuts("file", 0, 1);
	fails("file", 0);
}

static void test_file_create_counts_its_syncs(void **state)
{
	(void)state;
	struct airlock_slot s;
	char path[600], count[700];
	snprintf(path, sizeof path, "%s/new.img", test_tmpdir());
	snprintf(count, sizeof count, "%s.count", path);
	setenv("AIRLOCK_FAULT_COUNT_FILE", count, 1);
	airlock_fault_reset();
	/* The new file's fsync and its directory's: two ops. */
	assert_err(airlock_slot_open(&s, "file", path, CAP, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	assert_int_equal(airlock_fault_count(), 2);
	airlock_slot_close(&s);
	clear_env();
}

static void test_block(void **state)
{
	(void)state;
	counts_ops("block", 0);
	cuts("block", 0, 1);
	fails("block", 0);
}

static void test_block_direct(void **state)
{
	(void)state;
	const char *path = fresh_image("probe.img");
	int fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		print_message("O_DIRECT not supported (%s): direct cases skipped\n", strerror(errno));
		skip();
	}
	close(fd);
	counts_ops("block", AIRLOCK_SLOT_DIRECT);
	/* A regular file's logical block is 4096 under the backend's rule. */
	cuts("block", AIRLOCK_SLOT_DIRECT, 4096);
	fails("block", AIRLOCK_SLOT_DIRECT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_file, setup),
		cmocka_unit_test_setup(test_file_create_counts_its_syncs, setup),
		cmocka_unit_test_setup(test_block, setup),
		cmocka_unit_test_setup(test_block_direct, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
