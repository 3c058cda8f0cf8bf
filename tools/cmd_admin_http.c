/*
 * Admin API transfers: one libcurl handle, HTTPS only, TLS 1.2 at least,
 * the server checked against the configured CA, no redirects. Bodies are
 * bounded in memory; uploads stream from disk, downloads to disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "admin_client.h"

#define CONNECT_TIMEOUT 10L
/* Stalled transfers: below 1 KiB/s for a minute is given up. */
#define LOW_SPEED_BYTES 1024L
#define LOW_SPEED_SECONDS 60L

struct sink {
	struct admin_resp *r;   /* memory, bounded by ADMIN_BODY_MAX */
	struct cli_out *out;    /* or a file, for a 2xx answer */
	CURL *c;
	bool too_large, write_failed;
	bool raw;               /* a 2xx answer need not be JSON */
};

struct source {
	int fd;
	uint64_t left;
	bool read_failed, changed;
};

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct sink *s = ctx;
	size_t len = size * n;
	long status = 0;
	/* An error answer goes to memory, to be reported, never into the file. */
	if (s->out && curl_easy_getinfo(s->c, CURLINFO_RESPONSE_CODE, &status) == CURLE_OK &&
	    (status < 200 || status >= 300))
		s->out = NULL;
	if (s->out) {
		if (cli_out_write(s->out, p, len) != AIRLOCK_OK) {
			s->write_failed = true;
			return 0;
		}
		return len;
	}
	struct admin_resp *r = s->r;
	if (len > ADMIN_BODY_MAX - r->len) {
		s->too_large = true;
		return 0;
	}
	char *nb = realloc(r->body, r->len + len + 1);
	if (!nb) {
		s->too_large = true;
		return 0;
	}
	memcpy(nb + r->len, p, len);
	r->body = nb;
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Upload source: exactly the announced size, or the transfer is aborted. */
static size_t on_read(char *p, size_t size, size_t n, void *ctx)
{
	struct source *s = ctx;
	size_t want = size * n;
	if (s->left == 0)
		return 0;
	if (want > s->left)
		want = (size_t)s->left;
	for (;;) {
		ssize_t got = read(s->fd, p, want);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			s->read_failed = true;
			return CURL_READFUNC_ABORT;
		}
		if (got == 0) {
			s->changed = true;  /* shorter than when we measured it */
			return CURL_READFUNC_ABORT;
		}
		s->left -= (uint64_t)got;
		return (size_t)got;
	}
}

void admin_resp_free(struct admin_resp *r)
{
	free(r->body);
	json_decref(r->json);
	memset(r, 0, sizeof *r);
}

/* Replaces control bytes so that a hostile answer cannot drive the terminal. */
static void sanitize(const char *in, char *out, size_t cap)
{
	size_t n = 0;
	for (; in && *in && n + 1 < cap; in++)
		out[n++] = ((unsigned char)*in < 0x20 || *in == 0x7f) ? '?' : *in;
	out[n] = '\0';
}

static int net_fail(bool quiet, airlock_err e, const char *method, const char *url, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static int net_fail(bool quiet, airlock_err e, const char *method, const char *url, const char *fmt, ...)
{
	va_list ap;
	if (quiet)
		return EXIT_NETWORK;
	fprintf(stderr, "%s: %s %s: ", cli_cmd, method, url);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s (%s)\n", airlock_err_name(e), airlock_strerror(e));
	return EXIT_NETWORK;
}

static airlock_err curl_to_err(CURLcode c)
{
	switch (c) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		return AIRLOCK_ERR_TLS;
	case CURLE_OPERATION_TIMEDOUT:
		return AIRLOCK_ERR_TOO_SLOW;
	default:
		return AIRLOCK_ERR_NETWORK;
	}
}

/* The options every request gets: the security settings are set anew
 * after each reset, so no request runs without them. */
static void base_options(struct admin_client *cl, CURL *c, const char *url, bool long_transfer, char *errbuf,
			 struct curl_slist *headers)
{
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	if (cl->ca[0]) {
		/* Only this CA: not the system store besides it. */
		curl_easy_setopt(c, CURLOPT_CAINFO, cl->ca);
		curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
	}
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	if (!long_transfer || cl->timeout_given)
		curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)cl->timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_BYTES);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_SECONDS);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NETRC, (long)CURL_NETRC_IGNORED);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "airlock/0.1.0");
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
}

