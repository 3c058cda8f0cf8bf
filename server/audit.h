/*
 * The audit log: append-only, hash-chained, with signed checkpoints.
 * docs/audit.md says the same for operators; this comment is the reference.
 *
 * Entries. Entry i (seq = 1, 2, ...) holds time (unix seconds), actor
 * ("admin:<token id>", "device:<id>", "enroll:<token id>", "anonymous",
 * "system:..."), action ("release.push", ...) and detail (a JSON object,
 * serialized by the caller as text and kept byte for byte). Its hash is
 *
 *   hash_i = SHA-256( "airlock-audit-v1"          (16 ASCII bytes, no NUL)
 *                  || hash_{i-1}                  (32 bytes; 32 zero bytes for seq 1)
 *                  || CBOR [seq, time, actor, action, detail] )
 *
 * where the CBOR array is deterministic (RFC 8949 4.2.1): an array of 5,
 * seq and time as integers in their shortest form (major type 0, or 1 for a
 * negative value), actor, action and detail as text strings (major type 3)
 * of exactly the stored bytes. The row stores prev = hash_{i-1} and hash_i.
 *
 * Checkpoints. The server's audit key (Ed25519; P-256 also works, the
 * verifier takes the algorithm from the public key file) signs the
 * deterministic CBOR array
 *
 *   ["airlock-audit-checkpoint-v1", seq, head, time]
 *
 * (text, integer, 32-byte byte string, integer) where seq is the number of
 * entries covered and head = hash_seq. The row stores seq, head, time,
 * keyid = SHA-256 of the raw public key, and the 64-byte signature. A
 * checkpoint is written automatically in the same transaction as every
 * entry whose seq is a multiple of the writer's interval (64 by default),
 * and on demand (audit_checkpoint). A checkpoint proves the first seq
 * entries to whoever holds the public key; an auditor who saves one outside
 * the server (`airlock audit checkpoint`) detects a later truncation or
 * rewrite of those entries even when the stored checkpoints were deleted.
 *
 * Appends are serialized across threads and across server instances that
 * share one PostgreSQL: one transaction takes a lock (PostgreSQL:
 * pg_advisory_xact_lock(AUDIT_PG_LOCK); SQLite: db_begin is BEGIN
 * IMMEDIATE), reads the last (seq, hash), inserts seq + 1, and commits. The
 * primary key on seq is the backstop: a writer that read a stale head gets
 * a constraint error and retries instead of forking the chain.
 *
 * Export format 1 (GET /api/v1/audit, read by `airlock audit verify`): one
 * JSON object, keys in this order, hex always lowercase:
 *
 *   {"format":1,
 *    "entries":[{"seq":1,"time":1700000000,"actor":"admin:0123abcd",
 *                "action":"release.push","detail":"{\"version\":\"1.2\"}",
 *                "hash":"<64 hex>"}, ...],
 *    "checkpoints":[{"seq":64,"head":"<64 hex>","time":1700000100,
 *                    "keyid":"<64 hex>","signature":"<128 hex>"}, ...]}
 *
 * Entries ascend by seq; checkpoints ascend by seq and are those whose seq
 * lies in the exported range. A saved (external) checkpoint is one
 * checkpoint object on its own. Parsing is strict: exactly these keys, no
 * duplicates, integers where integers are due, lowercase hex of the exact
 * length, text fields within the AUDIT_MAX_* limits; anything else is
 * AUDIT_MALFORMED.
 *
 * Verification (audit_verify) reports the first failure in this order, with
 * the position it concerns:
 *   1. the external checkpoint, if given: key id, then signature;
 *   2. each stored checkpoint in export order: key id (AUDIT_CHECKPOINT_WRONG_KEY),
 *      then signature (AUDIT_BAD_CHECKPOINT_SIG); then that checkpoints
 *      ascend by seq and have seq >= 1 (AUDIT_MALFORMED);
 *   3. the entries from seq 1 in order: seq is the next one (AUDIT_BAD_SEQ),
 *      prev is the previous hash where the representation carries prev
 *      (AUDIT_BAD_PREV), the stored hash equals the recomputed one
 *      (AUDIT_BAD_HASH); after entry s, the checkpoints for seq s: two with
 *      different heads (AUDIT_CHECKPOINT_CONFLICT), a head that is not
 *      hash_s (AUDIT_CHECKPOINT_MISMATCH); then the external checkpoint if
 *      its seq is s (AUDIT_CHECKPOINT_MISMATCH);
 *   4. a stored or external checkpoint whose seq exceeds the entries present
 *      (AUDIT_TRUNCATED).
 * What it cannot see: a cut after the newest checkpoint the verifier knows
 * of, and a rewrite by a thief of the audit key that no external checkpoint
 * predates. Ask for a checkpoint (audit_checkpoint) before an export whose
 * checkpoint is to be saved, so that it covers the whole log.
 *
 * Conventions: every function that can fail returns an enum audit_status
 * (AUDIT_OK = 0); results go to out-parameters. Strings are UTF-8 and
 * NUL-terminated. Nothing here keeps global state; a struct audit_writer
 * may be shared by threads (it is read-only after init), a struct db_conn
 * may not.
 */
