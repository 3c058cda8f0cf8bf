/* airlock audit verify | checkpoint: the server's audit log, checked offline. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli.h"

static const char verify_usage[] =
	"usage: airlock audit verify --file EXPORT.json --key AUDIT.pub [--checkpoint SAVED.json]\n"
	"\n"
	"Checks an export of the server's audit log (GET /api/v1/audit, format 1):\n"
	"every entry's hash against its fields and its predecessor, the sequence\n"
	"numbers from 1 without a gap, and every checkpoint: signed by the audit\n"
	"key, one head per size, the chain's hash at its size, and no checkpoint\n"
	"beyond the last entry. With --checkpoint, also a checkpoint saved earlier\n"
	"by 'airlock audit checkpoint': it catches a log cut short or rewritten\n"
	"after it even when the stored checkpoints were deleted too.\n"
	"Exit 0 when the log is intact; otherwise one line names the first bad\n"
	"entry or checkpoint and why.\n";

static const char checkpoint_usage[] =
	"usage: airlock audit checkpoint --file EXPORT.json --key AUDIT.pub --out SAVED.json\n"
	"         [--checkpoint OLD.json] [--replace]\n"
	"\n"
	"Verifies the export as 'airlock audit verify' does (against OLD.json too\n"
	"if given), then saves its newest checkpoint to SAVED.json, to be kept\n"
	"away from the server and given to later verifications. Ask the server\n"
	"for a checkpoint (POST /api/v1/audit/checkpoint) before exporting so that\n"
	"the saved one covers the whole log. Never overwrites unless --replace.\n";

/* An export is read whole: 1 GiB is millions of entries. */
#define EXPORT_MAX ((size_t)1 << 30)
#define CHECKPOINT_FILE_MAX 4096

struct audit_args {
	const char *file;
	const char *key;
	const char *checkpoint;
	const char *out;
	bool replace;
};

enum { OPT_FILE = 256, OPT_KEY, OPT_CHECKPOINT, OPT_OUT, OPT_REPLACE };

/* Returns EXIT_OK, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct audit_args *a, bool saving)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, OPT_FILE },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case OPT_FILE: a->file = optarg; break;
		case OPT_KEY: a->key = optarg; break;
		case OPT_CHECKPOINT: a->checkpoint = optarg; break;
		case OPT_OUT:
			if (!saving)
				return cli_usage_error("--out belongs to 'airlock audit checkpoint'");
			a->out = optarg;
			break;
		case OPT_REPLACE:
			if (!saving)
				return cli_usage_error("--replace belongs to 'airlock audit checkpoint'");
			a->replace = true;
			break;
		case 'h': fputs(saving ? checkpoint_usage : verify_usage, stdout); return -1;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!a->file || !a->key)
		return cli_usage_error("--file and --key are required");
	if (saving && !a->out)
		return cli_usage_error("--out is required");
	return EXIT_OK;
}

/* The library code that tells a script what kind of failure this is; the
 * line before it says which entry or checkpoint and why. */
static airlock_err audit_to_err(enum audit_status s)
{
	switch (s) {
	case AUDIT_MALFORMED: return AIRLOCK_ERR_MALFORMED;
	case AUDIT_BAD_SEQ: return AIRLOCK_ERR_BAD_VALUE;
	case AUDIT_BAD_PREV:
	case AUDIT_BAD_HASH:
	case AUDIT_CHECKPOINT_MISMATCH: return AIRLOCK_ERR_DIGEST_MISMATCH;
	case AUDIT_BAD_CHECKPOINT_SIG: return AIRLOCK_ERR_BAD_SIGNATURE;
	case AUDIT_CHECKPOINT_WRONG_KEY: return AIRLOCK_ERR_UNKNOWN_KEY;
	case AUDIT_CHECKPOINT_CONFLICT: return AIRLOCK_ERR_BAD_VALUE;
	case AUDIT_TRUNCATED: return AIRLOCK_ERR_SIZE_MISMATCH;
	case AUDIT_ERR_NOMEM: return AIRLOCK_ERR_NOMEM;
	case AUDIT_ERR_ARG: return AIRLOCK_ERR_INVALID_ARG;
	default: return AIRLOCK_ERR_CRYPTO;
	}
}

static int verdict_fail(const char *path, const struct audit_verdict *v)
{
	char msg[256];
	audit_verdict_describe(v, msg, sizeof msg);
	return cli_fail(audit_to_err(v->status), "%s: %s", path, msg);
}

static int load_key(const char *path, struct audit_key *key)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	enum airlock_alg alg;
	airlock_err err = airlock_pubkey_load(path, &alg, pub, &pub_len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	enum audit_status s = audit_key_init(key, alg, pub, pub_len);
	if (s == AUDIT_ERR_ARG)
		return cli_fail(AIRLOCK_ERR_UNSUPPORTED_ALG, "%s: a %s key cannot sign checkpoints", path,
				airlock_alg_name(alg));
	if (s != AUDIT_OK)
		return cli_fail(audit_to_err(s), "%s", path);
	return EXIT_OK;
}

