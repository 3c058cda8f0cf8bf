/*
 * airlock bundle create: one file for an offline install (USB, factory),
 * laid out as docs/format.md, "Offline bundle", says. The bundle adds no
 * trust of its own: airlockd verifies the release, the lists and every
 * chunk exactly as it does for a download.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../agent/bundle_format.h"
#include "airlock/payload.h"
#include "cli.h"
#include "payload_io.h"

static const char usage[] =
	"usage: airlock bundle create --release REL --payload NAME=FILE [--payload ...]\n"
	"         [--chunks NAME=LIST ...] [--keys KEYS] [--root ROOT] --out BUNDLE\n"
	"\n"
	"Writes BUNDLE: the signed release REL, and for each payload its\n"
	"chunk-digest list and FILE, the artifact a device would download (the\n"
	"ciphertext NAME.enc for an encrypted release). LIST defaults to\n"
	"NAME.chunks beside FILE (as 'airlock release create' writes it); for a\n"
	"plaintext payload without one, it is computed from FILE. An encrypted\n"
	"release needs KEYS (default REL.keys), its content key wrapped for the\n"
	"devices. Every size and digest is checked against the release first;\n"
	"with --root, the release's signatures too. Install it on a device with\n"
	"'airlockd install BUNDLE'.\n";

#define COPY_BUF (1024u * 1024u)

struct bundle_part {
	const char *name, *file, *chunks_path;
	const struct airlock_payload *p;
	uint8_t *list;
	size_t list_len;
	uint64_t artifact_len;
	uint64_t chunks_off, artifact_off;
};

struct bundle_args {
	const char *release, *keys, *root, *out;
	struct bundle_part parts[AIRLOCK_MAX_PAYLOADS];
	size_t n;
	const char *chunks[AIRLOCK_MAX_PAYLOADS];
	size_t n_chunks;
};

static int parse_args(int argc, char **argv, struct bundle_args *a)
{
	enum { OPT_RELEASE = 256, OPT_PAYLOAD, OPT_CHUNKS, OPT_KEYS, OPT_ROOT, OPT_OUT };
	static const struct option opts[] = {
		{ "release", required_argument, NULL, OPT_RELEASE }, { "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "chunks", required_argument, NULL, OPT_CHUNKS },   { "keys", required_argument, NULL, OPT_KEYS },
		{ "root", required_argument, NULL, OPT_ROOT },       { "out", required_argument, NULL, OPT_OUT },
		{ "help", no_argument, NULL, 'h' },                  { NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case OPT_RELEASE: a->release = optarg; break;
		case OPT_KEYS: a->keys = optarg; break;
		case OPT_ROOT: a->root = optarg; break;
		case OPT_OUT: a->out = optarg; break;
		case OPT_PAYLOAD:
			if (a->n == AIRLOCK_MAX_PAYLOADS)
				return cli_usage_error("at most %d payloads", AIRLOCK_MAX_PAYLOADS);
			a->parts[a->n++].name = optarg;
			break;
		case OPT_CHUNKS:
			if (a->n_chunks == AIRLOCK_MAX_PAYLOADS)
				return cli_usage_error("at most %d chunk lists", AIRLOCK_MAX_PAYLOADS);
			a->chunks[a->n_chunks++] = optarg;
			break;
		case 'h': fputs(usage, stdout); return -1;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (!a->release || !a->out || a->n == 0 || optind != argc)
		return cli_usage_error("--release, --out and at least one --payload are required");
	for (size_t i = 0; i < a->n; i++) {
		char *eq = strchr(a->parts[i].name, '=');
		if (!eq || eq == a->parts[i].name || !eq[1])
			return cli_usage_error("--payload wants NAME=FILE, got '%s'", a->parts[i].name);
		*eq = '\0';
		a->parts[i].file = eq + 1;
	}
	for (size_t i = 0; i < a->n_chunks; i++) {
		char *eq = strchr(a->chunks[i], '=');
		if (!eq || !eq[1])
			return cli_usage_error("--chunks wants NAME=LIST, got '%s'", a->chunks[i]);
		*eq = '\0';
		size_t k = 0;
		while (k < a->n && strcmp(a->parts[k].name, a->chunks[i]) != 0)
			k++;
		if (k == a->n)
			return cli_usage_error("--chunks %s: no such --payload", a->chunks[i]);
		a->parts[k].chunks_path = eq + 1;
	}
	return EXIT_OK;
}

/* Collects chunk digests while a plaintext payload is hashed. */
static airlock_err collect(void *ctx, uint64_t index, const uint8_t digest[AIRLOCK_SHA256_LEN])
{
	struct bundle_part *part = ctx;
	memcpy(part->list + index * AIRLOCK_SHA256_LEN, digest, AIRLOCK_SHA256_LEN);
	return AIRLOCK_OK;
}

