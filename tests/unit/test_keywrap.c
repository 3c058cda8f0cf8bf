/* Content key wrap for an X25519 recipient (lib/keywrap.c). */
#include "testutil.h"

#include <string.h>

#include "airlock/cbor.h"
#include "airlock/crypto.h"
#include "airlock/keywrap.h"

struct fixture {
	struct airlock_privkey *alice, *bob, *signer;
	uint8_t alice_pub[AIRLOCK_X25519_LEN], bob_pub[AIRLOCK_X25519_LEN];
	uint8_t ck[AIRLOCK_CONTENT_KEY_LEN];
};

static void x25519_key(struct airlock_privkey **key, uint8_t pub[AIRLOCK_X25519_LEN])
{
	uint8_t raw[AIRLOCK_PUB_MAX_LEN];
	size_t len = 0;
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_X25519, key), AIRLOCK_OK);
	assert_err(airlock_privkey_public(*key, raw, &len), AIRLOCK_OK);
	assert_int_equal(len, AIRLOCK_X25519_LEN);
	memcpy(pub, raw, AIRLOCK_X25519_LEN);
}

static int setup(void **state)
{
	static struct fixture f;
	x25519_key(&f.alice, f.alice_pub);
	x25519_key(&f.bob, f.bob_pub);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &f.signer), AIRLOCK_OK);
	assert_err(airlock_random(f.ck, sizeof f.ck), AIRLOCK_OK);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	airlock_privkey_free(f->alice);
	airlock_privkey_free(f->bob);
	airlock_privkey_free(f->signer);
	return 0;
}

static void assert_wiped(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], 0);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w1, w2;
	uint8_t id[AIRLOCK_KEYID_LEN], out[AIRLOCK_CONTENT_KEY_LEN];

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w1), AIRLOCK_OK);
	assert_err(airlock_keyid(f->alice_pub, sizeof f->alice_pub, id), AIRLOCK_OK);
	assert_memory_equal(w1.recipient, id, sizeof id);
	assert_err(airlock_keywrap_open(&w1, f->alice, out), AIRLOCK_OK);
	assert_memory_equal(out, f->ck, sizeof out);

	/* Each wrap draws a fresh ephemeral key, so a fresh KEK. */
	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w2), AIRLOCK_OK);
	assert_memory_not_equal(w1.ephemeral, w2.ephemeral, sizeof w1.ephemeral);
	assert_memory_not_equal(w1.sealed, w2.sealed, sizeof w1.sealed);
	assert_err(airlock_keywrap_open(&w2, f->alice, out), AIRLOCK_OK);
	assert_memory_equal(out, f->ck, sizeof out);
}

/*
 * Recomputes the wrap by the header's description through the crypto port
 * alone: pins salt order, info string, nonce and AAD, so that a change to
 * any of them in lib/keywrap.c fails here.
 */
static void test_format(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w;
	struct airlock_gcm gcm;
	static const uint8_t nonce[AIRLOCK_GCM_NONCE_LEN];
	uint8_t shared[32], salt[64], kek[32], out[32], id[32];

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	assert_err(airlock_privkey_x25519(f->alice, w.ephemeral, shared), AIRLOCK_OK);
	memcpy(salt, w.ephemeral, 32);
	memcpy(salt + 32, f->alice_pub, 32);
	assert_err(airlock_hkdf_sha256(salt, sizeof salt, shared, sizeof shared,
				       (const uint8_t *)"airlock-keywrap-v1", 18, kek, sizeof kek),
		   AIRLOCK_OK);
	assert_err(airlock_sha256(f->alice_pub, 32, id), AIRLOCK_OK);
	assert_err(airlock_gcm_init(&gcm, kek), AIRLOCK_OK);
	assert_err(airlock_gcm_open(&gcm, nonce, id, sizeof id, w.sealed, 32, out, w.sealed + 32), AIRLOCK_OK);
	airlock_gcm_free(&gcm);
	assert_memory_equal(out, f->ck, sizeof out);
}

