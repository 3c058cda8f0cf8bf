/*
 * airlock: the release and admin command-line tool.
 * Small explicit verbs; key ids printed; secrets never echoed.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char usage[] =
	"usage: airlock <command> [options]\n"
	"\n"
	"Release side:\n"
	"  key generate   make a key pair (ed25519, p256 for signing; x25519 for encryption)\n"
	"  key id         print the key id of a public or private key file\n"
	"  root create    write an unsigned root (keys, roles, thresholds, expiry)\n"
	"  root rotate    write root N+1 from root N\n"
	"  root sign      add one signature to a root\n"
	"  release create write an unsigned release (and chunk lists, encrypted payloads)\n"
	"  release sign   add one signature to a release\n"
	"  verify         check a release (and payloads) against a root\n"
	"  inspect        show any metadata file\n"
	"  bundle create  one file (release, chunk lists, payloads) for airlockd install\n"
	"\n"
	"Server side (admin API: --server, --ca, --token or AIRLOCK_* or a config file):\n"
	"  server status  health, fleet root and counts\n"
	"  devices        list | show ID | revoke ID | register ID (manufacturer certificate)\n"
	"  enroll-token   create | list | revoke ID (one-time tokens for enrolling devices)\n"
	"  release push   push a signed release and stream its payloads\n"
	"  release list   releases on the server\n"
	"  deployments    create | list | cancel ID\n"
	"  tokens         create | list | revoke ID (admin tokens)\n"
	"  audit show     the audit log as lines\n"
	"  audit fetch    save an export of the audit log\n"
	"  audit verify   check an export of the server's audit log\n"
	"  audit checkpoint  verify an export and save its newest signed checkpoint\n"
	"\n"
	"Every command takes --help. Exit codes:\n"
	"  0 success; 1 refused (verification failed, invalid input file, or the\n"
	"  server refused the request); 2 usage error; 3 file or key-file problem;\n"
	"  4 internal error; 5 server unreachable, TLS failure or server error.\n";

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
};

static const struct command commands[] = {
	{ "key", cmd_key },
	{ "root", cmd_root },
	{ "release", cmd_release },
	{ "verify", cmd_verify },
	{ "inspect", cmd_inspect },
	{ "bundle", cmd_bundle },
	{ "audit", cmd_audit },
	{ "server", cmd_server },
	{ "devices", cmd_devices },
	{ "enroll-token", cmd_enroll_token },
	{ "deployments", cmd_deployments },
	{ "tokens", cmd_tokens },
};

int main(int argc, char **argv)
{
	/* Lines in order with stderr's when both go to one pipe or log. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		puts("airlock 0.1.0");
		return EXIT_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	}
	fprintf(stderr, "airlock: unknown command '%s'\n%s", argv[1], usage);
	return EXIT_USAGE;
}
