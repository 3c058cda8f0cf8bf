/*
 * Fuzz target for the offline bundle reader (agent/bundle.c,
 * agent/bundle_format.h): the prefix, the CBOR table of contents, and the
 * regions it points to as the update reads them, plus the keys file walk
 * that finds this device's wrapped content key.
 *
 * Input: the bundle file. The reader works on an open file (it streams the
 * artifacts from it later), so the input is written to a scratch file
 * (/dev/shm or TMPDIR, made once, removed at exit), beside a fixed test
 * X25519 wrap key (tests/fuzz/corpus/bundle/ holds bundles made with the
 * real `airlock bundle create` for it; see tests/fuzz/make_corpus.py).
 *
 * Invariants, each an abort(): open gives only format errors and a
 * one-line detail; an accepted table of contents has 1..AIRLOCK_MAX_PAYLOADS
 * entries with valid names, a release view inside the header, and every
 * region after the header and inside the file; the chunk list and the
 * artifact read back through the update source are exactly those bytes of
 * the file (from any offset), and a size other than the region's is
 * refused before a byte is read; a wrapped key found is one of the keys
 * file's entries, byte for byte.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/keywrap.h"
#include "bundle.h"
#include "update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A test key made for this harness only (airlock key generate --alg x25519). */
static const char wrap_key_pem[] = "-----BEGIN PRIVATE KEY-----\n"
				   "MC4CAQAwBQYDK2VuBCIEIGAx3ZXnfBFrK4cbPqKqJnFnC+xPJ+yxB4J3uP/Cy4Rl\n"
				   "-----END PRIVATE KEY-----\n";

static char dir[256], bundle_path[300], key_path[300];

static void cleanup(void)
{
	unlink(bundle_path);
	unlink(key_path);
	rmdir(dir);
}

static void put_file(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(buf, 1, len, f) != len || fclose(f) != 0)
		abort();
}

static void scratch(void)
{
	if (dir[0])
		return;
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(dir, sizeof dir, "%s/fuzz-bundle-XXXXXX", base);
	if (!mkdtemp(dir))
		abort();
	snprintf(bundle_path, sizeof bundle_path, "%s/b.bundle", dir);
	snprintf(key_path, sizeof key_path, "%s/wrap.key", dir);
	atexit(cleanup);
	put_file(key_path, wrap_key_pem, sizeof wrap_key_pem - 1);
	if (chmod(key_path, 0600) != 0)
		abort();
}

/* The sink: every byte must be the file's byte at the region's offset. */
struct expect {
	const uint8_t *file;
	uint64_t at;
};

static airlock_err sink(void *ctx, const uint8_t *p, size_t n)
{
	struct expect *x = ctx;
	if (memcmp(p, x->file + x->at, n) != 0)
		abort();
	x->at += n;
	return AIRLOCK_OK;
}

static bool inside(const uint8_t *p, size_t n, const uint8_t *base, size_t len)
{
	return p >= base && (size_t)(p - base) <= len && n <= len - (size_t)(p - base);
}

static bool contains(const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t n)
{
	for (size_t i = 0; n <= hay_len && i <= hay_len - n; i++)
		if (memcmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

/* The source serves the first entry of a name (the table of contents does
 * not forbid a second one; the release names each payload once). */
static bool first_of_name(const struct agent_bundle *b, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (b->entries[j].name.len == b->entries[i].name.len &&
		    memcmp(b->entries[j].name.ptr, b->entries[i].name.ptr, b->entries[i].name.len) == 0)
			return false;
	return true;
}

static void read_entry(struct agent_source *s, const struct agent_bundle_entry *e, const uint8_t *file)
{
	struct airlock_payload p;
	uint64_t got;
	memset(&p, 0, sizeof p);
	p.name = e->name;
	uint8_t *buf = malloc(e->chunks_len ? (size_t)e->chunks_len : 1);
	if (!buf)
		abort();
	if (s->chunks(s, &p, buf, (size_t)e->chunks_len) != AIRLOCK_OK ||
	    memcmp(buf, file + e->chunks_off, (size_t)e->chunks_len) != 0)
		abort();
	if (s->chunks(s, &p, buf, (size_t)e->chunks_len + 1) != AIRLOCK_ERR_SIZE_MISMATCH)
		abort();
	free(buf);

	uint64_t from = e->artifact_len / 3;
	struct expect x = { file, e->artifact_off + from };
	if (s->stream(s, &p, from, e->artifact_len, sink, &x, &got) != AIRLOCK_OK || got != e->artifact_len - from ||
	    x.at != e->artifact_off + e->artifact_len)
		abort();
	if (s->stream(s, &p, 0, e->artifact_len + 1, sink, &x, &got) != AIRLOCK_ERR_SIZE_MISMATCH || got != 0)
		abort();
	if (e->artifact_len > 0 &&
	    (s->stream(s, &p, 0, e->artifact_len - 1, sink, &x, &got) != AIRLOCK_ERR_TOO_LARGE || got != 0))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_bundle b;
	struct agent_source s;
	char detail[256];
	scratch();
	put_file(bundle_path, data, size);

	detail[0] = '\0';
	airlock_err err = agent_bundle_open(&b, bundle_path, detail, sizeof detail);
	if (err != AIRLOCK_OK) {
		if (err == AIRLOCK_ERR_IO_OPEN || err == AIRLOCK_ERR_NOMEM || !detail[0] || strchr(detail, '\n'))
			abort();
		return 0;
	}
	uint64_t data_start = AIRLOCK_BUNDLE_PREFIX_LEN + (uint64_t)b.header_len;
	if (b.file_size != size || b.n < 1 || b.n > AIRLOCK_MAX_PAYLOADS || !b.release.ptr ||
	    !inside(b.release.ptr, b.release.len, b.header, b.header_len) ||
	    (b.keys.ptr && !inside(b.keys.ptr, b.keys.len, b.header, b.header_len)))
		abort();
	agent_source_bundle(&s, &b);
	for (size_t i = 0; i < b.n; i++) {
		const struct agent_bundle_entry *e = &b.entries[i];
		if (airlock_check_payload_name(e->name.ptr, e->name.len) != AIRLOCK_OK || e->chunks_off < data_start ||
		    e->chunks_off > size || e->chunks_len > size - e->chunks_off || e->artifact_off < data_start ||
		    e->artifact_off > size || e->artifact_len > size - e->artifact_off)
			abort();
		if (first_of_name(&b, i))
			read_entry(&s, e, data);
	}

	uint8_t wrapped[AIRLOCK_KEYWRAP_CBOR_LEN];
	size_t wlen = 0;
	err = agent_bundle_wrapped_key(&b, key_path, wrapped, sizeof wrapped, &wlen);
	if (err == AIRLOCK_OK) {
		if (!b.keys.ptr || wlen == 0 || wlen > sizeof wrapped || wlen > b.keys.len ||
		    !contains(b.keys.ptr, b.keys.len, wrapped, wlen))
			abort();
	}
	agent_bundle_close(&b);
	return 0;
}
