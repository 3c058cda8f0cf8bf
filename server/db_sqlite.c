/*
 * The SQLite backend of db.h: one sqlite3 handle per pooled connection,
 * WAL mode so readers never wait for the writer, synchronous=FULL so a
 * statement that returned is on disk (the WAL is fsynced at every commit),
 * and BEGIN IMMEDIATE so a transaction takes the write lock up front: two
 * transactions never both read and then both try to write, the case WAL
 * can only resolve by failing one of them.
 *
 * Three things for speed under load (bench/server.sh):
 *  - Writers of one file in this process queue on a mutex (struct wlock)
 *    before they ask SQLite for its write lock. SQLite's own wait is a
 *    busy handler that sleeps 1, 2, 5 ... 100 ms and polls: with a pool of
 *    connections all writing, most of a check-in's time went to those
 *    sleeps. The mutex hands the lock over at once; the busy timeout stays
 *    for other processes on the same file.
 *  - db_exec_relaxed statements outside a transaction commit with
 *    synchronous=NORMAL (no WAL fsync); everything else keeps FULL. In WAL
 *    mode a NORMAL commit is atomic and ordered, and the next FULL commit's
 *    fsync covers it.
 *  - Prepared statements are kept per connection (keyed by the SQL text),
 *    so the same query is not parsed and planned on every request.
 */
#include "db_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* How long a connection waits for another one's write lock before the
 * statement fails with DB_ERR_CONFLICT. */
#define BUSY_TIMEOUT_MS 5000

/* Statements kept per connection. The server's SQL is a fixed set of
 * string literals, well under this; past it, statements are not kept. */
#define STMT_CACHE_MAX 64

/* The in-process writer queue of one database file. */
struct wlock {
	struct wlock *next;
	char *path;
	unsigned refs;
	pthread_mutex_t m;
};

static pthread_mutex_t wlocks_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wlock *wlocks;

