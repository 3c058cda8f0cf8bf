/*
 * Trust decisions (lib/verify.c) with keys generated at run time, Ed25519 and
 * P-256 both: thresholds and per-signature verdicts, roles, type binding,
 * algorithm binding, tampering at every byte, the root chain, and the
 * release and directive policies (expiry, hardware, rollback, device, nonce).
 *
 * Signed files are copied into heap buffers of their exact size before they
 * are verified so that the sanitizer build catches any read past the end.
 */
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"
#include "testutil.h"

#define FILE_MAX 65536
#define NOW 1700000000u

/* ---- keys ---- */

struct tkey {
	struct airlock_privkey *priv;
	int64_t alg;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
};

#define N_ED 14
#define N_EC 10
static struct tkey ed[N_ED], ec[N_EC];

static void tkey_gen(struct tkey *k, enum airlock_alg alg)
{
	assert_err(airlock_privkey_generate(alg, &k->priv), AIRLOCK_OK);
	k->alg = alg;
	assert_err(airlock_privkey_public(k->priv, k->pub, &k->pub_len), AIRLOCK_OK);
	assert_int_equal(k->pub_len, airlock_alg_pub_len(alg));
	assert_err(airlock_keyid(k->pub, k->pub_len, k->keyid), AIRLOCK_OK);
}

/* The standard cast of a root: three root keys, three release keys, one
 * director key, and one key no root lists. */
struct keyset {
	struct tkey *r[3], *s[3], *d, *x;
};

enum { SET_ED, SET_EC, SET_MIXED, SET_COUNT };

static struct keyset keyset(int which)
{
	struct keyset ks;
	struct tkey *all[8];
	for (int i = 0; i < 8; i++) {
		if (which == SET_ED)
			all[i] = &ed[i];
		else if (which == SET_EC)
			all[i] = &ec[i];
		else
			all[i] = i % 2 ? &ec[i] : &ed[i];
	}
	for (int i = 0; i < 3; i++) {
		ks.r[i] = all[i];
		ks.s[i] = all[3 + i];
	}
	ks.d = all[6];
	ks.x = all[7];
	return ks;
}

/* ---- buffers that outlive a test step (roots view their file) ---- */

#define KEEP_MAX 2048
static uint8_t *kept[KEEP_MAX];
static size_t n_kept;

static uint8_t *keep(const uint8_t *src, size_t len)
{
	assert_true(n_kept < KEEP_MAX);
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	if (len)
		memcpy(p, src, len);
	kept[n_kept++] = p;
	return p;
}

static int teardown_kept(void **state)
{
	(void)state;
	for (size_t i = 0; i < n_kept; i++)
		free(kept[i]);
	n_kept = 0;
	return 0;
}

/* ---- root bodies ---- */

struct rspec {
	uint64_t version;
	uint64_t expires;
	size_t n_keys;
	struct tkey *keys[AIRLOCK_MAX_KEYS + 1];
	struct {
		uint32_t threshold;
		size_t n;
		struct tkey *k[AIRLOCK_MAX_ROLE_KEYS + 1];
	} role[AIRLOCK_ROLE_COUNT];
	bool no_sort;   /* keep keys in the given order (to build invalid roots) */
};

static void sort_keys(struct tkey **k, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && memcmp(k[j - 1]->keyid, k[j]->keyid, AIRLOCK_KEYID_LEN) > 0; j--) {
			struct tkey *t = k[j];
			k[j] = k[j - 1];
			k[j - 1] = t;
		}
}

/* Adds k to the key list unless it is there already. */
static void rs_key(struct rspec *s, struct tkey *k)
{
	for (size_t i = 0; i < s->n_keys; i++)
		if (s->keys[i] == k)
			return;
	s->keys[s->n_keys++] = k;
}

static void rs_role(struct rspec *s, enum airlock_role role, uint32_t threshold, struct tkey *const *k, size_t n)
{
	s->role[role].threshold = threshold;
	s->role[role].n = n;
	for (size_t i = 0; i < n; i++) {
		s->role[role].k[i] = k[i];
		rs_key(s, k[i]);
	}
}

/* version 1, expires NOW + 1 year, root 2-of-3, release 2-of-3, director 1-of-1. */
static void rs_default(struct rspec *s, const struct keyset *ks)
{
	memset(s, 0, sizeof *s);
	s->version = 1;
	s->expires = NOW + 365u * 86400u;
	rs_role(s, AIRLOCK_ROLE_ROOT, 2, ks->r, 3);
	rs_role(s, AIRLOCK_ROLE_RELEASE, 2, ks->s, 3);
	rs_role(s, AIRLOCK_ROLE_DIRECTOR, 1, &ks->d, 1);
}

