/*
 * Device-facing services: enrollment, check-in (the signed, nonce-bound
 * directive), state reports, and who may download what.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/base64.h"
#include "airlock/hex.h"
#include "airlock/keywrap.h"
#include "jsonin.h"
#include "metrics.h"
#include "svc.h"
#include "tokens.h"

/* ---- enrollment ---- */

bool svc_enroll(struct app *app, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "token", "device_id", "csr", "wrap_key", NULL };
	const char *token, *device_id, *csr;
	uint8_t wrap_pub[AIRLOCK_X25519_LEN], cert_sha[32];
	char serial[33], cert_hex[65], actor[96];
	char *cert_pem = NULL;
	int64_t not_after = 0, now = app_now();
	struct enroll_grant grant;
	bool ok = false;

	if (!jin_object(body, fields, r) || !jin_str(body, "token", 64, true, &token, r) ||
	    !jin_str(body, "device_id", AIRLOCK_MAX_DEVICE_ID_LEN, true, &device_id, r) ||
	    !jin_str(body, "csr", PKI_MAX_PEM, true, &csr, r) ||
	    !jin_hex(body, "wrap_key", wrap_pub, sizeof wrap_pub, true, NULL, r))
		return false;
	if (!valid_device_id(device_id))
		return svc_fail(r, 400, "bad_request", "device_id must be 1..128 printable characters without spaces");

	struct db_conn *c = db_acquire(app->db);
	if (db_begin(c) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	/* Token use, certificate and device row commit together: a refused CSR
	 * or a taken device id leaves the token unused. */
	enum token_verdict v = enroll_token_consume(c, token, device_id, now, &grant);
	if (v != TOKEN_OK) {
		db_rollback(c);
		if (v == TOKEN_DB) {
			svc_fail(r, 503, "unavailable", "database unavailable");
			goto out;
		}
		metrics_auth_failure(MA_ENROLL_TOKEN);
		app_audit(app, c, "anonymous", "auth.enroll_refused", json_pack("{s:s}", "device_id", device_id));
		svc_fail(r, 401, "unauthorized", "enrollment token unknown, used or expired");
		goto out;
	}
	airlock_err e = pki_sign_csr(app->ca, csr, strlen(csr), device_id, app->cfg.device_cert_days, &cert_pem,
				     cert_sha, serial, &not_after);
	if (e != AIRLOCK_OK) {
		db_rollback(c);
		svc_fail(r, 400, "bad_csr", "the CSR was refused: %s", airlock_strerror(e));
		goto out;
	}
	airlock_hex_encode(cert_sha, sizeof cert_sha, cert_hex);
	struct db_value p[] = { db_text(device_id), db_text(grant.hardware), db_text(grant.group[0] ? grant.group : NULL),
				db_text(grant.tags), db_text(cert_hex), db_text(serial), db_int(not_after),
				db_int(now), db_blob(wrap_pub, sizeof wrap_pub) };
	enum db_err de = db_exec(c, "INSERT INTO devices (id, hardware, grp, tags, cert_sha256, cert_serial,"
				    " cert_not_after, created, wrap_pub, cert_ca) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9,"
				    " 'fleet')",
				 p, 9, NULL, NULL, NULL);
	if (de != DB_OK) {
		db_rollback(c);
		if (de == DB_ERR_CONSTRAINT)
			svc_fail(r, 409, "conflict", "device '%s' is already enrolled", device_id);
		else
			svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	snprintf(actor, sizeof actor, "enroll:%s", grant.id);
	if (!app_audit_tx(app, c, actor, "device.enroll",
			  json_pack("{s:s,s:s,s:s,s:s}", "device_id", device_id, "hardware", grant.hardware,
				    "cert_sha256", cert_hex, "serial", serial))) {
		db_rollback(c);
		svc_fail(r, 503, "unavailable", "audit log unavailable");
		goto out;
	}
	if (db_commit(c) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	char *root_b64 = malloc(AIRLOCK_BASE64_LEN(app->root_len) + 1);
	if (root_b64)
		airlock_base64_encode(app->root_buf, app->root_len, root_b64);
	ok = svc_ok(r, 201, json_pack("{s:s,s:s,s:s,s:s?,s:I}", "device_id", device_id, "hardware", grant.hardware,
				      "certificate", cert_pem, "root", root_b64, "checkin_interval",
				      (json_int_t)app->cfg.checkin_interval));
	free(root_b64);
out:
	free(cert_pem);
	db_release(app->db, c);
	return ok;
}

/* ---- identity ---- */

struct device_row {
	bool found;
	char id[AIRLOCK_MAX_DEVICE_ID_LEN + 1];
	char hardware[65];
	char group[65];
	char tags[256];
	char status[16];
	int64_t security_version;
	uint8_t wrap_pub[AIRLOCK_X25519_LEN];
	bool has_wrap;
};

static int take_device(void *ctx, const struct db_row *row)
{
	struct device_row *d = ctx;
	const struct db_value *c = row->col;
	if (row->n < 8 || c[0].type != DB_TEXT || c[1].type != DB_TEXT || c[4].type != DB_TEXT)
		return 1;
	d->found = true;
	snprintf(d->id, sizeof d->id, "%s", c[0].s);
	snprintf(d->hardware, sizeof d->hardware, "%s", c[1].s);
	snprintf(d->group, sizeof d->group, "%s", c[2].type == DB_TEXT ? c[2].s : "");
	snprintf(d->tags, sizeof d->tags, "%s", c[3].type == DB_TEXT ? c[3].s : "");
	snprintf(d->status, sizeof d->status, "%s", c[4].s);
	d->security_version = c[5].type == DB_INT ? c[5].i : 0;
	d->has_wrap = c[6].type == DB_BLOB && c[6].len == AIRLOCK_X25519_LEN;
	if (d->has_wrap)
		memcpy(d->wrap_pub, c[6].b, AIRLOCK_X25519_LEN);
	return 1;
}

static bool device_by_cert(struct db_conn *c, const char *hex, struct device_row *d)
{
	memset(d, 0, sizeof *d);
	struct db_value p[] = { db_text(hex) };
	return db_exec(c, "SELECT id, hardware, grp, tags, status, security_version, wrap_pub, cert_not_after"
			  " FROM devices WHERE cert_sha256 = $1", p, 1, take_device, d, NULL) == DB_OK;
}

struct bind_state {
	bool found;
	bool bound;           /* holds a certificate already */
	char status[16];
};

static int take_bind_state(void *ctx, const struct db_row *row)
{
	struct bind_state *b = ctx;
	if (row->n < 2 || row->col[0].type != DB_TEXT)
		return 1;
	b->found = true;
	snprintf(b->status, sizeof b->status, "%s", row->col[0].s);
	b->bound = row->col[1].type != DB_NULL;
	return 1;
}

/* A refused manufacturer certificate: audited (not counted against the
 * address: a factory line may bring many devices up at once), 403. */
static bool refuse_manufacturer(struct app *app, struct db_conn *c, const struct svc_peer *peer, const char *hex,
				const char *reason, struct svc_result *r)
{
	bool revoked = strcmp(reason, "revoked") == 0;
	metrics_auth_failure(revoked ? MA_REVOKED : MA_UNKNOWN_CERT);
	app_audit(app, c, "anonymous", "auth.manufacturer_refused",
		  json_pack("{s:s,s:s,s:s,s:s}", "reason", reason, "cn", peer->cn, "cert_sha256", hex, "serial",
			    peer->serial_hex));
	if (revoked)
		return svc_fail(r, 403, "revoked", "device '%.64s' is revoked", peer->cn);
	if (strcmp(reason, "already_bound") == 0)
		return svc_fail(r, 403, "forbidden", "device '%.64s' is bound to another certificate", peer->cn);
	if (strcmp(reason, "not_registered") == 0)
		return svc_fail(r, 403, "forbidden", "no device '%.64s' is registered for a manufacturer certificate",
				peer->cn);
	return svc_fail(r, 403, "forbidden", "the certificate's CN is not a device id");
}

/*
 * Bind on first use. A certificate that a manufacturer CA issued names its
 * device in the CN; it identifies that device only if an admin registered
 * the id beforehand (POST /devices) and no certificate is bound to it yet.
 * The one UPDATE decides: of two certificates racing for one id, one wins,
 * and the other then finds the id bound. From then on the device is found
 * by this certificate's SHA-256 alone, like an enrolled one. On success d
 * is the device; otherwise r holds the 403 (or 503).
 */
static bool bind_manufacturer_cert(struct app *app, struct db_conn *c, const struct svc_peer *peer,
				   const char *hex, struct device_row *d, struct svc_result *r)
{
	int64_t changes = 0;
	if (!valid_device_id(peer->cn))
		return refuse_manufacturer(app, c, peer, hex, "bad_cn", r);
	if (db_begin(c) != DB_OK)
		return svc_fail(r, 503, "unavailable", "database unavailable");
	struct db_value p[] = { db_text(hex), db_text(peer->serial_hex), db_int(peer->not_after), db_text(peer->cn) };
	enum db_err e = db_exec(c, "UPDATE devices SET cert_sha256 = $1, cert_serial = $2, cert_not_after = $3,"
				   " cert_ca = 'manufacturer', status = 'active'"
				   " WHERE id = $4 AND status = 'registered' AND cert_sha256 IS NULL", p, 4, NULL, NULL,
				&changes);
	if (e == DB_OK && changes == 1) {
		char who[160];
		snprintf(who, sizeof who, "device:%.128s", peer->cn);
		if (!app_audit_tx(app, c, who, "device.bind_certificate",
				  json_pack("{s:s,s:s,s:s,s:I}", "device_id", peer->cn, "cert_sha256", hex, "serial",
					    peer->serial_hex, "not_after", (json_int_t)peer->not_after)))
			e = DB_ERR_QUERY;
		if (e == DB_OK)
			e = db_commit(c);
		else
			db_rollback(c);
		if (e != DB_OK || !device_by_cert(c, hex, d) || !d->found)
			return svc_fail(r, 503, "unavailable", "database unavailable");
		return true;
	}
	db_rollback(c);
	if (e != DB_OK && e != DB_ERR_CONSTRAINT)
		return svc_fail(r, 503, "unavailable", "database unavailable");
	/* Not bound here: the same certificate may have won on another
	 * connection meanwhile; else say why. */
	struct bind_state b = { 0 };
	struct db_value q[] = { db_text(peer->cn) };
	if (!device_by_cert(c, hex, d) ||
	    (!d->found && db_exec(c, "SELECT status, cert_sha256 FROM devices WHERE id = $1", q, 1, take_bind_state, &b,
				  NULL) != DB_OK))
		return svc_fail(r, 503, "unavailable", "database unavailable");
	if (d->found)
		return true;
	return refuse_manufacturer(app, c, peer, hex,
				   !b.found ? "not_registered" : b.bound ? "already_bound"
				   : strcmp(b.status, "revoked") == 0 ? "revoked" : "not_registered", r);
}

static bool find_device(struct app *app, struct db_conn *c, const struct svc_peer *peer, struct device_row *d,
			struct svc_actor *actor, struct svc_result *r)
{
	char hex[65];
	airlock_hex_encode(peer->cert_sha256, 32, hex);
	if (!device_by_cert(c, hex, d))
		return svc_fail(r, 503, "unavailable", "database unavailable");
	if (!d->found && peer->ca == SVC_CA_MANUFACTURER && !bind_manufacturer_cert(app, c, peer, hex, d, r))
		return false;
	if (!d->found) {
		/* A certificate of the fleet CA that no device row holds: a
		 * re-enrolled device's old certificate, or a CA misuse. A fleet
		 * certificate never binds to a registered id, whatever its CN. */
		metrics_auth_failure(MA_UNKNOWN_CERT);
		app_audit(app, c, "anonymous", "auth.unknown_certificate",
			  json_pack("{s:s,s:s}", "cert_sha256", hex, "cn", peer->cn));
		return svc_fail(r, 403, "forbidden", "this certificate belongs to no enrolled device");
	}
	if (strcmp(d->status, "active") != 0) {
		char who[160];
		snprintf(who, sizeof who, "device:%s", d->id);
		metrics_auth_failure(MA_REVOKED);
		app_audit(app, c, who, "auth.revoked_device", NULL);
		return svc_fail(r, 403, "revoked", "device '%s' is revoked", d->id);
	}
	snprintf(actor->name, sizeof actor->name, "device:%.80s", d->id);
	snprintf(actor->device_id, sizeof actor->device_id, "%s", d->id);
	return true;
}

/*
 * A body may name its device (an agent may send it for its own logs); it
 * must then be the certificate's. A check-in or report carried over another
 * device's TLS identity is refused and audited, never attributed to the
 * device the body names.
 */
static bool same_device(struct app *app, struct db_conn *c, const struct svc_actor *actor, const char *claimed,
			struct svc_result *r)
{
	if (!claimed || strcmp(claimed, actor->device_id) == 0)
		return true;
	metrics_auth_failure(MA_IDENTITY);
	app_audit(app, c, actor->name, "auth.identity_mismatch", json_pack("{s:s}", "claimed", claimed));
	return svc_fail(r, 403, "identity_mismatch", "the body names device '%.64s', the client certificate another",
			claimed);
}

static bool claimed_device(json_t *body, const char **claimed, struct svc_result *r)
{
	if (!jin_str(body, "device_id", AIRLOCK_MAX_DEVICE_ID_LEN, false, claimed, r))
		return false;
	if (*claimed && !valid_device_id(*claimed))
		return svc_fail(r, 400, "bad_request", "device_id must be 1..128 printable characters without spaces");
	return true;
}

bool svc_device_identify(struct app *app, struct db_conn *c, const struct svc_peer *peer, struct svc_actor *actor,
			 struct svc_result *r)
{
	struct device_row d;
	return find_device(app, c, peer, &d, actor, r);
}

/* ---- check-in ---- */

struct deployment_pick {
	int64_t id;
	char release[65];
	const char *tags;     /* ",a,b," of the device, for tag targets */
};

/* Keeps the newest deployment whose target matches (rows come newest first). */
static int take_pick(void *ctx, const struct db_row *row)
{
	struct deployment_pick *p = ctx;
	const struct db_value *c = row->col;
	if (row->n < 4 || c[0].type != DB_INT || c[1].type != DB_TEXT || c[2].type != DB_TEXT || c[3].type != DB_TEXT)
		return 0;
	if (strcmp(c[2].s, "tag") == 0) {
		char needle[70];
		snprintf(needle, sizeof needle, ",%s,", c[3].s);
		if (!strstr(p->tags, needle))
			return 0;
	}
	p->id = c[0].i;
	snprintf(p->release, sizeof p->release, "%s", c[1].s);
	return 1;
}

struct release_row {
	bool found;
	int64_t security_version;
	char hardware[1200];
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t content_key[AIRLOCK_KEYWRAP_CBOR_LEN];
	bool has_key;
};

static int take_release(void *ctx, const struct db_row *row)
{
	struct release_row *rel = ctx;
	const struct db_value *c = row->col;
	if (row->n < 4 || c[0].type != DB_INT || c[1].type != DB_TEXT || c[2].type != DB_BLOB)
		return 1;
	rel->security_version = c[0].i;
	snprintf(rel->hardware, sizeof rel->hardware, "%s", c[1].s);
	rel->envelope = malloc(c[2].len);
	if (!rel->envelope)
		return 1;
	memcpy(rel->envelope, c[2].b, c[2].len);
	rel->envelope_len = c[2].len;
	rel->has_key = c[3].type == DB_BLOB && c[3].len == AIRLOCK_KEYWRAP_CBOR_LEN;
	if (rel->has_key)
		memcpy(rel->content_key, c[3].b, c[3].len);
	rel->found = true;
	return 1;
}

struct payload_rows {
	size_t n;
	struct {
		char name[AIRLOCK_MAX_NAME_LEN + 1];
		char sha256[65];
		uint8_t digest[32];
		int64_t size;
	} p[AIRLOCK_MAX_PAYLOADS];
};

static int take_payload(void *ctx, const struct db_row *row)
{
	struct payload_rows *pr = ctx;
	const struct db_value *c = row->col;
	if (pr->n == AIRLOCK_MAX_PAYLOADS || row->n < 3 || c[0].type != DB_TEXT || c[1].type != DB_TEXT ||
	    c[2].type != DB_INT)
		return 1;
	snprintf(pr->p[pr->n].name, sizeof pr->p[0].name, "%s", c[0].s);
	snprintf(pr->p[pr->n].sha256, sizeof pr->p[0].sha256, "%s", c[1].s);
	if (airlock_hex_decode(c[1].s, strlen(c[1].s), pr->p[pr->n].digest, 32) != AIRLOCK_OK)
		return 1;
	pr->p[pr->n].size = c[2].i;
	pr->n++;
	return 0;
}

static bool hardware_listed(const char *list, const char *hw)
{
	/* list is "a,b,c" of labels, which contain no commas. */
	size_t n = strlen(hw);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && strncmp(p, hw, n) == 0)
			return true;
		p += len + (p[len] == ',');
	}
	return false;
}

