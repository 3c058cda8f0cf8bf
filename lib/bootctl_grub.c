/*
 * The "grub" boot-control backend: GRUB's environment block (grubenv), the
 * file grub.cfg reads with load_env and grub-editenv edits (docs/boot.md,
 * "GRUB").
 *
 * The block is exactly 1024 bytes: "# GRUB Environment Block\n", lines
 * "name=value\n" (a backslash escapes the next byte, so "\\\\" is a
 * backslash and "\\\n" a newline inside a value), other comment lines
 * starting with '#', and '#' padding to the end. The record is the six
 * variables of lib/bootctl_env.c; every other line (saved_entry, a
 * distribution's comment) is kept as it is.
 *
 * A store rebuilds the block in memory and replaces the file with
 * airlock_file_write_atomic() (temp, fsync, rename, directory fsync), so a
 * power cut leaves the old block or the new one. GRUB's own save_env writes
 * the block in place instead; our scripts never call it (docs/boot.md), so
 * the only writer of the record is the agent.
 */
#include "airlock/bootctl.h"

#include <string.h>

#include "airlock/fault.h"
#include "bootctl_backend.h"
#include "util.h"

#define GRUBENV_LEN 1024u
static const char grub_header[] = "# GRUB Environment Block\n";
#define GRUB_HEADER_LEN (sizeof grub_header - 1)

/* One line of the block: [start, end) including its '\n'. */
struct line {
	size_t start, end;
	size_t name_len;   /* bytes before '='; 0 for a comment */
};

/* Splits the block after the header into lines; stops at the padding (a
 * '#' run without a newline). Every index stays below GRUBENV_LEN. */
static airlock_err split_lines(const char *blk, struct line *lines, size_t cap, size_t *n)
{
	size_t pos = GRUB_HEADER_LEN;
	*n = 0;
	while (pos < GRUBENV_LEN) {
		size_t end = pos;
		while (end < GRUBENV_LEN && blk[end] != '\n')
			end += blk[end] == '\\' ? 2 : 1;  /* an escaped byte never ends a line */
		if (end >= GRUBENV_LEN) {
			/* No newline to the end: only padding may be there. */
			for (size_t i = pos; i < GRUBENV_LEN; i++)
				if (blk[i] != '#')
					return AIRLOCK_ERR_BOOT_RECORD;
			return AIRLOCK_OK;
		}
		if (*n >= cap)
			return AIRLOCK_ERR_BOOT_RECORD;
		struct line *l = &lines[(*n)++];
		l->start = pos;
		l->end = end + 1;
		l->name_len = 0;
		if (blk[pos] != '#') {
			const char *eq = memchr(blk + pos, '=', end - pos);
			if (!eq || eq == blk + pos)
				return AIRLOCK_ERR_BOOT_RECORD;
			l->name_len = (size_t)(eq - (blk + pos));
		}
		pos = end + 1;
	}
	return AIRLOCK_OK;
}

/* Index of our variable this line sets, or -1. */
static int our_var(const char *blk, const struct line *l)
{
	for (int i = 0; i < AIRLOCK_BOOTENV_VARS; i++) {
		const char *name = airlock_bootenv_names[i];
		if (l->name_len && strlen(name) == l->name_len && memcmp(blk + l->start, name, l->name_len) == 0)
			return i;
	}
	return -1;
}

#define MAX_LINES (GRUBENV_LEN / 2)

_Static_assert(GRUBENV_LEN == AIRLOCK_GRUBENV_LEN, "grubenv block size");

/* Checks the block's size and header and splits it into lines:
 * BOOT_RECORD if it is not a grubenv block. */
static airlock_err parse_block(const char *blk, size_t len, struct line *lines, size_t cap, size_t *n)
{
	if (len != GRUBENV_LEN || memcmp(blk, grub_header, GRUB_HEADER_LEN) != 0)
		return AIRLOCK_ERR_BOOT_RECORD;
	return split_lines(blk, lines, cap, n);
}

/* Reads the file (NOT_FOUND if it is missing; one larger than a block is
 * not a block); parse_block judges the rest. */
static airlock_err read_block(const char *path, char blk[GRUBENV_LEN], size_t *len)
{
	airlock_err err = airlock_file_read_small(path, blk, GRUBENV_LEN, len);
	return err == AIRLOCK_ERR_TOO_LARGE ? AIRLOCK_ERR_BOOT_RECORD : err;
}

