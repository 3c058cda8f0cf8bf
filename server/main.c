/*
 * airlock-server: `init DIR` makes a development setup; `--config FILE`
 * runs the server until SIGTERM or SIGINT.
 */
#define _GNU_SOURCE  /* setgroups(), getresuid() */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "airlock/meta.h"
#include "api.h"
#include "app.h"
#include "audit.h"
#include "tokens.h"

static const char usage[] =
	"usage: airlock-server init DIR [--name HOST,IP...] [--root ROOT --director-key KEY]\n"
	"         [--postgres CONNINFO]\n"
	"       airlock-server --config FILE [--listen ADDR:PORT] [--user USER]\n"
	"       airlock-server --version\n"
	"\n"
	"init writes a ready development setup into DIR (which must not hold one):\n"
	"a fleet CA, a TLS certificate for localhost and 127.0.0.1 (plus --name),\n"
	"the director, content-encryption and audit keys, a development root of\n"
	"trust (unless --root: then --director-key must be a director key of it),\n"
	"a SQLite database (or --postgres: a PostgreSQL one), server.conf, and a\n"
	"first admin token, shown once.\n"
	"\n"
	"--config runs the server. --listen replaces [server] listen, and the\n"
	"artifact URLs' public_url with it unless the file sets public_url.\n"
	"--user drops root privileges after binding (USER must be able to write\n"
	"the data directory).\n"
	"Exit codes: 0 ok, 1 failed to start or to initialise, 2 usage.\n";

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "airlock-server: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 1;
}

static void join(char *out, size_t cap, const char *dir, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static int make_key(const char *dir, const char *name, enum airlock_alg alg, struct airlock_privkey **keep)
{
	char key_path[1100], pub_path[1100];
	uint8_t pub[AIRLOCK_PUB_MAX_LEN];
	size_t pub_len;
	struct airlock_privkey *k = NULL;
	snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name);
	snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name);
	airlock_err e = airlock_privkey_generate(alg, &k);
	if (e == AIRLOCK_OK)
		e = airlock_privkey_save(k, key_path);
	if (e == AIRLOCK_OK)
		e = airlock_privkey_public(k, pub, &pub_len);
	if (e == AIRLOCK_OK)
		e = airlock_pubkey_save(alg, pub, pub_len, pub_path);
	if (e != AIRLOCK_OK) {
		airlock_privkey_free(k);
		return fail("%s: %s", key_path, airlock_err_name(e));
	}
	if (keep)
		*keep = k;
	else
		airlock_privkey_free(k);
	return 0;
}

/* A development root: one root key, one release key (both under DIR/dev-keys,
 * to be replaced by offline keys in production) and the director key. */
