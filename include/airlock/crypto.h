/*
 * Airlock crypto port: the only interface through which Airlock touches
 * cryptography. lib/crypto_openssl.c implements it over OpenSSL 3; an mbedTLS,
 * PSA or hardware port implements the same prototypes in a file of its own
 * (chosen by the build, never by #if inside callers).
 *
 * Conventions for the whole header:
 *  - Every fallible function returns airlock_err; outputs go to out-params and
 *    are left untouched or wiped on failure.
 *  - Pointers may be NULL only where a length of 0 accompanies them.
 *  - Contexts are owned by the caller. A context that was successfully
 *    initialised must be released with its _free() (idempotent, wipes state)
 *    unless a _final() consumed it.
 *  - Algorithm identifiers are COSE's (RFC 9053): they are also the numbers
 *    on the wire.
 */
#ifndef AIRLOCK_CRYPTO_H
#define AIRLOCK_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

#define AIRLOCK_SHA256_LEN 32
#define AIRLOCK_KEYID_LEN 32
#define AIRLOCK_ED25519_PUB_LEN 32
#define AIRLOCK_P256_PUB_LEN 65      /* SEC1 uncompressed: 0x04 || X || Y */
#define AIRLOCK_X25519_LEN 32
#define AIRLOCK_PUB_MAX_LEN 65
#define AIRLOCK_SIG_MAX_LEN 64       /* Ed25519 R||S, ECDSA P-256 r||s (raw, as COSE) */
#define AIRLOCK_AES256_KEY_LEN 32
#define AIRLOCK_GCM_NONCE_LEN 12
#define AIRLOCK_GCM_TAG_LEN 16

enum airlock_alg {
	AIRLOCK_ALG_ED25519 = -8,   /* COSE "EdDSA", with an Ed25519 key */
	AIRLOCK_ALG_P256 = -7,      /* COSE "ES256": ECDSA P-256 with SHA-256 */
	AIRLOCK_ALG_X25519 = -25,   /* COSE "ECDH-ES + HKDF-256": key agreement only */
};

/* "ed25519", "p256", "x25519", or NULL for an unknown value. */
const char *airlock_alg_name(int64_t alg);
/* Parses the names above. */
AIRLOCK_MUST_USE airlock_err airlock_alg_parse(const char *name, enum airlock_alg *alg);
/* Public key length for alg, 0 if unknown. */
size_t airlock_alg_pub_len(int64_t alg);
/* true for the signature algorithms (Ed25519, P-256). */
bool airlock_alg_can_sign(int64_t alg);

/* ---- SHA-256, streaming ---- */
struct airlock_sha256_state;   /* defined by each port */
struct airlock_sha256 {
	struct airlock_sha256_state *impl;  /* port-private; NULL when not initialised */
};
AIRLOCK_MUST_USE airlock_err airlock_sha256_init(struct airlock_sha256 *ctx);
AIRLOCK_MUST_USE airlock_err airlock_sha256_update(struct airlock_sha256 *ctx, const void *data, size_t len);
/* Writes the digest and releases the context (also on failure). */
AIRLOCK_MUST_USE airlock_err airlock_sha256_final(struct airlock_sha256 *ctx, uint8_t out[AIRLOCK_SHA256_LEN]);
void airlock_sha256_free(struct airlock_sha256 *ctx);
/* One shot. */
AIRLOCK_MUST_USE airlock_err airlock_sha256(const void *data, size_t len, uint8_t out[AIRLOCK_SHA256_LEN]);

/* Key id: SHA-256 of the raw public key bytes as they appear on the wire. */
AIRLOCK_MUST_USE airlock_err airlock_keyid(const uint8_t *pub, size_t pub_len, uint8_t out[AIRLOCK_KEYID_LEN]);

/* ---- signatures ---- */
/*
 * Verifies sig over msg with a raw public key (Ed25519: 32 bytes; P-256:
 * 65 bytes uncompressed; ECDSA signs SHA-256(msg), signature is r||s, 64
 * bytes, and high-S values are accepted as OpenSSL does).
 * Returns AIRLOCK_OK, AIRLOCK_ERR_BAD_SIGNATURE, AIRLOCK_ERR_BAD_KEY (wrong
 * length; for P-256 not an uncompressed point on the curve; any 32 bytes are
 * an Ed25519 key, a bad one only fails as BAD_SIGNATURE), or
 * AIRLOCK_ERR_UNSUPPORTED_ALG (X25519 or an unknown algorithm).
 */
AIRLOCK_MUST_USE airlock_err airlock_sig_verify(int64_t alg, const uint8_t *pub, size_t pub_len,
						const uint8_t *msg, size_t msg_len,
						const uint8_t *sig, size_t sig_len);

/*
 * Private keys (host side: the CLI, the agent, the server). Opaque; held in
 * whatever the port prefers (an EVP_PKEY for OpenSSL, a PKCS#11 handle later).
 * Files: PEM PKCS#8 for private keys, PEM SubjectPublicKeyInfo for public keys,
 * so that `openssl pkey` reads them too.
 */
