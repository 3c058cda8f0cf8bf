/*
 * airlock-boot's verifier (boot/verify.h). Hardened verdicts in the manner
 * of MCUboot's FIH: every check has its own verdict that starts as a
 * failure, and the result is OK only if all of them were set to OK and are
 * re-checked at the one exit.
 */
#include "verify.h"

#include <string.h>

#include "airlock/fault.h"
#include "airlock/payload.h"

enum { V_RELEASE, V_PAYLOAD, V_SIZE, V_DIGEST, V_COUNT };

static const char *const check_names[V_COUNT] = {
	[V_RELEASE] = "release", [V_PAYLOAD] = "payload", [V_SIZE] = "size", [V_DIGEST] = "digest",
};

airlock_err boot_verifier_load_root(struct boot_verifier *v, const char *root_path)
{
	airlock_err err = airlock_file_read_small(root_path, v->root_buf, sizeof v->root_buf, &v->root_len);
	if (err != AIRLOCK_OK)
		return err;
	return airlock_root_load_trusted(v->root_buf, v->root_len, &v->root, NULL);
}

static const struct airlock_payload *pick_payload(const struct boot_verifier *v)
{
	if (v->payload)
		return airlock_release_find_payload(&v->release, v->payload, strlen(v->payload));
	return v->release.n_payloads == 1 ? &v->release.payloads[0] : NULL;
}

/* Streams the slot's first p->size bytes through the payload digest. */
static airlock_err hash_slot(struct boot_verifier *v, struct airlock_slot *s, const struct airlock_payload *p)
{
	struct airlock_payload_check c;
	airlock_err err = airlock_payload_check_init(&c, p, NULL);
	if (err != AIRLOCK_OK)
		return err;
	for (uint64_t off = 0; off < p->size && err == AIRLOCK_OK;) {
		size_t n = p->size - off < sizeof v->read_buf ? (size_t)(p->size - off) : sizeof v->read_buf;
		err = airlock_slot_read(s, off, v->read_buf, n);
		if (err == AIRLOCK_OK)
			err = airlock_payload_check_update(&c, v->read_buf, n);
		off += n;
	}
	if (err != AIRLOCK_OK) {
		airlock_payload_check_free(&c);
		return err;
	}
	return airlock_payload_check_final(&c, NULL);
}

void boot_verify_slot(struct boot_verifier *v, const char *slot_path, const char *release_path, uint64_t min_secver,
		      struct boot_slot_result *res)
{
	airlock_err verdict[V_COUNT];
	for (unsigned i = 0; i < V_COUNT; i++)
		verdict[i] = AIRLOCK_ERR_BAD_SIGNATURE;  /* failure until proven */
	memset(res, 0, sizeof *res);
	res->err = AIRLOCK_ERR_BAD_SIGNATURE;

	size_t len = 0;
	struct airlock_release_policy policy = { .hardware = v->hardware, .min_security_version = min_secver, .now = 0 };
	airlock_err err = airlock_file_read_small(release_path, v->release_buf, sizeof v->release_buf, &len);
	if (err == AIRLOCK_OK)
		err = airlock_release_verify(&v->root, v->release_buf, len, &policy, &v->release, NULL, NULL);
	verdict[V_RELEASE] = err;
	const struct airlock_payload *p = NULL;
	if (err == AIRLOCK_OK) {
		size_t vl = v->release.version.len < AIRLOCK_MAX_NAME_LEN ? v->release.version.len : AIRLOCK_MAX_NAME_LEN;
		memcpy(res->version, v->release.version.ptr, vl);
		res->version[vl] = '\0';
		res->security_version = v->release.security_version;
		p = pick_payload(v);
		verdict[V_PAYLOAD] = p ? AIRLOCK_OK : AIRLOCK_ERR_NOT_FOUND;
	}
	struct airlock_slot s;
	if (p && airlock_slot_open(&s, "sim", slot_path, 0, 0) == AIRLOCK_OK) {
		res->size = p->size;
		verdict[V_SIZE] = p->size <= s.capacity ? AIRLOCK_OK : AIRLOCK_ERR_NO_SPACE;
		if (verdict[V_SIZE] == AIRLOCK_OK)
			verdict[V_DIGEST] = hash_slot(v, &s, p);
		airlock_slot_close(&s);
	} else if (p) {
		verdict[V_SIZE] = AIRLOCK_ERR_IO_OPEN;
	}

	/* The one exit: every verdict re-checked, the first failure reported. */
	airlock_err result = AIRLOCK_OK;
	for (unsigned i = 0; i < V_COUNT; i++) {
		if (verdict[i] != AIRLOCK_OK && result == AIRLOCK_OK) {
			result = verdict[i];
			res->failed = check_names[i];
		}
	}
	if (result == AIRLOCK_OK && verdict[V_DIGEST] == AIRLOCK_OK && verdict[V_RELEASE] == AIRLOCK_OK)
		res->err = AIRLOCK_OK;
	else
		res->err = result != AIRLOCK_OK ? result : AIRLOCK_ERR_BAD_SIGNATURE;
}
