/*
 * airlockd configuration: parsing (libinih) and validation. Unknown sections
 * and keys are errors, not warnings: a typo in a security setting (say,
 * "pinn = ...") must not silently leave the setting off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <ini.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "config.h"

struct parse_ctx {
	struct agent_config *cfg;
	char *err;
	size_t cap;
	bool failed;
	bool seen_url, seen_hw;
};

static bool fail(struct parse_ctx *p, const char *section, const char *key, const char *why)
{
	if (!p->failed)
		snprintf(p->err, p->cap, "[%s] %s: %s", section, key, why);
	p->failed = true;
	return false;
}

static bool set_str(struct parse_ctx *p, const char *s, const char *k, const char *v, char *dst, size_t cap)
{
	size_t n = strlen(v);
	if (n >= cap)
		return fail(p, s, k, "value too long");
	memcpy(dst, v, n + 1);
	return true;
}

static bool set_u64(struct parse_ctx *p, const char *s, const char *k, const char *v, uint64_t lo, uint64_t hi,
		    uint64_t *dst)
{
	char *end;
	errno = 0;
	if (v[0] < '0' || v[0] > '9')
		return fail(p, s, k, "not a number");
	unsigned long long x = strtoull(v, &end, 10);
	uint64_t mult = 1;
	/* Sizes may carry a binary suffix: 64K, 8M, 1G. */
	if (*end == 'K' || *end == 'k')
		mult = 1024u, end++;
	else if (*end == 'M' || *end == 'm')
		mult = 1024u * 1024u, end++;
	else if (*end == 'G' || *end == 'g')
		mult = 1024u * 1024u * 1024u, end++;
	if (errno || *end || x > UINT64_MAX / mult)
		return fail(p, s, k, "not a number");
	uint64_t val = (uint64_t)x * mult;
	if (val < lo || val > hi) {
		char why[96];
		snprintf(why, sizeof why, "must be between %llu and %llu", (unsigned long long)lo, (unsigned long long)hi);
		return fail(p, s, k, why);
	}
	*dst = val;
	return true;
}

static bool set_u32(struct parse_ctx *p, const char *s, const char *k, const char *v, uint32_t lo, uint32_t hi,
		    uint32_t *dst)
{
	uint64_t x;
	if (!set_u64(p, s, k, v, lo, hi, &x))
		return false;
	*dst = (uint32_t)x;
	return true;
}

static bool set_bool(struct parse_ctx *p, const char *s, const char *k, const char *v, bool *dst)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0)
		*dst = true;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 || strcmp(v, "0") == 0)
		*dst = false;
	else
		return fail(p, s, k, "must be true or false");
	return true;
}

static bool server_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct agent_config *c = p->cfg;
	const char *s = "server";
	if (strcmp(k, "url") == 0) {
		p->seen_url = true;
		return set_str(p, s, k, v, c->url, sizeof c->url);
	}
	if (strcmp(k, "ca") == 0)
		return set_str(p, s, k, v, c->ca, sizeof c->ca);
	if (strcmp(k, "cert") == 0)
		return set_str(p, s, k, v, c->cert, sizeof c->cert);
	if (strcmp(k, "key") == 0)
		return set_str(p, s, k, v, c->key, sizeof c->key);
	if (strcmp(k, "pin") == 0)
		return set_str(p, s, k, v, c->pin, sizeof c->pin);
	return fail(p, s, k, "unknown key");
}

static bool device_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct agent_config *c = p->cfg;
	const char *s = "device";
	if (strcmp(k, "id") == 0)
		return set_str(p, s, k, v, c->device_id, sizeof c->device_id);
	if (strcmp(k, "hardware") == 0) {
		p->seen_hw = true;
		return set_str(p, s, k, v, c->hardware, sizeof c->hardware);
	}
	if (strcmp(k, "root") == 0)
		return set_str(p, s, k, v, c->root, sizeof c->root);
	if (strcmp(k, "state_dir") == 0)
		return set_str(p, s, k, v, c->state_dir, sizeof c->state_dir);
	if (strcmp(k, "wrap_key") == 0)
		return set_str(p, s, k, v, c->wrap_key, sizeof c->wrap_key);
	if (strcmp(k, "trusted_clock") == 0)
		return set_bool(p, s, k, v, &c->trusted_clock);
	return fail(p, s, k, "unknown key");
}

