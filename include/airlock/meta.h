/*
 * Airlock signed metadata: the envelope, and the three kinds of body it
 * carries (root, release, directive). docs/format.md gives the byte layout.
 *
 * Conventions:
 *  - Parsing allocates nothing. Parsed structs are views: their strings and
 *    byte fields point into the caller's input buffer, which must outlive them.
 *  - Every count has a compile-time maximum below; exceeding one is
 *    AIRLOCK_ERR_LIMIT, exceeding a byte limit is AIRLOCK_ERR_TOO_LARGE.
 *  - Signatures are checked before a body is parsed: only authenticated bytes
 *    reach the body parsers on the verification paths.
 *  - Times are seconds since the Unix epoch, UTC. A `now` of 0 means "this
 *    device has no trusted clock": expiry is then not checked, and freshness
 *    comes from the directive's nonce alone.
 */
#ifndef AIRLOCK_META_H
#define AIRLOCK_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/cbor.h"
#include "airlock/crypto.h"
#include "airlock/error.h"

#define AIRLOCK_FORMAT_VERSION 1

#define AIRLOCK_MAX_KEYS 16          /* keys listed in one root */
#define AIRLOCK_MAX_ROLE_KEYS 16     /* key ids in one role */
#define AIRLOCK_MAX_SIGS 16          /* signatures on one envelope */
#define AIRLOCK_MAX_HARDWARE 16      /* hardware ids in one release */
#define AIRLOCK_MAX_PAYLOADS 16      /* payloads in one release */
#define AIRLOCK_MAX_URLS 4           /* download URLs per directive payload */
#define AIRLOCK_MAX_NAME_LEN 64      /* payload names, product, hardware ids, version */
#define AIRLOCK_MAX_DEVICE_ID_LEN 128
#define AIRLOCK_MAX_URL_LEN 1024
#define AIRLOCK_NONCE_MIN_LEN 16
#define AIRLOCK_NONCE_MAX_LEN 64
#define AIRLOCK_ROOT_MAX_LEN (64u * 1024u)       /* whole signed root file */
#define AIRLOCK_RELEASE_MAX_LEN (64u * 1024u)    /* whole signed release file */
#define AIRLOCK_DIRECTIVE_MAX_LEN (16u * 1024u)  /* whole signed directive */
#define AIRLOCK_ROOT_CHAIN_MAX 256               /* root versions walked in one update */
#define AIRLOCK_CHUNK_MIN (4u * 1024u)
#define AIRLOCK_CHUNK_MAX (16u * 1024u * 1024u)
#define AIRLOCK_CHUNK_DEFAULT (64u * 1024u)
#define AIRLOCK_NONCE_PREFIX_LEN 8
#define AIRLOCK_SIG_MESSAGE_MAX 64   /* the to-be-signed structure, see airlock_sig_message() */

enum airlock_meta_type {
	AIRLOCK_META_ROOT = 1,
	AIRLOCK_META_RELEASE = 2,
	AIRLOCK_META_DIRECTIVE = 3,
};

enum airlock_role {
	AIRLOCK_ROLE_ROOT = 1,
	AIRLOCK_ROLE_RELEASE = 2,
	AIRLOCK_ROLE_DIRECTOR = 3,
};
#define AIRLOCK_ROLE_COUNT 4  /* index 0 unused */

/* "root", "release", "directive"; NULL for an unknown type. */
const char *airlock_meta_type_name(uint64_t type);
/* The one role whose keys sign metadata of this type. */
enum airlock_role airlock_meta_role(enum airlock_meta_type type);
const char *airlock_role_name(enum airlock_role role);

struct airlock_bytes {
	const uint8_t *ptr;
	size_t len;
};

struct airlock_str {
	const char *ptr;   /* not NUL-terminated */
	size_t len;
};

/* ---- the envelope: [format, type, body, [signature...]] ---- */

struct airlock_signature {
	const uint8_t *keyid;    /* AIRLOCK_KEYID_LEN bytes */
	int64_t alg;
	struct airlock_bytes sig;
};

struct airlock_envelope {
	uint64_t type;
	struct airlock_bytes body;
	size_t n_sigs;
	struct airlock_signature sigs[AIRLOCK_MAX_SIGS];
};

/* Parses the outer structure only; the body stays opaque bytes. Rejects
 * inputs above max_len, unknown format versions and unknown types. */
AIRLOCK_MUST_USE airlock_err airlock_envelope_parse(const uint8_t *buf, size_t len, size_t max_len,
						    struct airlock_envelope *env);
/* Encodes an envelope. */
void airlock_envelope_encode(const struct airlock_envelope *env, struct airlock_cbor_enc *enc);

/*
 * The bytes a key signs: the deterministic CBOR array
 *   ["airlock-sig-v1", type, alg, SHA-256(body)]
 * Binding the metadata type keeps roles apart (a release signature can never
 * pass as a root or directive signature), binding alg rules out algorithm
 * confusion, and signing a digest lets HSMs sign without seeing the body.
 */