static int load_checkpoint(const char *path, struct audit_checkpoint *cp)
{
	struct audit_verdict v;
	uint8_t *buf = NULL;
	size_t len;
	airlock_err err = cli_read_file(path, CHECKPOINT_FILE_MAX, &buf, &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	enum audit_status s = audit_parse_checkpoint((const char *)buf, len, cp, &v);
	free(buf);
	if (s != AUDIT_OK)
		return cli_fail(audit_to_err(s), "%s: not a saved checkpoint: %s", path,
				s == AUDIT_MALFORMED ? v.reason : audit_status_name(s));
	return EXIT_OK;
}

/* Loads and verifies; on EXIT_OK, *log holds the export (free it). */
static int verify_export(const struct audit_args *a, struct audit_log *log, struct audit_verdict *v,
			 struct audit_checkpoint *ext)
{
	struct audit_key key;
	uint8_t *buf = NULL;
	size_t len;
	int rc = load_key(a->key, &key);
	if (rc == EXIT_OK && a->checkpoint)
		rc = load_checkpoint(a->checkpoint, ext);
	if (rc != EXIT_OK)
		return rc;
	airlock_err err = cli_read_file(a->file, EXPORT_MAX, &buf, &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", a->file);
	enum audit_status s = audit_parse_export((const char *)buf, len, log, v);
	free(buf);
	if (s == AUDIT_OK)
		s = audit_verify(log, &key, a->checkpoint ? ext : NULL, v);
	if (s != AUDIT_OK) {
		audit_log_free(log);
		return verdict_fail(a->file, v);
	}
	char msg[256];
	audit_verdict_describe(v, msg, sizeof msg);
	printf("OK audit log %s: %s, audit key %s\n", a->file, msg, cli_keyid_short(key.keyid));
	if (a->checkpoint)
		printf("   saved checkpoint %s (seq %lld) matches\n", a->checkpoint, (long long)ext->seq);
	if ((size_t)v->newest_checkpoint < v->n_entries)
		printf("   entries %lld..%zu are not covered by a checkpoint yet\n", (long long)v->newest_checkpoint + 1,
		       v->n_entries);
	return EXIT_OK;
}

static int audit_verify_cmd(int argc, char **argv)
{
	struct audit_args a = { 0 };
	struct audit_log log = { 0 };
	struct audit_verdict v;
	struct audit_checkpoint ext;
	cli_cmd = "airlock audit verify";
	int rc = parse_args(argc, argv, &a, false);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	rc = verify_export(&a, &log, &v, &ext);
	audit_log_free(&log);
	return rc;
}

static int audit_checkpoint_cmd(int argc, char **argv)
{
	struct audit_args a = { 0 };
	struct audit_log log = { 0 };
	struct audit_verdict v;
	struct audit_checkpoint ext;
	cli_cmd = "airlock audit checkpoint";
	int rc = parse_args(argc, argv, &a, true);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	rc = verify_export(&a, &log, &v, &ext);
	if (rc != EXIT_OK)
		goto out;
	if (log.n_checkpoints == 0) {
		rc = cli_fail(AIRLOCK_ERR_NOT_FOUND, "%s: no checkpoint to save (ask the server for one first)", a.file);
		goto out;
	}
	/* Checkpoints ascend (the verifier checked it): the last is the newest. */
	const struct audit_checkpoint *cp = &log.checkpoints[log.n_checkpoints - 1];
	char *json = audit_checkpoint_json(cp);
	size_t len = json ? strlen(json) : 0;
	char *text = json ? malloc(len + 2) : NULL;
	if (!text) {
		free(json);
		rc = cli_fail(AIRLOCK_ERR_NOMEM, "%s", a.out);
		goto out;
	}
	memcpy(text, json, len);
	text[len] = '\n';
	text[len + 1] = '\0';
	free(json);
	airlock_err err = cli_write_file(a.out, text, len + 1, a.replace);
	free(text);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", a.out);
		goto out;
	}
	char head[2 * AUDIT_HASH_LEN + 1];
	cli_hex(cp->head, sizeof cp->head, head);
	printf("saved checkpoint seq %lld head %s to %s\n", (long long)cp->seq, head, a.out);
out:
	audit_log_free(&log);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_verify_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "checkpoint") == 0)
		return audit_checkpoint_cmd(argc - 1, argv + 1);
	cli_cmd = "airlock audit";
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("%s\n%s", verify_usage, checkpoint_usage);
		return EXIT_OK;
	}
	return cli_usage_error("expected 'verify' or 'checkpoint'");
}
