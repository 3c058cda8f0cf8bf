/*
 * The "sim" slot backend: a simulated flash in a file, for airlock-boot, the
 * demo and the power-cut tests (docs/boot.md, "The simulated flash").
 *
 * Model: a page-programmed flash (NOR-like, erase folded into the program of
 * each page, as managed flash does it). A write is split at
 * AIRLOCK_SIM_PAGE boundaries and every page program is one counted durable
 * op (include/airlock/fault.h): write-through, no cache, so what was
 * programmed before a power cut is there afterwards, and with
 * AIRLOCK_FAULT_TORN the page being programmed holds only a prefix. A sync
 * is one op too (the flash's "program complete" barrier). A fresh slot reads
 * as erased (0xFF).
 */
#include "airlock/slot.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "slot_backend.h"
#include "util.h"

#define AIRLOCK_SIM_PAGE 4096u

static airlock_err sim_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	return airlock_slot_pread_all(s->fd, off, buf, len);
}

static airlock_err sim_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	while (len > 0) {
		/* One page program: up to the end of the page off is in. */
		size_t room = AIRLOCK_SIM_PAGE - (size_t)(off % AIRLOCK_SIM_PAGE);
		size_t n = len < room ? len : room;
		TRY(airlock_fault_pwrite(AIRLOCK_FAULT_SLOT_WRITE, s->fd, buf, n, (off_t)off));
		buf += n;
		off += n;
		len -= n;
	}
	return AIRLOCK_OK;
}

static airlock_err sim_sync(struct airlock_slot *s)
{
	return airlock_fault_fsync(AIRLOCK_FAULT_SLOT_SYNC, s->fd);
}

static void sim_close(struct airlock_slot *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static const struct airlock_slot_ops sim_ops = {
	.name = "sim",
	.read = sim_read,
	.write = sim_write,
	.sync = sim_sync,
	.close = sim_close,
};

/* Fills [from, to) with the erased value, then syncs: the factory's erase,
 * not counted (it happens before any update exists). */
static airlock_err erase_range(int fd, uint64_t from, uint64_t to)
{
	uint8_t page[AIRLOCK_SIM_PAGE];
	memset(page, 0xFF, sizeof page);
	while (from < to) {
		size_t n = to - from < sizeof page ? (size_t)(to - from) : sizeof page;
		TRY(airlock_slot_pwrite_all(fd, from, page, n));
		from += n;
	}
	return airlock_slot_fsync(fd);
}

airlock_err airlock_slot_sim_open(struct airlock_slot *s, const char *path, uint64_t capacity, unsigned flags)
{
	bool create = (flags & AIRLOCK_SLOT_CREATE) != 0;
	if (flags & ~(unsigned)AIRLOCK_SLOT_CREATE)
		return AIRLOCK_ERR_INVALID_ARG;
	if (create && capacity == 0)
		return AIRLOCK_ERR_INVALID_ARG;
	int fd;
	do
		fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | (create ? O_CREAT : 0), 0600);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	struct stat st;
	airlock_err err = AIRLOCK_OK;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		err = AIRLOCK_ERR_IO_OPEN;
	uint64_t have = err == AIRLOCK_OK ? (uint64_t)st.st_size : 0;
	if (err == AIRLOCK_OK && capacity == 0)
		capacity = have;
	if (err == AIRLOCK_OK && capacity > have)
		err = create && capacity <= (uint64_t)INT64_MAX ? erase_range(fd, have, capacity) : AIRLOCK_ERR_NO_SPACE;
	if (err != AIRLOCK_OK) {
		close(fd);
		return err;
	}
	s->ops = &sim_ops;
	s->capacity = capacity;
	s->fd = fd;
	s->impl = NULL;
	return AIRLOCK_OK;
}
