/*
 * The crypto port (include/airlock/crypto.h) over OpenSSL 3.
 *
 * Conventions of this file:
 *  - Every OpenSSL failure becomes AIRLOCK_ERR_CRYPTO unless the header names
 *    a more specific code; nothing is printed and nothing exits.
 *  - Entry points whose failure can be caused by their input (a bad key, a
 *    forged signature, a bad tag, a file that is not a key) bracket their
 *    OpenSSL calls with ERR_set_mark()/ERR_pop_to_mark(): an expected
 *    rejection must not leave stale entries in the error queue of a caller
 *    that also uses OpenSSL (a TLS server would misread them later), and the
 *    caller's own entries below the mark are kept.
 *  - OpenSSL takes int lengths in places (EVP_*Update, RAND_bytes): inputs
 *    are fed in pieces of at most OSSL_CHUNK_MAX, never narrowed blindly.
 *  - No key material outlives a call outside the caller's own objects:
 *    buffers holding secrets are wiped before they go out of scope.
 */
#include "airlock/crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "openssl_port.h"

/* The port-neutral context structs hold OpenSSL's contexts behind opaque
 * pointer types of their own; these are the only casts between the two. */
#define MD(ctx) ((EVP_MD_CTX *)(void *)(ctx)->impl)
#define CIPHER(ctx) ((EVP_CIPHER_CTX *)(void *)(ctx)->impl)



/* NIST SP 800-38D: at most 2^39 - 256 bits of plaintext per message. */
#define GCM_MSG_MAX ((UINT64_C(1) << 36) - 32)
/* RFC 5869: L <= 255 * HashLen. */
#define HKDF_SHA256_OUT_MAX (255 * AIRLOCK_SHA256_LEN)

_Static_assert(AIRLOCK_GCM_NONCE_LEN == 12, "GCM's default IV length is relied on");
_Static_assert(AIRLOCK_SIG_MAX_LEN == 2 * P256_SCALAR_LEN, "raw r||s fills the signature");
_Static_assert(AIRLOCK_P256_PUB_LEN == 1 + 2 * P256_SCALAR_LEN, "SEC1 uncompressed point");


/* ---- algorithms ---- */

const char *airlock_alg_name(int64_t alg)
{
	switch (alg) {
	case AIRLOCK_ALG_ED25519:
		return "ed25519";
	case AIRLOCK_ALG_P256:
		return "p256";
	case AIRLOCK_ALG_X25519:
		return "x25519";
	default:
		return NULL;
	}
}

airlock_err airlock_alg_parse(const char *name, enum airlock_alg *alg)
{
	static const enum airlock_alg all[] = {
		AIRLOCK_ALG_ED25519, AIRLOCK_ALG_P256, AIRLOCK_ALG_X25519,
	};

	if (name == NULL || alg == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
		if (strcmp(name, airlock_alg_name(all[i])) == 0) {
			*alg = all[i];
			return AIRLOCK_OK;
		}
	}
	return AIRLOCK_ERR_UNSUPPORTED_ALG;
}

size_t airlock_alg_pub_len(int64_t alg)
{
	switch (alg) {
	case AIRLOCK_ALG_ED25519:
		return AIRLOCK_ED25519_PUB_LEN;
	case AIRLOCK_ALG_P256:
		return AIRLOCK_P256_PUB_LEN;
	case AIRLOCK_ALG_X25519:
		return AIRLOCK_X25519_LEN;
	default:
		return 0;
	}
}

bool airlock_alg_can_sign(int64_t alg)
{
	return alg == AIRLOCK_ALG_ED25519 || alg == AIRLOCK_ALG_P256;
}

/* ---- SHA-256 ---- */

airlock_err airlock_sha256_init(struct airlock_sha256 *ctx)
{
	EVP_MD_CTX *md;

	if (ctx == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ctx->impl = NULL;
	md = EVP_MD_CTX_new();
	if (md == NULL)
		return AIRLOCK_ERR_CRYPTO;
	if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(md);
		return AIRLOCK_ERR_CRYPTO;
	}
	ctx->impl = (struct airlock_sha256_state *)md;
	return AIRLOCK_OK;
}

airlock_err airlock_sha256_update(struct airlock_sha256 *ctx, const void *data, size_t len)
{
	if (ctx == NULL || ctx->impl == NULL || (data == NULL && len != 0))
		return AIRLOCK_ERR_INVALID_ARG;
	if (len == 0)
		return AIRLOCK_OK;
	/* EVP_DigestUpdate takes a size_t: no need to split. */
	if (EVP_DigestUpdate(MD(ctx), data, len) != 1)
		return AIRLOCK_ERR_CRYPTO;
	return AIRLOCK_OK;
}

