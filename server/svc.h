/* The service layer: one function per API operation (see app.h for the conventions). */
#ifndef AIRLOCK_SERVER_SVC_H
#define AIRLOCK_SERVER_SVC_H

#include <jansson.h>

#include "app.h"

/* Which CA vouched for a device's client certificate. */
enum svc_cert_ca {
	SVC_CA_FLEET,          /* [tls] client_ca: issued at enrollment */
	SVC_CA_MANUFACTURER,   /* [tls] manufacturer_ca: pre-issued, bound on first use */
};

/* The verified client certificate of a device request. */
struct svc_peer {
	uint8_t cert_sha256[32];
	enum svc_cert_ca ca;
	char cn[128];          /* subject CN, printable ASCII; "" if none */
	char serial_hex[65];
	int64_t not_after;     /* Unix seconds */
};

/* ---- devices (svc_device.c) ---- */
bool svc_enroll(struct app *app, json_t *body, struct svc_result *r);
/* Identifies the device by its certificate: fills actor, or answers 403. */
bool svc_device_identify(struct app *app, struct db_conn *c, const struct svc_peer *peer,
			 struct svc_actor *actor, struct svc_result *r);
bool svc_checkin(struct app *app, const struct svc_peer *peer, json_t *body, struct svc_result *r);
bool svc_event(struct app *app, const struct svc_peer *peer, json_t *body, struct svc_result *r);
/* Whether this device may download the artifact: OK (r untouched) or 403/404. */
bool svc_device_may_fetch(struct app *app, const struct svc_peer *peer, const char *sha256_hex,
			  struct svc_result *r);

/* ---- admin (svc_admin.c) ---- */
bool svc_token_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r);
bool svc_token_list(struct app *app, const struct svc_actor *a, struct svc_result *r);
bool svc_token_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r);
bool svc_enroll_token_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r);
bool svc_device_list(struct app *app, struct svc_result *r);
bool svc_device_get(struct app *app, const char *id, struct svc_result *r);
bool svc_device_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r);
/* Pre-registers a device that will present a manufacturer-CA certificate. */
bool svc_device_register(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r);
bool svc_enroll_token_list(struct app *app, struct svc_result *r);
/* Deletes an unused enrollment token: 404 unknown, 409 already used. */
bool svc_enroll_token_revoke(struct app *app, const struct svc_actor *a, const char *id, struct svc_result *r);
bool svc_release_push(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r);
bool svc_release_list(struct app *app, struct svc_result *r);
bool svc_deployment_create(struct app *app, const struct svc_actor *a, json_t *body, struct svc_result *r);
bool svc_deployment_list(struct app *app, struct svc_result *r);
bool svc_deployment_cancel(struct app *app, const struct svc_actor *a, int64_t id, struct svc_result *r);

/* ---- audit (svc_audit.c) ---- */
/* The audit export (entries from..to, with checkpoints) as JSON; from/to may be NULL. */
bool svc_audit_export(struct app *app, const char *from, const char *to, struct svc_result *r);
bool svc_audit_checkpoint(struct app *app, const struct svc_actor *a, struct svc_result *r);

/*
 * Artifact uploads (svc_artifact.c): a streamed PUT of one payload of a
 * pushed release (chunks = false: the payload as devices download it, the
 * ciphertext if encrypted) or of its chunk-digest list (chunks = true). The
 * bytes are checked against the signed release while they stream (size at
 * once, digest at the end) and stored content-addressed only if they match.
 */
struct artifact_upload;
bool svc_artifact_upload_begin(struct app *app, const struct svc_actor *a, const char *release_hex,
			       const char *payload, bool chunks, uint64_t content_length,
			       struct artifact_upload **out, struct svc_result *r);
bool svc_artifact_upload_data(struct artifact_upload *u, const uint8_t *data, size_t len, struct svc_result *r);
/* Completes the upload; frees u whatever the outcome. */
bool svc_artifact_upload_end(struct artifact_upload *u, struct svc_result *r);
void svc_artifact_upload_abort(struct artifact_upload *u);

#endif
