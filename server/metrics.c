/*
 * Application metrics (see metrics.h): relaxed atomic counters on the
 * request path, the text exposition format at scrape time.
 */
#include "metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "app.h"

/* Histogram bounds, microseconds, with their label text (seconds). */
#define N_BUCKETS 14
static const uint64_t bound_us[N_BUCKETS] = { 500,    1000,    2500,    5000,    10000,   25000,   50000,
					      100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000 };
static const char *const bound_txt[N_BUCKETS] = { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05",
						  "0.1",    "0.25",  "0.5",    "1",     "2.5",  "5",     "10" };

/* Status classes: [0] no answer (abandoned), [1..5] 1xx..5xx. */
#define N_CLASSES 6

static const char *const route_names[MR_COUNT] = { "health", "metrics", "enroll", "checkin", "events", "artifact",
						   "root",   "upload",  "admin",  "audit",   "other" };
static const char *const class_names[N_CLASSES] = { "none", "1xx", "2xx", "3xx", "4xx", "5xx" };
static const char *const auth_names[MA_COUNT] = { "no_certificate", "bad_certificate", "unknown_certificate",
						  "revoked_device", "bad_token",       "token_scope",
						  "enroll_token",   "not_assigned",    "identity_mismatch" };

static struct {
	atomic_uint_fast64_t requests[MR_COUNT][N_CLASSES];
	atomic_uint_fast64_t hist[MR_COUNT][N_BUCKETS + 1];  /* non-cumulative; [N_BUCKETS]: above the last */
	atomic_uint_fast64_t dur_us[MR_COUNT];
	atomic_uint_fast64_t checkins[2];                  /* none, install */
	atomic_uint_fast64_t reports[2];                   /* recorded, duplicate */
	atomic_uint_fast64_t enrollments[2];               /* refused, ok */
	atomic_uint_fast64_t downloads[2];                 /* aborted, complete */
	atomic_uint_fast64_t download_bytes;
	atomic_uint_fast64_t auth[MA_COUNT];
	atomic_uint_fast64_t rate_limited;
} m;

