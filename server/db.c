/*
 * The backend-independent half of the storage layer (db.h): the connection
 * pool, the checks every statement passes before it reaches a backend, the
 * transaction state machine and the schema migrations. The backends
 * (db_sqlite.c, db_pg.c) sit behind struct db_backend_ops.
 */
#include "db.h"
#include "db_backend.h"
#include "schema.h"

#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How often db_migrate retries a migration step that found the database
 * busy (another server migrating the same SQLite file past its busy
 * timeout). */
#define MIGRATE_RETRIES 5

struct db {
	const struct db_backend_ops *ops;
	pthread_mutex_t lock;
	pthread_cond_t freed;
	unsigned size;
	unsigned n_idle;
	struct db_conn **idle;  /* stack of connections nobody holds, size entries */
	struct db_conn **all;   /* every connection, for db_close */
	bool lock_ready, freed_ready;
};

static const struct db_backend_ops *backend_ops(enum db_backend b)
{
	switch (b) {
	case DB_SQLITE:
		return &db_sqlite_ops;
	case DB_POSTGRES:
		return &db_pg_ops;
	}
	return NULL;
}

void db_conn_set_err(struct db_conn *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	/* Library messages end in a newline (libpq's always do); the log
	 * line that quotes them should not. */
	size_t n = strlen(c->err);
	while (n > 0 && (c->err[n - 1] == '\n' || c->err[n - 1] == '\r'))
		c->err[--n] = '\0';
}

static void set_why(char *why, size_t cap, const char *msg)
{
	if (why && cap > 0)
		snprintf(why, cap, "%s", msg);
}

/* ---- the pool ---- */

/* Frees a pool, also one db_open_diag built only part of. */
static void pool_free(struct db *db)
{
	if (!db)
		return;
	for (unsigned i = 0; db->all && i < db->size; i++)
		if (db->all[i])
			db->ops->close(db->all[i]);
	if (db->freed_ready)
		pthread_cond_destroy(&db->freed);
	if (db->lock_ready)
		pthread_mutex_destroy(&db->lock);
	free(db->all);
	free(db->idle);
	free(db);
}

enum db_err db_open_diag(enum db_backend backend, const char *target, unsigned pool_size, struct db **out,
			 char *why, size_t why_cap)
{
	const struct db_backend_ops *ops = backend_ops(backend);
	char err[DB_ERRMSG_MAX];
	struct db *db = NULL;
	enum db_err e = DB_ERR_NOMEM;

	set_why(why, why_cap, "");
	if (!out || !ops || !target || pool_size == 0 || pool_size > DB_POOL_MAX) {
		set_why(why, why_cap, "bad arguments (backend, target or pool size)");
		if (out)
			*out = NULL;
		return DB_ERR_ARG;
	}
	*out = NULL;
	db = calloc(1, sizeof *db);
	if (!db)
		goto out;
	db->ops = ops;
	db->size = pool_size;
	db->all = calloc(pool_size, sizeof *db->all);
	db->idle = calloc(pool_size, sizeof *db->idle);
	if (!db->all || !db->idle)
		goto out;
	if (pthread_mutex_init(&db->lock, NULL) != 0)
		goto out;
	db->lock_ready = true;
	if (pthread_cond_init(&db->freed, NULL) != 0)
		goto out;
	db->freed_ready = true;
	/* All connections up front: a server that cannot reach its database
	 * should fail at start, not on the first request. */
	for (unsigned i = 0; i < pool_size; i++) {
		err[0] = '\0';
		e = ops->open(target, &db->all[i], err);
		if (e != DB_OK) {
			if (why && why_cap > 0)
				snprintf(why, why_cap, "%s: %s", ops->name, err[0] ? err : "cannot open");
			goto out;
		}
		db->idle[i] = db->all[i];
	}
	db->n_idle = pool_size;
	*out = db;
	db = NULL;
	e = DB_OK;
out:
	if (e == DB_ERR_NOMEM && why && why_cap > 0 && why[0] == '\0')
		set_why(why, why_cap, "out of memory");
	pool_free(db);
	return e;
}

enum db_err db_open(enum db_backend backend, const char *target, unsigned pool_size, struct db **out)
{
	return db_open_diag(backend, target, pool_size, out, NULL, 0);
}

