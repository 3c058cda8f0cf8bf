/*
 * The audit log (server/audit.c, server/audit_verify.c): attack F11 of
 * shared/ATTACKS.md, and the database half on SQLite.
 *
 * In memory (no database): a chain of 1000 entries with a checkpoint every
 * 64 and one on demand at 1000 (the one an auditor saves outside), then
 *  - a seeded sample of >= 4096 bit toggles over every field of every entry
 *    and checkpoint (seq, time, actor, action, detail, hash, prev; seq,
 *    head, time, keyid, signature; the external checkpoint too), each with
 *    its exact verdict and first bad index; AUDIT_SWEEP_FULL=1 toggles every
 *    bit instead (slow), AUDIT_SWEEP_SEED=N changes the sample;
 *  - the same over the bytes of the exported JSON text (parse or verify
 *    must refuse, or the parse must give back the very same log);
 *  - delete, swap, insert, duplicate, truncate (with and without the
 *    external checkpoint), rewrites, checkpoints re-signed with another key
 *    or with the (stolen) audit key, a smaller-size checkpoint inconsistent
 *    with the chain, two checkpoints for one size.
 * The sweep's counts are printed; "undetected" must be 0.
 *
 * With SQLite in a temporary directory, and with PostgreSQL when
 * AIRLOCK_TEST_PG holds a libpq connection string (what `scripts/pg-tmp
 * start DIR` prints; each test gets a schema of its own, dropped after it;
 * AIRLOCK_REQUIRE_PG=1 fails instead of skipping without it): the append,
 * checkpoint and export round trip, in-transaction appends that commit or
 * roll back with the caller, a row edited in the database, a log cut below
 * a checkpoint, and 4 threads appending at once into one chain.
 *
 * Built by hand (from /work/main, with libairlock from any build dir):
 *   gcc -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wpedantic -Wshadow \
 *     -Wconversion -Wsign-conversion -Wstrict-prototypes -Wmissing-prototypes \
 *     -Wformat=2 -Wvla -Wundef -Werror -Iinclude -Ilib -Iserver \
 *     tests/server/test_audit.c server/audit.c server/audit_verify.c \
 *     server/db.c server/db_sqlite.c server/db_pg.c server/schema.c \
 *     build-audit/libairlock.a -ljansson -lsqlite3 -lpq -lcmocka -lcrypto \
 *     -lpthread -o build-audit/test_audit
 * (add $(pkg-config --cflags libpq) if libpq-fe.h is not on the path; the
 * ASan build adds -fsanitize=address,undefined -fno-omit-frame-pointer and
 * links a libairlock built with AIRLOCK_SANITIZE=ON), then
 *   build-audit/test_audit
 *   DIR=/tmp/airlock-pg-$$; AIRLOCK_TEST_PG="$(scripts/pg-tmp start $DIR)" \
 *     AIRLOCK_REQUIRE_PG=1 build-audit/test_audit; scripts/pg-tmp stop $DIR
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include <libpq-fe.h>

#include "audit.h"
#include "db.h"

#define N_ENTRIES 1000
#define EVERY 64
#define T0 INT64_C(1700000000)
#define SAMPLE_ENTRY_BITS 4096
#define SAMPLE_CHECKPOINT_BITS 2048
#define SAMPLE_TEXT_BITS 2048
#define SAMPLE_PREV_BITS 2048

/* ---- fixtures ---- */

static struct airlock_privkey *audit_priv, *other_priv;
static struct audit_key audit_pub, other_pub;
/* The genuine log as an export gives it (no prev), and the checkpoint the
 * auditor saved (a copy of the stored one at 1000). */
static struct audit_log base;
static struct audit_checkpoint saved;

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static void key_pub(struct airlock_privkey *k, struct audit_key *out)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t len;
	assert_int_equal(airlock_privkey_public(k, pub, &len), AIRLOCK_OK);
	assert_int_equal(audit_key_init(out, airlock_privkey_alg(k), pub, len), AUDIT_OK);
}

static const char *const actions[] = { "release.push", "deployment.create", "device.enroll", "token.create",
				       "device.state", "auth.fail" };

/* Fills entry k (0-based) with varied, realistic fields. */
static void make_fields(struct audit_entry *e, size_t k)
{
	char buf[256];
	e->seq = (int64_t)k + 1;
	e->time = T0 + (int64_t)k * 37;
	if (k % 3 == 0)
		snprintf(buf, sizeof buf, "admin:%016zx", k * 2654435761u);
	else if (k % 3 == 1)
		snprintf(buf, sizeof buf, "device:unit-%04zu", k % 97);
	else
		snprintf(buf, sizeof buf, "system:rollout");
	e->actor = xstrdup(buf);
	e->action = xstrdup(actions[k % (sizeof actions / sizeof actions[0])]);
	/* Quotes, a backslash and UTF-8 so that the JSON text has escapes. */
	snprintf(buf, sizeof buf, "{\"i\":%zu,\"note\":\"caf\xc3\xa9 \\\"q\\\" \\\\ %zu\",\"ok\":%s}", k, k * k,
		 k % 2 ? "true" : "false");
	e->detail = xstrdup(buf);
}

/* Recomputes the hashes (and prev, where kept) of entries from..n-1. */
static void rechain(struct audit_log *log, size_t from)
{
	uint8_t prev[AUDIT_HASH_LEN] = { 0 };
	if (from > 0)
		memcpy(prev, log->entries[from - 1].hash, sizeof prev);
	for (size_t k = from; k < log->n_entries; k++) {
		struct audit_entry *e = &log->entries[k];
		if (e->has_prev)
			memcpy(e->prev, prev, sizeof prev);
		assert_int_equal(audit_entry_hash(prev, e->seq, e->time, e->actor, e->action, e->detail, e->hash),
				 AUDIT_OK);
		memcpy(prev, e->hash, sizeof prev);
	}
}

/* Checkpoints every EVERY entries and at the end, signed by key. */
static void sign_checkpoints(struct audit_log *log, struct airlock_privkey *key)
{
	size_t n = 0;
	free(log->checkpoints);
	log->checkpoints = calloc(log->n_entries / EVERY + 1, sizeof *log->checkpoints);
	assert_non_null(log->checkpoints);
	for (size_t k = 0; k < log->n_entries; k++) {
		const struct audit_entry *e = &log->entries[k];
		if ((k + 1) % EVERY == 0 || k + 1 == log->n_entries) {
			assert_int_equal(audit_checkpoint_sign(key, e->seq, e->hash, e->time + 1, &log->checkpoints[n]),
					 AUDIT_OK);
			n++;
		}
	}
	log->n_checkpoints = n;
}

static void build_log(struct audit_log *log, size_t n, bool with_prev, struct airlock_privkey *key)
{
	memset(log, 0, sizeof *log);
	log->entries = calloc(n, sizeof *log->entries);
	assert_non_null(log->entries);
	log->n_entries = n;
	for (size_t k = 0; k < n; k++) {
		make_fields(&log->entries[k], k);
		log->entries[k].has_prev = with_prev;
	}
	rechain(log, 0);
	sign_checkpoints(log, key);
}

/* A deep copy: the copy owns its strings. */
static void clone_log(const struct audit_log *src, struct audit_log *dst, size_t extra_entries, size_t extra_cps)
{
	memset(dst, 0, sizeof *dst);
	dst->entries = calloc(src->n_entries + extra_entries + 1, sizeof *dst->entries);
	dst->checkpoints = calloc(src->n_checkpoints + extra_cps + 1, sizeof *dst->checkpoints);
	assert_non_null(dst->entries);
	assert_non_null(dst->checkpoints);
	for (size_t k = 0; k < src->n_entries; k++) {
		dst->entries[k] = src->entries[k];
		dst->entries[k].actor = xstrdup(src->entries[k].actor);
		dst->entries[k].action = xstrdup(src->entries[k].action);
		dst->entries[k].detail = xstrdup(src->entries[k].detail);
	}
	dst->n_entries = src->n_entries;
	memcpy(dst->checkpoints, src->checkpoints, src->n_checkpoints * sizeof *src->checkpoints);
	dst->n_checkpoints = src->n_checkpoints;
}

