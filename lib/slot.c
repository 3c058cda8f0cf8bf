/*
 * Slot backends by name (include/airlock/slot.h). The backend is chosen
 * once, here; afterwards callers hold its ops table.
 */
#include "airlock/slot.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "slot_backend.h"
#include "util.h"

/*
 * One line per backend. A new backend is one file, lib/slot_<name>.c,
 * defining airlock_slot_<name>_open() (declared in slot_backend.h), and one
 * line here.
 */
static const struct {
	const char *name;
	airlock_slot_open_fn open;
} backends[] = {
	{ "file", airlock_slot_file_open },
	{ "block", airlock_slot_block_open },
	{ "sim", airlock_slot_sim_open },
};

airlock_err airlock_slot_open(struct airlock_slot *s, const char *backend, const char *path, uint64_t capacity,
			      unsigned flags)
{
	if (!s)
		return AIRLOCK_ERR_INVALID_ARG;
	s->ops = NULL;
	s->capacity = 0;
	s->fd = -1;
	s->impl = NULL;
	/* Flags are checked by each backend: only it knows which apply. */
	if (!backend || !path)
		return AIRLOCK_ERR_INVALID_ARG;
	for (size_t i = 0; i < ARRAY_LEN(backends); i++) {
		if (strcmp(backends[i].name, backend) != 0)
			continue;
		airlock_err err = backends[i].open(s, path, capacity, flags);
		if (err != AIRLOCK_OK) {
			s->ops = NULL;
			s->fd = -1;
			s->impl = NULL;
		}
		return err;
	}
	return AIRLOCK_ERR_NOT_FOUND;
}

void airlock_slot_close(struct airlock_slot *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->close)
		s->ops->close(s);
	s->ops = NULL;
	s->fd = -1;
	s->impl = NULL;
	s->capacity = 0;
}

/* ---- helpers for the file and block backends ---- */

/* off stays below 2^63 for every call: capacities come from fstat/ioctl
 * (off_t) or are checked against INT64_MAX when a file is created. */
static bool off_ok(uint64_t off, size_t len)
{
	return off <= (uint64_t)INT64_MAX && (uint64_t)len <= (uint64_t)INT64_MAX - off;
}

airlock_err airlock_slot_pread_all(int fd, uint64_t off, uint8_t *buf, size_t len)
{
	if (!off_ok(off, len))
		return AIRLOCK_ERR_IO_READ;
	while (len > 0) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)   /* error, or the file ends early (it shrank) */
			return AIRLOCK_ERR_IO_READ;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return AIRLOCK_OK;
}

airlock_err airlock_slot_fd_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	return airlock_slot_pread_all(s->fd, off, buf, len);
}

airlock_err airlock_slot_pwrite_all(int fd, uint64_t off, const uint8_t *buf, size_t len)
{
	if (!off_ok(off, len))
		return AIRLOCK_ERR_IO_WRITE;
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == ENOSPC || errno == EDQUOT || errno == EFBIG))
			return AIRLOCK_ERR_NO_SPACE;
		if (n <= 0)
			return AIRLOCK_ERR_IO_WRITE;
		/* A partial write continues at the byte where it stopped: the
		 * range written is always exactly [off, off + len). */
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return AIRLOCK_OK;
}

airlock_err airlock_slot_fsync(int fd)
{
	int rc;
	do
		rc = fsync(fd);
	while (rc != 0 && errno == EINTR);
	return rc == 0 ? AIRLOCK_OK : AIRLOCK_ERR_IO_SYNC;
}
