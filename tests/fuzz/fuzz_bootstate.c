/*
 * Fuzz target for the persisted update state (lib/bootstate.c: the state
 * file's decoder; lib/bootstate_machine.c: recovery from whatever pair of
 * state file and boot record a device wakes up with).
 *
 * Input: one flags byte f, then the body.
 *   f & 1: the harness recomputes the state file's SHA-256 over the fuzzed
 *          body first, so that the fields behind it are explored.
 *   f & 2 clear: the body is the state file; decode only.
 *   f & 2 set:   the body is the state file (436 bytes) and then the sim
 *          boot record file (the rest; f & 8 and f & 16 recompute its two
 *          copies' digests). Both are written to a scratch directory
 *          (/dev/shm or TMPDIR, made once, removed at exit) and
 *          airlock_updater_recover() runs on them as the agent would at
 *          start, booted from slot f >> 2 & 1.
 * Invariants, each an abort(): decode gives OK or STATE, and what it accepts
 * encodes back to the very same bytes (the layout has one spelling per
 * state); recovery never fails with anything but the errors of a corrupt
 * or unprovisioned device (STATE, BOOT_RECORD, NOT_FOUND); when it succeeds
 * both files it left decode, and they agree with the event: INSTALLED means
 * TRIAL with the target armed, TRIAL_BOOT the target on trial and booted,
 * INSTALL_RESUMABLE means INSTALLING with nothing armed, every other event
 * IDLE with nothing armed; and a second recovery right after it has nothing
 * left to do beyond the same trial boot or resume.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/bootstate.h"
#include "bootctl_backend.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ST_BODY (AIRLOCK_BOOTSTATE_LEN - AIRLOCK_SHA256_LEN)
#define SECTOR 512u

static char dir[256], state_path[300], rec_path[300];

static void cleanup(void)
{
	unlink(state_path);
	unlink(rec_path);
	rmdir(dir);
}

static void scratch(void)
{
	if (dir[0])
		return;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/fuzz-bootstate-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	snprintf(state_path, sizeof state_path, "%s/state", dir);
	snprintf(rec_path, sizeof rec_path, "%s/bootrec", dir);
	atexit(cleanup);
}

static void put_file(const char *path, const uint8_t *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void decode_only(const uint8_t *body, size_t len)
{
	static uint8_t out[AIRLOCK_BOOTSTATE_LEN];
	struct airlock_bootstate st;
	airlock_err err = airlock_bootstate_decode(body, len, &st);
	if (err == AIRLOCK_ERR_STATE)
		return;
	if (err != AIRLOCK_OK)
		abort();
	airlock_bootstate_encode(&st, out);
	if (len != sizeof out || memcmp(out, body, len) != 0)
		abort();
}

/* The files on disk agree with the event recovery reported. */
static void check_outcome(const struct airlock_event *ev, unsigned booted)
{
	struct airlock_bootstate st;
	struct airlock_bootctl ctl;
	struct airlock_boot_record r;
	if (airlock_bootstate_load(state_path, &st) != AIRLOCK_OK || airlock_bootctl_open(&ctl, "sim", rec_path) != AIRLOCK_OK ||
	    airlock_bootctl_load(&ctl, &r) != AIRLOCK_OK)
		abort();
	airlock_bootctl_close(&ctl);
	bool armed = r.pending && r.active == st.target;
	switch (ev->kind) {
	case AIRLOCK_EVENT_INSTALLED:
		if (st.state != AIRLOCK_UPDATE_TRIAL || !armed || !ev->reboot)
			abort();
		break;
	case AIRLOCK_EVENT_TRIAL_BOOT:
		if (st.state != AIRLOCK_UPDATE_TRIAL || !armed || booted != st.target ||
		    airlock_boot_record_exhausted(&r))
			abort();
		break;
	case AIRLOCK_EVENT_INSTALL_RESUMABLE:
		if (st.state != AIRLOCK_UPDATE_INSTALLING || r.pending)
			abort();
		break;
	case AIRLOCK_EVENT_NONE:
	case AIRLOCK_EVENT_COMMITTED:
	case AIRLOCK_EVENT_ROLLED_BACK:
		if (st.state != AIRLOCK_UPDATE_IDLE || r.pending)
			abort();
		break;
	default:
		abort();
	}
}

static void recover(uint8_t f, const uint8_t *body, size_t len)
{
	static uint8_t rec[AIRLOCK_BOOTSIM_FILE_LEN + SECTOR];
	if (len < AIRLOCK_BOOTSTATE_LEN)
		return;
	size_t rlen = len - AIRLOCK_BOOTSTATE_LEN < sizeof rec ? len - AIRLOCK_BOOTSTATE_LEN : sizeof rec;
	memcpy(rec, body + AIRLOCK_BOOTSTATE_LEN, rlen);
	for (unsigned i = 0; i < 2; i++)
		if (((unsigned)f >> (3 + i) & 1u) && rlen >= i * SECTOR + 64 &&
		    airlock_sha256(rec + i * SECTOR, 32, rec + i * SECTOR + 32) != AIRLOCK_OK)
			abort();
	scratch();
	put_file(state_path, body, AIRLOCK_BOOTSTATE_LEN);
	put_file(rec_path, rec, rlen);

	unsigned booted = f >> 2 & 1u;
	struct airlock_bootctl ctl;
	struct airlock_updater u;
	struct airlock_event ev, ev2;
	if (airlock_bootctl_open(&ctl, "sim", rec_path) != AIRLOCK_OK)
		abort();
	airlock_err err = airlock_updater_open(&u, state_path, &ctl);
	if (err == AIRLOCK_OK)
		err = airlock_updater_recover(&u, booted, &ev);
	if (err == AIRLOCK_ERR_STATE || err == AIRLOCK_ERR_BOOT_RECORD || err == AIRLOCK_ERR_NOT_FOUND) {
		airlock_bootctl_close(&ctl);
		return;
	}
	if (err != AIRLOCK_OK)
		abort();
	check_outcome(&ev, booted);

	/* The agent restarted at once: nothing left but the same trial boot or
	 * resume (INSTALLED rebooted into nothing new: still a trial of target). */
	if (airlock_updater_open(&u, state_path, &ctl) != AIRLOCK_OK || airlock_updater_recover(&u, booted, &ev2) != AIRLOCK_OK)
		abort();
	check_outcome(&ev2, booted);
	switch (ev.kind) {
	case AIRLOCK_EVENT_TRIAL_BOOT:
	case AIRLOCK_EVENT_INSTALL_RESUMABLE:
		if (ev2.kind != ev.kind)
			abort();
		break;
	case AIRLOCK_EVENT_INSTALLED:
		break;
	default:
		if (ev2.kind != AIRLOCK_EVENT_NONE)
			abort();
	}
	airlock_bootctl_close(&ctl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t body[AIRLOCK_BOOTSTATE_LEN + AIRLOCK_BOOTSIM_FILE_LEN + SECTOR];
	if (size < 1)
		return 0;
	uint8_t f = data[0];
	size_t len = size - 1 < sizeof body ? size - 1 : sizeof body;
	memcpy(body, data + 1, len);
	if ((f & 1u) && len >= AIRLOCK_BOOTSTATE_LEN && airlock_sha256(body, ST_BODY, body + ST_BODY) != AIRLOCK_OK)
		abort();
	if (f & 2u)
		recover(f, body, len);
	else
		decode_only(body, len);
	return 0;
}
