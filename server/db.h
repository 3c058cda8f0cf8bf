/*
 * The server's storage: one SQL interface, two backends.
 *
 * Every query is written once, in the SQL that SQLite (3.40, WAL mode) and
 * PostgreSQL (15) both accept, with positional parameters $1, $2, ...; each
 * backend (db_sqlite.c, db_pg.c) binds them its own way. Only the schema
 * (server/schema.c) has a dialect per backend.
 *
 * Values: integers are 64-bit, text is UTF-8 and NUL-terminated, blobs are
 * bytes (BLOB in SQLite, BYTEA in PostgreSQL). A NULL column reads as
 * DB_NULL.
 *
 * Concurrency: a struct db is a pool of connections; db_acquire() hands one
 * connection to one thread until db_release(). Transactions run on one
 * connection. SQLite uses WAL with a busy timeout; PostgreSQL uses
 * serializable-safe statements (every multi-statement change goes through
 * db_begin/db_commit, and a conflict is reported as DB_ERR_CONFLICT so the
 * caller can retry).
 *
 * Rules both backends keep alike (db.c enforces them before a backend
 * sees the statement):
 *  - one statement per db_exec, not BEGIN/COMMIT/ROLLBACK/SAVEPOINT (those
 *    go through db_begin/db_commit/db_rollback), whose parameters are
 *    exactly $1..$n, each used at least once (a parameter may be used
 *    twice); otherwise DB_ERR_ARG. Parameter values: DB_TEXT needs a non-NULL s (its len is
 *    ignored: strlen is used), DB_BLOB a non-NULL b unless len is 0; a
 *    zero-length blob stays a zero-length blob, not NULL.
 *  - PostgreSQL gets DB_INT parameters as bigint, DB_TEXT as text, DB_BLOB
 *    as bytea, DB_NULL untyped: `$1 + 1` stays 64-bit, but a function that
 *    takes an integer needs CAST($1 AS INTEGER) (valid SQLite too).
 *  - a result column that is none of the four types (a REAL, a float, a
 *    date) fails with DB_ERR_QUERY: cast it in SQL. Integral NUMERIC (what
 *    PostgreSQL's SUM() returns) and booleans read as DB_INT.
 *  - inside a transaction, the first failed statement aborts it: every
 *    later db_exec and the db_commit return that first error (PostgreSQL
 *    behaves so anyway; SQLite is made to).
 *  - PostgreSQL: a connection found broken before a statement is sent, and
 *    outside a transaction, is reset and the statement sent once more; a
 *    connection lost after sending returns DB_ERR_CONNECT (the statement
 *    may have run) and is reset at its next use.
 */
#ifndef AIRLOCK_SERVER_DB_H
#define AIRLOCK_SERVER_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_err {
	DB_OK = 0,
	DB_ERR_CONNECT,     /* cannot open/connect */
	DB_ERR_QUERY,       /* the statement failed (syntax, type, I/O) */
	DB_ERR_CONSTRAINT,  /* unique/foreign-key/check constraint violated */
	DB_ERR_CONFLICT,    /* serialization failure or busy: retry the transaction */
	DB_ERR_NOMEM,
	DB_ERR_ARG,         /* API misuse: bad parameter count or type */
};

enum db_type {
	DB_NULL = 0,
	DB_INT,
	DB_TEXT,
	DB_BLOB,
};

struct db_value {
	enum db_type type;
	int64_t i;
	const char *s;          /* DB_TEXT: NUL-terminated */
	const uint8_t *b;       /* DB_BLOB */
	size_t len;             /* DB_BLOB: bytes; DB_TEXT: strlen */
};

/* Parameter constructors. */
static inline struct db_value db_int(int64_t v) { return (struct db_value){ .type = DB_INT, .i = v }; }
static inline struct db_value db_text(const char *s) { return (struct db_value){ .type = s ? DB_TEXT : DB_NULL, .s = s }; }
static inline struct db_value db_blob(const void *b, size_t n) { return (struct db_value){ .type = DB_BLOB, .b = b, .len = n }; }
static inline struct db_value db_null(void) { return (struct db_value){ .type = DB_NULL }; }