void db_close(struct db *db)
{
	if (db)
		pool_free(db);
}

enum db_backend db_backend_of(const struct db *db)
{
	return db->ops->backend;
}

struct db_conn *db_acquire(struct db *db)
{
	pthread_mutex_lock(&db->lock);
	while (db->n_idle == 0)
		pthread_cond_wait(&db->freed, &db->lock);
	struct db_conn *c = db->idle[--db->n_idle];
	pthread_mutex_unlock(&db->lock);
	return c;
}

void db_release(struct db *db, struct db_conn *c)
{
	if (!c)
		return;
	/* A transaction left open would hold SQLite's write lock or
	 * PostgreSQL's row locks for whoever gets this connection next. */
	if (c->in_tx)
		db_rollback(c);
	pthread_mutex_lock(&db->lock);
	if (db->n_idle < db->size)
		db->idle[db->n_idle++] = c;
	pthread_cond_signal(&db->freed);
	pthread_mutex_unlock(&db->lock);
}

/* ---- statements ---- */

/* Transactions go through db_begin/db_commit/db_rollback only: db.c's
 * in_tx must say what the backend's state is. */
static bool is_tx_control(const char *sql)
{
	static const char *const words[] = { "BEGIN", "COMMIT", "END", "ROLLBACK", "START", "SAVEPOINT", "RELEASE",
					     "ABORT" };
	size_t n = 0;
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	while (((sql[n] | 0x20) >= 'a' && (sql[n] | 0x20) <= 'z'))
		n++;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strlen(words[i]) == n && strncasecmp(sql, words[i], n) == 0)
			return true;
	return false;
}

/* PostgreSQL identifiers may contain '$': "a$1" is a name, not a parameter. */
static bool ident_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
	       ch == '$';
}

/*
 * Checks that sql is one statement whose positional parameters are exactly
 * $1..$n_params, each used at least once. Both backends would otherwise
 * disagree: SQLite silently binds NULL to a parameter nobody supplied, and
 * PostgreSQL accepts a surplus parameter whose type is declared. The scan
 * skips quoted strings, quoted identifiers and comments; PostgreSQL's
 * dollar-quoted bodies ($$...$$) are not recognized, and the server's SQL
 * has none.
 */
static enum db_err check_sql(struct db_conn *c, const char *sql, size_t n_params)
{
	uint32_t used = 0;
	_Static_assert(DB_MAX_PARAMS <= 32, "the used-parameter mask is 32 bits");

	if (n_params > DB_MAX_PARAMS) {
		db_conn_set_err(c, "%zu parameters, at most %d", n_params, DB_MAX_PARAMS);
		return DB_ERR_ARG;
	}
	if (is_tx_control(sql)) {
		db_conn_set_err(c, "transaction control through db_exec: use db_begin/db_commit/db_rollback");
		return DB_ERR_ARG;
	}
	for (const char *p = sql; *p; p++) {
		if (*p == '\'' || *p == '"') {
			const char q = *p;
			/* A doubled quote inside is just the closing quote and an
			 * opening one, so this loop needs no escape handling. */
			p = strchr(p + 1, q);
			if (!p)
				break;  /* unterminated: the backend reports the syntax error */
		} else if (p[0] == '-' && p[1] == '-') {
			p = strchr(p, '\n');
			if (!p)
				break;
		} else if (p[0] == '/' && p[1] == '*') {
			p = strstr(p + 2, "*/");
			if (!p)
				break;
			p++;
		} else if (*p == '$' && p[1] >= '0' && p[1] <= '9' && !(p > sql && ident_char(p[-1]))) {
			unsigned long n = 0;
			while (p[1] >= '0' && p[1] <= '9') {
				n = n * 10 + (unsigned long)(p[1] - '0');
				p++;
				if (n > DB_MAX_PARAMS)
					break;
			}
			if (n == 0 || n > n_params) {
				db_conn_set_err(c, "statement uses $%lu but %zu parameter(s) given", n, n_params);
				return DB_ERR_ARG;
			}
			used |= UINT32_C(1) << (n - 1);
		} else if (*p == ';') {
			for (const char *t = p + 1; *t; t++) {
				if (*t != ' ' && *t != '\t' && *t != '\n' && *t != '\r' && *t != ';') {
					db_conn_set_err(c, "more than one statement in one call");
					return DB_ERR_ARG;
				}
			}
			break;
		}
	}
	uint32_t want = n_params == 0 ? 0 : (uint32_t)(UINT64_C(0xffffffff) >> (32 - n_params));
	if (used != want) {
		db_conn_set_err(c, "%zu parameter(s) given but the statement does not use them all", n_params);
		return DB_ERR_ARG;
	}
	return DB_OK;
}