/* The list holds a copy of the Authorization header: wiped before it is freed. */
static void free_headers(struct curl_slist *h)
{
	for (struct curl_slist *p = h; p; p = p->next)
		airlock_wipe(p->data, strlen(p->data));
	curl_slist_free_all(h);
}

static struct curl_slist *make_headers(struct admin_client *cl, const char *content_type)
{
	struct curl_slist *h = NULL, *t;
	const char *lines[] = { "Accept: application/json", content_type, cl->has_token ? cl->auth : NULL };
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		if (!lines[i])
			continue;
		t = curl_slist_append(h, lines[i]);
		if (!t) {
			free_headers(h);
			return NULL;
		}
		h = t;
	}
	return h;
}

/* One line for an answer that is not a success. */
static int status_fail(bool quiet, const char *method, const char *path, struct admin_resp *r, CURL *c)
{
	char code[64] = "", msg[512] = "";
	json_t *e = r->json ? json_object_get(r->json, "error") : NULL;
	json_t *m = r->json ? json_object_get(r->json, "message") : NULL;
	if (json_is_string(e))
		sanitize(json_string_value(e), code, sizeof code);
	if (json_is_string(m))
		sanitize(json_string_value(m), msg, sizeof msg);
	if (quiet)
		return r->status >= 400 && r->status < 500 ? EXIT_REFUSED : EXIT_NETWORK;
	if (r->status >= 300 && r->status < 400) {
		char *loc = NULL;
		curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
		sanitize(loc ? loc : "?", msg, sizeof msg);
		fprintf(stderr, "%s: %s %s: HTTP %ld redirect to %s refused (redirects are not followed)\n", cli_cmd,
			method, path, r->status, msg);
		return EXIT_NETWORK;
	}
	if (code[0])
		fprintf(stderr, "%s: %s %s: HTTP %ld %s: %s\n", cli_cmd, method, path, r->status, code, msg);
	else
		fprintf(stderr, "%s: %s %s: HTTP %ld without an error body\n", cli_cmd, method, path, r->status);
	return r->status >= 400 && r->status < 500 ? EXIT_REFUSED : EXIT_NETWORK;
}

/* Runs the prepared transfer and judges the answer. */
static int perform(struct admin_client *cl, const char *method, const char *path, const char *url,
		   struct sink *sink, struct source *src, const char *errbuf, struct admin_resp *r)
{
	CURL *c = cl->curl;
	CURLcode cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (src && (src->read_failed || src->changed))
		return cli_fail(src->read_failed ? AIRLOCK_ERR_IO_READ : AIRLOCK_ERR_SIZE_MISMATCH,
				"%s: the file %s while it was uploaded", path, src->read_failed ? "could not be read"
												 : "became shorter");
	if (sink->write_failed)
		return cli_fail(AIRLOCK_ERR_IO_WRITE, "%s: writing the answer", path);
	if (sink->too_large)
		return net_fail(cl->quiet, AIRLOCK_ERR_TOO_LARGE, method, url, "answer larger than %zu MiB", ADMIN_BODY_MAX >> 20);
	if (cc != CURLE_OK) {
		char detail[CURL_ERROR_SIZE + 64];
		sanitize(errbuf[0] ? errbuf : curl_easy_strerror(cc), detail, sizeof detail);
		return net_fail(cl->quiet, curl_to_err(cc), method, url, "%s", detail);
	}
	if (r->body && r->len) {
		json_error_t je;
		r->json = json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, &je);
	}
	if (r->status < 200 || r->status >= 300)
		return status_fail(cl->quiet, method, path, r, c);
	if (!sink->out && !sink->raw && !json_is_object(r->json))
		return net_fail(cl->quiet, AIRLOCK_ERR_MALFORMED, method, url, "HTTP %ld answer is not a JSON object", r->status);
	return EXIT_OK;
}

static bool make_url(struct admin_client *cl, const char *path, char *url, size_t cap)
{
	const char *prefix = path[0] == '/' ? "" : "/api/v1/";
	return (size_t)snprintf(url, cap, "%s%s%s", cl->server, prefix, path) < cap;
}

