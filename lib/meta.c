/*
 * Parsing and encoding of the envelope and of the three metadata bodies.
 *
 * Each body is a CBOR map with small integer keys in deterministic order.
 * A non-negative key this version does not know is a critical field: the
 * body is refused (AIRLOCK_ERR_UNKNOWN_FIELD). Negative keys are reserved for
 * non-critical extensions: they must be well-formed CBOR and are skipped.
 * Arrays whose order carries no meaning (keys, key ids, hardware ids) must be
 * sorted and free of repeats, so equal content has exactly one encoding.
 */
#include "airlock/meta.h"

#include <string.h>

#include "airlock/aead.h"
#include "util.h"

/* Body map keys: docs/format.md is the reference for these numbers. */
enum { ENV_FORMAT, ENV_TYPE, ENV_BODY, ENV_SIGS, ENV_FIELDS };

enum { ROOT_TYPE = 0, ROOT_VERSION = 1, ROOT_EXPIRES = 2, ROOT_KEYS = 3, ROOT_ROLES = 4 };
enum { REL_TYPE = 0, REL_PRODUCT = 1, REL_VERSION = 2, REL_SECVER = 3, REL_HARDWARE = 4,
       REL_PAYLOADS = 5, REL_EXPIRES = 6 };
enum { PL_NAME = 0, PL_SIZE = 1, PL_CHUNK = 2, PL_DIGEST = 3, PL_ENC = 4 };
enum { ENC_ALG = 0, ENC_PREFIX = 1, ENC_SIZE = 2, ENC_SHA256 = 3 };
enum { DIR_TYPE = 0, DIR_DEVICE = 1, DIR_NONCE = 2, DIR_ISSUED = 3, DIR_EXPIRES = 4,
       DIR_ACTION = 5, DIR_RELEASE = 6, DIR_PAYLOADS = 7, DIR_KEY = 8 };
enum { DP_NAME = 0, DP_KIND = 1, DP_DIGEST = 2, DP_SIZE = 3, DP_URLS = 4 };

#define BIT(k) (1u << (k))

_Static_assert(AIRLOCK_MAX_SIGS <= 64 && AIRLOCK_MAX_KEYS <= 64, "limits fit the bitmaps below");

const char *airlock_meta_type_name(uint64_t type)
{
	switch (type) {
	case AIRLOCK_META_ROOT: return "root";
	case AIRLOCK_META_RELEASE: return "release";
	case AIRLOCK_META_DIRECTIVE: return "directive";
	default: return NULL;
	}
}

enum airlock_role airlock_meta_role(enum airlock_meta_type type)
{
	switch (type) {
	case AIRLOCK_META_ROOT: return AIRLOCK_ROLE_ROOT;
	case AIRLOCK_META_RELEASE: return AIRLOCK_ROLE_RELEASE;
	case AIRLOCK_META_DIRECTIVE: return AIRLOCK_ROLE_DIRECTOR;
	}
	return AIRLOCK_ROLE_ROOT;  /* unreachable for parsed envelopes */
}

const char *airlock_role_name(enum airlock_role role)
{
	switch (role) {
	case AIRLOCK_ROLE_ROOT: return "root";
	case AIRLOCK_ROLE_RELEASE: return "release";
	case AIRLOCK_ROLE_DIRECTOR: return "director";
	}
	return "unknown";
}

/* ---- small typed readers ---- */

static airlock_err read_fixed_bstr(struct airlock_cbor_dec *d, size_t want, const uint8_t **out)
{
	struct airlock_cbor_dec save = *d;
	const uint8_t *p;
	size_t len;
	TRY(airlock_cbor_read_bstr(d, &p, &len));
	if (len != want) {
		*d = save;
		return AIRLOCK_ERR_BAD_VALUE;
	}
	*out = p;
	return AIRLOCK_OK;
}

static airlock_err read_str(struct airlock_cbor_dec *d, size_t max, struct airlock_str *out)
{
	const char *p;
	size_t len;
	TRY(airlock_cbor_read_tstr(d, &p, &len));
	if (len == 0 || len > max)
		return AIRLOCK_ERR_BAD_VALUE;
	out->ptr = p;
	out->len = len;
	return AIRLOCK_OK;
}

/* A label (product, version, hardware id): any violation, length included, is BAD_NAME. */
static airlock_err read_label(struct airlock_cbor_dec *d, struct airlock_str *out)
{
	TRY(airlock_cbor_read_tstr(d, &out->ptr, &out->len));
	return airlock_check_label(out->ptr, out->len);
}

