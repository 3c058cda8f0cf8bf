/*
 * Private to libairlock: the open functions of the slot backends, one per
 * file (lib/slot_<name>.c), listed by name in lib/slot.c's table.
 *
 * Each fills *s (ops, capacity, fd, impl) or returns an error with *s left
 * as airlock_slot_open() prepared it (ops NULL, fd -1, impl NULL) and
 * nothing to release.
 */
#ifndef AIRLOCK_SLOT_BACKEND_H
#define AIRLOCK_SLOT_BACKEND_H

#include "airlock/slot.h"

typedef airlock_err (*airlock_slot_open_fn)(struct airlock_slot *s, const char *path, uint64_t capacity,
					    unsigned flags);

AIRLOCK_MUST_USE airlock_err airlock_slot_file_open(struct airlock_slot *s, const char *path, uint64_t capacity,
						    unsigned flags);
AIRLOCK_MUST_USE airlock_err airlock_slot_block_open(struct airlock_slot *s, const char *path, uint64_t capacity,
						     unsigned flags);
/* lib/slot_sim.c (the simulated flash of the power-cut tests). */
AIRLOCK_MUST_USE airlock_err airlock_slot_sim_open(struct airlock_slot *s, const char *path, uint64_t capacity,
						   unsigned flags);

/* Helpers for the backends over a file descriptor (lib/slot.c): whole
 * transfers with EINTR retried and partial transfers continued at the right
 * offset. Reading past the end of the file is IO_READ; ENOSPC/EDQUOT/EFBIG
 * on write is NO_SPACE, any other failure IO_WRITE; fsync failure IO_SYNC. */
AIRLOCK_MUST_USE airlock_err airlock_slot_pread_all(int fd, uint64_t off, uint8_t *buf, size_t len);
AIRLOCK_MUST_USE airlock_err airlock_slot_pwrite_all(int fd, uint64_t off, const uint8_t *buf, size_t len);
AIRLOCK_MUST_USE airlock_err airlock_slot_fsync(int fd);

/* The read op of every backend over a file descriptor (file, buffered
 * block): arguments, bounds, then a whole pread. */
AIRLOCK_MUST_USE airlock_err airlock_slot_fd_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len);

/* Shared bounds check: off + len within capacity, without overflow. */
static inline int airlock_slot_in_range(const struct airlock_slot *s, uint64_t off, size_t len)
{
	return off <= s->capacity && (uint64_t)len <= s->capacity - off;
}

#endif
