/*
 * The "sim" boot-control backend: the boot record airlock-boot reads, in a
 * small file laid out like a flash's record area (docs/boot.md, "The sim
 * boot record").
 *
 * Two copies, each in its own 512-byte sector, each with a sequence number
 * and a SHA-256 over its bytes. A store overwrites the copy that is NOT the
 * newest valid one, with sequence newest + 1, then syncs; so the record in
 * force is never the one being written. A torn or failed write leaves a
 * copy whose digest does not match: it is never read as valid, and the
 * other copy (the previous record) stays in force (ATTACKS.md F03, F09).
 *
 * One copy, 64 bytes, big-endian:
 *   0  "ALBR"        4  format = 1     5  active      6  good
 *   7  flags (bit 0: pending)          8  sequence u32
 *  12  bootcount u32                  16  bootlimit u32
 *  20  reserved u32 = 0               24  secver u64
 *  32  SHA-256 of bytes 0..31
 */
#include "airlock/bootctl.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "airlock/crypto.h"
#include "airlock/fault.h"
#include "bootctl_backend.h"
#include "util.h"

#define REC_LEN 64u
#define REC_BODY 32u
#define REC_SECTOR 512u
#define REC_FILE_LEN (2u * REC_SECTOR)
#define REC_FORMAT 1u

_Static_assert(REC_BODY + AIRLOCK_SHA256_LEN == REC_LEN, "record copy layout");
_Static_assert(REC_FILE_LEN == AIRLOCK_BOOTSIM_FILE_LEN, "record file size");

