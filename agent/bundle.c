/* Offline bundles: the table of contents, and the bundle as an update source. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/keywrap.h"
#include "bundle.h"

#define READ_BLOCK (256u * 1024u)

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static airlock_err pread_all(int fd, uint8_t *buf, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pread(fd, buf, len, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return AIRLOCK_ERR_IO_READ;
		buf += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return AIRLOCK_OK;
}

/* A region must lie after the header and inside the file. */
static bool region_ok(const struct agent_bundle *b, uint64_t off, uint64_t len)
{
	uint64_t data_start = AIRLOCK_BUNDLE_PREFIX_LEN + (uint64_t)b->header_len;
	return off >= data_start && off <= b->file_size && len <= b->file_size - off;
}

static airlock_err parse_entry(struct airlock_cbor_dec *d, struct agent_bundle *b, struct agent_bundle_entry *e)
{
	size_t n;
	const char *name;
	size_t name_len;
	airlock_err err = airlock_cbor_read_array(d, &n);
	if (err != AIRLOCK_OK)
		return err;
	if (n != 5)
		return AIRLOCK_ERR_MALFORMED;
	err = airlock_cbor_read_tstr(d, &name, &name_len);
	if (err == AIRLOCK_OK)
		err = airlock_check_payload_name(name, name_len);
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(d, &e->chunks_off);
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(d, &e->chunks_len);
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(d, &e->artifact_off);
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(d, &e->artifact_len);
	if (err != AIRLOCK_OK)
		return err;
	if (!region_ok(b, e->chunks_off, e->chunks_len) || !region_ok(b, e->artifact_off, e->artifact_len))
		return AIRLOCK_ERR_BAD_VALUE;
	e->name = (struct airlock_str){ name, name_len };
	return AIRLOCK_OK;
}

static airlock_err parse_header(struct agent_bundle *b)
{
	struct airlock_cbor_dec d;
	struct airlock_cbor_map m;
	int64_t key;
	bool have_payloads = false;
	airlock_cbor_dec_init(&d, b->header, b->header_len);
	airlock_err err = airlock_cbor_map_begin(&d, &m);
	while (err == AIRLOCK_OK && (err = airlock_cbor_map_next(&d, &m, &key)) == AIRLOCK_OK && !m.done) {
		if (key == AIRLOCK_BUNDLE_KEY_RELEASE) {
			err = airlock_cbor_read_bstr(&d, &b->release.ptr, &b->release.len);
		} else if (key == AIRLOCK_BUNDLE_KEY_KEYS) {
			err = airlock_cbor_read_bstr(&d, &b->keys.ptr, &b->keys.len);
		} else if (key == AIRLOCK_BUNDLE_KEY_PAYLOADS) {
			size_t n;
			err = airlock_cbor_read_array(&d, &n);
			if (err == AIRLOCK_OK && (n == 0 || n > AIRLOCK_MAX_PAYLOADS))
				err = AIRLOCK_ERR_LIMIT;
			for (size_t i = 0; err == AIRLOCK_OK && i < n; i++)
				err = parse_entry(&d, b, &b->entries[i]);
			b->n = n;
			have_payloads = err == AIRLOCK_OK;
		} else {
			err = AIRLOCK_ERR_UNKNOWN_FIELD;
		}
	}
	if (err == AIRLOCK_OK)
		err = airlock_cbor_dec_finish(&d);
	if (err == AIRLOCK_OK && (!b->release.ptr || !have_payloads))
		err = AIRLOCK_ERR_MISSING_FIELD;
	if (err == AIRLOCK_OK && b->release.len > AIRLOCK_RELEASE_MAX_LEN)
		err = AIRLOCK_ERR_TOO_LARGE;
	return err;
}

airlock_err agent_bundle_open(struct agent_bundle *b, const char *path, char *detail, size_t cap)
{
	uint8_t prefix[AIRLOCK_BUNDLE_PREFIX_LEN];
	struct stat st;
	memset(b, 0, sizeof *b);
	snprintf(b->path, sizeof b->path, "%s", path);
	b->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (b->fd < 0) {
		snprintf(detail, cap, "%s: %s", path, strerror(errno));
		return AIRLOCK_ERR_IO_OPEN;
	}
	airlock_err err = fstat(b->fd, &st) == 0 && S_ISREG(st.st_mode) ? AIRLOCK_OK : AIRLOCK_ERR_IO_READ;
	b->file_size = (uint64_t)st.st_size;
	if (err == AIRLOCK_OK && b->file_size < sizeof prefix)
		err = AIRLOCK_ERR_MALFORMED;
	if (err == AIRLOCK_OK)
		err = pread_all(b->fd, prefix, sizeof prefix, 0);
	if (err == AIRLOCK_OK && memcmp(prefix, AIRLOCK_BUNDLE_MAGIC, AIRLOCK_BUNDLE_MAGIC_LEN) != 0)
		err = AIRLOCK_ERR_MALFORMED;
	if (err == AIRLOCK_OK) {
		uint32_t hlen = be32(prefix + AIRLOCK_BUNDLE_MAGIC_LEN);
		if (hlen == 0 || hlen > AIRLOCK_BUNDLE_HEADER_MAX)
			err = AIRLOCK_ERR_TOO_LARGE;
		else if (hlen > b->file_size - sizeof prefix)
			err = AIRLOCK_ERR_MALFORMED;
		b->header_len = hlen;
	}
	if (err == AIRLOCK_OK && !(b->header = malloc(b->header_len)))
		err = AIRLOCK_ERR_NOMEM;
	if (err == AIRLOCK_OK)
		err = pread_all(b->fd, b->header, b->header_len, sizeof prefix);
	if (err == AIRLOCK_OK)
		err = parse_header(b);
	if (err != AIRLOCK_OK) {
		snprintf(detail, cap, "%s: not a valid bundle (%s)", path, airlock_strerror(err));
		agent_bundle_close(b);
	}
	return err;
}

