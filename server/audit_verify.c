/*
 * The half of the audit log that needs no database: entry hashes,
 * checkpoint signatures, the export's JSON both ways, and the verifier.
 * The CLI links this file with libairlock and jansson only; server/audit.c
 * adds the storage. Formats and the verifier's order of checks: audit.h.
 */
#include "audit.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/cbor.h"
#include "airlock/hex.h"

_Static_assert(sizeof AUDIT_ENTRY_DOMAIN - 1 == 16, "the entry hash's domain is 16 bytes");
_Static_assert(AUDIT_HASH_LEN == AIRLOCK_SHA256_LEN, "entry hashes are SHA-256");
_Static_assert(AUDIT_SIG_LEN == AIRLOCK_SIG_MAX_LEN, "both signature algorithms give 64 bytes");

/* Checkpoint message: array head (1) + domain text (2 + 27) + seq (<= 9) +
 * head byte string (2 + 32) + time (<= 9). */
#define CHECKPOINT_MSG_MAX 96

const char *audit_status_name(enum audit_status s)
{
	switch (s) {
	case AUDIT_OK: return "AUDIT_OK";
	case AUDIT_MALFORMED: return "AUDIT_MALFORMED";
	case AUDIT_BAD_SEQ: return "AUDIT_BAD_SEQ";
	case AUDIT_BAD_PREV: return "AUDIT_BAD_PREV";
	case AUDIT_BAD_HASH: return "AUDIT_BAD_HASH";
	case AUDIT_BAD_CHECKPOINT_SIG: return "AUDIT_BAD_CHECKPOINT_SIG";
	case AUDIT_CHECKPOINT_WRONG_KEY: return "AUDIT_CHECKPOINT_WRONG_KEY";
	case AUDIT_CHECKPOINT_CONFLICT: return "AUDIT_CHECKPOINT_CONFLICT";
	case AUDIT_CHECKPOINT_MISMATCH: return "AUDIT_CHECKPOINT_MISMATCH";
	case AUDIT_TRUNCATED: return "AUDIT_TRUNCATED";
	case AUDIT_ERR_ARG: return "AUDIT_ERR_ARG";
	case AUDIT_ERR_NOMEM: return "AUDIT_ERR_NOMEM";
	case AUDIT_ERR_DB: return "AUDIT_ERR_DB";
	case AUDIT_ERR_CONFLICT: return "AUDIT_ERR_CONFLICT";
	case AUDIT_ERR_CRYPTO: return "AUDIT_ERR_CRYPTO";
	case AUDIT_ERR_WRITE: return "AUDIT_ERR_WRITE";
	case AUDIT_ERR_CORRUPT: return "AUDIT_ERR_CORRUPT";
	}
	return "AUDIT_UNKNOWN";
}

void audit_log_free(struct audit_log *log)
{
	if (!log)
		return;
	for (size_t i = 0; i < log->n_entries; i++) {
		free(log->entries[i].actor);
		free(log->entries[i].action);
		free(log->entries[i].detail);
	}
	free(log->entries);
	free(log->checkpoints);
	memset(log, 0, sizeof *log);
}

enum audit_status audit_key_init(struct audit_key *k, int64_t alg, const uint8_t *pub, size_t pub_len)
{
	memset(k, 0, sizeof *k);
	if (!pub || !airlock_alg_can_sign(alg) || pub_len != airlock_alg_pub_len(alg))
		return AUDIT_ERR_ARG;
	k->alg = alg;
	memcpy(k->pub, pub, pub_len);
	k->pub_len = pub_len;
	if (airlock_keyid(pub, pub_len, k->keyid) != AIRLOCK_OK)
		return AUDIT_ERR_CRYPTO;
	return AUDIT_OK;
}

/* ---- hashing and signing ---- */

static void put_entry(struct airlock_cbor_enc *e, int64_t seq, int64_t time, const char *actor, const char *action,
		      const char *detail)
{
	airlock_cbor_put_array(e, 5);
	airlock_cbor_put_int(e, seq);
	airlock_cbor_put_int(e, time);
	airlock_cbor_put_tstr(e, actor, strlen(actor));
	airlock_cbor_put_tstr(e, action, strlen(action));
	airlock_cbor_put_tstr(e, detail, strlen(detail));
}

