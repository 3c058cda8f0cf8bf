/*
 * Envelope and body parsing and encoding (lib/meta.c).
 *
 * Bodies are built field by field with a small "field map" builder so that
 * each test can drop, add, repeat, reorder or re-encode one field and assert
 * the exact error. Every valid body also goes through the round trip
 * encode(parse(bytes)) == bytes. Parsed inputs live in heap buffers of their
 * exact size so that the sanitizer build catches any read past the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"
#include "testutil.h"

/* ---- field maps: a CBOR map of integer keys to pre-encoded values ---- */

#define FVAL_MAX 4096
#define FMAP_MAX 24
#define BODY_MAX 65536

struct field {
	bool used;
	int64_t key;
	struct airlock_cbor_enc e;   /* writes into buf; fields never move */
	uint8_t buf[FVAL_MAX];
};

struct fmap {
	size_t n;
	bool keep_order;             /* set by fm_add: encode in insertion order */
	struct field f[FMAP_MAX];
};

static void fm_init(struct fmap *m)
{
	m->n = 0;
	m->keep_order = false;
}

static struct airlock_cbor_enc *fm_new(struct fmap *m, int64_t key)
{
	assert_true(m->n < FMAP_MAX);
	struct field *f = &m->f[m->n++];
	f->used = true;
	f->key = key;
	airlock_cbor_enc_init(&f->e, f->buf, sizeof f->buf);
	return &f->e;
}

/* The value of key, emptied (replacing an earlier value). */
static struct airlock_cbor_enc *fm_set(struct fmap *m, int64_t key)
{
	for (size_t i = 0; i < m->n; i++) {
		if (m->f[i].used && m->f[i].key == key) {
			airlock_cbor_enc_init(&m->f[i].e, m->f[i].buf, sizeof m->f[i].buf);
			return &m->f[i].e;
		}
	}
	return fm_new(m, key);
}

/* Appends another pair as is: the map is then encoded in insertion order
 * (to build repeated or misordered keys). */
static struct airlock_cbor_enc *fm_add(struct fmap *m, int64_t key)
{
	m->keep_order = true;
	return fm_new(m, key);
}

static void fm_del(struct fmap *m, int64_t key)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->f[i].key == key)
			m->f[i].used = false;
}

/* Deterministic order of integer keys: 0, 1, 2, ..., then -1, -2, ... */
static int key_cmp(int64_t a, int64_t b)
{
	if ((a >= 0) != (b >= 0))
		return a >= 0 ? -1 : 1;
	if (a >= 0)
		return (a > b) - (a < b);
	return (a < b) - (a > b);
}

static void fm_put(struct airlock_cbor_enc *out, const struct fmap *m)
{
	const struct field *order[FMAP_MAX];
	size_t n = 0;
	for (size_t i = 0; i < m->n; i++)
		if (m->f[i].used)
			order[n++] = &m->f[i];
	if (!m->keep_order) {
		for (size_t i = 1; i < n; i++)
			for (size_t j = i; j > 0 && key_cmp(order[j - 1]->key, order[j]->key) > 0; j--) {
				const struct field *t = order[j];
				order[j] = order[j - 1];
				order[j - 1] = t;
			}
	}
	airlock_cbor_put_map(out, n);
	for (size_t i = 0; i < n; i++) {
		assert_false(order[i]->e.overflow);
		airlock_cbor_put_int(out, order[i]->key);
		airlock_cbor_put_raw(out, order[i]->buf, order[i]->e.len);
	}
}

/* Encodes m into a fresh exact-size heap buffer. */
static uint8_t *fm_encode(const struct fmap *m, size_t *len)
{
	static uint8_t tmp[BODY_MAX];
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, tmp, sizeof tmp);
	fm_put(&e, m);
	assert_err(airlock_cbor_enc_finish(&e, len), AIRLOCK_OK);
	uint8_t *p = malloc(*len ? *len : 1);
	assert_non_null(p);
	memcpy(p, tmp, *len);
	return p;
}

static uint8_t *dup_bytes(const uint8_t *src, size_t n)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	if (n)
		memcpy(p, src, n);
	return p;
}

static void put_tstr(struct airlock_cbor_enc *e, const char *s)
{
	airlock_cbor_put_tstr(e, s, strlen(s));
}

/* ---- fake keys: parsing checks lengths and key ids, not the points ---- */

#define NFAKE 20
struct fkey {
	int64_t alg;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
};
static struct fkey fk[NFAKE];   /* sorted by key id */

static void fake_keys_init(void)
{
	for (size_t i = 0; i < NFAKE; i++) {
		fk[i].alg = i % 5 == 4 ? AIRLOCK_ALG_P256 : AIRLOCK_ALG_ED25519;
		fk[i].pub_len = airlock_alg_pub_len(fk[i].alg);
		memset(fk[i].pub, (int)(0x11 * (i + 1)), fk[i].pub_len);
		fk[i].pub[0] = fk[i].alg == AIRLOCK_ALG_P256 ? 0x04 : (uint8_t)i;
		assert_err(airlock_keyid(fk[i].pub, fk[i].pub_len, fk[i].keyid), AIRLOCK_OK);
	}
	for (size_t i = 1; i < NFAKE; i++)
		for (size_t j = i; j > 0 && memcmp(fk[j - 1].keyid, fk[j].keyid, AIRLOCK_KEYID_LEN) > 0; j--) {
			struct fkey t = fk[j];
			fk[j] = fk[j - 1];
			fk[j - 1] = t;
		}
}

static void put_key(struct airlock_cbor_enc *e, const struct fkey *k)
{
	airlock_cbor_put_array(e, 2);
	airlock_cbor_put_int(e, k->alg);
	airlock_cbor_put_bstr(e, k->pub, k->pub_len);
}

/* Keys fk[idx[0..n)] in the order given. */
static void put_keys(struct airlock_cbor_enc *e, const int *idx, size_t n)
{
	airlock_cbor_put_array(e, n);
	for (size_t i = 0; i < n; i++)
		put_key(e, &fk[idx[i]]);
}

static void put_role(struct airlock_cbor_enc *e, uint64_t threshold, const int *idx, size_t n)
{
	airlock_cbor_put_array(e, 2);
	airlock_cbor_put_uint(e, threshold);
	airlock_cbor_put_array(e, n);
	for (size_t i = 0; i < n; i++)
		airlock_cbor_put_bstr(e, fk[idx[i]].keyid, AIRLOCK_KEYID_LEN);
}

/* Default root: keys fk0..fk3; root 2-of-{0,1,2}, release 2-of-{1,2,3},
 * director 1-of-{3}. */
static void roles_default(struct fmap *r)
{
	fm_init(r);
	put_role(fm_set(r, AIRLOCK_ROLE_ROOT), 2, (const int[]){ 0, 1, 2 }, 3);
	put_role(fm_set(r, AIRLOCK_ROLE_RELEASE), 2, (const int[]){ 1, 2, 3 }, 3);
	put_role(fm_set(r, AIRLOCK_ROLE_DIRECTOR), 1, (const int[]){ 3 }, 1);
}

static void root_default(struct fmap *m, const struct fmap *roles)
{
	fm_init(m);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_ROOT);
	airlock_cbor_put_uint(fm_set(m, 1), 1);
	airlock_cbor_put_uint(fm_set(m, 2), 2000000000);
	put_keys(fm_set(m, 3), (const int[]){ 0, 1, 2, 3 }, 4);
	if (roles) {
		fm_put(fm_set(m, 4), roles);
	} else {
		struct fmap *r = malloc(sizeof *r);
		assert_non_null(r);
		roles_default(r);
		fm_put(fm_set(m, 4), r);
		free(r);
	}
}

static const uint8_t digest_a[32] = { 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab };
static const uint8_t digest_b[32] = { 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb };
static const uint8_t prefix8[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void payload_default(struct fmap *p, const char *name)
{
	fm_init(p);
	put_tstr(fm_set(p, 0), name);
	airlock_cbor_put_uint(fm_set(p, 1), 10000);
	airlock_cbor_put_uint(fm_set(p, 2), 4096);
	airlock_cbor_put_bstr(fm_set(p, 3), digest_a, 32);
}

/* Encryption map for a payload of 10000 bytes in 4096-byte chunks:
 * 3 chunks, ciphertext 10000 + 3 * 16 = 10048 bytes. */
static void enc_default(struct fmap *c)
{
	fm_init(c);
	airlock_cbor_put_uint(fm_set(c, 0), AIRLOCK_ENC_AES256GCM_CHUNKED);
	airlock_cbor_put_bstr(fm_set(c, 1), prefix8, 8);
	airlock_cbor_put_uint(fm_set(c, 2), 10048);
	airlock_cbor_put_bstr(fm_set(c, 3), digest_b, 32);
}

/* Payload list of the given payload maps. */
static void put_payloads(struct airlock_cbor_enc *e, struct fmap *const *p, size_t n)
{
	airlock_cbor_put_array(e, n);
	for (size_t i = 0; i < n; i++)
		fm_put(e, p[i]);
}

static void put_strs(struct airlock_cbor_enc *e, const char *const *s, size_t n)
{
	airlock_cbor_put_array(e, n);
	for (size_t i = 0; i < n; i++)
		put_tstr(e, s[i]);
}

/* Default release, with the given payload map (or one default payload). */
static void release_default(struct fmap *m, struct fmap *pl)
{
	fm_init(m);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_RELEASE);
	put_tstr(fm_set(m, 1), "acme-gw");
	put_tstr(fm_set(m, 2), "1.2.3");
	airlock_cbor_put_uint(fm_set(m, 3), 7);
	put_strs(fm_set(m, 4), (const char *const[]){ "board-a", "board-b" }, 2);
	if (pl) {
		put_payloads(fm_set(m, 5), &pl, 1);
	} else {
		struct fmap *p = malloc(sizeof *p);
		assert_non_null(p);
		payload_default(p, "rootfs");
		put_payloads(fm_set(m, 5), &p, 1);
		free(p);
	}
}

