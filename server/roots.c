/* The stored root chain: reconciled with the config's root at start. */
#include "roots.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlock/meta.h"
#include "app.h"
#include "db.h"

struct stored_root {
	bool found;
	int64_t version;
	uint8_t *buf;
	size_t len;
};

static int take_root(void *ctx, const struct db_row *row)
{
	struct stored_root *s = ctx;
	if (row->n < 2 || row->col[0].type != DB_INT || row->col[1].type != DB_BLOB)
		return 1;
	s->buf = malloc(row->col[1].len ? row->col[1].len : 1);
	if (s->buf) {
		memcpy(s->buf, row->col[1].b, row->col[1].len);
		s->len = row->col[1].len;
		s->version = row->col[0].i;
		s->found = true;
	}
	return 1;
}

static enum db_err newest(struct db_conn *c, struct stored_root *s)
{
	return db_exec(c, "SELECT version, envelope FROM roots ORDER BY version DESC LIMIT 1", NULL, 0, take_root, s,
		       NULL);
}

static enum db_err insert(struct app *app, struct db_conn *c)
{
	uint8_t digest[AIRLOCK_SHA256_LEN];
	if (airlock_sha256(app->root_buf, app->root_len, digest) != AIRLOCK_OK)
		return DB_ERR_ARG;
	struct db_value p[] = { db_int((int64_t)app->root.version), db_blob(app->root_buf, app->root_len),
				db_blob(digest, sizeof digest), db_int(app_now()) };
	enum db_err de = db_begin(c);
	if (de != DB_OK)
		return de;
	de = db_exec(c, "INSERT INTO roots (version, envelope, sha256, added) VALUES ($1, $2, $3, $4)", p, 4, NULL,
		     NULL, NULL);
	if (de == DB_OK &&
	    !app_audit_tx(app, c, "server", "root.add", json_pack("{s:I}", "version", (json_int_t)app->root.version)))
		de = DB_ERR_QUERY;
	if (de == DB_OK)
		return db_commit(c);
	db_rollback(c);
	return de;
}

/* Decides what the stored chain says of the config's root. */
static bool judge(struct app *app, const struct stored_root *s, bool *add, char *err, size_t err_cap)
{
	uint64_t have = (uint64_t)s->version, want = app->root.version;
	*add = false;
	if (!s->found) {
		*add = true;  /* the first start: the config's root anchors the chain */
		return true;
	}
	if (want < have) {
		snprintf(err, err_cap, "root version %" PRIu64 " is older than version %" PRIu64
			 " already served to devices: refusing to roll the root back", want, have);
		return false;
	}
	if (want == have) {
		if (s->len == app->root_len && memcmp(s->buf, app->root_buf, s->len) == 0)
			return true;
		snprintf(err, err_cap, "root version %" PRIu64 " differs from the version %" PRIu64
			 " stored: two different roots with one version would fork the chain", want, have);
		return false;
	}
	if (want != have + 1) {
		snprintf(err, err_cap, "root version %" PRIu64 " does not follow the stored version %" PRIu64
			 ": start once with each version in between", want, have);
		return false;
	}
	struct airlock_root prev, next;
	airlock_err e = airlock_root_load_trusted(s->buf, s->len, &prev, NULL);
	if (e == AIRLOCK_OK)
		e = airlock_root_update(&prev, app->root_buf, app->root_len, &next, NULL, NULL);
	if (e != AIRLOCK_OK) {
		snprintf(err, err_cap, "root version %" PRIu64 " is not a valid rotation of version %" PRIu64 ": %s",
			 want, have, airlock_err_name(e));
		return false;
	}
	*add = true;
	return true;
}

bool roots_sync(struct app *app, char *err, size_t err_cap)
{
	struct db_conn *c = db_acquire(app->db);
	bool ok = false;
	/* Two instances may start at once with the same new root: the loser's
	 * insert conflicts on the version and the second pass finds it stored. */
	for (int attempt = 0; attempt < 2 && !ok; attempt++) {
		struct stored_root s = { 0 };
		bool add = false;
		if (newest(c, &s) != DB_OK) {
			snprintf(err, err_cap, "database: cannot read the root chain");
			free(s.buf);
			break;
		}
		bool fine = judge(app, &s, &add, err, err_cap);
		free(s.buf);
		if (!fine)
			break;
		if (!add || insert(app, c) == DB_OK)
			ok = true;
		else if (attempt == 1)
			snprintf(err, err_cap, "database: cannot store root version %" PRIu64, app->root.version);
	}
	db_release(app->db, c);
	return ok;
}

int roots_get(struct app *app, uint64_t version, uint8_t **buf, size_t *len)
{
	if (version > INT64_MAX)
		return 0;
	struct stored_root s = { 0 };
	struct db_value p[] = { db_int((int64_t)version) };
	struct db_conn *c = db_acquire(app->db);
	enum db_err de = db_exec(c, "SELECT version, envelope FROM roots WHERE version = $1", p, 1, take_root, &s,
				 NULL);
	db_release(app->db, c);
	if (de != DB_OK) {
		free(s.buf);
		return -1;
	}
	if (!s.found)
		return 0;
	*buf = s.buf;
	*len = s.len;
	return 1;
}
