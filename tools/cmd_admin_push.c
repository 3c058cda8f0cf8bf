/*
 * airlock release push | list. Push sends the signed release (and its keys
 * file when encrypted), which the server verifies against the fleet root
 * before it keeps anything, then streams each payload and its chunk-digest
 * list from disk. The files default to what `airlock release create` wrote.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "admin_client.h"
#include "airlock/base64.h"
#include "airlock/payload.h"
#include "payload_io.h"

static const char push_usage[] =
	"usage: airlock release push REL [--payload NAME=FILE...] [--chunks NAME=FILE...]\n"
	"         [--keys KEYS] [--artifacts DIR] [connection options]\n"
	"\n"
	"Pushes a signed release (release scope): POST /api/v1/releases with REL\n"
	"(and KEYS when a payload is encrypted), which the server verifies against\n"
	"the fleet root, then uploads every payload and its chunk-digest list,\n"
	"streamed from disk. Where 'airlock release create' put them is the default:\n"
	"DIR/NAME.chunks, DIR/NAME.enc (the ciphertext of an encrypted payload) and\n"
	"REL.keys, DIR being REL's directory unless --artifacts. A plaintext payload\n"
	"needs --payload NAME=FILE (create does not copy it). Sizes are checked\n"
	"before anything is sent; the server checks every digest. Pushing again is\n"
	"harmless: a release the server holds complete is not uploaded again.\n";

static const char list_usage[] =
	"usage: airlock release list [connection options]\n"
	"\n"
	"The releases the server holds (read scope): digest, product, version,\n"
	"security version, hardware, and whether every artifact is uploaded.\n";

enum { OPT_PAYLOAD = 256, OPT_CHUNKS, OPT_KEYS, OPT_ARTIFACTS };

struct push_args {
	struct admin_opts o;
	const char *rel, *keys, *artifacts;
	const char *payloads[AIRLOCK_MAX_PAYLOADS], *chunks[AIRLOCK_MAX_PAYLOADS];
	size_t n_payloads, n_chunks;
};

/* One upload: which file, how long the release says it is. */
struct upload {
	char name[AIRLOCK_MAX_NAME_LEN + 1];
	char file[PATH_MAX], chunks[PATH_MAX];
	uint64_t size, chunks_size;
};

static int add_pair(const char **list, size_t *n, const char *arg, const char *opt)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg || !eq[1])
		return cli_usage_error("--%s wants NAME=FILE, not '%s'", opt, arg);
	if (*n == AIRLOCK_MAX_PAYLOADS)
		return cli_usage_error("more than %d --%s", AIRLOCK_MAX_PAYLOADS, opt);
	list[(*n)++] = arg;
	return EXIT_OK;
}

static int parse(int argc, char **argv, struct push_args *a)
{
	static const struct option opts[] = {
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "chunks", required_argument, NULL, OPT_CHUNKS },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "artifacts", required_argument, NULL, OPT_ARTIFACTS },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc = EXIT_OK;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(&a->o, c, optarg);
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case OPT_PAYLOAD: rc = add_pair(a->payloads, &a->n_payloads, optarg, "payload"); break;
		case OPT_CHUNKS: rc = add_pair(a->chunks, &a->n_chunks, optarg, "chunks"); break;
		case OPT_KEYS: a->keys = optarg; break;
		case OPT_ARTIFACTS: a->artifacts = optarg; break;
		case 'h': printf("%s%s", push_usage, admin_common_usage); return -1;
		default: return cli_usage_error("bad option");
		}
		if (rc != EXIT_OK)
			return rc;
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc ? "the signed release file is required" : "one release file only");
	a->rel = argv[optind];
	return EXIT_OK;
}

/* The FILE of NAME=FILE in list, or NULL. */
static const char *lookup(const char *const *list, size_t n, const char *name)
{
	size_t len = strlen(name);
	for (size_t i = 0; i < n; i++)
		if (strncmp(list[i], name, len) == 0 && list[i][len] == '=')
			return list[i] + len + 1;
	return NULL;
}

