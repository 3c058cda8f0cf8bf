/* Admin services: tokens, enrollment tokens, devices, releases, deployments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/base64.h"
#include "airlock/hex.h"
#include "airlock/keywrap.h"
#include "jsonin.h"
#include "svc.h"
#include "tokens.h"

#define MAX_TTL (10LL * 365 * 86400)

static bool db_down(struct svc_result *r)
{
	return svc_fail(r, 503, "unavailable", "database unavailable");
}

/* Runs a query and collects each row as a JSON object with the given column names. */
struct rows_ctx {
	const char *const *names;
	json_t *array;
};

static int collect(void *ctx, const struct db_row *row)
{
	struct rows_ctx *rc = ctx;
	json_t *o = json_object();
	for (size_t i = 0; rc->names[i] && i < row->n; i++) {
		const struct db_value *v = &row->col[i];
		json_t *j = v->type == DB_INT ? json_integer(v->i) : v->type == DB_TEXT ? json_string(v->s) : json_null();
		json_object_set_new(o, rc->names[i], j ? j : json_null());
	}
	json_array_append_new(rc->array, o);
	return 0;
}

static bool list_query(struct app *app, const char *sql, const struct db_value *p, size_t np,
		       const char *const *names, const char *key, struct svc_result *r)
{
	struct rows_ctx rc = { names, json_array() };
	struct db_conn *c = db_acquire(app->db);
	enum db_err e = db_exec(c, sql, p, np, collect, &rc, NULL);
	db_release(app->db, c);
	if (e != DB_OK) {
		json_decref(rc.array);
		return db_down(r);
	}
	return svc_ok(r, 200, json_pack("{s:o}", key, rc.array));
}

/* ---- admin tokens ---- */

bool svc_token_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "name", "scopes", "ttl", NULL };
	const char *name, *scopes_s;
	int64_t ttl = 90 * 86400, now = app_now();
	unsigned scopes;
	char token[TOKEN_STR_LEN], id[TOKEN_ID_LEN];
	if (!jin_object(body, fields, r) || !jin_str(body, "name", 64, true, &name, r) ||
	    !jin_str(body, "scopes", 64, true, &scopes_s, r) || !jin_int(body, "ttl", 60, MAX_TTL, false, &ttl, r))
		return false;
	if (!valid_label(name))
		return svc_fail(r, 400, "bad_request", "name must be a label (printable, no spaces)");
	if (!scopes_parse(scopes_s, &scopes))
		return svc_fail(r, 400, "bad_request", "scopes: a comma list of read, release, deploy, admin");
	struct db_conn *c = db_acquire(app->db);
	enum db_err e = token_create(c, name, scopes, now, now + ttl, a->name, token, id);
	if (e == DB_OK)
		app_audit(app, c, a->name, "token.create",
			  json_pack("{s:s,s:s,s:s,s:I}", "id", id, "name", name, "scopes", scopes_s, "expires",
				    (json_int_t)(now + ttl)));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	bool ok = svc_ok(r, 201, json_pack("{s:s,s:s,s:s,s:I}", "id", id, "token", token, "scopes", scopes_s,
					   "expires", (json_int_t)(now + ttl)));
	airlock_wipe(token, sizeof token);
	return ok;
}

bool svc_token_list(struct app *app, const struct svc_actor *a, struct svc_result *r)
{
	static const char *const names[] = { "id", "name", "scopes", "created", "expires", "revoked", "created_by", NULL };
	(void)a;
	return list_query(app, "SELECT id, name, scopes, created, expires, revoked, created_by FROM admin_tokens"
			       " ORDER BY created", NULL, 0, names, "tokens", r);
}

bool svc_token_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r)
{
	bool found = false;
	if (strlen(id) != TOKEN_ID_LEN - 1 || strspn(id, "0123456789abcdef") != TOKEN_ID_LEN - 1)
		return svc_fail(r, 400, "bad_request", "bad token id");
	struct db_conn *c = db_acquire(app->db);
	enum db_err e = token_revoke(c, id, app_now(), &found);
	if (e == DB_OK && found)
		app_audit(app, c, a->name, "token.revoke", json_pack("{s:s}", "id", id));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	if (!found)
		return svc_fail(r, 404, "not_found", "no active token %s", id);
	return svc_ok(r, 200, json_pack("{s:s,s:b}", "id", id, "revoked", 1));
}

