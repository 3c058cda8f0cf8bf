/* airlock deployments create|list|cancel. */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "airlock/meta.h"

static const char deploy_usage[] =
	"usage: airlock deployments create --release DIGEST (--device ID | --group G | --tag T)\n"
	"         [connection options]\n"
	"       airlock deployments list [connection options]\n"
	"       airlock deployments cancel ID [connection options]\n"
	"\n"
	"create assigns a pushed release (its 64-hex digest, as 'airlock release\n"
	"push' and 'release list' print it) to one device, a group or a tag; the\n"
	"server refuses it while the release's artifacts are incomplete. create and\n"
	"cancel need the deploy scope, list the read scope.\n";

static const struct admin_col deploy_cols[] = {
	{ "id", "ID", COL_INT },
	{ "release", "RELEASE", COL_TEXT },
	{ "target_kind", "KIND", COL_TEXT },
	{ "target", "TARGET", COL_TEXT },
	{ "status", "STATUS", COL_TEXT },
	{ "pending", "PENDING", COL_INT },
	{ "succeeded", "OK", COL_INT },
	{ "failed", "FAILED", COL_INT },
	{ "created", "CREATED", COL_TIME },
};

enum { OPT_RELEASE = 256, OPT_DEVICE, OPT_GROUP, OPT_TAG };

struct dep_args {
	struct admin_opts o;
	const char *release, *kind, *target;
	uint64_t id;
};

static bool lower_hex64(const char *s)
{
	return strlen(s) == 64 && strspn(s, "0123456789abcdef") == 64;
}

static int set_target(struct dep_args *a, const char *kind, const char *target)
{
	if (a->kind)
		return cli_usage_error("give exactly one of --device, --group, --tag");
	if (airlock_check_device_id(target, strlen(target)) != AIRLOCK_OK)
		return cli_usage_error("--%s '%s' is not a valid id", kind, target);
	a->kind = kind;
	a->target = target;
	return EXIT_OK;
}

static int parse(int verb, int argc, char **argv, struct dep_args *a)
{
	static const struct option opts[] = {
		{ "release", required_argument, NULL, OPT_RELEASE },
		{ "device", required_argument, NULL, OPT_DEVICE },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "tag", required_argument, NULL, OPT_TAG },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(&a->o, c, optarg);
		if (k < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", deploy_usage, admin_common_usage);
			return -1;
		}
		if (verb != 0 || c < OPT_RELEASE || c > OPT_TAG)
			return cli_usage_error("bad option");
		if (c == OPT_RELEASE)
			a->release = optarg;
		else if ((rc = set_target(a, c == OPT_DEVICE ? "device" : c == OPT_GROUP ? "group" : "tag", optarg)))
			return rc;
	}
	if (verb == 2) {
		if (optind + 1 != argc)
			return cli_usage_error("one deployment id is required");
		if (!cli_parse_u64(argv[optind], &a->id) || a->id == 0 || a->id > INT64_MAX)
			return cli_usage_error("'%s' is not a deployment id (a positive integer)", argv[optind]);
		return EXIT_OK;
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (verb == 0 && (!a->release || !a->kind))
		return cli_usage_error("--release and one of --device, --group, --tag are required");
	if (verb == 0 && !lower_hex64(a->release))
		return cli_usage_error("--release wants the release digest (64 lowercase hex digits)");
	return EXIT_OK;
}

static int deploy_run(int verb, int argc, char **argv)
{
	static const char *const names[] = { "airlock deployments create", "airlock deployments list",
					     "airlock deployments cancel" };
	struct dep_args a;
	struct admin_client cl;
	struct admin_resp r = { 0 };
	char path[64];
	memset(&a, 0, sizeof a);
	cli_cmd = names[verb];
	int rc = parse(verb, argc, argv, &a);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &a.o, true)) != EXIT_OK)
		return rc;
	if (verb == 0) {
		json_t *body = json_pack("{s:s,s:s,s:s}", "release", a.release, "target_kind", a.kind, "target", a.target);
		rc = body ? admin_call(&cl, "POST", "deployments", body, &r) : cli_fail(AIRLOCK_ERR_NOMEM, "request");
		json_decref(body);
	} else if (verb == 1) {
		rc = admin_call(&cl, "GET", "deployments", NULL, &r);
	} else {
		snprintf(path, sizeof path, "deployments/%llu/cancel", (unsigned long long)a.id);
		rc = admin_call(&cl, "POST", path, NULL, &r);
	}
	if (rc == EXIT_OK && a.o.json) {
		admin_print_raw(&r);
	} else if (rc == EXIT_OK && verb == 0) {
		char id[32], st[32];
		admin_format_value(json_object_get(r.json, "id"), COL_INT, id, sizeof id);
		admin_format_value(json_object_get(r.json, "status"), COL_TEXT, st, sizeof st);
		printf("deployment %s: release %s to %s %s (%s)\n", id, a.release, a.kind, a.target, st);
	} else if (rc == EXIT_OK && verb == 1) {
		admin_print_table(json_object_get(r.json, "deployments"), deploy_cols,
				  sizeof deploy_cols / sizeof deploy_cols[0]);
	} else if (rc == EXIT_OK) {
		printf("deployment %llu cancelled\n", (unsigned long long)a.id);
	}
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_deployments(int argc, char **argv)
{
	static const char *const verbs[] = { "create", "list", "cancel", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock deployments";
	int v = admin_subverb(argc, argv, verbs, deploy_usage, &rc);
	return v < 0 ? rc : deploy_run(v, argc - 1, argv + 1);
}
