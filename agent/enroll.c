/*
 * `airlockd enroll --token ALE_TOKEN [--device-id ID] [--force]`: the device
 * makes its own identity and has the fleet CA certify it (docs/api.md,
 * POST /enroll; docs/agent.md, "Enrollment").
 *
 *   P-256 TLS key + CSR, X25519 wrap key (private halves never leave the
 *   device) -> POST <url>/api/v1/enroll over TLS verified against [server] ca,
 *   no client certificate -> the certificate (CN = device id) is checked
 *   against our key, the id and the fleet CA -> keys, certificate (and the
 *   fleet root, if the device has none yet) written atomically.
 *
 * The keys are staged (written and fsynced under "<path>.enroll", mode 0600)
 * before the token is spent: once the server has certified a key, that key
 * is on disk. A refused enrollment removes the staged files and leaves every
 * existing file as it was.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "airlock/base64.h"
#include "airlock/fault.h"
#include "airlock/hex.h"
#include "commands.h"

#define ENROLL_ANSWER_MAX (256u * 1024u)   /* certificate + base64 root (<= 64 KiB) + a little */
#define STAGE_SUFFIX ".enroll"

struct identity {
	EVP_PKEY *tls;                             /* P-256: the TLS client key */
	EVP_PKEY *wrap;                            /* X25519: opens content keys */
	char wrap_hex[2 * AIRLOCK_X25519_LEN + 1];
	char *csr;                                 /* PEM, malloc'd */
	char stage_key[AGENT_PATH_MAX + 16], stage_wrap[AGENT_PATH_MAX + 16];
	bool staged;
};

static void identity_free(struct identity *id)
{
	if (id->staged) {
		unlink(id->stage_key);
		unlink(id->stage_wrap);
	}
	EVP_PKEY_free(id->tls);
	EVP_PKEY_free(id->wrap);
	free(id->csr);
}

static bool exists(const char *path)
{
	return access(path, F_OK) == 0 || errno != ENOENT;
}

/* A memory BIO's bytes as a NUL-terminated malloc'd string. */
static char *bio_string(BIO *b)
{
	char *data = NULL;
	long n = BIO_get_mem_data(b, &data);
	if (n <= 0 || !data)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s) {
		memcpy(s, data, (size_t)n);
		s[n] = '\0';
	}
	return s;
}

/* A CSR for the TLS key, self-signed (proof of possession). The server sets
 * the certificate's subject itself; the CN asked for is the device id. */
static bool make_csr(struct identity *id, const char *device_id)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	BIO *b = BIO_new(BIO_s_mem());
	bool ok = req && name && b && X509_REQ_set_version(req, 0) == 1 &&
		  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)device_id, -1, -1, 0) ==
			  1 &&
		  X509_REQ_set_subject_name(req, name) == 1 && X509_REQ_set_pubkey(req, id->tls) == 1 &&
		  X509_REQ_sign(req, id->tls, EVP_sha256()) > 0 && PEM_write_bio_X509_REQ(b, req) == 1 &&
		  (id->csr = bio_string(b)) != NULL;
	BIO_free(b);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return ok;
}

static bool make_keys(struct identity *id, const char *device_id)
{
	uint8_t pub[AIRLOCK_X25519_LEN];
	size_t len = sizeof pub;
	id->tls = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	id->wrap = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");
	if (!id->tls || !id->wrap || EVP_PKEY_get_raw_public_key(id->wrap, pub, &len) != 1 || len != sizeof pub)
		return false;
	airlock_hex_encode(pub, sizeof pub, id->wrap_hex);
	return make_csr(id, device_id);
}

/* PKCS#8 PEM of key, written durably under path (mode 0600). */
static airlock_err write_key(EVP_PKEY *key, const char *path)
{
	BIO *b = BIO_new(BIO_s_secmem());   /* cleansed when freed: the PEM is the key */
	char *data = NULL;
	airlock_err e = AIRLOCK_ERR_CRYPTO;
	if (b && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1) {
		long n = BIO_get_mem_data(b, &data);
		if (n > 0 && data)
			e = airlock_file_write_atomic(path, data, (size_t)n);
	}
	BIO_free(b);
	return e;
}

