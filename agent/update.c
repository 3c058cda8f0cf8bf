/* One update into the inactive slot (update.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "airlock/fault.h"
#include "airlock/hex.h"
#include "airlock/install.h"
#include "airlock/keywrap.h"
#include "log.h"
#include "report.h"
#include "update.h"

/* A resume record every this many stream bytes: a kill loses at most this.
 * Only for a resumable source (the network): a local bundle is re-read from
 * its start as fast as a resume re-reads the slot, so there the records, and
 * their three fsyncs each, would buy nothing. */
#define CHECKPOINT_BYTES (4u * 1024u * 1024u)
/* ...and at most one per this many milliseconds: on a fast link each record
 * (a slot fsync, a file fsync, a directory fsync) stalled the stream every
 * 4 MiB; a kill then loses at most a second of transfer instead. */
#define CHECKPOINT_MIN_MS 1000
/* The chunk-digest list is held in memory: 32 bytes per chunk, capped. */
#define CHUNK_LIST_MAX (64u * 1024u * 1024u)
/* Retries of a transient failure within one run, before waiting for the next check-in. */
#define STREAM_TRIES 3

bool agent_err_transient(airlock_err e)
{
	return e == AIRLOCK_ERR_NETWORK || e == AIRLOCK_ERR_TOO_SLOW || e == AIRLOCK_ERR_HTTP_STATUS ||
	       e == AIRLOCK_ERR_BAD_RANGE || e == AIRLOCK_ERR_CANCELLED || e == AIRLOCK_ERR_TLS;
}

void agent_slot_release_path(const struct agent *a, unsigned slot, char *out, size_t cap)
{
	char name[32];
	snprintf(name, sizeof name, "slot-%s.release.cbor", airlock_slot_name(slot));
	agent_path(a, name, out, cap);
}

airlock_err agent_pick_payload(const struct agent *a, const struct airlock_release *rel,
			       const struct airlock_payload **out)
{
	if (a->cfg.payload[0]) {
		*out = airlock_release_find_payload(rel, a->cfg.payload, strlen(a->cfg.payload));
		return *out ? AIRLOCK_OK : AIRLOCK_ERR_NOT_FOUND;
	}
	if (rel->n_payloads != 1)
		return AIRLOCK_ERR_BAD_VALUE;   /* several payloads: [slots] payload must say which */
	*out = &rel->payloads[0];
	return AIRLOCK_OK;
}

static airlock_err unwrap_key(struct agent *a, const struct agent_update *up, uint8_t key[AIRLOCK_CONTENT_KEY_LEN],
			      char *detail, size_t cap)
{
	struct airlock_cbor_dec d;
	struct airlock_wrapped_key w;
	struct airlock_privkey *k = NULL;
	if (!up->wrapped_key) {
		snprintf(detail, cap, "encrypted release but no content key wrapped for this device");
		return AIRLOCK_ERR_KEY_UNWRAP;
	}
	if (!a->cfg.wrap_key[0]) {
		snprintf(detail, cap, "encrypted release but [device] wrap_key is not configured");
		return AIRLOCK_ERR_KEY_UNWRAP;
	}
	airlock_cbor_dec_init(&d, up->wrapped_key, up->wrapped_len);
	airlock_err e = airlock_keywrap_decode(&d, &w);
	if (e == AIRLOCK_OK)
		e = airlock_cbor_dec_finish(&d);
	if (e != AIRLOCK_OK) {
		snprintf(detail, cap, "wrapped content key is malformed");
		return e;
	}
	e = airlock_privkey_load(a->cfg.wrap_key, &k);
	if (e != AIRLOCK_OK) {
		snprintf(detail, cap, "cannot load wrap key %.600s", a->cfg.wrap_key);
		return e;
	}
	e = airlock_keywrap_open(&w, k, key);
	airlock_privkey_free(k);
	if (e != AIRLOCK_OK)
		snprintf(detail, cap, "content key is not wrapped for this device's key, or was altered");
	return e;
}

