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

/* The port-neutral context structs hold OpenSSL's contexts behind opaque
 * pointer types of their own; these are the only casts between the two. */
#define MD(ctx) ((EVP_MD_CTX *)(void *)(ctx)->impl)
#define CIPHER(ctx) ((EVP_CIPHER_CTX *)(void *)(ctx)->impl)

/* Largest piece handed to an OpenSSL call that takes an int length. */
#define OSSL_CHUNK_MAX ((size_t)1 << 30)
_Static_assert(OSSL_CHUNK_MAX <= INT_MAX, "chunks must fit OpenSSL's int lengths");

/* A PEM key of a supported kind is a few hundred bytes; anything far larger is not one. */
#define KEY_FILE_MAX 16384

#define P256_SCALAR_LEN 32
/* DER ECDSA-Sig-Value for P-256: SEQUENCE of two INTEGERs of up to 33 bytes each. */
#define P256_DER_SIG_MAX 72
/* NIST SP 800-38D: at most 2^39 - 256 bits of plaintext per message. */
#define GCM_MSG_MAX ((UINT64_C(1) << 36) - 32)
/* RFC 5869: L <= 255 * HashLen. */
#define HKDF_SHA256_OUT_MAX (255 * AIRLOCK_SHA256_LEN)

_Static_assert(AIRLOCK_GCM_NONCE_LEN == 12, "GCM's default IV length is relied on");
_Static_assert(AIRLOCK_SIG_MAX_LEN == 2 * P256_SCALAR_LEN, "raw r||s fills the signature");
_Static_assert(AIRLOCK_P256_PUB_LEN == 1 + 2 * P256_SCALAR_LEN, "SEC1 uncompressed point");

struct airlock_privkey {
	EVP_PKEY *pkey;
	enum airlock_alg alg;
};

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

/* ---- keys: shared helpers ---- */

/*
 * Builds a public EVP_PKEY from wire bytes. The length, and for P-256 the
 * point itself, are checked here so that every caller (verify, pubkey_save)
 * rejects the same keys with AIRLOCK_ERR_BAD_KEY.
 */
static AIRLOCK_MUST_USE airlock_err pkey_from_public(int64_t alg, const uint8_t *pub, size_t pub_len,
						      EVP_PKEY **out)
{
	uint8_t point[AIRLOCK_P256_PUB_LEN];
	char group[] = "prime256v1";
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *pctx = NULL;
	EVP_PKEY *pkey = NULL;
	size_t want = airlock_alg_pub_len(alg);
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	if (want == 0)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (pub == NULL || pub_len != want)
		return AIRLOCK_ERR_BAD_KEY;

	switch (alg) {
	case AIRLOCK_ALG_ED25519:
	case AIRLOCK_ALG_X25519:
		/*
		 * Any 32 bytes import; an Ed25519 string that is not a curve
		 * point is refused by the verification itself.
		 */
		pkey = EVP_PKEY_new_raw_public_key(alg == AIRLOCK_ALG_ED25519 ? EVP_PKEY_ED25519 : EVP_PKEY_X25519,
						   NULL, pub, pub_len);
		if (pkey == NULL)
			goto out;
		break;
	case AIRLOCK_ALG_P256:
		/*
		 * Only the uncompressed form: OpenSSL would also take the
		 * 65-byte "hybrid" forms 0x06/0x07, which the wire format does
		 * not allow.
		 */
		if (pub[0] != 0x04) {
			err = AIRLOCK_ERR_BAD_KEY;
			goto out;
		}
		/* OSSL_PARAM wants a mutable pointer; hand it a copy, not a cast. */
		memcpy(point, pub, sizeof point);
		params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
		params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point);
		params[2] = OSSL_PARAM_construct_end();
		pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1)
			goto out;
		/*
		 * With the context ready, the import fails only when the
		 * point is not on the curve (OpenSSL checks it while decoding)
		 * or on an allocation failure; the first is by far the likely
		 * cause and the only one an attacker controls.
		 */
		if (EVP_PKEY_fromdata(pctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
			err = AIRLOCK_ERR_BAD_KEY;
			goto out;
		}
		break;
	default:
		err = AIRLOCK_ERR_UNSUPPORTED_ALG;
		goto out;
	}
	*out = pkey;
	pkey = NULL;
	err = AIRLOCK_OK;
out:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(pctx);
	return err;
}

/*
 * Names the algorithm of a decoded key. For P-256 it also pins the point
 * format to uncompressed, so that raw public keys read back in the wire form
 * even when the file carried a compressed point.
 */
static AIRLOCK_MUST_USE airlock_err pkey_classify(EVP_PKEY *pkey, enum airlock_alg *alg)
{
	char group[64];
	size_t group_len = 0;
	int nid;

	if (EVP_PKEY_is_a(pkey, "ED25519")) {
		*alg = AIRLOCK_ALG_ED25519;
		return AIRLOCK_OK;
	}
	if (EVP_PKEY_is_a(pkey, "X25519")) {
		*alg = AIRLOCK_ALG_X25519;
		return AIRLOCK_OK;
	}
	if (!EVP_PKEY_is_a(pkey, "EC"))
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	/* Explicit curve parameters have no group name: refused with the rest. */
	if (EVP_PKEY_get_group_name(pkey, group, sizeof group, &group_len) != 1)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	nid = OBJ_sn2nid(group);
	if (nid == NID_undef)
		nid = EC_curve_nist2nid(group);
	if (nid != NID_X9_62_prime256v1)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (EVP_PKEY_set_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
					   OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED) != 1)
		return AIRLOCK_ERR_CRYPTO;
	*alg = AIRLOCK_ALG_P256;
	return AIRLOCK_OK;
}

static AIRLOCK_MUST_USE airlock_err pkey_raw_public(const EVP_PKEY *pkey, enum airlock_alg alg,
						     uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len)
{
	uint8_t buf[AIRLOCK_PUB_MAX_LEN];
	size_t len = sizeof buf;
	size_t want = airlock_alg_pub_len(alg);

	if (want == 0)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (alg == AIRLOCK_ALG_P256) {
		if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
						    buf, sizeof buf, &len) != 1)
			return AIRLOCK_ERR_CRYPTO;
		/* pkey_classify pinned the uncompressed form; make sure it held. */
		if (len != want || buf[0] != 0x04)
			return AIRLOCK_ERR_CRYPTO;
	} else {
		if (EVP_PKEY_get_raw_public_key(pkey, buf, &len) != 1 || len != want)
			return AIRLOCK_ERR_CRYPTO;
	}
	memcpy(pub, buf, len);
	*pub_len = len;
	return AIRLOCK_OK;
}

/*
 * r||s (32 bytes each, big-endian) to the DER ECDSA-Sig-Value OpenSSL wants.
 * Zero or oversized scalars encode fine here and fail the verification.
 */
static AIRLOCK_MUST_USE airlock_err p256_sig_to_der(const uint8_t sig[AIRLOCK_SIG_MAX_LEN],
						     uint8_t der[P256_DER_SIG_MAX], size_t *der_len)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, P256_SCALAR_LEN, NULL);
	BIGNUM *s = BN_bin2bn(sig + P256_SCALAR_LEN, P256_SCALAR_LEN, NULL);
	unsigned char *p = der;
	airlock_err err = AIRLOCK_ERR_CRYPTO;
	int n;

	if (es == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(es, r, s) != 1)
		goto out;
	r = s = NULL; /* owned by es now */
	n = i2d_ECDSA_SIG(es, NULL);
	if (n <= 0 || (size_t)n > P256_DER_SIG_MAX)
		goto out;
	if (i2d_ECDSA_SIG(es, &p) != n)
		goto out;
	*der_len = (size_t)n;
	err = AIRLOCK_OK;
out:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return err;
}

