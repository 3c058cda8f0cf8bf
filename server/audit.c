/*
 * The audit log in the database: append (with automatic checkpoints),
 * on-demand checkpoints, the streamed export and a loader for server-side
 * verification. Hashing, signing, JSON and the verifier are in
 * audit_verify.c; the formats and the locking are described in audit.h.
 */
#include "audit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The append lock of PostgreSQL, spelled as a literal so that the
 * statement needs no parameter type inference. */
#define PG_LOCK_SQL "SELECT pg_advisory_xact_lock(4704381773465996097)"
_Static_assert(AUDIT_PG_LOCK == INT64_C(4704381773465996097), "PG_LOCK_SQL spells AUDIT_PG_LOCK");

/* Rows per query of the export and the loader: bounds the memory a
 * backend that materializes results (libpq) needs per page. */
#define PAGE_ROWS 512

static enum audit_status from_db(enum db_err e)
{
	switch (e) {
	case DB_OK: return AUDIT_OK;
	case DB_ERR_CONFLICT: return AUDIT_ERR_CONFLICT;
	case DB_ERR_NOMEM: return AUDIT_ERR_NOMEM;
	case DB_ERR_ARG: return AUDIT_ERR_ARG;  /* e.g. audit_append inside a transaction */
	default: return AUDIT_ERR_DB;
	}
}

enum audit_status audit_writer_init(struct audit_writer *w, enum db_backend backend, const struct airlock_privkey *key,
				    uint64_t every)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;

	memset(w, 0, sizeof *w);
	w->backend = backend;
	if (!key)
		return AUDIT_OK;
	if (!airlock_alg_can_sign(airlock_privkey_alg(key)))
		return AUDIT_ERR_ARG;
	if (airlock_privkey_public(key, pub, &pub_len) != AIRLOCK_OK ||
	    airlock_keyid(pub, pub_len, w->keyid) != AIRLOCK_OK)
		return AUDIT_ERR_CRYPTO;
	w->key = key;
	w->checkpoint_every = every ? every : AUDIT_CHECKPOINT_EVERY;
	return AUDIT_OK;
}

/* ---- reading rows ---- */

struct head {
	int64_t seq;
	uint8_t hash[AUDIT_HASH_LEN];
	bool corrupt;
};

static int take_head(void *ctx, const struct db_row *row)
{
	struct head *h = ctx;
	if (row->n < 2 || row->col[0].type != DB_INT || row->col[1].type != DB_BLOB ||
	    row->col[1].len != AUDIT_HASH_LEN || row->col[0].i < 1) {
		h->corrupt = true;
		return 1;
	}
	h->seq = row->col[0].i;
	memcpy(h->hash, row->col[1].b, AUDIT_HASH_LEN);
	return 1;
}

/* The newest (seq, hash); seq 0 and the zero hash for an empty log. */
static enum audit_status read_head(struct db_conn *c, struct head *h)
{
	memset(h, 0, sizeof *h);
	enum db_err e = db_exec(c, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", NULL, 0, take_head, h,
				NULL);
	if (e != DB_OK)
		return from_db(e);
	return h->corrupt ? AUDIT_ERR_CORRUPT : AUDIT_OK;
}

/* A checkpoint row: seq, head, time, keyid, signature. */
static bool checkpoint_row(const struct db_row *row, struct audit_checkpoint *cp)
{
	if (row->n < 5 || row->col[0].type != DB_INT || row->col[2].type != DB_INT ||
	    row->col[1].type != DB_BLOB || row->col[1].len != AUDIT_HASH_LEN ||
	    row->col[3].type != DB_BLOB || row->col[3].len != AIRLOCK_KEYID_LEN ||
	    row->col[4].type != DB_BLOB || row->col[4].len != AUDIT_SIG_LEN)
		return false;
	cp->seq = row->col[0].i;
	memcpy(cp->head, row->col[1].b, AUDIT_HASH_LEN);
	cp->time = row->col[2].i;
	memcpy(cp->keyid, row->col[3].b, AIRLOCK_KEYID_LEN);
	memcpy(cp->signature, row->col[4].b, AUDIT_SIG_LEN);
	return true;
}

struct one_checkpoint {
	struct audit_checkpoint *cp;
	bool found, corrupt;
};

static int take_checkpoint(void *ctx, const struct db_row *row)
{
	struct one_checkpoint *o = ctx;
	o->found = true;
	o->corrupt = !checkpoint_row(row, o->cp);
	return 1;
}

/* ---- writing ---- */

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			return false;
	return true;
}

