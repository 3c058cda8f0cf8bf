/*
 * The update state machine (lib/bootstate*.c): the state file's encoding
 * and its refusals, every transition with the sim boot record (commit with
 * the anti-rollback counter, health-check rollback, boot-limit rollback,
 * explicit rollback), recovery from each (state, record) pair of
 * docs/boot.md's table, and the health check's exit, signal and timeout.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "airlock/bootstate.h"
#include "airlock/fault.h"
#include "testutil.h"

struct dev {
	char state_path[512];
	char rec_path[512];
	struct airlock_bootctl ctl;
	struct airlock_updater u;
};

static const uint8_t D1[32] = { 1 }, D2[32] = { 2 };

/* A provisioned device: slot a holds 1.0 (security version 1). */
static void dev_init(struct dev *d)
{
	const char *dir = test_tmpdir();
	bool created;
	snprintf(d->state_path, sizeof d->state_path, "%s/state", dir);
	snprintf(d->rec_path, sizeof d->rec_path, "%s/boot.rec", dir);
	assert_err(airlock_bootctl_open(&d->ctl, "sim", d->rec_path), AIRLOCK_OK);
	assert_err(airlock_updater_open(&d->u, d->state_path, &d->ctl), AIRLOCK_ERR_NOT_FOUND);
	assert_err(airlock_bootctl_provision(&d->ctl, 0, 3, &created), AIRLOCK_OK);
	assert_err(airlock_updater_open(&d->u, d->state_path, &d->ctl), AIRLOCK_OK);
	assert_err(airlock_updater_set_slot(&d->u, 0, "1.0", D1, 1), AIRLOCK_OK);
}

/* A power-on: the bootloader's step, then the agent's recovery. */
static unsigned reboot(struct dev *d, struct airlock_event *ev)
{
	unsigned slot;
	enum airlock_boot_reason why;
	assert_err(airlock_bootctl_boot_step(&d->ctl, &slot, &why, NULL), AIRLOCK_OK);
	assert_err(airlock_updater_open(&d->u, d->state_path, &d->ctl), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d->u, slot, ev), AIRLOCK_OK);
	return slot;
}