airlock_err airlock_sha256_final(struct airlock_sha256 *ctx, uint8_t out[AIRLOCK_SHA256_LEN])
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	if (ctx == NULL || ctx->impl == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	if (out == NULL) {
		err = AIRLOCK_ERR_INVALID_ARG;
		goto out;
	}
	if (EVP_DigestFinal_ex(MD(ctx), md, &md_len) != 1 || md_len != AIRLOCK_SHA256_LEN)
		goto out;
	memcpy(out, md, AIRLOCK_SHA256_LEN);
	err = AIRLOCK_OK;
out:
	airlock_sha256_free(ctx);
	return err;
}

void airlock_sha256_free(struct airlock_sha256 *ctx)
{
	if (ctx == NULL)
		return;
	/* EVP_MD_CTX_free cleanses the hash state before releasing it. */
	EVP_MD_CTX_free(MD(ctx));
	ctx->impl = NULL;
}

airlock_err airlock_sha256(const void *data, size_t len, uint8_t out[AIRLOCK_SHA256_LEN])
{
	struct airlock_sha256 ctx;
	airlock_err err;

	if ((data == NULL && len != 0) || out == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	err = airlock_sha256_init(&ctx);
	if (err != AIRLOCK_OK)
		return err;
	err = airlock_sha256_update(&ctx, data, len);
	if (err != AIRLOCK_OK) {
		airlock_sha256_free(&ctx);
		return err;
	}
	return airlock_sha256_final(&ctx, out);
}

airlock_err airlock_keyid(const uint8_t *pub, size_t pub_len, uint8_t out[AIRLOCK_KEYID_LEN])
{
	/* A key id of nothing, or of more than any key, can only be a caller's bug. */
	if (pub == NULL || pub_len == 0 || pub_len > AIRLOCK_PUB_MAX_LEN || out == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	return airlock_sha256(pub, pub_len, out);
}

/* ---- signatures ---- */

airlock_err airlock_sig_verify(int64_t alg, const uint8_t *pub, size_t pub_len,
			       const uint8_t *msg, size_t msg_len,
			       const uint8_t *sig, size_t sig_len)
{
	static const uint8_t empty[1];
	uint8_t der[P256_DER_SIG_MAX];
	const uint8_t *tbs_sig = sig;
	size_t tbs_sig_len = sig_len;
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *mctx = NULL;
	airlock_err err;

	if ((pub == NULL && pub_len != 0) || (msg == NULL && msg_len != 0) || (sig == NULL && sig_len != 0))
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_alg_can_sign(alg))
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (pub_len != airlock_alg_pub_len(alg))
		return AIRLOCK_ERR_BAD_KEY;
	/* Both algorithms have fixed-size signatures: anything else is not one. */
	if (sig_len != AIRLOCK_SIG_MAX_LEN)
		return AIRLOCK_ERR_BAD_SIGNATURE;

	ERR_set_mark();
	err = port_pkey_from_public(alg, pub, pub_len, &pkey);
	if (err != AIRLOCK_OK)
		goto out;
	if (alg == AIRLOCK_ALG_P256) {
		err = port_p256_sig_to_der(sig, der, &tbs_sig_len);
		if (err != AIRLOCK_OK)
			goto out;
		tbs_sig = der;
	}
	err = AIRLOCK_ERR_CRYPTO;
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL)
		goto out;
	if (EVP_DigestVerifyInit_ex(mctx, NULL, alg == AIRLOCK_ALG_P256 ? "SHA256" : NULL,
				    NULL, NULL, pkey, NULL) != 1)
		goto out;
	/*
	 * 1 is the only success. 0 is a bad signature; a negative value is a
	 * signature OpenSSL could not even parse, which is just as bad.
	 */
	if (EVP_DigestVerify(mctx, tbs_sig, tbs_sig_len, msg != NULL ? msg : empty, msg_len) == 1)
		err = AIRLOCK_OK;
	else
		err = AIRLOCK_ERR_BAD_SIGNATURE;
out:
	EVP_MD_CTX_free(mctx);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return err;
}

/* ---- HKDF ---- */