static int make_dev_root(const char *dir, struct airlock_privkey *director, const char *out_path)
{
	char keys_dir[1100];
	struct airlock_privkey *root_key = NULL, *release_key = NULL;
	join(keys_dir, sizeof keys_dir, dir, "dev-keys");
	if (mkdir(keys_dir, 0700) != 0)
		return fail("%s: %s", keys_dir, strerror(errno));
	if (make_key(keys_dir, "root", AIRLOCK_ALG_ED25519, &root_key) ||
	    make_key(keys_dir, "release", AIRLOCK_ALG_ED25519, &release_key)) {
		airlock_privkey_free(root_key);
		return 1;
	}
	struct airlock_privkey *keys[3] = { root_key, release_key, director };
	uint8_t pubs[3][AIRLOCK_PUB_MAX_LEN];
	struct airlock_root root;
	memset(&root, 0, sizeof root);
	root.version = 1;
	root.expires = (uint64_t)app_now() + 365u * 86400u;
	airlock_err e = AIRLOCK_OK;
	for (int i = 0; i < 3 && e == AIRLOCK_OK; i++) {
		struct airlock_key *k = &root.keys[i];
		size_t len;
		e = airlock_privkey_public(keys[i], pubs[i], &len);
		if (e == AIRLOCK_OK)
			e = airlock_keyid(pubs[i], len, k->keyid);
		k->alg = airlock_privkey_alg(keys[i]);
		k->pub = (struct airlock_bytes){ pubs[i], len };
	}
	/* Keys sorted by key id, as the format requires. */
	root.n_keys = 3;
	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (memcmp(root.keys[j].keyid, root.keys[i].keyid, 32) < 0) {
				struct airlock_key t = root.keys[i];
				root.keys[i] = root.keys[j];
				root.keys[j] = t;
			}
	uint8_t ids[3][32];
	for (int i = 0; i < 3; i++) {
		size_t len;
		uint8_t pub[AIRLOCK_PUB_MAX_LEN];
		if (e == AIRLOCK_OK)
			e = airlock_privkey_public(keys[i], pub, &len);
		if (e == AIRLOCK_OK)
			e = airlock_keyid(pub, len, ids[i]);
	}
	for (int r = AIRLOCK_ROLE_ROOT; r <= AIRLOCK_ROLE_DIRECTOR; r++) {
		root.roles[r].threshold = 1;
		root.roles[r].n_keyids = 1;
		root.roles[r].keyids[0] = airlock_root_find_key(&root, ids[r - 1])->keyid;
	}
	uint8_t body[4096], keyid[32], sig[64];
	size_t body_len = 0, file_len = 0;
	uint8_t *file = NULL;
	struct airlock_cbor_enc enc;
	struct airlock_envelope env;
	airlock_cbor_enc_init(&enc, body, sizeof body);
	airlock_root_encode_body(&root, &enc);
	if (e == AIRLOCK_OK)
		e = airlock_cbor_enc_finish(&enc, &body_len);
	memset(&env, 0, sizeof env);
	env.type = AIRLOCK_META_ROOT;
	env.body = (struct airlock_bytes){ body, body_len };
	if (e == AIRLOCK_OK)
		e = airlock_envelope_sign(&env, root_key, keyid, sig);
	if (e == AIRLOCK_OK)
		e = airlock_envelope_encode_alloc(&env, &file, &file_len);
	airlock_privkey_free(root_key);
	airlock_privkey_free(release_key);
	if (e != AIRLOCK_OK)
		return fail("development root: %s", airlock_err_name(e));
	FILE *f = fopen(out_path, "wbx");
	bool ok = f && fwrite(file, 1, file_len, f) == file_len;
	if (f && fclose(f) != 0)
		ok = false;
	free(file);
	return ok ? 0 : fail("%s: %s", out_path, strerror(errno));
}

static int copy_file(const char *from, const char *to)
{
	FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wbx") : NULL;
	char buf[8192];
	size_t n;
	bool ok = in && out;
	while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0)
		ok = fwrite(buf, 1, n, out) == n;
	if (in)
		fclose(in);
	if (out && fclose(out) != 0)
		ok = false;
	return ok ? 0 : fail("cannot copy %s to %s", from, to);
}

