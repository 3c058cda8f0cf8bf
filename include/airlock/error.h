/*
 * Airlock error codes: the one error enum of the project.
 *
 * Every fallible function in libairlock returns an airlock_err; results travel
 * through out-parameters. AIRLOCK_OK is 0, every failure is a distinct,
 * stable name that scripts, logs and tests may rely on. Front ends (CLI,
 * agent, server) add context; the library returns the bare code.
 *
 * Numbers are part of the ABI and of the CLI's documented output: append new
 * codes at the end, never renumber.
 */
#ifndef AIRLOCK_ERROR_H
#define AIRLOCK_ERROR_H

#define AIRLOCK_MUST_USE __attribute__((warn_unused_result))

typedef enum airlock_err {
	AIRLOCK_OK = 0,
	/* caller and environment */
	AIRLOCK_ERR_INVALID_ARG = 1,     /* API misuse: NULL, bad length, bad flag */
	AIRLOCK_ERR_NOMEM = 2,           /* an allocation failed (host-side code only) */
	AIRLOCK_ERR_BUFFER_TOO_SMALL = 3,/* caller's output buffer cannot hold the result */
	AIRLOCK_ERR_CRYPTO = 4,          /* the crypto backend failed internally */
	AIRLOCK_ERR_IO_OPEN = 5,
	AIRLOCK_ERR_IO_READ = 6,
	AIRLOCK_ERR_IO_WRITE = 7,
	AIRLOCK_ERR_IO_SYNC = 8,
	AIRLOCK_ERR_EXISTS = 9,          /* refusing to overwrite an existing file */
	AIRLOCK_ERR_BAD_KEY_FILE = 10,   /* key file unreadable as a key of that kind */
	AIRLOCK_ERR_KEY_PERMS = 11,      /* private key file readable by group/others */
	/* encoding (CBOR and framing) */
	AIRLOCK_ERR_MALFORMED = 20,      /* not well-formed, or length beyond the input */
	AIRLOCK_ERR_NONCANONICAL = 21,   /* well-formed but not deterministic CBOR */
	AIRLOCK_ERR_DUPLICATE_KEY = 22,  /* map key repeated (or keys out of order) */
	AIRLOCK_ERR_UNKNOWN_FIELD = 23,  /* unknown critical (non-negative) map key */
	AIRLOCK_ERR_MISSING_FIELD = 24,
	AIRLOCK_ERR_WRONG_TYPE = 25,     /* a CBOR item or metadata of the wrong type */
	AIRLOCK_ERR_TRAILING_DATA = 26,
	AIRLOCK_ERR_LIMIT = 27,          /* a count or nesting depth above a fixed maximum */
	AIRLOCK_ERR_BAD_VALUE = 28,      /* field present but its value is not allowed */
	AIRLOCK_ERR_BAD_NAME = 29,       /* payload or component name not allowed */
	AIRLOCK_ERR_UNSUPPORTED_VERSION = 30,
	AIRLOCK_ERR_UNSUPPORTED_ALG = 31,
	AIRLOCK_ERR_TOO_LARGE = 32,      /* input above its byte limit */
	/* trust */
	AIRLOCK_ERR_BAD_KEY = 40,        /* public key bytes invalid for the algorithm */
	AIRLOCK_ERR_BAD_SIGNATURE = 41,  /* a signature by a listed key does not verify */
	AIRLOCK_ERR_UNKNOWN_KEY = 42,    /* signed by a key the root does not list */
	AIRLOCK_ERR_WRONG_ROLE = 43,     /* signed by a key listed, but not for this role */
	AIRLOCK_ERR_THRESHOLD = 44,      /* fewer distinct valid signatures than the threshold */
	AIRLOCK_ERR_EXPIRED = 45,
	AIRLOCK_ERR_ROOT_VERSION = 46,   /* next root is not exactly version N+1 */
	AIRLOCK_ERR_ROLLBACK = 47,       /* security_version below the device's */
	AIRLOCK_ERR_HARDWARE_MISMATCH = 48,
	AIRLOCK_ERR_DEVICE_MISMATCH = 49,
	AIRLOCK_ERR_NONCE_MISMATCH = 50,
	AIRLOCK_ERR_RELEASE_MISMATCH = 51, /* directive names another release digest */
	AIRLOCK_ERR_NOT_FOUND = 52,      /* e.g. no payload of that name in the release */
	AIRLOCK_ERR_DUPLICATE_SIGNER = 53, /* a second signature by a key that already signed */
	AIRLOCK_ERR_ROOT_CHAIN = 54,     /* root chain longer or larger than allowed */
	/* payload */
	AIRLOCK_ERR_DIGEST_MISMATCH = 60,
	AIRLOCK_ERR_SIZE_MISMATCH = 61,  /* payload ended before its signed size */
	AIRLOCK_ERR_AEAD_TAG = 62,       /* a chunk failed authentication */
	AIRLOCK_ERR_AEAD_TRUNCATED = 63, /* stream ended without an authenticated last chunk */
	AIRLOCK_ERR_AEAD_EXTENDED = 64,  /* bytes after the authenticated last chunk */
	AIRLOCK_ERR_KEY_UNWRAP = 65,     /* content key not wrapped for this recipient, or tampered */

	/* device side: transport, slots, boot control, agent state */
	AIRLOCK_ERR_NETWORK = 70,        /* connection refused, reset or lost */
	AIRLOCK_ERR_TOO_SLOW = 71,       /* transfer below the minimum rate (slow retrieval) */
	AIRLOCK_ERR_HTTP_STATUS = 72,    /* the server answered with an unexpected status */
	AIRLOCK_ERR_TLS = 73,            /* TLS handshake or certificate verification failed */
	AIRLOCK_ERR_TLS_NAME = 74,       /* server certificate not for the configured name, or pin mismatch */
	AIRLOCK_ERR_BAD_RANGE = 75,      /* a resumed download was not answered with the asked range */
	AIRLOCK_ERR_NO_SPACE = 76,       /* payload larger than the slot, or disk full */
	AIRLOCK_ERR_BOOT_RECORD = 77,    /* boot-control record unreadable, torn or inconsistent */
	AIRLOCK_ERR_STATE = 78,          /* agent state file corrupt, or a step not allowed in this state */
	AIRLOCK_ERR_BUSY = 79,           /* another install holds the lock */
	AIRLOCK_ERR_HEALTH_CHECK = 80,   /* the trial boot's health check failed or timed out */
	AIRLOCK_ERR_POWER_CUT = 81,      /* simulated power cut (fault-injection builds and tests) */
	AIRLOCK_ERR_DELTA_BASE_MISMATCH = 82, /* delta made against another base image */
	AIRLOCK_ERR_DELTA_CORRUPT = 83,  /* delta stream invalid */
	AIRLOCK_ERR_CANCELLED = 84,      /* the operation was cancelled (signal, deployment cancelled) */
	AIRLOCK_ERR__COUNT
} airlock_err;

/* Stable symbolic name, e.g. "AIRLOCK_ERR_ROLLBACK"; never NULL. */
const char *airlock_err_name(airlock_err err);
/* One-line English description; never NULL. */
const char *airlock_strerror(airlock_err err);

#endif
