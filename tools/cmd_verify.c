/* airlock verify: a release, and optionally its payloads, against a root. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/hex.h"
#include "cli.h"
#include "payload_io.h"

static const char verify_usage[] =
	"usage: airlock verify --root ROOT [--root-update NEXT...] --release REL\n"
	"         [--payload NAME=FILE...] [--hardware H] [--min-security-version N]\n"
	"         [--now DATE | --no-clock] [--decrypt-key K.key --keys REL.keys]\n"
	"\n"
	"Checks that ROOT is signed by a threshold of its own root keys, follows\n"
	"each --root-update (root N+1 signed by a threshold of root N's and of its\n"
	"own root keys), then checks REL: a threshold of distinct release keys of\n"
	"the newest root, expiry (against the system clock unless --now or\n"
	"--no-clock), the hardware id and the anti-rollback minimum if given.\n"
	"Each --payload is then streamed and checked against the signed size and\n"
	"digest; for an encrypted payload FILE may be the plaintext or the\n"
	"ciphertext (told apart by their signed sizes), and with --decrypt-key the\n"
	"ciphertext is decrypted and the plaintext checked too.\n"
	"Exit 0 only when everything holds; otherwise one line says why.\n"
	"\n"
	"       airlock verify --root ROOT [--root-update NEXT...] --directive FILE\n"
	"         --device ID --nonce HEX [--now DATE | --no-clock]\n"
	"\n"
	"Checks a server's directive: a threshold of director keys, this device's\n"
	"id, the nonce it sent with the check-in, and expiry.\n";

#define MAX_PAYLOAD_ARGS AIRLOCK_MAX_PAYLOADS

struct verify_args {
	const char *root;
	const char *updates[AIRLOCK_ROOT_CHAIN_MAX];
	size_t n_updates;
	const char *release;
	const char *payloads[MAX_PAYLOAD_ARGS];
	size_t n_payloads;
	const char *hardware;
	uint64_t min_sv;
	uint64_t now;
	const char *decrypt_key;
	const char *keys;
	const char *directive;
	const char *device;
	const char *nonce;
};

enum { OPT_ROOT = 256, OPT_UPDATE, OPT_RELEASE, OPT_PAYLOAD, OPT_HW, OPT_MINSV, OPT_NOW, OPT_NOCLOCK,
       OPT_DKEY, OPT_KEYS, OPT_DIRECTIVE, OPT_DEVICE, OPT_NONCE };

static int parse_args(int argc, char **argv, struct verify_args *a)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "root-update", required_argument, NULL, OPT_UPDATE },
		{ "release", required_argument, NULL, OPT_RELEASE },
		{ "payload", required_argument, NULL, OPT_PAYLOAD },
		{ "hardware", required_argument, NULL, OPT_HW },
		{ "min-security-version", required_argument, NULL, OPT_MINSV },
		{ "now", required_argument, NULL, OPT_NOW },
		{ "no-clock", no_argument, NULL, OPT_NOCLOCK },
		{ "decrypt-key", required_argument, NULL, OPT_DKEY },
		{ "keys", required_argument, NULL, OPT_KEYS },
		{ "directive", required_argument, NULL, OPT_DIRECTIVE },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "nonce", required_argument, NULL, OPT_NONCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool clock_set = false;
	int c;
	a->now = cli_now();
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ROOT: a->root = optarg; break;
		case OPT_UPDATE:
			if (a->n_updates == AIRLOCK_ROOT_CHAIN_MAX)
				return cli_fail(AIRLOCK_ERR_ROOT_CHAIN, "more than %d root updates", AIRLOCK_ROOT_CHAIN_MAX);
			a->updates[a->n_updates++] = optarg;
			break;
		case OPT_RELEASE: a->release = optarg; break;
		case OPT_PAYLOAD:
			if (a->n_payloads == MAX_PAYLOAD_ARGS)
				return cli_usage_error("more than %d --payload", MAX_PAYLOAD_ARGS);
			if (!strchr(optarg, '='))
				return cli_usage_error("--payload wants NAME=FILE, not '%s'", optarg);
			a->payloads[a->n_payloads++] = optarg;
			break;
		case OPT_HW: a->hardware = optarg; break;
		case OPT_MINSV:
			if (!cli_parse_u64(optarg, &a->min_sv))
				return cli_usage_error("bad security version '%s'", optarg);
			break;
		case OPT_NOW:
			if (clock_set)
				return cli_usage_error("--now and --no-clock exclude each other, and --now is given once");
			if (!cli_parse_time(optarg, cli_now(), &a->now) || a->now == 0)
				return cli_usage_error("bad --now '%s'", optarg);
			clock_set = true;
			break;
		case OPT_NOCLOCK:
			if (clock_set)
				return cli_usage_error("--now and --no-clock exclude each other, and --now is given once");
			a->now = 0;
			clock_set = true;
			break;
		case OPT_DKEY: a->decrypt_key = optarg; break;
		case OPT_KEYS: a->keys = optarg; break;
		case OPT_DIRECTIVE: a->directive = optarg; break;
		case OPT_DEVICE: a->device = optarg; break;
		case OPT_NONCE: a->nonce = optarg; break;
		case 'h': fputs(verify_usage, stdout); return -1;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->root || !a->release == !a->directive)
		return cli_usage_error("--root and one of --release or --directive are required");
	if (a->directive && (!a->device || !a->nonce))
		return cli_usage_error("--directive needs --device and --nonce");
	if (!a->decrypt_key != !a->keys)
		return cli_usage_error("--decrypt-key and --keys go together");
	return EXIT_OK;
}

/* Loads the trusted root and walks the update chain. bufs keeps every file
 * alive, since each root struct views its own file. */
