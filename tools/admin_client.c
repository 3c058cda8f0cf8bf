/*
 * Admin API client: settings (flags > environment > config file) and the
 * connection. The transfers are in cmd_admin_http.c, tables in cmd_admin_output.c.
 */
#include "admin_client.h"

#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <ini.h>

#include "airlock/crypto.h"

const char admin_common_usage[] =
	"\n"
	"Connection (flag, else environment, else config file):\n"
	"  --server URL     https://HOST:PORT of airlock-server (AIRLOCK_SERVER, 'server')\n"
	"  --ca FILE        CA certificate to verify the server with (AIRLOCK_CA, 'ca');\n"
	"                   without one, the system's trust store\n"
	"  --token TOKEN    admin bearer token (AIRLOCK_TOKEN, 'token'); prefer the\n"
	"                   environment or the config file: flags show in ps\n"
	"  --config FILE    INI file with [admin] server, ca, token, timeout\n"
	"                   (AIRLOCK_CONFIG, else ~/.config/airlock/admin.conf if present)\n"
	"  --timeout S      total seconds per request (default 120; uploads: none)\n"
	"  --json           print the server's JSON answer as it came\n"
	"Exit codes: 0 ok; 1 refused by the server; 2 usage; 3 local file problem;\n"
	"  4 internal; 5 server unreachable, TLS failure or server error.\n";

#define DEFAULT_TIMEOUT 120
#define CONFIG_TIMEOUT_MAX (7 * 86400)

int admin_opt(struct admin_opts *o, int c, const char *arg)
{
	switch (c) {
	case ADMIN_OPT_SERVER: o->server = arg; return 1;
	case ADMIN_OPT_CA: o->ca = arg; return 1;
	case ADMIN_OPT_TOKEN: o->token = arg; return 1;
	case ADMIN_OPT_CONFIG: o->config = arg; return 1;
	case ADMIN_OPT_JSON: o->json = true; return 1;
	case ADMIN_OPT_TIMEOUT:
		if (!cli_parse_u64(arg, &o->timeout) || o->timeout == 0 || o->timeout > CONFIG_TIMEOUT_MAX)
			return -cli_usage_error("--timeout wants 1..%d seconds, not '%s'", CONFIG_TIMEOUT_MAX, arg);
		return 1;
	default: return 0;
	}
}

int admin_parse_args(struct admin_opts *o, int argc, char **argv, const char *usage, int n_args, const char *what,
		     const char **arg)
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
			return ADMIN_ARGS_HELP;
		}
		return cli_usage_error("bad option");
	}
	if (n_args == 0 && optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (n_args == 1 && optind + 1 != argc)
		return cli_usage_error(optind == argc ? "a %s is required" : "one %s only", what);
	if (n_args == 1)
		*arg = argv[optind];
	return 0;
}

/* What a config file said; strings copied, the token wiped after use. */
struct file_conf {
	const char *path;
	char server[ADMIN_URL_MAX];
	char ca[4096];
	char token[ADMIN_TOKEN_MAX];
	uint64_t timeout;
	char bad[160];   /* first problem, for the message */
};

static bool copy_value(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);
	if (n == 0 || n >= cap)
		return false;
	memcpy(dst, v, n + 1);
	return true;
}

static int on_ini(void *user, const char *section, const char *name, const char *value)
{
	struct file_conf *fc = user;
	bool ok;
	if (strcmp(section, "admin") != 0) {
		snprintf(fc->bad, sizeof fc->bad, "unknown section [%.40s] (only [admin])", section);
		return 0;
	}
	if (strcmp(name, "server") == 0) {
		ok = copy_value(fc->server, sizeof fc->server, value);
	} else if (strcmp(name, "ca") == 0) {
		ok = copy_value(fc->ca, sizeof fc->ca, value);
	} else if (strcmp(name, "token") == 0) {
		ok = copy_value(fc->token, sizeof fc->token, value);
	} else if (strcmp(name, "timeout") == 0) {
		ok = cli_parse_u64(value, &fc->timeout) && fc->timeout > 0 && fc->timeout <= CONFIG_TIMEOUT_MAX;
	} else {
		snprintf(fc->bad, sizeof fc->bad, "unknown key '%.40s' (server, ca, token, timeout)", name);
		return 0;
	}
	if (!ok)
		snprintf(fc->bad, sizeof fc->bad, "bad value for '%s'", name);
	return ok;
}

