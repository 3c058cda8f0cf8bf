/*
 * The server's application metrics, for Prometheus (GET /metrics on the
 * plain local health listener, next to the HTTP layer's own airlock_http_*
 * series).
 *
 * Counters are process-wide relaxed atomics: the request path only adds,
 * never locks and never allocates. They start at zero with the process, as
 * Prometheus counters do. The fleet gauges (devices, deployments, devices
 * per deployment state) come from the database at scrape time, at most once
 * a second; a scrape within that second reuses the last figures.
 *
 * Every series and label value is fixed here, so the output has a bounded
 * number of lines whatever clients send (no path, id or address becomes a
 * label).
 */
#ifndef AIRLOCK_SERVER_METRICS_H
#define AIRLOCK_SERVER_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct app;

/* Route classes: the label "route" of the request series. */
enum metrics_route {
	MR_HEALTH,
	MR_METRICS,
	MR_ENROLL,
	MR_CHECKIN,
	MR_EVENTS,
	MR_ARTIFACT,
	MR_ROOT,
	MR_UPLOAD,   /* PUT of a payload or chunk list */
	MR_ADMIN,    /* tokens, enrollment tokens, devices, releases, deployments */
	MR_AUDIT,
	MR_OTHER,    /* no such endpoint */
	MR_COUNT,
};

/* Why an authentication or authorization check failed: the label "reason". */
enum metrics_auth {
	MA_NO_CERT,          /* device route without a client certificate */
	MA_BAD_CERT,         /* certificate presented but refused (CA, dates, usage, CRL) */
	MA_UNKNOWN_CERT,     /* a fleet certificate that belongs to no device */
	MA_REVOKED,          /* certificate of a revoked device */
	MA_TOKEN,            /* bearer token missing, unknown, expired or revoked */
	MA_SCOPE,            /* token without the needed scope */
	MA_ENROLL_TOKEN,     /* enrollment token unknown, used or expired */
	MA_NOT_ASSIGNED,     /* a device asked for an artifact not deployed to it */
	MA_IDENTITY,         /* a body naming another device than the certificate */
	MA_COUNT,
};

/* Route class of a request path (as http_request_path() gives it). */
enum metrics_route metrics_route_of(const char *path, bool is_put);

/* One answered (status 100..599) or abandoned (status 0) request of a
 * route class, and its duration in microseconds. */
void metrics_request(enum metrics_route route, unsigned status, uint64_t dur_us);
/* A check-in answered with a directive (install: it names a release). */
void metrics_checkin(bool install);
/* A device report stored (duplicate = false) or recognised as a retry. */
void metrics_report(bool duplicate);
/* An enrollment that issued a certificate (ok) or was refused. */
void metrics_enrollment(bool ok);
/* An artifact response (200/206) sent whole (bytes counted) or cut off. */
void metrics_download(bool complete, uint64_t bytes);
void metrics_auth_failure(enum metrics_auth why);
/* A request refused with 429 after too many authentication failures. */
void metrics_rate_limited(void);

/* Writes the application series in the text exposition format (0.0.4),
 * querying the fleet gauges through app's database if the cached ones are
 * older than a second. Never fails: a database error is reported as
 * airlock_fleet_scrape_ok 0 and the gauges are left out. */
void metrics_write(struct app *app, FILE *out);

#endif