static enum db_err check_params(struct db_conn *c, const struct db_value *params, size_t n_params)
{
	if (n_params > 0 && !params) {
		db_conn_set_err(c, "parameters missing");
		return DB_ERR_ARG;
	}
	for (size_t i = 0; i < n_params; i++) {
		const struct db_value *v = &params[i];
		switch (v->type) {
		case DB_NULL:
		case DB_INT:
			break;
		case DB_TEXT:
			/* Both libraries take lengths as int. */
			if (!v->s || strnlen(v->s, INT_MAX) >= INT_MAX) {
				db_conn_set_err(c, "parameter $%zu: text NULL or too long", i + 1);
				return DB_ERR_ARG;
			}
			break;
		case DB_BLOB:
			if ((!v->b && v->len > 0) || v->len >= INT_MAX) {
				db_conn_set_err(c, "parameter $%zu: blob NULL or too long", i + 1);
				return DB_ERR_ARG;
			}
			break;
		default:
			db_conn_set_err(c, "parameter $%zu: unknown type %d", i + 1, (int)v->type);
			return DB_ERR_ARG;
		}
	}
	return DB_OK;
}

enum db_err db_exec(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
		    db_row_fn fn, void *ctx, int64_t *changes)
{
	enum db_err e;

	if (changes)
		*changes = 0;
	if (!c)
		return DB_ERR_ARG;
	/* PostgreSQL refuses every statement of a transaction after one failed;
	 * SQLite would carry on and commit the rest. Refuse on both so a
	 * caller that ignores an error behaves the same on either. */
	if (c->in_tx && c->tx_err != DB_OK)
		return c->tx_err;
	if (!sql) {
		db_conn_set_err(c, "no statement");
		e = DB_ERR_ARG;
	} else {
		e = check_sql(c, sql, n_params);
		if (e == DB_OK)
			e = check_params(c, params, n_params);
		if (e == DB_OK)
			e = c->ops->exec(c, sql, params, n_params, fn, ctx, changes);
	}
	if (e != DB_OK && c->in_tx)
		c->tx_err = e;
	if (e != DB_OK && changes)
		*changes = 0;
	return e;
}

enum db_err db_exec_relaxed(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
			    db_row_fn fn, void *ctx, int64_t *changes)
{
	if (!c)
		return DB_ERR_ARG;
	c->relaxed = !c->in_tx;
	enum db_err e = db_exec(c, sql, params, n_params, fn, ctx, changes);
	c->relaxed = false;
	return e;
}

enum db_err db_begin(struct db_conn *c)
{
	if (!c)
		return DB_ERR_ARG;
	if (c->in_tx) {
		db_conn_set_err(c, "db_begin inside a transaction");
		return DB_ERR_ARG;
	}
	enum db_err e = c->ops->begin(c);
	if (e == DB_OK) {
		c->in_tx = true;
		c->tx_err = DB_OK;
	}
	return e;
}

enum db_err db_commit(struct db_conn *c)
{
	if (!c)
		return DB_ERR_ARG;
	if (!c->in_tx) {
		db_conn_set_err(c, "db_commit outside a transaction");
		return DB_ERR_ARG;
	}
	enum db_err e = c->tx_err;
	if (e == DB_OK)
		e = c->ops->commit(c);
	/* A transaction that cannot commit is over: roll it back here so the
	 * caller's retry starts clean. */
	if (e != DB_OK)
		c->ops->rollback(c);
	c->in_tx = false;
	c->tx_err = DB_OK;
	return e;
}

void db_rollback(struct db_conn *c)
{
	if (!c || !c->in_tx)
		return;
	c->ops->rollback(c);
	c->in_tx = false;
	c->tx_err = DB_OK;
}

