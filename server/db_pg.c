/*
 * The PostgreSQL backend of db.h, on libpq.
 *
 * Results come in binary (exact integers and bytea, no hex round trip)
 * and one row at a time (single-row mode), so a large result never sits
 * in memory whole: the row handed to the callback is the only one held.
 * Parameters: integers as text declared int8, text declared text, blobs
 * binary declared bytea, NULL untyped (the server infers it).
 *
 * Data statements are prepared once per connection (named, keyed by the
 * SQL text and the parameter types) and then only executed: the server
 * runs a fixed set of queries, and parsing and planning each one anew cost
 * PostgreSQL more than running it. db_exec_relaxed statements run with
 * synchronous_commit off (their commit does not wait for the WAL flush;
 * PostgreSQL still writes the WAL in order, so the next durable commit
 * covers them); the session is set back before any other write.
 */
#include "db_backend.h"

#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Type OIDs, fixed in PostgreSQL's catalog (pg_type.dat); the server
 * headers that name them are not installed with libpq. */
enum {
	OID_BOOL = 16,
	OID_BYTEA = 17,
	OID_CHAR = 18,
	OID_NAME = 19,
	OID_INT8 = 20,
	OID_INT2 = 21,
	OID_INT4 = 23,
	OID_TEXT = 25,
	OID_OID = 26,
	OID_UNKNOWN = 705,
	OID_BPCHAR = 1042,
	OID_VARCHAR = 1043,
	OID_NUMERIC = 1700,
};

/* Prepared statements kept per connection; past it, statements run
 * unprepared. */
#define PG_PREPARED_MAX 64

/* Serializes migrations of one database: "airlock" and a 1. */
#define MIGRATE_LOCK_KEY "7019267304284449537"

struct pgsql_conn {
	struct db_conn base;    /* first: db.c holds &base */
	PGconn *pg;
	/* The server said FATAL while we were idle: it is closing this
	 * connection (terminated backend, shutdown), whether or not the close
	 * has reached us yet. */
	bool closing;
	bool async_commit;      /* the session has synchronous_commit off */
	size_t n_prepared;
	struct pg_prepared {
		const char *key;    /* the caller's pointer, checked by strcmp */
		char *sql;
		size_t n_params;
		Oid types[DB_MAX_PARAMS];
	} prepared[PG_PREPARED_MAX];
};

static struct pgsql_conn *pgsql_conn_of(struct db_conn *c)
{
	return (struct pgsql_conn *)c;
}

/* Notices (CREATE TABLE IF NOT EXISTS "skipping", the FATAL a terminated
 * backend sends to an idle connection) would otherwise go to stderr,
 * outside the server's log format. A FATAL is kept as a fact. */
static void on_notice(void *arg, const PGresult *res)
{
	struct pgsql_conn *pc = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	if (sev && (strcmp(sev, "FATAL") == 0 || strcmp(sev, "PANIC") == 0))
		pc->closing = true;
}

static enum db_err classify(const char *sqlstate)
{
	if (!sqlstate)
		return DB_ERR_QUERY;
	if (strncmp(sqlstate, "23", 2) == 0)        /* integrity_constraint_violation */
		return DB_ERR_CONSTRAINT;
	if (strcmp(sqlstate, "40001") == 0 ||       /* serialization_failure */
	    strcmp(sqlstate, "40P01") == 0 ||       /* deadlock_detected */
	    strcmp(sqlstate, "55P03") == 0)         /* lock_not_available */
		return DB_ERR_CONFLICT;
	if (strcmp(sqlstate, "53200") == 0)         /* out_of_memory */
		return DB_ERR_NOMEM;
	if (strncmp(sqlstate, "08", 2) == 0 ||      /* connection_exception */
	    strncmp(sqlstate, "57P", 3) == 0)       /* admin/crash shutdown */
		return DB_ERR_CONNECT;
	return DB_ERR_QUERY;
}

static enum db_err fail_res(struct pgsql_conn *pc, const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	if (primary)
		db_conn_set_err(&pc->base, "postgres: %s: %s%s%s", state ? state : "-----", primary,
				detail ? ": " : "", detail ? detail : "");
	else
		db_conn_set_err(&pc->base, "postgres: %s", PQerrorMessage(pc->pg));
	if (PQstatus(pc->pg) == CONNECTION_BAD)
		return DB_ERR_CONNECT;
	return classify(state);
}

