/* airlock devices list|show|revoke|register, airlock enroll-token create|list|revoke. */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "airlock/crypto.h"
#include "airlock/hex.h"
#include "airlock/meta.h"

static const char devices_usage[] =
	"usage: airlock devices list [connection options]\n"
	"       airlock devices show ID [connection options]\n"
	"       airlock devices revoke ID [connection options]\n"
	"       airlock devices register ID --hardware H [--group G] [--tags a,b]\n"
	"         --wrap-key PUB [connection options]\n"
	"\n"
	"list and show need the read scope; revoke and register need admin. A\n"
	"revoked device is refused from its next request on (its certificate\n"
	"stays refused).\n"
	"\n"
	"register pre-registers a device whose certificate a manufacturer CA\n"
	"issued (the server's [tls] manufacturer_ca): the first such certificate\n"
	"with CN = ID that the device presents is bound to it, and from then on\n"
	"only that certificate identifies it. PUB is the device's X25519 public\n"
	"key for content keys: a file from 'airlock key generate --alg x25519' or\n"
	"its 64 hex digits.\n";

static const char enroll_usage[] =
	"usage: airlock enroll-token create --hardware H [--group G] [--tags a,b]\n"
	"         [--ttl DURATION] [connection options]\n"
	"       airlock enroll-token list [connection options]\n"
	"       airlock enroll-token revoke ID [connection options]\n"
	"\n"
	"create makes a one-time enrollment token (admin scope) with which one\n"
	"device of hardware H enrolls (POST /api/v1/enroll with a CSR); the device\n"
	"joins group G and gets the tags. DURATION is seconds or N[smhd], 60 s to\n"
	"30 d (default 1 d). The token is printed once; the server keeps only its\n"
	"hash.\n"
	"\n"
	"list shows every enrollment token (never its secret): hardware, group,\n"
	"tags, when it was made and expires, and when and by which device it was\n"
	"used. revoke deletes an unused token by its id; a used one cannot be\n"
	"revoked (revoke the device instead). Both need the admin scope.\n";

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
	{ "cert_ca", "certificate CA", COL_TEXT },
};

