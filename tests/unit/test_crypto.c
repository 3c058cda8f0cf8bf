/*
 * Tests of the crypto port (include/airlock/crypto.h).
 *
 * The test speaks only the port's interface, never OpenSSL, so that any
 * other port can be held to the same file. Keys with known secrets (RFC
 * vectors) are written as PKCS#8/SPKI PEM files built here from fixed DER
 * prefixes and a small base64 encoder, independent of the implementation.
 *
 * Vectors: FIPS 180-2 appendix B (SHA-256), RFC 8032 section 7.1 (Ed25519),
 * RFC 6979 appendix A.2.5 (ECDSA P-256 with SHA-256), RFC 7748 sections 6.1
 * and 5 (X25519), RFC 5869 appendix A (HKDF-SHA256), McGrew & Viega "The
 * Galois/Counter Mode of Operation" test cases 13, 14, 16 (AES-256-GCM).
 */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/crypto.h"

/* ---- helpers ---- */

struct fixture {
	char dir[256];
};

static int setup_dir(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);

	assert_non_null(f);
	snprintf(f->dir, sizeof f->dir, "%s", test_tmpdir());
	*state = f;
	return 0;
}

/* Removes every file the test left in its directory, then the directory. */
static int teardown_dir(void **state)
{
	struct fixture *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char path[512];

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", f->dir, e->d_name);
		if (unlink(path) != 0)
			rmdir(path);
	}
	closedir(d);
	assert_int_equal(rmdir(f->dir), 0);
	free(f);
	return 0;
}

static void join(char *out, size_t cap, const struct fixture *f, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", f->dir, name);

	assert_true(n > 0 && (size_t)n < cap);
}

static unsigned file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static bool file_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

static bool starts_with(const uint8_t *data, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(data, prefix, n) == 0;
}

/* RFC 4648 base64 with RFC 7468 PEM framing (64-character lines). */
static size_t pem_encode(const char *label, const uint8_t *der, size_t len, char *out, size_t cap)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0, line = 0;
	int n;

	n = snprintf(out, cap, "-----BEGIN %s-----\n", label);
	assert_true(n > 0 && (size_t)n < cap);
	o = (size_t)n;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)der[i] << 16;
		size_t rem = len - i;
		char q[4];

		if (rem > 1)
			v |= (uint32_t)der[i + 1] << 8;
		if (rem > 2)
			v |= der[i + 2];
		q[0] = b64[(v >> 18) & 63];
		q[1] = b64[(v >> 12) & 63];
		q[2] = rem > 1 ? b64[(v >> 6) & 63] : '=';
		q[3] = rem > 2 ? b64[v & 63] : '=';
		for (size_t k = 0; k < 4; k++) {
			assert_true(o + 2 < cap);
			out[o++] = q[k];
			if (++line == 64) {
				out[o++] = '\n';
				line = 0;
			}
		}
	}
	if (line != 0) {
		assert_true(o + 1 < cap);
		out[o++] = '\n';
	}
	n = snprintf(out + o, cap - o, "-----END %s-----\n", label);
	assert_true(n > 0 && (size_t)n < cap - o);
	return o + (size_t)n;
}

/* n copies of a two-digit hex byte, NUL-terminated in out. */
static const char *repeat_hex(const char *byte, size_t n, char *out, size_t cap)
{
	assert_true(2 * n < cap);
	for (size_t i = 0; i < n; i++)
		memcpy(out + 2 * i, byte, 2);
	out[2 * n] = '\0';
	return out;
}

/* Writes a file with exactly the given mode (umask notwithstanding). */
static void write_mode(const char *path, const void *data, size_t len, mode_t mode)
{
	test_write_file(path, data, len);
	assert_int_equal(chmod(path, mode), 0);
}

/* Writes a PEM file from hex DER pieces (prefix || body), mode 0600. */
static void write_pem_hex(const char *path, const char *label, const char *prefix_hex, const char *body_hex)
{
	uint8_t der[512];
	char pem[1024];
	size_t n = test_hex(prefix_hex, der, sizeof der);

	n += test_hex(body_hex, der + n, sizeof der - n);
	write_mode(path, pem, pem_encode(label, der, n, pem, sizeof pem), 0600);
}

/* DER prefixes: PKCS#8 PrivateKeyInfo (RFC 5958/8410/5915) and SPKI (RFC 5280/8410/5480). */
#define PKCS8_ED25519 "302e020100300506032b657004220420"
#define PKCS8_X25519 "302e020100300506032b656e04220420"
/* Followed by d (32 bytes), "a144034200" and the 65-byte public point. */
#define PKCS8_P256 "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b0201010420"
#define PKCS8_ED448 "3047020100300506032b6571043b0439"
#define PKCS8_P384_NOPUB "304e020100301006072a8648ce3d020106052b81040022043730350201010430"
#define SPKI_ED25519 "302a300506032b6570032100"
#define SPKI_X25519 "302a300506032b656e032100"
#define SPKI_P256 "3059301306072a8648ce3d020106082a8648ce3d030107034200"
#define SPKI_P256_COMPRESSED "3039301306072a8648ce3d020106082a8648ce3d030107032200"
#define SPKI_ED448 "3043300506032b6571033a00"

/* RFC 6979 A.2.5 key. */
#define P256_D "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"
#define P256_UX "60fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6"
#define P256_UY "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299"
#define P256_PUB "04" P256_UX P256_UY

/* RFC 7748 6.1. */
#define X25519_ALICE_PRIV "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"
#define X25519_ALICE_PUB "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
#define X25519_BOB_PRIV "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"
#define X25519_BOB_PUB "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"
#define X25519_SHARED "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

static struct airlock_privkey *load_hex_key(const struct fixture *f, const char *name,
					    const char *prefix_hex, const char *body_hex)
{
	char path[512];
	struct airlock_privkey *key = NULL;

	join(path, sizeof path, f, name);
	write_pem_hex(path, "PRIVATE KEY", prefix_hex, body_hex);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_OK);
	assert_non_null(key);
	return key;
}

static void assert_public(const struct airlock_privkey *key, const char *want_hex)
{
	uint8_t want[AIRLOCK_PUB_MAX_LEN], pub[AIRLOCK_PUB_MAX_LEN];
	size_t want_len = test_hex(want_hex, want, sizeof want), pub_len = 0;

	assert_err(airlock_privkey_public(key, pub, &pub_len), AIRLOCK_OK);
	assert_int_equal(pub_len, want_len);
	assert_memory_equal(pub, want, want_len);
}

/* ---- algorithm names ---- */

