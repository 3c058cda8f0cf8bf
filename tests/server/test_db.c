/*
 * The storage layer (server/db.c, db_sqlite.c, db_pg.c, schema.c).
 *
 * Every test runs against SQLite in a fresh temporary directory and, when
 * AIRLOCK_TEST_PG holds a libpq connection string in key=value form (what
 * `scripts/pg-tmp start DIR` prints), against PostgreSQL: each test there
 * gets the schema airlock_test_<pid>, re-created empty (search_path set
 * through the conninfo's options), dropped at the end; nothing else in the
 * database is touched. Without AIRLOCK_TEST_PG the PostgreSQL group is
 * skipped, or fails when AIRLOCK_REQUIRE_PG=1.
 *
 * In the CMake build this is server_test_db (ctest -R server.test_db). By
 * hand:
 *
 *   cmake -S . -B build-db && cmake --build build-db -j2 --target airlock-server-core
 *   cc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Werror -g -Iserver \
 *      tests/server/test_db.c -o build-db/test_db \
 *      build-db/libairlock-server-core.a build-db/libairlock.a \
 *      $(pkg-config --cflags --libs cmocka sqlite3 libpq) -lpthread
 *   DIR=/tmp/airlock-pg-$$; AIRLOCK_TEST_PG="$(scripts/pg-tmp start $DIR)" \
 *      AIRLOCK_REQUIRE_PG=1 build-db/test_db; scripts/pg-tmp stop $DIR
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "db.h"
#include "schema.h"

#define POOL 4
#define BIG (1024 * 1024)

struct fixture {
	enum db_backend backend;
	char dir[64];           /* SQLite: the temporary directory */
	char target[1024];      /* file path or conninfo */
	struct db *db;
};

static const char *pg_base;     /* AIRLOCK_TEST_PG */
static char pg_schema[64];

static const char *err_name(enum db_err e)
{
	static const char *const names[] = { "DB_OK", "DB_ERR_CONNECT", "DB_ERR_QUERY", "DB_ERR_CONSTRAINT",
					     "DB_ERR_CONFLICT", "DB_ERR_NOMEM", "DB_ERR_ARG" };
	return (unsigned)e < sizeof names / sizeof names[0] ? names[e] : "?";
}

/* Asserts an exact db_err, with the backend's message on failure. */
#define assert_db(c, expr, want) check_db((c), (expr), (want), #expr, __FILE__, __LINE__)
static void check_db(struct db_conn *c, enum db_err got, enum db_err want, const char *expr, const char *file,
		     int line)
{
	if (got == want)
		return;
	print_error("%s:%d: %s = %s, want %s (%s)\n", file, line, expr, err_name(got), err_name(want),
		    c ? db_errmsg(c) : "-");
	_fail(file, line);
}

static bool is_pg(const struct fixture *f)
{
	return f->backend == DB_POSTGRES;
}

/* ---- fixtures ---- */