static const uint8_t nonce16[16] = { 0x4e, 0x4f, 0x4e, 0x43, 0x45, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };

static void dpayload_default(struct fmap *p)
{
	fm_init(p);
	put_tstr(fm_set(p, 0), "rootfs");
	airlock_cbor_put_uint(fm_set(p, 1), AIRLOCK_ARTIFACT_FULL);
	airlock_cbor_put_bstr(fm_set(p, 2), digest_b, 32);
	airlock_cbor_put_uint(fm_set(p, 3), 10048);
	put_strs(fm_set(p, 4), (const char *const[]){ "https://cdn.example/a/rootfs", "https://mirror.example/rootfs" }, 2);
}

/* Default directive: install, with a wrapped key (any CBOR item). */
static void directive_default(struct fmap *m, struct fmap *dp)
{
	fm_init(m);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_DIRECTIVE);
	put_tstr(fm_set(m, 1), "device-0001");
	airlock_cbor_put_bstr(fm_set(m, 2), nonce16, sizeof nonce16);
	airlock_cbor_put_uint(fm_set(m, 3), 1700000000);
	airlock_cbor_put_uint(fm_set(m, 4), 1700003600);
	airlock_cbor_put_uint(fm_set(m, 5), AIRLOCK_ACTION_INSTALL);
	airlock_cbor_put_bstr(fm_set(m, 6), digest_a, 32);
	struct fmap *p = dp;
	if (!dp) {
		p = malloc(sizeof *p);
		assert_non_null(p);
		dpayload_default(p);
	}
	struct airlock_cbor_enc *pl = fm_set(m, 7);
	airlock_cbor_put_array(pl, 1);
	fm_put(pl, p);
	if (!dp)
		free(p);
	struct airlock_cbor_enc *k = fm_set(m, 8);
	airlock_cbor_put_array(k, 3);
	airlock_cbor_put_uint(k, 1);
	airlock_cbor_put_bstr(k, digest_b, 32);
	airlock_cbor_put_bstr(k, digest_a, 16);
}

/* ---- parse helpers with round trip ---- */

static airlock_err root_parse(const struct fmap *m)
{
	size_t len;
	uint8_t *b = fm_encode(m, &len);
	struct airlock_root r;
	airlock_err err = airlock_root_parse_body(b, len, &r);
	free(b);
	return err;
}

static airlock_err release_parse(const struct fmap *m)
{
	size_t len;
	uint8_t *b = fm_encode(m, &len);
	struct airlock_release r;
	airlock_err err = airlock_release_parse_body(b, len, &r);
	free(b);
	return err;
}

static airlock_err directive_parse(const struct fmap *m)
{
	size_t len;
	uint8_t *b = fm_encode(m, &len);
	struct airlock_directive d;
	airlock_err err = airlock_directive_parse_body(b, len, &d);
	free(b);
	return err;
}

static uint8_t encbuf[BODY_MAX];

static void root_round_trip(const uint8_t *b, size_t len, struct airlock_root *r)
{
	struct airlock_cbor_enc e;
	size_t out;
	assert_err(airlock_root_parse_body(b, len, r), AIRLOCK_OK);
	airlock_cbor_enc_init(&e, encbuf, sizeof encbuf);
	airlock_root_encode_body(r, &e);
	assert_err(airlock_cbor_enc_finish(&e, &out), AIRLOCK_OK);
	assert_int_equal(out, len);
	assert_memory_equal(encbuf, b, len);
}

static void release_round_trip(const uint8_t *b, size_t len, struct airlock_release *r)
{
	struct airlock_cbor_enc e;
	size_t out;
	assert_err(airlock_release_parse_body(b, len, r), AIRLOCK_OK);
	airlock_cbor_enc_init(&e, encbuf, sizeof encbuf);
	airlock_release_encode_body(r, &e);
	assert_err(airlock_cbor_enc_finish(&e, &out), AIRLOCK_OK);
	assert_int_equal(out, len);
	assert_memory_equal(encbuf, b, len);
}

static void directive_round_trip(const uint8_t *b, size_t len, struct airlock_directive *d)
{
	struct airlock_cbor_enc e;
	size_t out;
	assert_err(airlock_directive_parse_body(b, len, d), AIRLOCK_OK);
	airlock_cbor_enc_init(&e, encbuf, sizeof encbuf);
	airlock_directive_encode_body(d, &e);
	assert_err(airlock_cbor_enc_finish(&e, &out), AIRLOCK_OK);
	assert_int_equal(out, len);
	assert_memory_equal(encbuf, b, len);
}

/* Every proper prefix, and the input plus one trailing byte, is refused. */
typedef airlock_err (*parse_fn)(const uint8_t *b, size_t len);

static airlock_err parse_root_raw(const uint8_t *b, size_t len)
{
	struct airlock_root r;
	return airlock_root_parse_body(b, len, &r);
}

static airlock_err parse_release_raw(const uint8_t *b, size_t len)
{
	struct airlock_release r;
	return airlock_release_parse_body(b, len, &r);
}

static airlock_err parse_directive_raw(const uint8_t *b, size_t len)
{
	struct airlock_directive d;
	return airlock_directive_parse_body(b, len, &d);
}

static airlock_err parse_envelope_raw(const uint8_t *b, size_t len)
{
	struct airlock_envelope env;
	return airlock_envelope_parse(b, len, AIRLOCK_RELEASE_MAX_LEN, &env);
}

static void check_truncations(const uint8_t *b, size_t len, parse_fn parse)
{
	assert_err(parse(b, len), AIRLOCK_OK);
	for (size_t n = 0; n < len; n++) {
		uint8_t *p = dup_bytes(b, n);
		airlock_err err = parse(p, n);
		/* A cut inside an item is MALFORMED; a cut between the pairs of
		 * the outer map leaves a short map, also MALFORMED (the count
		 * exceeds the input), never OK. */
		if (err != AIRLOCK_ERR_MALFORMED) {
			print_error("prefix of %zu/%zu bytes: %s\n", n, len, airlock_err_name(err));
			assert_err(err, AIRLOCK_ERR_MALFORMED);
		}
		free(p);
	}
	for (int extra = 0; extra < 3; extra++) {
		static const uint8_t tails[] = { 0x00, 0xa0, 0xff };
		uint8_t *p = malloc(len + 1);
		assert_non_null(p);
		memcpy(p, b, len);
		p[len] = tails[extra];
		assert_err(parse(p, len + 1), AIRLOCK_ERR_TRAILING_DATA);
		free(p);
	}
}

/* ================= envelope ================= */

static uint8_t sigbytes[AIRLOCK_MAX_SIGS + 1][64];

static size_t env_build(uint8_t *out, size_t cap, uint64_t format, uint64_t type,
			const uint8_t *body, size_t body_len, size_t n_sigs)
{
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_cbor_put_array(&e, 4);
	airlock_cbor_put_uint(&e, format);
	airlock_cbor_put_uint(&e, type);
	airlock_cbor_put_bstr(&e, body, body_len);
	airlock_cbor_put_array(&e, n_sigs);
	for (size_t i = 0; i < n_sigs; i++) {
		airlock_cbor_put_array(&e, 3);
		airlock_cbor_put_bstr(&e, fk[i % NFAKE].keyid, 32);
		airlock_cbor_put_int(&e, i % 2 ? AIRLOCK_ALG_P256 : AIRLOCK_ALG_ED25519);
		airlock_cbor_put_bstr(&e, sigbytes[i], 64);
	}
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

static airlock_err env_parse_bytes(const uint8_t *b, size_t len, struct airlock_envelope *env)
{
	uint8_t *p = dup_bytes(b, len);
	airlock_err err = airlock_envelope_parse(p, len, AIRLOCK_RELEASE_MAX_LEN, env);
	free(p);
	return err;
}

static const uint8_t small_body[] = { 0xa1, 0x00, 0x02 };

static void test_envelope_round_trip(void **state)
{
	(void)state;
	for (size_t i = 0; i <= AIRLOCK_MAX_SIGS; i++)
		memset(sigbytes[i], (int)(0x40 + i), 64);
	uint8_t buf[4096];
	for (size_t n = 0; n <= AIRLOCK_MAX_SIGS; n++) {
		size_t len = env_build(buf, sizeof buf, 1, AIRLOCK_META_RELEASE, small_body, sizeof small_body, n);
		uint8_t *p = dup_bytes(buf, len);
		struct airlock_envelope env;
		assert_err(airlock_envelope_parse(p, len, AIRLOCK_RELEASE_MAX_LEN, &env), AIRLOCK_OK);
		assert_int_equal(env.type, AIRLOCK_META_RELEASE);
		assert_int_equal(env.body.len, sizeof small_body);
		assert_memory_equal(env.body.ptr, small_body, sizeof small_body);
		assert_int_equal(env.n_sigs, n);
		for (size_t i = 0; i < n; i++) {
			assert_memory_equal(env.sigs[i].keyid, fk[i].keyid, 32);
			assert_int_equal(env.sigs[i].alg, i % 2 ? AIRLOCK_ALG_P256 : AIRLOCK_ALG_ED25519);
			assert_int_equal(env.sigs[i].sig.len, 64);
			assert_memory_equal(env.sigs[i].sig.ptr, sigbytes[i], 64);
		}
		struct airlock_cbor_enc e;
		size_t out;
		airlock_cbor_enc_init(&e, encbuf, sizeof encbuf);
		airlock_envelope_encode(&env, &e);
		assert_err(airlock_cbor_enc_finish(&e, &out), AIRLOCK_OK);
		assert_int_equal(out, len);
		assert_memory_equal(encbuf, p, len);
		free(p);
	}
	/* Every type, and an empty body (parsing the body is not its job). */
	for (uint64_t t = AIRLOCK_META_ROOT; t <= AIRLOCK_META_DIRECTIVE; t++) {
		size_t len = env_build(buf, sizeof buf, 1, t, small_body, 0, 1);
		struct airlock_envelope env;
		assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_OK);
		assert_int_equal(env.type, t);
		assert_int_equal(env.body.len, 0);
	}
}

