/*
 * gen_vectors: writes the Airlock metadata test vectors (tests/vectors/) from
 * FIXED keys, so that a second implementation can check its verdicts against
 * ours. Not built by CMake: it is run by hand when the format changes.
 *
 * Build and run (from the repository root, after a normal build):
 *
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude -Ilib \
 *      tests/vectors/gen_vectors.c build/libairlock.a -lcrypto -o /tmp/gen_vectors
 *   /tmp/gen_vectors tests/vectors
 *
 * It exits 0 when every file is reproducible. Ed25519 is deterministic and
 * its private keys come from fixed seeds: seed = SHA-256("airlock-vector-key:"
 * || name). ECDSA P-256 is not deterministic in OpenSSL 3.0, so the one P-256
 * key (director-1, a fixed PKCS#8 key below) signs once and its signatures are
 * stored in p256_fixed[] below; if a stored signature no longer verifies (the
 * signed bytes changed), a fresh one is made, printed for pasting into the
 * table, and the program exits 3 (the files are valid, but would differ on
 * the next run).
 *
 * Signatures are made here with OpenSSL's EVP interface directly (not with
 * the library's signing code) over the bytes of airlock_sig_message():
 * the array ["airlock-sig-v1", type, alg, SHA-256(body)].
 *
 * Invalid encodings that the parser must refuse are signed as they are (the
 * malformed body is what the keys sign), so that such a vector reaches the
 * body parser instead of failing at the signature check.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "airlock/cbor.h"
#include "airlock/crypto.h"
#include "airlock/meta.h"
#include "airlock/payload.h"

#define NOW 1700000000ull
#define CHUNK 4096u
#define BUF_MAX 65536

static const char *outdir;
static int exit_code;

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "gen_vectors: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void check(airlock_err err, const char *what)
{
	if (err != AIRLOCK_OK)
		die("%s: %s", what, airlock_err_name(err));
}

static void hex(char *out, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	out[2 * n] = 0;
}

static size_t unhex(const char *s, uint8_t *out, size_t cap)
{
	size_t n = strlen(s) / 2;
	if (n > cap)
		die("hex too long");
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(s + 2 * i, "%2x", &v) != 1)
			die("bad hex");
		out[i] = (uint8_t)v;
	}
	return n;
}

static void write_file(const char *name, const void *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", outdir, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		die("cannot write %s: %s", path, strerror(errno));
}

/* ---- the manifest ---- */

static char manifest[1 << 16];
static size_t manifest_len;
static unsigned n_vectors;

static void line(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(manifest + manifest_len, sizeof manifest - manifest_len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof manifest - manifest_len - 1)
		die("manifest too long");
	manifest_len += (size_t)n;
	manifest[manifest_len++] = '\n';
	manifest[manifest_len] = 0;
	if (fmt[0] != '#' && fmt[0] != 0)
		n_vectors++;
}

/* ---- fixed keys ---- */

struct vkey {
	const char *name;
	int64_t alg;
	EVP_PKEY *pk;
	uint8_t seed[32];
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
};

static const char director_pem[] =
	"-----BEGIN PRIVATE KEY-----\n"
	"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg5HfdZ5Euv3/B3BHR\n"
	"PdykyAjGAtShXJYpvas4kTJYTwShRANCAARxXWQRzZbWRwhzD8BtO07Ngg8RDU4R\n"
	"tvg/xzt9amMt1MsiUgMXjsYMJPXLCdWizi97xYLCqNwdSRRqvBAj6si2\n"
	"-----END PRIVATE KEY-----\n";

enum { ROOT1, ROOT2, ROOT3, REL1, REL2, REL3, DIR1, ROOT4, ROOT5, ROOT6, OUTSIDER, NKEYS };
static struct vkey keys[NKEYS] = {
	[ROOT1] = { .name = "root-1", .alg = AIRLOCK_ALG_ED25519 },
	[ROOT2] = { .name = "root-2", .alg = AIRLOCK_ALG_ED25519 },
	[ROOT3] = { .name = "root-3", .alg = AIRLOCK_ALG_ED25519 },
	[REL1] = { .name = "release-1", .alg = AIRLOCK_ALG_ED25519 },
	[REL2] = { .name = "release-2", .alg = AIRLOCK_ALG_ED25519 },
	[REL3] = { .name = "release-3", .alg = AIRLOCK_ALG_ED25519 },
	[DIR1] = { .name = "director-1", .alg = AIRLOCK_ALG_P256 },
	[ROOT4] = { .name = "root-4", .alg = AIRLOCK_ALG_ED25519 },
	[ROOT5] = { .name = "root-5", .alg = AIRLOCK_ALG_ED25519 },
	[ROOT6] = { .name = "root-6", .alg = AIRLOCK_ALG_ED25519 },
	[OUTSIDER] = { .name = "outsider", .alg = AIRLOCK_ALG_ED25519 },
};

