#include "pki.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "airlock/crypto.h"
#include "airlock/hex.h"

struct pki_ca {
	X509 *cert;
	EVP_PKEY *key;
};

/* ---- files ---- */

/* Writes a PEM produced by fn into path, created O_EXCL with mode. */
static airlock_err write_pem(const char *path, mode_t mode, int (*fn)(BIO *, const void *), const void *obj)
{
	BIO *mem = BIO_new(BIO_s_mem());
	char *data;
	airlock_err err = AIRLOCK_OK;
	if (!mem)
		return AIRLOCK_ERR_NOMEM;
	if (!fn(mem, obj)) {
		BIO_free(mem);
		return AIRLOCK_ERR_CRYPTO;
	}
	long n = BIO_get_mem_data(mem, &data);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		BIO_free(mem);
		return errno == EEXIST ? AIRLOCK_ERR_EXISTS : AIRLOCK_ERR_IO_OPEN;
	}
	if (fchmod(fd, mode) != 0 || write(fd, data, (size_t)n) != (ssize_t)n)
		err = AIRLOCK_ERR_IO_WRITE;
	if (err == AIRLOCK_OK && fsync(fd) != 0)
		err = AIRLOCK_ERR_IO_SYNC;
	close(fd);
	if (err != AIRLOCK_OK)
		unlink(path);
	BIO_free_all(mem);
	return err;
}

static int pem_key(BIO *b, const void *k)
{
	return PEM_write_bio_PrivateKey(b, (EVP_PKEY *)(uintptr_t)k, NULL, NULL, 0, NULL, NULL);
}

static int pem_cert(BIO *b, const void *c)
{
	return PEM_write_bio_X509(b, (X509 *)(uintptr_t)c);
}

static EVP_PKEY *p256_generate(void)
{
	return EVP_EC_gen("P-256");
}

/* ---- certificate building ---- */

static airlock_err random_serial(X509 *x, char serial_hex[33])
{
	uint8_t raw[16];
	if (RAND_bytes(raw, sizeof raw) != 1)
		return AIRLOCK_ERR_CRYPTO;
	raw[0] &= 0x7f;  /* positive, as RFC 5280 requires */
	raw[0] |= 0x01;  /* and no leading zero byte: always 16 bytes */
	BIGNUM *bn = BN_bin2bn(raw, sizeof raw, NULL);
	if (!bn)
		return AIRLOCK_ERR_NOMEM;
	ASN1_INTEGER *ai = BN_to_ASN1_INTEGER(bn, NULL);
	BN_free(bn);
	if (!ai)
		return AIRLOCK_ERR_NOMEM;
	int ok = X509_set_serialNumber(x, ai);
	ASN1_INTEGER_free(ai);
	if (serial_hex)
		airlock_hex_encode(raw, sizeof raw, serial_hex);
	return ok ? AIRLOCK_OK : AIRLOCK_ERR_CRYPTO;
}

static airlock_err add_ext(X509 *issuer, X509 *x, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx_nodb(&ctx);
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return AIRLOCK_ERR_BAD_VALUE;
	int ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? AIRLOCK_OK : AIRLOCK_ERR_CRYPTO;
}

static airlock_err set_name_cn(X509_NAME *name, const char *cn)
{
	return X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0)
		       ? AIRLOCK_OK : AIRLOCK_ERR_BAD_VALUE;
}

/* A certificate shell: version 3, serial, validity [now - 5 min, now + days]. */
static airlock_err new_cert(X509 **out, unsigned days, char serial_hex[33])
{
	X509 *x = X509_new();
	if (!x)
		return AIRLOCK_ERR_NOMEM;
	airlock_err err = X509_set_version(x, 2) ? random_serial(x, serial_hex) : AIRLOCK_ERR_CRYPTO;
	/* Five minutes of slack for devices whose clocks run a little behind. */
	if (err == AIRLOCK_OK && (!X509_gmtime_adj(X509_getm_notBefore(x), -300) ||
				  !X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL)))
		err = AIRLOCK_ERR_CRYPTO;
	if (err != AIRLOCK_OK) {
		X509_free(x);
		return err;
	}
	*out = x;
	return AIRLOCK_OK;
}