/* detail must be one JSON object (jansson also checks that it is UTF-8). */
static bool json_object_text(const char *s)
{
	if (strnlen(s, AUDIT_MAX_DETAIL + 1) > AUDIT_MAX_DETAIL)
		return false;
	json_t *j = json_loads(s, JSON_REJECT_DUPLICATES, NULL);
	bool ok = json_is_object(j);
	json_decref(j);
	return ok;
}

static enum audit_status lock(const struct audit_writer *w, struct db_conn *c)
{
	/* SQLite: db_begin's BEGIN IMMEDIATE already holds the one write lock. */
	if (w->backend != DB_POSTGRES)
		return AUDIT_OK;
	return from_db(db_exec(c, PG_LOCK_SQL, NULL, 0, NULL, NULL, NULL));
}

/* DB_ERR_CONSTRAINT: a checkpoint for this seq exists already. */
static enum db_err insert_checkpoint(struct db_conn *c, const struct audit_checkpoint *cp)
{
	const struct db_value p[] = { db_int(cp->seq), db_blob(cp->head, AUDIT_HASH_LEN), db_int(cp->time),
				      db_blob(cp->keyid, AIRLOCK_KEYID_LEN), db_blob(cp->signature, AUDIT_SIG_LEN) };
	return db_exec(c, "INSERT INTO audit_checkpoints (seq, head, time, keyid, signature)"
			  " VALUES ($1, $2, $3, $4, $5)", p, 5, NULL, NULL, NULL);
}

struct op {
	const struct audit_writer *w;
	bool checkpoint;                /* false: append */
	const char *actor, *action, *detail;
	int64_t now;
	int64_t seq;                    /* out: the appended seq */
	struct audit_checkpoint cp;     /* out: the checkpoint */
};

/* The body of an append, inside a transaction. */
static enum audit_status append_locked(struct db_conn *c, struct op *op)
{
	uint8_t hash[AUDIT_HASH_LEN];
	struct head h;
	enum audit_status s = lock(op->w, c);
	if (s == AUDIT_OK)
		s = read_head(c, &h);
	if (s != AUDIT_OK)
		return s;
	if (h.seq == INT64_MAX)
		return AUDIT_ERR_CORRUPT;
	const int64_t seq = h.seq + 1;
	s = audit_entry_hash(h.hash, seq, op->now, op->actor, op->action, op->detail, hash);
	if (s != AUDIT_OK)
		return s;
	const struct db_value p[] = { db_int(seq), db_int(op->now), db_text(op->actor), db_text(op->action),
				      db_text(op->detail), db_blob(h.hash, AUDIT_HASH_LEN),
				      db_blob(hash, AUDIT_HASH_LEN) };
	enum db_err e = db_exec(c, "INSERT INTO audit (seq, time, actor, action, detail, prev, hash)"
				   " VALUES ($1, $2, $3, $4, $5, $6, $7)", p, 7, NULL, NULL, NULL);
	/* The primary key refused seq: another writer appended after our
	 * read (possible only if the lock did not serialize us, e.g. a
	 * snapshot older than the lock). Retrying reads the new head. */
	if (e == DB_ERR_CONSTRAINT)
		return AUDIT_ERR_CONFLICT;
	if (e != DB_OK)
		return from_db(e);
	if (op->w->key && op->w->checkpoint_every && (uint64_t)seq % op->w->checkpoint_every == 0) {
		s = audit_checkpoint_sign(op->w->key, seq, hash, op->now, &op->cp);
		if (s != AUDIT_OK)
			return s;
		/* Nobody can have checkpointed an entry that did not exist
		 * until this transaction: a checkpoint already there means the
		 * log was cut below it. Retrying cannot help, and writing on
		 * would bury the evidence. */
		e = insert_checkpoint(c, &op->cp);
		if (e == DB_ERR_CONSTRAINT)
			return AUDIT_ERR_CORRUPT;
		if (e != DB_OK)
			return from_db(e);
	}
	op->seq = seq;
	return AUDIT_OK;
}

