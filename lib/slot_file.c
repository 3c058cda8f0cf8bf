/*
 * The "file" slot backend: a regular file of fixed capacity (development
 * boards, the demo, slots kept as image files on a data partition).
 *
 * Capacity: 0 means the file's size. With AIRLOCK_SLOT_CREATE the file is
 * created if missing (mode 0600, its directory synced so that the new name
 * survives a power cut) and grown to the capacity; without it a capacity
 * above the file's size is AIRLOCK_ERR_NO_SPACE, since writing past the end
 * would grow a file the integrator sized on purpose.
 */
#define _GNU_SOURCE /* sync_file_range */
#include "airlock/slot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "slot_backend.h"
#include "util.h"

/*
 * Every write and sync below is one counted durable op (fault.h), so the
 * power-cut sweeps can cut a file slot too: a cut op stops the process
 * before the write, or after a prefix of it (AIRLOCK_FAULT_TORN); a cut at
 * the sync leaves the written bytes in the page cache, as a crash of the
 * process does. With no AIRLOCK_FAULT_* variable set an op costs one branch.
 * The write keeps the backend's own error mapping (ENOSPC, EFBIG: NO_SPACE).
 */
static airlock_err counted_pwrite(int fd, uint64_t off, const uint8_t *buf, size_t len)
{
	size_t allowed = len;
	airlock_err err = airlock_fault_point(AIRLOCK_FAULT_SLOT_WRITE, len, &allowed);
	if (err == AIRLOCK_ERR_POWER_CUT) {
		/* The prefix reaches the medium, then the power is gone: its
		 * own outcome no longer matters. */
		airlock_err torn = airlock_slot_pwrite_all(fd, off, buf, allowed);
		(void)torn;
		airlock_fault_die();
	}
	if (err != AIRLOCK_OK)
		return err;
	return airlock_slot_pwrite_all(fd, off, buf, len);
}

/*
 * Write-back starts every WRITEBACK_WINDOW bytes instead of all at the final
 * fsync: on a fast link an install otherwise ends with the whole image dirty
 * in the page cache and one long fsync (or a long fsync at each resume
 * record). SYNC_FILE_RANGE_WRITE only queues the pages for writing: it is
 * no durability point (no metadata, no cache flush, no wait), so it is not
 * a counted op and nothing relies on it; the fsync in file_sync() stays the
 * only one. A hint: where the call is missing or fails, the fsync does it all.
 */
#define WRITEBACK_WINDOW (8u * 1024u * 1024u)

static void start_writeback(int fd, uint64_t off, size_t len)
{
#if defined(__linux__) && defined(SYNC_FILE_RANGE_WRITE)
	uint64_t end = off + len;
	if (end / WRITEBACK_WINDOW == off / WRITEBACK_WINDOW)
		return;   /* no window completed by this write */
	uint64_t win_end = end / WRITEBACK_WINDOW * WRITEBACK_WINDOW;
	uint64_t win_start = win_end - WRITEBACK_WINDOW;
	if (off < win_start)
		win_start = off;
	(void)sync_file_range(fd, (off_t)win_start, (off_t)(win_end - win_start), SYNC_FILE_RANGE_WRITE);
#else
	(void)fd;
	(void)off;
	(void)len;
#endif
}

static airlock_err file_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	airlock_err err = counted_pwrite(s->fd, off, buf, len);
	if (err == AIRLOCK_OK)
		start_writeback(s->fd, off, len);
	return err;
}

static airlock_err file_sync(struct airlock_slot *s)
{
	return airlock_fault_fsync(AIRLOCK_FAULT_SLOT_SYNC, s->fd);
}

static void file_close(struct airlock_slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static const struct airlock_slot_ops file_ops = {
	.name = "file",
	.read = airlock_slot_fd_read,
	.write = file_write,
	.sync = file_sync,
	.close = file_close,
};

/* Makes a newly created name durable: fsync of the containing directory. */
static airlock_err sync_parent(const char *path)
{
	char copy[PATH_MAX];
	if (strlen(path) >= sizeof copy)
		return AIRLOCK_ERR_IO_OPEN;
	memcpy(copy, path, strlen(path) + 1);
	int dfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return AIRLOCK_ERR_IO_SYNC;
	airlock_err err = airlock_fault_fsync(AIRLOCK_FAULT_DIR_SYNC, dfd);
	close(dfd);
	return err;
}

/* Opens (or, with create, creates) path; *created tells which. */
static airlock_err open_file(const char *path, bool create, int *fd, bool *created)
{
	*created = false;
	do
		*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	while (*fd < 0 && errno == EINTR);
	if (*fd < 0 && errno == ENOENT && create) {
		do
			*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_CREAT | O_EXCL, 0600);
		while (*fd < 0 && errno == EINTR);
		*created = *fd >= 0;
	}
	return *fd < 0 ? AIRLOCK_ERR_IO_OPEN : AIRLOCK_OK;
}

/* Checks the file and settles the capacity (growing the file if asked). */
static airlock_err size_file(int fd, uint64_t *capacity, bool create)
{
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return AIRLOCK_ERR_IO_OPEN;
	uint64_t have = (uint64_t)st.st_size;
	if (*capacity == 0) {
		*capacity = have;
		return AIRLOCK_OK;
	}
	if (*capacity <= have)
		return AIRLOCK_OK;
	if (!create)
		return AIRLOCK_ERR_NO_SPACE;
	if (*capacity > (uint64_t)INT64_MAX)
		return AIRLOCK_ERR_NO_SPACE;
	/* Reserve the blocks now where the file system can, so that "disk
	 * full" shows here rather than in the middle of an install. */
	int rc = posix_fallocate(fd, 0, (off_t)*capacity);
	if (rc == ENOSPC || rc == EFBIG)
		return AIRLOCK_ERR_NO_SPACE;
	if (rc != 0 && ftruncate(fd, (off_t)*capacity) != 0)
		return errno == ENOSPC || errno == EFBIG ? AIRLOCK_ERR_NO_SPACE : AIRLOCK_ERR_IO_WRITE;
	return AIRLOCK_OK;
}

airlock_err airlock_slot_file_open(struct airlock_slot *s, const char *path, uint64_t capacity, unsigned flags)
{
	bool create = (flags & AIRLOCK_SLOT_CREATE) != 0, created;
	int fd;

	if (flags & ~(unsigned)AIRLOCK_SLOT_CREATE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (create && capacity == 0)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(open_file(path, create, &fd, &created));
	airlock_err err = size_file(fd, &capacity, create);
	if (err == AIRLOCK_OK && created)
		err = airlock_fault_fsync(AIRLOCK_FAULT_SLOT_SYNC, fd);
	if (err == AIRLOCK_OK && created)
		err = sync_parent(path);
	if (err != AIRLOCK_OK) {
		close(fd);
		if (created)
			unlink(path);
		return err;
	}
	s->ops = &file_ops;
	s->capacity = capacity;
	s->fd = fd;
	s->impl = NULL;
	return AIRLOCK_OK;
}
