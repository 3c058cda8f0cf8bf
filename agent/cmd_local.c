/* airlockd install | commit | rollback | provision: the verbs that need no server. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "airlock/keywrap.h"
#include "airlock/payload.h"
#include "airlock/slot.h"
#include "bundle.h"
#include "commands.h"
#include "device.h"
#include "log.h"
#include "report.h"

static uint64_t local_now(const struct agent *a)
{
	return a->cfg.trusted_clock ? (uint64_t)time(NULL) : 0;
}

/* The same checks as a check-in's release, minus the directive's freshness. */
static airlock_err verify_bundle_release(struct agent *a, struct agent_device *d, const struct agent_bundle *b,
					 struct airlock_release *rel, uint8_t digest[AIRLOCK_SHA256_LEN])
{
	struct airlock_release_policy rp = { .hardware = a->cfg.hardware,
					     .min_security_version = d->u.rec.secver,
					     .now = local_now(a) };
	airlock_err e = airlock_release_verify(&a->root, b->release.ptr, b->release.len, &rp, rel, digest, NULL);
	if (e != AIRLOCK_OK)
		agent_log(AGENT_ERROR, "install", e, "bundle %s: release refused%s", b->path,
			  e == AIRLOCK_ERR_ROLLBACK ? ": below the device's security version"
			  : e == AIRLOCK_ERR_HARDWARE_MISMATCH ? ": not for this hardware" : "");
	return e;
}

int cmd_install(struct agent *a, int argc, char **argv)
{
	struct agent_device d;
	struct agent_bundle *b = NULL;
	char detail[1200];
	uint8_t wrapped[AIRLOCK_KEYWRAP_CBOR_LEN];
	size_t wrapped_len = 0;
	if (argc != 2) {
		fprintf(stderr, "usage: airlockd install BUNDLE\n");
		return AGENT_EXIT_USAGE;
	}
	airlock_err e = agent_device_open(a, &d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	bool reboot = false;
	e = agent_device_recover(a, &d, &reboot);
	if (e == AIRLOCK_OK && reboot) {
		agent_log(AGENT_ERROR, "install", AIRLOCK_ERR_STATE, "a reboot is due first (a trial is armed)");
		e = AIRLOCK_ERR_STATE;
	}
	struct airlock_release rel;
	uint8_t digest[AIRLOCK_SHA256_LEN];
	if (e == AIRLOCK_OK && !(b = malloc(sizeof *b)))
		e = AIRLOCK_ERR_NOMEM;
	if (e == AIRLOCK_OK && (e = agent_bundle_open(b, argv[1], detail, sizeof detail)) != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "install", e, "%s", detail);
		free(b);
		b = NULL;
	}
	if (e == AIRLOCK_OK)
		e = verify_bundle_release(a, &d, b, &rel, digest);
	const struct airlock_payload *p = NULL;
	if (e == AIRLOCK_OK && (e = agent_pick_payload(a, &rel, &p)) != AIRLOCK_OK)
		agent_log(AGENT_ERROR, "install", e, "release has no payload for the slot ([slots] payload)");
	if (e == AIRLOCK_OK && p->encrypted &&
	    (e = agent_bundle_wrapped_key(b, a->cfg.wrap_key, wrapped, sizeof wrapped, &wrapped_len)) != AIRLOCK_OK)
		agent_log(AGENT_ERROR, "install", e, "no content key in the bundle opens with this device's wrap key");
	if (e == AIRLOCK_OK) {
		struct agent_source src;
		struct agent_update up = { .release_buf = b->release.ptr, .release_len = b->release.len, .rel = &rel,
					   .release_digest = digest, .wrapped_key = wrapped_len ? wrapped : NULL,
					   .wrapped_len = wrapped_len };
		agent_source_bundle(&src, b);
		e = agent_update_run(a, &d.u, &up, &src, &reboot);
		if (e == AIRLOCK_OK && reboot)
			printf("installed %.*s into slot %s: reboot to boot it on trial\n", (int)rel.version.len,
			       rel.version.ptr, airlock_slot_name(d.u.st.target));
		else if (e == AIRLOCK_OK)
			printf("release %.*s is already running\n", (int)rel.version.len, rel.version.ptr);
	}
	if (b) {
		agent_bundle_close(b);
		free(b);
	}
	if (a->http_ready)
		agent_report_flush(a);
	agent_device_close(&d);
	return agent_exit_code(e);
}