/* The verified chunk list: the cached copy if it still verifies, else fetched. */
static airlock_err load_chunks(struct agent *a, struct agent_source *src, const struct airlock_payload *p,
			       uint8_t **list, size_t *len, char *detail, size_t cap)
{
	uint64_t n;
	char path[AGENT_PATH_MAX + 32];
	airlock_err e = airlock_payload_chunks(p->size, p->chunk_size, &n);
	if (e != AIRLOCK_OK)
		return e;
	if (n > CHUNK_LIST_MAX / AIRLOCK_SHA256_LEN) {
		snprintf(detail, cap, "payload has %" PRIu64 " chunks, more than this agent holds", n);
		return AIRLOCK_ERR_TOO_LARGE;
	}
	*len = (size_t)n * AIRLOCK_SHA256_LEN;
	*list = malloc(*len ? *len : 1);
	if (!*list)
		return AIRLOCK_ERR_NOMEM;
	agent_path(a, "download.chunks", path, sizeof path);
	size_t got;
	/* Cached for a resumed download; a bundle holds its own list. */
	if (src->resumable && airlock_file_read_small(path, *list, *len, &got) == AIRLOCK_OK && got == *len &&
	    airlock_payload_list_verify(p, *list, *len) == AIRLOCK_OK)
		return AIRLOCK_OK;
	e = src->chunks(src, p, *list, *len);
	if (e == AIRLOCK_OK) {
		e = airlock_payload_list_verify(p, *list, *len);
		if (e != AIRLOCK_OK)
			snprintf(detail, cap, "chunk-digest list does not match the signed payload digest");
	} else {
		snprintf(detail, cap, "chunk-digest list: %s", src->detail);
	}
	if (e == AIRLOCK_OK && src->resumable && airlock_file_write_atomic(path, *list, *len) != AIRLOCK_OK)
		agent_log(AGENT_WARN, "download", AIRLOCK_ERR_IO_WRITE, "cannot cache the chunk list");
	if (e != AIRLOCK_OK) {
		free(*list);
		*list = NULL;
	}
	return e;
}

struct feed {
	struct agent *a;
	struct airlock_install *in;
	bool checkpoints;            /* resumable source: save resume records */
	uint64_t since_checkpoint;
	uint64_t last_ms;            /* monotonic time of the last record (or the start) */
	char aip[AGENT_PATH_MAX + 32];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static airlock_err save_checkpoint(struct feed *f)
{
	struct airlock_install_progress rec;
	uint8_t buf[AIRLOCK_INSTALL_PROGRESS_LEN];
	airlock_err e = airlock_install_checkpoint(f->in, &rec);
	if (e != AIRLOCK_OK)
		return e;
	airlock_install_progress_encode(&rec, buf);
	f->since_checkpoint = 0;
	f->last_ms = now_ms();
	return airlock_file_write_atomic(f->aip, buf, sizeof buf);
}

static airlock_err feed_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct feed *f = ctx;
	if (f->a->stop && *f->a->stop)
		return AIRLOCK_ERR_CANCELLED;
	airlock_err e = airlock_install_feed(f->in, p, n);
	if (e != AIRLOCK_OK)
		return e;
	f->since_checkpoint += n;
	if (f->checkpoints && f->since_checkpoint >= CHECKPOINT_BYTES && now_ms() - f->last_ms >= CHECKPOINT_MIN_MS)
		e = save_checkpoint(f);
	return e;
}

