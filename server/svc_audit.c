/* The audit log over the API: export (what `airlock audit verify` checks) and checkpoints. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/hex.h"
#include "svc.h"

static bool parse_seq(const char *s, int64_t *out)
{
	char *end;
	if (!s)
		return true;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || s[0] < '0' || s[0] > '9' || v < 0)
		return false;
	*out = v;
	return true;
}

static bool to_stream(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, ctx) == len;
}

bool svc_audit_export(struct app *app, const char *from_s, const char *to_s, struct svc_result *r)
{
	int64_t from = 1, to = 0;
	char *buf = NULL;
	size_t len = 0;
	if (!parse_seq(from_s, &from) || !parse_seq(to_s, &to))
		return svc_fail(r, 400, "bad_request", "from and to are entry numbers");
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return svc_fail(r, 503, "unavailable", "out of memory");
	struct db_conn *c = db_acquire(app->db);
	enum audit_status st = audit_export(c, from, to, to_stream, f);
	db_release(app->db, c);
	if (fclose(f) != 0 && st == AUDIT_OK)
		st = AUDIT_ERR_WRITE;
	if (st != AUDIT_OK) {
		free(buf);
		return svc_fail(r, 503, "unavailable", "audit export failed: %s", audit_status_name(st));
	}
	r->status = 200;
	r->bytes = (uint8_t *)buf;
	r->bytes_len = len;
	r->content_type = "application/json";
	return true;
}

bool svc_audit_checkpoint(struct app *app, const struct svc_actor *a, struct svc_result *r)
{
	struct audit_checkpoint cp;
	char head[65];
	(void)a;
	struct db_conn *c = db_acquire(app->db);
	enum audit_status st = audit_checkpoint(&app->audit_w, c, app_now(), &cp);
	db_release(app->db, c);
	if (st != AUDIT_OK)
		return svc_fail(r, 503, "unavailable", "checkpoint failed: %s", audit_status_name(st));
	airlock_hex_encode(cp.head, sizeof cp.head, head);
	return svc_ok(r, 200, json_pack("{s:I,s:s,s:I}", "seq", (json_int_t)cp.seq, "head", head, "time",
					(json_int_t)cp.time));
}