static size_t root_body(const struct rspec *s, uint8_t *out, size_t cap)
{
	struct airlock_root r;
	struct tkey *keys[AIRLOCK_MAX_KEYS + 1];
	memset(&r, 0, sizeof r);
	r.version = s->version;
	r.expires = s->expires;
	r.n_keys = s->n_keys;
	memcpy(keys, s->keys, s->n_keys * sizeof keys[0]);
	if (!s->no_sort)
		sort_keys(keys, s->n_keys);
	for (size_t i = 0; i < s->n_keys; i++) {
		r.keys[i].alg = keys[i]->alg;
		r.keys[i].pub.ptr = keys[i]->pub;
		r.keys[i].pub.len = keys[i]->pub_len;
	}
	for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		struct tkey *k[AIRLOCK_MAX_ROLE_KEYS + 1];
		size_t n = s->role[role].n;
		memcpy(k, s->role[role].k, n * sizeof k[0]);
		sort_keys(k, n);
		r.roles[role].threshold = s->role[role].threshold;
		r.roles[role].n_keyids = n;
		for (size_t i = 0; i < n; i++)
			r.roles[role].keyids[i] = k[i]->keyid;
	}
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_root_encode_body(&r, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

/* ---- release and directive bodies ---- */

static const uint8_t payload_digest[32] = { 0x5a, 0x5a, 1, 2, 3 };

static size_t release_body(uint64_t sv, uint64_t expires, uint8_t *out, size_t cap)
{
	struct airlock_release rel;
	memset(&rel, 0, sizeof rel);
	rel.product = (struct airlock_str){ "acme-gw", 7 };
	rel.version = (struct airlock_str){ "2.0.0", 5 };
	rel.security_version = sv;
	rel.n_hardware = 2;
	rel.hardware[0] = (struct airlock_str){ "board-a", 7 };
	rel.hardware[1] = (struct airlock_str){ "board-b", 7 };
	rel.n_payloads = 1;
	rel.payloads[0].name = (struct airlock_str){ "rootfs", 6 };
	rel.payloads[0].size = 10000;
	rel.payloads[0].chunk_size = 4096;
	rel.payloads[0].digest = payload_digest;
	rel.expires = expires;
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_release_encode_body(&rel, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

static const uint8_t nonce[16] = { 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
#define DEVICE "device-0001"

static size_t directive_body(uint64_t action, const uint8_t release_digest[32], uint64_t expires,
			     uint8_t *out, size_t cap)
{
	struct airlock_directive d;
	memset(&d, 0, sizeof d);
	d.device = (struct airlock_str){ DEVICE, strlen(DEVICE) };
	d.nonce = (struct airlock_bytes){ nonce, sizeof nonce };
	d.issued = NOW - 10;
	d.expires = expires;
	d.action = action;
	if (action == AIRLOCK_ACTION_INSTALL) {
		d.release_digest = release_digest;
		d.n_payloads = 1;
		d.payloads[0].name = (struct airlock_str){ "rootfs", 6 };
		d.payloads[0].kind = AIRLOCK_ARTIFACT_FULL;
		d.payloads[0].digest = payload_digest;
		d.payloads[0].size = 10000;
		d.payloads[0].n_urls = 1;
		d.payloads[0].urls[0] = (struct airlock_str){ "https://cdn.example/rootfs", 26 };
	}
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_directive_encode_body(&d, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

/* ---- signing and envelopes ---- */

struct sigreq {
	struct tkey *k;
	int64_t alg_field;   /* 0: the key's algorithm */
	int64_t msg_alg;     /* 0: the key's algorithm */
	uint64_t msg_type;   /* 0: the envelope's type */
	bool corrupt;        /* flip a bit of the signature */
};

static size_t envelope_req(uint64_t type, const uint8_t *body, size_t blen, const struct sigreq *req, size_t n,
			   uint8_t *out, size_t cap)
{
	static uint8_t sigs[AIRLOCK_MAX_SIGS][AIRLOCK_SIG_MAX_LEN];
	struct airlock_envelope env;
	uint8_t digest[32];
	assert_true(n <= AIRLOCK_MAX_SIGS);
	memset(&env, 0, sizeof env);
	env.type = type;
	env.body.ptr = body;
	env.body.len = blen;
	env.n_sigs = n;
	assert_err(airlock_sha256(body, blen, digest), AIRLOCK_OK);
	for (size_t i = 0; i < n; i++) {
		uint8_t msg[AIRLOCK_SIG_MESSAGE_MAX];
		size_t msg_len, sig_len;
		int64_t msg_alg = req[i].msg_alg ? req[i].msg_alg : req[i].k->alg;
		uint64_t msg_type = req[i].msg_type ? req[i].msg_type : type;
		assert_err(airlock_sig_message(msg_type, msg_alg, digest, msg, &msg_len), AIRLOCK_OK);
		assert_err(airlock_privkey_sign(req[i].k->priv, msg, msg_len, sigs[i], &sig_len), AIRLOCK_OK);
		assert_int_equal(sig_len, 64);
		if (req[i].corrupt)
			sigs[i][10] ^= 0x04;
		env.sigs[i].keyid = req[i].k->keyid;
		env.sigs[i].alg = req[i].alg_field ? req[i].alg_field : req[i].k->alg;
		env.sigs[i].sig = (struct airlock_bytes){ sigs[i], sig_len };
	}
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_envelope_encode(&env, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

static size_t envelope(uint64_t type, const uint8_t *body, size_t blen, struct tkey *const *k, size_t n,
		       uint8_t *out, size_t cap)
{
	struct sigreq req[AIRLOCK_MAX_SIGS];
	memset(req, 0, sizeof req);
	for (size_t i = 0; i < n; i++)
		req[i].k = k[i];
	return envelope_req(type, body, blen, req, n, out, cap);
}

/* A signed root file (signed by `signers`), kept alive for the test. */
static uint8_t *root_file(const struct rspec *s, struct tkey *const *signers, size_t n, size_t *len)
{
	static uint8_t body[FILE_MAX], file[FILE_MAX];
	size_t blen = root_body(s, body, sizeof body);
	*len = envelope(AIRLOCK_META_ROOT, body, blen, signers, n, file, sizeof file);
	return keep(file, *len);
}

/* Loads a root file as trusted; it must pass. */
static void load_root(const struct rspec *s, struct tkey *const *signers, size_t n, struct airlock_root *root)
{
	size_t len;
	uint8_t *f = root_file(s, signers, n, &len);
	assert_err(airlock_root_load_trusted(f, len, root, NULL), AIRLOCK_OK);
}

static airlock_err rel_verify(const struct airlock_root *root, const uint8_t *file, size_t len,
			      const char *hw, uint64_t min_sv, uint64_t now,
			      struct airlock_sig_report *rep, uint8_t digest[32])
{
	struct airlock_release_policy pol = { .hardware = hw, .min_security_version = min_sv, .now = now };
	struct airlock_release rel;
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, file, len);
	airlock_err err = airlock_release_verify(root, p, len, &pol, &rel, digest, rep);
	free(p);
	return err;
}

static airlock_err dir_verify(const struct airlock_root *root, const uint8_t *file, size_t len,
			      const char *device, const uint8_t *n, size_t n_len, uint64_t now,
			      struct airlock_sig_report *rep)
{
	struct airlock_directive_policy pol = { .device_id = device, .nonce = n, .nonce_len = n_len, .now = now };
	struct airlock_directive dir;
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	memcpy(p, file, len);
	airlock_err err = airlock_directive_verify(root, p, len, &pol, &dir, rep);
	free(p);
	return err;
}

static void check_verdict(const struct airlock_sig_report *rep, size_t i, const struct tkey *k, airlock_err want)
{
	assert_true(i < rep->n);
	assert_memory_equal(rep->sigs[i].keyid, k->keyid, AIRLOCK_KEYID_LEN);
	assert_int_equal(rep->sigs[i].alg, k->alg);
	assert_err(rep->sigs[i].verdict, want);
}

static uint8_t body_buf[FILE_MAX], file_buf[FILE_MAX];

/* ================= thresholds and verdicts ================= */

static void test_threshold(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct rspec s;
		struct airlock_root root;
		struct airlock_sig_report rep;
		rs_default(&s, &ks);
		load_root(&s, ks.r, 2, &root);
		size_t blen = release_body(7, 0, body_buf, sizeof body_buf);
		size_t len;

		/* 2 of 3 and 3 of 3 pass. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.s[0], ks.s[2] }, 2,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_OK);
		assert_int_equal(rep.n, 2);
		assert_int_equal(rep.valid, 2);
		assert_int_equal(rep.threshold, 2);
		check_verdict(&rep, 0, ks.s[0], AIRLOCK_OK);
		check_verdict(&rep, 1, ks.s[2], AIRLOCK_OK);

		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 3, file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_OK);
		assert_int_equal(rep.valid, 3);

		/* 1 of 3, and none. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, &ks.s[1], 1, file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
		assert_int_equal(rep.n, 1);
		assert_int_equal(rep.valid, 1);
		assert_int_equal(rep.threshold, 2);
		check_verdict(&rep, 0, ks.s[1], AIRLOCK_OK);
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, NULL, 0, file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
		assert_int_equal(rep.n, 0);
		assert_int_equal(rep.valid, 0);

		/* The same key twice counts once. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.s[1], ks.s[1] }, 2,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
		assert_int_equal(rep.valid, 1);
		check_verdict(&rep, 0, ks.s[1], AIRLOCK_OK);
		check_verdict(&rep, 1, ks.s[1], AIRLOCK_ERR_DUPLICATE_SIGNER);
		/* ... and a third distinct key makes the threshold. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.s[1], ks.s[1], ks.s[0] }, 3,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_OK);
		assert_int_equal(rep.valid, 2);
		check_verdict(&rep, 1, ks.s[1], AIRLOCK_ERR_DUPLICATE_SIGNER);
		check_verdict(&rep, 2, ks.s[0], AIRLOCK_OK);

		/* 16 signatures by one key: still one. */
		{
			struct tkey *same[AIRLOCK_MAX_SIGS];
			for (int i = 0; i < AIRLOCK_MAX_SIGS; i++)
				same[i] = ks.s[2];
			len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, same, AIRLOCK_MAX_SIGS, file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
			assert_int_equal(rep.n, AIRLOCK_MAX_SIGS);
			assert_int_equal(rep.valid, 1);
			for (size_t i = 1; i < AIRLOCK_MAX_SIGS; i++)
				check_verdict(&rep, i, ks.s[2], AIRLOCK_ERR_DUPLICATE_SIGNER);
		}

		/* A bad signature by a listed key, then a good one by the same key:
		 * the good one counts (the bad one does not use the key up). */
		{
			struct sigreq req[3] = { { .k = ks.s[0], .corrupt = true }, { .k = ks.s[0] }, { .k = ks.s[1] } };
			len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen, req, 3, file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_OK);
			assert_int_equal(rep.valid, 2);
			check_verdict(&rep, 0, ks.s[0], AIRLOCK_ERR_BAD_SIGNATURE);
			check_verdict(&rep, 1, ks.s[0], AIRLOCK_OK);
			/* Bad signature and not enough good ones: BAD_SIGNATURE. */
			len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen, req, 1, file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_BAD_SIGNATURE);
			assert_int_equal(rep.valid, 0);
		}
	}
}

static void test_roles_and_keys(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct rspec s;
		struct airlock_root root;
		struct airlock_sig_report rep;
		rs_default(&s, &ks);
		load_root(&s, ks.r, 2, &root);
		size_t blen = release_body(7, 0, body_buf, sizeof body_buf);
		size_t len;

		/* Root keys and the director key are listed, but not for releases. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.r, 3, file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_WRONG_ROLE);
		assert_int_equal(rep.valid, 0);
		for (size_t i = 0; i < 3; i++)
			check_verdict(&rep, i, ks.r[i], AIRLOCK_ERR_WRONG_ROLE);
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.s[0], ks.d }, 2,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_WRONG_ROLE);
		check_verdict(&rep, 0, ks.s[0], AIRLOCK_OK);
		check_verdict(&rep, 1, ks.d, AIRLOCK_ERR_WRONG_ROLE);
		assert_int_equal(rep.valid, 1);

		/* A key the root does not list. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.x, ks.s[0] }, 2,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_UNKNOWN_KEY);
		check_verdict(&rep, 0, ks.x, AIRLOCK_ERR_UNKNOWN_KEY);
		check_verdict(&rep, 1, ks.s[0], AIRLOCK_OK);
		assert_int_equal(rep.valid, 1);

		/* The most telling reason: BAD_SIGNATURE > WRONG_ROLE > UNKNOWN_KEY > THRESHOLD. */
		{
			struct sigreq req[4] = { { .k = ks.x }, { .k = ks.r[0] }, { .k = ks.s[1], .corrupt = true },
						 { .k = ks.s[0] } };
			len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen, req, 4, file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_BAD_SIGNATURE);
			check_verdict(&rep, 0, ks.x, AIRLOCK_ERR_UNKNOWN_KEY);
			check_verdict(&rep, 1, ks.r[0], AIRLOCK_ERR_WRONG_ROLE);
			check_verdict(&rep, 2, ks.s[1], AIRLOCK_ERR_BAD_SIGNATURE);
			check_verdict(&rep, 3, ks.s[0], AIRLOCK_OK);
			len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen, req, 2, file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_WRONG_ROLE);
		}
		/* Extra signatures that do not count do not spoil a threshold. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.x, ks.s[0], ks.d, ks.s[1] }, 4,
			       file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_OK);
		assert_int_equal(rep.valid, 2);

		/* A directive signed by release keys, a root signed by release keys. */
		size_t dlen = directive_body(AIRLOCK_ACTION_NONE, NULL, NOW + 60, body_buf, sizeof body_buf);
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, dlen, ks.s, 3, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_ERR_WRONG_ROLE);
		assert_int_equal(rep.threshold, 1);
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, dlen, &ks.d, 1, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_OK);
		check_verdict(&rep, 0, ks.d, AIRLOCK_OK);
	}
}