/* Re-opens the pipeline at the last durable checkpoint (fresh or after a loss). */
static airlock_err open_pipeline(struct feed *f, const struct airlock_payload *p, const uint8_t *list, size_t len,
				 const uint8_t *key, struct airlock_slot *slot)
{
	struct airlock_install_progress rec;
	uint8_t buf[AIRLOCK_INSTALL_PROGRESS_LEN];
	size_t got;
	airlock_err e = airlock_install_init(f->in, p, list, len, key, slot);
	if (e != AIRLOCK_OK)
		return e;
	if (airlock_file_read_small(f->aip, buf, sizeof buf, &got) != AIRLOCK_OK ||
	    airlock_install_progress_decode(buf, got, &rec) != AIRLOCK_OK)
		return AIRLOCK_OK;   /* no usable record: from the start */
	struct airlock_install_resumed r = { 0 };
	e = airlock_install_resume(f->in, &rec, &r);
	if (e == AIRLOCK_OK && r.restart == AIRLOCK_OK && r.chunk > 0)
		agent_log(AGENT_INFO, "download", AIRLOCK_OK, "resuming at byte %" PRIu64 " (chunk %" PRIu64 ", re-verified)",
			  airlock_install_stream_offset(f->in), r.chunk);
	else if (e == AIRLOCK_OK && r.restart != AIRLOCK_OK)
		agent_log(AGENT_WARN, "download", r.restart, "resume record not usable: starting over");
	return e;
}

static airlock_err stream_payload(struct agent *a, struct agent_source *src, const struct airlock_payload *p,
				  const uint8_t *list, size_t len, const uint8_t *key, struct airlock_slot *slot,
				  char *detail, size_t cap)
{
	struct airlock_install in;
	struct feed f = { .a = a, .in = &in, .checkpoints = src->resumable, .last_ms = now_ms() };
	airlock_err e = AIRLOCK_OK;
	agent_path(a, "download.aip", f.aip, sizeof f.aip);
	for (unsigned attempt = 0; attempt < STREAM_TRIES; attempt++) {
		memset(&in, 0, sizeof in);
		e = open_pipeline(&f, p, list, len, key, slot);
		if (e != AIRLOCK_OK) {
			snprintf(detail, cap, "install pipeline: %s", airlock_strerror(e));
			airlock_install_free(&in);
			return e;
		}
		uint64_t from = airlock_install_stream_offset(&in), total = airlock_install_stream_size(&in), got = 0;
		e = src->stream(src, p, from, total, feed_sink, &f, &got);
		if (e == AIRLOCK_OK)
			e = airlock_install_finish(&in);
		if (e == AIRLOCK_OK) {
			airlock_install_free(&in);
			return AIRLOCK_OK;
		}
		uint64_t pos = airlock_install_position(&in);
		if (!agent_err_transient(e) || !src->resumable) {
			snprintf(detail, cap, "%s at chunk %" PRIu64 "%s%s", airlock_strerror(e), pos,
				 src->detail[0] ? ": " : "", src->detail);
			airlock_install_free(&in);
			return e;
		}
		/* The network failed, the pipeline did not: keep what is verified. */
		if (save_checkpoint(&f) != AIRLOCK_OK)
			agent_log(AGENT_WARN, "download", AIRLOCK_ERR_IO_WRITE, "cannot save the resume record");
		snprintf(detail, cap, "%s after %" PRIu64 " bytes%s%s", airlock_err_name(e), from + got,
			 src->detail[0] ? ": " : "", src->detail);
		airlock_install_free(&in);
		if (e == AIRLOCK_ERR_CANCELLED || (a->stop && *a->stop))
			return AIRLOCK_ERR_CANCELLED;
		if (attempt + 1 < STREAM_TRIES) {
			agent_log(AGENT_WARN, "download", e, "%s; retrying from the last checkpoint", detail);
			sleep(1u << attempt);
		}
	}
	return e;
}

static void clear_download(struct agent *a)
{
	char path[AGENT_PATH_MAX + 32];
	agent_path(a, "download.aip", path, sizeof path);
	unlink(path);
	agent_path(a, "download.chunks", path, sizeof path);
	unlink(path);
}