static int group_setup(void **state)
{
	(void)state;
	if (airlock_privkey_generate(AIRLOCK_ALG_ED25519, &audit_priv) != AIRLOCK_OK ||
	    airlock_privkey_generate(AIRLOCK_ALG_ED25519, &other_priv) != AIRLOCK_OK)
		return -1;
	key_pub(audit_priv, &audit_pub);
	key_pub(other_priv, &other_pub);
	build_log(&base, N_ENTRIES, false, audit_priv);
	saved = base.checkpoints[base.n_checkpoints - 1];
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	audit_log_free(&base);
	airlock_privkey_free(audit_priv);
	airlock_privkey_free(other_priv);
	return 0;
}

/* ---- verdict assertions ---- */

static void expect_at(const struct audit_log *log, const struct audit_checkpoint *ext, enum audit_status status,
		      enum audit_where where, size_t index, const char *what, int line)
{
	struct audit_verdict v;
	char msg[256];
	enum audit_status s = audit_verify(log, &audit_pub, ext, &v);
	audit_verdict_describe(&v, msg, sizeof msg);
	if (s != status || v.status != status || (status != AUDIT_OK && (v.where != where || v.index != index))) {
		print_error("line %d, %s: want %s at %d/%zu, got %s at %d/%zu: %s\n", line, what,
			    audit_status_name(status), (int)where, index, audit_status_name(s), (int)v.where, v.index,
			    msg);
		fail();
	}
}
#define EXPECT(log, ext, status, where, index, what) expect_at(log, ext, status, where, index, what, __LINE__)

/* ---- known answers (computed independently, with Python's hashlib and a
 * hand-written CBOR encoder; the same values are in docs/audit.md) ---- */

static void unhex(const char *h, uint8_t *out, size_t n)
{
	assert_int_equal(strlen(h), 2 * n);
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void test_known_answers(void **state)
{
	static const char h1[] = "f405c28be2bffe0b2e16877be7c961583700bb9179e11e1bf06475a527c80eb1";
	static const char h2[] = "556c707c476932d254f642151c9a16deef72d8d504aecaefd5d57f809294df93";
	static const char msg_hex[] =
		"84781b6169726c6f636b2d61756469742d636865636b706f696e742d7631025820556c707c476932d254f642151c9a16"
		"deef72d8d504aecaefd5d57f809294df931a6553f164";
	uint8_t zero[AUDIT_HASH_LEN] = { 0 }, want1[AUDIT_HASH_LEN], want2[AUDIT_HASH_LEN], got[AUDIT_HASH_LEN];
	uint8_t msg[(sizeof msg_hex - 1) / 2];
	struct audit_checkpoint cp;
	(void)state;
	unhex(h1, want1, sizeof want1);
	unhex(h2, want2, sizeof want2);
	unhex(msg_hex, msg, sizeof msg);
	assert_int_equal(audit_entry_hash(zero, 1, 1700000000, "admin:0123456789abcdef", "release.push",
					  "{\"product\":\"gw\",\"version\":\"1.2.0\"}", got), AUDIT_OK);
	assert_memory_equal(got, want1, sizeof got);
	assert_int_equal(audit_entry_hash(want1, 2, 1700000042, "device:unit-0007", "device.state",
					  "{\"state\":\"installed\",\"caf\xc3\xa9\":true}", got), AUDIT_OK);
	assert_memory_equal(got, want2, sizeof got);
	/* The checkpoint signs exactly the independently encoded message. */
	assert_int_equal(audit_checkpoint_sign(audit_priv, 2, want2, 1700000100, &cp), AUDIT_OK);
	assert_int_equal(airlock_sig_verify(audit_pub.alg, audit_pub.pub, audit_pub.pub_len, msg, sizeof msg,
					    cp.signature, sizeof cp.signature), AIRLOCK_OK);
	assert_memory_equal(cp.keyid, audit_pub.keyid, sizeof cp.keyid);
	assert_int_equal(audit_checkpoint_check(&cp, &audit_pub), AUDIT_OK);
}

/* ---- the intact log ---- */

static void test_intact(void **state)
{
	struct audit_verdict v;
	char msg[256];
	(void)state;
	assert_int_equal(base.n_checkpoints, N_ENTRIES / EVERY + 1);
	assert_int_equal(audit_verify(&base, &audit_pub, NULL, &v), AUDIT_OK);
	assert_int_equal(v.n_entries, N_ENTRIES);
	assert_int_equal(v.newest_checkpoint, N_ENTRIES);
	assert_int_equal(audit_verify(&base, &audit_pub, &saved, &v), AUDIT_OK);
	audit_verdict_describe(&v, msg, sizeof msg);
	assert_string_equal(msg, "1000 entries intact, 16 checkpoints verified (newest covers 1000)");

	/* A log with prev (as loaded from the database) verifies the same. */
	struct audit_log with_prev;
	build_log(&with_prev, 200, true, audit_priv);
	assert_int_equal(audit_verify(&with_prev, &audit_pub, NULL, &v), AUDIT_OK);
	audit_log_free(&with_prev);

	/* The empty log is intact; a checkpoint beyond it is truncation. */
	struct audit_log empty = { 0 };
	EXPECT(&empty, NULL, AUDIT_OK, AUDIT_AT_NONE, 0, "empty");
	EXPECT(&empty, &saved, AUDIT_TRUNCATED, AUDIT_AT_EXTERNAL, 0, "empty with external");

	/* P-256 audit keys work as well. */
	struct airlock_privkey *p256;
	struct audit_key p256_pub;
	struct audit_log small;
	assert_int_equal(airlock_privkey_generate(AIRLOCK_ALG_P256, &p256), AIRLOCK_OK);
	key_pub(p256, &p256_pub);
	build_log(&small, 130, false, p256);
	assert_int_equal(audit_verify(&small, &p256_pub, NULL, &v), AUDIT_OK);
	assert_int_equal(audit_verify(&small, &audit_pub, NULL, &v), AUDIT_CHECKPOINT_WRONG_KEY);
	audit_log_free(&small);
	airlock_privkey_free(p256);
}

/* ---- the bit sweep over fields ---- */

enum field_kind {
	F_SEQ, F_TIME, F_ACTOR, F_ACTION, F_DETAIL, F_HASH, F_PREV,
	F_CP_SEQ, F_CP_HEAD, F_CP_TIME, F_CP_KEYID, F_CP_SIG,
	F_EXT_SEQ, F_EXT_HEAD, F_EXT_TIME, F_EXT_KEYID, F_EXT_SIG,
	F__COUNT
};

static const char *const field_names[F__COUNT] = {
	"entry.seq", "entry.time", "entry.actor", "entry.action", "entry.detail", "entry.hash", "entry.prev",
	"checkpoint.seq", "checkpoint.head", "checkpoint.time", "checkpoint.keyid", "checkpoint.signature",
	"external.seq", "external.head", "external.time", "external.keyid", "external.signature",
};

struct field {
	enum field_kind kind;
	size_t index;           /* entry or checkpoint position */
	uint8_t *p;
	size_t nbits;
	uint64_t first_bit;     /* cumulative: bits of all fields before this one */
};

struct fields {
	struct field *f;
	size_t n, cap;
	uint64_t total_bits;
};

static void add_field(struct fields *fs, enum field_kind kind, size_t index, void *p, size_t nbytes)
{
	if (nbytes == 0)
		return;
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 1024;
		fs->f = realloc(fs->f, fs->cap * sizeof *fs->f);
		assert_non_null(fs->f);
	}
	fs->f[fs->n++] = (struct field){ kind, index, p, nbytes * 8, fs->total_bits };
	fs->total_bits += nbytes * 8;
}

