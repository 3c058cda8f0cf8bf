/*
 * HTTP layer: one request's life. MHD hands the raw target to
 * http_uri_log() (the request is created there), the headers and the body
 * to http_access_handler() (checks, route, body, handler, response) and the
 * end to http_request_completed() (metrics, access log, done(), free).
 */
#include "http_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>

/* Called by MHD with the raw request target as soon as the request line is
 * parsed; what it returns becomes the request's context, and MHD then
 * promises a NOTIFY_COMPLETED for it even if the request dies early. */
void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *mc)
{
	struct http_lst *lst = cls;
	struct http_request *req = calloc(1, sizeof *req);
	if (!req)
		return NULL;
	req->srv = lst->srv;
	req->lst = lst;
	req->mc = mc;
	req->resp.fd = -1;
	req->start_ms = http_now_ms();
	clock_gettime(CLOCK_REALTIME, &req->start_wall);
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	req->conn = ci ? ci->socket_context : NULL;
	if (req->conn)
		req->conn->had_request = true;

	uint8_t rnd[8];
	if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) != 0)
		memset(rnd, 0, sizeof rnd);
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < sizeof rnd; i++) {
		req->id[2 * i] = digits[rnd[i] >> 4];
		req->id[2 * i + 1] = digits[rnd[i] & 15];
	}

	/* Keep the raw target, bounded: anything longer is refused anyway. */
	size_t n = strnlen(uri, HTTP_MAX_PATH + 8192);
	req->raw = malloc(n + 1);
	if (req->raw) {
		memcpy(req->raw, uri, n);
		req->raw[n] = '\0';
		char *q = strchr(req->raw, '?');
		if (q)
			*q = '\0';
		req->path = req->raw;
	}
	return req;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* The checks documented at http_request_path(). Bytes are checked raw and
 * percent-escapes decoded one level, so "%2e%2e", "%2F" and "%00" are as
 * refused as their plain forms. */
static bool path_ok(const char *p)
{
	size_t n = strlen(p);
	if (n == 0 || n > HTTP_MAX_PATH || p[0] != '/')
		return false;
	char prev = 0;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if ((unsigned char)c <= 0x20 || (unsigned char)c >= 0x7f || c == '\\' || c == '#')
			return false;
		if (c == '%') {
			if (i + 2 >= n)
				return false;
			int hi = hexval(p[i + 1]), lo = hexval(p[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			if ((unsigned char)c < 0x20 || (unsigned char)c >= 0x7f || c == '/' || c == '\\' || c == '.')
				return false;
			i += 2;
		}
		if ((c == '/' || c == '.') && prev == c)
			return false;
		prev = c;
	}
	return true;
}

struct query_check {
	unsigned count;
	bool bad;
};

static enum MHD_Result query_iter(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				  const char *value, size_t value_size)
{
	(void)kind;
	struct query_check *qc = cls;
	if (++qc->count > HTTP_MAX_QUERY_ARGS) {
		qc->bad = true;
		return MHD_NO;
	}
	for (size_t i = 0; i < key_size; i++)
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] == 0x7f)
			qc->bad = true;
	for (size_t i = 0; value && i < value_size; i++)
		if ((unsigned char)value[i] < 0x20 || (unsigned char)value[i] == 0x7f)
			qc->bad = true;
	return qc->bad ? MHD_NO : MHD_YES;
}