/* A key listed twice in a root could count twice: the parser refuses it. */
static void test_key_listed_twice(void **state)
{
	(void)state;
	struct keyset ks = keyset(SET_MIXED);
	struct rspec s;
	struct airlock_root root;
	rs_default(&s, &ks);
	/* The same key twice in the key list. */
	s.keys[s.n_keys++] = ks.r[0];
	size_t len;
	uint8_t *f = root_file(&s, ks.r, 2, &len);
	assert_err(airlock_root_load_trusted(f, len, &root, NULL), AIRLOCK_ERR_BAD_VALUE);
	/* The same key id twice in the root role, with a threshold of 2. */
	rs_default(&s, &ks);
	rs_role(&s, AIRLOCK_ROLE_ROOT, 2, (struct tkey *[]){ ks.r[0], ks.r[0] }, 2);
	f = root_file(&s, (struct tkey *[]){ ks.r[0], ks.r[0] }, 2, &len);
	assert_err(airlock_root_load_trusted(f, len, &root, NULL), AIRLOCK_ERR_BAD_VALUE);
	/* Unsorted keys. */
	rs_default(&s, &ks);
	s.no_sort = true;
	sort_keys(s.keys, s.n_keys);
	struct tkey *t = s.keys[0];
	s.keys[0] = s.keys[1];
	s.keys[1] = t;
	f = root_file(&s, ks.r, 2, &len);
	assert_err(airlock_root_load_trusted(f, len, &root, NULL), AIRLOCK_ERR_BAD_VALUE);
}

