/*
 * The "block" slot backend: a raw block device (an eMMC or SD partition, a
 * disk partition), optionally with O_DIRECT.
 *
 * Size: BLKGETSIZE64 on a block device. A regular file (a disk image, and
 * the unit tests) goes through the same code with its size from fstat and
 * no ioctl: everything else below is identical for both.
 *
 * O_DIRECT (AIRLOCK_SLOT_DIRECT) bypasses the page cache, so an install does
 * not evict the running system's cache and sync has little left to flush.
 * It needs buffers, offsets and lengths aligned to the logical block size
 * (BLKSSZGET; 4096 for regular files, which every common file system
 * accepts). The pipeline's buffers are not aligned and its last chunk ends
 * anywhere, so every transfer goes through one aligned bounce buffer,
 * allocated once at open; a partial first or last block is read, patched
 * and written back whole (read-modify-write). That rewrite touches the
 * bytes around the range with their own old values only. O_DIRECT is not a
 * durability guarantee (the device's cache), so sync is fsync either way.
 */
#define _GNU_SOURCE /* O_DIRECT */
#include "airlock/slot.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "slot_backend.h"
#include "util.h"

#define BOUNCE_SIZE (256u * 1024u)   /* bytes per direct transfer */
#define FILE_DIRECT_ALIGN 4096u      /* regular files: the common file systems' limit */

struct block_impl {
	uint8_t *bounce;   /* BOUNCE_SIZE bytes aligned to align; DIRECT only */
	size_t align;      /* power of two, divides BOUNCE_SIZE */
};

static size_t round_up(size_t v, size_t align)
{
	return (v + align - 1) & ~(align - 1);
}

/*
 * Every device write and sync is one counted durable op (fault.h), so the
 * power-cut sweeps cut a block slot as they cut the sim flash; with no
 * AIRLOCK_FAULT_* variable set an op costs one branch. A torn op writes a
 * prefix, then the process stops; with O_DIRECT (torn_align > 1) that prefix
 * is whole logical blocks, as a device tears a transfer at sector
 * boundaries (and O_DIRECT could not write a partial one). The write keeps
 * the backend's own error mapping (ENOSPC, EFBIG: NO_SPACE).
 */
static airlock_err counted_pwrite(int fd, uint64_t off, const uint8_t *buf, size_t len, size_t torn_align)
{
	size_t allowed = len;
	airlock_err err = airlock_fault_point(AIRLOCK_FAULT_SLOT_WRITE, len, &allowed);
	if (err == AIRLOCK_ERR_POWER_CUT) {
		allowed -= allowed % torn_align;
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

/* ---- buffered (no O_DIRECT) ---- */

static airlock_err block_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	return counted_pwrite(s->fd, off, buf, len, 1);
}

/* ---- direct: through the bounce buffer ---- */

/*
 * One window of at most BOUNCE_SIZE aligned bytes around [off, off + take):
 * a0 is its aligned start, head the distance from a0 to off, span its
 * aligned length.
 */
struct window {
	uint64_t a0;
	size_t head, take, span;
};

static struct window window_at(const struct block_impl *b, uint64_t off, size_t len)
{
	struct window w;
	w.a0 = off & ~(uint64_t)(b->align - 1);
	w.head = (size_t)(off - w.a0);
	w.take = len < BOUNCE_SIZE - w.head ? len : BOUNCE_SIZE - w.head;
	w.span = round_up(w.head + w.take, b->align);
	return w;
}

static airlock_err direct_read(struct airlock_slot *s, uint64_t off, uint8_t *buf, size_t len)
{
	struct block_impl *b = s->impl;
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	while (len > 0) {
		struct window w = window_at(b, off, len);
		TRY(airlock_slot_pread_all(s->fd, w.a0, b->bounce, w.span));
		memcpy(buf, b->bounce + w.head, w.take);
		buf += w.take;
		off += w.take;
		len -= w.take;
	}
	return AIRLOCK_OK;
}

static airlock_err direct_write(struct airlock_slot *s, uint64_t off, const uint8_t *buf, size_t len)
{
	struct block_impl *b = s->impl;
	if (!buf && len)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_slot_in_range(s, off, len))
		return AIRLOCK_ERR_NO_SPACE;
	while (len > 0) {
		struct window w = window_at(b, off, len);
		size_t end = w.head + w.take;
		size_t last = end & ~(b->align - 1);   /* start of a partial last block */
		/* Keep the bytes of partial blocks outside the range as they are.
		 * (Reads stay within the device: its size is a multiple of align.) */
		if (w.head != 0)
			TRY(airlock_slot_pread_all(s->fd, w.a0, b->bounce, b->align));
		if (end != last && (last != 0 || w.head == 0))
			TRY(airlock_slot_pread_all(s->fd, w.a0 + last, b->bounce + last, b->align));
		memcpy(b->bounce + w.head, buf, w.take);
		TRY(counted_pwrite(s->fd, w.a0, b->bounce, w.span, b->align));
		buf += w.take;
		off += w.take;
		len -= w.take;
	}
	return AIRLOCK_OK;
}