#ifndef AIRLOCK_SERVER_AUDIT_H
#define AIRLOCK_SERVER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "airlock/crypto.h"
#include "db.h"

#define AUDIT_HASH_LEN 32
#define AUDIT_SIG_LEN 64                     /* Ed25519 R||S, or P-256 r||s */
#define AUDIT_ENTRY_DOMAIN "airlock-audit-v1"
#define AUDIT_CHECKPOINT_DOMAIN "airlock-audit-checkpoint-v1"
#define AUDIT_EXPORT_FORMAT 1
#define AUDIT_CHECKPOINT_EVERY 64            /* default interval of automatic checkpoints */
#define AUDIT_APPEND_TRIES 8                 /* transaction attempts on a conflict */
/* pg_advisory_xact_lock key of the append lock: "AIRLOCK" "A" in ASCII. */
#define AUDIT_PG_LOCK INT64_C(0x4149524c4f434b41)
/* Limits on the text fields, in bytes (part of format 1: the parser enforces them). */
#define AUDIT_MAX_ACTOR 256
#define AUDIT_MAX_ACTION 128
#define AUDIT_MAX_DETAIL 65536

enum audit_status {
	AUDIT_OK = 0,
	/* verification: the log, a checkpoint or the export is not intact */
	AUDIT_MALFORMED = 1,            /* not a format-1 export or checkpoint; checkpoints out of order */
	AUDIT_BAD_SEQ = 2,              /* an entry's seq is not the next one (deleted, moved, inserted) */
	AUDIT_BAD_PREV = 3,             /* an entry's stored prev is not the previous entry's hash */
	AUDIT_BAD_HASH = 4,             /* an entry's stored hash is not the recomputed one */
	AUDIT_BAD_CHECKPOINT_SIG = 5,   /* names the audit key but its signature does not verify */
	AUDIT_CHECKPOINT_WRONG_KEY = 6, /* signed by (names) another key than the audit key */
	AUDIT_CHECKPOINT_CONFLICT = 7,  /* two checkpoints for one seq with different heads */
	AUDIT_CHECKPOINT_MISMATCH = 8,  /* validly signed head that is not the chain's hash at its seq */
	AUDIT_TRUNCATED = 9,            /* a checkpoint covers more entries than are present */
	/* operations */
	AUDIT_ERR_ARG = 20,             /* bad argument: empty or overlong field, detail not a JSON object */
	AUDIT_ERR_NOMEM = 21,
	AUDIT_ERR_DB = 22,              /* the database failed (db_errmsg(c) says why) */
	AUDIT_ERR_CONFLICT = 23,        /* still conflicting after AUDIT_APPEND_TRIES; or, inside the
					   caller's transaction, a conflict the caller must retry */
	AUDIT_ERR_CRYPTO = 24,          /* hashing or signing failed */
	AUDIT_ERR_WRITE = 25,           /* the export's sink refused the data */
	AUDIT_ERR_CORRUPT = 26,         /* a stored row is unusable (a hash that is not 32 bytes), or a
					   checkpoint exists beyond the last entry (the log was cut) */
};

/* "AUDIT_BAD_HASH" etc.; never NULL. */
const char *audit_status_name(enum audit_status s);

/* ---- the in-memory representation (what an export parses into) ---- */

struct audit_entry {
	int64_t seq;
	int64_t time;
	char *actor;                    /* owned by the log (malloc'd) */
	char *action;
	char *detail;
	uint8_t hash[AUDIT_HASH_LEN];
	bool has_prev;                  /* rows from the database carry prev; an export does not */
	uint8_t prev[AUDIT_HASH_LEN];
};