static bool slots_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct agent_config *c = p->cfg;
	const char *s = "slots";
	if (strcmp(k, "backend") == 0)
		return set_str(p, s, k, v, c->slot_backend, sizeof c->slot_backend);
	if (strcmp(k, "a") == 0)
		return set_str(p, s, k, v, c->slot_path[0], sizeof c->slot_path[0]);
	if (strcmp(k, "b") == 0)
		return set_str(p, s, k, v, c->slot_path[1], sizeof c->slot_path[1]);
	if (strcmp(k, "capacity") == 0)
		return set_u64(p, s, k, v, 0, UINT64_C(1) << 50, &c->slot_capacity);
	if (strcmp(k, "payload") == 0)
		return set_str(p, s, k, v, c->payload, sizeof c->payload);
	return fail(p, s, k, "unknown key");
}

static bool boot_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct agent_config *c = p->cfg;
	const char *s = "boot";
	if (strcmp(k, "backend") == 0)
		return set_str(p, s, k, v, c->boot_backend, sizeof c->boot_backend);
	if (strcmp(k, "record") == 0)
		return set_str(p, s, k, v, c->boot_record, sizeof c->boot_record);
	if (strcmp(k, "reboot_command") == 0)
		return set_str(p, s, k, v, c->reboot_command, sizeof c->reboot_command);
	if (strcmp(k, "boot_limit") == 0)
		return set_u32(p, s, k, v, 1, 255, &c->boot_limit);
	return fail(p, s, k, "unknown key");
}

static bool agent_key(struct parse_ctx *p, const char *k, const char *v)
{
	struct agent_config *c = p->cfg;
	const char *s = "agent";
	if (strcmp(k, "checkin_interval") == 0)
		return set_u32(p, s, k, v, 1, 7 * 24 * 3600, &c->checkin_interval);
	if (strcmp(k, "min_rate") == 0)
		return set_u32(p, s, k, v, 1, 1u << 30, &c->min_rate);
	if (strcmp(k, "rate_window") == 0)
		return set_u32(p, s, k, v, 1, 3600, &c->rate_window);
	if (strcmp(k, "connect_timeout") == 0)
		return set_u32(p, s, k, v, 1, 600, &c->connect_timeout);
	if (strcmp(k, "log") == 0)
		return set_str(p, s, k, v, c->log_path, sizeof c->log_path);
	if (strcmp(k, "log_max") == 0)
		return set_u64(p, s, k, v, 4096, UINT64_C(1) << 32, &c->log_max);
	if (strcmp(k, "syslog") == 0)
		return set_bool(p, s, k, v, &c->syslog);
	if (strcmp(k, "queue_max") == 0)
		return set_u32(p, s, k, v, 1, 100000, &c->queue_max);
	return fail(p, s, k, "unknown key");
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse_ctx *p = user;
	bool ok;
	if (p->failed)
		return 0;
	if (strcmp(section, "server") == 0)
		ok = server_key(p, key, value);
	else if (strcmp(section, "device") == 0)
		ok = device_key(p, key, value);
	else if (strcmp(section, "slots") == 0)
		ok = slots_key(p, key, value);
	else if (strcmp(section, "boot") == 0)
		ok = boot_key(p, key, value);
	else if (strcmp(section, "health") == 0 && strcmp(key, "command") == 0)
		ok = set_str(p, section, key, value, p->cfg->health_command, sizeof p->cfg->health_command);
	else if (strcmp(section, "health") == 0 && strcmp(key, "timeout") == 0)
		ok = set_u32(p, section, key, value, 1, 3600, &p->cfg->health_timeout);
	else if (strcmp(section, "agent") == 0)
		ok = agent_key(p, key, value);
	else
		ok = fail(p, section, key, strcmp(section, "health") == 0 ? "unknown key" : "unknown section");
	return ok ? 1 : 0;
}

void agent_config_defaults(struct agent_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->state_dir, sizeof cfg->state_dir, "/var/lib/airlock");
	snprintf(cfg->slot_backend, sizeof cfg->slot_backend, "file");
	snprintf(cfg->boot_backend, sizeof cfg->boot_backend, "sim");
	snprintf(cfg->log_path, sizeof cfg->log_path, "/var/log/airlock/airlockd.log");
	cfg->boot_limit = 3;
	cfg->health_timeout = 60;
	cfg->checkin_interval = 300;
	cfg->min_rate = 1024;
	cfg->rate_window = 60;
	cfg->connect_timeout = 30;
	cfg->log_max = 1024u * 1024u;
	cfg->syslog = true;
	cfg->queue_max = 256;
}