airlock_err airlock_hkdf_sha256(const uint8_t *salt, size_t salt_len,
				const uint8_t *ikm, size_t ikm_len,
				const uint8_t *info, size_t info_len,
				uint8_t *out, size_t out_len)
{
	static const uint8_t empty[1];
	char digest[] = "SHA256";
	OSSL_PARAM params[5], *p = params;
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *kctx = NULL;
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	if ((salt == NULL && salt_len != 0) || (ikm == NULL && ikm_len != 0) ||
	    (info == NULL && info_len != 0) || out == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	/* RFC 5869 section 2.3; a request for no output at all is a caller's bug. */
	if (out_len == 0 || out_len > HKDF_SHA256_OUT_MAX)
		return AIRLOCK_ERR_INVALID_ARG;

	ERR_set_mark();
	/*
	 * OSSL_PARAM takes mutable pointers but OpenSSL only copies from them
	 * on set; the casts below drop const for that reason alone. An empty
	 * salt is omitted (HKDF then uses HashLen zero bytes, which is the
	 * same HMAC key); an empty IKM is passed as a zero-length string,
	 * since OpenSSL refuses to derive without a key parameter.
	 */
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						 (void *)(ikm_len != 0 ? ikm : empty), ikm_len);
	if (salt_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len != 0)
		*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	*p = OSSL_PARAM_construct_end();

	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (kdf == NULL)
		goto out;
	kctx = EVP_KDF_CTX_new(kdf);
	if (kctx == NULL)
		goto out;
	if (EVP_KDF_derive(kctx, out, out_len, params) != 1) {
		airlock_wipe(out, out_len);
		goto out;
	}
	err = AIRLOCK_OK;
out:
	/* Frees and cleanses the PRK and the copies of IKM, salt and info. */
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	ERR_pop_to_mark();
	return err;
}

/* ---- AES-256-GCM ---- */

