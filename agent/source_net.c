/*
 * The server as an update source: the artifact URL the signed directive
 * names, the chunk-digest list beside it (content-addressed by the digest
 * the release signs), both fetched over the agent's HTTPS client.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "airlock/hex.h"
#include "handoff.h"
#include "source.h"


static const struct airlock_directive_payload *find(const struct airlock_directive *dir, const struct airlock_payload *p)
{
	for (size_t i = 0; i < dir->n_payloads; i++)
		if (dir->payloads[i].name.len == p->name.len &&
		    memcmp(dir->payloads[i].name.ptr, p->name.ptr, p->name.len) == 0)
			return &dir->payloads[i];
	return NULL;
}

/* The artifact's URL (the first the directive lists). */
static airlock_err artifact_url(struct agent_source *s, const struct airlock_payload *p, char *url, size_t cap)
{
	struct agent_net_src *n = s->impl;
	const struct airlock_directive_payload *dp = find(n->dir, p);
	if (!dp || dp->n_urls == 0) {
		snprintf(s->detail, sizeof s->detail, "the directive names no URL for payload %.*s", (int)p->name.len,
			 p->name.ptr);
		return AIRLOCK_ERR_NOT_FOUND;
	}
	if (dp->urls[0].len >= cap)
		return AIRLOCK_ERR_TOO_LARGE;
	snprintf(url, cap, "%.*s", (int)dp->urls[0].len, dp->urls[0].ptr);
	return AIRLOCK_OK;
}

static airlock_err net_chunks(struct agent_source *s, const struct airlock_payload *p, uint8_t *buf, size_t len)
{
	struct agent_net_src *n = s->impl;
	char url[AIRLOCK_MAX_URL_LEN + 80], hex[2 * AIRLOCK_SHA256_LEN + 1];
	airlock_err e = artifact_url(s, p, url, sizeof url);
	if (e != AIRLOCK_OK)
		return e;
	/* The list is the artifact whose SHA-256 is the payload's signed digest,
	 * beside the payload's own artifact. */
	char *slash = strrchr(url, '/');
	if (!slash || (size_t)(slash - url) + 1 + sizeof hex > sizeof url)
		return AIRLOCK_ERR_BAD_VALUE;
	airlock_hex_encode(p->digest, AIRLOCK_SHA256_LEN, hex);
	memcpy(slash + 1, hex, sizeof hex);
	struct agent_source_buf sb = { buf, 0, len };
	uint64_t got = 0;
	e = agent_http_stream(&n->a->http, url, 0, len, agent_source_buf_sink, &sb, &got);
	if (e != AIRLOCK_OK)
		snprintf(s->detail, sizeof s->detail, "%s", n->a->http.detail);
	return e;
}

static airlock_err net_stream(struct agent_source *s, const struct airlock_payload *p, uint64_t offset, uint64_t total,
			      agent_http_sink sink, void *ctx, uint64_t *received)
{
	struct agent_net_src *n = s->impl;
	char url[AIRLOCK_MAX_URL_LEN + 80];
	s->detail[0] = '\0';
	airlock_err e = artifact_url(s, p, url, sizeof url);
	if (e != AIRLOCK_OK)
		return e;
	/* The receive (TLS) on this thread, the consumer (the install pipeline)
	 * on a second one, so that they overlap (handoff.h). */
	struct agent_handoff h;
	agent_handoff_start(&h, sink, ctx);
	e = agent_http_stream(&n->a->http, url, offset, total, agent_handoff_push, &h, received);
	airlock_err pipeline = agent_handoff_finish(&h);
	if (pipeline != AIRLOCK_OK)
		return pipeline;   /* the consumer's own failure, which update.c explains */
	if (e != AIRLOCK_OK)
		snprintf(s->detail, sizeof s->detail, "%s", n->a->http.detail);
	return e;
}

airlock_err agent_source_buf_sink(void *ctx, const uint8_t *p, size_t n)
{
	struct agent_source_buf *b = ctx;
	if (n > b->cap - b->len)
		return AIRLOCK_ERR_TOO_LARGE;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return AIRLOCK_OK;
}

airlock_err agent_source_net(struct agent_source *s, struct agent *a, const struct airlock_directive *dir,
			     const struct airlock_release *rel, struct agent_net_src *n)
{
	memset(s, 0, sizeof *s);
	n->a = a;
	n->dir = dir;
	s->chunks = net_chunks;
	s->stream = net_stream;
	s->what = "the server";
	s->resumable = true;
	s->impl = n;
	/* The directive's artifact must be the release's: same size, and for a
	 * ciphertext the signed SHA-256 (mix-and-match is refused before any
	 * byte is fetched; the chunk list catches the rest at the first chunk). */
	for (size_t i = 0; i < dir->n_payloads; i++) {
		const struct airlock_directive_payload *dp = &dir->payloads[i];
		const struct airlock_payload *p = airlock_release_find_payload(rel, dp->name.ptr, dp->name.len);
		if (!p) {
			snprintf(s->detail, sizeof s->detail, "directive names payload %.*s that the release lacks",
				 (int)dp->name.len, dp->name.ptr);
			return AIRLOCK_ERR_NOT_FOUND;
		}
		if (dp->kind != AIRLOCK_ARTIFACT_FULL) {
			snprintf(s->detail, sizeof s->detail, "delta artifacts are not supported by this agent");
			return AIRLOCK_ERR_BAD_VALUE;
		}
		uint64_t size = p->encrypted ? p->enc.size : p->size;
		if (dp->size != size) {
			snprintf(s->detail, sizeof s->detail, "directive's artifact size %" PRIu64 " is not the signed %" PRIu64,
				 dp->size, size);
			return AIRLOCK_ERR_SIZE_MISMATCH;
		}
		if (p->encrypted && !airlock_ct_equal(dp->digest, p->enc.sha256, AIRLOCK_SHA256_LEN)) {
			snprintf(s->detail, sizeof s->detail, "directive's artifact digest is not the release's");
			return AIRLOCK_ERR_DIGEST_MISMATCH;
		}
	}
	return AIRLOCK_OK;
}