/* Every NAME given must be a payload of the release. */
static int check_names(const struct airlock_release *rel, const char *const *list, size_t n, const char *opt)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = (size_t)(strchr(list[i], '=') - list[i]);
		if (!airlock_release_find_payload(rel, list[i], len))
			return cli_usage_error("--%s %.*s: the release has no payload of that name", opt, (int)len, list[i]);
	}
	return EXIT_OK;
}

static int file_size_is(const char *path, uint64_t want, const char *what, const char *name)
{
	struct stat st;
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return cli_fail(AIRLOCK_ERR_IO_OPEN, "payload %s: %s %s", name, what, path);
	if ((uint64_t)st.st_size != want)
		return cli_fail(AIRLOCK_ERR_SIZE_MISMATCH, "payload %s: %s %s has %llu bytes, the release signs %llu", name,
				what, path, (unsigned long long)st.st_size, (unsigned long long)want);
	return EXIT_OK;
}

/* Finds and size-checks the files of one payload. */
static int plan_one(const struct push_args *a, const char *dir, const struct airlock_payload *p, struct upload *u)
{
	uint64_t n_chunks;
	snprintf(u->name, sizeof u->name, "%.*s", (int)p->name.len, p->name.ptr);
	if (airlock_payload_chunks(p->size, p->chunk_size, &n_chunks) != AIRLOCK_OK)
		return cli_fail(AIRLOCK_ERR_BAD_VALUE, "payload %s: chunk size %u", u->name, (unsigned)p->chunk_size);
	u->size = p->encrypted ? p->enc.size : p->size;
	u->chunks_size = n_chunks * AIRLOCK_SHA256_LEN;
	const char *f = lookup(a->payloads, a->n_payloads, u->name), *ch = lookup(a->chunks, a->n_chunks, u->name);
	if (!f && !p->encrypted)
		return cli_usage_error("payload %s is not encrypted: give --payload %s=FILE (the image itself)", u->name,
				       u->name);
	if ((size_t)snprintf(u->file, sizeof u->file, f ? "%s" : "%s/%s.enc", f ? f : dir, u->name) >= sizeof u->file ||
	    (size_t)snprintf(u->chunks, sizeof u->chunks, ch ? "%s" : "%s/%s.chunks", ch ? ch : dir, u->name) >=
		    sizeof u->chunks)
		return cli_usage_error("path too long");
	struct stat st;
	if (p->encrypted && stat(u->file, &st) == 0 && (uint64_t)st.st_size == p->size && p->size != u->size)
		return cli_fail(AIRLOCK_ERR_SIZE_MISMATCH, "payload %s: %s is the plaintext; an encrypted payload is "
				"pushed as its ciphertext (%s/%s.enc)", u->name, u->file, dir, u->name);
	int rc = file_size_is(u->file, u->size, p->encrypted ? "ciphertext" : "file", u->name);
	return rc != EXIT_OK ? rc : file_size_is(u->chunks, u->chunks_size, "chunk list", u->name);
}

static json_t *push_body(const uint8_t *rel, size_t rel_len, const uint8_t *keys, size_t keys_len)
{
	char *b1 = malloc(AIRLOCK_BASE64_LEN(rel_len) + 1), *b2 = NULL;
	json_t *body = NULL;
	if (keys)
		b2 = malloc(AIRLOCK_BASE64_LEN(keys_len) + 1);
	if (b1 && (!keys || b2)) {
		airlock_base64_encode(rel, rel_len, b1);
		if (keys)
			airlock_base64_encode(keys, keys_len, b2);
		body = keys ? json_pack("{s:s,s:s}", "release", b1, "keys", b2) : json_pack("{s:s}", "release", b1);
	}
	free(b1);
	free(b2);
	return body;
}

/* True when the server lists digest as complete (false also when it cannot
 * say, e.g. the token lacks the read scope: then everything is uploaded). */
