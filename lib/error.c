#include "airlock/error.h"

#include <stddef.h>

struct err_entry {
	const char *name;
	const char *text;
};

#define E(code, text) [code] = { #code, text }
static const struct err_entry table[AIRLOCK_ERR__COUNT] = {
	E(AIRLOCK_OK, "success"),
	E(AIRLOCK_ERR_INVALID_ARG, "invalid argument"),
	E(AIRLOCK_ERR_NOMEM, "out of memory"),
	E(AIRLOCK_ERR_BUFFER_TOO_SMALL, "output buffer too small"),
	E(AIRLOCK_ERR_CRYPTO, "crypto backend failure"),
	E(AIRLOCK_ERR_IO_OPEN, "cannot open file"),
	E(AIRLOCK_ERR_IO_READ, "read error"),
	E(AIRLOCK_ERR_IO_WRITE, "write error"),
	E(AIRLOCK_ERR_IO_SYNC, "sync error"),
	E(AIRLOCK_ERR_EXISTS, "file exists, refusing to overwrite"),
	E(AIRLOCK_ERR_BAD_KEY_FILE, "not a usable key file"),
	E(AIRLOCK_ERR_KEY_PERMS, "private key file is accessible by group or others"),
	E(AIRLOCK_ERR_MALFORMED, "malformed encoding"),
	E(AIRLOCK_ERR_NONCANONICAL, "non-canonical encoding"),
	E(AIRLOCK_ERR_DUPLICATE_KEY, "duplicate or misordered map key"),
	E(AIRLOCK_ERR_UNKNOWN_FIELD, "unknown critical field"),
	E(AIRLOCK_ERR_MISSING_FIELD, "required field missing"),
	E(AIRLOCK_ERR_WRONG_TYPE, "wrong type"),
	E(AIRLOCK_ERR_TRAILING_DATA, "trailing data after the end"),
	E(AIRLOCK_ERR_LIMIT, "count or depth above the fixed limit"),
	E(AIRLOCK_ERR_BAD_VALUE, "field value not allowed"),
	E(AIRLOCK_ERR_BAD_NAME, "name not allowed"),
	E(AIRLOCK_ERR_UNSUPPORTED_VERSION, "unsupported format version"),
	E(AIRLOCK_ERR_UNSUPPORTED_ALG, "unsupported algorithm"),
	E(AIRLOCK_ERR_TOO_LARGE, "larger than allowed"),
	E(AIRLOCK_ERR_BAD_KEY, "invalid public key"),
	E(AIRLOCK_ERR_BAD_SIGNATURE, "signature does not verify"),
	E(AIRLOCK_ERR_UNKNOWN_KEY, "signed by a key the root does not list"),
	E(AIRLOCK_ERR_WRONG_ROLE, "signed by a key not authorized for this role"),
	E(AIRLOCK_ERR_THRESHOLD, "not enough distinct valid signatures"),
	E(AIRLOCK_ERR_EXPIRED, "metadata expired (possible freeze attack)"),
	E(AIRLOCK_ERR_ROOT_VERSION, "root version is not the next one"),
	E(AIRLOCK_ERR_ROLLBACK, "security version lower than the device's"),
	E(AIRLOCK_ERR_HARDWARE_MISMATCH, "release is not for this hardware"),
	E(AIRLOCK_ERR_DEVICE_MISMATCH, "directive is for another device"),
	E(AIRLOCK_ERR_NONCE_MISMATCH, "directive is not bound to this check-in's nonce"),
	E(AIRLOCK_ERR_RELEASE_MISMATCH, "directive names another release"),
	E(AIRLOCK_ERR_NOT_FOUND, "not found"),
	E(AIRLOCK_ERR_DUPLICATE_SIGNER, "key already signed (counted once)"),
	E(AIRLOCK_ERR_ROOT_CHAIN, "root chain too long"),
	E(AIRLOCK_ERR_DIGEST_MISMATCH, "digest mismatch"),
	E(AIRLOCK_ERR_SIZE_MISMATCH, "size differs from the signed size"),
	E(AIRLOCK_ERR_AEAD_TAG, "chunk authentication failed"),
	E(AIRLOCK_ERR_AEAD_TRUNCATED, "encrypted stream truncated"),
	E(AIRLOCK_ERR_AEAD_EXTENDED, "data after the last encrypted chunk"),
	E(AIRLOCK_ERR_KEY_UNWRAP, "content key cannot be unwrapped"),
	E(AIRLOCK_ERR_NETWORK, "network failure"),
	E(AIRLOCK_ERR_TOO_SLOW, "transfer slower than the minimum rate"),
	E(AIRLOCK_ERR_HTTP_STATUS, "unexpected HTTP status"),
	E(AIRLOCK_ERR_TLS, "TLS handshake or certificate verification failed"),
	E(AIRLOCK_ERR_TLS_NAME, "server certificate name or pin mismatch"),
	E(AIRLOCK_ERR_BAD_RANGE, "server did not honour the requested range"),
	E(AIRLOCK_ERR_NO_SPACE, "not enough space"),
	E(AIRLOCK_ERR_BOOT_RECORD, "boot-control record invalid"),
	E(AIRLOCK_ERR_STATE, "agent state invalid for this step"),
	E(AIRLOCK_ERR_BUSY, "another install is in progress"),
	E(AIRLOCK_ERR_HEALTH_CHECK, "health check failed"),
	E(AIRLOCK_ERR_POWER_CUT, "power cut (simulated)"),
	E(AIRLOCK_ERR_DELTA_BASE_MISMATCH, "delta base is not the active image"),
	E(AIRLOCK_ERR_DELTA_CORRUPT, "delta stream corrupt"),
	E(AIRLOCK_ERR_CANCELLED, "cancelled"),
};
#undef E

static const struct err_entry *lookup(airlock_err err)
{
	if ((unsigned)err >= AIRLOCK_ERR__COUNT || table[err].name == NULL)
		return NULL;
	return &table[err];
}

const char *airlock_err_name(airlock_err err)
{
	const struct err_entry *e = lookup(err);
	return e ? e->name : "AIRLOCK_ERR_UNKNOWN";
}

const char *airlock_strerror(airlock_err err)
{
	const struct err_entry *e = lookup(err);
	return e ? e->text : "unknown error";
}