/* "a,b,c": labels of 1..64 bytes (a trailing comma is tolerated). */
static bool valid_tags(const char *tags)
{
	for (const char *p = tags; *p;) {
		size_t n = strcspn(p, ",");
		char t[65];
		if (n == 0 || n > 64)
			return false;
		memcpy(t, p, n);
		t[n] = '\0';
		if (!valid_label(t))
			return false;
		p += n + (p[n] == ',');
	}
	return true;
}

/* ---- enrollment tokens ---- */

bool svc_enroll_token_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "hardware", "group", "tags", "ttl", NULL };
	const char *hw, *group, *tags;
	int64_t ttl = 86400, now = app_now();
	char token[TOKEN_STR_LEN], id[TOKEN_ID_LEN];
	if (!jin_object(body, fields, r) || !jin_str(body, "hardware", 64, true, &hw, r) ||
	    !jin_str(body, "group", 64, false, &group, r) || !jin_str(body, "tags", 255, false, &tags, r) ||
	    !jin_int(body, "ttl", 60, 30 * 86400, false, &ttl, r))
		return false;
	if (!valid_label(hw) || (group && !valid_label(group)))
		return svc_fail(r, 400, "bad_request", "hardware and group must be labels");
	if (tags && !valid_tags(tags))
		return svc_fail(r, 400, "bad_request", "tags: a comma list of labels");
	struct db_conn *c = db_acquire(app->db);
	enum db_err e = enroll_token_create(c, hw, group, tags, now, now + ttl, a->name, token, id);
	if (e == DB_OK)
		app_audit(app, c, a->name, "enroll_token.create",
			  json_pack("{s:s,s:s,s:s?,s:I}", "id", id, "hardware", hw, "group", group, "expires",
				    (json_int_t)(now + ttl)));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	bool ok = svc_ok(r, 201, json_pack("{s:s,s:s,s:s,s:I}", "id", id, "token", token, "hardware", hw, "expires",
					   (json_int_t)(now + ttl)));
	airlock_wipe(token, sizeof token);
	return ok;
}

bool svc_enroll_token_list(struct app *app, struct svc_result *r)
{
	static const char *const names[] = { "id", "hardware", "group", "tags", "created", "expires", "used",
					     "device_id", "created_by", NULL };
	return list_query(app, "SELECT id, hardware, grp, tags, created, expires, used, device_id, created_by"
			       " FROM enroll_tokens ORDER BY created, id", NULL, 0, names, "enroll_tokens", r);
}

static int take_used(void *ctx, const struct db_row *row)
{
	int *state = ctx;
	*state = row->n >= 1 && row->col[0].type != DB_NULL ? 2 : 1;
	return 1;
}

/* Revoking deletes the row: an unused token has done nothing worth
 * keeping, and the audit log records the revocation. A used token stays,
 * as the record of which device it enrolled. */
bool svc_enroll_token_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r)
{
	int64_t changes = 0;
	int state = 0;  /* 0 unknown, 1 unused, 2 used */
	if (strlen(id) != TOKEN_ID_LEN - 1 || strspn(id, "0123456789abcdef") != TOKEN_ID_LEN - 1)
		return svc_fail(r, 400, "bad_request", "bad enrollment token id");
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_text(id) };
	enum db_err e = db_exec(c, "DELETE FROM enroll_tokens WHERE id = $1 AND used IS NULL", p, 1, NULL, NULL, &changes);
	if (e == DB_OK && changes)
		app_audit(app, c, a->name, "enroll_token.revoke", json_pack("{s:s}", "id", id));
	if (e == DB_OK && !changes)
		e = db_exec(c, "SELECT used FROM enroll_tokens WHERE id = $1", p, 1, take_used, &state, NULL);
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	if (!changes && state == 2)
		return svc_fail(r, 409, "conflict", "enrollment token %s was already used", id);
	if (!changes)
		return svc_fail(r, 404, "not_found", "no enrollment token %s", id);
	return svc_ok(r, 200, json_pack("{s:s,s:b}", "id", id, "revoked", 1));
}

/* ---- devices ---- */

static const char *const device_columns[] = { "id", "hardware", "group", "tags", "status", "created", "last_seen",
					       "current_version", "current_release", "security_version", "slot_state",
					       "last_error", "cert_serial", "cert_not_after", "cert_ca", NULL };
