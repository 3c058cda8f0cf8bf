/*
 * Fuzz target for the verification paths: the input is a signed release
 * file (and, the same bytes, a directive) checked against a root built once
 * in memory with the public keys of tests/vectors (release-1..3 as a 2-of-3
 * release role, director-1 as the director), so that the vector files in
 * the seed corpus verify and their mutations exercise every check.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "airlock/meta.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const pubs[4] = {
	"9acd1928e84c0e40f71f0847e75e575f729e7f70b9c0fbc3031e10e8e3180599",
	"c42a600b042965ca9ad73853f1b25fbd81c930275b0b377a070b8ee6ef6a6c10",
	"457a6c625008c877851c3e46394c42b0e7f1c7ac08d36a609be8a9124bcb9592",
	"04715d6411cd96d64708730fc06d3b4ecd820f110d4e11b6f83fc73b7d6a632dd4cb225203178ec60c24f5cb09d5a2ce2f7bc582c2a8dc1d49146abc1023eac8b6",
};

static uint8_t nib(char c)
{
	return (uint8_t)(c <= '9' ? c - '0' : c - 'a' + 10);
}

static void root_init(struct airlock_root *r, uint8_t pub[4][AIRLOCK_PUB_MAX_LEN])
{
	for (size_t i = 0; i < 4; i++) {
		struct airlock_key *k = &r->keys[i];
		for (k->pub.len = 0; pubs[i][2 * k->pub.len]; k->pub.len++)
			pub[i][k->pub.len] = (uint8_t)(nib(pubs[i][2 * k->pub.len]) << 4 | nib(pubs[i][2 * k->pub.len + 1]));
		k->pub.ptr = pub[i];
		k->alg = i < 3 ? AIRLOCK_ALG_ED25519 : AIRLOCK_ALG_P256;
		if (airlock_keyid(k->pub.ptr, k->pub.len, k->keyid) != AIRLOCK_OK)
			abort();
	}
	r->n_keys = 4;
	r->version = 1;
	r->expires = 1900000000;
	r->roles[AIRLOCK_ROLE_RELEASE] = (struct airlock_role_keys){ 2, 3, { r->keys[0].keyid, r->keys[1].keyid, r->keys[2].keyid } };
	r->roles[AIRLOCK_ROLE_DIRECTOR] = (struct airlock_role_keys){ 1, 1, { r->keys[3].keyid } };
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct airlock_root root;
	static uint8_t pub[4][AIRLOCK_PUB_MAX_LEN];
	static const uint8_t nonce[32] = { 0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
					   0xb0, 0xb1, 0xb2, 0xb3, 0xb4, 0xb5, 0xb6, 0xb7, 0xb8, 0xb9, 0xba, 0xbb, 0xbc, 0xbd, 0xbe, 0xbf };
	if (root.n_keys == 0)
		root_init(&root, pub);
	struct airlock_release rel;
	struct airlock_release_policy rp = { "board-a", 7, 1700000000 };
	uint8_t digest[AIRLOCK_SHA256_LEN];
	if (airlock_release_verify(&root, data, size, &rp, &rel, digest, NULL) == AIRLOCK_OK &&
	    (rel.n_payloads == 0 || rel.security_version < 7))
		abort();
	struct airlock_directive dir;
	struct airlock_directive_policy dp = { "device-0001", nonce, sizeof nonce, 1700000000 };
	if (airlock_directive_verify(&root, data, size, &dp, &dir, NULL) == AIRLOCK_OK && dir.nonce.len != sizeof nonce)
		abort();
	return 0;
}
