/*
 * Streamed artifact uploads, checked against the signed release as they
 * arrive: never held in memory, never stored unless every byte matches.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/hex.h"
#include "airlock/payload.h"
#include "svc.h"

struct artifact_upload {
	struct app *app;
	char actor[96];
	char release[65];
	char payload[AIRLOCK_MAX_NAME_LEN + 1];
	bool chunks;
	bool encrypted;
	uint64_t expected;          /* signed size of what is uploaded */
	uint64_t received;
	uint8_t want_sha256[32];    /* ciphertext or chunk list: its signed SHA-256 */
	struct airlock_sha256 flat;           /* SHA-256 of the bytes as stored */
	struct airlock_payload_check tree;    /* plaintext payload: the signed chunk-tree digest */
	bool tree_open;
	int fd;
	char tmp[CONFIG_PATH_MAX + 64];
};

struct pushed {
	bool found;
	uint8_t *envelope;
	size_t len;
};

static int take_envelope(void *ctx, const struct db_row *row)
{
	struct pushed *p = ctx;
	if (row->n >= 1 && row->col[0].type == DB_BLOB) {
		p->envelope = malloc(row->col[0].len);
		if (p->envelope) {
			memcpy(p->envelope, row->col[0].b, row->col[0].len);
			p->len = row->col[0].len;
			p->found = true;
		}
	}
	return 1;
}

void svc_artifact_upload_abort(struct artifact_upload *u)
{
	if (!u)
		return;
	if (u->fd >= 0) {
		close(u->fd);
		unlink(u->tmp);
	}
	airlock_sha256_free(&u->flat);
	if (u->tree_open)
		airlock_payload_check_free(&u->tree);
	free(u);
}

bool svc_artifact_upload_begin(struct app *app, const struct svc_actor *a, const char *release_hex,
			       const char *payload, bool chunks, uint64_t content_length,
			       struct artifact_upload **out, struct svc_result *r)
{
	struct pushed pushed = { 0 };
	struct airlock_envelope env;
	struct airlock_release rel;
	struct artifact_upload *u = NULL;

	if (!valid_sha256_hex(release_hex))
		return svc_fail(r, 400, "bad_request", "release must be a lowercase SHA-256 hex digest");
	if (airlock_check_payload_name(payload, strlen(payload)) != AIRLOCK_OK)
		return svc_fail(r, 400, "bad_request", "bad payload name");
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_text(release_hex) };
	enum db_err de = db_exec(c, "SELECT envelope FROM releases WHERE digest = $1", p, 1, take_envelope, &pushed, NULL);
	db_release(app->db, c);
	if (de != DB_OK)
		return svc_fail(r, 503, "unavailable", "database unavailable");
	if (!pushed.found)
		return svc_fail(r, 404, "not_found", "no release %s: push its metadata first", release_hex);
	/* Stored releases were verified at push; parse again for the signed values. */
	const struct airlock_payload *pl = NULL;
	if (airlock_envelope_parse(pushed.envelope, pushed.len, AIRLOCK_RELEASE_MAX_LEN, &env) == AIRLOCK_OK &&
	    airlock_release_parse_body(env.body.ptr, env.body.len, &rel) == AIRLOCK_OK)
		pl = airlock_release_find_payload(&rel, payload, strlen(payload));
	if (!pl) {
		free(pushed.envelope);
		return svc_fail(r, 404, "not_found", "release %s has no payload '%s'", release_hex, payload);
	}
	u = calloc(1, sizeof *u);
	if (!u) {
		free(pushed.envelope);
		return svc_fail(r, 503, "unavailable", "out of memory");
	}
	u->fd = -1;
	u->app = app;
	u->chunks = chunks;
	u->encrypted = pl->encrypted;
	snprintf(u->actor, sizeof u->actor, "%s", a->name);
	snprintf(u->release, sizeof u->release, "%s", release_hex);
	snprintf(u->payload, sizeof u->payload, "%s", payload);
	bool ok = airlock_sha256_init(&u->flat) == AIRLOCK_OK;
	if (chunks) {
		uint64_t n = 0;
		ok = ok && airlock_payload_chunks(pl->size, pl->chunk_size, &n) == AIRLOCK_OK;
		u->expected = n * AIRLOCK_SHA256_LEN;
		memcpy(u->want_sha256, pl->digest, 32);  /* SHA-256(list) is the payload digest */
	} else if (pl->encrypted) {
		u->expected = pl->enc.size;
		memcpy(u->want_sha256, pl->enc.sha256, 32);
	} else {
		u->expected = pl->size;
		ok = ok && airlock_payload_check_init(&u->tree, pl, NULL) == AIRLOCK_OK;
		u->tree_open = ok;
	}
	free(pushed.envelope);
	if (!ok) {
		svc_artifact_upload_abort(u);
		return svc_fail(r, 503, "unavailable", "cannot start the upload");
	}
	if (content_length != u->expected) {
		uint64_t expected = u->expected;  /* read before u is freed */
		svc_artifact_upload_abort(u);
		return svc_fail(r, 400, "size_mismatch", "the release signs %llu bytes for this %s, not %llu",
				(unsigned long long)expected, chunks ? "chunk list" : "payload",
				(unsigned long long)content_length);
	}
	snprintf(u->tmp, sizeof u->tmp, "%s/upload-XXXXXX", app->artifacts_dir);
	u->fd = mkstemp(u->tmp);
	if (u->fd < 0) {
		svc_artifact_upload_abort(u);
		return svc_fail(r, 503, "unavailable", "cannot create a staging file");
	}
	*out = u;
	return true;
}