static int compute_list(struct bundle_part *part)
{
	struct airlock_payload_check c;
	uint8_t *buf = malloc(COPY_BUF);
	int fd = open(part->file, O_RDONLY | O_CLOEXEC);
	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return cli_fail(AIRLOCK_ERR_IO_OPEN, "%s", part->file);
	}
	airlock_err e = airlock_payload_hash_init(&c, part->p->size, part->p->chunk_size, collect, part);
	ssize_t n;
	while (e == AIRLOCK_OK && (n = read(fd, buf, COPY_BUF)) > 0)
		e = airlock_payload_check_update(&c, buf, (size_t)n);
	if (e == AIRLOCK_OK)
		e = airlock_payload_check_final(&c, NULL);
	airlock_payload_check_free(&c);
	close(fd);
	free(buf);
	return e == AIRLOCK_OK ? EXIT_OK : cli_fail(e, "payload %s: %s", part->name, part->file);
}

/* The list, from its file or computed, checked against the signed digest. */
static int load_list(struct bundle_part *part)
{
	char path[PATH_MAX];
	uint64_t n_chunks;
	airlock_err e = airlock_payload_chunks(part->p->size, part->p->chunk_size, &n_chunks);
	if (e != AIRLOCK_OK || n_chunks > SIZE_MAX / AIRLOCK_SHA256_LEN)
		return cli_fail(e ? e : AIRLOCK_ERR_TOO_LARGE, "payload %s", part->name);
	part->list_len = (size_t)n_chunks * AIRLOCK_SHA256_LEN;
	if (!part->chunks_path) {
		const char *slash = strrchr(part->file, '/');
		int dlen = slash ? (int)(slash - part->file) : 1;
		snprintf(path, sizeof path, "%.*s/%s.chunks", dlen, slash ? part->file : ".", part->name);
		if (access(path, R_OK) == 0)
			part->chunks_path = path;
	}
	if (part->chunks_path) {
		size_t len;
		e = cli_read_file(part->chunks_path, part->list_len + 1, &part->list, &len);
		if (e != AIRLOCK_OK)
			return cli_fail(e, "chunk list %s", part->chunks_path);
		part->list_len = len;
	} else if (part->p->encrypted) {
		return cli_fail(AIRLOCK_ERR_NOT_FOUND, "payload %s is encrypted: give its chunk list (--chunks)", part->name);
	} else {
		part->list = malloc(part->list_len ? part->list_len : 1);
		if (!part->list)
			return cli_fail(AIRLOCK_ERR_NOMEM, "chunk list");
		int rc = compute_list(part);
		if (rc != EXIT_OK)
			return rc;
	}
	e = airlock_payload_list_verify(part->p, part->list, part->list_len);
	if (e != AIRLOCK_OK)
		return cli_fail(e, "payload %s: chunk list does not match the release", part->name);
	part->chunks_path = NULL;   /* may point at a local buffer */
	return EXIT_OK;
}

static int check_part(const struct airlock_release *rel, struct bundle_part *part)
{
	struct stat st;
	if (airlock_check_payload_name(part->name, strlen(part->name)) != AIRLOCK_OK)
		return cli_fail(AIRLOCK_ERR_BAD_NAME, "payload name '%s'", part->name);
	part->p = airlock_release_find_payload(rel, part->name, strlen(part->name));
	if (!part->p)
		return cli_fail(AIRLOCK_ERR_NOT_FOUND, "the release has no payload '%s'", part->name);
	if (stat(part->file, &st) != 0 || !S_ISREG(st.st_mode))
		return cli_fail(AIRLOCK_ERR_IO_OPEN, "%s", part->file);
	part->artifact_len = (uint64_t)st.st_size;
	uint64_t want = part->p->encrypted ? part->p->enc.size : part->p->size;
	if (part->artifact_len != want)
		return cli_fail(AIRLOCK_ERR_SIZE_MISMATCH, "%s has %" PRIu64 " bytes, the release signs %" PRIu64 "%s",
				part->file, part->artifact_len, want,
				part->p->encrypted ? " (the ciphertext, NAME.enc, goes into a bundle)" : "");
	return load_list(part);
}