static void keys_init(void)
{
	for (int i = 0; i < NKEYS; i++) {
		struct vkey *k = &keys[i];
		if (k->alg == AIRLOCK_ALG_ED25519) {
			char label[128];
			snprintf(label, sizeof label, "airlock-vector-key:%s", k->name);
			check(airlock_sha256(label, strlen(label), k->seed), "seed");
			k->pk = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, k->seed, sizeof k->seed);
			size_t n = sizeof k->pub;
			if (!k->pk || EVP_PKEY_get_raw_public_key(k->pk, k->pub, &n) != 1 || n != 32)
				die("ed25519 key %s", k->name);
			k->pub_len = n;
		} else {
			BIO *b = BIO_new_mem_buf(director_pem, (int)strlen(director_pem));
			k->pk = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
			BIO_free(b);
			size_t n = 0;
			if (!k->pk || EVP_PKEY_get_octet_string_param(k->pk, "encoded-pub-key", k->pub, sizeof k->pub, &n) != 1 ||
			    n != AIRLOCK_P256_PUB_LEN || k->pub[0] != 0x04)
				die("p256 key %s", k->name);
			k->pub_len = n;
		}
		check(airlock_keyid(k->pub, k->pub_len, k->keyid), "keyid");
	}
}

/* ---- signatures ---- */

/* Stored ECDSA P-256 signatures (r || s), by label. */
static const struct {
	const char *label;
	const char *sig;
} p256_fixed[] = {
	{ "directive#0", "c48c5f80205a83ed58ae19e68cb1e8ff1e24f3e19d638474eb999f0f652ad7c4"
			 "7911fe44760738d39390fda08cb3370b5c504c7454110a6a8f3753c9adff546c" },
	{ "directive-none#0", "6eeb48dde5dcb6b2a2e938bb81eff569c06c2057eaed84e2621858ed262c03a7"
			      "24a339dcc7d1f96987cfc57234768eaede83834449ac3e8a13b9039dfcec9908" },
};

static void raw_sign(const struct vkey *k, const uint8_t *msg, size_t msg_len, uint8_t sig[64])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const EVP_MD *md = k->alg == AIRLOCK_ALG_P256 ? EVP_sha256() : NULL;
	uint8_t der[128];
	size_t len = k->alg == AIRLOCK_ALG_P256 ? sizeof der : 64;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, md, NULL, k->pk) != 1 ||
	    EVP_DigestSign(ctx, k->alg == AIRLOCK_ALG_P256 ? der : sig, &len, msg, msg_len) != 1)
		die("sign with %s", k->name);
	EVP_MD_CTX_free(ctx);
	if (k->alg == AIRLOCK_ALG_ED25519) {
		if (len != 64)
			die("ed25519 signature length");
		return;
	}
	const uint8_t *p = der;
	ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)len);
	if (!es || BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32) != 32 ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32) != 32)
		die("ecdsa signature");
	ECDSA_SIG_free(es);
}

/* A signature by k over the message for (type, alg) and this body. P-256
 * signatures come from the stored table when they still verify. */
static void sign(const struct vkey *k, uint64_t type, int64_t msg_alg, const uint8_t *body, size_t blen,
		 const char *label, uint8_t sig[64])
{
	uint8_t digest[32], msg[AIRLOCK_SIG_MESSAGE_MAX];
	size_t msg_len;
	check(airlock_sha256(body, blen, digest), "sha256");
	check(airlock_sig_message(type, msg_alg, digest, msg, &msg_len), "sig message");
	if (k->alg == AIRLOCK_ALG_P256) {
		for (size_t i = 0; i < sizeof p256_fixed / sizeof p256_fixed[0]; i++) {
			if (!p256_fixed[i].label || strcmp(p256_fixed[i].label, label) != 0)
				continue;
			if (unhex(p256_fixed[i].sig, sig, 64) == 64 &&
			    airlock_sig_verify(k->alg, k->pub, k->pub_len, msg, msg_len, sig, 64) == AIRLOCK_OK)
				return;
		}
		raw_sign(k, msg, msg_len, sig);
		char h[129];
		hex(h, sig, 64);
		fprintf(stderr, "new P-256 signature, paste into p256_fixed[]:\n\t{ \"%s\", \"%s\" },\n", label, h);
		exit_code = 3;
		return;
	}
	raw_sign(k, msg, msg_len, sig);
	/* Cross-check with the library's verifier. */
	check(airlock_sig_verify(k->alg, k->pub, k->pub_len, msg, msg_len, sig, 64), "self-check");
}

struct sigreq {
	int key;
	int64_t alg_field;   /* 0: the key's */
	uint64_t msg_type;   /* 0: the envelope's type */
	bool corrupt;        /* flip one bit of the signature */
};

/* Encodes [format, type, body, [[keyid, alg, sig]...]]. */
static size_t envelope(uint64_t format, uint64_t type, const uint8_t *body, size_t blen,
		       const struct sigreq *req, size_t n, const char *label, uint8_t *out)
{
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, BUF_MAX);
	airlock_cbor_put_array(&e, 4);
	airlock_cbor_put_uint(&e, format);
	airlock_cbor_put_uint(&e, type);
	airlock_cbor_put_bstr(&e, body, blen);
	airlock_cbor_put_array(&e, n);
	for (size_t i = 0; i < n; i++) {
		const struct vkey *k = &keys[req[i].key];
		uint8_t sig[64];
		char sublabel[160];
		snprintf(sublabel, sizeof sublabel, "%s#%zu", label, i);
		sign(k, req[i].msg_type ? req[i].msg_type : type, k->alg, body, blen, sublabel, sig);
		if (req[i].corrupt)
			sig[17] ^= 0x01;
		airlock_cbor_put_array(&e, 3);
		airlock_cbor_put_bstr(&e, k->keyid, AIRLOCK_KEYID_LEN);
		airlock_cbor_put_int(&e, req[i].alg_field ? req[i].alg_field : k->alg);
		airlock_cbor_put_bstr(&e, sig, 64);
	}
	check(airlock_cbor_enc_finish(&e, &len), "envelope");
	return len;
}

