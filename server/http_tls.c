/*
 * TLS side of the HTTP layer: loading the server's certificate and key and
 * the client CAs, checking the priority string, and verifying client
 * certificates.
 *
 * MHD hands GnuTLS the client-CA bundle (MHD_OPTION_HTTPS_MEM_TRUST), which
 * makes GnuTLS request a certificate (GNUTLS_CERT_REQUEST: not required, so
 * admins and enrolling devices connect without one) and name the CAs in the
 * request. At the handshake GnuTLS checks only that the client holds the
 * key of the certificate it sent (and that the key usage allows signing);
 * it does not check the chain. That is done here, against our own trust
 * list (the same CAs plus the CRLs), once per connection and leaf. The
 * manufacturer CAs, if any, form a second list, tried only for a chain
 * whose issuer the fleet list does not know; the verdict says which list
 * vouched for the certificate (the application binds such certificates
 * differently).
 */
#include "http_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gnutls/crypto.h>

static void say(char why[HTTP_ERRMSG_MAX], const char *what, const char *path, const char *detail)
{
	if (why)
		snprintf(why, HTTP_ERRMSG_MAX, "%s %s: %s", what, path, detail);
}

airlock_err http_read_file(const char *path, bool secret, char **out, size_t *len, char why[HTTP_ERRMSG_MAX])
{
	struct stat st;
	char *buf = NULL;
	size_t want = 0, got = 0;
	airlock_err err = AIRLOCK_OK;
	*out = NULL;
	*len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		say(why, "cannot open", path, strerror(errno));
		return AIRLOCK_ERR_IO_OPEN;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		say(why, "cannot read", path, "not a regular file");
		err = AIRLOCK_ERR_IO_READ;
		goto out;
	}
	/* A key that anyone on the host can read is a key already lost. Group
	 * access stays allowed (Debian's ssl-cert group). */
	if (secret && (st.st_mode & 0007) != 0) {
		say(why, "refusing", path, "private key is accessible to others (chmod o-rwx)");
		err = AIRLOCK_ERR_KEY_PERMS;
		goto out;
	}
	if (st.st_size <= 0 || (uint64_t)st.st_size > HTTP_PEM_MAX) {
		say(why, "cannot read", path, "empty or larger than 1 MiB");
		err = AIRLOCK_ERR_IO_READ;
		goto out;
	}
	want = (size_t)st.st_size;
	buf = malloc(want + 1);
	if (!buf) {
		err = AIRLOCK_ERR_NOMEM;
		goto out;
	}
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			say(why, "cannot read", path, n < 0 ? strerror(errno) : "file shrank while read");
			err = AIRLOCK_ERR_IO_READ;
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	if (buf) {
		gnutls_memset(buf, 0, want);
		free(buf);
	}
	close(fd);
	return err;
}

/* One trust list from a PEM bundle of CAs (and the CRLs, of which it keeps
 * those its CAs signed). */
static airlock_err load_trust(const char *path, const char *pem, size_t len, const char *crl_pem, size_t crl_len,
			      gnutls_x509_trust_list_t *out, char why[HTTP_ERRMSG_MAX])
{
	if (gnutls_x509_trust_list_init(out, 0) < 0)
		return AIRLOCK_ERR_NOMEM;
	gnutls_datum_t ca = { (unsigned char *)pem, (unsigned)len };
	gnutls_datum_t crl = { (unsigned char *)crl_pem, (unsigned)crl_len };
	int r = gnutls_x509_trust_list_add_trust_mem(*out, &ca, crl_pem ? &crl : NULL, GNUTLS_X509_FMT_PEM,
						     GNUTLS_TL_VERIFY_CRL | GNUTLS_TL_NO_DUPLICATES, 0);
	if (r <= 0) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "client CA bundle %s: %s", path,
				 r < 0 ? gnutls_strerror(r) : "no certificate in it");
		return AIRLOCK_ERR_BAD_KEY_FILE;
	}
	return AIRLOCK_OK;
}

