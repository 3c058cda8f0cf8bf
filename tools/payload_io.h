/* Streaming payload work for the CLI: create (digest, chunk list, encryption)
 * and verify (plaintext or ciphertext), one pass over the file, bounded memory. */
#ifndef AIRLOCK_PAYLOAD_IO_H
#define AIRLOCK_PAYLOAD_IO_H

#include <stdbool.h>
#include <stdint.h>

#include "airlock/meta.h"

#define PAYLOAD_IO_BUF (1024u * 1024u)

struct payload_key {
	bool loaded;
	uint8_t key[AIRLOCK_AES256_KEY_LEN];
};

/* Unwraps the release's content key from a keys file with an X25519 private key. */
int payload_key_load(struct payload_key *k, const char *privkey_path, const char *keys_path);
void payload_key_wipe(struct payload_key *k);

/* Streams FILE against p: plaintext, or (for an encrypted payload whose file
 * has the signed ciphertext size) ciphertext, decrypted when key != NULL. */
int payload_verify_file(const struct airlock_payload *p, const char *path, const struct payload_key *key);

/* What creating a payload produced; p's pointers view this struct. */
struct payload_made {
	char name[AIRLOCK_MAX_NAME_LEN + 1];
	uint8_t digest[AIRLOCK_SHA256_LEN];
	uint8_t prefix[AIRLOCK_NONCE_PREFIX_LEN];
	uint8_t enc_sha256[AIRLOCK_SHA256_LEN];
	struct airlock_payload p;
};

/* Hashes FILE into its chunk-digest list (written to chunks_path) and, if
 * cek != NULL, encrypts it to enc_path. Outputs appear only on success. */
int payload_create(const char *name, const char *path, uint32_t chunk_size, const char *chunks_path,
		   const uint8_t *cek, const char *enc_path, struct payload_made *out);

/* Keys file: [1, [wrapped key...]] */
#define KEYS_FILE_FORMAT 1
#define KEYS_FILE_MAX (64u * 1024u)
#define KEYS_MAX_RECIPIENTS 64

#endif