AIRLOCK_MUST_USE airlock_err airlock_sig_message(uint64_t type, int64_t alg,
						 const uint8_t body_digest[AIRLOCK_SHA256_LEN],
						 uint8_t out[AIRLOCK_SIG_MESSAGE_MAX], size_t *out_len);

/*
 * Signs env's body as metadata of env->type with key and appends the
 * signature (host side: the CLI, the server). keyid and sig are the storage
 * the new signature entry points into: they must outlive env.
 * AIRLOCK_ERR_DUPLICATE_SIGNER if this key already signed, AIRLOCK_ERR_LIMIT
 * when the envelope is full, AIRLOCK_ERR_UNSUPPORTED_ALG for an X25519 key.
 */
struct airlock_privkey;
AIRLOCK_MUST_USE airlock_err airlock_envelope_sign(struct airlock_envelope *env, const struct airlock_privkey *key,
						   uint8_t keyid[AIRLOCK_KEYID_LEN], uint8_t sig[AIRLOCK_SIG_MAX_LEN]);
/* Encodes env into a malloc'd buffer (host side). */
AIRLOCK_MUST_USE airlock_err airlock_envelope_encode_alloc(const struct airlock_envelope *env, uint8_t **out,
							   size_t *len);

/* ---- root ---- */

struct airlock_key {
	int64_t alg;
	struct airlock_bytes pub;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
};

struct airlock_role_keys {
	uint32_t threshold;
	size_t n_keyids;
	const uint8_t *keyids[AIRLOCK_MAX_ROLE_KEYS];
};

struct airlock_root {
	uint64_t version;
	uint64_t expires;
	size_t n_keys;
	struct airlock_key keys[AIRLOCK_MAX_KEYS];
	struct airlock_role_keys roles[AIRLOCK_ROLE_COUNT];  /* indexed by enum airlock_role */
};

AIRLOCK_MUST_USE airlock_err airlock_root_parse_body(const uint8_t *body, size_t len, struct airlock_root *root);
void airlock_root_encode_body(const struct airlock_root *root, struct airlock_cbor_enc *enc);
/* The key with this id, or NULL. */
const struct airlock_key *airlock_root_find_key(const struct airlock_root *root, const uint8_t keyid[AIRLOCK_KEYID_LEN]);
/* Whether keyid is listed for role. */
bool airlock_root_role_has(const struct airlock_root *root, enum airlock_role role, const uint8_t keyid[AIRLOCK_KEYID_LEN]);

/* ---- release ---- */

enum airlock_enc_alg {
	AIRLOCK_ENC_AES256GCM_CHUNKED = 1,
};

struct airlock_payload {
	struct airlock_str name;
	uint64_t size;                 /* plaintext bytes */
	uint32_t chunk_size;
	const uint8_t *digest;         /* SHA-256 of the chunk-digest list */
	bool encrypted;
	struct {
		uint64_t alg;
		const uint8_t *nonce_prefix;   /* AIRLOCK_NONCE_PREFIX_LEN bytes */
		uint64_t size;                 /* ciphertext bytes */
		const uint8_t *sha256;         /* SHA-256 of the whole ciphertext */
	} enc;
};

struct airlock_release {
	struct airlock_str product;
	struct airlock_str version;
	uint64_t security_version;
	size_t n_hardware;
	struct airlock_str hardware[AIRLOCK_MAX_HARDWARE];
	size_t n_payloads;
	struct airlock_payload payloads[AIRLOCK_MAX_PAYLOADS];
	uint64_t expires;              /* 0: does not expire */
};

AIRLOCK_MUST_USE airlock_err airlock_release_parse_body(const uint8_t *body, size_t len, struct airlock_release *rel);
void airlock_release_encode_body(const struct airlock_release *rel, struct airlock_cbor_enc *enc);
/* The payload with this name, or NULL. */
const struct airlock_payload *airlock_release_find_payload(const struct airlock_release *rel, const char *name, size_t name_len);

/* AIRLOCK_OK for a power of two within AIRLOCK_CHUNK_MIN..MAX, else AIRLOCK_ERR_BAD_VALUE. */
AIRLOCK_MUST_USE airlock_err airlock_check_chunk_size(uint64_t chunk_size);

/* Names: payload names are 1..64 of [A-Za-z0-9._-] starting with a letter or
 * digit (safe as a file name and a URL path segment); product, hardware ids and
 * version strings are 1..64 printable ASCII characters without spaces. */
AIRLOCK_MUST_USE airlock_err airlock_check_payload_name(const char *s, size_t len);
AIRLOCK_MUST_USE airlock_err airlock_check_label(const char *s, size_t len);
/* Device ids: 1..128 printable ASCII characters without spaces (else BAD_NAME). */
AIRLOCK_MUST_USE airlock_err airlock_check_device_id(const char *s, size_t len);

/* ---- directive ---- */

enum airlock_action {
	AIRLOCK_ACTION_NONE = 0,
	AIRLOCK_ACTION_INSTALL = 1,
};

enum airlock_artifact_kind {
	AIRLOCK_ARTIFACT_FULL = 0,
	AIRLOCK_ARTIFACT_DELTA = 1,
};

