/*
 * Durable operations, counted, with power cuts and failures injected from
 * the environment (include/airlock/fault.h; docs/boot.md, "Power-cut
 * model").
 *
 * The state is process-wide on purpose: a cut index names the i-th durable
 * operation of the whole process, whichever module performs it, the way
 * MCUboot's simulator counts every flash write of a boot.
 */
#include "airlock/fault.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { TORN_OFF = 0, TORN_LAST_BYTE = 1, TORN_HALF = 2 };
enum { CLASS_SLOT = 1u, CLASS_STATE = 2u, CLASS_BOOT = 4u };

static struct {
	bool loaded;
	bool enabled;
	bool atexit_set;
	uint64_t count;
	uint64_t cut;           /* 0: no cut */
	int torn;
	unsigned fail_mask;     /* classes whose ops may fail */
	uint64_t fail_below;    /* an op fails when rng() < fail_below; UINT64_MAX with rate 1 */
	bool fail_always;
	uint64_t rng;
	char count_file[PATH_MAX];
} fault;

static void warn_bad(const char *var, const char *val)
{
	/* A typo must not silently disable a test: say so loudly. The harness
	 * also checks that a cut process ended with AIRLOCK_FAULT_EXIT. */
	fprintf(stderr, "airlock fault injection: ignoring %s=%s (malformed)\n", var, val);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || !end || *end != '\0')
		return false;
	*out = (uint64_t)v;
	return true;
}

static unsigned parse_class(const char *s, size_t n)
{
	static const struct {
		const char *name;
		unsigned mask;
	} classes[] = {
		{ "slot", CLASS_SLOT }, { "state", CLASS_STATE }, { "boot", CLASS_BOOT },
		{ "all", CLASS_SLOT | CLASS_STATE | CLASS_BOOT },
	};
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		if (strlen(classes[i].name) == n && memcmp(classes[i].name, s, n) == 0)
			return classes[i].mask;
	return 0;
}

/* AIRLOCK_FAULT_FAIL=CLASS:RATE[:SEED] */
static void load_fail(const char *v)
{
	const char *colon = strchr(v, ':');
	unsigned mask = colon ? parse_class(v, (size_t)(colon - v)) : 0;
	if (!mask) {
		warn_bad("AIRLOCK_FAULT_FAIL", v);
		return;
	}
	char *end = NULL;
	errno = 0;
	double rate = strtod(colon + 1, &end);
	uint64_t seed = 1;
	if (errno != 0 || end == colon + 1 || !(rate >= 0.0 && rate <= 1.0) ||
	    (*end != '\0' && (*end != ':' || !parse_u64(end + 1, &seed)))) {
		warn_bad("AIRLOCK_FAULT_FAIL", v);
		return;
	}
	fault.fail_mask = mask;
	fault.fail_always = rate >= 1.0;
	fault.fail_below = (uint64_t)(rate * 18446744073709549568.0);
	/* splitmix64 of the seed: small seeds (1, 2, ...) would otherwise give
	 * xorshift a run of tiny first outputs, i.e. failures. */
	uint64_t z = seed + 0x9E3779B97F4A7C15ull;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	z ^= z >> 31;
	fault.rng = z ? z : 1;
	fault.enabled = true;
}

static void at_exit_report(void)
{
	airlock_fault_report();
}

static void load_env(void)
{
	fault.loaded = true;
	const char *v = getenv("AIRLOCK_FAULT_CUT");
	if (v && *v) {
		if (parse_u64(v, &fault.cut) && fault.cut > 0)
			fault.enabled = true;
		else
			warn_bad("AIRLOCK_FAULT_CUT", v);
	}
	v = getenv("AIRLOCK_FAULT_TORN");
	if (v && *v) {
		if (strcmp(v, "1") == 0)
			fault.torn = TORN_LAST_BYTE;
		else if (strcmp(v, "half") == 0)
			fault.torn = TORN_HALF;
		else if (strcmp(v, "0") != 0)
			warn_bad("AIRLOCK_FAULT_TORN", v);
	}
	v = getenv("AIRLOCK_FAULT_FAIL");
	if (v && *v)
		load_fail(v);
	v = getenv("AIRLOCK_FAULT_COUNT_FILE");
	if (v && *v) {
		if (strlen(v) < sizeof fault.count_file) {
			memcpy(fault.count_file, v, strlen(v) + 1);
			fault.enabled = true;
			if (!fault.atexit_set && atexit(at_exit_report) == 0)
				fault.atexit_set = true;
		} else {
			warn_bad("AIRLOCK_FAULT_COUNT_FILE", v);
		}
	}
}

