/*
 * Trust decisions: signature thresholds, the root chain, and what a device
 * requires of a release and of a directive.
 */
#include <string.h>

#include "airlock/meta.h"
#include "util.h"

static const char sig_context[] = "airlock-sig-v1";

airlock_err airlock_sig_message(uint64_t type, int64_t alg, const uint8_t body_digest[AIRLOCK_SHA256_LEN],
				uint8_t out[AIRLOCK_SIG_MESSAGE_MAX], size_t *out_len)
{
	struct airlock_cbor_enc enc;
	airlock_cbor_enc_init(&enc, out, AIRLOCK_SIG_MESSAGE_MAX);
	airlock_cbor_put_array(&enc, 4);
	airlock_cbor_put_tstr(&enc, sig_context, sizeof sig_context - 1);
	airlock_cbor_put_uint(&enc, type);
	airlock_cbor_put_int(&enc, alg);
	airlock_cbor_put_bstr(&enc, body_digest, AIRLOCK_SHA256_LEN);
	return airlock_cbor_enc_finish(&enc, out_len);
}

/* Rank of a non-counting verdict when choosing the overall reason. */
static int reason_rank(airlock_err e)
{
	switch (e) {
	case AIRLOCK_ERR_BAD_SIGNATURE: return 4;
	case AIRLOCK_ERR_WRONG_ROLE: return 3;
	case AIRLOCK_ERR_UNKNOWN_KEY: return 2;
	default: return 1;
	}
}

static airlock_err verify_one(const struct airlock_key *key, const struct airlock_signature *s,
			      uint64_t type, const uint8_t body_digest[AIRLOCK_SHA256_LEN])
{
	uint8_t msg[AIRLOCK_SIG_MESSAGE_MAX];
	size_t msg_len;
	/* The signature's claimed algorithm must be the key's: no other pairing
	 * of key and algorithm is ever tried. */
	if (s->alg != key->alg)
		return AIRLOCK_ERR_BAD_SIGNATURE;
	TRY(airlock_sig_message(type, s->alg, body_digest, msg, &msg_len));
	airlock_err err = airlock_sig_verify(key->alg, key->pub.ptr, key->pub.len, msg, msg_len,
					     s->sig.ptr, s->sig.len);
	/* A key that parsed as a root key but fails in the backend, and any
	 * backend failure, must never count: all become BAD_SIGNATURE. */
	return err == AIRLOCK_OK ? AIRLOCK_OK : AIRLOCK_ERR_BAD_SIGNATURE;
}

airlock_err airlock_verify_role(const struct airlock_root *root, enum airlock_role role,
				const struct airlock_envelope *env, struct airlock_sig_report *report)
{
	struct airlock_sig_report local;
	uint8_t body_digest[AIRLOCK_SHA256_LEN];
	airlock_err worst = AIRLOCK_ERR_THRESHOLD;
	uint64_t counted = 0;  /* bitmap over root->keys */

	if (!root || !env || role < AIRLOCK_ROLE_ROOT || role > AIRLOCK_ROLE_DIRECTOR)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!report)
		report = &local;
	memset(report, 0, sizeof *report);
	report->threshold = root->roles[role].threshold;
	if (airlock_meta_role((enum airlock_meta_type)env->type) != role || !airlock_meta_type_name(env->type))
		return AIRLOCK_ERR_WRONG_TYPE;
	/* A root with no threshold for the role (a zeroed struct) authorizes nothing. */
	if (report->threshold == 0)
		return AIRLOCK_ERR_THRESHOLD;
	TRY(airlock_sha256(env->body.ptr, env->body.len, body_digest));

	report->n = env->n_sigs;
	for (size_t i = 0; i < env->n_sigs; i++) {
		const struct airlock_signature *s = &env->sigs[i];
		airlock_err verdict;
		memcpy(report->sigs[i].keyid, s->keyid, AIRLOCK_KEYID_LEN);
		report->sigs[i].alg = s->alg;

		const struct airlock_key *key = airlock_root_find_key(root, s->keyid);
		if (!key) {
			verdict = AIRLOCK_ERR_UNKNOWN_KEY;
		} else if (!airlock_root_role_has(root, role, s->keyid)) {
			verdict = AIRLOCK_ERR_WRONG_ROLE;
		} else {
			uint64_t bit = (uint64_t)1 << (size_t)(key - root->keys);
			verdict = verify_one(key, s, env->type, body_digest);
			if (verdict == AIRLOCK_OK && (counted & bit))
				verdict = AIRLOCK_ERR_DUPLICATE_SIGNER;
			if (verdict == AIRLOCK_OK) {
				counted |= bit;
				report->valid++;
			}
		}
		report->sigs[i].verdict = verdict;
		if (verdict != AIRLOCK_OK && reason_rank(verdict) > reason_rank(worst))
			worst = verdict;
	}
	return report->valid >= report->threshold ? AIRLOCK_OK : worst;
}

