/* What every verb shares: configuration, log, state, HTTPS client. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"

int agent_exit_code(airlock_err e)
{
	switch (e) {
	case AIRLOCK_OK:
		return AGENT_EXIT_OK;
	case AIRLOCK_ERR_NETWORK:
	case AIRLOCK_ERR_TOO_SLOW:
	case AIRLOCK_ERR_HTTP_STATUS:
	case AIRLOCK_ERR_TLS:
	case AIRLOCK_ERR_TLS_NAME:
	case AIRLOCK_ERR_BAD_RANGE:
		return AGENT_EXIT_NETWORK;
	case AIRLOCK_ERR_NOMEM:
	case AIRLOCK_ERR_CRYPTO:
	case AIRLOCK_ERR_INVALID_ARG:
		return AGENT_EXIT_INTERNAL;
	case AIRLOCK_ERR_IO_OPEN:
	case AIRLOCK_ERR_IO_READ:
	case AIRLOCK_ERR_IO_WRITE:
	case AIRLOCK_ERR_IO_SYNC:
	case AIRLOCK_ERR_BAD_KEY_FILE:
	case AIRLOCK_ERR_KEY_PERMS:
	case AIRLOCK_ERR_NO_SPACE:
	case AIRLOCK_ERR_BOOT_RECORD:
	case AIRLOCK_ERR_STATE:
	case AIRLOCK_ERR_BUSY:
		return AGENT_EXIT_CONFIG;
	default:
		return AGENT_EXIT_REFUSED;
	}
}

bool agent_setup(struct agent *a, const char *config, bool need_server)
{
	char err[1600];
	if (!agent_config_load(config, need_server, &a->cfg, err, sizeof err)) {
		fprintf(stderr, "airlockd: %s\n", err);
		return false;
	}
	agent_log_open(a->cfg.log_path, a->cfg.log_max, a->cfg.syslog, true);
	if (agent_state_load(a) != AIRLOCK_OK)
		return false;
	if (need_server || a->cfg.url[0]) {
		if (agent_http_init(&a->http, &a->cfg) != AIRLOCK_OK) {
			fprintf(stderr, "airlockd: cannot start the HTTPS client\n");
			return false;
		}
		a->http_ready = a->cfg.url[0] != '\0' && a->cfg.ca[0] && a->cfg.cert[0] && a->cfg.key[0];
	}
	return true;
}

void agent_teardown(struct agent *a)
{
	agent_http_free(&a->http);
	agent_log_close();
}