bool airlock_fault_enabled(void)
{
	if (!fault.loaded)
		load_env();
	return fault.enabled;
}

uint64_t airlock_fault_count(void)
{
	return fault.count;
}

void airlock_fault_report(void)
{
	if (!fault.count_file[0])
		return;
	char line[32];
	int n = snprintf(line, sizeof line, "%" PRIu64 "\n", fault.count);
	int fd = open(fault.count_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || n <= 0)
		goto out;
	/* Best effort: a harness that finds no number fails loudly itself. */
	if (write(fd, line, (size_t)n) != n)
		fprintf(stderr, "airlock fault injection: cannot write %s\n", fault.count_file);
out:
	if (fd >= 0)
		close(fd);
}

void airlock_fault_reset(void)
{
	bool atexit_set = fault.atexit_set;
	memset(&fault, 0, sizeof fault);
	fault.atexit_set = atexit_set;
	load_env();
}

_Noreturn void airlock_fault_die(void)
{
	_exit(AIRLOCK_FAULT_EXIT);
}

static unsigned op_class(enum airlock_fault_op op)
{
	switch (op) {
	case AIRLOCK_FAULT_SLOT_WRITE:
	case AIRLOCK_FAULT_SLOT_SYNC:
		return CLASS_SLOT;
	case AIRLOCK_FAULT_BOOT_WRITE:
	case AIRLOCK_FAULT_BOOT_SYNC:
		return CLASS_BOOT;
	default:
		return CLASS_STATE;
	}
}

static bool op_writes(enum airlock_fault_op op)
{
	return op == AIRLOCK_FAULT_SLOT_WRITE || op == AIRLOCK_FAULT_FILE_WRITE || op == AIRLOCK_FAULT_BOOT_WRITE;
}

/* xorshift64: deterministic for a given seed, so a failing F09 run repeats. */
static uint64_t next_rng(void)
{
	uint64_t x = fault.rng;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	fault.rng = x;
	return x;
}

airlock_err airlock_fault_point(enum airlock_fault_op op, size_t len, size_t *allowed)
{
	if (allowed)
		*allowed = len;
	if (!fault.loaded)
		load_env();
	if (!fault.enabled)
		return AIRLOCK_OK;
	fault.count++;
	if (fault.cut && fault.count == fault.cut) {
		if (fault.torn != TORN_OFF && op_writes(op) && len > 1 && allowed) {
			*allowed = fault.torn == TORN_HALF ? len / 2 : len - 1;
			return AIRLOCK_ERR_POWER_CUT;
		}
		airlock_fault_die();
	}
	/* A bad region refuses to be programmed: only writes fail. */
	if ((fault.fail_mask & op_class(op)) && op_writes(op)) {
		if (fault.fail_always || next_rng() < fault.fail_below) {
			if (allowed)
				*allowed = 0;
			return AIRLOCK_ERR_IO_WRITE;
		}
	}
	return AIRLOCK_OK;
}

static airlock_err pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return AIRLOCK_ERR_IO_WRITE;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return AIRLOCK_OK;
}

airlock_err airlock_fault_pwrite(enum airlock_fault_op op, int fd, const void *buf, size_t len, off_t off)
{
	if ((!buf && len) || fd < 0 || off < 0)
		return AIRLOCK_ERR_INVALID_ARG;
	size_t allowed = len;
	airlock_err err = airlock_fault_point(op, len, &allowed);
	if (err == AIRLOCK_ERR_POWER_CUT) {
		/* The torn write: a prefix reaches the medium, then the power is gone. */
		(void)pwrite_all(fd, buf, allowed, off);
		airlock_fault_die();
	}
	if (err != AIRLOCK_OK)
		return err;
	return pwrite_all(fd, buf, len, off);
}

