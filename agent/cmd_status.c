/* airlockd status [--json]: what an operator or a script wants to know. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "airlock/hex.h"
#include "commands.h"
#include "config.h"
#include "device.h"
#include "report.h"

static json_t *slot_json(const struct agent_device *d, unsigned i)
{
	const struct airlock_slot_state *s = &d->u.st.slots[i];
	char hex[2 * AIRLOCK_SHA256_LEN + 1] = "";
	if (s->valid || s->bad)
		airlock_hex_encode(s->release_digest, AIRLOCK_SHA256_LEN, hex);
	return json_pack("{s:s,s:b,s:b,s:b,s:b,s:s,s:s,s:I}", "slot", airlock_slot_name(i), "booted", d->booted == i,
			 "good", d->u.rec.good == i, "valid", s->valid, "bad", s->bad, "version", s->version, "release",
			 hex, "security_version", (json_int_t)s->security_version);
}

static json_t *status_json(const struct agent *a, const struct agent_device *d)
{
	const struct airlock_boot_record *r = &d->u.rec;
	json_t *o = json_pack("{s:s,s:s,s:I,s:I,s:o,s:{s:s,s:s,s:b,s:I,s:I},s:s,s:s,s:I,s:I,s:I,s:I}", "device",
			      a->cfg.device_id, "hardware", a->cfg.hardware, "security_version", (json_int_t)r->secver,
			      "root_version", (json_int_t)a->root.version, "slots",
			      json_pack("[o,o]", slot_json(d, 0), slot_json(d, 1)), "boot", "active",
			      airlock_slot_name(r->active), "good", airlock_slot_name(r->good), "pending", r->pending,
			      "bootcount", (json_int_t)r->bootcount, "bootlimit", (json_int_t)r->bootlimit,
			      "update_state", airlock_update_state_name(d->u.st.state), "last_error", a->st.last_error,
			      "last_error_time", (json_int_t)a->st.last_error_time, "last_checkin",
			      (json_int_t)a->st.last_checkin, "deployment", (json_int_t)a->st.deployment,
			      "reports_queued", (json_int_t)agent_report_queued(a));
	if (o)
		json_object_set_new(o, "last_error_msg", json_string(a->st.last_error_msg));
	return o;
}

static void when(int64_t t, char *out, size_t cap)
{
	if (t <= 0) {
		snprintf(out, cap, "never");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void print_text(const struct agent *a, const struct agent_device *d)
{
	const struct airlock_boot_record *r = &d->u.rec;
	char t1[32], t2[32];
	printf("device %s (hardware %s), root version %" PRIu64 "\n", a->cfg.device_id[0] ? a->cfg.device_id : "?",
	       a->cfg.hardware, a->root.version);
	for (unsigned i = 0; i < 2; i++) {
		const struct airlock_slot_state *s = &d->u.st.slots[i];
		printf("  slot %s:%s%s %s%s (security version %" PRIu64 ")%s\n", airlock_slot_name(i),
		       d->booted == i ? " booted" : "", r->good == i ? " good" : "", s->valid ? "release " : "no verified image",
		       s->valid ? s->version : "", s->security_version, s->bad ? " [failed its trial]" : "");
	}
	printf("  security version (anti-rollback): %" PRIu64 "\n", r->secver);
	printf("  boot: active %s, good %s, %s", airlock_slot_name(r->active), airlock_slot_name(r->good),
	       r->pending ? "trial pending" : "nothing pending");
	if (r->pending)
		printf(" (boot %u of %u)", r->bootcount, r->bootlimit);
	printf("\n  update state: %s\n", airlock_update_state_name(d->u.st.state));
	when(a->st.last_checkin, t1, sizeof t1);
	when(a->st.last_error_time, t2, sizeof t2);
	printf("  last successful check-in: %s\n", t1);
	printf("  last error: %s%s%s%s%s\n", a->st.last_error[0] ? a->st.last_error : "none",
	       a->st.last_error[0] ? " at " : "", a->st.last_error[0] ? t2 : "", a->st.last_error_msg[0] ? ": " : "",
	       a->st.last_error_msg);
	printf("  reports waiting for the server: %u\n", agent_report_queued(a));
}

int cmd_status(struct agent *a, int argc, char **argv)
{
	bool json = argc == 2 && strcmp(argv[1], "--json") == 0;
	if (argc > 2 || (argc == 2 && !json)) {
		fprintf(stderr, "usage: airlockd status [--json]\n");
		return AGENT_EXIT_USAGE;
	}
	/* status loads the config without the server part: name the device
	 * from its certificate when it has one (before enrollment it has not). */
	if (!a->cfg.device_id[0] && a->cfg.cert[0]) {
		char why[256];
		if (!agent_cert_cn(a->cfg.cert, a->cfg.device_id, sizeof a->cfg.device_id, why, sizeof why))
			a->cfg.device_id[0] = '\0';
	}
	struct agent_device d;
	airlock_err e = agent_device_open(a, &d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	if (json) {
		json_t *o = status_json(a, &d);
		char *s = o ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
		if (s)
			puts(s);
		free(s);
		json_decref(o);
	} else {
		print_text(a, &d);
	}
	agent_device_close(&d);
	return AGENT_EXIT_OK;
}
