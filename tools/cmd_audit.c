/*
 * airlock audit verify | checkpoint: the server's audit log, checked offline
 * (or fetched with --remote); airlock audit show | fetch: read it over the
 * admin API.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin_client.h"
#include "audit.h"
#include "cli.h"

static const char verify_usage[] =
	"usage: airlock audit verify (--file EXPORT.json | --remote [connection options])\n"
	"         --key AUDIT.pub [--checkpoint SAVED.json]\n"
	"\n"
	"Checks an export of the server's audit log (GET /api/v1/audit, format 1):\n"
	"every entry's hash against its fields and its predecessor, the sequence\n"
	"numbers from 1 without a gap, and every checkpoint: signed by the audit\n"
	"key, one head per size, the chain's hash at its size, and no checkpoint\n"
	"beyond the last entry. With --checkpoint, also a checkpoint saved earlier\n"
	"by 'airlock audit checkpoint': it catches a log cut short or rewritten\n"
	"after it even when the stored checkpoints were deleted too.\n"
	"Exit 0 when the log is intact; otherwise one line names the first bad\n"
	"entry or checkpoint and why. --remote fetches the whole log from the\n"
	"server (read scope; see 'airlock audit fetch --help' for the connection\n"
	"options) instead of reading a file.\n";

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
	bool remote, admin_given;
	struct admin_opts o;
};

enum { OPT_FILE = 256, OPT_KEY, OPT_CHECKPOINT, OPT_OUT, OPT_REPLACE, OPT_REMOTE, OPT_FROM, OPT_TO, OPT_NEW_CP };

/* Returns EXIT_OK, -1 after --help, or an exit code. */
static int parse_args(int argc, char **argv, struct audit_args *a, bool saving)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, OPT_FILE },
		{ "key", required_argument, NULL, OPT_KEY },
		{ "checkpoint", required_argument, NULL, OPT_CHECKPOINT },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "remote", no_argument, NULL, OPT_REMOTE },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(&a->o, c, optarg);
		if (k < 0)
			return -k;
		if (k) {
			a->admin_given = true;
			continue;
		}
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
		case OPT_REMOTE:
			if (saving)
				return cli_usage_error("--remote belongs to 'airlock audit verify'");
			a->remote = true;
			break;
		case 'h': fputs(saving ? checkpoint_usage : verify_usage, stdout); return -1;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (a->admin_given && !a->remote)
		return cli_usage_error("connection options need --remote");
	if (a->o.json)
		return cli_usage_error("--json does not apply here");
	if (a->remote && a->file)
		return cli_usage_error("--file or --remote, not both");
	if (a->remote)
		a->file = "from the server";
	if (!a->file || !a->key)
		return cli_usage_error(saving ? "--file and --key are required" : "--file (or --remote) and --key are required");
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

/* The whole log from the server, into memory (bounded by ADMIN_BODY_MAX). */
static int fetch_export(const struct audit_args *a, uint8_t **buf, size_t *len)
{
	struct admin_client cl;
	struct admin_resp r;
	int rc = admin_open(&cl, &a->o, true);
	if (rc != EXIT_OK)
		return rc;
	rc = admin_call(&cl, "GET", "audit", NULL, &r);
	admin_close(&cl);
	if (rc == EXIT_OK) {
		*buf = (uint8_t *)r.body;
		*len = r.len;
		r.body = NULL;
	}
	admin_resp_free(&r);
	return rc;
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
	if (a->remote) {
		rc = fetch_export(a, &buf, &len);
		if (rc != EXIT_OK)
			return rc;
	} else {
		airlock_err err = cli_read_file(a->file, EXPORT_MAX, &buf, &len);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "%s", a->file);
	}
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

/* ---- over the admin API ---- */

static const char show_usage[] =
	"usage: airlock audit show [--from N] [--to N] [connection options]\n"
	"\n"
	"Prints the server's audit log (read scope), one entry per line: seq,\n"
	"time, actor, action, detail; then its signed checkpoints. --from and --to\n"
	"bound the entries by seq. It shows; 'airlock audit verify' proves.\n";

static const char fetch_usage[] =
	"usage: airlock audit fetch --out EXPORT.json [--from N] [--to N]\n"
	"         [--new-checkpoint] [--replace] [connection options]\n"
	"\n"
	"Saves the server's audit export (read scope), streamed to EXPORT.json,\n"
	"which appears whole or not at all; then 'airlock audit verify --file\n"
	"EXPORT.json --key AUDIT.pub' checks it. --new-checkpoint first asks the\n"
	"server to sign a checkpoint of the whole log (admin scope), so that the\n"
	"export is covered to its end. Never overwrites unless --replace.\n";

struct remote_args {
	struct admin_opts o;
	uint64_t from, to;
	const char *out;
	bool replace, new_cp;
};