struct airlock_privkey;
AIRLOCK_MUST_USE airlock_err airlock_privkey_generate(enum airlock_alg alg, struct airlock_privkey **out);
/* Refuses a file whose mode grants any access to group or others (AIRLOCK_ERR_KEY_PERMS). */
AIRLOCK_MUST_USE airlock_err airlock_privkey_load(const char *path, struct airlock_privkey **out);
/* Creates path with mode 0600 and O_EXCL: never overwrites (AIRLOCK_ERR_EXISTS). */
AIRLOCK_MUST_USE airlock_err airlock_privkey_save(const struct airlock_privkey *key, const char *path);
/* key must not be NULL. */
enum airlock_alg airlock_privkey_alg(const struct airlock_privkey *key);
/* Raw public key; *pub_len is set to its length (buffer must hold AIRLOCK_PUB_MAX_LEN). */
AIRLOCK_MUST_USE airlock_err airlock_privkey_public(const struct airlock_privkey *key,
						    uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len);
/* Signs msg; *sig_len is set (64 for both algorithms). AIRLOCK_ERR_UNSUPPORTED_ALG for an X25519 key. */
AIRLOCK_MUST_USE airlock_err airlock_privkey_sign(const struct airlock_privkey *key,
						  const uint8_t *msg, size_t msg_len,
						  uint8_t sig[AIRLOCK_SIG_MAX_LEN], size_t *sig_len);
/* X25519 shared secret with a peer's raw public key (AIRLOCK_ERR_UNSUPPORTED_ALG for a signing key).
 * Refuses an all-zero result (a low-order peer key) with AIRLOCK_ERR_BAD_KEY. */
AIRLOCK_MUST_USE airlock_err airlock_privkey_x25519(const struct airlock_privkey *key,
						    const uint8_t peer[AIRLOCK_X25519_LEN],
						    uint8_t shared[AIRLOCK_X25519_LEN]);
void airlock_privkey_free(struct airlock_privkey *key);

/* Public key files. */
AIRLOCK_MUST_USE airlock_err airlock_pubkey_load(const char *path, enum airlock_alg *alg,
						 uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len);
/* Creates path with mode 0644 and O_EXCL. */
AIRLOCK_MUST_USE airlock_err airlock_pubkey_save(enum airlock_alg alg, const uint8_t *pub, size_t pub_len,
						 const char *path);

/* ---- key derivation and AEAD ---- */
AIRLOCK_MUST_USE airlock_err airlock_hkdf_sha256(const uint8_t *salt, size_t salt_len,
						 const uint8_t *ikm, size_t ikm_len,
						 const uint8_t *info, size_t info_len,
						 uint8_t *out, size_t out_len);

struct airlock_gcm_state;      /* defined by each port */
/* AES-256-GCM with a key set once and a fresh 96-bit nonce per message. */
struct airlock_gcm {
	struct airlock_gcm_state *impl;     /* port-private; NULL when not initialised */
};
AIRLOCK_MUST_USE airlock_err airlock_gcm_init(struct airlock_gcm *ctx, const uint8_t key[AIRLOCK_AES256_KEY_LEN]);
/* out may equal in. */
AIRLOCK_MUST_USE airlock_err airlock_gcm_seal(struct airlock_gcm *ctx, const uint8_t nonce[AIRLOCK_GCM_NONCE_LEN],
					      const uint8_t *aad, size_t aad_len,
					      const uint8_t *in, size_t len, uint8_t *out,
					      uint8_t tag[AIRLOCK_GCM_TAG_LEN]);
/* Returns AIRLOCK_ERR_AEAD_TAG on a bad tag. Unauthenticated plaintext never
 * stays in out: on a bad tag in place (out == in) the ciphertext is restored,
 * otherwise, and on any other failure, out[0..len) is wiped.
 * For both: out must equal in or not overlap it (AIRLOCK_ERR_INVALID_ARG);
 * a message above GCM's limit of 2^36 - 32 bytes is AIRLOCK_ERR_TOO_LARGE. */
AIRLOCK_MUST_USE airlock_err airlock_gcm_open(struct airlock_gcm *ctx, const uint8_t nonce[AIRLOCK_GCM_NONCE_LEN],
					      const uint8_t *aad, size_t aad_len,
					      const uint8_t *in, size_t len, uint8_t *out,
					      const uint8_t tag[AIRLOCK_GCM_TAG_LEN]);
void airlock_gcm_free(struct airlock_gcm *ctx);

/* ---- utilities ---- */
/* Cryptographically secure random bytes from the OS/port RNG. */
AIRLOCK_MUST_USE airlock_err airlock_random(void *buf, size_t len);
/* Constant time in len: true iff a and b are equal. */
bool airlock_ct_equal(const void *a, const void *b, size_t len);
/* Zeroes memory in a way the compiler will not elide. */
void airlock_wipe(void *p, size_t len);

#endif
