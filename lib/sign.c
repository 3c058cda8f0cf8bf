/* Producing signed metadata (host side: the CLI and the server). */
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"
#include "util.h"

airlock_err airlock_envelope_sign(struct airlock_envelope *env, const struct airlock_privkey *key,
				  uint8_t keyid[AIRLOCK_KEYID_LEN], uint8_t sig[AIRLOCK_SIG_MAX_LEN])
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], digest[AIRLOCK_SHA256_LEN], msg[AIRLOCK_SIG_MESSAGE_MAX];
	size_t pub_len, msg_len, sig_len;

	if (!env || !key || !keyid || !sig)
		return AIRLOCK_ERR_INVALID_ARG;
	int64_t alg = airlock_privkey_alg(key);
	if (!airlock_alg_can_sign(alg))
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	TRY(airlock_privkey_public(key, pub, &pub_len));
	TRY(airlock_keyid(pub, pub_len, keyid));
	for (size_t i = 0; i < env->n_sigs; i++)
		if (memcmp(env->sigs[i].keyid, keyid, AIRLOCK_KEYID_LEN) == 0)
			return AIRLOCK_ERR_DUPLICATE_SIGNER;
	if (env->n_sigs == AIRLOCK_MAX_SIGS)
		return AIRLOCK_ERR_LIMIT;
	TRY(airlock_sha256(env->body.ptr, env->body.len, digest));
	TRY(airlock_sig_message(env->type, alg, digest, msg, &msg_len));
	TRY(airlock_privkey_sign(key, msg, msg_len, sig, &sig_len));
	env->sigs[env->n_sigs++] = (struct airlock_signature){ keyid, alg, { sig, sig_len } };
	return AIRLOCK_OK;
}

airlock_err airlock_envelope_encode_alloc(const struct airlock_envelope *env, uint8_t **out, size_t *len)
{
	struct airlock_cbor_enc enc;
	airlock_cbor_enc_init(&enc, NULL, 0);
	airlock_envelope_encode(env, &enc);
	size_t need = enc.len;
	uint8_t *buf = malloc(need ? need : 1);
	if (!buf)
		return AIRLOCK_ERR_NOMEM;
	airlock_cbor_enc_init(&enc, buf, need);
	airlock_envelope_encode(env, &enc);
	airlock_err err = airlock_cbor_enc_finish(&enc, len);
	if (err != AIRLOCK_OK) {
		free(buf);
		return err;
	}
	*out = buf;
	return AIRLOCK_OK;
}