int cmd_commit(struct agent *a, int argc, char **argv)
{
	struct agent_device d;
	struct airlock_event ev;
	(void)argc;
	(void)argv;
	airlock_err e = agent_device_open(a, &d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	e = airlock_updater_trial_result(&d.u, d.booted, AIRLOCK_OK, "explicit commit", &ev);
	if (e == AIRLOCK_OK && ev.kind == AIRLOCK_EVENT_COMMITTED) {
		agent_log(AGENT_INFO, "commit", AIRLOCK_OK, "slot %s committed by command, security version %" PRIu64,
			  airlock_slot_name(d.booted), ev.security_version);
		agent_report(a, a->st.deployment, "succeeded", -1, AIRLOCK_OK, NULL);
		a->st.deployment = 0;
		agent_state_save(a);
	} else {
		agent_log(AGENT_ERROR, "commit", e ? e : AIRLOCK_ERR_STATE, "nothing to commit: slot %s is not on trial",
			  airlock_slot_name(d.booted));
		if (e == AIRLOCK_OK)
			e = AIRLOCK_ERR_STATE;
	}
	if (a->http_ready)
		agent_report_flush(a);
	agent_device_close(&d);
	return agent_exit_code(e);
}

int cmd_rollback(struct agent *a, int argc, char **argv)
{
	struct agent_device d;
	struct airlock_event ev;
	(void)argc;
	(void)argv;
	airlock_err e = agent_device_open(a, &d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	e = airlock_updater_rollback(&d.u, AIRLOCK_ROLLBACK_EXPLICIT, AIRLOCK_ERR_CANCELLED, "explicit rollback", &ev);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "rollback", e, "nothing to roll back");
	} else {
		agent_log(AGENT_INFO, "rollback", AIRLOCK_OK, "rolled back to slot %s by command",
			  airlock_slot_name(d.u.rec.good));
		agent_report(a, a->st.deployment, "rolled-back", -1, AIRLOCK_ERR_CANCELLED, "explicit rollback");
		a->st.deployment = 0;
		agent_state_save(a);
	}
	if (a->http_ready)
		agent_report_flush(a);
	bool reboot = e == AIRLOCK_OK && (ev.reboot || d.booted != d.u.rec.good);
	agent_device_close(&d);
	if (reboot)
		return agent_device_reboot(a);
	return agent_exit_code(e);
}

/* Streams a plaintext image file through the payload check and into the slot. */
static airlock_err write_image(struct agent *a, unsigned slot_no, const struct airlock_payload *p, const char *image)
{
	struct airlock_payload_check chk;
	struct airlock_slot slot = { .fd = -1 };
	uint8_t *buf = malloc(1u << 20);
	int fd = open(image, O_RDONLY | O_CLOEXEC);
	airlock_err e = !buf ? AIRLOCK_ERR_NOMEM : fd < 0 ? AIRLOCK_ERR_IO_OPEN : AIRLOCK_OK;
	unsigned flags = strcmp(a->cfg.slot_backend, "block") != 0 && a->cfg.slot_capacity &&
					 access(a->cfg.slot_path[slot_no], F_OK) != 0
				 ? AIRLOCK_SLOT_CREATE
				 : 0;
	if (e == AIRLOCK_OK)
		e = airlock_slot_open(&slot, a->cfg.slot_backend, a->cfg.slot_path[slot_no], a->cfg.slot_capacity, flags);
	if (e == AIRLOCK_OK && p->size > slot.capacity)
		e = AIRLOCK_ERR_NO_SPACE;
	if (e == AIRLOCK_OK)
		e = airlock_payload_check_init(&chk, p, NULL);
	/* Checked first, written after: nothing unverified reaches the slot. */
	for (int pass = 0; e == AIRLOCK_OK && pass < 2; pass++) {
		uint64_t off = 0;
		ssize_t n;
		while (e == AIRLOCK_OK && (n = pread(fd, buf, 1u << 20, (off_t)off)) > 0) {
			e = pass == 0 ? airlock_payload_check_update(&chk, buf, (size_t)n)
				      : airlock_slot_write(&slot, off, buf, (size_t)n);
			off += (uint64_t)n;
		}
		if (e == AIRLOCK_OK && pass == 0)
			e = airlock_payload_check_final(&chk, NULL);
	}
	if (e == AIRLOCK_OK)
		e = airlock_slot_sync(&slot);
	airlock_slot_close(&slot);
	if (fd >= 0)
		close(fd);
	free(buf);
	return e;
}

