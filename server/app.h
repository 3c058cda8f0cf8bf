/*
 * The server's application state and the service layer's conventions.
 *
 * Services (svc_*.c) take parsed, validated inputs and the caller's
 * identity, do the work against the database, the artifact store and the
 * keys, append to the audit log, and answer with a struct svc_result: an
 * HTTP status, a stable error code for clients, and a JSON body. They know
 * nothing of HTTP parsing; server/api.c maps requests to them.
 */
#ifndef AIRLOCK_SERVER_APP_H
#define AIRLOCK_SERVER_APP_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/meta.h"
#include "config.h"
#include "db.h"
#include "audit.h"
#include "pki.h"

struct app {
	struct server_config cfg;
	struct db *db;
	struct pki_ca *ca;
	struct airlock_privkey *director;      /* signs directives */
	uint8_t director_keyid[AIRLOCK_KEYID_LEN];
	struct airlock_privkey *content;       /* X25519: unwraps release content keys */
	uint8_t content_keyid[AIRLOCK_KEYID_LEN];
	struct airlock_privkey *audit;         /* signs audit checkpoints */
	struct audit_writer audit_w;
	/* the newest trusted root: releases are verified against it */
	uint8_t *root_buf;
	size_t root_len;
	struct airlock_root root;
	char artifacts_dir[CONFIG_PATH_MAX];
	char roots_dir[CONFIG_PATH_MAX];
};

/* Loads keys, CA, root and opens (and migrates) the database. On failure
 * writes one line into err. */
bool app_open(struct app *app, const struct server_config *cfg, char *err, size_t err_cap);
void app_close(struct app *app);

/* The result of a service call. */
struct svc_result {
	unsigned status;        /* HTTP status */
	const char *code;       /* stable error code ("not_found"), NULL on success */
	char message[256];      /* for people; never holds secrets */
	json_t *body;           /* success body (owned; may be NULL) */
	uint8_t *bytes;         /* or binary body (owned, malloc'd) */
	size_t bytes_len;
	const char *content_type;
};

void svc_result_free(struct svc_result *r);
/* Sets an error result; returns false so handlers can `return svc_fail(...)`. */
bool svc_fail(struct svc_result *r, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Takes ownership of body. */
bool svc_ok(struct svc_result *r, unsigned status, json_t *body);

/* Who is asking. */
struct svc_actor {
	char name[96];          /* "admin:<id>", "device:<id>", "enroll:<token id>" */
	char device_id[AIRLOCK_MAX_DEVICE_ID_LEN + 1];  /* devices only */
};

int64_t app_now(void);

/* Audit: appends (actor, action, detail) in a transaction of its own. A
 * failure is logged to stderr: it cannot undo what already happened. Takes
 * the reference to detail (NULL: {}). */
void app_audit(struct app *app, struct db_conn *c, const char *actor, const char *action, json_t *detail);
/* The same inside the caller's open transaction, so that the entry commits
 * if and only if the change does: call it last before db_commit(); on false
 * the caller rolls back and answers 503. */
bool app_audit_tx(struct app *app, struct db_conn *c, const char *actor, const char *action, json_t *detail);

/* Path of an artifact in the content-addressed store. */
void app_artifact_path(const struct app *app, const char *sha256_hex, char *out, size_t cap);

/* Validation of identifiers from requests. */
bool valid_device_id(const char *s);
bool valid_sha256_hex(const char *s);
bool valid_label(const char *s);

#endif