static airlock_err sign_cert(X509 *x, EVP_PKEY *key)
{
	/* Ed25519 keys sign with no separate digest. */
	const EVP_MD *md = EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256();
	return X509_sign(x, key, md) > 0 ? AIRLOCK_OK : AIRLOCK_ERR_CRYPTO;
}

airlock_err pki_create_ca(const char *name, unsigned days, const char *key_path, const char *cert_path)
{
	X509 *x = NULL;
	EVP_PKEY *key = p256_generate();
	airlock_err err = key ? new_cert(&x, days, NULL) : AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK && !X509_set_pubkey(x, key))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = set_name_cn(X509_get_subject_name(x), name);
	if (err == AIRLOCK_OK && !X509_set_issuer_name(x, X509_get_subject_name(x)))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
	if (err == AIRLOCK_OK)
		err = add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	if (err == AIRLOCK_OK)
		err = add_ext(x, x, NID_subject_key_identifier, "hash");
	if (err == AIRLOCK_OK)
		err = sign_cert(x, key);
	if (err == AIRLOCK_OK)
		err = write_pem(key_path, 0600, pem_key, key);
	if (err == AIRLOCK_OK) {
		err = write_pem(cert_path, 0644, pem_cert, x);
		if (err != AIRLOCK_OK)
			unlink(key_path);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return err;
}

static airlock_err read_small(const char *path, char *buf, size_t cap, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return AIRLOCK_ERR_IO_OPEN;
	ssize_t n = read(fd, buf, cap);
	close(fd);
	if (n < 0)
		return AIRLOCK_ERR_IO_READ;
	if ((size_t)n == cap)
		return AIRLOCK_ERR_TOO_LARGE;
	*len = (size_t)n;
	return AIRLOCK_OK;
}

airlock_err pki_ca_load(const char *key_path, const char *cert_path, struct pki_ca **out)
{
	static char buf[PKI_MAX_PEM];
	size_t len;
	struct stat st;
	struct pki_ca *ca = calloc(1, sizeof *ca);
	if (!ca)
		return AIRLOCK_ERR_NOMEM;
	airlock_err err = stat(key_path, &st) != 0 ? AIRLOCK_ERR_IO_OPEN
			  : (st.st_mode & 077) ? AIRLOCK_ERR_KEY_PERMS : read_small(key_path, buf, sizeof buf, &len);
	if (err == AIRLOCK_OK) {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		ca->key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		OPENSSL_cleanse(buf, sizeof buf);
		err = ca->key ? AIRLOCK_OK : AIRLOCK_ERR_BAD_KEY_FILE;
	}
	if (err == AIRLOCK_OK)
		err = read_small(cert_path, buf, sizeof buf, &len);
	if (err == AIRLOCK_OK) {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		ca->cert = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
		BIO_free(b);
		err = ca->cert ? AIRLOCK_OK : AIRLOCK_ERR_MALFORMED;
	}
	if (err == AIRLOCK_OK && X509_check_private_key(ca->cert, ca->key) != 1)
		err = AIRLOCK_ERR_BAD_KEY_FILE;
	ERR_clear_error();
	if (err != AIRLOCK_OK) {
		pki_ca_free(ca);
		return err;
	}
	*out = ca;
	return AIRLOCK_OK;
}

void pki_ca_free(struct pki_ca *ca)
{
	if (!ca)
		return;
	X509_free(ca->cert);
	EVP_PKEY_free(ca->key);
	free(ca);
}

