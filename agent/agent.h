/*
 * airlockd's shared context and persistent state. One struct agent lives for
 * the whole process; modules take it by pointer (no globals hold keys).
 *
 * Files in [device] state_dir (each replaced atomically, see fault.h):
 *   root.cbor         the trusted root (follows the signed chain)
 *   agent.json        status: last check-in, last error, the deployment in
 *                     flight (agent_state below)
 *   state             the update state machine and what each slot holds
 *                     (bootstate.h; the boot record itself is the backend's)
 *   slot-a.release.cbor the signed release of the image in each slot, stored
 *   slot-b.release.cbor before the slot is armed (read by the boot stage)
 *   download.aip      the install's resume record (install.h's encoding)
 *   download.chunks   the verified chunk-digest list of that download
 *   queue/            reports not yet delivered (report.h)
 */
#ifndef AGENT_AGENT_H
#define AGENT_AGENT_H

#include <stdbool.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/meta.h"
#include "config.h"
#include "transport.h"

#define AGENT_VERSION "0.1.0"

struct agent_state {
	int64_t last_checkin;       /* epoch of the last successful check-in */
	int64_t latest_time;        /* latest trusted time seen (trusted_clock) */
	char last_error[48];        /* AIRLOCK_ERR_... name, or "" */
	char last_error_msg[256];
	int64_t last_error_time;
	int64_t deployment;         /* deployment being installed or on trial, 0 if none */
	char deployment_release[2 * AIRLOCK_SHA256_LEN + 1];
	unsigned trial_slot;        /* the slot that deployment went to */
	uint64_t event_seq;         /* counter in report idempotency keys */
};

struct agent {
	struct agent_config cfg;
	struct agent_state st;
	struct agent_http http;
	bool http_ready;
	uint8_t root_buf[AIRLOCK_ROOT_MAX_LEN];
	size_t root_len;
	struct airlock_root root;
	volatile int *stop;         /* set by SIGTERM: long transfers give up cleanly */
};

/* Paths inside the state directory. */
void agent_path(const struct agent *a, const char *name, char *out, size_t cap);

/* Loads agent.json (a missing file is a fresh state), and the trusted root
 * (state_dir/root.cbor, else the shipped [device] root, verified either way). */
AIRLOCK_MUST_USE airlock_err agent_state_load(struct agent *a);
/* Writes agent.json atomically (a failure is logged too: callers that can
 * go on without the status file may ignore it). */
airlock_err agent_state_save(struct agent *a);
/* Records the last error (and logs it) and saves the state. */
void agent_state_error(struct agent *a, airlock_err err, const char *msg);
/* Replaces the trusted root by buf (already verified as the next one). */
AIRLOCK_MUST_USE airlock_err agent_root_store(struct agent *a, const uint8_t *buf, size_t len);

#endif