struct audit_checkpoint {
	int64_t seq;                    /* entries covered */
	uint8_t head[AUDIT_HASH_LEN];   /* hash of entry seq */
	int64_t time;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
	uint8_t signature[AUDIT_SIG_LEN];
};

struct audit_log {
	struct audit_entry *entries;
	size_t n_entries;
	struct audit_checkpoint *checkpoints;
	size_t n_checkpoints;
};

/* Frees the strings and arrays and zeroes *log; idempotent. */
void audit_log_free(struct audit_log *log);

/* The audit public key a verifier trusts. */
struct audit_key {
	int64_t alg;                    /* AIRLOCK_ALG_ED25519 or AIRLOCK_ALG_P256 */
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	uint8_t keyid[AIRLOCK_KEYID_LEN];
};
/* AUDIT_ERR_ARG for a length that does not fit alg or a non-signing alg. */
AIRLOCK_MUST_USE enum audit_status audit_key_init(struct audit_key *k, int64_t alg, const uint8_t *pub,
						  size_t pub_len);

/* ---- hashing and signing (no database) ---- */

/* hash_i of an entry from its fields and prev (32 zero bytes for seq 1). */
AIRLOCK_MUST_USE enum audit_status audit_entry_hash(const uint8_t prev[AUDIT_HASH_LEN], int64_t seq, int64_t time,
						    const char *actor, const char *action, const char *detail,
						    uint8_t out[AUDIT_HASH_LEN]);
/* Fills *out with a checkpoint of (seq, head, time) signed by key. */
AIRLOCK_MUST_USE enum audit_status audit_checkpoint_sign(const struct airlock_privkey *key, int64_t seq,
							 const uint8_t head[AUDIT_HASH_LEN], int64_t time,
							 struct audit_checkpoint *out);
/* AUDIT_OK, AUDIT_CHECKPOINT_WRONG_KEY (keyid is not key's) or AUDIT_BAD_CHECKPOINT_SIG. */
AIRLOCK_MUST_USE enum audit_status audit_checkpoint_check(const struct audit_checkpoint *cp,
							  const struct audit_key *key);

/* ---- verification (no database) ---- */

enum audit_where {
	AUDIT_AT_NONE = 0,      /* AUDIT_OK */
	AUDIT_AT_EXPORT,        /* the export as a whole (its framing) */
	AUDIT_AT_ENTRY,         /* entries[index] */
	AUDIT_AT_CHECKPOINT,    /* checkpoints[index] */
	AUDIT_AT_EXTERNAL,      /* the external checkpoint */
};

struct audit_verdict {
	enum audit_status status;
	enum audit_where where;
	size_t index;           /* position in entries[] or checkpoints[] (0-based) */
	int64_t seq;            /* entry: the seq expected at that position (index + 1);
				   checkpoint: its seq */
	int64_t found;          /* AUDIT_BAD_SEQ: the seq found; AUDIT_TRUNCATED: entries present */
	char reason[128];       /* AUDIT_MALFORMED: which field and why */
	/* On AUDIT_OK: what was proven. */
	size_t n_entries;
	size_t n_checkpoints;
	int64_t newest_checkpoint;  /* seq of the newest stored checkpoint, 0 if none */
};

/*
 * Verifies log against key, and against external (a checkpoint saved
 * earlier outside the server) when it is not NULL. Pure: reads its inputs,
 * writes only *v. Returns v->status (see the order above). The log must
 * start at seq 1: an export of a later range is AUDIT_BAD_SEQ at entry 0.
 * Any error other than the verification codes (AUDIT_ERR_NOMEM,
 * AUDIT_ERR_CRYPTO) means nothing was decided.
 */
AIRLOCK_MUST_USE enum audit_status audit_verify(const struct audit_log *log, const struct audit_key *key,
						const struct audit_checkpoint *external, struct audit_verdict *v);

/* One line for people: "entry 517: stored hash does not match its fields
 * and the chain", "checkpoint 3 (seq 256): ...". */
void audit_verdict_describe(const struct audit_verdict *v, char *out, size_t cap);

/* ---- the JSON forms (no database; jansson) ---- */

/* Parses an export (format 1) into *log (free with audit_log_free; left
 * empty on failure). AUDIT_MALFORMED with v->reason on a bad export. */