static void test_wrong_recipient(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w;
	uint8_t out[AIRLOCK_CONTENT_KEY_LEN];

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	memset(out, 0xaa, sizeof out);
	assert_err(airlock_keywrap_open(&w, f->bob, out), AIRLOCK_ERR_KEY_UNWRAP);
	assert_wiped(out, sizeof out);

	/* Relabelled for bob: the id matches, but bob's KEK differs and the
	 * AAD no longer matches what was sealed. */
	assert_err(airlock_keyid(f->bob_pub, sizeof f->bob_pub, w.recipient), AIRLOCK_OK);
	memset(out, 0xaa, sizeof out);
	assert_err(airlock_keywrap_open(&w, f->bob, out), AIRLOCK_ERR_KEY_UNWRAP);
	assert_wiped(out, sizeof out);
	/* And alice no longer recognises it either. */
	assert_err(airlock_keywrap_open(&w, f->alice, out), AIRLOCK_ERR_KEY_UNWRAP);
	assert_wiped(out, sizeof out);

	/* A signing key is not a recipient key. */
	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	memset(out, 0xaa, sizeof out);
	assert_err(airlock_keywrap_open(&w, f->signer, out), AIRLOCK_ERR_INVALID_ARG);
	assert_wiped(out, sizeof out);
	assert_err(airlock_keywrap_open(NULL, f->alice, out), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_keywrap_open(&w, NULL, out), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_keywrap_open(&w, f->alice, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_keywrap_seal(NULL, f->alice_pub, &w), AIRLOCK_ERR_INVALID_ARG);
}

/* Every single bit of the wrapped struct matters, top bits of the public
 * keys included (X25519 ignores them, the HKDF salt does not). */
static void test_bit_flips(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w, bad;
	uint8_t out[AIRLOCK_CONTENT_KEY_LEN];

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	for (size_t bit = 0; bit < 8 * sizeof w; bit++) {
		bad = w;
		((uint8_t *)&bad)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof out);
		assert_err(airlock_keywrap_open(&bad, f->alice, out), AIRLOCK_ERR_KEY_UNWRAP);
		assert_wiped(out, sizeof out);
	}
	assert_err(airlock_keywrap_open(&w, f->alice, out), AIRLOCK_OK);
	assert_memory_equal(out, f->ck, sizeof out);
}

/* Low-order points (RFC 7748 section 6.1 lists them) as ephemeral or recipient. */
static void test_low_order(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w;
	uint8_t out[AIRLOCK_CONTENT_KEY_LEN], point[32] = { 0 };

	assert_err(airlock_keywrap_seal(f->ck, point, &w), AIRLOCK_ERR_BAD_KEY);
	point[0] = 1;
	assert_err(airlock_keywrap_seal(f->ck, point, &w), AIRLOCK_ERR_BAD_KEY);

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	memset(w.ephemeral, 0, sizeof w.ephemeral);
	assert_err(airlock_keywrap_open(&w, f->alice, out), AIRLOCK_ERR_KEY_UNWRAP);
	w.ephemeral[0] = 1;
	assert_err(airlock_keywrap_open(&w, f->alice, out), AIRLOCK_ERR_KEY_UNWRAP);
}

static void test_encode_decode(void **state)
{
	struct fixture *f = *state;
	struct airlock_wrapped_key w, back;
	struct airlock_cbor_enc e;
	struct airlock_cbor_dec d;
	uint8_t buf[256], out[AIRLOCK_CONTENT_KEY_LEN];
	size_t len;

	assert_err(airlock_keywrap_seal(f->ck, f->alice_pub, &w), AIRLOCK_OK);
	airlock_cbor_enc_init(&e, NULL, 0);
	airlock_keywrap_encode(&w, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_ERR_BUFFER_TOO_SMALL);
	assert_int_equal(len, AIRLOCK_KEYWRAP_CBOR_LEN);

	airlock_cbor_enc_init(&e, buf, sizeof buf);
	airlock_keywrap_encode(&w, &e);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	assert_int_equal(len, AIRLOCK_KEYWRAP_CBOR_LEN);
	/* 83, 58 20 <id>, 58 20 <E>, 58 30 <sealed> */
	assert_int_equal(buf[0], 0x83);
	assert_int_equal(buf[1], 0x58);
	assert_int_equal(buf[2], 0x20);
	assert_memory_equal(buf + 3, w.recipient, 32);
	assert_int_equal(buf[35], 0x58);
	assert_int_equal(buf[36], 0x20);
	assert_memory_equal(buf + 37, w.ephemeral, 32);
	assert_int_equal(buf[69], 0x58);
	assert_int_equal(buf[70], 0x30);
	assert_memory_equal(buf + 71, w.sealed, 48);

	airlock_cbor_dec_init(&d, buf, len);
	assert_err(airlock_keywrap_decode(&d, &back), AIRLOCK_OK);
	assert_err(airlock_cbor_dec_finish(&d), AIRLOCK_OK);
	assert_memory_equal(&back, &w, sizeof w);
	assert_err(airlock_keywrap_open(&back, f->alice, out), AIRLOCK_OK);
	assert_memory_equal(out, f->ck, sizeof out);

	/* Every truncation is refused, the cursor and output untouched. */
	for (size_t n = 0; n < len; n++) {
		memset(&back, 0x77, sizeof back);
		airlock_cbor_dec_init(&d, buf, n);
		assert_err(airlock_keywrap_decode(&d, &back), AIRLOCK_ERR_MALFORMED);
		assert_ptr_equal(d.p, buf);
		for (size_t i = 0; i < sizeof back; i++)
			assert_int_equal(((uint8_t *)&back)[i], 0x77);
	}
}