static void install(struct dev *d, const char *version, const uint8_t *digest, uint64_t secver)
{
	struct airlock_event ev;
	unsigned target;
	assert_err(airlock_updater_install_begin(&d->u, version, digest, secver, &target, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALL_STARTED);
	assert_int_equal(target, airlock_slot_other(d->u.rec.good));
	assert_false(d->u.st.slots[target].valid);
	assert_err(airlock_updater_install_done(&d->u, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALLED);
	assert_true(ev.reboot);
	assert_string_equal(ev.version, version);
	assert_true(d->u.rec.pending);
	assert_int_equal(d->u.rec.active, target);
}

static void test_encoding(void **state)
{
	(void)state;
	struct airlock_bootstate st, back;
	uint8_t buf[AIRLOCK_BOOTSTATE_LEN];
	airlock_bootstate_init(&st);
	st.state = AIRLOCK_UPDATE_TRIAL;
	st.target = 1;
	st.trial_boots = 2;
	st.security_version = 7;
	st.generation = 99;
	st.last_error = AIRLOCK_ERR_HEALTH_CHECK;
	strcpy(st.last_detail, "exit status 3");
	st.slots[1].valid = true;
	st.slots[0].bad = true;
	st.slots[1].security_version = 8;
	memcpy(st.slots[1].release_digest, D2, 32);
	strcpy(st.slots[1].version, "2.0.0-rc1");
	airlock_bootstate_encode(&st, buf);
	assert_err(airlock_bootstate_decode(buf, sizeof buf, &back), AIRLOCK_OK);
	assert_memory_equal(&st, &back, sizeof st);

	/* any flipped byte, a wrong length, a bad value under a valid digest */
	for (size_t i = 0; i < sizeof buf; i += 7) {
		buf[i] ^= 0x40;
		assert_err(airlock_bootstate_decode(buf, sizeof buf, &back), AIRLOCK_ERR_STATE);
		buf[i] ^= 0x40;
	}
	assert_err(airlock_bootstate_decode(buf, sizeof buf - 1, &back), AIRLOCK_ERR_STATE);
	st.state = 9;
	airlock_bootstate_encode(&st, buf);
	assert_err(airlock_bootstate_decode(buf, sizeof buf, &back), AIRLOCK_ERR_STATE);

	assert_string_equal(airlock_update_state_name(AIRLOCK_UPDATE_ROLLING_BACK), "ROLLING_BACK");
	assert_string_equal(airlock_event_name(AIRLOCK_EVENT_ROLLED_BACK), "ROLLED_BACK");
	assert_string_equal(airlock_event_name(99), "?");
	assert_string_equal(airlock_rollback_reason_name(AIRLOCK_ROLLBACK_HEALTH_CHECK), "health-check");
}

static void test_load_save(void **state)
{
	(void)state;
	const char *dir = test_tmpdir();
	char path[512];
	snprintf(path, sizeof path, "%s/state", dir);
	struct airlock_bootstate st, back;
	assert_err(airlock_bootstate_load(path, &st), AIRLOCK_ERR_NOT_FOUND);
	airlock_bootstate_init(&st);
	assert_err(airlock_bootstate_save(path, &st), AIRLOCK_OK);
	assert_int_equal(st.generation, 1);
	assert_err(airlock_bootstate_load(path, &back), AIRLOCK_OK);
	assert_int_equal(back.generation, 1);
	test_write_file(path, "garbage", 7);
	assert_err(airlock_bootstate_load(path, &back), AIRLOCK_ERR_STATE);
}

static void test_commit(void **state)
{
	(void)state;
	struct dev d;
	struct airlock_event ev;
	dev_init(&d);
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_NONE);
	assert_false(ev.reboot);

	install(&d, "2.0", D2, 2);
	/* the counter is not raised by installing or arming */
	assert_int_equal(d.u.rec.secver, 0);
	assert_int_equal(reboot(&d, &ev), 1);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_TRIAL_BOOT);
	assert_int_equal(d.u.st.trial_boots, 1);
	assert_int_equal(d.u.rec.secver, 0);
	/* the trial result must come from the trial slot */
	assert_err(airlock_updater_trial_result(&d.u, 0, AIRLOCK_OK, NULL, &ev), AIRLOCK_ERR_STATE);
	assert_err(airlock_updater_trial_result(&d.u, 1, AIRLOCK_OK, NULL, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_COMMITTED);
	assert_int_equal(ev.security_version, 2);
	assert_string_equal(ev.version, "2.0");
	assert_int_equal(d.u.rec.good, 1);
	assert_false(d.u.rec.pending);
	assert_int_equal(d.u.rec.secver, 2);
	assert_int_equal(d.u.st.security_version, 2);
	assert_int_equal(d.u.st.state, AIRLOCK_UPDATE_IDLE);
	assert_int_equal(reboot(&d, &ev), 1);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_NONE);

	/* anti-rollback: a release below the counter is refused before any write */
	unsigned target;
	assert_err(airlock_updater_install_begin(&d.u, "1.5", D1, 1, &target, &ev), AIRLOCK_ERR_ROLLBACK);
	assert_int_equal(d.u.st.state, AIRLOCK_UPDATE_IDLE);
	assert_err(airlock_updater_install_begin(&d.u, "bad version", D1, 3, &target, &ev), AIRLOCK_ERR_BAD_VALUE);
	airlock_bootctl_close(&d.ctl);
}

static void test_health_rollback(void **state)
{
	(void)state;
	struct dev d;
	struct airlock_event ev;
	dev_init(&d);
	install(&d, "3.0", D2, 3);
	/* nothing new while a trial is armed */
	unsigned target;
	assert_err(airlock_updater_install_begin(&d.u, "3.1", D2, 3, &target, &ev), AIRLOCK_ERR_STATE);
	assert_int_equal(reboot(&d, &ev), 1);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_TRIAL_BOOT);
	assert_err(airlock_updater_trial_result(&d.u, 1, AIRLOCK_ERR_HEALTH_CHECK, "exit status 1", &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_ROLLED_BACK);
	assert_int_equal(ev.reason, AIRLOCK_ROLLBACK_HEALTH_CHECK);
	assert_int_equal(ev.err, AIRLOCK_ERR_HEALTH_CHECK);
	assert_true(ev.reboot);
	assert_non_null(strstr(ev.detail, "exit status 1"));
	assert_false(d.u.rec.pending);
	assert_int_equal(d.u.rec.active, 0);
	assert_int_equal(d.u.rec.secver, 0);  /* never raised for a rejected image */
	assert_true(d.u.st.slots[1].bad);
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_NONE);
	/* the next update goes to the same inactive slot */
	install(&d, "3.1", D1, 3);
	assert_false(d.u.st.slots[1].bad);
	airlock_bootctl_close(&d.ctl);
}