enum audit_status audit_entry_hash(const uint8_t prev[AUDIT_HASH_LEN], int64_t seq, int64_t time, const char *actor,
				   const char *action, const char *detail, uint8_t out[AUDIT_HASH_LEN])
{
	uint8_t stack[1024];
	struct airlock_cbor_enc e;
	struct airlock_sha256 h = { 0 };
	enum audit_status s = AUDIT_ERR_CRYPTO;
	size_t len;

	if (!prev || !actor || !action || !detail)
		return AUDIT_ERR_ARG;
	/* Measure first: most entries fit the stack buffer, a long detail
	 * (up to AUDIT_MAX_DETAIL from the writer, more from a hostile
	 * in-memory log) gets a heap buffer of its exact size. */
	airlock_cbor_enc_init(&e, NULL, 0);
	put_entry(&e, seq, time, actor, action, detail);
	uint8_t *buf = e.len <= sizeof stack ? stack : malloc(e.len);
	if (!buf)
		return AUDIT_ERR_NOMEM;
	airlock_cbor_enc_init(&e, buf, e.len <= sizeof stack ? sizeof stack : e.len);
	put_entry(&e, seq, time, actor, action, detail);
	if (airlock_cbor_enc_finish(&e, &len) != AIRLOCK_OK)
		goto out;
	if (airlock_sha256_init(&h) != AIRLOCK_OK ||
	    airlock_sha256_update(&h, AUDIT_ENTRY_DOMAIN, sizeof AUDIT_ENTRY_DOMAIN - 1) != AIRLOCK_OK ||
	    airlock_sha256_update(&h, prev, AUDIT_HASH_LEN) != AIRLOCK_OK ||
	    airlock_sha256_update(&h, buf, len) != AIRLOCK_OK ||
	    airlock_sha256_final(&h, out) != AIRLOCK_OK)
		goto out;
	s = AUDIT_OK;
out:
	airlock_sha256_free(&h);
	if (buf != stack)
		free(buf);
	return s;
}

static enum audit_status checkpoint_msg(int64_t seq, const uint8_t head[AUDIT_HASH_LEN], int64_t time,
					uint8_t buf[CHECKPOINT_MSG_MAX], size_t *len)
{
	struct airlock_cbor_enc e;
	airlock_cbor_enc_init(&e, buf, CHECKPOINT_MSG_MAX);
	airlock_cbor_put_array(&e, 4);
	airlock_cbor_put_tstr(&e, AUDIT_CHECKPOINT_DOMAIN, sizeof AUDIT_CHECKPOINT_DOMAIN - 1);
	airlock_cbor_put_int(&e, seq);
	airlock_cbor_put_bstr(&e, head, AUDIT_HASH_LEN);
	airlock_cbor_put_int(&e, time);
	return airlock_cbor_enc_finish(&e, len) == AIRLOCK_OK ? AUDIT_OK : AUDIT_ERR_CRYPTO;
}

enum audit_status audit_checkpoint_sign(const struct airlock_privkey *key, int64_t seq,
					const uint8_t head[AUDIT_HASH_LEN], int64_t time, struct audit_checkpoint *out)
{
	uint8_t msg[CHECKPOINT_MSG_MAX], pub[AIRLOCK_PUB_MAX_LEN];
	size_t msg_len, pub_len, sig_len;
	struct audit_checkpoint cp;

	if (!key || !head || !out)
		return AUDIT_ERR_ARG;
	memset(&cp, 0, sizeof cp);
	cp.seq = seq;
	memcpy(cp.head, head, AUDIT_HASH_LEN);
	cp.time = time;
	if (airlock_privkey_public(key, pub, &pub_len) != AIRLOCK_OK ||
	    airlock_keyid(pub, pub_len, cp.keyid) != AIRLOCK_OK)
		return AUDIT_ERR_CRYPTO;
	enum audit_status s = checkpoint_msg(seq, head, time, msg, &msg_len);
	if (s != AUDIT_OK)
		return s;
	airlock_err err = airlock_privkey_sign(key, msg, msg_len, cp.signature, &sig_len);
	if (err == AIRLOCK_ERR_UNSUPPORTED_ALG)
		return AUDIT_ERR_ARG;   /* an X25519 key cannot sign */
	if (err != AIRLOCK_OK || sig_len != AUDIT_SIG_LEN)
		return AUDIT_ERR_CRYPTO;
	*out = cp;
	return AUDIT_OK;
}

