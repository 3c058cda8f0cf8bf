/* airlock tokens create|list|revoke: admin bearer tokens (admin scope). */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "airlock/meta.h"

static const char tokens_usage[] =
	"usage: airlock tokens create --name N --scopes read,release,deploy,admin\n"
	"         [--ttl DURATION] [connection options]\n"
	"       airlock tokens list [connection options]\n"
	"       airlock tokens revoke ID [connection options]\n"
	"\n"
	"Admin tokens (all three need the admin scope). Scopes: read (lists, audit,\n"
	"artifacts), release (push releases), deploy (deployments), admin (all,\n"
	"and tokens, enrollment tokens, revocation). DURATION is seconds or N[smhd],\n"
	"60 s to 10 years (default 90 d). create prints the token once: the\n"
	"server keeps only its hash. list never shows secrets.\n";

static const struct admin_col token_cols[] = {
	{ "id", "ID", COL_TEXT },
	{ "name", "NAME", COL_TEXT },
	{ "scopes", "SCOPES", COL_TEXT },
	{ "created", "CREATED", COL_TIME },
	{ "expires", "EXPIRES", COL_TIME },
	{ "revoked", "REVOKED", COL_TIME },
	{ "created_by", "CREATED BY", COL_TEXT },
};

enum { OPT_NAME = 256, OPT_SCOPES, OPT_TTL };

struct tok_args {
	struct admin_opts o;
	const char *name, *scopes, *id;
	uint64_t ttl;
};

static bool scopes_ok(const char *s)
{
	static const char *const known[] = { "read", "release", "deploy", "admin" };
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (size_t i = 0; i < 4; i++)
			found |= n == strlen(known[i]) && strncmp(p, known[i], n) == 0;
		if (!found)
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

static int parse(int verb, int argc, char **argv, struct tok_args *a)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, OPT_NAME },
		{ "scopes", required_argument, NULL, OPT_SCOPES },
		{ "ttl", required_argument, NULL, OPT_TTL },
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
			printf("%s%s", tokens_usage, admin_common_usage);
			return -1;
		}
		if (verb != 0 || (c != OPT_NAME && c != OPT_SCOPES && c != OPT_TTL))
			return cli_usage_error("bad option");
		if (c == OPT_NAME)
			a->name = optarg;
		else if (c == OPT_SCOPES)
			a->scopes = optarg;
		else if (!admin_parse_duration(optarg, &a->ttl) || a->ttl < 60 || a->ttl > 10ull * 365 * 86400)
			return cli_usage_error("--ttl wants 60 s to 10 years, not '%s'", optarg);
	}
	if (verb == 2) {
		if (optind + 1 != argc)
			return cli_usage_error("one token id is required");
		a->id = argv[optind];
		if (strlen(a->id) != 16 || strspn(a->id, "0123456789abcdef") != 16)
			return cli_usage_error("'%s' is not a token id (16 lowercase hex digits, see 'tokens list')", a->id);
		return EXIT_OK;
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (verb == 0) {
		if (!a->name || !a->scopes)
			return cli_usage_error("--name and --scopes are required");
		if (airlock_check_label(a->name, strlen(a->name)) != AIRLOCK_OK)
			return cli_usage_error("--name must be a label (1..64 printable, no spaces)");
		if (!scopes_ok(a->scopes))
			return cli_usage_error("--scopes wants a comma list of read, release, deploy, admin; not '%s'", a->scopes);
	}
	return EXIT_OK;
}

static void print_created(json_t *j, const char *name)
{
	char tok[128], id[64], scopes[80], exp[40];
	admin_format_value(json_object_get(j, "token"), COL_TEXT, tok, sizeof tok);
	admin_format_value(json_object_get(j, "id"), COL_TEXT, id, sizeof id);
	admin_format_value(json_object_get(j, "scopes"), COL_TEXT, scopes, sizeof scopes);
	admin_format_value(json_object_get(j, "expires"), COL_TIME, exp, sizeof exp);
	printf("token (shown once): %s\n  id %s, name %s, scopes %s, expires %s\n", tok, id, name, scopes, exp);
	airlock_wipe(tok, sizeof tok);
}

static int tokens_run(int verb, int argc, char **argv)
{
	static const char *const names[] = { "airlock tokens create", "airlock tokens list", "airlock tokens revoke" };
	struct tok_args a;
	struct admin_client cl;
	struct admin_resp r = { 0 };
	json_t *body = NULL;
	char path[64];
	memset(&a, 0, sizeof a);
	cli_cmd = names[verb];
	int rc = parse(verb, argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &a.o, true)) != EXIT_OK)
		return rc;
	if (verb == 0) {
		body = json_pack("{s:s,s:s}", "name", a.name, "scopes", a.scopes);
		if (body && a.ttl)
			json_object_set_new(body, "ttl", json_integer((json_int_t)a.ttl));
		rc = body ? admin_call(&cl, "POST", "tokens", body, &r) : cli_fail(AIRLOCK_ERR_NOMEM, "request");
		json_decref(body);
	} else if (verb == 1) {
		rc = admin_call(&cl, "GET", "tokens", NULL, &r);
	} else {
		snprintf(path, sizeof path, "tokens/%s", a.id);
		rc = admin_call(&cl, "DELETE", path, NULL, &r);
	}
	if (rc == EXIT_OK && a.o.json)
		admin_print_raw(&r);
	else if (rc == EXIT_OK && verb == 0)
		print_created(r.json, a.name);
	else if (rc == EXIT_OK && verb == 1)
		admin_print_table(json_object_get(r.json, "tokens"), token_cols, sizeof token_cols / sizeof token_cols[0]);
	else if (rc == EXIT_OK)
		printf("token %s revoked\n", a.id);
	if (r.body)
		airlock_wipe(r.body, r.len);
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_tokens(int argc, char **argv)
{
	static const char *const verbs[] = { "create", "list", "revoke", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock tokens";
	int v = admin_subverb(argc, argv, verbs, tokens_usage, &rc);
	return v < 0 ? rc : tokens_run(v, argc - 1, argv + 1);
}