airlock_err airlock_gcm_init(struct airlock_gcm *ctx, const uint8_t key[AIRLOCK_AES256_KEY_LEN])
{
	EVP_CIPHER_CTX *c;

	if (ctx == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ctx->impl = NULL;
	if (key == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	c = EVP_CIPHER_CTX_new();
	if (c == NULL)
		return AIRLOCK_ERR_CRYPTO;
	/*
	 * The key schedule is computed once here; seal and open only load a
	 * nonce. The direction set now does not matter: each message re-inits
	 * as encrypt or decrypt.
	 */
	ERR_set_mark();
	if (EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, key, NULL) != 1) {
		EVP_CIPHER_CTX_free(c);
		ERR_pop_to_mark();
		return AIRLOCK_ERR_CRYPTO;
	}
	ERR_pop_to_mark();
	ctx->impl = (struct airlock_gcm_state *)c;
	return AIRLOCK_OK;
}

/* Exact aliasing is fine for GCM; a partial overlap would corrupt the stream. */
static bool partially_overlap(const uint8_t *in, const uint8_t *out, size_t len)
{
	uintptr_t a = (uintptr_t)in, b = (uintptr_t)out;

	if (len == 0 || a == b)
		return false;
	return a < b ? b - a < len : a - b < len;
}

static AIRLOCK_MUST_USE airlock_err gcm_check_args(const struct airlock_gcm *ctx, const uint8_t *nonce,
						   const uint8_t *aad, size_t aad_len,
						   const uint8_t *in, size_t len, const uint8_t *out,
						   const uint8_t *tag)
{
	if (ctx == NULL || ctx->impl == NULL || nonce == NULL || tag == NULL ||
	    (aad == NULL && aad_len != 0) || ((in == NULL || out == NULL) && len != 0))
		return AIRLOCK_ERR_INVALID_ARG;
	if (partially_overlap(in, out, len))
		return AIRLOCK_ERR_INVALID_ARG;
	if ((uint64_t)len > GCM_MSG_MAX)
		return AIRLOCK_ERR_TOO_LARGE;
	return AIRLOCK_OK;
}

/*
 * Feeds AAD (out == NULL) or data through the cipher in int-sized pieces.
 * GCM is a stream mode in OpenSSL: every piece comes out at once, whole.
 */
static AIRLOCK_MUST_USE bool gcm_update(EVP_CIPHER_CTX *c, bool enc, uint8_t *out, const uint8_t *in, size_t len)
{
	while (len > 0) {
		size_t n = len < OSSL_CHUNK_MAX ? len : OSSL_CHUNK_MAX;
		int outl = 0;
		int rc = enc ? EVP_EncryptUpdate(c, out, &outl, in, (int)n)
			     : EVP_DecryptUpdate(c, out, &outl, in, (int)n);

		if (rc != 1 || outl != (int)n)
			return false;
		in += n;
		if (out != NULL)
			out += n;
		len -= n;
	}
	return true;
}

airlock_err airlock_gcm_seal(struct airlock_gcm *ctx, const uint8_t nonce[AIRLOCK_GCM_NONCE_LEN],
			     const uint8_t *aad, size_t aad_len,
			     const uint8_t *in, size_t len, uint8_t *out,
			     uint8_t tag[AIRLOCK_GCM_TAG_LEN])
{
	uint8_t fin[16];
	uint8_t t[AIRLOCK_GCM_TAG_LEN];
	int outl = 0;
	airlock_err err;

	err = gcm_check_args(ctx, nonce, aad, aad_len, in, len, out, tag);
	if (err != AIRLOCK_OK)
		return err;
	err = AIRLOCK_ERR_CRYPTO;
	ERR_set_mark();
	if (EVP_EncryptInit_ex(CIPHER(ctx), NULL, NULL, NULL, nonce) != 1)
		goto out;
	if (!gcm_update(CIPHER(ctx), true, NULL, aad, aad_len) || !gcm_update(CIPHER(ctx), true, out, in, len))
		goto out;
	/* GCM emits nothing at final; fin only gives OpenSSL somewhere to point. */
	if (EVP_EncryptFinal_ex(CIPHER(ctx), fin, &outl) != 1 || outl != 0)
		goto out;
	if (EVP_CIPHER_CTX_ctrl(CIPHER(ctx), EVP_CTRL_GCM_GET_TAG, AIRLOCK_GCM_TAG_LEN, t) != 1)
		goto out;
	memcpy(tag, t, sizeof t);
	err = AIRLOCK_OK;
out:
	if (err != AIRLOCK_OK) {
		/* No half-built output: neither a partial ciphertext nor a tag. */
		if (len != 0)
			airlock_wipe(out, len);
		airlock_wipe(tag, AIRLOCK_GCM_TAG_LEN);
	}
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_gcm_open(struct airlock_gcm *ctx, const uint8_t nonce[AIRLOCK_GCM_NONCE_LEN],
			     const uint8_t *aad, size_t aad_len,
			     const uint8_t *in, size_t len, uint8_t *out,
			     const uint8_t tag[AIRLOCK_GCM_TAG_LEN])
{
	uint8_t fin[16];
	uint8_t t[AIRLOCK_GCM_TAG_LEN];
	int outl = 0;
	airlock_err err;

	err = gcm_check_args(ctx, nonce, aad, aad_len, in, len, out, tag);
	if (err != AIRLOCK_OK)
		return err;
	err = AIRLOCK_ERR_CRYPTO;
	ERR_set_mark();
	/* The ctrl takes a mutable pointer; give it a copy of the caller's const tag. */
	memcpy(t, tag, sizeof t);
	if (EVP_DecryptInit_ex(CIPHER(ctx), NULL, NULL, NULL, nonce) != 1)
		goto out;
	if (!gcm_update(CIPHER(ctx), false, NULL, aad, aad_len) || !gcm_update(CIPHER(ctx), false, out, in, len))
		goto out;
	if (EVP_CIPHER_CTX_ctrl(CIPHER(ctx), EVP_CTRL_GCM_SET_TAG, AIRLOCK_GCM_TAG_LEN, t) != 1)
		goto out;
	/* With the tag set, the final step fails only on a tag mismatch. */
	if (EVP_DecryptFinal_ex(CIPHER(ctx), fin, &outl) != 1 || outl != 0) {
		err = AIRLOCK_ERR_AEAD_TAG;
		goto out;
	}
	err = AIRLOCK_OK;
out:
	/* Unauthenticated plaintext must never reach the caller. In place, a
	 * bad tag restores the ciphertext instead: CTR mode is its own inverse,
	 * so encrypting the output again under the same nonce gives back the
	 * input (and reveals nothing the caller did not hold), which lets a
	 * caller with one buffer try the chunk again under other AAD. */
	if (err == AIRLOCK_ERR_AEAD_TAG && out == in && len != 0) {
		if (EVP_EncryptInit_ex(CIPHER(ctx), NULL, NULL, NULL, nonce) != 1 ||
		    !gcm_update(CIPHER(ctx), true, out, out, len))
			err = AIRLOCK_ERR_CRYPTO;
	}
	if (err != AIRLOCK_OK && !(err == AIRLOCK_ERR_AEAD_TAG && out == in) && len != 0)
		airlock_wipe(out, len);
	ERR_pop_to_mark();
	return err;
}

void airlock_gcm_free(struct airlock_gcm *ctx)
{
	if (ctx == NULL)
		return;
	/* Frees and cleanses the key schedule. */
	EVP_CIPHER_CTX_free(CIPHER(ctx));
	ctx->impl = NULL;
}

/* ---- utilities ---- */

airlock_err airlock_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t total = len;

	if (buf == NULL && len != 0)
		return AIRLOCK_ERR_INVALID_ARG;
	while (len > 0) {
		size_t n = len < OSSL_CHUNK_MAX ? len : OSSL_CHUNK_MAX;

		ERR_set_mark();
		if (RAND_bytes(p, (int)n) != 1) {
			ERR_pop_to_mark();
			/* Half-random output must not pass for random. */
			airlock_wipe(buf, total);
			return AIRLOCK_ERR_CRYPTO;
		}
		ERR_pop_to_mark();
		p += n;
		len -= n;
	}
	return AIRLOCK_OK;
}

bool airlock_ct_equal(const void *a, const void *b, size_t len)
{
	if (len == 0)
		return true;
	return CRYPTO_memcmp(a, b, len) == 0;
}

void airlock_wipe(void *p, size_t len)
{
	if (p == NULL || len == 0)
		return;
	OPENSSL_cleanse(p, len);
}
