/* airlock devices list|show|revoke, airlock enroll-token create. */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "airlock/meta.h"

static const char devices_usage[] =
	"usage: airlock devices list [connection options]\n"
	"       airlock devices show ID [connection options]\n"
	"       airlock devices revoke ID [connection options]\n"
	"\n"
	"list and show need the read scope; revoke needs admin. A revoked device\n"
	"is refused from its next request on (its certificate stays refused).\n";

static const char enroll_usage[] =
	"usage: airlock enroll-token create --hardware H [--group G] [--tags a,b]\n"
	"         [--ttl DURATION] [connection options]\n"
	"\n"
	"Creates a one-time enrollment token (admin scope) with which one device of\n"
	"hardware H enrolls (POST /api/v1/enroll with a CSR); the device joins group\n"
	"G and gets the tags. DURATION is seconds or N[smhd], 60 s to 30 d (default\n"
	"1 d). The token is printed once; the server keeps only its hash. The API\n"
	"has no listing of enrollment tokens.\n";

static const struct admin_col device_cols[] = {
	{ "id", "ID", COL_TEXT },
	{ "hardware", "HARDWARE", COL_TEXT },
	{ "group", "GROUP", COL_TEXT },
	{ "tags", "TAGS", COL_TEXT },
	{ "status", "STATUS", COL_TEXT },
	{ "current_version", "VERSION", COL_TEXT },
	{ "security_version", "SV", COL_INT },
	{ "last_seen", "LAST SEEN", COL_TIME },
};

