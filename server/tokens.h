/*
 * Bearer tokens: admin tokens (scoped, expiring, revocable) and one-time
 * enrollment tokens. A token is 32 random bytes shown once, base64url, with
 * a prefix saying its kind ("ala_" admin, "ale_" enrollment); the server
 * stores only its SHA-256 (a high-entropy secret needs no slow hash), so a
 * thief of the database cannot use them.
 */
#ifndef AIRLOCK_SERVER_TOKENS_H
#define AIRLOCK_SERVER_TOKENS_H

#include <stdbool.h>
#include <stdint.h>

#include "db.h"

#define TOKEN_STR_LEN 48     /* prefix (4) + 43 base64url characters + NUL */
#define TOKEN_ID_LEN 17      /* 16 hex + NUL */

enum scope {
	SCOPE_READ = 1u << 0,
	SCOPE_RELEASE = 1u << 1,
	SCOPE_DEPLOY = 1u << 2,
	SCOPE_ADMIN = 1u << 3,   /* implies all others */
};

enum token_verdict {
	TOKEN_OK = 0,
	TOKEN_UNKNOWN,    /* no such token (or malformed): 401 */
	TOKEN_EXPIRED,    /* 401 */
	TOKEN_REVOKED,    /* 401 */
	TOKEN_SCOPE,      /* valid, but lacks the scope: 403 */
	TOKEN_DB,         /* storage failure: 503 */
};

/* "read,deploy" -> bits; false for an unknown scope name or an empty list. */
bool scopes_parse(const char *s, unsigned *out);
/* bits -> "read,release,deploy,admin" order, into out (>= 32 bytes). */
void scopes_format(unsigned scopes, char *out, size_t cap);

/* Creates an admin token; token_out gets the secret (shown once), id_out its id. */
enum db_err token_create(struct db_conn *c, const char *name, unsigned scopes, int64_t now, int64_t expires,
			 const char *created_by, char token_out[TOKEN_STR_LEN], char id_out[TOKEN_ID_LEN]);
/* Checks an Authorization header value ("Bearer <token>") for a scope.
 * actor_out (>= 32 bytes) gets "admin:<id>" on success. */
enum token_verdict token_check(struct db_conn *c, const char *authorization, unsigned need, int64_t now,
			       char *actor_out, size_t actor_cap);
/* Revokes by id; *found tells whether it existed (and was not revoked). */
enum db_err token_revoke(struct db_conn *c, const char *id, int64_t now, bool *found);

/* Enrollment tokens: single use, expiring, bound to a hardware id (and optional group/tags). */
enum db_err enroll_token_create(struct db_conn *c, const char *hardware, const char *group, const char *tags,
				int64_t now, int64_t expires, const char *created_by,
				char token_out[TOKEN_STR_LEN], char id_out[TOKEN_ID_LEN]);

struct enroll_grant {
	char id[TOKEN_ID_LEN];
	char hardware[65];
	char group[65];
	char tags[256];
};
/* Consumes a token atomically for device_id (one UPDATE: a token is used at
 * most once even under concurrent requests). TOKEN_UNKNOWN for a wrong, used
 * or expired token (they are not told apart to the caller on purpose). */
enum token_verdict enroll_token_consume(struct db_conn *c, const char *token, const char *device_id,
					int64_t now, struct enroll_grant *grant);

#endif
