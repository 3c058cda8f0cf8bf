/*
 * The state file of the update state machine (include/airlock/bootstate.h):
 * its fixed binary layout, names, and atomic load/save. The transitions are
 * in lib/bootstate_machine.c, the health check in lib/bootstate_health.c.
 */
#include "airlock/bootstate.h"

#include <string.h>

#include "airlock/fault.h"
#include "util.h"

#define ST_FORMAT 1u
#define ST_HEAD 36u                     /* magic .. last_error */
#define ST_SLOT_LEN 120u
#define ST_VERSION_FIELD 72u
#define ST_SLOTS_OFF (ST_HEAD + AIRLOCK_STATE_DETAIL_LEN)
#define ST_BODY (ST_SLOTS_OFF + AIRLOCK_SLOT_COUNT * ST_SLOT_LEN)

_Static_assert(ST_BODY + AIRLOCK_SHA256_LEN == AIRLOCK_BOOTSTATE_LEN, "state file layout");
_Static_assert(AIRLOCK_MAX_NAME_LEN + 1 <= ST_VERSION_FIELD, "version fits its field");
_Static_assert(16u + AIRLOCK_SHA256_LEN + ST_VERSION_FIELD == ST_SLOT_LEN, "slot layout");

const char *airlock_update_state_name(unsigned state)
{
	static const char *const names[] = { "IDLE", "INSTALLING", "INSTALLED", "TRIAL", "ROLLING_BACK" };
	return state < ARRAY_LEN(names) ? names[state] : "?";
}

const char *airlock_rollback_reason_name(unsigned reason)
{
	static const char *const names[] = { "none", "health-check", "boot-limit", "explicit" };
	return reason < ARRAY_LEN(names) ? names[reason] : "?";
}

const char *airlock_event_name(unsigned kind)
{
	static const char *const names[] = {
		"NONE", "INSTALL_STARTED", "INSTALL_RESUMABLE", "INSTALL_FAILED",
		"INSTALLED", "TRIAL_BOOT", "COMMITTED", "ROLLED_BACK",
	};
	return kind < ARRAY_LEN(names) ? names[kind] : "?";
}

void airlock_bootstate_init(struct airlock_bootstate *st)
{
	memset(st, 0, sizeof *st);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* Copies a string into a fixed field, NUL-padded (truncated to fit). */
static void put_str(uint8_t *field, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);
	memset(field, 0, cap);
	memcpy(field, s, n);
}

/* A fixed field holding a NUL-terminated string of printable ASCII, zero
 * after the NUL; copies it out (out has room for max_len + 1). */
static bool get_str(const uint8_t *field, size_t cap, size_t max_len, char *out)
{
	size_t n = strnlen((const char *)field, cap);
	if (n > max_len || n == cap)
		return false;
	for (size_t i = 0; i < n; i++)
		if (field[i] < 0x20 || field[i] > 0x7e)
			return false;
	for (size_t i = n; i < cap; i++)
		if (field[i] != 0)
			return false;
	memcpy(out, field, n);
	out[n] = '\0';
	return true;
}

void airlock_bootstate_encode(const struct airlock_bootstate *st, uint8_t out[AIRLOCK_BOOTSTATE_LEN])
{
	memset(out, 0, AIRLOCK_BOOTSTATE_LEN);
	memcpy(out, "ALST", 4);
	put32(out + 4, ST_FORMAT);
	put64(out + 8, st->generation);
	out[16] = st->state;
	out[17] = st->target;
	out[18] = st->reason;
	put32(out + 20, st->trial_boots);
	put64(out + 24, st->security_version);
	put32(out + 32, (uint32_t)st->last_error);
	put_str(out + ST_HEAD, AIRLOCK_STATE_DETAIL_LEN, st->last_detail);
	for (unsigned i = 0; i < AIRLOCK_SLOT_COUNT; i++) {
		uint8_t *s = out + ST_SLOTS_OFF + i * ST_SLOT_LEN;
		const struct airlock_slot_state *ss = &st->slots[i];
		s[0] = (uint8_t)((ss->valid ? 1u : 0u) | (ss->bad ? 2u : 0u));
		put64(s + 8, ss->security_version);
		memcpy(s + 16, ss->release_digest, AIRLOCK_SHA256_LEN);
		put_str(s + 16 + AIRLOCK_SHA256_LEN, ST_VERSION_FIELD, ss->version);
	}
	/* SHA-256 cannot fail on the OpenSSL port short of memory exhaustion;
	 * a zeroed digest would then make the file read as corrupt, never as
	 * valid. */
	if (airlock_sha256(out, ST_BODY, out + ST_BODY) != AIRLOCK_OK)
		memset(out + ST_BODY, 0, AIRLOCK_SHA256_LEN);
}

