/*
 * Routing: which requests exist, who may make them, how their bodies are
 * read. Authentication happens in route(), before any body byte is read.
 */
#include "api.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "metrics.h"
#include "roots.h"
#include "svc.h"
#include "tokens.h"

enum route_id {
	R_NONE,
	R_HEALTH,
	R_METRICS,
	R_ENROLL,
	R_CHECKIN,
	R_EVENTS,
	R_ARTIFACT,
	R_ROOT,
	R_ROOT_VERSION,
	R_TOKENS_CREATE,
	R_TOKENS_LIST,
	R_TOKEN_REVOKE,
	R_ENROLL_TOKENS,
	R_ENROLL_TOKENS_LIST,
	R_ENROLL_TOKEN_REVOKE,
	R_DEVICES,
	R_DEVICE_REGISTER,
	R_DEVICE,
	R_DEVICE_REVOKE,
	R_RELEASE_PUSH,
	R_RELEASES,
	R_UPLOAD,
	R_DEPLOY_CREATE,
	R_DEPLOYMENTS,
	R_DEPLOY_CANCEL,
	R_AUDIT,
	R_AUDIT_CHECKPOINT,
};

/* Auth-failure rate limiting: a fixed one-minute window per client address,
 * in a small hash table (collisions only make two addresses share a budget). */
#define RATE_SLOTS 1024

struct http_app_ctx {
	struct app *app;
	struct http_server *srv;
	pthread_mutex_t lock;
	struct {
		uint32_t hash;
		int64_t window;
		unsigned count;
	} fails[RATE_SLOTS];
};

struct http_app_req {
	enum route_id route;
	struct svc_actor actor;
	struct svc_peer peer;
	char arg[160];           /* the path's variable part */
	char arg2[160];
	bool chunks;
	struct artifact_upload *upload;
	struct svc_result result;
	uint64_t start_us;       /* monotonic, when route() ran: for the latency histogram */
};

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint32_t ip_hash(const char *ip)
{
	uint32_t h = 2166136261u;
	for (; *ip; ip++)
		h = (h ^ (uint8_t)*ip) * 16777619u;
	return h;
}

/* Counts one failure; true if the client is over its budget. */
static bool rate_note_failure(struct http_app_ctx *ctx, const char *ip, bool count)
{
	uint32_t h = ip_hash(ip);
	int64_t window = app_now() / 60;
	pthread_mutex_lock(&ctx->lock);
	unsigned slot = h % RATE_SLOTS;
	if (ctx->fails[slot].hash != h || ctx->fails[slot].window != window) {
		ctx->fails[slot].hash = h;
		ctx->fails[slot].window = window;
		ctx->fails[slot].count = 0;
	}
	if (count)
		ctx->fails[slot].count++;
	bool over = ctx->fails[slot].count > ctx->app->cfg.auth_failures_per_minute;
	pthread_mutex_unlock(&ctx->lock);
	return over;
}

static void respond_result(struct http_request *req, struct svc_result *r)
{
	if (r->code) {
		http_respond_error(req, r->status, r->code, "%s", r->message);
	} else if (r->bytes) {
		http_respond_bytes(req, r->status, r->content_type ? r->content_type : "application/octet-stream",
				   r->bytes, r->bytes_len);
	} else {
		http_respond_json(req, r->status, r->body);
		r->body = NULL;  /* the layer took the reference */
	}
	svc_result_free(r);
}

static void audit_auth_failure(struct http_app_ctx *ctx, struct http_request *req, const char *why)
{
	struct db_conn *c = db_acquire(ctx->app->db);
	app_audit(ctx->app, c, "anonymous", "auth.fail",
		  json_pack("{s:s,s:s,s:s}", "reason", why, "path", http_request_path(req), "ip",
			    http_request_remote_ip(req)));
	db_release(ctx->app->db, c);
}

/* Refuses a client that failed authentication too often. */
static bool rate_limited(struct http_app_ctx *ctx, struct http_request *req)
{
	if (!rate_note_failure(ctx, http_request_remote_ip(req), false))
		return false;
	metrics_rate_limited();
	http_respond_error(req, 429, "too_many_requests", "too many authentication failures; retry later");
	http_response_header(req, "Retry-After", "60");
	return true;
}

