/* airlockd's HTTPS client: libcurl with the settings transport.h promises. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "curl_dl.h"
#include "transport.h"

/* TLS 1.2 suites: forward secrecy and AEAD only. TLS 1.3 suites are all AEAD. */
#define TLS12_CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:" \
	"ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"              \
	"ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

#define ERROR_BODY_MAX 2048  /* what is kept of an error answer, for the message */

void agent_buf_free(struct agent_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

/* libcurl's calls, once loaded (curl_dl.h): the first request loads it. */
static const struct agent_curl *cu;

airlock_err agent_http_init(struct agent_http *h, const struct agent_config *cfg)
{
	memset(h, 0, sizeof *h);
	h->cfg = cfg;
	return AIRLOCK_OK;
}

/* The easy handle, made at the first request (and libcurl loaded then). */
static airlock_err open_handle(struct agent_http *h)
{
	if (h->curl)
		return AIRLOCK_OK;
	airlock_err e = agent_curl_load(&cu, h->detail, sizeof h->detail);
	if (e != AIRLOCK_OK)
		return e;
	h->curl = cu->easy_init();
	if (!h->curl) {
		snprintf(h->detail, sizeof h->detail, "curl_easy_init failed");
		return AIRLOCK_ERR_NOMEM;
	}
	return AIRLOCK_OK;
}

void agent_http_free(struct agent_http *h)
{
	if (h->curl)
		cu->easy_cleanup(h->curl);
	h->curl = NULL;
}

airlock_err agent_http_map(CURLcode rc, const char *errbuf, bool connected, airlock_err sink_err)
{
	if (sink_err != AIRLOCK_OK)
		return sink_err;
	switch (rc) {
	case CURLE_OK:
		return AIRLOCK_OK;
	case CURLE_OPERATION_TIMEDOUT:
		/* Below the minimum rate once connected; a connect that never
		 * completes is a network failure. */
		return connected ? AIRLOCK_ERR_TOO_SLOW : AIRLOCK_ERR_NETWORK;
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return AIRLOCK_ERR_TLS_NAME;
	case CURLE_PEER_FAILED_VERIFICATION:
		/* One curl code for "untrusted chain" and "wrong host name". */
		if (errbuf && (strstr(errbuf, "subject name") || strstr(errbuf, "host name") ||
			       strstr(errbuf, "hostname")))
			return AIRLOCK_ERR_TLS_NAME;
		return AIRLOCK_ERR_TLS;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_USE_SSL_FAILED:
		return AIRLOCK_ERR_TLS;
	case CURLE_FILESIZE_EXCEEDED:
		return AIRLOCK_ERR_TOO_LARGE;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		return AIRLOCK_ERR_BAD_VALUE;
	case CURLE_OUT_OF_MEMORY:
		return AIRLOCK_ERR_NOMEM;
	case CURLE_ABORTED_BY_CALLBACK:
		return AIRLOCK_ERR_CANCELLED;
	case CURLE_WRITE_ERROR:
		return AIRLOCK_ERR_IO_WRITE;
	default:
		/* COULDNT_CONNECT, COULDNT_RESOLVE_*, RECV/SEND_ERROR,
		 * GOT_NOTHING, PARTIAL_FILE, HTTP2...: the network, retry later. */
		return AIRLOCK_ERR_NETWORK;
	}
}

/* Per-request state shared by the callbacks. */
struct xfer {
	struct agent_http *h;
	/* buffered mode */
	struct agent_buf *buf;
	/* streaming mode */
	agent_http_sink sink;
	void *sink_ctx;
	uint64_t offset, total, received;
	bool checked;             /* status and range checked at the first byte */
	char content_range[128];
	/* both */
	uint64_t max;             /* body bytes allowed */
	long want_status;
	bool any_2xx;             /* POST: 200 and 201 both mean done */
	airlock_err sink_err;
	char errbody[ERROR_BODY_MAX + 1];
	size_t errlen;
};

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	static const char name[] = "content-range:";
	/* A new status line (a 100 Continue, say) starts a fresh header set. */
	if (len >= 5 && strncmp(p, "HTTP/", 5) == 0)
		x->content_range[0] = '\0';
	if (len > sizeof name - 1 && strncasecmp(p, name, sizeof name - 1) == 0) {
		size_t v = sizeof name - 1;
		while (v < len && (p[v] == ' ' || p[v] == '\t'))
			v++;
		size_t e = len;
		while (e > v && (p[e - 1] == '\r' || p[e - 1] == '\n' || p[e - 1] == ' '))
			e--;
		snprintf(x->content_range, sizeof x->content_range, "%.*s", (int)(e - v), p + v);
	}
	return len;
}