struct copy {
	bool valid;
	uint32_t seq;
	struct airlock_boot_record r;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static airlock_err encode_copy(const struct airlock_boot_record *r, uint32_t seq, uint8_t out[REC_LEN])
{
	memset(out, 0, REC_LEN);
	memcpy(out, "ALBR", 4);
	out[4] = REC_FORMAT;
	out[5] = r->active;
	out[6] = r->good;
	out[7] = r->pending ? 1 : 0;
	put32(out + 8, seq);
	put32(out + 12, r->bootcount);
	put32(out + 16, r->bootlimit);
	put64(out + 24, r->secver);
	return airlock_sha256(out, REC_BODY, out + REC_BODY);
}

/* A copy counts only if its digest matches and the record it holds is legal. */
static void decode_copy(const uint8_t in[REC_LEN], struct copy *c)
{
	uint8_t digest[AIRLOCK_SHA256_LEN];
	memset(c, 0, sizeof *c);
	if (memcmp(in, "ALBR", 4) != 0 || in[4] != REC_FORMAT || (in[7] & ~1u) != 0 || get32(in + 20) != 0)
		return;
	if (airlock_sha256(in, REC_BODY, digest) != AIRLOCK_OK || !airlock_ct_equal(digest, in + REC_BODY, sizeof digest))
		return;
	c->r.active = in[5];
	c->r.good = in[6];
	c->r.pending = (in[7] & 1u) != 0;
	c->seq = get32(in + 8);
	c->r.bootcount = get32(in + 12);
	c->r.bootlimit = get32(in + 16);
	c->r.secver = get64(in + 24);
	c->valid = airlock_boot_record_check(&c->r) == AIRLOCK_OK;
}

/* Decodes the copies in the file's first len bytes (len <= REC_FILE_LEN; a
 * short file holds fewer); *newest is the index of the valid copy with the
 * later sequence number (serial-number order, so a wrap is harmless), or -1. */
static void decode_copies(const uint8_t *buf, size_t len, struct copy copies[2], int *newest)
{
	*newest = -1;
	memset(copies, 0, 2 * sizeof copies[0]);
	for (unsigned i = 0; i < 2; i++) {
		if (len >= i * REC_SECTOR + REC_LEN)
			decode_copy(buf + i * REC_SECTOR, &copies[i]);
	}
	if (copies[0].valid && copies[1].valid)
		*newest = (int32_t)(copies[1].seq - copies[0].seq) > 0 ? 1 : 0;
	else if (copies[0].valid || copies[1].valid)
		*newest = copies[0].valid ? 0 : 1;
}

/* Reads the file and decodes both copies (decode_copies). */
static airlock_err read_copies(const char *path, struct copy copies[2], int *newest)
{
	uint8_t buf[REC_FILE_LEN];
	size_t len = 0;
	*newest = -1;
	memset(copies, 0, 2 * sizeof copies[0]);
	memset(buf, 0, sizeof buf);
	airlock_err err = airlock_file_read_small(path, buf, sizeof buf, &len);
	if (err == AIRLOCK_ERR_TOO_LARGE)
		return AIRLOCK_ERR_BOOT_RECORD;
	TRY(err);
	decode_copies(buf, len, copies, newest);
	return AIRLOCK_OK;
}

airlock_err airlock_bootsim_decode(const uint8_t *buf, size_t len, struct airlock_boot_record *r)
{
	struct copy copies[2];
	int newest;
	if ((!buf && len) || !r)
		return AIRLOCK_ERR_INVALID_ARG;
	if (len > REC_FILE_LEN)
		return AIRLOCK_ERR_BOOT_RECORD;
	decode_copies(buf, len, copies, &newest);
	if (newest < 0)
		return AIRLOCK_ERR_BOOT_RECORD;
	*r = copies[newest].r;
	return AIRLOCK_OK;
}

static airlock_err sim_load(struct airlock_bootctl *c, struct airlock_boot_record *r)
{
	struct copy copies[2];
	int newest;
	TRY(read_copies(c->path, copies, &newest));
	if (newest < 0)
		return AIRLOCK_ERR_BOOT_RECORD;
	*r = copies[newest].r;
	return AIRLOCK_OK;
}

/* A missing file is created whole (two blank sectors) with the atomic file
 * write, so that its name is durable before a copy is written into it:
 * that happens once, at provisioning. */
static airlock_err open_record(const char *path, int *fd)
{
	do
		*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	while (*fd < 0 && errno == EINTR);
	if (*fd < 0 && errno == ENOENT) {
		uint8_t zero[REC_FILE_LEN];
		memset(zero, 0, sizeof zero);
		TRY(airlock_file_write_atomic(path, zero, sizeof zero));
		*fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	}
	return *fd < 0 ? AIRLOCK_ERR_IO_OPEN : AIRLOCK_OK;
}

static airlock_err sim_store(struct airlock_bootctl *c, const struct airlock_boot_record *r)
{
	struct copy copies[2];
	int newest;
	airlock_err err = read_copies(c->path, copies, &newest);
	if (err != AIRLOCK_OK && err != AIRLOCK_ERR_NOT_FOUND)
		return err;
	/* Write over the copy not in force; a fresh file starts with copy 0. */
	unsigned target = newest < 0 ? 0u : (unsigned)(1 - newest);
	uint32_t seq = newest < 0 ? 1u : copies[newest].seq + 1u;
	uint8_t rec[REC_LEN];
	TRY(encode_copy(r, seq, rec));
	int fd;
	TRY(open_record(c->path, &fd));
	err = airlock_fault_pwrite(AIRLOCK_FAULT_BOOT_WRITE, fd, rec, sizeof rec, (off_t)(target * REC_SECTOR));
	if (err == AIRLOCK_OK)
		err = airlock_fault_fsync(AIRLOCK_FAULT_BOOT_SYNC, fd);
	close(fd);
	return err;
}

static const struct airlock_bootctl_ops sim_ops = {
	.name = "sim",
	.load = sim_load,
	.store = sim_store,
	.close = NULL,
};

airlock_err airlock_bootctl_sim_open(struct airlock_bootctl *c)
{
	if (!c->path[0])
		return AIRLOCK_ERR_INVALID_ARG;
	c->ops = &sim_ops;
	c->impl = NULL;
	return AIRLOCK_OK;
}