static void test_envelope_refusals(void **state)
{
	(void)state;
	uint8_t buf[8192];
	struct airlock_envelope env;
	size_t len;

	/* Format versions other than 1. */
	len = env_build(buf, sizeof buf, 2, AIRLOCK_META_RELEASE, small_body, sizeof small_body, 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_UNSUPPORTED_VERSION);
	len = env_build(buf, sizeof buf, 0, AIRLOCK_META_RELEASE, small_body, sizeof small_body, 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_UNSUPPORTED_VERSION);
	len = env_build(buf, sizeof buf, UINT64_MAX, AIRLOCK_META_RELEASE, small_body, sizeof small_body, 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_UNSUPPORTED_VERSION);

	/* Unknown metadata types. */
	len = env_build(buf, sizeof buf, 1, 0, small_body, sizeof small_body, 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_WRONG_TYPE);
	len = env_build(buf, sizeof buf, 1, 4, small_body, sizeof small_body, 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_WRONG_TYPE);

	/* More signatures than the limit. */
	len = env_build(buf, sizeof buf, 1, AIRLOCK_META_RELEASE, small_body, sizeof small_body, AIRLOCK_MAX_SIGS + 1);
	assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_LIMIT);

	/* Trailing bytes after the envelope. */
	len = env_build(buf, sizeof buf, 1, AIRLOCK_META_RELEASE, small_body, sizeof small_body, 2);
	buf[len] = 0x00;
	assert_err(env_parse_bytes(buf, len + 1, &env), AIRLOCK_ERR_TRAILING_DATA);

	/* Size limit: exactly max_len is fine, one byte less of allowance is not. */
	uint8_t *p = dup_bytes(buf, len);
	assert_err(airlock_envelope_parse(p, len, len, &env), AIRLOCK_OK);
	assert_err(airlock_envelope_parse(p, len, len - 1, &env), AIRLOCK_ERR_TOO_LARGE);
	assert_err(airlock_envelope_parse(NULL, len, len, &env), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_envelope_parse(p, len, len, NULL), AIRLOCK_ERR_INVALID_ARG);
	free(p);
	/* A release file above AIRLOCK_RELEASE_MAX_LEN, however well-formed. */
	{
		size_t big_body = AIRLOCK_RELEASE_MAX_LEN;
		uint8_t *body = calloc(1, big_body);
		uint8_t *big = malloc(big_body + 1024);
		assert_non_null(body);
		assert_non_null(big);
		size_t blen = env_build(big, big_body + 1024, 1, AIRLOCK_META_RELEASE, body, big_body, 1);
		assert_err(airlock_envelope_parse(big, blen, AIRLOCK_RELEASE_MAX_LEN, &env), AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_envelope_parse(big, blen, blen, &env), AIRLOCK_OK);
		free(body);
		free(big);
	}

	/* Hand-made shapes. Keyid k = 32 x 0x11, sig = 64 x 0x22. */
	static const struct { const char *hex; airlock_err want; } cases[] = {
		/* not an array */
		{ "a0", AIRLOCK_ERR_WRONG_TYPE },
		/* 3 and 5 elements */
		{ "83010243a1000280", AIRLOCK_ERR_MALFORMED },
		{ "85010243a100028000", AIRLOCK_ERR_MALFORMED },
		/* the minimal valid one: no signatures */
		{ "84010243a1000280", AIRLOCK_OK },
		/* format as a non-canonical integer (0x18 0x01) */
		{ "8418010243a1000280", AIRLOCK_ERR_NONCANONICAL },
		/* format as a negative integer */
		{ "84200243a1000280", AIRLOCK_ERR_WRONG_TYPE },
		/* body as a text string, and as a map */
		{ "84010263a1000280", AIRLOCK_ERR_WRONG_TYPE },
		{ "840102a1000280", AIRLOCK_ERR_WRONG_TYPE },
		/* signatures as a map */
		{ "84010243a10002a0", AIRLOCK_ERR_WRONG_TYPE },
		/* indefinite-length signature array */
		{ "84010243a100029fff", AIRLOCK_ERR_NONCANONICAL },
		/* a signature of 2 and 4 fields */
		{ "84010243a10002818258201111111111111111111111111111111111111111111111111111111111111111"
		  "27", AIRLOCK_ERR_MALFORMED },
		{ "84010243a10002818458201111111111111111111111111111111111111111111111111111111111111111"
		  "274122" "00", AIRLOCK_ERR_MALFORMED },
		/* keyid as an indefinite-length byte string, then of 31 bytes */
		{ "84010243a1000281835fff274122", AIRLOCK_ERR_NONCANONICAL },
		{ "84010243a100028183581f11111111111111111111111111111111111111111111111111111111111111"
		  "274122", AIRLOCK_ERR_BAD_VALUE },
		/* empty signature, 1-byte signature (allowed here; verification refuses it) */
		{ "84010243a10002818358201111111111111111111111111111111111111111111111111111111111111111"
		  "2740", AIRLOCK_ERR_BAD_VALUE },
		{ "84010243a10002818358201111111111111111111111111111111111111111111111111111111111111111"
		  "274122", AIRLOCK_OK },
		/* alg as a text string */
		{ "84010243a10002818358201111111111111111111111111111111111111111111111111111111111111111"
		  "61784122", AIRLOCK_ERR_WRONG_TYPE },
		/* alg beyond int64 (-2^64) */
		{ "84010243a10002818358201111111111111111111111111111111111111111111111111111111111111111"
		  "3bffffffffffffffff4122", AIRLOCK_ERR_BAD_VALUE },
		/* a tag around the envelope */
		{ "d84084010243a1000280", AIRLOCK_ERR_NONCANONICAL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t raw[512];
		size_t n = test_hex(cases[i].hex, raw, sizeof raw);
		airlock_err got = env_parse_bytes(raw, n, &env);
		if (got != cases[i].want)
			print_error("envelope case %zu (%s)\n", i, cases[i].hex);
		assert_err(got, cases[i].want);
	}

	/* A signature of 65 bytes. */
	{
		struct airlock_cbor_enc e;
		airlock_cbor_enc_init(&e, buf, sizeof buf);
		airlock_cbor_put_array(&e, 4);
		airlock_cbor_put_uint(&e, 1);
		airlock_cbor_put_uint(&e, 2);
		airlock_cbor_put_bstr(&e, small_body, sizeof small_body);
		airlock_cbor_put_array(&e, 1);
		airlock_cbor_put_array(&e, 3);
		airlock_cbor_put_bstr(&e, fk[0].keyid, 32);
		airlock_cbor_put_int(&e, AIRLOCK_ALG_ED25519);
		uint8_t sig65[65] = { 0 };
		airlock_cbor_put_bstr(&e, sig65, sizeof sig65);
		assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
		assert_err(env_parse_bytes(buf, len, &env), AIRLOCK_ERR_BAD_VALUE);
	}
}

static void test_envelope_truncations(void **state)
{
	(void)state;
	for (size_t i = 0; i <= AIRLOCK_MAX_SIGS; i++)
		memset(sigbytes[i], (int)(0x40 + i), 64);
	uint8_t buf[4096];
	struct fmap *m = malloc(sizeof *m);
	assert_non_null(m);
	release_default(m, NULL);
	size_t blen;
	uint8_t *body = fm_encode(m, &blen);
	size_t len = env_build(buf, sizeof buf, 1, AIRLOCK_META_RELEASE, body, blen, 3);
	check_truncations(buf, len, parse_envelope_raw);
	free(body);
	free(m);
}

/* ================= root ================= */

static void test_root_round_trip(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	assert_non_null(m);
	root_default(m, NULL);
	size_t len;
	uint8_t *b = fm_encode(m, &len);
	struct airlock_root r;
	root_round_trip(b, len, &r);
	assert_int_equal(r.version, 1);
	assert_int_equal(r.expires, 2000000000);
	assert_int_equal(r.n_keys, 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(r.keys[i].alg, fk[i].alg);
		assert_int_equal(r.keys[i].pub.len, fk[i].pub_len);
		assert_memory_equal(r.keys[i].pub.ptr, fk[i].pub, fk[i].pub_len);
		assert_memory_equal(r.keys[i].keyid, fk[i].keyid, 32);
		/* Views into the input. */
		assert_true(r.keys[i].pub.ptr >= b && r.keys[i].pub.ptr < b + len);
	}
	assert_int_equal(r.roles[AIRLOCK_ROLE_ROOT].threshold, 2);
	assert_int_equal(r.roles[AIRLOCK_ROLE_ROOT].n_keyids, 3);
	assert_int_equal(r.roles[AIRLOCK_ROLE_RELEASE].threshold, 2);
	assert_int_equal(r.roles[AIRLOCK_ROLE_DIRECTOR].threshold, 1);
	assert_int_equal(r.roles[AIRLOCK_ROLE_DIRECTOR].n_keyids, 1);
	assert_ptr_equal(airlock_root_find_key(&r, fk[2].keyid), &r.keys[2]);
	assert_null(airlock_root_find_key(&r, fk[4].keyid));
	assert_true(airlock_root_role_has(&r, AIRLOCK_ROLE_ROOT, fk[0].keyid));
	assert_false(airlock_root_role_has(&r, AIRLOCK_ROLE_RELEASE, fk[0].keyid));
	assert_true(airlock_root_role_has(&r, AIRLOCK_ROLE_DIRECTOR, fk[3].keyid));
	assert_false(airlock_root_role_has(&r, AIRLOCK_ROLE_DIRECTOR, fk[2].keyid));
	assert_false(airlock_root_role_has(&r, (enum airlock_role)0, fk[0].keyid));
	assert_false(airlock_root_role_has(&r, (enum airlock_role)4, fk[0].keyid));
	check_truncations(b, len, parse_root_raw);
	free(b);

	/* Large values, a P-256 key, all 16 keys and 16 key ids in a role. */
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 1), UINT64_MAX);
	airlock_cbor_put_uint(fm_set(m, 2), 0);
	int all[AIRLOCK_MAX_KEYS];
	for (int i = 0; i < AIRLOCK_MAX_KEYS; i++)
		all[i] = i;
	put_keys(fm_set(m, 3), all, AIRLOCK_MAX_KEYS);
	struct fmap *roles = malloc(sizeof *roles);
	assert_non_null(roles);
	roles_default(roles);
	put_role(fm_set(roles, AIRLOCK_ROLE_ROOT), AIRLOCK_MAX_ROLE_KEYS, all, AIRLOCK_MAX_ROLE_KEYS);
	fm_put(fm_set(m, 4), roles);
	b = fm_encode(m, &len);
	root_round_trip(b, len, &r);
	assert_int_equal(r.n_keys, AIRLOCK_MAX_KEYS);
	assert_int_equal(r.version, UINT64_MAX);
	free(b);
	free(roles);
	free(m);
}