static bool fail_auth(struct http_app_ctx *ctx, struct http_request *req, enum metrics_auth kind, unsigned status,
		      const char *code, const char *why)
{
	metrics_auth_failure(kind);
	rate_note_failure(ctx, http_request_remote_ip(req), true);
	audit_auth_failure(ctx, req, why);
	http_respond_error(req, status, code, "%s", why);
	return false;
}

/* A device route: a verified client certificate of the fleet or of a
 * manufacturer CA. Whether it belongs to an active device (or, for a
 * manufacturer certificate, may be bound to a registered one) is the
 * service's check; it gets which CA vouched, the CN and serial. */
static bool need_device(struct http_app_ctx *ctx, struct http_request *req, struct http_app_req *st)
{
	const struct http_client_cert *cert = http_request_cert(req);
	if (cert->state == HTTP_CERT_NONE)
		return fail_auth(ctx, req, MA_NO_CERT, 401, "unauthorized", "a device client certificate is required");
	if (cert->state != HTTP_CERT_VERIFIED) {
		char why[96];
		snprintf(why, sizeof why, "client certificate refused: %s", cert->reason ? cert->reason : "invalid");
		return fail_auth(ctx, req, MA_BAD_CERT, 403, "forbidden", why);
	}
	memcpy(st->peer.cert_sha256, cert->sha256, 32);
	st->peer.ca = cert->anchor == HTTP_ANCHOR_MANUFACTURER ? SVC_CA_MANUFACTURER : SVC_CA_FLEET;
	snprintf(st->peer.cn, sizeof st->peer.cn, "%s", cert->subject_cn);
	snprintf(st->peer.serial_hex, sizeof st->peer.serial_hex, "%s", cert->serial_hex);
	st->peer.not_after = cert->not_after;
	return true;
}

static bool need_token(struct http_app_ctx *ctx, struct http_request *req, struct http_app_req *st, unsigned scope)
{
	struct db_conn *c = db_acquire(ctx->app->db);
	enum token_verdict v = token_check(c, http_request_header(req, "Authorization"), scope, app_now(),
					   st->actor.name, sizeof st->actor.name);
	db_release(ctx->app->db, c);
	switch (v) {
	case TOKEN_OK:
		return true;
	case TOKEN_SCOPE:
		return fail_auth(ctx, req, MA_SCOPE, 403, "forbidden", "the token lacks the scope this request needs");
	case TOKEN_EXPIRED:
		return fail_auth(ctx, req, MA_TOKEN, 401, "unauthorized", "the token has expired");
	case TOKEN_REVOKED:
		return fail_auth(ctx, req, MA_TOKEN, 401, "unauthorized", "the token was revoked");
	case TOKEN_DB:
		http_respond_error(req, 503, "unavailable", "database unavailable");
		return false;
	default:
		return fail_auth(ctx, req, MA_TOKEN, 401, "unauthorized", "a valid bearer token is required");
	}
}

/* Splits "/api/v1/<a>/<b>/<c>/<d>" into at most 4 segments. */
static size_t segments(const char *path, char seg[5][160])
{
	const char *prefix = "/api/v1/";
	size_t n = 0;
	if (strncmp(path, prefix, strlen(prefix)) != 0)
		return 0;
	const char *p = path + strlen(prefix);
	while (*p && n < 5) {
		size_t len = strcspn(p, "/");
		if (len == 0 || len >= 160)
			return 0;
		memcpy(seg[n], p, len);
		seg[n][len] = '\0';
		n++;
		p += len;
		if (*p == '/')
			p++;
		else
			break;
	}
	return *p ? 0 : n;
}

