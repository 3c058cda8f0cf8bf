/*
 * airlock server status: what the server itself reports. /healthz and the
 * fleet root need no token; with a read token, counts of devices, releases
 * and deployments. /healthz carries the server's version.
 */
#include <stdio.h>
#include <string.h>

#include "admin_client.h"
#include "airlock/meta.h"

static const char status_usage[] =
	"usage: airlock server status [connection options]\n"
	"\n"
	"Asks GET /healthz and GET /api/v1/root (no token needed) and prints the\n"
	"server's health and version and the fleet root's version and expiry;\n"
	"with a token (read scope), also the number of devices (by status),\n"
	"releases (complete or waiting for artifacts) and deployments (by\n"
	"status). A refused token is reported and exits 1; an unreachable server\n"
	"exits 5.\n";

static void show_root(const struct admin_resp *r)
{
	struct airlock_envelope env;
	struct airlock_root root;
	char when[32];
	if (airlock_envelope_parse((const uint8_t *)r->body, r->len, AIRLOCK_ROOT_MAX_LEN, &env) != AIRLOCK_OK ||
	    env.type != AIRLOCK_META_ROOT || airlock_root_parse_body(env.body.ptr, env.body.len, &root) != AIRLOCK_OK) {
		printf("fleet root:   not a root metadata file (%zu bytes)\n", r->len);
		return;
	}
	cli_format_time(root.expires, when, sizeof when);
	printf("fleet root:   version %llu, expires %s, %zu keys, %zu signatures (not verified here)\n",
	       (unsigned long long)root.version, when, root.n_keys, env.n_sigs);
}

/* Counts the list's objects by the value of field (or all, field NULL). */
static void count_by(json_t *list, const char *field, enum admin_col_kind kind, const char *label)
{
	struct { char v[32]; size_t n; } groups[8];
	size_t ng = 0, i;
	json_t *row;
	printf("%-13s %zu", label, json_array_size(list));
	if (field) {
		json_array_foreach(list, i, row) {
			char v[32];
			admin_format_value(json_object_get(row, field), kind, v, sizeof v);
			size_t g = 0;
			while (g < ng && strcmp(groups[g].v, v) != 0)
				g++;
			if (g == ng && ng < sizeof groups / sizeof groups[0]) {
				snprintf(groups[ng].v, sizeof groups[ng].v, "%s", v);
				groups[ng++].n = 0;
			}
			if (g < ng)
				groups[g].n++;
		}
		for (size_t g = 0; g < ng; g++)
			printf("%s %zu %s%s", g ? "," : " (", groups[g].n, kind == COL_BOOL ? "complete=" : "", groups[g].v);
		if (ng)
			putchar(')');
	}
	putchar('\n');
}

static int counts(struct admin_client *cl)
{
	static const struct {
		const char *path, *field, *label;
		enum admin_col_kind kind;
	} lists[] = {
		{ "devices", "status", "devices:", COL_TEXT },
		{ "releases", "complete", "releases:", COL_BOOL },
		{ "deployments", "status", "deployments:", COL_TEXT },
	};
	for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
		struct admin_resp r;
		int rc = admin_call(cl, "GET", lists[i].path, NULL, &r);
		if (rc != EXIT_OK) {
			admin_resp_free(&r);
			return rc;
		}
		count_by(json_object_get(r.json, lists[i].path), lists[i].field, lists[i].kind, lists[i].label);
		admin_resp_free(&r);
	}
	return EXIT_OK;
}

static int server_status(int argc, char **argv)
{
	struct admin_opts o = { 0 };
	struct admin_client cl;
	struct admin_resp r;
	int rc;
	cli_cmd = "airlock server status";
	rc = admin_parse_args(&o, argc, argv, status_usage, 0, NULL, NULL);
	if (rc != 0)
		return rc == ADMIN_ARGS_HELP ? EXIT_OK : rc;
	if ((rc = admin_open(&cl, &o, false)) != EXIT_OK)
		return rc;
	rc = admin_call(&cl, "GET", "/healthz", NULL, &r);
	if (rc == EXIT_OK && o.json) {
		admin_print_raw(&r);
	} else if (rc == EXIT_OK) {
		char st[32], ver[40];
		admin_format_value(json_object_get(r.json, "status"), COL_TEXT, st, sizeof st);
		/* An older server reports none: "-". */
		admin_format_value(json_object_get(r.json, "version"), COL_TEXT, ver, sizeof ver);
		printf("server:       %s\nhealth:       %s\nversion:      %s\n", cl.server, st, ver);
	}
	admin_resp_free(&r);
	if (rc == EXIT_OK && !o.json) {
		rc = admin_get_raw(&cl, "root", &r);
		if (rc == EXIT_OK)
			show_root(&r);
		admin_resp_free(&r);
	}
	if (rc == EXIT_OK && !o.json) {
		if (cl.has_token)
			rc = counts(&cl);
		else
			printf("counts:       need a token with the read scope\n");
	}
	admin_close(&cl);
	return rc;
}

int cmd_server(int argc, char **argv)
{
	static const char *const verbs[] = { "status", NULL };
	int rc = EXIT_USAGE;
	cli_cmd = "airlock server";
	if (admin_subverb(argc, argv, verbs, status_usage, &rc) < 0)
		return rc;
	return server_status(argc - 1, argv + 1);
}
