/*
 * Private to the OpenSSL port (lib/crypto_openssl.c, lib/keys_openssl.c):
 * the conversions between wire bytes and OpenSSL key and signature objects
 * that both halves use.
 */
#ifndef AIRLOCK_OPENSSL_PORT_H
#define AIRLOCK_OPENSSL_PORT_H

#include <limits.h>

#include <openssl/evp.h>

#include "airlock/crypto.h"

/* Largest piece handed to an OpenSSL call that takes an int length. */
#define OSSL_CHUNK_MAX ((size_t)1 << 30)
_Static_assert(OSSL_CHUNK_MAX <= INT_MAX, "chunks must fit OpenSSL's int lengths");

#define P256_SCALAR_LEN 32
/* DER ECDSA-Sig-Value for P-256: SEQUENCE of two INTEGERs of up to 33 bytes each. */
#define P256_DER_SIG_MAX 72

/* A public EVP_PKEY from wire bytes; AIRLOCK_ERR_BAD_KEY for a wrong length
 * or (P-256) a point that is not uncompressed and on the curve. */
AIRLOCK_MUST_USE airlock_err port_pkey_from_public(int64_t alg, const uint8_t *pub, size_t pub_len, EVP_PKEY **out);
/* Which supported algorithm an EVP_PKEY is, or AIRLOCK_ERR_UNSUPPORTED_ALG. */
AIRLOCK_MUST_USE airlock_err port_pkey_classify(EVP_PKEY *pkey, enum airlock_alg *alg);
/* Wire bytes of an EVP_PKEY's public key. */
AIRLOCK_MUST_USE airlock_err port_pkey_raw_public(const EVP_PKEY *pkey, enum airlock_alg alg,
						  uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len);
/* ECDSA P-256 signatures: raw r||s (the wire form) to and from DER (OpenSSL's). */
AIRLOCK_MUST_USE airlock_err port_p256_sig_to_der(const uint8_t sig[AIRLOCK_SIG_MAX_LEN],
						  uint8_t der[P256_DER_SIG_MAX], size_t *der_len);
AIRLOCK_MUST_USE airlock_err port_p256_sig_from_der(const uint8_t *der, size_t der_len,
						    uint8_t sig[AIRLOCK_SIG_MAX_LEN]);

#endif