static const struct admin_col device_fields[] = {
	{ "id", "id", COL_TEXT },
	{ "hardware", "hardware", COL_TEXT },
	{ "group", "group", COL_TEXT },
	{ "tags", "tags", COL_TEXT },
	{ "status", "status", COL_TEXT },
	{ "created", "created", COL_TIME },
	{ "last_seen", "last seen", COL_TIME },
	{ "current_version", "version", COL_TEXT },
	{ "current_release", "release", COL_TEXT },
	{ "security_version", "security version", COL_INT },
	{ "slot_state", "slot state", COL_TEXT },
	{ "last_error", "last error", COL_TEXT },
	{ "cert_serial", "certificate serial", COL_TEXT },
	{ "cert_not_after", "certificate expires", COL_TIME },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Common options only, plus at most one positional argument. */
static int parse_simple(int argc, char **argv, struct admin_opts *o, const char *usage, const char **arg)
{
	static const struct option opts[] = { ADMIN_LONG_OPTIONS, { NULL, 0, NULL, 0 } };
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(o, c, optarg);
		if (k < 0)
			return -k;
		if (k)
			continue;
		if (c == 'h') {
			printf("%s%s", usage, admin_common_usage);
			return -1;
		}
		return cli_usage_error("bad option");
	}
	if (arg && optind + 1 != argc)
		return cli_usage_error(optind == argc ? "a device id is required" : "one device id only");
	if (!arg && optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (arg) {
		*arg = argv[optind];
		if (airlock_check_device_id(*arg, strlen(*arg)) != AIRLOCK_OK)
			return cli_usage_error("'%s' is not a device id (1..128 printable characters)", *arg);
	}
	return EXIT_OK;
}

static int devices_run(int verb, int argc, char **argv)
{
	static const char *const names[] = { "airlock devices list", "airlock devices show", "airlock devices revoke" };
	struct admin_opts o = { 0 };
	struct admin_client cl;
	struct admin_resp r = { 0 };
	const char *id = NULL;
	char path[512], esc[400];
	cli_cmd = names[verb];
	int rc = parse_simple(argc, argv, &o, devices_usage, verb ? &id : NULL);
	if (rc != EXIT_OK)
		return rc < 0 ? EXIT_OK : rc;
	if (id && !admin_escape(id, esc, sizeof esc))
		return cli_usage_error("device id too long");
	if ((rc = admin_open(&cl, &o, true)) != EXIT_OK)
		return rc;
	if (verb == 0) {
		rc = admin_call(&cl, "GET", "devices", NULL, &r);
	} else {
		snprintf(path, sizeof path, verb == 1 ? "devices/%s" : "devices/%s/revoke", esc);
		rc = admin_call(&cl, verb == 1 ? "GET" : "POST", path, NULL, &r);
	}
	if (rc == EXIT_OK && o.json)
		admin_print_raw(&r);
	else if (rc == EXIT_OK && verb == 0)
		admin_print_table(json_object_get(r.json, "devices"), device_cols, N(device_cols));
	else if (rc == EXIT_OK && verb == 1)
		admin_print_object(r.json, device_fields, N(device_fields));
	else if (rc == EXIT_OK)
		printf("device %s revoked: refused from its next request on\n", id);
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_devices(int argc, char **argv)
{
	static const char *const verbs[] = { "list", "show", "revoke", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock devices";
	int v = admin_subverb(argc, argv, verbs, devices_usage, &rc);
	return v < 0 ? rc : devices_run(v, argc - 1, argv + 1);
}

enum { OPT_HW = 256, OPT_GROUP, OPT_TAGS, OPT_TTL };

static int check_tags(const char *tags)
{
	char t[65];
	for (const char *p = tags;;) {
		size_t n = strcspn(p, ",");
		if (n == 0 || n >= sizeof t)
			return cli_usage_error("--tags wants a comma list of labels, not '%s'", tags);
		memcpy(t, p, n);
		t[n] = '\0';
		if (airlock_check_label(t, n) != AIRLOCK_OK)
			return cli_usage_error("tag '%s' is not a label (1..64 printable, no spaces)", t);
		if (!p[n])
			return EXIT_OK;
		p += n + 1;
	}
}

static int enroll_create(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hardware", required_argument, NULL, OPT_HW },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ "ttl", required_argument, NULL, OPT_TTL },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct admin_opts o = { 0 };
	const char *hw = NULL, *group = NULL, *tags = NULL;
	uint64_t ttl = 0;
	int c, rc;
	cli_cmd = "airlock enroll-token create";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		int k = admin_opt(&o, c, optarg);
		if (k < 0)
			return -k;
		if (k)
			continue;
		switch (c) {
		case OPT_HW: hw = optarg; break;
		case OPT_GROUP: group = optarg; break;
		case OPT_TAGS: tags = optarg; break;
		case OPT_TTL:
			if (!admin_parse_duration(optarg, &ttl) || ttl < 60 || ttl > 30 * 86400)
				return cli_usage_error("--ttl wants 60 s to 30 d, not '%s'", optarg);
			break;
		case 'h': printf("%s%s", enroll_usage, admin_common_usage); return EXIT_OK;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!hw)
		return cli_usage_error("--hardware is required");
	if (airlock_check_label(hw, strlen(hw)) != AIRLOCK_OK || (group && airlock_check_label(group, strlen(group))))
		return cli_usage_error("--hardware and --group must be labels (1..64 printable, no spaces)");
	if (tags && (rc = check_tags(tags)) != EXIT_OK)
		return rc;

	struct admin_client cl;
	struct admin_resp r = { 0 };
	if ((rc = admin_open(&cl, &o, true)) != EXIT_OK)
		return rc;
	json_t *body = json_pack("{s:s}", "hardware", hw);
	if (body && group)
		json_object_set_new(body, "group", json_string(group));
	if (body && tags)
		json_object_set_new(body, "tags", json_string(tags));
	if (body && ttl)
		json_object_set_new(body, "ttl", json_integer((json_int_t)ttl));
	rc = body ? admin_call(&cl, "POST", "enroll-tokens", body, &r) : cli_fail(AIRLOCK_ERR_NOMEM, "request");
	json_decref(body);
	if (rc == EXIT_OK && o.json) {
		admin_print_raw(&r);
	} else if (rc == EXIT_OK) {
		char tok[128], id[64], exp[40];
		admin_format_value(json_object_get(r.json, "token"), COL_TEXT, tok, sizeof tok);
		admin_format_value(json_object_get(r.json, "id"), COL_TEXT, id, sizeof id);
		admin_format_value(json_object_get(r.json, "expires"), COL_TIME, exp, sizeof exp);
		printf("enrollment token (shown once): %s\n  id %s, hardware %s, expires %s\n", tok, id, hw, exp);
		airlock_wipe(tok, sizeof tok);
	}
	if (r.body)
		airlock_wipe(r.body, r.len);
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_enroll_token(int argc, char **argv)
{
	static const char *const verbs[] = { "create", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock enroll-token";
	if (admin_subverb(argc, argv, verbs, enroll_usage, &rc) < 0)
		return rc;
	return enroll_create(argc - 1, argv + 1);
}