static void test_alg_names(void **state)
{
	enum airlock_alg alg;

	(void)state;
	assert_string_equal(airlock_alg_name(AIRLOCK_ALG_ED25519), "ed25519");
	assert_string_equal(airlock_alg_name(AIRLOCK_ALG_P256), "p256");
	assert_string_equal(airlock_alg_name(AIRLOCK_ALG_X25519), "x25519");
	assert_null(airlock_alg_name(0));
	assert_null(airlock_alg_name(-35)); /* COSE ES384: not supported */

	assert_err(airlock_alg_parse("ed25519", &alg), AIRLOCK_OK);
	assert_int_equal(alg, AIRLOCK_ALG_ED25519);
	assert_err(airlock_alg_parse("p256", &alg), AIRLOCK_OK);
	assert_int_equal(alg, AIRLOCK_ALG_P256);
	assert_err(airlock_alg_parse("x25519", &alg), AIRLOCK_OK);
	assert_int_equal(alg, AIRLOCK_ALG_X25519);
	alg = AIRLOCK_ALG_P256;
	assert_err(airlock_alg_parse("Ed25519", &alg), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_alg_parse("", &alg), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_alg_parse("ed25519 ", &alg), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_int_equal(alg, AIRLOCK_ALG_P256); /* untouched on failure */
	assert_err(airlock_alg_parse(NULL, &alg), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_alg_parse("p256", NULL), AIRLOCK_ERR_INVALID_ARG);

	assert_int_equal(airlock_alg_pub_len(AIRLOCK_ALG_ED25519), 32);
	assert_int_equal(airlock_alg_pub_len(AIRLOCK_ALG_P256), 65);
	assert_int_equal(airlock_alg_pub_len(AIRLOCK_ALG_X25519), 32);
	assert_int_equal(airlock_alg_pub_len(-35), 0);
	assert_true(airlock_alg_can_sign(AIRLOCK_ALG_ED25519));
	assert_true(airlock_alg_can_sign(AIRLOCK_ALG_P256));
	assert_false(airlock_alg_can_sign(AIRLOCK_ALG_X25519));
	assert_false(airlock_alg_can_sign(0));
}

/* ---- SHA-256 ---- */

static void check_sha256(const char *msg, const char *want_hex)
{
	uint8_t want[AIRLOCK_SHA256_LEN], got[AIRLOCK_SHA256_LEN];

	test_hex(want_hex, want, sizeof want);
	assert_err(airlock_sha256(msg, strlen(msg), got), AIRLOCK_OK);
	assert_memory_equal(got, want, sizeof want);
}

static void test_sha256_vectors(void **state)
{
	uint8_t got[AIRLOCK_SHA256_LEN], want[AIRLOCK_SHA256_LEN];

	(void)state;
	check_sha256("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	check_sha256("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	check_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	/* The empty message may come as NULL. */
	test_hex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", want, sizeof want);
	assert_err(airlock_sha256(NULL, 0, got), AIRLOCK_OK);
	assert_memory_equal(got, want, sizeof want);
	assert_err(airlock_sha256(NULL, 1, got), AIRLOCK_ERR_INVALID_ARG);
}

static void test_sha256_million_a_streamed(void **state)
{
	static const size_t pieces[] = { 1, 3, 7, 64, 63, 65, 127, 1000, 4093, 0, 9999 };
	uint8_t buf[10000], got[AIRLOCK_SHA256_LEN], want[AIRLOCK_SHA256_LEN];
	struct airlock_sha256 ctx;
	size_t left = 1000000, i = 0;

	(void)state;
	memset(buf, 'a', sizeof buf);
	test_hex("cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0", want, sizeof want);
	assert_err(airlock_sha256_init(&ctx), AIRLOCK_OK);
	while (left > 0) {
		size_t n = pieces[i++ % (sizeof pieces / sizeof pieces[0])];

		if (n > left)
			n = left;
		assert_err(airlock_sha256_update(&ctx, buf, n), AIRLOCK_OK);
		left -= n;
	}
	assert_err(airlock_sha256_final(&ctx, got), AIRLOCK_OK);
	assert_memory_equal(got, want, sizeof want);
}

static void test_sha256_lifecycle(void **state)
{
	struct airlock_sha256 ctx;
	uint8_t out[AIRLOCK_SHA256_LEN];

	(void)state;
	/* final releases the context: it cannot be used again, and free is harmless. */
	assert_err(airlock_sha256_init(&ctx), AIRLOCK_OK);
	assert_err(airlock_sha256_update(&ctx, "abc", 3), AIRLOCK_OK);
	assert_err(airlock_sha256_final(&ctx, out), AIRLOCK_OK);
	assert_null(ctx.impl);
	assert_err(airlock_sha256_update(&ctx, "abc", 3), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_sha256_final(&ctx, out), AIRLOCK_ERR_INVALID_ARG);
	airlock_sha256_free(&ctx);

	/* free is idempotent, and an abandoned context leaks nothing (valgrind/ASan). */
	assert_err(airlock_sha256_init(&ctx), AIRLOCK_OK);
	assert_err(airlock_sha256_update(&ctx, NULL, 0), AIRLOCK_OK);
	assert_err(airlock_sha256_update(&ctx, NULL, 1), AIRLOCK_ERR_INVALID_ARG);
	airlock_sha256_free(&ctx);
	assert_null(ctx.impl);
	airlock_sha256_free(&ctx);
	airlock_sha256_free(NULL);

	/* final with a NULL output still releases the context. */
	assert_err(airlock_sha256_init(&ctx), AIRLOCK_OK);
	assert_err(airlock_sha256_final(&ctx, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_null(ctx.impl);
	assert_err(airlock_sha256_init(NULL), AIRLOCK_ERR_INVALID_ARG);
}

static void test_keyid(void **state)
{
	uint8_t pub[AIRLOCK_ED25519_PUB_LEN], id[AIRLOCK_KEYID_LEN], want[AIRLOCK_SHA256_LEN];

	(void)state;
	test_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", pub, sizeof pub);
	assert_err(airlock_keyid(pub, sizeof pub, id), AIRLOCK_OK);
	assert_err(airlock_sha256(pub, sizeof pub, want), AIRLOCK_OK);
	assert_memory_equal(id, want, sizeof want);
	assert_err(airlock_keyid(NULL, 0, id), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_keyid(pub, 0, id), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_keyid(pub, AIRLOCK_PUB_MAX_LEN + 1, id), AIRLOCK_ERR_INVALID_ARG);
}

/* ---- Ed25519 ---- */

struct ed25519_vector {
	const char *seed, *pub, *msg, *sig;
};

/* RFC 8032 section 7.1, TEST 1..3. */
static const struct ed25519_vector rfc8032[] = {
	{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
	  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
	  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
	{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
	  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
	  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	{ "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
	  "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
	  "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a" },
};

static void test_ed25519_rfc8032_verify(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; i++) {
		uint8_t pub[32], msg[8], sig[64];
		size_t msg_len = test_hex(rfc8032[i].msg, msg, sizeof msg);

		test_hex(rfc8032[i].pub, pub, sizeof pub);
		test_hex(rfc8032[i].sig, sig, sizeof sig);
		/* Test 1 signs the empty message: NULL must do as well. */
		assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, sizeof pub, msg_len ? msg : NULL, msg_len,
					      sig, sizeof sig),
			   AIRLOCK_OK);
		/* A valid signature under another vector's key is not valid here. */
		test_hex(rfc8032[(i + 1) % 3].pub, pub, sizeof pub);
		assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, sizeof pub, msg, msg_len, sig, sizeof sig),
			   AIRLOCK_ERR_BAD_SIGNATURE);
	}
}

static void test_ed25519_rfc8032_sign(void **state)
{
	struct fixture *f = *state;

	for (size_t i = 0; i < sizeof rfc8032 / sizeof rfc8032[0]; i++) {
		uint8_t msg[8], want[64], sig[AIRLOCK_SIG_MAX_LEN];
		size_t msg_len = test_hex(rfc8032[i].msg, msg, sizeof msg), sig_len = 0;
		char name[32];
		struct airlock_privkey *key;

		snprintf(name, sizeof name, "ed%zu.pem", i);
		key = load_hex_key(f, name, PKCS8_ED25519, rfc8032[i].seed);
		assert_int_equal(airlock_privkey_alg(key), AIRLOCK_ALG_ED25519);
		assert_public(key, rfc8032[i].pub);
		test_hex(rfc8032[i].sig, want, sizeof want);
		assert_err(airlock_privkey_sign(key, msg_len ? msg : NULL, msg_len, sig, &sig_len), AIRLOCK_OK);
		assert_int_equal(sig_len, 64);
		/* Ed25519 is deterministic: the exact RFC signature. */
		assert_memory_equal(sig, want, sizeof want);
		airlock_privkey_free(key);
	}
}

static void test_ed25519_bit_flips(void **state)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], msg[2], sig[64], m[64];
	struct airlock_privkey *key = NULL;
	size_t pub_len = 0, sig_len = 0;

	(void)state;
	/* Every bit of a known-good signature and message (RFC 8032 TEST 3). */
	test_hex(rfc8032[2].pub, pub, 32);
	test_hex(rfc8032[2].msg, msg, sizeof msg);
	test_hex(rfc8032[2].sig, sig, sizeof sig);
	for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, 32, msg, sizeof msg, sig, sizeof sig),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof msg; bit++) {
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, 32, msg, sizeof msg, sig, sizeof sig),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		msg[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, 32, msg, sizeof msg, sig, sizeof sig),
		   AIRLOCK_OK);

	/* And over a longer message signed by a fresh key. */
	for (size_t i = 0; i < sizeof m; i++)
		m[i] = (uint8_t)(i * 37 + 1);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &key), AIRLOCK_OK);
	assert_err(airlock_privkey_public(key, pub, &pub_len), AIRLOCK_OK);
	assert_int_equal(pub_len, 32);
	assert_err(airlock_privkey_sign(key, m, sizeof m, sig, &sig_len), AIRLOCK_OK);
	airlock_privkey_free(key);
	for (size_t bit = 0; bit < 8 * sizeof m; bit++) {
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, pub_len, m, sizeof m, sig, sig_len),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		m[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, pub_len, m, sizeof m, sig, sig_len), AIRLOCK_OK);
	/* A truncated message is another message. */
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, pub, pub_len, m, sizeof m - 1, sig, sig_len),
		   AIRLOCK_ERR_BAD_SIGNATURE);
}

