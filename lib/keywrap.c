/*
 * Content key wrap for one X25519 recipient; the format is specified in
 * include/airlock/keywrap.h.
 */
#include "airlock/keywrap.h"

#include <string.h>

#include "util.h"

_Static_assert(sizeof(AIRLOCK_KEYWRAP_INFO) - 1 == AIRLOCK_KEYWRAP_INFO_LEN, "info is 18 bytes");
_Static_assert(AIRLOCK_CONTENT_KEY_LEN == AIRLOCK_AES256_KEY_LEN, "content key is an AES-256 key");
_Static_assert(sizeof(((struct airlock_wrapped_key *)0)->sealed) == 48, "sealed = key || tag");
_Static_assert(AIRLOCK_KEYWRAP_CBOR_LEN == 1 + 2 * (2 + 32) + (2 + 48), "encoded size");

/* Every KEK is used for exactly one seal (fresh ephemeral key per wrap), so
 * a fixed nonce never repeats under a key. */
static const uint8_t zero_nonce[AIRLOCK_GCM_NONCE_LEN];

/* KEK = HKDF-SHA256(salt = E || R, ikm = shared, info = "airlock-keywrap-v1"). */
AIRLOCK_MUST_USE static airlock_err derive_kek(const uint8_t eph_pub[AIRLOCK_X25519_LEN],
					       const uint8_t recipient_pub[AIRLOCK_X25519_LEN],
					       const uint8_t shared[AIRLOCK_X25519_LEN],
					       uint8_t kek[AIRLOCK_AES256_KEY_LEN])
{
	uint8_t salt[2 * AIRLOCK_X25519_LEN];

	memcpy(salt, eph_pub, AIRLOCK_X25519_LEN);
	memcpy(salt + AIRLOCK_X25519_LEN, recipient_pub, AIRLOCK_X25519_LEN);
	return airlock_hkdf_sha256(salt, sizeof salt, shared, AIRLOCK_X25519_LEN,
				   (const uint8_t *)AIRLOCK_KEYWRAP_INFO, AIRLOCK_KEYWRAP_INFO_LEN,
				   kek, AIRLOCK_AES256_KEY_LEN);
}

airlock_err airlock_keywrap_seal(const uint8_t content_key[AIRLOCK_CONTENT_KEY_LEN],
				 const uint8_t recipient_pub[AIRLOCK_X25519_LEN], struct airlock_wrapped_key *out)
{
	struct airlock_privkey *eph = NULL;
	struct airlock_gcm gcm = { 0 };
	struct airlock_wrapped_key w;
	uint8_t eph_pub[AIRLOCK_PUB_MAX_LEN];
	uint8_t shared[AIRLOCK_X25519_LEN], kek[AIRLOCK_AES256_KEY_LEN];
	size_t eph_len = 0;
	airlock_err err;

	if (!content_key || !recipient_pub || !out)
		return AIRLOCK_ERR_INVALID_ARG;
	err = airlock_privkey_generate(AIRLOCK_ALG_X25519, &eph);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_privkey_public(eph, eph_pub, &eph_len);
	if (err != AIRLOCK_OK)
		goto out;
	if (eph_len != AIRLOCK_X25519_LEN) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	memcpy(w.ephemeral, eph_pub, AIRLOCK_X25519_LEN);
	err = airlock_keyid(recipient_pub, AIRLOCK_X25519_LEN, w.recipient);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_privkey_x25519(eph, recipient_pub, shared);
	if (err != AIRLOCK_OK)
		goto out;
	err = derive_kek(w.ephemeral, recipient_pub, shared, kek);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_gcm_init(&gcm, kek);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_gcm_seal(&gcm, zero_nonce, w.recipient, sizeof w.recipient, content_key,
			       AIRLOCK_CONTENT_KEY_LEN, w.sealed, w.sealed + AIRLOCK_CONTENT_KEY_LEN);
	if (err != AIRLOCK_OK)
		goto out;
	*out = w;
out:
	airlock_gcm_free(&gcm);
	airlock_privkey_free(eph);
	airlock_wipe(shared, sizeof shared);
	airlock_wipe(kek, sizeof kek);
	return err;
}