/* DER ECDSA-Sig-Value from OpenSSL to r||s, each left-padded to 32 bytes. */
static AIRLOCK_MUST_USE airlock_err p256_sig_from_der(const uint8_t *der, size_t der_len,
						       uint8_t sig[AIRLOCK_SIG_MAX_LEN])
{
	const unsigned char *p = der;
	const BIGNUM *r = NULL, *s = NULL;
	ECDSA_SIG *es;
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	if (der_len > P256_DER_SIG_MAX)
		return AIRLOCK_ERR_CRYPTO;
	es = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	if (es == NULL)
		return AIRLOCK_ERR_CRYPTO;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, P256_SCALAR_LEN) != P256_SCALAR_LEN ||
	    BN_bn2binpad(s, sig + P256_SCALAR_LEN, P256_SCALAR_LEN) != P256_SCALAR_LEN)
		goto out;
	err = AIRLOCK_OK;
out:
	ECDSA_SIG_free(es);
	return err;
}

/* ---- files ---- */

/*
 * Reads a whole key file (at most KEY_FILE_MAX bytes) from an open fd.
 * A larger file cannot be a key of a supported kind.
 */
static AIRLOCK_MUST_USE airlock_err read_key_fd(int fd, uint8_t *buf, size_t cap, size_t *len)
{
	size_t n = 0;

	for (;;) {
		ssize_t r;

		if (n == cap) {
			uint8_t extra;

			/* Full: one more byte tells "exactly cap" from "too large". */
			do {
				r = read(fd, &extra, 1);
			} while (r < 0 && errno == EINTR);
			if (r < 0)
				return AIRLOCK_ERR_IO_READ;
			if (r > 0)
				return AIRLOCK_ERR_BAD_KEY_FILE;
			break;
		}
		r = read(fd, buf + n, cap - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return AIRLOCK_ERR_IO_READ;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*len = n;
	return AIRLOCK_OK;
}

/*
 * Opens path for reading and reads it whole. With check_private, refuses a
 * file whose mode grants group or others any access: checked on the opened
 * fd, so a rename between check and read cannot swap the file.
 */
static AIRLOCK_MUST_USE airlock_err read_key_file(const char *path, bool check_private,
						   uint8_t *buf, size_t cap, size_t *len)
{
	struct stat st;
	airlock_err err;
	int fd;

	/* O_NONBLOCK: a FIFO planted at path must not hang the open; see S_ISREG below. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	if (fstat(fd, &st) != 0) {
		err = AIRLOCK_ERR_IO_READ;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = AIRLOCK_ERR_BAD_KEY_FILE;
		goto out;
	}
	/* Before reading a byte: a secret others could read is already compromised. */
	if (check_private && (st.st_mode & 077) != 0) {
		err = AIRLOCK_ERR_KEY_PERMS;
		goto out;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > cap) {
		err = AIRLOCK_ERR_BAD_KEY_FILE;
		goto out;
	}
	err = read_key_fd(fd, buf, cap, len);
out:
	close(fd);
	return err;
}

/*
 * Creates path (never replacing anything) with exactly mode, writes data,
 * syncs, closes. On any failure the partial file is removed: a half-written
 * key must not be mistaken for a key later.
 */
static AIRLOCK_MUST_USE airlock_err write_new_file(const char *path, mode_t mode, const uint8_t *data, size_t len)
{
	size_t off = 0;
	airlock_err err = AIRLOCK_OK;
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return errno == EEXIST ? AIRLOCK_ERR_EXISTS : AIRLOCK_ERR_IO_OPEN;
	/* The contract promises the mode; the caller's umask must not narrow it. */
	if (fchmod(fd, mode) != 0) {
		err = AIRLOCK_ERR_IO_WRITE;
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = AIRLOCK_ERR_IO_WRITE;
			goto out;
		}
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		err = AIRLOCK_ERR_IO_SYNC;
out:
	if (close(fd) != 0 && err == AIRLOCK_OK)
		err = AIRLOCK_ERR_IO_WRITE;
	if (err != AIRLOCK_OK)
		unlink(path);
	return err;
}

/* Writes the contents of a memory BIO to a new file. */
static AIRLOCK_MUST_USE airlock_err write_bio_file(BIO *mem, const char *path, mode_t mode)
{
	char *data = NULL;
	long n = BIO_get_mem_data(mem, &data);

	if (n <= 0 || data == NULL)
		return AIRLOCK_ERR_CRYPTO;
	return write_new_file(path, mode, (const uint8_t *)data, (size_t)n);
}

/* Never prompt for a passphrase (the library has no terminal): an encrypted key fails to load. */
static int refuse_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

/* ---- private keys ---- */

/* Takes ownership of pkey (also on failure). */
static AIRLOCK_MUST_USE airlock_err privkey_wrap(EVP_PKEY *pkey, enum airlock_alg alg, struct airlock_privkey **out)
{
	struct airlock_privkey *key = calloc(1, sizeof *key);

	if (key == NULL) {
		EVP_PKEY_free(pkey);
		return AIRLOCK_ERR_NOMEM;
	}
	key->pkey = pkey;
	key->alg = alg;
	*out = key;
	return AIRLOCK_OK;
}

airlock_err airlock_privkey_generate(enum airlock_alg alg, struct airlock_privkey **out)
{
	EVP_PKEY *pkey = NULL;
	enum airlock_alg got;
	airlock_err err;

	if (out == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	switch (alg) {
	case AIRLOCK_ALG_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		break;
	case AIRLOCK_ALG_X25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
		break;
	case AIRLOCK_ALG_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	default:
		err = AIRLOCK_ERR_UNSUPPORTED_ALG;
		goto out;
	}
	if (pkey == NULL) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	/* Also pins P-256's point format for airlock_privkey_public. */
	err = pkey_classify(pkey, &got);
	if (err == AIRLOCK_OK && got != alg)
		err = AIRLOCK_ERR_CRYPTO;
	if (err != AIRLOCK_OK)
		goto out;
	err = privkey_wrap(pkey, alg, out);
	pkey = NULL;
out:
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_privkey_load(const char *path, struct airlock_privkey **out)
{
	uint8_t buf[KEY_FILE_MAX];
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	enum airlock_alg alg = AIRLOCK_ALG_ED25519;
	airlock_err err;

	if (path == NULL || out == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	err = read_key_file(path, true, buf, sizeof buf, &len);
	if (err != AIRLOCK_OK)
		goto out;
	/* len <= KEY_FILE_MAX, so the int conversion is exact. */
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, refuse_passphrase, NULL, NULL, NULL);
	if (pkey == NULL) {
		err = AIRLOCK_ERR_BAD_KEY_FILE;
		goto out;
	}
	err = pkey_classify(pkey, &alg);
	if (err != AIRLOCK_OK)
		goto out;
	/*
	 * A PKCS#8 EC key carries its public point beside the scalar and
	 * nothing ties the two together on decode: a mismatched pair would
	 * sign with one key and report the other as its public key. Check the
	 * pair (and the scalar's range) once, here, not at every signature.
	 */
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (pctx == NULL) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	if (EVP_PKEY_check(pctx) != 1) {
		err = AIRLOCK_ERR_BAD_KEY_FILE;
		goto out;
	}
	err = privkey_wrap(pkey, alg, out);
	pkey = NULL;
out:
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	airlock_wipe(buf, sizeof buf);
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_privkey_save(const struct airlock_privkey *key, const char *path)
{
	BIO *mem = NULL;
	airlock_err err;

	if (key == NULL || key->pkey == NULL || path == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	/* A secure-memory BIO is cleansed when freed: the PEM text is the key. */
	mem = BIO_new(BIO_s_secmem());
	if (mem == NULL) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	/* OpenSSL 3 writes PKCS#8 ("BEGIN PRIVATE KEY"), unencrypted without a cipher. */
	if (PEM_write_bio_PrivateKey(mem, key->pkey, NULL, NULL, 0, NULL, NULL) != 1) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	err = write_bio_file(mem, path, 0600);
out:
	BIO_free(mem);
	ERR_pop_to_mark();
	return err;
}

enum airlock_alg airlock_privkey_alg(const struct airlock_privkey *key)
{
	/* Cannot fail by contract; a NULL key gets a value no algorithm has. */
	if (key == NULL)
		return (enum airlock_alg)0;
	return key->alg;
}

airlock_err airlock_privkey_public(const struct airlock_privkey *key,
				   uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len)
{
	airlock_err err;

	if (key == NULL || key->pkey == NULL || pub == NULL || pub_len == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	err = pkey_raw_public(key->pkey, key->alg, pub, pub_len);
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_privkey_sign(const struct airlock_privkey *key,
				 const uint8_t *msg, size_t msg_len,
				 uint8_t sig[AIRLOCK_SIG_MAX_LEN], size_t *sig_len)
{
	static const uint8_t empty[1];
	uint8_t raw[P256_DER_SIG_MAX];
	size_t raw_len = sizeof raw;
	uint8_t out_sig[AIRLOCK_SIG_MAX_LEN];
	EVP_MD_CTX *mctx = NULL;
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	_Static_assert(P256_DER_SIG_MAX >= AIRLOCK_SIG_MAX_LEN, "raw holds an Ed25519 signature too");

	if (key == NULL || key->pkey == NULL || (msg == NULL && msg_len != 0) || sig == NULL || sig_len == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	if (!airlock_alg_can_sign(key->alg))
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	ERR_set_mark();
	mctx = EVP_MD_CTX_new();
	if (mctx == NULL)
		goto out;
	/* Ed25519 is "pure": no digest name, the whole message goes in one call. */
	if (EVP_DigestSignInit_ex(mctx, NULL, key->alg == AIRLOCK_ALG_P256 ? "SHA256" : NULL,
				  NULL, NULL, key->pkey, NULL) != 1)
		goto out;
	if (EVP_DigestSign(mctx, raw, &raw_len, msg != NULL ? msg : empty, msg_len) != 1)
		goto out;
	if (key->alg == AIRLOCK_ALG_P256) {
		err = p256_sig_from_der(raw, raw_len, out_sig);
		if (err != AIRLOCK_OK)
			goto out;
	} else {
		if (raw_len != AIRLOCK_SIG_MAX_LEN)
			goto out;
		memcpy(out_sig, raw, AIRLOCK_SIG_MAX_LEN);
	}
	memcpy(sig, out_sig, AIRLOCK_SIG_MAX_LEN);
	*sig_len = AIRLOCK_SIG_MAX_LEN;
	err = AIRLOCK_OK;
out:
	EVP_MD_CTX_free(mctx);
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_privkey_x25519(const struct airlock_privkey *key,
				   const uint8_t peer[AIRLOCK_X25519_LEN],
				   uint8_t shared[AIRLOCK_X25519_LEN])
{
	static const uint8_t zero[AIRLOCK_X25519_LEN];
	uint8_t buf[AIRLOCK_X25519_LEN];
	size_t len = sizeof buf;
	EVP_PKEY *peer_key = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	airlock_err err = AIRLOCK_ERR_CRYPTO;

	if (key == NULL || key->pkey == NULL || peer == NULL || shared == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	if (key->alg != AIRLOCK_ALG_X25519)
		return AIRLOCK_ERR_UNSUPPORTED_ALG;
	ERR_set_mark();
	err = pkey_from_public(AIRLOCK_ALG_X25519, peer, AIRLOCK_X25519_LEN, &peer_key);
	if (err != AIRLOCK_OK)
		goto out;
	err = AIRLOCK_ERR_CRYPTO;
	pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
	if (pctx == NULL || EVP_PKEY_derive_init(pctx) != 1 || EVP_PKEY_derive_set_peer(pctx, peer_key) != 1)
		goto out;
	/*
	 * OpenSSL itself fails the derivation when the result is all zeros
	 * (a low-order peer point, RFC 7748 section 6.1); with the context set
	 * up, that is the one way this call fails on input, so it is reported
	 * as the bad key it is.
	 */
	if (EVP_PKEY_derive(pctx, buf, &len) != 1) {
		err = AIRLOCK_ERR_BAD_KEY;
		goto out;
	}
	if (len != sizeof buf)
		goto out;
	/* And checked here too, not left to one backend's habit. */
	if (CRYPTO_memcmp(buf, zero, sizeof buf) == 0) {
		err = AIRLOCK_ERR_BAD_KEY;
		goto out;
	}
	memcpy(shared, buf, sizeof buf);
	err = AIRLOCK_OK;
out:
	airlock_wipe(buf, sizeof buf);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(peer_key);
	ERR_pop_to_mark();
	return err;
}

void airlock_privkey_free(struct airlock_privkey *key)
{
	if (key == NULL)
		return;
	/* EVP_PKEY_free cleanses the private scalar or seed. */
	EVP_PKEY_free(key->pkey);
	airlock_wipe(key, sizeof *key);
	free(key);
}

/* ---- public key files ---- */

airlock_err airlock_pubkey_load(const char *path, enum airlock_alg *alg,
				uint8_t pub[AIRLOCK_PUB_MAX_LEN], size_t *pub_len)
{
	uint8_t buf[KEY_FILE_MAX];
	size_t len = 0;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	enum airlock_alg got = AIRLOCK_ALG_ED25519;
	airlock_err err;

	if (path == NULL || alg == NULL || pub == NULL || pub_len == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	err = read_key_file(path, false, buf, sizeof buf, &len);
	if (err != AIRLOCK_OK)
		goto out;
	bio = BIO_new_mem_buf(buf, (int)len);
	if (bio == NULL) {
		err = AIRLOCK_ERR_CRYPTO;
		goto out;
	}
	/* SubjectPublicKeyInfo only; decoding an EC point also checks it is on the curve. */
	pkey = PEM_read_bio_PUBKEY_ex(bio, NULL, refuse_passphrase, NULL, NULL, NULL);
	if (pkey == NULL) {
		err = AIRLOCK_ERR_BAD_KEY_FILE;
		goto out;
	}
	err = pkey_classify(pkey, &got);
	if (err != AIRLOCK_OK)
		goto out;
	err = pkey_raw_public(pkey, got, pub, pub_len);
	if (err != AIRLOCK_OK)
		goto out;
	*alg = got;
out:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_pop_to_mark();
	return err;
}

airlock_err airlock_pubkey_save(enum airlock_alg alg, const uint8_t *pub, size_t pub_len, const char *path)
{
	EVP_PKEY *pkey = NULL;
	BIO *mem = NULL;
	airlock_err err;

	if ((pub == NULL && pub_len != 0) || path == NULL)
		return AIRLOCK_ERR_INVALID_ARG;
	ERR_set_mark();
	/* Never write a file that would not load back as the same key. */
	err = pkey_from_public(alg, pub, pub_len, &pkey);
	if (err != AIRLOCK_OK)
		goto out;
	err = AIRLOCK_ERR_CRYPTO;
	mem = BIO_new(BIO_s_mem());
	if (mem == NULL || PEM_write_bio_PUBKEY(mem, pkey) != 1)
		goto out;
	err = write_bio_file(mem, path, 0644);
out:
	BIO_free(mem);
	EVP_PKEY_free(pkey);
	ERR_pop_to_mark();
	return err;
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
	err = pkey_from_public(alg, pub, pub_len, &pkey);
	if (err != AIRLOCK_OK)
		goto out;
	if (alg == AIRLOCK_ALG_P256) {
		err = p256_sig_to_der(sig, der, &tbs_sig_len);
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