#define DEVICE_SELECT "SELECT id, hardware, grp, tags, status, created, last_seen, current_version, current_release," \
		      " security_version, slot_state, last_error, cert_serial, cert_not_after, cert_ca FROM devices"

bool svc_device_list(struct app *app, struct svc_result *r)
{
	return list_query(app, DEVICE_SELECT " ORDER BY id", NULL, 0, device_columns, "devices", r);
}

bool svc_device_get(struct app *app, const char *id, struct svc_result *r)
{
	if (!valid_device_id(id))
		return svc_fail(r, 400, "bad_request", "bad device id");
	struct db_value p[] = { db_text(id) };
	if (!list_query(app, DEVICE_SELECT " WHERE id = $1", p, 1, device_columns, "devices", r))
		return false;
	json_t *arr = json_object_get(r->body, "devices");
	if (json_array_size(arr) == 0)
		return svc_fail(r, 404, "not_found", "no device '%s'", id);
	json_t *dev = json_incref(json_array_get(arr, 0));
	json_decref(r->body);
	r->body = NULL;
	return svc_ok(r, 200, dev);
}

/*
 * A device whose certificate a manufacturer CA issued before it reached us:
 * the row holds what enrollment would have set (hardware, group, tags, wrap
 * key) but no certificate. The first manufacturer-CA certificate whose CN
 * is this id is bound to it (svc_device.c); until then it is 'registered'.
 */
bool svc_device_register(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "id", "hardware", "group", "tags", "wrap_key", NULL };
	const char *id, *hw, *group, *tags;
	uint8_t wrap_pub[AIRLOCK_X25519_LEN];
	if (!jin_object(body, fields, r) || !jin_str(body, "id", AIRLOCK_MAX_DEVICE_ID_LEN, true, &id, r) ||
	    !jin_str(body, "hardware", 64, true, &hw, r) || !jin_str(body, "group", 64, false, &group, r) ||
	    !jin_str(body, "tags", 255, false, &tags, r) ||
	    !jin_hex(body, "wrap_key", wrap_pub, sizeof wrap_pub, true, NULL, r))
		return false;
	if (!valid_device_id(id))
		return svc_fail(r, 400, "bad_request", "id must be 1..128 printable characters without spaces");
	if (!valid_label(hw) || (group && !valid_label(group)))
		return svc_fail(r, 400, "bad_request", "hardware and group must be labels");
	if (tags && !valid_tags(tags))
		return svc_fail(r, 400, "bad_request", "tags: a comma list of labels");
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_text(id), db_text(hw), db_text(group), db_text(tags ? tags : ""), db_int(app_now()),
				db_blob(wrap_pub, sizeof wrap_pub) };
	enum db_err e = db_begin(c);
	if (e == DB_OK)
		e = db_exec(c, "INSERT INTO devices (id, hardware, grp, tags, status, created, wrap_pub)"
			       " VALUES ($1, $2, $3, $4, 'registered', $5, $6)", p, 6, NULL, NULL, NULL);
	if (e == DB_OK && !app_audit_tx(app, c, a->name, "device.register",
					json_pack("{s:s,s:s,s:s?,s:s?}", "device_id", id, "hardware", hw, "group", group,
						  "tags", tags)))
		e = DB_ERR_QUERY;
	if (e == DB_OK)
		e = db_commit(c);
	else
		db_rollback(c);
	db_release(app->db, c);
	if (e == DB_ERR_CONSTRAINT)
		return svc_fail(r, 409, "conflict", "device '%s' already exists", id);
	if (e != DB_OK)
		return db_down(r);
	if (!svc_device_get(app, id, r))
		return false;
	r->status = 201;
	return true;
}

bool svc_device_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r)
{
	int64_t changes = 0;
	if (!valid_device_id(id))
		return svc_fail(r, 400, "bad_request", "bad device id");
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_text(id) };
	enum db_err e = db_exec(c, "UPDATE devices SET status = 'revoked' WHERE id = $1 AND status <> 'revoked'", p, 1,
				NULL, NULL, &changes);
	if (e == DB_OK && changes)
		app_audit(app, c, a->name, "device.revoke", json_pack("{s:s}", "device_id", id));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	if (!changes)
		return svc_fail(r, 404, "not_found", "no active device '%s'", id);
	return svc_ok(r, 200, json_pack("{s:s,s:s}", "id", id, "status", "revoked"));
}

/* ---- releases ---- */