airlock_err airlock_keywrap_open(const struct airlock_wrapped_key *w, const struct airlock_privkey *recipient,
				 uint8_t content_key[AIRLOCK_CONTENT_KEY_LEN])
{
	struct airlock_gcm gcm = { 0 };
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], id[AIRLOCK_KEYID_LEN];
	uint8_t shared[AIRLOCK_X25519_LEN], kek[AIRLOCK_AES256_KEY_LEN];
	size_t pub_len = 0;
	airlock_err err;

	if (!content_key)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!w || !recipient || airlock_privkey_alg(recipient) != AIRLOCK_ALG_X25519) {
		err = AIRLOCK_ERR_INVALID_ARG;
		goto out;
	}
	err = airlock_privkey_public(recipient, pub, &pub_len);
	if (err != AIRLOCK_OK)
		goto out;
	if (pub_len != AIRLOCK_X25519_LEN) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	err = airlock_keyid(pub, AIRLOCK_X25519_LEN, id);
	if (err != AIRLOCK_OK)
		goto out;
	/* Ids are public: checked first, a wrap for another device costs no
	 * private-key operation. The AAD binds the id to the wrap anyway. */
	if (!airlock_ct_equal(id, w->recipient, sizeof id)) {
		err = AIRLOCK_ERR_KEY_UNWRAP;
		goto out;
	}
	err = airlock_privkey_x25519(recipient, w->ephemeral, shared);
	if (err == AIRLOCK_ERR_BAD_KEY)
		err = AIRLOCK_ERR_KEY_UNWRAP;   /* a low-order ephemeral key: tampered */
	if (err != AIRLOCK_OK)
		goto out;
	err = derive_kek(w->ephemeral, pub, shared, kek);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_gcm_init(&gcm, kek);
	if (err != AIRLOCK_OK)
		goto out;
	err = airlock_gcm_open(&gcm, zero_nonce, w->recipient, sizeof w->recipient, w->sealed,
			       AIRLOCK_CONTENT_KEY_LEN, content_key, w->sealed + AIRLOCK_CONTENT_KEY_LEN);
	if (err == AIRLOCK_ERR_AEAD_TAG)
		err = AIRLOCK_ERR_KEY_UNWRAP;
out:
	airlock_gcm_free(&gcm);
	airlock_wipe(shared, sizeof shared);
	airlock_wipe(kek, sizeof kek);
	if (err != AIRLOCK_OK)
		airlock_wipe(content_key, AIRLOCK_CONTENT_KEY_LEN);
	return err;
}

void airlock_keywrap_encode(const struct airlock_wrapped_key *w, struct airlock_cbor_enc *e)
{
	airlock_cbor_put_array(e, 3);
	airlock_cbor_put_bstr(e, w->recipient, sizeof w->recipient);
	airlock_cbor_put_bstr(e, w->ephemeral, sizeof w->ephemeral);
	airlock_cbor_put_bstr(e, w->sealed, sizeof w->sealed);
}

/* Reads a byte string of exactly `len` bytes into out. */
AIRLOCK_MUST_USE static airlock_err read_fixed_bstr(struct airlock_cbor_dec *d, uint8_t *out, size_t len)
{
	const uint8_t *p;
	size_t n;

	TRY(airlock_cbor_read_bstr(d, &p, &n));
	if (n != len)
		return AIRLOCK_ERR_BAD_VALUE;
	memcpy(out, p, len);
	return AIRLOCK_OK;
}

airlock_err airlock_keywrap_decode(struct airlock_cbor_dec *d, struct airlock_wrapped_key *w)
{
	struct airlock_cbor_dec start;
	struct airlock_wrapped_key tmp;
	size_t count;
	airlock_err err;

	if (!d || !w)
		return AIRLOCK_ERR_INVALID_ARG;
	start = *d;
	err = airlock_cbor_read_array(d, &count);
	if (err != AIRLOCK_OK)
		goto out;
	if (count != 3) {
		err = AIRLOCK_ERR_BAD_VALUE;
		goto out;
	}
	err = read_fixed_bstr(d, tmp.recipient, sizeof tmp.recipient);
	if (err != AIRLOCK_OK)
		goto out;
	err = read_fixed_bstr(d, tmp.ephemeral, sizeof tmp.ephemeral);
	if (err != AIRLOCK_OK)
		goto out;
	err = read_fixed_bstr(d, tmp.sealed, sizeof tmp.sealed);
	if (err != AIRLOCK_OK)
		goto out;
	*w = tmp;
out:
	if (err != AIRLOCK_OK)
		*d = start;
	return err;
}