/* A signature binds the metadata type and the algorithm. */
static void test_type_and_alg_binding(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct rspec s;
		struct airlock_root root, shared, out;
		struct airlock_sig_report rep, rep2;
		rs_default(&s, &ks);
		load_root(&s, ks.r, 2, &root);
		/* A root where one key holds every role: only the type in the
		 * signed message keeps its signatures apart. */
		struct rspec s2;
		memset(&s2, 0, sizeof s2);
		s2.version = 1;
		s2.expires = NOW + 86400;
		rs_role(&s2, AIRLOCK_ROLE_ROOT, 1, &ks.s[0], 1);
		rs_role(&s2, AIRLOCK_ROLE_RELEASE, 1, &ks.s[0], 1);
		rs_role(&s2, AIRLOCK_ROLE_DIRECTOR, 1, &ks.s[0], 1);
		load_root(&s2, &ks.s[0], 1, &shared);

		size_t blen = release_body(7, 0, body_buf, sizeof body_buf);
		size_t len;
		/* A release's signatures on a directive envelope (same body bytes). */
		len = envelope_req(AIRLOCK_META_DIRECTIVE, body_buf, blen,
				   (struct sigreq[]){ { .k = ks.s[0], .msg_type = AIRLOCK_META_RELEASE } }, 1,
				   file_buf, sizeof file_buf);
		assert_err(dir_verify(&shared, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		check_verdict(&rep, 0, ks.s[0], AIRLOCK_ERR_BAD_SIGNATURE);
		/* ... under the standard root the key is not a director key. */
		len = envelope_req(AIRLOCK_META_DIRECTIVE, body_buf, blen,
				   (struct sigreq[]){ { .k = ks.s[0], .msg_type = AIRLOCK_META_RELEASE },
						      { .k = ks.s[1], .msg_type = AIRLOCK_META_RELEASE } }, 2,
				   file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_ERR_WRONG_ROLE);
		/* ... and as a release it is the wrong type of envelope. */
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_WRONG_TYPE);
		{
			struct airlock_envelope env;
			assert_err(airlock_envelope_parse(file_buf, len, FILE_MAX, &env), AIRLOCK_OK);
			assert_err(airlock_verify_role(&root, AIRLOCK_ROLE_RELEASE, &env, &rep), AIRLOCK_ERR_WRONG_TYPE);
			assert_err(airlock_verify_role(&root, AIRLOCK_ROLE_DIRECTOR, &env, &rep), AIRLOCK_ERR_WRONG_ROLE);
			assert_err(airlock_verify_role(&root, (enum airlock_role)0, &env, &rep), AIRLOCK_ERR_INVALID_ARG);
			assert_err(airlock_verify_role(&root, (enum airlock_role)4, &env, &rep), AIRLOCK_ERR_INVALID_ARG);
			/* A zeroed root authorizes nothing. */
			struct airlock_root zero;
			memset(&zero, 0, sizeof zero);
			assert_err(airlock_verify_role(&zero, AIRLOCK_ROLE_DIRECTOR, &env, &rep), AIRLOCK_ERR_THRESHOLD);
		}

		/* A release's signatures on a root envelope, offered as the next root. */
		len = envelope_req(AIRLOCK_META_ROOT, body_buf, blen,
				   (struct sigreq[]){ { .k = ks.s[0], .msg_type = AIRLOCK_META_RELEASE } }, 1,
				   file_buf, sizeof file_buf);
		assert_err(airlock_root_update(&shared, file_buf, len, &out, &rep, &rep2), AIRLOCK_ERR_BAD_SIGNATURE);
		assert_err(airlock_root_load_trusted(file_buf, len, &out, &rep), AIRLOCK_ERR_WRONG_TYPE);
		/* The honest release is fine under the shared root. */
		len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, &ks.s[0], 1, file_buf, sizeof file_buf);
		assert_err(rel_verify(&shared, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_OK);
		/* A release file handed over as a root or a directive. */
		assert_err(airlock_root_load_trusted(file_buf, len, &out, &rep), AIRLOCK_ERR_WRONG_TYPE);
		assert_err(airlock_root_update(&shared, file_buf, len, &out, &rep, &rep2), AIRLOCK_ERR_WRONG_TYPE);
		assert_err(dir_verify(&shared, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_ERR_WRONG_TYPE);

		/* Algorithm field not matching the key. */
		int64_t other = ks.s[0]->alg == AIRLOCK_ALG_ED25519 ? AIRLOCK_ALG_P256 : AIRLOCK_ALG_ED25519;
		/* The message names the claimed algorithm: only the key check can refuse it. */
		len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen,
				   (struct sigreq[]){ { .k = ks.s[0], .alg_field = other, .msg_alg = other }, { .k = ks.s[1] } }, 2,
				   file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_BAD_SIGNATURE);
		assert_err(rep.sigs[0].verdict, AIRLOCK_ERR_BAD_SIGNATURE);
		assert_int_equal(rep.sigs[0].alg, other);
		/* The right field over a message naming the other algorithm. */
		len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen,
				   (struct sigreq[]){ { .k = ks.s[0], .msg_alg = other }, { .k = ks.s[1] } }, 2,
				   file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_BAD_SIGNATURE);
		check_verdict(&rep, 0, ks.s[0], AIRLOCK_ERR_BAD_SIGNATURE);
		/* Unknown and key-agreement algorithm numbers. */
		static const int64_t algs[] = { AIRLOCK_ALG_X25519, -35, 1, INT64_MIN };  /* 0 means "the key's" here */
		for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
			len = envelope_req(AIRLOCK_META_RELEASE, body_buf, blen,
					   (struct sigreq[]){ { .k = ks.s[0], .alg_field = algs[i] }, { .k = ks.s[1] } }, 2,
					   file_buf, sizeof file_buf);
			assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_BAD_SIGNATURE);
		}
	}
}

/* Signatures are checked before the body is parsed: a malformed body with
 * too few signatures is a signature failure, not a parser verdict. */
static void test_signature_before_body(void **state)
{
	(void)state;
	struct keyset ks = keyset(SET_ED);
	struct rspec s;
	struct airlock_root root;
	struct airlock_sig_report rep;
	rs_default(&s, &ks);
	load_root(&s, ks.r, 2, &root);
	static const uint8_t junk[] = { 0xa1, 0x63, 'b', 'a', 'd', 0x00 };  /* text key: WRONG_TYPE */
	size_t len = envelope(AIRLOCK_META_RELEASE, junk, sizeof junk, &ks.s[0], 1, file_buf, sizeof file_buf);
	assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
	len = envelope(AIRLOCK_META_RELEASE, junk, sizeof junk, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&root, file_buf, len, NULL, 0, 0, &rep, NULL), AIRLOCK_ERR_WRONG_TYPE);
	/* The same for directives. */
	len = envelope(AIRLOCK_META_DIRECTIVE, junk, sizeof junk, &ks.s[0], 1, file_buf, sizeof file_buf);
	assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_ERR_WRONG_ROLE);
	len = envelope(AIRLOCK_META_DIRECTIVE, junk, sizeof junk, &ks.d, 1, file_buf, sizeof file_buf);
	assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_ERR_WRONG_TYPE);
	/* And for the next root: the old keys are checked first. */
	struct airlock_root out;
	len = envelope(AIRLOCK_META_ROOT, junk, sizeof junk, &ks.r[0], 1, file_buf, sizeof file_buf);
	assert_err(airlock_root_update(&root, file_buf, len, &out, &rep, NULL), AIRLOCK_ERR_THRESHOLD);
	len = envelope(AIRLOCK_META_ROOT, junk, sizeof junk, ks.r, 2, file_buf, sizeof file_buf);
	assert_err(airlock_root_update(&root, file_buf, len, &out, &rep, NULL), AIRLOCK_ERR_WRONG_TYPE);
}