static void test_boot_limit_rollback(void **state)
{
	(void)state;
	struct dev d;
	struct airlock_event ev;
	unsigned slot;
	enum airlock_boot_reason why;
	dev_init(&d);
	install(&d, "2.0", D2, 2);
	/* the trial never gets to run the agent: three boots that hang */
	for (int i = 0; i < 3; i++) {
		assert_err(airlock_bootctl_boot_step(&d.ctl, &slot, &why, NULL), AIRLOCK_OK);
		assert_int_equal(slot, 1);
	}
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_ROLLED_BACK);
	assert_int_equal(ev.reason, AIRLOCK_ROLLBACK_BOOT_LIMIT);
	assert_false(ev.reboot);
	assert_false(d.u.rec.pending);
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_NONE);
	airlock_bootctl_close(&d.ctl);
}

static void test_explicit_rollback(void **state)
{
	(void)state;
	struct dev d;
	struct airlock_event ev;
	dev_init(&d);
	assert_err(airlock_updater_rollback(&d.u, AIRLOCK_ROLLBACK_EXPLICIT, AIRLOCK_OK, "operator", &ev),
		   AIRLOCK_ERR_STATE);
	install(&d, "2.0", D2, 2);
	setenv("AIRLOCK_BOOT_SLOT", "a", 1);
	assert_err(airlock_updater_rollback(&d.u, AIRLOCK_ROLLBACK_EXPLICIT, AIRLOCK_OK, "operator", &ev), AIRLOCK_OK);
	unsetenv("AIRLOCK_BOOT_SLOT");
	assert_int_equal(ev.kind, AIRLOCK_EVENT_ROLLED_BACK);
	assert_int_equal(ev.reason, AIRLOCK_ROLLBACK_EXPLICIT);
	assert_false(ev.reboot);
	assert_false(d.u.rec.pending);
	airlock_bootctl_close(&d.ctl);
}