/* A relative ca path in a config file is relative to the file's directory. */
static void resolve_ca(struct file_conf *fc)
{
	char dir[4096], out[4096];
	if (!fc->ca[0] || fc->ca[0] == '/')
		return;
	snprintf(dir, sizeof dir, "%s", fc->path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return;
	*slash = '\0';
	if ((size_t)snprintf(out, sizeof out, "%s/%s", dir, fc->ca) < sizeof out)
		memcpy(fc->ca, out, strlen(out) + 1);
}

/* Loads the config file if one is named or the default exists. */
static int load_config(const struct admin_opts *o, struct file_conf *fc, char *default_path, size_t cap)
{
	const char *path = o->config ? o->config : getenv("AIRLOCK_CONFIG");
	bool optional = false;
	if (path && !*path)
		path = NULL;
	if (!path) {
		const char *home = getenv("HOME");
		if (!home || !*home || (size_t)snprintf(default_path, cap, "%s/.config/airlock/admin.conf", home) >= cap)
			return EXIT_OK;
		path = default_path;
		optional = true;
	}
	fc->path = path;
	FILE *f = fopen(path, "re");
	if (!f) {
		if (optional && errno == ENOENT)
			return EXIT_OK;
		return cli_fail(AIRLOCK_ERR_IO_OPEN, "config file %s: %s", path, strerror(errno));
	}
	struct stat st;
	if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
		fclose(f);
		return cli_fail(AIRLOCK_ERR_IO_READ, "config file %s: not a regular file", path);
	}
	int line = ini_parse_file(f, on_ini, fc);
	fclose(f);
	if (line != 0) {
		airlock_wipe(fc->token, sizeof fc->token);
		return cli_fail(AIRLOCK_ERR_BAD_VALUE, "config file %s, line %d: %s", path, line,
				fc->bad[0] ? fc->bad : "not valid INI");
	}
	/* The same rule as for private keys: a secret others can read is spent. */
	if (fc->token[0] && (st.st_mode & 077) != 0) {
		airlock_wipe(fc->token, sizeof fc->token);
		return cli_fail(AIRLOCK_ERR_KEY_PERMS, "config file %s holds a token but has mode %04o (chmod 600 it)",
				path, (unsigned)(st.st_mode & 07777));
	}
	resolve_ca(fc);
	return EXIT_OK;
}

static const char *pick(const char *flag, const char *env_name, const char *file_value)
{
	const char *env = getenv(env_name);
	if (flag)
		return flag;
	if (env && *env)
		return env;
	return file_value && *file_value ? file_value : NULL;
}

/* Only https: a token must never cross the network in clear. */
static int check_url(const char *url, char *out, size_t cap)
{
	if (strncasecmp(url, "http://", 7) == 0)
		return cli_usage_error("server URL '%s': plain http:// is refused (the token would travel in clear); "
				       "use https://", url);
	if (strncasecmp(url, "https://", 8) != 0 || !url[8] || strpbrk(url, " \t\r\n?#"))
		return cli_usage_error("server URL '%s': expected https://HOST[:PORT]", url);
	size_t n = strlen(url);
	while (n > 8 && url[n - 1] == '/')
		n--;
	if (n >= cap)
		return cli_usage_error("server URL too long");
	memcpy(out, url, n);
	out[n] = '\0';
	return EXIT_OK;
}

