/*
 * The fleet's X.509 side, over OpenSSL: the development CA that `init`
 * creates, the server's TLS certificate, and device certificates issued from
 * a CSR at enrollment. Device certificates carry the device id as subject CN,
 * clientAuth as their only extended key usage, and a random 128-bit serial.
 */
#ifndef AIRLOCK_SERVER_PKI_H
#define AIRLOCK_SERVER_PKI_H

#include <stddef.h>
#include <stdint.h>

#include "airlock/error.h"

#define PKI_MAX_PEM (16u * 1024u)

struct pki_ca;  /* a CA certificate with its private key */

/* Creates a self-signed CA (ECDSA P-256) valid for `days`, writing key_path
 * (0600, never overwritten) and cert_path. */
AIRLOCK_MUST_USE airlock_err pki_create_ca(const char *name, unsigned days, const char *key_path, const char *cert_path);
AIRLOCK_MUST_USE airlock_err pki_ca_load(const char *key_path, const char *cert_path, struct pki_ca **out);
void pki_ca_free(struct pki_ca *ca);

/* A TLS server certificate (ECDSA P-256 key) for the given DNS names and IP
 * addresses (comma-separated "localhost,127.0.0.1"), signed by ca. */
AIRLOCK_MUST_USE airlock_err pki_issue_server(const struct pki_ca *ca, const char *names, unsigned days,
					      const char *key_path, const char *cert_path);

/*
 * Issues a device certificate from a PEM CSR: the CSR's signature must
 * verify (proof of possession) and its key must be P-256 or Ed25519; the
 * subject is replaced by CN=device_id, whatever the CSR asked for.
 * *pem (malloc'd, NUL-terminated) receives the certificate; *sha256 the
 * SHA-256 of its DER, *serial_hex its serial (33 bytes), *not_after its expiry.
 * AIRLOCK_ERR_MALFORMED for a CSR that does not parse, AIRLOCK_ERR_BAD_SIGNATURE
 * for one whose signature fails, AIRLOCK_ERR_UNSUPPORTED_ALG for other keys.
 */
AIRLOCK_MUST_USE airlock_err pki_sign_csr(const struct pki_ca *ca, const char *csr_pem, size_t csr_len,
					  const char *device_id, unsigned days, char **pem,
					  uint8_t sha256[32], char serial_hex[33], int64_t *not_after);

/* For tests and the device simulator: a new P-256 key (PEM written to
 * key_path, 0600) and a CSR for it (malloc'd PEM). */
AIRLOCK_MUST_USE airlock_err pki_make_csr(const char *key_path, const char *cn, char **csr_pem);

#endif
