/* Boot control, the update state machine and recovery at start (device.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/hex.h"
#include "device.h"
#include "log.h"
#include "report.h"
#include "update.h"

airlock_err agent_device_open(struct agent *a, struct agent_device *d)
{
	memset(d, 0, sizeof *d);
	const char *rec = a->cfg.boot_record[0] ? a->cfg.boot_record : NULL;
	airlock_err e = airlock_bootctl_open(&d->ctl, a->cfg.boot_backend, rec);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "boot", e, "cannot open the %s boot control", a->cfg.boot_backend);
		return e;
	}
	e = airlock_bootctl_booted_slot(&d->booted);
	d->booted_known = e == AIRLOCK_OK;
	/* A fresh device: the record starts with the slot we run from as good. */
	bool created = false;
	e = airlock_bootctl_provision(&d->ctl, d->booted_known ? d->booted : 0, a->cfg.boot_limit, &created);
	if (e == AIRLOCK_OK && created)
		agent_log(AGENT_INFO, "boot", AIRLOCK_OK, "boot record provisioned: slot %s good",
			  airlock_slot_name(d->booted_known ? d->booted : 0));
	agent_path(a, "state", d->state_path, sizeof d->state_path);
	if (e == AIRLOCK_OK)
		e = airlock_updater_open(&d->u, d->state_path, &d->ctl);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "boot", e, "cannot load the boot record or the update state %s", d->state_path);
		airlock_bootctl_close(&d->ctl);
		return e;
	}
	if (!d->booted_known)
		d->booted = d->u.rec.pending && !airlock_boot_record_exhausted(&d->u.rec) ? d->u.rec.active : d->u.rec.good;
	return AIRLOCK_OK;
}

void agent_device_close(struct agent_device *d)
{
	airlock_bootctl_close(&d->ctl);
}

void agent_device_self(struct agent_device *d, struct agent_self *self)
{
	const struct airlock_slot_state *s = &d->u.st.slots[d->booted];
	memset(self, 0, sizeof *self);
	self->security_version = d->u.rec.secver;
	if (s->valid) {
		airlock_hex_encode(s->release_digest, AIRLOCK_SHA256_LEN, d->release_hex);
		self->release_hex = d->release_hex;
		self->version = s->version;
	}
	snprintf(d->slot_state, sizeof d->slot_state, "%s%s", airlock_slot_name(d->booted),
		 d->u.rec.pending ? "-trial" : "");
	self->slot_state = d->slot_state;
}

/* The deployment on trial is over: tell the server, forget it locally. */
static void finish_deployment(struct agent *a, const char *state, airlock_err err, const char *msg)
{
	agent_report(a, a->st.deployment, state, -1, err, msg);
	a->st.deployment = 0;
	a->st.deployment_release[0] = '\0';
	agent_state_save(a);
}

static airlock_err trial(struct agent *a, struct agent_device *d, bool *reboot)
{
	struct airlock_event ev;
	struct airlock_health_result hr;
	char detail[160] = "";
	airlock_err health = AIRLOCK_OK;
	if (a->cfg.health_command[0]) {
		health = airlock_health_check_run(a->cfg.health_command, a->cfg.health_timeout * 1000u, &hr);
		if (health != AIRLOCK_OK) {
			if (hr.timed_out)
				snprintf(detail, sizeof detail, "health check timed out after %u s", a->cfg.health_timeout);
			else if (hr.signal)
				snprintf(detail, sizeof detail, "health check killed by signal %d", hr.signal);
			else
				snprintf(detail, sizeof detail, "health check exited with status %d", hr.exit_status);
		}
	}
	agent_log(health ? AGENT_ERROR : AGENT_INFO, "trial", health, "trial boot of slot %s: %s",
		  airlock_slot_name(d->booted), health ? detail : "health check passed");
	airlock_err e = airlock_updater_trial_result(&d->u, d->booted, health, detail, &ev);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "trial", e, "cannot record the trial's outcome");
		return e;
	}
	if (ev.kind == AIRLOCK_EVENT_COMMITTED) {
		agent_log(AGENT_INFO, "commit", AIRLOCK_OK, "slot %s committed (version %s), security version now %" PRIu64,
			  airlock_slot_name(d->booted), ev.version, ev.security_version);
		finish_deployment(a, "succeeded", AIRLOCK_OK, NULL);
	} else {
		agent_log(AGENT_ERROR, "rollback", health, "rolled back from slot %s: %s", airlock_slot_name(d->booted),
			  detail);
		finish_deployment(a, "rolled-back", health ? health : AIRLOCK_ERR_HEALTH_CHECK, detail);
		agent_state_error(a, health ? health : AIRLOCK_ERR_HEALTH_CHECK, detail);
	}
	*reboot = ev.reboot;
	return AIRLOCK_OK;
}

/*
 * Idle, nothing pending, and yet a deployment still in flight in agent.json:
 * a power cut fell between the state machine's last step (the commit or the
 * rollback, durable) and the queuing of its report. The slot's state says
 * how the trial ended: report that now. Without it the server would never
 * hear of the rollback, offer the release again, and the device would refuse
 * it as "failed" (found by tests/fault/test_agent_powercut.sh). An install
 * that never reached its trial has nothing to report: it is forgotten.
 */
