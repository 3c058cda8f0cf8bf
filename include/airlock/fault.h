/*
 * Durable operations, counted, and power cuts injected at any one of them.
 *
 * Every operation that changes what survives a power loss goes through this
 * module: a page program of the simulated flash (slot_sim.c), a flash sync,
 * the steps of an atomic state-file write (temp write, fsync, rename,
 * directory fsync), a boot-record write and sync. Each is one numbered
 * "op", counted process-wide from 1, so a test can cut power at op i for
 * every i (DESIGN.md threat model 6, ATTACKS.md F01-F04, F09).
 *
 * Configuration comes from the environment, read once at the first op, so
 * the real binaries (airlockd, airlock-boot, test drivers) run under it
 * unmodified; with none of these set an op costs one branch:
 *
 *   AIRLOCK_FAULT_CUT=N         op N is the power cut: the process stops dead
 *                               with _exit(AIRLOCK_FAULT_EXIT) before doing it
 *                               (no atexit handlers, no stdio flush: like a
 *                               power loss, whatever was not yet done is not
 *                               done).
 *   AIRLOCK_FAULT_TORN=1        the cut op, if it writes bytes, writes only a
 *                               prefix first (all but the last byte; "half":
 *                               the first half), then the process stops. A
 *                               sync, rename or dir-fsync cut is a plain cut.
 *   AIRLOCK_FAULT_COUNT_FILE=P  at exit (and at airlock_fault_report()) the
 *                               number of ops done is written to P as a
 *                               decimal line, so a harness learns N.
 *   AIRLOCK_FAULT_FAIL=CLASS:RATE[:SEED]
 *                               write ops of CLASS ("boot", "slot", "state"
 *                               or "all") fail with AIRLOCK_ERR_IO_WRITE at
 *                               RATE (0.0-1.0; a deterministic generator
 *                               seeded by SEED, default 1): a worn or bad
 *                               region that refuses to be programmed (F09).
 *                               The failed op writes nothing; syncs, renames
 *                               and reads are not failed.
 *
 * The model of the files (docs/boot.md, "Power-cut model"): the process
 * dies, the kernel does not, so bytes written before the cut are in the
 * file. That is the strongest adversary for ordering bugs that the file
 * system's guarantees allow: the atomic write helper below makes a state
 * file change at one instant, the rename. A cut at the rename leaves the
 * old file, a cut at the directory fsync leaves the new one; a real power
 * loss between rename and directory fsync may give either, and both are
 * covered by the neighbouring cut indices. Later ops start only after the
 * directory fsync, so no later write can become durable ahead of it.
 */
#ifndef AIRLOCK_FAULT_H
#define AIRLOCK_FAULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "airlock/error.h"

/* Exit status of a process cut by AIRLOCK_FAULT_CUT (distinct from 0-4 and 77). */
#define AIRLOCK_FAULT_EXIT 86

/* What an op is; the class decides which AIRLOCK_FAULT_FAIL applies. */
enum airlock_fault_op {
	AIRLOCK_FAULT_SLOT_WRITE = 1,  /* class "slot": one flash page program */
	AIRLOCK_FAULT_SLOT_SYNC,       /* class "slot" */
	AIRLOCK_FAULT_FILE_WRITE,      /* class "state": temp file contents */
	AIRLOCK_FAULT_FILE_SYNC,       /* class "state": fsync of the temp file */
	AIRLOCK_FAULT_FILE_RENAME,     /* class "state": the atomic switch */
	AIRLOCK_FAULT_DIR_SYNC,        /* class "state": fsync of the directory */
	AIRLOCK_FAULT_BOOT_WRITE,      /* class "boot": one boot-record copy */
	AIRLOCK_FAULT_BOOT_SYNC,       /* class "boot" */
};

/* Whether any fault variable is set (reads the environment on first use). */
bool airlock_fault_enabled(void);

/* Ops counted so far in this process. */
uint64_t airlock_fault_count(void);

/* Writes the count to AIRLOCK_FAULT_COUNT_FILE now, if set (e.g. right
 * before an exec, which skips atexit handlers). */
void airlock_fault_report(void);

/*
 * Re-reads the environment and zeroes the counter (unit tests that change
 * the variables between cases; never needed by programs).
 */
void airlock_fault_reset(void);

/*
 * Counts one op of kind `op` that would write `len` bytes (0 for a sync or
 * rename) and decides its fate:
 *  - AIRLOCK_OK with *allowed = len: do it in full;
 *  - the cut op, not torn: does not return (_exit);
 *  - the cut op, torn, len > 1: AIRLOCK_ERR_POWER_CUT with *allowed < len:
 *    the caller writes exactly that prefix, then calls airlock_fault_die();
 *  - an injected failure (write ops only): AIRLOCK_ERR_IO_WRITE,
 *    *allowed = 0: the caller writes nothing and returns that error.
 * allowed may be NULL for ops that write no bytes. Backends normally use the
 * wrappers below instead.
 */
AIRLOCK_MUST_USE airlock_err airlock_fault_point(enum airlock_fault_op op, size_t len, size_t *allowed);

/* Ends the process as a power cut does (after a torn prefix). */
_Noreturn void airlock_fault_die(void);

/* ---- counted primitives (EINTR retried, short writes completed) ---- */

/* pwrite of all len bytes at off, as one op. IO_WRITE on failure. */
AIRLOCK_MUST_USE airlock_err airlock_fault_pwrite(enum airlock_fault_op op, int fd, const void *buf, size_t len,
						  off_t off);
/* fdatasync/fsync as one op. IO_SYNC on failure. */
AIRLOCK_MUST_USE airlock_err airlock_fault_fsync(enum airlock_fault_op op, int fd);

/*
 * Replaces `path` with exactly buf[0..len) so that after a power cut at any
 * instant the file holds either the old contents (or is absent, if it was)
 * or the new, never a mix: writes PATH.tmp (created 0600, truncated, so a
 * stale temp from an earlier cut is harmless), fsyncs it, renames it over
 * PATH and fsyncs the directory. Four counted ops (FILE_WRITE, FILE_SYNC,
 * FILE_RENAME, DIR_SYNC). Errors: IO_OPEN, IO_WRITE, IO_SYNC, INVALID_ARG
 * (path too long for the temp name); on error PATH is untouched and the
 * temp file removed.
 */
AIRLOCK_MUST_USE airlock_err airlock_file_write_atomic(const char *path, const void *buf, size_t len);

/*
 * Reads a whole small file into buf (at most cap bytes): NOT_FOUND if it
 * does not exist, TOO_LARGE if it holds more than cap, IO_OPEN / IO_READ.
 * Not counted (reads change nothing).
 */
AIRLOCK_MUST_USE airlock_err airlock_file_read_small(const char *path, void *buf, size_t cap, size_t *len);

#endif
