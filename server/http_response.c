/*
 * Responses of the HTTP layer: building them from the application's
 * http_respond_*() calls, the security headers, byte ranges and entity tags
 * for files, and the layer's metrics.
 */
#include "http_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char INTERNAL_ERROR[] = "{\"error\":\"internal\",\"message\":\"internal error\"}";

const unsigned http_hist_bounds_ms[HTTP_HIST_BUCKETS] = { 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000 };

void http_resp_clear(struct http_resp *r)
{
	free(r->buf);
	if (r->fd >= 0)
		close(r->fd);
	for (unsigned i = 0; i < r->nhdr; i++) {
		free(r->hdr_name[i]);
		free(r->hdr_value[i]);
	}
	memset(r, 0, sizeof *r);
	r->fd = -1;
}

static bool printable(const char *s, bool allow_space)
{
	for (; *s; s++)
		if ((unsigned char)*s < (allow_space ? 0x20 : 0x21) || (unsigned char)*s > 0x7e)
			return false;
	return true;
}

/* Starts a new response, dropping any earlier one (with its headers). */
static struct http_resp *fresh(struct http_request *req, unsigned status, const char *ctype)
{
	struct http_resp *r = &req->resp;
	http_resp_clear(r);
	r->status = status >= 200 && status <= 599 ? status : 500;
	if (!ctype || !printable(ctype, true) || strlen(ctype) >= sizeof r->ctype)
		ctype = "application/octet-stream";
	strcpy(r->ctype, ctype);
	return r;
}

static void take_buffer(struct http_request *req, unsigned status, const char *ctype, char *buf, size_t len)
{
	struct http_resp *r = fresh(req, status, ctype);
	if (!buf) {
		r->oom = true;
		return;
	}
	r->kind = HTTP_RESP_BUF;
	r->buf = buf;
	r->len = len;
}

static char *copy(const void *data, size_t len)
{
	char *b = malloc(len ? len : 1);
	if (b && len)
		memcpy(b, data, len);
	return b;
}

void http_respond_json(struct http_request *req, unsigned status, json_t *body)
{
	/* NULL is what a failed json_pack() returns: an error, not "{}". */
	char *s = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	take_buffer(req, status, "application/json", s, s ? strlen(s) : 0);
}

void http_respond_json_text(struct http_request *req, unsigned status, const char *json, size_t len)
{
	take_buffer(req, status, "application/json", copy(json, len), len);
}

void http_respond_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...)
{
	char msg[256], clean[256], ccode[64];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/* Messages may quote what a client sent: printable ASCII only. */
	http_sanitize(msg, clean, sizeof clean);
	http_sanitize(code ? code : "internal", ccode, sizeof ccode);
	if (status < 400 || status > 599)
		status = 500;
	http_respond_json(req, status, json_pack("{s:s, s:s}", "error", ccode, "message", clean));
}

void http_respond_bytes(struct http_request *req, unsigned status, const char *content_type, const void *data,
			size_t len)
{
	take_buffer(req, status, content_type, copy(data, len), len);
}

void http_respond_empty(struct http_request *req, unsigned status)
{
	take_buffer(req, status, NULL, copy("", 0), 0);
}

void http_respond_file(struct http_request *req, int fd, uint64_t size, const char *etag, const char *content_type)
{
	struct http_resp *r = fresh(req, 200, content_type);
	if (fd < 0) {
		r->oom = true;
		return;
	}
	r->kind = HTTP_RESP_FILE;
	r->fd = fd;
	r->size = size;
	if (etag && printable(etag, false) && !strchr(etag, '"') && !strchr(etag, '\\') &&
	    strlen(etag) + 3 <= sizeof r->etag)
		snprintf(r->etag, sizeof r->etag, "\"%s\"", etag);
}

static bool token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		      strchr("!#$%&'*+-.^_`|~", *s)))
			return false;
	return true;
}