static void set_dd_state(struct db_conn *c, const char *device, int64_t deployment, const char *state,
			 const char *detail, int64_t now)
{
	struct db_value p[] = { db_text(device), db_int(deployment), db_text(state), db_int(now), db_text(detail) };
	(void)db_exec(c, "INSERT INTO device_deployments (device_id, deployment_id, state, updated, detail)"
			 " VALUES ($1, $2, $3, $4, $5) ON CONFLICT (device_id, deployment_id) DO UPDATE"
			 " SET state = $3, updated = $4, detail = $5", p, 5, NULL, NULL, NULL);
}

static int take_state(void *ctx, const struct db_row *row)
{
	if (row->n >= 1 && row->col[0].type == DB_TEXT)
		snprintf(ctx, 16, "%s", row->col[0].s);
	return 1;
}

/* Signs a directive body with the director key into a malloc'd envelope. */
static bool sign_directive(struct app *app, const struct airlock_directive *dir, uint8_t **out, size_t *out_len)
{
	uint8_t body[AIRLOCK_DIRECTIVE_MAX_LEN], keyid[AIRLOCK_KEYID_LEN], sig[AIRLOCK_SIG_MAX_LEN];
	size_t body_len;
	struct airlock_cbor_enc enc;
	struct airlock_envelope env;

	airlock_cbor_enc_init(&enc, body, sizeof body);
	airlock_directive_encode_body(dir, &enc);
	if (airlock_cbor_enc_finish(&enc, &body_len) != AIRLOCK_OK)
		return false;
	memset(&env, 0, sizeof env);
	env.type = AIRLOCK_META_DIRECTIVE;
	env.body = (struct airlock_bytes){ body, body_len };
	return airlock_envelope_sign(&env, app->director, keyid, sig) == AIRLOCK_OK &&
	       airlock_envelope_encode_alloc(&env, out, out_len) == AIRLOCK_OK;
}

