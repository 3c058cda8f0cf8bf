/*
 * The SQLite backend of db.h: one sqlite3 handle per pooled connection,
 * WAL mode so readers never wait for the writer, synchronous=FULL so a
 * statement that returned is on disk (the WAL is fsynced at every commit),
 * and BEGIN IMMEDIATE so a transaction takes the write lock up front: two
 * transactions never both read and then both try to write, the case WAL
 * can only resolve by failing one of them.
 */
#include "db_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How long a connection waits for another one's write lock before the
 * statement fails with DB_ERR_CONFLICT. */
#define BUSY_TIMEOUT_MS 5000

struct sqlite_conn {
	struct db_conn base;    /* first: db.c holds &base */
	sqlite3 *h;
};

/* sqlite3_column_blob() returns NULL for an empty blob; callers get a
 * pointer they can always pass to memcmp. */
static const uint8_t empty_blob[1];

static struct sqlite_conn *sqlite_conn_of(struct db_conn *c)
{
	return (struct sqlite_conn *)c;
}

static enum db_err map_rc(int rc)
{
	switch (rc & 0xff) {  /* the primary code of an extended one */
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return DB_ERR_CONFLICT;
	case SQLITE_CONSTRAINT:
		return DB_ERR_CONSTRAINT;
	case SQLITE_NOMEM:
		return DB_ERR_NOMEM;
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return DB_ERR_ARG;
	default:
		return DB_ERR_QUERY;
	}
}

static enum db_err fail(struct sqlite_conn *sc, int rc)
{
	db_conn_set_err(&sc->base, "sqlite: %s", sqlite3_errmsg(sc->h));
	return map_rc(rc);
}

static void fsync_parent_dir(const char *path)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	if (!slash)
		snprintf(dir, sizeof dir, ".");
	else if (slash == path)
		snprintf(dir, sizeof dir, "/");
	else if ((size_t)(slash - path) < sizeof dir)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
	else
		return;
	int fd = open(dir, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/*
 * Creates the database file ourselves so its mode is 0600 from the first
 * instant (SQLite would use 0644 less the umask, and the -wal and -shm
 * files copy the main file's mode). The directory is fsynced so the new
 * name survives a power cut together with the first commit.
 */
static enum db_err create_file(const char *path, char *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (errno == EEXIST)
			return DB_OK;
		snprintf(err, DB_ERRMSG_MAX, "sqlite: create %s: %s", path, strerror(errno));
		return DB_ERR_CONNECT;
	}
	/* An unusual umask (say 0400) must not leave it unreadable to us. */
	(void)fchmod(fd, 0600);
	(void)fsync(fd);
	close(fd);
	fsync_parent_dir(path);
	return DB_OK;
}

static enum db_err read_row(struct sqlite_conn *sc, sqlite3_stmt *st, int ncol, struct db_row *row)
{
	row->n = (size_t)ncol;
	for (int i = 0; i < ncol; i++) {
		struct db_value *v = &row->col[i];
		*v = (struct db_value){ .type = DB_NULL };
		switch (sqlite3_column_type(st, i)) {
		case SQLITE_INTEGER:
			v->type = DB_INT;
			v->i = sqlite3_column_int64(st, i);
			break;
		case SQLITE_TEXT:
			/* text before bytes: the documented order that avoids a
			 * conversion in between */
			v->s = (const char *)sqlite3_column_text(st, i);
			if (!v->s)
				return fail(sc, SQLITE_NOMEM);
			v->type = DB_TEXT;
			v->len = strnlen(v->s, (size_t)sqlite3_column_bytes(st, i));
			break;
		case SQLITE_BLOB:
			v->b = sqlite3_column_blob(st, i);
			v->len = (size_t)sqlite3_column_bytes(st, i);
			if (!v->b && v->len > 0)
				return fail(sc, SQLITE_NOMEM);
			if (!v->b)
				v->b = empty_blob;
			v->type = DB_BLOB;
			break;
		case SQLITE_NULL:
			break;
		default:
			/* REAL: PostgreSQL would hand back a float type the
			 * interface does not have either; cast in SQL. */
			db_conn_set_err(&sc->base, "sqlite: column %d (%s) is REAL, which db.h has no type for", i,
					sqlite3_column_name(st, i));
			return DB_ERR_QUERY;
		}
	}
	return DB_OK;
}