/* At the first body byte: the status, and for a Range request the exact range. */
static airlock_err check_answer(struct xfer *x)
{
	cu->easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &x->h->status);
	if (x->any_2xx && x->h->status >= 200 && x->h->status < 300)
		return AIRLOCK_OK;
	if (x->h->status != x->want_status) {
		if (x->h->status >= 200 && x->h->status < 300 && x->offset > 0)
			return AIRLOCK_ERR_BAD_RANGE;   /* a 200 to a Range request: the whole file again */
		return AIRLOCK_ERR_HTTP_STATUS;
	}
	if (x->sink && x->offset > 0) {
		char want[128];
		snprintf(want, sizeof want, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, x->offset, x->total - 1, x->total);
		if (strcmp(x->content_range, want) != 0) {
			snprintf(x->h->detail, sizeof x->h->detail, "asked for '%s', server answered '%.100s'", want,
				 x->content_range);
			return AIRLOCK_ERR_BAD_RANGE;
		}
	}
	return AIRLOCK_OK;
}

static size_t keep_error_body(struct xfer *x, const char *p, size_t len)
{
	size_t room = ERROR_BODY_MAX - x->errlen;
	size_t take = len < room ? len : room;
	memcpy(x->errbody + x->errlen, p, take);
	x->errlen += take;
	x->errbody[x->errlen] = '\0';
	return take == len ? len : 0;   /* enough of an error answer: stop reading */
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
	struct xfer *x = ud;
	size_t len = size * n;
	if (!x->checked) {
		x->checked = true;
		x->sink_err = check_answer(x);
	}
	if (x->sink_err == AIRLOCK_ERR_HTTP_STATUS)
		return keep_error_body(x, p, len);   /* read the error answer, bounded */
	if (x->sink_err != AIRLOCK_OK)
		return 0;
	if (len > x->max - x->received) {
		/* One byte past the cap is enough to refuse: nothing of it is kept. */
		x->sink_err = AIRLOCK_ERR_TOO_LARGE;
		snprintf(x->h->detail, sizeof x->h->detail, "body longer than the %" PRIu64 " bytes allowed", x->max);
		return 0;
	}
	if (x->sink) {
		airlock_err e = x->sink(x->sink_ctx, (const uint8_t *)p, len);
		if (e != AIRLOCK_OK) {
			x->sink_err = e;
			return 0;
		}
	} else {
		if (x->buf->len + len > x->buf->cap) {
			size_t cap = x->buf->cap ? x->buf->cap : 4096;
			while (cap < x->buf->len + len)
				cap *= 2;
			if (cap > x->max)
				cap = (size_t)x->max;
			uint8_t *q = realloc(x->buf->p, cap);
			if (!q) {
				x->sink_err = AIRLOCK_ERR_NOMEM;
				return 0;
			}
			x->buf->p = q;
			x->buf->cap = cap;
		}
		memcpy(x->buf->p + x->buf->len, p, len);
		x->buf->len += len;
	}
	x->received += len;
	return len;
}

static void set_common(struct agent_http *h, struct xfer *x, const char *url)
{
	const struct agent_config *c = h->cfg;
	CURL *k = h->curl;
	cu->easy_reset(k);   /* keeps the connection cache: keep-alive across requests */
	cu->easy_setopt(k, CURLOPT_URL, url);
	cu->easy_setopt(k, CURLOPT_PROTOCOLS_STR, "https");
	cu->easy_setopt(k, CURLOPT_REDIR_PROTOCOLS_STR, "https");
	cu->easy_setopt(k, CURLOPT_FOLLOWLOCATION, 0L);
	cu->easy_setopt(k, CURLOPT_NOSIGNAL, 1L);
	cu->easy_setopt(k, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	cu->easy_setopt(k, CURLOPT_SSL_CIPHER_LIST, TLS12_CIPHERS);
	cu->easy_setopt(k, CURLOPT_SSL_VERIFYPEER, 1L);
	cu->easy_setopt(k, CURLOPT_SSL_VERIFYHOST, 2L);
	cu->easy_setopt(k, CURLOPT_CAINFO, c->ca);
	cu->easy_setopt(k, CURLOPT_CAPATH, NULL);   /* the fleet CA only, never the system store */
	if (c->cert[0]) {   /* none yet while enrolling */
		cu->easy_setopt(k, CURLOPT_SSLCERT, c->cert);
		cu->easy_setopt(k, CURLOPT_SSLKEY, c->key);
	}
	if (c->pin[0])
		cu->easy_setopt(k, CURLOPT_PINNEDPUBLICKEY, c->pin);
	cu->easy_setopt(k, CURLOPT_CONNECTTIMEOUT, (long)c->connect_timeout);
	cu->easy_setopt(k, CURLOPT_LOW_SPEED_LIMIT, (long)c->min_rate);
	cu->easy_setopt(k, CURLOPT_LOW_SPEED_TIME, (long)c->rate_window);
	cu->easy_setopt(k, CURLOPT_USERAGENT, "airlockd/0.1.0");
	cu->easy_setopt(k, CURLOPT_ERRORBUFFER, h->errbuf);
	cu->easy_setopt(k, CURLOPT_HEADERFUNCTION, on_header);
	cu->easy_setopt(k, CURLOPT_HEADERDATA, x);
	cu->easy_setopt(k, CURLOPT_WRITEFUNCTION, on_body);
	cu->easy_setopt(k, CURLOPT_WRITEDATA, x);
	cu->easy_setopt(k, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)x->max);
	h->errbuf[0] = '\0';
	h->detail[0] = '\0';
	h->status = 0;
}

