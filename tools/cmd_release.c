/* airlock release create | sign */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "airlock/keywrap.h"
#include "airlock/payload.h"
#include "cli.h"
#include "payload_io.h"

static const char create_usage[] =
	"usage: airlock release create --out REL --product P --hardware H [--hardware H2...]\n"
	"         --version V --security-version N --payload NAME=FILE [--payload ...]\n"
	"         [--chunk-size BYTES] [--expires DATE] [--artifacts DIR]\n"
	"         [--encrypt --recipient R.pub [--recipient ...]]\n"
	"\n"
	"Writes an unsigned release REL naming each payload's size, chunk size and\n"
	"digest, and for each payload DIR/NAME.chunks (its chunk-digest list, which\n"
	"devices fetch first). DIR defaults to REL's directory. With --encrypt, a\n"
	"fresh random content key encrypts every payload to DIR/NAME.enc (chunked\n"
	"AES-256-GCM) and is wrapped for each x25519 --recipient into REL.keys; the\n"
	"content key itself is never written. --chunk-size is a power of two from\n"
	"4096 to 16 MiB (default 65536). Then sign with 'airlock release sign'.\n";

static const char sign_usage[] =
	"usage: airlock release sign REL --key K.key [--root ROOT] [--out FILE]\n"
	"\n"
	"Adds one signature to a release (in place unless --out). With --root, a\n"
	"key that is not a release key of ROOT is refused.\n";

#define MAX_RECIPIENTS KEYS_MAX_RECIPIENTS

struct created {
	char paths[2 * AIRLOCK_MAX_PAYLOADS + 2][PATH_MAX];
	size_t n;
};

static void undo(struct created *c)
{
	for (size_t i = 0; i < c->n; i++)
		unlink(c->paths[i]);
	c->n = 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum { OPT_OUT = 256, OPT_PRODUCT, OPT_HW, OPT_VERSION, OPT_SV, OPT_PAYLOAD, OPT_CHUNK, OPT_EXPIRES,
       OPT_ARTIFACTS, OPT_ENCRYPT, OPT_RECIPIENT };

struct create_args {
	const char *out, *product, *version, *artifacts;
	const char *hardware[AIRLOCK_MAX_HARDWARE];
	size_t n_hw;
	const char *payloads[AIRLOCK_MAX_PAYLOADS];
	size_t n_payloads;
	const char *recipients[MAX_RECIPIENTS];
	size_t n_recipients;
	uint64_t sv, chunk, expires;
	bool sv_given, encrypt;
};

static int parse_create(int argc, char **argv, struct create_args *a)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "product", required_argument, NULL, OPT_PRODUCT },
		{ "hardware", required_argument, NULL, OPT_HW },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "security-version", required_argument, NULL, OPT_SV },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "chunk-size", required_argument, NULL, OPT_CHUNK },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "artifacts", required_argument, NULL, OPT_ARTIFACTS },
		{ "encrypt", no_argument, NULL, OPT_ENCRYPT },
		{ "recipient", required_argument, NULL, OPT_RECIPIENT },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	a->chunk = AIRLOCK_CHUNK_DEFAULT;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_OUT: a->out = optarg; break;
		case OPT_PRODUCT: a->product = optarg; break;
		case OPT_HW:
			if (a->n_hw == AIRLOCK_MAX_HARDWARE)
				return cli_usage_error("more than %d --hardware", AIRLOCK_MAX_HARDWARE);
			a->hardware[a->n_hw++] = optarg;
			break;
		case OPT_VERSION: a->version = optarg; break;
		case OPT_SV:
			if (!cli_parse_u64(optarg, &a->sv))
				return cli_usage_error("bad security version '%s'", optarg);
			a->sv_given = true;
			break;
		case OPT_PAYLOAD:
			if (a->n_payloads == AIRLOCK_MAX_PAYLOADS)
				return cli_usage_error("more than %d --payload", AIRLOCK_MAX_PAYLOADS);
			if (!strchr(optarg, '='))
				return cli_usage_error("--payload wants NAME=FILE, not '%s'", optarg);
			a->payloads[a->n_payloads++] = optarg;
			break;
		case OPT_CHUNK:
			if (!cli_parse_u64(optarg, &a->chunk) || a->chunk > UINT32_MAX)
				return cli_usage_error("bad chunk size '%s'", optarg);
			break;
		case OPT_EXPIRES:
			if (!cli_parse_time(optarg, cli_now(), &a->expires) || a->expires <= cli_now())
				return cli_usage_error("bad or past date '%s'", optarg);
			break;
		case OPT_ARTIFACTS: a->artifacts = optarg; break;
		case OPT_ENCRYPT: a->encrypt = true; break;
		case OPT_RECIPIENT:
			if (a->n_recipients == MAX_RECIPIENTS)
				return cli_usage_error("more than %d --recipient", MAX_RECIPIENTS);
			a->recipients[a->n_recipients++] = optarg;
			break;
		case 'h': fputs(create_usage, stdout); return -1;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->out || !a->product || !a->version || !a->sv_given || a->n_hw == 0 || a->n_payloads == 0)
		return cli_usage_error("--out, --product, --hardware, --version, --security-version and --payload are required");
	if (a->encrypt && a->n_recipients == 0)
		return cli_usage_error("--encrypt needs at least one --recipient (else the content key would be lost)");
	if (!a->encrypt && a->n_recipients)
		return cli_usage_error("--recipient needs --encrypt");
	uint64_t n;
	if (airlock_payload_chunks(0, (uint32_t)a->chunk, &n) != AIRLOCK_OK)
		return cli_usage_error("--chunk-size must be a power of two from 4096 to 16777216");
	if (airlock_check_label(a->product, strlen(a->product)) != AIRLOCK_OK ||
	    airlock_check_label(a->version, strlen(a->version)) != AIRLOCK_OK)
		return cli_fail(AIRLOCK_ERR_BAD_NAME, "--product and --version must be 1..64 printable characters without spaces");
	for (size_t i = 0; i < a->n_hw; i++)
		if (airlock_check_label(a->hardware[i], strlen(a->hardware[i])) != AIRLOCK_OK)
			return cli_fail(AIRLOCK_ERR_BAD_NAME, "hardware id '%s'", a->hardware[i]);
	qsort(a->hardware, a->n_hw, sizeof a->hardware[0], cmp_str);
	for (size_t i = 1; i < a->n_hw; i++)
		if (strcmp(a->hardware[i - 1], a->hardware[i]) == 0)
			return cli_usage_error("hardware id '%s' given twice", a->hardware[i]);
	return EXIT_OK;
}