/* ---- ECDSA P-256 ---- */

/* RFC 6979 A.2.5, SHA-256. */
#define P256_SAMPLE_SIG "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716" \
			"f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8"
#define P256_TEST_SIG "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367" \
		      "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083"
#define P256_ORDER "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"

/* out = n - s, big-endian, 32 bytes (s < n). */
static void p256_negate_s(const uint8_t s[32], uint8_t out[32])
{
	uint8_t n[32];
	int borrow = 0;

	test_hex(P256_ORDER, n, sizeof n);
	for (int i = 31; i >= 0; i--) {
		int d = n[i] - s[i] - borrow;

		borrow = d < 0;
		out[i] = (uint8_t)(d + (borrow ? 256 : 0));
	}
	assert_int_equal(borrow, 0);
}

static void test_p256_rfc6979_verify(void **state)
{
	uint8_t pub[65], sig[64], high[64];

	(void)state;
	test_hex(P256_PUB, pub, sizeof pub);
	test_hex(P256_SAMPLE_SIG, sig, sizeof sig);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_OK);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 5, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"test", 4, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_SIGNATURE);

	/* s here has a leading zero byte: r||s must stay fixed-width. */
	test_hex(P256_TEST_SIG, sig, sizeof sig);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"test", 4, sig, sizeof sig),
		   AIRLOCK_OK);

	/* High-S twin (r, n - s) is accepted, as the header documents. */
	test_hex(P256_SAMPLE_SIG, sig, sizeof sig);
	memcpy(high, sig, 32);
	p256_negate_s(sig + 32, high + 32);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, high, sizeof high),
		   AIRLOCK_OK);

	/* Every bit of r||s. */
	for (size_t bit = 0; bit < 8 * sizeof sig; bit++) {
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6,
					      sig, sizeof sig),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		sig[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}

	/* r = 0, s = 0, and r = n are out of range, not crashes. */
	memset(sig, 0, sizeof sig);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_SIGNATURE);
	test_hex(P256_SAMPLE_SIG, sig, sizeof sig);
	test_hex(P256_ORDER, sig, 32);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_SIGNATURE);
	memset(sig, 0xff, sizeof sig);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_SIGNATURE);
}

static void test_p256_rfc6979_key(void **state)
{
	struct fixture *f = *state;
	struct airlock_privkey *key;
	uint8_t pub[65], sig[AIRLOCK_SIG_MAX_LEN], sig2[AIRLOCK_SIG_MAX_LEN];
	size_t sig_len = 0;

	key = load_hex_key(f, "p256.pem", PKCS8_P256, P256_D "a144034200" P256_PUB);
	assert_int_equal(airlock_privkey_alg(key), AIRLOCK_ALG_P256);
	assert_public(key, P256_PUB);
	/* ECDSA here is randomised: check the signatures verify, and differ. */
	test_hex(P256_PUB, pub, sizeof pub);
	assert_err(airlock_privkey_sign(key, (const uint8_t *)"sample", 6, sig, &sig_len), AIRLOCK_OK);
	assert_int_equal(sig_len, 64);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sig_len),
		   AIRLOCK_OK);
	assert_err(airlock_privkey_sign(key, (const uint8_t *)"sample", 6, sig2, &sig_len), AIRLOCK_OK);
	assert_memory_not_equal(sig, sig2, sizeof sig);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig2, sig_len),
		   AIRLOCK_OK);
	/* Empty message, NULL pointer. */
	assert_err(airlock_privkey_sign(key, NULL, 0, sig, &sig_len), AIRLOCK_OK);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, NULL, 0, sig, sig_len), AIRLOCK_OK);
	airlock_privkey_free(key);

	/* The same key with its optional public point left out still loads. */
	key = load_hex_key(f, "p256-nopub.pem",
			   "3041020100301306072a8648ce3d020106082a8648ce3d030107042730250201010420", P256_D);
	assert_public(key, P256_PUB);
	airlock_privkey_free(key);
}

static void test_p256_bad_points(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[65], sig[64];
	char path[512];

	test_hex(P256_SAMPLE_SIG, sig, sizeof sig);

	/* Off the curve: y changed in its last bit. */
	test_hex(P256_PUB, pub, sizeof pub);
	pub[64] ^= 1;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);
	join(path, sizeof path, f, "offcurve.pub");
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_P256, pub, sizeof pub, path), AIRLOCK_ERR_BAD_KEY);
	assert_false(file_exists(path));

	/* Off the curve: x changed. */
	test_hex(P256_PUB, pub, sizeof pub);
	pub[1] ^= 0x80;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);

	/* All zeros (and the point at infinity has no 65-byte form at all). */
	memset(pub, 0, sizeof pub);
	pub[0] = 0x04;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);
	pub[0] = 0x00;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);

	/* On the curve but in a form the wire does not allow: SEC1 hybrid (0x07: y odd) and a compressed tag. */
	test_hex(P256_PUB, pub, sizeof pub);
	pub[0] = 0x07;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);
	pub[0] = 0x03;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);
	/* Coordinates >= p. */
	memset(pub, 0xff, sizeof pub);
	pub[0] = 0x04;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, pub, sizeof pub, (const uint8_t *)"sample", 6, sig, sizeof sig),
		   AIRLOCK_ERR_BAD_KEY);
}