/* "localhost,127.0.0.1" -> "DNS:localhost,IP:127.0.0.1" */
static airlock_err san_list(const char *names, char *out, size_t cap)
{
	size_t n = 0;
	const char *p = names;
	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		char item[256];
		if (len == 0 || len >= sizeof item)
			return AIRLOCK_ERR_BAD_VALUE;
		memcpy(item, p, len);
		item[len] = '\0';
		bool ip = strspn(item, "0123456789.") == len || strchr(item, ':') != NULL;
		int w = snprintf(out + n, cap - n, "%s%s:%s", n ? "," : "", ip ? "IP" : "DNS", item);
		if (w < 0 || (size_t)w >= cap - n)
			return AIRLOCK_ERR_BAD_VALUE;
		n += (size_t)w;
		p += len + (end ? 1 : 0);
	}
	return n ? AIRLOCK_OK : AIRLOCK_ERR_BAD_VALUE;
}

airlock_err pki_issue_server(const struct pki_ca *ca, const char *names, unsigned days,
			     const char *key_path, const char *cert_path)
{
	char san[2048], first[256];
	X509 *x = NULL;
	EVP_PKEY *key = NULL;
	airlock_err err = san_list(names, san, sizeof san);
	size_t fl = strcspn(names, ",");
	if (err == AIRLOCK_OK && fl >= sizeof first)
		err = AIRLOCK_ERR_BAD_VALUE;
	if (err == AIRLOCK_OK) {
		memcpy(first, names, fl);
		first[fl] = '\0';
		key = p256_generate();
		err = key ? new_cert(&x, days, NULL) : AIRLOCK_ERR_CRYPTO;
	}
	if (err == AIRLOCK_OK && !X509_set_pubkey(x, key))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = set_name_cn(X509_get_subject_name(x), first);
	if (err == AIRLOCK_OK && !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_basic_constraints, "critical,CA:FALSE");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_key_usage, "critical,digitalSignature");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_ext_key_usage, "serverAuth");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_subject_alt_name, san);
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_authority_key_identifier, "keyid:always");
	if (err == AIRLOCK_OK)
		err = sign_cert(x, ca->key);
	if (err == AIRLOCK_OK)
		err = write_pem(key_path, 0600, pem_key, key);
	if (err == AIRLOCK_OK) {
		err = write_pem(cert_path, 0644, pem_cert, x);
		if (err != AIRLOCK_OK)
			unlink(key_path);
	}
	X509_free(x);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return err;
}