static void route(struct http_app_ctx *ctx, struct http_request *req, struct http_route *rt)
{
	struct http_app_req *st = calloc(1, sizeof *st);
	if (!st) {
		http_respond_error(req, 503, "unavailable", "out of memory");
		return;
	}
	st->start_us = mono_us();
	http_request_set_app(req, st);
	enum http_method m = http_request_method(req);
	const char *path = http_request_path(req);
	bool get = m == HTTP_GET || m == HTTP_HEAD, post = m == HTTP_POST;

	if (get && strcmp(path, "/healthz") == 0) {
		st->route = R_HEALTH;
		return;
	}
	if (http_request_listener(req) == HTTP_LISTENER_PLAIN) {
		if (get && strcmp(path, "/metrics") == 0)
			st->route = R_METRICS;
		else
			http_respond_error(req, 404, "not_found", "only /healthz and /metrics here");
		return;
	}
	if (rate_limited(ctx, req))
		return;
	char seg[5][160];
	size_t n = segments(path, seg);
	rt->body = HTTP_BODY_NONE;
#define IS(k, s) (n > (k) && strcmp(seg[k], s) == 0)
	if (post && n == 1 && IS(0, "enroll")) {
		st->route = R_ENROLL;
		rt->body = HTTP_BODY_BUFFER;
		rt->max_body = 32 * 1024;
	} else if (post && n == 2 && IS(0, "device") && IS(1, "checkin")) {
		if (!need_device(ctx, req, st))
			return;
		st->route = R_CHECKIN;
		rt->body = HTTP_BODY_BUFFER;
		rt->max_body = 4096;
	} else if (post && n == 2 && IS(0, "device") && IS(1, "events")) {
		if (!need_device(ctx, req, st))
			return;
		st->route = R_EVENTS;
		rt->body = HTTP_BODY_BUFFER;
		rt->max_body = 16 * 1024;
	} else if (get && n == 2 && IS(0, "artifacts")) {
		snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
		st->route = R_ARTIFACT;
		/* Devices by certificate, people by a read token. */
		if (http_request_cert(req)->state != HTTP_CERT_NONE || !http_request_header(req, "Authorization")) {
			if (!need_device(ctx, req, st))
				return;
		} else if (!need_token(ctx, req, st, SCOPE_READ)) {
			return;
		}
	} else if (get && n == 1 && IS(0, "root")) {
		st->route = R_ROOT;
	} else if (get && n == 2 && IS(0, "root")) {
		st->route = R_ROOT_VERSION;
		snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
	} else if (n >= 1 && IS(0, "tokens")) {
		if (!need_token(ctx, req, st, SCOPE_ADMIN))
			return;
		if (post && n == 1) {
			st->route = R_TOKENS_CREATE;
			rt->body = HTTP_BODY_BUFFER;
		} else if (get && n == 1) {
			st->route = R_TOKENS_LIST;
		} else if (m == HTTP_DELETE && n == 2) {
			st->route = R_TOKEN_REVOKE;
			snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
		}
	} else if (n >= 1 && IS(0, "enroll-tokens")) {
		if (!need_token(ctx, req, st, SCOPE_ADMIN))
			return;
		if (post && n == 1) {
			st->route = R_ENROLL_TOKENS;
			rt->body = HTTP_BODY_BUFFER;
		} else if (get && n == 1) {
			st->route = R_ENROLL_TOKENS_LIST;
		} else if (m == HTTP_DELETE && n == 2) {
			st->route = R_ENROLL_TOKEN_REVOKE;
			snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
		}
	} else if (n >= 1 && IS(0, "devices")) {
		if (get && n <= 2) {
			if (!need_token(ctx, req, st, SCOPE_READ))
				return;
			st->route = n == 1 ? R_DEVICES : R_DEVICE;
		} else if (post && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_ADMIN))
				return;
			st->route = R_DEVICE_REGISTER;
			rt->body = HTTP_BODY_BUFFER;
			rt->max_body = 4096;
		} else if (post && n == 3 && IS(2, "revoke")) {
			if (!need_token(ctx, req, st, SCOPE_ADMIN))
				return;
			st->route = R_DEVICE_REVOKE;
		}
		if (n >= 2)
			snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
	} else if (n >= 1 && IS(0, "releases")) {
		if (post && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_RELEASE))
				return;
			st->route = R_RELEASE_PUSH;
			rt->body = HTTP_BODY_BUFFER;
			rt->max_body = 256 * 1024;
		} else if (get && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_READ))
				return;
			st->route = R_RELEASES;
		} else if (m == HTTP_PUT && (n == 4 || n == 5) && IS(2, "payloads") && (n == 4 || IS(4, "chunks"))) {
			if (!need_token(ctx, req, st, SCOPE_RELEASE))
				return;
			uint64_t len;
			if (!http_request_content_length(req, &len)) {
				http_respond_error(req, 411, "length_required", "uploads need a Content-Length");
				return;
			}
			snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
			snprintf(st->arg2, sizeof st->arg2, "%s", seg[3]);
			st->chunks = n == 5;
			if (!svc_artifact_upload_begin(ctx->app, &st->actor, st->arg, st->arg2, st->chunks, len, &st->upload,
						       &st->result)) {
				respond_result(req, &st->result);
				return;
			}
			st->route = R_UPLOAD;
			rt->body = HTTP_BODY_STREAM;
			rt->max_body = len;
			/* Large artifacts: a minute plus a second per 10 MB. */
			rt->deadline_s = (unsigned)(60 + len / (10u * 1000 * 1000));
		}
	} else if (n >= 1 && IS(0, "deployments")) {
		if (post && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_DEPLOY))
				return;
			st->route = R_DEPLOY_CREATE;
			rt->body = HTTP_BODY_BUFFER;
		} else if (get && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_READ))
				return;
			st->route = R_DEPLOYMENTS;
		} else if (post && n == 3 && IS(2, "cancel")) {
			if (!need_token(ctx, req, st, SCOPE_DEPLOY))
				return;
			st->route = R_DEPLOY_CANCEL;
			snprintf(st->arg, sizeof st->arg, "%s", seg[1]);
		}
	} else if (n >= 1 && IS(0, "audit")) {
		if (get && n == 1) {
			if (!need_token(ctx, req, st, SCOPE_READ))
				return;
			st->route = R_AUDIT;
		} else if (post && n == 2 && IS(1, "checkpoint")) {
			if (!need_token(ctx, req, st, SCOPE_ADMIN))
				return;
			st->route = R_AUDIT_CHECKPOINT;
		}
	}
