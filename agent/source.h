/* Update sources: the server (source_net.c) and an offline bundle (bundle.c). */
#ifndef AGENT_SOURCE_H
#define AGENT_SOURCE_H

#include "update.h"

/* A sink that fills a fixed buffer (TOO_LARGE past its end). */
struct agent_source_buf {
	uint8_t *p;
	size_t len, cap;
};
airlock_err agent_source_buf_sink(void *ctx, const uint8_t *p, size_t n);

/* What the server source keeps (the caller's storage, outliving the source). */
struct agent_net_src {
	struct agent *a;
	const struct airlock_directive *dir;
};

/*
 * The server, for the verified directive dir and release rel. Checks first
 * that each artifact the directive names is the release's (size, and
 * ciphertext digest): SIZE_MISMATCH / DIGEST_MISMATCH / NOT_FOUND, with
 * s->detail saying which.
 */
AIRLOCK_MUST_USE airlock_err agent_source_net(struct agent_source *s, struct agent *a,
					      const struct airlock_directive *dir, const struct airlock_release *rel,
					      struct agent_net_src *storage);

#endif