static bool stage_keys(struct identity *id, const struct agent_config *c)
{
	snprintf(id->stage_key, sizeof id->stage_key, "%s" STAGE_SUFFIX, c->key);
	snprintf(id->stage_wrap, sizeof id->stage_wrap, "%s" STAGE_SUFFIX, c->wrap_key);
	id->staged = true;
	airlock_err e = write_key(id->tls, id->stage_key);
	const char *what = id->stage_key;
	if (e == AIRLOCK_OK) {
		e = write_key(id->wrap, id->stage_wrap);
		what = id->stage_wrap;
	}
	if (e != AIRLOCK_OK)
		fprintf(stderr, "airlockd: enroll: cannot write %s: %s\n", what, airlock_strerror(e));
	return e == AIRLOCK_OK;
}

static bool sync_dir_of(const char *path)
{
	char dir[AGENT_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 1;
	snprintf(dir, sizeof dir, "%.*s", (int)(n ? n : 1), slash ? path : ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	bool ok = fsync(fd) == 0;
	close(fd);
	return ok;
}

/* The staged keys take their names (each rename atomic, each directory synced). */
static bool install_keys(struct identity *id, const struct agent_config *c)
{
	if (rename(id->stage_key, c->key) != 0 || !sync_dir_of(c->key) || rename(id->stage_wrap, c->wrap_key) != 0 ||
	    !sync_dir_of(c->wrap_key)) {
		fprintf(stderr, "airlockd: enroll: cannot put the new keys in place (%s, %s): %s\n", c->key, c->wrap_key,
			strerror(errno));
		return false;
	}
	id->staged = false;
	return true;
}

/* The server's error answer ("HTTP 401: {json}") in words. */
static void explain_refusal(const struct agent_http *h)
{
	const char *body = strchr(h->detail, '{');
	json_t *o = body ? json_loads(body, 0, NULL) : NULL;
	const char *code = json_string_value(json_object_get(o, "error"));
	const char *msg = json_string_value(json_object_get(o, "message"));
	if (code)
		fprintf(stderr, "airlockd: enroll: the server refused the enrollment (HTTP %ld %s): %s\n", h->status, code,
			msg ? msg : "");
	else
		fprintf(stderr, "airlockd: enroll: the server refused the enrollment: %s\n", h->detail);
	json_decref(o);
}

static int post_request(const struct agent_config *c, const struct identity *id, const char *token,
			const char *device_id, struct agent_buf *answer)
{
	struct agent_config anon = *c;   /* no client certificate yet */
	struct agent_http h;
	char url[AIRLOCK_MAX_URL_LEN + 32];
	anon.cert[0] = anon.key[0] = '\0';
	json_t *req = json_pack("{s:s,s:s,s:s,s:s}", "token", token, "device_id", device_id, "csr", id->csr, "wrap_key",
				id->wrap_hex);
	char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!body || agent_http_init(&h, &anon) != AIRLOCK_OK) {
		free(body);
		return AGENT_EXIT_INTERNAL;
	}
	snprintf(url, sizeof url, "%s/api/v1/enroll", c->url);
	airlock_err e = agent_http_post_json(&h, url, body, ENROLL_ANSWER_MAX, answer);
	free(body);
	int rc = AGENT_EXIT_OK;
	if (e == AIRLOCK_ERR_HTTP_STATUS) {
		explain_refusal(&h);
		rc = AGENT_EXIT_REFUSED;
	} else if (e == AIRLOCK_ERR_TLS || e == AIRLOCK_ERR_TLS_NAME) {
		fprintf(stderr,
			"airlockd: enroll: %s: TLS refused (%s): %s; is [server] ca (%s) the CA that signed the server's "
			"certificate, and url the name in it?\n",
			c->url, airlock_strerror(e), h.detail, c->ca);
		rc = AGENT_EXIT_NETWORK;
	} else if (e != AIRLOCK_OK) {
		fprintf(stderr, "airlockd: enroll: cannot reach %s (%s): %s\n", c->url, airlock_strerror(e), h.detail);
		rc = agent_exit_code(e);
	}
	agent_http_free(&h);
	return rc;
}

/* The issued certificate must be for our key, carry the id asked for as its
 * CN and verify against the fleet CA: otherwise the identity would not work. */
static X509 *check_certificate(const char *pem, const struct identity *id, const char *device_id, const char *ca)
{
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	char cn[AIRLOCK_MAX_DEVICE_ID_LEN + 2] = "";
	const char *why = NULL;
	if (!x)
		why = "not a PEM certificate";
	else if (X509_check_private_key(x, id->tls) != 1)
		why = "it is not for the key this device sent";
	else if (X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)sizeof cn) <= 0 ||
		 strcmp(cn, device_id) != 0)
		why = "its common name is not the device id";
	if (!why) {
		X509_STORE *st = X509_STORE_new();
		X509_STORE_CTX *ctx = X509_STORE_CTX_new();
		if (!st || !ctx || X509_STORE_load_file(st, ca) != 1 || X509_STORE_CTX_init(ctx, st, x, NULL) != 1 ||
		    X509_verify_cert(ctx) != 1)
			why = "it does not verify against [server] ca";
		X509_STORE_CTX_free(ctx);
		X509_STORE_free(st);
	}
	if (why) {
		fprintf(stderr, "airlockd: enroll: the server's certificate is unusable: %s\n", why);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* The fleet root, for a device that has none yet (checked as the agent will:
 * a threshold of its own root keys). An existing root is never replaced: the
 * agent moves it forward only along the signed chain. */
static void keep_root(const struct agent_config *c, const char *b64)
{
	if (!c->root[0] || exists(c->root) || !b64)
		return;
	size_t n = strlen(b64), len = 0;
	uint8_t *buf = malloc(AIRLOCK_ROOT_MAX_LEN);
	struct airlock_root *root = malloc(sizeof *root);
	airlock_err e = buf && root ? airlock_base64_decode(b64, n, buf, AIRLOCK_ROOT_MAX_LEN, &len) : AIRLOCK_ERR_NOMEM;
	if (e == AIRLOCK_OK)
		e = airlock_root_load_trusted(buf, len, root, NULL);
	if (e == AIRLOCK_OK)
		e = airlock_file_write_atomic(c->root, buf, len);
	if (e == AIRLOCK_OK)
		printf("airlockd: enroll: fleet root version %u written to %s\n", (unsigned)root->version, c->root);
	else
		fprintf(stderr, "airlockd: enroll: warning: the server's root was not stored in %s: %s\n", c->root,
			airlock_strerror(e));
	free(buf);
	free(root);
}

/* Applies a 201 answer: certificate checked, keys and certificate in place. */
static int apply_answer(const struct agent_config *c, struct identity *id, const char *device_id,
			const struct agent_buf *answer)
{
	json_t *o = json_loadb((const char *)answer->p, answer->len, 0, NULL);
	const char *pem = json_string_value(json_object_get(o, "certificate"));
	const char *hw = json_string_value(json_object_get(o, "hardware"));
	int rc = AGENT_EXIT_REFUSED;
	X509 *x = pem ? check_certificate(pem, id, device_id, c->ca) : NULL;
	if (!pem)
		fprintf(stderr, "airlockd: enroll: the server's answer holds no certificate\n");
	if (x) {
		rc = AGENT_EXIT_CONFIG;
		airlock_err e = AIRLOCK_OK;
		if (install_keys(id, c) && (e = airlock_file_write_atomic(c->cert, pem, strlen(pem))) == AIRLOCK_OK)
			rc = AGENT_EXIT_OK;
		else if (e != AIRLOCK_OK)
			fprintf(stderr, "airlockd: enroll: cannot write %s: %s\n", c->cert, airlock_strerror(e));
	}
	if (rc == AGENT_EXIT_OK) {
		printf("airlockd: enroll: enrolled as '%s' (hardware %s): certificate %s, key %s, wrap key %s\n", device_id,
		       hw ? hw : "?", c->cert, c->key, c->wrap_key);
		keep_root(c, json_string_value(json_object_get(o, "root")));
		if (hw && c->hardware[0] && strcmp(hw, c->hardware) != 0)
			fprintf(stderr,
				"airlockd: enroll: warning: the token was for hardware '%s' but [device] hardware is '%s': "
				"releases will not match until they agree\n",
				hw, c->hardware);
	}
	X509_free(x);
	json_decref(o);
	return rc;
}

/* --device-id, else [device] id, else the host name (the id the server
 * certifies is exactly the one asked for: it becomes the certificate's CN). */
static bool pick_device_id(const char *opt, const struct agent_config *c, char *out, size_t cap)
{
	if (opt)
		snprintf(out, cap, "%s", opt);
	else if (c->device_id[0])
		snprintf(out, cap, "%s", c->device_id);
	else if (gethostname(out, cap) != 0)
		out[0] = '\0';
	out[cap - 1] = '\0';
	if (airlock_check_device_id(out, strlen(out)) == AIRLOCK_OK)
		return true;
	fprintf(stderr, "airlockd: enroll: device id '%s' is not 1..128 printable characters without spaces\n", out);
	return false;
}

static bool parse_args(int argc, char **argv, const char **token, const char **device_id, bool *force)
{
	static const struct option opts[] = {
		{ "token", required_argument, NULL, 't' },
		{ "device-id", required_argument, NULL, 'd' },
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (ch == 't')
			*token = optarg;
		else if (ch == 'd')
			*device_id = optarg;
		else if (ch == 'f')
			*force = true;
		else
			return false;
	}
	return *token && optind == argc;
}

int cmd_enroll(const char *config, int argc, char **argv)
{
	const char *token = NULL, *opt_id = NULL;
	bool force = false;
	char err[1600], device_id[AIRLOCK_MAX_DEVICE_ID_LEN + 1];
	struct identity id = { 0 };
	struct agent_buf answer = { 0 };
	struct agent_config *c = calloc(1, sizeof *c);
	if (!c)
		return AGENT_EXIT_INTERNAL;
	int rc = AGENT_EXIT_USAGE;
	if (!parse_args(argc, argv, &token, &opt_id, &force)) {
		fputs("usage: airlockd [--config FILE] enroll --token ALE_TOKEN [--device-id ID] [--force]\n", stderr);
		goto out;
	}
	rc = AGENT_EXIT_CONFIG;
	if (!agent_config_load_enroll(config, c, err, sizeof err)) {
		fprintf(stderr, "airlockd: %s\n", err);
		goto out;
	}
	if (!pick_device_id(opt_id, c, device_id, sizeof device_id))
		goto out;
	if (!force && (exists(c->key) || exists(c->wrap_key))) {
		fprintf(stderr,
			"airlockd: enroll: %s already exists: this device has an identity; --force replaces it (the old "
			"certificate then stops working)\n",
			exists(c->key) ? c->key : c->wrap_key);
		goto out;
	}
	rc = AGENT_EXIT_INTERNAL;
	if (!make_keys(&id, device_id))
		fprintf(stderr, "airlockd: enroll: cannot generate the keys\n");
	else if (!stage_keys(&id, c))
		rc = AGENT_EXIT_CONFIG;
	else if ((rc = post_request(c, &id, token, device_id, &answer)) == AGENT_EXIT_OK)
		rc = apply_answer(c, &id, device_id, &answer);
out:
	agent_buf_free(&answer);
	identity_free(&id);
	free(c);
	return rc;
}