static void test_root_fields(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	assert_non_null(m);

	/* Each required field missing (without keys, the roles are refused
	 * as soon as they are reached, with the same error). */
	for (int64_t k = 0; k <= 4; k++) {
		root_default(m, NULL);
		fm_del(m, k);
		assert_err(root_parse(m), AIRLOCK_ERR_MISSING_FIELD);
	}
	root_default(m, NULL);
	fm_del(m, 3);
	fm_del(m, 4);
	assert_err(root_parse(m), AIRLOCK_ERR_MISSING_FIELD);
	root_default(m, NULL);
	fm_del(m, 0);
	fm_del(m, 1);
	fm_del(m, 2);
	fm_del(m, 3);
	fm_del(m, 4);
	assert_err(root_parse(m), AIRLOCK_ERR_MISSING_FIELD);

	/* Unknown critical keys; unknown extensions (negative keys) skipped. */
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 5), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 1000000), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	root_default(m, NULL);
	put_tstr(fm_set(m, -1), "note");
	{
		struct airlock_cbor_enc *e = fm_set(m, -100);
		airlock_cbor_put_map(e, 2);
		airlock_cbor_put_uint(e, 0);
		airlock_cbor_put_array(e, 0);
		airlock_cbor_put_int(e, -1);
		airlock_cbor_put_bool(e, true);
	}
	assert_err(root_parse(m), AIRLOCK_OK);
	/* An extension must still be canonical, well-formed CBOR. */
	root_default(m, NULL);
	{
		static const uint8_t tagged[] = { 0xc1, 0x00 };
		airlock_cbor_put_raw(fm_set(m, -1), tagged, sizeof tagged);
	}
	assert_err(root_parse(m), AIRLOCK_ERR_NONCANONICAL);
	root_default(m, NULL);
	{
		static const uint8_t unsorted_map[] = { 0xa2, 0x01, 0x00, 0x00, 0x00 };
		airlock_cbor_put_raw(fm_set(m, -1), unsorted_map, sizeof unsorted_map);
	}
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	/* An extension nests at most AIRLOCK_CBOR_MAX_DEPTH containers (counted
	 * from the extension's value, not from the top of the body). */
	for (int depth = AIRLOCK_CBOR_MAX_DEPTH; depth <= AIRLOCK_CBOR_MAX_DEPTH + 1; depth++) {
		uint8_t nest[AIRLOCK_CBOR_MAX_DEPTH + 1];
		memset(nest, 0x81, sizeof nest);
		nest[depth - 1] = 0x80;
		root_default(m, NULL);
		airlock_cbor_put_raw(fm_set(m, -1), nest, (size_t)depth);
		assert_err(root_parse(m), depth <= AIRLOCK_CBOR_MAX_DEPTH ? AIRLOCK_OK : AIRLOCK_ERR_LIMIT);
	}

	/* Repeated and misordered keys. */
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_add(m, 2), 2000000000);
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_add(m, 0), AIRLOCK_META_ROOT);
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	root_default(m, NULL);
	fm_del(m, 1);
	airlock_cbor_put_uint(fm_add(m, 1), 1);  /* 1 after 4 */
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	root_default(m, NULL);
	fm_del(m, 0);
	airlock_cbor_put_uint(fm_add(m, 0), AIRLOCK_META_ROOT);  /* 0 after 4 */
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	/* A negative key sorts after every non-negative one. */
	root_default(m, NULL);
	m->keep_order = true;
	fm_del(m, 0);
	fm_del(m, 1);
	fm_del(m, 2);
	fm_del(m, 3);
	fm_del(m, 4);
	airlock_cbor_put_uint(fm_add(m, -1), 0);
	airlock_cbor_put_uint(fm_add(m, 0), AIRLOCK_META_ROOT);
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	/* A text-string map key. */
	{
		static const uint8_t b[] = { 0xa1, 0x61, 0x76, 0x01 };
		struct airlock_root r;
		uint8_t *p = dup_bytes(b, sizeof b);
		assert_err(airlock_root_parse_body(p, sizeof b, &r), AIRLOCK_ERR_WRONG_TYPE);
		free(p);
	}

	/* Type field: another type, or not an unsigned integer. */
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_RELEASE);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	root_default(m, NULL);
	put_tstr(fm_set(m, 0), "root");
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 0), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Version 0 is not a version; negative numbers are not uints. */
	root_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 1), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	root_default(m, NULL);
	airlock_cbor_put_int(fm_set(m, 1), -1);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	root_default(m, NULL);
	airlock_cbor_put_int(fm_set(m, 2), -5);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Not a map at all; an empty map; trailing bytes. */
	{
		static const uint8_t arr[] = { 0x80 };
		static const uint8_t empty[] = { 0xa0 };
		struct airlock_root r;
		uint8_t *p = dup_bytes(arr, 1);
		assert_err(airlock_root_parse_body(p, 1, &r), AIRLOCK_ERR_WRONG_TYPE);
		free(p);
		p = dup_bytes(empty, 1);
		assert_err(airlock_root_parse_body(p, 1, &r), AIRLOCK_ERR_MISSING_FIELD);
		free(p);
		assert_err(airlock_root_parse_body(NULL, 0, &r), AIRLOCK_ERR_INVALID_ARG);
		assert_err(airlock_root_parse_body(arr, 1, NULL), AIRLOCK_ERR_INVALID_ARG);
	}
	free(m);
}

static void test_root_keys(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *roles = malloc(sizeof *roles);
	assert_non_null(m);
	assert_non_null(roles);
	int all[NFAKE];
	for (int i = 0; i < NFAKE; i++)
		all[i] = i;

	/* 17 keys: over the limit. 0 keys: nothing to trust. */
	root_default(m, NULL);
	put_keys(fm_set(m, 3), all, AIRLOCK_MAX_KEYS + 1);
	assert_err(root_parse(m), AIRLOCK_ERR_LIMIT);
	root_default(m, NULL);
	put_keys(fm_set(m, 3), all, 0);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* Keys unsorted by key id, or one key listed twice. */
	root_default(m, NULL);
	put_keys(fm_set(m, 3), (const int[]){ 0, 2, 1, 3 }, 4);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	root_default(m, NULL);
	put_keys(fm_set(m, 3), (const int[]){ 0, 1, 1, 2, 3 }, 5);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	root_default(m, NULL);
	put_keys(fm_set(m, 3), (const int[]){ 3, 2, 1, 0 }, 4);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* Public key of the wrong length for its algorithm. */
	static const struct { int64_t alg; size_t len; airlock_err want; } lens[] = {
		{ AIRLOCK_ALG_ED25519, 31, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_ED25519, 33, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_ED25519, 0, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_ED25519, 65, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_P256, 64, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_P256, 33, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_P256, 32, AIRLOCK_ERR_BAD_KEY },
		{ AIRLOCK_ALG_P256, 66, AIRLOCK_ERR_BAD_KEY },
		/* Key agreement keys and unknown algorithms never sign. */
		{ AIRLOCK_ALG_X25519, 32, AIRLOCK_ERR_UNSUPPORTED_ALG },
		{ 0, 32, AIRLOCK_ERR_UNSUPPORTED_ALG },
		{ -9, 32, AIRLOCK_ERR_UNSUPPORTED_ALG },
		{ 8, 32, AIRLOCK_ERR_UNSUPPORTED_ALG },
		{ -35, 97, AIRLOCK_ERR_UNSUPPORTED_ALG },
	};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		uint8_t pub[128];
		memset(pub, 0x04, sizeof pub);
		root_default(m, NULL);
		struct airlock_cbor_enc *e = fm_set(m, 3);
		airlock_cbor_put_array(e, 5);
		for (int k = 0; k < 4; k++)
			put_key(e, &fk[k]);
		airlock_cbor_put_array(e, 2);
		airlock_cbor_put_int(e, lens[i].alg);
		airlock_cbor_put_bstr(e, pub, lens[i].len);
		assert_err(root_parse(m), lens[i].want);
	}
	/* An X25519 key alone in a root. */
	{
		uint8_t pub[32];
		memset(pub, 9, sizeof pub);
		root_default(m, NULL);
		struct airlock_cbor_enc *e = fm_set(m, 3);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_array(e, 2);
		airlock_cbor_put_int(e, AIRLOCK_ALG_X25519);
		airlock_cbor_put_bstr(e, pub, sizeof pub);
		assert_err(root_parse(m), AIRLOCK_ERR_UNSUPPORTED_ALG);
	}

	/* A key entry of 1 or 3 elements, or not an array; the key as a tstr. */
	root_default(m, NULL);
	{
		struct airlock_cbor_enc *e = fm_set(m, 3);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_array(e, 3);
		airlock_cbor_put_int(e, fk[0].alg);
		airlock_cbor_put_bstr(e, fk[0].pub, fk[0].pub_len);
		airlock_cbor_put_uint(e, 0);
	}
	assert_err(root_parse(m), AIRLOCK_ERR_MALFORMED);
	root_default(m, NULL);
	{
		struct airlock_cbor_enc *e = fm_set(m, 3);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_int(e, fk[0].alg);
	}
	assert_err(root_parse(m), AIRLOCK_ERR_MALFORMED);
	root_default(m, NULL);
	{
		struct airlock_cbor_enc *e = fm_set(m, 3);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_array(e, 2);
		airlock_cbor_put_int(e, fk[0].alg);
		airlock_cbor_put_tstr(e, "abcdefghijklmnopqrstuvwxyz012345", 32);
	}
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	root_default(m, NULL);
	airlock_cbor_put_map(fm_set(m, 3), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	free(roles);
	free(m);
}

