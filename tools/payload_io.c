#include "payload_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/aead.h"
#include "airlock/keywrap.h"
#include "airlock/payload.h"
#include "cli.h"

/* ---- reading ---- */

struct reader {
	int fd;
	uint64_t size;
	uint8_t *buf;
};

static airlock_err reader_open(struct reader *r, const char *path)
{
	struct stat st;
	r->buf = NULL;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	if (fstat(r->fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 0) {
		close(r->fd);
		return AIRLOCK_ERR_IO_READ;
	}
	r->size = (uint64_t)st.st_size;
	(void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	r->buf = malloc(PAYLOAD_IO_BUF);
	if (!r->buf) {
		close(r->fd);
		return AIRLOCK_ERR_NOMEM;
	}
	return AIRLOCK_OK;
}

/* Fills up to PAYLOAD_IO_BUF bytes; *n == 0 at the end. */
static airlock_err reader_next(struct reader *r, size_t *n)
{
	size_t got = 0;
	while (got < PAYLOAD_IO_BUF) {
		ssize_t k = read(r->fd, r->buf + got, PAYLOAD_IO_BUF - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return AIRLOCK_ERR_IO_READ;
		if (k == 0)
			break;
		got += (size_t)k;
	}
	*n = got;
	return AIRLOCK_OK;
}

static void reader_close(struct reader *r)
{
	if (r->buf)
		airlock_wipe(r->buf, PAYLOAD_IO_BUF);
	free(r->buf);
	close(r->fd);
}

/* ---- content key ---- */

void payload_key_wipe(struct payload_key *k)
{
	airlock_wipe(k, sizeof *k);
}

int payload_key_load(struct payload_key *k, const char *privkey_path, const char *keys_path)
{
	struct airlock_privkey *priv = NULL;
	uint8_t *buf = NULL, pub[AIRLOCK_PUB_MAX_LEN], keyid[AIRLOCK_KEYID_LEN];
	size_t len, pub_len, n;
	struct airlock_cbor_dec d;
	uint64_t format;
	int rc = EXIT_OK;

	airlock_err err = airlock_privkey_load(privkey_path, &priv);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", privkey_path);
	if (airlock_privkey_alg(priv) != AIRLOCK_ALG_X25519) {
		rc = cli_fail(AIRLOCK_ERR_UNSUPPORTED_ALG, "%s: not an x25519 key", privkey_path);
		goto out;
	}
	err = airlock_privkey_public(priv, pub, &pub_len);
	if (err == AIRLOCK_OK)
		err = airlock_keyid(pub, pub_len, keyid);
	if (err == AIRLOCK_OK)
		err = cli_read_file(keys_path, KEYS_FILE_MAX, &buf, &len);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", err == AIRLOCK_ERR_IO_OPEN ? keys_path : privkey_path);
		goto out;
	}
	airlock_cbor_dec_init(&d, buf, len);
	err = airlock_cbor_read_array(&d, &n);
	if (err == AIRLOCK_OK && n != 2)
		err = AIRLOCK_ERR_MALFORMED;
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_uint(&d, &format);
	if (err == AIRLOCK_OK && format != KEYS_FILE_FORMAT)
		err = AIRLOCK_ERR_UNSUPPORTED_VERSION;
	if (err == AIRLOCK_OK)
		err = airlock_cbor_read_array(&d, &n);
	if (err == AIRLOCK_OK && n > KEYS_MAX_RECIPIENTS)
		err = AIRLOCK_ERR_LIMIT;
	/* Decode every entry (and the end) before using any: a keys file is
	 * accepted whole or not at all. */
	bool found = false;
	struct airlock_wrapped_key mine;
	for (size_t i = 0; err == AIRLOCK_OK && i < n; i++) {
		struct airlock_wrapped_key w;
		err = airlock_keywrap_decode(&d, &w);
		if (err == AIRLOCK_OK && !found && memcmp(w.recipient, keyid, AIRLOCK_KEYID_LEN) == 0) {
			mine = w;
			found = true;
		}
	}
	if (err == AIRLOCK_OK)
		err = airlock_cbor_dec_finish(&d);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "keys file %s", keys_path);
		goto out;
	}
	if (!found) {
		rc = cli_fail(AIRLOCK_ERR_KEY_UNWRAP, "%s holds no content key for key %s", keys_path,
			      cli_keyid_short(keyid));
		goto out;
	}
	err = airlock_keywrap_open(&mine, priv, k->key);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "keys file %s, entry for key %s", keys_path, cli_keyid_short(keyid));
		goto out;
	}
	k->loaded = true;