void http_response_header(struct http_request *req, const char *name, const char *value)
{
	static const char *const managed[] = { "Content-Length", "Transfer-Encoding", "Connection",
					       "Content-Range", "Content-Type", "X-Request-Id" };
	struct http_resp *r = &req->resp;
	bool ok = name && value && token(name) && printable(value, true) && r->nhdr < HTTP_MAX_EXTRA_HEADERS;
	for (size_t i = 0; ok && i < sizeof managed / sizeof managed[0]; i++)
		if (strcasecmp(name, managed[i]) == 0)
			ok = false;
	if (!ok) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "level", "warn", "src", "http", "msg",
				      "response header dropped (invalid, managed, or too many)");
		http_log_line(o);
		return;
	}
	r->hdr_name[r->nhdr] = strdup(name);
	r->hdr_value[r->nhdr] = strdup(value);
	if (!r->hdr_name[r->nhdr] || !r->hdr_value[r->nhdr]) {
		free(r->hdr_name[r->nhdr]);
		free(r->hdr_value[r->nhdr]);
		r->oom = true;
		return;
	}
	r->nhdr++;
}

/* ---- Range and entity tags ---- */

static bool digits(const char **p, uint64_t *out)
{
	const char *s = *p;
	uint64_t v = 0;
	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return false;  /* absurdly large: treated as malformed */
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*out = v;
	return true;
}

int http_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last)
{
	uint64_t a, b;
	if (!h || strncasecmp(h, "bytes=", 6) != 0)
		return 0;
	const char *p = h + 6;
	if (strchr(p, ','))
		return 0;  /* several ranges: answered with the whole body */
	if (*p == '-') {
		p++;
		if (!digits(&p, &b) || *p)
			return 0;
		if (b == 0 || size == 0)
			return -1;
		*first = b >= size ? 0 : size - b;
		*last = size - 1;
		return 1;
	}
	if (!digits(&p, &a) || *p++ != '-')
		return 0;
	if (*p == '\0') {
		b = UINT64_MAX;
	} else if (!digits(&p, &b) || *p || b < a) {
		return 0;
	}
	if (a >= size)
		return -1;
	*first = a;
	*last = b >= size ? size - 1 : b;
	return 1;
}

/* If-None-Match against our (strong) tag, with weak comparison as RFC 9110
 * asks for this header: a list of tags, W/ prefixes, or "*". */
static bool none_match_hits(const char *h, const char *etag)
{
	size_t elen = strlen(etag);
	while (h && *h) {
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (*h == '*')
			return true;
		if (strncmp(h, "W/", 2) == 0)
			h += 2;
		const char *end = strchr(h, ',');
		size_t n = end ? (size_t)(end - h) : strlen(h);
		while (n > 0 && (h[n - 1] == ' ' || h[n - 1] == '\t'))
			n--;
		if (n == elen && memcmp(h, etag, n) == 0)
			return true;
		h = end;
	}
	return false;
}

/* ---- queueing ---- */

static struct MHD_Response *buffer_response(char *buf, size_t len)
{
	struct MHD_Response *m = MHD_create_response_from_buffer_with_free_callback(len, buf, free);
	if (!m)
		free(buf);
	return m;
}

static struct MHD_Response *json_error(unsigned *status, unsigned code, const char *name, const char *msg,
				       const char **ctype)
{
	char *s = NULL;
	json_t *o = json_pack("{s:s, s:s}", "error", name, "message", msg);
	if (o)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	*status = code;
	*ctype = "application/json";
	return s ? buffer_response(s, strlen(s)) : NULL;
}