static bool decode_b64_field(json_t *body, const char *key, size_t max, bool required, uint8_t **out,
			     size_t *len, struct svc_result *r)
{
	const char *s;
	*out = NULL;
	*len = 0;
	if (!jin_str(body, key, AIRLOCK_BASE64_LEN(max), required, &s, r))
		return false;
	if (!s)
		return true;
	*out = malloc(max);
	if (!*out)
		return svc_fail(r, 503, "unavailable", "out of memory");
	if (airlock_base64_decode(s, strlen(s), *out, max, len) != AIRLOCK_OK) {
		free(*out);
		*out = NULL;
		return svc_fail(r, 400, "bad_request", "field '%s' must be base64", key);
	}
	return true;
}

/* Finds the wrap of the content key for the server's own key in a keys
 * file and checks that it opens. */
static bool server_content_key(struct app *app, const uint8_t *keys, size_t len,
			       uint8_t out[AIRLOCK_KEYWRAP_CBOR_LEN], struct svc_result *r)
{
	struct airlock_cbor_dec d;
	size_t n, m;
	uint64_t format;
	airlock_cbor_dec_init(&d, keys, len);
	if (airlock_cbor_read_array(&d, &n) != AIRLOCK_OK || n != 2 || airlock_cbor_read_uint(&d, &format) != AIRLOCK_OK ||
	    format != 1 || airlock_cbor_read_array(&d, &m) != AIRLOCK_OK || m > 64)
		return svc_fail(r, 400, "bad_keys", "not an airlock keys file");
	for (size_t i = 0; i < m; i++) {
		struct airlock_wrapped_key w;
		const uint8_t *start = d.p;
		if (airlock_keywrap_decode(&d, &w) != AIRLOCK_OK)
			return svc_fail(r, 400, "bad_keys", "keys file entry %zu is malformed", i);
		if (memcmp(w.recipient, app->content_keyid, AIRLOCK_KEYID_LEN) != 0)
			continue;
		uint8_t ck[AIRLOCK_CONTENT_KEY_LEN];
		airlock_err e = airlock_keywrap_open(&w, app->content, ck);
		airlock_wipe(ck, sizeof ck);
		if (e != AIRLOCK_OK)
			return svc_fail(r, 422, "key_unwrap", "the content key for this server does not open");
		/* Stored as wrapped for the server: at rest it is ciphertext. */
		memcpy(out, start, AIRLOCK_KEYWRAP_CBOR_LEN);
		return true;
	}
	return svc_fail(r, 422, "key_unwrap", "the keys file holds no content key for this server's key");
}