static bool decode_slot(const uint8_t *s, struct airlock_slot_state *ss)
{
	if (s[0] & ~3u)
		return false;
	for (unsigned i = 1; i < 8; i++)
		if (s[i] != 0)
			return false;
	ss->valid = (s[0] & 1u) != 0;
	ss->bad = (s[0] & 2u) != 0;
	ss->security_version = get64(s + 8);
	memcpy(ss->release_digest, s + 16, AIRLOCK_SHA256_LEN);
	return get_str(s + 16 + AIRLOCK_SHA256_LEN, ST_VERSION_FIELD, AIRLOCK_MAX_NAME_LEN, ss->version);
}

airlock_err airlock_bootstate_decode(const uint8_t *buf, size_t len, struct airlock_bootstate *out)
{
	uint8_t digest[AIRLOCK_SHA256_LEN];
	struct airlock_bootstate st;
	if (!buf || !out)
		return AIRLOCK_ERR_INVALID_ARG;
	if (len != AIRLOCK_BOOTSTATE_LEN || memcmp(buf, "ALST", 4) != 0 || get32(buf + 4) != ST_FORMAT)
		return AIRLOCK_ERR_STATE;
	TRY(airlock_sha256(buf, ST_BODY, digest));
	if (!airlock_ct_equal(digest, buf + ST_BODY, sizeof digest))
		return AIRLOCK_ERR_STATE;
	memset(&st, 0, sizeof st);
	st.generation = get64(buf + 8);
	st.state = buf[16];
	st.target = buf[17];
	st.reason = buf[18];
	st.trial_boots = get32(buf + 20);
	st.security_version = get64(buf + 24);
	uint32_t last = get32(buf + 32);
	if (st.state > AIRLOCK_UPDATE_ROLLING_BACK || st.target >= AIRLOCK_SLOT_COUNT ||
	    st.reason > AIRLOCK_ROLLBACK_EXPLICIT || buf[19] != 0 || last >= (uint32_t)AIRLOCK_ERR__COUNT)
		return AIRLOCK_ERR_STATE;
	st.last_error = (int32_t)last;
	if (!get_str(buf + ST_HEAD, AIRLOCK_STATE_DETAIL_LEN, AIRLOCK_STATE_DETAIL_LEN - 1, st.last_detail))
		return AIRLOCK_ERR_STATE;
	for (unsigned i = 0; i < AIRLOCK_SLOT_COUNT; i++)
		if (!decode_slot(buf + ST_SLOTS_OFF + i * ST_SLOT_LEN, &st.slots[i]))
			return AIRLOCK_ERR_STATE;
	*out = st;
	return AIRLOCK_OK;
}

airlock_err airlock_bootstate_load(const char *path, struct airlock_bootstate *st)
{
	uint8_t buf[AIRLOCK_BOOTSTATE_LEN];
	size_t len = 0;
	if (!path || !st)
		return AIRLOCK_ERR_INVALID_ARG;
	airlock_err err = airlock_file_read_small(path, buf, sizeof buf, &len);
	if (err == AIRLOCK_ERR_TOO_LARGE)
		return AIRLOCK_ERR_STATE;
	TRY(err);
	return airlock_bootstate_decode(buf, len, st);
}

airlock_err airlock_bootstate_save(const char *path, struct airlock_bootstate *st)
{
	uint8_t buf[AIRLOCK_BOOTSTATE_LEN];
	if (!path || !st)
		return AIRLOCK_ERR_INVALID_ARG;
	st->generation++;
	airlock_bootstate_encode(st, buf);
	return airlock_file_write_atomic(path, buf, sizeof buf);
}