airlock_err airlock_fault_fsync(enum airlock_fault_op op, int fd)
{
	if (fd < 0)
		return AIRLOCK_ERR_INVALID_ARG;
	airlock_err err = airlock_fault_point(op, 0, NULL);
	if (err != AIRLOCK_OK)
		return err;
	while (fsync(fd) != 0) {
		if (errno != EINTR)
			return AIRLOCK_ERR_IO_SYNC;
	}
	return AIRLOCK_OK;
}

/* The directory part of path ("." for a bare name), into dir. */
static airlock_err dir_of(const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	if (!slash) {
		if (cap < 2)
			return AIRLOCK_ERR_INVALID_ARG;
		memcpy(dir, ".", 2);
		return AIRLOCK_OK;
	}
	size_t n = slash == path ? 1 : (size_t)(slash - path);
	if (n >= cap)
		return AIRLOCK_ERR_INVALID_ARG;
	memcpy(dir, path, n);
	dir[n] = '\0';
	return AIRLOCK_OK;
}

static airlock_err sync_dir(const char *path)
{
	char dir[PATH_MAX];
	airlock_err err = dir_of(path, dir, sizeof dir);
	if (err != AIRLOCK_OK)
		return err;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return AIRLOCK_ERR_IO_SYNC;
	err = airlock_fault_fsync(AIRLOCK_FAULT_DIR_SYNC, dfd);
	close(dfd);
	return err;
}

airlock_err airlock_file_write_atomic(const char *path, const void *buf, size_t len)
{
	if (!path || !*path || (!buf && len))
		return AIRLOCK_ERR_INVALID_ARG;
	char tmp[PATH_MAX];
	int n = snprintf(tmp, sizeof tmp, "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof tmp)
		return AIRLOCK_ERR_INVALID_ARG;
	/* O_TRUNC: a temp left by an earlier cut is simply overwritten. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	airlock_err err = airlock_fault_pwrite(AIRLOCK_FAULT_FILE_WRITE, fd, buf, len, 0);
	if (err == AIRLOCK_OK)
		err = airlock_fault_fsync(AIRLOCK_FAULT_FILE_SYNC, fd);
	close(fd);
	if (err == AIRLOCK_OK) {
		/* The one instant the file changes: before it, the old contents. */
		err = airlock_fault_point(AIRLOCK_FAULT_FILE_RENAME, 0, NULL);
		if (err == AIRLOCK_OK && rename(tmp, path) != 0)
			err = AIRLOCK_ERR_IO_WRITE;
	}
	if (err != AIRLOCK_OK) {
		unlink(tmp);
		return err;
	}
	/* Makes the rename durable before any later op can be. */
	return sync_dir(path);
}

airlock_err airlock_file_read_small(const char *path, void *buf, size_t cap, size_t *len)
{
	if (!path || (!buf && cap) || !len)
		return AIRLOCK_ERR_INVALID_ARG;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? AIRLOCK_ERR_NOT_FOUND : AIRLOCK_ERR_IO_OPEN;
	airlock_err err = AIRLOCK_OK;
	size_t got = 0;
	uint8_t *p = buf;
	for (;;) {
		uint8_t extra;
		/* Read one byte past cap into a scratch byte to tell "exactly
		 * full" from "too large". */
		ssize_t r = got < cap ? read(fd, p + got, cap - got) : read(fd, &extra, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = AIRLOCK_ERR_IO_READ;
			break;
		}
		if (r == 0)
			break;
		if (got >= cap) {
			err = AIRLOCK_ERR_TOO_LARGE;
			break;
		}
		got += (size_t)r;
	}
	close(fd);
	if (err == AIRLOCK_OK)
		*len = got;
	return err;
}
