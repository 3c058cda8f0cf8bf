/*
 * Slot backends: where an image is written (DESIGN.md, "Slots and boot
 * control"). A slot is a fixed-capacity byte range: a file, a raw block
 * device, or the simulated flash used by the power-cut tests. The install
 * pipeline writes through this interface only, so adding a backend touches
 * one file (lib/slot_<name>.c) and the name table in lib/slot.c.
 *
 * Contract for every backend:
 *  - read/write never go past capacity: AIRLOCK_ERR_NO_SPACE, nothing written.
 *  - a short write is an error (AIRLOCK_ERR_IO_WRITE), never silently retried
 *    into a different offset; EINTR is retried inside the backend.
 *  - sync returns only when written bytes are durable (fsync, or the flash's
 *    program completed); the pipeline calls it before anything refers to
 *    the written data (the boot record, the agent state).
 *  - no backend allocates per write: memory does not grow with the image.
 */
#ifndef AIRLOCK_SLOT_H
#define AIRLOCK_SLOT_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

struct airlock_slot;

struct airlock_slot_ops {
	const char *name;  /* "file", "block", "sim" */
	airlock_err (*read)(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len);
	airlock_err (*write)(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len);
	airlock_err (*sync)(struct airlock_slot *s);
	void (*close)(struct airlock_slot *s);
};

struct airlock_slot {
	const struct airlock_slot_ops *ops;
	uint64_t capacity;  /* bytes the slot can hold */
	int fd;             /* file and block backends; -1 otherwise */
	void *impl;         /* backend-private state */
};

enum {
	AIRLOCK_SLOT_DIRECT = 1u << 0,  /* block backend: O_DIRECT (aligned bounce buffer) */
	AIRLOCK_SLOT_CREATE = 1u << 1,  /* file backend: create the file (sized to capacity) */
};

/*
 * Opens a slot by backend name ("file", "block", "sim") and path. For
 * "file", capacity 0 means the file's current size; for "block", the
 * device's size is used and capacity must be 0 or not larger. On error
 * *s is left closed (ops NULL, fd -1).
 */
AIRLOCK_MUST_USE airlock_err airlock_slot_open(struct airlock_slot *s, const char *backend, const char *path,
					       uint64_t capacity, unsigned flags);

static inline airlock_err airlock_slot_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	return s->ops->read(s, off, buf, len);
}

static inline airlock_err airlock_slot_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	return s->ops->write(s, off, buf, len);
}

static inline airlock_err airlock_slot_sync(struct airlock_slot *s)
{
	return s->ops->sync(s);
}

/* Safe on a slot that failed to open or is already closed. */
void airlock_slot_close(struct airlock_slot *s);

#endif