/* Signed by the keys listed (-1 ends the list). */
static size_t signed_by(uint64_t type, const uint8_t *body, size_t blen, const int *k, const char *label,
			uint8_t *out)
{
	struct sigreq req[AIRLOCK_MAX_SIGS];
	size_t n = 0;
	memset(req, 0, sizeof req);
	for (; k[n] >= 0; n++)
		req[n].key = k[n];
	return envelope(AIRLOCK_FORMAT_VERSION, type, body, blen, req, n, label, out);
}

/* ---- root bodies ---- */

static int keyid_cmp(const void *a, const void *b)
{
	return memcmp(keys[*(const int *)a].keyid, keys[*(const int *)b].keyid, AIRLOCK_KEYID_LEN);
}

struct rootspec {
	uint64_t version, expires;
	int root[4], release[4], director[4];   /* key indexes, -1 ends */
	uint32_t t_root, t_release, t_director;
	int dup_key;                            /* list this key twice (invalid), or -1 */
};

static size_t count(const int *k)
{
	size_t n = 0;
	while (k[n] >= 0)
		n++;
	return n;
}

static size_t root_body(const struct rootspec *s, uint8_t *out)
{
	int all[16];
	size_t n = 0;
	const int *lists[3] = { s->root, s->release, s->director };
	for (int l = 0; l < 3; l++)
		for (const int *k = lists[l]; *k >= 0; k++) {
			bool seen = false;
			for (size_t i = 0; i < n; i++)
				seen |= all[i] == *k;
			if (!seen)
				all[n++] = *k;
		}
	if (s->dup_key >= 0)
		all[n++] = s->dup_key;
	qsort(all, n, sizeof all[0], keyid_cmp);

	struct airlock_root r;
	memset(&r, 0, sizeof r);
	r.version = s->version;
	r.expires = s->expires;
	r.n_keys = n;
	for (size_t i = 0; i < n; i++) {
		r.keys[i].alg = keys[all[i]].alg;
		r.keys[i].pub.ptr = keys[all[i]].pub;
		r.keys[i].pub.len = keys[all[i]].pub_len;
	}
	const uint32_t th[3] = { s->t_root, s->t_release, s->t_director };
	for (int l = 0; l < 3; l++) {
		int ids[8];
		size_t m = count(lists[l]);
		memcpy(ids, lists[l], m * sizeof ids[0]);
		qsort(ids, m, sizeof ids[0], keyid_cmp);
		struct airlock_role_keys *role = &r.roles[AIRLOCK_ROLE_ROOT + l];
		role->threshold = th[l];
		role->n_keyids = m;
		for (size_t i = 0; i < m; i++)
			role->keyids[i] = keys[ids[i]].keyid;
	}
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, BUF_MAX);
	airlock_root_encode_body(&r, &e);
	check(airlock_cbor_enc_finish(&e, &len), "root body");
	return len;
}

/* ---- payloads ---- */

struct vpayload {
	const char *name;
	size_t size;
	uint8_t *data;
	uint8_t list[8 * 32];
	size_t list_len;
	uint8_t digest[32];      /* SHA-256 of the chunk-digest list */
	uint8_t file_sha[32];    /* SHA-256 of the file (the directive's artifact digest) */
};

static struct vpayload payloads[2] = {
	{ .name = "bootloader", .size = 10000 },
	{ .name = "rootfs", .size = 3 * CHUNK },
};

static void payloads_init(void)
{
	for (int p = 0; p < 2; p++) {
		struct vpayload *v = &payloads[p];
		v->data = malloc(v->size);
		if (!v->data)
			die("oom");
		for (size_t i = 0; i < v->size; i++)
			v->data[i] = p == 0 ? (uint8_t)(i * 7 + 3) : (uint8_t)(i * 13 + (i >> 8));
		/* The chunk-digest list and the payload digest, from SHA-256 alone. */
		v->list_len = 0;
		for (size_t off = 0; off < v->size; off += CHUNK) {
			size_t take = v->size - off < CHUNK ? v->size - off : CHUNK;
			check(airlock_sha256(v->data + off, take, v->list + v->list_len), "chunk");
			v->list_len += 32;
		}
		check(airlock_sha256(v->list, v->list_len, v->digest), "list");
		check(airlock_sha256(v->data, v->size, v->file_sha), "file");
		/* ... and the library agrees. */
		struct airlock_payload_check c;
		uint8_t d[32];
		check(airlock_payload_hash_init(&c, v->size, CHUNK, NULL, NULL), "hash init");
		check(airlock_payload_check_update(&c, v->data, v->size), "hash update");
		check(airlock_payload_check_final(&c, d), "hash final");
		if (memcmp(d, v->digest, 32) != 0)
			die("payload digest disagrees with the library");
	}
}

/* ---- release bodies, written field by field ---- */

struct relspec {
	uint64_t sv;
	uint64_t expires;          /* 0: none */
	bool noncanonical_sv;      /* security_version as 0x18 0x07 */
	bool duplicate_key;        /* key 3 twice */
	bool unknown_critical;     /* key 7 */
	bool extension;            /* key -1 (non-critical: skipped) */
	bool trailing;             /* a byte after the map */
	const char *name0;         /* payload 0 name override */
	uint32_t chunk0;           /* payload 0 chunk size override */
	const char *hw1;           /* second hardware id override */
};