#undef IS
	if (st->route == R_NONE)
		http_respond_error(req, 404, "not_found", "no such endpoint: %s %s", http_request_method_name(req), path);
}

static bool body_piece(struct http_app_ctx *ctx, struct http_request *req, const uint8_t *data, size_t len)
{
	struct http_app_req *st = http_request_app(req);
	(void)ctx;
	if (st->route != R_UPLOAD || !st->upload)
		return false;
	if (!svc_artifact_upload_data(st->upload, data, len, &st->result)) {
		svc_artifact_upload_abort(st->upload);
		st->upload = NULL;
		respond_result(req, &st->result);
		return false;
	}
	return true;
}

/* The buffered body as a JSON object (duplicate keys refused). */
static json_t *json_body(struct http_request *req)
{
	size_t len;
	const uint8_t *b = http_request_body(req, &len);
	json_error_t e;
	json_t *j = json_loadb((const char *)b, len, JSON_REJECT_DUPLICATES, &e);
	if (!j)
		http_respond_error(req, 400, "bad_json", "body is not valid JSON: %.80s (line %d)", e.text, e.line);
	return j;
}

/* GET /root/{version}: one link of the stored root chain, for a device
 * walking from the root it trusts to the current one. */
static void serve_root_version(struct http_app_ctx *ctx, struct http_request *req, struct http_app_req *st)
{
	struct svc_result *r = &st->result;
	const char *v = st->arg;
	size_t n = strlen(v);
	bool digits = n > 0 && n <= 19 && (v[0] != '0' || n == 1);
	for (size_t i = 0; digits && i < n; i++)
		digits = v[i] >= '0' && v[i] <= '9';
	if (!digits) {
		svc_fail(r, 400, "bad_request", "root version must be a decimal number");
		respond_result(req, r);
		return;
	}
	uint8_t *buf = NULL;
	size_t len = 0;
	int found = roots_get(ctx->app, strtoull(v, NULL, 10), &buf, &len);
	if (found < 0)
		svc_fail(r, 503, "unavailable", "database unavailable");
	else if (found == 0)
		svc_fail(r, 404, "not_found", "no root version %s", v);
	if (found <= 0) {
		respond_result(req, r);
		return;
	}
	http_respond_bytes(req, 200, "application/cbor", buf, len);
	free(buf);
}