/* Encodes the header for the current offsets; returns its length. */
static airlock_err encode_header(const struct bundle_args *a, const uint8_t *rel, size_t rel_len, const uint8_t *keys,
				 size_t keys_len, uint8_t *out, size_t cap, size_t *len)
{
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, out, cap);
	airlock_cbor_put_map(&e, keys ? 3 : 2);
	airlock_cbor_put_uint(&e, AIRLOCK_BUNDLE_KEY_RELEASE);
	airlock_cbor_put_bstr(&e, rel, rel_len);
	if (keys) {
		airlock_cbor_put_uint(&e, AIRLOCK_BUNDLE_KEY_KEYS);
		airlock_cbor_put_bstr(&e, keys, keys_len);
	}
	airlock_cbor_put_uint(&e, AIRLOCK_BUNDLE_KEY_PAYLOADS);
	airlock_cbor_put_array(&e, a->n);
	for (size_t i = 0; i < a->n; i++) {
		const struct bundle_part *p = &a->parts[i];
		airlock_cbor_put_array(&e, 5);
		airlock_cbor_put_tstr(&e, p->name, strlen(p->name));
		airlock_cbor_put_uint(&e, p->chunks_off);
		airlock_cbor_put_uint(&e, p->list_len);
		airlock_cbor_put_uint(&e, p->artifact_off);
		airlock_cbor_put_uint(&e, p->artifact_len);
	}
	return airlock_cbor_enc_finish(&e, len);
}

/* Offsets depend on the header's length, which depends on the offsets'
 * encodings: iterate until the length is stable (two or three rounds). */
static airlock_err layout(struct bundle_args *a, const uint8_t *rel, size_t rel_len, const uint8_t *keys,
			  size_t keys_len, uint8_t *hdr, size_t *hlen)
{
	size_t guess = 0;
	for (int round = 0; round < 8; round++) {
		uint64_t off = AIRLOCK_BUNDLE_PREFIX_LEN + (uint64_t)guess;
		for (size_t i = 0; i < a->n; i++) {
			a->parts[i].chunks_off = off;
			off += a->parts[i].list_len;
			a->parts[i].artifact_off = off;
			off += a->parts[i].artifact_len;
		}
		airlock_err e = encode_header(a, rel, rel_len, keys, keys_len, hdr, AIRLOCK_BUNDLE_HEADER_MAX, hlen);
		if (e != AIRLOCK_OK)
			return e == AIRLOCK_ERR_BUFFER_TOO_SMALL ? AIRLOCK_ERR_TOO_LARGE : e;
		if (*hlen == guess)
			return AIRLOCK_OK;
		guess = *hlen;
	}
	return AIRLOCK_ERR_INVALID_ARG;
}

static airlock_err copy_file(struct cli_out *o, const char *path, uint64_t want)
{
	uint8_t *buf = malloc(COPY_BUF);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	airlock_err e = !buf ? AIRLOCK_ERR_NOMEM : fd < 0 ? AIRLOCK_ERR_IO_OPEN : AIRLOCK_OK;
	uint64_t done = 0;
	ssize_t n;
	while (e == AIRLOCK_OK && (n = read(fd, buf, COPY_BUF)) > 0) {
		e = cli_out_write(o, buf, (size_t)n);
		done += (uint64_t)n;
	}
	if (e == AIRLOCK_OK && done != want)
		e = AIRLOCK_ERR_SIZE_MISMATCH;   /* the file changed while we copied it */
	if (fd >= 0)
		close(fd);
	free(buf);
	return e;
}

static int write_bundle(struct bundle_args *a, const uint8_t *hdr, size_t hlen)
{
	struct cli_out o;
	uint8_t prefix[AIRLOCK_BUNDLE_PREFIX_LEN];
	memcpy(prefix, AIRLOCK_BUNDLE_MAGIC, AIRLOCK_BUNDLE_MAGIC_LEN);
	for (int i = 0; i < 4; i++)
		prefix[AIRLOCK_BUNDLE_MAGIC_LEN + i] = (uint8_t)(hlen >> (24 - 8 * i));
	airlock_err e = cli_out_open(&o, a->out, false);
	if (e != AIRLOCK_OK)
		return cli_fail(e, "%s", a->out);
	e = cli_out_write(&o, prefix, sizeof prefix);
	if (e == AIRLOCK_OK)
		e = cli_out_write(&o, hdr, hlen);
	for (size_t i = 0; e == AIRLOCK_OK && i < a->n; i++) {
		e = cli_out_write(&o, a->parts[i].list, a->parts[i].list_len);
		if (e == AIRLOCK_OK)
			e = copy_file(&o, a->parts[i].file, a->parts[i].artifact_len);
	}
	if (e == AIRLOCK_OK)
		e = cli_out_commit(&o);
	if (e != AIRLOCK_OK) {
		cli_out_abort(&o);
		return cli_fail(e, "writing %s", a->out);
	}
	return EXIT_OK;
}