static void add(atomic_uint_fast64_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static unsigned long long get(atomic_uint_fast64_t *c)
{
	return (unsigned long long)atomic_load_explicit(c, memory_order_relaxed);
}

enum metrics_route metrics_route_of(const char *path, bool is_put)
{
	static const char api[] = "/api/v1/";
	if (strcmp(path, "/healthz") == 0)
		return MR_HEALTH;
	if (strcmp(path, "/metrics") == 0)
		return MR_METRICS;
	if (strncmp(path, api, sizeof api - 1) != 0)
		return MR_OTHER;
	const char *p = path + sizeof api - 1;
	if (strcmp(p, "enroll") == 0)
		return MR_ENROLL;
	if (strcmp(p, "device/checkin") == 0)
		return MR_CHECKIN;
	if (strcmp(p, "device/events") == 0)
		return MR_EVENTS;
	if (strncmp(p, "artifacts/", 10) == 0)
		return MR_ARTIFACT;
	if (strcmp(p, "root") == 0)
		return MR_ROOT;
	if (strncmp(p, "releases/", 9) == 0 && is_put)
		return MR_UPLOAD;
	if (strcmp(p, "audit") == 0 || strncmp(p, "audit/", 6) == 0)
		return MR_AUDIT;
	static const char *const admin[] = { "tokens", "enroll-tokens", "devices", "releases", "deployments" };
	for (size_t i = 0; i < sizeof admin / sizeof admin[0]; i++) {
		size_t n = strlen(admin[i]);
		if (strncmp(p, admin[i], n) == 0 && (p[n] == '\0' || p[n] == '/'))
			return MR_ADMIN;
	}
	return MR_OTHER;
}

void metrics_request(enum metrics_route route, unsigned status, uint64_t dur_us)
{
	if ((unsigned)route >= MR_COUNT)
		route = MR_OTHER;
	unsigned cls = status >= 100 && status <= 599 ? status / 100 : 0;
	add(&m.requests[route][cls], 1);
	unsigned b = 0;
	while (b < N_BUCKETS && dur_us > bound_us[b])
		b++;
	add(&m.hist[route][b], 1);
	add(&m.dur_us[route], dur_us);
}

void metrics_checkin(bool install) { add(&m.checkins[install], 1); }
void metrics_report(bool duplicate) { add(&m.reports[duplicate], 1); }
void metrics_enrollment(bool ok) { add(&m.enrollments[ok], 1); }
void metrics_rate_limited(void) { add(&m.rate_limited, 1); }

void metrics_download(bool complete, uint64_t bytes)
{
	add(&m.downloads[complete], 1);
	if (complete)
		add(&m.download_bytes, bytes);
}

void metrics_auth_failure(enum metrics_auth why)
{
	if ((unsigned)why < MA_COUNT)
		add(&m.auth[why], 1);
}

/* ---- the fleet gauges, from the database ---- */

static const char *const device_states[] = { "pending", "downloading", "installing", "rebooting",
					     "succeeded", "failed",      "rolled-back" };
#define N_DD_STATES (sizeof device_states / sizeof device_states[0])
static const char *const device_statuses[] = { "registered", "active", "revoked" };
#define N_DEVICE_STATUSES (sizeof device_statuses / sizeof device_statuses[0])
static const char *const deployment_statuses[] = { "active", "cancelled" };

struct fleet {
	bool ok;
	int64_t taken_ms;                 /* monotonic; 0: never */
	int64_t dd[N_DD_STATES];
	int64_t devices[N_DEVICE_STATUSES];
	int64_t deployments[2];
};

static pthread_mutex_t fleet_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fleet fleet_cache;

struct tally {
	const char *const *names;
	size_t n;
	int64_t *out;
};

/* Rows (name, count): adds each known name's count; unknown names are
 * left out so that the label set stays fixed. */
static int take_tally(void *ctx, const struct db_row *row)
{
	struct tally *t = ctx;
	if (row->n < 2 || row->col[0].type != DB_TEXT || row->col[1].type != DB_INT)
		return 0;
	for (size_t i = 0; i < t->n; i++)
		if (strcmp(row->col[0].s, t->names[i]) == 0)
			t->out[i] += row->col[1].i;
	return 0;
}

static bool tally(struct db_conn *c, const char *sql, const char *const *names, size_t n, int64_t *out)
{
	struct tally t = { names, n, out };
	return db_exec(c, sql, NULL, 0, take_tally, &t, NULL) == DB_OK;
}

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void fleet_refresh(struct app *app, struct fleet *f)
{
	memset(f, 0, sizeof *f);
	struct db_conn *c = db_acquire(app->db);
	f->ok = tally(c, "SELECT status, COUNT(*) FROM devices GROUP BY status", device_statuses, N_DEVICE_STATUSES,
		      f->devices) &&
		tally(c, "SELECT status, COUNT(*) FROM deployments GROUP BY status", deployment_statuses, 2,
		      f->deployments) &&
		/* Only active deployments: a cancelled one's states are history. */
		tally(c, "SELECT dd.state, COUNT(*) FROM device_deployments dd JOIN deployments d"
			 " ON d.id = dd.deployment_id WHERE d.status = 'active' GROUP BY dd.state",
		      device_states, N_DD_STATES, f->dd);
	db_release(app->db, c);
	f->taken_ms = mono_ms();
}

static void write_fleet(struct app *app, FILE *out)
{
	struct fleet f;
	pthread_mutex_lock(&fleet_lock);
	if (fleet_cache.taken_ms == 0 || mono_ms() - fleet_cache.taken_ms >= 1000 || !fleet_cache.ok)
		fleet_refresh(app, &fleet_cache);
	f = fleet_cache;
	pthread_mutex_unlock(&fleet_lock);

	fprintf(out, "# HELP airlock_fleet_scrape_ok Whether the fleet gauges below could be read from the database.\n"
		     "# TYPE airlock_fleet_scrape_ok gauge\nairlock_fleet_scrape_ok %d\n", f.ok ? 1 : 0);
	if (!f.ok)
		return;
	fputs("# HELP airlock_devices Devices by status (registered: waiting for its manufacturer certificate).\n"
	      "# TYPE airlock_devices gauge\n", out);
	for (size_t i = 0; i < N_DEVICE_STATUSES; i++)
		fprintf(out, "airlock_devices{status=\"%s\"} %lld\n", device_statuses[i], (long long)f.devices[i]);
	fputs("# HELP airlock_deployments Deployments by status.\n# TYPE airlock_deployments gauge\n", out);
	for (size_t i = 0; i < 2; i++)
		fprintf(out, "airlock_deployments{status=\"%s\"} %lld\n", deployment_statuses[i],
			(long long)f.deployments[i]);
	fputs("# HELP airlock_deployment_devices Devices of active deployments, by their state in it.\n"
	      "# TYPE airlock_deployment_devices gauge\n", out);
	for (size_t i = 0; i < N_DD_STATES; i++)
		fprintf(out, "airlock_deployment_devices{state=\"%s\"} %lld\n", device_states[i], (long long)f.dd[i]);
}

/* ---- exposition ---- */

static void write_requests(FILE *out)
{
	fputs("# HELP airlock_requests_total Requests by route class and status class (none: abandoned unanswered).\n"
	      "# TYPE airlock_requests_total counter\n", out);
	for (unsigned r = 0; r < MR_COUNT; r++)
		for (unsigned c = 0; c < N_CLASSES; c++)
			fprintf(out, "airlock_requests_total{route=\"%s\",code=\"%s\"} %llu\n", route_names[r],
				class_names[c], get(&m.requests[r][c]));
	fputs("# HELP airlock_request_duration_seconds From the request's headers to the end of its answer, by route class.\n"
	      "# TYPE airlock_request_duration_seconds histogram\n", out);
	for (unsigned r = 0; r < MR_COUNT; r++) {
		unsigned long long cum = 0;
		for (unsigned b = 0; b < N_BUCKETS; b++) {
			cum += get(&m.hist[r][b]);
			fprintf(out, "airlock_request_duration_seconds_bucket{route=\"%s\",le=\"%s\"} %llu\n",
				route_names[r], bound_txt[b], cum);
		}
		cum += get(&m.hist[r][N_BUCKETS]);
		unsigned long long us = get(&m.dur_us[r]);
		fprintf(out,
			"airlock_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
			"airlock_request_duration_seconds_sum{route=\"%s\"} %llu.%06llu\n"
			"airlock_request_duration_seconds_count{route=\"%s\"} %llu\n",
			route_names[r], cum, route_names[r], us / 1000000, us % 1000000, route_names[r], cum);
	}
}

static void write_pair(FILE *out, const char *name, const char *help, const char *label, const char *l0,
		       const char *l1, atomic_uint_fast64_t *v)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s counter\n%s{%s=\"%s\"} %llu\n%s{%s=\"%s\"} %llu\n", name, help, name, name,
		label, l0, get(&v[0]), name, label, l1, get(&v[1]));
}