/* ================= tampering ================= */

static void flip_every_byte(const uint8_t *file, size_t len, const struct airlock_root *root, bool is_root)
{
	uint8_t *p = malloc(len);
	assert_non_null(p);
	static const uint8_t masks[] = { 0x01, 0xff };
	size_t refused = 0;
	for (size_t m = 0; m < sizeof masks / sizeof masks[0]; m++) {
		for (size_t i = 0; i < len; i++) {
			memcpy(p, file, len);
			p[i] ^= masks[m];
			airlock_err err;
			struct airlock_root r;
			if (is_root) {
				err = airlock_root_load_trusted(p, len, &r, NULL);
			} else {
				struct airlock_release rel;
				struct airlock_release_policy pol = { .hardware = "board-a", .min_security_version = 7,
								      .now = NOW };
				err = airlock_release_verify(root, p, len, &pol, &rel, NULL, NULL);
			}
			if (err == AIRLOCK_OK)
				print_error("flip 0x%02x at offset %zu of %zu accepted\n", masks[m], i, len);
			assert_int_not_equal(err, AIRLOCK_OK);
			refused++;
		}
	}
	assert_int_equal(refused, 2 * len);
	free(p);
}

static void test_byte_flips(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct rspec s;
		struct airlock_root root;
		rs_default(&s, &ks);
		size_t rlen;
		uint8_t *rf = root_file(&s, ks.r, 2, &rlen);
		assert_err(airlock_root_load_trusted(rf, rlen, &root, NULL), AIRLOCK_OK);
		flip_every_byte(rf, rlen, NULL, true);

		size_t blen = release_body(7, NOW + 1000, body_buf, sizeof body_buf);
		size_t len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, (struct tkey *[]){ ks.s[2], ks.s[0] }, 2,
				      file_buf, sizeof file_buf);
		assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, NULL, NULL), AIRLOCK_OK);
		flip_every_byte(file_buf, len, &root, false);
	}
}

/* ================= the root chain ================= */

