/*
 * The OpenSSL port, key half: private and public keys, their files, signing
 * and X25519 (include/airlock/crypto.h). The conventions of
 * lib/crypto_openssl.c hold here too: OpenSSL failures become
 * AIRLOCK_ERR_CRYPTO unless a more specific code applies, input-driven
 * rejections leave OpenSSL's error queue as they found it, and secrets are
 * wiped before they go out of scope.
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
#include <openssl/objects.h>
#include <openssl/params.h>
#include <openssl/pem.h>

#include "openssl_port.h"

/* A PEM key of a supported kind is a few hundred bytes; anything far larger is not one. */
#define KEY_FILE_MAX 16384

struct airlock_privkey {
	EVP_PKEY *pkey;
	enum airlock_alg alg;
};

/* ---- keys: shared helpers ---- */

/*
 * Builds a public EVP_PKEY from wire bytes. The length, and for P-256 the
 * point itself, are checked here so that every caller (verify, pubkey_save)
 * rejects the same keys with AIRLOCK_ERR_BAD_KEY.
 */
AIRLOCK_MUST_USE airlock_err port_pkey_from_public(int64_t alg, const uint8_t *pub, size_t pub_len,
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
AIRLOCK_MUST_USE airlock_err port_pkey_classify(EVP_PKEY *pkey, enum airlock_alg *alg)
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

AIRLOCK_MUST_USE airlock_err port_pkey_raw_public(const EVP_PKEY *pkey, enum airlock_alg alg,
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
AIRLOCK_MUST_USE airlock_err port_p256_sig_to_der(const uint8_t sig[AIRLOCK_SIG_MAX_LEN],
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
AIRLOCK_MUST_USE airlock_err port_p256_sig_from_der(const uint8_t *der, size_t der_len,
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
static AIRLOCK_MUST_USE airlock_err write_all(int fd, const uint8_t *data, size_t len)
{
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return AIRLOCK_ERR_IO_WRITE;
		off += (size_t)w;
	}
	return AIRLOCK_OK;
}

/* fsync of the directory holding path, so that a new name survives a power cut. */
static AIRLOCK_MUST_USE airlock_err sync_parent(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;
	if (n >= sizeof dir)
		return AIRLOCK_ERR_INVALID_ARG;
	if (slash == path)
		n = 1;  /* "/name": the root directory */
	memcpy(dir, slash ? path : ".", slash ? n : 1);
	dir[slash ? n : 1] = '\0';
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return AIRLOCK_ERR_IO_SYNC;
	airlock_err err = fsync(fd) == 0 ? AIRLOCK_OK : AIRLOCK_ERR_IO_SYNC;
	close(fd);
	return err;
}

/*
 * Creates path holding exactly data, or nothing: the bytes go to a temporary
 * name in the same directory (created O_EXCL with the final mode), are
 * fsync'd, and only then get their name with link(), which refuses an
 * existing file. A power cut never leaves a torn key file under path.
 */
static AIRLOCK_MUST_USE airlock_err write_new_file(const char *path, mode_t mode, const uint8_t *data, size_t len)
{
	char tmp[PATH_MAX];
	airlock_err err = AIRLOCK_OK;
	int fd = -1;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp-new", path) >= sizeof tmp)
		return AIRLOCK_ERR_INVALID_ARG;
	if (access(path, F_OK) == 0)
		return AIRLOCK_ERR_EXISTS;
	/* A temporary left by an earlier cut is ours to replace. */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, mode);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	/* The contract promises the mode; the caller's umask must not narrow it. */
	if (fchmod(fd, mode) != 0)
		err = AIRLOCK_ERR_IO_WRITE;
	if (err == AIRLOCK_OK)
		err = write_all(fd, data, len);
	if (err == AIRLOCK_OK && fsync(fd) != 0)
		err = AIRLOCK_ERR_IO_SYNC;
	if (close(fd) != 0 && err == AIRLOCK_OK)
		err = AIRLOCK_ERR_IO_WRITE;
	if (err == AIRLOCK_OK && link(tmp, path) != 0)
		err = errno == EEXIST ? AIRLOCK_ERR_EXISTS : AIRLOCK_ERR_IO_WRITE;
	unlink(tmp);
	if (err == AIRLOCK_OK)
		err = sync_parent(path);
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
	err = port_pkey_classify(pkey, &got);
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
	err = port_pkey_classify(pkey, &alg);
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
	err = port_pkey_raw_public(key->pkey, key->alg, pub, pub_len);
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
		err = port_p256_sig_from_der(raw, raw_len, out_sig);
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
	err = port_pkey_from_public(AIRLOCK_ALG_X25519, peer, AIRLOCK_X25519_LEN, &peer_key);
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
	err = port_pkey_classify(pkey, &got);
	if (err != AIRLOCK_OK)
		goto out;
	err = port_pkey_raw_public(pkey, got, pub, pub_len);
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
	err = port_pkey_from_public(alg, pub, pub_len, &pkey);
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

