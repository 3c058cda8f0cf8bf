/*
 * Slot backends (lib/slot.c, lib/slot_file.c, lib/slot_block.c): opening by
 * name, capacity rules, bounds, read/write round trips, O_DIRECT through
 * the bounce buffer, and the mapping of real kernel errors (EFBIG from
 * RLIMIT_FSIZE stands in for a full disk: it is the same refusal path).
 *
 * What is covered, honestly: the block backend is exercised on regular
 * files, which it accepts through the very same read/write/sync code (only
 * the size probe differs: fstat instead of the BLKGETSIZE64/BLKSSZGET
 * ioctls). The ioctl branch needs a real block device and is not run here;
 * a /dev/null open checks that other device kinds are refused. O_DIRECT is
 * real (the file system must accept it, as ext4 and xfs do; where it does
 * not, those cases are skipped with a message, never passed silently).
 * EINTR retries and partial pwrite continuation are not provoked.
 */
#define _GNU_SOURCE /* O_DIRECT, to check the flag really is set */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/slot.h"
#include "testutil.h"

static char dir[256];

static const char *path_of(const char *name)
{
	static char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, name);
	return p;
}

static void pattern(uint8_t *b, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 31u + seed * 7u + (i >> 8));
}

static void make_file(const char *path, size_t size, uint8_t fill)
{
	uint8_t *b = malloc(size ? size : 1);
	assert_non_null(b);
	memset(b, fill, size);
	test_write_file(path, b, size);
	free(b);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "%s", test_tmpdir());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void assert_closed(const struct airlock_slot *s)
{
	assert_null(s->ops);
	assert_int_equal(s->fd, -1);
	assert_null(s->impl);
}

static void test_open_by_name(void **state)
{
	(void)state;
	struct airlock_slot s;
	make_file(path_of("n.img"), 8192, 0);
	assert_err(airlock_slot_open(&s, "flash9", path_of("n.img"), 0, 0), AIRLOCK_ERR_NOT_FOUND);
	assert_closed(&s);
	assert_err(airlock_slot_open(&s, NULL, path_of("n.img"), 0, 0), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_open(&s, "file", NULL, 0, 0), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_open(NULL, "file", path_of("n.img"), 0, 0), AIRLOCK_ERR_INVALID_ARG);
	/* Each backend refuses the flags that are not its own. */
	assert_err(airlock_slot_open(&s, "file", path_of("n.img"), 0, AIRLOCK_SLOT_DIRECT), AIRLOCK_ERR_INVALID_ARG);
	assert_closed(&s);
	assert_err(airlock_slot_open(&s, "block", path_of("n.img"), 0, AIRLOCK_SLOT_CREATE), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_open(&s, "file", path_of("n.img"), 0, 1u << 7), AIRLOCK_ERR_INVALID_ARG);
	assert_closed(&s);

	assert_err(airlock_slot_open(&s, "file", path_of("n.img"), 0, 0), AIRLOCK_OK);
	assert_string_equal(s.ops->name, "file");
	assert_int_equal(s.capacity, 8192);
	assert_true(s.fd >= 0);
	airlock_slot_close(&s);
	assert_closed(&s);
	airlock_slot_close(&s);   /* idempotent */
	airlock_slot_close(NULL);

	assert_err(airlock_slot_open(&s, "block", path_of("n.img"), 0, 0), AIRLOCK_OK);
	assert_string_equal(s.ops->name, "block");
	airlock_slot_close(&s);
}

