/*
 * The update state machine's transitions (include/airlock/bootstate.h).
 *
 * Ordering rule: the state file is saved with the intent (INSTALLING,
 * INSTALLED, ROLLING_BACK) before the boot record acts on it, and the boot
 * record's store is the commit point of each step. Recovery therefore
 * always finds either the intent without its effect (and redoes the step)
 * or the effect (and records it), whichever instant a power cut picked.
 * docs/boot.md, "Recovery", has the table this code follows.
 */
#include "airlock/bootstate.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

static void event(struct airlock_updater *u, struct airlock_event *ev, enum airlock_event_kind kind,
		  airlock_err err, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void event(struct airlock_updater *u, struct airlock_event *ev, enum airlock_event_kind kind,
		  airlock_err err, const char *fmt, ...)
{
	memset(ev, 0, sizeof *ev);
	ev->kind = kind;
	ev->err = err;
	ev->slot = u->st.target;
	ev->reason = (enum airlock_rollback_reason)u->st.reason;
	ev->security_version = u->rec.secver;
	memcpy(ev->version, u->st.slots[u->st.target].version, sizeof ev->version);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ev->detail, sizeof ev->detail, fmt, ap);
	va_end(ap);
}

static void set_detail(struct airlock_bootstate *st, const char *detail)
{
	snprintf(st->last_detail, sizeof st->last_detail, "%s", detail ? detail : "");
}

static airlock_err save(struct airlock_updater *u)
{
	return airlock_bootstate_save(u->state_path, &u->st);
}

static airlock_err reload_record(struct airlock_updater *u)
{
	return airlock_bootctl_load(u->ctl, &u->rec);
}

airlock_err airlock_updater_open(struct airlock_updater *u, const char *state_path, struct airlock_bootctl *ctl)
{
	if (!u || !state_path || !ctl)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(u, 0, sizeof *u);
	if (strlen(state_path) >= sizeof u->state_path)
		return AIRLOCK_ERR_INVALID_ARG;
	memcpy(u->state_path, state_path, strlen(state_path) + 1);
	u->ctl = ctl;
	airlock_err err = airlock_bootstate_load(state_path, &u->st);
	if (err == AIRLOCK_ERR_NOT_FOUND)
		airlock_bootstate_init(&u->st);
	else
		TRY(err);
	return reload_record(u);
}

airlock_err airlock_updater_set_slot(struct airlock_updater *u, unsigned slot, const char *version,
				     const uint8_t digest[AIRLOCK_SHA256_LEN], uint64_t security_version)
{
	if (!u || slot >= AIRLOCK_SLOT_COUNT || !version || !digest || strlen(version) > AIRLOCK_MAX_NAME_LEN)
		return AIRLOCK_ERR_INVALID_ARG;
	struct airlock_slot_state *ss = &u->st.slots[slot];
	memset(ss, 0, sizeof *ss);
	ss->valid = true;
	ss->security_version = security_version;
	memcpy(ss->release_digest, digest, AIRLOCK_SHA256_LEN);
	memcpy(ss->version, version, strlen(version) + 1);
	if (u->rec.secver > u->st.security_version)
		u->st.security_version = u->rec.secver;
	return save(u);
}

/* The record committed the target: record it (COMMITTED). */
static airlock_err finish_commit(struct airlock_updater *u, struct airlock_event *ev)
{
	struct airlock_bootstate *st = &u->st;
	st->state = AIRLOCK_UPDATE_IDLE;
	st->slots[st->target].valid = true;
	st->slots[st->target].bad = false;
	st->security_version = u->rec.secver;
	st->last_error = 0;
	st->reason = AIRLOCK_ROLLBACK_NONE;
	set_detail(st, "");
	TRY(save(u));
	event(u, ev, AIRLOCK_EVENT_COMMITTED, AIRLOCK_OK, "slot %s committed, security version %llu",
	      airlock_slot_name(st->target), (unsigned long long)u->rec.secver);
	return AIRLOCK_OK;
}

/* The record is back on the good slot: record it (ROLLED_BACK). */
static airlock_err finish_rollback(struct airlock_updater *u, unsigned booted, struct airlock_event *ev)
{
	struct airlock_bootstate *st = &u->st;
	st->state = AIRLOCK_UPDATE_IDLE;
	st->slots[st->target].bad = true;
	if (st->reason == AIRLOCK_ROLLBACK_NONE)
		st->reason = AIRLOCK_ROLLBACK_BOOT_LIMIT;
	if (st->last_error == 0 && st->reason == AIRLOCK_ROLLBACK_BOOT_LIMIT)
		set_detail(st, "trial slot not booted: boot limit exceeded or image unverifiable");
	TRY(save(u));
	event(u, ev, AIRLOCK_EVENT_ROLLED_BACK, (airlock_err)st->last_error, "rolled back to slot %s (%s)%s%s",
	      airlock_slot_name(u->rec.good), airlock_rollback_reason_name(st->reason),
	      st->last_detail[0] ? ": " : "", st->last_detail);
	ev->reboot = booted != u->rec.active;
	return AIRLOCK_OK;
}