/* Re-wraps the release's content key (held wrapped to the server's own key)
 * for this device: the key is in the clear only inside this function. */
static bool rewrap_for_device(struct app *app, const struct release_row *rel, const struct device_row *d,
			      uint8_t out[AIRLOCK_KEYWRAP_CBOR_LEN])
{
	struct airlock_cbor_dec dec;
	struct airlock_wrapped_key held, mine;
	uint8_t ck[AIRLOCK_CONTENT_KEY_LEN];
	struct airlock_cbor_enc enc;
	size_t len;
	airlock_cbor_dec_init(&dec, rel->content_key, sizeof rel->content_key);
	bool ok = airlock_keywrap_decode(&dec, &held) == AIRLOCK_OK &&
		  airlock_keywrap_open(&held, app->content, ck) == AIRLOCK_OK &&
		  airlock_keywrap_seal(ck, d->wrap_pub, &mine) == AIRLOCK_OK;
	airlock_wipe(ck, sizeof ck);
	if (!ok)
		return false;
	airlock_cbor_enc_init(&enc, out, AIRLOCK_KEYWRAP_CBOR_LEN);
	airlock_keywrap_encode(&mine, &enc);
	return airlock_cbor_enc_finish(&enc, &len) == AIRLOCK_OK && len == AIRLOCK_KEYWRAP_CBOR_LEN;
}

