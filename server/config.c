#include "config.h"

#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct load_ctx {
	struct server_config *cfg;
	char base[CONFIG_PATH_MAX];
	char *err;
	size_t err_cap;
	bool failed;
};

static void defaults(struct server_config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->listen, sizeof c->listen, "127.0.0.1:8443");
	c->threads = 4;
	c->device_cert_days = 365;
	c->directive_ttl = 3600;
	c->checkin_interval = 300;
	snprintf(c->db_backend, sizeof c->db_backend, "sqlite");
	c->db_pool = 4;
	c->max_body = 1024 * 1024;
	c->max_header = 16 * 1024;
	c->max_connections = 4096;
	c->max_per_ip = 64;
	c->idle_timeout = 30;
	c->request_deadline = 60;
	c->auth_failures_per_minute = 20;
}

static bool set_str(char *dst, size_t cap, const char *v)
{
	return (size_t)snprintf(dst, cap, "%s", v) < cap;
}

/* Paths relative to the config file's directory. */
static bool set_path(const struct load_ctx *lc, char *dst, const char *v)
{
	if (v[0] == '/' || lc->base[0] == '\0')
		return set_str(dst, CONFIG_PATH_MAX, v);
	return (size_t)snprintf(dst, CONFIG_PATH_MAX, "%s/%s", lc->base, v) < CONFIG_PATH_MAX;
}

/* https://HOST[:PORT][/PATH], printable without quotes or backslashes, no
 * trailing slash: the artifact URLs in directives are public_url +
 * "/api/v1/artifacts/...". */
static bool valid_public_url(const char *v)
{
	size_t n = strlen(v);
	if (strncmp(v, "https://", 8) != 0 || n <= 8 || v[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] <= 0x20 || (unsigned char)v[i] > 0x7e || v[i] == '"' || v[i] == '\\')
			return false;
	return true;
}

static bool set_uint(unsigned *dst, const char *v, unsigned min, unsigned max)
{
	char *end;
	errno = 0;
	unsigned long n = strtoul(v, &end, 10);
	if (errno || *end || v[0] < '0' || v[0] > '9' || n < min || n > max)
		return false;
	*dst = (unsigned)n;
	return true;
}

static bool set_size(size_t *dst, const char *v, size_t min, size_t max)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || *end || v[0] < '0' || v[0] > '9' || n < min || n > max)
		return false;
	*dst = (size_t)n;
	return true;
}

static int on_entry(void *user, const char *section, const char *name, const char *value)
{
	struct load_ctx *lc = user;
	struct server_config *c = lc->cfg;
	bool ok;
#define IS(s, n) (strcmp(section, s) == 0 && strcmp(name, n) == 0)
	if (IS("server", "listen"))
		ok = set_str(c->listen, sizeof c->listen, value);
	else if (IS("server", "data_dir"))
		ok = set_path(lc, c->data_dir, value);
	else if (IS("server", "public_url"))
		ok = c->public_url_set = valid_public_url(value) && set_str(c->public_url, sizeof c->public_url, value);
	else if (IS("server", "threads"))
		ok = set_uint(&c->threads, value, 1, 256);
	else if (IS("server", "health_listen"))
		ok = set_str(c->health_listen, sizeof c->health_listen, value);
	else if (IS("tls", "certificate"))
		ok = set_path(lc, c->tls_cert, value);
	else if (IS("tls", "key"))
		ok = set_path(lc, c->tls_key, value);
	else if (IS("tls", "client_ca"))
		ok = set_path(lc, c->client_ca, value);
	else if (IS("tls", "manufacturer_ca"))
		ok = set_path(lc, c->manufacturer_ca, value);
	else if (IS("tls", "priorities"))
		ok = set_str(c->tls_priorities, sizeof c->tls_priorities, value);
	else if (IS("fleet", "ca_certificate"))
		ok = set_path(lc, c->ca_cert, value);
	else if (IS("fleet", "ca_key"))
		ok = set_path(lc, c->ca_key, value);
	else if (IS("fleet", "device_cert_days"))
		ok = set_uint(&c->device_cert_days, value, 1, 3650);
	else if (IS("fleet", "root"))
		ok = set_path(lc, c->root, value);
	else if (IS("fleet", "director_key"))
		ok = set_path(lc, c->director_key, value);
	else if (IS("fleet", "content_key"))
		ok = set_path(lc, c->content_key, value);
	else if (IS("fleet", "audit_key"))
		ok = set_path(lc, c->audit_key, value);
	else if (IS("fleet", "directive_ttl"))
		ok = set_uint(&c->directive_ttl, value, 10, 30 * 86400);
	else if (IS("fleet", "checkin_interval"))
		ok = set_uint(&c->checkin_interval, value, 1, 86400);
	else if (IS("database", "backend"))
		ok = (strcmp(value, "sqlite") == 0 || strcmp(value, "postgres") == 0) &&
		     set_str(c->db_backend, sizeof c->db_backend, value);
	else if (IS("database", "path"))
		ok = set_path(lc, c->db_target, value);
	else if (IS("database", "conninfo"))
		ok = set_str(c->db_target, sizeof c->db_target, value);
	else if (IS("database", "pool"))
		ok = set_uint(&c->db_pool, value, 1, 256);
	else if (IS("limits", "max_body"))
		ok = set_size(&c->max_body, value, 1024, 64u * 1024 * 1024);
	else if (IS("limits", "max_header"))
		ok = set_size(&c->max_header, value, 1024, 1024 * 1024);
	else if (IS("limits", "max_connections"))
		ok = set_uint(&c->max_connections, value, 1, 1000000);
	else if (IS("limits", "max_per_ip"))
		ok = set_uint(&c->max_per_ip, value, 1, 1000000);
	else if (IS("limits", "idle_timeout"))
		ok = set_uint(&c->idle_timeout, value, 1, 3600);
	else if (IS("limits", "request_deadline"))
		ok = set_uint(&c->request_deadline, value, 1, 86400);
	else if (IS("limits", "auth_failures_per_minute"))
		ok = set_uint(&c->auth_failures_per_minute, value, 1, 1000000);
	else {
		snprintf(lc->err, lc->err_cap, "unknown setting [%s] %s", section, name);
		lc->failed = true;
		return 0;
	}
#undef IS
	if (!ok) {
		snprintf(lc->err, lc->err_cap, "bad value for [%s] %s: '%s'", section, name, value);
		lc->failed = true;
		return 0;
	}
	return 1;
}

