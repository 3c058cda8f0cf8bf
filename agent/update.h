/*
 * One update, from a verified release to an armed trial slot, whatever the
 * bytes come from: the server (the directive's URLs, HTTP Range resume) or
 * an offline bundle (a file). Both are a `struct agent_source`.
 *
 *   select the payload -> bootstate install_begin (ROLLBACK, STATE) ->
 *   content key unwrapped (encrypted releases) -> chunk-digest list fetched
 *   and checked against the signed digest -> stream into the inactive slot
 *   through the install pipeline (every chunk verified before it is written),
 *   checkpointing the resume record -> finish (final digest) -> the slot's
 *   release stored -> bootstate install_done (armed for a trial boot).
 *
 * Transient failures (NETWORK, TOO_SLOW, HTTP_STATUS 5xx) keep the install
 * resumable; every other failure abandons it (the target slot stays invalid,
 * the running slot is never touched) and is reported as failed.
 */
#ifndef AGENT_UPDATE_H
#define AGENT_UPDATE_H

#include "agent.h"
#include "airlock/bootstate.h"

struct agent_source {
	/* The payload's chunk-digest list into buf (exactly len bytes expected). */
	airlock_err (*chunks)(struct agent_source *s, const struct airlock_payload *p, uint8_t *buf, size_t len);
	/* Stream bytes [offset, total) of the payload's artifact to sink. */
	airlock_err (*stream)(struct agent_source *s, const struct airlock_payload *p, uint64_t offset, uint64_t total,
			      agent_http_sink sink, void *ctx, uint64_t *received);
	const char *what;         /* "server" or the bundle's path, for messages */
	char detail[512];         /* why the last call failed */
	bool resumable;           /* transient failures may be resumed (the network) */
	void *impl;
};

struct agent_update {
	const uint8_t *release_buf;   /* the signed release, verified */
	size_t release_len;
	const struct airlock_release *rel;
	const uint8_t *release_digest;
	const uint8_t *wrapped_key;   /* CBOR wrapped content key, or NULL */
	size_t wrapped_len;
	int64_t deployment;           /* for reports; 0 offline */
};

/* Exit status of airlockd when a reboot into the trial slot is due. */
#define AGENT_EXIT_REBOOT 10

/*
 * Runs the update. *reboot is set when the trial slot is armed. Reports
 * every step and the outcome. The payload: [slots] payload, or the
 * release's only one.
 */
AIRLOCK_MUST_USE airlock_err agent_update_run(struct agent *a, struct airlock_updater *u,
					      const struct agent_update *up, struct agent_source *src,
					      bool *reboot);

/* Picks the payload to install (NOT_FOUND, or BAD_VALUE for an ambiguous release). */
AIRLOCK_MUST_USE airlock_err agent_pick_payload(const struct agent *a, const struct airlock_release *rel,
						const struct airlock_payload **out);

/* Whether an error is worth a retry later (the install stays resumable). */
bool agent_err_transient(airlock_err e);

/* state_dir/slot-X.release: the signed release of the image in slot X. */
void agent_slot_release_path(const struct agent *a, unsigned slot, char *out, size_t cap);

#endif