static void test_verify_lengths_and_algs(void **state)
{
	uint8_t ed_pub[33], ed_sig[65], p_pub[66], p_sig[65], m[2];

	(void)state;
	test_hex(rfc8032[2].pub, ed_pub, 32);
	test_hex(rfc8032[2].sig, ed_sig, 64);
	test_hex(rfc8032[2].msg, m, sizeof m);
	ed_pub[32] = 0;
	ed_sig[64] = 0;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, m, 2, ed_sig, 64), AIRLOCK_OK);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, m, 2, ed_sig, 63), AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, m, 2, ed_sig, 65), AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, m, 2, NULL, 0), AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 31, m, 2, ed_sig, 64), AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 33, m, 2, ed_sig, 64), AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, NULL, 0, m, 2, ed_sig, 64), AIRLOCK_ERR_BAD_KEY);
	/* An Ed25519 key is not a P-256 key, whatever the signature. */
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, ed_pub, 32, m, 2, ed_sig, 64), AIRLOCK_ERR_BAD_KEY);

	test_hex(P256_PUB, p_pub, 65);
	test_hex(P256_SAMPLE_SIG, p_sig, 64);
	p_pub[65] = 0;
	p_sig[64] = 0;
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 65, (const uint8_t *)"sample", 6, p_sig, 64),
		   AIRLOCK_OK);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 64, (const uint8_t *)"sample", 6, p_sig, 64),
		   AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 66, (const uint8_t *)"sample", 6, p_sig, 64),
		   AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 33, (const uint8_t *)"sample", 6, p_sig, 64),
		   AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 65, (const uint8_t *)"sample", 6, p_sig, 63),
		   AIRLOCK_ERR_BAD_SIGNATURE);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 65, (const uint8_t *)"sample", 6, p_sig, 65),
		   AIRLOCK_ERR_BAD_SIGNATURE);
	/* A DER signature is not what the wire carries. */
	assert_err(airlock_sig_verify(AIRLOCK_ALG_P256, p_pub, 65, (const uint8_t *)"sample", 6, p_sig, 32),
		   AIRLOCK_ERR_BAD_SIGNATURE);

	/* Key agreement and unknown algorithms do not verify anything. */
	assert_err(airlock_sig_verify(AIRLOCK_ALG_X25519, ed_pub, 32, m, 2, ed_sig, 64), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_sig_verify(0, ed_pub, 32, m, 2, ed_sig, 64), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_sig_verify(-35, p_pub, 65, m, 2, p_sig, 64), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_sig_verify(INT64_MIN, ed_pub, 32, m, 2, ed_sig, 64), AIRLOCK_ERR_UNSUPPORTED_ALG);

	/* NULL with a length is misuse. */
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, NULL, 32, m, 2, ed_sig, 64), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, NULL, 2, ed_sig, 64), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_sig_verify(AIRLOCK_ALG_ED25519, ed_pub, 32, m, 2, NULL, 64), AIRLOCK_ERR_INVALID_ARG);
}

/* ---- X25519 ---- */

static void test_x25519_rfc7748(void **state)
{
	struct fixture *f = *state;
	struct airlock_privkey *alice, *bob;
	uint8_t peer[32], shared[32], want[32];

	alice = load_hex_key(f, "alice.pem", PKCS8_X25519, X25519_ALICE_PRIV);
	bob = load_hex_key(f, "bob.pem", PKCS8_X25519, X25519_BOB_PRIV);
	assert_int_equal(airlock_privkey_alg(alice), AIRLOCK_ALG_X25519);
	assert_public(alice, X25519_ALICE_PUB);
	assert_public(bob, X25519_BOB_PUB);
	test_hex(X25519_SHARED, want, sizeof want);

	test_hex(X25519_BOB_PUB, peer, sizeof peer);
	assert_err(airlock_privkey_x25519(alice, peer, shared), AIRLOCK_OK);
	assert_memory_equal(shared, want, sizeof want);
	test_hex(X25519_ALICE_PUB, peer, sizeof peer);
	memset(shared, 0, sizeof shared);
	assert_err(airlock_privkey_x25519(bob, peer, shared), AIRLOCK_OK);
	assert_memory_equal(shared, want, sizeof want);

	/* RFC 7748 section 5.2, first vector: scalar a546e3..., u e6db68... */
	airlock_privkey_free(alice);
	alice = load_hex_key(f, "rfc7748-5.2.pem", PKCS8_X25519,
			     "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4");
	test_hex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c", peer, sizeof peer);
	test_hex("c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552", want, sizeof want);
	assert_err(airlock_privkey_x25519(alice, peer, shared), AIRLOCK_OK);
	assert_memory_equal(shared, want, sizeof want);

	airlock_privkey_free(alice);
	airlock_privkey_free(bob);
}

static void test_x25519_low_order(void **state)
{
	/*
	 * u-coordinates of the points of small order (and their non-canonical
	 * encodings p-1, p, p+1): every scalar multiple is the all-zero value.
	 */
	static const char *const low[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	struct airlock_privkey *key = NULL;
	uint8_t peer[32], shared[32], canary[32];

	(void)state;
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_X25519, &key), AIRLOCK_OK);
	for (size_t i = 0; i < sizeof low / sizeof low[0]; i++) {
		test_hex(low[i], peer, sizeof peer);
		memset(shared, 0x5a, sizeof shared);
		memset(canary, 0x5a, sizeof canary);
		assert_err(airlock_privkey_x25519(key, peer, shared), AIRLOCK_ERR_BAD_KEY);
		/* Output untouched on failure. */
		assert_memory_equal(shared, canary, sizeof canary);
	}
	airlock_privkey_free(key);
}

static void test_x25519_generated_agree(void **state)
{
	struct airlock_privkey *a = NULL, *b = NULL;
	uint8_t pa[AIRLOCK_PUB_MAX_LEN], pb[AIRLOCK_PUB_MAX_LEN], sa[32], sb[32], zero[32] = { 0 };
	size_t la = 0, lb = 0;

	(void)state;
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_X25519, &a), AIRLOCK_OK);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_X25519, &b), AIRLOCK_OK);
	assert_err(airlock_privkey_public(a, pa, &la), AIRLOCK_OK);
	assert_err(airlock_privkey_public(b, pb, &lb), AIRLOCK_OK);
	assert_int_equal(la, 32);
	assert_int_equal(lb, 32);
	assert_memory_not_equal(pa, pb, 32);
	assert_err(airlock_privkey_x25519(a, pb, sa), AIRLOCK_OK);
	assert_err(airlock_privkey_x25519(b, pa, sb), AIRLOCK_OK);
	assert_memory_equal(sa, sb, sizeof sa);
	assert_memory_not_equal(sa, zero, sizeof sa);
	airlock_privkey_free(a);
	airlock_privkey_free(b);
}

static void test_wrong_key_kind(void **state)
{
	struct airlock_privkey *x = NULL, *ed = NULL, *p = NULL;
	uint8_t peer[32], shared[32], sig[AIRLOCK_SIG_MAX_LEN], canary[AIRLOCK_SIG_MAX_LEN];
	size_t sig_len = 99;

	(void)state;
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_X25519, &x), AIRLOCK_OK);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &ed), AIRLOCK_OK);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_P256, &p), AIRLOCK_OK);
	memset(sig, 0x33, sizeof sig);
	memcpy(canary, sig, sizeof sig);
	assert_err(airlock_privkey_sign(x, (const uint8_t *)"m", 1, sig, &sig_len), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_memory_equal(sig, canary, sizeof sig);
	assert_int_equal(sig_len, 99);

	test_hex(X25519_BOB_PUB, peer, sizeof peer);
	assert_err(airlock_privkey_x25519(ed, peer, shared), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_privkey_x25519(p, peer, shared), AIRLOCK_ERR_UNSUPPORTED_ALG);

	assert_err(airlock_privkey_generate((enum airlock_alg)-35, &x), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_privkey_sign(NULL, (const uint8_t *)"m", 1, sig, &sig_len), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_privkey_sign(ed, NULL, 1, sig, &sig_len), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_privkey_x25519(x, NULL, shared), AIRLOCK_ERR_INVALID_ARG);

	airlock_privkey_free(x);
	airlock_privkey_free(ed);
	airlock_privkey_free(p);
	airlock_privkey_free(NULL);
}

