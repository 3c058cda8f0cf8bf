/* Reading an offline bundle (bundle_format.h) as an update source. */
#ifndef AGENT_BUNDLE_H
#define AGENT_BUNDLE_H

#include <stdio.h>

#include "bundle_format.h"
#include "source.h"

struct agent_bundle_entry {
	struct airlock_str name;
	uint64_t chunks_off, chunks_len, artifact_off, artifact_len;
};

struct agent_bundle {
	int fd;
	uint64_t file_size;
	uint8_t *header;                 /* hlen bytes; the views below point into it */
	size_t header_len;
	struct airlock_bytes release;
	struct airlock_bytes keys;       /* empty if absent */
	size_t n;
	struct agent_bundle_entry entries[AIRLOCK_MAX_PAYLOADS];
	char path[1024];
};

/*
 * Opens path and reads its table of contents (MALFORMED, TOO_LARGE,
 * UNKNOWN_FIELD, ...; a region outside the file: BAD_VALUE). Nothing is
 * verified yet: the caller verifies the release, then streams through
 * agent_source_bundle().
 */
AIRLOCK_MUST_USE airlock_err agent_bundle_open(struct agent_bundle *b, const char *path, char *detail, size_t cap);
void agent_bundle_close(struct agent_bundle *b);

/* The bundle as an update source. */
void agent_source_bundle(struct agent_source *s, struct agent_bundle *b);

/*
 * The content key wrapped for this device from the bundle's keys file:
 * the CBOR of the first entry that opens with the wrap key, into out
 * (AIRLOCK_KEYWRAP_CBOR_LEN bytes). KEY_UNWRAP when none does.
 */
AIRLOCK_MUST_USE airlock_err agent_bundle_wrapped_key(const struct agent_bundle *b, const char *wrap_key_path,
						      uint8_t *out, size_t cap, size_t *len);

#endif