static enum db_err bind_params(struct sqlite_conn *sc, sqlite3_stmt *st, const struct db_value *params,
			       size_t n_params)
{
	/* db.c saw $1..$n in the text; anything else SQLite counts as a
	 * parameter (?, :name) would silently stay NULL. */
	if (sqlite3_bind_parameter_count(st) != (int)n_params) {
		db_conn_set_err(&sc->base, "sqlite: statement has %d parameters, %zu given",
				sqlite3_bind_parameter_count(st), n_params);
		return DB_ERR_ARG;
	}
	for (size_t i = 0; i < n_params; i++) {
		const struct db_value *v = &params[i];
		char name[24];
		int rc;
		snprintf(name, sizeof name, "$%zu", i + 1);
		/* "$1" is a named parameter to SQLite: its index is not 1 when
		 * the statement uses $2 before $1. */
		int idx = sqlite3_bind_parameter_index(st, name);
		if (idx == 0) {
			db_conn_set_err(&sc->base, "sqlite: statement does not use %s", name);
			return DB_ERR_ARG;
		}
		switch (v->type) {
		case DB_INT:
			rc = sqlite3_bind_int64(st, idx, v->i);
			break;
		case DB_TEXT:
			rc = sqlite3_bind_text(st, idx, v->s, (int)strlen(v->s), SQLITE_STATIC);
			break;
		case DB_BLOB:
			/* A NULL pointer would bind SQL NULL, not an empty blob. */
			rc = sqlite3_bind_blob(st, idx, v->len ? (const void *)v->b : empty_blob, (int)v->len,
					       SQLITE_STATIC);
			break;
		case DB_NULL:
		default:
			rc = sqlite3_bind_null(st, idx);
			break;
		}
		if (rc != SQLITE_OK)
			return fail(sc, rc);
	}
	return DB_OK;
}

static enum db_err sqlite_exec(struct db_conn *c, const char *sql, const struct db_value *params,
			       size_t n_params, db_row_fn fn, void *ctx, int64_t *changes)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	sqlite3_stmt *st = NULL;
	enum db_err e = DB_OK;
	bool stopped = false;

	int rc = sqlite3_prepare_v2(sc->h, sql, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		e = fail(sc, rc);
		goto out;
	}
	if (!st) {
		db_conn_set_err(c, "empty statement");
		e = DB_ERR_ARG;
		goto out;
	}
	int ncol = sqlite3_column_count(st);
	if (ncol > DB_MAX_COLUMNS) {
		db_conn_set_err(c, "statement returns %d columns, at most %d", ncol, DB_MAX_COLUMNS);
		e = DB_ERR_ARG;
		goto out;
	}
	e = bind_params(sc, st, params, n_params);
	if (e != DB_OK)
		goto out;

	/* A read-only statement may stop at the caller's word; one with
	 * RETURNING runs to the end, as PostgreSQL runs it, so the change is
	 * whole and *changes counts it all. */
	const bool readonly = sqlite3_stmt_readonly(st) != 0;
	const sqlite3_int64 before = sqlite3_total_changes64(sc->h);
	for (;;) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_DONE)
			break;
		if (rc != SQLITE_ROW) {
			e = fail(sc, rc);
			goto out;
		}
		if (!fn || stopped) {
			if (readonly)
				break;
			continue;
		}
		struct db_row row;
		e = read_row(sc, st, ncol, &row);
		if (e != DB_OK)
			goto out;
		if (fn(ctx, &row) != 0) {
			stopped = true;
			if (readonly)
				break;
		}
	}
	/* sqlite3_changes64() keeps the count of the last INSERT, UPDATE or
	 * DELETE, which is stale after a SELECT or DDL; the total moves only
	 * when this statement changed rows. */
	if (changes)
		*changes = sqlite3_total_changes64(sc->h) != before ? sqlite3_changes64(sc->h) : 0;
out:
	sqlite3_finalize(st);
	return e;
}