/* ---- HKDF ---- */

static void test_hkdf_rfc5869(void **state)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];
	static uint8_t big[255 * 32 + 1];

	(void)state;
	memset(ikm, 0x0b, sizeof ikm);
	/* A.1 */
	test_hex("000102030405060708090a0b0c", salt, sizeof salt);
	test_hex("f0f1f2f3f4f5f6f7f8f9", info, sizeof info);
	test_hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
		 want, sizeof want);
	assert_err(airlock_hkdf_sha256(salt, sizeof salt, ikm, sizeof ikm, info, sizeof info, okm, sizeof okm),
		   AIRLOCK_OK);
	assert_memory_equal(okm, want, sizeof want);
	/* A.3: empty salt and info, as NULL. */
	test_hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
		 want, sizeof want);
	assert_err(airlock_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, okm, sizeof okm), AIRLOCK_OK);
	assert_memory_equal(okm, want, sizeof want);
	/* An empty salt is HashLen zero bytes (RFC 5869 section 2.2). */
	{
		uint8_t zeros[32] = { 0 };

		assert_err(airlock_hkdf_sha256(zeros, sizeof zeros, ikm, sizeof ikm, NULL, 0, okm, sizeof okm),
			   AIRLOCK_OK);
		assert_memory_equal(okm, want, sizeof want);
	}

	/*
	 * Empty IKM, salt and info: PRK = HMAC(0^32, ""), OKM = HMAC(PRK, 0x01).
	 * Expected value from a from-scratch HMAC-SHA256 HKDF, not from OpenSSL's KDF.
	 */
	{
		uint8_t want32[32], okm32[32];

		test_hex("eb70f01dede9afafa449eee1b1286504e1f62388b3f7dd4f956697b0e828fe18", want32, sizeof want32);
		assert_err(airlock_hkdf_sha256(NULL, 0, NULL, 0, NULL, 0, okm32, sizeof okm32), AIRLOCK_OK);
		assert_memory_equal(okm32, want32, sizeof want32);
	}

	/* Output limits: 255 * HashLen is the most RFC 5869 allows. */
	assert_err(airlock_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, big, 255 * 32), AIRLOCK_OK);
	assert_memory_equal(big, want, sizeof want); /* a prefix of the longer output */
	assert_err(airlock_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, big, 255 * 32 + 1), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, okm, 0), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_hkdf_sha256(NULL, 0, ikm, sizeof ikm, NULL, 0, NULL, 42), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_hkdf_sha256(NULL, 1, ikm, sizeof ikm, NULL, 0, okm, 42), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_hkdf_sha256(NULL, 0, NULL, 1, NULL, 0, okm, 42), AIRLOCK_ERR_INVALID_ARG);
}

/* ---- AES-256-GCM ---- */

struct gcm_vector {
	const char *key, *iv, *pt, *aad, *ct, *tag;
};

/* McGrew & Viega, test cases 13, 14, 16. */
static const struct gcm_vector gcm_vectors[] = {
	{ "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
	  "", "", "", "530f8afbc74536b9a963b4f1c4cb738b" },
	{ "0000000000000000000000000000000000000000000000000000000000000000", "000000000000000000000000",
	  "00000000000000000000000000000000", "", "cea7403d4d606b6e074ec5d3baf39d18",
	  "d0d1c8a799996bf0265b98b5d48ab919" },
	{ "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525"
	  "b16aedf5aa0de657ba637b39",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838"
	  "c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

static void test_gcm_vectors(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof gcm_vectors / sizeof gcm_vectors[0]; i++) {
		const struct gcm_vector *v = &gcm_vectors[i];
		uint8_t key[32], iv[12], pt[64], aad[32], ct[64], tag[16], out[64], t[16], buf[64];
		size_t pt_len, aad_len, ct_len;
		struct airlock_gcm g;

		test_hex(v->key, key, sizeof key);
		test_hex(v->iv, iv, sizeof iv);
		pt_len = test_hex(v->pt, pt, sizeof pt);
		aad_len = test_hex(v->aad, aad, sizeof aad);
		ct_len = test_hex(v->ct, ct, sizeof ct);
		test_hex(v->tag, tag, sizeof tag);
		assert_int_equal(pt_len, ct_len);

		assert_err(airlock_gcm_init(&g, key), AIRLOCK_OK);
		/* Empty plaintext and AAD arrive as NULL pointers. */
		assert_err(airlock_gcm_seal(&g, iv, aad_len ? aad : NULL, aad_len, pt_len ? pt : NULL, pt_len,
					    pt_len ? out : NULL, t),
			   AIRLOCK_OK);
		assert_memory_equal(out, ct, ct_len);
		assert_memory_equal(t, tag, sizeof tag);
		memset(out, 0xee, sizeof out);
		assert_err(airlock_gcm_open(&g, iv, aad_len ? aad : NULL, aad_len, ct_len ? ct : NULL, ct_len,
					    ct_len ? out : NULL, tag),
			   AIRLOCK_OK);
		assert_memory_equal(out, pt, pt_len);

		/* In place, both ways, on the same context (key set once). */
		memcpy(buf, pt, pt_len);
		assert_err(airlock_gcm_seal(&g, iv, aad, aad_len, buf, pt_len, buf, t), AIRLOCK_OK);
		assert_memory_equal(buf, ct, ct_len);
		assert_memory_equal(t, tag, sizeof tag);
		assert_err(airlock_gcm_open(&g, iv, aad, aad_len, buf, ct_len, buf, t), AIRLOCK_OK);
		assert_memory_equal(buf, pt, pt_len);
		airlock_gcm_free(&g);
		assert_null(g.impl);
		airlock_gcm_free(&g);
	}
}

static void assert_all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		assert_int_equal(p[i], 0);
}

