/* airlock root create | rotate | sign */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char create_usage[] =
	"usage: airlock root create --out FILE --expires DATE\n"
	"         --root-key K.pub... --root-threshold N\n"
	"         --release-key K.pub... --release-threshold N\n"
	"         --director-key K.pub... [--director-threshold N] [--version N]\n"
	"\n"
	"Writes an unsigned root: the public keys and, for each role, the key ids\n"
	"and how many of them must sign. Repeat --*-key for each key. DATE is\n"
	"YYYY-MM-DD, YYYY-MM-DDTHH:MM:SSZ, @EPOCH or +N{d,h,m}. --version defaults\n"
	"to 1, --director-threshold to 1. Then add signatures with 'airlock root sign'\n"
	"until the root threshold is met.\n";

static const char rotate_usage[] =
	"usage: airlock root rotate --from ROOT --out FILE --expires DATE\n"
	"         [--root-key K.pub... --root-threshold N]\n"
	"         [--release-key K.pub... --release-threshold N]\n"
	"         [--director-key K.pub... --director-threshold N]\n"
	"\n"
	"Writes the unsigned root N+1 from root N. Roles given replace root N's;\n"
	"the others are carried over. Root N+1 must then be signed by a threshold\n"
	"of root N's root keys AND a threshold of its own root keys.\n";

static const char sign_usage[] =
	"usage: airlock root sign FILE --key K.key [--out FILE2]\n"
	"\n"
	"Adds one signature to a root (in place unless --out). Run once per key\n"
	"holder, on that holder's offline machine.\n";

struct role_spec {
	bool given;
	bool threshold_given;
	uint64_t threshold;
	size_t n;
	int64_t alg[AIRLOCK_MAX_ROLE_KEYS];
	uint8_t pub[AIRLOCK_MAX_ROLE_KEYS][AIRLOCK_PUB_MAX_LEN];
	size_t pub_len[AIRLOCK_MAX_ROLE_KEYS];
	uint8_t keyid[AIRLOCK_MAX_ROLE_KEYS][AIRLOCK_KEYID_LEN];
	const char *path[AIRLOCK_MAX_ROLE_KEYS];
};

struct root_build {
	struct role_spec roles[AIRLOCK_ROLE_COUNT];
	/* storage the encoded struct points into */
	uint8_t pubs[AIRLOCK_MAX_KEYS][AIRLOCK_PUB_MAX_LEN];
	uint8_t keyids[AIRLOCK_MAX_KEYS][AIRLOCK_KEYID_LEN];
	struct airlock_root root;
};

static int add_key(struct role_spec *r, enum airlock_role role, const char *path)
{
	enum airlock_alg alg;
	if (r->n == AIRLOCK_MAX_ROLE_KEYS)
		return cli_fail(AIRLOCK_ERR_LIMIT, "more than %d %s keys", AIRLOCK_MAX_ROLE_KEYS, airlock_role_name(role));
	airlock_err err = airlock_pubkey_load(path, &alg, r->pub[r->n], &r->pub_len[r->n]);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	if (!airlock_alg_can_sign(alg))
		return cli_fail(AIRLOCK_ERR_UNSUPPORTED_ALG, "%s: an %s key cannot sign", path, airlock_alg_name(alg));
	err = airlock_keyid(r->pub[r->n], r->pub_len[r->n], r->keyid[r->n]);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	for (size_t i = 0; i < r->n; i++)
		if (memcmp(r->keyid[i], r->keyid[r->n], AIRLOCK_KEYID_LEN) == 0)
			return cli_usage_error("%s: key %s given twice for the %s role", path,
					       cli_keyid_short(r->keyid[i]), airlock_role_name(role));
	r->alg[r->n] = alg;
	r->path[r->n] = path;
	r->n++;
	r->given = true;
	return EXIT_OK;
}