bool agent_key_perms_ok(const char *path, char *err, size_t cap)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return false;
	}
	if (st.st_mode & 077) {
		snprintf(err, cap, "%s: private key readable by group or others (mode %03o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 0777));
		return false;
	}
	return true;
}

bool agent_cert_cn(const char *cert_path, char *out, size_t cap, char *err, size_t err_cap)
{
	FILE *f = fopen(cert_path, "r");
	if (!f) {
		snprintf(err, err_cap, "%s: %s", cert_path, strerror(errno));
		return false;
	}
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		snprintf(err, err_cap, "%s: not a PEM certificate", cert_path);
		return false;
	}
	char cn[AIRLOCK_MAX_DEVICE_ID_LEN + 2];
	int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)sizeof cn);
	X509_free(x);
	if (n <= 0 || (size_t)n > AIRLOCK_MAX_DEVICE_ID_LEN || (size_t)n >= cap ||
	    airlock_check_device_id(cn, (size_t)n) != AIRLOCK_OK) {
		snprintf(err, err_cap, "%s: no usable common name (the device id)", cert_path);
		return false;
	}
	memcpy(out, cn, (size_t)n + 1);
	return true;
}

static bool readable(const char *what, const char *path, char *err, size_t cap)
{
	if (path[0] == '\0') {
		snprintf(err, cap, "%s is not set", what);
		return false;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, cap, "%s %s: %s", what, path, strerror(errno));
		return false;
	}
	fclose(f);
	return true;
}