/* Loads everything the TLS listener needs and checks it before MHD sees it,
 * so a bad file gets a precise message instead of MHD's "failed to start". */
airlock_err http_tls_setup(struct http_server *srv, const struct http_config *cfg, char why[HTTP_ERRMSG_MAX])
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_priority_t prio = NULL;
	size_t len = 0;
	airlock_err err;
	int r;

	if (!cfg->cert_file || !cfg->key_file) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "the TLS listener needs cert_file and key_file");
		return AIRLOCK_ERR_INVALID_ARG;
	}
	err = http_read_file(cfg->cert_file, false, &srv->cert_pem, &len, why);
	if (err != AIRLOCK_OK)
		return err;
	err = http_read_file(cfg->key_file, true, &srv->key_pem, &srv->key_pem_len, why);
	if (err != AIRLOCK_OK)
		return err;

	const char *errpos = NULL;
	r = gnutls_priority_init(&prio, srv->priorities, &errpos);
	if (r < 0) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "bad TLS priority string at \"%.40s\": %s",
				 errpos ? errpos : "", gnutls_strerror(r));
		return AIRLOCK_ERR_INVALID_ARG;
	}
	gnutls_priority_deinit(prio);

	if (gnutls_certificate_allocate_credentials(&cred) < 0)
		return AIRLOCK_ERR_NOMEM;
	gnutls_datum_t c = { (unsigned char *)srv->cert_pem, (unsigned)len };
	gnutls_datum_t k = { (unsigned char *)srv->key_pem, (unsigned)srv->key_pem_len };
	r = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (r < 0) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "server certificate %s / key %s: %s", cfg->cert_file,
				 cfg->key_file, gnutls_strerror(r));
		return AIRLOCK_ERR_BAD_KEY_FILE;
	}

	if (!cfg->client_ca_file) {
		if (!cfg->manufacturer_ca_file)
			return AIRLOCK_OK;
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "manufacturer_ca_file needs client_ca_file");
		return AIRLOCK_ERR_INVALID_ARG;
	}
	char *crl_pem = NULL, *mfg_pem = NULL;
	size_t crl_len = 0, mfg_len = 0;
	err = http_read_file(cfg->client_ca_file, false, &srv->ca_pem, &len, why);
	if (err == AIRLOCK_OK && cfg->client_crl_file)
		err = http_read_file(cfg->client_crl_file, false, &crl_pem, &crl_len, why);
	if (err == AIRLOCK_OK)
		err = load_trust(cfg->client_ca_file, srv->ca_pem, len, crl_pem, crl_len, &srv->trust, why);
	if (err == AIRLOCK_OK && cfg->manufacturer_ca_file)
		err = http_read_file(cfg->manufacturer_ca_file, false, &mfg_pem, &mfg_len, why);
	if (err == AIRLOCK_OK && mfg_pem)
		err = load_trust(cfg->manufacturer_ca_file, mfg_pem, mfg_len, crl_pem, crl_len, &srv->mfg_trust, why);
	/* The handshake's CA list (MHD_OPTION_HTTPS_MEM_TRUST) names both. */
	if (err == AIRLOCK_OK && mfg_pem) {
		char *both = realloc(srv->ca_pem, len + 1 + mfg_len + 1);
		if (!both) {
			err = AIRLOCK_ERR_NOMEM;
		} else {
			both[len] = '\n';
			memcpy(both + len + 1, mfg_pem, mfg_len + 1);
			srv->ca_pem = both;
		}
	}
	free(crl_pem);
	free(mfg_pem);
	return err;
}

void http_tls_teardown(struct http_server *srv)
{
	if (srv->trust)
		gnutls_x509_trust_list_deinit(srv->trust, 1);
	if (srv->mfg_trust)
		gnutls_x509_trust_list_deinit(srv->mfg_trust, 1);
	srv->trust = srv->mfg_trust = NULL;
	if (srv->key_pem) {
		gnutls_memset(srv->key_pem, 0, srv->key_pem_len);
		free(srv->key_pem);
	}
	srv->key_pem = NULL;
	free(srv->cert_pem);
	free(srv->ca_pem);
	srv->cert_pem = srv->ca_pem = NULL;
}