bool svc_release_push(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "release", "keys", NULL };
	uint8_t *rel_buf = NULL, *keys = NULL, digest[32], wrapped[AIRLOCK_KEYWRAP_CBOR_LEN];
	size_t rel_len, keys_len;
	struct airlock_release rel;
	struct airlock_sig_report rep;
	char hex[65], hw[AIRLOCK_MAX_HARDWARE * 65 + 1] = "";
	bool encrypted = false, ok = false;

	if (!jin_object(body, fields, r) ||
	    !decode_b64_field(body, "release", AIRLOCK_RELEASE_MAX_LEN, true, &rel_buf, &rel_len, r) ||
	    !decode_b64_field(body, "keys", 64 * 1024, false, &keys, &keys_len, r))
		goto out;
	/* Nothing is accepted before the release verifies against the fleet root. */
	struct airlock_release_policy policy = { NULL, 0, (uint64_t)app_now() };
	airlock_err e = airlock_release_verify(&app->root, rel_buf, rel_len, &policy, &rel, digest, &rep);
	if (e != AIRLOCK_OK) {
		struct db_conn *c = db_acquire(app->db);
		app_audit(app, c, a->name, "release.refused", json_pack("{s:s,s:i,s:i}", "reason", airlock_err_name(e),
									"valid", rep.valid, "threshold", rep.threshold));
		db_release(app->db, c);
		svc_fail(r, 422, "release_refused", "%s: %s (%u of %u release signatures valid)", airlock_err_name(e),
			 airlock_strerror(e), rep.valid, rep.threshold);
		goto out;
	}
	for (size_t i = 0; i < rel.n_payloads; i++)
		encrypted |= rel.payloads[i].encrypted;
	if (encrypted && !keys) {
		svc_fail(r, 400, "keys_required", "an encrypted release needs its keys file");
		goto out;
	}
	if (encrypted && !server_content_key(app, keys, keys_len, wrapped, r))
		goto out;
	for (size_t i = 0, n = 0; i < rel.n_hardware; i++)
		n += (size_t)snprintf(hw + n, sizeof hw - n, "%s%.*s", i ? "," : "", (int)rel.hardware[i].len,
				      rel.hardware[i].ptr);
	airlock_hex_encode(digest, 32, hex);
	char product[65], version[65];
	snprintf(product, sizeof product, "%.*s", (int)rel.product.len, rel.product.ptr);
	snprintf(version, sizeof version, "%.*s", (int)rel.version.len, rel.version.ptr);

	struct db_conn *c = db_acquire(app->db);
	int64_t inserted = 0;
	enum db_err de = db_begin(c);
	struct db_value p[] = { db_text(hex), db_text(product), db_text(version), db_int((int64_t)rel.security_version),
				db_text(hw), db_blob(rel_buf, rel_len),
				encrypted ? db_blob(wrapped, sizeof wrapped) : db_null(), db_int(app_now()),
				db_text(a->name) };
	if (de == DB_OK)
		de = db_exec(c, "INSERT INTO releases (digest, product, version, security_version, hardware, envelope,"
				" content_key, created, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
				" ON CONFLICT (digest) DO NOTHING", p, 9, NULL, NULL, &inserted);
	json_t *needed = json_array();
	for (size_t i = 0; de == DB_OK && i < rel.n_payloads; i++) {
		const struct airlock_payload *pl = &rel.payloads[i];
		char name[AIRLOCK_MAX_NAME_LEN + 1], enc_hex[65], chunks_hex[65];
		uint64_t chunks = pl->size / pl->chunk_size + (pl->size % pl->chunk_size != 0);
		snprintf(name, sizeof name, "%.*s", (int)pl->name.len, pl->name.ptr);
		airlock_hex_encode(pl->digest, 32, chunks_hex);
		if (pl->encrypted)
			airlock_hex_encode(pl->enc.sha256, 32, enc_hex);
		int64_t size = (int64_t)(pl->encrypted ? pl->enc.size : pl->size);
		struct db_value q[] = { db_text(hex), db_text(name), db_int((int64_t)i),
					pl->encrypted ? db_text(enc_hex) : db_null(), db_int(size), db_text(chunks_hex),
					db_int((int64_t)(chunks * 32)) };
		if (inserted)
			de = db_exec(c, "INSERT INTO payloads (release_digest, name, idx, artifact_sha256, artifact_size,"
					" chunks_sha256, chunks_size) VALUES ($1, $2, $3, $4, $5, $6, $7)", q, 7, NULL,
				     NULL, NULL);
		json_array_append_new(needed, json_pack("{s:s,s:I,s:I}", "payload", name, "size", (json_int_t)size,
							"chunks_size", (json_int_t)(chunks * 32)));
	}
	if (de == DB_OK && inserted &&
	    !app_audit_tx(app, c, a->name, "release.push",
			  json_pack("{s:s,s:s,s:s,s:I}", "digest", hex, "product", product, "version", version,
				    "security_version", (json_int_t)rel.security_version)))
		de = DB_ERR_QUERY;
	if (de == DB_OK)
		de = db_commit(c);
	else
		db_rollback(c);
	db_release(app->db, c);
	if (de != DB_OK) {
		json_decref(needed);
		db_down(r);
		goto out;
	}
	ok = svc_ok(r, inserted ? 201 : 200,
		    json_pack("{s:s,s:s,s:s,s:I,s:o}", "digest", hex, "product", product, "version", version,
			      "security_version", (json_int_t)rel.security_version, "payloads", needed));
out:
	free(rel_buf);
	free(keys);
	return ok;
}

bool svc_release_list(struct app *app, struct svc_result *r)
{
	static const char *const names[] = { "digest", "product", "version", "security_version", "hardware", "created",
					     "created_by", "complete", NULL };
	return list_query(app, "SELECT r.digest, r.product, r.version, r.security_version, r.hardware, r.created,"
			       " r.created_by, CASE WHEN (SELECT COUNT(*) FROM payloads p WHERE p.release_digest = r.digest"
			       " AND (p.artifact_done = 0 OR p.chunks_done = 0)) = 0 THEN 1 ELSE 0 END"
			       " FROM releases r ORDER BY r.created",
			  NULL, 0, names, "releases", r);
}

/* ---- deployments ---- */