static bool check_server(struct agent_config *c, char *err, size_t cap)
{
	if (strncmp(c->url, "https://", 8) != 0 || strlen(c->url) <= 8) {
		snprintf(err, cap, "[server] url must be an https:// URL (got '%s')", c->url);
		return false;
	}
	size_t n = strlen(c->url);
	while (n > 8 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	if (!readable("[server] ca", c->ca, err, cap) || !readable("[server] cert", c->cert, err, cap) ||
	    !readable("[server] key", c->key, err, cap))
		return false;
	if (!agent_key_perms_ok(c->key, err, cap))
		return false;
	if (c->pin[0] && (strncmp(c->pin, "sha256//", 8) != 0 || strlen(c->pin) != 8 + 44)) {
		snprintf(err, cap, "[server] pin must be sha256//<base64 of the SHA-256 of the server's public key>");
		return false;
	}
	if (c->device_id[0] == '\0') {
		char why[600];
		if (!agent_cert_cn(c->cert, c->device_id, sizeof c->device_id, why, sizeof why)) {
			snprintf(err, cap, "[device] id not set and [server] cert: %s", why);
			return false;
		}
	}
	return true;
}

static bool check_device(struct agent_config *c, bool need_server, char *err, size_t cap)
{
	if (c->device_id[0] && airlock_check_device_id(c->device_id, strlen(c->device_id)) != AIRLOCK_OK) {
		snprintf(err, cap, "[device] id: 1..128 printable characters without spaces");
		return false;
	}
	if (airlock_check_label(c->hardware, strlen(c->hardware)) != AIRLOCK_OK) {
		snprintf(err, cap, "[device] hardware: %s", c->hardware[0] ? "not a label (1..64 printable, no spaces)"
									     : "is required");
		return false;
	}
	if (!readable("[device] root", c->root, err, cap))
		return false;
	if (c->state_dir[0] != '/') {
		snprintf(err, cap, "[device] state_dir must be an absolute path");
		return false;
	}
	if (c->wrap_key[0] && (!readable("[device] wrap_key", c->wrap_key, err, cap) ||
			       !agent_key_perms_ok(c->wrap_key, err, cap)))
		return false;
	(void)need_server;
	return true;
}

static bool check_slots_boot(struct agent_config *c, char *err, size_t cap)
{
	static const char *const slots[] = { "file", "block", "sim" };
	static const char *const boots[] = { "sim", "uboot", "grub" };
	bool ok = false;
	for (size_t i = 0; i < 3; i++)
		ok |= strcmp(c->slot_backend, slots[i]) == 0;
	if (!ok) {
		snprintf(err, cap, "[slots] backend must be file, block or sim (got '%s')", c->slot_backend);
		return false;
	}
	if (c->slot_path[0][0] == '\0' || c->slot_path[1][0] == '\0') {
		snprintf(err, cap, "[slots] a and b are required");
		return false;
	}
	if (strcmp(c->slot_path[0], c->slot_path[1]) == 0) {
		snprintf(err, cap, "[slots] a and b must differ");
		return false;
	}
	if (c->payload[0] && airlock_check_payload_name(c->payload, strlen(c->payload)) != AIRLOCK_OK) {
		snprintf(err, cap, "[slots] payload: not a payload name");
		return false;
	}
	ok = false;
	for (size_t i = 0; i < 3; i++)
		ok |= strcmp(c->boot_backend, boots[i]) == 0;
	if (!ok) {
		snprintf(err, cap, "[boot] backend must be sim, uboot or grub (got '%s')", c->boot_backend);
		return false;
	}
	if (c->boot_record[0] == '\0' && strcmp(c->boot_backend, "uboot") != 0) {
		snprintf(err, cap, "[boot] record is required for the %s backend", c->boot_backend);
		return false;
	}
	return true;
}

/* Judges what ini_parse*() returned (rc) for the text named name. */
static bool parse_result(const char *name, int rc, const struct parse_ctx *p, char *err, size_t cap)
{
	char why[700];
	if (rc < 0) {
		snprintf(err, cap, "%s: cannot read: %s", name, rc == -1 ? strerror(errno) : "out of memory");
		return false;
	}
	if (p->failed || rc > 0) {
		if (p->failed)
			snprintf(why, sizeof why, "%s", err);
		else
			snprintf(why, sizeof why, "syntax error");
		snprintf(err, cap, "%s:%d: %s", name, rc, why);
		return false;
	}
	return true;
}

/* Defaults, then the file: syntax, sections, keys and value ranges. */
static bool parse_file(const char *path, struct agent_config *cfg, char *err, size_t cap)
{
	agent_config_defaults(cfg);
	struct parse_ctx p = { .cfg = cfg, .err = err, .cap = cap };
	return parse_result(path, ini_parse(path, on_entry, &p), &p, err, cap);
}

bool agent_config_parse_text(const char *text, const char *name, struct agent_config *cfg, char *err, size_t cap)
{
	agent_config_defaults(cfg);
	struct parse_ctx p = { .cfg = cfg, .err = err, .cap = cap };
	return parse_result(name, ini_parse_string(text, on_entry, &p), &p, err, cap);
}

/* What enrollment needs: where to reach the server, the CA to trust, and
 * where the new identity goes (none of those files need exist yet). */
static bool check_enroll(struct agent_config *c, char *err, size_t cap)
{
	if (strncmp(c->url, "https://", 8) != 0 || strlen(c->url) <= 8) {
		snprintf(err, cap, "[server] url must be an https:// URL (got '%s')", c->url);
		return false;
	}
	size_t n = strlen(c->url);
	while (n > 8 && c->url[n - 1] == '/')
		c->url[--n] = '\0';
	if (!readable("[server] ca", c->ca, err, cap))
		return false;
	if (!c->cert[0] || !c->key[0] || !c->wrap_key[0]) {
		snprintf(err, cap, "%s is not set: enrollment writes the device's identity there",
			 !c->cert[0] ? "[server] cert" : !c->key[0] ? "[server] key" : "[device] wrap_key");
		return false;
	}
	if (c->device_id[0] && airlock_check_device_id(c->device_id, strlen(c->device_id)) != AIRLOCK_OK) {
		snprintf(err, cap, "[device] id: 1..128 printable characters without spaces");
		return false;
	}
	return true;
}

bool agent_config_load_enroll(const char *path, struct agent_config *cfg, char *err, size_t cap)
{
	char why[700];
	if (!parse_file(path, cfg, err, cap))
		return false;
	if (check_enroll(cfg, why, sizeof why))
		return true;
	snprintf(err, cap, "%s: %s", path, why);
	return false;
}

bool agent_config_load(const char *path, bool need_server, struct agent_config *cfg, char *err, size_t cap)
{
	char why[700];
	if (!parse_file(path, cfg, err, cap))
		return false;
	bool ok = (!need_server || check_server(cfg, why, sizeof why)) && check_device(cfg, need_server, why, sizeof why) &&
		  check_slots_boot(cfg, why, sizeof why);
	if (ok && cfg->min_rate && cfg->rate_window == 0)
		ok = false, snprintf(why, sizeof why, "[agent] rate_window must be set with min_rate");
	if (!ok)
		snprintf(err, cap, "%s: %s", path, why);
	return ok;
}
