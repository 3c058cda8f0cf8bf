/*
 * airlockd's local event log: one JSON object per line
 *   {"time": epoch, "level": "info|warn|error", "event": "...", "error": "AIRLOCK_ERR_...", "msg": "..."}
 * in a file of mode 0600, rotated to PATH.1 when it exceeds its size limit,
 * mirrored to syslog (LOG_DAEMON) and to stderr. Logging never fails the
 * caller: a log that cannot be written is reported once on stderr.
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "airlock/error.h"

enum agent_level { AGENT_INFO, AGENT_WARN, AGENT_ERROR };

/* path may be "" (no file). */
void agent_log_open(const char *path, uint64_t max_bytes, bool use_syslog, bool to_stderr);
void agent_log_close(void);

/* err is AIRLOCK_OK for an event without an error. */
void agent_log(enum agent_level level, const char *event, airlock_err err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The last `cap - 1` bytes of the log file (a report's log tail). */
void agent_log_tail(char *out, size_t cap);

#endif