AIRLOCK_MUST_USE enum audit_status audit_parse_export(const char *text, size_t len, struct audit_log *log,
						      struct audit_verdict *v);
/* Parses one checkpoint object (a saved external checkpoint). */
AIRLOCK_MUST_USE enum audit_status audit_parse_checkpoint(const char *text, size_t len, struct audit_checkpoint *cp,
							  struct audit_verdict *v);
/* Compact JSON of one entry or checkpoint, in the export's key order;
 * malloc'd, NULL when out of memory (or for text that is not UTF-8). */
char *audit_entry_json(const struct audit_entry *e);
char *audit_checkpoint_json(const struct audit_checkpoint *cp);
/* The whole export of an in-memory log, malloc'd (*len without the NUL). */
AIRLOCK_MUST_USE enum audit_status audit_export_json(const struct audit_log *log, char **out, size_t *len);

/* ---- the database (server/audit.c) ---- */

/* How one server writes: chosen once at start, read-only afterwards. */
struct audit_writer {
	enum db_backend backend;            /* picks the lock statement */
	const struct airlock_privkey *key;  /* not owned; NULL: no automatic checkpoints */
	uint8_t keyid[AIRLOCK_KEYID_LEN];
	uint64_t checkpoint_every;          /* 0: no automatic checkpoints */
};
/* key may be NULL; every = 0 takes AUDIT_CHECKPOINT_EVERY. */
AIRLOCK_MUST_USE enum audit_status audit_writer_init(struct audit_writer *w, enum db_backend backend,
						     const struct airlock_privkey *key, uint64_t every);

/*
 * Appends one entry in a transaction of its own (c must not be inside one),
 * retrying up to AUDIT_APPEND_TRIES times on a conflict; writes the
 * automatic checkpoint in the same transaction when seq is a multiple of
 * the interval. actor and action: 1..AUDIT_MAX_* printable ASCII bytes;
 * detail: a JSON object of at most AUDIT_MAX_DETAIL bytes, stored as given.
 * *seq_out (may be NULL) gets the new entry's seq.
 */
AIRLOCK_MUST_USE enum audit_status audit_append(const struct audit_writer *w, struct db_conn *c, const char *actor,
						const char *action, const char *detail, int64_t now,
						int64_t *seq_out);
/*
 * The same inside the caller's open transaction (db_begin done, commit
 * left to the caller), so that the entry commits if and only if the change
 * it records does. Takes the append lock until the caller's commit: call it
 * last in the transaction. No retry here: AUDIT_ERR_CONFLICT (or AUDIT_ERR_DB)
 * means the caller rolls back and may run the whole transaction again.
 */
AIRLOCK_MUST_USE enum audit_status audit_append_in_tx(const struct audit_writer *w, struct db_conn *c,
						      const char *actor, const char *action, const char *detail,
						      int64_t now, int64_t *seq_out);
/*
 * Signs a checkpoint of the whole log now (its own transaction, with
 * retries) and stores it; returns the existing one if the newest entry is
 * already checkpointed. An empty log gives AUDIT_OK with out->seq = 0 and
 * stores nothing. AUDIT_ERR_ARG if the writer has no key.
 */
AIRLOCK_MUST_USE enum audit_status audit_checkpoint(const struct audit_writer *w, struct db_conn *c, int64_t now,
						    struct audit_checkpoint *out);

/* Receives the export in pieces; false aborts it (AUDIT_ERR_WRITE). */
typedef bool (*audit_sink_fn)(void *ctx, const char *data, size_t len);
/*
 * Streams export format 1 of entries from..to (to = 0: up to the newest)
 * and of the checkpoints in that range to sink, reading the database in
 * pages (memory does not grow with the log). The newest seq is fixed when
 * the export starts, so appends meanwhile do not tear it. from < 1 is
 * taken as 1.
 */
AIRLOCK_MUST_USE enum audit_status audit_export(struct db_conn *c, int64_t from, int64_t to, audit_sink_fn sink,
						void *ctx);
/* The same into a stdio stream (AUDIT_ERR_WRITE on a write error). */
AIRLOCK_MUST_USE enum audit_status audit_export_file(struct db_conn *c, int64_t from, int64_t to, FILE *f);
/* Loads the whole log, with prev, into memory (for a server-side audit_verify). */
AIRLOCK_MUST_USE enum audit_status audit_load(struct db_conn *c, struct audit_log *log);

#endif