static int verify_against_root(const char *root_path, const uint8_t *rel, size_t rel_len)
{
	uint8_t *buf = NULL;
	size_t len;
	struct airlock_root root;
	struct airlock_release r;
	struct airlock_release_policy pol = { 0 };
	airlock_err e = cli_read_file(root_path, AIRLOCK_ROOT_MAX_LEN, &buf, &len);
	if (e == AIRLOCK_OK)
		e = airlock_root_load_trusted(buf, len, &root, NULL);
	if (e == AIRLOCK_OK)
		e = airlock_release_verify(&root, rel, rel_len, &pol, &r, NULL, NULL);
	free(buf);
	return e == AIRLOCK_OK ? EXIT_OK : cli_fail(e, "release does not verify against %s", root_path);
}

static int create(int argc, char **argv)
{
	struct bundle_args a;
	struct airlock_envelope env;
	struct airlock_release rel;
	uint8_t *rel_buf = NULL, *keys = NULL, *hdr = NULL;
	size_t rel_len = 0, keys_len = 0, hlen = 0;
	char keys_default[PATH_MAX];
	memset(&a, 0, sizeof a);
	int rc = parse_args(argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	airlock_err e = cli_read_file(a.release, AIRLOCK_RELEASE_MAX_LEN, &rel_buf, &rel_len);
	if (e != AIRLOCK_OK)
		return cli_fail(e, "%s", a.release);
	e = airlock_envelope_parse(rel_buf, rel_len, AIRLOCK_RELEASE_MAX_LEN, &env);
	if (e == AIRLOCK_OK && env.type != AIRLOCK_META_RELEASE)
		e = AIRLOCK_ERR_WRONG_TYPE;
	if (e == AIRLOCK_OK)
		e = airlock_release_parse_body(env.body.ptr, env.body.len, &rel);
	rc = e == AIRLOCK_OK ? EXIT_OK : cli_fail(e, "%s is not a release", a.release);
	if (rc == EXIT_OK && a.root)
		rc = verify_against_root(a.root, rel_buf, rel_len);
	bool encrypted = false;
	for (size_t i = 0; rc == EXIT_OK && i < a.n; i++) {
		rc = check_part(&rel, &a.parts[i]);
		encrypted |= rc == EXIT_OK && a.parts[i].p->encrypted;
	}
	if (rc == EXIT_OK && encrypted && !a.keys) {
		snprintf(keys_default, sizeof keys_default, "%s.keys", a.release);
		a.keys = keys_default;
	}
	if (rc == EXIT_OK && a.keys && (e = cli_read_file(a.keys, KEYS_FILE_MAX, &keys, &keys_len)) != AIRLOCK_OK)
		rc = cli_fail(e, "keys file %s (an encrypted release needs its content key)", a.keys);
	if (rc == EXIT_OK && !(hdr = malloc(AIRLOCK_BUNDLE_HEADER_MAX)))
		rc = cli_fail(AIRLOCK_ERR_NOMEM, "header");
	if (rc == EXIT_OK && (e = layout(&a, rel_buf, rel_len, keys, keys_len, hdr, &hlen)) != AIRLOCK_OK)
		rc = cli_fail(e, "bundle header");
	if (rc == EXIT_OK)
		rc = write_bundle(&a, hdr, hlen);
	if (rc == EXIT_OK) {
		printf("wrote %s: release %.*s, %zu payload%s%s\n", a.out, (int)rel.version.len, rel.version.ptr, a.n,
		       a.n == 1 ? "" : "s", keys ? ", wrapped content keys" : "");
	}
	for (size_t i = 0; i < a.n; i++)
		free(a.parts[i].list);
	free(hdr);
	free(keys);
	free(rel_buf);
	return rc;
}

int cmd_bundle(int argc, char **argv)
{
	cli_cmd = "airlock bundle";
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "create") == 0) {
		cli_cmd = "airlock bundle create";
		return create(argc - 1, argv + 1);
	}
	return cli_usage_error("unknown bundle command '%s'", argv[1]);
}
