/* airlock root sign / airlock release sign: add exactly one signature. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static size_t max_len(enum airlock_meta_type type)
{
	return type == AIRLOCK_META_ROOT ? AIRLOCK_ROOT_MAX_LEN : AIRLOCK_RELEASE_MAX_LEN;
}

/* Parses the body before signing it: a key holder never signs bytes that a
 * device would refuse to parse. */
static airlock_err check_body(enum airlock_meta_type type, const struct airlock_envelope *env,
			      struct airlock_root *root_out)
{
	struct airlock_release rel;
	if (type == AIRLOCK_META_ROOT)
		return airlock_root_parse_body(env->body.ptr, env->body.len, root_out);
	return airlock_release_parse_body(env->body.ptr, env->body.len, &rel);
}

int cli_sign_file(int argc, char **argv, enum airlock_meta_type type)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "out", required_argument, NULL, 'o' },
		{ "root", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_path = NULL, *out = NULL, *root_path = NULL, *in;
	const char *what = airlock_meta_type_name(type);
	enum airlock_role role = airlock_meta_role(type);
	uint8_t *buf = NULL, *root_buf = NULL, *file = NULL;
	struct airlock_privkey *key = NULL;
	struct airlock_envelope env;
	struct airlock_root self, trusted;
	size_t len, file_len;
	airlock_err err;
	int c, rc = EXIT_OK;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key_path = optarg; break;
		case 'o': out = optarg; break;
		case 'r':
			if (type != AIRLOCK_META_RELEASE)
				return cli_usage_error("--root belongs to 'release sign'");
			root_path = optarg;
			break;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("expected exactly one %s file", what);
	if (!key_path)
		return cli_usage_error("--key is required");
	in = argv[optind];

	err = cli_read_file(in, max_len(type), &buf, &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", in);
	err = airlock_envelope_parse(buf, len, max_len(type), &env);
	if (err == AIRLOCK_OK && env.type != type)
		err = AIRLOCK_ERR_WRONG_TYPE;
	if (err == AIRLOCK_OK)
		err = check_body(type, &env, &self);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s is not a valid %s", in, what);
		goto out;
	}

	err = airlock_privkey_load(key_path, &key);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", key_path);
		goto out;
	}
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], keyid[AIRLOCK_KEYID_LEN], sig[AIRLOCK_SIG_MAX_LEN];
	size_t pub_len;
	int64_t alg = airlock_privkey_alg(key);
	if (!airlock_alg_can_sign(alg)) {
		rc = cli_fail(AIRLOCK_ERR_UNSUPPORTED_ALG, "%s: an %s key cannot sign", key_path, airlock_alg_name(alg));
		goto out;
	}
	err = airlock_privkey_public(key, pub, &pub_len);
	if (err == AIRLOCK_OK)
		err = airlock_keyid(pub, pub_len, keyid);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", key_path);
		goto out;
	}
	for (size_t i = 0; i < env.n_sigs; i++) {
		if (memcmp(env.sigs[i].keyid, keyid, AIRLOCK_KEYID_LEN) == 0) {
			rc = cli_fail(AIRLOCK_ERR_DUPLICATE_SIGNER, "%s is already signed by key %s", in,
				      cli_keyid_short(keyid));
			goto out;
		}
	}
	if (env.n_sigs == AIRLOCK_MAX_SIGS) {
		rc = cli_fail(AIRLOCK_ERR_LIMIT, "%s already carries %d signatures", in, AIRLOCK_MAX_SIGS);
		goto out;
	}

	/* Which roots authorize this key: a root's own, or the one given. */
	if (root_path) {
		size_t root_len;
		err = cli_read_file(root_path, AIRLOCK_ROOT_MAX_LEN, &root_buf, &root_len);
		if (err == AIRLOCK_OK)
			err = airlock_root_load_trusted(root_buf, root_len, &trusted, NULL);
		if (err != AIRLOCK_OK) {
			rc = cli_fail(err, "%s", root_path);
			goto out;
		}
		if (!airlock_root_role_has(&trusted, role, keyid)) {
			err = airlock_root_find_key(&trusted, keyid) ? AIRLOCK_ERR_WRONG_ROLE : AIRLOCK_ERR_UNKNOWN_KEY;
			rc = cli_fail(err, "key %s is not a %s key of %s", cli_keyid_short(keyid),
				      airlock_role_name(role), root_path);
			goto out;
		}
	} else if (type == AIRLOCK_META_ROOT && !airlock_root_role_has(&self, role, keyid)) {
		cli_note("key %s is not a root key of this root: that is right only for a key of the "
			 "previous root, during a rotation", cli_keyid_short(keyid));
	}

	/* Duplicate and full envelopes were refused above with their own messages. */
	err = airlock_envelope_sign(&env, key, keyid, sig);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "signing with %s", key_path);
		goto out;
	}
	err = cli_encode_envelope(&env, &file, &file_len);
	if (err == AIRLOCK_OK)
		err = cli_write_file(out ? out : in, file, file_len, out == NULL);
	if (err != AIRLOCK_OK) {
		rc = cli_fail(err, "%s", out ? out : in);
		goto out;
	}
	printf("%s %s signed by %s key %s (%zu signature%s now)\n", what, out ? out : in,
	       airlock_alg_name(alg), cli_keyid_short(keyid), env.n_sigs, env.n_sigs == 1 ? "" : "s");
out:
	airlock_privkey_free(key);
	free(buf);
	free(root_buf);
	free(file);
	return rc;
}