void metrics_write(struct app *app, FILE *out)
{
	write_requests(out);
	write_pair(out, "airlock_checkins_total", "Check-ins answered with a signed directive.", "directive", "none",
		   "install", m.checkins);
	write_pair(out, "airlock_device_reports_total", "Device state reports: stored, or recognised as a retry.",
		   "result", "recorded", "duplicate", m.reports);
	write_pair(out, "airlock_enrollments_total", "Enrollment requests: certificate issued, or refused.", "result",
		   "refused", "ok", m.enrollments);
	write_pair(out, "airlock_downloads_total", "Artifact downloads (200 or 206): sent whole, or cut off.", "result",
		   "aborted", "complete", m.downloads);
	fprintf(out, "# HELP airlock_download_bytes_total Artifact bytes of downloads sent whole.\n"
		     "# TYPE airlock_download_bytes_total counter\nairlock_download_bytes_total %llu\n",
		get(&m.download_bytes));
	fputs("# HELP airlock_auth_failures_total Refused authentication or authorization, by reason.\n"
	      "# TYPE airlock_auth_failures_total counter\n", out);
	for (unsigned i = 0; i < MA_COUNT; i++)
		fprintf(out, "airlock_auth_failures_total{reason=\"%s\"} %llu\n", auth_names[i], get(&m.auth[i]));
	fprintf(out, "# HELP airlock_auth_rate_limited_total Requests refused (429) after too many authentication failures.\n"
		     "# TYPE airlock_auth_rate_limited_total counter\nairlock_auth_rate_limited_total %llu\n",
		get(&m.rate_limited));
	write_fleet(app, out);
}
