/*
 * http_testd: the HTTP layer (server/http.h) with a small echo application,
 * driven by tests/server/test_http.sh.
 *
 * Routes (TLS listener):
 *   GET|POST|PUT /echo    buffered body; answers method, path, query "q",
 *                         header X-Test, body length, SHA-256 and text, and the
 *                         client certificate as the layer reported it
 *   PUT|POST /upload      streamed body (cap 1 GiB, 120 s): byte count and
 *                         SHA-256; ?fail_at=N makes the sink refuse (422)
 *                         once N bytes are in
 *   GET|HEAD /file        the file given by --file, with Range and ETag
 *   GET|HEAD /file2       the same for --file2 (a large sparse file)
 *   any /needs-cert       403 unless the client certificate verified, decided
 *                         in route() before any body byte is read
 *   GET /slow?ms=N        answers after N ms (at most 10 s)
 * Plain listener (--plain ADDR): GET /healthz, GET /metrics.
 *
 * Once listening it writes "<tls port> <plain port>\n" to --port-file, and
 * on SIGTERM or SIGINT it stops the server and exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "http.h"

struct http_app_ctx {
	const char *file, *file2;
	struct http_server *_Atomic srv;
};

struct http_app_req {
	gnutls_hash_hd_t sha;
	uint64_t fail_at;  /* 0: never */
};

static void hexify(const uint8_t *in, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[in[i] >> 4];
		out[2 * i + 1] = d[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static json_t *cert_json(const struct http_client_cert *c)
{
	static const char *const states[] = { "none", "invalid", "verified" };
	json_t *o = json_pack("{s:s}", "state", states[c->state]);
	if (c->state == HTTP_CERT_NONE)
		return o;
	json_object_set_new(o, "reason", c->reason ? json_string(c->reason) : json_null());
	json_object_set_new(o, "sha256", json_string(c->sha256_hex));
	json_object_set_new(o, "cn", json_string(c->subject_cn));
	json_object_set_new(o, "serial", json_string(c->serial_hex));
	json_object_set_new(o, "not_before", json_integer(c->not_before));
	json_object_set_new(o, "not_after", json_integer(c->not_after));
	return o;
}

static bool is(const struct http_request *req, const char *path)
{
	return strcmp(http_request_path(req), path) == 0;
}

static void route(struct http_app_ctx *ctx, struct http_request *req, struct http_route *rt)
{
	(void)ctx;
	enum http_method m = http_request_method(req);
	if (http_request_listener(req) == HTTP_LISTENER_PLAIN)
		return;  /* the layer lets only /healthz and /metrics through */
	if (is(req, "/echo")) {
		rt->body = m == HTTP_GET || m == HTTP_HEAD ? HTTP_BODY_NONE : HTTP_BODY_BUFFER;
		http_request_log_add(req, "route", json_string("echo"));
	} else if (is(req, "/upload") && (m == HTTP_PUT || m == HTTP_POST)) {
		struct http_app_req *st = calloc(1, sizeof *st);
		if (!st || gnutls_hash_init(&st->sha, GNUTLS_DIG_SHA256) < 0) {
			free(st);
			http_respond_error(req, 503, "busy", "out of memory");
			return;
		}
		const char *f = http_request_query(req, "fail_at");
		st->fail_at = f ? strtoull(f, NULL, 10) : 0;
		http_request_set_app(req, st);
		rt->body = HTTP_BODY_STREAM;
		rt->max_body = 1024ull * 1024 * 1024;
		rt->deadline_s = 120;
	} else if ((is(req, "/file") || is(req, "/file2")) && (m == HTTP_GET || m == HTTP_HEAD)) {
	} else if (is(req, "/slow") && m == HTTP_GET) {
	} else if (is(req, "/needs-cert")) {
		const struct http_client_cert *c = http_request_cert(req);
		if (c->state != HTTP_CERT_VERIFIED) {
			http_respond_error(req, 403, c->state == HTTP_CERT_NONE ? "client_cert_required" : "client_cert_invalid",
					   "a valid device certificate is required");
			return;
		}
		rt->body = HTTP_BODY_BUFFER;
	} else {
		http_respond_error(req, 404, "not_found", "no such route");
	}
}

static bool body(struct http_app_ctx *ctx, struct http_request *req, const uint8_t *data, size_t len)
{
	(void)ctx;
	struct http_app_req *st = http_request_app(req);
	if (st->fail_at && http_request_body_received(req) >= st->fail_at) {
		http_respond_error(req, 422, "upload_refused", "refused after %llu bytes",
				   (unsigned long long)http_request_body_received(req));
		return false;
	}
	gnutls_hash(st->sha, data, len);
	return true;
}

static void handle(struct http_app_ctx *ctx, struct http_request *req)
{
	if (is(req, "/healthz")) {
		http_respond_json(req, 200, json_pack("{s:b}", "ok", 1));
	} else if (is(req, "/metrics")) {
		char *buf = NULL;
		size_t len = 0;
		FILE *f = open_memstream(&buf, &len);
		struct http_server *srv = ctx->srv;
		if (!f || !srv) {
			if (f)
				fclose(f);
			free(buf);
			http_respond_error(req, 503, "starting", "not ready");
			return;
		}
		http_server_metrics_write(srv, f);
		fputs("# TYPE http_testd_up gauge\nhttp_testd_up 1\n", f);
		fclose(f);
		http_respond_bytes(req, 200, "text/plain; version=0.0.4", buf, len);
		free(buf);
	} else if (is(req, "/echo") || is(req, "/needs-cert")) {
		size_t n = 0;
		const uint8_t *b = http_request_body(req, &n);
		uint8_t d[32];
		char dh[65];
		gnutls_hash_fast(GNUTLS_DIG_SHA256, b, n, d);
		hexify(d, sizeof d, dh);
		const char *q = http_request_query(req, "q"), *xt = http_request_header(req, "X-Test");
		json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:s, s:o, s:s, s:s}", "method",
				      http_request_method_name(req), "path", http_request_path(req), "ip",
				      http_request_remote_ip(req), "body_len", (json_int_t)n, "body_sha256", dh, "cert",
				      cert_json(http_request_cert(req)), "request_id", http_request_id(req), "cn",
				      http_request_cert(req)->subject_cn);
		if (o && q)
			json_object_set_new(o, "q", json_string(q));
		if (o && xt)
			json_object_set_new(o, "x_test", json_string(xt));
		if (o && n < 4096)
			json_object_set_new(o, "body", json_stringn((const char *)b, n));
		http_respond_json(req, 200, o);
	} else if (is(req, "/upload")) {
		struct http_app_req *st = http_request_app(req);
		uint8_t d[32];
		char dh[65];
		gnutls_hash_output(st->sha, d);
		hexify(d, sizeof d, dh);
		http_respond_json(req, 200, json_pack("{s:I, s:s}", "bytes", (json_int_t)http_request_body_received(req),
						      "sha256", dh));
	} else if (is(req, "/file") || is(req, "/file2")) {
		const char *path = is(req, "/file") ? ctx->file : ctx->file2;
		int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0) {
			if (fd >= 0)
				close(fd);
			http_respond_error(req, 404, "not_found", "no file");
			return;
		}
		char etag[64];
		snprintf(etag, sizeof etag, "v1-%llx", (unsigned long long)st.st_size);
		http_respond_file(req, fd, (uint64_t)st.st_size, etag, "application/octet-stream");
	} else if (is(req, "/slow")) {
		const char *ms = http_request_query(req, "ms");
		long v = ms ? strtol(ms, NULL, 10) : 1000;
		if (v < 0)
			v = 0;
		if (v > 10000)
			v = 10000;
		struct timespec ts = { v / 1000, (v % 1000) * 1000000L };
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
		}
		http_respond_json(req, 200, json_pack("{s:I}", "slept_ms", (json_int_t)v));
	} else {
		http_respond_error(req, 404, "not_found", "no such route");
	}
}

