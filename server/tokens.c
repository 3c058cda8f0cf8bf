#include "tokens.h"

#include <stdio.h>
#include <string.h>

#include "airlock/crypto.h"
#include "airlock/hex.h"

#define PREFIX_ADMIN "ala_"
#define PREFIX_ENROLL "ale_"
#define SECRET_LEN 32

static const char *const scope_names[] = { "read", "release", "deploy", "admin" };

bool scopes_parse(const char *s, unsigned *out)
{
	unsigned bits = 0;
	while (*s) {
		size_t len = strcspn(s, ",");
		bool known = false;
		for (unsigned i = 0; i < 4; i++) {
			if (strlen(scope_names[i]) == len && strncmp(s, scope_names[i], len) == 0) {
				bits |= 1u << i;
				known = true;
			}
		}
		if (!known)
			return false;
		s += len;
		if (*s == ',')
			s++;
	}
	if (!bits)
		return false;
	*out = bits;
	return true;
}

void scopes_format(unsigned scopes, char *out, size_t cap)
{
	size_t n = 0;
	out[0] = '\0';
	for (unsigned i = 0; i < 4; i++)
		if (scopes & (1u << i))
			n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, "%s%s", n ? "," : "", scope_names[i]);
}

static void b64url(const uint8_t *in, size_t n, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
	} else if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
	}
	out[o] = '\0';
}

/* A fresh secret token with prefix, its SHA-256, and a random id. */
static bool mint(const char *prefix, char token[TOKEN_STR_LEN], uint8_t hash[32], char id[TOKEN_ID_LEN])
{
	uint8_t secret[SECRET_LEN], rid[8];
	if (airlock_random(secret, sizeof secret) != AIRLOCK_OK || airlock_random(rid, sizeof rid) != AIRLOCK_OK)
		return false;
	memcpy(token, prefix, 4);
	b64url(secret, sizeof secret, token + 4);
	airlock_wipe(secret, sizeof secret);
	airlock_hex_encode(rid, sizeof rid, id);
	return airlock_sha256(token, strlen(token), hash) == AIRLOCK_OK;
}

/* Hash of a presented token, after checking its shape (no database query
 * for strings that cannot be tokens). */
static bool presented_hash(const char *token, const char *prefix, uint8_t hash[32])
{
	size_t len = strlen(token);
	if (len != TOKEN_STR_LEN - 1 || strncmp(token, prefix, 4) != 0)
		return false;
	for (size_t i = 4; i < len; i++) {
		char ch = token[i];
		if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		      ch == '-' || ch == '_'))
			return false;
	}
	return airlock_sha256(token, len, hash) == AIRLOCK_OK;
}

enum db_err token_create(struct db_conn *c, const char *name, unsigned scopes, int64_t now, int64_t expires,
			 const char *created_by, char token_out[TOKEN_STR_LEN], char id_out[TOKEN_ID_LEN])
{
	uint8_t hash[32];
	char sc[64];
	if (!mint(PREFIX_ADMIN, token_out, hash, id_out))
		return DB_ERR_NOMEM;
	scopes_format(scopes, sc, sizeof sc);
	struct db_value p[] = { db_text(id_out), db_text(name), db_blob(hash, sizeof hash), db_text(sc),
				db_int(now), db_int(expires), db_text(created_by) };
	return db_exec(c, "INSERT INTO admin_tokens (id, name, token_sha256, scopes, created, expires, created_by)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7)", p, 7, NULL, NULL, NULL);
}

struct token_row {
	bool found;
	char id[TOKEN_ID_LEN];
	char scopes[64];
	int64_t expires;
	bool revoked;
};

static int take_token(void *ctx, const struct db_row *r)
{
	struct token_row *t = ctx;
	if (r->n < 4 || r->col[0].type != DB_TEXT || r->col[1].type != DB_TEXT || r->col[2].type != DB_INT)
		return 1;
	t->found = true;
	snprintf(t->id, sizeof t->id, "%s", r->col[0].s);
	snprintf(t->scopes, sizeof t->scopes, "%s", r->col[1].s);
	t->expires = r->col[2].i;
	t->revoked = r->col[3].type != DB_NULL;
	return 1;
}