void agent_bundle_close(struct agent_bundle *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
	free(b->header);
	b->header = NULL;
}

static const struct agent_bundle_entry *entry_for(const struct agent_bundle *b, const struct airlock_payload *p)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->entries[i].name.len == p->name.len && memcmp(b->entries[i].name.ptr, p->name.ptr, p->name.len) == 0)
			return &b->entries[i];
	return NULL;
}

static airlock_err bundle_chunks(struct agent_source *s, const struct airlock_payload *p, uint8_t *buf, size_t len)
{
	struct agent_bundle *b = s->impl;
	const struct agent_bundle_entry *e = entry_for(b, p);
	if (!e) {
		snprintf(s->detail, sizeof s->detail, "bundle has no payload %.*s", (int)p->name.len, p->name.ptr);
		return AIRLOCK_ERR_NOT_FOUND;
	}
	if (e->chunks_len != len) {
		snprintf(s->detail, sizeof s->detail, "chunk list of %.*s has the wrong length", (int)p->name.len,
			 p->name.ptr);
		return AIRLOCK_ERR_SIZE_MISMATCH;
	}
	return pread_all(b->fd, buf, len, e->chunks_off);
}

static airlock_err bundle_stream(struct agent_source *s, const struct airlock_payload *p, uint64_t offset,
				 uint64_t total, agent_http_sink sink, void *ctx, uint64_t *received)
{
	struct agent_bundle *b = s->impl;
	const struct agent_bundle_entry *e = entry_for(b, p);
	*received = 0;
	if (!e)
		return AIRLOCK_ERR_NOT_FOUND;
	if (e->artifact_len != total) {
		/* Longer or shorter than signed: refused before a byte is read. */
		snprintf(s->detail, sizeof s->detail, "artifact of %.*s has %llu bytes, the release signs %llu",
			 (int)p->name.len, p->name.ptr, (unsigned long long)e->artifact_len, (unsigned long long)total);
		return e->artifact_len > total ? AIRLOCK_ERR_TOO_LARGE : AIRLOCK_ERR_SIZE_MISMATCH;
	}
	uint8_t *buf = malloc(READ_BLOCK);
	if (!buf)
		return AIRLOCK_ERR_NOMEM;
	airlock_err err = AIRLOCK_OK;
	for (uint64_t off = offset; err == AIRLOCK_OK && off < total;) {
		size_t n = total - off < READ_BLOCK ? (size_t)(total - off) : READ_BLOCK;
		err = pread_all(b->fd, buf, n, e->artifact_off + off);
		if (err == AIRLOCK_OK)
			err = sink(ctx, buf, n);
		off += n;
		*received += n;
	}
	free(buf);
	return err;
}

void agent_source_bundle(struct agent_source *s, struct agent_bundle *b)
{
	memset(s, 0, sizeof *s);
	s->chunks = bundle_chunks;
	s->stream = bundle_stream;
	s->what = b->path;
	s->resumable = false;
	s->impl = b;
}

airlock_err agent_bundle_wrapped_key(const struct agent_bundle *b, const char *wrap_key_path, uint8_t *out, size_t cap,
				     size_t *len)
{
	struct airlock_cbor_dec d;
	struct airlock_privkey *k = NULL;
	uint64_t format;
	size_t n;
	if (!b->keys.ptr || !wrap_key_path[0] || cap < AIRLOCK_KEYWRAP_CBOR_LEN)
		return AIRLOCK_ERR_KEY_UNWRAP;
	airlock_cbor_dec_init(&d, b->keys.ptr, b->keys.len);
	airlock_err err = airlock_cbor_read_array(&d, &n);
	if (err == AIRLOCK_OK && n != 2)
		err = AIRLOCK_ERR_MALFORMED;
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(&d, &format);
	if (err == AIRLOCK_OK && format != 1)
		err = AIRLOCK_ERR_UNSUPPORTED_VERSION;
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_array(&d, &n);
	if (err == AIRLOCK_OK && n > 64)
		err = AIRLOCK_ERR_LIMIT;
	if (err == AIRLOCK_OK)
		err = airlock_privkey_load(wrap_key_path, &k);
	if (err != AIRLOCK_OK)
		return err;
	err = AIRLOCK_ERR_KEY_UNWRAP;
	for (size_t i = 0; i < n; i++) {
		struct airlock_wrapped_key w;
		uint8_t ck[AIRLOCK_CONTENT_KEY_LEN];
		const uint8_t *start = d.p;
		if (airlock_keywrap_decode(&d, &w) != AIRLOCK_OK)
			break;
		if (airlock_keywrap_open(&w, k, ck) == AIRLOCK_OK) {
			/* Hand on the wrap, not the key: the update unwraps it itself. */
			airlock_wipe(ck, sizeof ck);
			*len = (size_t)(d.p - start);
			memcpy(out, start, *len);
			err = AIRLOCK_OK;
			break;
		}
	}
	airlock_privkey_free(k);
	return err;
}