static enum db_err fail_conn(struct pgsql_conn *pc)
{
	db_conn_set_err(&pc->base, "postgres: %s", PQerrorMessage(pc->pg));
	return PQstatus(pc->pg) == CONNECTION_BAD ? DB_ERR_CONNECT : DB_ERR_QUERY;
}

/* ---- binary result decoding ---- */

static uint64_t be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* Two's complement from n big-endian bytes, without relying on the
 * implementation-defined conversion of an out-of-range unsigned. */
static int64_t be_signed(const uint8_t *p, size_t n)
{
	uint64_t u = be(p, n);
	uint64_t sign = UINT64_C(1) << (n * 8 - 1);
	if (!(u & sign))
		return (int64_t)u;
	uint64_t mag = (n == 8 ? 0 : (sign << 1)) - u;  /* modulo 2^64 when n == 8 */
	return mag == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)mag;
}

/*
 * NUMERIC (what SUM() of a bigint returns) as an int64 when it is a whole
 * number in range, as SQLite would give it. Wire format: int16 ndigits,
 * int16 weight, uint16 sign, int16 dscale, then ndigits base-10000 digits,
 * the first worth 10000^weight.
 */
static bool numeric_int64(const uint8_t *p, size_t len, int64_t *out)
{
	if (len < 8)
		return false;
	const int64_t ndigits = be_signed(p, 2), weight = be_signed(p + 2, 2);
	const uint64_t sign = be(p + 4, 2);
	if (ndigits < 0 || len != 8 + 2 * (size_t)ndigits || (sign != 0 && sign != 0x4000))
		return false;  /* NaN and infinities have other sign words */
	uint64_t mag = 0;
	for (int64_t i = 0; i <= weight; i++) {
		const uint64_t d = i < ndigits ? be(p + 8 + 2 * i, 2) : 0;
		if (d > 9999 || mag > (UINT64_MAX - d) / 10000)
			return false;
		mag = mag * 10000 + d;
	}
	for (int64_t i = weight + 1 < 0 ? 0 : weight + 1; i < ndigits; i++)
		if (be(p + 8 + 2 * i, 2) != 0)
			return false;  /* a fraction */
	if (sign == 0) {
		if (mag > INT64_MAX)
			return false;
		*out = (int64_t)mag;
	} else {
		if (mag > (UINT64_C(1) << 63))
			return false;
		*out = mag == (UINT64_C(1) << 63) ? INT64_MIN : -(int64_t)mag;
	}
	return true;
}

static enum db_err decode_row(struct pgsql_conn *pc, const PGresult *res, struct db_row *row)
{
	const int ncol = PQnfields(res);
	if (ncol > DB_MAX_COLUMNS) {
		db_conn_set_err(&pc->base, "statement returns %d columns, at most %d", ncol, DB_MAX_COLUMNS);
		return DB_ERR_ARG;
	}
	row->n = (size_t)ncol;
	for (int i = 0; i < ncol; i++) {
		struct db_value *v = &row->col[i];
		*v = (struct db_value){ .type = DB_NULL };
		if (PQgetisnull(res, 0, i))
			continue;
		/* Binary values are followed by a NUL too (libpq adds it), so
		 * text can be handed out in place. */
		const uint8_t *p = (const uint8_t *)PQgetvalue(res, 0, i);
		const int n = PQgetlength(res, 0, i);
		const size_t len = n < 0 ? 0 : (size_t)n;
		bool ok = true;
		switch (PQftype(res, i)) {
		case OID_INT8:
		case OID_INT4:
		case OID_INT2:
			ok = len == 8 || len == 4 || len == 2;
			if (ok)
				v->i = be_signed(p, len);
			v->type = DB_INT;
			break;
		case OID_OID:
			ok = len == 4;
			if (ok)
				v->i = (int64_t)be(p, 4);
			v->type = DB_INT;
			break;
		case OID_BOOL:
			ok = len == 1;
			if (ok)
				v->i = p[0] != 0;
			v->type = DB_INT;
			break;
		case OID_NUMERIC:
			ok = numeric_int64(p, len, &v->i);
			v->type = DB_INT;
			break;
		case OID_BYTEA:
			v->type = DB_BLOB;
			v->b = p;
			v->len = len;
			break;
		case OID_TEXT:
		case OID_VARCHAR:
		case OID_BPCHAR:
		case OID_NAME:
		case OID_CHAR:
		case OID_UNKNOWN:
			v->type = DB_TEXT;
			v->s = (const char *)p;
			v->len = strnlen(v->s, len);
			break;
		default:
			db_conn_set_err(&pc->base, "postgres: column %d (%s) has type oid %u, which db.h has no type for",
					i, PQfname(res, i), (unsigned)PQftype(res, i));
			return DB_ERR_QUERY;
		}
		if (!ok) {
			db_conn_set_err(&pc->base, "postgres: column %d (%s): value is not an int64", i, PQfname(res, i));
			return DB_ERR_QUERY;
		}
	}
	return DB_OK;
}