struct airlock_directive_payload {
	struct airlock_str name;
	uint64_t kind;
	const uint8_t *digest;      /* SHA-256 of the artifact as downloaded */
	uint64_t size;              /* bytes of the artifact as downloaded */
	size_t n_urls;
	struct airlock_str urls[AIRLOCK_MAX_URLS];
};

struct airlock_directive {
	struct airlock_str device;
	struct airlock_bytes nonce;
	uint64_t issued;
	uint64_t expires;
	uint64_t action;
	const uint8_t *release_digest;    /* when action == INSTALL */
	size_t n_payloads;
	struct airlock_directive_payload payloads[AIRLOCK_MAX_PAYLOADS];
	struct airlock_bytes wrapped_key; /* encoded key wrap, or empty */
};

AIRLOCK_MUST_USE airlock_err airlock_directive_parse_body(const uint8_t *body, size_t len, struct airlock_directive *dir);
void airlock_directive_encode_body(const struct airlock_directive *dir, struct airlock_cbor_enc *enc);

/* ---- verification ---- */

/* What became of each signature of an envelope. */
struct airlock_sig_report {
	size_t n;
	struct {
		uint8_t keyid[AIRLOCK_KEYID_LEN];
		int64_t alg;
		airlock_err verdict;   /* OK: counted; or why it did not count */
	} sigs[AIRLOCK_MAX_SIGS];
	uint32_t valid;            /* distinct keys counted */
	uint32_t threshold;
};

/*
 * Counts the distinct keys listed for `role` in `root` whose signature over
 * env's body verifies. A key counts once however often it signs (later ones:
 * AIRLOCK_ERR_DUPLICATE_SIGNER); a key of the root not listed for the role
 * counts zero (AIRLOCK_ERR_WRONG_ROLE); a key the root does not list counts
 * zero (AIRLOCK_ERR_UNKNOWN_KEY). OK iff the count reaches the threshold;
 * otherwise the most telling reason: BAD_SIGNATURE if a listed key's
 * signature failed, else WRONG_ROLE, else UNKNOWN_KEY, else THRESHOLD.
 * The envelope's type must be the one the role signs (AIRLOCK_ERR_WRONG_TYPE).
 * report may be NULL.
 */
AIRLOCK_MUST_USE airlock_err airlock_verify_role(const struct airlock_root *root, enum airlock_role role,
						 const struct airlock_envelope *env,
						 struct airlock_sig_report *report);

/*
 * A root a device is handed at manufacture, or a user on the command line:
 * parses it and checks it carries a threshold of its own root keys.
 */
AIRLOCK_MUST_USE airlock_err airlock_root_load_trusted(const uint8_t *buf, size_t len, struct airlock_root *root,
						       struct airlock_sig_report *report);

/*
 * One step of the root chain: `next` (a signed root file) must carry a
 * threshold of `trusted`'s root keys (checked before its body is parsed), be
 * exactly version trusted->version + 1, and carry a threshold of its own root
 * keys. Expiry is deliberately not checked here: an expired root must never
 * block the rotation that replaces it. On success *out is the new root
 * (viewing next's buffer). report_old/report_new may be NULL.
 */
AIRLOCK_MUST_USE airlock_err airlock_root_update(const struct airlock_root *trusted,
						 const uint8_t *next, size_t next_len,
						 struct airlock_root *out,
						 struct airlock_sig_report *report_old,
						 struct airlock_sig_report *report_new);

/* What a device requires of a release. */
struct airlock_release_policy {
	const char *hardware;              /* NULL: do not check (a signing host) */
	uint64_t min_security_version;     /* the device's anti-rollback counter */
	uint64_t now;                      /* 0: no trusted clock */
};

/*
 * Verifies a signed release file against a trusted root: envelope, threshold
 * of release keys, body, then policy (expiry of the root and of the release
 * when now != 0, hardware id, security_version >= min: AIRLOCK_ERR_ROLLBACK).
 * On success *rel views buf and *digest_out (may be NULL) is the release
 * digest: SHA-256 of the body, the value a directive names.
 */
AIRLOCK_MUST_USE airlock_err airlock_release_verify(const struct airlock_root *root,
						    const uint8_t *buf, size_t len,
						    const struct airlock_release_policy *policy,
						    struct airlock_release *rel,
						    uint8_t digest_out[AIRLOCK_SHA256_LEN],
						    struct airlock_sig_report *report);

/* What a device expects of the directive answering its check-in. */
struct airlock_directive_policy {
	const char *device_id;
	const uint8_t *nonce;
	size_t nonce_len;
	uint64_t now;                      /* 0: no trusted clock */
};

/* Verifies a signed directive: threshold of director keys, body, device id,
 * nonce (constant-time), and expiry when now != 0. */
AIRLOCK_MUST_USE airlock_err airlock_directive_verify(const struct airlock_root *root,
						      const uint8_t *buf, size_t len,
						      const struct airlock_directive_policy *policy,
						      struct airlock_directive *dir,
						      struct airlock_sig_report *report);

#endif