struct sqlite_conn {
	struct db_conn base;    /* first: db.c holds &base */
	sqlite3 *h;
	struct wlock *wl;
	bool holds_wl;          /* this connection holds wl->m */
	bool sync_normal;       /* PRAGMA synchronous is NORMAL right now */
	size_t n_cached;
	struct cached_stmt {
		const char *key;    /* the caller's pointer, checked by strcmp */
		char *sql;
		sqlite3_stmt *st;
	} cache[STMT_CACHE_MAX];
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

static struct wlock *wlock_get(const char *path)
{
	pthread_mutex_lock(&wlocks_lock);
	struct wlock *w = wlocks;
	while (w && strcmp(w->path, path) != 0)
		w = w->next;
	if (!w) {
		w = calloc(1, sizeof *w);
		if (w && !(w->path = strdup(path))) {
			free(w);
			w = NULL;
		}
		if (w) {
			pthread_mutex_init(&w->m, NULL);
			w->next = wlocks;
			wlocks = w;
		}
	}
	if (w)
		w->refs++;
	pthread_mutex_unlock(&wlocks_lock);
	return w;
}

static void wlock_put(struct wlock *w)
{
	if (!w)
		return;
	pthread_mutex_lock(&wlocks_lock);
	if (--w->refs == 0) {
		struct wlock **p = &wlocks;
		while (*p != w)
			p = &(*p)->next;
		*p = w->next;
		pthread_mutex_destroy(&w->m);
		free(w->path);
		free(w);
	}
	pthread_mutex_unlock(&wlocks_lock);
}

/* Waits for this file's writer queue as long as SQLite would wait for its
 * lock; a thread that already holds it through another connection gets
 * the same DB_ERR_CONFLICT after that time as before. */
static enum db_err wl_take(struct sqlite_conn *sc)
{
	if (sc->holds_wl)
		return DB_OK;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += BUSY_TIMEOUT_MS / 1000;
	ts.tv_nsec += (BUSY_TIMEOUT_MS % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	if (pthread_mutex_timedlock(&sc->wl->m, &ts) != 0) {
		db_conn_set_err(&sc->base, "sqlite: database is locked (writer queue)");
		return DB_ERR_CONFLICT;
	}
	sc->holds_wl = true;
	return DB_OK;
}

static void wl_drop(struct sqlite_conn *sc)
{
	if (sc->holds_wl) {
		sc->holds_wl = false;
		pthread_mutex_unlock(&sc->wl->m);
	}
}

/* Sets PRAGMA synchronous for the next commit, if it is not already. */
static enum db_err set_sync(struct sqlite_conn *sc, bool normal)
{
	if (sc->sync_normal == normal)
		return DB_OK;
	int rc = sqlite3_exec(sc->h, normal ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", NULL, NULL,
			      NULL);
	if (rc != SQLITE_OK)
		return fail(sc, rc);
	sc->sync_normal = normal;
	return DB_OK;
}

/* Only data statements are kept: DDL runs once, in the migrations. */
static bool cacheable(const char *sql)
{
	static const char *const words[] = { "SELECT", "INSERT", "UPDATE", "DELETE", "WITH" };
	while (*sql == ' ' || *sql == '\t' || *sql == '\n' || *sql == '\r')
		sql++;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strncasecmp(sql, words[i], strlen(words[i])) == 0)
			return true;
	return false;
}

/* A prepared statement for sql: from the cache, or new (then kept if
 * there is room). *kept says whether the caller must finalize it. */
static int stmt_get(struct sqlite_conn *sc, const char *sql, sqlite3_stmt **st, bool *kept)
{
	for (size_t i = 0; i < sc->n_cached; i++) {
		if (sc->cache[i].key == sql && strcmp(sc->cache[i].sql, sql) == 0) {
			*st = sc->cache[i].st;
			*kept = true;
			return SQLITE_OK;
		}
	}
	*kept = false;
	int rc = sqlite3_prepare_v2(sc->h, sql, -1, st, NULL);
	if (rc != SQLITE_OK || !*st || sc->n_cached == STMT_CACHE_MAX || !cacheable(sql))
		return rc;
	char *copy = strdup(sql);
	if (!copy)
		return rc;
	sc->cache[sc->n_cached++] = (struct cached_stmt){ sql, copy, *st };
	*kept = true;
	return rc;
}

static void stmt_put(sqlite3_stmt *st, bool kept)
{
	if (!kept) {
		sqlite3_finalize(st);
		return;
	}
	/* A kept statement must not hold its read transaction open. */
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
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
	bool stopped = false, kept = false, took_wl = false;

	int rc = stmt_get(sc, sql, &st, &kept);
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
	if (!readonly && !c->in_tx) {
		/* an implicit transaction of its own: queue as a writer */
		e = wl_take(sc);
		if (e != DB_OK)
			goto out;
		took_wl = true;
		e = set_sync(sc, c->relaxed);
		if (e != DB_OK)
			goto out;
	}
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
	if (st)
		stmt_put(st, kept);
	if (took_wl)
		wl_drop(sc);
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
	for (size_t i = 0; i < sc->n_cached; i++) {
		sqlite3_finalize(sc->cache[i].st);
		free(sc->cache[i].sql);
	}
	sqlite3_close(sc->h);
	wl_drop(sc);
	wlock_put(sc->wl);
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
	sc->wl = wlock_get(target);
	if (!sc->wl) {
		free(sc);
		return DB_ERR_NOMEM;
	}
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

/* The writer queue is held from BEGIN to the end of the transaction. */
static enum db_err sqlite_begin(struct db_conn *c)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	enum db_err e = wl_take(sc);
	if (e == DB_OK)
		e = set_sync(sc, false);
	if (e == DB_OK)
		e = run(sc, "BEGIN IMMEDIATE");
	if (e != DB_OK)
		wl_drop(sc);
	return e;
}

static enum db_err sqlite_commit(struct db_conn *c)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	enum db_err e = run(sc, "COMMIT");
	/* A failed COMMIT may leave the transaction open (db.c rolls it
	 * back, which drops the queue then). */
	if (sqlite3_get_autocommit(sc->h))
		wl_drop(sc);
	return e;
}

static void sqlite_rollback(struct db_conn *c)
{
	struct sqlite_conn *sc = sqlite_conn_of(c);
	/* SQLite itself ends the transaction on some errors (I/O, full
	 * disk); a ROLLBACK then would only fail. */
	if (!sqlite3_get_autocommit(sc->h))
		(void)sqlite3_exec(sc->h, "ROLLBACK", NULL, NULL, NULL);
	wl_drop(sc);
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