enum audit_status audit_checkpoint_check(const struct audit_checkpoint *cp, const struct audit_key *key)
{
	uint8_t msg[CHECKPOINT_MSG_MAX];
	size_t msg_len;

	/* The key id is checked first so that "signed by another key" and "a
	 * forged signature" read differently; neither is accepted. */
	if (!airlock_ct_equal(cp->keyid, key->keyid, AIRLOCK_KEYID_LEN))
		return AUDIT_CHECKPOINT_WRONG_KEY;
	enum audit_status s = checkpoint_msg(cp->seq, cp->head, cp->time, msg, &msg_len);
	if (s != AUDIT_OK)
		return s;
	switch (airlock_sig_verify(key->alg, key->pub, key->pub_len, msg, msg_len, cp->signature, AUDIT_SIG_LEN)) {
	case AIRLOCK_OK:
		return AUDIT_OK;
	case AIRLOCK_ERR_CRYPTO:
	case AIRLOCK_ERR_NOMEM:
		return AUDIT_ERR_CRYPTO;
	default:
		/* BAD_SIGNATURE, and BAD_KEY for a P-256 key off the curve: a
		 * checkpoint nobody can have signed with this key. */
		return AUDIT_BAD_CHECKPOINT_SIG;
	}
}

/* ---- verification ---- */

static enum audit_status verdict(struct audit_verdict *v, enum audit_status s, enum audit_where where, size_t index,
				 int64_t seq, int64_t found)
{
	v->status = s;
	v->where = where;
	v->index = index;
	v->seq = seq;
	v->found = found;
	return s;
}