static int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "root", required_argument, NULL, 'r' },
		{ "director-key", required_argument, NULL, 'd' },
		{ "postgres", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	const char *names = "localhost,127.0.0.1", *root_in = NULL, *director_in = NULL, *pg = NULL;
	char extra[1024];
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			snprintf(extra, sizeof extra, "localhost,127.0.0.1,%s", optarg);
			names = extra;
			break;
		case 'r': root_in = optarg; break;
		case 'd': director_in = optarg; break;
		case 'p':
			if (strchr(optarg, '\n'))
				return fail("bad --postgres");
			pg = optarg;
			break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (optind + 1 != argc || !root_in != !director_in) {
		fputs(usage, stderr);
		return 2;
	}
	const char *dir = argv[optind];
	char path[1100], path2[1100], conf[1100];
	join(conf, sizeof conf, dir, "server.conf");
	if (access(conf, F_OK) == 0)
		return fail("%s exists: refusing to overwrite a setup", conf);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return fail("%s: %s", dir, strerror(errno));

	struct pki_ca *ca = NULL;
	struct airlock_privkey *director = NULL;
	join(path, sizeof path, dir, "fleet-ca.key");
	join(path2, sizeof path2, dir, "fleet-ca.crt");
	airlock_err e = pki_create_ca("Airlock fleet CA (development)", 3650, path, path2);
	if (e == AIRLOCK_OK)
		e = pki_ca_load(path, path2, &ca);
	if (e != AIRLOCK_OK)
		return fail("fleet CA: %s", airlock_err_name(e));
	join(path, sizeof path, dir, "server.key");
	join(path2, sizeof path2, dir, "server.crt");
	e = pki_issue_server(ca, names, 825, path, path2);
	pki_ca_free(ca);
	if (e != AIRLOCK_OK)
		return fail("server certificate: %s", airlock_err_name(e));
	join(path, sizeof path, dir, "root.cbor");
	if (director_in) {
		join(path2, sizeof path2, dir, "director.key");
		if (copy_file(director_in, path2) || chmod(path2, 0600) != 0 || copy_file(root_in, path))
			return 1;
	} else {
		if (make_key(dir, "director", AIRLOCK_ALG_ED25519, &director) || make_dev_root(dir, director, path)) {
			airlock_privkey_free(director);
			return 1;
		}
		airlock_privkey_free(director);
	}
	if (make_key(dir, "content", AIRLOCK_ALG_X25519, NULL) || make_key(dir, "audit", AIRLOCK_ALG_ED25519, NULL))
		return 1;
	FILE *f = fopen(conf, "wx");
	if (!f)
		return fail("%s: %s", conf, strerror(errno));
	fprintf(f,
		"# airlock-server configuration (docs/operations.md). Paths are relative to this file.\n"
		"[server]\nlisten = 127.0.0.1:8443\ndata_dir = data\nthreads = 4\n"
		"# health_listen = 127.0.0.1:9090\n\n"
		"[tls]\ncertificate = server.crt\nkey = server.key\nclient_ca = fleet-ca.crt\n\n"
		"[fleet]\nca_certificate = fleet-ca.crt\nca_key = fleet-ca.key\nroot = root.cbor\n"
		"director_key = director.key\ncontent_key = content.key\naudit_key = audit.key\n\n"
		"[database]\n");
	if (pg)
		fprintf(f, "backend = postgres\nconninfo = %s\n", pg);
	else
		fprintf(f, "backend = sqlite\npath = data/airlock.db\n");
	if (fclose(f) != 0)
		return fail("%s: %s", conf, strerror(errno));

	struct server_config cfg;
	struct app app;
	char err[512];
	if (!config_load(conf, &cfg, err, sizeof err) || !app_open(&app, &cfg, err, sizeof err))
		return fail("%s", err);
	char token[TOKEN_STR_LEN], id[TOKEN_ID_LEN];
	struct db_conn *dc = db_acquire(app.db);
	enum db_err de = token_create(dc, "initial-admin", SCOPE_ADMIN, app_now(), app_now() + 90 * 86400, "system:init",
				      token, id);
	if (de == DB_OK)
		app_audit(&app, dc, "system:init", "server.init", json_pack("{s:s}", "admin_token", id));
	db_release(app.db, dc);
	app_close(&app);
	if (de != DB_OK)
		return fail("creating the first admin token failed");
	printf("airlock-server: development setup written to %s\n"
	       "  start it:     airlock-server --config %s\n"
	       "  fleet CA:     %s/fleet-ca.crt (devices trust the server through it)\n"
	       "  root:         %s/root.cbor%s\n"
	       "  admin token:  %s   (id %s; shown once, valid 90 days)\n",
	       dir, conf, dir, dir, director_in ? "" : " (development keys in dev-keys/: replace them for production)",
	       token, id);
	airlock_wipe(token, sizeof token);
	return 0;
}

