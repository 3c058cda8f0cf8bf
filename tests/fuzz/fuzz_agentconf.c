/*
 * Fuzz target for airlockd's configuration parser (agent/config.c through
 * libinih): the text of an airlockd.conf, parsed in memory with
 * agent_config_parse_text(), the same parse agent_config_load() runs on the
 * file. No file is opened: the path fields are only text here (the checks
 * that open what they name are load's, and tests/agent/test_config.c's).
 *
 * Input: the file's text (cut at a NUL, as a file read by libinih would be
 * at its end of line).
 *
 * Invariants, each an abort(): a refusal says where ("conf:LINE: ...") in
 * one NUL-terminated line; an accepted configuration has every string field
 * terminated inside its array and every number inside the range its key
 * allows (docs/agent.md); parsing the same text twice gives the same bytes.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_TEXT 65536

static bool term(const char *s, size_t cap)
{
	return strnlen(s, cap) < cap;
}

static void check_cfg(const struct agent_config *c)
{
	if (!term(c->url, sizeof c->url) || !term(c->ca, sizeof c->ca) || !term(c->cert, sizeof c->cert) ||
	    !term(c->key, sizeof c->key) || !term(c->pin, sizeof c->pin) || !term(c->device_id, sizeof c->device_id) ||
	    !term(c->hardware, sizeof c->hardware) || !term(c->root, sizeof c->root) ||
	    !term(c->state_dir, sizeof c->state_dir) || !term(c->wrap_key, sizeof c->wrap_key) ||
	    !term(c->slot_backend, sizeof c->slot_backend) || !term(c->slot_path[0], sizeof c->slot_path[0]) ||
	    !term(c->slot_path[1], sizeof c->slot_path[1]) || !term(c->payload, sizeof c->payload) ||
	    !term(c->boot_backend, sizeof c->boot_backend) || !term(c->boot_record, sizeof c->boot_record) ||
	    !term(c->reboot_command, sizeof c->reboot_command) || !term(c->health_command, sizeof c->health_command) ||
	    !term(c->log_path, sizeof c->log_path))
		abort();
	if (c->slot_capacity > UINT64_C(1) << 50 || c->boot_limit < 1 || c->boot_limit > 255 || c->health_timeout < 1 ||
	    c->health_timeout > 3600 || c->checkin_interval < 1 || c->checkin_interval > 7 * 24 * 3600 ||
	    c->min_rate < 1 || c->min_rate > 1u << 30 || c->rate_window < 1 || c->rate_window > 3600 ||
	    c->connect_timeout < 1 || c->connect_timeout > 600 || c->log_max < 4096 || c->log_max > UINT64_C(1) << 32 ||
	    c->queue_max < 1 || c->queue_max > 100000)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char text[MAX_TEXT + 1];
	static struct agent_config a, b;
	char err[1024], err2[1024];
	size_t n = size < MAX_TEXT ? size : MAX_TEXT;
	memcpy(text, data, n);
	text[n] = '\0';

	memset(err, 0x5a, sizeof err);
	bool ok = agent_config_parse_text(text, "conf", &a, err, sizeof err);
	if (!ok) {
		if (!term(err, sizeof err) || strncmp(err, "conf:", 5) != 0 || strchr(err, '\n'))
			abort();
	} else {
		check_cfg(&a);
	}
	bool ok2 = agent_config_parse_text(text, "conf", &b, err2, sizeof err2);
	if (ok != ok2 || (ok && memcmp(&a, &b, sizeof a) != 0) || (!ok && strcmp(err, err2) != 0))
		abort();
	return 0;
}