/* Carries a role of an existing root over into a spec. */
static void copy_role(struct role_spec *r, const struct airlock_root *old, enum airlock_role role)
{
	const struct airlock_role_keys *rk = &old->roles[role];
	r->n = 0;
	for (size_t i = 0; i < rk->n_keyids; i++) {
		const struct airlock_key *k = airlock_root_find_key(old, rk->keyids[i]);
		r->alg[r->n] = k->alg;
		memcpy(r->pub[r->n], k->pub.ptr, k->pub.len);
		r->pub_len[r->n] = k->pub.len;
		memcpy(r->keyid[r->n], k->keyid, AIRLOCK_KEYID_LEN);
		r->n++;
	}
	r->threshold = rk->threshold;
}

static int cmp_keyid(const void *a, const void *b)
{
	return memcmp(*(const uint8_t *const *)a, *(const uint8_t *const *)b, AIRLOCK_KEYID_LEN);
}

static int cmp_key(const void *a, const void *b)
{
	return memcmp(((const struct airlock_key *)a)->keyid, ((const struct airlock_key *)b)->keyid,
		      AIRLOCK_KEYID_LEN);
}

/* Builds the root struct from the role specs: one entry per distinct key,
 * sorted by key id as the format requires. */
static int build(struct root_build *b, uint64_t version, uint64_t expires)
{
	struct airlock_root *root = &b->root;
	memset(root, 0, sizeof *root);
	root->version = version;
	root->expires = expires;
	for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		struct role_spec *r = &b->roles[role];
		struct airlock_role_keys *rk = &root->roles[role];
		if (r->n == 0)
			return cli_usage_error("no %s key given", airlock_role_name((enum airlock_role)role));
		if (r->threshold < 1 || r->threshold > r->n)
			return cli_usage_error("%s threshold %llu is not between 1 and the %zu keys given",
					       airlock_role_name((enum airlock_role)role),
					       (unsigned long long)r->threshold, r->n);
		rk->threshold = (uint32_t)r->threshold;
		for (size_t i = 0; i < r->n; i++) {
			const struct airlock_key *have = NULL;
			for (size_t k = 0; k < root->n_keys; k++)
				if (memcmp(root->keys[k].keyid, r->keyid[i], AIRLOCK_KEYID_LEN) == 0)
					have = &root->keys[k];
			if (!have) {
				if (root->n_keys == AIRLOCK_MAX_KEYS)
					return cli_fail(AIRLOCK_ERR_LIMIT, "more than %d distinct keys", AIRLOCK_MAX_KEYS);
				size_t k = root->n_keys++;
				memcpy(b->pubs[k], r->pub[i], r->pub_len[i]);
				memcpy(root->keys[k].keyid, r->keyid[i], AIRLOCK_KEYID_LEN);
				root->keys[k].alg = r->alg[i];
				root->keys[k].pub.ptr = b->pubs[k];
				root->keys[k].pub.len = r->pub_len[i];
			}
		}
	}
	qsort(root->keys, root->n_keys, sizeof root->keys[0], cmp_key);
	/* Role key ids point at the sorted keys' ids (stable storage). */
	for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		struct role_spec *r = &b->roles[role];
		struct airlock_role_keys *rk = &root->roles[role];
		rk->n_keyids = r->n;
		for (size_t i = 0; i < r->n; i++)
			rk->keyids[i] = airlock_root_find_key(root, r->keyid[i])->keyid;
		qsort(rk->keyids, rk->n_keyids, sizeof rk->keyids[0], cmp_keyid);
	}
	return EXIT_OK;
}

