/*
 * Airlock key wrap: a payload content key sealed to one recipient's X25519
 * public key ("airlock-keywrap-v1", ECIES style).
 *
 * Format (normative; docs/format.md quotes this block):
 *
 *   Inputs: the 32-byte content key CK, the recipient's X25519 public key R
 *   (32 bytes, as on the wire).
 *   Sealing:
 *     (e, E)   a fresh X25519 key pair (E = its 32-byte public key)
 *     shared   = X25519(e, R); an all-zero result (low-order R) is refused
 *     KEK      = HKDF-SHA256(salt = E || R (64 bytes), ikm = shared,
 *                            info = ASCII "airlock-keywrap-v1" (18 bytes),
 *                            L = 32)
 *     id       = SHA-256(R), the recipient's key id
 *     sealed   = AES-256-GCM(key = KEK, nonce = 12 zero bytes, AAD = id,
 *                            plaintext = CK) = 32 bytes ciphertext || 16 bytes tag
 *   Wrapped key = (id, E, sealed).
 *   CBOR encoding: an array of three byte strings,
 *     [ id: bstr .size 32, E: bstr .size 32, sealed: bstr .size 48 ].
 *
 *   The constant nonce is safe because a KEK is never used twice: every seal
 *   draws a fresh ephemeral key, so every KEK is fresh. Salting HKDF with
 *   both public keys as sent binds the KEK to those exact bytes (X25519
 *   ignores the top bit of a u-coordinate; the salt does not), and the AAD
 *   binds the recipient's id, so a wrap re-labelled for another device fails.
 *
 * Conventions: as in crypto.h; nothing is allocated here except the
 * ephemeral key inside airlock_keywrap_seal() (host side), freed before it
 * returns. Secrets (shared secret, KEK) are wiped before return.
 */
#ifndef AIRLOCK_KEYWRAP_H
#define AIRLOCK_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/cbor.h"
#include "airlock/crypto.h"
#include "airlock/error.h"

#define AIRLOCK_CONTENT_KEY_LEN 32
#define AIRLOCK_KEYWRAP_SEALED_LEN (AIRLOCK_CONTENT_KEY_LEN + AIRLOCK_GCM_TAG_LEN)   /* 48 */
#define AIRLOCK_KEYWRAP_INFO "airlock-keywrap-v1"
#define AIRLOCK_KEYWRAP_INFO_LEN 18
/* Size of the CBOR encoding (always exactly this): head 1 + 2 * (2 + 32) + (2 + 48). */
#define AIRLOCK_KEYWRAP_CBOR_LEN 119

struct airlock_wrapped_key {
	uint8_t recipient[AIRLOCK_KEYID_LEN];   /* SHA-256 of the recipient's X25519 public key */
	uint8_t ephemeral[AIRLOCK_X25519_LEN];  /* sender's one-time X25519 public key */
	uint8_t sealed[AIRLOCK_KEYWRAP_SEALED_LEN]; /* AES-256-GCM(content key) || tag */
};

/*
 * Wraps content_key for recipient_pub with a fresh ephemeral key.
 * AIRLOCK_ERR_BAD_KEY for a low-order recipient key; crypto port errors
 * otherwise. *out is written only on success.
 */
AIRLOCK_MUST_USE airlock_err airlock_keywrap_seal(const uint8_t content_key[AIRLOCK_CONTENT_KEY_LEN],
						  const uint8_t recipient_pub[AIRLOCK_X25519_LEN],
						  struct airlock_wrapped_key *out);

/*
 * Unwraps with the recipient's private key (an X25519 key, else
 * AIRLOCK_ERR_INVALID_ARG). AIRLOCK_ERR_KEY_UNWRAP if the wrap names another
 * recipient, if its ephemeral key is low-order, or if its tag fails: the
 * key was not wrapped for this device, or was tampered with. On any failure
 * content_key is wiped.
 */
AIRLOCK_MUST_USE airlock_err airlock_keywrap_open(const struct airlock_wrapped_key *w,
						  const struct airlock_privkey *recipient,
						  uint8_t content_key[AIRLOCK_CONTENT_KEY_LEN]);

/* Appends the CBOR array [id, E, sealed]; overflow is reported by
 * airlock_cbor_enc_finish(). */
void airlock_keywrap_encode(const struct airlock_wrapped_key *w, struct airlock_cbor_enc *e);

/*
 * Reads one wrapped key: exactly an array of 3 byte strings of 32, 32 and
 * 48 bytes. AIRLOCK_ERR_BAD_VALUE for another count or length; the CBOR
 * reader's error (WRONG_TYPE, MALFORMED, NONCANONICAL) otherwise. On failure
 * the cursor is left where it was and *w is untouched. Trailing data is the
 * caller's to check.
 */
AIRLOCK_MUST_USE airlock_err airlock_keywrap_decode(struct airlock_cbor_dec *d, struct airlock_wrapped_key *w);

#endif