static enum audit_status malformed(struct audit_verdict *v, enum audit_where where, size_t index, int64_t seq,
				   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static enum audit_status malformed(struct audit_verdict *v, enum audit_where where, size_t index, int64_t seq,
				   const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->reason, sizeof v->reason, fmt, ap);
	va_end(ap);
	/* The reason quotes the export (a field name, jansson's text near a
	 * syntax error), which is hostile: a newline or an escape sequence in
	 * it would let a forged export write its own lines ("OK audit log
	 * ...") to the auditor's terminal. Printable ASCII only; '?' for the
	 * rest (also a UTF-8 sequence the precision above may have cut). */
	for (char *p = v->reason; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	return verdict(v, AUDIT_MALFORMED, where, index, seq, 0);
}

static bool same_hash(const uint8_t *a, const uint8_t *b)
{
	return airlock_ct_equal(a, b, AUDIT_HASH_LEN);
}

enum audit_status audit_verify(const struct audit_log *log, const struct audit_key *key,
			       const struct audit_checkpoint *external, struct audit_verdict *v)
{
	uint8_t prev[AUDIT_HASH_LEN] = { 0 }, h[AUDIT_HASH_LEN];
	const struct audit_checkpoint *cps = log->checkpoints;
	const size_t ncp = log->n_checkpoints;
	enum audit_status s;

	memset(v, 0, sizeof *v);
	if (external) {
		s = audit_checkpoint_check(external, key);
		if (s != AUDIT_OK)
			return verdict(v, s, AUDIT_AT_EXTERNAL, 0, external->seq, 0);
		if (external->seq < 1)
			return malformed(v, AUDIT_AT_EXTERNAL, 0, external->seq, "seq must be at least 1");
	}
	for (size_t i = 0; i < ncp; i++) {
		s = audit_checkpoint_check(&cps[i], key);
		if (s != AUDIT_OK)
			return verdict(v, s, AUDIT_AT_CHECKPOINT, i, cps[i].seq, 0);
	}
	/* Sorted and positive, so that the walk below meets every checkpoint
	 * whose seq is at most the number of entries exactly once. */
	for (size_t i = 0; i < ncp; i++) {
		if (cps[i].seq < 1)
			return malformed(v, AUDIT_AT_CHECKPOINT, i, cps[i].seq, "seq must be at least 1");
		if (i > 0 && cps[i].seq < cps[i - 1].seq)
			return malformed(v, AUDIT_AT_CHECKPOINT, i, cps[i].seq,
					 "checkpoints out of order (seq %lld after %lld)", (long long)cps[i].seq,
					 (long long)cps[i - 1].seq);
	}

	size_t ci = 0;
	for (size_t k = 0; k < log->n_entries; k++) {
		const struct audit_entry *e = &log->entries[k];
		const int64_t want = (int64_t)k + 1;
		if (e->seq != want)
			return verdict(v, AUDIT_BAD_SEQ, AUDIT_AT_ENTRY, k, want, e->seq);
		if (e->has_prev && !same_hash(e->prev, prev))
			return verdict(v, AUDIT_BAD_PREV, AUDIT_AT_ENTRY, k, want, e->seq);
		if (!e->actor || !e->action || !e->detail)
			return malformed(v, AUDIT_AT_ENTRY, k, want, "a text field is missing");
		s = audit_entry_hash(prev, e->seq, e->time, e->actor, e->action, e->detail, h);
		if (s != AUDIT_OK)
			return verdict(v, s, AUDIT_AT_ENTRY, k, want, e->seq);
		if (!same_hash(h, e->hash))
			return verdict(v, AUDIT_BAD_HASH, AUDIT_AT_ENTRY, k, want, e->seq);
		memcpy(prev, h, sizeof prev);

		/* Every checkpoint for this seq must carry one head, and that
		 * head must be the chain's. A conflict is reported as such
		 * even when one of the two matches: signing two heads for one
		 * size is itself the fault (a split view). */
		const size_t first = ci;
		for (; ci < ncp && cps[ci].seq == want; ci++)
			if (ci > first && !same_hash(cps[ci].head, cps[first].head))
				return verdict(v, AUDIT_CHECKPOINT_CONFLICT, AUDIT_AT_CHECKPOINT, ci, want, 0);
		for (size_t j = first; j < ci; j++)
			if (!same_hash(cps[j].head, h))
				return verdict(v, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_CHECKPOINT, j, want, 0);
		if (external && external->seq == want && !same_hash(external->head, h))
			return verdict(v, AUDIT_CHECKPOINT_MISMATCH, AUDIT_AT_EXTERNAL, 0, want, 0);
	}
	const int64_t n = (int64_t)log->n_entries;
	if (ci < ncp)
		return verdict(v, AUDIT_TRUNCATED, AUDIT_AT_CHECKPOINT, ci, cps[ci].seq, n);
	if (external && external->seq > n)
		return verdict(v, AUDIT_TRUNCATED, AUDIT_AT_EXTERNAL, 0, external->seq, n);
	v->n_entries = log->n_entries;
	v->n_checkpoints = ncp;
	v->newest_checkpoint = ncp ? cps[ncp - 1].seq : 0;
	return AUDIT_OK;
}

void audit_verdict_describe(const struct audit_verdict *v, char *out, size_t cap)
{
	char where[64];
	const long long seq = (long long)v->seq, found = (long long)v->found;
	/* A checkpoint the parser refused has no seq to show. */
	const bool no_seq = v->status == AUDIT_MALFORMED && v->seq == 0;

	switch (v->where) {
	case AUDIT_AT_ENTRY:
		snprintf(where, sizeof where, "entry %lld", seq);
		break;
	case AUDIT_AT_CHECKPOINT:
		if (no_seq)
			snprintf(where, sizeof where, "checkpoint %zu", v->index + 1);
		else
			snprintf(where, sizeof where, "checkpoint %zu (seq %lld)", v->index + 1, seq);
		break;
	case AUDIT_AT_EXTERNAL:
		if (no_seq)
			snprintf(where, sizeof where, "external checkpoint");
		else
			snprintf(where, sizeof where, "external checkpoint (seq %lld)", seq);
		break;
	default:
		snprintf(where, sizeof where, "export");
		break;
	}
	switch (v->status) {
	case AUDIT_OK:
		snprintf(out, cap, "%zu entr%s intact, %zu checkpoint%s verified (newest covers %lld)", v->n_entries,
			 v->n_entries == 1 ? "y" : "ies", v->n_checkpoints, v->n_checkpoints == 1 ? "" : "s",
			 (long long)v->newest_checkpoint);
		break;
	case AUDIT_MALFORMED:
		snprintf(out, cap, "%s: malformed: %s", where, v->reason);
		break;
	case AUDIT_BAD_SEQ:
		snprintf(out, cap, "%s: seq %lld found where %lld is due (%s)", where, found, seq,
			 v->index == 0 ? "the log must start at seq 1" : "an entry deleted, moved or inserted");
		break;
	case AUDIT_BAD_PREV:
		snprintf(out, cap, "%s: prev is not the hash of entry %lld", where, seq - 1);
		break;
	case AUDIT_BAD_HASH:
		snprintf(out, cap, "%s: hash mismatch (its fields or an earlier entry were changed)", where);
		break;
	case AUDIT_BAD_CHECKPOINT_SIG:
		snprintf(out, cap, "%s: signature does not verify under the audit key", where);
		break;
	case AUDIT_CHECKPOINT_WRONG_KEY:
		snprintf(out, cap, "%s: signed by another key than the audit key", where);
		break;
	case AUDIT_CHECKPOINT_CONFLICT:
		snprintf(out, cap, "%s: a second checkpoint for seq %lld with a different head", where, seq);
		break;
	case AUDIT_CHECKPOINT_MISMATCH:
		snprintf(out, cap, "%s: head is not the hash of entry %lld (the log was rewritten)", where, seq);
		break;
	case AUDIT_TRUNCATED:
		snprintf(out, cap, "%s: covers %lld entries but only %lld are present (the log was truncated)", where,
			 seq, found);
		break;
	default:
		snprintf(out, cap, "%s: %s", where, audit_status_name(v->status));
		break;
	}
}

/* ---- JSON ---- */

static bool lower_hex(const char *s, size_t len, uint8_t *out, size_t n)
{
	if (len != 2 * n)
		return false;
	/* One spelling per value: an uppercase digit would let a bit flip
	 * in the export go unnoticed. */
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return airlock_hex_decode(s, len, out, n) == AIRLOCK_OK;
}

/* Where a field error is reported. */
struct at {
	struct audit_verdict *v;
	enum audit_where where;
	size_t index;
};

static bool exact_keys(json_t *obj, const char *const *keys, size_t n, struct at at)
{
	if (!json_is_object(obj)) {
		malformed(at.v, at.where, at.index, 0, "not a JSON object");
		return false;
	}
	for (size_t i = 0; i < n; i++) {
		if (!json_object_get(obj, keys[i])) {
			malformed(at.v, at.where, at.index, 0, "field '%s' missing", keys[i]);
			return false;
		}
	}
	if (json_object_size(obj) != n) {
		const char *k;
		json_t *val;
		json_object_foreach(obj, k, val) {
			bool known = false;
			for (size_t i = 0; i < n; i++)
				known = known || strcmp(k, keys[i]) == 0;
			if (!known) {
				malformed(at.v, at.where, at.index, 0, "unknown field '%.40s'", k);
				return false;
			}
		}
		malformed(at.v, at.where, at.index, 0, "unexpected fields");
		return false;
	}
	return true;
}

static bool get_int(json_t *obj, const char *key, int64_t *out, struct at at)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_integer(j)) {
		malformed(at.v, at.where, at.index, 0, "field '%s': not an integer", key);
		return false;
	}
	*out = (int64_t)json_integer_value(j);
	return true;
}