/* The body of an on-demand checkpoint, inside a transaction. */
static enum audit_status checkpoint_locked(struct db_conn *c, struct op *op)
{
	struct head h;
	enum audit_status s = lock(op->w, c);
	if (s == AUDIT_OK)
		s = read_head(c, &h);
	if (s != AUDIT_OK)
		return s;
	memset(&op->cp, 0, sizeof op->cp);
	if (h.seq == 0)
		return AUDIT_OK;
	struct one_checkpoint o = { &op->cp, false, false };
	const struct db_value p[] = { db_int(h.seq) };
	enum db_err e = db_exec(c, "SELECT seq, head, time, keyid, signature FROM audit_checkpoints WHERE seq = $1",
				p, 1, take_checkpoint, &o, NULL);
	if (e != DB_OK)
		return from_db(e);
	if (o.found)
		return o.corrupt ? AUDIT_ERR_CORRUPT : AUDIT_OK;
	s = audit_checkpoint_sign(op->w->key, h.seq, h.hash, op->now, &op->cp);
	if (s != AUDIT_OK)
		return s;
	/* Under the lock this cannot race; were it to, a retry finds the
	 * stored one. */
	e = insert_checkpoint(c, &op->cp);
	return e == DB_ERR_CONSTRAINT ? AUDIT_ERR_CONFLICT : from_db(e);
}

static enum audit_status run_op(struct db_conn *c, struct op *op)
{
	return op->checkpoint ? checkpoint_locked(c, op) : append_locked(c, op);
}

/* Sleeps 1, 2, 4, ... 64 ms plus up to 1 ms of jitter before attempt n, so
 * that writers that collided do not collide again in step. */
static void backoff(unsigned attempt)
{
	uint8_t jitter = 0;
	unsigned shift = attempt < 7 ? attempt - 1 : 6;
	if (airlock_random(&jitter, 1) != AIRLOCK_OK)
		jitter = 0;
	long ns = (1L << shift) * 1000000L + (long)jitter * 4000L;
	struct timespec ts = { .tv_sec = ns / 1000000000L, .tv_nsec = ns % 1000000000L };
	nanosleep(&ts, NULL);
}

static enum audit_status in_own_tx(struct db_conn *c, struct op *op)
{
	enum audit_status s = AUDIT_ERR_CONFLICT;
	for (unsigned attempt = 0; attempt < AUDIT_APPEND_TRIES; attempt++) {
		if (attempt > 0)
			backoff(attempt);
		s = from_db(db_begin(c));
		if (s == AUDIT_OK) {
			s = run_op(c, op);
			if (s == AUDIT_OK)
				s = from_db(db_commit(c));  /* rolls back itself on failure */
			else
				db_rollback(c);
		}
		if (s != AUDIT_ERR_CONFLICT)
			return s;
	}
	return s;
}

static enum audit_status check_entry(const struct audit_writer *w, struct db_conn *c, const char *actor,
				     const char *action, const char *detail)
{
	if (!w || !c || !actor || !action || !detail)
		return AUDIT_ERR_ARG;
	if (!printable_ascii(actor, AUDIT_MAX_ACTOR) || !printable_ascii(action, AUDIT_MAX_ACTION) ||
	    !json_object_text(detail))
		return AUDIT_ERR_ARG;
	return AUDIT_OK;
}

enum audit_status audit_append(const struct audit_writer *w, struct db_conn *c, const char *actor, const char *action,
			       const char *detail, int64_t now, int64_t *seq_out)
{
	struct op op = { .w = w, .actor = actor, .action = action, .detail = detail, .now = now };
	enum audit_status s = check_entry(w, c, actor, action, detail);
	if (s == AUDIT_OK)
		s = in_own_tx(c, &op);
	if (s == AUDIT_OK && seq_out)
		*seq_out = op.seq;
	return s;
}

enum audit_status audit_append_in_tx(const struct audit_writer *w, struct db_conn *c, const char *actor,
				     const char *action, const char *detail, int64_t now, int64_t *seq_out)
{
	struct op op = { .w = w, .actor = actor, .action = action, .detail = detail, .now = now };
	enum audit_status s = check_entry(w, c, actor, action, detail);
	if (s == AUDIT_OK)
		s = run_op(c, &op);
	if (s == AUDIT_OK && seq_out)
		*seq_out = op.seq;
	return s;
}

enum audit_status audit_checkpoint(const struct audit_writer *w, struct db_conn *c, int64_t now,
				   struct audit_checkpoint *out)
{
	struct op op = { .w = w, .checkpoint = true, .now = now };
	if (!w || !c || !out || !w->key)
		return AUDIT_ERR_ARG;
	enum audit_status s = in_own_tx(c, &op);
	if (s == AUDIT_OK)
		*out = op.cp;
	return s;
}

/* ---- reading pages ---- */

/*
 * Runs sql ($1 = first seq, $2 = last seq, ORDER BY seq, LIMIT PAGE_ROWS)
 * page by page over [from, to], calling fn(ctx, row) for each row; fn
 * counts the page's rows and records the last seq in the pager, and sets
 * s to stop with an error.
 */