/* A token goes into a header: printable ASCII without spaces, bounded. */
static bool token_ok(const char *t)
{
	size_t n = strlen(t);
	if (n == 0 || n > ADMIN_TOKEN_MAX - 1)
		return false;
	for (size_t i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			return false;
	return true;
}

static int resolve(struct admin_client *cl, const struct admin_opts *o, struct file_conf *fc, bool need_token)
{
	const char *server = pick(o->server, "AIRLOCK_SERVER", fc->server);
	const char *ca = pick(o->ca, "AIRLOCK_CA", fc->ca);
	const char *token = pick(o->token, "AIRLOCK_TOKEN", fc->token);
	if (!server)
		return cli_usage_error("no server: give --server URL, set AIRLOCK_SERVER, or 'server' in the config file");
	int rc = check_url(server, cl->server, sizeof cl->server);
	if (rc != EXIT_OK)
		return rc;
	if (ca) {
		struct stat st;
		if (stat(ca, &st) != 0 || !S_ISREG(st.st_mode) || access(ca, R_OK) != 0)
			return cli_fail(AIRLOCK_ERR_IO_OPEN, "CA file %s", ca);
		if ((size_t)snprintf(cl->ca, sizeof cl->ca, "%s", ca) >= sizeof cl->ca)
			return cli_usage_error("CA path too long");
	}
	if (token) {
		if (!token_ok(token))
			return cli_usage_error("the token is not a bearer token (printable, no spaces, at most %d characters)",
					       ADMIN_TOKEN_MAX - 1);
		snprintf(cl->auth, sizeof cl->auth, "Authorization: Bearer %s", token);
		cl->has_token = true;
	} else if (need_token) {
		return cli_usage_error("no admin token: give --token, set AIRLOCK_TOKEN, or 'token' in the config file");
	}
	cl->timeout_given = o->timeout || fc->timeout;
	cl->timeout = o->timeout ? o->timeout : fc->timeout ? fc->timeout : DEFAULT_TIMEOUT;
	cl->json = o->json;
	return EXIT_OK;
}

int admin_open(struct admin_client *cl, const struct admin_opts *o, bool need_token)
{
	static struct file_conf fc;
	char default_path[4096];
	memset(cl, 0, sizeof *cl);
	memset(&fc, 0, sizeof fc);
	int rc = load_config(o, &fc, default_path, sizeof default_path);
	if (rc == EXIT_OK)
		rc = resolve(cl, o, &fc, need_token);
	airlock_wipe(fc.token, sizeof fc.token);
	if (rc != EXIT_OK) {
		admin_close(cl);
		return rc;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !(cl->curl = curl_easy_init())) {
		admin_close(cl);
		return cli_fail(AIRLOCK_ERR_NOMEM, "libcurl initialisation");
	}
	return EXIT_OK;
}

void admin_close(struct admin_client *cl)
{
	airlock_wipe(cl->auth, sizeof cl->auth);
	cl->has_token = false;
	if (cl->curl)
		curl_easy_cleanup(cl->curl);
	cl->curl = NULL;
}

bool admin_escape(const char *seg, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)seg; *p; p++) {
		bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			     *p == '-' || *p == '_' || *p == '.' || *p == '~';
		if (n + (plain ? 1 : 3) >= cap)
			return false;
		if (plain) {
			out[n++] = (char)*p;
		} else {
			out[n++] = '%';
			out[n++] = hex[*p >> 4];
			out[n++] = hex[*p & 15];
		}
	}
	out[n] = '\0';
	return n > 0;
}

bool admin_parse_duration(const char *s, uint64_t *out)
{
	char num[24];
	size_t n = s ? strlen(s) : 0;
	uint64_t mult = 1, v;
	if (n == 0 || n >= sizeof num)
		return false;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[--n] = '\0'; break;
	case 'm': mult = 60; num[--n] = '\0'; break;
	case 'h': mult = 3600; num[--n] = '\0'; break;
	case 'd': mult = 86400; num[--n] = '\0'; break;
	default: break;
	}
	if (!cli_parse_u64(num, &v) || v > UINT64_MAX / mult)
		return false;
	*out = v * mult;
	return true;
}

int admin_subverb(int argc, char **argv, const char *const *names, const char *usage, int *rc)
{
	if (argc >= 2) {
		for (int i = 0; names[i]; i++)
			if (strcmp(argv[1], names[i]) == 0)
				return i;
		if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
			printf("%s%s", usage, admin_common_usage);
			*rc = EXIT_OK;
			return -1;
		}
	}
	char list[256] = "";
	for (int i = 0, n = 0; names[i] && n >= 0 && (size_t)n < sizeof list; i++)
		n += snprintf(list + n, sizeof list - (size_t)n, "%s'%s'", i ? ", " : "", names[i]);
	*rc = cli_usage_error("expected %s", list);
	return -1;
}
