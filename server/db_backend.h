/*
 * Private to the storage layer: what db.c needs from a backend
 * (db_sqlite.c, db_pg.c) and what a backend may use from db.c.
 *
 * db.c owns everything backend-independent: the pool, argument checks
 * (parameter count and types, one statement per call), the transaction
 * state machine and the migrations. A backend only talks to its library.
 * By the time an op is called, its arguments have been checked: params
 * match the statement's $1..$n exactly, texts and blobs are non-NULL and
 * shorter than INT_MAX.
 */
#ifndef AIRLOCK_SERVER_DB_BACKEND_H
#define AIRLOCK_SERVER_DB_BACKEND_H

#include "db.h"

#define DB_ERRMSG_MAX 512

/* The common head of every backend's connection; a backend embeds it as
 * its first member and converts the pointer back. */
struct db_conn {
	const struct db_backend_ops *ops;
	bool in_tx;             /* between db_begin and db_commit/db_rollback */
	enum db_err tx_err;     /* first failure inside the open transaction */
	bool relaxed;           /* this statement may skip the flush (db_exec_relaxed) */
	/* Copied when the error happens: the library's own message is
	 * overwritten by the rollback that usually follows a failure. */
	char err[DB_ERRMSG_MAX];
};

struct db_backend_ops {
	enum db_backend backend;
	const char *name;
	/* DDL for the migration bookkeeping, in this backend's dialect. */
	const char *version_table_sql;
	/* Run first inside each migration transaction so that two servers
	 * starting at once apply a migration once; NULL when db_begin already
	 * serializes writers (SQLite's BEGIN IMMEDIATE). */
	const char *migrate_lock_sql;

	/* Opens one connection; on failure *out is NULL and err (if not NULL,
	 * DB_ERRMSG_MAX bytes) says why. */
	enum db_err (*open)(const char *target, struct db_conn **out, char *err);
	void (*close)(struct db_conn *c);
	enum db_err (*exec)(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
			    db_row_fn fn, void *ctx, int64_t *changes);
	enum db_err (*begin)(struct db_conn *c);
	enum db_err (*commit)(struct db_conn *c);
	/* Must tolerate a transaction the library already ended. */
	void (*rollback)(struct db_conn *c);
};

extern const struct db_backend_ops db_sqlite_ops;
extern const struct db_backend_ops db_pg_ops;

/* Records the message db_errmsg() returns, printf-style. */
void db_conn_set_err(struct db_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