static int call(struct admin_client *cl, const char *method, const char *path, json_t *body, bool raw,
		struct admin_resp *r)
{
	char url[ADMIN_URL_MAX + 1024], errbuf[CURL_ERROR_SIZE] = "";
	struct sink sink = { r, NULL, cl->curl, false, false, raw };
	char *text = NULL;
	memset(r, 0, sizeof *r);
	if (!make_url(cl, path, url, sizeof url))
		return cli_usage_error("request path too long");
	struct curl_slist *h = make_headers(cl, body ? "Content-Type: application/json" : NULL);
	if (body)
		text = json_dumps(body, JSON_COMPACT);
	if (!h || (body && !text)) {
		free_headers(h);
		free(text);
		return cli_fail(AIRLOCK_ERR_NOMEM, "%s", path);
	}
	base_options(cl, cl->curl, url, false, errbuf, h);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &sink);
	if (strcmp(method, "GET") == 0) {
		curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	} else {
		curl_easy_setopt(cl->curl, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDS, text ? text : "");
		curl_easy_setopt(cl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(text ? strlen(text) : 0));
	}
	int rc = perform(cl, method, url + strlen(cl->server), url, &sink, NULL, errbuf, r);
	free_headers(h);
	if (text) {
		/* It may hold a token the server just made. */
		airlock_wipe(text, strlen(text));
		free(text);
	}
	return rc;
}

int admin_call(struct admin_client *cl, const char *method, const char *path, json_t *body, struct admin_resp *r)
{
	return call(cl, method, path, body, false, r);
}

int admin_get_raw(struct admin_client *cl, const char *path, struct admin_resp *r)
{
	return call(cl, "GET", path, NULL, true, r);
}

int admin_upload(struct admin_client *cl, const char *path, const char *file, uint64_t size, struct admin_resp *r)
{
	char url[ADMIN_URL_MAX + 1024], errbuf[CURL_ERROR_SIZE] = "";
	struct sink sink = { r, NULL, cl->curl, false, false, false };
	struct source src = { -1, size, false, false };
	struct stat st;
	memset(r, 0, sizeof *r);
	if (!make_url(cl, path, url, sizeof url))
		return cli_usage_error("request path too long");
	src.fd = open(file, O_RDONLY | O_CLOEXEC);
	if (src.fd < 0)
		return cli_fail(AIRLOCK_ERR_IO_OPEN, "%s", file);
	if (fstat(src.fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size != size) {
		close(src.fd);
		return cli_fail(AIRLOCK_ERR_SIZE_MISMATCH, "%s: not a regular file of %llu bytes", file,
				(unsigned long long)size);
	}
	struct curl_slist *h = make_headers(cl, "Content-Type: application/octet-stream");
	if (!h) {
		close(src.fd);
		return cli_fail(AIRLOCK_ERR_NOMEM, "%s", path);
	}
	base_options(cl, cl->curl, url, true, errbuf, h);
	curl_easy_setopt(cl->curl, CURLOPT_UPLOAD, 1L);  /* PUT, Content-Length from INFILESIZE */
	curl_easy_setopt(cl->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t)size);
	curl_easy_setopt(cl->curl, CURLOPT_READFUNCTION, on_read);
	curl_easy_setopt(cl->curl, CURLOPT_READDATA, &src);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &sink);
	int rc = perform(cl, "PUT", url + strlen(cl->server), url, &sink, &src, errbuf, r);
	free_headers(h);
	close(src.fd);
	return rc;
}

int admin_download(struct admin_client *cl, const char *path, struct cli_out *out)
{
	char url[ADMIN_URL_MAX + 1024], errbuf[CURL_ERROR_SIZE] = "";
	struct admin_resp r = { 0 };
	struct sink sink = { &r, out, cl->curl, false, false, false };
	if (!make_url(cl, path, url, sizeof url))
		return cli_usage_error("request path too long");
	struct curl_slist *h = make_headers(cl, NULL);
	if (!h)
		return cli_fail(AIRLOCK_ERR_NOMEM, "%s", path);
	base_options(cl, cl->curl, url, true, errbuf, h);
	curl_easy_setopt(cl->curl, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(cl->curl, CURLOPT_WRITEDATA, &sink);
	int rc = perform(cl, "GET", url + strlen(cl->server), url, &sink, NULL, errbuf, &r);
	free_headers(h);
	admin_resp_free(&r);
	return rc;
}

void admin_print_raw(const struct admin_resp *r)
{
	if (!r->body)
		return;
	fwrite(r->body, 1, r->len, stdout);
	if (r->len == 0 || r->body[r->len - 1] != '\n')
		putchar('\n');
}