airlock_err airlock_grubenv_decode(const char *blk, size_t len, struct airlock_boot_record *r)
{
	struct line lines[MAX_LINES];
	size_t n;
	if (!blk || !r)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(parse_block(blk, len, lines, MAX_LINES, &n));
	char values[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX];
	const char *set[AIRLOCK_BOOTENV_VARS] = { NULL };
	for (size_t i = 0; i < n; i++) {
		int v = our_var(blk, &lines[i]);
		if (v < 0)
			continue;
		/* Unescape the value; ours are short, digits or a slot name. */
		size_t out = 0;
		for (size_t p = lines[i].start + lines[i].name_len + 1; p < lines[i].end - 1; p++) {
			if (blk[p] == '\\')
				p++;
			if (out + 1 >= AIRLOCK_BOOTENV_VALUE_MAX)
				return AIRLOCK_ERR_BOOT_RECORD;
			values[v][out++] = blk[p];
		}
		values[v][out] = '\0';
		set[v] = values[v];  /* a later line wins, as in GRUB */
	}
	return airlock_bootenv_to_record(set, r);
}

static airlock_err grub_load(struct airlock_bootctl *c, struct airlock_boot_record *r)
{
	char blk[GRUBENV_LEN];
	size_t len = 0;
	TRY(read_block(c->path, blk, &len));
	return airlock_grubenv_decode(blk, len, r);
}

/* Appends s[0..len) at *pos, or NO_SPACE if the block would overflow (one
 * byte of padding is kept so the block always ends in '#'). */
static airlock_err append(char *blk, size_t *pos, const char *s, size_t len)
{
	if (len >= GRUBENV_LEN - *pos)
		return AIRLOCK_ERR_NO_SPACE;
	memcpy(blk + *pos, s, len);
	*pos += len;
	return AIRLOCK_OK;
}

airlock_err airlock_grubenv_update(const char *old, size_t old_len, const struct airlock_boot_record *r,
				   char blk[AIRLOCK_GRUBENV_LEN])
{
	struct line lines[MAX_LINES];
	size_t n = 0, pos = 0;
	if (!r || !blk)
		return AIRLOCK_ERR_INVALID_ARG;
	if (old)
		TRY(parse_block(old, old_len, lines, MAX_LINES, &n));
	TRY(append(blk, &pos, grub_header, GRUB_HEADER_LEN));
	for (size_t i = 0; i < n; i++)
		if (our_var(old, &lines[i]) < 0)
			TRY(append(blk, &pos, old + lines[i].start, lines[i].end - lines[i].start));
	char values[AIRLOCK_BOOTENV_VARS][AIRLOCK_BOOTENV_VALUE_MAX];
	airlock_bootenv_from_record(r, values);
	for (size_t i = 0; i < AIRLOCK_BOOTENV_VARS; i++) {
		TRY(append(blk, &pos, airlock_bootenv_names[i], strlen(airlock_bootenv_names[i])));
		TRY(append(blk, &pos, "=", 1));
		TRY(append(blk, &pos, values[i], strlen(values[i])));
		TRY(append(blk, &pos, "\n", 1));
	}
	memset(blk + pos, '#', GRUBENV_LEN - pos);
	return AIRLOCK_OK;
}

static airlock_err grub_store(struct airlock_bootctl *c, const struct airlock_boot_record *r)
{
	char old[GRUBENV_LEN], blk[GRUBENV_LEN];
	size_t len = 0;
	airlock_err err = read_block(c->path, old, &len);
	if (err != AIRLOCK_OK && err != AIRLOCK_ERR_NOT_FOUND)
		return err;
	/* A missing file gets a fresh block. */
	TRY(airlock_grubenv_update(err == AIRLOCK_OK ? old : NULL, len, r, blk));
	return airlock_file_write_atomic(c->path, blk, GRUBENV_LEN);
}

static const struct airlock_bootctl_ops grub_ops = {
	.name = "grub",
	.load = grub_load,
	.store = grub_store,
	.close = NULL,
};

airlock_err airlock_bootctl_grub_open(struct airlock_bootctl *c)
{
	if (!c->path[0])
		return AIRLOCK_ERR_INVALID_ARG;
	c->ops = &grub_ops;
	c->impl = NULL;
	return AIRLOCK_OK;
}