static void put_tstr(struct airlock_cbor_enc *e, const char *s)
{
	airlock_cbor_put_tstr(e, s, strlen(s));
}

static size_t release_body(const struct relspec *s, uint8_t *out)
{
	struct airlock_cbor_enc e;
	size_t n = 6 + (s->expires != 0) + s->duplicate_key + s->unknown_critical + s->extension;
	airlock_cbor_enc_init(&e, out, BUF_MAX);
	airlock_cbor_put_map(&e, n);
	airlock_cbor_put_uint(&e, 0);
	airlock_cbor_put_uint(&e, AIRLOCK_META_RELEASE);
	airlock_cbor_put_uint(&e, 1);
	put_tstr(&e, "acme-gateway");
	airlock_cbor_put_uint(&e, 2);
	put_tstr(&e, "2.4.0");
	airlock_cbor_put_uint(&e, 3);
	if (s->noncanonical_sv) {
		const uint8_t raw[2] = { 0x18, (uint8_t)s->sv };
		airlock_cbor_put_raw(&e, raw, sizeof raw);
	} else {
		airlock_cbor_put_uint(&e, s->sv);
	}
	if (s->duplicate_key) {
		airlock_cbor_put_uint(&e, 3);
		airlock_cbor_put_uint(&e, s->sv);
	}
	airlock_cbor_put_uint(&e, 4);
	airlock_cbor_put_array(&e, 2);
	put_tstr(&e, "board-a");
	put_tstr(&e, s->hw1 ? s->hw1 : "board-b");
	airlock_cbor_put_uint(&e, 5);
	airlock_cbor_put_array(&e, 2);
	for (int p = 0; p < 2; p++) {
		airlock_cbor_put_map(&e, 4);
		airlock_cbor_put_uint(&e, 0);
		put_tstr(&e, p == 0 && s->name0 ? s->name0 : payloads[p].name);
		airlock_cbor_put_uint(&e, 1);
		airlock_cbor_put_uint(&e, payloads[p].size);
		airlock_cbor_put_uint(&e, 2);
		airlock_cbor_put_uint(&e, p == 0 && s->chunk0 ? s->chunk0 : CHUNK);
		airlock_cbor_put_uint(&e, 3);
		airlock_cbor_put_bstr(&e, payloads[p].digest, 32);
	}
	if (s->expires) {
		airlock_cbor_put_uint(&e, 6);
		airlock_cbor_put_uint(&e, s->expires);
	}
	if (s->unknown_critical) {
		airlock_cbor_put_uint(&e, 7);
		put_tstr(&e, "must-understand");
	}
	if (s->extension) {
		airlock_cbor_put_int(&e, -1);
		put_tstr(&e, "release notes: https://example.com/notes/2.4.0");
	}
	if (s->trailing)
		airlock_cbor_put_uint(&e, 0);
	size_t len;
	check(airlock_cbor_enc_finish(&e, &len), "release body");
	return len;
}

/* ---- directive bodies ---- */

static const char *const device = "device-0001";
static uint8_t nonce[32];

static size_t directive_body(uint64_t action, const uint8_t release_digest[32], uint64_t expires, uint8_t *out)
{
	struct airlock_directive d;
	memset(&d, 0, sizeof d);
	d.device = (struct airlock_str){ device, strlen(device) };
	d.nonce = (struct airlock_bytes){ nonce, sizeof nonce };
	d.issued = NOW;
	d.expires = expires;
	d.action = action;
	if (action == AIRLOCK_ACTION_INSTALL) {
		static const char url0[] = "https://cdn.example.com/a/rootfs";
		static const char url1[] = "https://mirror.example.net/rootfs";
		d.release_digest = release_digest;
		d.n_payloads = 1;
		d.payloads[0].name = (struct airlock_str){ "rootfs", 6 };
		d.payloads[0].kind = AIRLOCK_ARTIFACT_FULL;
		d.payloads[0].digest = payloads[1].file_sha;
		d.payloads[0].size = payloads[1].size;
		d.payloads[0].n_urls = 2;
		d.payloads[0].urls[0] = (struct airlock_str){ url0, sizeof url0 - 1 };
		d.payloads[0].urls[1] = (struct airlock_str){ url1, sizeof url1 - 1 };
	}
	struct airlock_cbor_enc e;
	size_t len;
	airlock_cbor_enc_init(&e, out, BUF_MAX);
	airlock_directive_encode_body(&d, &e);
	check(airlock_cbor_enc_finish(&e, &len), "directive body");
	return len;
}

/* ---- main ---- */

static uint8_t body[BUF_MAX], file[BUF_MAX];

#define KEYS(...) ((const int[]){ __VA_ARGS__, -1 })

