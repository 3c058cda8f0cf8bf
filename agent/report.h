/*
 * Reports to the server (POST /api/v1/device/events): every step of an
 * update and every refusal. A report is first written to the on-disk queue
 * (state_dir/queue, one file per report, at most [agent] queue_max: the
 * oldest is dropped beyond that), then delivered in order; a report the
 * server cannot take now (network, 5xx, 429) stays queued and is retried at
 * the next flush. Each carries a random event_id fixed when it is queued, so
 * a retry of a report the server did record is counted once (idempotency).
 */
#ifndef AGENT_REPORT_H
#define AGENT_REPORT_H

#include "agent.h"

/* Server states: pending downloading installing rebooting succeeded failed rolled-back. */
void agent_report(struct agent *a, int64_t deployment, const char *state, int progress, airlock_err err,
		  const char *msg);

/* Delivers queued reports; AIRLOCK_OK when the queue is empty afterwards
 * (what is left stays queued and is logged: callers may ignore the result). */
airlock_err agent_report_flush(struct agent *a);

/* Reports still queued. */
unsigned agent_report_queued(const struct agent *a);

#endif
