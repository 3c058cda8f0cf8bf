/* airlockd's verbs (main.c dispatches) and what they share. */
#ifndef AGENT_COMMANDS_H
#define AGENT_COMMANDS_H

#include "agent.h"

/* Exit codes (docs/agent.md). */
enum {
	AGENT_EXIT_OK = 0,
	AGENT_EXIT_REFUSED = 1,   /* verification failed: the update was refused */
	AGENT_EXIT_USAGE = 2,
	AGENT_EXIT_CONFIG = 3,    /* configuration, state or I/O problem */
	AGENT_EXIT_INTERNAL = 4,
	AGENT_EXIT_NETWORK = 5,   /* the server could not be reached or failed to answer */
	/* 10: a reboot is due (AGENT_EXIT_REBOOT in update.h) */
};

/* The exit code for an error. */
int agent_exit_code(airlock_err e);

/*
 * Loads the configuration, opens the log and the state, and (need_server)
 * the HTTPS client. Prints the reason and returns false on failure.
 */
bool agent_setup(struct agent *a, const char *config, bool need_server);
void agent_teardown(struct agent *a);

int cmd_run(struct agent *a, int argc, char **argv);
int cmd_checkin(struct agent *a, int argc, char **argv);
int cmd_status(struct agent *a, int argc, char **argv);
int cmd_install(struct agent *a, int argc, char **argv);
int cmd_commit(struct agent *a, int argc, char **argv);
int cmd_rollback(struct agent *a, int argc, char **argv);
int cmd_provision(struct agent *a, int argc, char **argv);
/* Runs before any state exists: takes the configuration path, not an agent. */
int cmd_enroll(const char *config, int argc, char **argv);

#endif