/* ---- statements ---- */

/* Rows changed, as SQLite counts them: INSERT/UPDATE/DELETE only (libpq
 * also counts the rows a SELECT returned). */
static int64_t changed_rows(PGresult *res)
{
	const char *tag = PQcmdStatus(res);
	if (strncmp(tag, "INSERT ", 7) != 0 && strncmp(tag, "UPDATE ", 7) != 0 &&
	    strncmp(tag, "DELETE ", 7) != 0 && strncmp(tag, "MERGE ", 6) != 0)
		return 0;
	return strtoll(PQcmdTuples(res), NULL, 10);
}

/*
 * Before a statement goes out: reads whatever the server sent while the
 * connection sat idle. A server that restarted, or a backend that was
 * terminated, sends its FATAL and closes then, so the broken connection
 * is found here, before anything was sent, and can be reset without
 * risking a statement running twice. Inside a transaction a reset would
 * lose the transaction's earlier statements: the caller must retry it.
 */
static void forget_prepared(struct pgsql_conn *pc)
{
	for (size_t i = 0; i < pc->n_prepared; i++)
		free(pc->prepared[i].sql);
	pc->n_prepared = 0;
}

static enum db_err ensure_connected(struct pgsql_conn *pc)
{
	/* libpq sees the close only on a read after the one that returned the
	 * FATAL, hence the loop; bounded, since an idle server sends little
	 * unasked. */
	for (int k = 0; k < 4 && PQstatus(pc->pg) == CONNECTION_OK; k++) {
		struct pollfd p = { .fd = PQsocket(pc->pg), .events = POLLIN };
		if (p.fd < 0 || poll(&p, 1, 0) <= 0 || !PQconsumeInput(pc->pg))
			break;
	}
	/* PQconsumeInput only buffers; this parses, so a FATAL that came
	 * before the close reaches on_notice now and not as the answer to
	 * the statement we are about to send. */
	(void)PQisBusy(pc->pg);
	if (PQstatus(pc->pg) == CONNECTION_OK && !pc->closing)
		return DB_OK;
	if (pc->base.in_tx) {
		db_conn_set_err(&pc->base, "postgres: connection lost inside a transaction: %s",
				pc->closing ? "closed by the server" : PQerrorMessage(pc->pg));
		return DB_ERR_CONNECT;
	}
	PQreset(pc->pg);
	pc->closing = false;
	/* a new session: no prepared statements, default settings */
	forget_prepared(pc);
	pc->async_commit = false;
	if (PQstatus(pc->pg) != CONNECTION_OK) {
		db_conn_set_err(&pc->base, "postgres: reconnect: %s", PQerrorMessage(pc->pg));
		return DB_ERR_CONNECT;
	}
	return DB_OK;
}

struct pg_params {
	const char *values[DB_MAX_PARAMS];
	int lengths[DB_MAX_PARAMS];
	int formats[DB_MAX_PARAMS];
	Oid types[DB_MAX_PARAMS];
	char ints[DB_MAX_PARAMS][24];
};

static void build_params(struct pg_params *pp, const struct db_value *params, size_t n_params)
{
	for (size_t i = 0; i < n_params; i++) {
		const struct db_value *v = &params[i];
		pp->values[i] = NULL;
		pp->lengths[i] = 0;
		pp->formats[i] = 0;
		pp->types[i] = 0;
		switch (v->type) {
		case DB_INT:
			snprintf(pp->ints[i], sizeof pp->ints[i], "%lld", (long long)v->i);
			pp->values[i] = pp->ints[i];
			pp->types[i] = OID_INT8;
			break;
		case DB_TEXT:
			pp->values[i] = v->s;
			pp->types[i] = OID_TEXT;
			break;
		case DB_BLOB:
			/* A NULL value pointer means SQL NULL to libpq. */
			pp->values[i] = v->len ? (const char *)v->b : "";
			pp->lengths[i] = (int)v->len;  /* < INT_MAX: checked in db.c */
			pp->formats[i] = 1;
			pp->types[i] = OID_BYTEA;
			break;
		case DB_NULL:
		default:
			break;
		}
	}
}