void http_cert_clear(struct http_conn *conn)
{
	free(conn->cert_der);
	conn->cert_der = NULL;
	conn->cert_der_len = 0;
	memset(&conn->cert, 0, sizeof conn->cert);
	conn->cert.state = HTTP_CERT_NONE;
}

static void hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

/* The leaf's details, for VERIFIED and (for logs) INVALID. Returns a reason
 * when the subject cannot name anyone: a CN that is not printable ASCII or
 * is there twice. */
static const char *describe_leaf(gnutls_x509_crt_t crt, struct http_client_cert *out)
{
	char cn[HTTP_CN_MAX];
	size_t sz = sizeof cn;
	int r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn, &sz);
	const char *bad = NULL;
	if (r == 0) {
		for (size_t i = 0; i < sz && !bad; i++)
			if ((unsigned char)cn[i] < 0x20 || (unsigned char)cn[i] > 0x7e)
				bad = "bad_subject";
		char other[8];
		size_t osz = sizeof other;
		r = gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 1, 0, other, &osz);
		if (r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			bad = "bad_subject";
		if (!bad)
			memcpy(out->subject_cn, cn, sz + 1);
	} else if (r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) {
		bad = "bad_subject";  /* too long for HTTP_CN_MAX, or undecodable */
	}

	uint8_t serial[(HTTP_SERIAL_HEX_MAX - 1) / 2];
	sz = sizeof serial;
	if (gnutls_x509_crt_get_serial(crt, serial, &sz) == 0)
		hex(serial, sz, out->serial_hex);
	else if (!bad)
		bad = "malformed";
	out->not_before = (int64_t)gnutls_x509_crt_get_activation_time(crt);
	out->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
	return bad;
}

/* X.509 key usage: if the extension is there it must allow digitalSignature
 * (the TLS handshake signature); if extended key usage is there it must
 * list TLS client authentication itself (anyExtendedKeyUsage is not enough);
 * a CA certificate never identifies a client. */