static bool parse_method(const char *m, enum http_method *out)
{
	static const struct {
		const char *name;
		enum http_method m;
	} methods[] = {
		{ "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
		{ "PUT", HTTP_PUT }, { "DELETE", HTTP_DELETE }, { "PATCH", HTTP_PATCH },
	};
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
		if (strcmp(m, methods[i].name) == 0) {
			*out = methods[i].m;
			return true;
		}
	return false;
}

/* Strict decimal Content-Length (MHD has checked it parses; we re-read it). */
static bool parse_length(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = v;
	return true;
}

/* First call: the headers are in. Checks, then the route. */
static void begin(struct http_request *req, const char *method)
{
	struct http_server *srv = req->srv;
	const char *cl = MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *te = MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING);
	req->has_len = parse_length(cl, &req->content_length);
	req->has_body = (req->has_len && req->content_length > 0) || te != NULL;
	req->method_name = method;
	if (!parse_method(method, &req->method)) {
		req->method_name = "OTHER";
		http_respond_error(req, 405, "bad_method", "method not allowed");
		return;
	}
	if (!req->path || !path_ok(req->path)) {
		http_respond_error(req, 400, "bad_path", "malformed request path");
		return;
	}
	struct query_check qc = { 0, false };
	MHD_get_connection_values_n(req->mc, MHD_GET_ARGUMENT_KIND, query_iter, &qc);
	if (qc.bad) {
		http_respond_error(req, 400, "bad_query", "malformed query string");
		return;
	}
	if (req->lst->kind == HTTP_LISTENER_PLAIN &&
	    (!(req->method == HTTP_GET || req->method == HTTP_HEAD) ||
	     (strcmp(req->path, "/healthz") != 0 && strcmp(req->path, "/metrics") != 0))) {
		http_respond_error(req, 404, "not_found", "only /healthz and /metrics are served here");
		return;
	}
	static const struct http_client_cert none = { .state = HTTP_CERT_NONE };
	req->cert = &none;
	if (req->lst->kind == HTTP_LISTENER_TLS && req->conn)
		req->cert = http_tls_client_cert(srv, req->conn, req->mc);

	req->route.body = HTTP_BODY_NONE;
	req->routed = true;
	srv->app.route(srv->app.ctx, req, &req->route);
	if (req->resp.kind != HTTP_RESP_NONE || req->resp.oom)
		return;

	switch (req->route.body) {
	case HTTP_BODY_NONE:
		req->body_cap = 0;
		if (req->has_body) {
			http_respond_error(req, 413, "body_not_allowed", "this request takes no body");
			return;
		}
		break;
	case HTTP_BODY_BUFFER:
		req->body_cap = srv->cfg.max_body;
		if (req->route.max_body > 0 && req->route.max_body < req->body_cap)
			req->body_cap = req->route.max_body;
		break;
	case HTTP_BODY_STREAM:
		req->body_cap = req->route.max_body;
		if (!srv->app.body) {
			http_respond_error(req, 500, "internal", "no body sink");
			return;
		}
		break;
	}
	if (req->route.body != HTTP_BODY_NONE && req->body_cap > 0 && req->has_len &&
	    req->content_length > req->body_cap) {
		http_respond_error(req, 413, "body_too_large", "body larger than %llu bytes",
				   (unsigned long long)req->body_cap);
		return;
	}
	if (req->route.deadline_s > 0 && req->conn)
		http_conn_set_deadline(req->conn, atomic_load(&req->conn->window_ms) + (int64_t)req->route.deadline_s * 1000);
	req->phase = HTTP_PH_BODY;
}

static void take_body(struct http_request *req, const char *data, size_t n)
{
	struct http_server *srv = req->srv;
	if (req->phase == HTTP_PH_DRAIN) {
		req->drained += n;
		return;
	}
	req->received += n;
	if (req->body_cap > 0 && req->received > req->body_cap) {
		http_respond_error(req, 413, "body_too_large", "body larger than %llu bytes",
				   (unsigned long long)req->body_cap);
		req->phase = HTTP_PH_DRAIN;
		return;
	}
	if (req->route.body == HTTP_BODY_STREAM) {
		if (!srv->app.body(srv->app.ctx, req, (const uint8_t *)data, n)) {
			if (req->resp.kind == HTTP_RESP_NONE && !req->resp.oom)
				http_respond_error(req, 500, "internal", "upload refused");
			req->phase = HTTP_PH_DRAIN;
		}
		return;
	}
	/* Buffered: grow by doubling, never past the cap (+1 for the NUL). */
	if (req->body_len + n + 1 > req->body_cap_alloc) {
		size_t want = req->body_cap_alloc ? req->body_cap_alloc : 4096;
		while (want < req->body_len + n + 1)
			want *= 2;
		if (want > req->body_cap + 1)
			want = (size_t)req->body_cap + 1;
		uint8_t *nb = realloc(req->body, want);
		if (!nb) {
			req->resp.oom = true;
			req->phase = HTTP_PH_DRAIN;
			return;
		}
		req->body = nb;
		req->body_cap_alloc = want;
	}
	memcpy(req->body + req->body_len, data, n);
	req->body_len += n;
	req->body[req->body_len] = '\0';
}

enum MHD_Result http_access_handler(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				      const char *version, const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	(void)cls;
	(void)url;
	(void)version;
	struct http_request *req = *con_cls;
	if (!req || !req->conn)
		return MHD_NO;  /* out of memory at accept or request line: close */
	req->mc = mc;

	if (req->phase == HTTP_PH_NEW) {
		begin(req, method);
		if (req->phase == HTTP_PH_NEW) {
			/* Answered from the headers: MHD reads no body and closes
			 * the connection after the response if one was announced. */
			http_conn_set_deadline(req->conn, HTTP_DEADLINE_NONE);
			if (req->has_body)
				req->conn->linger = true;
			return http_queue(req);
		}
		return MHD_YES;
	}
	if (req->phase == HTTP_PH_QUEUED)
		return MHD_YES;
	if (*upload_data_size > 0) {
		take_body(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		if (req->phase == HTTP_PH_DRAIN && req->drained > HTTP_DRAIN_MAX)
			return MHD_NO;
		return MHD_YES;
	}
	/* The whole request is in. */
	http_conn_set_deadline(req->conn, HTTP_DEADLINE_NONE);
	if (req->phase == HTTP_PH_BODY) {
		if (req->route.body == HTTP_BODY_BUFFER && !req->body) {
			req->body = calloc(1, 1);
			if (!req->body)
				req->resp.oom = true;
		}
		if (!req->resp.oom)
			req->srv->app.handle(req->srv->app.ctx, req);
	}
	return http_queue(req);
}

static const char *termination_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "ok";
	case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "idle_timeout";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shutdown";
	case MHD_REQUEST_TERMINATED_READ_ERROR: return "read_error";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client_abort";
	}
	return "unknown";
}