int main(int argc, char **argv)
{
	outdir = argc > 1 ? argv[1] : "tests/vectors";
	for (size_t i = 0; i < sizeof nonce; i++)
		nonce[i] = (uint8_t)(0xa0 + i);
	keys_init();
	payloads_init();
	size_t blen, len;
	char nh[2 * sizeof nonce + 1];
	hex(nh, nonce, sizeof nonce);

	line("# Airlock metadata test vectors, written by gen_vectors.c (see tests/vectors/README.md).");
	line("#");
	line("# One vector per line:  <kind> <file> key=value ... expect=<AIRLOCK_OK | AIRLOCK_ERR_*>");
	line("# Files are relative to this directory. Blank lines and lines starting with '#' are comments.");
	line("# Kinds:");
	line("#   key <name> alg= seed= pub= keyid=   keyid must equal SHA-256(pub); for Ed25519, pub must be");
	line("#                                        the public key of the 32-byte seed (RFC 8032).");
	line("#   root <file>                          load as an initially trusted root: parse, then a threshold");
	line("#                                        of its own root keys (airlock_root_load_trusted).");
	line("#   root-update <file> root=<file>       trust root= (must load), then take <file> as the next root");
	line("#                                        (airlock_root_update): threshold of the old root keys, exactly");
	line("#                                        version N+1, threshold of its own root keys. No expiry check.");
	line("#   release <file> root=<file>           airlock_release_verify under the trusted root, with the policy");
	line("#       [hardware=] [min_sv=] [now=]     hardware id (absent: not checked), minimum security version");
	line("#       [payload=NAME:FILE]...           (absent: 0), now (absent or 0: no clock, expiry not checked);");
	line("#       [chunks=NAME:FILE]...            then each payload= file is checked against the signed payload");
	line("#                                        NAME: with chunks= the chunk-digest list is checked first, then");
	line("#                                        every chunk against it; without, the whole digest at the end.");
	line("#   directive <file> root=<file>         airlock_directive_verify with device=, nonce= (hex) and now=;");
	line("#       device= nonce= [now=]            with release=, the directive's release digest must equal");
	line("#       [release=<file>]                 SHA-256 of that release's body (else RELEASE_MISMATCH).");
	line("# The verdict is the first error met, in that order. name= labels the vector.");
	line("#");
	line("# now=%llu throughout; root-v1 expires 1900000000, root-v2 1950000000, the directive %llu.",
	     (unsigned long long)NOW, (unsigned long long)(NOW + 3600));
	line("");

	/* Keys. */
	for (int i = 0; i < NKEYS; i++) {
		char p[2 * AIRLOCK_PUB_MAX_LEN + 1], id[65], sd[65];
		hex(p, keys[i].pub, keys[i].pub_len);
		hex(id, keys[i].keyid, 32);
		hex(sd, keys[i].seed, 32);
		if (keys[i].alg == AIRLOCK_ALG_ED25519)
			line("key %s alg=ed25519 seed=%s pub=%s keyid=%s expect=AIRLOCK_OK", keys[i].name, sd, p, id);
		else
			line("key %s alg=p256 pub=%s keyid=%s expect=AIRLOCK_OK", keys[i].name, p, id);
	}
	line("");

	/* ---- roots ---- */
	struct rootspec v1 = {
		.version = 1, .expires = 1900000000,
		.root = { ROOT1, ROOT2, ROOT3, -1 }, .t_root = 2,
		.release = { REL1, REL2, REL3, -1 }, .t_release = 2,
		.director = { DIR1, -1 }, .t_director = 1, .dup_key = -1,
	};
	struct rootspec v2 = v1;
	v2.version = 2;
	v2.expires = 1950000000;
	memcpy(v2.root, (const int[]){ ROOT4, ROOT5, ROOT6, -1 }, sizeof v2.root);
	struct rootspec v3 = v2;
	v3.version = 3;
	v3.expires = 2000000000;

	blen = root_body(&v1, body);
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1, ROOT2), "root-v1", file);
	write_file("root-v1.cbor", file, len);
	line("root root-v1.cbor name=root-v1 expect=AIRLOCK_OK");
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1), "root-v1-one", file);
	write_file("root-v1-one-signature.cbor", file, len);
	line("root root-v1-one-signature.cbor name=root-one-signature-of-two expect=AIRLOCK_ERR_THRESHOLD");
	line("root-update root-v1.cbor root=root-v1.cbor name=root-replay-same-version expect=AIRLOCK_ERR_ROOT_VERSION");
	{
		struct rootspec d = v1;
		d.dup_key = ROOT1;
		blen = root_body(&d, body);
		len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1, ROOT2), "root-dup", file);
		write_file("root-key-listed-twice.cbor", file, len);
		line("root root-key-listed-twice.cbor name=root-key-listed-twice expect=AIRLOCK_ERR_BAD_VALUE");
	}

	blen = root_body(&v2, body);
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1, ROOT3, ROOT4, ROOT6), "root-v2", file);
	write_file("root-v2.cbor", file, len);
	line("root-update root-v2.cbor root=root-v1.cbor name=root-rotation expect=AIRLOCK_OK");
	line("root root-v2.cbor name=root-v2-standalone expect=AIRLOCK_OK");
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1, ROOT2, ROOT3), "root-v2-old", file);
	write_file("root-v2-only-old-keys.cbor", file, len);
	line("root-update root-v2-only-old-keys.cbor root=root-v1.cbor name=root-only-old-keys expect=AIRLOCK_ERR_UNKNOWN_KEY");
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT4, ROOT5, ROOT6), "root-v2-new", file);
	write_file("root-v2-only-new-keys.cbor", file, len);
	line("root-update root-v2-only-new-keys.cbor root=root-v1.cbor name=root-only-new-keys expect=AIRLOCK_ERR_UNKNOWN_KEY");
	/* Going back to v1 from v2: v1 is not signed by v2's root keys at all. */
	line("root-update root-v1.cbor root=root-v2.cbor name=root-back-to-v1 expect=AIRLOCK_ERR_UNKNOWN_KEY");

	blen = root_body(&v3, body);
	len = signed_by(AIRLOCK_META_ROOT, body, blen, KEYS(ROOT1, ROOT2, ROOT4, ROOT5), "root-v3", file);
	write_file("root-v3.cbor", file, len);
	line("root-update root-v3.cbor root=root-v1.cbor name=root-skip-version expect=AIRLOCK_ERR_ROOT_VERSION");
	line("root-update root-v3.cbor root=root-v2.cbor name=root-v2-to-v3 expect=AIRLOCK_OK");
	line("");

	/* ---- payloads ---- */
	for (int p = 0; p < 2; p++) {
		char name[64];
		snprintf(name, sizeof name, "payload-%s.bin", payloads[p].name);
		write_file(name, payloads[p].data, payloads[p].size);
		snprintf(name, sizeof name, "payload-%s.chunks", payloads[p].name);
		write_file(name, payloads[p].list, payloads[p].list_len);
	}
	{
		struct vpayload *r = &payloads[1];
		uint8_t *t = malloc(r->size + 1);
		if (!t)
			die("oom");
		memcpy(t, r->data, r->size);
		t[5000] ^= 0x01;   /* in chunk 1 */
		write_file("payload-rootfs-flipped.bin", t, r->size);
		t[5000] ^= 0x01;
		write_file("payload-rootfs-short.bin", t, r->size - 1);
		t[r->size] = 0;
		write_file("payload-rootfs-long.bin", t, r->size + 1);
		uint8_t bad[8 * 32];
		memcpy(bad, r->list, r->list_len);
		bad[2 * 32] ^= 0x80;
		write_file("payload-rootfs-bad.chunks", bad, r->list_len);
		free(t);
	}

	/* ---- releases ---- */
	const char *pol = "root=root-v1.cbor hardware=board-a min_sv=7 now=1700000000";
	struct relspec rs = { .sv = 7 };
	blen = release_body(&rs, body);
	{
		/* The valid body is exactly what the library's encoder writes. */
		struct airlock_release rel;
		struct airlock_cbor_enc e;
		uint8_t again[BUF_MAX];
		size_t n;
		check(airlock_release_parse_body(body, blen, &rel), "parse release");
		airlock_cbor_enc_init(&e, again, sizeof again);
		airlock_release_encode_body(&rel, &e);
		check(airlock_cbor_enc_finish(&e, &n), "encode release");
		if (n != blen || memcmp(again, body, n) != 0)
			die("release body is not canonical");
	}
	uint8_t release_digest[32];
	check(airlock_sha256(body, blen, release_digest), "release digest");
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(REL1, REL2), "release", file);
	write_file("release.cbor", file, len);
	uint8_t release_file[BUF_MAX];
	size_t release_len = len;
	memcpy(release_file, file, len);
	line("release release.cbor %s name=release-valid "
	     "payload=bootloader:payload-bootloader.bin chunks=bootloader:payload-bootloader.chunks "
	     "payload=rootfs:payload-rootfs.bin chunks=rootfs:payload-rootfs.chunks expect=AIRLOCK_OK", pol);
	line("release release.cbor root=root-v1.cbor hardware=board-b min_sv=7 now=1700000000 name=release-board-b "
	     "payload=rootfs:payload-rootfs.bin expect=AIRLOCK_OK");
	line("release release.cbor root=root-v1.cbor name=release-no-policy expect=AIRLOCK_OK");
	line("release release.cbor root=root-v2.cbor hardware=board-a min_sv=7 now=1700000000 "
	     "name=release-under-root-v2 expect=AIRLOCK_OK");
	line("release release.cbor root=root-v1.cbor hardware=board-c min_sv=7 now=1700000000 "
	     "name=wrong-hardware expect=AIRLOCK_ERR_HARDWARE_MISMATCH");
	line("release release.cbor root=root-v1.cbor hardware=board-a min_sv=8 now=1700000000 "
	     "name=rollback-min-8 expect=AIRLOCK_ERR_ROLLBACK");
	line("release release.cbor root=root-v1.cbor hardware=board-a min_sv=7 now=1900000000 "
	     "name=root-expired expect=AIRLOCK_ERR_EXPIRED");
	line("release release.cbor root=root-v1.cbor hardware=board-a min_sv=7 now=1899999999 "
	     "name=root-not-yet-expired expect=AIRLOCK_OK");
	line("release release.cbor %s name=payload-digest-mismatch "
	     "payload=rootfs:payload-rootfs-flipped.bin expect=AIRLOCK_ERR_DIGEST_MISMATCH", pol);
	line("release release.cbor %s name=payload-digest-mismatch-chunked "
	     "payload=rootfs:payload-rootfs-flipped.bin chunks=rootfs:payload-rootfs.chunks "
	     "expect=AIRLOCK_ERR_DIGEST_MISMATCH", pol);
	line("release release.cbor %s name=payload-chunk-list-tampered "
	     "payload=rootfs:payload-rootfs.bin chunks=rootfs:payload-rootfs-bad.chunks "
	     "expect=AIRLOCK_ERR_DIGEST_MISMATCH", pol);
	line("release release.cbor %s name=payload-chunk-list-of-other-payload "
	     "payload=rootfs:payload-rootfs.bin chunks=rootfs:payload-bootloader.chunks "
	     "expect=AIRLOCK_ERR_DIGEST_MISMATCH", pol);
	line("release release.cbor %s name=payload-short "
	     "payload=rootfs:payload-rootfs-short.bin expect=AIRLOCK_ERR_SIZE_MISMATCH", pol);
	line("release release.cbor %s name=payload-one-byte-too-many "
	     "payload=rootfs:payload-rootfs-long.bin expect=AIRLOCK_ERR_TOO_LARGE", pol);
	line("release release.cbor %s name=payload-not-in-release "
	     "payload=kernel:payload-rootfs.bin expect=AIRLOCK_ERR_NOT_FOUND", pol);

	/* Signature failures. */
	struct sigreq req[4];
	memset(req, 0, sizeof req);
	req[0].key = REL1;
	req[1].key = REL2;
	req[1].corrupt = true;
	len = envelope(1, AIRLOCK_META_RELEASE, body, blen, req, 2, "release-badsig", file);
	write_file("release-bad-signature.cbor", file, len);
	line("release release-bad-signature.cbor %s name=bad-signature expect=AIRLOCK_ERR_BAD_SIGNATURE", pol);
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(REL3), "release-one", file);
	write_file("release-one-signature.cbor", file, len);
	line("release release-one-signature.cbor %s name=one-signature-of-two expect=AIRLOCK_ERR_THRESHOLD", pol);
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(REL1, REL1), "release-dup", file);
	write_file("release-duplicate-signer.cbor", file, len);
	line("release release-duplicate-signer.cbor %s name=duplicate-signer expect=AIRLOCK_ERR_THRESHOLD", pol);
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(REL1, ROOT1), "release-wrongrole", file);
	write_file("release-wrong-role.cbor", file, len);
	line("release release-wrong-role.cbor %s name=wrong-role expect=AIRLOCK_ERR_WRONG_ROLE", pol);
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(OUTSIDER, REL2), "release-unknown", file);
	write_file("release-unknown-key.cbor", file, len);
	line("release release-unknown-key.cbor %s name=unknown-key expect=AIRLOCK_ERR_UNKNOWN_KEY", pol);
	memset(req, 0, sizeof req);
	req[0].key = REL1;
	req[0].alg_field = AIRLOCK_ALG_P256;
	req[1].key = REL2;
	len = envelope(1, AIRLOCK_META_RELEASE, body, blen, req, 2, "release-alg", file);
	write_file("release-alg-mismatch.cbor", file, len);
	line("release release-alg-mismatch.cbor %s name=signature-alg-not-the-keys expect=AIRLOCK_ERR_BAD_SIGNATURE", pol);
	/* The release's own signatures on a directive envelope, same body bytes. */
	memset(req, 0, sizeof req);
	req[0].key = REL1;
	req[0].msg_type = AIRLOCK_META_RELEASE;
	req[1].key = REL2;
	req[1].msg_type = AIRLOCK_META_RELEASE;
	len = envelope(1, AIRLOCK_META_DIRECTIVE, body, blen, req, 2, "release-as-dir", file);
	write_file("release-as-directive.cbor", file, len);
	line("release release-as-directive.cbor %s name=directive-envelope-as-release expect=AIRLOCK_ERR_WRONG_TYPE", pol);
	line("directive release-as-directive.cbor root=root-v1.cbor device=%s nonce=%s now=1700000000 "
	     "name=release-signatures-on-directive expect=AIRLOCK_ERR_WRONG_ROLE", device, nh);
	/* Format version 2. */
	len = signed_by(AIRLOCK_META_RELEASE, body, blen, KEYS(REL1, REL2), "release", file);
	file[1] = 0x02;
	write_file("release-format-v2.cbor", file, len);
	line("release release-format-v2.cbor %s name=format-version-2 expect=AIRLOCK_ERR_UNSUPPORTED_VERSION", pol);
	/* Framing of the file. */
	memcpy(file, release_file, release_len);
	file[release_len] = 0x00;
	write_file("release-trailing-bytes.cbor", file, release_len + 1);
	line("release release-trailing-bytes.cbor %s name=trailing-bytes-after-envelope expect=AIRLOCK_ERR_TRAILING_DATA", pol);
	write_file("release-truncated.cbor", release_file, release_len - 10);
	line("release release-truncated.cbor %s name=truncated expect=AIRLOCK_ERR_MALFORMED", pol);

	/* Encodings that the keys signed as they are: the parser must refuse them. */
	static const struct {
		const char *file, *name, *expect;
		struct relspec spec;
	} bad_bodies[] = {
		{ "release-noncanonical-int.cbor", "noncanonical-int", "AIRLOCK_ERR_NONCANONICAL",
		  { .sv = 7, .noncanonical_sv = true } },
		{ "release-duplicate-map-key.cbor", "duplicate-map-key", "AIRLOCK_ERR_DUPLICATE_KEY",
		  { .sv = 7, .duplicate_key = true } },
		{ "release-unknown-critical-field.cbor", "unknown-critical-field", "AIRLOCK_ERR_UNKNOWN_FIELD",
		  { .sv = 7, .unknown_critical = true } },
		{ "release-trailing-bytes-in-body.cbor", "trailing-bytes-in-body", "AIRLOCK_ERR_TRAILING_DATA",
		  { .sv = 7, .trailing = true } },
		{ "release-path-in-payload-name.cbor", "payload-name-with-path", "AIRLOCK_ERR_BAD_NAME",
		  { .sv = 7, .name0 = "../../etc/passwd" } },
		{ "release-bad-chunk-size.cbor", "chunk-size-not-power-of-two", "AIRLOCK_ERR_BAD_VALUE",
		  { .sv = 7, .chunk0 = 5000 } },
		{ "release-hardware-unsorted.cbor", "hardware-ids-unsorted", "AIRLOCK_ERR_BAD_VALUE",
		  { .sv = 7, .hw1 = "board-0" } },
		/* Valid ones, for contrast. */
		{ "release-noncritical-extension.cbor", "noncritical-extension-skipped", "AIRLOCK_OK",
		  { .sv = 7, .extension = true } },
		{ "release-rollback.cbor", "rollback", "AIRLOCK_ERR_ROLLBACK", { .sv = 6 } },
		{ "release-expired.cbor", "expired", "AIRLOCK_ERR_EXPIRED", { .sv = 7, .expires = 1600000000 } },
	};
	for (size_t i = 0; i < sizeof bad_bodies / sizeof bad_bodies[0]; i++) {
		size_t n = release_body(&bad_bodies[i].spec, body);
		len = signed_by(AIRLOCK_META_RELEASE, body, n, KEYS(REL1, REL2), bad_bodies[i].file, file);
		write_file(bad_bodies[i].file, file, len);
		line("release %s %s name=%s expect=%s", bad_bodies[i].file, pol, bad_bodies[i].name, bad_bodies[i].expect);
	}
	line("release release-expired.cbor root=root-v1.cbor hardware=board-a min_sv=7 name=expired-but-no-clock "
	     "expect=AIRLOCK_OK");
	line("release release-rollback.cbor root=root-v1.cbor hardware=board-a min_sv=6 now=1700000000 "
	     "name=sv-6-min-6 expect=AIRLOCK_OK");
	line("");

	/* ---- directives ---- */
	blen = directive_body(AIRLOCK_ACTION_INSTALL, release_digest, NOW + 3600, body);
	len = signed_by(AIRLOCK_META_DIRECTIVE, body, blen, KEYS(DIR1), "directive", file);
	write_file("directive.cbor", file, len);
	const char *dpol = "root=root-v1.cbor";
	line("directive directive.cbor %s device=%s nonce=%s now=1700000000 release=release.cbor "
	     "name=directive-valid expect=AIRLOCK_OK", dpol, device, nh);
	line("directive directive.cbor %s device=%s nonce=%s name=directive-no-clock expect=AIRLOCK_OK", dpol, device, nh);
	line("directive directive.cbor %s device=device-0002 nonce=%s now=1700000000 "
	     "name=directive-wrong-device expect=AIRLOCK_ERR_DEVICE_MISMATCH", dpol, nh);
	{
		char other[2 * sizeof nonce + 1];
		uint8_t n2[sizeof nonce];
		memcpy(n2, nonce, sizeof nonce);
		n2[31] ^= 0x01;
		hex(other, n2, sizeof n2);
		line("directive directive.cbor %s device=%s nonce=%s now=1700000000 "
		     "name=directive-wrong-nonce expect=AIRLOCK_ERR_NONCE_MISMATCH", dpol, device, other);
		hex(other, nonce, 16);
		line("directive directive.cbor %s device=%s nonce=%s now=1700000000 "
		     "name=directive-nonce-prefix expect=AIRLOCK_ERR_NONCE_MISMATCH", dpol, device, other);
	}
	line("directive directive.cbor %s device=%s nonce=%s now=%llu "
	     "name=directive-expired expect=AIRLOCK_ERR_EXPIRED", dpol, device, nh, (unsigned long long)(NOW + 3600));
	line("directive directive.cbor %s device=%s nonce=%s now=1700000000 release=release-rollback.cbor "
	     "name=directive-names-another-release expect=AIRLOCK_ERR_RELEASE_MISMATCH", dpol, device, nh);
	line("directive directive.cbor root=root-v2.cbor device=%s nonce=%s now=1700000000 "
	     "name=directive-under-root-v2 expect=AIRLOCK_OK", device, nh);
	len = signed_by(AIRLOCK_META_DIRECTIVE, body, blen, KEYS(REL1), "directive-by-release", file);
	write_file("directive-signed-by-release-key.cbor", file, len);
	line("directive directive-signed-by-release-key.cbor %s device=%s nonce=%s now=1700000000 "
	     "name=directive-wrong-role expect=AIRLOCK_ERR_WRONG_ROLE", dpol, device, nh);
	blen = directive_body(AIRLOCK_ACTION_NONE, NULL, NOW + 3600, body);
	len = signed_by(AIRLOCK_META_DIRECTIVE, body, blen, KEYS(DIR1), "directive-none", file);
	write_file("directive-none.cbor", file, len);
	line("directive directive-none.cbor %s device=%s nonce=%s now=1700000000 "
	     "name=directive-nothing-to-do expect=AIRLOCK_OK", dpol, device, nh);

	line("");
	line("# %u vectors.", n_vectors);
	write_file("vectors.txt", manifest, manifest_len);
	fprintf(stderr, "gen_vectors: %u vectors written to %s\n", n_vectors, outdir);
	for (int i = 0; i < NKEYS; i++)
		EVP_PKEY_free(keys[i].pk);
	for (int p = 0; p < 2; p++)
		free(payloads[p].data);
	return exit_code;
}