out:
	airlock_privkey_free(priv);
	free(buf);
	return rc;
}

/* ---- verifying ---- */

static airlock_err to_check(void *ctx, const uint8_t *pt, size_t len, uint64_t index)
{
	(void)index;
	return airlock_payload_check_update(ctx, pt, len);
}

static int fail_payload(airlock_err err, const struct airlock_payload *p, const char *path,
			const struct airlock_payload_check *check, const char *what)
{
	const int nl = (int)p->name.len;
	switch (err) {
	case AIRLOCK_ERR_TOO_LARGE:
		return cli_fail(err, "payload %.*s: %s %s is longer than the signed %llu bytes", nl, p->name.ptr,
				what, path, (unsigned long long)(strcmp(what, "ciphertext") ? p->size : p->enc.size));
	case AIRLOCK_ERR_SIZE_MISMATCH:
		return cli_fail(err, "payload %.*s: %s %s is shorter than the signed %llu bytes", nl, p->name.ptr,
				what, path, (unsigned long long)(strcmp(what, "ciphertext") ? p->size : p->enc.size));
	case AIRLOCK_ERR_DIGEST_MISMATCH:
		if (check && check->list)
			return cli_fail(err, "payload %.*s: %s: chunk %llu", nl, p->name.ptr, path,
					(unsigned long long)check->failed_index);
		return cli_fail(err, "payload %.*s: %s %s does not match the signed digest", nl, p->name.ptr, what, path);
	default:
		return cli_fail(err, "payload %.*s: %s %s", nl, p->name.ptr, what, path);
	}
}

static int verify_plain(const struct airlock_payload *p, const char *path, struct reader *r)
{
	struct airlock_payload_check check;
	airlock_err err = airlock_payload_check_init(&check, p, NULL);
	size_t n;
	while (err == AIRLOCK_OK) {
		err = reader_next(r, &n);
		if (err != AIRLOCK_OK || n == 0)
			break;
		err = airlock_payload_check_update(&check, r->buf, n);
	}
	airlock_err fin = airlock_payload_check_final(&check, NULL);
	if (err == AIRLOCK_OK)
		err = fin;
	if (err != AIRLOCK_OK)
		return fail_payload(err, p, path, NULL, "plaintext");
	char hex[2 * AIRLOCK_SHA256_LEN + 1];
	cli_hex(p->digest, AIRLOCK_SHA256_LEN, hex);
	printf("OK payload %.*s: %s, %llu bytes, digest %s\n", (int)p->name.len, p->name.ptr, path,
	       (unsigned long long)p->size, hex);
	return EXIT_OK;
}