static const char *check_usage(gnutls_x509_crt_t crt)
{
	unsigned ku = 0, critical = 0;
	int r = gnutls_x509_crt_get_key_usage(crt, &ku, &critical);
	if (r >= 0 && !(ku & GNUTLS_KEY_DIGITAL_SIGNATURE))
		return "key_usage";
	if (r < 0 && r != GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
		return "malformed";

	bool any = false, client = false;
	for (unsigned i = 0; i < 32; i++) {
		char oid[128];
		size_t sz = sizeof oid;
		r = gnutls_x509_crt_get_key_purpose_oid(crt, i, oid, &sz, &critical);
		if (r == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		if (r < 0)
			return "malformed";
		any = true;
		if (strcmp(oid, GNUTLS_KP_TLS_WWW_CLIENT) == 0)
			client = true;
	}
	if (any && !client)
		return "ext_key_usage";

	r = gnutls_x509_crt_get_ca_status(crt, &critical);
	if (r > 0)
		return "is_ca";
	return NULL;
}

static const char *status_reason(unsigned status)
{
	if (status & GNUTLS_CERT_REVOKED)
		return "revoked";
	if (status & GNUTLS_CERT_EXPIRED)
		return "expired";
	if (status & GNUTLS_CERT_NOT_ACTIVATED)
		return "not_yet_valid";
	if (status & GNUTLS_CERT_PURPOSE_MISMATCH)
		return "ext_key_usage";
	return "untrusted";
}

/* 0 when the chain verifies against the list, else GnuTLS's status bits. */
static unsigned verify_with(gnutls_x509_trust_list_t list, gnutls_x509_crt_t *crts, unsigned n)
{
	/* The purpose makes GnuTLS check the EKU of the intermediates too. */
	gnutls_typed_vdata_st purpose = {
		.type = GNUTLS_DT_KEY_PURPOSE_OID,
		.data = (unsigned char *)GNUTLS_KP_TLS_WWW_CLIENT,
		.size = 0,
	};
	unsigned status = 0;
	if (gnutls_x509_trust_list_verify_crt2(list, crts, n, &purpose, 1, 0, &status, NULL) < 0)
		return GNUTLS_CERT_INVALID | GNUTLS_CERT_SIGNER_NOT_FOUND;
	return status;
}

static void verify_chain(struct http_server *srv, const gnutls_datum_t *chain, unsigned n,
			 struct http_client_cert *out)
{
	gnutls_x509_crt_t crts[HTTP_MAX_CLIENT_CHAIN];
	unsigned have = 0;
	memset(out, 0, sizeof *out);
	out->state = HTTP_CERT_INVALID;
	out->reason = "malformed";
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, chain[0].data, chain[0].size, out->sha256) < 0)
		return;
	hex(out->sha256, sizeof out->sha256, out->sha256_hex);

	unsigned want = n > HTTP_MAX_CLIENT_CHAIN ? 1 : n;
	for (; have < want; have++) {
		if (gnutls_x509_crt_init(&crts[have]) < 0)
			goto out;
		if (gnutls_x509_crt_import(crts[have], &chain[have], GNUTLS_X509_FMT_DER) < 0) {
			gnutls_x509_crt_deinit(crts[have]);
			goto out;
		}
	}
	const char *bad = describe_leaf(crts[0], out);
	if (n > HTTP_MAX_CLIENT_CHAIN) {
		out->reason = "chain_too_long";
		goto out;
	}
	if (bad) {
		out->reason = bad;
		goto out;
	}
	enum http_cert_anchor anchor = HTTP_ANCHOR_FLEET;
	unsigned status = verify_with(srv->trust, crts, have);
	/* Not issued under the fleet CA: perhaps under a manufacturer's. Any
	 * other failure (expired, revoked) is the fleet list's verdict. */
	if ((status & GNUTLS_CERT_SIGNER_NOT_FOUND) && srv->mfg_trust) {
		anchor = HTTP_ANCHOR_MANUFACTURER;
		status = verify_with(srv->mfg_trust, crts, have);
	}
	if (status != 0) {
		out->reason = status_reason(status);
		goto out;
	}
	bad = check_usage(crts[0]);
	if (bad) {
		out->reason = bad;
		goto out;
	}
	out->state = HTTP_CERT_VERIFIED;
	out->anchor = anchor;
	out->reason = NULL;
out:
	while (have > 0)
		gnutls_x509_crt_deinit(crts[--have]);
}

const struct http_client_cert *http_tls_client_cert(struct http_server *srv, struct http_conn *conn,
						    struct MHD_Connection *mc)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	gnutls_session_t session = ci ? (gnutls_session_t)ci->tls_session : NULL;
	unsigned n = 0;
	const gnutls_datum_t *chain = NULL;
	if (session && srv->trust && gnutls_certificate_type_get2(session, GNUTLS_CTYPE_CLIENT) == GNUTLS_CRT_X509)
		chain = gnutls_certificate_get_peers(session, &n);
	if (!chain || n == 0) {
		if (conn->cert_der)
			http_cert_clear(conn);
		return &conn->cert;
	}
	if (conn->cert_der && conn->cert_der_len == chain[0].size &&
	    memcmp(conn->cert_der, chain[0].data, chain[0].size) == 0)
		return &conn->cert;
	http_cert_clear(conn);
	verify_chain(srv, chain, n, &conn->cert);
	conn->cert_der = malloc(chain[0].size ? chain[0].size : 1);
	if (conn->cert_der) {
		memcpy(conn->cert_der, chain[0].data, chain[0].size);
		conn->cert_der_len = chain[0].size;
	}
	return &conn->cert;
}