static const char *cert_state_name(enum http_cert_state s)
{
	switch (s) {
	case HTTP_CERT_NONE: return "none";
	case HTTP_CERT_INVALID: return "invalid";
	case HTTP_CERT_VERIFIED: return "verified";
	}
	return "none";
}

static void access_log(struct http_request *req, enum MHD_RequestTerminationCode toe, int64_t dur_ms,
		       bool deadline)
{
	char when[32];
	http_format_time(&req->start_wall, when);
	const struct http_client_cert *cert = req->cert;
	char fp[17] = "", path[257];
	http_sanitize(req->path ? req->path : "-", path, sizeof path);
	if (cert && cert->state != HTTP_CERT_NONE)
		memcpy(fp, cert->sha256_hex, 16);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:I, s:s, s:s}", "ts", when, "level",
			      "info", "src", "access", "rid", req->id, "ip", req->conn ? req->conn->ip : "?",
			      "method", req->method_name ? req->method_name : "-", "path",
			      path, "status", (int)req->sent_status, "bytes",
			      (json_int_t)req->sent_bytes, "ms", (json_int_t)dur_ms, "cert",
			      cert ? cert_state_name(cert->state) : "none", "end",
			      deadline ? "deadline" : termination_name(toe));
	if (!o)
		return;
	if (fp[0])
		json_object_set_new(o, "cert_fp", json_string(fp));
	if (cert && cert->reason)
		json_object_set_new(o, "cert_reason", json_string(cert->reason));
	if (req->lst->kind == HTTP_LISTENER_PLAIN)
		json_object_set_new(o, "listener", json_string("plain"));
	if (req->log)
		json_object_update_missing(o, req->log);
	http_log_line(o);
}

void http_request_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)mc;
	struct http_request *req = *con_cls;
	*con_cls = NULL;
	if (!req)
		return;
	struct http_server *srv = req->srv;
	int64_t dur = http_now_ms() - req->start_ms;
	bool deadline = false;
	if (req->conn) {
		pthread_mutex_lock(&srv->conn_lock);
		deadline = req->conn->killed;
		pthread_mutex_unlock(&srv->conn_lock);
		/* A keep-alive connection's next request gets a fresh window. */
		http_conn_new_window(srv, req->conn);
	}
	http_metrics_record(srv, req, dur);
	if (srv->cfg.access_log)
		access_log(req, toe, dur, deadline);
	if (req->routed && srv->app.done)
		srv->app.done(srv->app.ctx, req, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	http_resp_clear(&req->resp);
	json_decref(req->log);
	free(req->body);
	free(req->raw);
	free(req);
}

/* ---- request accessors ---- */

enum http_method http_request_method(const struct http_request *req) { return req->method; }
const char *http_request_method_name(const struct http_request *req) { return req->method_name; }
const char *http_request_path(const struct http_request *req) { return req->path; }
const char *http_request_remote_ip(const struct http_request *req) { return req->conn ? req->conn->ip : "?"; }
const char *http_request_id(const struct http_request *req) { return req->id; }
enum http_listener http_request_listener(const struct http_request *req) { return req->lst->kind; }
uint64_t http_request_body_received(const struct http_request *req) { return req->received; }
void http_request_set_app(struct http_request *req, struct http_app_req *state) { req->app = state; }
struct http_app_req *http_request_app(const struct http_request *req) { return req->app; }

const char *http_request_query(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->mc, MHD_GET_ARGUMENT_KIND, name);
}

const char *http_request_header(const struct http_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, name);
}

const struct http_client_cert *http_request_cert(const struct http_request *req)
{
	static const struct http_client_cert none = { .state = HTTP_CERT_NONE };
	return req->cert ? req->cert : &none;
}

bool http_request_content_length(const struct http_request *req, uint64_t *len)
{
	if (req->has_len)
		*len = req->content_length;
	return req->has_len;
}

const uint8_t *http_request_body(const struct http_request *req, size_t *len)
{
	*len = req->body ? req->body_len : 0;
	return req->body ? req->body : (const uint8_t *)"";
}

void http_request_log_add(struct http_request *req, const char *key, json_t *value)
{
	static const char *const own[] = { "ts", "level", "src", "rid", "ip", "method", "path", "status",
					   "bytes", "ms", "cert", "cert_fp", "cert_reason", "end", "listener" };
	for (size_t i = 0; i < sizeof own / sizeof own[0]; i++)
		if (strcmp(key, own[i]) == 0) {
			json_decref(value);
			return;
		}
	if (!req->log)
		req->log = json_object();
	if (req->log)
		json_object_set_new(req->log, key, value);
	else
		json_decref(value);
}