static void test_gcm_tamper(void **state)
{
	const struct gcm_vector *v = &gcm_vectors[2];
	uint8_t key[32], iv[12], pt[60], aad[20], ct[60], tag[16], out[60];
	struct airlock_gcm g;

	(void)state;
	test_hex(v->key, key, sizeof key);
	test_hex(v->iv, iv, sizeof iv);
	test_hex(v->pt, pt, sizeof pt);
	test_hex(v->aad, aad, sizeof aad);
	test_hex(v->ct, ct, sizeof ct);
	test_hex(v->tag, tag, sizeof tag);
	assert_err(airlock_gcm_init(&g, key), AIRLOCK_OK);

	for (size_t bit = 0; bit < 8 * sizeof tag; bit++) {
		tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof out);
		assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, out, tag), AIRLOCK_ERR_AEAD_TAG);
		assert_all_zero(out, sizeof out);
		tag[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	for (size_t bit = 0; bit < 8 * sizeof ct; bit += 7) {
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		memset(out, 0xaa, sizeof out);
		assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, out, tag), AIRLOCK_ERR_AEAD_TAG);
		assert_all_zero(out, sizeof out);
		ct[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	/* Tampered AAD, nonce, a truncated ciphertext, dropped AAD. */
	aad[0] ^= 1;
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, out, tag), AIRLOCK_ERR_AEAD_TAG);
	assert_all_zero(out, sizeof out);
	aad[0] ^= 1;
	iv[11] ^= 1;
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, out, tag), AIRLOCK_ERR_AEAD_TAG);
	iv[11] ^= 1;
	memset(out, 0xaa, sizeof out);
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct - 1, out, tag), AIRLOCK_ERR_AEAD_TAG);
	assert_all_zero(out, sizeof out - 1);
	assert_int_equal(out[sizeof out - 1], 0xaa); /* only out[0..len) is the caller's */
	assert_err(airlock_gcm_open(&g, iv, NULL, 0, ct, sizeof ct, out, tag), AIRLOCK_ERR_AEAD_TAG);

	/* In place: a bad tag restores the (tampered) ciphertext byte for byte,
	 * so no unauthenticated plaintext is left and the caller can retry. */
	uint8_t tampered[60];
	ct[5] ^= 0x10;
	memcpy(tampered, ct, sizeof ct);
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, ct, tag), AIRLOCK_ERR_AEAD_TAG);
	assert_memory_equal(ct, tampered, sizeof ct);
	ct[5] ^= 0x10;
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, ct, tag), AIRLOCK_OK);
	assert_memory_equal(ct, pt, sizeof pt);

	/* After all those failures the context still works. */
	test_hex(v->ct, ct, sizeof ct);
	assert_err(airlock_gcm_open(&g, iv, aad, sizeof aad, ct, sizeof ct, out, tag), AIRLOCK_OK);
	assert_memory_equal(out, pt, sizeof pt);
	airlock_gcm_free(&g);
}

static void test_gcm_args(void **state)
{
	uint8_t key[32] = { 0 }, iv[12] = { 0 }, buf[64] = { 0 }, tag[16];
	struct airlock_gcm g;

	(void)state;
	assert_err(airlock_gcm_init(NULL, key), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_init(&g, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_null(g.impl);
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, 16, buf, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_init(&g, key), AIRLOCK_OK);
	assert_err(airlock_gcm_seal(&g, NULL, NULL, 0, buf, 16, buf, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_seal(&g, iv, NULL, 1, buf, 16, buf, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, NULL, 16, buf, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, 16, NULL, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, 16, buf, NULL), AIRLOCK_ERR_INVALID_ARG);
	/* out may equal in, but may not overlap it partially. */
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, 32, buf + 1, tag), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_gcm_open(&g, iv, NULL, 0, buf + 8, 32, buf, tag), AIRLOCK_ERR_INVALID_ARG);
	/* Above GCM's 2^39 - 256 bit limit: refused before a byte is touched. */
	if (sizeof(size_t) > 4) {
		size_t huge = (size_t)((UINT64_C(1) << 36) - 31);

		assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, huge, buf, tag), AIRLOCK_ERR_TOO_LARGE);
		assert_err(airlock_gcm_open(&g, iv, NULL, 0, buf, huge, buf, tag), AIRLOCK_ERR_TOO_LARGE);
	}
	/* Adjacent is not overlapping. */
	assert_err(airlock_gcm_seal(&g, iv, NULL, 0, buf, 32, buf + 32, tag), AIRLOCK_OK);
	airlock_gcm_free(&g);
	airlock_gcm_free(NULL);
}

/* ---- key files ---- */

static void roundtrip(const struct fixture *f, enum airlock_alg alg)
{
	char priv_path[512], pub_path[512];
	struct airlock_privkey *key = NULL, *loaded = NULL;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], pub2[AIRLOCK_PUB_MAX_LEN], pub3[AIRLOCK_PUB_MAX_LEN];
	uint8_t sig[AIRLOCK_SIG_MAX_LEN];
	size_t pub_len = 0, pub2_len = 0, pub3_len = 0, sig_len = 0, len = 0;
	enum airlock_alg got;
	uint8_t *text;
	char name[64];

	snprintf(name, sizeof name, "%s.key", airlock_alg_name(alg));
	join(priv_path, sizeof priv_path, f, name);
	snprintf(name, sizeof name, "%s.pub", airlock_alg_name(alg));
	join(pub_path, sizeof pub_path, f, name);

	assert_err(airlock_privkey_generate(alg, &key), AIRLOCK_OK);
	assert_int_equal(airlock_privkey_alg(key), alg);
	assert_err(airlock_privkey_public(key, pub, &pub_len), AIRLOCK_OK);
	assert_int_equal(pub_len, airlock_alg_pub_len(alg));
	if (alg == AIRLOCK_ALG_P256)
		assert_int_equal(pub[0], 0x04);

	assert_err(airlock_privkey_save(key, priv_path), AIRLOCK_OK);
	assert_int_equal(file_mode(priv_path), 0600);
	text = test_read_file(priv_path, &len);
	assert_true(starts_with(text, len, "-----BEGIN PRIVATE KEY-----\n"));
	free(text);

	assert_err(airlock_privkey_load(priv_path, &loaded), AIRLOCK_OK);
	assert_int_equal(airlock_privkey_alg(loaded), alg);
	assert_err(airlock_privkey_public(loaded, pub2, &pub2_len), AIRLOCK_OK);
	assert_int_equal(pub2_len, pub_len);
	assert_memory_equal(pub2, pub, pub_len);

	assert_err(airlock_pubkey_save(alg, pub, pub_len, pub_path), AIRLOCK_OK);
	assert_int_equal(file_mode(pub_path), 0644);
	text = test_read_file(pub_path, &len);
	assert_true(starts_with(text, len, "-----BEGIN PUBLIC KEY-----\n"));
	free(text);
	got = (enum airlock_alg)0;
	assert_err(airlock_pubkey_load(pub_path, &got, pub3, &pub3_len), AIRLOCK_OK);
	assert_int_equal(got, alg);
	assert_int_equal(pub3_len, pub_len);
	assert_memory_equal(pub3, pub, pub_len);

	if (airlock_alg_can_sign(alg)) {
		/* Signed by the loaded key, verified under the generated key's public bytes. */
		assert_err(airlock_privkey_sign(loaded, (const uint8_t *)"airlock", 7, sig, &sig_len), AIRLOCK_OK);
		assert_int_equal(sig_len, 64);
		assert_err(airlock_sig_verify(alg, pub3, pub3_len, (const uint8_t *)"airlock", 7, sig, sig_len),
			   AIRLOCK_OK);
		assert_err(airlock_sig_verify(alg, pub3, pub3_len, (const uint8_t *)"airlocK", 7, sig, sig_len),
			   AIRLOCK_ERR_BAD_SIGNATURE);
		assert_err(airlock_privkey_sign(key, (const uint8_t *)"airlock", 7, sig, &sig_len), AIRLOCK_OK);
		assert_err(airlock_sig_verify(alg, pub3, pub3_len, (const uint8_t *)"airlock", 7, sig, sig_len),
			   AIRLOCK_OK);
	} else {
		struct airlock_privkey *other = NULL;
		uint8_t opub[AIRLOCK_PUB_MAX_LEN], s1[32], s2[32];
		size_t opub_len = 0;

		assert_err(airlock_privkey_generate(alg, &other), AIRLOCK_OK);
		assert_err(airlock_privkey_public(other, opub, &opub_len), AIRLOCK_OK);
		assert_err(airlock_privkey_x25519(loaded, opub, s1), AIRLOCK_OK);
		assert_err(airlock_privkey_x25519(other, pub3, s2), AIRLOCK_OK);
		assert_memory_equal(s1, s2, sizeof s1);
		airlock_privkey_free(other);
	}
	airlock_privkey_free(key);
	airlock_privkey_free(loaded);
}

