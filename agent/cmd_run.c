/* airlockd run | checkin: the check-in cycle and the daemon loop around it. */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checkin.h"
#include "commands.h"
#include "device.h"
#include "log.h"
#include "report.h"
#include "source.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/* The time for expiry checks: 0 without a trusted clock; never earlier than
 * the latest time seen (a clock set back does not revive expired metadata). */
static uint64_t trusted_now(struct agent *a)
{
	if (!a->cfg.trusted_clock)
		return 0;
	int64_t t = (int64_t)time(NULL);
	if (t < a->st.latest_time)
		t = a->st.latest_time;
	a->st.latest_time = t;
	return (uint64_t)t;
}

/* A refused answer: logged, recorded, and reported. The deployment is named
 * only if the directive itself verified: an unauthenticated answer (a
 * replay, say) must not be able to fail a real deployment. */
static void refused(struct agent *a, const struct agent_checkin *c, airlock_err e)
{
	agent_log(AGENT_ERROR, "checkin", e, "%s", c->detail);
	agent_state_error(a, e, c->detail);
	if (!agent_err_transient(e))
		agent_report(a, c->directive_ok ? c->deployment : 0, "failed", -1, e, c->detail);
}

/* One cycle: reports out, check in, act on the verified answer. */
static airlock_err cycle(struct agent *a, struct agent_device *d, bool *reboot, uint32_t *interval)
{
	struct agent_self self;
	*reboot = false;
	agent_report_flush(a);
	agent_device_self(d, &self);
	struct agent_checkin *c = calloc(1, sizeof *c);
	if (!c)
		return AIRLOCK_ERR_NOMEM;
	airlock_err e = agent_checkin(a, &self, trusted_now(a), c);
	if (e != AIRLOCK_OK) {
		refused(a, c, e);
		goto out;
	}
	a->st.last_checkin = (int64_t)time(NULL);
	if (c->interval)
		*interval = c->interval < a->cfg.checkin_interval ? c->interval : a->cfg.checkin_interval;
	agent_state_save(a);
	if (c->dir.action != AIRLOCK_ACTION_INSTALL) {
		agent_log(AGENT_INFO, "checkin", AIRLOCK_OK, "nothing to do");
		goto out;
	}
	struct agent_net_src storage;
	struct agent_source src;
	e = agent_source_net(&src, a, &c->dir, &c->rel, &storage);
	if (e != AIRLOCK_OK) {
		snprintf(c->detail, sizeof c->detail, "%s", src.detail);
		c->directive_ok = true;
		refused(a, c, e);
		goto out;
	}
	struct agent_update up = { .release_buf = c->release_buf, .release_len = c->release_len, .rel = &c->rel,
				   .release_digest = c->release_digest, .deployment = c->deployment };
	if (c->dir.wrapped_key.len) {
		up.wrapped_key = c->dir.wrapped_key.ptr;
		up.wrapped_len = c->dir.wrapped_key.len;
	}
	e = agent_update_run(a, &d->u, &up, &src, reboot);
out:
	agent_report_flush(a);
	free(c);
	return e;
}

/* Sleeps up to `seconds`, waking early on SIGTERM. */
static void nap(unsigned seconds)
{
	struct timespec ts = { .tv_sec = 1, .tv_nsec = 0 };
	for (unsigned i = 0; i < seconds && !stop_flag; i++)
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !stop_flag)
			;
}

/* interval +- 10 %, so that a fleet does not check in in lockstep. */
static unsigned jitter(unsigned interval)
{
	uint32_t r = 0;
	if (airlock_random(&r, sizeof r) != AIRLOCK_OK || interval < 10)
		return interval;
	unsigned span = interval / 5;
	return interval - interval / 10 + r % (span + 1);
}

static int start(struct agent *a, struct agent_device *d, bool *reboot)
{
	a->stop = &stop_flag;
	install_signals();
	airlock_err e = agent_device_open(a, d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	e = agent_device_recover(a, d, reboot);
	if (e != AIRLOCK_OK) {
		agent_device_close(d);
		return agent_exit_code(e);
	}
	return AGENT_EXIT_OK;
}

int cmd_checkin(struct agent *a, int argc, char **argv)
{
	struct agent_device d;
	bool reboot = false;
	uint32_t interval = a->cfg.checkin_interval;
	(void)argc;
	(void)argv;
	int rc = start(a, &d, &reboot);
	if (rc != AGENT_EXIT_OK)
		return rc;
	airlock_err e = AIRLOCK_OK;
	if (!reboot)
		e = cycle(a, &d, &reboot, &interval);
	else
		agent_report_flush(a);
	agent_device_close(&d);
	if (reboot)
		return agent_device_reboot(a);
	if (stop_flag) {
		agent_log(AGENT_INFO, "stop", AIRLOCK_OK, "stopped by signal: the download resumes at the next check-in");
		return AGENT_EXIT_OK;
	}
	return agent_exit_code(e);
}

int cmd_run(struct agent *a, int argc, char **argv)
{
	struct agent_device d;
	bool reboot = false;
	unsigned failures = 0;
	(void)argc;
	(void)argv;
	int rc = start(a, &d, &reboot);
	if (rc != AGENT_EXIT_OK)
		return rc;
	agent_log(AGENT_INFO, "start", AIRLOCK_OK, "airlockd %s on slot %s, device %s, root version %" PRIu64,
		  AGENT_VERSION, airlock_slot_name(d.booted), a->cfg.device_id, a->root.version);
	while (!reboot && !stop_flag) {
		uint32_t interval = a->cfg.checkin_interval;
		airlock_err e = cycle(a, &d, &reboot, &interval);
		if (reboot || stop_flag)
			break;
		/* Failures to reach the server back off exponentially (15 s, 30 s,
		 * ...), never beyond the normal interval. */
		unsigned wait = interval;
		if (agent_err_transient(e)) {
			unsigned backoff = 15u << (failures < 10 ? failures : 10);
			failures++;
			wait = backoff < interval ? backoff : interval;
		} else {
			failures = 0;
		}
		nap(jitter(wait));
	}
	agent_device_close(&d);
	if (reboot)
		return agent_device_reboot(a);
	agent_log(AGENT_INFO, "stop", AIRLOCK_OK, "stopped by signal");
	return AGENT_EXIT_OK;
}