/* The file response: 200, 206, 304 or 416. fd passes to MHD or is closed. */
static struct MHD_Response *file_response(struct http_request *req, unsigned *status, uint64_t *bytes,
					  const char **ctype)
{
	struct http_resp *r = &req->resp;
	int fd = r->fd;
	r->fd = -1;
	*status = r->status;
	*bytes = 0;
	bool conditional = req->method == HTTP_GET || req->method == HTTP_HEAD;
	if (conditional && r->etag[0] &&
	    none_match_hits(MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH),
			    r->etag)) {
		close(fd);
		*status = 304;
		return MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	const char *range = MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	const char *if_range = MHD_lookup_connection_value(req->mc, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_RANGE);
	if (if_range && (!r->etag[0] || strcmp(if_range, r->etag) != 0))
		range = NULL;  /* the client's copy is another version: send it all */
	uint64_t first = 0, last = 0;
	int rc = conditional && *status == 200 ? http_parse_range(range, r->size, &first, &last) : 0;
	struct MHD_Response *m;
	char cr[80];
	if (rc < 0) {
		close(fd);
		m = json_error(status, 416, "range_not_satisfiable", "requested range not satisfiable", ctype);
		snprintf(cr, sizeof cr, "bytes */%llu", (unsigned long long)r->size);
		if (m)
			MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return m;
	}
	if (rc > 0) {
		*status = 206;
		*bytes = last - first + 1;
		snprintf(cr, sizeof cr, "bytes %llu-%llu/%llu", (unsigned long long)first, (unsigned long long)last,
			 (unsigned long long)r->size);
	} else {
		first = 0;
		*bytes = r->size;
	}
	if (*bytes == 0) {
		close(fd);
		m = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	} else {
		m = http_file_response(*bytes, fd, first);
		if (!m)
			close(fd);
	}
	if (m && rc > 0)
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	if (m)
		MHD_add_response_header(m, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	return m;
}

static bool overridden(const struct http_resp *r, const char *name)
{
	for (unsigned i = 0; i < r->nhdr; i++)
		if (strcasecmp(r->hdr_name[i], name) == 0)
			return true;
	return false;
}

enum MHD_Result http_queue(struct http_request *req)
{
	struct http_resp *r = &req->resp;
	struct MHD_Response *m = NULL;
	unsigned status = 500;
	uint64_t bytes = 0;
	const char *ctype = r->ctype;
	bool ok = !r->oom;

	req->phase = HTTP_PH_QUEUED;
	if (ok && r->kind == HTTP_RESP_FILE) {
		m = file_response(req, &status, &bytes, &ctype);
	} else if (ok && r->kind == HTTP_RESP_BUF) {
		status = r->status;
		bytes = r->len;
		m = buffer_response(r->buf, r->len);
		r->buf = NULL;
	}
	if (status == 304 && m && r->etag[0])
		MHD_add_response_header(m, MHD_HTTP_HEADER_ETAG, r->etag);
	if (!m) {
		/* Nothing answered (a handler bug) or out of memory. */
		status = 500;
		bytes = sizeof INTERNAL_ERROR - 1;
		ctype = "application/json";
		m = MHD_create_response_from_buffer(bytes, (void *)INTERNAL_ERROR, MHD_RESPMEM_PERSISTENT);
		if (!m)
			return MHD_NO;
	} else {
		if (r->etag[0] && status != 304)
			MHD_add_response_header(m, MHD_HTTP_HEADER_ETAG, r->etag);
		for (unsigned i = 0; i < r->nhdr; i++)
			MHD_add_response_header(m, r->hdr_name[i], r->hdr_value[i]);
	}
	if (status != 304 && status != 204)
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(m, "X-Request-Id", req->id);
	MHD_add_response_header(m, MHD_HTTP_HEADER_X_CONTENT_TYPE_OPTIONS, "nosniff");
	MHD_add_response_header(m, MHD_HTTP_HEADER_X_FRAME_OPTIONS, "DENY");
	MHD_add_response_header(m, "Referrer-Policy", "no-referrer");
	if (!overridden(r, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY))
		MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
					"default-src 'none'; frame-ancestors 'none'");
	if (!overridden(r, MHD_HTTP_HEADER_CACHE_CONTROL))
		MHD_add_response_header(m, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (req->lst->kind == HTTP_LISTENER_TLS)
		MHD_add_response_header(m, MHD_HTTP_HEADER_STRICT_TRANSPORT_SECURITY, "max-age=31536000");
	enum MHD_Result ret = MHD_queue_response(req->mc, status, m);
	MHD_destroy_response(m);
	if (ret == MHD_YES) {
		req->sent_status = status;
		req->sent_bytes = req->method == HTTP_HEAD ? 0 : bytes;
	}
	return ret;
}

unsigned http_request_sent_status(const struct http_request *req) { return req->sent_status; }
uint64_t http_request_sent_bytes(const struct http_request *req) { return req->sent_bytes; }

/* ---- metrics ---- */

void http_metrics_record(struct http_server *srv, const struct http_request *req, int64_t dur_ms)
{
	if (req->sent_status == 0) {
		atomic_fetch_add(&srv->m_aborted, 1);
		return;
	}
	unsigned cls = req->sent_status / 100;
	atomic_fetch_add(&srv->m_class[cls >= 1 && cls <= 5 ? cls : 0], 1);
	atomic_fetch_add(&srv->m_bytes, req->sent_bytes);
	unsigned b = 0;
	while (b < HTTP_HIST_BUCKETS && dur_ms > (int64_t)http_hist_bounds_ms[b])
		b++;
	atomic_fetch_add(&srv->m_hist[b], 1);
	atomic_fetch_add(&srv->m_dur_us, (uint64_t)(dur_ms < 0 ? 0 : dur_ms) * 1000u);
	if (req->cert && req->lst->kind == HTTP_LISTENER_TLS)
		atomic_fetch_add(&srv->m_cert[req->cert->state], 1);
}

void http_server_metrics_write(const struct http_server *srv, FILE *out)
{
	struct http_server *s = (struct http_server *)srv;  /* atomics are read-only here */
	static const char *const cls[6] = { "other", "1xx", "2xx", "3xx", "4xx", "5xx" };
	static const char *const certs[3] = { "none", "invalid", "verified" };

	fputs("# HELP airlock_http_requests_total Requests answered, by status class.\n"
	      "# TYPE airlock_http_requests_total counter\n", out);
	for (unsigned i = 0; i < 6; i++)
		fprintf(out, "airlock_http_requests_total{class=\"%s\"} %llu\n", cls[i],
			(unsigned long long)atomic_load(&s->m_class[i]));
	fprintf(out,
		"# HELP airlock_http_requests_aborted_total Requests that ended before an answer was queued.\n"
		"# TYPE airlock_http_requests_aborted_total counter\n"
		"airlock_http_requests_aborted_total %llu\n",
		(unsigned long long)atomic_load(&s->m_aborted));
	fprintf(out,
		"# HELP airlock_http_response_bytes_total Response body bytes queued.\n"
		"# TYPE airlock_http_response_bytes_total counter\n"
		"airlock_http_response_bytes_total %llu\n",
		(unsigned long long)atomic_load(&s->m_bytes));

	fputs("# HELP airlock_http_request_duration_seconds From the request line to the end of the response.\n"
	      "# TYPE airlock_http_request_duration_seconds histogram\n", out);
	uint64_t cum = 0;
	for (unsigned i = 0; i < HTTP_HIST_BUCKETS; i++) {
		cum += atomic_load(&s->m_hist[i]);
		fprintf(out, "airlock_http_request_duration_seconds_bucket{le=\"%u.%03u\"} %llu\n",
			http_hist_bounds_ms[i] / 1000, http_hist_bounds_ms[i] % 1000, (unsigned long long)cum);
	}
	cum += atomic_load(&s->m_hist[HTTP_HIST_BUCKETS]);
	uint64_t us = atomic_load(&s->m_dur_us);
	fprintf(out,
		"airlock_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		"airlock_http_request_duration_seconds_sum %llu.%06llu\n"
		"airlock_http_request_duration_seconds_count %llu\n",
		(unsigned long long)cum, (unsigned long long)(us / 1000000), (unsigned long long)(us % 1000000),
		(unsigned long long)cum);

	fputs("# HELP airlock_http_requests_by_cert_total TLS requests by client certificate state.\n"
	      "# TYPE airlock_http_requests_by_cert_total counter\n", out);
	for (unsigned i = 0; i < 3; i++)
		fprintf(out, "airlock_http_requests_by_cert_total{state=\"%s\"} %llu\n", certs[i],
			(unsigned long long)atomic_load(&s->m_cert[i]));
	fprintf(out,
		"# HELP airlock_http_deadline_disconnects_total Connections cut for not sending a request in time.\n"
		"# TYPE airlock_http_deadline_disconnects_total counter\n"
		"airlock_http_deadline_disconnects_total %llu\n"
		"# HELP airlock_http_connections_open Connections open now.\n"
		"# TYPE airlock_http_connections_open gauge\n"
		"airlock_http_connections_open %llu\n",
		(unsigned long long)atomic_load(&s->m_deadline), (unsigned long long)atomic_load(&s->m_conns_open));
}