/*
 * After the listeners are bound and the keys and database are open: no
 * supplementary groups, the user's uid and gid as real, effective and saved
 * ids (so root cannot come back). glibc applies set*id to every thread, the
 * HTTP workers included. A user or group that is root is refused: that
 * would drop nothing.
 */
static int drop_privileges(const char *user, const struct app *app)
{
	struct passwd *pw = getpwnam(user);
	if (!pw)
		return fail("no user '%s'", user);
	if (pw->pw_uid == 0 || pw->pw_gid == 0)
		return fail("--user '%s' is root or in group root: nothing would be dropped", user);
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (setgroups(0, NULL) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
		return fail("cannot become '%s': %s", user, strerror(errno));
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	/* Proof that root cannot be regained. */
	if (getresuid(&ru, &eu, &su) != 0 || getresgid(&rg, &eg, &sg) != 0 || ru != uid || eu != uid || su != uid ||
	    rg != gid || eg != gid || sg != gid || getgroups(0, NULL) != 0 || setuid(0) == 0)
		return fail("privileges were not dropped");
	/* Uploads write into the artifact store: find out now, not at the
	 * first release push. */
	if (access(app->cfg.data_dir, R_OK | W_OK | X_OK) != 0 || access(app->artifacts_dir, R_OK | W_OK | X_OK) != 0)
		return fail("user '%s' cannot write %s (chown the data directory to it)", user, app->cfg.data_dir);
	return 0;
}

/* 0.0.0.0 or [::]: fine to bind, useless in a URL. */
static bool listen_is_wildcard(const char *listen)
{
	char addr[128];
	uint16_t port;
	return config_split_listen(listen, addr, sizeof addr, &port) &&
	       (strcmp(addr, "0.0.0.0") == 0 || strcmp(addr, "::") == 0);
}

static int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "listen", required_argument, NULL, 'l' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *listen = NULL, *user = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 'l': listen = optarg; break;
		case 'u': user = optarg; break;
		case 'h': fputs(usage, stdout); return 0;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!config || optind != argc) {
		fputs(usage, stderr);
		return 2;
	}
	/* The server never executes anything: no exec may ever gain privileges
	 * (set before any thread starts, so that every thread has it). */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return fail("PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
	struct server_config cfg;
	static struct app app;
	char err[512];
	if (!config_load(config, &cfg, err, sizeof err))
		return fail("%s", err);
	/* A public_url the file does not set follows --listen too. */
	if (listen && !config_set_listen(&cfg, listen))
		return fail("bad --listen '%s'", listen);
	if (!app_open(&app, &cfg, err, sizeof err))
		return fail("%s", err);
	struct http_server *srv = NULL;
	airlock_err e = api_start(&app, &srv, err, sizeof err);
	if (e != AIRLOCK_OK) {
		app_close(&app);
		return fail("cannot start: %s", err);
	}
	if (user && drop_privileges(user, &app)) {
		api_stop(srv);
		app_close(&app);
		return 1;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	fprintf(stderr, "{\"level\":\"info\",\"msg\":\"listening\",\"listen\":\"%s\",\"port\":%u,"
		"\"public_url\":\"%s\",\"version\":\"%s\"}\n", cfg.listen, http_server_port(srv), cfg.public_url,
		AIRLOCK_VERSION);
	if (!cfg.public_url_set && listen_is_wildcard(cfg.listen))
		fprintf(stderr, "{\"level\":\"warning\",\"msg\":\"[server] public_url is not set and listen is a wildcard:"
			" directives name artifact URLs on %s, which devices cannot reach\"}\n", cfg.public_url);
	while (!stop_requested)
		pause();
	fprintf(stderr, "{\"level\":\"info\",\"msg\":\"stopping\"}\n");
	api_stop(srv);
	app_close(&app);
	return 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 2 && strcmp(argv[1], "init") == 0)
		return cmd_init(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(usage, stdout);
		return 0;
	}
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		puts("airlock-server " AIRLOCK_VERSION);
		return 0;
	}
	return cmd_serve(argc, argv);
}