static void test_root_roles(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *r = malloc(sizeof *r);
	assert_non_null(m);
	assert_non_null(r);
	int all[NFAKE];
	for (int i = 0; i < NFAKE; i++)
		all[i] = i;

	/* Each role missing. */
	for (int64_t role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		roles_default(r);
		fm_del(r, role);
		root_default(m, r);
		assert_err(root_parse(m), AIRLOCK_ERR_MISSING_FIELD);
	}
	/* Unknown roles: 0 and 4 are critical, -1 is skipped. */
	roles_default(r);
	put_role(fm_set(r, 0), 1, (const int[]){ 0 }, 1);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	roles_default(r);
	put_role(fm_set(r, 4), 1, (const int[]){ 0 }, 1);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	roles_default(r);
	put_role(fm_set(r, -1), 1, (const int[]){ 0 }, 1);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_OK);
	/* A role repeated or out of order. */
	roles_default(r);
	put_role(fm_add(r, AIRLOCK_ROLE_DIRECTOR), 1, (const int[]){ 3 }, 1);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	roles_default(r);
	fm_del(r, AIRLOCK_ROLE_ROOT);
	put_role(fm_add(r, AIRLOCK_ROLE_ROOT), 2, (const int[]){ 0, 1, 2 }, 3);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);

	/* Role key id not among the root's keys (fk4 is not listed). */
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_RELEASE), 2, (const int[]){ 1, 2, 4 }, 3);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	/* Key ids unsorted, or repeated (a repeat would count twice). */
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_RELEASE), 2, (const int[]){ 2, 1, 3 }, 3);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_RELEASE), 2, (const int[]){ 1, 1 }, 2);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	/* Key id of 31 bytes. */
	roles_default(r);
	{
		struct airlock_cbor_enc *e = fm_set(r, AIRLOCK_ROLE_DIRECTOR);
		airlock_cbor_put_array(e, 2);
		airlock_cbor_put_uint(e, 1);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_bstr(e, fk[3].keyid, 31);
	}
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* Thresholds: 0, above n, above 2^32, exactly n, negative. */
	static const struct { uint64_t t; size_t n; airlock_err want; } th[] = {
		{ 0, 3, AIRLOCK_ERR_BAD_VALUE }, { 4, 3, AIRLOCK_ERR_BAD_VALUE },
		{ 3, 3, AIRLOCK_OK }, { 1, 3, AIRLOCK_OK }, { 2, 1, AIRLOCK_ERR_BAD_VALUE },
		{ 0x100000001ull, 3, AIRLOCK_ERR_BAD_VALUE }, { UINT32_MAX, 3, AIRLOCK_ERR_BAD_VALUE },
	};
	for (size_t i = 0; i < sizeof th / sizeof th[0]; i++) {
		roles_default(r);
		put_role(fm_set(r, AIRLOCK_ROLE_ROOT), th[i].t, (const int[]){ 0, 1, 2 }, th[i].n);
		root_default(m, r);
		assert_err(root_parse(m), th[i].want);
	}
	roles_default(r);
	{
		struct airlock_cbor_enc *e = fm_set(r, AIRLOCK_ROLE_ROOT);
		airlock_cbor_put_array(e, 2);
		airlock_cbor_put_int(e, -1);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_bstr(e, fk[0].keyid, 32);
	}
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Role with no key ids, and with more than the limit. */
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_DIRECTOR), 1, all, 0);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_BAD_VALUE);
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_DIRECTOR), 1, all, AIRLOCK_MAX_ROLE_KEYS + 1);
	root_default(m, r);
	put_keys(fm_set(m, 3), all, AIRLOCK_MAX_KEYS);
	assert_err(root_parse(m), AIRLOCK_ERR_LIMIT);

	/* Role entry of the wrong shape. */
	roles_default(r);
	{
		struct airlock_cbor_enc *e = fm_set(r, AIRLOCK_ROLE_DIRECTOR);
		airlock_cbor_put_array(e, 3);
		airlock_cbor_put_uint(e, 1);
		airlock_cbor_put_array(e, 1);
		airlock_cbor_put_bstr(e, fk[3].keyid, 32);
		airlock_cbor_put_uint(e, 0);
	}
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_ERR_MALFORMED);
	root_default(m, NULL);
	airlock_cbor_put_array(fm_set(m, 4), 0);
	assert_err(root_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* One key in several roles is allowed (the roles still differ by
	 * what they sign). */
	roles_default(r);
	put_role(fm_set(r, AIRLOCK_ROLE_DIRECTOR), 1, (const int[]){ 0, 1, 2, 3 }, 4);
	root_default(m, r);
	assert_err(root_parse(m), AIRLOCK_OK);

	free(r);
	free(m);
}

/* ================= release ================= */

static void test_release_round_trip(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *p[2];
	struct fmap *c = malloc(sizeof *c);
	p[0] = malloc(sizeof *p[0]);
	p[1] = malloc(sizeof *p[1]);
	assert_non_null(m);
	assert_non_null(c);
	assert_non_null(p[0]);
	assert_non_null(p[1]);
	struct airlock_release rel;
	size_t len;
	uint8_t *b;

	release_default(m, NULL);
	b = fm_encode(m, &len);
	release_round_trip(b, len, &rel);
	assert_int_equal(rel.product.len, 7);
	assert_memory_equal(rel.product.ptr, "acme-gw", 7);
	assert_memory_equal(rel.version.ptr, "1.2.3", 5);
	assert_int_equal(rel.security_version, 7);
	assert_int_equal(rel.n_hardware, 2);
	assert_memory_equal(rel.hardware[1].ptr, "board-b", 7);
	assert_int_equal(rel.n_payloads, 1);
	assert_int_equal(rel.payloads[0].size, 10000);
	assert_int_equal(rel.payloads[0].chunk_size, 4096);
	assert_memory_equal(rel.payloads[0].digest, digest_a, 32);
	assert_false(rel.payloads[0].encrypted);
	assert_int_equal(rel.expires, 0);
	assert_ptr_equal(airlock_release_find_payload(&rel, "rootfs", 6), &rel.payloads[0]);
	assert_null(airlock_release_find_payload(&rel, "rootf", 5));
	assert_null(airlock_release_find_payload(&rel, "rootfs2", 7));
	check_truncations(b, len, parse_release_raw);
	free(b);

	/* Two payloads (the second encrypted), an expiry. */
	payload_default(p[0], "bootloader");
	airlock_cbor_put_uint(fm_set(p[0], 1), 1);
	payload_default(p[1], "rootfs");
	enc_default(c);
	fm_put(fm_set(p[1], 4), c);
	release_default(m, NULL);
	put_payloads(fm_set(m, 5), p, 2);
	airlock_cbor_put_uint(fm_set(m, 6), 1900000000);
	b = fm_encode(m, &len);
	release_round_trip(b, len, &rel);
	assert_int_equal(rel.n_payloads, 2);
	assert_int_equal(rel.expires, 1900000000);
	assert_true(rel.payloads[1].encrypted);
	assert_int_equal(rel.payloads[1].enc.alg, AIRLOCK_ENC_AES256GCM_CHUNKED);
	assert_int_equal(rel.payloads[1].enc.size, 10048);
	assert_memory_equal(rel.payloads[1].enc.nonce_prefix, prefix8, 8);
	assert_memory_equal(rel.payloads[1].enc.sha256, digest_b, 32);
	assert_ptr_equal(airlock_release_find_payload(&rel, "bootloader", 10), &rel.payloads[0]);
	check_truncations(b, len, parse_release_raw);
	free(b);

	/* Encrypted sizes at the edges: empty payload (one empty chunk), exact chunks. */
	static const struct { uint64_t size; uint64_t enc; } es[] = {
		{ 0, 16 }, { 1, 17 }, { 4096, 4112 }, { 4097, 4129 }, { 3 * 4096, 3 * 4096 + 48 },
	};
	for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
		payload_default(p[0], "img");
		airlock_cbor_put_uint(fm_set(p[0], 1), es[i].size);
		enc_default(c);
		airlock_cbor_put_uint(fm_set(c, 2), es[i].enc);
		fm_put(fm_set(p[0], 4), c);
		release_default(m, p[0]);
		b = fm_encode(m, &len);
		release_round_trip(b, len, &rel);
		free(b);
	}

	/* 16 hardware ids and 16 payloads (the limits). */
	{
		static char hw[AIRLOCK_MAX_HARDWARE][8];
		const char *hws[AIRLOCK_MAX_HARDWARE];
		for (int i = 0; i < AIRLOCK_MAX_HARDWARE; i++) {
			snprintf(hw[i], sizeof hw[i], "hw-%02d", i);
			hws[i] = hw[i];
		}
		release_default(m, NULL);
		put_strs(fm_set(m, 4), hws, AIRLOCK_MAX_HARDWARE);
		struct airlock_cbor_enc *e = fm_set(m, 5);
		airlock_cbor_put_array(e, AIRLOCK_MAX_PAYLOADS);
		for (int i = 0; i < AIRLOCK_MAX_PAYLOADS; i++) {
			payload_default(p[0], hw[i]);
			fm_put(e, p[0]);
		}
		b = fm_encode(m, &len);
		release_round_trip(b, len, &rel);
		assert_int_equal(rel.n_hardware, AIRLOCK_MAX_HARDWARE);
		assert_int_equal(rel.n_payloads, AIRLOCK_MAX_PAYLOADS);
		free(b);
	}
	free(p[0]);
	free(p[1]);
	free(c);
	free(m);
}

