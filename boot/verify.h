/*
 * airlock-boot's verifier: is the image in a slot exactly the payload of a
 * release signed under the device's root, for this hardware, at or above
 * the anti-rollback counter?
 *
 * No heap: the root, the release and the read buffer live in the caller's
 * struct boot_verifier (static storage in the simulator, a linker section
 * on a microcontroller), every size is a compile-time maximum, and
 * libairlock's parsers allocate nothing. The hash itself goes through the
 * crypto port: the OpenSSL port allocates its context internally; the
 * Cortex-M port (a later issue) brings a heap-free SHA-256 and signature
 * check behind the same crypto.h.
 */
#ifndef AIRLOCK_BOOT_VERIFY_H
#define AIRLOCK_BOOT_VERIFY_H

#include <stdint.h>

#include "airlock/error.h"
#include "airlock/meta.h"
#include "airlock/slot.h"

#define BOOT_READ_BUF 4096u

struct boot_verifier {
	uint8_t root_buf[AIRLOCK_ROOT_MAX_LEN];
	size_t root_len;
	struct airlock_root root;
	uint8_t release_buf[AIRLOCK_RELEASE_MAX_LEN];
	struct airlock_release release;
	uint8_t read_buf[BOOT_READ_BUF];
	const char *hardware;
	const char *payload;   /* NULL: the release's only payload */
};

/* What verification found for one slot. */
struct boot_slot_result {
	airlock_err err;               /* AIRLOCK_OK only if every check passed */
	const char *failed;            /* which check failed: "release", "payload", ... */
	char version[AIRLOCK_MAX_NAME_LEN + 1];
	uint64_t security_version;
	uint64_t size;
};

/* Loads and checks the trusted root (a threshold of its own root keys). */
AIRLOCK_MUST_USE airlock_err boot_verifier_load_root(struct boot_verifier *v, const char *root_path);

/*
 * Verifies the slot image at slot_path against the signed release at
 * release_path: signatures to the root, hardware id, security_version >=
 * min_secver, and the payload's digest over the slot's first `size` bytes,
 * streamed through read_buf.
 */
void boot_verify_slot(struct boot_verifier *v, const char *slot_path, const char *release_path,
		      uint64_t min_secver, struct boot_slot_result *res);

#endif