static void finish_unreported(struct agent *a, struct agent_device *d)
{
	const struct airlock_slot_state *s = &d->u.st.slots[a->st.trial_slot];
	char hex[2 * AIRLOCK_SHA256_LEN + 1];
	if (!a->st.deployment || d->u.st.state != AIRLOCK_UPDATE_IDLE || d->u.rec.pending)
		return;
	airlock_hex_encode(s->release_digest, AIRLOCK_SHA256_LEN, hex);
	bool ours = strcmp(hex, a->st.deployment_release) == 0;
	if (ours && s->bad) {
		airlock_err why = d->u.st.last_error ? (airlock_err)d->u.st.last_error : AIRLOCK_ERR_HEALTH_CHECK;
		char msg[256];
		snprintf(msg, sizeof msg, "rolled back from slot %s (%s)%s%s", airlock_slot_name(a->st.trial_slot),
			 airlock_rollback_reason_name((enum airlock_rollback_reason)d->u.st.reason),
			 d->u.st.last_detail[0] ? ": " : "", d->u.st.last_detail);
		agent_log(AGENT_WARN, "rollback", why, "reporting an earlier rollback: %s", msg);
		finish_deployment(a, "rolled-back", why, msg);
	} else if (ours && s->valid && d->u.rec.good == a->st.trial_slot) {
		agent_log(AGENT_INFO, "commit", AIRLOCK_OK, "reporting an earlier commit of slot %s",
			  airlock_slot_name(a->st.trial_slot));
		finish_deployment(a, "succeeded", AIRLOCK_OK, NULL);
	} else {
		a->st.deployment = 0;
		a->st.deployment_release[0] = '\0';
		agent_state_save(a);
	}
}

airlock_err agent_device_recover(struct agent *a, struct agent_device *d, bool *reboot)
{
	struct airlock_event ev;
	const struct airlock_boot_record *r = &d->u.rec;
	*reboot = false;
	/* Armed but never booted (the boot stage counts every trial boot before
	 * it starts it): the agent was restarted before the reboot. That is no
	 * failed trial: keep the install and ask for the reboot again. */
	if (r->pending && r->bootcount == 0 && d->booted != r->active && d->u.st.target == r->active &&
	    (d->u.st.state == AIRLOCK_UPDATE_TRIAL || d->u.st.state == AIRLOCK_UPDATE_INSTALLED)) {
		agent_log(AGENT_INFO, "boot", AIRLOCK_OK, "slot %s is armed and not booted yet: reboot due",
			  airlock_slot_name(r->active));
		*reboot = true;
		return AIRLOCK_OK;
	}
	airlock_err e = airlock_updater_recover(&d->u, d->booted, &ev);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "recover", e, "cannot recover the update state");
		return e;
	}
	switch (ev.kind) {
	case AIRLOCK_EVENT_TRIAL_BOOT:
		return trial(a, d, reboot);
	case AIRLOCK_EVENT_COMMITTED:
		agent_log(AGENT_INFO, "commit", AIRLOCK_OK, "slot %s committed (version %s)", airlock_slot_name(ev.slot),
			  ev.version);
		finish_deployment(a, "succeeded", AIRLOCK_OK, NULL);
		break;
	case AIRLOCK_EVENT_ROLLED_BACK: {
		/* E.g. the trial image never came up and the bootloader fell back:
		 * the report goes out now, from the good slot (F05). */
		airlock_err why = ev.err ? ev.err : AIRLOCK_ERR_HEALTH_CHECK;
		char msg[256];
		snprintf(msg, sizeof msg, "rolled back from slot %s (%s)%s%s", airlock_slot_name(ev.slot),
			 airlock_rollback_reason_name(ev.reason), ev.detail[0] ? ": " : "", ev.detail);
		agent_log(AGENT_ERROR, "rollback", why, "%s", msg);
		finish_deployment(a, "rolled-back", why, msg);
		agent_state_error(a, why, msg);
		break;
	}
	case AIRLOCK_EVENT_INSTALLED:
		agent_log(AGENT_INFO, "install", AIRLOCK_OK, "slot %s armed for a trial boot: reboot due",
			  airlock_slot_name(ev.slot));
		break;
	case AIRLOCK_EVENT_INSTALL_RESUMABLE:
		agent_log(AGENT_INFO, "install", AIRLOCK_OK, "an install into slot %s was interrupted: it resumes at the next check-in",
			  airlock_slot_name(ev.slot));
		break;
	case AIRLOCK_EVENT_NONE:
		finish_unreported(a, d);
		break;
	default:
		break;
	}
	*reboot = *reboot || ev.reboot;
	return AIRLOCK_OK;
}

int agent_device_reboot(struct agent *a)
{
	if (!a->cfg.reboot_command[0]) {
		agent_log(AGENT_INFO, "reboot", AIRLOCK_OK, "reboot due: exiting with status %d for the supervisor",
			  AGENT_EXIT_REBOOT);
		return AGENT_EXIT_REBOOT;
	}
	agent_log(AGENT_INFO, "reboot", AIRLOCK_OK, "rebooting: %s", a->cfg.reboot_command);
	int rc = system(a->cfg.reboot_command);
	if (rc != 0)
		agent_log(AGENT_ERROR, "reboot", AIRLOCK_ERR_STATE, "reboot command failed (status %d)", rc);
	return AGENT_EXIT_REBOOT;
}
