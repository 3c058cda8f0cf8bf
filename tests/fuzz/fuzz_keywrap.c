/*
 * Fuzz target for the key wrap decoder and unwrap (lib/keywrap.c).
 *
 * The input is decoded as a CBOR wrapped key. A failure must be one of the
 * decoder's documented errors and leave the cursor in place; a success must
 * re-encode to exactly the bytes consumed (deterministic CBOR). The decoded
 * wrap is then opened with a fixed X25519 test key, as it came and with its
 * recipient id set to that key's id so that the key agreement, HKDF and GCM
 * run on fuzzed bytes: no input can unwrap (that would be a forgery), and a
 * refusal must leave the output wiped.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/cbor.h"
#include "airlock/crypto.h"
#include "airlock/keywrap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Generated once per process: fine for a fuzzer, never for a device. */
static struct airlock_privkey *test_key;
static uint8_t test_id[AIRLOCK_KEYID_LEN];

static void must(airlock_err err)
{
	if (err != AIRLOCK_OK)
		abort();
}

static void wiped(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != 0)
			abort();
}

/* Creates the key and checks that a genuine wrap survives the round trip. */
static void init_once(void)
{
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], ck[AIRLOCK_CONTENT_KEY_LEN], out[AIRLOCK_CONTENT_KEY_LEN];
	uint8_t buf[AIRLOCK_KEYWRAP_CBOR_LEN];
	struct airlock_wrapped_key w, back;
	struct airlock_cbor_enc e;
	struct airlock_cbor_dec d;
	size_t len;

	must(airlock_privkey_generate(AIRLOCK_ALG_X25519, &test_key));
	must(airlock_privkey_public(test_key, pub, &len));
	if (len != AIRLOCK_X25519_LEN)
		abort();
	must(airlock_keyid(pub, len, test_id));
	memset(ck, 0x42, sizeof ck);
	must(airlock_keywrap_seal(ck, pub, &w));
	airlock_cbor_enc_init(&e, buf, sizeof buf);
	airlock_keywrap_encode(&w, &e);
	must(airlock_cbor_enc_finish(&e, &len));
	airlock_cbor_dec_init(&d, buf, len);
	must(airlock_keywrap_decode(&d, &back));
	must(airlock_cbor_dec_finish(&d));
	must(airlock_keywrap_open(&back, test_key, out));
	if (memcmp(out, ck, sizeof ck) != 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct airlock_wrapped_key w;
	struct airlock_cbor_dec d;
	struct airlock_cbor_enc e;
	uint8_t buf[AIRLOCK_KEYWRAP_CBOR_LEN], out[AIRLOCK_CONTENT_KEY_LEN];
	size_t len;

	if (!test_key)
		init_once();

	airlock_cbor_dec_init(&d, data, size);
	airlock_err err = airlock_keywrap_decode(&d, &w);
	if (err != AIRLOCK_OK) {
		if (err != AIRLOCK_ERR_MALFORMED && err != AIRLOCK_ERR_NONCANONICAL &&
		    err != AIRLOCK_ERR_WRONG_TYPE && err != AIRLOCK_ERR_BAD_VALUE)
			abort();
		if (d.p != data)
			abort();
		return 0;
	}

	size_t consumed = (size_t)(d.p - data);
	airlock_cbor_enc_init(&e, buf, sizeof buf);
	airlock_keywrap_encode(&w, &e);
	must(airlock_cbor_enc_finish(&e, &len));
	if (len != consumed || memcmp(buf, data, len) != 0)
		abort();

	memset(out, 0xaa, sizeof out);
	if (airlock_keywrap_open(&w, test_key, out) != AIRLOCK_ERR_KEY_UNWRAP)
		abort();
	wiped(out, sizeof out);

	memcpy(w.recipient, test_id, sizeof test_id);
	memset(out, 0xaa, sizeof out);
	if (airlock_keywrap_open(&w, test_key, out) != AIRLOCK_ERR_KEY_UNWRAP)
		abort();
	wiped(out, sizeof out);
	return 0;
}