static void entry_fields(struct fields *fs, struct audit_log *log)
{
	for (size_t k = 0; k < log->n_entries; k++) {
		struct audit_entry *e = &log->entries[k];
		add_field(fs, F_SEQ, k, &e->seq, sizeof e->seq);
		add_field(fs, F_TIME, k, &e->time, sizeof e->time);
		add_field(fs, F_ACTOR, k, e->actor, strlen(e->actor));
		add_field(fs, F_ACTION, k, e->action, strlen(e->action));
		add_field(fs, F_DETAIL, k, e->detail, strlen(e->detail));
		add_field(fs, F_HASH, k, e->hash, sizeof e->hash);
		if (e->has_prev)
			add_field(fs, F_PREV, k, e->prev, sizeof e->prev);
	}
}

static void checkpoint_fields(struct fields *fs, struct audit_log *log, struct audit_checkpoint *ext)
{
	for (size_t i = 0; i < log->n_checkpoints; i++) {
		struct audit_checkpoint *c = &log->checkpoints[i];
		add_field(fs, F_CP_SEQ, i, &c->seq, sizeof c->seq);
		add_field(fs, F_CP_HEAD, i, c->head, sizeof c->head);
		add_field(fs, F_CP_TIME, i, &c->time, sizeof c->time);
		add_field(fs, F_CP_KEYID, i, c->keyid, sizeof c->keyid);
		add_field(fs, F_CP_SIG, i, c->signature, sizeof c->signature);
	}
	add_field(fs, F_EXT_SEQ, 0, &ext->seq, sizeof ext->seq);
	add_field(fs, F_EXT_HEAD, 0, ext->head, sizeof ext->head);
	add_field(fs, F_EXT_TIME, 0, &ext->time, sizeof ext->time);
	add_field(fs, F_EXT_KEYID, 0, ext->keyid, sizeof ext->keyid);
	add_field(fs, F_EXT_SIG, 0, ext->signature, sizeof ext->signature);
}

static const struct field *field_of_bit(const struct fields *fs, uint64_t bit)
{
	size_t lo = 0, hi = fs->n;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (fs->f[mid].first_bit <= bit)
			lo = mid;
		else
			hi = mid;
	}
	return &fs->f[lo];
}

/* What a toggle in a field must produce, and where. */
static void expected_for(enum field_kind kind, size_t index, enum audit_status *s, enum audit_where *w, size_t *i)
{
	*i = index;
	switch (kind) {
	case F_SEQ: *s = AUDIT_BAD_SEQ; *w = AUDIT_AT_ENTRY; break;
	case F_PREV: *s = AUDIT_BAD_PREV; *w = AUDIT_AT_ENTRY; break;
	case F_TIME: case F_ACTOR: case F_ACTION: case F_DETAIL: case F_HASH:
		*s = AUDIT_BAD_HASH; *w = AUDIT_AT_ENTRY; break;
	case F_CP_KEYID: *s = AUDIT_CHECKPOINT_WRONG_KEY; *w = AUDIT_AT_CHECKPOINT; break;
	case F_CP_SEQ: case F_CP_HEAD: case F_CP_TIME: case F_CP_SIG:
		*s = AUDIT_BAD_CHECKPOINT_SIG; *w = AUDIT_AT_CHECKPOINT; break;
	case F_EXT_KEYID: *s = AUDIT_CHECKPOINT_WRONG_KEY; *w = AUDIT_AT_EXTERNAL; *i = 0; break;
	default: *s = AUDIT_BAD_CHECKPOINT_SIG; *w = AUDIT_AT_EXTERNAL; *i = 0; break;
	}
}

struct sweep_stats {
	uint64_t toggles, detected, undetected, wrong_verdict;
	uint64_t by_kind[F__COUNT];
};

static uint64_t rng_state;

static uint64_t rng(void)
{
	/* xorshift64*: reproducible from the printed seed. */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * UINT64_C(2685821657736338717);
}

static uint64_t sweep_seed(void)
{
	const char *s = getenv("AUDIT_SWEEP_SEED");
	return s && *s ? strtoull(s, NULL, 0) : UINT64_C(0xa1e10c4f11);
}

static bool sweep_full(void)
{
	const char *s = getenv("AUDIT_SWEEP_FULL");
	return s && strcmp(s, "1") == 0;
}

static void toggle_one(struct audit_log *log, struct audit_checkpoint *ext, const struct field *f, uint64_t bit,
		       struct sweep_stats *st)
{
	struct audit_verdict v;
	enum audit_status want;
	enum audit_where where;
	size_t index;
	const size_t off = (size_t)(bit - f->first_bit);

	f->p[off / 8] ^= (uint8_t)(1u << (off % 8));
	enum audit_status got = audit_verify(log, &audit_pub, ext, &v);
	f->p[off / 8] ^= (uint8_t)(1u << (off % 8));

	expected_for(f->kind, f->index, &want, &where, &index);
	st->toggles++;
	st->by_kind[f->kind]++;
	if (got == AUDIT_OK) {
		st->undetected++;
		print_error("UNDETECTED: %s[%zu] bit %zu\n", field_names[f->kind], f->index, off);
	} else {
		st->detected++;
		if (got != want || v.where != where || v.index != index) {
			char msg[256];
			audit_verdict_describe(&v, msg, sizeof msg);
			st->wrong_verdict++;
			print_error("%s[%zu] bit %zu: want %s at %zu, got %s: %s\n", field_names[f->kind], f->index,
				    off, audit_status_name(want), index, audit_status_name(got), msg);
		}
	}
}

static void print_stats(const char *title, const struct sweep_stats *st, uint64_t space)
{
	printf("[ sweep    ] %s: %llu toggles (of %llu bits), %llu detected, %llu undetected, %llu wrong verdict\n",
	       title, (unsigned long long)st->toggles, (unsigned long long)space, (unsigned long long)st->detected,
	       (unsigned long long)st->undetected, (unsigned long long)st->wrong_verdict);
	for (int k = 0; k < F__COUNT; k++)
		if (st->by_kind[k])
			printf("[ sweep    ]   %-22s %llu\n", field_names[k], (unsigned long long)st->by_kind[k]);
}

static void sweep(const char *title, struct audit_log *log, struct audit_checkpoint *ext, struct fields *fs,
		  uint64_t samples)
{
	struct sweep_stats st = { 0 };
	if (sweep_full()) {
		for (uint64_t bit = 0; bit < fs->total_bits; bit++)
			toggle_one(log, ext, field_of_bit(fs, bit), bit, &st);
	} else {
		for (uint64_t i = 0; i < samples; i++) {
			uint64_t bit = rng() % fs->total_bits;
			toggle_one(log, ext, field_of_bit(fs, bit), bit, &st);
		}
	}
	print_stats(title, &st, fs->total_bits);
	assert_int_equal(st.undetected, 0);
	assert_int_equal(st.wrong_verdict, 0);
	assert_true(st.detected >= (sweep_full() ? fs->total_bits : samples));
}

static void test_sweep_entries(void **state)
{
	struct audit_log log;
	struct audit_checkpoint ext = saved;
	struct fields fs = { 0 };
	(void)state;
	rng_state = sweep_seed();
	printf("[ sweep    ] seed 0x%llx%s\n", (unsigned long long)rng_state, sweep_full() ? " (full)" : "");
	clone_log(&base, &log, 0, 0);
	entry_fields(&fs, &log);
	sweep("entry fields", &log, &ext, &fs, SAMPLE_ENTRY_BITS);
	/* Every bit of one entry in the middle, for the exact index. */
	struct fields one = { 0 };
	struct audit_log view = log;
	for (size_t i = 0; i < fs.n; i++)
		if (fs.f[i].index == 516)
			add_field(&one, fs.f[i].kind, 516, fs.f[i].p, fs.f[i].nbits / 8);
	struct sweep_stats st = { 0 };
	for (uint64_t bit = 0; bit < one.total_bits; bit++)
		toggle_one(&view, &ext, field_of_bit(&one, bit), bit, &st);
	print_stats("every bit of entry 517", &st, one.total_bits);
	assert_int_equal(st.undetected, 0);
	assert_int_equal(st.wrong_verdict, 0);
	free(one.f);
	free(fs.f);
	audit_log_free(&log);
}