static void test_key_roundtrip_ed25519(void **state)
{
	roundtrip(*state, AIRLOCK_ALG_ED25519);
}

static void test_key_roundtrip_p256(void **state)
{
	roundtrip(*state, AIRLOCK_ALG_P256);
}

static void test_key_roundtrip_x25519(void **state)
{
	roundtrip(*state, AIRLOCK_ALG_X25519);
}

static void test_key_perms(void **state)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0610, 0601, 0660, 0666 };
	struct fixture *f = *state;
	struct airlock_privkey *key = NULL, *loaded = NULL;
	char path[512];

	join(path, sizeof path, f, "perm.key");
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &key), AIRLOCK_OK);
	assert_err(airlock_privkey_save(key, path), AIRLOCK_OK);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		assert_err(airlock_privkey_load(path, &loaded), AIRLOCK_ERR_KEY_PERMS);
		assert_null(loaded);
	}
	/* Owner-only modes load, read-only included. */
	assert_int_equal(chmod(path, 0400), 0);
	assert_err(airlock_privkey_load(path, &loaded), AIRLOCK_OK);
	airlock_privkey_free(loaded);
	airlock_privkey_free(key);
}

static void test_save_never_overwrites(void **state)
{
	struct fixture *f = *state;
	struct airlock_privkey *a = NULL, *b = NULL;
	char priv_path[512], pub_path[512], link_path[512], target[512];
	uint8_t *before, *after, pub[AIRLOCK_PUB_MAX_LEN];
	size_t before_len = 0, after_len = 0, pub_len = 0;

	join(priv_path, sizeof priv_path, f, "once.key");
	join(pub_path, sizeof pub_path, f, "once.pub");
	join(link_path, sizeof link_path, f, "link.key");
	join(target, sizeof target, f, "target");
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &a), AIRLOCK_OK);
	assert_err(airlock_privkey_generate(AIRLOCK_ALG_ED25519, &b), AIRLOCK_OK);

	assert_err(airlock_privkey_save(a, priv_path), AIRLOCK_OK);
	before = test_read_file(priv_path, &before_len);
	assert_err(airlock_privkey_save(b, priv_path), AIRLOCK_ERR_EXISTS);
	assert_err(airlock_privkey_save(a, priv_path), AIRLOCK_ERR_EXISTS);
	after = test_read_file(priv_path, &after_len);
	assert_int_equal(after_len, before_len);
	assert_memory_equal(after, before, before_len);
	assert_int_equal(file_mode(priv_path), 0600);
	free(before);
	free(after);

	assert_err(airlock_privkey_public(a, pub, &pub_len), AIRLOCK_OK);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_ED25519, pub, pub_len, pub_path), AIRLOCK_OK);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_ED25519, pub, pub_len, pub_path), AIRLOCK_ERR_EXISTS);

	/* A symlink at the path, dangling or not, is never followed. */
	assert_int_equal(symlink(target, link_path), 0);
	assert_err(airlock_privkey_save(a, link_path), AIRLOCK_ERR_EXISTS);
	assert_false(file_exists(target));
	test_write_file(target, "x", 1);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_ED25519, pub, pub_len, link_path), AIRLOCK_ERR_EXISTS);
	after = test_read_file(target, &after_len);
	assert_int_equal(after_len, 1);
	free(after);

	/* A missing directory is an open failure, and leaves nothing behind. */
	join(priv_path, sizeof priv_path, f, "no/such.key");
	assert_err(airlock_privkey_save(a, priv_path), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_privkey_save(NULL, priv_path), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_privkey_save(a, NULL), AIRLOCK_ERR_INVALID_ARG);

	airlock_privkey_free(a);
	airlock_privkey_free(b);
}

/* An encrypted PKCS#8 key (openssl genpkey -aes-256-cbc): refused, never prompted for. */
static const char encrypted_key[] =
	"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
	"MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAjqSc9mRsKaqgICCAAw\n"
	"DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEEG5OOLCZT/KtE73XYqhML0MEQJdQ\n"
	"MiNxa8rcE/G6LzwCG4IQ1TYHgj/BnKPCOx+X1gWmc0z+Z5pSuhIOfM2CpY8YE7Gp\n"
	"xhKGUi24RtzhSpvcm8s=\n"
	"-----END ENCRYPTED PRIVATE KEY-----\n";

static void test_load_bad_files(void **state)
{
	struct fixture *f = *state;
	struct airlock_privkey *key = NULL;
	enum airlock_alg alg = AIRLOCK_ALG_P256;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], canary[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len = 7;
	char path[512], pub_path[512], hex[256];
	static char big[20000];

	memset(pub, 0x77, sizeof pub);
	memcpy(canary, pub, sizeof pub);

	join(path, sizeof path, f, "missing.key");
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_IO_OPEN);
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_IO_OPEN);

	join(path, sizeof path, f, "text.key");
	write_mode(path, "hello, not a key\n", strlen("hello, not a key\n"), 0600);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_BAD_KEY_FILE);

	join(path, sizeof path, f, "empty.key");
	write_mode(path, "", 0, 0600);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_BAD_KEY_FILE);

	/* Far larger than any key: refused before parsing. */
	join(path, sizeof path, f, "big.key");
	memset(big, 'A', sizeof big);
	write_mode(path, big, sizeof big, 0600);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);

	/* A PEM block with a corrupted body. */
	join(path, sizeof path, f, "corrupt.key");
	{
		static const char corrupt[] =
			"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI!!!\n-----END PRIVATE KEY-----\n";

		write_mode(path, corrupt, sizeof corrupt - 1, 0600);
	}
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);

	join(path, sizeof path, f, "encrypted.key");
	write_mode(path, encrypted_key, sizeof encrypted_key - 1, 0600);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);

	/* A directory is not a key file. */
	join(path, sizeof path, f, "dir.key");
	assert_int_equal(mkdir(path, 0700), 0);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);

	/* Public where private is expected, and the other way round. */
	join(pub_path, sizeof pub_path, f, "ed.pub");
	write_pem_hex(pub_path, "PUBLIC KEY", SPKI_ED25519, rfc8032[0].pub);
	assert_err(airlock_privkey_load(pub_path, &key), AIRLOCK_ERR_BAD_KEY_FILE);
	join(path, sizeof path, f, "ed.key");
	write_pem_hex(path, "PRIVATE KEY", PKCS8_ED25519, rfc8032[0].seed);
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_BAD_KEY_FILE);

	/* Well-formed keys of algorithms Airlock does not use. */
	join(path, sizeof path, f, "ed448.key");
	write_pem_hex(path, "PRIVATE KEY", PKCS8_ED448, repeat_hex("01", 57, hex, sizeof hex));
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_UNSUPPORTED_ALG);
	join(path, sizeof path, f, "p384.key");
	write_pem_hex(path, "PRIVATE KEY", PKCS8_P384_NOPUB, repeat_hex("01", 48, hex, sizeof hex));
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_UNSUPPORTED_ALG);
	join(path, sizeof path, f, "ed448.pub");
	write_pem_hex(path, "PUBLIC KEY", SPKI_ED448, repeat_hex("5f", 57, hex, sizeof hex));
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_UNSUPPORTED_ALG);

	/* A P-256 PKCS#8 whose public point belongs to another scalar (d + 1). */
	join(path, sizeof path, f, "mismatch.key");
	write_pem_hex(path, "PRIVATE KEY", PKCS8_P256,
		      "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6722" "a144034200" P256_PUB);
	assert_err(airlock_privkey_load(path, &key), AIRLOCK_ERR_BAD_KEY_FILE);

	/* An SPKI whose P-256 point is not on the curve. */
	join(path, sizeof path, f, "offcurve.pub");
	write_pem_hex(path, "PUBLIC KEY", SPKI_P256,
		      "04" P256_UX "7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462298");
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_ERR_BAD_KEY_FILE);

	/* Nothing was written on any failure. */
	assert_null(key);
	assert_int_equal(alg, AIRLOCK_ALG_P256);
	assert_int_equal(pub_len, 7);
	assert_memory_equal(pub, canary, sizeof pub);

	assert_err(airlock_privkey_load(NULL, &key), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_privkey_load(path, NULL), AIRLOCK_ERR_INVALID_ARG);
}