static void serve_artifact(struct http_app_ctx *ctx, struct http_request *req, struct http_app_req *st)
{
	char path[CONFIG_PATH_MAX + 80];
	if (!valid_sha256_hex(st->arg)) {
		http_respond_error(req, 400, "bad_request", "artifact ids are lowercase SHA-256 hex digests");
		return;
	}
	if (http_request_cert(req)->state == HTTP_CERT_VERIFIED &&
	    !svc_device_may_fetch(ctx->app, &st->peer, st->arg, &st->result)) {
		respond_result(req, &st->result);
		return;
	}
	app_artifact_path(ctx->app, st->arg, path, sizeof path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		if (fd >= 0)
			close(fd);
		http_respond_error(req, 404, "not_found", "artifact %s is not stored here", st->arg);
		return;
	}
	/* Content-addressed: the digest is a perfect entity tag. */
	http_respond_file(req, fd, (uint64_t)sb.st_size, st->arg, "application/octet-stream");
	http_response_header(req, "Cache-Control", "private, max-age=31536000, immutable");
}

static void serve_metrics(struct http_app_ctx *ctx, struct http_request *req)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		http_respond_error(req, 503, "unavailable", "out of memory");
		return;
	}
	http_server_metrics_write(ctx->srv, f);
	metrics_write(ctx->app, f);
	fclose(f);
	http_respond_bytes(req, 200, "text/plain; version=0.0.4", buf, len);
	free(buf);
}

static void handle(struct http_app_ctx *ctx, struct http_request *req)
{
	struct http_app_req *st = http_request_app(req);
	struct app *app = ctx->app;
	struct svc_result *r = &st->result;
	json_t *body = NULL;

	switch (st->route) {
	case R_HEALTH:
		http_respond_json(req, 200, json_pack("{s:s,s:s}", "status", "ok", "version", AIRLOCK_VERSION));
		return;
	case R_METRICS:
		serve_metrics(ctx, req);
		return;
	case R_ARTIFACT:
		serve_artifact(ctx, req, st);
		return;
	case R_ROOT:
		http_respond_bytes(req, 200, "application/cbor", app->root_buf, app->root_len);
		return;
	case R_ROOT_VERSION:
		serve_root_version(ctx, req, st);
		return;
	case R_UPLOAD:
		if (st->upload) {
			svc_artifact_upload_end(st->upload, r);
			st->upload = NULL;
			respond_result(req, r);
		}
		return;
	case R_ENROLL:
	case R_CHECKIN:
	case R_EVENTS:
	case R_TOKENS_CREATE:
	case R_ENROLL_TOKENS:
	case R_DEVICE_REGISTER:
	case R_RELEASE_PUSH:
	case R_DEPLOY_CREATE:
		if (!(body = json_body(req)))
			return;
		break;
	default:
		break;
	}
	switch (st->route) {
	case R_ENROLL: svc_enroll(app, body, r); break;
	case R_CHECKIN: svc_checkin(app, &st->peer, body, r); break;
	case R_EVENTS: svc_event(app, &st->peer, body, r); break;
	case R_TOKENS_CREATE: svc_token_create(app, &st->actor, body, r); break;
	case R_TOKENS_LIST: svc_token_list(app, &st->actor, r); break;
	case R_TOKEN_REVOKE: svc_token_revoke(app, &st->actor, st->arg, r); break;
	case R_ENROLL_TOKENS: svc_enroll_token_create(app, &st->actor, body, r); break;
	case R_ENROLL_TOKENS_LIST: svc_enroll_token_list(app, r); break;
	case R_ENROLL_TOKEN_REVOKE: svc_enroll_token_revoke(app, &st->actor, st->arg, r); break;
	case R_DEVICES: svc_device_list(app, r); break;
	case R_DEVICE_REGISTER: svc_device_register(app, &st->actor, body, r); break;
	case R_DEVICE: svc_device_get(app, st->arg, r); break;
	case R_DEVICE_REVOKE: svc_device_revoke(app, &st->actor, st->arg, r); break;
	case R_RELEASE_PUSH: svc_release_push(app, &st->actor, body, r); break;
	case R_RELEASES: svc_release_list(app, r); break;
	case R_DEPLOY_CREATE: svc_deployment_create(app, &st->actor, body, r); break;
	case R_DEPLOYMENTS: svc_deployment_list(app, r); break;
	case R_DEPLOY_CANCEL: {
		char *end;
		errno = 0;
		long long id = strtoll(st->arg, &end, 10);
		if (errno || *end || id <= 0)
			svc_fail(r, 400, "bad_request", "deployment ids are positive integers");
		else
			svc_deployment_cancel(app, &st->actor, id, r);
		break;
	}
	case R_AUDIT: svc_audit_export(app, http_request_query(req, "from"), http_request_query(req, "to"), r); break;
	case R_AUDIT_CHECKPOINT: svc_audit_checkpoint(app, &st->actor, r); break;
	default:
		svc_fail(r, 404, "not_found", "no such endpoint");
		break;
	}
	json_decref(body);
	respond_result(req, r);
}