static void test_file_capacity(void **state)
{
	(void)state;
	struct airlock_slot s;
	struct stat st;
	make_file(path_of("c.img"), 10000, 0x11);
	/* 0: the file's size; smaller: a prefix of it; larger: refused without CREATE. */
	assert_err(airlock_slot_open(&s, "file", path_of("c.img"), 4096, 0), AIRLOCK_OK);
	assert_int_equal(s.capacity, 4096);
	airlock_slot_close(&s);
	assert_err(airlock_slot_open(&s, "file", path_of("c.img"), 10001, 0), AIRLOCK_ERR_NO_SPACE);
	assert_closed(&s);
	assert_err(airlock_slot_open(&s, "file", path_of("missing.img"), 4096, 0), AIRLOCK_ERR_IO_OPEN);
	assert_int_equal(stat(path_of("missing.img"), &st), -1);
	/* Not a regular file. */
	assert_err(airlock_slot_open(&s, "file", dir, 0, 0), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_slot_open(&s, "file", "/dev/null", 0, 0), AIRLOCK_ERR_IO_OPEN);
	assert_closed(&s);
	/* CREATE needs a capacity; it creates (0600) and sizes a new file. */
	assert_err(airlock_slot_open(&s, "file", path_of("new.img"), 0, AIRLOCK_SLOT_CREATE), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_open(&s, "file", path_of("new.img"), 1u << 20, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	assert_int_equal(s.capacity, 1u << 20);
	airlock_slot_close(&s);
	assert_int_equal(stat(path_of("new.img"), &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* CREATE on an existing file grows it and keeps its bytes. */
	assert_err(airlock_slot_open(&s, "file", path_of("c.img"), 20000, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	uint8_t b[4];
	assert_err(airlock_slot_read(&s, 9998, b, 4), AIRLOCK_OK);
	assert_int_equal(b[0], 0x11);
	assert_int_equal(b[1], 0x11);
	assert_int_equal(b[2], 0);
	assert_int_equal(b[3], 0);
	airlock_slot_close(&s);
	assert_int_equal(stat(path_of("c.img"), &st), 0);
	assert_int_equal(st.st_size, 20000);
	/* A symlink is not followed. */
	char target[512];
	snprintf(target, sizeof target, "%s", path_of("c.img"));
	assert_int_equal(symlink(target, path_of("link.img")), 0);
	assert_err(airlock_slot_open(&s, "file", path_of("link.img"), 0, 0), AIRLOCK_ERR_IO_OPEN);
}

/* Round trips and bounds, the same for every backend and mode. */
static void check_rw(struct airlock_slot *s, const char *path)
{
	const size_t cap = (size_t)s->capacity;
	uint8_t *model = malloc(cap), *got = malloc(cap), *data = malloc(cap);
	assert_non_null(model);
	assert_non_null(got);
	assert_non_null(data);
	assert_err(airlock_slot_read(s, 0, model, cap), AIRLOCK_OK);
	pattern(data, cap, 3);
	/* Offsets and lengths around block and bounce-buffer boundaries. */
	static const struct { size_t off, len; } w[] = {
		{ 0, 1 }, { 4095, 1 }, { 4095, 2 }, { 3000, 5000 }, { 8192, 4096 }, { 12289, 300000 },
		{ 0, 0 }, { 70000, 262144 }, { 1, 262144 + 8191 },
	};
	for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
		if (w[i].off + w[i].len > cap)
			continue;
		pattern(data, w[i].len, (unsigned)i + 5u);
		assert_err(airlock_slot_write(s, w[i].off, data, w[i].len), AIRLOCK_OK);
		memcpy(model + w[i].off, data, w[i].len);
		assert_err(airlock_slot_read(s, w[i].off, got, w[i].len), AIRLOCK_OK);
		assert_memory_equal(got, data, w[i].len);
	}
	/* The last byte, then past the end: refused, nothing written. */
	assert_err(airlock_slot_write(s, cap - 1, data, 1), AIRLOCK_OK);
	model[cap - 1] = data[0];
	assert_err(airlock_slot_write(s, cap - 1, data, 2), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_write(s, cap, data, 1), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_write(s, UINT64_MAX, data, 1), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_write(s, 1, data, SIZE_MAX), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_read(s, cap - 1, got, 2), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_write(s, 0, NULL, 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_slot_sync(s), AIRLOCK_OK);
	/* Whole contents, through the slot and through the file itself. */
	assert_err(airlock_slot_read(s, 0, got, cap), AIRLOCK_OK);
	assert_memory_equal(got, model, cap);
	size_t flen;
	uint8_t *file = test_read_file(path, &flen);
	assert_true(flen >= cap);
	assert_memory_equal(file, model, cap);
	free(file);
	free(model);
	free(got);
	free(data);
}

static void test_file_rw(void **state)
{
	(void)state;
	struct airlock_slot s;
	make_file(path_of("rw.img"), 1u << 20, 0x5a);
	assert_err(airlock_slot_open(&s, "file", path_of("rw.img"), 0, 0), AIRLOCK_OK);
	check_rw(&s, path_of("rw.img"));
	airlock_slot_close(&s);
	/* A capacity below the file: the bytes after it are out of reach. */
	assert_err(airlock_slot_open(&s, "file", path_of("rw.img"), 5000, 0), AIRLOCK_OK);
	uint8_t b[8] = { 0 };
	assert_err(airlock_slot_write(&s, 4996, b, 5), AIRLOCK_ERR_NO_SPACE);
	airlock_slot_close(&s);
}

static void test_file_shrunk(void **state)
{
	(void)state;
	struct airlock_slot s;
	uint8_t b[16];
	make_file(path_of("s.img"), 8192, 1);
	assert_err(airlock_slot_open(&s, "file", path_of("s.img"), 0, 0), AIRLOCK_OK);
	/* Someone truncates the file under us: reading past its end is an
	 * error, never zeros passed off as data. */
	assert_int_equal(truncate(path_of("s.img"), 100), 0);
	assert_err(airlock_slot_read(&s, 8000, b, sizeof b), AIRLOCK_ERR_IO_READ);
	assert_err(airlock_slot_read(&s, 90, b, sizeof b), AIRLOCK_ERR_IO_READ);
	assert_err(airlock_slot_read(&s, 0, b, sizeof b), AIRLOCK_OK);
	airlock_slot_close(&s);
}

/* RLIMIT_FSIZE makes the kernel refuse writes beyond a size with EFBIG,
 * the same refusal path as a full disk (ENOSPC). */
static void test_file_full(void **state)
{
	(void)state;
	struct airlock_slot s;
	struct rlimit old, lim;
	uint8_t b[4096];
	memset(b, 7, sizeof b);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

	/* CREATE beyond the limit: NO_SPACE, and the new file is removed. */
	struct stat st;
	assert_err(airlock_slot_open(&s, "file", path_of("full.img"), 1u << 20, AIRLOCK_SLOT_CREATE),
		   AIRLOCK_ERR_NO_SPACE);
	assert_closed(&s);
	assert_int_equal(stat(path_of("full.img"), &st), -1);
	/* A slot file larger than the limit (made before it): writes past it fail. */
	lim.rlim_cur = old.rlim_cur;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_err(airlock_slot_open(&s, "file", path_of("full.img"), 1u << 20, AIRLOCK_SLOT_CREATE), AIRLOCK_OK);
	lim.rlim_cur = 64 * 1024;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	assert_err(airlock_slot_write(&s, 0, b, sizeof b), AIRLOCK_OK);
	assert_err(airlock_slot_write(&s, 64 * 1024, b, sizeof b), AIRLOCK_ERR_NO_SPACE);
	airlock_slot_close(&s);

	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, prev);
}

static void test_block_on_file(void **state)
{
	(void)state;
	struct airlock_slot s;
	make_file(path_of("b.img"), 1u << 20, 0x33);
	assert_err(airlock_slot_open(&s, "block", path_of("b.img"), 0, 0), AIRLOCK_OK);
	assert_int_equal(s.capacity, 1u << 20);
	assert_null(s.impl);   /* buffered: no bounce buffer */
	check_rw(&s, path_of("b.img"));
	airlock_slot_close(&s);
	assert_err(airlock_slot_open(&s, "block", path_of("b.img"), (1u << 20) + 1, 0), AIRLOCK_ERR_NO_SPACE);
	assert_closed(&s);
	assert_err(airlock_slot_open(&s, "block", path_of("b.img"), 12345, 0), AIRLOCK_OK);
	assert_int_equal(s.capacity, 12345);
	airlock_slot_close(&s);
	/* Neither a directory nor a character device is a slot; nothing is created. */
	assert_err(airlock_slot_open(&s, "block", dir, 0, 0), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_slot_open(&s, "block", "/dev/null", 0, 0), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_slot_open(&s, "block", path_of("none.img"), 0, 0), AIRLOCK_ERR_IO_OPEN);
	assert_closed(&s);
}

static bool direct_supported(const char *path)
{
	int fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0) {
		print_message("O_DIRECT not supported on %s (%s): direct cases skipped\n", dir, strerror(errno));
		return false;
	}
	close(fd);
	return true;
}

static void test_block_direct(void **state)
{
	(void)state;
	struct airlock_slot s;
	make_file(path_of("d.img"), 1u << 20, 0x44);
	if (!direct_supported(path_of("d.img"))) {
		skip();
		return;
	}
	assert_err(airlock_slot_open(&s, "block", path_of("d.img"), 0, AIRLOCK_SLOT_DIRECT), AIRLOCK_OK);
	assert_non_null(s.impl);
	assert_true((fcntl(s.fd, F_GETFL) & O_DIRECT) != 0);
	check_rw(&s, path_of("d.img"));
	airlock_slot_close(&s);
	/* A capacity that ends inside a block: the tail block is rewritten with
	 * its own bytes, the ones past the capacity stay as they were. */
	assert_err(airlock_slot_open(&s, "block", path_of("d.img"), 10000, AIRLOCK_SLOT_DIRECT), AIRLOCK_OK);
	size_t before_len;
	uint8_t *before = test_read_file(path_of("d.img"), &before_len);
	uint8_t b[3] = { 1, 2, 3 };
	assert_err(airlock_slot_write(&s, 9997, b, 3), AIRLOCK_OK);
	assert_err(airlock_slot_write(&s, 9998, b, 3), AIRLOCK_ERR_NO_SPACE);
	assert_err(airlock_slot_sync(&s), AIRLOCK_OK);
	airlock_slot_close(&s);
	size_t after_len;
	uint8_t *after = test_read_file(path_of("d.img"), &after_len);
	assert_int_equal(before_len, after_len);
	memcpy(before + 9997, b, 3);
	assert_memory_equal(before, after, after_len);
	free(before);
	free(after);
	/* O_DIRECT needs the device to end on a block boundary. */
	make_file(path_of("odd.img"), 10000, 0);
	assert_err(airlock_slot_open(&s, "block", path_of("odd.img"), 0, AIRLOCK_SLOT_DIRECT), AIRLOCK_ERR_IO_OPEN);
	assert_closed(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open_by_name),
		cmocka_unit_test(test_file_capacity),
		cmocka_unit_test(test_file_rw),
		cmocka_unit_test(test_file_shrunk),
		cmocka_unit_test(test_file_full),
		cmocka_unit_test(test_block_on_file),
		cmocka_unit_test(test_block_direct),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