/* A release already running, or one that failed its trial before, is not installed. */
static airlock_err check_wanted(const struct airlock_updater *u, const uint8_t *digest, char *detail, size_t cap)
{
	unsigned good = u->rec.good;
	const struct airlock_slot_state *g = &u->st.slots[good], *o = &u->st.slots[airlock_slot_other(good)];
	if (g->valid && airlock_ct_equal(g->release_digest, digest, AIRLOCK_SHA256_LEN)) {
		snprintf(detail, cap, "this release is already running");
		return AIRLOCK_ERR_EXISTS;
	}
	if (o->bad && airlock_ct_equal(o->release_digest, digest, AIRLOCK_SHA256_LEN)) {
		snprintf(detail, cap, "this release failed its trial boot before: not retried");
		return AIRLOCK_ERR_STATE;
	}
	return AIRLOCK_OK;
}

static airlock_err begin(struct agent *a, struct airlock_updater *u, const struct agent_update *up,
			 unsigned *target, char *detail, size_t cap)
{
	struct airlock_event ev;
	char version[AIRLOCK_MAX_NAME_LEN + 1];
	snprintf(version, sizeof version, "%.*s", (int)up->rel->version.len, up->rel->version.ptr);
	airlock_err e = airlock_updater_install_begin(u, version, up->release_digest, up->rel->security_version, target,
						      &ev);
	if (e == AIRLOCK_ERR_STATE && u->st.state == AIRLOCK_UPDATE_INSTALLING) {
		/* An unfinished install of another release: abandon it for this one. */
		agent_log(AGENT_INFO, "install", AIRLOCK_OK, "abandoning an unfinished install of another release");
		clear_download(a);
		if (airlock_updater_install_failed(u, AIRLOCK_ERR_CANCELLED, "superseded", &ev) == AIRLOCK_OK)
			e = airlock_updater_install_begin(u, version, up->release_digest, up->rel->security_version,
							  target, &ev);
	}
	if (e != AIRLOCK_OK)
		snprintf(detail, cap, "%s", e == AIRLOCK_ERR_ROLLBACK ? "security version below the device's counter"
									: "an update is already in progress");
	return e;
}

static airlock_err open_slot(struct agent *a, unsigned target, struct airlock_slot *slot, char *detail, size_t cap)
{
	unsigned flags = 0;
	if (strcmp(a->cfg.slot_backend, "block") != 0 && a->cfg.slot_capacity && access(a->cfg.slot_path[target], F_OK))
		flags |= AIRLOCK_SLOT_CREATE;
	airlock_err e = airlock_slot_open(slot, a->cfg.slot_backend, a->cfg.slot_path[target], a->cfg.slot_capacity,
					  flags);
	if (e != AIRLOCK_OK)
		snprintf(detail, cap, "cannot open slot %s (%s)", airlock_slot_name(target), a->cfg.slot_path[target]);
	return e;
}

/* After a verified, synced image: its release next to it, then the trial armed. */
static airlock_err arm(struct agent *a, struct airlock_updater *u, const struct agent_update *up, unsigned target,
		       char *detail, size_t cap)
{
	char path[AGENT_PATH_MAX + 32];
	struct airlock_event ev;
	agent_slot_release_path(a, target, path, sizeof path);
	airlock_err e = airlock_file_write_atomic(path, up->release_buf, up->release_len);
	if (e == AIRLOCK_OK)
		e = airlock_updater_install_done(u, &ev);
	if (e != AIRLOCK_OK)
		snprintf(detail, cap, "cannot arm slot %s for its trial boot", airlock_slot_name(target));
	return e;
}