static int load_root(const struct verify_args *a, uint8_t **bufs, struct airlock_root *root)
{
	struct airlock_sig_report rep, rep_new;
	size_t len;
	char msg[256];
	airlock_err err = cli_read_file(a->root, AIRLOCK_ROOT_MAX_LEN, &bufs[0], &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", a->root);
	memset(&rep, 0, sizeof rep);
	err = airlock_root_load_trusted(bufs[0], len, root, &rep);
	if (err != AIRLOCK_OK) {
		if (rep.threshold) {
			cli_describe_sigs(&rep, AIRLOCK_ROLE_ROOT, err, msg, sizeof msg);
			return cli_fail(err, "root %s: %s", a->root, msg);
		}
		return cli_fail(err, "root %s", a->root);
	}
	for (size_t i = 0; i < a->n_updates; i++) {
		struct airlock_root next;
		err = cli_read_file(a->updates[i], AIRLOCK_ROOT_MAX_LEN, &bufs[i + 1], &len);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "%s", a->updates[i]);
		memset(&rep, 0, sizeof rep);
		memset(&rep_new, 0, sizeof rep_new);
		err = airlock_root_update(root, bufs[i + 1], len, &next, &rep, &rep_new);
		if (err == AIRLOCK_ERR_ROOT_VERSION)
			return cli_fail(err, "root update %s: not version %llu", a->updates[i],
					(unsigned long long)root->version + 1);
		if (err != AIRLOCK_OK && rep_new.threshold) {
			cli_describe_sigs(&rep_new, AIRLOCK_ROLE_ROOT, err, msg, sizeof msg);
			return cli_fail(err, "root update %s: by its own keys: %s", a->updates[i], msg);
		}
		if (err != AIRLOCK_OK && rep.threshold) {
			cli_describe_sigs(&rep, AIRLOCK_ROLE_ROOT, err, msg, sizeof msg);
			return cli_fail(err, "root update %s: by the keys of version %llu: %s", a->updates[i],
					(unsigned long long)root->version, msg);
		}
		if (err != AIRLOCK_OK)
			return cli_fail(err, "root update %s", a->updates[i]);
		*root = next;
	}
	printf("OK root version %llu (%s)\n", (unsigned long long)root->version,
	       a->n_updates ? a->updates[a->n_updates - 1] : a->root);
	return EXIT_OK;
}

static int release_failure(airlock_err err, const char *path, const struct airlock_release *rel,
			   const struct airlock_root *root, const struct verify_args *a,
			   const struct airlock_sig_report *rep)
{
	char msg[256], when[32];
	switch (err) {
	case AIRLOCK_ERR_BAD_SIGNATURE:
	case AIRLOCK_ERR_WRONG_ROLE:
	case AIRLOCK_ERR_UNKNOWN_KEY:
	case AIRLOCK_ERR_THRESHOLD:
		cli_describe_sigs(rep, AIRLOCK_ROLE_RELEASE, err, msg, sizeof msg);
		return cli_fail(err, "release %s: %s", path, msg);
	case AIRLOCK_ERR_ROLLBACK:
		return cli_fail(err, "release %s: security_version %llu is below the minimum %llu", path,
				(unsigned long long)rel->security_version, (unsigned long long)a->min_sv);
	case AIRLOCK_ERR_HARDWARE_MISMATCH:
		return cli_fail(err, "release %s: not built for hardware '%s'", path, a->hardware);
	case AIRLOCK_ERR_EXPIRED:
		if (root->expires <= a->now) {
			cli_format_time(root->expires, when, sizeof when);
			return cli_fail(err, "root version %llu expired at %s", (unsigned long long)root->version, when);
		}
		cli_format_time(rel->expires, when, sizeof when);
		return cli_fail(err, "release %s expired at %s", path, when);
	default:
		return cli_fail(err, "release %s", path);
	}
}