const char *db_errmsg(struct db_conn *c)
{
	if (!c)
		return "no connection";
	return c->err[0] ? c->err : "no error";
}

/* ---- migrations ---- */

static int take_version(void *ctx, const struct db_row *row)
{
	int64_t *v = ctx;
	if (row->n >= 1 && row->col[0].type == DB_INT)
		*v = row->col[0].i;
	return 1;
}

/*
 * One transaction: lock, read the version, apply the next migration if one
 * is missing. The version is read after the lock, so a server that waited
 * for another one's migration sees it done instead of applying it again.
 */
static enum db_err migrate_step(struct db_conn *c, int *version, bool *done)
{
	const struct db_backend_ops *ops = c->ops;
	int64_t cur = 0, changes = 0;
	enum db_err e;

	*done = false;
	e = db_begin(c);
	if (e != DB_OK)
		return e;
	if (ops->migrate_lock_sql) {
		e = db_exec(c, ops->migrate_lock_sql, NULL, 0, NULL, NULL, NULL);
		if (e != DB_OK)
			goto out;
	}
	/* Created inside the locked transaction: PostgreSQL's CREATE TABLE IF
	 * NOT EXISTS is not safe against a concurrent one. */
	e = db_exec(c, ops->version_table_sql, NULL, 0, NULL, NULL, NULL);
	if (e != DB_OK)
		goto out;
	e = db_exec(c, "SELECT MAX(version) FROM schema_version", NULL, 0, take_version, &cur, NULL);
	if (e != DB_OK)
		goto out;
	if (cur < 0 || cur > (int64_t)schema_migration_count) {
		/* Written by a newer server: running old code on it could
		 * corrupt what the new schema means. */
		db_conn_set_err(c, "schema version %lld is not one this server knows (latest %zu)", (long long)cur,
				schema_migration_count);
		e = DB_ERR_QUERY;
		goto out;
	}
	if (cur == (int64_t)schema_migration_count) {
		*done = true;
	} else {
		const struct schema_migration *m = &schema_migrations[cur];
		const char *const *stmts = ops->backend == DB_POSTGRES ? m->postgres : m->sqlite;
		for (size_t i = 0; stmts[i]; i++) {
			e = db_exec(c, stmts[i], NULL, 0, NULL, NULL, NULL);
			if (e != DB_OK)
				goto out;
		}
		const struct db_value p[] = { db_int(m->version) };
		e = db_exec(c, "UPDATE schema_version SET version = $1", p, 1, NULL, NULL, &changes);
		if (e == DB_OK && changes == 0)
			e = db_exec(c, "INSERT INTO schema_version (version) VALUES ($1)", p, 1, NULL, NULL, NULL);
		if (e != DB_OK)
			goto out;
		cur = m->version;
	}
	e = db_commit(c);
	if (e == DB_OK)
		*version = (int)cur;
out:
	if (e != DB_OK)
		db_rollback(c);
	return e;
}

enum db_err db_migrate_diag(struct db *db, int *version, char *why, size_t why_cap)
{
	int v = 0, busy = 0;
	bool done = false;
	enum db_err e = DB_OK;

	set_why(why, why_cap, "");
	if (!db) {
		set_why(why, why_cap, "no database");
		return DB_ERR_ARG;
	}
	/* Migration N must produce version N: the version row is an index
	 * into the table. */
	for (size_t i = 0; i < schema_migration_count; i++) {
		if (schema_migrations[i].version != (int)i + 1 || !schema_migrations[i].sqlite ||
		    !schema_migrations[i].postgres) {
			set_why(why, why_cap, "schema.c: migrations are not numbered 1, 2, ...");
			return DB_ERR_ARG;
		}
	}
	struct db_conn *c = db_acquire(db);
	while (!done) {
		e = migrate_step(c, &v, &done);
		if (e == DB_ERR_CONFLICT && busy++ < MIGRATE_RETRIES)
			continue;
		if (e != DB_OK)
			break;
	}
	if (e != DB_OK && why && why_cap > 0)
		snprintf(why, why_cap, "migration to version %d: %s", v + 1, db_errmsg(c));
	db_release(db, c);
	if (version)
		*version = v;
	return e;
}

enum db_err db_migrate(struct db *db, int *version)
{
	return db_migrate_diag(db, version, NULL, 0);
}