static enum db_err run(struct sqlite_conn *sc, const char *sql)
{
	int rc = sqlite3_exec(sc->h, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? DB_OK : fail(sc, rc);
}

static int take_text(void *ctx, const struct db_row *row)
{
	char *out = ctx;
	if (row->n >= 1 && row->col[0].type == DB_TEXT)
		snprintf(out, 16, "%s", row->col[0].s);
	else if (row->n >= 1 && row->col[0].type == DB_INT)
		snprintf(out, 16, "%lld", (long long)row->col[0].i);
	return 1;
}

/* Sets a pragma and reads it back: SQLite ignores a pragma it cannot apply
 * (journal_mode on a file system without shared memory, foreign_keys
 * inside a transaction) without an error. */
static enum db_err pragma(struct sqlite_conn *sc, const char *set, const char *get, const char *want)
{
	char got[16] = "";
	enum db_err e = run(sc, set);
	if (e == DB_OK)
		e = sqlite_exec(&sc->base, get, NULL, 0, take_text, got, NULL);
	if (e == DB_OK && strcmp(got, want) != 0) {
		db_conn_set_err(&sc->base, "sqlite: %s gave %s, not %s", get, got, want);
		e = DB_ERR_CONNECT;
	}
	return e;
}

static void sqlite_close(struct db_conn *c)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	if (!sc)
		return;
	sqlite3_close(sc->h);
	free(sc);
}

static enum db_err sqlite_open(const char *target, struct db_conn **out, char *err)
{
	struct sqlite_conn *sc = NULL;
	enum db_err e;

	*out = NULL;
	e = create_file(target, err);
	if (e != DB_OK)
		return e;
	sc = calloc(1, sizeof *sc);
	if (!sc)
		return DB_ERR_NOMEM;
	sc->base.ops = &db_sqlite_ops;
	/* NOMUTEX: the pool hands each connection to one thread at a time.
	 * No CREATE: the file exists (create_file), and a path that vanished
	 * in between should fail rather than come back with the wrong mode. */
	int rc = sqlite3_open_v2(target, &sc->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, DB_ERRMSG_MAX, "sqlite: open %s: %s", target,
			 sc->h ? sqlite3_errmsg(sc->h) : "out of memory");
		e = rc == SQLITE_NOMEM ? DB_ERR_NOMEM : DB_ERR_CONNECT;
		goto out;
	}
	sqlite3_extended_result_codes(sc->h, 1);
	/* Before the pragmas: switching to WAL needs a lock that another
	 * server starting at the same moment may hold. */
	sqlite3_busy_timeout(sc->h, BUSY_TIMEOUT_MS);
	e = pragma(sc, "PRAGMA journal_mode=WAL", "PRAGMA journal_mode", "wal");
	if (e == DB_OK)
		e = pragma(sc, "PRAGMA synchronous=FULL", "PRAGMA synchronous", "2");
	if (e == DB_OK)
		e = pragma(sc, "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys", "1");
	if (e != DB_OK) {
		snprintf(err, DB_ERRMSG_MAX, "%s", sc->base.err);
		if (e != DB_ERR_NOMEM)
			e = DB_ERR_CONNECT;
	}
out:
	if (e != DB_OK) {
		sqlite_close(&sc->base);
		return e;
	}
	*out = &sc->base;
	return DB_OK;
}

static enum db_err sqlite_begin(struct db_conn *c)
{
	return run(sqlite_conn_of(c), "BEGIN IMMEDIATE");
}

static enum db_err sqlite_commit(struct db_conn *c)
{
	return run(sqlite_conn_of(c), "COMMIT");
}

static void sqlite_rollback(struct db_conn *c)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	/* SQLite itself ends the transaction on some errors (I/O, full
	 * disk); a ROLLBACK then would only fail. */
	if (!sqlite3_get_autocommit(sc->h))
		(void)sqlite3_exec(sc->h, "ROLLBACK", NULL, NULL, NULL);
}

const struct db_backend_ops db_sqlite_ops = {
	.backend = DB_SQLITE,
	.name = "sqlite",
	.version_table_sql = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
	.migrate_lock_sql = NULL,
	.open = sqlite_open,
	.close = sqlite_close,
	.exec = sqlite_exec,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
};