static bool already_complete(struct admin_client *cl, const char *digest)
{
	struct admin_resp r;
	bool complete = false;
	size_t i;
	json_t *row;
	/* A refusal here is not an error of the push: keep it quiet. */
	cl->quiet = true;
	int rc = admin_call(cl, "GET", "releases", NULL, &r);
	cl->quiet = false;
	if (rc == EXIT_OK) {
		json_array_foreach(json_object_get(r.json, "releases"), i, row) {
			const char *d = json_string_value(json_object_get(row, "digest"));
			if (d && strcmp(d, digest) == 0)
				complete = json_integer_value(json_object_get(row, "complete")) == 1;
		}
	}
	admin_resp_free(&r);
	return complete;
}

static int upload_one(struct admin_client *cl, const char *digest, const struct upload *u, bool chunks)
{
	char path[256];
	struct admin_resp r;
	snprintf(path, sizeof path, "releases/%s/payloads/%s%s", digest, u->name, chunks ? "/chunks" : "");
	int rc = admin_upload(cl, path, chunks ? u->chunks : u->file, chunks ? u->chunks_size : u->size, &r);
	if (rc == EXIT_OK && cl->json) {
		admin_print_raw(&r);
	} else if (rc == EXIT_OK) {
		char sha[80];
		admin_format_value(json_object_get(r.json, "sha256"), COL_TEXT, sha, sizeof sha);
		printf("  uploaded %s %s: %llu bytes from %s, sha256 %s\n", chunks ? "chunk list" : "payload", u->name,
		       (unsigned long long)(chunks ? u->chunks_size : u->size), chunks ? u->chunks : u->file, sha);
	}
	admin_resp_free(&r);
	return rc;
}