/* Recovery from the pairs a cut can leave between two durable writes. */
static void test_recovery_table(void **state)
{
	(void)state;
	struct dev d;
	struct airlock_event ev;
	dev_init(&d);

	/* INSTALLING: resumable, nothing else changes */
	unsigned target;
	assert_err(airlock_updater_install_begin(&d.u, "2.0", D2, 2, &target, &ev), AIRLOCK_OK);
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALL_RESUMABLE);
	assert_int_equal(ev.slot, 1);
	/* a redo of the same install is allowed */
	assert_err(airlock_updater_install_begin(&d.u, "2.0", D2, 2, &target, &ev), AIRLOCK_OK);
	/* INSTALLING with a trial armed from outside: disarmed, still resumable */
	assert_err(airlock_bootctl_set_trial(&d.ctl, 1), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d.u, 0, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALL_RESUMABLE);
	assert_false(d.u.rec.pending);

	/* INSTALLED, record not armed (cut before set_trial): recovery arms */
	d.u.st.slots[1].valid = true;
	d.u.st.state = AIRLOCK_UPDATE_INSTALLED;
	assert_err(airlock_bootstate_save(d.state_path, &d.u.st), AIRLOCK_OK);
	assert_err(airlock_updater_open(&d.u, d.state_path, &d.ctl), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d.u, 0, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALLED);
	assert_true(ev.reboot);
	assert_true(d.u.rec.pending);

	/* INSTALLED, armed (cut before saving TRIAL): trial boot proceeds */
	d.u.st.state = AIRLOCK_UPDATE_INSTALLED;
	assert_err(airlock_bootstate_save(d.state_path, &d.u.st), AIRLOCK_OK);
	assert_int_equal(reboot(&d, &ev), 1);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_TRIAL_BOOT);

	/* TRIAL, record committed (cut after mark_good): COMMITTED */
	assert_err(airlock_bootctl_mark_good(&d.ctl, 1, 2), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d.u, 1, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_COMMITTED);
	assert_int_equal(d.u.st.security_version, 2);

	/* ROLLING_BACK with the record still pending: rollback finished */
	install(&d, "3.0", D1, 3);
	assert_int_equal(reboot(&d, &ev), 0);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_TRIAL_BOOT);
	d.u.st.state = AIRLOCK_UPDATE_ROLLING_BACK;
	d.u.st.reason = AIRLOCK_ROLLBACK_HEALTH_CHECK;
	assert_err(airlock_bootstate_save(d.state_path, &d.u.st), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d.u, 0, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_ROLLED_BACK);
	assert_int_equal(ev.reason, AIRLOCK_ROLLBACK_HEALTH_CHECK);
	assert_true(ev.reboot);  /* still running the rejected slot a */
	assert_int_equal(d.u.rec.active, 1);

	/* IDLE with a trial the agent never armed: undone */
	assert_err(airlock_bootctl_set_trial(&d.ctl, 0), AIRLOCK_OK);
	assert_err(airlock_updater_recover(&d.u, 1, &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_ROLLED_BACK);
	assert_false(d.u.rec.pending);

	/* install failed: idle again, target invalid */
	assert_err(airlock_updater_install_begin(&d.u, "4.0", D2, 4, &target, &ev), AIRLOCK_OK);
	assert_int_equal(target, 0);
	assert_err(airlock_updater_install_failed(&d.u, AIRLOCK_ERR_DIGEST_MISMATCH, "chunk 3", &ev), AIRLOCK_OK);
	assert_int_equal(ev.kind, AIRLOCK_EVENT_INSTALL_FAILED);
	assert_int_equal(ev.err, AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_false(d.u.st.slots[0].valid);
	assert_err(airlock_updater_install_failed(&d.u, AIRLOCK_ERR_DIGEST_MISMATCH, "x", &ev), AIRLOCK_ERR_STATE);
	airlock_bootctl_close(&d.ctl);
}

static double elapsed(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_health_check(void **state)
{
	(void)state;
	struct airlock_health_result res;
	assert_err(airlock_health_check_run("exit 0", 5000, &res), AIRLOCK_OK);
	assert_int_equal(res.exit_status, 0);
	assert_err(airlock_health_check_run("exit 3", 5000, &res), AIRLOCK_ERR_HEALTH_CHECK);
	assert_int_equal(res.exit_status, 3);
	assert_false(res.timed_out);
	assert_err(airlock_health_check_run("kill -9 $$", 5000, &res), AIRLOCK_ERR_HEALTH_CHECK);
	assert_int_equal(res.signal, 9);
	assert_err(airlock_health_check_run("/nonexistent/check", 5000, &res), AIRLOCK_ERR_HEALTH_CHECK);
	assert_int_equal(res.exit_status, 127);
	assert_err(airlock_health_check_run("", 5000, &res), AIRLOCK_ERR_INVALID_ARG);
	/* a hung check (and the child it started) is killed at the deadline */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_err(airlock_health_check_run("sleep 30 & sleep 30", 300, &res), AIRLOCK_ERR_HEALTH_CHECK);
	assert_true(res.timed_out);
	assert_true(elapsed(&t0) < 5.0);
}

int main(void)
{
	unsetenv("AIRLOCK_FAULT_CUT");
	unsetenv("AIRLOCK_FAULT_FAIL");
	unsetenv("AIRLOCK_BOOT_SLOT");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_load_save),
		cmocka_unit_test(test_commit),
		cmocka_unit_test(test_health_rollback),
		cmocka_unit_test(test_boot_limit_rollback),
		cmocka_unit_test(test_explicit_rollback),
		cmocka_unit_test(test_recovery_table),
		cmocka_unit_test(test_health_check),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