static int write_root(const struct airlock_root *root, const char *out)
{
	uint8_t body[AIRLOCK_ROOT_MAX_LEN];
	struct airlock_cbor_enc enc;
	struct airlock_envelope env;
	size_t body_len;
	uint8_t *file = NULL;
	size_t file_len;

	airlock_cbor_enc_init(&enc, body, sizeof body);
	airlock_root_encode_body(root, &enc);
	airlock_err err = airlock_cbor_enc_finish(&enc, &body_len);
	/* Parse what was encoded: the CLI never writes what a device would refuse. */
	struct airlock_root check;
	if (err == AIRLOCK_OK)
		err = airlock_root_parse_body(body, body_len, &check);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "encoding the root");
	memset(&env, 0, sizeof env);
	env.type = AIRLOCK_META_ROOT;
	env.body.ptr = body;
	env.body.len = body_len;
	err = cli_encode_envelope(&env, &file, &file_len);
	if (err == AIRLOCK_OK)
		err = cli_write_file(out, file, file_len, false);
	free(file);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", out);

	char exp[32];
	cli_format_time(root->expires, exp, sizeof exp);
	printf("root version %llu written to %s (unsigned), expires %s\n", (unsigned long long)root->version, out, exp);
	for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		const struct airlock_role_keys *rk = &root->roles[role];
		printf("  %-8s %u of %zu:", airlock_role_name((enum airlock_role)role), rk->threshold, rk->n_keyids);
		for (size_t i = 0; i < rk->n_keyids; i++)
			printf(" %s", cli_keyid_short(rk->keyids[i]));
		putchar('\n');
	}
	return EXIT_OK;
}

enum { OPT_OUT = 256, OPT_FROM, OPT_EXPIRES, OPT_VERSION, OPT_KEY_BASE = 300, OPT_THRESHOLD_BASE = 310 };