static int verify_directive(const struct verify_args *a, const struct airlock_root *root)
{
	uint8_t nonce[AIRLOCK_NONCE_MAX_LEN], *buf = NULL;
	size_t len, nonce_len = strlen(a->nonce) / 2;
	struct airlock_directive dir;
	struct airlock_sig_report rep;
	char msg[256], hex[2 * AIRLOCK_SHA256_LEN + 1];
	if (strlen(a->nonce) % 2 || nonce_len > sizeof nonce ||
	    airlock_hex_decode(a->nonce, strlen(a->nonce), nonce, nonce_len) != AIRLOCK_OK)
		return cli_usage_error("--nonce wants 16..64 bytes of hex");
	airlock_err err = cli_read_file(a->directive, AIRLOCK_DIRECTIVE_MAX_LEN, &buf, &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", a->directive);
	struct airlock_directive_policy policy = { a->device, nonce, nonce_len, a->now };
	memset(&rep, 0, sizeof rep);
	err = airlock_directive_verify(root, buf, len, &policy, &dir, &rep);
	int rc = EXIT_OK;
	if (err == AIRLOCK_ERR_BAD_SIGNATURE || err == AIRLOCK_ERR_WRONG_ROLE || err == AIRLOCK_ERR_UNKNOWN_KEY ||
	    err == AIRLOCK_ERR_THRESHOLD) {
		cli_describe_sigs(&rep, AIRLOCK_ROLE_DIRECTOR, err, msg, sizeof msg);
		rc = cli_fail(err, "directive %s: %s", a->directive, msg);
	} else if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "directive %s", a->directive);
	} else if (dir.action == AIRLOCK_ACTION_INSTALL) {
		cli_hex(dir.release_digest, AIRLOCK_SHA256_LEN, hex);
		printf("OK directive %s: install release %s (%zu payload%s)%s\n", a->directive, hex, dir.n_payloads,
		       dir.n_payloads == 1 ? "" : "s", dir.wrapped_key.len ? ", content key wrapped for this device" : "");
		for (size_t i = 0; i < dir.n_payloads; i++) {
			cli_hex(dir.payloads[i].digest, AIRLOCK_SHA256_LEN, hex);
			printf("   payload %.*s: %llu bytes, sha256 %s, %.*s\n", (int)dir.payloads[i].name.len,
			       dir.payloads[i].name.ptr, (unsigned long long)dir.payloads[i].size, hex,
			       (int)dir.payloads[i].urls[0].len, dir.payloads[i].urls[0].ptr);
		}
	} else {
		printf("OK directive %s: nothing to do\n", a->directive);
	}
	free(buf);
	return rc;
}

int cmd_verify(int argc, char **argv)
{
	static struct verify_args a;
	static uint8_t *bufs[AIRLOCK_ROOT_CHAIN_MAX + 1];
	struct airlock_root root;
	struct airlock_release rel;
	struct airlock_sig_report rep;
	uint8_t *rel_buf = NULL, digest[AIRLOCK_SHA256_LEN];
	struct payload_key content_key;
	size_t rel_len;
	int rc;

	cli_cmd = "airlock verify";
	memset(&a, 0, sizeof a);
	memset(&content_key, 0, sizeof content_key);
	rc = parse_args(argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;

	rc = load_root(&a, bufs, &root);
	if (rc != EXIT_OK)
		goto out;
	if (a.directive) {
		rc = verify_directive(&a, &root);
		goto out;
	}

	airlock_err err = cli_read_file(a.release, AIRLOCK_RELEASE_MAX_LEN, &rel_buf, &rel_len);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", a.release);
		goto out;
	}
	struct airlock_release_policy policy = {
		.hardware = a.hardware, .min_security_version = a.min_sv, .now = a.now,
	};
	memset(&rep, 0, sizeof rep);
	err = airlock_release_verify(&root, rel_buf, rel_len, &policy, &rel, digest, &rep);
	if (err != AIRLOCK_OK) {
		rc = release_failure(err, a.release, &rel, &root, &a, &rep);
		goto out;
	}
	char hex[2 * AIRLOCK_SHA256_LEN + 1];
	cli_hex(digest, sizeof digest, hex);
	printf("OK release %s: %.*s %.*s, security_version %llu, %u valid release signatures of %u (threshold %u)\n",
	       a.release, (int)rel.product.len, rel.product.ptr, (int)rel.version.len, rel.version.ptr,
	       (unsigned long long)rel.security_version, rep.valid, (unsigned)rep.n, rep.threshold);
	printf("   release digest %s\n", hex);
	if (a.now == 0)
		printf("   expiry not checked (--no-clock)\n");

	if (a.decrypt_key) {
		rc = payload_key_load(&content_key, a.decrypt_key, a.keys);
		if (rc != EXIT_OK)
			goto out;
	}
	for (size_t i = 0; i < a.n_payloads; i++) {
		const char *eq = strchr(a.payloads[i], '=');
		const char *file = eq + 1;
		size_t name_len = (size_t)(eq - a.payloads[i]);
		const struct airlock_payload *p = airlock_release_find_payload(&rel, a.payloads[i], name_len);
		if (!p) {
			rc = cli_fail(AIRLOCK_ERR_NOT_FOUND, "release %s has no payload named '%.*s'", a.release,
				      (int)name_len, a.payloads[i]);
			goto out;
		}
		rc = payload_verify_file(p, file, a.decrypt_key ? &content_key : NULL);
		if (rc != EXIT_OK)
			goto out;
	}
	rc = EXIT_OK;
out:
	payload_key_wipe(&content_key);
	for (size_t i = 0; i <= AIRLOCK_ROOT_CHAIN_MAX; i++) {
		free(bufs[i]);
		bufs[i] = NULL;
	}
	free(rel_buf);
	return rc;
}