static void test_sweep_prev(void **state)
{
	struct audit_log log;
	struct fields fs = { 0 };
	(void)state;
	rng_state = sweep_seed() ^ 1;
	build_log(&log, 300, true, audit_priv);
	struct audit_checkpoint ext = log.checkpoints[log.n_checkpoints - 1];
	entry_fields(&fs, &log);
	sweep("entry fields with prev (database form)", &log, &ext, &fs, SAMPLE_PREV_BITS);
	free(fs.f);
	audit_log_free(&log);
}

static void test_sweep_checkpoints(void **state)
{
	struct audit_log log;
	struct audit_checkpoint ext = saved;
	struct fields fs = { 0 };
	(void)state;
	rng_state = sweep_seed() ^ 2;
	clone_log(&base, &log, 0, 0);
	checkpoint_fields(&fs, &log, &ext);
	sweep("checkpoint fields (stored and external)", &log, &ext, &fs, SAMPLE_CHECKPOINT_BITS);
	free(fs.f);
	audit_log_free(&log);
}

/* ---- the bit sweep over the exported JSON text ---- */

static bool same_log(const struct audit_log *a, const struct audit_log *b)
{
	if (a->n_entries != b->n_entries || a->n_checkpoints != b->n_checkpoints)
		return false;
	for (size_t k = 0; k < a->n_entries; k++) {
		const struct audit_entry *x = &a->entries[k], *y = &b->entries[k];
		if (x->seq != y->seq || x->time != y->time || strcmp(x->actor, y->actor) != 0 ||
		    strcmp(x->action, y->action) != 0 || strcmp(x->detail, y->detail) != 0 ||
		    memcmp(x->hash, y->hash, sizeof x->hash) != 0)
			return false;
	}
	return memcmp(a->checkpoints, b->checkpoints, a->n_checkpoints * sizeof *a->checkpoints) == 0;
}

static void test_sweep_json_text(void **state)
{
	char *text;
	size_t len;
	uint64_t toggles = 0, refused_parse = 0, refused_verify = 0, same = 0, undetected = 0;
	(void)state;
	rng_state = sweep_seed() ^ 3;
	assert_int_equal(audit_export_json(&base, &text, &len), AUDIT_OK);

	/* The text parses back to the very log. */
	struct audit_log parsed;
	struct audit_verdict v;
	assert_int_equal(audit_parse_export(text, len, &parsed, &v), AUDIT_OK);
	assert_true(same_log(&parsed, &base));
	audit_log_free(&parsed);

	const uint64_t space = (uint64_t)len * 8;
	const uint64_t n = sweep_full() ? space : SAMPLE_TEXT_BITS;
	for (uint64_t i = 0; i < n; i++) {
		uint64_t bit = sweep_full() ? i : rng() % space;
		text[bit / 8] ^= (char)(1u << (bit % 8));
		toggles++;
		if (audit_parse_export(text, len, &parsed, &v) != AUDIT_OK) {
			refused_parse++;
		} else if (audit_verify(&parsed, &audit_pub, &saved, &v) != AUDIT_OK) {
			refused_verify++;
		} else if (same_log(&parsed, &base)) {
			same++;
		} else {
			undetected++;
			print_error("UNDETECTED: JSON text bit %llu (byte %llu)\n", (unsigned long long)bit,
				    (unsigned long long)(bit / 8));
		}
		audit_log_free(&parsed);
		text[bit / 8] ^= (char)(1u << (bit % 8));
	}
	printf("[ sweep    ] JSON text: %llu toggles (of %llu bits), %llu refused by the parser, %llu by the "
	       "verifier, %llu parsed to the same log, %llu undetected\n",
	       (unsigned long long)toggles, (unsigned long long)space, (unsigned long long)refused_parse,
	       (unsigned long long)refused_verify, (unsigned long long)same, (unsigned long long)undetected);
	assert_int_equal(undetected, 0);
	free(text);
}

/* ---- structural attacks ---- */

static void free_strings(struct audit_entry *e)
{
	free(e->actor);
	free(e->action);
	free(e->detail);
}

/* Removes entries[k] (freeing its strings). */
static void delete_entry(struct audit_log *log, size_t k)
{
	free_strings(&log->entries[k]);
	memmove(&log->entries[k], &log->entries[k + 1], (log->n_entries - k - 1) * sizeof *log->entries);
	log->n_entries--;
}

/* Inserts e at position k (the log owns its strings afterwards); room was reserved by clone_log. */
static void insert_entry(struct audit_log *log, size_t k, struct audit_entry e)
{
	memmove(&log->entries[k + 1], &log->entries[k], (log->n_entries - k) * sizeof *log->entries);
	log->entries[k] = e;
	log->n_entries++;
}

static void insert_checkpoint(struct audit_log *log, size_t i, struct audit_checkpoint cp)
{
	memmove(&log->checkpoints[i + 1], &log->checkpoints[i], (log->n_checkpoints - i) * sizeof *log->checkpoints);
	log->checkpoints[i] = cp;
	log->n_checkpoints++;
}

/* Drops stored checkpoints with seq > n, as an attacker who truncated would. */
static void drop_checkpoints_after(struct audit_log *log, int64_t n)
{
	while (log->n_checkpoints > 0 && log->checkpoints[log->n_checkpoints - 1].seq > n)
		log->n_checkpoints--;
}

static void renumber(struct audit_log *log)
{
	for (size_t k = 0; k < log->n_entries; k++)
		log->entries[k].seq = (int64_t)k + 1;
}

static struct audit_entry forged(size_t k)
{
	struct audit_entry e;
	memset(&e, 0, sizeof e);
	e.seq = (int64_t)k + 1;
	e.time = T0 + (int64_t)k * 37;
	e.actor = xstrdup("admin:attacker");
	e.action = xstrdup("release.push");
	e.detail = xstrdup("{\"version\":\"evil\"}");
	return e;
}

/* Index of the first stored checkpoint with seq >= s. */
static size_t first_cp_at_or_after(const struct audit_log *log, int64_t s)
{
	size_t i = 0;
	while (i < log->n_checkpoints && log->checkpoints[i].seq < s)
		i++;
	return i;
}

static const size_t positions[] = { 0, 1, 63, 64, 516, 959, 960, 998 };
#define N_POSITIONS (sizeof positions / sizeof positions[0])

static void test_delete(void **state)
{
	(void)state;
	for (size_t p = 0; p < N_POSITIONS; p++) {
		struct audit_log log;
		size_t k = positions[p];
		clone_log(&base, &log, 0, 0);
		delete_entry(&log, k);
		/* Entry k+1 now sits where k was due. */
		EXPECT(&log, &saved, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, k, "delete");
		/* Renumbered and rechained: the first checkpoint at or after it. */
		renumber(&log);
		rechain(&log, k);
		size_t ci = first_cp_at_or_after(&log, (int64_t)k + 1);
		if (log.checkpoints[ci].seq > (int64_t)log.n_entries)
			EXPECT(&log, NULL, AUDIT_TRUNCATED, AUDIT_AT_CHECKPOINT, ci, "delete and rewrite, at the end");
		else
			EXPECT(&log, NULL, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, ci, "delete and rewrite");
		/* ... and with the stored checkpoints from there on deleted too,
		 * only the external checkpoint still sees it. */
		drop_checkpoints_after(&log, (int64_t)k);
		EXPECT(&log, &saved, AUDIT_TRUNCATED, AUDIT_AT_EXTERNAL, 0, "delete, rewrite, drop checkpoints");
		audit_log_free(&log);
	}
	/* The last entry: the checkpoint at 1000 now covers more than there is. */
	struct audit_log log;
	clone_log(&base, &log, 0, 0);
	delete_entry(&log, N_ENTRIES - 1);
	EXPECT(&log, NULL, AUDIT_TRUNCATED, AUDIT_AT_CHECKPOINT, base.n_checkpoints - 1, "delete last");
	audit_log_free(&log);
}