static int verify_cipher(const struct airlock_payload *p, const char *path, struct reader *r,
			 const struct payload_key *key)
{
	struct airlock_sha256 sha;
	struct airlock_payload_check check;
	struct airlock_aead_dec dec;
	uint8_t *chunk_buf = NULL, got[AIRLOCK_SHA256_LEN];
	uint64_t seen = 0;
	bool check_open = false, dec_open = false;
	size_t n;
	int rc = EXIT_OK;
	const char *stage = "ciphertext";

	airlock_err err = airlock_sha256_init(&sha);
	if (err == AIRLOCK_OK && key) {
		chunk_buf = malloc(AIRLOCK_AEAD_DEC_BUF(p->chunk_size));
		err = chunk_buf ? airlock_payload_check_init(&check, p, NULL) : AIRLOCK_ERR_NOMEM;
		check_open = err == AIRLOCK_OK;
		if (err == AIRLOCK_OK)
			err = airlock_aead_dec_init(&dec, key->key, p->enc.nonce_prefix, p->chunk_size, chunk_buf,
						    AIRLOCK_AEAD_DEC_BUF(p->chunk_size));
		dec_open = err == AIRLOCK_OK;
	}
	while (err == AIRLOCK_OK) {
		err = reader_next(r, &n);
		if (err != AIRLOCK_OK || n == 0)
			break;
		/* Bounded by the signed ciphertext size before anything else. */
		if (n > p->enc.size - seen) {
			err = AIRLOCK_ERR_TOO_LARGE;
			break;
		}
		seen += n;
		err = airlock_sha256_update(&sha, r->buf, n);
		if (err == AIRLOCK_OK && dec_open)
			err = airlock_aead_dec_update(&dec, r->buf, n, to_check, &check);
	}
	if (err == AIRLOCK_OK && seen != p->enc.size)
		err = AIRLOCK_ERR_SIZE_MISMATCH;
	if (err == AIRLOCK_OK)
		err = airlock_sha256_final(&sha, got);
	if (err == AIRLOCK_OK && !airlock_ct_equal(got, p->enc.sha256, AIRLOCK_SHA256_LEN))
		err = AIRLOCK_ERR_DIGEST_MISMATCH;
	if (err == AIRLOCK_OK && dec_open) {
		stage = "decrypted";
		err = airlock_aead_dec_final(&dec, to_check, &check);
	}
	if (err == AIRLOCK_OK && check_open) {
		stage = "plaintext of";
		check_open = false;
		err = airlock_payload_check_final(&check, NULL);
	}
	if (err != AIRLOCK_OK) {
		if (dec_open && (err == AIRLOCK_ERR_AEAD_TAG || err == AIRLOCK_ERR_AEAD_EXTENDED ||
				 err == AIRLOCK_ERR_AEAD_TRUNCATED))
			rc = cli_fail(err, "payload %.*s: %s: chunk %llu", (int)p->name.len, p->name.ptr, path,
				      (unsigned long long)airlock_aead_dec_position(&dec));
		else
			rc = fail_payload(err, p, path, NULL, stage);
	}
	airlock_sha256_free(&sha);
	if (check_open)
		airlock_payload_check_free(&check);
	if (dec_open)
		airlock_aead_dec_free(&dec);
	free(chunk_buf);
	if (rc != EXIT_OK)
		return rc;
	printf("OK payload %.*s: %s, ciphertext %llu bytes matches the signed digest%s\n", (int)p->name.len,
	       p->name.ptr, path, (unsigned long long)p->enc.size,
	       key ? "; decrypted plaintext matches too" : "; plaintext not checked (no --decrypt-key)");
	return EXIT_OK;
}

int payload_verify_file(const struct airlock_payload *p, const char *path, const struct payload_key *key)
{
	struct reader r;
	airlock_err err = reader_open(&r, path);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	/* Told apart by size: a ciphertext is always 16 bytes per chunk longer. */
	bool cipher = p->encrypted && r.size != p->size;
	int rc = cipher ? verify_cipher(p, path, &r, key) : verify_plain(p, path, &r);
	reader_close(&r);
	return rc;
}

/* ---- creating ---- */

struct list_sink {
	struct cli_out *out;
};

static airlock_err write_digest(void *ctx, uint64_t index, const uint8_t digest[AIRLOCK_SHA256_LEN])
{
	(void)index;
	return cli_out_write(((struct list_sink *)ctx)->out, digest, AIRLOCK_SHA256_LEN);
}