static void test_release_fields(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *p = malloc(sizeof *p);
	struct fmap *c = malloc(sizeof *c);
	assert_non_null(m);
	assert_non_null(p);
	assert_non_null(c);

	/* Required top-level fields; expires (6) is optional. */
	for (int64_t k = 0; k <= 6; k++) {
		release_default(m, NULL);
		fm_del(m, k);
		assert_err(release_parse(m), k == 6 ? AIRLOCK_OK : AIRLOCK_ERR_MISSING_FIELD);
	}
	/* Required payload fields; encryption (4) is optional. */
	for (int64_t k = 0; k <= 4; k++) {
		payload_default(p, "rootfs");
		fm_del(p, k);
		release_default(m, p);
		assert_err(release_parse(m), k == 4 ? AIRLOCK_OK : AIRLOCK_ERR_MISSING_FIELD);
	}
	/* Every encryption field is required once the map is there. */
	for (int64_t k = 0; k <= 3; k++) {
		payload_default(p, "rootfs");
		enc_default(c);
		fm_del(c, k);
		fm_put(fm_set(p, 4), c);
		release_default(m, p);
		assert_err(release_parse(m), AIRLOCK_ERR_MISSING_FIELD);
	}

	/* Unknown critical fields at each level; extensions skipped. */
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 7), 1);
	assert_err(release_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 23), 1);
	assert_err(release_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	payload_default(p, "rootfs");
	airlock_cbor_put_uint(fm_set(p, 5), 1);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	payload_default(p, "rootfs");
	enc_default(c);
	airlock_cbor_put_uint(fm_set(c, 4), 1);
	fm_put(fm_set(p, 4), c);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	payload_default(p, "rootfs");
	enc_default(c);
	put_tstr(fm_set(c, -7), "x");
	fm_put(fm_set(p, 4), c);
	put_tstr(fm_set(p, -2), "component: rootfs");
	release_default(m, p);
	put_tstr(fm_set(m, -1), "release notes");
	assert_err(release_parse(m), AIRLOCK_OK);

	/* Repeated and misordered keys, at the top and in a payload. */
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_add(m, 3), 7);
	assert_err(release_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	release_default(m, NULL);
	fm_del(m, 1);
	put_tstr(fm_add(m, 1), "acme-gw");
	assert_err(release_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	payload_default(p, "rootfs");
	airlock_cbor_put_uint(fm_add(p, 1), 10000);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);

	/* Trailing bytes after the body map. */
	{
		release_default(m, NULL);
		size_t len;
		uint8_t *b = fm_encode(m, &len);
		uint8_t *t = malloc(len + 1);
		assert_non_null(t);
		memcpy(t, b, len);
		t[len] = 0xf5;
		struct airlock_release rel;
		assert_err(airlock_release_parse_body(t, len + 1, &rel), AIRLOCK_ERR_TRAILING_DATA);
		free(t);
		free(b);
	}

	/* Type field. */
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_ROOT);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_DIRECTIVE);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* security_version: a negative or non-integer value. */
	release_default(m, NULL);
	airlock_cbor_put_int(fm_set(m, 3), -7);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	release_default(m, NULL);
	put_tstr(fm_set(m, 3), "7");
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	/* expires present but 0 (the encoder writes "no expiry" by omission). */
	release_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 6), 0);
	assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* Counts: 0 or too many hardware ids and payloads. */
	{
		const char *hws[AIRLOCK_MAX_HARDWARE + 1];
		static char hw[AIRLOCK_MAX_HARDWARE + 1][8];
		for (int i = 0; i <= AIRLOCK_MAX_HARDWARE; i++) {
			snprintf(hw[i], sizeof hw[i], "hw-%02d", i);
			hws[i] = hw[i];
		}
		release_default(m, NULL);
		put_strs(fm_set(m, 4), hws, AIRLOCK_MAX_HARDWARE + 1);
		assert_err(release_parse(m), AIRLOCK_ERR_LIMIT);
		release_default(m, NULL);
		put_strs(fm_set(m, 4), hws, 0);
		assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
		release_default(m, NULL);
		struct airlock_cbor_enc *e = fm_set(m, 5);
		airlock_cbor_put_array(e, AIRLOCK_MAX_PAYLOADS + 1);
		for (int i = 0; i <= AIRLOCK_MAX_PAYLOADS; i++) {
			payload_default(p, hw[i]);
			fm_put(e, p);
		}
		assert_err(release_parse(m), AIRLOCK_ERR_LIMIT);
		release_default(m, NULL);
		airlock_cbor_put_array(fm_set(m, 5), 0);
		assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
	}

	/* Hardware ids: unsorted, repeated, prefix order, bad labels. */
	static const struct { const char *hw[3]; size_t n; airlock_err want; } hwc[] = {
		{ { "board-b", "board-a" }, 2, AIRLOCK_ERR_BAD_VALUE },
		{ { "board-a", "board-a" }, 2, AIRLOCK_ERR_BAD_VALUE },
		{ { "board-a", "board-a2", "board-b" }, 3, AIRLOCK_OK },
		{ { "board-a2", "board-a" }, 2, AIRLOCK_ERR_BAD_VALUE },
		{ { "B", "a" }, 2, AIRLOCK_OK },           /* bytewise: 'B' < 'a' */
		{ { "a", "B" }, 2, AIRLOCK_ERR_BAD_VALUE },
		{ { "board a" }, 1, AIRLOCK_ERR_BAD_NAME },
		{ { "board\x7f" }, 1, AIRLOCK_ERR_BAD_NAME },
		{ { "board\t" }, 1, AIRLOCK_ERR_BAD_NAME },
		{ { "b\xc3\xa9" }, 1, AIRLOCK_ERR_BAD_NAME },  /* valid UTF-8, not ASCII */
		{ { "b\xff" }, 1, AIRLOCK_ERR_MALFORMED },     /* not UTF-8: the CBOR layer */
		/* Empty or 65 characters: a label of the wrong length, BAD_NAME. */
		{ { "" }, 1, AIRLOCK_ERR_BAD_NAME },
		{ { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }, 1, AIRLOCK_ERR_BAD_NAME },
		{ { "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx" }, 1, AIRLOCK_OK },
	};
	for (size_t i = 0; i < sizeof hwc / sizeof hwc[0]; i++) {
		release_default(m, NULL);
		put_strs(fm_set(m, 4), hwc[i].hw, hwc[i].n);
		airlock_err got = release_parse(m);
		if (got != hwc[i].want)
			print_error("hardware case %zu\n", i);
		assert_err(got, hwc[i].want);
	}
	/* Product and version labels. */
	static const struct { const char *s; airlock_err want; } labels[] = {
		{ "acme gw", AIRLOCK_ERR_BAD_NAME }, { "acme\ngw", AIRLOCK_ERR_BAD_NAME },
		{ "", AIRLOCK_ERR_BAD_NAME }, { "\xe2\x82\xac", AIRLOCK_ERR_BAD_NAME },
		{ "\xc0\xaf", AIRLOCK_ERR_MALFORMED }, { "acme/gw:1.0~rc1+x", AIRLOCK_OK },
	};
	for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++) {
		for (int64_t k = 1; k <= 2; k++) {
			release_default(m, NULL);
			put_tstr(fm_set(m, k), labels[i].s);
			assert_err(release_parse(m), labels[i].want);
		}
	}
	release_default(m, NULL);
	airlock_cbor_put_bstr(fm_set(m, 1), "acme", 4);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	free(c);
	free(p);
	free(m);
}