static bool get_hex(json_t *obj, const char *key, uint8_t *out, size_t n, struct at at)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_string(j) || !lower_hex(json_string_value(j), json_string_length(j), out, n)) {
		malformed(at.v, at.where, at.index, 0, "field '%s': not %zu lowercase hex digits", key, 2 * n);
		return false;
	}
	return true;
}

static bool get_text(json_t *obj, const char *key, size_t max, char **out, struct at at)
{
	json_t *j = json_object_get(obj, key);
	if (!json_is_string(j)) {
		malformed(at.v, at.where, at.index, 0, "field '%s': not a string", key);
		return false;
	}
	/* jansson refuses invalid UTF-8 and, without JSON_ALLOW_NUL, a NUL. */
	size_t len = json_string_length(j);
	if (len > max) {
		malformed(at.v, at.where, at.index, 0, "field '%s': longer than %zu bytes", key, max);
		return false;
	}
	*out = malloc(len + 1);
	if (!*out) {
		verdict(at.v, AUDIT_ERR_NOMEM, at.where, at.index, 0, 0);
		return false;
	}
	memcpy(*out, json_string_value(j), len + 1);
	return true;
}

static const char *const checkpoint_keys[] = { "seq", "head", "time", "keyid", "signature" };
static const char *const entry_keys[] = { "seq", "time", "actor", "action", "detail", "hash" };
static const char *const export_keys[] = { "format", "entries", "checkpoints" };
#define N_KEYS(a) (sizeof(a) / sizeof(a)[0])