airlock_err pki_sign_csr(const struct pki_ca *ca, const char *csr_pem, size_t csr_len, const char *device_id,
			 unsigned days, char **pem, uint8_t sha256[32], char serial_hex[33], int64_t *not_after)
{
	X509_REQ *req = NULL;
	X509 *x = NULL;
	EVP_PKEY *pub = NULL;
	BIO *in = NULL, *mem = NULL;
	unsigned char *der = NULL;
	airlock_err err;

	if (csr_len == 0 || csr_len > PKI_MAX_PEM)
		return AIRLOCK_ERR_TOO_LARGE;
	in = BIO_new_mem_buf(csr_pem, (int)csr_len);
	req = in ? PEM_read_bio_X509_REQ(in, NULL, NULL, NULL) : NULL;
	err = req ? AIRLOCK_OK : AIRLOCK_ERR_MALFORMED;
	if (err == AIRLOCK_OK) {
		pub = X509_REQ_get_pubkey(req);
		err = pub ? AIRLOCK_OK : AIRLOCK_ERR_MALFORMED;
	}
	if (err == AIRLOCK_OK) {
		/* P-256 and Ed25519 only: what device secure elements and TPMs hold. */
		int id = EVP_PKEY_get_id(pub);
		char group[32] = "";
		size_t gl = 0;
		if (id == EVP_PKEY_EC)
			EVP_PKEY_get_utf8_string_param(pub, "group", group, sizeof group, &gl);
		if (id != EVP_PKEY_ED25519 && !(id == EVP_PKEY_EC && strcmp(group, "prime256v1") == 0))
			err = AIRLOCK_ERR_UNSUPPORTED_ALG;
	}
	/* Proof of possession: the CSR is signed by its own key. */
	if (err == AIRLOCK_OK && X509_REQ_verify(req, pub) != 1)
		err = AIRLOCK_ERR_BAD_SIGNATURE;
	if (err == AIRLOCK_OK)
		err = new_cert(&x, days, serial_hex);
	if (err == AIRLOCK_OK && !X509_set_pubkey(x, pub))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = set_name_cn(X509_get_subject_name(x), device_id);
	if (err == AIRLOCK_OK && !X509_set_issuer_name(x, X509_get_subject_name(ca->cert)))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_basic_constraints, "critical,CA:FALSE");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_key_usage, "critical,digitalSignature");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_ext_key_usage, "clientAuth");
	if (err == AIRLOCK_OK)
		err = add_ext(ca->cert, x, NID_authority_key_identifier, "keyid:always");
	if (err == AIRLOCK_OK)
		err = sign_cert(x, ca->key);
	if (err == AIRLOCK_OK) {
		int n = i2d_X509(x, &der);
		err = n > 0 ? airlock_sha256(der, (size_t)n, sha256) : AIRLOCK_ERR_CRYPTO;
	}
	if (err == AIRLOCK_OK) {
		/* Seconds since the epoch: the difference from ASN1 time 0. */
		int days_since = 0, secs = 0;
		ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
		if (!epoch || !ASN1_TIME_diff(&days_since, &secs, epoch, X509_get0_notAfter(x)))
			err = AIRLOCK_ERR_CRYPTO;
		ASN1_TIME_free(epoch);
		*not_after = (int64_t)days_since * 86400 + secs;
	}
	if (err == AIRLOCK_OK) {
		mem = BIO_new(BIO_s_mem());
		char *data;
		if (!mem || !PEM_write_bio_X509(mem, x)) {
			err = AIRLOCK_ERR_CRYPTO;
		} else {
			long n = BIO_get_mem_data(mem, &data);
			*pem = malloc((size_t)n + 1);
			if (!*pem) {
				err = AIRLOCK_ERR_NOMEM;
			} else {
				memcpy(*pem, data, (size_t)n);
				(*pem)[n] = '\0';
			}
		}
	}
	OPENSSL_free(der);
	BIO_free(mem);
	BIO_free(in);
	X509_free(x);
	EVP_PKEY_free(pub);
	X509_REQ_free(req);
	ERR_clear_error();
	return err;
}

airlock_err pki_make_csr(const char *key_path, const char *cn, char **csr_pem)
{
	EVP_PKEY *key = p256_generate();
	X509_REQ *req = X509_REQ_new();
	BIO *mem = NULL;
	airlock_err err = key && req ? AIRLOCK_OK : AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK && (!X509_REQ_set_pubkey(req, key) ||
				  set_name_cn(X509_REQ_get_subject_name(req), cn) != AIRLOCK_OK ||
				  X509_REQ_sign(req, key, EVP_sha256()) <= 0))
		err = AIRLOCK_ERR_CRYPTO;
	if (err == AIRLOCK_OK)
		err = write_pem(key_path, 0600, pem_key, key);
	if (err == AIRLOCK_OK) {
		char *data;
		mem = BIO_new(BIO_s_mem());
		if (!mem || !PEM_write_bio_X509_REQ(mem, req)) {
			err = AIRLOCK_ERR_CRYPTO;
		} else {
			long n = BIO_get_mem_data(mem, &data);
			*csr_pem = malloc((size_t)n + 1);
			if (*csr_pem) {
				memcpy(*csr_pem, data, (size_t)n);
				(*csr_pem)[n] = '\0';
			} else {
				err = AIRLOCK_ERR_NOMEM;
			}
		}
	}
	BIO_free(mem);
	X509_REQ_free(req);
	EVP_PKEY_free(key);
	ERR_clear_error();
	return err;
}