static airlock_err do_rollback(struct airlock_updater *u, unsigned booted, enum airlock_rollback_reason reason,
			       airlock_err err, const char *detail, struct airlock_event *ev)
{
	struct airlock_bootstate *st = &u->st;
	st->state = AIRLOCK_UPDATE_ROLLING_BACK;
	st->reason = (uint8_t)reason;
	st->last_error = (int32_t)err;
	set_detail(st, detail);
	TRY(save(u));
	TRY(airlock_bootctl_rollback(u->ctl));  /* the commit point of the rollback */
	TRY(reload_record(u));
	return finish_rollback(u, booted, ev);
}

/* INSTALLED: arm the trial (the commit point of the install), then TRIAL. */
static airlock_err arm(struct airlock_updater *u, struct airlock_event *ev)
{
	TRY(airlock_bootctl_set_trial(u->ctl, u->st.target));
	TRY(reload_record(u));
	u->st.state = AIRLOCK_UPDATE_TRIAL;
	u->st.trial_boots = 0;
	TRY(save(u));
	event(u, ev, AIRLOCK_EVENT_INSTALLED, AIRLOCK_OK, "slot %s armed for a trial boot (limit %u): reboot",
	      airlock_slot_name(u->st.target), (unsigned)u->rec.bootlimit);
	ev->reboot = true;
	return AIRLOCK_OK;
}

/* TRIAL (or INSTALLED already armed) against the record. */
static airlock_err recover_trial(struct airlock_updater *u, unsigned booted, struct airlock_event *ev)
{
	const struct airlock_boot_record *r = &u->rec;
	unsigned t = u->st.target;
	if (r->pending && r->active == t) {
		if (booted != t || airlock_boot_record_exhausted(r))
			return do_rollback(u, booted, AIRLOCK_ROLLBACK_BOOT_LIMIT, AIRLOCK_OK,
					   "trial slot not booted: boot limit exceeded or image unverifiable", ev);
		u->st.state = AIRLOCK_UPDATE_TRIAL;
		u->st.trial_boots = r->bootcount;
		TRY(save(u));
		event(u, ev, AIRLOCK_EVENT_TRIAL_BOOT, AIRLOCK_OK, "trial boot %u of %u on slot %s: run the health check",
		      (unsigned)r->bootcount, (unsigned)r->bootlimit, airlock_slot_name(t));
		return AIRLOCK_OK;
	}
	if (!r->pending && r->good == t)
		return finish_commit(u, ev);   /* committed just before a cut */
	if (!r->pending)
		return finish_rollback(u, booted, ev);
	/* Someone else armed another slot: not our trial, undo it. */
	return do_rollback(u, booted, AIRLOCK_ROLLBACK_EXPLICIT, AIRLOCK_ERR_STATE,
			   "boot record armed a slot the agent did not install", ev);
}

airlock_err airlock_updater_recover(struct airlock_updater *u, unsigned booted, struct airlock_event *ev)
{
	if (!u || !ev || booted >= AIRLOCK_SLOT_COUNT)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(reload_record(u));
	struct airlock_bootstate *st = &u->st;
	event(u, ev, AIRLOCK_EVENT_NONE, AIRLOCK_OK, "running slot %s", airlock_slot_name(booted));
	switch (st->state) {
	case AIRLOCK_UPDATE_IDLE:
		if (u->rec.pending)
			return do_rollback(u, booted, AIRLOCK_ROLLBACK_EXPLICIT, AIRLOCK_ERR_STATE,
					   "boot record armed a trial the agent did not start", ev);
		if (u->rec.secver != st->security_version) {
			st->security_version = u->rec.secver;
			TRY(save(u));
		}
		event(u, ev, AIRLOCK_EVENT_NONE, AIRLOCK_OK, "idle on slot %s", airlock_slot_name(booted));
		ev->reboot = booted != u->rec.active;
		return AIRLOCK_OK;
	case AIRLOCK_UPDATE_INSTALLING:
		if (u->rec.pending) {
			/* Armed behind the agent's back over a slot being written:
			 * never leave that trial armed. */
			TRY(airlock_bootctl_rollback(u->ctl));
			TRY(reload_record(u));
		}
		event(u, ev, AIRLOCK_EVENT_INSTALL_RESUMABLE, AIRLOCK_OK, "install into slot %s was interrupted",
		      airlock_slot_name(st->target));
		return AIRLOCK_OK;
	case AIRLOCK_UPDATE_INSTALLED:
		if (!u->rec.pending && u->rec.good != st->target)
			return arm(u, ev);
		return recover_trial(u, booted, ev);
	case AIRLOCK_UPDATE_TRIAL:
		return recover_trial(u, booted, ev);
	case AIRLOCK_UPDATE_ROLLING_BACK:
		TRY(airlock_bootctl_rollback(u->ctl));
		TRY(reload_record(u));
		return finish_rollback(u, booted, ev);
	}
	return AIRLOCK_ERR_STATE;
}