/* Builds [bstr(a), bstr(b), bstr(c)] with the given lengths (or count). */
static size_t build(uint8_t *buf, size_t cap, size_t count, const size_t *lens)
{
	static const uint8_t fill[64];
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, buf, cap);
	airlock_cbor_put_array(&e, count);
	for (size_t i = 0; i < count; i++)
		airlock_cbor_put_bstr(&e, fill, lens[i]);
	assert_err(airlock_cbor_enc_finish(&e, &len), AIRLOCK_OK);
	return len;
}

static void expect_decode(const uint8_t *buf, size_t len, airlock_err want)
{
	struct airlock_wrapped_key w;
	struct airlock_cbor_dec d;
	airlock_cbor_dec_init(&d, buf, len);
	assert_err(airlock_keywrap_decode(&d, &w), want);
	if (want != AIRLOCK_OK)
		assert_ptr_equal(d.p, buf);
}

static void test_decode_bad(void **state)
{
	(void)state;
	uint8_t buf[512];
	const size_t good[] = { 32, 32, 48, 32 };
	const size_t bad_lens[][3] = {
		{ 31, 32, 48 }, { 33, 32, 48 }, { 32, 31, 48 }, { 32, 33, 48 },
		{ 32, 32, 47 }, { 32, 32, 49 }, { 0, 0, 0 },    { 48, 32, 32 },
	};

	expect_decode(buf, build(buf, sizeof buf, 3, good), AIRLOCK_OK);
	for (size_t i = 0; i < sizeof bad_lens / sizeof bad_lens[0]; i++)
		expect_decode(buf, build(buf, sizeof buf, 3, bad_lens[i]), AIRLOCK_ERR_BAD_VALUE);
	expect_decode(buf, build(buf, sizeof buf, 2, good), AIRLOCK_ERR_BAD_VALUE);
	expect_decode(buf, build(buf, sizeof buf, 4, good), AIRLOCK_ERR_BAD_VALUE);
	expect_decode(buf, build(buf, sizeof buf, 0, good), AIRLOCK_ERR_BAD_VALUE);

	/* A map, a text string in place of a byte string, a bare byte string. */
	size_t n = build(buf, sizeof buf, 3, good);
	buf[0] = 0xa3;
	expect_decode(buf, n, AIRLOCK_ERR_WRONG_TYPE);
	buf[0] = 0x83;
	buf[35] = 0x78;   /* tstr, 1-byte length 32: zero bytes are valid UTF-8 */
	expect_decode(buf, n, AIRLOCK_ERR_WRONG_TYPE);
	expect_decode(buf + 1, n - 1, AIRLOCK_ERR_WRONG_TYPE);

	/* Non-canonical: a length in a longer form than needed, an indefinite array. */
	static const uint8_t long_len[] = { 0x83, 0x59, 0x00, 0x20 };
	expect_decode(long_len, sizeof long_len, AIRLOCK_ERR_NONCANONICAL);
	static const uint8_t indef[] = { 0x9f, 0x40, 0x40, 0x40, 0xff };
	expect_decode(indef, sizeof indef, AIRLOCK_ERR_NONCANONICAL);
	expect_decode(buf, 0, AIRLOCK_ERR_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_wrong_recipient),
		cmocka_unit_test(test_bit_flips),
		cmocka_unit_test(test_low_order),
		cmocka_unit_test(test_encode_decode),
		cmocka_unit_test(test_decode_bad),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