bool svc_checkin(struct app *app, const struct svc_peer *peer, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "nonce", "release", "security_version", "version", "slot_state",
					      "device_id", NULL };
	uint8_t nonce[AIRLOCK_NONCE_MAX_LEN], current[32];
	const char *nonce_hex, *version, *slot_state, *claimed;
	int64_t sv = 0, now = app_now();
	bool has_current = false, ok = false;
	struct svc_actor actor;
	struct device_row d;
	struct release_row rel = { 0 };
	struct payload_rows pr = { 0 };
	uint8_t *directive = NULL, wrapped[AIRLOCK_KEYWRAP_CBOR_LEN];
	size_t directive_len = 0;

	if (!jin_object(body, fields, r) || !jin_str(body, "nonce", 2 * AIRLOCK_NONCE_MAX_LEN, true, &nonce_hex, r) ||
	    !jin_hex(body, "release", current, sizeof current, false, &has_current, r) ||
	    !jin_int(body, "security_version", 0, INT64_MAX, true, &sv, r) ||
	    !jin_str(body, "version", AIRLOCK_MAX_NAME_LEN, false, &version, r) ||
	    !jin_str(body, "slot_state", 32, false, &slot_state, r) || !claimed_device(body, &claimed, r))
		return false;
	size_t nonce_len = strlen(nonce_hex) / 2;
	if (strlen(nonce_hex) % 2 || nonce_len < AIRLOCK_NONCE_MIN_LEN ||
	    airlock_hex_decode(nonce_hex, strlen(nonce_hex), nonce, nonce_len) != AIRLOCK_OK)
		return svc_fail(r, 400, "bad_request", "nonce must be 16..64 bytes of hex");
	if (version && !valid_label(version))
		return svc_fail(r, 400, "bad_request", "version must be a label");
	if (slot_state && !valid_label(slot_state))
		return svc_fail(r, 400, "bad_request", "slot_state must be a label");

	struct db_conn *c = db_acquire(app->db);
	if (!find_device(app, c, peer, &d, &actor, r) || !same_device(app, c, &actor, claimed, r))
		goto out;
	char current_hex[65] = "";
	if (has_current)
		airlock_hex_encode(current, 32, current_hex);
	{
		struct db_value p[] = { db_int(now), db_text(version), db_text(has_current ? current_hex : NULL),
					db_int(sv), db_text(slot_state), db_text(d.id) };
		/* The anti-rollback floor only rises: a device reporting lower is not believed.
		 * Relaxed (not flushed at once): this is the device's own word, which
		 * its next check-in repeats; a power cut that loses it loses a few
		 * seconds of last_seen, and the device itself refuses a rollback. */
		if (db_exec_relaxed(c, "UPDATE devices SET last_seen = $1, current_version = $2, current_release = $3,"
			       " security_version = CASE WHEN security_version > $4 THEN security_version ELSE $4 END,"
			       " slot_state = $5 WHERE id = $6", p, 6, NULL, NULL, NULL) != DB_OK) {
			svc_fail(r, 503, "unavailable", "database unavailable");
			goto out;
		}
		d.security_version = d.security_version > sv ? d.security_version : sv;
	}

	/* The newest active deployment that targets this device, its group or a
	 * tag (tags are matched here, exactly, rather than with LIKE, whose case
	 * rules differ between SQLite and PostgreSQL). */
	char tags[260];
	snprintf(tags, sizeof tags, ",%s,", d.tags);
	struct deployment_pick pick = { .tags = tags };
	struct db_value q[] = { db_text(d.id), db_text(d.group) };
	if (db_exec(c, "SELECT id, release_digest, target_kind, target FROM deployments WHERE status = 'active' AND ("
		       " (target_kind = 'device' AND target = $1) OR (target_kind = 'group' AND target = $2)"
		       " OR target_kind = 'tag') ORDER BY id DESC", q, 2, take_pick, &pick, NULL) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	struct airlock_directive dir;
	memset(&dir, 0, sizeof dir);
	dir.device = (struct airlock_str){ d.id, strlen(d.id) };
	dir.nonce = (struct airlock_bytes){ nonce, nonce_len };
	dir.issued = (uint64_t)now;
	dir.expires = (uint64_t)now + app->cfg.directive_ttl;
	dir.action = AIRLOCK_ACTION_NONE;
	uint8_t release_digest[32];
	char state[16] = "";
	if (pick.id) {
		struct db_value s[] = { db_text(d.id), db_int(pick.id) };
		(void)db_exec(c, "SELECT state FROM device_deployments WHERE device_id = $1 AND deployment_id = $2", s, 2,
			      take_state, state, NULL);
		struct db_value rq[] = { db_text(pick.release) };
		if (db_exec(c, "SELECT security_version, hardware, envelope, content_key FROM releases WHERE digest = $1",
			    rq, 1, take_release, &rel, NULL) != DB_OK || !rel.found) {
			svc_fail(r, 503, "unavailable", "database unavailable");
			goto out;
		}
	}
	bool terminal = strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
			strcmp(state, "rolled-back") == 0;
	if (pick.id && !terminal) {
		if (has_current && strcmp(current_hex, pick.release) == 0) {
			set_dd_state(c, d.id, pick.id, "succeeded", "device runs the release", now);
		} else if (!hardware_listed(rel.hardware, d.hardware)) {
			set_dd_state(c, d.id, pick.id, "failed", "release is not for this hardware", now);
		} else if (rel.security_version < d.security_version) {
			/* The device would refuse it (ROLLBACK): never offer it. */
			set_dd_state(c, d.id, pick.id, "failed", "release is below the device's security version", now);
		} else {
			struct db_value pq[] = { db_text(pick.release) };
			if (db_exec(c, "SELECT name, artifact_sha256, artifact_size FROM payloads WHERE release_digest = $1"
				       " AND artifact_done = 1 AND chunks_done = 1 ORDER BY idx", pq, 1, take_payload, &pr,
				       NULL) != DB_OK || pr.n == 0) {
				svc_fail(r, 503, "unavailable", "database unavailable");
				goto out;
			}
			if (state[0] == '\0') {
				/* Only if no row is there yet: a concurrent check-in or
				 * report of this device may have written one meanwhile, and
				 * states never move back to pending. */
				struct db_value pp[] = { db_text(d.id), db_int(pick.id), db_int(now) };
				(void)db_exec(c, "INSERT INTO device_deployments (device_id, deployment_id, state, updated)"
						 " VALUES ($1, $2, 'pending', $3) ON CONFLICT (device_id, deployment_id)"
						 " DO NOTHING", pp, 3, NULL, NULL, NULL);
			}
			if (airlock_hex_decode(pick.release, 64, release_digest, 32) != AIRLOCK_OK) {
				svc_fail(r, 503, "unavailable", "corrupt release row");
				goto out;
			}
			dir.action = AIRLOCK_ACTION_INSTALL;
			dir.release_digest = release_digest;
			dir.n_payloads = pr.n;
			static __thread char urls[AIRLOCK_MAX_PAYLOADS][600];
			for (size_t i = 0; i < pr.n; i++) {
				snprintf(urls[i], sizeof urls[i], "%.500s/api/v1/artifacts/%s", app->cfg.public_url, pr.p[i].sha256);
				dir.payloads[i].name = (struct airlock_str){ pr.p[i].name, strlen(pr.p[i].name) };
				dir.payloads[i].kind = AIRLOCK_ARTIFACT_FULL;
				dir.payloads[i].digest = pr.p[i].digest;
				dir.payloads[i].size = (uint64_t)pr.p[i].size;
				dir.payloads[i].n_urls = 1;
				dir.payloads[i].urls[0] = (struct airlock_str){ urls[i], strlen(urls[i]) };
			}
			if (rel.has_key) {
				if (!d.has_wrap || !rewrap_for_device(app, &rel, &d, wrapped)) {
					svc_fail(r, 503, "unavailable", "cannot wrap the content key for this device");
					goto out;
				}
				dir.wrapped_key = (struct airlock_bytes){ wrapped, sizeof wrapped };
			}
		}
	}
	if (!sign_directive(app, &dir, &directive, &directive_len)) {
		svc_fail(r, 503, "unavailable", "cannot sign the directive");
		goto out;
	}
	char *dir_b64 = malloc(AIRLOCK_BASE64_LEN(directive_len) + 1);
	char *rel_b64 = dir.action == AIRLOCK_ACTION_INSTALL ? malloc(AIRLOCK_BASE64_LEN(rel.envelope_len) + 1) : NULL;
	if (dir_b64)
		airlock_base64_encode(directive, directive_len, dir_b64);
	if (rel_b64)
		airlock_base64_encode(rel.envelope, rel.envelope_len, rel_b64);
	if (dir.action == AIRLOCK_ACTION_INSTALL)
		app_audit(app, c, actor.name, "device.directive",
			  json_pack("{s:I,s:s}", "deployment", (json_int_t)pick.id, "release", pick.release));
	json_t *answer = json_pack("{s:s,s:I}", "directive", dir_b64, "checkin_interval",
				   (json_int_t)app->cfg.checkin_interval);
	if (answer && dir.action == AIRLOCK_ACTION_INSTALL &&
	    (json_object_set_new(answer, "release", json_string(rel_b64)) != 0 ||
	     json_object_set_new(answer, "deployment", json_integer(pick.id)) != 0)) {
		json_decref(answer);
		answer = NULL;
	}
	ok = svc_ok(r, 200, answer);
	if (ok)
		metrics_checkin(dir.action == AIRLOCK_ACTION_INSTALL);
	free(dir_b64);
	free(rel_b64);
out:
	free(rel.envelope);
	free(directive);
	db_release(app->db, c);
	return ok;
}