/* ---- common ---- */

static airlock_err block_sync(struct airlock_slot *s)
{
	return airlock_fault_fsync(AIRLOCK_FAULT_SLOT_SYNC, s->fd);
}

static void block_close(struct airlock_slot *s)
{
	struct block_impl *b = s->impl;
	if (b) {
		free(b->bounce);
		free(b);
	}
	s->impl = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

static const struct airlock_slot_ops block_ops = {
	.name = "block",
	.read = airlock_slot_fd_read,
	.write = block_write,
	.sync = block_sync,
	.close = block_close,
};

static const struct airlock_slot_ops block_direct_ops = {
	.name = "block",
	.read = direct_read,
	.write = direct_write,
	.sync = block_sync,
	.close = block_close,
};

/* The device's size and, for O_DIRECT, its alignment. */
static airlock_err probe(int fd, uint64_t *size, size_t *align)
{
	struct stat st;
	if (fstat(fd, &st) != 0)
		return AIRLOCK_ERR_IO_OPEN;
	if (S_ISREG(st.st_mode) && st.st_size >= 0) {
		*size = (uint64_t)st.st_size;
		*align = FILE_DIRECT_ALIGN;
		return AIRLOCK_OK;
	}
	if (!S_ISBLK(st.st_mode))
		return AIRLOCK_ERR_IO_OPEN;
	uint64_t bytes;
	int ssz;
	if (ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ioctl(fd, BLKSSZGET, &ssz) != 0 || ssz <= 0)
		return AIRLOCK_ERR_IO_OPEN;
	*size = bytes;
	*align = (size_t)ssz;
	return AIRLOCK_OK;
}

/* The bounce buffer and its alignment, for O_DIRECT. */
static airlock_err direct_setup(struct airlock_slot *s, uint64_t dev_size, size_t align)
{
	/* Alignment must be a power of two dividing the bounce buffer, and the
	 * device must end on a block boundary (read-modify-write of the last
	 * block stays inside it). */
	if (align == 0 || (align & (align - 1)) != 0 || align > BOUNCE_SIZE || dev_size % align != 0)
		return AIRLOCK_ERR_IO_OPEN;
	struct block_impl *b = calloc(1, sizeof *b);
	if (!b)
		return AIRLOCK_ERR_NOMEM;
	void *p = NULL;
	if (posix_memalign(&p, align, BOUNCE_SIZE) != 0) {
		free(b);
		return AIRLOCK_ERR_NOMEM;
	}
	b->bounce = p;
	b->align = align;
	s->impl = b;
	return AIRLOCK_OK;
}

airlock_err airlock_slot_block_open(struct airlock_slot *s, const char *path, uint64_t capacity, unsigned flags)
{
	bool direct = (flags & AIRLOCK_SLOT_DIRECT) != 0;
	uint64_t dev_size;
	size_t align;
	int fd;

	/* A block device is never created: CREATE is a file-backend flag. */
	if (flags & ~(unsigned)AIRLOCK_SLOT_DIRECT)
		return AIRLOCK_ERR_INVALID_ARG;
	do
		fd = open(path, O_RDWR | O_CLOEXEC | (direct ? O_DIRECT : 0));
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	airlock_err err = probe(fd, &dev_size, &align);
	if (err == AIRLOCK_OK && capacity > dev_size)
		err = AIRLOCK_ERR_NO_SPACE;
	if (err == AIRLOCK_OK && dev_size > (uint64_t)INT64_MAX)
		err = AIRLOCK_ERR_IO_OPEN;
	s->fd = fd;
	if (err == AIRLOCK_OK && direct)
		err = direct_setup(s, dev_size, align);
	if (err != AIRLOCK_OK) {
		close(fd);
		s->fd = -1;
		return err;
	}
	s->ops = direct ? &block_direct_ops : &block_ops;
	s->capacity = capacity ? capacity : dev_size;
	return AIRLOCK_OK;
}