/* Runs the transfer and turns its outcome into one code and one line. */
static airlock_err perform(struct agent_http *h, struct xfer *x)
{
	CURLcode rc = cu->easy_perform(h->curl);
	curl_off_t pre = 0;
	cu->easy_getinfo(h->curl, CURLINFO_PRETRANSFER_TIME_T, &pre);
	if (!x->checked && (rc == CURLE_OK || rc == CURLE_FILESIZE_EXCEEDED)) {
		/* An empty body: status and range are checked all the same. */
		x->checked = true;
		x->sink_err = check_answer(x);
	}
	if (rc == CURLE_OK && x->sink && x->sink_err == AIRLOCK_OK && x->received != x->max) {
		snprintf(h->detail, sizeof h->detail, "body ended after %" PRIu64 " of %" PRIu64 " bytes", x->received,
			 x->max);
		return AIRLOCK_ERR_NETWORK;
	}
	airlock_err e = agent_http_map(rc, h->errbuf, pre > 0, x->sink_err);
	if (e == AIRLOCK_ERR_HTTP_STATUS && !h->detail[0])
		snprintf(h->detail, sizeof h->detail, "HTTP %ld: %.300s", h->status, x->errbody);
	else if (e != AIRLOCK_OK && !h->detail[0] && x->sink_err == AIRLOCK_OK)
		snprintf(h->detail, sizeof h->detail, "%s", h->errbuf[0] ? h->errbuf : cu->easy_strerror(rc));
	if (rc == CURLE_FILESIZE_EXCEEDED && e == AIRLOCK_ERR_TOO_LARGE)
		snprintf(h->detail, sizeof h->detail, "answer announced as longer than the %" PRIu64 " bytes allowed",
			 x->max);
	if (e == AIRLOCK_ERR_TOO_SLOW)
		snprintf(h->detail, sizeof h->detail, "below %u bytes/s for %u s", h->cfg->min_rate, h->cfg->rate_window);
	return e;
}

airlock_err agent_http_post_json(struct agent_http *h, const char *url, const char *json, size_t max,
				 struct agent_buf *out)
{
	struct xfer x = { .h = h, .buf = out, .max = max, .want_status = 200, .any_2xx = true };
	memset(out, 0, sizeof *out);
	airlock_err e = open_handle(h);
	if (e != AIRLOCK_OK)
		return e;
	set_common(h, &x, url);
	struct curl_slist *hdr = cu->slist_append(NULL, "Content-Type: application/json");
	cu->easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdr);
	cu->easy_setopt(h->curl, CURLOPT_POSTFIELDS, json);
	cu->easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(json));
	e = perform(h, &x);
	cu->slist_free_all(hdr);
	if (e != AIRLOCK_OK)
		agent_buf_free(out);
	return e;
}

airlock_err agent_http_get(struct agent_http *h, const char *url, size_t max, struct agent_buf *out)
{
	struct xfer x = { .h = h, .buf = out, .max = max, .want_status = 200 };
	memset(out, 0, sizeof *out);
	airlock_err e = open_handle(h);
	if (e != AIRLOCK_OK)
		return e;
	set_common(h, &x, url);
	e = perform(h, &x);
	if (e != AIRLOCK_OK)
		agent_buf_free(out);
	return e;
}

airlock_err agent_http_stream(struct agent_http *h, const char *url, uint64_t offset, uint64_t total,
			      agent_http_sink sink, void *ctx, uint64_t *received)
{
	char range[64];
	*received = 0;
	if (offset > total)
		return AIRLOCK_ERR_INVALID_ARG;
	if (offset == total)
		return AIRLOCK_OK;
	airlock_err e = open_handle(h);
	if (e != AIRLOCK_OK)
		return e;
	struct xfer x = { .h = h, .sink = sink, .sink_ctx = ctx, .offset = offset, .total = total,
			  .max = total - offset, .want_status = offset ? 206 : 200 };
	set_common(h, &x, url);
	if (offset) {
		snprintf(range, sizeof range, "%" PRIu64 "-", offset);
		cu->easy_setopt(h->curl, CURLOPT_RANGE, range);
	}
	e = perform(h, &x);
	*received = x.received;
	return e;
}
