/*
 * airlockd: the device agent. Checks in, downloads, verifies, installs into
 * the inactive slot, trial-boots, commits or rolls back, and reports.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "update.h"

static const char usage[] =
	"usage: airlockd [--config FILE] <command> [options]\n"
	"\n"
	"Commands:\n"
	"  enroll --token ALE_TOKEN [--device-id ID] [--force]\n"
	"                   make this device's keys and have the server certify them\n"
	"  run              the daemon: check in every interval (with jitter), update, report\n"
	"  checkin          one check-in (and the update it brings), then exit\n"
	"  status [--json]  slots, versions, security version, pending state, last error\n"
	"  install BUNDLE   install an offline bundle into the inactive slot\n"
	"  commit           commit the slot on trial now (skips the health check)\n"
	"  rollback         abandon the slot on trial (or armed) and go back to the good one\n"
	"  provision --release REL [--image FILE]\n"
	"                   record the factory image of the running slot (and write it)\n"
	"\n"
	"Options:\n"
	"  -c, --config FILE  configuration (default " AGENT_DEFAULT_CONFIG ", or $AIRLOCKD_CONFIG)\n"
	"  -h, --help         this text; every command takes --help too\n"
	"  --version\n"
	"\n"
	"Exit codes: 0 done; 1 refused (verification failed); 2 usage; 3 configuration,\n"
	"state or I/O; 4 internal; 5 network; 10 a reboot is due (the slot on trial is armed,\n"
	"or a rollback needs the good slot booted).\n";

struct command {
	const char *name;
	bool need_server;
	int (*run)(struct agent *a, int argc, char **argv);
};

static const struct command commands[] = {
	{ "run", true, cmd_run },
	{ "checkin", true, cmd_checkin },
	{ "status", false, cmd_status },
	{ "install", false, cmd_install },
	{ "commit", false, cmd_commit },
	{ "rollback", false, cmd_rollback },
	{ "provision", false, cmd_provision },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = getenv("AIRLOCKD_CONFIG");
	int ch;
	setvbuf(stdout, NULL, _IOLBF, 0);
	while ((ch = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return AGENT_EXIT_OK;
		case 'V':
			puts("airlockd " AGENT_VERSION);
			return AGENT_EXIT_OK;
		default:
			fputs(usage, stderr);
			return AGENT_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return AGENT_EXIT_USAGE;
	}
	if (!config)
		config = AGENT_DEFAULT_CONFIG;
	const char *verb = argv[optind];
	if (strcmp(verb, "enroll") == 0) {   /* before any state: no agent_setup */
		for (int k = optind + 1; k < argc; k++)
			if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
				fputs(usage, stdout);
				return AGENT_EXIT_OK;
			}
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;
		optind = 0;
		return cmd_enroll(config, sub_argc, sub_argv);
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(verb, commands[i].name) != 0)
			continue;
		int sub_argc = argc - optind;
		char **sub_argv = argv + optind;
		for (int k = 1; k < sub_argc; k++)
			if (strcmp(sub_argv[k], "--help") == 0 || strcmp(sub_argv[k], "-h") == 0) {
				fputs(usage, stdout);
				return AGENT_EXIT_OK;
			}
		struct agent *a = calloc(1, sizeof *a);
		if (!a)
			return AGENT_EXIT_INTERNAL;
		int rc = AGENT_EXIT_CONFIG;
		if (agent_setup(a, config, commands[i].need_server)) {
			optind = 0;   /* GNU getopt: start afresh for the verb's own options */
			rc = commands[i].run(a, sub_argc, sub_argv);
		}
		agent_teardown(a);
		free(a);
		return rc;
	}
	fprintf(stderr, "airlockd: unknown command '%s'\n%s", verb, usage);
	return AGENT_EXIT_USAGE;
}