/* Reads REL and KEYS, plans every upload; nothing is sent yet. */
static int prepare(const struct push_args *a, uint8_t **rel_buf, size_t *rel_len, uint8_t **keys, size_t *keys_len,
		   struct upload *ups, size_t *n_ups)
{
	static struct airlock_envelope env;
	static struct airlock_release rel;
	char dir[PATH_MAX], keys_path[PATH_MAX];
	bool encrypted = false;
	airlock_err err = cli_read_file(a->rel, AIRLOCK_RELEASE_MAX_LEN, rel_buf, rel_len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", a->rel);
	err = airlock_envelope_parse(*rel_buf, *rel_len, AIRLOCK_RELEASE_MAX_LEN, &env);
	if (err == AIRLOCK_OK && env.type != AIRLOCK_META_RELEASE)
		err = AIRLOCK_ERR_WRONG_TYPE;
	if (err == AIRLOCK_OK)
		err = airlock_release_parse_body(env.body.ptr, env.body.len, &rel);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s: not a release", a->rel);
	int rc = check_names(&rel, a->payloads, a->n_payloads, "payload");
	if (rc == EXIT_OK)
		rc = check_names(&rel, a->chunks, a->n_chunks, "chunks");
	if (rc != EXIT_OK)
		return rc;
	snprintf(dir, sizeof dir, "%s", a->artifacts ? a->artifacts : a->rel);
	char *slash = a->artifacts ? NULL : strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else if (!a->artifacts)
		snprintf(dir, sizeof dir, ".");
	for (size_t i = 0; i < rel.n_payloads; i++) {
		encrypted |= rel.payloads[i].encrypted;
		if ((rc = plan_one(a, dir, &rel.payloads[i], &ups[i])) != EXIT_OK)
			return rc;
	}
	*n_ups = rel.n_payloads;
	if (!encrypted) {
		if (a->keys)
			return cli_usage_error("the release is not encrypted: --keys is not needed");
		return EXIT_OK;
	}
	if ((size_t)snprintf(keys_path, sizeof keys_path, "%s", a->keys ? a->keys : a->rel) >= sizeof keys_path - 5)
		return cli_usage_error("path too long");
	if (!a->keys)
		strcat(keys_path, ".keys");
	err = cli_read_file(keys_path, KEYS_FILE_MAX, keys, keys_len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "keys file %s (an encrypted release is pushed with its keys file)", keys_path);
	return EXIT_OK;
}

int cmd_release_push(int argc, char **argv)
{
	static struct push_args a;
	static struct upload ups[AIRLOCK_MAX_PAYLOADS];
	struct admin_client cl;
	struct admin_resp r = { 0 };
	uint8_t *rel = NULL, *keys = NULL;
	size_t rel_len = 0, keys_len = 0, n_ups = 0;
	char digest[80] = "", product[80], version[80], sv[32];
	memset(&a, 0, sizeof a);
	cli_cmd = "airlock release push";
	int rc = parse(argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	rc = prepare(&a, &rel, &rel_len, &keys, &keys_len, ups, &n_ups);
	if (rc == EXIT_OK)
		rc = admin_open(&cl, &a.o, true);
	if (rc != EXIT_OK)
		goto out_files;
	json_t *body = push_body(rel, rel_len, keys, keys_len);
	rc = body ? admin_call(&cl, "POST", "releases", body, &r) : cli_fail(AIRLOCK_ERR_NOMEM, "request");
	json_decref(body);
	if (rc != EXIT_OK)
		goto out;
	admin_format_value(json_object_get(r.json, "digest"), COL_TEXT, digest, sizeof digest);
	admin_format_value(json_object_get(r.json, "product"), COL_TEXT, product, sizeof product);
	admin_format_value(json_object_get(r.json, "version"), COL_TEXT, version, sizeof version);
	admin_format_value(json_object_get(r.json, "security_version"), COL_INT, sv, sizeof sv);
	if (strlen(digest) != 64 || strspn(digest, "0123456789abcdef") != 64) {
		fprintf(stderr, "%s: POST releases: the server's answer names no release digest\n", cli_cmd);
		rc = EXIT_NETWORK;
		goto out;
	}
	bool known = r.status == 200;
	if (a.o.json)
		admin_print_raw(&r);
	else
		printf("release %s %s (security_version %s) %s: %s\n", product, version, sv,
		       known ? "already on the server" : "accepted", digest);
	if (known && already_complete(&cl, digest)) {
		if (!a.o.json)
			printf("  every artifact is already uploaded; nothing sent\n");
		goto out;
	}
	for (size_t i = 0; i < n_ups && rc == EXIT_OK; i++) {
		rc = upload_one(&cl, digest, &ups[i], false);
		if (rc == EXIT_OK)
			rc = upload_one(&cl, digest, &ups[i], true);
	}
	if (rc == EXIT_OK && !a.o.json)
		printf("  complete: deploy with 'airlock deployments create --release %s ...'\n", digest);
out:
	admin_resp_free(&r);
	admin_close(&cl);
out_files:
	free(rel);
	free(keys);
	return rc;
}

static const struct admin_col release_cols[] = {
	{ "digest", "DIGEST", COL_TEXT },
	{ "product", "PRODUCT", COL_TEXT },
	{ "version", "VERSION", COL_TEXT },
	{ "security_version", "SV", COL_INT },
	{ "hardware", "HARDWARE", COL_TEXT },
	{ "complete", "COMPLETE", COL_BOOL },
	{ "created", "CREATED", COL_TIME },
};

int cmd_release_list(int argc, char **argv)
{
	struct admin_opts o = { 0 };
	struct admin_client cl;
	struct admin_resp r = { 0 };
	int rc;
	cli_cmd = "airlock release list";
	rc = admin_parse_args(&o, argc, argv, list_usage, 0, NULL, NULL);
	if (rc != 0)
		return rc == ADMIN_ARGS_HELP ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &o, true)) != EXIT_OK)
		return rc;
	rc = admin_call(&cl, "GET", "releases", NULL, &r);
	if (rc == EXIT_OK && o.json)
		admin_print_raw(&r);
	else if (rc == EXIT_OK)
		admin_print_table(json_object_get(r.json, "releases"), release_cols,
				  sizeof release_cols / sizeof release_cols[0]);
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}