static airlock_err read_u32(struct airlock_cbor_dec *d, uint32_t *out)
{
	uint64_t v;
	TRY(airlock_cbor_read_uint(d, &v));
	if (v > UINT32_MAX)
		return AIRLOCK_ERR_BAD_VALUE;
	*out = (uint32_t)v;
	return AIRLOCK_OK;
}

/* A map key this version does not know: critical if non-negative. */
static airlock_err unknown_key(struct airlock_cbor_dec *d, int64_t key)
{
	if (key >= 0)
		return AIRLOCK_ERR_UNKNOWN_FIELD;
	return airlock_cbor_skip(d);
}

/* Reads an array head with 1..max elements. */
static airlock_err read_array_n(struct airlock_cbor_dec *d, size_t max, size_t *n)
{
	TRY(airlock_cbor_read_array(d, n));
	if (*n == 0)
		return AIRLOCK_ERR_BAD_VALUE;
	if (*n > max)
		return AIRLOCK_ERR_LIMIT;
	return AIRLOCK_OK;
}

static int bytes_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	if (c != 0)
		return c;
	return (alen > blen) - (alen < blen);
}

/* ---- names ---- */

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

airlock_err airlock_check_payload_name(const char *s, size_t len)
{
	/* A payload name becomes a file name in staging and a URL path segment:
	 * allow-list only, so "..", "/", "%", "?", NUL and non-ASCII never pass. */
	if (len == 0 || len > AIRLOCK_MAX_NAME_LEN || !is_alnum(s[0]))
		return AIRLOCK_ERR_BAD_NAME;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
			return AIRLOCK_ERR_BAD_NAME;
	}
	return AIRLOCK_OK;
}