struct pager {
	db_row_fn fn;
	void *ctx;
	int64_t last;
	size_t rows;
	enum audit_status s;
};

static enum audit_status paged(struct db_conn *c, const char *sql, int64_t from, int64_t to, struct pager *pg)
{
	int64_t cursor = from;
	while (cursor <= to) {
		const struct db_value p[] = { db_int(cursor), db_int(to) };
		pg->rows = 0;
		enum db_err e = db_exec(c, sql, p, 2, pg->fn, pg->ctx, NULL);
		if (e != DB_OK)
			return from_db(e);
		if (pg->s != AUDIT_OK)
			return pg->s;
		if (pg->rows < PAGE_ROWS || pg->last >= to)
			break;
		cursor = pg->last + 1;
	}
	return AUDIT_OK;
}

#define ENTRY_PAGE_SQL \
	"SELECT seq, time, actor, action, detail, hash, prev FROM audit WHERE seq >= $1 AND seq <= $2" \
	" ORDER BY seq LIMIT 512"
#define CHECKPOINT_PAGE_SQL \
	"SELECT seq, head, time, keyid, signature FROM audit_checkpoints WHERE seq >= $1 AND seq <= $2" \
	" ORDER BY seq LIMIT 512"
_Static_assert(PAGE_ROWS == 512, "the page SQL spells PAGE_ROWS");

/* An entry row as a struct audit_entry that points into the row (valid
 * only during the callback; the casts drop const for a read-only view). */
static bool entry_row(const struct db_row *row, struct audit_entry *e)
{
	if (row->n < 7 || row->col[0].type != DB_INT || row->col[1].type != DB_INT || row->col[2].type != DB_TEXT ||
	    row->col[3].type != DB_TEXT || row->col[4].type != DB_TEXT || row->col[5].type != DB_BLOB ||
	    row->col[5].len != AUDIT_HASH_LEN || row->col[6].type != DB_BLOB || row->col[6].len != AUDIT_HASH_LEN)
		return false;
	memset(e, 0, sizeof *e);
	e->seq = row->col[0].i;
	e->time = row->col[1].i;
	e->actor = (char *)row->col[2].s;
	e->action = (char *)row->col[3].s;
	e->detail = (char *)row->col[4].s;
	memcpy(e->hash, row->col[5].b, AUDIT_HASH_LEN);
	e->has_prev = true;
	memcpy(e->prev, row->col[6].b, AUDIT_HASH_LEN);
	return true;
}

/* ---- export ---- */

struct exporter {
	struct pager pg;
	audit_sink_fn sink;
	void *ctx;
	bool first;             /* no element written yet in the current array */
};

static enum audit_status emit(struct exporter *x, const char *s)
{
	if (!s)
		return AUDIT_ERR_NOMEM;
	return x->sink(x->ctx, s, strlen(s)) ? AUDIT_OK : AUDIT_ERR_WRITE;
}

static enum audit_status emit_element(struct exporter *x, char *json)
{
	enum audit_status s = json ? AUDIT_OK : AUDIT_ERR_NOMEM;
	if (s == AUDIT_OK && !x->first)
		s = emit(x, ",");
	if (s == AUDIT_OK)
		s = emit(x, json);
	x->first = false;
	free(json);
	return s;
}

static int export_entry(void *ctx, const struct db_row *row)
{
	struct exporter *x = ctx;
	struct audit_entry e;
	x->pg.rows++;
	if (!entry_row(row, &e)) {
		x->pg.s = AUDIT_ERR_CORRUPT;
		return 1;
	}
	x->pg.last = e.seq;
	x->pg.s = emit_element(x, audit_entry_json(&e));
	return x->pg.s != AUDIT_OK;
}

static int export_checkpoint(void *ctx, const struct db_row *row)
{
	struct exporter *x = ctx;
	struct audit_checkpoint cp;
	x->pg.rows++;
	if (!checkpoint_row(row, &cp)) {
		x->pg.s = AUDIT_ERR_CORRUPT;
		return 1;
	}
	x->pg.last = cp.seq;
	x->pg.s = emit_element(x, audit_checkpoint_json(&cp));
	return x->pg.s != AUDIT_OK;
}

enum audit_status audit_export(struct db_conn *c, int64_t from, int64_t to, audit_sink_fn sink, void *ctx)
{
	struct exporter x = { .sink = sink, .ctx = ctx, .first = true };
	struct head h;

