/*
 * Fuzz target for the audit export verifier (server/audit_verify.c, what
 * `airlock audit verify` runs): the export's JSON (format 1), a saved
 * checkpoint's JSON, and the verification of the hash chain and the signed
 * checkpoints against a fixed test audit key (Ed25519; the seeds in
 * tests/fuzz/corpus/audit/ are signed with its private half, see
 * tests/fuzz/make_corpus.py).
 *
 * Input: one flags byte f, then the export, then optionally a NUL byte and
 * a saved checkpoint (JSON holds no raw NUL, so the split is unambiguous).
 * f & 1: before verifying, the harness recomputes every entry's hash along
 * the chain as stored (so the fuzzer gets past the hashes to the seq and
 * checkpoint rules).
 *
 * Invariants, each an abort(): parsing gives OK or MALFORMED (with a
 * reason); every verdict describes itself in one line of printable ASCII
 * (it quotes the export: the seed crash-reason-control-chars once printed
 * a raw newline); verifying a parsed export gives OK or one of the
 * verification statuses, never an operational error; with rehashed
 * entries never BAD_HASH or BAD_PREV; an accepted log's entries are seq
 * 1..n; the export written back from a parsed log parses to the same log
 * and verifies to the same verdict.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The public half of the test key the seed checkpoints are signed with. */
static const uint8_t audit_pub[32] = {
	0xdc, 0x6c, 0xec, 0x2c, 0x6e, 0x65, 0xfb, 0x21, 0xe7, 0xb8, 0x82, 0x2f, 0x60, 0xeb, 0x55, 0x98,
	0x3b, 0x88, 0x7e, 0x3f, 0xf7, 0x48, 0x1a, 0x37, 0x0e, 0xff, 0xc2, 0x9b, 0x88, 0xea, 0xab, 0xef,
};

static bool verification_status(enum audit_status s)
{
	return s <= AUDIT_TRUNCATED;
}

/* The verdict's line goes to the auditor's terminal: one line of printable
 * ASCII, whatever the export quoted. */
static void describe(const struct audit_verdict *v)
{
	char line[256];
	audit_verdict_describe(v, line, sizeof line);
	size_t n = strnlen(line, sizeof line);
	if (n >= sizeof line)
		abort();
	for (size_t i = 0; i < n; i++)
		if (line[i] < 0x20 || line[i] > 0x7e)
			abort();
}

static bool same_log(const struct audit_log *a, const struct audit_log *b)
{
	if (a->n_entries != b->n_entries || a->n_checkpoints != b->n_checkpoints)
		return false;
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct audit_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->seq != y->seq || x->time != y->time || strcmp(x->actor, y->actor) != 0 ||
		    strcmp(x->action, y->action) != 0 || strcmp(x->detail, y->detail) != 0 ||
		    memcmp(x->hash, y->hash, sizeof x->hash) != 0)
			return false;
	}
	return a->n_checkpoints == 0 ||
	       memcmp(a->checkpoints, b->checkpoints, a->n_checkpoints * sizeof *a->checkpoints) == 0;
}

static void rehash(struct audit_log *log)
{
	uint8_t prev[AUDIT_HASH_LEN] = { 0 };
	for (size_t i = 0; i < log->n_entries; i++) {
		struct audit_entry *e = &log->entries[i];
		if (audit_entry_hash(prev, e->seq, e->time, e->actor, e->action, e->detail, e->hash) != AUDIT_OK)
			abort();
		memcpy(prev, e->hash, sizeof prev);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_key key;
	struct audit_log log, back;
	struct audit_verdict v, v2;
	struct audit_checkpoint ext;
	bool have_ext = false;
	if (!key.pub_len && audit_key_init(&key, AIRLOCK_ALG_ED25519, audit_pub, sizeof audit_pub) != AUDIT_OK)
		abort();
	if (size < 1)
		return 0;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	const char *nul = memchr(text, '\0', len);
	if (nul) {
		size_t cl = len - (size_t)(nul - text) - 1;
		len = (size_t)(nul - text);
		enum audit_status s = audit_parse_checkpoint(nul + 1, cl, &ext, &v);
		if (s != AUDIT_OK && s != AUDIT_MALFORMED)
			abort();
		describe(&v);
		have_ext = s == AUDIT_OK;
	}

	enum audit_status s = audit_parse_export(text, len, &log, &v);
	if (s != AUDIT_OK) {
		if (s != AUDIT_MALFORMED || !v.reason[0] || log.n_entries || log.entries || log.checkpoints)
			abort();
		describe(&v);
		return 0;
	}
	if (data[0] & 1u)
		rehash(&log);
	s = audit_verify(&log, &key, have_ext ? &ext : NULL, &v);
	if (!verification_status(s) || ((data[0] & 1u) && (s == AUDIT_BAD_HASH || s == AUDIT_BAD_PREV)))
		abort();
	describe(&v);
	if (s == AUDIT_OK) {
		for (size_t i = 0; i < log.n_entries; i++)
			if (log.entries[i].seq != (int64_t)i + 1)
				abort();
		if (v.n_entries != log.n_entries || v.n_checkpoints != log.n_checkpoints)
			abort();
	}

	char *out;
	size_t out_len;
	if (audit_export_json(&log, &out, &out_len) != AUDIT_OK)
		abort();
	if (audit_parse_export(out, out_len, &back, &v2) != AUDIT_OK || !same_log(&log, &back) ||
	    audit_verify(&back, &key, have_ext ? &ext : NULL, &v2) != s || v2.where != v.where || v2.index != v.index)
		abort();
	free(out);
	audit_log_free(&back);
	audit_log_free(&log);
	return 0;
}