static airlock_err check_printable(const char *s, size_t len, size_t max)
{
	if (len == 0 || len > max)
		return AIRLOCK_ERR_BAD_NAME;
	for (size_t i = 0; i < len; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return AIRLOCK_ERR_BAD_NAME;
	return AIRLOCK_OK;
}

airlock_err airlock_check_label(const char *s, size_t len)
{
	return check_printable(s, len, AIRLOCK_MAX_NAME_LEN);
}

airlock_err airlock_check_device_id(const char *s, size_t len)
{
	return check_printable(s, len, AIRLOCK_MAX_DEVICE_ID_LEN);
}

/* ---- envelope ---- */

airlock_err airlock_envelope_parse(const uint8_t *buf, size_t len, size_t max_len, struct airlock_envelope *env)
{
	struct airlock_cbor_dec d;
	size_t n;
	uint64_t format;

	if (!buf || !env)
		return AIRLOCK_ERR_INVALID_ARG;
	if (len > max_len)
		return AIRLOCK_ERR_TOO_LARGE;
	memset(env, 0, sizeof *env);
	airlock_cbor_dec_init(&d, buf, len);
	TRY(airlock_cbor_read_array(&d, &n));
	if (n != ENV_FIELDS)
		return AIRLOCK_ERR_MALFORMED;
	TRY(airlock_cbor_read_uint(&d, &format));
	if (format != AIRLOCK_FORMAT_VERSION)
		return AIRLOCK_ERR_UNSUPPORTED_VERSION;
	TRY(airlock_cbor_read_uint(&d, &env->type));
	if (!airlock_meta_type_name(env->type))
		return AIRLOCK_ERR_WRONG_TYPE;
	TRY(airlock_cbor_read_bstr(&d, &env->body.ptr, &env->body.len));
	TRY(airlock_cbor_read_array(&d, &n));
	if (n > AIRLOCK_MAX_SIGS)
		return AIRLOCK_ERR_LIMIT;
	for (size_t i = 0; i < n; i++) {
		struct airlock_signature *s = &env->sigs[i];
		size_t fields;
		TRY(airlock_cbor_read_array(&d, &fields));
		if (fields != 3)
			return AIRLOCK_ERR_MALFORMED;
		TRY(read_fixed_bstr(&d, AIRLOCK_KEYID_LEN, &s->keyid));
		TRY(airlock_cbor_read_int(&d, &s->alg));
		TRY(airlock_cbor_read_bstr(&d, &s->sig.ptr, &s->sig.len));
		if (s->sig.len == 0 || s->sig.len > AIRLOCK_SIG_MAX_LEN)
			return AIRLOCK_ERR_BAD_VALUE;
	}
	env->n_sigs = n;
	return airlock_cbor_dec_finish(&d);
}

void airlock_envelope_encode(const struct airlock_envelope *env, struct airlock_cbor_enc *enc)
{
	airlock_cbor_put_array(enc, ENV_FIELDS);
	airlock_cbor_put_uint(enc, AIRLOCK_FORMAT_VERSION);
	airlock_cbor_put_uint(enc, env->type);
	airlock_cbor_put_bstr(enc, env->body.ptr, env->body.len);
	airlock_cbor_put_array(enc, env->n_sigs);
	for (size_t i = 0; i < env->n_sigs; i++) {
		airlock_cbor_put_array(enc, 3);
		airlock_cbor_put_bstr(enc, env->sigs[i].keyid, AIRLOCK_KEYID_LEN);
		airlock_cbor_put_int(enc, env->sigs[i].alg);
		airlock_cbor_put_bstr(enc, env->sigs[i].sig.ptr, env->sigs[i].sig.len);
	}
}

/* ---- root ---- */

static airlock_err parse_keys(struct airlock_cbor_dec *d, struct airlock_root *root)
{
	size_t n;
	TRY(read_array_n(d, AIRLOCK_MAX_KEYS, &n));
	for (size_t i = 0; i < n; i++) {
		struct airlock_key *k = &root->keys[i];
		size_t fields;
		TRY(airlock_cbor_read_array(d, &fields));
		if (fields != 2)
			return AIRLOCK_ERR_MALFORMED;
		TRY(airlock_cbor_read_int(d, &k->alg));
		TRY(airlock_cbor_read_bstr(d, &k->pub.ptr, &k->pub.len));
		if (!airlock_alg_can_sign(k->alg))
			return AIRLOCK_ERR_UNSUPPORTED_ALG;
		if (k->pub.len != airlock_alg_pub_len(k->alg))
			return AIRLOCK_ERR_BAD_KEY;
		TRY(airlock_keyid(k->pub.ptr, k->pub.len, k->keyid));
		/* Sorted by key id, strictly: a key listed twice cannot count twice. */
		if (i > 0 && memcmp(root->keys[i - 1].keyid, k->keyid, AIRLOCK_KEYID_LEN) >= 0)
			return AIRLOCK_ERR_BAD_VALUE;
	}
	root->n_keys = n;
	return AIRLOCK_OK;
}

static airlock_err parse_role(struct airlock_cbor_dec *d, const struct airlock_root *root,
			      struct airlock_role_keys *role)
{
	size_t fields, n;
	TRY(airlock_cbor_read_array(d, &fields));
	if (fields != 2)
		return AIRLOCK_ERR_MALFORMED;
	TRY(read_u32(d, &role->threshold));
	TRY(read_array_n(d, AIRLOCK_MAX_ROLE_KEYS, &n));
	for (size_t i = 0; i < n; i++) {
		TRY(read_fixed_bstr(d, AIRLOCK_KEYID_LEN, &role->keyids[i]));
		if (i > 0 && memcmp(role->keyids[i - 1], role->keyids[i], AIRLOCK_KEYID_LEN) >= 0)
			return AIRLOCK_ERR_BAD_VALUE;
		if (!airlock_root_find_key(root, role->keyids[i]))
			return AIRLOCK_ERR_BAD_VALUE;
	}
	role->n_keyids = n;
	if (role->threshold == 0 || role->threshold > n)
		return AIRLOCK_ERR_BAD_VALUE;
	return AIRLOCK_OK;
}

static airlock_err parse_roles(struct airlock_cbor_dec *d, struct airlock_root *root)
{
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	/* Roles (key 4) follow keys (key 3) in key order: without keys there is
	 * nothing a role could name. */
	if (root->n_keys == 0)
		return AIRLOCK_ERR_MISSING_FIELD;
	TRY(airlock_cbor_map_begin(d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(d, &m, &key));
		if (m.done)
			break;
		if (key < AIRLOCK_ROLE_ROOT || key > AIRLOCK_ROLE_DIRECTOR) {
			TRY(unknown_key(d, key));
			continue;
		}
		TRY(parse_role(d, root, &root->roles[key]));
		seen |= BIT(key);
	}
	if (seen != (BIT(AIRLOCK_ROLE_ROOT) | BIT(AIRLOCK_ROLE_RELEASE) | BIT(AIRLOCK_ROLE_DIRECTOR)))
		return AIRLOCK_ERR_MISSING_FIELD;
	return AIRLOCK_OK;
}

static airlock_err check_type(struct airlock_cbor_dec *d, uint64_t want)
{
	uint64_t type;
	TRY(airlock_cbor_read_uint(d, &type));
	return type == want ? AIRLOCK_OK : AIRLOCK_ERR_WRONG_TYPE;
}

airlock_err airlock_root_parse_body(const uint8_t *body, size_t len, struct airlock_root *root)
{
	struct airlock_cbor_dec d;
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;

	if (!body || !root)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(root, 0, sizeof *root);
	airlock_cbor_dec_init(&d, body, len);
	TRY(airlock_cbor_map_begin(&d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(&d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case ROOT_TYPE: TRY(check_type(&d, AIRLOCK_META_ROOT)); break;
		case ROOT_VERSION: TRY(airlock_cbor_read_uint(&d, &root->version)); break;
		case ROOT_EXPIRES: TRY(airlock_cbor_read_uint(&d, &root->expires)); break;
		case ROOT_KEYS: TRY(parse_keys(&d, root)); break;
		/* Keys come before roles in key order, so roles can be checked against them. */
		case ROOT_ROLES: TRY(parse_roles(&d, root)); break;
		default: TRY(unknown_key(&d, key)); continue;
		}
		seen |= BIT(key);
	}
	if (seen != (BIT(ROOT_TYPE) | BIT(ROOT_VERSION) | BIT(ROOT_EXPIRES) | BIT(ROOT_KEYS) | BIT(ROOT_ROLES)))
		return AIRLOCK_ERR_MISSING_FIELD;
	if (root->version == 0)
		return AIRLOCK_ERR_BAD_VALUE;
	return airlock_cbor_dec_finish(&d);
}

void airlock_root_encode_body(const struct airlock_root *root, struct airlock_cbor_enc *enc)
{
	airlock_cbor_put_map(enc, 5);
	airlock_cbor_put_uint(enc, ROOT_TYPE);
	airlock_cbor_put_uint(enc, AIRLOCK_META_ROOT);
	airlock_cbor_put_uint(enc, ROOT_VERSION);
	airlock_cbor_put_uint(enc, root->version);
	airlock_cbor_put_uint(enc, ROOT_EXPIRES);
	airlock_cbor_put_uint(enc, root->expires);
	airlock_cbor_put_uint(enc, ROOT_KEYS);
	airlock_cbor_put_array(enc, root->n_keys);
	for (size_t i = 0; i < root->n_keys; i++) {
		airlock_cbor_put_array(enc, 2);
		airlock_cbor_put_int(enc, root->keys[i].alg);
		airlock_cbor_put_bstr(enc, root->keys[i].pub.ptr, root->keys[i].pub.len);
	}
	airlock_cbor_put_uint(enc, ROOT_ROLES);
	airlock_cbor_put_map(enc, 3);
	for (int r = AIRLOCK_ROLE_ROOT; r <= AIRLOCK_ROLE_DIRECTOR; r++) {
		const struct airlock_role_keys *role = &root->roles[r];
		airlock_cbor_put_uint(enc, (uint64_t)r);
		airlock_cbor_put_array(enc, 2);
		airlock_cbor_put_uint(enc, role->threshold);
		airlock_cbor_put_array(enc, role->n_keyids);
		for (size_t i = 0; i < role->n_keyids; i++)
			airlock_cbor_put_bstr(enc, role->keyids[i], AIRLOCK_KEYID_LEN);
	}
}

const struct airlock_key *airlock_root_find_key(const struct airlock_root *root, const uint8_t keyid[AIRLOCK_KEYID_LEN])
{
	for (size_t i = 0; i < root->n_keys; i++)
		if (memcmp(root->keys[i].keyid, keyid, AIRLOCK_KEYID_LEN) == 0)
			return &root->keys[i];
	return NULL;
}

bool airlock_root_role_has(const struct airlock_root *root, enum airlock_role role, const uint8_t keyid[AIRLOCK_KEYID_LEN])
{
	if (role < AIRLOCK_ROLE_ROOT || role > AIRLOCK_ROLE_DIRECTOR)
		return false;
	const struct airlock_role_keys *r = &root->roles[role];
	for (size_t i = 0; i < r->n_keyids; i++)
		if (memcmp(r->keyids[i], keyid, AIRLOCK_KEYID_LEN) == 0)
			return true;
	return false;
}

/* ---- release ---- */

static airlock_err parse_encryption(struct airlock_cbor_dec *d, struct airlock_payload *p)
{
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	TRY(airlock_cbor_map_begin(d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case ENC_ALG:
			TRY(airlock_cbor_read_uint(d, &p->enc.alg));
			if (p->enc.alg != AIRLOCK_ENC_AES256GCM_CHUNKED)
				return AIRLOCK_ERR_UNSUPPORTED_ALG;
			break;
		case ENC_PREFIX: TRY(read_fixed_bstr(d, AIRLOCK_NONCE_PREFIX_LEN, &p->enc.nonce_prefix)); break;
		case ENC_SIZE: TRY(airlock_cbor_read_uint(d, &p->enc.size)); break;
		case ENC_SHA256: TRY(read_fixed_bstr(d, AIRLOCK_SHA256_LEN, &p->enc.sha256)); break;
		default: TRY(unknown_key(d, key)); continue;
		}
		seen |= BIT(key);
	}
	if (seen != (BIT(ENC_ALG) | BIT(ENC_PREFIX) | BIT(ENC_SIZE) | BIT(ENC_SHA256)))
		return AIRLOCK_ERR_MISSING_FIELD;
	p->encrypted = true;
	return AIRLOCK_OK;
}

airlock_err airlock_check_chunk_size(uint64_t c)
{
	if (c < AIRLOCK_CHUNK_MIN || c > AIRLOCK_CHUNK_MAX || (c & (c - 1)) != 0)
		return AIRLOCK_ERR_BAD_VALUE;
	return AIRLOCK_OK;
}

static airlock_err parse_payload(struct airlock_cbor_dec *d, struct airlock_payload *p)
{
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	TRY(airlock_cbor_map_begin(d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case PL_NAME:
			TRY(airlock_cbor_read_tstr(d, &p->name.ptr, &p->name.len));
			TRY(airlock_check_payload_name(p->name.ptr, p->name.len));
			break;
		case PL_SIZE: TRY(airlock_cbor_read_uint(d, &p->size)); break;
		case PL_CHUNK:
			TRY(read_u32(d, &p->chunk_size));
			TRY(airlock_check_chunk_size(p->chunk_size));
			break;
		case PL_DIGEST: TRY(read_fixed_bstr(d, AIRLOCK_SHA256_LEN, &p->digest)); break;
		case PL_ENC: TRY(parse_encryption(d, p)); break;
		default: TRY(unknown_key(d, key)); continue;
		}
		seen |= BIT(key);
	}
	if ((seen & (BIT(PL_NAME) | BIT(PL_SIZE) | BIT(PL_CHUNK) | BIT(PL_DIGEST))) !=
	    (BIT(PL_NAME) | BIT(PL_SIZE) | BIT(PL_CHUNK) | BIT(PL_DIGEST)))
		return AIRLOCK_ERR_MISSING_FIELD;
	if (p->encrypted) {
		/* The signed sizes must agree before anything is downloaded. */
		uint64_t want;
		TRY(airlock_aead_ciphertext_size(p->size, p->chunk_size, &want));
		if (p->enc.size != want)
			return AIRLOCK_ERR_BAD_VALUE;
	}
	return AIRLOCK_OK;
}

static airlock_err parse_hardware(struct airlock_cbor_dec *d, struct airlock_release *rel)
{
	size_t n;
	TRY(read_array_n(d, AIRLOCK_MAX_HARDWARE, &n));
	for (size_t i = 0; i < n; i++) {
		struct airlock_str *h = &rel->hardware[i];
		TRY(read_label(d, h));
		if (i > 0 && bytes_cmp((const uint8_t *)rel->hardware[i - 1].ptr, rel->hardware[i - 1].len,
				       (const uint8_t *)h->ptr, h->len) >= 0)
			return AIRLOCK_ERR_BAD_VALUE;
	}
	rel->n_hardware = n;
	return AIRLOCK_OK;
}

static airlock_err parse_payloads(struct airlock_cbor_dec *d, struct airlock_release *rel)
{
	size_t n;
	TRY(read_array_n(d, AIRLOCK_MAX_PAYLOADS, &n));
	for (size_t i = 0; i < n; i++) {
		struct airlock_payload *p = &rel->payloads[i];
		TRY(parse_payload(d, p));
		/* Order is the install order, so it is kept; names must not repeat. */
		for (size_t j = 0; j < i; j++)
			if (bytes_cmp((const uint8_t *)rel->payloads[j].name.ptr, rel->payloads[j].name.len,
				      (const uint8_t *)p->name.ptr, p->name.len) == 0)
				return AIRLOCK_ERR_BAD_VALUE;
	}
	rel->n_payloads = n;
	return AIRLOCK_OK;
}

airlock_err airlock_release_parse_body(const uint8_t *body, size_t len, struct airlock_release *rel)
{
	struct airlock_cbor_dec d;
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	const unsigned required = BIT(REL_TYPE) | BIT(REL_PRODUCT) | BIT(REL_VERSION) | BIT(REL_SECVER) |
				  BIT(REL_HARDWARE) | BIT(REL_PAYLOADS);

	if (!body || !rel)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(rel, 0, sizeof *rel);
	airlock_cbor_dec_init(&d, body, len);
	TRY(airlock_cbor_map_begin(&d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(&d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case REL_TYPE: TRY(check_type(&d, AIRLOCK_META_RELEASE)); break;
		case REL_PRODUCT: TRY(read_label(&d, &rel->product)); break;
		case REL_VERSION: TRY(read_label(&d, &rel->version)); break;
		case REL_SECVER: TRY(airlock_cbor_read_uint(&d, &rel->security_version)); break;
		case REL_HARDWARE: TRY(parse_hardware(&d, rel)); break;
		case REL_PAYLOADS: TRY(parse_payloads(&d, rel)); break;
		case REL_EXPIRES:
			TRY(airlock_cbor_read_uint(&d, &rel->expires));
			if (rel->expires == 0)
				return AIRLOCK_ERR_BAD_VALUE;
			break;
		default: TRY(unknown_key(&d, key)); continue;
		}
		seen |= BIT(key);
	}
	if ((seen & required) != required)
		return AIRLOCK_ERR_MISSING_FIELD;
	return airlock_cbor_dec_finish(&d);
}

static void put_str(struct airlock_cbor_enc *enc, struct airlock_str s)
{
	airlock_cbor_put_tstr(enc, s.ptr, s.len);
}

void airlock_release_encode_body(const struct airlock_release *rel, struct airlock_cbor_enc *enc)
{
	airlock_cbor_put_map(enc, rel->expires ? 7 : 6);
	airlock_cbor_put_uint(enc, REL_TYPE);
	airlock_cbor_put_uint(enc, AIRLOCK_META_RELEASE);
	airlock_cbor_put_uint(enc, REL_PRODUCT);
	put_str(enc, rel->product);
	airlock_cbor_put_uint(enc, REL_VERSION);
	put_str(enc, rel->version);
	airlock_cbor_put_uint(enc, REL_SECVER);
	airlock_cbor_put_uint(enc, rel->security_version);
	airlock_cbor_put_uint(enc, REL_HARDWARE);
	airlock_cbor_put_array(enc, rel->n_hardware);
	for (size_t i = 0; i < rel->n_hardware; i++)
		put_str(enc, rel->hardware[i]);
	airlock_cbor_put_uint(enc, REL_PAYLOADS);
	airlock_cbor_put_array(enc, rel->n_payloads);
	for (size_t i = 0; i < rel->n_payloads; i++) {
		const struct airlock_payload *p = &rel->payloads[i];
		airlock_cbor_put_map(enc, p->encrypted ? 5 : 4);
		airlock_cbor_put_uint(enc, PL_NAME);
		put_str(enc, p->name);
		airlock_cbor_put_uint(enc, PL_SIZE);
		airlock_cbor_put_uint(enc, p->size);
		airlock_cbor_put_uint(enc, PL_CHUNK);
		airlock_cbor_put_uint(enc, p->chunk_size);
		airlock_cbor_put_uint(enc, PL_DIGEST);
		airlock_cbor_put_bstr(enc, p->digest, AIRLOCK_SHA256_LEN);
		if (p->encrypted) {
			airlock_cbor_put_uint(enc, PL_ENC);
			airlock_cbor_put_map(enc, 4);
			airlock_cbor_put_uint(enc, ENC_ALG);
			airlock_cbor_put_uint(enc, p->enc.alg);
			airlock_cbor_put_uint(enc, ENC_PREFIX);
			airlock_cbor_put_bstr(enc, p->enc.nonce_prefix, AIRLOCK_NONCE_PREFIX_LEN);
			airlock_cbor_put_uint(enc, ENC_SIZE);
			airlock_cbor_put_uint(enc, p->enc.size);
			airlock_cbor_put_uint(enc, ENC_SHA256);
			airlock_cbor_put_bstr(enc, p->enc.sha256, AIRLOCK_SHA256_LEN);
		}
	}
	if (rel->expires) {
		airlock_cbor_put_uint(enc, REL_EXPIRES);
		airlock_cbor_put_uint(enc, rel->expires);
	}
}

const struct airlock_payload *airlock_release_find_payload(const struct airlock_release *rel, const char *name, size_t name_len)
{
	for (size_t i = 0; i < rel->n_payloads; i++)
		if (rel->payloads[i].name.len == name_len && memcmp(rel->payloads[i].name.ptr, name, name_len) == 0)
			return &rel->payloads[i];
	return NULL;
}

/* ---- directive ---- */

static airlock_err parse_urls(struct airlock_cbor_dec *d, struct airlock_directive_payload *p)
{
	size_t n;
	TRY(read_array_n(d, AIRLOCK_MAX_URLS, &n));
	for (size_t i = 0; i < n; i++) {
		TRY(read_str(d, AIRLOCK_MAX_URL_LEN, &p->urls[i]));
		for (size_t j = 0; j < p->urls[i].len; j++)
			if (p->urls[i].ptr[j] <= 0x20 || p->urls[i].ptr[j] >= 0x7f)
				return AIRLOCK_ERR_BAD_VALUE;
	}
	p->n_urls = n;
	return AIRLOCK_OK;
}

static airlock_err parse_directive_payload(struct airlock_cbor_dec *d, struct airlock_directive_payload *p)
{
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	TRY(airlock_cbor_map_begin(d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case DP_NAME:
			TRY(airlock_cbor_read_tstr(d, &p->name.ptr, &p->name.len));
			TRY(airlock_check_payload_name(p->name.ptr, p->name.len));
			break;
		case DP_KIND:
			TRY(airlock_cbor_read_uint(d, &p->kind));
			if (p->kind != AIRLOCK_ARTIFACT_FULL && p->kind != AIRLOCK_ARTIFACT_DELTA)
				return AIRLOCK_ERR_BAD_VALUE;
			break;
		case DP_DIGEST: TRY(read_fixed_bstr(d, AIRLOCK_SHA256_LEN, &p->digest)); break;
		case DP_SIZE: TRY(airlock_cbor_read_uint(d, &p->size)); break;
		case DP_URLS: TRY(parse_urls(d, p)); break;
		default: TRY(unknown_key(d, key)); continue;
		}
		seen |= BIT(key);
	}
	if (seen != (BIT(DP_NAME) | BIT(DP_KIND) | BIT(DP_DIGEST) | BIT(DP_SIZE) | BIT(DP_URLS)))
		return AIRLOCK_ERR_MISSING_FIELD;
	return AIRLOCK_OK;
}

static airlock_err parse_directive_payloads(struct airlock_cbor_dec *d, struct airlock_directive *dir)
{
	size_t n;
	TRY(read_array_n(d, AIRLOCK_MAX_PAYLOADS, &n));
	for (size_t i = 0; i < n; i++)
		TRY(parse_directive_payload(d, &dir->payloads[i]));
	dir->n_payloads = n;
	return AIRLOCK_OK;
}

airlock_err airlock_directive_parse_body(const uint8_t *body, size_t len, struct airlock_directive *dir)
{
	struct airlock_cbor_dec d;
	struct airlock_cbor_map m;
	int64_t key;
	unsigned seen = 0;
	const unsigned required = BIT(DIR_TYPE) | BIT(DIR_DEVICE) | BIT(DIR_NONCE) | BIT(DIR_ISSUED) |
				  BIT(DIR_EXPIRES) | BIT(DIR_ACTION);
	const unsigned install = BIT(DIR_RELEASE) | BIT(DIR_PAYLOADS);

	if (!body || !dir)
		return AIRLOCK_ERR_INVALID_ARG;
	memset(dir, 0, sizeof *dir);
	airlock_cbor_dec_init(&d, body, len);
	TRY(airlock_cbor_map_begin(&d, &m));
	for (;;) {
		TRY(airlock_cbor_map_next(&d, &m, &key));
		if (m.done)
			break;
		switch (key) {
		case DIR_TYPE: TRY(check_type(&d, AIRLOCK_META_DIRECTIVE)); break;
		case DIR_DEVICE:
			TRY(airlock_cbor_read_tstr(&d, &dir->device.ptr, &dir->device.len));
			TRY(airlock_check_device_id(dir->device.ptr, dir->device.len));
			break;
		case DIR_NONCE:
			TRY(airlock_cbor_read_bstr(&d, &dir->nonce.ptr, &dir->nonce.len));
			if (dir->nonce.len < AIRLOCK_NONCE_MIN_LEN || dir->nonce.len > AIRLOCK_NONCE_MAX_LEN)
				return AIRLOCK_ERR_BAD_VALUE;
			break;
		case DIR_ISSUED: TRY(airlock_cbor_read_uint(&d, &dir->issued)); break;
		case DIR_EXPIRES: TRY(airlock_cbor_read_uint(&d, &dir->expires)); break;
		case DIR_ACTION:
			TRY(airlock_cbor_read_uint(&d, &dir->action));
			if (dir->action != AIRLOCK_ACTION_NONE && dir->action != AIRLOCK_ACTION_INSTALL)
				return AIRLOCK_ERR_BAD_VALUE;
			break;
		case DIR_RELEASE: TRY(read_fixed_bstr(&d, AIRLOCK_SHA256_LEN, &dir->release_digest)); break;
		case DIR_PAYLOADS: TRY(parse_directive_payloads(&d, dir)); break;
		case DIR_KEY:
			/* Kept as encoded bytes: keywrap.c decodes it where it is used. */
			dir->wrapped_key.ptr = d.p;
			TRY(airlock_cbor_skip(&d));
			dir->wrapped_key.len = (size_t)(d.p - dir->wrapped_key.ptr);
			break;
		default: TRY(unknown_key(&d, key)); continue;
		}
		seen |= BIT(key);
	}
	if ((seen & required) != required)
		return AIRLOCK_ERR_MISSING_FIELD;
	if (dir->action == AIRLOCK_ACTION_INSTALL && (seen & install) != install)
		return AIRLOCK_ERR_MISSING_FIELD;
	/* "Nothing to do" names nothing to fetch: extra fields there are a server bug. */
	if (dir->action == AIRLOCK_ACTION_NONE && (seen & (install | BIT(DIR_KEY))) != 0)
		return AIRLOCK_ERR_BAD_VALUE;
	return airlock_cbor_dec_finish(&d);
}

void airlock_directive_encode_body(const struct airlock_directive *dir, struct airlock_cbor_enc *enc)
{
	bool install = dir->action == AIRLOCK_ACTION_INSTALL;
	size_t fields = 6u + (install ? 2u : 0u) + (install && dir->wrapped_key.len ? 1u : 0u);

	airlock_cbor_put_map(enc, fields);
	airlock_cbor_put_uint(enc, DIR_TYPE);
	airlock_cbor_put_uint(enc, AIRLOCK_META_DIRECTIVE);
	airlock_cbor_put_uint(enc, DIR_DEVICE);
	put_str(enc, dir->device);
	airlock_cbor_put_uint(enc, DIR_NONCE);
	airlock_cbor_put_bstr(enc, dir->nonce.ptr, dir->nonce.len);
	airlock_cbor_put_uint(enc, DIR_ISSUED);
	airlock_cbor_put_uint(enc, dir->issued);
	airlock_cbor_put_uint(enc, DIR_EXPIRES);
	airlock_cbor_put_uint(enc, dir->expires);
	airlock_cbor_put_uint(enc, DIR_ACTION);
	airlock_cbor_put_uint(enc, dir->action);
	if (!install)
		return;
	airlock_cbor_put_uint(enc, DIR_RELEASE);
	airlock_cbor_put_bstr(enc, dir->release_digest, AIRLOCK_SHA256_LEN);
	airlock_cbor_put_uint(enc, DIR_PAYLOADS);
	airlock_cbor_put_array(enc, dir->n_payloads);
	for (size_t i = 0; i < dir->n_payloads; i++) {
		const struct airlock_directive_payload *p = &dir->payloads[i];
		airlock_cbor_put_map(enc, 5);
		airlock_cbor_put_uint(enc, DP_NAME);
		put_str(enc, p->name);
		airlock_cbor_put_uint(enc, DP_KIND);
		airlock_cbor_put_uint(enc, p->kind);
		airlock_cbor_put_uint(enc, DP_DIGEST);
		airlock_cbor_put_bstr(enc, p->digest, AIRLOCK_SHA256_LEN);
		airlock_cbor_put_uint(enc, DP_SIZE);
		airlock_cbor_put_uint(enc, p->size);
		airlock_cbor_put_uint(enc, DP_URLS);
		airlock_cbor_put_array(enc, p->n_urls);
		for (size_t j = 0; j < p->n_urls; j++)
			put_str(enc, p->urls[j]);
	}
	if (dir->wrapped_key.len) {
		airlock_cbor_put_uint(enc, DIR_KEY);
		airlock_cbor_put_raw(enc, dir->wrapped_key.ptr, dir->wrapped_key.len);
	}
}