	if (!c || !sink)
		return AUDIT_ERR_ARG;
	/* No transaction: the log is append-only, so fixing the newest seq
	 * first gives a consistent view of 1..to without holding SQLite's
	 * write lock for as long as a slow client reads. */
	enum audit_status s = read_head(c, &h);
	if (s != AUDIT_OK)
		return s;
	if (from < 1)
		from = 1;
	if (to <= 0 || to > h.seq)
		to = h.seq;
	s = emit(&x, "{\"format\":1,\"entries\":[");
	x.pg.fn = export_entry;
	x.pg.ctx = &x;
	if (s == AUDIT_OK)
		s = paged(c, ENTRY_PAGE_SQL, from, to, &x.pg);
	if (s == AUDIT_OK)
		s = emit(&x, "],\"checkpoints\":[");
	x.first = true;
	x.pg.fn = export_checkpoint;
	if (s == AUDIT_OK)
		s = paged(c, CHECKPOINT_PAGE_SQL, from, to, &x.pg);
	if (s == AUDIT_OK)
		s = emit(&x, "]}");
	return s;
}

static bool file_sink(void *ctx, const char *data, size_t len)
{
	return fwrite(data, 1, len, (FILE *)ctx) == len;
}

enum audit_status audit_export_file(struct db_conn *c, int64_t from, int64_t to, FILE *f)
{
	if (!f)
		return AUDIT_ERR_ARG;
	enum audit_status s = audit_export(c, from, to, file_sink, f);
	if (s == AUDIT_OK && (fflush(f) != 0 || ferror(f)))
		s = AUDIT_ERR_WRITE;
	return s;
}

/* ---- load ---- */

struct loader {
	struct pager pg;
	struct audit_log *log;
	size_t cap_e, cap_c;
};

static bool grow(void **arr, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return true;
	size_t cap2 = *cap ? *cap * 2 : 256;
	if (cap2 > SIZE_MAX / size)
		return false;
	void *p = realloc(*arr, cap2 * size);
	if (!p)
		return false;
	*arr = p;
	*cap = cap2;
	return true;
}

static char *dup_text(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

static int load_entry(void *ctx, const struct db_row *row)
{
	struct loader *l = ctx;
	struct audit_entry view;
	void *arr = l->log->entries;
	l->pg.rows++;
	if (!entry_row(row, &view)) {
		l->pg.s = AUDIT_ERR_CORRUPT;
		return 1;
	}
	l->pg.last = view.seq;
	if (!grow(&arr, &l->cap_e, l->log->n_entries, sizeof *l->log->entries)) {
		l->pg.s = AUDIT_ERR_NOMEM;
		return 1;
	}
	l->log->entries = arr;
	struct audit_entry *e = &l->log->entries[l->log->n_entries];
	*e = view;
	e->actor = dup_text(view.actor);
	e->action = dup_text(view.action);
	e->detail = dup_text(view.detail);
	l->log->n_entries++;  /* counted now so that audit_log_free releases it */
	if (!e->actor || !e->action || !e->detail) {
		l->pg.s = AUDIT_ERR_NOMEM;
		return 1;
	}
	return 0;
}

static int load_checkpoint(void *ctx, const struct db_row *row)
{
	struct loader *l = ctx;
	void *arr = l->log->checkpoints;
	l->pg.rows++;
	if (!grow(&arr, &l->cap_c, l->log->n_checkpoints, sizeof *l->log->checkpoints)) {
		l->pg.s = AUDIT_ERR_NOMEM;
		return 1;
	}
	l->log->checkpoints = arr;
	if (!checkpoint_row(row, &l->log->checkpoints[l->log->n_checkpoints])) {
		l->pg.s = AUDIT_ERR_CORRUPT;
		return 1;
	}
	l->pg.last = l->log->checkpoints[l->log->n_checkpoints].seq;
	l->log->n_checkpoints++;
	return 0;
}

enum audit_status audit_load(struct db_conn *c, struct audit_log *log)
{
	struct loader l = { .log = log };
	struct head h;

	if (!c || !log)
		return AUDIT_ERR_ARG;
	memset(log, 0, sizeof *log);
	enum audit_status s = read_head(c, &h);
	l.pg.fn = load_entry;
	l.pg.ctx = &l;
	if (s == AUDIT_OK)
		s = paged(c, ENTRY_PAGE_SQL, 1, h.seq, &l.pg);
	l.pg.fn = load_checkpoint;
	if (s == AUDIT_OK)
		s = paged(c, CHECKPOINT_PAGE_SQL, 1, h.seq, &l.pg);
	if (s != AUDIT_OK)
		audit_log_free(log);
	return s;
}