static int root_build_cmd(int argc, char **argv, bool rotate)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, OPT_OUT },
		{ "from", required_argument, NULL, OPT_FROM },
		{ "expires", required_argument, NULL, OPT_EXPIRES },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "root-key", required_argument, NULL, OPT_KEY_BASE + AIRLOCK_ROLE_ROOT },
		{ "release-key", required_argument, NULL, OPT_KEY_BASE + AIRLOCK_ROLE_RELEASE },
		{ "director-key", required_argument, NULL, OPT_KEY_BASE + AIRLOCK_ROLE_DIRECTOR },
		{ "root-threshold", required_argument, NULL, OPT_THRESHOLD_BASE + AIRLOCK_ROLE_ROOT },
		{ "release-threshold", required_argument, NULL, OPT_THRESHOLD_BASE + AIRLOCK_ROLE_RELEASE },
		{ "director-threshold", required_argument, NULL, OPT_THRESHOLD_BASE + AIRLOCK_ROLE_DIRECTOR },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct root_build b;  /* large; one per process */
	const char *out = NULL, *from = NULL, *expires_s = NULL;
	uint64_t version = 1, expires;
	bool version_given = false;
	int c, rc;

	cli_cmd = rotate ? "airlock root rotate" : "airlock root create";
	memset(&b, 0, sizeof b);
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c > OPT_KEY_BASE && c <= OPT_KEY_BASE + AIRLOCK_ROLE_DIRECTOR) {
			enum airlock_role role = (enum airlock_role)(c - OPT_KEY_BASE);
			if ((rc = add_key(&b.roles[role], role, optarg)) != EXIT_OK)
				return rc;
			continue;
		}
		if (c > OPT_THRESHOLD_BASE && c <= OPT_THRESHOLD_BASE + AIRLOCK_ROLE_DIRECTOR) {
			struct role_spec *r = &b.roles[c - OPT_THRESHOLD_BASE];
			if (!cli_parse_u64(optarg, &r->threshold) || r->threshold > UINT32_MAX)
				return cli_usage_error("bad threshold '%s'", optarg);
			r->threshold_given = true;
			continue;
		}
		switch (c) {
		case OPT_OUT: out = optarg; break;
		case OPT_FROM: from = optarg; break;
		case OPT_EXPIRES: expires_s = optarg; break;
		case OPT_VERSION:
			if (!cli_parse_u64(optarg, &version) || version == 0)
				return cli_usage_error("bad version '%s'", optarg);
			version_given = true;
			break;
		case 'h': fputs(rotate ? rotate_usage : create_usage, stdout); return EXIT_OK;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind != argc)
		return cli_usage_error("unexpected argument '%s'", argv[optind]);
	if (!out || !expires_s)
		return cli_usage_error("--out and --expires are required");
	if (!cli_parse_time(expires_s, cli_now(), &expires))
		return cli_usage_error("bad date '%s'", expires_s);
	if (expires <= cli_now())
		return cli_usage_error("--expires %s is in the past", expires_s);
	if (rotate && !from)
		return cli_usage_error("--from is required");
	if (!rotate && from)
		return cli_usage_error("--from belongs to 'root rotate'");
	if (rotate && version_given)
		return cli_usage_error("rotate always writes version N+1; --version is not allowed");

	uint8_t *old_buf = NULL;
	struct airlock_root old;
	if (rotate) {
		size_t old_len;
		struct airlock_sig_report rep;
		airlock_err err = cli_read_file(from, AIRLOCK_ROOT_MAX_LEN, &old_buf, &old_len);
		if (err != AIRLOCK_OK)
			return cli_fail(err, "%s", from);
		err = airlock_root_load_trusted(old_buf, old_len, &old, &rep);
		if (err != AIRLOCK_OK && err != AIRLOCK_ERR_THRESHOLD && err != AIRLOCK_ERR_BAD_SIGNATURE) {
			free(old_buf);
			return cli_fail(err, "%s", from);
		}
		if (err != AIRLOCK_OK)
			cli_note("%s is not fully signed (%u of %u root signatures); rotating from it anyway",
				 from, rep.valid, rep.threshold);
		if (old.version == UINT64_MAX) {
			free(old_buf);
			return cli_fail(AIRLOCK_ERR_ROOT_VERSION, "%s", from);
		}
		version = old.version + 1;
		for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
			struct role_spec *r = &b.roles[role];
			if (!r->given) {
				if (r->threshold_given) {
					free(old_buf);
					return cli_usage_error("a %s threshold needs the %s keys too",
							       airlock_role_name((enum airlock_role)role),
							       airlock_role_name((enum airlock_role)role));
				}
				copy_role(r, &old, (enum airlock_role)role);
			} else if (!r->threshold_given) {
				free(old_buf);
				return cli_usage_error("--%s-threshold is required with --%s-key",
						       airlock_role_name((enum airlock_role)role),
						       airlock_role_name((enum airlock_role)role));
			}
		}
	} else {
		if (!b.roles[AIRLOCK_ROLE_ROOT].threshold_given || !b.roles[AIRLOCK_ROLE_RELEASE].threshold_given)
			return cli_usage_error("--root-threshold and --release-threshold are required");
		if (!b.roles[AIRLOCK_ROLE_DIRECTOR].threshold_given)
			b.roles[AIRLOCK_ROLE_DIRECTOR].threshold = 1;
	}
	rc = build(&b, version, expires);
	if (rc == EXIT_OK)
		rc = write_root(&b.root, out);
	free(old_buf);
	if (rc == EXIT_OK && rotate)
		printf("sign it with a threshold of the root keys of version %llu and of version %llu\n",
		       (unsigned long long)(version - 1), (unsigned long long)version);
	return rc;
}

int cmd_root(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "create") == 0)
		return root_build_cmd(argc - 1, argv + 1, false);
	if (argc >= 2 && strcmp(argv[1], "rotate") == 0)
		return root_build_cmd(argc - 1, argv + 1, true);
	if (argc >= 2 && strcmp(argv[1], "sign") == 0) {
		cli_cmd = "airlock root sign";
		if (argc >= 3 && strcmp(argv[2], "--help") == 0) {
			fputs(sign_usage, stdout);
			return EXIT_OK;
		}
		return cli_sign_file(argc - 1, argv + 1, AIRLOCK_META_ROOT);
	}
	cli_cmd = "airlock root";
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		printf("%s\n%s\n%s", create_usage, rotate_usage, sign_usage);
		return EXIT_OK;
	}
	return cli_usage_error("expected 'create', 'rotate' or 'sign'");
}