/* ---- events ---- */

static int state_rank(const char *s)
{
	static const char *const order[] = { "pending", "downloading", "installing", "rebooting" };
	for (int i = 0; i < 4; i++)
		if (strcmp(s, order[i]) == 0)
			return i;
	if (strcmp(s, "succeeded") == 0 || strcmp(s, "failed") == 0 || strcmp(s, "rolled-back") == 0)
		return 4;
	return -1;
}

static bool valid_event_id(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
		      ch == '_'))
			return false;
	}
	return true;
}

bool svc_event(struct app *app, const struct svc_peer *peer, json_t *body, struct svc_result *r)
{
	static const char *const fields[] = { "event_id", "deployment", "state", "progress", "error", "log_tail",
					      "device_id", NULL };
	const char *event_id, *state, *error, *log_tail, *claimed;
	int64_t deployment = 0, progress = -1, now = app_now(), inserted = 0;
	struct svc_actor actor;
	struct device_row d;
	bool ok = false;

	if (!jin_object(body, fields, r) || !jin_str(body, "event_id", 64, true, &event_id, r) ||
	    !jin_int(body, "deployment", 1, INT64_MAX, false, &deployment, r) ||
	    !jin_str(body, "state", 16, true, &state, r) || !jin_int(body, "progress", 0, 100, false, &progress, r) ||
	    !jin_str(body, "error", 256, false, &error, r) || !jin_str(body, "log_tail", 4096, false, &log_tail, r) ||
	    !claimed_device(body, &claimed, r))
		return false;
	if (!valid_event_id(event_id))
		return svc_fail(r, 400, "bad_request", "event_id must be 1..64 of [A-Za-z0-9_-]");
	if (state_rank(state) < 0)
		return svc_fail(r, 400, "bad_request", "unknown state '%.16s'", state);

	struct db_conn *c = db_acquire(app->db);
	if (!find_device(app, c, peer, &d, &actor, r) || !same_device(app, c, &actor, claimed, r))
		goto out;
	if (db_begin(c) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	struct db_value p[] = { db_text(d.id), db_text(event_id), db_int(now),
				deployment ? db_int(deployment) : db_null(), db_text(state),
				progress >= 0 ? db_int(progress) : db_null(), db_text(error), db_text(log_tail) };
	/* Idempotent: a retried report (same event_id) is stored and counted once. */
	if (db_exec(c, "INSERT INTO events (device_id, event_id, time, deployment_id, state, progress, error, log_tail)"
		       " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (device_id, event_id) DO NOTHING",
		    p, 8, NULL, NULL, &inserted) != DB_OK) {
		db_rollback(c);
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	if (inserted && deployment) {
		char cur[16] = "";
		struct db_value s[] = { db_text(d.id), db_int(deployment) };
		(void)db_exec(c, "SELECT state FROM device_deployments WHERE device_id = $1 AND deployment_id = $2", s, 2,
			      take_state, cur, NULL);
		if (cur[0] == '\0') {
			db_rollback(c);
			svc_fail(r, 404, "not_found", "deployment %lld is not assigned to this device", (long long)deployment);
			goto out;
		}
		/* Forward only; a finished deployment stays finished. The rule is
		 * in the UPDATE itself, not in a comparison with the state read
		 * above: under PostgreSQL's read committed, two reports of one
		 * device racing would otherwise both pass the check and the later
		 * commit could move the state back. The row lock makes the second
		 * UPDATE re-check its WHERE against the first one's result. */
		struct db_value u[] = { db_text(d.id), db_int(deployment), db_text(state), db_int(now), db_text(error),
					db_int(state_rank(state)) };
		(void)db_exec(c, "UPDATE device_deployments SET state = $3, updated = $4, detail = $5"
				 " WHERE device_id = $1 AND deployment_id = $2"
				 " AND state NOT IN ('succeeded', 'failed', 'rolled-back')"
				 " AND (CASE state WHEN 'pending' THEN 0 WHEN 'downloading' THEN 1 WHEN 'installing' THEN 2"
				 " ELSE 3 END) <= $6", u, 6, NULL, NULL, NULL);
		if (error) {
			struct db_value e[] = { db_text(error), db_text(d.id) };
			(void)db_exec(c, "UPDATE devices SET last_error = $1 WHERE id = $2", e, 2, NULL, NULL, NULL);
		}
		if (!app_audit_tx(app, c, actor.name, "device.state",
				  json_pack("{s:I,s:s,s:s?}", "deployment", (json_int_t)deployment, "state", state,
					    "error", error))) {
			db_rollback(c);
			svc_fail(r, 503, "unavailable", "audit log unavailable");
			goto out;
		}
	}
	if (db_commit(c) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	ok = svc_ok(r, inserted ? 201 : 200, json_pack("{s:s,s:b}", "event_id", event_id, "duplicate", !inserted));
	if (ok)
		metrics_report(!inserted);
out:
	db_release(app->db, c);
	return ok;
}

/* ---- downloads ---- */

static int take_any(void *ctx, const struct db_row *row)
{
	(void)row;
	*(bool *)ctx = true;
	return 1;
}

bool svc_device_may_fetch(struct app *app, const struct svc_peer *peer, const char *sha256_hex,
			  struct svc_result *r)
{
	struct svc_actor actor;
	struct device_row d;
	bool assigned = false, ok = false;
	struct db_conn *c = db_acquire(app->db);
	if (!find_device(app, c, peer, &d, &actor, r))
		goto out;
	/* Only artifacts (payloads or their chunk lists) of a release deployed
	 * to this device: a stolen device credential reads nothing else. */
	struct db_value p[] = { db_text(d.id), db_text(sha256_hex) };
	if (db_exec(c, "SELECT 1 FROM device_deployments dd JOIN deployments dep ON dep.id = dd.deployment_id"
		       " JOIN payloads p ON p.release_digest = dep.release_digest"
		       " WHERE dd.device_id = $1 AND (p.artifact_sha256 = $2 OR p.chunks_sha256 = $2) LIMIT 1",
		    p, 2, take_any, &assigned, NULL) != DB_OK) {
		svc_fail(r, 503, "unavailable", "database unavailable");
		goto out;
	}
	if (!assigned) {
		metrics_auth_failure(MA_NOT_ASSIGNED);
		app_audit(app, c, actor.name, "auth.artifact_refused", json_pack("{s:s}", "artifact", sha256_hex));
		svc_fail(r, 403, "forbidden", "this artifact is not assigned to this device");
		goto out;
	}
	ok = true;
out:
	db_release(app->db, c);
	return ok;
}
