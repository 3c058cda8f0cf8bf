/* Queued, idempotent reports to the server (report.h). */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "airlock/fault.h"
#include "airlock/hex.h"
#include "log.h"
#include "report.h"

#define REPORT_MAX 8192

static void queue_dir(const struct agent *a, char *out, size_t cap)
{
	agent_path(a, "queue", out, cap);
}

static int is_report(const struct dirent *d)
{
	size_t n = strlen(d->d_name);
	return n == 21 && strcmp(d->d_name + 16, ".json") == 0;
}

/* Queued file names, oldest first; the caller frees. */
static int list_queue(const struct agent *a, struct dirent ***names)
{
	char dir[AGENT_PATH_MAX + 32];
	queue_dir(a, dir, sizeof dir);
	return scandir(dir, names, is_report, alphasort);
}

static void free_list(struct dirent **names, int n)
{
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

unsigned agent_report_queued(const struct agent *a)
{
	struct dirent **names;
	int n = list_queue(a, &names);
	if (n < 0)
		return 0;
	free_list(names, n);
	return (unsigned)n;
}

/* Keeps the queue below its bound: the oldest reports go first. */
static void trim_queue(struct agent *a)
{
	struct dirent **names;
	char dir[AGENT_PATH_MAX + 32], path[AGENT_PATH_MAX + 320];
	int n = list_queue(a, &names);
	if (n < 0)
		return;
	queue_dir(a, dir, sizeof dir);
	for (int i = 0; i < n && (unsigned)(n - i) >= a->cfg.queue_max; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		unlink(path);
		agent_log(AGENT_WARN, "report", AIRLOCK_OK, "report queue full: dropped %s", names[i]->d_name);
	}
	free_list(names, n);
}

void agent_report(struct agent *a, int64_t deployment, const char *state, int progress, airlock_err err,
		  const char *msg)
{
	uint8_t rnd[16];
	char id[33], dir[AGENT_PATH_MAX + 32], path[AGENT_PATH_MAX + 320], error[257], tail[4097];
	if (airlock_random(rnd, sizeof rnd) != AIRLOCK_OK)
		return;
	airlock_hex_encode(rnd, sizeof rnd, id);
	json_t *o = json_pack("{s:s,s:s}", "event_id", id, "state", state);
	if (!o)
		return;
	if (deployment > 0)
		json_object_set_new(o, "deployment", json_integer(deployment));
	if (progress >= 0 && progress <= 100)
		json_object_set_new(o, "progress", json_integer(progress));
	if (err != AIRLOCK_OK) {
		snprintf(error, sizeof error, "%s: %.200s", airlock_err_name(err), msg ? msg : "");
		json_object_set_new(o, "error", json_string(error));
		agent_log_tail(tail, 2048);
		json_object_set_new(o, "log_tail", json_string(tail));
	}
	char *text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return;
	queue_dir(a, dir, sizeof dir);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		agent_log(AGENT_WARN, "report", AIRLOCK_ERR_IO_OPEN, "cannot create %s", dir);
	trim_queue(a);
	a->st.event_seq++;
	snprintf(path, sizeof path, "%s/%016" PRIx64 ".json", dir, a->st.event_seq);
	/* The sequence is saved before the report: a reused number after a
	 * crash would overwrite an undelivered report. */
	if (agent_state_save(a) != AIRLOCK_OK || airlock_file_write_atomic(path, text, strlen(text)) != AIRLOCK_OK)
		agent_log(AGENT_WARN, "report", AIRLOCK_ERR_IO_WRITE, "cannot queue a report");
	free(text);
}

/* One delivery: OK (recorded, or refused for good: dropped) or a retryable error. */
static airlock_err deliver(struct agent *a, const char *path)
{
	char body[REPORT_MAX + 1], url[AIRLOCK_MAX_URL_LEN + 64];
	size_t len;
	airlock_err e = airlock_file_read_small(path, body, REPORT_MAX, &len);
	if (e != AIRLOCK_OK) {
		unlink(path);   /* unreadable: it can never be delivered */
		return AIRLOCK_OK;
	}
	body[len] = '\0';
	snprintf(url, sizeof url, "%s/api/v1/device/events", a->cfg.url);
	struct agent_buf ans;
	e = agent_http_post_json(&a->http, url, body, 4096, &ans);
	agent_buf_free(&ans);
	if (e == AIRLOCK_ERR_HTTP_STATUS && a->http.status >= 400 && a->http.status < 500 &&
	    a->http.status != 429 && a->http.status != 408) {
		/* The server will never take it (a deployment no longer ours, say). */
		agent_log(AGENT_WARN, "report", e, "server refused a report: %s", a->http.detail);
		e = AIRLOCK_OK;
	}
	if (e == AIRLOCK_OK)
		unlink(path);
	return e;
}

airlock_err agent_report_flush(struct agent *a)
{
	struct dirent **names;
	char dir[AGENT_PATH_MAX + 32], path[AGENT_PATH_MAX + 320];
	if (!a->http_ready || !a->cfg.url[0])
		return AIRLOCK_ERR_NETWORK;
	int n = list_queue(a, &names);
	if (n < 0)
		return AIRLOCK_OK;   /* no queue directory: nothing to send */
	queue_dir(a, dir, sizeof dir);
	airlock_err e = AIRLOCK_OK;
	for (int i = 0; i < n && e == AIRLOCK_OK; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
		e = deliver(a, path);
	}
	free_list(names, n);
	if (e != AIRLOCK_OK)
		agent_log(AGENT_WARN, "report", e, "reports kept for later: %s", a->http.detail);
	return e;
}