#define DB_MAX_PARAMS 16
#define DB_MAX_COLUMNS 24
#define DB_POOL_MAX 256

/* One row of a result, valid only during the callback. */
struct db_row {
	size_t n;
	struct db_value col[DB_MAX_COLUMNS];
};

/* Called for each result row; a non-zero return stops the iteration (the
 * query then still returns DB_OK). A statement that changes rows (UPDATE
 * ... RETURNING) still runs to its end; only the callbacks stop. */
typedef int (*db_row_fn)(void *ctx, const struct db_row *row);

enum db_backend {
	DB_SQLITE,
	DB_POSTGRES,
};

struct db;
struct db_conn;

/* Opens a pool of pool_size (1..DB_POOL_MAX) connections, all at once. For
 * SQLite, `target` is a file path (created if missing, mode 0600, WAL,
 * synchronous=FULL, foreign keys on); for PostgreSQL, a libpq connection
 * string (key=value or URI; client_encoding is forced to UTF8). */
enum db_err db_open(enum db_backend backend, const char *target, unsigned pool_size, struct db **out);
/* db_open that also says why it failed, for the server log (why may be
 * NULL; always NUL-terminated when why_cap > 0). */
enum db_err db_open_diag(enum db_backend backend, const char *target, unsigned pool_size, struct db **out,
			 char *why, size_t why_cap);
/* Every connection must have been released. */
void db_close(struct db *db);
enum db_backend db_backend_of(const struct db *db);

/* Takes a connection from the pool (blocks while all are in use). */
struct db_conn *db_acquire(struct db *db);
/* Returns it; a transaction still open is rolled back first. */
void db_release(struct db *db, struct db_conn *c);

/* Runs one statement. fn may be NULL; *changes (may be NULL) gets the
 * number of rows inserted/updated/deleted. */
enum db_err db_exec(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
		    db_row_fn fn, void *ctx, int64_t *changes);
/* db_exec for a write whose loss in a power cut is acceptable: soft state
 * that the next request writes again (a device's last check-in). Outside a
 * transaction it may be acknowledged before it reaches the disk (SQLite:
 * no WAL fsync at its commit; PostgreSQL: synchronous_commit off); it is
 * never torn nor reordered, and the next durable commit makes it durable
 * too. Inside a transaction it is db_exec. */
enum db_err db_exec_relaxed(struct db_conn *c, const char *sql, const struct db_value *params, size_t n_params,
			    db_row_fn fn, void *ctx, int64_t *changes);

/* SQLite: BEGIN IMMEDIATE (takes the write lock, waiting up to 5 s, then
 * DB_ERR_CONFLICT); PostgreSQL: BEGIN (read committed). Nested: DB_ERR_ARG. */
enum db_err db_begin(struct db_conn *c);
/* On failure the transaction has been rolled back (DB_ERR_CONFLICT: retry
 * it whole); db_rollback afterwards is a no-op. */
enum db_err db_commit(struct db_conn *c);
/* Always safe to call, also after a failed statement. */
void db_rollback(struct db_conn *c);

/* The last backend error message, for the server log (never sent to clients). */
const char *db_errmsg(struct db_conn *c);

/* Applies the versioned schema migrations that are missing (server/schema.c),
 * each in its own transaction. *version gets the resulting schema version.
 * Safe when several servers start at once on one database (PostgreSQL: an
 * advisory lock; SQLite: BEGIN IMMEDIATE). A database whose version is newer
 * than this server's latest migration is refused (DB_ERR_QUERY). */
enum db_err db_migrate(struct db *db, int *version);
/* db_migrate that also says why it failed (why may be NULL). */
enum db_err db_migrate_diag(struct db *db, int *version, char *why, size_t why_cap);

#endif