static bool starts_with_word(const char *sql, const char *const *words, size_t n)
{
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	for (size_t i = 0; i < n; i++)
		if (strncasecmp(sql, words[i], strlen(words[i])) == 0)
			return true;
	return false;
}

/* Only data statements are prepared: DDL runs once, in the migrations. */
static bool cacheable(const char *sql)
{
	static const char *const words[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "WITH" };
	return starts_with_word(sql, words, sizeof words / sizeof words[0]);
}

/* The name of sql's prepared statement on this connection, preparing it
 * first if needed; NULL: run it unprepared (no room, DDL, or the prepare
 * failed, in which case the unprepared run reports the error). */
static const char *prepared_name(struct pgsql_conn *pc, const char *sql, const struct pg_params *pp,
				 size_t n_params, char name[16])
{
	for (size_t i = 0; i < pc->n_prepared; i++) {
		const struct pg_prepared *p = &pc->prepared[i];
		if (p->key == sql && p->n_params == n_params &&
		    memcmp(p->types, pp->types, n_params * sizeof pp->types[0]) == 0 && strcmp(p->sql, sql) == 0) {
			snprintf(name, 16, "a%u", (unsigned)(i % 1000u));
			return name;
		}
	}
	/* Inside a transaction too: a prepare that fails (and so aborts the
	 * transaction) is a statement that would fail unprepared as well. */
	if (pc->n_prepared == PG_PREPARED_MAX || !cacheable(sql))
		return NULL;
	struct pg_prepared *p = &pc->prepared[pc->n_prepared];
	p->sql = strdup(sql);
	if (!p->sql)
		return NULL;
	snprintf(name, 16, "a%u", (unsigned)(pc->n_prepared % 1000u));
	PGresult *res = PQprepare(pc->pg, name, sql, (int)n_params, pp->types);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	PQclear(res);
	if (!ok) {
		free(p->sql);
		return NULL;
	}
	p->key = sql;
	p->n_params = n_params;
	memcpy(p->types, pp->types, n_params * sizeof pp->types[0]);
	pc->n_prepared++;
	return name;
}

/* Sets synchronous_commit for what comes next: off for a relaxed write,
 * on again before any other statement that may write. */
static enum db_err commit_mode(struct pgsql_conn *pc, const char *sql)
{
	static const char *const reads[] = { "SELECT" };
	bool want_async = pc->base.relaxed && !pc->base.in_tx;
	if (want_async == pc->async_commit || (!want_async && starts_with_word(sql, reads, 1)))
		return DB_OK;
	PGresult *res = PQexec(pc->pg, want_async ? "SET synchronous_commit = off" : "SET synchronous_commit = on");
	enum db_err e = PQresultStatus(res) == PGRES_COMMAND_OK ? DB_OK : res ? fail_res(pc, res) : fail_conn(pc);
	PQclear(res);
	if (e == DB_OK)
		pc->async_commit = want_async;
	return e;
}

static enum db_err pg_exec(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
			   db_row_fn fn, void *ctx, int64_t *changes)
{
	struct pgsql_conn *pc = pgsql_conn_of(c);
	struct pg_params pp;
	PGresult *res;
	enum db_err e = DB_OK;
	bool stopped = false;
	char name[16];

	build_params(&pp, params, n_params);
	/* One retry, only when the statement never left: a statement that
	 * was sent may have run even if its answer was lost. */
	for (int attempt = 0;; attempt++) {
		e = ensure_connected(pc);
		if (e != DB_OK)
			return e;
		e = commit_mode(pc, sql);
		if (e != DB_OK)
			return e;
		const char *stmt = prepared_name(pc, sql, &pp, n_params, name);
		int sent = stmt ? PQsendQueryPrepared(pc->pg, stmt, (int)n_params, pp.values, pp.lengths, pp.formats, 1)
				: PQsendQueryParams(pc->pg, sql, (int)n_params, pp.types, pp.values, pp.lengths,
						    pp.formats, 1);
		if (sent)
			break;
		if (attempt == 0 && !c->in_tx && PQstatus(pc->pg) == CONNECTION_BAD)
			continue;
		return fail_conn(pc);
	}
	/* Fails only if called at the wrong time, which the send above rules
	 * out; without it the rows still come, all at once. */
	(void)PQsetSingleRowMode(pc->pg);

	/* Every result is read to the end, also after an error or a stop:
	 * libpq accepts no new statement before. */
	while ((res = PQgetResult(pc->pg)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (e == DB_OK && fn && !stopped) {
				struct db_row row;
				e = decode_row(pc, res, &row);
				if (e == DB_OK && fn(ctx, &row) != 0)
					stopped = true;
			}
			break;
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
			if (e == DB_OK && changes)
				*changes = changed_rows(res);
			break;
		case PGRES_EMPTY_QUERY:
			if (e == DB_OK) {
				db_conn_set_err(c, "empty statement");
				e = DB_ERR_ARG;
			}
			break;
		default:
			if (e == DB_OK)
				e = fail_res(pc, res);
			break;
		}
		PQclear(res);
	}
	if (e == DB_OK && PQstatus(pc->pg) == CONNECTION_BAD)
		e = fail_conn(pc);
	return e;
}