static void test_swap(void **state)
{
	static const size_t pairs[][2] = { { 0, 1 }, { 100, 101 }, { 5, 900 }, { 516, 999 }, { 63, 64 } };
	(void)state;
	for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
		struct audit_log log;
		size_t i = pairs[p][0], j = pairs[p][1];
		clone_log(&base, &log, 0, 0);
		struct audit_entry t = log.entries[i];
		log.entries[i] = log.entries[j];
		log.entries[j] = t;
		EXPECT(&log, &saved, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, i, "swap");
		/* Swapped contents under the original numbers. */
		int64_t s = log.entries[i].seq;
		log.entries[i].seq = log.entries[j].seq;
		log.entries[j].seq = s;
		EXPECT(&log, &saved, AUDIT_BAD_HASH, AUDIT_AT_ENTRY, i, "swap contents");
		/* Swapped and rechained: caught by the next checkpoint. */
		rechain(&log, i);
		EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT,
		       first_cp_at_or_after(&log, (int64_t)i + 1), "swap and rewrite");
		audit_log_free(&log);
	}
}

static void test_insert(void **state)
{
	(void)state;
	for (size_t p = 0; p < N_POSITIONS; p++) {
		struct audit_log log;
		size_t k = positions[p];
		clone_log(&base, &log, 1, 0);
		/* A forged entry at k, correctly chained to k-1: the displaced
		 * entry k+1 carries a seq already used. */
		insert_entry(&log, k, forged(k));
		rechain(&log, k);
		/* (rechain rewrote the displaced entries' hashes too; restore
		 * them as the attacker without a rewrite would leave them) */
		for (size_t m = k + 1; m < log.n_entries; m++)
			memcpy(log.entries[m].hash, base.entries[m - 1].hash, AUDIT_HASH_LEN);
		/* A checkpoint for the forged entry's seq sees it first. */
		size_t ci = first_cp_at_or_after(&log, (int64_t)k + 1);
		if (log.checkpoints[ci].seq == (int64_t)k + 1)
			EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, ci, "insert at a checkpoint");
		else
			EXPECT(&log, &saved, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, k + 1, "insert");
		/* Renumbered and rechained. */
		renumber(&log);
		rechain(&log, k);
		EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT,
		       first_cp_at_or_after(&log, (int64_t)k + 1), "insert and rewrite");
		/* Every stored checkpoint deleted: the external one. */
		log.n_checkpoints = 0;
		EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0,
		       "insert, rewrite, drop checkpoints");
		audit_log_free(&log);
	}
}

static void test_duplicate(void **state)
{
	(void)state;
	for (size_t p = 0; p < N_POSITIONS; p++) {
		struct audit_log log;
		size_t k = positions[p];
		clone_log(&base, &log, 1, 0);
		struct audit_entry copy = log.entries[k];
		copy.actor = xstrdup(copy.actor);
		copy.action = xstrdup(copy.action);
		copy.detail = xstrdup(copy.detail);
		insert_entry(&log, k + 1, copy);
		EXPECT(&log, &saved, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, k + 1, "duplicate");
		audit_log_free(&log);
	}
	/* The last entry duplicated at the end. */
	struct audit_log log;
	clone_log(&base, &log, 1, 0);
	struct audit_entry copy = log.entries[N_ENTRIES - 1];
	copy.actor = xstrdup(copy.actor);
	copy.action = xstrdup(copy.action);
	copy.detail = xstrdup(copy.detail);
	insert_entry(&log, N_ENTRIES, copy);
	EXPECT(&log, &saved, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, N_ENTRIES, "duplicate last");
	audit_log_free(&log);
}

static void test_truncate(void **state)
{
	static const size_t keep[] = { 999, 990, 961, 960, 959, 700, 64, 1, 0 };
	(void)state;
	for (size_t p = 0; p < sizeof keep / sizeof keep[0]; p++) {
		struct audit_log log;
		size_t t = keep[p];
		clone_log(&base, &log, 0, 0);
		while (log.n_entries > t)
			delete_entry(&log, log.n_entries - 1);
		/* Without an external checkpoint: the stored ones beyond the cut. */
		EXPECT(&log, NULL, AUDIT_TRUNCATED, AUDIT_AT_CHECKPOINT, first_cp_at_or_after(&log, (int64_t)t + 1),
		       "truncate");
		/* The attacker deletes those too: the external checkpoint. */
		drop_checkpoints_after(&log, (int64_t)t);
		EXPECT(&log, &saved, AUDIT_TRUNCATED, AUDIT_AT_EXTERNAL, 0, "truncate and drop checkpoints");
		/* And with neither, a cut is invisible: what the verifier
		 * cannot know of (the documented limit). */
		EXPECT(&log, NULL, AUDIT_OK, AUDIT_AT_NONE, 0, "truncate, no checkpoint left");
		audit_log_free(&log);
	}
}

static void test_rewrite_tail(void **state)
{
	struct audit_log log;
	(void)state;
	/* Entry 990 changed and the chain recomputed: the checkpoint at 1000. */
	clone_log(&base, &log, 0, 0);
	free(log.entries[989].detail);
	log.entries[989].detail = xstrdup("{\"hidden\":true}");
	EXPECT(&log, NULL, AUDIT_BAD_HASH, AUDIT_AT_ENTRY, 989, "edit");
	rechain(&log, 989);
	EXPECT(&log, NULL, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, base.n_checkpoints - 1, "edit and rewrite");
	drop_checkpoints_after(&log, 960);
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0, "edit, rewrite, drop checkpoint");
	audit_log_free(&log);
}

static void test_checkpoint_other_key(void **state)
{
	struct audit_log log;
	(void)state;
	/* An old checkpoint (seq 128) re-signed with another key. */
	clone_log(&base, &log, 0, 0);
	struct audit_checkpoint *c = &log.checkpoints[1];
	assert_int_equal(c->seq, 128);
	assert_int_equal(audit_checkpoint_sign(other_priv, c->seq, c->head, c->time, c), AUDIT_OK);
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_WRONG_KEY, AUDIT_AT_CHECKPOINT, 1, "re-signed by another key");
	/* The same signature under the audit key's id. */
	memcpy(c->keyid, audit_pub.keyid, sizeof c->keyid);
	EXPECT(&log, &saved, AUDIT_BAD_CHECKPOINT_SIG, AUDIT_AT_CHECKPOINT, 1, "another key's signature");
	audit_log_free(&log);

	/* Every checkpoint re-signed by another key and the log rewritten:
	 * the verifier trusts only the audit key. */
	clone_log(&base, &log, 0, 0);
	free(log.entries[99].actor);
	log.entries[99].actor = xstrdup("admin:nobody");
	rechain(&log, 99);
	sign_checkpoints(&log, other_priv);
	EXPECT(&log, NULL, AUDIT_CHECKPOINT_WRONG_KEY, AUDIT_AT_CHECKPOINT, 0, "all re-signed by another key");
	/* An external checkpoint of another key is refused as such. */
	struct audit_checkpoint ext = log.checkpoints[log.n_checkpoints - 1];
	EXPECT(&base, &ext, AUDIT_CHECKPOINT_WRONG_KEY, AUDIT_AT_EXTERNAL, 0, "external by another key");
	audit_log_free(&log);

	/* A thief of the audit key rewrites entry 100 and re-signs every
	 * checkpoint with it: only a checkpoint saved before catches it. */
	clone_log(&base, &log, 0, 0);
	free(log.entries[99].actor);
	log.entries[99].actor = xstrdup("admin:nobody");
	rechain(&log, 99);
	sign_checkpoints(&log, audit_priv);
	EXPECT(&log, NULL, AUDIT_OK, AUDIT_AT_NONE, 0, "stolen key, no external checkpoint (documented limit)");
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0, "stolen key, external checkpoint");
	/* The old external checkpoint also catches re-signed older ones. */
	struct audit_checkpoint old = base.checkpoints[3];  /* seq 256, before the rewrite */
	EXPECT(&log, &old, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0, "stolen key, older external checkpoint");
	audit_log_free(&log);
}