static void test_release_payload_values(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *p = malloc(sizeof *p);
	struct fmap *c = malloc(sizeof *c);
	struct fmap *two[2];
	two[0] = malloc(sizeof *two[0]);
	two[1] = malloc(sizeof *two[1]);
	assert_non_null(m);
	assert_non_null(p);
	assert_non_null(c);
	assert_non_null(two[0]);
	assert_non_null(two[1]);

	/* Payload names. */
	static const struct { const char *s; size_t len; airlock_err want; } names[] = {
		{ "../../etc/passwd", 16, AIRLOCK_ERR_BAD_NAME },
		{ "/abs", 4, AIRLOCK_ERR_BAD_NAME },
		{ "a/b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a\\b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a?b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a#b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a%00", 4, AIRLOCK_ERR_BAD_NAME },
		{ "a b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a:b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "a\0b", 3, AIRLOCK_ERR_BAD_NAME },
		{ "", 0, AIRLOCK_ERR_BAD_NAME },
		{ ".hidden", 7, AIRLOCK_ERR_BAD_NAME },
		{ "..", 2, AIRLOCK_ERR_BAD_NAME },
		{ "-rf", 3, AIRLOCK_ERR_BAD_NAME },
		{ "_x", 2, AIRLOCK_ERR_BAD_NAME },
		{ "r\xc3\xb6otfs", 7, AIRLOCK_ERR_BAD_NAME },   /* valid UTF-8, not ASCII */
		{ "\xc3\xa9", 2, AIRLOCK_ERR_BAD_NAME },
		{ "x\xff", 2, AIRLOCK_ERR_MALFORMED },           /* not UTF-8: the CBOR layer */
		{ "x\xed\xa0\x80", 4, AIRLOCK_ERR_MALFORMED },   /* a UTF-8 surrogate */
		{ "0123456789012345678901234567890123456789012345678901234567890123x", 65, AIRLOCK_ERR_BAD_NAME },
		{ "0123456789012345678901234567890123456789012345678901234567890123", 64, AIRLOCK_OK },
		{ "rootfs.img_v1-2", 15, AIRLOCK_OK },
		{ "a..b", 4, AIRLOCK_OK },   /* no separator: ".." inside a name is harmless */
		{ "X", 1, AIRLOCK_OK },
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		payload_default(p, "x");
		airlock_cbor_put_tstr(fm_set(p, 0), names[i].s, names[i].len);
		release_default(m, p);
		airlock_err got = release_parse(m);
		if (got != names[i].want)
			print_error("payload name case %zu\n", i);
		assert_err(got, names[i].want);
		if (names[i].want != AIRLOCK_ERR_MALFORMED)
			assert_err(airlock_check_payload_name(names[i].s, names[i].len), names[i].want);
	}
	payload_default(p, "x");
	airlock_cbor_put_bstr(fm_set(p, 0), "rootfs", 6);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Two payloads of one name. */
	payload_default(two[0], "rootfs");
	payload_default(two[1], "rootfs");
	release_default(m, NULL);
	put_payloads(fm_set(m, 5), two, 2);
	assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
	payload_default(two[1], "rootfs2");
	put_payloads(fm_set(m, 5), two, 2);
	assert_err(release_parse(m), AIRLOCK_OK);
	/* Order is the install order: unsorted names are fine. */
	payload_default(two[0], "zz");
	payload_default(two[1], "aa");
	put_payloads(fm_set(m, 5), two, 2);
	assert_err(release_parse(m), AIRLOCK_OK);

	/* Chunk sizes. */
	static const struct { uint64_t c; airlock_err want; } chunks[] = {
		{ 4096, AIRLOCK_OK }, { 65536, AIRLOCK_OK }, { 16u * 1024 * 1024, AIRLOCK_OK },
		{ 0, AIRLOCK_ERR_BAD_VALUE }, { 1, AIRLOCK_ERR_BAD_VALUE }, { 2048, AIRLOCK_ERR_BAD_VALUE },
		{ 4095, AIRLOCK_ERR_BAD_VALUE }, { 4097, AIRLOCK_ERR_BAD_VALUE }, { 6144, AIRLOCK_ERR_BAD_VALUE },
		{ 65535, AIRLOCK_ERR_BAD_VALUE }, { 32u * 1024 * 1024, AIRLOCK_ERR_BAD_VALUE },
		{ 0x80000000ull, AIRLOCK_ERR_BAD_VALUE }, { 0x100000000ull, AIRLOCK_ERR_BAD_VALUE },
		{ 0x1000000000000ull, AIRLOCK_ERR_BAD_VALUE },
	};
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
		payload_default(p, "rootfs");
		airlock_cbor_put_uint(fm_set(p, 2), chunks[i].c);
		release_default(m, p);
		assert_err(release_parse(m), chunks[i].want);
	}

	/* Digest not 32 bytes, or not a byte string. */
	static const size_t dl[] = { 0, 31, 33, 64 };
	for (size_t i = 0; i < sizeof dl / sizeof dl[0]; i++) {
		uint8_t d[64] = { 0 };
		payload_default(p, "rootfs");
		airlock_cbor_put_bstr(fm_set(p, 3), d, dl[i]);
		release_default(m, p);
		assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
	}
	payload_default(p, "rootfs");
	airlock_cbor_put_uint(fm_set(p, 3), 0);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);
	/* Size: any uint (0 and 2^64-1 included); not negative. */
	payload_default(p, "rootfs");
	airlock_cbor_put_uint(fm_set(p, 1), 0);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_OK);
	payload_default(p, "rootfs");
	airlock_cbor_put_uint(fm_set(p, 1), UINT64_MAX);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_OK);
	payload_default(p, "rootfs");
	airlock_cbor_put_int(fm_set(p, 1), -1);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Encryption: ciphertext size inconsistent with size and chunk size. */
	static const struct { uint64_t size; uint32_t chunk; uint64_t enc; airlock_err want; } es[] = {
		{ 10000, 4096, 10048, AIRLOCK_OK },
		{ 10000, 4096, 10047, AIRLOCK_ERR_BAD_VALUE },
		{ 10000, 4096, 10049, AIRLOCK_ERR_BAD_VALUE },
		{ 10000, 4096, 10000, AIRLOCK_ERR_BAD_VALUE },
		{ 10000, 4096, 10016, AIRLOCK_ERR_BAD_VALUE },
		{ 10000, 8192, 10032, AIRLOCK_OK },
		{ 10000, 8192, 10048, AIRLOCK_ERR_BAD_VALUE },
		{ 0, 4096, 0, AIRLOCK_ERR_BAD_VALUE },
		{ 0, 4096, 16, AIRLOCK_OK },
		{ 4096, 4096, 4112, AIRLOCK_OK },
		{ 4096, 4096, 4128, AIRLOCK_ERR_BAD_VALUE },
		/* At most 2^32 chunks (AIRLOCK_AEAD_MAX_CHUNKS: the chunk counter
		 * in the nonce), so the ciphertext size can never wrap. */
		{ 4096ull << 32, 4096, (4096ull << 32) + (16ull << 32), AIRLOCK_OK },
		{ (4096ull << 32) + 1, 4096, (4096ull << 32) + 1 + (16ull << 32) + 16, AIRLOCK_ERR_LIMIT },
		{ UINT64_MAX, 4096, UINT64_MAX, AIRLOCK_ERR_LIMIT },
		{ UINT64_MAX - 16, 4096, 0, AIRLOCK_ERR_LIMIT },
		{ UINT64_MAX, AIRLOCK_CHUNK_MAX, UINT64_MAX, AIRLOCK_ERR_LIMIT },
	};
	for (size_t i = 0; i < sizeof es / sizeof es[0]; i++) {
		payload_default(p, "rootfs");
		airlock_cbor_put_uint(fm_set(p, 1), es[i].size);
		airlock_cbor_put_uint(fm_set(p, 2), es[i].chunk);
		enc_default(c);
		airlock_cbor_put_uint(fm_set(c, 2), es[i].enc);
		fm_put(fm_set(p, 4), c);
		release_default(m, p);
		airlock_err got = release_parse(m);
		if (got != es[i].want)
			print_error("encryption size case %zu\n", i);
		assert_err(got, es[i].want);
	}
	/* Encryption algorithm, nonce prefix and ciphertext digest. */
	payload_default(p, "rootfs");
	enc_default(c);
	airlock_cbor_put_uint(fm_set(c, 0), 2);
	fm_put(fm_set(p, 4), c);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_UNSUPPORTED_ALG);
	payload_default(p, "rootfs");
	enc_default(c);
	airlock_cbor_put_uint(fm_set(c, 0), 0);
	fm_put(fm_set(p, 4), c);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_UNSUPPORTED_ALG);
	payload_default(p, "rootfs");
	enc_default(c);
	airlock_cbor_put_bstr(fm_set(c, 1), prefix8, 7);
	fm_put(fm_set(p, 4), c);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
	payload_default(p, "rootfs");
	enc_default(c);
	airlock_cbor_put_bstr(fm_set(c, 3), digest_b, 31);
	fm_put(fm_set(p, 4), c);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_BAD_VALUE);
	payload_default(p, "rootfs");
	airlock_cbor_put_bool(fm_set(p, 4), true);
	release_default(m, p);
	assert_err(release_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	free(two[0]);
	free(two[1]);
	free(c);
	free(p);
	free(m);
}

/* ================= directive ================= */

static void test_directive_round_trip(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *p = malloc(sizeof *p);
	assert_non_null(m);
	assert_non_null(p);
	struct airlock_directive dir;
	size_t len;
	uint8_t *b;

	directive_default(m, NULL);
	b = fm_encode(m, &len);
	directive_round_trip(b, len, &dir);
	assert_int_equal(dir.device.len, 11);
	assert_memory_equal(dir.device.ptr, "device-0001", 11);
	assert_int_equal(dir.nonce.len, 16);
	assert_memory_equal(dir.nonce.ptr, nonce16, 16);
	assert_int_equal(dir.issued, 1700000000);
	assert_int_equal(dir.expires, 1700003600);
	assert_int_equal(dir.action, AIRLOCK_ACTION_INSTALL);
	assert_memory_equal(dir.release_digest, digest_a, 32);
	assert_int_equal(dir.n_payloads, 1);
	assert_int_equal(dir.payloads[0].kind, AIRLOCK_ARTIFACT_FULL);
	assert_int_equal(dir.payloads[0].size, 10048);
	assert_int_equal(dir.payloads[0].n_urls, 2);
	assert_memory_equal(dir.payloads[0].urls[1].ptr, "https://mirror.example/rootfs", 29);
	assert_true(dir.wrapped_key.len > 0);
	assert_int_equal(dir.wrapped_key.ptr[0], 0x83);
	check_truncations(b, len, parse_directive_raw);
	free(b);

	/* Install without a wrapped key (plaintext payloads), a delta. */
	directive_default(m, NULL);
	fm_del(m, 8);
	dpayload_default(p);
	airlock_cbor_put_uint(fm_set(p, 1), AIRLOCK_ARTIFACT_DELTA);
	{
		struct airlock_cbor_enc *pl = fm_set(m, 7);
		airlock_cbor_put_array(pl, 1);
		fm_put(pl, p);
	}
	b = fm_encode(m, &len);
	directive_round_trip(b, len, &dir);
	assert_int_equal(dir.wrapped_key.len, 0);
	assert_int_equal(dir.payloads[0].kind, AIRLOCK_ARTIFACT_DELTA);
	free(b);

	/* Nothing to do. */
	directive_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 5), AIRLOCK_ACTION_NONE);
	fm_del(m, 6);
	fm_del(m, 7);
	fm_del(m, 8);
	b = fm_encode(m, &len);
	directive_round_trip(b, len, &dir);
	assert_int_equal(dir.action, AIRLOCK_ACTION_NONE);
	check_truncations(b, len, parse_directive_raw);
	free(b);

	/* Nonce lengths at the limits, a 128-character device id. */
	uint8_t nonce64[64];
	memset(nonce64, 0x6e, sizeof nonce64);
	directive_default(m, NULL);
	airlock_cbor_put_bstr(fm_set(m, 2), nonce64, 64);
	{
		char dev[129];
		memset(dev, 'd', 128);
		dev[128] = 0;
		put_tstr(fm_set(m, 1), dev);
	}
	b = fm_encode(m, &len);
	directive_round_trip(b, len, &dir);
	free(b);
	free(p);
	free(m);
}