static void test_root_rotation(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct tkey *n[3] = { &ed[8], which == SET_ED ? &ed[9] : &ec[8], &ed[10] };
		struct rspec s1, s2, s3;
		struct airlock_root v1, v2, out;
		struct airlock_sig_report ro, rn;
		size_t len;
		uint8_t *f;

		rs_default(&s1, &ks);
		load_root(&s1, ks.r, 2, &v1);
		/* v2: the root keys are replaced. */
		rs_default(&s2, &ks);
		memset(&s2, 0, sizeof s2);
		s2.version = 2;
		s2.expires = NOW + 730u * 86400u;
		rs_role(&s2, AIRLOCK_ROLE_ROOT, 2, n, 3);
		rs_role(&s2, AIRLOCK_ROLE_RELEASE, 2, ks.s, 3);
		rs_role(&s2, AIRLOCK_ROLE_DIRECTOR, 1, &ks.d, 1);

		/* Threshold of old and of new keys: accepted. */
		f = root_file(&s2, (struct tkey *[]){ ks.r[0], ks.r[2], n[1], n[2] }, 4, &len);
		assert_err(airlock_root_update(&v1, f, len, &v2, &ro, &rn), AIRLOCK_OK);
		assert_int_equal(v2.version, 2);
		assert_int_equal(ro.valid, 2);
		assert_int_equal(ro.threshold, 2);
		check_verdict(&ro, 0, ks.r[0], AIRLOCK_OK);
		check_verdict(&ro, 2, n[1], AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(rn.valid, 2);
		check_verdict(&rn, 0, ks.r[0], AIRLOCK_ERR_UNKNOWN_KEY);
		check_verdict(&rn, 3, n[2], AIRLOCK_OK);
		assert_true(airlock_root_role_has(&v2, AIRLOCK_ROLE_ROOT, n[0]->keyid));
		assert_false(airlock_root_role_has(&v2, AIRLOCK_ROLE_ROOT, ks.r[0]->keyid));
		/* The new root is a plain trusted root too. */
		assert_err(airlock_root_load_trusted(f, len, &out, NULL), AIRLOCK_OK);

		/* Only the old keys: v2's own keys did not agree. */
		f = root_file(&s2, ks.r, 3, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(ro.valid, 3);
		assert_int_equal(rn.valid, 0);
		assert_int_equal(rn.threshold, 2);
		/* Only one new key: the new root's threshold is missed (UNKNOWN_KEY is
		 * the most telling reason: two signers are not in the new root). */
		f = root_file(&s2, (struct tkey *[]){ n[0], ks.r[0], ks.r[1] }, 3, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(rn.valid, 1);
		/* Only new keys: v1's keys did not agree, nothing else is looked at. */
		f = root_file(&s2, n, 3, &len);
		memset(&rn, 0xa5, sizeof rn);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(ro.valid, 0);
		assert_int_equal(ro.n, 3);
		check_verdict(&ro, 0, n[0], AIRLOCK_ERR_UNKNOWN_KEY);
		/* One old key and all new ones: old threshold missed. */
		f = root_file(&s2, (struct tkey *[]){ ks.r[1], n[0], n[1], n[2] }, 4, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(ro.valid, 1);

		/* A v2 that keeps old keys in a 3-of-3 root role, signed by two:
		 * both thresholds are counted over the same signatures. */
		memset(&s3, 0, sizeof s3);
		s3.version = 2;
		s3.expires = NOW;
		rs_role(&s3, AIRLOCK_ROLE_ROOT, 3, ks.r, 3);
		rs_role(&s3, AIRLOCK_ROLE_RELEASE, 2, ks.s, 3);
		rs_role(&s3, AIRLOCK_ROLE_DIRECTOR, 1, &ks.d, 1);
		f = root_file(&s3, ks.r, 2, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_THRESHOLD);
		assert_int_equal(ro.valid, 2);
		assert_int_equal(rn.valid, 2);
		assert_int_equal(rn.threshold, 3);
		f = root_file(&s3, ks.r, 3, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_OK);

		/* v1 again, and v3 signed by everyone, presented to v1. */
		s1.version = 1;
		f = root_file(&s1, ks.r, 3, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_ROOT_VERSION);
		s3 = s2;
		s3.version = 3;
		rs_role(&s3, AIRLOCK_ROLE_ROOT, 2, n, 3);
		f = root_file(&s3, (struct tkey *[]){ ks.r[0], ks.r[1], n[0], n[1] }, 4, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, &ro, &rn), AIRLOCK_ERR_ROOT_VERSION);
		/* ... but v3 after v2 is fine. */
		f = root_file(&s3, n, 2, &len);
		assert_err(airlock_root_update(&v2, f, len, &out, &ro, &rn), AIRLOCK_OK);
		assert_int_equal(out.version, 3);
		/* A version below, and version 0 (refused by the parser). */
		s3.version = 1;
		f = root_file(&s3, (struct tkey *[]){ n[0], n[1] }, 2, &len);
		assert_err(airlock_root_update(&v2, f, len, &out, &ro, &rn), AIRLOCK_ERR_ROOT_VERSION);
		s3.version = 0;
		f = root_file(&s3, (struct tkey *[]){ n[0], n[1] }, 2, &len);
		assert_err(airlock_root_update(&v2, f, len, &out, &ro, &rn), AIRLOCK_ERR_BAD_VALUE);
		/* Reports may be NULL. */
		f = root_file(&s2, (struct tkey *[]){ ks.r[0], ks.r[2], n[1], n[2] }, 4, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, NULL, NULL), AIRLOCK_OK);
		assert_err(airlock_root_update(NULL, f, len, &out, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		assert_err(airlock_root_update(&v1, NULL, len, &out, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		assert_err(airlock_root_update(&v1, f, len, NULL, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		/* After a failed update, *out is not touched. */
		memset(&out, 0x5c, sizeof out);
		f = root_file(&s2, n, 3, &len);
		assert_err(airlock_root_update(&v1, f, len, &out, NULL, NULL), AIRLOCK_ERR_UNKNOWN_KEY);
		assert_int_equal(out.version, 0x5c5c5c5c5c5c5c5cull);
	}
}

/* Expiry never blocks a rotation: an expired v1 still rotates to v2, and a
 * v2 that is itself expired is still accepted (the chain goes on). */
static void test_root_rotation_expired(void **state)
{
	(void)state;
	struct keyset ks = keyset(SET_MIXED);
	struct rspec s1, s2;
	struct airlock_root v1, v2;
	rs_default(&s1, &ks);
	s1.expires = 1000;
	load_root(&s1, ks.r, 2, &v1);
	rs_default(&s2, &ks);
	s2.version = 2;
	s2.expires = 2000;
	size_t len;
	uint8_t *f = root_file(&s2, ks.r, 2, &len);
	assert_err(airlock_root_update(&v1, f, len, &v2, NULL, NULL), AIRLOCK_OK);
	assert_int_equal(v2.expires, 2000);
	/* But a release under an expired root is refused when the device has a clock. */
	size_t blen = release_body(7, 0, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&v2, file_buf, len, "board-a", 0, NOW, NULL, NULL), AIRLOCK_ERR_EXPIRED);
	assert_err(rel_verify(&v2, file_buf, len, "board-a", 0, 0, NULL, NULL), AIRLOCK_OK);
}

/* A long chain: every step from v1 to v301, one root key replaced each time. */
static void test_root_chain_walk(void **state)
{
	(void)state;
	enum { STEPS = 300, POOL = 6 };
	struct tkey *pool[POOL] = { &ed[0], &ec[1], &ed[2], &ed[3], &ec[4], &ed[5] };
	struct keyset ks = keyset(SET_ED);
	struct rspec s;
	struct airlock_root cur, next;

	memset(&s, 0, sizeof s);
	s.version = 1;
	s.expires = NOW;
	rs_role(&s, AIRLOCK_ROLE_ROOT, 2, pool, 3);
	rs_role(&s, AIRLOCK_ROLE_RELEASE, 1, &ks.s[0], 1);
	rs_role(&s, AIRLOCK_ROLE_DIRECTOR, 1, &ks.d, 1);
	load_root(&s, pool, 2, &cur);
	for (unsigned i = 1; i <= STEPS; i++) {
		struct tkey *keys[3] = { pool[i % POOL], pool[(i + 1) % POOL], pool[(i + 2) % POOL] };
		memset(&s, 0, sizeof s);
		s.version = i + 1;
		s.expires = NOW + i;
		rs_role(&s, AIRLOCK_ROLE_ROOT, 2, keys, 3);
		rs_role(&s, AIRLOCK_ROLE_RELEASE, 1, &ks.s[0], 1);
		rs_role(&s, AIRLOCK_ROLE_DIRECTOR, 1, &ks.d, 1);
		/* Signed by the two keys that both versions share. */
		size_t len;
		uint8_t *f = root_file(&s, keys, 2, &len);
		struct airlock_sig_report ro, rn;
		assert_err(airlock_root_update(&cur, f, len, &next, &ro, &rn), AIRLOCK_OK);
		assert_int_equal(ro.valid, 2);
		assert_int_equal(rn.valid, 2);
		assert_int_equal(next.version, i + 1);
		/* Skipping ahead from the current root is refused at every step. */
		if (i % 50 == 0) {
			s.version = i + 2;
			f = root_file(&s, keys, 2, &len);
			assert_err(airlock_root_update(&cur, f, len, &next, NULL, NULL), AIRLOCK_ERR_ROOT_VERSION);
			s.version = i + 1;
			f = root_file(&s, keys, 2, &len);
			assert_err(airlock_root_update(&cur, f, len, &next, NULL, NULL), AIRLOCK_OK);
		}
		cur = next;
	}
	assert_int_equal(cur.version, STEPS + 1);
	assert_true(STEPS > AIRLOCK_ROOT_CHAIN_MAX);  /* the cap is the caller's, not this function's */
}

/* ================= release policy ================= */

static void test_release_policy(void **state)
{
	(void)state;
	struct keyset ks = keyset(SET_MIXED);
	struct rspec s;
	struct airlock_root root, expired_root;
	struct airlock_sig_report rep;
	rs_default(&s, &ks);
	load_root(&s, ks.r, 2, &root);
	size_t blen, len;

	/* Expiry of the release. */
	blen = release_body(7, NOW - 1, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_EXPIRED);
	assert_int_equal(rep.valid, 2);   /* the signatures were fine */
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, 0, &rep, NULL), AIRLOCK_OK);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW - 1, &rep, NULL), AIRLOCK_ERR_EXPIRED);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW - 2, &rep, NULL), AIRLOCK_OK);

	/* Expiry of the root, for a release that does not expire. */
	rs_default(&s, &ks);
	s.expires = NOW - 100;
	load_root(&s, ks.r, 2, &expired_root);
	blen = release_body(7, 0, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&expired_root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_EXPIRED);
	assert_err(rel_verify(&expired_root, file_buf, len, "board-a", 7, 0, &rep, NULL), AIRLOCK_OK);
	assert_err(rel_verify(&expired_root, file_buf, len, "board-a", 7, NOW - 100, &rep, NULL), AIRLOCK_ERR_EXPIRED);
	assert_err(rel_verify(&expired_root, file_buf, len, "board-a", 7, NOW - 101, &rep, NULL), AIRLOCK_OK);
	/* Expiry comes before the other policy checks, after the signatures. */
	assert_err(rel_verify(&expired_root, file_buf, len, "board-z", 99, NOW, &rep, NULL), AIRLOCK_ERR_EXPIRED);

	/* Hardware. */
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_OK);
	assert_err(rel_verify(&root, file_buf, len, "board-b", 7, NOW, &rep, NULL), AIRLOCK_OK);
	assert_err(rel_verify(&root, file_buf, len, NULL, 7, NOW, &rep, NULL), AIRLOCK_OK);
	static const char *const bad_hw[] = { "board-c", "board", "board-a2", "Board-a", "", "board-a " };
	for (size_t i = 0; i < sizeof bad_hw / sizeof bad_hw[0]; i++)
		assert_err(rel_verify(&root, file_buf, len, bad_hw[i], 7, NOW, &rep, NULL),
			   AIRLOCK_ERR_HARDWARE_MISMATCH);

	/* Anti-rollback. */
	assert_err(rel_verify(&root, file_buf, len, "board-a", 0, NOW, &rep, NULL), AIRLOCK_OK);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 8, NOW, &rep, NULL), AIRLOCK_ERR_ROLLBACK);
	assert_err(rel_verify(&root, file_buf, len, "board-a", UINT64_MAX, NOW, &rep, NULL), AIRLOCK_ERR_ROLLBACK);
	blen = release_body(6, 0, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, NULL), AIRLOCK_ERR_ROLLBACK);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 6, NOW, &rep, NULL), AIRLOCK_OK);
	blen = release_body(UINT64_MAX, 0, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	assert_err(rel_verify(&root, file_buf, len, "board-a", UINT64_MAX, NOW, &rep, NULL), AIRLOCK_OK);

	/* The release digest is SHA-256 of the body bytes. */
	blen = release_body(7, 0, body_buf, sizeof body_buf);
	len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, ks.s, 2, file_buf, sizeof file_buf);
	uint8_t got[32], want[32];
	assert_err(airlock_sha256(body_buf, blen, want), AIRLOCK_OK);
	assert_err(rel_verify(&root, file_buf, len, "board-a", 7, NOW, &rep, got), AIRLOCK_OK);
	assert_memory_equal(got, want, 32);

	/* A release file above the size limit. */
	{
		uint8_t *big = calloc(1, AIRLOCK_RELEASE_MAX_LEN + 1);
		assert_non_null(big);
		struct airlock_release rel;
		struct airlock_release_policy pol = { 0 };
		memcpy(big, file_buf, len);
		assert_err(airlock_release_verify(&root, big, AIRLOCK_RELEASE_MAX_LEN + 1, &pol, &rel, NULL, NULL),
			   AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_release_verify(&root, big, len + 1, &pol, &rel, NULL, NULL),
			   AIRLOCK_ERR_TRAILING_DATA);
		assert_err(airlock_release_verify(&root, big, len, &pol, &rel, NULL, NULL), AIRLOCK_OK);
		assert_err(airlock_release_verify(NULL, big, len, &pol, &rel, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		assert_err(airlock_release_verify(&root, big, len, NULL, &rel, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		assert_err(airlock_release_verify(&root, big, len, &pol, NULL, NULL, NULL), AIRLOCK_ERR_INVALID_ARG);
		free(big);
	}
}

/* ================= directive policy ================= */

static void test_directive_policy(void **state)
{
	(void)state;
	for (int which = 0; which < SET_COUNT; which++) {
		struct keyset ks = keyset(which);
		struct rspec s;
		struct airlock_root root;
		struct airlock_sig_report rep;
		rs_default(&s, &ks);
		load_root(&s, ks.r, 2, &root);
		uint8_t rdigest[32] = { 0x11 };
		size_t blen = directive_body(AIRLOCK_ACTION_INSTALL, rdigest, NOW + 300, body_buf, sizeof body_buf);
		size_t len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.d, 1, file_buf, sizeof file_buf);

		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_OK);
		assert_int_equal(rep.valid, 1);
		assert_int_equal(rep.threshold, 1);
		check_verdict(&rep, 0, ks.d, AIRLOCK_OK);
		{
			struct airlock_directive dir;
			struct airlock_directive_policy pol = { DEVICE, nonce, sizeof nonce, NOW };
			assert_err(airlock_directive_verify(&root, file_buf, len, &pol, &dir, NULL), AIRLOCK_OK);
			assert_memory_equal(dir.release_digest, rdigest, 32);
			assert_int_equal(dir.action, AIRLOCK_ACTION_INSTALL);
			pol.device_id = NULL;
			assert_err(airlock_directive_verify(&root, file_buf, len, &pol, &dir, NULL), AIRLOCK_ERR_INVALID_ARG);
			pol.device_id = DEVICE;
			pol.nonce = NULL;
			assert_err(airlock_directive_verify(&root, file_buf, len, &pol, &dir, NULL), AIRLOCK_ERR_INVALID_ARG);
		}

		/* Device. */
		static const char *const devs[] = { "device-0002", "device-000", "device-00011", "DEVICE-0001", "" };
		for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
			assert_err(dir_verify(&root, file_buf, len, devs[i], nonce, sizeof nonce, NOW, &rep),
				   AIRLOCK_ERR_DEVICE_MISMATCH);

		/* Nonce: any byte differs, or another length. */
		uint8_t n2[sizeof nonce + 1];
		for (size_t i = 0; i < sizeof nonce; i++) {
			memcpy(n2, nonce, sizeof nonce);
			n2[i] ^= 0x80;
			assert_err(dir_verify(&root, file_buf, len, DEVICE, n2, sizeof nonce, NOW, &rep),
				   AIRLOCK_ERR_NONCE_MISMATCH);
		}
		memcpy(n2, nonce, sizeof nonce);
		n2[sizeof nonce] = 0;
		assert_err(dir_verify(&root, file_buf, len, DEVICE, n2, sizeof nonce + 1, NOW, &rep),
			   AIRLOCK_ERR_NONCE_MISMATCH);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, n2, sizeof nonce - 1, NOW, &rep),
			   AIRLOCK_ERR_NONCE_MISMATCH);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, n2, 0, NOW, &rep), AIRLOCK_ERR_NONCE_MISMATCH);

		/* Expiry. */
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW + 299, &rep), AIRLOCK_OK);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW + 300, &rep),
			   AIRLOCK_ERR_EXPIRED);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, UINT64_MAX, &rep),
			   AIRLOCK_ERR_EXPIRED);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_OK);

		/* Signed by release keys (a threshold of them), or by a root key. */
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, ks.s, 3, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_ERR_WRONG_ROLE);
		assert_int_equal(rep.valid, 0);
		check_verdict(&rep, 2, ks.s[2], AIRLOCK_ERR_WRONG_ROLE);
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.r[0], 1, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_ERR_WRONG_ROLE);
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.x, 1, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_ERR_UNKNOWN_KEY);

		/* "none" naming a release: refused by the parser, after the signature. */
		{
			/* The encoder drops the release for "none": write it by hand. */
			struct airlock_cbor_enc e;
			airlock_cbor_enc_init(&e, body_buf, sizeof body_buf);
			airlock_cbor_put_map(&e, 7);
			airlock_cbor_put_uint(&e, 0);
			airlock_cbor_put_uint(&e, AIRLOCK_META_DIRECTIVE);
			airlock_cbor_put_uint(&e, 1);
			airlock_cbor_put_tstr(&e, DEVICE, strlen(DEVICE));
			airlock_cbor_put_uint(&e, 2);
			airlock_cbor_put_bstr(&e, nonce, sizeof nonce);
			airlock_cbor_put_uint(&e, 3);
			airlock_cbor_put_uint(&e, NOW);
			airlock_cbor_put_uint(&e, 4);
			airlock_cbor_put_uint(&e, NOW + 300);
			airlock_cbor_put_uint(&e, 5);
			airlock_cbor_put_uint(&e, AIRLOCK_ACTION_NONE);
			airlock_cbor_put_uint(&e, 6);
			airlock_cbor_put_bstr(&e, rdigest, 32);
			assert_err(airlock_cbor_enc_finish(&e, &blen), AIRLOCK_OK);
			len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.d, 1, file_buf, sizeof file_buf);
			assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep),
				   AIRLOCK_ERR_BAD_VALUE);
			assert_int_equal(rep.valid, 1);
			/* Without the release field it is a valid "nothing to do". */
			blen = directive_body(AIRLOCK_ACTION_NONE, NULL, NOW + 300, body_buf, sizeof body_buf);
			len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.d, 1, file_buf, sizeof file_buf);
			assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_OK);
		}

		/* Checks come in order: signatures, device, nonce, expiry. */
		blen = directive_body(AIRLOCK_ACTION_INSTALL, rdigest, NOW - 1, body_buf, sizeof body_buf);
		len = envelope(AIRLOCK_META_DIRECTIVE, body_buf, blen, &ks.d, 1, file_buf, sizeof file_buf);
		assert_err(dir_verify(&root, file_buf, len, "other", n2, 3, NOW, &rep), AIRLOCK_ERR_DEVICE_MISMATCH);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, n2, 3, NOW, &rep), AIRLOCK_ERR_NONCE_MISMATCH);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, NOW, &rep), AIRLOCK_ERR_EXPIRED);
		assert_err(dir_verify(&root, file_buf, len, DEVICE, nonce, sizeof nonce, 0, &rep), AIRLOCK_OK);
	}
}