enum token_verdict token_check(struct db_conn *c, const char *authorization, unsigned need, int64_t now,
			       char *actor_out, size_t actor_cap)
{
	uint8_t hash[32];
	struct token_row t = { 0 };
	unsigned have;
	if (!authorization || strncmp(authorization, "Bearer ", 7) != 0 ||
	    !presented_hash(authorization + 7, PREFIX_ADMIN, hash))
		return TOKEN_UNKNOWN;
	struct db_value p[] = { db_blob(hash, sizeof hash) };
	if (db_exec(c, "SELECT id, scopes, expires, revoked FROM admin_tokens WHERE token_sha256 = $1", p, 1,
		    take_token, &t, NULL) != DB_OK)
		return TOKEN_DB;
	if (!t.found)
		return TOKEN_UNKNOWN;
	if (t.revoked)
		return TOKEN_REVOKED;
	if (t.expires <= now)
		return TOKEN_EXPIRED;
	if (!scopes_parse(t.scopes, &have))
		return TOKEN_UNKNOWN;
	snprintf(actor_out, actor_cap, "admin:%s", t.id);
	if (!(have & SCOPE_ADMIN) && (have & need) != need)
		return TOKEN_SCOPE;
	return TOKEN_OK;
}

enum db_err token_revoke(struct db_conn *c, const char *id, int64_t now, bool *found)
{
	int64_t changes = 0;
	struct db_value p[] = { db_int(now), db_text(id) };
	enum db_err e = db_exec(c, "UPDATE admin_tokens SET revoked = $1 WHERE id = $2 AND revoked IS NULL", p, 2,
				NULL, NULL, &changes);
	*found = changes == 1;
	return e;
}

enum db_err enroll_token_create(struct db_conn *c, const char *hardware, const char *group, const char *tags,
				int64_t now, int64_t expires, const char *created_by,
				char token_out[TOKEN_STR_LEN], char id_out[TOKEN_ID_LEN])
{
	uint8_t hash[32];
	if (!mint(PREFIX_ENROLL, token_out, hash, id_out))
		return DB_ERR_NOMEM;
	struct db_value p[] = { db_text(id_out), db_blob(hash, sizeof hash), db_text(hardware), db_text(group),
				db_text(tags ? tags : ""), db_int(now), db_int(expires), db_text(created_by) };
	return db_exec(c, "INSERT INTO enroll_tokens (id, token_sha256, hardware, grp, tags, created, expires, created_by)"
			  " VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", p, 8, NULL, NULL, NULL);
}

static int take_grant(void *ctx, const struct db_row *r)
{
	struct enroll_grant *g = ctx;
	if (r->n < 4 || r->col[0].type != DB_TEXT || r->col[1].type != DB_TEXT)
		return 1;
	snprintf(g->id, sizeof g->id, "%s", r->col[0].s);
	snprintf(g->hardware, sizeof g->hardware, "%s", r->col[1].s);
	snprintf(g->group, sizeof g->group, "%s", r->col[2].type == DB_TEXT ? r->col[2].s : "");
	snprintf(g->tags, sizeof g->tags, "%s", r->col[3].type == DB_TEXT ? r->col[3].s : "");
	return 1;
}

enum token_verdict enroll_token_consume(struct db_conn *c, const char *token, const char *device_id,
					int64_t now, struct enroll_grant *grant)
{
	uint8_t hash[32];
	memset(grant, 0, sizeof *grant);
	if (!presented_hash(token, PREFIX_ENROLL, hash))
		return TOKEN_UNKNOWN;
	struct db_value p[] = { db_int(now), db_text(device_id), db_blob(hash, sizeof hash) };
	/* One statement: the check and the use cannot be separated by another request. */
	if (db_exec(c, "UPDATE enroll_tokens SET used = $1, device_id = $2"
		       " WHERE token_sha256 = $3 AND used IS NULL AND expires > $1"
		       " RETURNING id, hardware, grp, tags", p, 3, take_grant, grant, NULL) != DB_OK)
		return TOKEN_DB;
	return grant->id[0] ? TOKEN_OK : TOKEN_UNKNOWN;
}