static enum db_err run(struct db_conn *c, const char *sql)
{
	return pg_exec(c, sql, NULL, 0, NULL, NULL, NULL);
}

static enum db_err pg_begin(struct db_conn *c)
{
	struct pgsql_conn *pc = pgsql_conn_of(c);
	/* a transaction commits durably: the session setting decides */
	if (pc->async_commit) {
		enum db_err e = commit_mode(pc, "BEGIN");
		if (e != DB_OK)
			return e;
	}
	/* READ COMMITTED: the server's multi-statement changes are written
	 * as UPDATE ... SET n = n + 1, ON CONFLICT DO NOTHING and RETURNING,
	 * which are safe there; a conflict still surfaces as 40001/40P01. */
	return run(c, "BEGIN");
}

static enum db_err pg_commit(struct db_conn *c)
{
	struct pgsql_conn *pc = pgsql_conn_of(c);
	/* COMMIT of a transaction that had an error answers "ROLLBACK", not
	 * an error (db.c normally stops that case before it gets here). */
	if (PQtransactionStatus(pc->pg) == PQTRANS_INERROR) {
		db_conn_set_err(c, "postgres: transaction aborted by an earlier error");
		return DB_ERR_QUERY;
	}
	return run(c, "COMMIT");
}

static void pg_rollback(struct db_conn *c)
{
	struct pgsql_conn *pc = pgsql_conn_of(c);
	/* A broken connection has no transaction left on the server; the
	 * next statement resets it. */
	if (PQstatus(pc->pg) != CONNECTION_OK || PQtransactionStatus(pc->pg) == PQTRANS_IDLE)
		return;
	PQclear(PQexec(pc->pg, "ROLLBACK"));
}

static void pg_close(struct db_conn *c)
{
	struct pgsql_conn *pc = pgsql_conn_of(c);
	if (!pc)
		return;
	PQfinish(pc->pg);
	forget_prepared(pc);
	free(pc);
}

static enum db_err pg_open(const char *target, struct db_conn **out, char *err)
{
	/* The target is expanded as a whole conninfo; the keywords after it
	 * override it: text is UTF-8 by db.h's contract. */
	const char *const keys[] = { "dbname", "client_encoding", "fallback_application_name", NULL };
	const char *const values[] = { target, "UTF8", "airlock-server", NULL };
	struct pgsql_conn *pc;

	*out = NULL;
	if (!PQisthreadsafe()) {
		snprintf(err, DB_ERRMSG_MAX, "postgres: libpq is not thread-safe");
		return DB_ERR_CONNECT;
	}
	pc = calloc(1, sizeof *pc);
	if (!pc)
		return DB_ERR_NOMEM;
	pc->base.ops = &db_pg_ops;
	pc->pg = PQconnectdbParams(keys, values, 1);
	if (!pc->pg) {
		free(pc);
		return DB_ERR_NOMEM;
	}
	if (PQstatus(pc->pg) != CONNECTION_OK) {
		snprintf(err, DB_ERRMSG_MAX, "postgres: %s", PQerrorMessage(pc->pg));
		size_t n = strlen(err);
		while (n > 0 && err[n - 1] == '\n')
			err[--n] = '\0';
		pg_close(&pc->base);
		return DB_ERR_CONNECT;
	}
	PQsetNoticeReceiver(pc->pg, on_notice, pc);
	*out = &pc->base;
	return DB_OK;
}

const struct db_backend_ops db_pg_ops = {
	.backend = DB_POSTGRES,
	.name = "postgres",
	.version_table_sql = "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)",
	.migrate_lock_sql = "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK_KEY ")",
	.open = pg_open,
	.close = pg_close,
	.exec = pg_exec,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
};