int cmd_provision(struct agent *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "release", required_argument, NULL, 'r' },
		{ "image", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *release = NULL, *image = NULL;
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 'r')
			release = optarg;
		else if (ch == 'i')
			image = optarg;
		else
			return AGENT_EXIT_USAGE;
	}
	if (!release || optind != argc) {
		fprintf(stderr, "usage: airlockd provision --release REL [--image FILE]\n");
		return AGENT_EXIT_USAGE;
	}
	struct agent_device d;
	airlock_err e = agent_device_open(a, &d);
	if (e != AIRLOCK_OK)
		return agent_exit_code(e);
	static uint8_t buf[AIRLOCK_RELEASE_MAX_LEN];
	size_t len;
	struct airlock_release rel;
	const struct airlock_payload *p = NULL;
	uint8_t digest[AIRLOCK_SHA256_LEN];
	struct airlock_release_policy rp = { .hardware = a->cfg.hardware, .now = local_now(a) };
	unsigned slot = d.u.rec.good;
	char path[AGENT_PATH_MAX + 32], version[AIRLOCK_MAX_NAME_LEN + 1];
	e = airlock_file_read_small(release, buf, sizeof buf, &len);
	if (e == AIRLOCK_OK)
		e = airlock_release_verify(&a->root, buf, len, &rp, &rel, digest, NULL);
	if (e == AIRLOCK_OK)
		e = agent_pick_payload(a, &rel, &p);
	if (e == AIRLOCK_OK && image)
		e = write_image(a, slot, p, image);
	agent_slot_release_path(a, slot, path, sizeof path);
	if (e == AIRLOCK_OK)
		e = airlock_file_write_atomic(path, buf, len);
	snprintf(version, sizeof version, "%.*s", (int)rel.version.len, rel.version.ptr);
	if (e == AIRLOCK_OK)
		e = airlock_updater_set_slot(&d.u, slot, version, digest, rel.security_version);
	if (e == AIRLOCK_OK && rel.security_version > d.u.rec.secver)
		e = airlock_bootctl_mark_good(&d.ctl, slot, rel.security_version);
	struct airlock_event ev;
	if (e == AIRLOCK_OK)
		e = airlock_updater_recover(&d.u, slot, &ev);   /* the state file mirrors the counter */
	if (e == AIRLOCK_OK) {
		agent_log(AGENT_INFO, "provision", AIRLOCK_OK, "slot %s holds release %s (security version %" PRIu64 ")",
			  airlock_slot_name(slot), version, rel.security_version);
		printf("slot %s provisioned with release %s\n", airlock_slot_name(slot), version);
	} else {
		agent_log(AGENT_ERROR, "provision", e, "cannot provision slot %s from %s%s%s", airlock_slot_name(slot),
			  release, image ? " and " : "", image ? image : "");
	}
	agent_device_close(&d);
	return agent_exit_code(e);
}