/* Wraps the content key for every recipient into OUT.keys. */
static int write_keys(const struct create_args *a, const uint8_t cek[AIRLOCK_AES256_KEY_LEN], const char *path)
{
	static uint8_t buf[KEYS_FILE_MAX];
	struct airlock_cbor_enc enc;
	size_t len;

	airlock_cbor_enc_init(&enc, buf, sizeof buf);
	airlock_cbor_put_array(&enc, 2);
	airlock_cbor_put_uint(&enc, KEYS_FILE_FORMAT);
	airlock_cbor_put_array(&enc, a->n_recipients);
	for (size_t i = 0; i < a->n_recipients; i++) {
		uint8_t pub[AIRLOCK_PUB_MAX_LEN];
		size_t pub_len;
		enum airlock_alg alg;
		struct airlock_wrapped_key w;
		airlock_err err = airlock_pubkey_load(a->recipients[i], &alg, pub, &pub_len);
		if (err == AIRLOCK_OK && alg != AIRLOCK_ALG_X25519)
			err = AIRLOCK_ERR_UNSUPPORTED_ALG;
		if (err == AIRLOCK_OK)
			err = airlock_keywrap_seal(cek, pub, &w);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "recipient %s (an x25519 public key is needed)", a->recipients[i]);
		airlock_keywrap_encode(&w, &enc);
	}
	airlock_err err = airlock_cbor_enc_finish(&enc, &len);
	if (err == AIRLOCK_OK)
		err = cli_write_file(path, buf, len, false);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	return EXIT_OK;
}