static void quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static void pg_admin(const char *sql)
{
	PGconn *pg = PQconnectdb(pg_base);
	if (PQstatus(pg) != CONNECTION_OK) {
		print_error("AIRLOCK_TEST_PG: %s", PQerrorMessage(pg));
		PQfinish(pg);
		fail();
	}
	PQsetNoticeProcessor(pg, quiet, NULL);
	PGresult *r = PQexec(pg, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		print_error("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(pg);
	assert_true(ok);
}

static void rm_sqlite_files(const struct fixture *f)
{
	static const char *const suffix[] = { "", "-wal", "-shm", "-journal" };
	char p[1100];
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", f->target, suffix[i]);
		unlink(p);
	}
}

/* Empties the store (no connection may be open) and opens a new pool. */
static void fresh(struct fixture *f)
{
	char why[256];
	if (f->db) {
		db_close(f->db);
		f->db = NULL;
	}
	if (is_pg(f)) {
		char sql[256];
		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", pg_schema, pg_schema);
		pg_admin(sql);
	} else {
		rm_sqlite_files(f);
	}
	enum db_err e = db_open_diag(f->backend, f->target, POOL, &f->db, why, sizeof why);
	if (e != DB_OK)
		print_error("db_open: %s\n", why);
	assert_int_equal(e, DB_OK);
}

static void reopen(struct fixture *f)
{
	db_close(f->db);
	f->db = NULL;
	assert_int_equal(db_open(f->backend, f->target, POOL, &f->db), DB_OK);
}

static int setup_sqlite(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->backend = DB_SQLITE;
	snprintf(f->dir, sizeof f->dir, "/tmp/airlock-test-db-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->target, sizeof f->target, "%s/airlock.db", f->dir);
	fresh(f);
	*state = f;
	return 0;
}

static int setup_pg(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->backend = DB_POSTGRES;
	snprintf(f->target, sizeof f->target, "%s options='-c search_path=%s'", pg_base, pg_schema);
	fresh(f);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	db_close(f->db);
	if (!is_pg(f)) {
		rm_sqlite_files(f);
		rmdir(f->dir);
	}
	free(f);
	return 0;
}

/* ---- helpers ---- */

static int take_int(void *ctx, const struct db_row *row)
{
	int64_t *v = ctx;
	assert_true(row->n >= 1);
	assert_int_equal(row->col[0].type, DB_INT);
	*v = row->col[0].i;
	return 1;
}

static int64_t query_int(struct fixture *f, const char *sql)
{
	int64_t v = INT64_MIN + 7;  /* a value no test expects */
	struct db_conn *c = db_acquire(f->db);
	assert_db(c, db_exec(c, sql, NULL, 0, take_int, &v, NULL), DB_OK);
	db_release(f->db, c);
	return v;
}

static void exec0(struct fixture *f, const char *sql)
{
	struct db_conn *c = db_acquire(f->db);
	assert_db(c, db_exec(c, sql, NULL, 0, NULL, NULL, NULL), DB_OK);
	db_release(f->db, c);
}

/* t: an integer key and one column of each type. */
static void make_table(struct fixture *f)
{
	exec0(f, is_pg(f) ? "CREATE TABLE t (id BIGINT PRIMARY KEY, i BIGINT, s TEXT, b BYTEA)"
			  : "CREATE TABLE t (id INTEGER PRIMARY KEY, i INTEGER, s TEXT, b BLOB)");
}

static void insert_t(struct db_conn *c, int64_t id, struct db_value i, struct db_value s, struct db_value b)
{
	struct db_value p[] = { db_int(id), i, s, b };
	int64_t changes = -1;
	assert_db(c, db_exec(c, "INSERT INTO t (id, i, s, b) VALUES ($1, $2, $3, $4)", p, 4, NULL, NULL, &changes),
		  DB_OK);
	assert_int_equal(changes, 1);
}

static void migrate(struct fixture *f)
{
	int v = -1;
	char why[256];
	enum db_err e = db_migrate_diag(f->db, &v, why, sizeof why);
	if (e != DB_OK)
		print_error("db_migrate: %s\n", why);
	assert_int_equal(e, DB_OK);
	assert_int_equal(v, (int)schema_migration_count);
}

/* ---- migrations ---- */

static void test_migrate_empty(void **state)
{
	struct fixture *f = *state;
	migrate(f);
	assert_int_equal(query_int(f, "SELECT version FROM schema_version"), (int64_t)schema_migration_count);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM schema_version"), 1);
	/* Every table of migration 1 is there, empty. */
	static const char *const tables[] = { "devices", "enroll_tokens", "admin_tokens", "releases", "payloads",
					      "artifacts", "deployments", "device_deployments", "events", "audit",
					      "audit_checkpoints" };
	for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
		char sql[128];
		snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM %s", tables[i]);
		assert_int_equal(query_int(f, sql), 0);
	}
}

static void test_migrate_again(void **state)
{
	struct fixture *f = *state;
	migrate(f);
	migrate(f);
	reopen(f);
	migrate(f);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM schema_version"), 1);
	assert_int_equal(query_int(f, "SELECT version FROM schema_version"), (int64_t)schema_migration_count);
}

static void test_migrate_newer_refused(void **state)
{
	struct fixture *f = *state;
	int v = -1;
	migrate(f);
	exec0(f, "UPDATE schema_version SET version = 99");
	assert_int_equal(db_migrate(f->db, &v), DB_ERR_QUERY);
	/* Nothing was rolled back or re-applied. */
	assert_int_equal(query_int(f, "SELECT version FROM schema_version"), 99);
}

struct migrator {
	const struct fixture *f;
	pthread_barrier_t *start;
	enum db_err open_err, err;
	int version;
	char why[256];
};

/* A second server: its own pool, started at the same moment. */
static void *migrate_thread(void *arg)
{
	struct migrator *m = arg;
	struct db *db = NULL;
	m->open_err = db_open_diag(m->f->backend, m->f->target, 2, &db, m->why, sizeof m->why);
	pthread_barrier_wait(m->start);
	if (m->open_err == DB_OK) {
		m->err = db_migrate_diag(db, &m->version, m->why, sizeof m->why);
		db_close(db);
	}
	return NULL;
}

static void test_migrate_concurrent(void **state)
{
	struct fixture *f = *state;
	enum { ROUNDS = 5, SERVERS = 2 };
	for (int round = 0; round < ROUNDS; round++) {
		pthread_barrier_t start;
		pthread_t th[SERVERS];
		struct migrator m[SERVERS];
		fresh(f);
		db_close(f->db);
		f->db = NULL;
		assert_int_equal(pthread_barrier_init(&start, NULL, SERVERS), 0);
		for (int i = 0; i < SERVERS; i++) {
			m[i] = (struct migrator){ .f = f, .start = &start, .version = -1 };
			assert_int_equal(pthread_create(&th[i], NULL, migrate_thread, &m[i]), 0);
		}
		for (int i = 0; i < SERVERS; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&start);
		for (int i = 0; i < SERVERS; i++) {
			if (m[i].open_err != DB_OK || m[i].err != DB_OK)
				print_error("round %d server %d: %s\n", round, i, m[i].why);
			assert_int_equal(m[i].open_err, DB_OK);
			assert_int_equal(m[i].err, DB_OK);
			assert_int_equal(m[i].version, (int)schema_migration_count);
		}
		assert_int_equal(db_open(f->backend, f->target, POOL, &f->db), DB_OK);
		assert_int_equal(query_int(f, "SELECT COUNT(*) FROM schema_version"), 1);
		assert_int_equal(query_int(f, "SELECT COUNT(*) FROM devices"), 0);
	}
}

/* ---- values ---- */

struct got_row {
	int64_t id;
	enum db_type type[3];
	int64_t i;
	char *s;
	uint8_t *b;
	size_t blen;
};

struct got {
	size_t n;
	struct got_row r[16];
};

static int collect(void *ctx, const struct db_row *row)
{
	struct got *g = ctx;
	assert_int_equal(row->n, 4);
	assert_true(g->n < 16);
	struct got_row *r = &g->r[g->n++];
	assert_int_equal(row->col[0].type, DB_INT);
	r->id = row->col[0].i;
	for (int k = 0; k < 3; k++)
		r->type[k] = row->col[k + 1].type;
	if (row->col[1].type == DB_INT)
		r->i = row->col[1].i;
	if (row->col[2].type == DB_TEXT) {
		assert_non_null(row->col[2].s);
		assert_int_equal(row->col[2].len, strlen(row->col[2].s));
		r->s = strdup(row->col[2].s);
	}
	if (row->col[3].type == DB_BLOB) {
		assert_non_null(row->col[3].b);
		r->blen = row->col[3].len;
		r->b = malloc(r->blen + 1);
		assert_non_null(r->b);
		memcpy(r->b, row->col[3].b, r->blen);
	}
	return 0;
}

static void got_free(struct got *g)
{
	for (size_t k = 0; k < g->n; k++) {
		free(g->r[k].s);
		free(g->r[k].b);
	}
}

static void test_types_roundtrip(void **state)
{
	struct fixture *f = *state;
	static const uint8_t zeros[] = { 0, 1, 0, 0xff, 0, 0 };
	/* Latin, CJK, an emoji (4 bytes) and Hebrew. */
	static const char utf8[] = "gr\xc3\xbc\xc3\x9f" "e \xe6\x9d\xb1\xe4\xba\xac \xf0\x9f\x9a\x80"
				   " \xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d";
	uint8_t *big = malloc(BIG);
	assert_non_null(big);
	for (size_t k = 0; k < BIG; k++)
		big[k] = (uint8_t)(k % 251 == 0 ? 0 : k * 31 + (k >> 9));

	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	insert_t(c, 1, db_int(INT64_MIN), db_text(utf8), db_blob(zeros, sizeof zeros));
	insert_t(c, 2, db_int(INT64_MAX), db_text(""), db_blob(zeros, 0));
	insert_t(c, 3, db_int(0), db_null(), db_blob(NULL, 0));
	insert_t(c, 4, db_int(-1), db_text("x"), db_null());
	insert_t(c, 5, db_null(), db_text(NULL), db_blob(big, BIG));
	insert_t(c, INT64_MAX, db_int(1), db_text("'; DROP TABLE t; --"), db_blob("\x00", 1));
	insert_t(c, INT64_MIN, db_int(INT64_MIN + 1), db_text("$1"), db_blob("$2", 2));

	struct got g = { 0 };
	assert_db(c, db_exec(c, "SELECT id, i, s, b FROM t ORDER BY id", NULL, 0, collect, &g, NULL), DB_OK);
	db_release(f->db, c);
	assert_int_equal(g.n, 7);

	const struct got_row *r = g.r;
	assert_true(r[0].id == INT64_MIN && r[0].type[0] == DB_INT && r[0].i == INT64_MIN + 1);
	assert_string_equal(r[0].s, "$1");
	assert_true(r[0].type[2] == DB_BLOB && r[0].blen == 2 && memcmp(r[0].b, "$2", 2) == 0);

	assert_int_equal(r[1].id, 1);
	assert_true(r[1].type[0] == DB_INT && r[1].i == INT64_MIN);
	assert_true(r[1].type[1] == DB_TEXT);
	assert_string_equal(r[1].s, utf8);
	assert_true(r[1].type[2] == DB_BLOB && r[1].blen == sizeof zeros);
	assert_memory_equal(r[1].b, zeros, sizeof zeros);

	assert_true(r[2].type[0] == DB_INT && r[2].i == INT64_MAX);
	assert_true(r[2].type[1] == DB_TEXT);
	assert_string_equal(r[2].s, "");
	/* A zero-length blob is a blob, not NULL. */
	assert_true(r[2].type[2] == DB_BLOB && r[2].blen == 0);

	assert_true(r[3].type[0] == DB_INT && r[3].i == 0);
	assert_int_equal(r[3].type[1], DB_NULL);
	assert_true(r[3].type[2] == DB_BLOB && r[3].blen == 0);

	assert_true(r[4].type[0] == DB_INT && r[4].i == -1);
	assert_string_equal(r[4].s, "x");
	assert_int_equal(r[4].type[2], DB_NULL);

	assert_int_equal(r[5].type[0], DB_NULL);
	assert_int_equal(r[5].type[1], DB_NULL);
	assert_true(r[5].type[2] == DB_BLOB && r[5].blen == BIG);
	assert_memory_equal(r[5].b, big, BIG);

	assert_true(r[6].id == INT64_MAX && r[6].i == 1);
	assert_string_equal(r[6].s, "'; DROP TABLE t; --");
	assert_true(r[6].blen == 1 && r[6].b[0] == 0);

	/* Parameters compare exactly too: the 1 MiB blob finds its row. */
	c = db_acquire(f->db);
	int64_t id = 0;
	struct db_value p[] = { db_blob(big, BIG) };
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE b = $1", p, 1, take_int, &id, NULL), DB_OK);
	assert_int_equal(id, 5);
	struct db_value q[] = { db_text(utf8) };
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE s = $1", q, 1, take_int, &id, NULL), DB_OK);
	assert_int_equal(id, 1);
	db_release(f->db, c);
	got_free(&g);
	free(big);
}

static int check_scalar(void *ctx, const struct db_row *row)
{
	const struct db_value *want = ctx;
	assert_int_equal(row->n, 1);
	assert_int_equal(row->col[0].type, want->type);
	switch (want->type) {
	case DB_INT:
		assert_true(row->col[0].i == want->i);
		break;
	case DB_TEXT:
		assert_string_equal(row->col[0].s, want->s);
		break;
	case DB_BLOB:
		assert_int_equal(row->col[0].len, want->len);
		assert_memory_equal(row->col[0].b, want->b, want->len);
		break;
	case DB_NULL:
		break;
	}
	return 0;
}

/* Parameters selected back, and the types aggregates come back as. */
static void test_scalars(void **state)
{
	struct fixture *f = *state;
	struct db_conn *c = db_acquire(f->db);
	const struct db_value vals[] = { db_int(INT64_MIN), db_int(INT64_MAX), db_text("\xe2\x82\xac"),
					 db_blob("a\0b", 3) };
	for (size_t k = 0; k < sizeof vals / sizeof vals[0]; k++)
		assert_db(c, db_exec(c, "SELECT $1", &vals[k], 1, check_scalar, (void *)&vals[k], NULL), DB_OK);
	db_release(f->db, c);

	make_table(f);
	c = db_acquire(f->db);
	insert_t(c, 1, db_int(INT64_MAX - 10), db_null(), db_null());
	insert_t(c, 2, db_int(7), db_null(), db_null());
	insert_t(c, 3, db_int(-INT64_MAX), db_null(), db_null());
	/* SUM of a bigint is NUMERIC in PostgreSQL: still an integer here. */
	const struct db_value sum = db_int(INT64_MAX - 10 + 7 - INT64_MAX);
	assert_db(c, db_exec(c, "SELECT SUM(i) FROM t", NULL, 0, check_scalar, (void *)&sum, NULL), DB_OK);
	const struct db_value cnt = db_int(3);
	assert_db(c, db_exec(c, "SELECT COUNT(*) FROM t", NULL, 0, check_scalar, (void *)&cnt, NULL), DB_OK);
	const struct db_value mx = db_int(INT64_MAX - 10);
	assert_db(c, db_exec(c, "SELECT MAX(i) FROM t", NULL, 0, check_scalar, (void *)&mx, NULL), DB_OK);
	const struct db_value none = db_null();
	assert_db(c, db_exec(c, "SELECT MAX(i) FROM t WHERE id > 100", NULL, 0, check_scalar, (void *)&none, NULL),
		  DB_OK);
	const struct db_value yes = db_int(1), seven = db_int(7);
	assert_db(c, db_exec(c, "SELECT COUNT(*) FROM t WHERE i = $1 OR i = $1 + 1", &seven, 1, check_scalar,
			     (void *)&yes, NULL),
		  DB_OK);
	/* A fraction has no type in db.h, on either backend. */
	assert_db(c, db_exec(c, "SELECT 1.5", NULL, 0, check_scalar, (void *)&none, NULL), DB_ERR_QUERY);
	/* "$1" inside a literal is text, not a parameter. */
	const struct db_value lit = db_text("$1");
	assert_db(c, db_exec(c, "SELECT '$1' -- $2\n", NULL, 0, check_scalar, (void *)&lit, NULL), DB_OK);
	db_release(f->db, c);
}

/* ---- errors ---- */

static void test_constraint(void **state)
{
	struct fixture *f = *state;
	migrate(f);
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	insert_t(c, 1, db_int(1), db_null(), db_null());
	struct db_value dup[] = { db_int(1) };
	assert_db(c, db_exec(c, "INSERT INTO t (id) VALUES ($1)", dup, 1, NULL, NULL, NULL), DB_ERR_CONSTRAINT);
	assert_true(strlen(db_errmsg(c)) > 0);
	/* NOT NULL */
	struct db_value nn[] = { db_text("a"), db_null(), db_int(1) };
	assert_db(c, db_exec(c, "INSERT INTO artifacts (sha256, size, created) VALUES ($1, $2, $3)", nn, 3, NULL,
			     NULL, NULL),
		  DB_ERR_CONSTRAINT);
	/* FOREIGN KEY (SQLite checks them only with foreign_keys=ON) */
	struct db_value fk[] = { db_text("no-such-release"), db_int(1), db_text("me") };
	assert_db(c, db_exec(c, "INSERT INTO deployments (release_digest, target_kind, target, created, created_by)"
			     " VALUES ($1, 'all', '', $2, $3)", fk, 3, NULL, NULL, NULL),
		  DB_ERR_CONSTRAINT);
	/* UNIQUE on a blob */
	struct db_value tok[] = { db_text("t1"), db_blob("h", 1) };
	const char *ins = "INSERT INTO admin_tokens (id, name, token_sha256, scopes, created, expires, created_by)"
			  " VALUES ($1, 'n', $2, 'admin', 0, 1, 'me')";
	assert_db(c, db_exec(c, ins, tok, 2, NULL, NULL, NULL), DB_OK);
	tok[0] = db_text("t2");
	assert_db(c, db_exec(c, ins, tok, 2, NULL, NULL, NULL), DB_ERR_CONSTRAINT);
	/* The message survives what follows a failure. */
	char msg[512];
	snprintf(msg, sizeof msg, "%s", db_errmsg(c));
	db_rollback(c);
	assert_string_equal(db_errmsg(c), msg);
	/* A syntax error is a query error. */
	assert_db(c, db_exec(c, "SELEC 1", NULL, 0, NULL, NULL, NULL), DB_ERR_QUERY);
	assert_db(c, db_exec(c, "SELECT no_such_column FROM t", NULL, 0, NULL, NULL, NULL), DB_ERR_QUERY);
	/* and the connection goes on */
	assert_db(c, db_exec(c, "SELECT 1", NULL, 0, NULL, NULL, NULL), DB_OK);
	db_release(f->db, c);
}

static void test_params_mismatch(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	struct db_value p[DB_MAX_PARAMS + 1];
	for (size_t k = 0; k < DB_MAX_PARAMS + 1; k++)
		p[k] = db_int((int64_t)k);
	const char *two = "SELECT id FROM t WHERE id = $1 OR id = $2";
	assert_db(c, db_exec(c, two, p, 1, NULL, NULL, NULL), DB_ERR_ARG);   /* too few */
	assert_db(c, db_exec(c, two, p, 3, NULL, NULL, NULL), DB_ERR_ARG);   /* too many */
	assert_db(c, db_exec(c, two, p, 2, NULL, NULL, NULL), DB_OK);
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE id = $1 OR id = $3", p, 3, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE id = $0", p, 1, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t", p, DB_MAX_PARAMS + 1, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE id = $17", p, 16, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t", NULL, 1, NULL, NULL, NULL), DB_ERR_ARG);
	/* One statement per call. */
	assert_db(c, db_exec(c, "SELECT 1; SELECT 2", NULL, 0, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT 1;", NULL, 0, NULL, NULL, NULL), DB_OK);
	assert_db(c, db_exec(c, "", NULL, 0, NULL, NULL, NULL), DB_ERR_ARG);
	/* Transactions only through db_begin/db_commit/db_rollback. */
	assert_db(c, db_exec(c, "BEGIN", NULL, 0, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, " commit", NULL, 0, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SAVEPOINT a", NULL, 0, NULL, NULL, NULL), DB_ERR_ARG);
	/* Bad values. */
	struct db_value bad_text = { .type = DB_TEXT, .s = NULL };
	struct db_value bad_blob = { .type = DB_BLOB, .b = NULL, .len = 3 };
	struct db_value bad_type = { .type = (enum db_type)42 };
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE s = $1", &bad_text, 1, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE b = $1", &bad_blob, 1, NULL, NULL, NULL), DB_ERR_ARG);
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE i = $1", &bad_type, 1, NULL, NULL, NULL), DB_ERR_ARG);
	/* Sixteen parameters is fine. */
	assert_db(c, db_exec(c, "SELECT id FROM t WHERE id IN ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12,"
			     " $13, $14, $15, $16)", p, 16, NULL, NULL, NULL),
		  DB_OK);
	db_release(f->db, c);
	/* Misuse of the transaction calls. */
	c = db_acquire(f->db);
	assert_db(c, db_commit(c), DB_ERR_ARG);
	assert_db(c, db_begin(c), DB_OK);
	assert_db(c, db_begin(c), DB_ERR_ARG);
	assert_db(c, db_commit(c), DB_OK);
	db_rollback(c);  /* outside a transaction: nothing */
	db_release(f->db, c);
	/* Open failures. */
	struct db *db = NULL;
	assert_int_equal(db_open(f->backend, f->target, 0, &db), DB_ERR_ARG);
	assert_int_equal(db_open(f->backend, f->target, DB_POOL_MAX + 1, &db), DB_ERR_ARG);
	assert_null(db);
	char why[256] = "";
	const char *nowhere = is_pg(f) ? "host=/nonexistent-airlock dbname=x connect_timeout=2"
				       : "/nonexistent-airlock/dir/x.db";
	assert_int_equal(db_open_diag(f->backend, nowhere, 1, &db, why, sizeof why), DB_ERR_CONNECT);
	assert_null(db);
	assert_true(strlen(why) > 0);
}

/* ---- transactions ---- */

static void test_rollback_discards(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	assert_db(c, db_begin(c), DB_OK);
	insert_t(c, 1, db_int(1), db_null(), db_null());
	db_rollback(c);
	db_rollback(c);  /* twice is harmless */
	assert_db(c, db_begin(c), DB_OK);
	insert_t(c, 2, db_int(1), db_null(), db_null());
	db_release(f->db, c);  /* an open transaction is rolled back */
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t"), 0);

	/* The first error aborts the transaction, on both backends alike. */
	c = db_acquire(f->db);
	assert_db(c, db_begin(c), DB_OK);
	insert_t(c, 3, db_int(1), db_null(), db_null());
	struct db_value dup[] = { db_int(3) };
	assert_db(c, db_exec(c, "INSERT INTO t (id) VALUES ($1)", dup, 1, NULL, NULL, NULL), DB_ERR_CONSTRAINT);
	assert_db(c, db_exec(c, "SELECT 1", NULL, 0, NULL, NULL, NULL), DB_ERR_CONSTRAINT);
	assert_db(c, db_commit(c), DB_ERR_CONSTRAINT);
	db_rollback(c);  /* after a failed commit: a no-op */
	assert_db(c, db_exec(c, "SELECT 1", NULL, 0, NULL, NULL, NULL), DB_OK);
	db_release(f->db, c);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t"), 0);
}

static void test_commit_persists(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	assert_db(c, db_begin(c), DB_OK);
	insert_t(c, 1, db_int(11), db_text("kept"), db_blob("\x01\x00", 2));
	insert_t(c, 2, db_int(22), db_null(), db_null());
	assert_db(c, db_commit(c), DB_OK);
	db_release(f->db, c);
	reopen(f);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t"), 2);
	assert_int_equal(query_int(f, "SELECT SUM(i) FROM t"), 33);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t WHERE s = 'kept'"), 1);
}

/* ---- rows and changes ---- */

static int stop_after(void *ctx, const struct db_row *row)
{
	int *calls = ctx;
	(void)row;
	return ++*calls >= 3;
}

static void test_callback_stop(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	for (int64_t k = 1; k <= 10; k++)
		insert_t(c, k, db_int(k), db_null(), db_null());
	int calls = 0;
	assert_db(c, db_exec(c, "SELECT id FROM t ORDER BY id", NULL, 0, stop_after, &calls, NULL), DB_OK);
	assert_int_equal(calls, 3);
	/* A change with RETURNING runs whole even when the rows stop. */
	calls = 0;
	int64_t changes = -1;
	assert_db(c, db_exec(c, "UPDATE t SET i = i + 100 RETURNING id", NULL, 0, stop_after, &calls, &changes),
		  DB_OK);
	assert_int_equal(calls, 3);
	assert_int_equal(changes, 10);
	db_release(f->db, c);
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t WHERE i > 100"), 10);
	/* The connection is usable after a stop. */
	assert_int_equal(query_int(f, "SELECT COUNT(*) FROM t"), 10);
}

static void test_changes(void **state)
{
	struct fixture *f = *state;
	int64_t changes = -1;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	for (int64_t k = 1; k <= 5; k++)
		insert_t(c, k, db_int(k), db_null(), db_null());
	assert_db(c, db_exec(c, "UPDATE t SET i = i * 2", NULL, 0, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 5);
	assert_db(c, db_exec(c, "SELECT id FROM t", NULL, 0, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 0);
	struct db_value p[] = { db_int(4) };
	assert_db(c, db_exec(c, "DELETE FROM t WHERE i > $1", p, 1, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 3);  /* 6, 8, 10 */
	assert_db(c, db_exec(c, "UPDATE t SET i = 0 WHERE id > 100", NULL, 0, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 0);
	assert_db(c, db_exec(c, "CREATE TABLE u (x BIGINT)", NULL, 0, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 0);
	/* Failure leaves 0, not a stale count. */
	changes = -1;
	assert_db(c, db_exec(c, "INSERT INTO t (id) VALUES (1)", NULL, 0, NULL, NULL, &changes), DB_ERR_CONSTRAINT);
	assert_int_equal(changes, 0);
	db_release(f->db, c);
}

struct ids {
	size_t n;
	int64_t id[4];
};

static int take_ids(void *ctx, const struct db_row *row)
{
	struct ids *ids = ctx;
	assert_int_equal(row->n, 1);
	assert_int_equal(row->col[0].type, DB_INT);
	assert_true(ids->n < 4);
	ids->id[ids->n++] = row->col[0].i;
	return 0;
}

/* What the server's queries rely on, in the one SQL both accept. */
static void test_upsert_returning(void **state)
{
	struct fixture *f = *state;
	int64_t changes = -1;
	migrate(f);
	struct db_conn *c = db_acquire(f->db);
	struct db_value a[] = { db_text("ab"), db_int(10), db_int(1000) };
	const char *ins = "INSERT INTO artifacts (sha256, size, created) VALUES ($1, $2, $3)"
			  " ON CONFLICT DO NOTHING";
	assert_db(c, db_exec(c, ins, a, 3, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 1);
	assert_db(c, db_exec(c, ins, a, 3, NULL, NULL, &changes), DB_OK);
	assert_int_equal(changes, 0);
	/* DO UPDATE with RETURNING */
	struct ids ids = { 0 };
	a[1] = db_int(20);
	assert_db(c, db_exec(c, "INSERT INTO artifacts (sha256, size, created) VALUES ($1, $2, $3)"
			     " ON CONFLICT (sha256) DO UPDATE SET size = excluded.size RETURNING size", a, 3, take_ids,
			     &ids, &changes),
		  DB_OK);
	assert_int_equal(changes, 1);
	assert_true(ids.n == 1 && ids.id[0] == 20);

	struct db_value rel[] = { db_text("d1"), db_blob("env", 3) };
	assert_db(c, db_exec(c, "INSERT INTO releases (digest, product, version, security_version, hardware,"
			     " envelope, created, created_by) VALUES ($1, 'p', '1.0', 1, 'hw', $2, 0, 'me')", rel, 2,
			     NULL, NULL, NULL),
		  DB_OK);
	/* Generated keys come back through RETURNING. */
	ids.n = 0;
	struct db_value dep[] = { db_text("d1"), db_text("group"), db_text("g1") };
	const char *dins = "INSERT INTO deployments (release_digest, target_kind, target, created, created_by)"
			   " VALUES ($1, $2, $3, 0, 'me') RETURNING id";
	assert_db(c, db_exec(c, dins, dep, 3, take_ids, &ids, &changes), DB_OK);
	assert_int_equal(changes, 1);
	assert_db(c, db_exec(c, dins, dep, 3, take_ids, &ids, &changes), DB_OK);
	assert_int_equal(ids.n, 2);
	assert_true(ids.id[0] > 0 && ids.id[1] > ids.id[0]);
	/* UPDATE ... RETURNING with a parameter used twice. */
	ids.n = 0;
	struct db_value upd[] = { db_int(5) };
	assert_db(c, db_exec(c, "UPDATE deployments SET created = $1 WHERE created < $1 RETURNING created", upd, 1,
			     take_ids, &ids, &changes),
		  DB_OK);
	assert_int_equal(changes, 2);
	assert_true(ids.n == 2 && ids.id[0] == 5 && ids.id[1] == 5);
	db_release(f->db, c);
}

/* ---- the pool ---- */

enum { WORKERS = 8, TXS = 200 };

struct worker {
	struct db *db;
	int failures;
	int conflicts;
	char why[256];
};

static void *counter_thread(void *arg)
{
	struct worker *w = arg;
	for (int k = 0; k < TXS; k++) {
		for (;;) {
			struct db_conn *c = db_acquire(w->db);
			enum db_err e = db_begin(c);
			if (e == DB_OK)
				e = db_exec(c, "UPDATE counter SET n = n + 1 WHERE id = 1", NULL, 0, NULL, NULL, NULL);
			if (e == DB_OK)
				e = db_commit(c);
			if (e != DB_OK)
				snprintf(w->why, sizeof w->why, "%s", db_errmsg(c));
			db_rollback(c);
			db_release(w->db, c);
			if (e == DB_OK)
				break;
			if (e != DB_ERR_CONFLICT) {
				w->failures++;
				return NULL;
			}
			w->conflicts++;
		}
	}
	return NULL;
}

static void test_pool_counter(void **state)
{
	struct fixture *f = *state;
	exec0(f, "CREATE TABLE counter (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
	exec0(f, "INSERT INTO counter (id, n) VALUES (1, 0)");
	pthread_t th[WORKERS];
	struct worker w[WORKERS];
	for (int k = 0; k < WORKERS; k++) {
		w[k] = (struct worker){ .db = f->db };
		assert_int_equal(pthread_create(&th[k], NULL, counter_thread, &w[k]), 0);
	}
	int conflicts = 0;
	for (int k = 0; k < WORKERS; k++) {
		pthread_join(th[k], NULL);
		if (w[k].failures)
			print_error("worker %d: %s\n", k, w[k].why);
		assert_int_equal(w[k].failures, 0);
		conflicts += w[k].conflicts;
	}
	if (conflicts)
		print_message("%d conflicts retried\n", conflicts);
	assert_int_equal(query_int(f, "SELECT n FROM counter WHERE id = 1"), WORKERS * TXS);
}

/* ---- SQLite only ---- */

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static void test_sqlite_file_mode(void **state)
{
	struct fixture *f = *state;
	make_table(f);
	struct db_conn *c = db_acquire(f->db);
	insert_t(c, 1, db_int(1), db_null(), db_null());
	db_release(f->db, c);
	char p[1100];
	assert_int_equal(mode_of(f->target), 0600);
	snprintf(p, sizeof p, "%s-wal", f->target);
	assert_int_equal(mode_of(p), 0600);
	snprintf(p, sizeof p, "%s-shm", f->target);
	assert_int_equal(mode_of(p), 0600);

	/* Whatever the umask: neither wider nor narrower. */
	struct db *db = NULL;
	snprintf(p, sizeof p, "%s/umask.db", f->dir);
	for (int k = 0; k < 2; k++) {
		mode_t old = umask(k == 0 ? 0 : 0277);
		enum db_err e = db_open(DB_SQLITE, p, 1, &db);
		umask(old);
		assert_int_equal(e, DB_OK);
		assert_int_equal(mode_of(p), 0600);
		db_close(db);
		unlink(p);
	}
}

static int take_ok(void *ctx, const struct db_row *row)
{
	bool *ok = ctx;
	*ok = row->n == 1 && row->col[0].type == DB_TEXT && strcmp(row->col[0].s, "ok") == 0;
	return 1;
}

/* A child commits rows one at a time and reports each commit; it is
 * SIGKILLed while it goes on. Every reported row must be there. */
static void test_sqlite_kill9(void **state)
{
	struct fixture *f = *state;
	enum { ROWS = 100, KILL_AFTER = 60 };
	make_table(f);
	db_close(f->db);  /* no handle of ours across the fork */
	f->db = NULL;

	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct db *db = NULL;
		close(fds[0]);
		if (db_open(DB_SQLITE, f->target, 1, &db) != DB_OK)
			_exit(2);
		struct db_conn *c = db_acquire(db);
		for (int64_t k = 1; k <= ROWS; k++) {
			struct db_value p[] = { db_int(k), db_int(k * 3) };
			if (db_exec(c, "INSERT INTO t (id, i) VALUES ($1, $2)", p, 2, NULL, NULL, NULL) != DB_OK)
				_exit(3);
			char line[32];
			int n = snprintf(line, sizeof line, "%lld\n", (long long)k);
			if (write(fds[1], line, (size_t)n) != n)
				_exit(4);
		}
		for (;;)
			pause();
	}
	close(fds[1]);
	FILE *in = fdopen(fds[0], "r");
	assert_non_null(in);
	bool seen[ROWS + 1] = { false };
	int reported = 0;
	char line[32];
	while (fgets(line, sizeof line, in)) {
		long k = strtol(line, NULL, 10);
		assert_true(k >= 1 && k <= ROWS);
		seen[k] = true;
		if (++reported == KILL_AFTER)
			kill(pid, SIGKILL);
	}
	fclose(in);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFSIGNALED(status))
		fail_msg("child exited with %d before the kill", WEXITSTATUS(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
	assert_true(reported >= KILL_AFTER);

	assert_int_equal(db_open(DB_SQLITE, f->target, POOL, &f->db), DB_OK);
	struct db_conn *c = db_acquire(f->db);
	for (int64_t k = 1; k <= ROWS; k++) {
		if (!seen[k])
			continue;
		int64_t v = -1;
		struct db_value p[] = { db_int(k) };
		assert_db(c, db_exec(c, "SELECT i FROM t WHERE id = $1", p, 1, take_int, &v, NULL), DB_OK);
		assert_int_equal(v, k * 3);
	}
	bool ok = false;
	assert_db(c, db_exec(c, "PRAGMA integrity_check", NULL, 0, take_ok, &ok, NULL), DB_OK);
	assert_true(ok);
	db_release(f->db, c);
	assert_true(query_int(f, "SELECT COUNT(*) FROM t") >= reported);
	print_message("%d commits reported before SIGKILL, all present\n", reported);
}

static void test_sqlite_integrity(void **state)
{
	struct fixture *f = *state;
	migrate(f);
	bool ok = false;
	struct db_conn *c = db_acquire(f->db);
	assert_db(c, db_exec(c, "PRAGMA integrity_check", NULL, 0, take_ok, &ok, NULL), DB_OK);
	db_release(f->db, c);
	assert_true(ok);
}

/* ---- PostgreSQL only ---- */

static void wait_backend_gone(struct fixture *f, struct db_conn *c, int64_t pid)
{
	struct db_value p[] = { db_int(pid) };
	for (int k = 0; k < 500; k++) {
		int64_t n = -1;
		assert_db(c, db_exec(c, "SELECT COUNT(*) FROM pg_stat_activity WHERE pid = $1", p, 1, take_int, &n,
				     NULL),
			  DB_OK);
		if (n == 0)
			return;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	(void)f;
	fail_msg("backend %lld still there", (long long)pid);
}

static void terminate(struct fixture *f, struct db_conn *killer, int64_t pid)
{
	int64_t done = 0;
	struct db_value p[] = { db_int(pid) };
	assert_db(killer,
		  db_exec(killer, "SELECT pg_terminate_backend(CAST($1 AS INTEGER))", p, 1, take_int, &done, NULL),
		  DB_OK);
	assert_int_equal(done, 1);
	wait_backend_gone(f, killer, pid);
}

/* A connection whose backend died is reset and the statement sent again
 * when no transaction was open; inside one, the caller hears of it. */
static void test_pg_reset(void **state)
{
	struct fixture *f = *state;
	struct db_conn *c = db_acquire(f->db);
	struct db_conn *killer = db_acquire(f->db);
	int64_t pid = 0, pid2 = 0;
	assert_db(c, db_exec(c, "SELECT pg_backend_pid()", NULL, 0, take_int, &pid, NULL), DB_OK);
	terminate(f, killer, pid);
	assert_db(c, db_exec(c, "SELECT pg_backend_pid()", NULL, 0, take_int, &pid2, NULL), DB_OK);
	assert_true(pid2 != 0 && pid2 != pid);

	assert_db(c, db_begin(c), DB_OK);
	terminate(f, killer, pid2);
	assert_db(c, db_exec(c, "SELECT 1", NULL, 0, NULL, NULL, NULL), DB_ERR_CONNECT);
	assert_db(c, db_commit(c), DB_ERR_CONNECT);
	db_rollback(c);
	assert_db(c, db_exec(c, "SELECT pg_backend_pid()", NULL, 0, take_int, &pid, NULL), DB_OK);
	assert_true(pid != pid2);
	/* and db_begin itself resets a broken idle connection */
	terminate(f, killer, pid);
	assert_db(c, db_begin(c), DB_OK);
	assert_db(c, db_commit(c), DB_OK);
	db_release(f->db, killer);
	db_release(f->db, c);
}

struct locker {
	struct db *db;
	pthread_barrier_t *both_locked;
	int64_t first, second;
	enum db_err update_err, commit_err;
};

static void *lock_two_rows(void *arg)
{
	struct locker *l = arg;
	struct db_conn *c = db_acquire(l->db);
	struct db_value a[] = { db_int(l->first) }, b[] = { db_int(l->second) };
	enum db_err e = db_begin(c);
	if (e == DB_OK)
		e = db_exec(c, "UPDATE d SET n = n + 1 WHERE id = $1", a, 1, NULL, NULL, NULL);
	pthread_barrier_wait(l->both_locked);
	if (e == DB_OK)
		e = db_exec(c, "UPDATE d SET n = n + 1 WHERE id = $1", b, 1, NULL, NULL, NULL);
	l->update_err = e;
	l->commit_err = db_commit(c);
	db_release(l->db, c);
	return NULL;
}

/* Two transactions locking two rows in opposite order: PostgreSQL breaks
 * the deadlock (40P01) and the loser hears DB_ERR_CONFLICT. */
static void test_pg_deadlock(void **state)
{
	struct fixture *f = *state;
	exec0(f, "CREATE TABLE d (id BIGINT PRIMARY KEY, n BIGINT NOT NULL)");
	exec0(f, "INSERT INTO d (id, n) VALUES (1, 0), (2, 0)");
	pthread_barrier_t both;
	pthread_t th[2];
	struct locker l[2] = { { .db = f->db, .both_locked = &both, .first = 1, .second = 2 },
			       { .db = f->db, .both_locked = &both, .first = 2, .second = 1 } };
	assert_int_equal(pthread_barrier_init(&both, NULL, 2), 0);
	for (int k = 0; k < 2; k++)
		assert_int_equal(pthread_create(&th[k], NULL, lock_two_rows, &l[k]), 0);
	for (int k = 0; k < 2; k++)
		pthread_join(th[k], NULL);
	pthread_barrier_destroy(&both);
	int won = 0, lost = 0;
	for (int k = 0; k < 2; k++) {
		if (l[k].update_err == DB_OK && l[k].commit_err == DB_OK)
			won++;
		else if (l[k].update_err == DB_ERR_CONFLICT && l[k].commit_err == DB_ERR_CONFLICT)
			lost++;
	}
	assert_int_equal(won, 1);
	assert_int_equal(lost, 1);
	assert_int_equal(query_int(f, "SELECT SUM(n) FROM d"), 2);
}

static void test_pg_unavailable(void **state)
{
	(void)state;
	if (getenv("AIRLOCK_REQUIRE_PG") && strcmp(getenv("AIRLOCK_REQUIRE_PG"), "1") == 0)
		fail_msg("AIRLOCK_REQUIRE_PG=1 but AIRLOCK_TEST_PG is not set");
	print_message("AIRLOCK_TEST_PG not set: PostgreSQL tests skipped\n");
	skip();
}

#define BOTH(setup)                                                          \
	cmocka_unit_test_setup_teardown(test_migrate_empty, setup, teardown),         \
	cmocka_unit_test_setup_teardown(test_migrate_again, setup, teardown),         \
	cmocka_unit_test_setup_teardown(test_migrate_newer_refused, setup, teardown), \
	cmocka_unit_test_setup_teardown(test_migrate_concurrent, setup, teardown),    \
	cmocka_unit_test_setup_teardown(test_types_roundtrip, setup, teardown),       \
	cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),               \
	cmocka_unit_test_setup_teardown(test_constraint, setup, teardown),            \
	cmocka_unit_test_setup_teardown(test_params_mismatch, setup, teardown),       \
	cmocka_unit_test_setup_teardown(test_rollback_discards, setup, teardown),     \
	cmocka_unit_test_setup_teardown(test_commit_persists, setup, teardown),       \
	cmocka_unit_test_setup_teardown(test_callback_stop, setup, teardown),         \
	cmocka_unit_test_setup_teardown(test_changes, setup, teardown),               \
	cmocka_unit_test_setup_teardown(test_upsert_returning, setup, teardown),      \
	cmocka_unit_test_setup_teardown(test_pool_counter, setup, teardown)

static int drop_pg_schema(void **state)
{
	(void)state;
	char sql[128];
	snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", pg_schema);
	pg_admin(sql);
	return 0;
}

int main(void)
{
	const struct CMUnitTest sqlite_tests[] = {
		BOTH(setup_sqlite),
		cmocka_unit_test_setup_teardown(test_sqlite_file_mode, setup_sqlite, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_kill9, setup_sqlite, teardown),
		cmocka_unit_test_setup_teardown(test_sqlite_integrity, setup_sqlite, teardown),
	};
	const struct CMUnitTest pg_tests[] = {
		BOTH(setup_pg),
		cmocka_unit_test_setup_teardown(test_pg_reset, setup_pg, teardown),
		cmocka_unit_test_setup_teardown(test_pg_deadlock, setup_pg, teardown),
	};
	const struct CMUnitTest pg_missing[] = {
		cmocka_unit_test(test_pg_unavailable),
	};
	int failed = cmocka_run_group_tests_name("db.sqlite", sqlite_tests, NULL, NULL);
	pg_base = getenv("AIRLOCK_TEST_PG");
	if (pg_base && pg_base[0]) {
		snprintf(pg_schema, sizeof pg_schema, "airlock_test_%ld", (long)getpid());
		failed += cmocka_run_group_tests_name("db.postgres", pg_tests, NULL, drop_pg_schema);
	} else {
		failed += cmocka_run_group_tests_name("db.postgres", pg_missing, NULL, NULL);
	}
	return failed == 0 ? 0 : 1;
}