static void test_checkpoint_inconsistent(void **state)
{
	struct audit_log log;
	struct audit_checkpoint cp;
	(void)state;
	/* A validly signed checkpoint at a smaller size (100) whose head is
	 * not entry 100's: e.g. from a history that was later rewritten. */
	clone_log(&base, &log, 0, 1);
	assert_int_equal(audit_checkpoint_sign(audit_priv, 100, base.entries[98].hash, T0, &cp), AUDIT_OK);
	insert_checkpoint(&log, 1, cp);  /* after seq 64, before 128 */
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, 1, "smaller-size checkpoint");
	audit_log_free(&log);

	/* The genuine checkpoint at 128 replaced by a signed one with
	 * another head. */
	clone_log(&base, &log, 0, 0);
	assert_int_equal(audit_checkpoint_sign(audit_priv, 128, base.entries[0].hash, T0, &log.checkpoints[1]),
			 AUDIT_OK);
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, 1, "replaced head");
	audit_log_free(&log);

	/* An external checkpoint at a smaller size with a wrong head. */
	assert_int_equal(audit_checkpoint_sign(audit_priv, 500, base.entries[500].hash, T0, &cp), AUDIT_OK);
	EXPECT(&base, &cp, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0, "external of another history");
	/* A correct one at a smaller size is fine. */
	assert_int_equal(audit_checkpoint_sign(audit_priv, 500, base.entries[499].hash, T0, &cp), AUDIT_OK);
	EXPECT(&base, &cp, AUDIT_OK, AUDIT_AT_NONE, 0, "external at 500");
}

static void test_checkpoint_conflict(void **state)
{
	struct audit_log log;
	struct audit_checkpoint cp;
	(void)state;
	/* Two validly signed checkpoints for size 128: after the genuine one... */
	assert_int_equal(audit_checkpoint_sign(audit_priv, 128, base.entries[5].hash, T0, &cp), AUDIT_OK);
	clone_log(&base, &log, 0, 1);
	insert_checkpoint(&log, 2, cp);
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_CONFLICT, AUDIT_AT_CHECKPOINT, 2, "conflict after");
	audit_log_free(&log);
	/* ... and before it. */
	clone_log(&base, &log, 0, 1);
	insert_checkpoint(&log, 1, cp);
	EXPECT(&log, &saved, AUDIT_CHECKPOINT_CONFLICT, AUDIT_AT_CHECKPOINT, 2, "conflict before");
	audit_log_free(&log);
	/* The same checkpoint twice is no conflict. */
	clone_log(&base, &log, 0, 1);
	insert_checkpoint(&log, 2, log.checkpoints[1]);
	EXPECT(&log, &saved, AUDIT_OK, AUDIT_AT_NONE, 0, "same checkpoint twice");
	audit_log_free(&log);
	/* Out of order. */
	clone_log(&base, &log, 0, 0);
	cp = log.checkpoints[3];
	log.checkpoints[3] = log.checkpoints[4];
	log.checkpoints[4] = cp;
	EXPECT(&log, &saved, AUDIT_MALFORMED, AUDIT_AT_CHECKPOINT, 4, "checkpoints out of order");
	audit_log_free(&log);
}

/* ---- messages and parsing ---- */

static void test_describe(void **state)
{
	struct audit_log log;
	struct audit_verdict v;
	char msg[256];
	(void)state;
	clone_log(&base, &log, 0, 0);
	log.entries[516].time++;
	assert_int_equal(audit_verify(&log, &audit_pub, &saved, &v), AUDIT_BAD_HASH);
	audit_verdict_describe(&v, msg, sizeof msg);
	assert_string_equal(msg, "entry 517: hash mismatch (its fields or an earlier entry were changed)");
	log.entries[516].time--;
	delete_entry(&log, 999);
	assert_int_equal(audit_verify(&log, &audit_pub, NULL, &v), AUDIT_TRUNCATED);
	audit_verdict_describe(&v, msg, sizeof msg);
	assert_string_equal(msg, "checkpoint 16 (seq 1000): covers 1000 entries but only 999 are present "
				 "(the log was truncated)");
	audit_log_free(&log);
}

static void expect_malformed(const char *text, const char *reason_part)
{
	struct audit_log log;
	struct audit_verdict v;
	enum audit_status s = audit_parse_export(text, strlen(text), &log, &v);
	if (s != AUDIT_MALFORMED || !strstr(v.reason, reason_part)) {
		print_error("'%s': got %s '%s', want '%s'\n", text, audit_status_name(s), v.reason, reason_part);
		fail();
	}
	assert_null(log.entries);
}

static void test_parse(void **state)
{
	static const char h64[] = "0000000000000000000000000000000000000000000000000000000000000000";
	char buf[1024];
	struct audit_log log;
	struct audit_verdict v;
	(void)state;
	expect_malformed("", "not JSON");
	expect_malformed("[]", "not a JSON object");
	expect_malformed("{\"format\":1,\"entries\":[]}", "'checkpoints' missing");
	expect_malformed("{\"format\":2,\"entries\":[],\"checkpoints\":[]}", "not format 1");
	expect_malformed("{\"format\":1,\"entries\":[],\"checkpoints\":[],\"x\":0}", "unknown field 'x'");
	expect_malformed("{\"format\":1,\"format\":1,\"entries\":[],\"checkpoints\":[]}", "not JSON");
	expect_malformed("{\"format\":1,\"entries\":[],\"checkpoints\":[]} x", "not JSON");
	snprintf(buf, sizeof buf,
		 "{\"format\":1,\"entries\":[{\"seq\":1.0,\"time\":0,\"actor\":\"a\",\"action\":\"b\","
		 "\"detail\":\"{}\",\"hash\":\"%s\"}],\"checkpoints\":[]}", h64);
	expect_malformed(buf, "field 'seq': not an integer");
	snprintf(buf, sizeof buf,
		 "{\"format\":1,\"entries\":[{\"seq\":1,\"time\":0,\"actor\":\"a\",\"action\":\"b\","
		 "\"detail\":\"{}\",\"hash\":\"%.63sA\"}],\"checkpoints\":[]}", h64);
	expect_malformed(buf, "field 'hash': not 64 lowercase hex digits");
	snprintf(buf, sizeof buf,
		 "{\"format\":1,\"entries\":[{\"seq\":1,\"time\":0,\"actor\":\"a\\u0000\",\"action\":\"b\","
		 "\"detail\":\"{}\",\"hash\":\"%s\"}],\"checkpoints\":[]}", h64);
	expect_malformed(buf, "not JSON");
	snprintf(buf, sizeof buf,
		 "{\"format\":1,\"entries\":[],\"checkpoints\":[{\"seq\":1,\"head\":\"%s\",\"time\":0,"
		 "\"keyid\":\"%s\",\"signature\":\"%s\"}]}", h64, h64, h64);
	expect_malformed(buf, "field 'signature': not 128 lowercase hex digits");
	char msg[256];
	assert_int_equal(audit_parse_export(buf, strlen(buf), &log, &v), AUDIT_MALFORMED);
	audit_verdict_describe(&v, msg, sizeof msg);
	assert_string_equal(msg, "checkpoint 1: malformed: field 'signature': not 128 lowercase hex digits");

	/* A good single checkpoint file round-trips. */
	char *j = audit_checkpoint_json(&saved);
	struct audit_checkpoint cp;
	assert_non_null(j);
	assert_int_equal(audit_parse_checkpoint(j, strlen(j), &cp, &v), AUDIT_OK);
	assert_memory_equal(&cp, &saved, sizeof cp);
	assert_int_equal(audit_parse_checkpoint(j, strlen(j) - 1, &cp, &v), AUDIT_MALFORMED);
	assert_int_equal(v.where, AUDIT_AT_EXTERNAL);
	free(j);

	/* An export of a later range verifies as not starting at seq 1. */
	struct audit_log tail = base;
	tail.entries += 10;
	tail.n_entries -= 10;
	tail.n_checkpoints = 0;
	char *text;
	size_t len;
	assert_int_equal(audit_export_json(&tail, &text, &len), AUDIT_OK);
	assert_int_equal(audit_parse_export(text, len, &log, &v), AUDIT_OK);
	EXPECT(&log, NULL, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, 0, "partial export");
	audit_log_free(&log);
	free(text);
}