static bool checkpoint_from_json(json_t *obj, struct audit_checkpoint *cp, struct at at)
{
	memset(cp, 0, sizeof *cp);
	return exact_keys(obj, checkpoint_keys, N_KEYS(checkpoint_keys), at) && get_int(obj, "seq", &cp->seq, at) &&
	       get_hex(obj, "head", cp->head, sizeof cp->head, at) && get_int(obj, "time", &cp->time, at) &&
	       get_hex(obj, "keyid", cp->keyid, sizeof cp->keyid, at) &&
	       get_hex(obj, "signature", cp->signature, sizeof cp->signature, at);
}

static bool entry_from_json(json_t *obj, struct audit_entry *e, struct at at)
{
	return exact_keys(obj, entry_keys, N_KEYS(entry_keys), at) && get_int(obj, "seq", &e->seq, at) &&
	       get_int(obj, "time", &e->time, at) && get_text(obj, "actor", AUDIT_MAX_ACTOR, &e->actor, at) &&
	       get_text(obj, "action", AUDIT_MAX_ACTION, &e->action, at) &&
	       get_text(obj, "detail", AUDIT_MAX_DETAIL, &e->detail, at) &&
	       get_hex(obj, "hash", e->hash, sizeof e->hash, at);
}

static json_t *load(const char *text, size_t len, struct audit_verdict *v)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		malformed(v, AUDIT_AT_EXPORT, 0, 0, "not JSON (line %d: %.80s)", jerr.line, jerr.text);
	return root;
}

enum audit_status audit_parse_export(const char *text, size_t len, struct audit_log *log, struct audit_verdict *v)
{
	struct audit_log out = { 0 };
	struct at at = { v, AUDIT_AT_EXPORT, 0 };
	json_t *root;

	memset(log, 0, sizeof *log);
	memset(v, 0, sizeof *v);
	if (!text)
		return verdict(v, AUDIT_ERR_ARG, AUDIT_AT_EXPORT, 0, 0, 0);
	root = load(text, len, v);
	if (!root)
		return v->status;
	if (!exact_keys(root, export_keys, N_KEYS(export_keys), at))
		goto out;
	json_t *format = json_object_get(root, "format");
	json_t *entries = json_object_get(root, "entries");
	json_t *checkpoints = json_object_get(root, "checkpoints");
	if (!json_is_integer(format) || json_integer_value(format) != AUDIT_EXPORT_FORMAT) {
		malformed(v, AUDIT_AT_EXPORT, 0, 0, "not format %d", AUDIT_EXPORT_FORMAT);
		goto out;
	}
	if (!json_is_array(entries) || !json_is_array(checkpoints)) {
		malformed(v, AUDIT_AT_EXPORT, 0, 0, "'entries' and 'checkpoints' must be arrays");
		goto out;
	}
	size_t ne = json_array_size(entries), nc = json_array_size(checkpoints);
	out.entries = ne ? calloc(ne, sizeof *out.entries) : NULL;
	out.checkpoints = nc ? calloc(nc, sizeof *out.checkpoints) : NULL;
	if ((ne && !out.entries) || (nc && !out.checkpoints)) {
		verdict(v, AUDIT_ERR_NOMEM, AUDIT_AT_EXPORT, 0, 0, 0);
		goto out;
	}
	for (size_t i = 0; i < ne; i++) {
		/* Counted before the fields are read, so that audit_log_free
		 * releases whatever a half-read entry holds. */
		out.n_entries = i + 1;
		if (!entry_from_json(json_array_get(entries, i), &out.entries[i],
				     (struct at){ v, AUDIT_AT_ENTRY, i })) {
			v->seq = (int64_t)i + 1;
			goto out;
		}
	}
	for (size_t i = 0; i < nc; i++) {
		out.n_checkpoints = i + 1;
		if (!checkpoint_from_json(json_array_get(checkpoints, i), &out.checkpoints[i],
					  (struct at){ v, AUDIT_AT_CHECKPOINT, i }))
			goto out;
	}
	*log = out;
	memset(&out, 0, sizeof out);
out:
	audit_log_free(&out);
	json_decref(root);
	return v->status;
}

