/*
 * One check-in: a fresh random nonce, the device's state POSTed to
 * /api/v1/device/check-in, and the answer verified before anything acts on
 * it: the directive carries a threshold of director signatures of the
 * trusted root, names this device and this nonce (a replayed or redirected
 * answer fails: NONCE_MISMATCH, DEVICE_MISMATCH, with no clock needed); an
 * install directive's release carries a threshold of release signatures,
 * names this hardware, has a security version not below the device's
 * counter (ROLLBACK), and has exactly the digest the directive names
 * (RELEASE_MISMATCH). When a signature does not verify against the trusted
 * root, the server's newer root is fetched and the signed chain walked
 * (capped) before the answer is judged again.
 */
#ifndef AGENT_CHECKIN_H
#define AGENT_CHECKIN_H

#include "agent.h"

struct agent_checkin {
	uint8_t nonce[16];
	uint8_t directive_buf[AIRLOCK_DIRECTIVE_MAX_LEN];
	size_t directive_len;
	struct airlock_directive dir;
	uint8_t release_buf[AIRLOCK_RELEASE_MAX_LEN];
	size_t release_len;
	struct airlock_release rel;
	uint8_t release_digest[AIRLOCK_SHA256_LEN];
	int64_t deployment;         /* from the answer (not signed: used for reports only) */
	bool directive_ok;          /* the directive verified (so the deployment is really ours) */
	uint32_t interval;          /* the server's suggested check-in interval, 0 if none */
	char detail[512];           /* why it failed */
};

/* What the device says about itself. */
struct agent_self {
	uint64_t security_version;  /* the anti-rollback counter */
	const char *release_hex;    /* running release, or NULL */
	const char *version;        /* running version label, or NULL */
	const char *slot_state;     /* e.g. "a", "b-trial", or NULL */
};

/*
 * Performs the check-in and verifies the answer. On AIRLOCK_OK, c->dir is
 * the verified directive; when it says INSTALL, c->rel is the verified
 * release it names. `now` is 0 without a trusted clock.
 */
AIRLOCK_MUST_USE airlock_err agent_checkin(struct agent *a, const struct agent_self *self, uint64_t now,
					   struct agent_checkin *c);

/*
 * Verifies a directive answer (exposed for `airlockd` tests): the directive
 * against the trusted root for device/nonce, then the release against the
 * root for the hardware and counter, then the digest binding.
 */
AIRLOCK_MUST_USE airlock_err agent_verify_answer(struct agent *a, uint64_t min_sv, uint64_t now,
						 struct agent_checkin *c);

/* Fetches /api/v1/root and follows the chain to it (capped). OK if the
 * trusted root is already the newest. */
AIRLOCK_MUST_USE airlock_err agent_root_refresh(struct agent *a, char *detail, size_t cap);

#endif