static void done(struct http_app_ctx *ctx, struct http_request *req, bool completed)
{
	(void)ctx;
	(void)completed;
	struct http_app_req *st = http_request_app(req);
	if (st) {
		gnutls_hash_deinit(st->sha, NULL);
		free(st);
	}
}

static unsigned long num(const char *s)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || end == s) {
		fprintf(stderr, "http_testd: bad number \"%s\"\n", s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct http_config cfg;
	struct http_app_ctx ctx = { NULL, NULL, NULL };
	const char *port_file = NULL;
	http_config_init(&cfg);
	cfg.listen = "127.0.0.1";
	cfg.port = 0;
	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];
		if (!strcmp(k, "--listen")) cfg.listen = v;
		else if (!strcmp(k, "--port")) cfg.port = (uint16_t)num(v);
		else if (!strcmp(k, "--cert")) cfg.cert_file = v;
		else if (!strcmp(k, "--key")) cfg.key_file = v;
		else if (!strcmp(k, "--client-ca")) cfg.client_ca_file = v;
		else if (!strcmp(k, "--crl")) cfg.client_crl_file = v;
		else if (!strcmp(k, "--require-cert")) cfg.require_client_cert = !strcmp(v, "yes");
		else if (!strcmp(k, "--priorities")) cfg.priorities = v;
		else if (!strcmp(k, "--max-body")) cfg.max_body = num(v);
		else if (!strcmp(k, "--conn-memory")) cfg.conn_memory = num(v);
		else if (!strcmp(k, "--max-conns")) cfg.max_connections = (unsigned)num(v);
		else if (!strcmp(k, "--per-ip")) cfg.max_per_ip = (unsigned)num(v);
		else if (!strcmp(k, "--idle")) cfg.idle_timeout_s = (unsigned)num(v);
		else if (!strcmp(k, "--deadline")) cfg.request_deadline_s = (unsigned)num(v);
		else if (!strcmp(k, "--threads")) cfg.threads = (unsigned)num(v);
		else if (!strcmp(k, "--plain")) cfg.plain_listen = v;
		else if (!strcmp(k, "--plain-port")) cfg.plain_port = (uint16_t)num(v);
		else if (!strcmp(k, "--file")) ctx.file = v;
		else if (!strcmp(k, "--file2")) ctx.file2 = v;
		else if (!strcmp(k, "--port-file")) port_file = v;
		else {
			fprintf(stderr, "http_testd: unknown option %s\n", k);
			return 2;
		}
	}
	if ((argc - 1) % 2 != 0) {
		fprintf(stderr, "http_testd: options take one value each\n");
		return 2;
	}

	/* Block the signals before any thread exists: MHD's workers inherit
	 * the mask and main takes them with sigwait. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	struct http_app app = { &ctx, route, body, handle, done };
	struct http_server *srv = NULL;
	char why[HTTP_ERRMSG_MAX];
	airlock_err err = http_server_start(&cfg, &app, &srv, why);
	if (err != AIRLOCK_OK) {
		fprintf(stderr, "http_testd: %s: %s\n", airlock_err_name(err), why);
		return 1;
	}
	ctx.srv = srv;
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u %u\n", (unsigned)http_server_port(srv), (unsigned)http_server_plain_port(srv)) < 0 ||
		    fclose(f) != 0 || rename(tmp, port_file) != 0) {
			fprintf(stderr, "http_testd: cannot write %s\n", port_file);
			http_server_stop(srv);
			return 1;
		}
	}
	int sig = 0;
	sigwait(&set, &sig);
	http_server_stop(srv);
	return 0;
}