static int take_count(void *ctx, const struct db_row *row)
{
	if (row->n >= 1 && row->col[0].type == DB_INT)
		*(int64_t *)ctx = row->col[0].i;
	return 1;
}

bool svc_deployment_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "release", "target_kind", "target", NULL };
	const char *release, *kind, *target;
	int64_t missing = -1, id = 0;
	if (!jin_object(body, fields, r) || !jin_str(body, "release", 64, true, &release, r) ||
	    !jin_str(body, "target_kind", 8, true, &kind, r) || !jin_str(body, "target", 128, true, &target, r))
		return false;
	if (!valid_sha256_hex(release))
		return svc_fail(r, 400, "bad_request", "release must be a lowercase SHA-256 hex digest");
	if (strcmp(kind, "device") != 0 && strcmp(kind, "group") != 0 && strcmp(kind, "tag") != 0)
		return svc_fail(r, 400, "bad_request", "target_kind is device, group or tag");
	if (!valid_device_id(target))
		return svc_fail(r, 400, "bad_request", "bad target");
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_text(release) };
	enum db_err e = db_exec(c, "SELECT CASE WHEN EXISTS (SELECT 1 FROM releases WHERE digest = $1) THEN"
				   " (SELECT COUNT(*) FROM payloads WHERE release_digest = $1 AND"
				   " (artifact_done = 0 OR chunks_done = 0)) ELSE -1 END", p, 1, take_count, &missing, NULL);
	if (e != DB_OK) {
		db_release(app->db, c);
		return db_down(r);
	}
	if (missing != 0) {
		db_release(app->db, c);
		return missing < 0 ? svc_fail(r, 404, "not_found", "no release %s", release)
				   : svc_fail(r, 409, "incomplete", "release %s still misses %lld artifacts", release,
					      (long long)missing);
	}
	struct db_value q[] = { db_text(release), db_text(kind), db_text(target), db_int(app_now()), db_text(a->name) };
	e = db_exec(c, "INSERT INTO deployments (release_digest, target_kind, target, created, created_by)"
		       " VALUES ($1, $2, $3, $4, $5) RETURNING id", q, 5, take_count, &id, NULL);
	if (e == DB_OK)
		app_audit(app, c, a->name, "deployment.create",
			  json_pack("{s:I,s:s,s:s,s:s}", "id", (json_int_t)id, "release", release, "target_kind", kind,
				    "target", target));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	return svc_ok(r, 201, json_pack("{s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)id, "release", release,
					"target_kind", kind, "target", target, "status", "active"));
}

bool svc_deployment_list(struct app *app, struct svc_result *r)
{
	static const char *const names[] = { "id", "release", "target_kind", "target", "status", "created", "created_by",
					     "pending", "succeeded", "failed", NULL };
	return list_query(app, "SELECT d.id, d.release_digest, d.target_kind, d.target, d.status, d.created, d.created_by,"
			       " (SELECT COUNT(*) FROM device_deployments x WHERE x.deployment_id = d.id AND x.state NOT IN"
			       " ('succeeded', 'failed', 'rolled-back')),"
			       " (SELECT COUNT(*) FROM device_deployments x WHERE x.deployment_id = d.id AND x.state = 'succeeded'),"
			       " (SELECT COUNT(*) FROM device_deployments x WHERE x.deployment_id = d.id AND x.state IN"
			       " ('failed', 'rolled-back')) FROM deployments d ORDER BY d.id", NULL, 0, names,
			  "deployments", r);
}

bool svc_deployment_cancel(struct app *app, const struct svc_actor *a, int64_t id, struct svc_result *r)
{
	int64_t changes = 0;
	struct db_conn *c = db_acquire(app->db);
	struct db_value p[] = { db_int(id) };
	enum db_err e = db_exec(c, "UPDATE deployments SET status = 'cancelled' WHERE id = $1 AND status = 'active'", p, 1,
				NULL, NULL, &changes);
	if (e == DB_OK && changes)
		app_audit(app, c, a->name, "deployment.cancel", json_pack("{s:I}", "id", (json_int_t)id));
	db_release(app->db, c);
	if (e != DB_OK)
		return db_down(r);
	if (!changes)
		return svc_fail(r, 404, "not_found", "no active deployment %lld", (long long)id);
	return svc_ok(r, 200, json_pack("{s:I,s:s}", "id", (json_int_t)id, "status", "cancelled"));
}