bool config_load(const char *path, struct server_config *cfg, char *err, size_t err_cap)
{
	struct load_ctx lc = { .cfg = cfg, .err = err, .err_cap = err_cap };
	defaults(cfg);
	snprintf(lc.base, sizeof lc.base, "%s", path);
	char *slash = strrchr(lc.base, '/');
	if (slash)
		*slash = '\0';
	else
		lc.base[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return false;
	}
	int line = ini_parse_file(f, on_entry, &lc);
	fclose(f);
	if (line != 0) {
		if (!lc.failed)
			snprintf(err, err_cap, "syntax error");
		char msg[512];
		snprintf(msg, sizeof msg, "%s:%d: %s", path, line, err);
		snprintf(err, err_cap, "%s", msg);
		return false;
	}
	if (cfg->db_target[0] == '\0' && strcmp(cfg->db_backend, "sqlite") == 0)
		snprintf(cfg->db_target, sizeof cfg->db_target, "%.900s/airlock.db", cfg->data_dir);
	static const struct { const char *name; size_t off; } required[] = {
		{ "[server] data_dir", offsetof(struct server_config, data_dir) },
		{ "[tls] certificate", offsetof(struct server_config, tls_cert) },
		{ "[tls] key", offsetof(struct server_config, tls_key) },
		{ "[tls] client_ca", offsetof(struct server_config, client_ca) },
		{ "[fleet] ca_certificate", offsetof(struct server_config, ca_cert) },
		{ "[fleet] ca_key", offsetof(struct server_config, ca_key) },
		{ "[fleet] root", offsetof(struct server_config, root) },
		{ "[fleet] director_key", offsetof(struct server_config, director_key) },
		{ "[fleet] content_key", offsetof(struct server_config, content_key) },
		{ "[fleet] audit_key", offsetof(struct server_config, audit_key) },
		{ "[database] path or conninfo", offsetof(struct server_config, db_target) },
	};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
		if (((const char *)cfg)[required[i].off] == '\0') {
			snprintf(err, err_cap, "%s: %s is required", path, required[i].name);
			return false;
		}
	}
	char addr[128];
	uint16_t port;
	if (!config_split_listen(cfg->listen, addr, sizeof addr, &port)) {
		snprintf(err, err_cap, "%s: bad [server] listen '%s' (ADDR:PORT)", path, cfg->listen);
		return false;
	}
	if (!cfg->public_url_set)
		snprintf(cfg->public_url, sizeof cfg->public_url, "https://%s", cfg->listen);
	return true;
}

bool config_set_listen(struct server_config *cfg, const char *listen)
{
	char addr[128];
	uint16_t port;
	if (!config_split_listen(listen, addr, sizeof addr, &port) || strlen(listen) >= sizeof cfg->listen)
		return false;
	snprintf(cfg->listen, sizeof cfg->listen, "%s", listen);
	if (!cfg->public_url_set)
		snprintf(cfg->public_url, sizeof cfg->public_url, "https://%s", cfg->listen);
	return true;
}

bool config_split_listen(const char *listen, char *addr, size_t addr_cap, uint16_t *port)
{
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen)
		return false;
	size_t alen = (size_t)(colon - listen);
	const char *a = listen;
	if (a[0] == '[') {
		if (alen < 3 || a[alen - 1] != ']')
			return false;
		a++;
		alen -= 2;
	}
	if (alen >= addr_cap)
		return false;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	unsigned p;
	char *end;
	errno = 0;
	unsigned long v = strtoul(colon + 1, &end, 10);
	if (errno || *end || colon[1] == '\0' || v == 0 || v > 65535)
		return false;
	p = (unsigned)v;
	*port = (uint16_t)p;
	return true;
}