airlock_err airlock_root_load_trusted(const uint8_t *buf, size_t len, struct airlock_root *root,
				      struct airlock_sig_report *report)
{
	struct airlock_envelope env;
	TRY(airlock_envelope_parse(buf, len, AIRLOCK_ROOT_MAX_LEN, &env));
	if (env.type != AIRLOCK_META_ROOT)
		return AIRLOCK_ERR_WRONG_TYPE;
	/* An initial root is trusted by how it arrived (the factory image, the
	 * operator's command line); its own signatures still prove it is intact
	 * and that its root keys agreed to it. */
	TRY(airlock_root_parse_body(env.body.ptr, env.body.len, root));
	return airlock_verify_role(root, AIRLOCK_ROLE_ROOT, &env, report);
}

airlock_err airlock_root_update(const struct airlock_root *trusted, const uint8_t *next, size_t next_len,
				struct airlock_root *out, struct airlock_sig_report *report_old,
				struct airlock_sig_report *report_new)
{
	struct airlock_envelope env;
	struct airlock_root candidate;

	if (!trusted || !next || !out)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_envelope_parse(next, next_len, AIRLOCK_ROOT_MAX_LEN, &env));
	if (env.type != AIRLOCK_META_ROOT)
		return AIRLOCK_ERR_WRONG_TYPE;
	TRY(airlock_verify_role(trusted, AIRLOCK_ROLE_ROOT, &env, report_old));
	TRY(airlock_root_parse_body(env.body.ptr, env.body.len, &candidate));
	/* Exactly N+1: no skipping (every step needs the old keys' consent) and
	 * no going back. trusted->version < UINT64_MAX since next must exceed it. */
	if (trusted->version == UINT64_MAX || candidate.version != trusted->version + 1)
		return AIRLOCK_ERR_ROOT_VERSION;
	TRY(airlock_verify_role(&candidate, AIRLOCK_ROLE_ROOT, &env, report_new));
	*out = candidate;
	return AIRLOCK_OK;
}

static bool str_eq(struct airlock_str a, const char *b)
{
	size_t n = strlen(b);
	return a.len == n && memcmp(a.ptr, b, n) == 0;
}

airlock_err airlock_release_verify(const struct airlock_root *root, const uint8_t *buf, size_t len,
				   const struct airlock_release_policy *policy, struct airlock_release *rel,
				   uint8_t digest_out[AIRLOCK_SHA256_LEN], struct airlock_sig_report *report)
{
	struct airlock_envelope env;

	if (!root || !buf || !policy || !rel)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_envelope_parse(buf, len, AIRLOCK_RELEASE_MAX_LEN, &env));
	if (env.type != AIRLOCK_META_RELEASE)
		return AIRLOCK_ERR_WRONG_TYPE;
	TRY(airlock_verify_role(root, AIRLOCK_ROLE_RELEASE, &env, report));
	TRY(airlock_release_parse_body(env.body.ptr, env.body.len, rel));

	if (policy->now != 0) {
		if (root->expires <= policy->now)
			return AIRLOCK_ERR_EXPIRED;
		if (rel->expires != 0 && rel->expires <= policy->now)
			return AIRLOCK_ERR_EXPIRED;
	}
	if (policy->hardware) {
		bool found = false;
		for (size_t i = 0; i < rel->n_hardware; i++)
			found |= str_eq(rel->hardware[i], policy->hardware);
		if (!found)
			return AIRLOCK_ERR_HARDWARE_MISMATCH;
	}
	if (rel->security_version < policy->min_security_version)
		return AIRLOCK_ERR_ROLLBACK;
	if (digest_out)
		TRY(airlock_sha256(env.body.ptr, env.body.len, digest_out));
	return AIRLOCK_OK;
}

airlock_err airlock_directive_verify(const struct airlock_root *root, const uint8_t *buf, size_t len,
				     const struct airlock_directive_policy *policy, struct airlock_directive *dir,
				     struct airlock_sig_report *report)
{
	struct airlock_envelope env;

	if (!root || !buf || !policy || !policy->device_id || !policy->nonce || !dir)
		return AIRLOCK_ERR_INVALID_ARG;
	TRY(airlock_envelope_parse(buf, len, AIRLOCK_DIRECTIVE_MAX_LEN, &env));
	if (env.type != AIRLOCK_META_DIRECTIVE)
		return AIRLOCK_ERR_WRONG_TYPE;
	TRY(airlock_verify_role(root, AIRLOCK_ROLE_DIRECTOR, &env, report));
	TRY(airlock_directive_parse_body(env.body.ptr, env.body.len, dir));
	if (!str_eq(dir->device, policy->device_id))
		return AIRLOCK_ERR_DEVICE_MISMATCH;
	if (dir->nonce.len != policy->nonce_len ||
	    !airlock_ct_equal(dir->nonce.ptr, policy->nonce, policy->nonce_len))
		return AIRLOCK_ERR_NONCE_MISMATCH;
	if (policy->now != 0 && dir->expires <= policy->now)
		return AIRLOCK_ERR_EXPIRED;
	return AIRLOCK_OK;
}