static void check_pubkey_file(const struct fixture *f, const char *name, const char *spki_hex, const char *raw_hex,
			      enum airlock_alg want_alg, const char *want_hex)
{
	char path[512], path2[512], saved_name[64];
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], want[AIRLOCK_PUB_MAX_LEN], der[128];
	char pem[512];
	size_t pub_len = 0, want_len = test_hex(want_hex, want, sizeof want), len = 0, pem_len, der_len;
	enum airlock_alg alg = (enum airlock_alg)0;
	uint8_t *text;

	join(path, sizeof path, f, name);
	write_pem_hex(path, "PUBLIC KEY", spki_hex, raw_hex);
	assert_err(airlock_pubkey_load(path, &alg, pub, &pub_len), AIRLOCK_OK);
	assert_int_equal(alg, want_alg);
	assert_int_equal(pub_len, want_len);
	assert_memory_equal(pub, want, want_len);

	/* Saving writes the canonical SPKI PEM, byte for byte, so `openssl pkey` agrees. */
	snprintf(saved_name, sizeof saved_name, "saved-%s", name);
	join(path2, sizeof path2, f, saved_name);
	assert_err(airlock_pubkey_save(alg, pub, pub_len, path2), AIRLOCK_OK);
	assert_int_equal(file_mode(path2), 0644);
	der_len = test_hex(want_alg == AIRLOCK_ALG_P256 ? SPKI_P256 :
			   want_alg == AIRLOCK_ALG_ED25519 ? SPKI_ED25519 : SPKI_X25519, der, sizeof der);
	der_len += test_hex(want_hex, der + der_len, sizeof der - der_len);
	pem_len = pem_encode("PUBLIC KEY", der, der_len, pem, sizeof pem);
	text = test_read_file(path2, &len);
	assert_int_equal(len, pem_len);
	assert_memory_equal(text, pem, pem_len);
	free(text);
}

static void test_pubkey_files(void **state)
{
	struct fixture *f = *state;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	char path[512];

	check_pubkey_file(f, "ed.pub", SPKI_ED25519, rfc8032[0].pub, AIRLOCK_ALG_ED25519, rfc8032[0].pub);
	check_pubkey_file(f, "x.pub", SPKI_X25519, X25519_ALICE_PUB, AIRLOCK_ALG_X25519, X25519_ALICE_PUB);
	check_pubkey_file(f, "p.pub", SPKI_P256, P256_PUB, AIRLOCK_ALG_P256, P256_PUB);
	/* A compressed point in the file comes back in the wire's uncompressed form (Uy is odd: 03). */
	check_pubkey_file(f, "pc.pub", SPKI_P256_COMPRESSED, "03" P256_UX, AIRLOCK_ALG_P256, P256_PUB);

	join(path, sizeof path, f, "bad.pub");
	test_hex(P256_PUB, pub, sizeof pub);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_P256, pub, 64, path), AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_ED25519, pub, 65, path), AIRLOCK_ERR_BAD_KEY);
	assert_err(airlock_pubkey_save((enum airlock_alg)-35, pub, 65, path), AIRLOCK_ERR_UNSUPPORTED_ALG);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_P256, NULL, 65, path), AIRLOCK_ERR_INVALID_ARG);
	assert_err(airlock_pubkey_save(AIRLOCK_ALG_P256, pub, 65, NULL), AIRLOCK_ERR_INVALID_ARG);
	assert_false(file_exists(path));
}

/* ---- utilities ---- */

static void test_random_ct_wipe(void **state)
{
	uint8_t a[32] = { 0 }, b[32] = { 0 }, zero[32] = { 0 };

	(void)state;
	assert_err(airlock_random(a, sizeof a), AIRLOCK_OK);
	assert_err(airlock_random(b, sizeof b), AIRLOCK_OK);
	assert_memory_not_equal(a, zero, sizeof a);
	assert_memory_not_equal(a, b, sizeof a);
	assert_err(airlock_random(NULL, 0), AIRLOCK_OK);
	assert_err(airlock_random(NULL, 1), AIRLOCK_ERR_INVALID_ARG);

	assert_true(airlock_ct_equal(a, a, sizeof a));
	memcpy(b, a, sizeof a);
	b[31] ^= 0x80;
	assert_false(airlock_ct_equal(a, b, sizeof a));
	b[31] ^= 0x80;
	b[0] ^= 1;
	assert_false(airlock_ct_equal(a, b, sizeof a));
	assert_true(airlock_ct_equal(a, b, 0));
	assert_true(airlock_ct_equal(NULL, NULL, 0));

	airlock_wipe(a, sizeof a);
	assert_memory_equal(a, zero, sizeof a);
	airlock_wipe(NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alg_names),
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_million_a_streamed),
		cmocka_unit_test(test_sha256_lifecycle),
		cmocka_unit_test(test_keyid),
		cmocka_unit_test(test_ed25519_rfc8032_verify),
		cmocka_unit_test_setup_teardown(test_ed25519_rfc8032_sign, setup_dir, teardown_dir),
		cmocka_unit_test(test_ed25519_bit_flips),
		cmocka_unit_test(test_p256_rfc6979_verify),
		cmocka_unit_test_setup_teardown(test_p256_rfc6979_key, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_p256_bad_points, setup_dir, teardown_dir),
		cmocka_unit_test(test_verify_lengths_and_algs),
		cmocka_unit_test_setup_teardown(test_x25519_rfc7748, setup_dir, teardown_dir),
		cmocka_unit_test(test_x25519_low_order),
		cmocka_unit_test(test_x25519_generated_agree),
		cmocka_unit_test(test_wrong_key_kind),
		cmocka_unit_test(test_hkdf_rfc5869),
		cmocka_unit_test(test_gcm_vectors),
		cmocka_unit_test(test_gcm_tamper),
		cmocka_unit_test(test_gcm_args),
		cmocka_unit_test_setup_teardown(test_key_roundtrip_ed25519, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_roundtrip_p256, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_roundtrip_x25519, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_key_perms, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_save_never_overwrites, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_load_bad_files, setup_dir, teardown_dir),
		cmocka_unit_test_setup_teardown(test_pubkey_files, setup_dir, teardown_dir),
		cmocka_unit_test(test_random_ct_wipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