static int parse_remote(int argc, char **argv, struct remote_args *a, bool fetch)
{
	static const struct option opts[] = {
		{ "from", required_argument, NULL, OPT_FROM },
		{ "to", required_argument, NULL, OPT_TO },
		{ "out", required_argument, NULL, OPT_OUT },
		{ "replace", no_argument, NULL, OPT_REPLACE },
		{ "new-checkpoint", no_argument, NULL, OPT_NEW_CP },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(&a->o, c, optarg);
		if (k < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", fetch ? fetch_usage : show_usage, admin_common_usage);
			return -1;
		}
		if (!fetch && (c == OPT_OUT || c == OPT_REPLACE || c == OPT_NEW_CP))
			return cli_usage_error("--out, --replace and --new-checkpoint belong to 'airlock audit fetch'");
		if (c == OPT_FROM || c == OPT_TO) {
			uint64_t *v = c == OPT_FROM ? &a->from : &a->to;
			if (!cli_parse_u64(optarg, v) || *v == 0 || *v > INT64_MAX)
				return cli_usage_error("--from and --to want an entry number (1, 2, ...), not '%s'", optarg);
		} else if (c == OPT_OUT) {
			a->out = optarg;
		} else if (c == OPT_REPLACE) {
			a->replace = true;
		} else if (c == OPT_NEW_CP) {
			a->new_cp = true;
		} else {
			return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (a->from && a->to && a->to < a->from)
		return cli_usage_error("--to is below --from");
	if (fetch && !a->out)
		return cli_usage_error("--out is required");
	return EXIT_OK;
}

static void audit_path(const struct remote_args *a, char *out, size_t cap)
{
	int n = snprintf(out, cap, "audit");
	if (a->from)
		n += snprintf(out + n, cap - (size_t)n, "?from=%llu", (unsigned long long)a->from);
	if (a->to)
		snprintf(out + n, cap - (size_t)n, "%cto=%llu", a->from ? '&' : '?', (unsigned long long)a->to);
}

/* Text from the log without control bytes. */
static void print_clean(const char *s)
{
	for (; *s; s++)
		putchar(((unsigned char)*s < 0x20 || *s == 0x7f) ? '?' : *s);
}

static void print_log(const struct audit_log *log)
{
	char when[32], head[2 * AUDIT_HASH_LEN + 1];
	for (size_t i = 0; i < log->n_entries; i++) {
		const struct audit_entry *e = &log->entries[i];
		cli_format_time((uint64_t)e->time, when, sizeof when);
		printf("%lld  %s  ", (long long)e->seq, when);
		print_clean(e->actor);
		putchar(' ');
		print_clean(e->action);
		putchar(' ');
		print_clean(e->detail);
		putchar('\n');
	}
	for (size_t i = 0; i < log->n_checkpoints; i++) {
		const struct audit_checkpoint *cp = &log->checkpoints[i];
		cli_format_time((uint64_t)cp->time, when, sizeof when);
		cli_hex(cp->head, sizeof cp->head, head);
		printf("checkpoint seq %lld  %s  head %s  key %s\n", (long long)cp->seq, when, head,
		       cli_keyid_short(cp->keyid));
	}
	printf("%zu entries, %zu checkpoints (not verified: see 'airlock audit verify')\n", log->n_entries,
	       log->n_checkpoints);
}

int cmd_audit_show(int argc, char **argv)
{
	struct remote_args a;
	struct admin_client cl;
	struct admin_resp r = { 0 };
	char path[96];
	memset(&a, 0, sizeof a);
	cli_cmd = "airlock audit show";
	int rc = parse_remote(argc, argv, &a, false);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &a.o, true)) != EXIT_OK)
		return rc;
	audit_path(&a, path, sizeof path);
	rc = admin_call(&cl, "GET", path, NULL, &r);
	if (rc == EXIT_OK && a.o.json) {
		admin_print_raw(&r);
	} else if (rc == EXIT_OK) {
		struct audit_log log = { 0 };
		struct audit_verdict v;
		if (audit_parse_export(r.body, r.len, &log, &v) != AUDIT_OK) {
			fprintf(stderr, "%s: GET %s: not an audit export: %s\n", cli_cmd, path, v.reason);
			rc = EXIT_NETWORK;
		} else {
			print_log(&log);
		}
		audit_log_free(&log);
	}
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_audit_fetch(int argc, char **argv)
{
	struct remote_args a;
	struct admin_client cl;
	struct admin_resp r = { 0 };
	struct cli_out out;
	char path[96];
	memset(&a, 0, sizeof a);
	cli_cmd = "airlock audit fetch";
	int rc = parse_remote(argc, argv, &a, true);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &a.o, true)) != EXIT_OK)
		return rc;
	if (a.new_cp) {
		rc = admin_call(&cl, "POST", "audit/checkpoint", NULL, &r);
		if (rc == EXIT_OK)
			printf("checkpoint signed: seq %lld\n", (long long)json_integer_value(json_object_get(r.json, "seq")));
		admin_resp_free(&r);
	}
	airlock_err err = rc == EXIT_OK ? cli_out_open(&out, a.out, a.replace) : AIRLOCK_OK;
	if (err != AIRLOCK_OK)
		rc = cli_fail(err, "%s", a.out);
	if (rc == EXIT_OK) {
		audit_path(&a, path, sizeof path);
		rc = admin_download(&cl, path, &out);
		if (rc != EXIT_OK)
			cli_out_abort(&out);
		else if ((err = cli_out_commit(&out)) != AIRLOCK_OK)
			rc = cli_fail(err, "%s", a.out);
	}
	if (rc == EXIT_OK)
		printf("audit export saved to %s; check it with 'airlock audit verify --file %s --key AUDIT.pub'\n", a.out,
		       a.out);
	admin_close(&cl);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return audit_verify_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "checkpoint") == 0)
		return audit_checkpoint_cmd(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "show") == 0)
		return cmd_audit_show(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "fetch") == 0)
		return cmd_audit_fetch(argc - 1, argv + 1);
	cli_cmd = "airlock audit";
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("%s\n%s\n%s\n%s%s", verify_usage, checkpoint_usage, show_usage, fetch_usage, admin_common_usage);
		return EXIT_OK;
	}
	return cli_usage_error("expected 'verify', 'checkpoint', 'show' or 'fetch'");
}