static void test_directive_fields(void **state)
{
	(void)state;
	struct fmap *m = malloc(sizeof *m);
	struct fmap *p = malloc(sizeof *p);
	assert_non_null(m);
	assert_non_null(p);

	/* Required fields; release and payloads are required for install. */
	for (int64_t k = 0; k <= 8; k++) {
		directive_default(m, NULL);
		fm_del(m, k);
		assert_err(directive_parse(m), k == 8 ? AIRLOCK_OK : AIRLOCK_ERR_MISSING_FIELD);
	}
	/* "none" naming anything to fetch. */
	for (int64_t k = 6; k <= 8; k++) {
		directive_default(m, NULL);
		airlock_cbor_put_uint(fm_set(m, 5), AIRLOCK_ACTION_NONE);
		for (int64_t j = 6; j <= 8; j++)
			if (j != k)
				fm_del(m, j);
		assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
	}
	/* Unknown action and artifact kind. */
	directive_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 5), 2);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
	dpayload_default(p);
	airlock_cbor_put_uint(fm_set(p, 1), 2);
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* Required payload fields. */
	for (int64_t k = 0; k <= 4; k++) {
		dpayload_default(p);
		fm_del(p, k);
		directive_default(m, p);
		assert_err(directive_parse(m), AIRLOCK_ERR_MISSING_FIELD);
	}
	dpayload_default(p);
	put_tstr(fm_set(p, 0), "../rootfs");
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_NAME);

	/* Unknown fields; extensions. */
	directive_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 9), 0);
	assert_err(directive_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	dpayload_default(p);
	airlock_cbor_put_uint(fm_set(p, 5), 0);
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_UNKNOWN_FIELD);
	dpayload_default(p);
	airlock_cbor_put_uint(fm_set(p, -1), 0);
	directive_default(m, p);
	airlock_cbor_put_uint(fm_set(m, -3), 0);
	assert_err(directive_parse(m), AIRLOCK_OK);
	/* Repeated and misordered. */
	directive_default(m, NULL);
	airlock_cbor_put_uint(fm_add(m, 5), AIRLOCK_ACTION_INSTALL);
	assert_err(directive_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);
	directive_default(m, NULL);
	fm_del(m, 2);
	airlock_cbor_put_bstr(fm_add(m, 2), nonce16, 16);
	assert_err(directive_parse(m), AIRLOCK_ERR_DUPLICATE_KEY);

	/* Type. */
	directive_default(m, NULL);
	airlock_cbor_put_uint(fm_set(m, 0), AIRLOCK_META_RELEASE);
	assert_err(directive_parse(m), AIRLOCK_ERR_WRONG_TYPE);

	/* Nonce length. */
	static const size_t nl[] = { 0, 1, 15, 65, 200 };
	for (size_t i = 0; i < sizeof nl / sizeof nl[0]; i++) {
		uint8_t n[200] = { 0 };
		directive_default(m, NULL);
		airlock_cbor_put_bstr(fm_set(m, 2), n, nl[i]);
		assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
	}
	/* Device id: printable ASCII, 1..128. */
	static const struct { const char *s; airlock_err want; } devs[] = {
		{ "dev 1", AIRLOCK_ERR_BAD_NAME }, { "dev\x01", AIRLOCK_ERR_BAD_NAME },
		{ "d\xc3\xa9v", AIRLOCK_ERR_BAD_NAME }, { "d\xfe", AIRLOCK_ERR_MALFORMED },
		{ "", AIRLOCK_ERR_BAD_NAME }, { "CN=dev/1:x", AIRLOCK_OK },
	};
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
		directive_default(m, NULL);
		put_tstr(fm_set(m, 1), devs[i].s);
		assert_err(directive_parse(m), devs[i].want);
	}
	{
		char dev[130];
		memset(dev, 'd', 129);
		dev[129] = 0;
		directive_default(m, NULL);
		put_tstr(fm_set(m, 1), dev);
		assert_err(directive_parse(m), AIRLOCK_ERR_BAD_NAME);
	}
	/* Release digest length. */
	directive_default(m, NULL);
	airlock_cbor_put_bstr(fm_set(m, 6), digest_a, 31);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);

	/* URLs: count, characters, length. */
	static const char *five[] = { "u1", "u2", "u3", "u4", "u5" };
	dpayload_default(p);
	put_strs(fm_set(p, 4), five, 5);
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_LIMIT);
	dpayload_default(p);
	put_strs(fm_set(p, 4), five, 0);
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
	dpayload_default(p);
	put_strs(fm_set(p, 4), (const char *const[]){ "https://a.example/x y" }, 1);
	directive_default(m, p);
	assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
	{
		static char url[AIRLOCK_MAX_URL_LEN + 2];
		memset(url, 'u', AIRLOCK_MAX_URL_LEN + 1);
		url[AIRLOCK_MAX_URL_LEN + 1] = 0;
		dpayload_default(p);
		put_strs(fm_set(p, 4), (const char *const[]){ url }, 1);
		directive_default(m, p);
		assert_err(directive_parse(m), AIRLOCK_ERR_BAD_VALUE);
		url[AIRLOCK_MAX_URL_LEN] = 0;
		dpayload_default(p);
		put_strs(fm_set(p, 4), (const char *const[]){ url }, 1);
		directive_default(m, p);
		assert_err(directive_parse(m), AIRLOCK_OK);
	}
	/* 17 payloads. */
	directive_default(m, NULL);
	{
		struct airlock_cbor_enc *e = fm_set(m, 7);
		airlock_cbor_put_array(e, AIRLOCK_MAX_PAYLOADS + 1);
		for (int i = 0; i <= AIRLOCK_MAX_PAYLOADS; i++) {
			dpayload_default(p);
			fm_put(e, p);
		}
	}
	assert_err(directive_parse(m), AIRLOCK_ERR_LIMIT);
	/* Wrapped key: any canonical item is kept; a non-canonical one is not. */
	directive_default(m, NULL);
	{
		static const uint8_t bad[] = { 0x18, 0x01 };
		airlock_cbor_put_raw(fm_set(m, 8), bad, sizeof bad);
	}
	assert_err(directive_parse(m), AIRLOCK_ERR_NONCANONICAL);

	free(p);
	free(m);
}

/* ================= names and small helpers ================= */

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(airlock_meta_type_name(AIRLOCK_META_ROOT), "root");
	assert_string_equal(airlock_meta_type_name(AIRLOCK_META_RELEASE), "release");
	assert_string_equal(airlock_meta_type_name(AIRLOCK_META_DIRECTIVE), "directive");
	assert_null(airlock_meta_type_name(0));
	assert_null(airlock_meta_type_name(4));
	assert_int_equal(airlock_meta_role(AIRLOCK_META_ROOT), AIRLOCK_ROLE_ROOT);
	assert_int_equal(airlock_meta_role(AIRLOCK_META_RELEASE), AIRLOCK_ROLE_RELEASE);
	assert_int_equal(airlock_meta_role(AIRLOCK_META_DIRECTIVE), AIRLOCK_ROLE_DIRECTOR);
	assert_string_equal(airlock_role_name(AIRLOCK_ROLE_DIRECTOR), "director");

	assert_err(airlock_check_label("board-a", 7), AIRLOCK_OK);
	assert_err(airlock_check_label("~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", 32), AIRLOCK_OK);
	assert_err(airlock_check_label("", 0), AIRLOCK_ERR_BAD_NAME);
	assert_err(airlock_check_label("a b", 3), AIRLOCK_ERR_BAD_NAME);
	assert_err(airlock_check_label("a\0b", 3), AIRLOCK_ERR_BAD_NAME);
	assert_err(airlock_check_label("\x80", 1), AIRLOCK_ERR_BAD_NAME);
	assert_err(airlock_check_label("\xff", 1), AIRLOCK_ERR_BAD_NAME);
	char s[66];
	memset(s, 'a', sizeof s);
	assert_err(airlock_check_label(s, 64), AIRLOCK_OK);
	assert_err(airlock_check_label(s, 65), AIRLOCK_ERR_BAD_NAME);
	assert_err(airlock_check_payload_name(s, 64), AIRLOCK_OK);
	assert_err(airlock_check_payload_name(s, 65), AIRLOCK_ERR_BAD_NAME);

	static const struct { uint64_t c; airlock_err want; } chunks[] = {
		{ AIRLOCK_CHUNK_MIN, AIRLOCK_OK }, { AIRLOCK_CHUNK_DEFAULT, AIRLOCK_OK }, { AIRLOCK_CHUNK_MAX, AIRLOCK_OK },
		{ 0, AIRLOCK_ERR_BAD_VALUE }, { 1, AIRLOCK_ERR_BAD_VALUE }, { AIRLOCK_CHUNK_MIN / 2, AIRLOCK_ERR_BAD_VALUE },
		{ AIRLOCK_CHUNK_MIN + 1, AIRLOCK_ERR_BAD_VALUE }, { AIRLOCK_CHUNK_MAX * 2ull, AIRLOCK_ERR_BAD_VALUE },
		{ 1ull << 32, AIRLOCK_ERR_BAD_VALUE }, { 1ull << 63, AIRLOCK_ERR_BAD_VALUE },
		{ UINT64_MAX, AIRLOCK_ERR_BAD_VALUE }, { 12288, AIRLOCK_ERR_BAD_VALUE },
	};
	for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++)
		assert_err(airlock_check_chunk_size(chunks[i].c), chunks[i].want);
}

static int setup(void **state)
{
	(void)state;
	fake_keys_init();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_envelope_refusals),
		cmocka_unit_test(test_envelope_truncations),
		cmocka_unit_test(test_root_round_trip),
		cmocka_unit_test(test_root_fields),
		cmocka_unit_test(test_root_keys),
		cmocka_unit_test(test_root_roles),
		cmocka_unit_test(test_release_round_trip),
		cmocka_unit_test(test_release_fields),
		cmocka_unit_test(test_release_payload_values),
		cmocka_unit_test(test_directive_round_trip),
		cmocka_unit_test(test_directive_fields),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