enum audit_status audit_parse_checkpoint(const char *text, size_t len, struct audit_checkpoint *cp,
					 struct audit_verdict *v)
{
	struct audit_checkpoint tmp;
	memset(v, 0, sizeof *v);
	if (!text)
		return verdict(v, AUDIT_ERR_ARG, AUDIT_AT_EXTERNAL, 0, 0, 0);
	json_t *root = load(text, len, v);
	if (!root) {
		v->where = AUDIT_AT_EXTERNAL;
		return v->status;
	}
	if (checkpoint_from_json(root, &tmp, (struct at){ v, AUDIT_AT_EXTERNAL, 0 }))
		*cp = tmp;
	json_decref(root);
	return v->status;
}

static char *dump(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	return s;
}

char *audit_entry_json(const struct audit_entry *e)
{
	char hash[2 * AUDIT_HASH_LEN + 1];
	airlock_hex_encode(e->hash, sizeof e->hash, hash);
	/* jansson keeps insertion order: the keys come out as in audit.h. */
	return dump(json_pack("{s:I,s:I,s:s,s:s,s:s,s:s}", "seq", (json_int_t)e->seq, "time", (json_int_t)e->time,
			      "actor", e->actor, "action", e->action, "detail", e->detail, "hash", hash));
}

char *audit_checkpoint_json(const struct audit_checkpoint *cp)
{
	char head[2 * AUDIT_HASH_LEN + 1], keyid[2 * AIRLOCK_KEYID_LEN + 1], sig[2 * AUDIT_SIG_LEN + 1];
	airlock_hex_encode(cp->head, sizeof cp->head, head);
	airlock_hex_encode(cp->keyid, sizeof cp->keyid, keyid);
	airlock_hex_encode(cp->signature, sizeof cp->signature, sig);
	return dump(json_pack("{s:I,s:s,s:I,s:s,s:s}", "seq", (json_int_t)cp->seq, "head", head, "time",
			      (json_int_t)cp->time, "keyid", keyid, "signature", sig));
}

/* A growable string for audit_export_json. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void sbuf_add(struct sbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (b->failed || !s) {
		b->failed = true;
		return;
	}
	if (n + 1 > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 4096;
		while (n + 1 > cap - b->len) {
			if (cap > SIZE_MAX / 2) {
				b->failed = true;
				return;
			}
			cap *= 2;
		}
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

enum audit_status audit_export_json(const struct audit_log *log, char **out, size_t *len)
{
	struct sbuf b = { 0 };
	sbuf_add(&b, "{\"format\":1,\"entries\":[");
	for (size_t i = 0; i < log->n_entries && !b.failed; i++) {
		char *s = audit_entry_json(&log->entries[i]);
		if (i > 0)
			sbuf_add(&b, ",");
		sbuf_add(&b, s);
		free(s);
	}
	sbuf_add(&b, "],\"checkpoints\":[");
	for (size_t i = 0; i < log->n_checkpoints && !b.failed; i++) {
		char *s = audit_checkpoint_json(&log->checkpoints[i]);
		if (i > 0)
			sbuf_add(&b, ",");
		sbuf_add(&b, s);
		free(s);
	}
	sbuf_add(&b, "]}");
	if (b.failed) {
		free(b.p);
		return AUDIT_ERR_NOMEM;
	}
	*out = b.p;
	*len = b.len;
	return AUDIT_OK;
}