/* ---- the database ---- */

static const enum db_backend on_sqlite = DB_SQLITE, on_pg = DB_POSTGRES;
static const char *pg_base;     /* AIRLOCK_TEST_PG */
static char pg_schema[64];

struct dbfix {
	enum db_backend backend;
	char dir[64];
	char target[1200];      /* SQLite: the file; PostgreSQL: the conninfo */
	struct db *db;
	struct audit_writer w;
};

static void pg_quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* Runs one statement on an administrative connection of its own. */
static void pg_admin(const char *sql)
{
	PGconn *pg = PQconnectdb(pg_base);
	if (PQstatus(pg) != CONNECTION_OK) {
		print_error("AIRLOCK_TEST_PG: %s", PQerrorMessage(pg));
		PQfinish(pg);
		fail();
	}
	PQsetNoticeProcessor(pg, pg_quiet, NULL);
	PGresult *r = PQexec(pg, sql);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok)
		print_error("%s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	PQfinish(pg);
	assert_true(ok);
}

/* A fresh, migrated store of the test's backend (*state points at it). */
static void db_setup(struct dbfix *f, void **state, unsigned pool)
{
	char sql[256];
	int version;
	memset(f, 0, sizeof *f);
	f->backend = *(const enum db_backend *)*state;
	if (f->backend == DB_POSTGRES) {
		snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", pg_schema, pg_schema);
		pg_admin(sql);
		snprintf(f->target, sizeof f->target, "%s options='-c search_path=%s'", pg_base, pg_schema);
	} else {
		snprintf(f->dir, sizeof f->dir, "/tmp/test_audit.XXXXXX");
		assert_non_null(mkdtemp(f->dir));
		snprintf(f->target, sizeof f->target, "%s/airlock.db", f->dir);
	}
	assert_int_equal(db_open(f->backend, f->target, pool, &f->db), DB_OK);
	assert_int_equal(db_migrate(f->db, &version), DB_OK);
	assert_int_equal(audit_writer_init(&f->w, db_backend_of(f->db), audit_priv, EVERY), AUDIT_OK);
	assert_int_equal(f->w.backend, f->backend);
}

static void db_teardown(struct dbfix *f)
{
	char p[1300];
	db_close(f->db);
	if (f->backend == DB_POSTGRES) {
		snprintf(p, sizeof p, "DROP SCHEMA IF EXISTS %s CASCADE", pg_schema);
		pg_admin(p);
		return;
	}
	static const char *const suffixes[] = { "", "-wal", "-shm", "-journal" };
	for (size_t i = 0; i < 4; i++) {
		snprintf(p, sizeof p, "%s%s", f->target, suffixes[i]);
		unlink(p);
	}
	rmdir(f->dir);
}

/* Exports [from, to] into a malloc'd string. */
static char *export_text(struct db_conn *c, int64_t from, int64_t to, size_t *len)
{
	char *buf = NULL;
	FILE *m = open_memstream(&buf, len);
	assert_non_null(m);
	assert_int_equal(audit_export_file(c, from, to, m), AUDIT_OK);
	assert_int_equal(fclose(m), 0);
	return buf;
}

static void verify_db(struct db_conn *c, const struct audit_checkpoint *ext, size_t want_entries)
{
	struct audit_log log;
	struct audit_verdict v;
	size_t len;
	char *text = export_text(c, 0, 0, &len);
	assert_int_equal(audit_parse_export(text, len, &log, &v), AUDIT_OK);
	assert_int_equal(log.n_entries, want_entries);
	EXPECT(&log, ext, AUDIT_OK, AUDIT_AT_NONE, 0, "export from the database");
	audit_log_free(&log);
	free(text);
	/* The loader's form carries prev and is checked too. */
	assert_int_equal(audit_load(c, &log), AUDIT_OK);
	assert_int_equal(log.n_entries, want_entries);
	assert_true(want_entries == 0 || log.entries[0].has_prev);
	EXPECT(&log, ext, AUDIT_OK, AUDIT_AT_NONE, 0, "load from the database");
	audit_log_free(&log);
}

static void test_db_roundtrip(void **state)
{
	struct dbfix f;
	struct audit_checkpoint cp;
	int64_t seq = 0;
	char actor[64], detail[128];
	db_setup(&f, state, 2);
	struct db_conn *c = db_acquire(f.db);

	/* Empty: an empty export, and no checkpoint to take. */
	verify_db(c, NULL, 0);
	assert_int_equal(audit_checkpoint(&f.w, c, T0, &cp), AUDIT_OK);
	assert_int_equal(cp.seq, 0);

	for (int i = 0; i < 200; i++) {
		snprintf(actor, sizeof actor, "device:unit-%d", i % 7);
		snprintf(detail, sizeof detail, "{\"i\":%d,\"s\":\"caf\xc3\xa9\"}", i);
		assert_int_equal(audit_append(&f.w, c, actor, "device.state", detail, T0 + i, &seq), AUDIT_OK);
		assert_int_equal(seq, i + 1);
	}
	/* Automatic checkpoints at 64, 128, 192; one on demand at 200. */
	assert_int_equal(audit_checkpoint(&f.w, c, T0 + 500, &cp), AUDIT_OK);
	assert_int_equal(cp.seq, 200);
	struct audit_checkpoint again;
	assert_int_equal(audit_checkpoint(&f.w, c, T0 + 600, &again), AUDIT_OK);
	assert_memory_equal(&again, &cp, sizeof cp);  /* the stored one, not a second */
	verify_db(c, &cp, 200);

	/* In the caller's transaction: commits with it ... */
	assert_int_equal(db_begin(c), DB_OK);
	assert_int_equal(audit_append_in_tx(&f.w, c, "admin:0011223344556677", "release.push", "{\"v\":\"1.0\"}",
					    T0 + 700, &seq), AUDIT_OK);
	assert_int_equal(seq, 201);
	assert_int_equal(db_commit(c), DB_OK);
	/* ... or rolls back with it, leaving no trace and no gap. */
	assert_int_equal(db_begin(c), DB_OK);
	assert_int_equal(audit_append_in_tx(&f.w, c, "admin:0011223344556677", "release.push", "{\"v\":\"2.0\"}",
					    T0 + 701, &seq), AUDIT_OK);
	assert_int_equal(seq, 202);
	db_rollback(c);
	/* audit_append refuses to run inside the caller's transaction. */
	assert_int_equal(db_begin(c), DB_OK);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{}", T0, &seq), AUDIT_ERR_ARG);
	db_rollback(c);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{}", T0 + 702, &seq), AUDIT_OK);
	assert_int_equal(seq, 202);
	verify_db(c, &cp, 202);

	/* Refused inputs. */
	assert_int_equal(audit_append(&f.w, c, "", "x.y", "{}", T0, NULL), AUDIT_ERR_ARG);
	assert_int_equal(audit_append(&f.w, c, "sys\ntem", "x.y", "{}", T0, NULL), AUDIT_ERR_ARG);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "[1]", T0, NULL), AUDIT_ERR_ARG);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{\"a\":1,\"a\":2}", T0, NULL), AUDIT_ERR_ARG);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{\"a\":\"\xff\"}", T0, NULL), AUDIT_ERR_ARG);

	/* A range export: entries 10..20 and the checkpoints among them (none). */
	struct audit_log part;
	struct audit_verdict v;
	size_t len;
	char *text = export_text(c, 10, 20, &len);
	assert_int_equal(audit_parse_export(text, len, &part, &v), AUDIT_OK);
	assert_int_equal(part.n_entries, 11);
	assert_int_equal(part.entries[0].seq, 10);
	assert_int_equal(part.n_checkpoints, 0);
	audit_log_free(&part);
	free(text);
	text = export_text(c, 60, 130, &len);
	assert_int_equal(audit_parse_export(text, len, &part, &v), AUDIT_OK);
	assert_int_equal(part.n_entries, 71);
	assert_int_equal(part.n_checkpoints, 2);
	assert_int_equal(part.checkpoints[1].seq, 128);
	audit_log_free(&part);
	free(text);

	/* A writer without a key appends but signs nothing. */
	struct audit_writer nokey;
	assert_int_equal(audit_writer_init(&nokey, f.backend, NULL, 0), AUDIT_OK);
	assert_int_equal(audit_checkpoint(&nokey, c, T0, &cp), AUDIT_ERR_ARG);

	/* Tampering with a stored row: found at that entry. */
	const struct db_value p[] = { db_text("{\"i\":77,\"s\":\"edited\"}"), db_int(77) };
	assert_int_equal(db_exec(c, "UPDATE audit SET detail = $1 WHERE seq = $2", p, 2, NULL, NULL, NULL), DB_OK);
	text = export_text(c, 0, 0, &len);
	assert_int_equal(audit_parse_export(text, len, &part, &v), AUDIT_OK);
	EXPECT(&part, NULL, AUDIT_BAD_HASH, AUDIT_AT_ENTRY, 76, "edited row");
	audit_log_free(&part);
	free(text);
	/* Deleting rows (and their checkpoints) from the end: the saved checkpoint. */
	const struct db_value q[] = { db_int(150) };
	assert_int_equal(db_exec(c, "DELETE FROM audit WHERE seq > $1", q, 1, NULL, NULL, NULL), DB_OK);
	/* With the checkpoint at 192 left behind, the writer stops at 192
	 * rather than sign over the cut. */
	for (int i = 151; i < 192; i++)
		assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{}", T0 + i, &seq), AUDIT_OK);
	assert_int_equal(seq, 191);
	assert_int_equal(audit_append(&f.w, c, "system", "x.y", "{}", T0, &seq), AUDIT_ERR_CORRUPT);
	assert_int_equal(db_exec(c, "DELETE FROM audit WHERE seq > $1", q, 1, NULL, NULL, NULL), DB_OK);
	assert_int_equal(db_exec(c, "DELETE FROM audit_checkpoints WHERE seq > $1", q, 1, NULL, NULL, NULL), DB_OK);
	assert_int_equal(db_exec(c, "UPDATE audit SET detail = $1 WHERE seq = $2",
				 (const struct db_value[]){ db_text("{\"i\":76,\"s\":\"caf\xc3\xa9\"}"), db_int(77) },
				 2, NULL, NULL, NULL), DB_OK);
	text = export_text(c, 0, 0, &len);
	assert_int_equal(audit_parse_export(text, len, &part, &v), AUDIT_OK);
	EXPECT(&part, NULL, AUDIT_OK, AUDIT_AT_NONE, 0, "restored row, cut after the last stored checkpoint");
	EXPECT(&part, &cp, AUDIT_TRUNCATED, AUDIT_AT_EXTERNAL, 0, "cut, with the saved checkpoint");
	audit_log_free(&part);
	free(text);

	db_release(f.db, c);
	db_teardown(&f);
}