static int release_create(int argc, char **argv)
{
	static struct create_args a;
	static struct payload_made made[AIRLOCK_MAX_PAYLOADS];
	static struct created created;
	static uint8_t body[AIRLOCK_RELEASE_MAX_LEN];
	struct airlock_release rel;
	uint8_t cek[AIRLOCK_AES256_KEY_LEN];
	char dir[PATH_MAX], keys_path[PATH_MAX];
	int rc;

	cli_cmd = "airlock release create";
	memset(&a, 0, sizeof a);
	created.n = 0;
	rc = parse_create(argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;

	if (a.artifacts) {
		snprintf(dir, sizeof dir, "%s", a.artifacts);
	} else {
		snprintf(dir, sizeof dir, "%s", a.out);
		char *slash = strrchr(dir, '/');
		if (slash)
			*slash = '\0';
		else
			snprintf(dir, sizeof dir, ".");
	}
	if (access(a.out, F_OK) == 0)
		return cli_fail(AIRLOCK_ERR_EXISTS, "%s", a.out);
	if (a.encrypt) {
		snprintf(keys_path, sizeof keys_path, "%s.keys", a.out);
		airlock_err err = airlock_random(cek, sizeof cek);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "content key");
	}

	memset(&rel, 0, sizeof rel);
	rel.product = (struct airlock_str){ a.product, strlen(a.product) };
	rel.version = (struct airlock_str){ a.version, strlen(a.version) };
	rel.security_version = a.sv;
	rel.expires = a.expires;
	rel.n_hardware = a.n_hw;
	for (size_t i = 0; i < a.n_hw; i++)
		rel.hardware[i] = (struct airlock_str){ a.hardware[i], strlen(a.hardware[i]) };

	for (size_t i = 0; i < a.n_payloads; i++) {
		const char *eq = strchr(a.payloads[i], '=');
		char name[AIRLOCK_MAX_NAME_LEN + 1];
		size_t name_len = (size_t)(eq - a.payloads[i]);
		if (airlock_check_payload_name(a.payloads[i], name_len) != AIRLOCK_OK) {
			rc = cli_fail(AIRLOCK_ERR_BAD_NAME, "payload name '%.*s' (1..64 of A-Z a-z 0-9 . _ -, "
				      "starting with a letter or digit)", (int)name_len, a.payloads[i]);
			goto fail;
		}
		memcpy(name, a.payloads[i], name_len);
		name[name_len] = '\0';
		if (airlock_release_find_payload(&rel, name, name_len)) {
			rc = cli_usage_error("payload '%s' given twice", name);
			goto fail;
		}
		char *chunks = created.paths[created.n], *encp = created.paths[created.n + 1];
		if ((size_t)snprintf(chunks, PATH_MAX, "%s/%s.chunks", dir, name) >= PATH_MAX ||
		    (size_t)snprintf(encp, PATH_MAX, "%s/%s.enc", dir, name) >= PATH_MAX) {
			rc = cli_usage_error("--artifacts path too long");
			goto fail;
		}
		rc = payload_create(name, eq + 1, (uint32_t)a.chunk, chunks, a.encrypt ? cek : NULL, encp, &made[i]);
		if (rc != EXIT_OK)
			goto fail;
		if (a.encrypt) {
			created.n += 2;
		} else {
			created.n += 1;
		}
		rel.payloads[rel.n_payloads++] = made[i].p;
	}
	if (a.encrypt) {
		rc = write_keys(&a, cek, keys_path);
		if (rc != EXIT_OK)
			goto fail;
		snprintf(created.paths[created.n++], PATH_MAX, "%s", keys_path);
	}

	struct airlock_cbor_enc enc;
	struct airlock_envelope env;
	struct airlock_release check;
	size_t body_len, file_len;
	uint8_t *file = NULL;
	airlock_cbor_enc_init(&enc, body, sizeof body);
	airlock_release_encode_body(&rel, &enc);
	airlock_err err = airlock_cbor_enc_finish(&enc, &body_len);
	if (err == AIRLOCK_OK)
		err = airlock_release_parse_body(body, body_len, &check);
	memset(&env, 0, sizeof env);
	env.type = AIRLOCK_META_RELEASE;
	env.body = (struct airlock_bytes){ body, body_len };
	if (err == AIRLOCK_OK)
		err = cli_encode_envelope(&env, &file, &file_len);
	if (err == AIRLOCK_OK)
		err = cli_write_file(a.out, file, file_len, false);
	free(file);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", a.out);
		goto fail;
	}
	airlock_wipe(cek, sizeof cek);

	printf("release %s %s (security_version %llu) written to %s (unsigned)\n", a.product, a.version,
	       (unsigned long long)a.sv, a.out);
	for (size_t i = 0; i < rel.n_payloads; i++) {
		char hex[2 * AIRLOCK_SHA256_LEN + 1];
		cli_hex(made[i].digest, AIRLOCK_SHA256_LEN, hex);
		printf("  payload %s: %llu bytes, chunk %llu, digest %s%s\n", made[i].name,
		       (unsigned long long)made[i].p.size, (unsigned long long)a.chunk, hex,
		       a.encrypt ? ", encrypted" : "");
	}
	printf("  artifacts in %s%s%s\n", dir, a.encrypt ? "; wrapped content keys in " : "",
	       a.encrypt ? keys_path : "");
	return EXIT_OK;
fail:
	undo(&created);
	airlock_wipe(cek, sizeof cek);
	return rc;
}

int cmd_release(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return release_create(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0) {
		cli_cmd = "airlock release sign";
		if (argc >= 3 && strcmp(argv[2], "--help") == 0) {
			fputs(sign_usage, stdout);
			return EXIT_OK;
		}
		return cli_sign_file(argc - 1, argv + 1, AIRLOCK_META_RELEASE);
	}
	if (argc >= 2 && strcmp(argv[1], "push") == 0)
		return cmd_release_push(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "list") == 0)
		return cmd_release_list(argc - 1, argv + 1);
	cli_cmd = "airlock release";
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("%s\n%s\n(and 'airlock release push|list --help')\n", create_usage, sign_usage);
		return EXIT_OK;
	}
	return cli_usage_error("expected 'create', 'sign', 'push' or 'list'");
}
