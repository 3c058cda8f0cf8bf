/* Check-in and the verification of the server's answer (checkin.h). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "airlock/base64.h"
#include "airlock/hex.h"
#include "checkin.h"
#include "log.h"

/* The answer holds a directive (<= 16 KiB) and a release (<= 64 KiB) in
 * base64 plus a few fields; anything longer is not an answer. */
#define CHECKIN_ANSWER_MAX (AIRLOCK_BASE64_LEN(AIRLOCK_DIRECTIVE_MAX_LEN) + \
			    AIRLOCK_BASE64_LEN(AIRLOCK_RELEASE_MAX_LEN) + 4096u)

static airlock_err decode_b64(json_t *o, const char *key, uint8_t *out, size_t cap, size_t *len)
{
	const char *s = json_string_value(json_object_get(o, key));
	if (!s)
		return AIRLOCK_ERR_MISSING_FIELD;
	size_t n = strlen(s);
	if (n > AIRLOCK_BASE64_LEN(cap))
		return AIRLOCK_ERR_TOO_LARGE;
	return airlock_base64_decode(s, n, out, cap, len);
}

static char *request_body(const struct agent_checkin *c, const struct agent_self *self)
{
	char nonce_hex[2 * sizeof c->nonce + 1];
	airlock_hex_encode(c->nonce, sizeof c->nonce, nonce_hex);
	json_t *o = json_pack("{s:s,s:I}", "nonce", nonce_hex, "security_version", (json_int_t)self->security_version);
	if (!o)
		return NULL;
	if (self->release_hex)
		json_object_set_new(o, "release", json_string(self->release_hex));
	if (self->version && self->version[0])
		json_object_set_new(o, "version", json_string(self->version));
	if (self->slot_state)
		json_object_set_new(o, "slot_state", json_string(self->slot_state));
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

static airlock_err parse_answer(struct agent_checkin *c, const struct agent_buf *ans)
{
	json_error_t je;
	json_t *o = json_loadb((const char *)ans->p, ans->len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(c->detail, sizeof c->detail, "check-in answer is not a JSON object");
		return AIRLOCK_ERR_MALFORMED;
	}
	airlock_err e = decode_b64(o, "directive", c->directive_buf, sizeof c->directive_buf, &c->directive_len);
	if (e != AIRLOCK_OK) {
		snprintf(c->detail, sizeof c->detail, "check-in answer: directive: %s", airlock_strerror(e));
		goto out;
	}
	c->release_len = 0;
	if (json_object_get(o, "release")) {
		e = decode_b64(o, "release", c->release_buf, sizeof c->release_buf, &c->release_len);
		if (e != AIRLOCK_OK) {
			snprintf(c->detail, sizeof c->detail, "check-in answer: release: %s", airlock_strerror(e));
			goto out;
		}
	}
	json_t *dep = json_object_get(o, "deployment");
	c->deployment = json_is_integer(dep) && json_integer_value(dep) > 0 ? (int64_t)json_integer_value(dep) : 0;
	json_t *iv = json_object_get(o, "checkin_interval");
	c->interval = json_is_integer(iv) && json_integer_value(iv) > 0 && json_integer_value(iv) < 7 * 86400
			      ? (uint32_t)json_integer_value(iv)
			      : 0;
out:
	json_decref(o);
	return e;
}

/* Errors that a newer root could cure: the keys or thresholds changed. */
static bool key_error(airlock_err e)
{
	return e == AIRLOCK_ERR_UNKNOWN_KEY || e == AIRLOCK_ERR_WRONG_ROLE || e == AIRLOCK_ERR_THRESHOLD ||
	       e == AIRLOCK_ERR_BAD_SIGNATURE;
}

static airlock_err root_version_of(const uint8_t *buf, size_t len, uint64_t *version)
{
	struct airlock_envelope env;
	struct airlock_root r;
	airlock_err e = airlock_envelope_parse(buf, len, AIRLOCK_ROOT_MAX_LEN, &env);
	if (e == AIRLOCK_OK && env.type != AIRLOCK_META_ROOT)
		e = AIRLOCK_ERR_WRONG_TYPE;
	if (e == AIRLOCK_OK)
		e = airlock_root_parse_body(env.body.ptr, env.body.len, &r);
	if (e == AIRLOCK_OK)
		*version = r.version;   /* unverified: only says how far to walk */
	return e;
}

/* One step of the chain: trusted -> buf (version N+1), then stored. */
static airlock_err root_step(struct agent *a, const uint8_t *buf, size_t len)
{
	struct airlock_root next;
	airlock_err e = airlock_root_update(&a->root, buf, len, &next, NULL, NULL);
	if (e != AIRLOCK_OK)
		return e;
	e = agent_root_store(a, buf, len);
	if (e != AIRLOCK_OK)
		return e;
	/* The parsed root views its buffer: re-parse it from the agent's copy. */
	memcpy(a->root_buf, buf, len);
	a->root_len = len;
	return airlock_root_load_trusted(a->root_buf, a->root_len, &a->root, NULL);
}

airlock_err agent_root_refresh(struct agent *a, char *detail, size_t cap)
{
	char url[AIRLOCK_MAX_URL_LEN + 64];
	struct agent_buf b;
	uint64_t newest;
	snprintf(url, sizeof url, "%s/api/v1/root", a->cfg.url);
	airlock_err e = agent_http_get(&a->http, url, AIRLOCK_ROOT_MAX_LEN, &b);
	if (e != AIRLOCK_OK) {
		snprintf(detail, cap, "fetching the server's root: %s", a->http.detail);
		return e;
	}
	e = root_version_of(b.p, b.len, &newest);
	if (e != AIRLOCK_OK || newest <= a->root.version) {
		if (e != AIRLOCK_OK)
			snprintf(detail, cap, "server's root is malformed");
		agent_buf_free(&b);
		return e;
	}
	if (newest - a->root.version > AIRLOCK_ROOT_CHAIN_MAX) {
		agent_buf_free(&b);
		snprintf(detail, cap, "server's root is %" PRIu64 " versions ahead (at most %u walked)",
			 newest - a->root.version, AIRLOCK_ROOT_CHAIN_MAX);
		return AIRLOCK_ERR_ROOT_CHAIN;
	}
	/* Intermediate versions come from /root/N; the newest we already hold. */
	while (e == AIRLOCK_OK && a->root.version + 1 < newest) {
		struct agent_buf mid;
		snprintf(url, sizeof url, "%s/api/v1/root/%" PRIu64, a->cfg.url, a->root.version + 1);
		e = agent_http_get(&a->http, url, AIRLOCK_ROOT_MAX_LEN, &mid);
		if (e != AIRLOCK_OK) {
			snprintf(detail, cap, "root version %" PRIu64 " unavailable: %s", a->root.version + 1,
				 a->http.detail);
			e = AIRLOCK_ERR_ROOT_CHAIN;
			break;
		}
		e = root_step(a, mid.p, mid.len);
		agent_buf_free(&mid);
		if (e != AIRLOCK_OK)
			snprintf(detail, cap, "root version %" PRIu64 " refused", a->root.version + 1);
	}
	if (e == AIRLOCK_OK) {
		e = root_step(a, b.p, b.len);
		if (e != AIRLOCK_OK)
			snprintf(detail, cap, "root version %" PRIu64 " refused", newest);
		else
			agent_log(AGENT_INFO, "root", AIRLOCK_OK, "trusted root is now version %" PRIu64, a->root.version);
	}
	agent_buf_free(&b);
	return e;
}

airlock_err agent_verify_answer(struct agent *a, uint64_t min_sv, uint64_t now, struct agent_checkin *c)
{
	struct airlock_directive_policy dp = { .device_id = a->cfg.device_id, .nonce = c->nonce,
					       .nonce_len = sizeof c->nonce, .now = now };
	airlock_err e = airlock_directive_verify(&a->root, c->directive_buf, c->directive_len, &dp, &c->dir, NULL);
	c->directive_ok = e == AIRLOCK_OK;
	if (e != AIRLOCK_OK) {
		snprintf(c->detail, sizeof c->detail, "directive refused");
		return e;
	}
	if (c->dir.action != AIRLOCK_ACTION_INSTALL)
		return AIRLOCK_OK;
	if (c->release_len == 0) {
		snprintf(c->detail, sizeof c->detail, "install directive without its release");
		return AIRLOCK_ERR_MISSING_FIELD;
	}
	struct airlock_release_policy rp = { .hardware = a->cfg.hardware, .min_security_version = min_sv, .now = now };
	e = airlock_release_verify(&a->root, c->release_buf, c->release_len, &rp, &c->rel, c->release_digest, NULL);
	if (e != AIRLOCK_OK) {
		if (e == AIRLOCK_ERR_ROLLBACK)
			snprintf(c->detail, sizeof c->detail, "release security version below the device's %" PRIu64,
				 min_sv);
		else if (e == AIRLOCK_ERR_HARDWARE_MISMATCH)
			snprintf(c->detail, sizeof c->detail, "release is not for hardware '%s'", a->cfg.hardware);
		else
			snprintf(c->detail, sizeof c->detail, "release refused");
		return e;
	}
	if (!airlock_ct_equal(c->release_digest, c->dir.release_digest, AIRLOCK_SHA256_LEN)) {
		snprintf(c->detail, sizeof c->detail, "the release sent is not the one the directive names");
		return AIRLOCK_ERR_RELEASE_MISMATCH;
	}
	return AIRLOCK_OK;
}

airlock_err agent_checkin(struct agent *a, const struct agent_self *self, uint64_t now, struct agent_checkin *c)
{
	char url[AIRLOCK_MAX_URL_LEN + 64];
	struct agent_buf ans;
	c->detail[0] = '\0';
	c->deployment = 0;
	c->directive_ok = false;
	/* A fresh nonce for every check-in: it is what makes a replay detectable. */
	airlock_err e = airlock_random(c->nonce, sizeof c->nonce);
	if (e != AIRLOCK_OK)
		return e;
	char *body = request_body(c, self);
	if (!body)
		return AIRLOCK_ERR_NOMEM;
	snprintf(url, sizeof url, "%s/api/v1/device/checkin", a->cfg.url);
	e = agent_http_post_json(&a->http, url, body, CHECKIN_ANSWER_MAX, &ans);
	free(body);
	if (e != AIRLOCK_OK) {
		snprintf(c->detail, sizeof c->detail, "check-in: %.480s", a->http.detail);
		return e;
	}
	e = parse_answer(c, &ans);
	agent_buf_free(&ans);
	if (e != AIRLOCK_OK)
		return e;
	e = agent_verify_answer(a, self->security_version, now, c);
	if (key_error(e)) {
		/* Keys may have rotated: follow the server's root chain, judge again. */
		char why[256] = "";
		airlock_err re = agent_root_refresh(a, why, sizeof why);
		if (re != AIRLOCK_OK)
			agent_log(AGENT_WARN, "root", re, "root refresh: %s", why);
		else
			e = agent_verify_answer(a, self->security_version, now, c);
	}
	return e;
}