int payload_create(const char *name, const char *path, uint32_t chunk_size, const char *chunks_path,
		   const uint8_t *cek, const char *enc_path, struct payload_made *out)
{
	struct reader r;
	struct cli_out list_out = { .fd = -1 }, enc_out = { .fd = -1 };
	struct list_sink sink = { &list_out };
	struct airlock_payload_check hash;
	struct airlock_aead_enc enc;
	struct airlock_sha256 csha;
	uint8_t *chunk = NULL;
	size_t fill = 0, n;
	uint64_t done = 0;
	bool hash_open = false, enc_open = false, csha_open = false;
	const char *failed = path;
	int rc = EXIT_OK;

	memset(out, 0, sizeof *out);
	snprintf(out->name, sizeof out->name, "%s", name);
	airlock_err err = reader_open(&r, path);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	err = cli_out_open(&list_out, chunks_path, false);
	failed = chunks_path;
	if (err == AIRLOCK_OK) {
		err = airlock_payload_hash_init(&hash, r.size, chunk_size, write_digest, &sink);
		hash_open = err == AIRLOCK_OK;
	}
	if (err == AIRLOCK_OK && cek) {
		failed = enc_path;
		err = airlock_random(out->prefix, sizeof out->prefix);
		if (err == AIRLOCK_OK)
			err = cli_out_open(&enc_out, enc_path, false);
		if (err == AIRLOCK_OK)
			err = airlock_aead_enc_init(&enc, cek, out->prefix, chunk_size);
		enc_open = err == AIRLOCK_OK;
		if (err == AIRLOCK_OK)
			err = airlock_sha256_init(&csha);
		csha_open = err == AIRLOCK_OK;
		chunk = err == AIRLOCK_OK ? malloc((size_t)chunk_size + AIRLOCK_GCM_TAG_LEN) : NULL;
		if (err == AIRLOCK_OK && !chunk)
			err = AIRLOCK_ERR_NOMEM;
	}
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", failed);
		goto out;
	}
	failed = path;
	while (err == AIRLOCK_OK) {
		err = reader_next(&r, &n);
		if (err != AIRLOCK_OK || n == 0)
			break;
		err = airlock_payload_check_update(&hash, r.buf, n);  /* TOO_LARGE if the file grew */
		done += n;
		/* Encrypt whole chunks; the last one once the signed size is reached. */
		for (size_t off = 0; err == AIRLOCK_OK && enc_open && off < n;) {
			size_t take = n - off < chunk_size - fill ? n - off : chunk_size - fill;
			memcpy(chunk + fill, r.buf + off, take);
			fill += take;
			off += take;
			bool last = done == r.size && off == n;
			if (fill == chunk_size || last) {
				err = airlock_aead_enc_chunk(&enc, chunk, fill, last, chunk);
				if (err == AIRLOCK_OK)
					err = airlock_sha256_update(&csha, chunk, fill + AIRLOCK_GCM_TAG_LEN);
				if (err == AIRLOCK_OK)
					err = cli_out_write(&enc_out, chunk, fill + AIRLOCK_GCM_TAG_LEN);
				fill = 0;
			}
		}
	}
	/* The empty payload is one empty last chunk. */
	if (err == AIRLOCK_OK && enc_open && r.size == 0) {
		err = airlock_aead_enc_chunk(&enc, chunk, 0, true, chunk);
		if (err == AIRLOCK_OK)
			err = airlock_sha256_update(&csha, chunk, AIRLOCK_GCM_TAG_LEN);
		if (err == AIRLOCK_OK)
			err = cli_out_write(&enc_out, chunk, AIRLOCK_GCM_TAG_LEN);
	}
	if (err == AIRLOCK_OK) {
		hash_open = false;
		err = airlock_payload_check_final(&hash, out->digest);  /* SIZE_MISMATCH if it shrank */
	}
	if (err == AIRLOCK_OK && csha_open) {
		csha_open = false;
		err = airlock_sha256_final(&csha, out->enc_sha256);
	}
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s (did it change while being read?)", path);
		goto out;
	}
	err = cli_out_commit(&list_out);
	failed = chunks_path;
	if (err == AIRLOCK_OK && enc_open) {
		failed = enc_path;
		err = cli_out_commit(&enc_out);
		if (err != AIRLOCK_OK)
			unlink(chunks_path);
	}
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", failed);
		goto out;
	}
	out->p.name.ptr = out->name;
	out->p.name.len = strlen(out->name);
	out->p.size = r.size;
	out->p.chunk_size = chunk_size;
	out->p.digest = out->digest;
	if (cek) {
		out->p.encrypted = true;
		out->p.enc.alg = AIRLOCK_ENC_AES256GCM_CHUNKED;
		out->p.enc.nonce_prefix = out->prefix;
		out->p.enc.sha256 = out->enc_sha256;
		err = airlock_aead_ciphertext_size(r.size, chunk_size, &out->p.enc.size);
		if (err != AIRLOCK_OK)
			rc = cli_fail(err, "%s", path);
	}
out:
	if (hash_open)
		airlock_payload_check_free(&hash);
	if (csha_open)
		airlock_sha256_free(&csha);
	if (enc_open)
		airlock_aead_enc_free(&enc);
	cli_out_abort(&list_out);
	cli_out_abort(&enc_out);
	if (chunk) {
		airlock_wipe(chunk, (size_t)chunk_size + AIRLOCK_GCM_TAG_LEN);
		free(chunk);
	}
	reader_close(&r);
	return rc;
}
