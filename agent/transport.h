/*
 * airlockd's HTTPS client (libcurl): the only way the agent talks to the
 * network. Every request is
 *  - https only (no other scheme, no redirect at all: a 3xx is an error);
 *  - TLS 1.2 at least (TLS 1.2 limited to ECDHE with AEAD ciphers), the
 *    server verified against the fleet CA only (never the system store), its
 *    public key optionally pinned, the device's client certificate offered
 *    (none when the configuration names no certificate: enrollment);
 *  - bounded: every response has a byte cap (beyond it: AIRLOCK_ERR_TOO_LARGE
 *    at the first byte past the cap) and a minimum transfer rate
 *    (AIRLOCK_ERR_TOO_SLOW when the rate stays below it for the window);
 *  - proxied as the standard environment variables say (https_proxy, no_proxy).
 * Failures map onto the device-side codes of error.h; a one-line reason for
 * people is left in h->detail.
 */
#ifndef AGENT_TRANSPORT_H
#define AGENT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "airlock/error.h"
#include "config.h"

struct agent_http {
	CURL *curl;
	const struct agent_config *cfg;
	long status;              /* HTTP status of the last request, 0 if none */
	char detail[512];         /* why the last request failed */
	char errbuf[CURL_ERROR_SIZE];
};

/* A growable response buffer with a hard ceiling. */
struct agent_buf {
	uint8_t *p;
	size_t len, cap;         /* bytes used, bytes allocated */
};
void agent_buf_free(struct agent_buf *b);

/* Bytes of a streamed body; an error stops the transfer and is returned. */
typedef airlock_err (*agent_http_sink)(void *ctx, const uint8_t *p, size_t n);

AIRLOCK_MUST_USE airlock_err agent_http_init(struct agent_http *h, const struct agent_config *cfg);
void agent_http_free(struct agent_http *h);

/* POST a JSON body to url; the answer (2xx only, else HTTP_STATUS) into out
 * (at most max bytes). */
AIRLOCK_MUST_USE airlock_err agent_http_post_json(struct agent_http *h, const char *url, const char *json,
						  size_t max, struct agent_buf *out);
/* GET url into out (200 only; at most max bytes). */
AIRLOCK_MUST_USE airlock_err agent_http_get(struct agent_http *h, const char *url, size_t max, struct agent_buf *out);

/*
 * GET url from byte `offset` of a resource of `total` bytes, streaming the
 * body to sink. offset 0: a plain GET that must answer 200 with at most
 * `total` bytes. offset > 0: a Range request that must answer 206 with
 * exactly "Content-Range: bytes offset-(total-1)/total" (else
 * AIRLOCK_ERR_BAD_RANGE, before a byte reaches sink). A body longer than
 * promised is AIRLOCK_ERR_TOO_LARGE; a shorter one AIRLOCK_ERR_NETWORK
 * (resumable). *received counts the bytes handed to sink.
 */
AIRLOCK_MUST_USE airlock_err agent_http_stream(struct agent_http *h, const char *url, uint64_t offset, uint64_t total,
					       agent_http_sink sink, void *ctx, uint64_t *received);

/*
 * The mapping from a finished transfer to airlock_err (exposed for tests):
 * rc the curl result, errbuf curl's message, connected whether the
 * connection (TCP and TLS) was up when it failed, sink_err the error a
 * write callback recorded (AIRLOCK_OK if none).
 */
airlock_err agent_http_map(CURLcode rc, const char *errbuf, bool connected, airlock_err sink_err);

#endif
