#include "app.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "airlock/hex.h"
#include "audit.h"
#include "roots.h"

int64_t app_now(void)
{
	return (int64_t)time(NULL);
}

void svc_result_free(struct svc_result *r)
{
	json_decref(r->body);
	free(r->bytes);
	memset(r, 0, sizeof *r);
}

bool svc_fail(struct svc_result *r, unsigned status, const char *code, const char *fmt, ...)
{
	va_list ap;
	json_decref(r->body);
	r->body = NULL;
	r->status = status;
	r->code = code;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof r->message, fmt, ap);
	va_end(ap);
	return false;
}

bool svc_ok(struct svc_result *r, unsigned status, json_t *body)
{
	if (!body)
		return svc_fail(r, 503, "unavailable", "out of memory");
	r->status = status;
	r->code = NULL;
	r->body = body;
	return true;
}

static bool read_file(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return false;
	uint8_t *p = malloc(max + 1);
	size_t n = p ? fread(p, 1, max + 1, f) : 0;
	bool ok = p && !ferror(f) && n <= max;
	fclose(f);
	if (!ok) {
		free(p);
		return false;
	}
	*buf = p;
	*len = n;
	return true;
}

static bool load_key(const char *path, enum airlock_alg want, struct airlock_privkey **out, uint8_t *keyid,
		     char *err, size_t err_cap)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	airlock_err e = airlock_privkey_load(path, out);
	if (e == AIRLOCK_OK && airlock_privkey_alg(*out) != want && !(want == AIRLOCK_ALG_ED25519 &&
								      airlock_privkey_alg(*out) == AIRLOCK_ALG_P256))
		e = AIRLOCK_ERR_UNSUPPORTED_ALG;
	if (e == AIRLOCK_OK && keyid) {
		e = airlock_privkey_public(*out, pub, &pub_len);
		if (e == AIRLOCK_OK)
			e = airlock_keyid(pub, pub_len, keyid);
	}
	if (e != AIRLOCK_OK) {
		snprintf(err, err_cap, "%s: %s", path, airlock_err_name(e));
		return false;
	}
	return true;
}

static bool make_dir(const char *path, char *err, size_t err_cap)
{
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		snprintf(err, err_cap, "%s: %s", path, strerror(errno));
		return false;
	}
	return true;
}

bool app_open(struct app *app, const struct server_config *cfg, char *err, size_t err_cap)
{
	memset(app, 0, sizeof *app);
	app->cfg = *cfg;
	airlock_err e = pki_ca_load(cfg->ca_key, cfg->ca_cert, &app->ca);
	if (e != AIRLOCK_OK) {
		snprintf(err, err_cap, "fleet CA %s: %s", cfg->ca_key, airlock_err_name(e));
		goto fail;
	}
	if (!load_key(cfg->director_key, AIRLOCK_ALG_ED25519, &app->director, app->director_keyid, err, err_cap) ||
	    !load_key(cfg->content_key, AIRLOCK_ALG_X25519, &app->content, app->content_keyid, err, err_cap) ||
	    !load_key(cfg->audit_key, AIRLOCK_ALG_ED25519, &app->audit, NULL, err, err_cap))
		goto fail;
	if (!read_file(cfg->root, AIRLOCK_ROOT_MAX_LEN, &app->root_buf, &app->root_len)) {
		snprintf(err, err_cap, "root %s: cannot read", cfg->root);
		goto fail;
	}
	e = airlock_root_load_trusted(app->root_buf, app->root_len, &app->root, NULL);
	if (e != AIRLOCK_OK) {
		snprintf(err, err_cap, "root %s: %s", cfg->root, airlock_err_name(e));
		goto fail;
	}
	/* The director key must be one the root authorizes, or every device
	 * would refuse every directive. */
	if (!airlock_root_role_has(&app->root, AIRLOCK_ROLE_DIRECTOR, app->director_keyid)) {
		snprintf(err, err_cap, "director key %s is not a director key of root version %llu",
			 cfg->director_key, (unsigned long long)app->root.version);
		goto fail;
	}
	snprintf(app->artifacts_dir, sizeof app->artifacts_dir, "%.900s/artifacts", cfg->data_dir);
	snprintf(app->roots_dir, sizeof app->roots_dir, "%.900s/roots", cfg->data_dir);
	if (!make_dir(cfg->data_dir, err, err_cap) || !make_dir(app->artifacts_dir, err, err_cap) ||
	    !make_dir(app->roots_dir, err, err_cap))
		goto fail;
	enum db_err de = db_open(strcmp(cfg->db_backend, "postgres") == 0 ? DB_POSTGRES : DB_SQLITE, cfg->db_target,
				 cfg->db_pool, &app->db);
	if (de != DB_OK) {
		snprintf(err, err_cap, "database %s: cannot open", cfg->db_backend);
		goto fail;
	}
	int version;
	if (db_migrate(app->db, &version) != DB_OK) {
		snprintf(err, err_cap, "database: migration failed");
		goto fail;
	}
	if (audit_writer_init(&app->audit_w, db_backend_of(app->db), app->audit, 0) != AUDIT_OK) {
		snprintf(err, err_cap, "audit key %s: unusable", cfg->audit_key);
		goto fail;
	}
	if (!roots_sync(app, err, err_cap))
		goto fail;
	return true;
fail:
	app_close(app);
	return false;
}

void app_close(struct app *app)
{
	if (app->db)
		db_close(app->db);
	pki_ca_free(app->ca);
	airlock_privkey_free(app->director);
	airlock_privkey_free(app->content);
	airlock_privkey_free(app->audit);
	free(app->root_buf);
	memset(app, 0, sizeof *app);
}

static char *detail_text(json_t *detail)
{
	json_t *d = detail ? detail : json_object();  /* NULL: {} (released below too) */
	char *text = d ? json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(d);
	return text;
}

void app_audit(struct app *app, struct db_conn *c, const char *actor, const char *action, json_t *detail)
{
	char *text = detail_text(detail);
	enum audit_status st = text ? audit_append(&app->audit_w, c, actor, action, text, app_now(), NULL)
				    : AUDIT_ERR_NOMEM;
	if (st != AUDIT_OK)
		fprintf(stderr, "{\"level\":\"error\",\"msg\":\"audit append failed\",\"action\":\"%s\",\"status\":\"%s\"}\n",
			action, audit_status_name(st));
	free(text);
}

bool app_audit_tx(struct app *app, struct db_conn *c, const char *actor, const char *action, json_t *detail)
{
	char *text = detail_text(detail);
	enum audit_status st = text ? audit_append_in_tx(&app->audit_w, c, actor, action, text, app_now(), NULL)
				    : AUDIT_ERR_NOMEM;
	free(text);
	return st == AUDIT_OK;
}

void app_artifact_path(const struct app *app, const char *sha256_hex, char *out, size_t cap)
{
	/* Two-level fan-out keeps directories small; names are validated hex. */
	snprintf(out, cap, "%s/%.2s/%s", app->artifacts_dir, sha256_hex, sha256_hex);
}

bool valid_device_id(const char *s)
{
	return s && airlock_check_device_id(s, strlen(s)) == AIRLOCK_OK;
}

bool valid_sha256_hex(const char *s)
{
	uint8_t tmp[32];
	if (!s || strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;  /* lowercase only: one spelling per digest */
	return airlock_hex_decode(s, 64, tmp, 32) == AIRLOCK_OK;
}

bool valid_label(const char *s)
{
	return s && airlock_check_label(s, strlen(s)) == AIRLOCK_OK;
}
