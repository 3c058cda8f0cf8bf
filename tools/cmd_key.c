/* airlock key generate | id */
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const char gen_usage[] =
	"usage: airlock key generate --alg ed25519|p256|x25519 --out NAME\n"
	"\n"
	"Writes NAME.key (private, PEM PKCS#8, mode 0600) and NAME.pub (public, PEM).\n"
	"Never overwrites: an existing NAME.key or NAME.pub is an error.\n"
	"ed25519 and p256 keys sign metadata; x25519 keys receive wrapped content keys.\n";

static const char id_usage[] =
	"usage: airlock key id FILE...\n"
	"\n"
	"Prints the key id (SHA-256 of the raw public key) and algorithm of each\n"
	"public (.pub) or private (.key) key file.\n";

static int key_generate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "alg", required_argument, NULL, 'a' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *alg_name = NULL, *out = NULL;
	int c;
	cli_cmd = "airlock key generate";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a': alg_name = optarg; break;
		case 'o': out = optarg; break;
		case 'h': fputs(gen_usage, stdout); return EXIT_OK;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!alg_name || !out)
		return cli_usage_error("--alg and --out are required");
	enum airlock_alg alg;
	if (airlock_alg_parse(alg_name, &alg) != AIRLOCK_OK)
		return cli_usage_error("unknown algorithm '%s' (ed25519, p256, x25519)", alg_name);

	char key_path[PATH_MAX], pub_path[PATH_MAX];
	if ((size_t)snprintf(key_path, sizeof key_path, "%s.key", out) >= sizeof key_path ||
	    (size_t)snprintf(pub_path, sizeof pub_path, "%s.pub", out) >= sizeof pub_path)
		return cli_usage_error("--out is too long");
	if (access(pub_path, F_OK) == 0)
		return cli_fail(AIRLOCK_ERR_EXISTS, "%s", pub_path);

	struct airlock_privkey *key = NULL;
	uint8_t pub[AIRLOCK_PUB_MAX_LEN], keyid[AIRLOCK_KEYID_LEN];
	size_t pub_len;
	airlock_err err = airlock_privkey_generate(alg, &key);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "generating a %s key", alg_name);
	err = airlock_privkey_public(key, pub, &pub_len);
	if (err == AIRLOCK_OK)
		err = airlock_keyid(pub, pub_len, keyid);
	if (err != AIRLOCK_OK) {
		airlock_privkey_free(key);
		return cli_fail(err, "deriving the public key");
	}
	err = airlock_privkey_save(key, key_path);
	airlock_privkey_free(key);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", key_path);
	err = airlock_pubkey_save(alg, pub, pub_len, pub_path);
	if (err != AIRLOCK_OK) {
		/* No half-made pair: without its .pub the .key is useless and confusing. */
		unlink(key_path);
		return cli_fail(err, "%s", pub_path);
	}
	char hex[2 * AIRLOCK_KEYID_LEN + 1];
	cli_hex(keyid, sizeof keyid, hex);
	printf("%s key %s\n  private: %s (mode 0600)\n  public:  %s\n", alg_name, hex, key_path, pub_path);
	return EXIT_OK;
}

static int key_id(int argc, char **argv)
{
	cli_cmd = "airlock key id";
	if (argc < 2)
		return cli_usage_error("no key file given");
	if (strcmp(argv[1], "--help") == 0) {
		fputs(id_usage, stdout);
		return EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		uint8_t pub[AIRLOCK_PUB_MAX_LEN], keyid[AIRLOCK_KEYID_LEN];
		size_t pub_len;
		enum airlock_alg alg;
		airlock_err err = airlock_pubkey_load(argv[i], &alg, pub, &pub_len);
		if (err == AIRLOCK_ERR_BAD_KEY_FILE) {
			struct airlock_privkey *key;
			err = airlock_privkey_load(argv[i], &key);
			if (err == AIRLOCK_OK) {
				alg = airlock_privkey_alg(key);
				err = airlock_privkey_public(key, pub, &pub_len);
				airlock_privkey_free(key);
			}
		}
		if (err == AIRLOCK_OK)
			err = airlock_keyid(pub, pub_len, keyid);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "%s", argv[i]);
		char hex[2 * AIRLOCK_KEYID_LEN + 1];
		cli_hex(keyid, sizeof keyid, hex);
		printf("%s %s %s\n", hex, airlock_alg_name(alg), argv[i]);
	}
	return EXIT_OK;
}

int cmd_key(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "generate") == 0)
		return key_generate(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "id") == 0)
		return key_id(argc - 1, argv + 1);
	cli_cmd = "airlock key";
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("%s\n%s", gen_usage, id_usage);
		return EXIT_OK;
	}
	return cli_usage_error("expected 'generate' or 'id'");
}