/* The application's metrics of a request, once its answer is out. */
static void count(struct http_request *req, struct http_app_req *st, bool completed)
{
	enum http_method m = http_request_method(req);
	enum metrics_route rc = metrics_route_of(http_request_path(req), m == HTTP_PUT);
	unsigned status = http_request_sent_status(req);
	metrics_request(rc, status, mono_us() - st->start_us);
	if (rc == MR_ENROLL && m == HTTP_POST && status >= 200)
		metrics_enrollment(status == 201);
	if (rc == MR_ARTIFACT && m == HTTP_GET && (status == 200 || status == 206))
		metrics_download(completed, http_request_sent_bytes(req));
}

static void done(struct http_app_ctx *ctx, struct http_request *req, bool completed)
{
	struct http_app_req *st = http_request_app(req);
	(void)ctx;
	if (!st)
		return;
	count(req, st, completed);
	/* An upload the client abandoned leaves no file behind. */
	svc_artifact_upload_abort(st->upload);
	svc_result_free(&st->result);
	free(st);
}

static struct http_app_ctx api_ctx;

airlock_err api_start(struct app *app, struct http_server **srv, char *why, size_t why_cap)
{
	struct http_config hc;
	char addr[128], plain[128];
	uint16_t port, plain_port = 0;
	char msg[HTTP_ERRMSG_MAX] = "";

	memset(&api_ctx, 0, sizeof api_ctx);
	api_ctx.app = app;
	pthread_mutex_init(&api_ctx.lock, NULL);
	http_config_init(&hc);
	if (!config_split_listen(app->cfg.listen, addr, sizeof addr, &port) ||
	    (app->cfg.health_listen[0] && !config_split_listen(app->cfg.health_listen, plain, sizeof plain, &plain_port))) {
		snprintf(why, why_cap, "bad listen address");
		return AIRLOCK_ERR_INVALID_ARG;
	}
	hc.listen = addr;
	hc.port = port;
	hc.cert_file = app->cfg.tls_cert;
	hc.key_file = app->cfg.tls_key;
	hc.client_ca_file = app->cfg.client_ca;
	if (app->cfg.manufacturer_ca[0])
		hc.manufacturer_ca_file = app->cfg.manufacturer_ca;
	if (app->cfg.tls_priorities[0])
		hc.priorities = app->cfg.tls_priorities;
	hc.max_body = app->cfg.max_body;
	hc.conn_memory = app->cfg.max_header * 2;
	hc.max_connections = app->cfg.max_connections;
	hc.max_per_ip = app->cfg.max_per_ip;
	hc.idle_timeout_s = app->cfg.idle_timeout;
	hc.request_deadline_s = app->cfg.request_deadline;
	hc.threads = app->cfg.threads;
	if (app->cfg.health_listen[0]) {
		hc.plain_listen = plain;
		hc.plain_port = plain_port;
	}
	static const struct http_app http_app = { &api_ctx, route, body_piece, handle, done };
	airlock_err e = http_server_start(&hc, &http_app, srv, msg);
	if (e != AIRLOCK_OK) {
		snprintf(why, why_cap, "%s", msg);
		return e;
	}
	api_ctx.srv = *srv;
	return AIRLOCK_OK;
}

void api_stop(struct http_server *srv)
{
	http_server_stop(srv);
}