airlock_err airlock_updater_install_begin(struct airlock_updater *u, const char *version,
					  const uint8_t digest[AIRLOCK_SHA256_LEN], uint64_t security_version,
					  unsigned *target, struct airlock_event *ev)
{
	if (!u || !version || !digest || !target || !ev)
		return AIRLOCK_ERR_INVALID_ARG;
	if (airlock_check_label(version, strlen(version)) != AIRLOCK_OK)
		return AIRLOCK_ERR_BAD_VALUE;
	TRY(reload_record(u));
	struct airlock_bootstate *st = &u->st;
	if (u->rec.pending || (st->state != AIRLOCK_UPDATE_IDLE && st->state != AIRLOCK_UPDATE_INSTALLING))
		return AIRLOCK_ERR_STATE;
	if (security_version < u->rec.secver)
		return AIRLOCK_ERR_ROLLBACK;
	unsigned t = airlock_slot_other(u->rec.good);
	struct airlock_slot_state *ss = &st->slots[t];
	/* Invalidate first: from here on the slot's bytes are not an image. */
	memset(ss, 0, sizeof *ss);
	ss->security_version = security_version;
	memcpy(ss->release_digest, digest, AIRLOCK_SHA256_LEN);
	memcpy(ss->version, version, strlen(version) + 1);
	st->state = AIRLOCK_UPDATE_INSTALLING;
	st->target = (uint8_t)t;
	st->reason = AIRLOCK_ROLLBACK_NONE;
	st->last_error = 0;
	set_detail(st, "");
	TRY(save(u));
	*target = t;
	event(u, ev, AIRLOCK_EVENT_INSTALL_STARTED, AIRLOCK_OK, "installing %s into slot %s", version,
	      airlock_slot_name(t));
	return AIRLOCK_OK;
}

airlock_err airlock_updater_install_done(struct airlock_updater *u, struct airlock_event *ev)
{
	if (!u || !ev)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(reload_record(u));
	struct airlock_bootstate *st = &u->st;
	if (u->rec.pending || (st->state != AIRLOCK_UPDATE_INSTALLING && st->state != AIRLOCK_UPDATE_INSTALLED))
		return AIRLOCK_ERR_STATE;
	st->slots[st->target].valid = true;
	st->state = AIRLOCK_UPDATE_INSTALLED;
	TRY(save(u));
	return arm(u, ev);
}

airlock_err airlock_updater_install_failed(struct airlock_updater *u, airlock_err err, const char *detail,
					   struct airlock_event *ev)
{
	if (!u || !ev)
		return AIRLOCK_ERR_INVALID_ARG;
	struct airlock_bootstate *st = &u->st;
	if (st->state != AIRLOCK_UPDATE_INSTALLING)
		return AIRLOCK_ERR_STATE;
	st->state = AIRLOCK_UPDATE_IDLE;
	st->slots[st->target].valid = false;
	st->last_error = (int32_t)err;
	set_detail(st, detail);
	TRY(save(u));
	event(u, ev, AIRLOCK_EVENT_INSTALL_FAILED, err, "install into slot %s failed%s%s",
	      airlock_slot_name(st->target), st->last_detail[0] ? ": " : "", st->last_detail);
	return AIRLOCK_OK;
}

airlock_err airlock_updater_trial_result(struct airlock_updater *u, unsigned booted, airlock_err health,
					 const char *detail, struct airlock_event *ev)
{
	if (!u || !ev || booted >= AIRLOCK_SLOT_COUNT)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(reload_record(u));
	unsigned t = u->st.target;
	if (u->st.state != AIRLOCK_UPDATE_TRIAL || !u->rec.pending || u->rec.active != t || booted != t)
		return AIRLOCK_ERR_STATE;
	if (health != AIRLOCK_OK)
		return do_rollback(u, booted, AIRLOCK_ROLLBACK_HEALTH_CHECK, health, detail, ev);
	/* The commit point: good slot and anti-rollback counter in one store. */
	TRY(airlock_bootctl_mark_good(u->ctl, t, u->st.slots[t].security_version));
	TRY(reload_record(u));
	return finish_commit(u, ev);
}

airlock_err airlock_updater_rollback(struct airlock_updater *u, enum airlock_rollback_reason reason, airlock_err err,
				     const char *detail, struct airlock_event *ev)
{
	if (!u || !ev || reason == AIRLOCK_ROLLBACK_NONE || reason > AIRLOCK_ROLLBACK_EXPLICIT)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(reload_record(u));
	unsigned booted;
	if (airlock_bootctl_booted_slot(&booted) != AIRLOCK_OK)
		booted = u->rec.good;
	uint8_t s = u->st.state;
	if (s == AIRLOCK_UPDATE_ROLLING_BACK)
		return airlock_updater_recover(u, booted, ev);
	if (!u->rec.pending || (s != AIRLOCK_UPDATE_TRIAL && s != AIRLOCK_UPDATE_INSTALLED))
		return AIRLOCK_ERR_STATE;
	return do_rollback(u, booted, reason, err, detail, ev);
}
