/*
 * Replays tests/vectors/vectors.txt (written by tests/vectors/gen_vectors.c
 * from fixed keys; the format is described at the top of that file and in
 * tests/vectors/README.md) and checks each verdict with the library. Every
 * vector's name and verdict is printed; the test fails if any verdict
 * differs or if fewer than MIN_VECTORS ran.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/meta.h"
#include "airlock/payload.h"
#include "testutil.h"

#define VEC_DIR AIRLOCK_TEST_DATA "/vectors/"
#define MIN_VECTORS 20
#define MAX_PAYLOAD_ARGS 8

struct vec {
	const char *kind, *file, *name;
	const char *root, *hardware, *device, *nonce, *release;
	const char *alg, *pub, *keyid;
	uint64_t min_sv, now;
	size_t n_payload, n_chunks;
	const char *payload[MAX_PAYLOAD_ARGS], *chunks[MAX_PAYLOAD_ARGS];
	bool have_expect;
	airlock_err expect;
};

static uint8_t *read_vec_file(const char *name, size_t *len)
{
	char path[4096];
	assert_true((size_t)snprintf(path, sizeof path, "%s%s", VEC_DIR, name) < sizeof path);
	return test_read_file(path, len);
}

static bool parse_err_name(const char *s, airlock_err *out)
{
	for (int e = 0; e < AIRLOCK_ERR__COUNT; e++) {
		if (strcmp(airlock_err_name((airlock_err)e), s) == 0) {
			*out = (airlock_err)e;
			return true;
		}
	}
	return false;
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	assert_true(*s != 0 && *end == 0);
	return (uint64_t)v;
}

/* Splits one manifest line (modified in place) into a vector. */
static void parse_line(char *line, struct vec *v)
{
	char *save = NULL;
	memset(v, 0, sizeof *v);
	v->kind = strtok_r(line, " \t", &save);
	v->file = strtok_r(NULL, " \t", &save);
	assert_non_null(v->kind);
	assert_non_null(v->file);
	v->name = v->file;
	for (char *tok = strtok_r(NULL, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
		char *eq = strchr(tok, '=');
		assert_non_null(eq);
		*eq = 0;
		const char *k = tok, *val = eq + 1;
		if (strcmp(k, "expect") == 0) {
			if (!parse_err_name(val, &v->expect)) {
				print_error("unknown error name %s\n", val);
				fail();
			}
			v->have_expect = true;
		} else if (strcmp(k, "name") == 0) {
			v->name = val;
		} else if (strcmp(k, "root") == 0) {
			v->root = val;
		} else if (strcmp(k, "hardware") == 0) {
			v->hardware = val;
		} else if (strcmp(k, "min_sv") == 0) {
			v->min_sv = parse_u64(val);
		} else if (strcmp(k, "now") == 0) {
			v->now = parse_u64(val);
		} else if (strcmp(k, "device") == 0) {
			v->device = val;
		} else if (strcmp(k, "nonce") == 0) {
			v->nonce = val;
		} else if (strcmp(k, "release") == 0) {
			v->release = val;
		} else if (strcmp(k, "payload") == 0) {
			assert_true(v->n_payload < MAX_PAYLOAD_ARGS);
			v->payload[v->n_payload++] = val;
		} else if (strcmp(k, "chunks") == 0) {
			assert_true(v->n_chunks < MAX_PAYLOAD_ARGS);
			v->chunks[v->n_chunks++] = val;
		} else if (strcmp(k, "alg") == 0) {
			v->alg = val;
		} else if (strcmp(k, "pub") == 0) {
			v->pub = val;
		} else if (strcmp(k, "keyid") == 0) {
			v->keyid = val;
		} else if (strcmp(k, "seed") == 0) {
			/* Deriving a key from its seed is not in the library's API;
			 * the seed is for other implementations. */
		} else {
			print_error("unknown key %s\n", k);
			fail();
		}
	}
	assert_true(v->have_expect);
}

/* "NAME:FILE" -> the name (length) and the file. */
static const char *split_arg(const char *arg, size_t *name_len)
{
	const char *colon = strchr(arg, ':');
	assert_non_null(colon);
	*name_len = (size_t)(colon - arg);
	return colon + 1;
}

static airlock_err check_payload(const struct airlock_release *rel, const struct vec *v, const char *arg)
{
	size_t name_len;
	const char *file = split_arg(arg, &name_len);
	const struct airlock_payload *p = airlock_release_find_payload(rel, arg, name_len);
	if (!p)
		return AIRLOCK_ERR_NOT_FOUND;

	uint8_t *list = NULL;
	size_t list_len = 0;
	for (size_t i = 0; i < v->n_chunks; i++) {
		size_t cn;
		const char *cfile = split_arg(v->chunks[i], &cn);
		if (cn == name_len && memcmp(v->chunks[i], arg, cn) == 0)
			list = read_vec_file(cfile, &list_len);
	}
	size_t len;
	uint8_t *data = read_vec_file(file, &len);
	airlock_err err = AIRLOCK_OK;
	struct airlock_payload_check c;
	if (list) {
		err = airlock_payload_list_verify(p, list, list_len);
		if (err != AIRLOCK_OK)
			goto out;
	}
	err = airlock_payload_check_init(&c, p, list);
	if (err != AIRLOCK_OK)
		goto out;
	/* With a list, feed whole chunks (each is refused at its boundary);
	 * without, odd pieces. */
	size_t step = list ? p->chunk_size : 1000;
	for (size_t off = 0; off < len && err == AIRLOCK_OK; off += step) {
		size_t take = len - off < step ? len - off : step;
		err = airlock_payload_check_update(&c, data + off, take);
	}
	airlock_err fin = airlock_payload_check_final(&c, NULL);
	if (err == AIRLOCK_OK)
		err = fin;
out:
	free(data);
	free(list);
	return err;
}

static airlock_err run_vector(const struct vec *v)
{
	airlock_err err;
	size_t len, root_len = 0;
	uint8_t *buf = NULL, *root_buf = NULL;
	struct airlock_root root;

	if (strcmp(v->kind, "key") == 0) {
		uint8_t pub[AIRLOCK_PUB_MAX_LEN], want[AIRLOCK_KEYID_LEN], got[AIRLOCK_KEYID_LEN];
		enum airlock_alg alg;
		assert_non_null(v->pub);
		assert_non_null(v->keyid);
		assert_err(airlock_alg_parse(v->alg, &alg), AIRLOCK_OK);
		size_t n = test_hex(v->pub, pub, sizeof pub);
		assert_int_equal(n, airlock_alg_pub_len(alg));
		test_hex(v->keyid, want, sizeof want);
		assert_err(airlock_keyid(pub, n, got), AIRLOCK_OK);
		return memcmp(got, want, sizeof got) == 0 ? AIRLOCK_OK : AIRLOCK_ERR_DIGEST_MISMATCH;
	}

	buf = read_vec_file(v->file, &len);
	if (strcmp(v->kind, "root") == 0) {
		err = airlock_root_load_trusted(buf, len, &root, NULL);
		goto out;
	}
	/* Every other kind needs a trusted root, which must load. */
	assert_non_null(v->root);
	root_buf = read_vec_file(v->root, &root_len);
	assert_err(airlock_root_load_trusted(root_buf, root_len, &root, NULL), AIRLOCK_OK);

	if (strcmp(v->kind, "root-update") == 0) {
		struct airlock_root next;
		err = airlock_root_update(&root, buf, len, &next, NULL, NULL);
	} else if (strcmp(v->kind, "release") == 0) {
		struct airlock_release_policy pol = { .hardware = v->hardware, .min_security_version = v->min_sv,
						      .now = v->now };
		struct airlock_release rel;
		err = airlock_release_verify(&root, buf, len, &pol, &rel, NULL, NULL);
		for (size_t i = 0; i < v->n_payload && err == AIRLOCK_OK; i++)
			err = check_payload(&rel, v, v->payload[i]);
	} else if (strcmp(v->kind, "directive") == 0) {
		uint8_t nonce[AIRLOCK_NONCE_MAX_LEN * 2];
		assert_non_null(v->device);
		assert_non_null(v->nonce);
		size_t nonce_len = test_hex(v->nonce, nonce, sizeof nonce);
		struct airlock_directive_policy pol = { .device_id = v->device, .nonce = nonce, .nonce_len = nonce_len,
							.now = v->now };
		struct airlock_directive dir;
		err = airlock_directive_verify(&root, buf, len, &pol, &dir, NULL);
		if (err == AIRLOCK_OK && v->release) {
			size_t rlen;
			uint8_t *rbuf = read_vec_file(v->release, &rlen);
			struct airlock_envelope env;
			uint8_t digest[AIRLOCK_SHA256_LEN];
			assert_err(airlock_envelope_parse(rbuf, rlen, AIRLOCK_RELEASE_MAX_LEN, &env), AIRLOCK_OK);
			assert_err(airlock_sha256(env.body.ptr, env.body.len, digest), AIRLOCK_OK);
			if (!dir.release_digest || !airlock_ct_equal(dir.release_digest, digest, sizeof digest))
				err = AIRLOCK_ERR_RELEASE_MISMATCH;
			free(rbuf);
		}
	} else {
		print_error("unknown vector kind %s\n", v->kind);
		fail();
		err = AIRLOCK_ERR_INVALID_ARG;
	}
out:
	free(root_buf);
	free(buf);
	return err;
}

static void test_vectors(void **state)
{
	(void)state;
	size_t len;
	char *text = (char *)test_read_file(VEC_DIR "vectors.txt", &len);
	unsigned ran = 0, failed = 0;
	char *save = NULL;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		while (*line == ' ' || *line == '\t')
			line++;
		if (*line == 0 || *line == '#')
			continue;
		struct vec v;
		parse_line(line, &v);
		airlock_err got = run_vector(&v);
		ran++;
		bool ok = got == v.expect;
		printf("%-4s %-12s %-40s %s%s%s\n", ok ? "ok" : "FAIL", v.kind, v.name, airlock_err_name(got),
		       ok ? "" : ", want ", ok ? "" : airlock_err_name(v.expect));
		if (!ok)
			failed++;
	}
	free(text);
	printf("%u vectors, %u failed\n", ran, failed);
	assert_int_equal(failed, 0);
	assert_true(ran >= MIN_VECTORS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