static airlock_err install(struct agent *a, struct airlock_updater *u, const struct agent_update *up,
			   struct agent_source *src, unsigned target, char *detail, size_t cap)
{
	const struct airlock_payload *p;
	uint8_t key[AIRLOCK_CONTENT_KEY_LEN], *list = NULL;
	size_t list_len = 0;
	struct airlock_slot slot = { .fd = -1 };
	airlock_err e = agent_pick_payload(a, up->rel, &p);
	if (e != AIRLOCK_OK) {
		snprintf(detail, cap, "release has no payload for the slot ([slots] payload)");
		return e;
	}
	if (p->encrypted && (e = unwrap_key(a, up, key, detail, cap)) != AIRLOCK_OK)
		return e;
	e = load_chunks(a, src, p, &list, &list_len, detail, cap);
	if (e == AIRLOCK_OK)
		e = open_slot(a, target, &slot, detail, cap);
	/* Progress reports follow a deployment; an offline install (no
	 * deployment) reports its outcome only, saving two durable writes. */
	if (e == AIRLOCK_OK) {
		if (up->deployment)
			agent_report(a, up->deployment, "downloading", 0, AIRLOCK_OK, NULL);
		e = stream_payload(a, src, p, list, list_len, p->encrypted ? key : NULL, &slot, detail, cap);
	}
	airlock_wipe(key, sizeof key);
	airlock_slot_close(&slot);
	free(list);
	if (e == AIRLOCK_OK) {
		if (up->deployment)
			agent_report(a, up->deployment, "installing", 100, AIRLOCK_OK, NULL);
		e = arm(a, u, up, target, detail, cap);
	}
	return e;
}

airlock_err agent_update_run(struct agent *a, struct airlock_updater *u, const struct agent_update *up,
			     struct agent_source *src, bool *reboot)
{
	char detail[768] = "";
	unsigned target = 0;
	struct airlock_event ev;
	*reboot = false;
	airlock_err e = check_wanted(u, up->release_digest, detail, sizeof detail);
	if (e == AIRLOCK_ERR_EXISTS)
		return AIRLOCK_OK;
	if (e == AIRLOCK_OK)
		e = begin(a, u, up, &target, detail, sizeof detail);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "install", e, "release %.*s refused: %s", (int)up->rel->version.len,
			  up->rel->version.ptr, detail);
		agent_report(a, up->deployment, "failed", -1, e, detail);
		agent_state_error(a, e, detail);
		return e;
	}
	agent_log(AGENT_INFO, "install", AIRLOCK_OK, "installing release %.*s (security version %" PRIu64
		  ") into slot %s from %s", (int)up->rel->version.len, up->rel->version.ptr,
		  up->rel->security_version, airlock_slot_name(target), src->what);
	/* The deployment in flight is durable before the slot can be armed:
	 * after a power cut right behind the arm, the trial's outcome must
	 * still be reported for it (found by tests/fault/test_agent_powercut.sh). */
	a->st.deployment = up->deployment;
	airlock_hex_encode(up->release_digest, AIRLOCK_SHA256_LEN, a->st.deployment_release);
	a->st.trial_slot = target;
	agent_state_save(a);
	e = install(a, u, up, src, target, detail, sizeof detail);
	if (e == AIRLOCK_OK) {
		clear_download(a);
		agent_log(AGENT_INFO, "install", AIRLOCK_OK, "slot %s verified and armed for a trial boot: reboot due",
			  airlock_slot_name(target));
		agent_report(a, up->deployment, "rebooting", 100, AIRLOCK_OK, NULL);
		*reboot = true;
		return AIRLOCK_OK;
	}
	if (agent_err_transient(e) && src->resumable) {
		/* Kept INSTALLING with its resume record: the next check-in goes on. */
		agent_log(AGENT_WARN, "download", e, "%s; will resume", detail);
		agent_report(a, up->deployment, "downloading", -1, e, detail);
		agent_state_error(a, e, detail);
		return e;
	}
	agent_log(AGENT_ERROR, "install", e, "%s", detail);
	clear_download(a);
	if (airlock_updater_install_failed(u, e, detail, &ev) != AIRLOCK_OK)
		agent_log(AGENT_WARN, "state", AIRLOCK_ERR_STATE, "cannot record the failed install");
	agent_report(a, up->deployment, "failed", -1, e, detail);
	a->st.deployment = 0;
	a->st.deployment_release[0] = '\0';
	agent_state_error(a, e, detail);
	return e;
}