#define THREADS 4
#define PER_THREAD 250

struct worker {
	struct dbfix *f;
	int id;
	int64_t seqs[PER_THREAD];
	enum audit_status status;
};

static void *work(void *arg)
{
	struct worker *wk = arg;
	char actor[32], detail[64];
	struct db_conn *c = db_acquire(wk->f->db);
	wk->status = AUDIT_OK;
	for (int i = 0; i < PER_THREAD && wk->status == AUDIT_OK; i++) {
		snprintf(actor, sizeof actor, "device:thread-%d", wk->id);
		snprintf(detail, sizeof detail, "{\"thread\":%d,\"i\":%d}", wk->id, i);
		wk->status = audit_append(&wk->f->w, c, actor, "device.state", detail, T0 + i, &wk->seqs[i]);
	}
	db_release(wk->f->db, c);
	return NULL;
}

static void test_db_concurrent(void **state)
{
	struct dbfix f;
	struct worker wk[THREADS];
	pthread_t th[THREADS];
	static bool seen[THREADS * PER_THREAD + 1];
	db_setup(&f, state, THREADS + 1);
	for (int t = 0; t < THREADS; t++) {
		wk[t] = (struct worker){ .f = &f, .id = t };
		assert_int_equal(pthread_create(&th[t], NULL, work, &wk[t]), 0);
	}
	for (int t = 0; t < THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	memset(seen, 0, sizeof seen);
	for (int t = 0; t < THREADS; t++) {
		assert_int_equal(wk[t].status, AUDIT_OK);
		for (int i = 0; i < PER_THREAD; i++) {
			int64_t s = wk[t].seqs[i];
			assert_true(s >= 1 && s <= THREADS * PER_THREAD);
			assert_false(seen[s]);
			seen[s] = true;
			/* Each thread's own entries come out in its order. */
			assert_true(i == 0 || s > wk[t].seqs[i - 1]);
		}
	}
	struct db_conn *c = db_acquire(f.db);
	struct audit_log log;
	struct audit_verdict v;
	assert_int_equal(audit_load(c, &log), AUDIT_OK);
	assert_int_equal(log.n_entries, THREADS * PER_THREAD);
	assert_int_equal(log.n_checkpoints, THREADS * PER_THREAD / EVERY);
	assert_int_equal(audit_verify(&log, &audit_pub, NULL, &v), AUDIT_OK);
	audit_log_free(&log);
	verify_db(c, NULL, THREADS * PER_THREAD);
	db_release(f.db, c);
	db_teardown(&f);
}

static void test_pg_unavailable(void **state)
{
	(void)state;
	const char *req = getenv("AIRLOCK_REQUIRE_PG");
	if (req && strcmp(req, "1") == 0)
		fail_msg("AIRLOCK_REQUIRE_PG=1 but AIRLOCK_TEST_PG is not set");
	print_message("AIRLOCK_TEST_PG not set: PostgreSQL tests skipped\n");
	skip();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_intact),
		cmocka_unit_test(test_sweep_entries),
		cmocka_unit_test(test_sweep_prev),
		cmocka_unit_test(test_sweep_checkpoints),
		cmocka_unit_test(test_sweep_json_text),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_swap),
		cmocka_unit_test(test_insert),
		cmocka_unit_test(test_duplicate),
		cmocka_unit_test(test_truncate),
		cmocka_unit_test(test_rewrite_tail),
		cmocka_unit_test(test_checkpoint_other_key),
		cmocka_unit_test(test_checkpoint_inconsistent),
		cmocka_unit_test(test_checkpoint_conflict),
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_parse),
		cmocka_unit_test_prestate(test_db_roundtrip, (void *)&on_sqlite),
		cmocka_unit_test_prestate(test_db_concurrent, (void *)&on_sqlite),
	};
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_prestate(test_db_roundtrip, (void *)&on_pg),
		cmocka_unit_test_prestate(test_db_concurrent, (void *)&on_pg),
	};
	const struct CMUnitTest pg_missing[] = {
		cmocka_unit_test(test_pg_unavailable),
	};
	/* AUDIT_TEST_FILTER=test_sweep_* runs a subset. */
	const char *filter = getenv("AUDIT_TEST_FILTER");
	if (filter && *filter)
		cmocka_set_test_filter(filter);
	int failed = cmocka_run_group_tests_name("audit", tests, group_setup, group_teardown);
	pg_base = getenv("AIRLOCK_TEST_PG");
	if (pg_base && pg_base[0]) {
		snprintf(pg_schema, sizeof pg_schema, "airlock_audit_test_%ld", (long)getpid());
		failed += cmocka_run_group_tests_name("audit.postgres", pg_tests, group_setup, group_teardown);
	} else {
		failed += cmocka_run_group_tests_name("audit.postgres", pg_missing, NULL, NULL);
	}
	return failed == 0 ? 0 : 1;
}