/* A root key whose bytes are not a valid point never counts. */
static void test_invalid_point_in_root(void **state)
{
	(void)state;
	struct keyset ks = keyset(SET_EC);
	struct tkey bogus = { 0 };
	bogus.alg = AIRLOCK_ALG_P256;
	bogus.pub_len = AIRLOCK_P256_PUB_LEN;
	memset(bogus.pub, 0x01, bogus.pub_len);
	bogus.pub[0] = 0x04;
	assert_err(airlock_keyid(bogus.pub, bogus.pub_len, bogus.keyid), AIRLOCK_OK);
	struct rspec s;
	rs_default(&s, &ks);
	rs_role(&s, AIRLOCK_ROLE_RELEASE, 1, (struct tkey *[]){ &bogus }, 1);
	struct airlock_root root;
	load_root(&s, ks.r, 2, &root);
	size_t blen = release_body(7, 0, body_buf, sizeof body_buf);
	/* A signature claimed by the bogus key (made by another key). */
	size_t len = envelope(AIRLOCK_META_RELEASE, body_buf, blen, &ks.s[0], 1, file_buf, sizeof file_buf);
	struct airlock_envelope env;
	uint8_t *f = keep(file_buf, len);
	assert_err(airlock_envelope_parse(f, len, FILE_MAX, &env), AIRLOCK_OK);
	env.sigs[0].keyid = bogus.keyid;
	struct airlock_sig_report rep;
	assert_err(airlock_verify_role(&root, AIRLOCK_ROLE_RELEASE, &env, &rep), AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(rep.sigs[0].verdict, AIRLOCK_ERR_BAD_SIGNATURE);
	assert_int_equal(rep.valid, 0);
}

static void test_sig_message(void **state)
{
	(void)state;
	/* ["airlock-sig-v1", 2, -8, h'00..1f'] */
	uint8_t d[32], msg[AIRLOCK_SIG_MESSAGE_MAX], want[AIRLOCK_SIG_MESSAGE_MAX];
	for (int i = 0; i < 32; i++)
		d[i] = (uint8_t)i;
	size_t len;
	assert_err(airlock_sig_message(AIRLOCK_META_RELEASE, AIRLOCK_ALG_ED25519, d, msg, &len), AIRLOCK_OK);
	size_t wlen = test_hex("846e6169726c6f636b2d7369672d76310227"
			       "5820000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
			       want, sizeof want);
	assert_int_equal(len, wlen);
	assert_memory_equal(msg, want, wlen);
	assert_err(airlock_sig_message(AIRLOCK_META_ROOT, AIRLOCK_ALG_P256, d, msg, &len), AIRLOCK_OK);
	assert_int_equal(msg[16], 0x01);
	assert_int_equal(msg[17], 0x26);
}

static int setup(void **state)
{
	(void)state;
	for (int i = 0; i < N_ED; i++)
		tkey_gen(&ed[i], AIRLOCK_ALG_ED25519);
	for (int i = 0; i < N_EC; i++)
		tkey_gen(&ec[i], AIRLOCK_ALG_P256);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < N_ED; i++)
		airlock_privkey_free(ed[i].priv);
	for (int i = 0; i < N_EC; i++)
		airlock_privkey_free(ec[i].priv);
	return 0;
}

#define T(f) cmocka_unit_test_teardown(f, teardown_kept)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_sig_message),
		T(test_threshold),
		T(test_roles_and_keys),
		T(test_key_listed_twice),
		T(test_type_and_alg_binding),
		T(test_signature_before_body),
		T(test_byte_flips),
		T(test_root_rotation),
		T(test_root_rotation_expired),
		T(test_root_chain_walk),
		T(test_release_policy),
		T(test_directive_policy),
		T(test_invalid_point_in_root),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