bool svc_artifact_upload_data(struct artifact_upload *u, const uint8_t *data, size_t len, struct svc_result *r)
{
	if (len > u->expected - u->received)
		return svc_fail(r, 413, "too_large", "more bytes than the release signs");
	u->received += len;
	if (airlock_sha256_update(&u->flat, data, len) != AIRLOCK_OK)
		return svc_fail(r, 503, "unavailable", "hash failure");
	if (u->tree_open && airlock_payload_check_update(&u->tree, data, len) != AIRLOCK_OK)
		return svc_fail(r, 422, "digest_mismatch", "the payload does not match the signed digest");
	while (len > 0) {
		ssize_t w = write(u->fd, data, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return svc_fail(r, 507, "storage_full", "cannot store the artifact");
		data += w;
		len -= (size_t)w;
	}
	return true;
}

bool svc_artifact_upload_end(struct artifact_upload *u, struct svc_result *r)
{
	uint8_t flat[32];
	char hex[65], path[CONFIG_PATH_MAX + 80], dir[CONFIG_PATH_MAX + 8];
	bool ok = false;

	if (u->received != u->expected) {
		svc_fail(r, 400, "size_mismatch", "received %llu of %llu bytes", (unsigned long long)u->received,
			 (unsigned long long)u->expected);
		goto out;
	}
	if (airlock_sha256_final(&u->flat, flat) != AIRLOCK_OK) {
		svc_fail(r, 503, "unavailable", "hash failure");
		goto out;
	}
	if (u->tree_open) {
		u->tree_open = false;
		if (airlock_payload_check_final(&u->tree, NULL) != AIRLOCK_OK) {
			svc_fail(r, 422, "digest_mismatch", "the payload does not match the signed digest");
			goto out;
		}
	} else if (!airlock_ct_equal(flat, u->want_sha256, 32)) {
		svc_fail(r, 422, "digest_mismatch", "the %s does not match the signed digest",
			 u->chunks ? "chunk list" : "ciphertext");
		goto out;
	}
	/* Durable before it is named, named before it is recorded. */
	if (fsync(u->fd) != 0 || close(u->fd) != 0) {
		u->fd = -1;
		unlink(u->tmp);
		svc_fail(r, 507, "storage_full", "cannot store the artifact");
		goto out;
	}
	u->fd = -1;
	airlock_hex_encode(flat, 32, hex);
	snprintf(dir, sizeof dir, "%s/%.2s", u->app->artifacts_dir, hex);
	app_artifact_path(u->app, hex, path, sizeof path);
	if ((mkdir(dir, 0700) != 0 && errno != EEXIST) || rename(u->tmp, path) != 0) {
		unlink(u->tmp);
		svc_fail(r, 507, "storage_full", "cannot store the artifact");
		goto out;
	}
	struct db_conn *c = db_acquire(u->app->db);
	struct db_value a[] = { db_text(hex), db_int((int64_t)u->expected), db_int(app_now()) };
	struct db_value p[] = { db_text(hex), db_text(u->release), db_text(u->payload) };
	enum db_err de = db_begin(c);
	if (de == DB_OK)
		de = db_exec(c, "INSERT INTO artifacts (sha256, size, created) VALUES ($1, $2, $3)"
				" ON CONFLICT (sha256) DO NOTHING", a, 3, NULL, NULL, NULL);
	if (de == DB_OK)
		de = db_exec(c, u->chunks ? "UPDATE payloads SET chunks_done = 1 WHERE chunks_sha256 = $1 AND"
					    " release_digest = $2 AND name = $3"
					  : "UPDATE payloads SET artifact_sha256 = $1, artifact_done = 1 WHERE"
					    " release_digest = $2 AND name = $3", p, 3, NULL, NULL, NULL);
	if (de == DB_OK && !app_audit_tx(u->app, c, u->actor, "artifact.upload",
					 json_pack("{s:s,s:s,s:s,s:s,s:I}", "release", u->release, "payload", u->payload,
						   "kind", u->chunks ? "chunks" : "payload", "sha256", hex, "size",
						   (json_int_t)u->expected)))
		de = DB_ERR_QUERY;
	if (de == DB_OK) {
		de = db_commit(c);
	} else {
		db_rollback(c);
	}
	db_release(u->app->db, c);
	if (de != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	ok = svc_ok(r, 201, json_pack("{s:s,s:I}", "sha256", hex, "size", (json_int_t)u->expected));
out:
	svc_artifact_upload_abort(u);
	return ok;
}