static const struct admin_col enroll_cols[] = {
	{ "id", "ID", COL_TEXT },
	{ "hardware", "HARDWARE", COL_TEXT },
	{ "group", "GROUP", COL_TEXT },
	{ "tags", "TAGS", COL_TEXT },
	{ "created", "CREATED", COL_TIME },
	{ "expires", "EXPIRES", COL_TIME },
	{ "used", "USED", COL_TIME },
	{ "device_id", "DEVICE", COL_TEXT },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Common options only, plus at most one positional argument. */
static int parse_simple(int argc, char **argv, struct admin_opts *o, const char *usage, const char **arg)
{
	int rc = admin_parse_args(o, argc, argv, usage, arg ? 1 : 0, "device id", arg);
	if (rc != 0)
		return rc;
	if (arg) {
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

static int devices_register(int argc, char **argv);

int cmd_devices(int argc, char **argv)
{
	static const char *const verbs[] = { "list", "show", "revoke", "register", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock devices";
	int v = admin_subverb(argc, argv, verbs, devices_usage, &rc);
	if (v == 3)
		return devices_register(argc - 1, argv + 1);
	return v < 0 ? rc : devices_run(v, argc - 1, argv + 1);
}

enum { OPT_HW = 256, OPT_GROUP, OPT_TAGS, OPT_TTL, OPT_WRAP };

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

/* --wrap-key: an X25519 public key file, or its 64 hex digits. */
static int wrap_key_hex(const char *arg, char out[2 * AIRLOCK_X25519_LEN + 1])
{
	uint8_t raw[AIRLOCK_X25519_LEN];
	if (strlen(arg) == 2 * AIRLOCK_X25519_LEN &&
	    airlock_hex_decode(arg, strlen(arg), raw, sizeof raw) == AIRLOCK_OK) {
		airlock_hex_encode(raw, sizeof raw, out);
		return EXIT_OK;
	}
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t len = 0;
	enum airlock_alg alg;
	airlock_err e = airlock_pubkey_load(arg, &alg, pub, &len);
	if (e != AIRLOCK_OK)
		return cli_fail(e, "--wrap-key %s", arg);
	if (alg != AIRLOCK_ALG_X25519 || len != AIRLOCK_X25519_LEN)
		return cli_usage_error("--wrap-key %s is not an X25519 public key", arg);
	airlock_hex_encode(pub, len, out);
	return EXIT_OK;
}

static int devices_register(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "hardware", required_argument, NULL, OPT_HW },
		{ "group", required_argument, NULL, OPT_GROUP },
		{ "tags", required_argument, NULL, OPT_TAGS },
		{ "wrap-key", required_argument, NULL, OPT_WRAP },
		ADMIN_LONG_OPTIONS,
		{ NULL, 0, NULL, 0 },
	};
	struct admin_opts o = { 0 };
	const char *hw = NULL, *group = NULL, *tags = NULL, *wrap = NULL;
	char wrap_hex[2 * AIRLOCK_X25519_LEN + 1];
	int c, rc;
	cli_cmd = "airlock devices register";
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
		case OPT_WRAP: wrap = optarg; break;
		case 'h': printf("%s%s", devices_usage, admin_common_usage); return EXIT_OK;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error(optind == argc ? "a device id is required" : "one device id only");
	const char *id = argv[optind];
	if (airlock_check_device_id(id, strlen(id)) != AIRLOCK_OK)
		return cli_usage_error("'%s' is not a device id (1..128 printable characters)", id);
	if (!hw || !wrap)
		return cli_usage_error("--hardware and --wrap-key are required");
	if (airlock_check_label(hw, strlen(hw)) != AIRLOCK_OK || (group && airlock_check_label(group, strlen(group))))
		return cli_usage_error("--hardware and --group must be labels (1..64 printable, no spaces)");
	if ((tags && (rc = check_tags(tags)) != EXIT_OK) || (rc = wrap_key_hex(wrap, wrap_hex)) != EXIT_OK)
		return rc;

	struct admin_client cl;
	struct admin_resp r = { 0 };
	if ((rc = admin_open(&cl, &o, true)) != EXIT_OK)
		return rc;
	json_t *body = json_pack("{s:s,s:s,s:s}", "id", id, "hardware", hw, "wrap_key", wrap_hex);
	if (body && group)
		json_object_set_new(body, "group", json_string(group));
	if (body && tags)
		json_object_set_new(body, "tags", json_string(tags));
	rc = body ? admin_call(&cl, "POST", "devices", body, &r) : cli_fail(AIRLOCK_ERR_NOMEM, "request");
	json_decref(body);
	if (rc == EXIT_OK && o.json)
		admin_print_raw(&r);
	else if (rc == EXIT_OK)
		printf("device %s registered: its first manufacturer certificate with CN=%s will be bound to it\n", id,
		       id);
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

static int enroll_list_revoke(bool revoke, int argc, char **argv)
{
	struct admin_opts o = { 0 };
	struct admin_client cl;
	struct admin_resp r = { 0 };
	const char *id = NULL;
	char path[64];
	int rc;
	cli_cmd = revoke ? "airlock enroll-token revoke" : "airlock enroll-token list";
	rc = admin_parse_args(&o, argc, argv, enroll_usage, revoke ? 1 : 0, "token id", &id);
	if (rc != 0)
		return rc == ADMIN_ARGS_HELP ? EXIT_OK : rc;
	if (revoke && (strlen(id) != 16 || strspn(id, "0123456789abcdef") != 16))
		return cli_usage_error("'%s' is not an enrollment token id (16 lowercase hex digits)", id);
	if ((rc = admin_open(&cl, &o, true)) != EXIT_OK)
		return rc;
	if (revoke) {
		snprintf(path, sizeof path, "enroll-tokens/%s", id);
		rc = admin_call(&cl, "DELETE", path, NULL, &r);
	} else {
		rc = admin_call(&cl, "GET", "enroll-tokens", NULL, &r);
	}
	if (rc == EXIT_OK && o.json)
		admin_print_raw(&r);
	else if (rc == EXIT_OK && revoke)
		printf("enrollment token %s revoked: it can no longer enroll a device\n", id);
	else if (rc == EXIT_OK)
		admin_print_table(json_object_get(r.json, "enroll_tokens"), enroll_cols, N(enroll_cols));
	admin_resp_free(&r);
	admin_close(&cl);
	return rc;
}

int cmd_enroll_token(int argc, char **argv)
{
	static const char *const verbs[] = { "create", "list", "revoke", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock enroll-token";
	int v = admin_subverb(argc, argv, verbs, enroll_usage, &rc);
	if (v < 0)
		return rc;
	return v == 0 ? enroll_create(argc - 1, argv + 1) : enroll_list_revoke(v == 2, argc - 1, argv + 1);
}
