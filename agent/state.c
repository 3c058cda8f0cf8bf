/* airlockd's persistent state: agent.json and the trusted root (agent.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <jansson.h>

#include "agent.h"
#include "airlock/fault.h"
#include "log.h"

#define STATE_MAX (16u * 1024u)

void agent_path(const struct agent *a, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%.*s/%s", (int)(cap > 200 ? cap - 200 : 0), a->cfg.state_dir, name);
}

static void get_str(json_t *o, const char *k, char *dst, size_t cap)
{
	const char *s = json_string_value(json_object_get(o, k));
	snprintf(dst, cap, "%s", s ? s : "");
}

static int64_t get_int(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : 0;
}

static airlock_err load_json(struct agent *a)
{
	char path[AGENT_PATH_MAX + 32], buf[STATE_MAX + 1];
	size_t len;
	memset(&a->st, 0, sizeof a->st);
	agent_path(a, "agent.json", path, sizeof path);
	airlock_err e = airlock_file_read_small(path, buf, STATE_MAX, &len);
	if (e == AIRLOCK_ERR_NOT_FOUND)
		return AIRLOCK_OK;   /* a fresh device */
	if (e != AIRLOCK_OK)
		return e;
	buf[len] = '\0';
	json_t *o = json_loads(buf, JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return AIRLOCK_ERR_STATE;
	}
	struct agent_state *s = &a->st;
	s->last_checkin = get_int(o, "last_checkin");
	s->latest_time = get_int(o, "latest_time");
	get_str(o, "last_error", s->last_error, sizeof s->last_error);
	get_str(o, "last_error_msg", s->last_error_msg, sizeof s->last_error_msg);
	s->last_error_time = get_int(o, "last_error_time");
	s->deployment = get_int(o, "deployment");
	get_str(o, "deployment_release", s->deployment_release, sizeof s->deployment_release);
	s->trial_slot = get_int(o, "trial_slot") == 1 ? 1u : 0u;
	int64_t seq = get_int(o, "event_seq");
	s->event_seq = seq > 0 ? (uint64_t)seq : 0;
	json_decref(o);
	return AIRLOCK_OK;
}

airlock_err agent_state_save(struct agent *a)
{
	const struct agent_state *s = &a->st;
	char path[AGENT_PATH_MAX + 32];
	json_t *o = json_pack("{s:I,s:I,s:s,s:s,s:I,s:I,s:s,s:I,s:I}", "last_checkin",
			      (json_int_t)s->last_checkin, "latest_time", (json_int_t)s->latest_time, "last_error",
			      s->last_error, "last_error_msg", s->last_error_msg, "last_error_time",
			      (json_int_t)s->last_error_time, "deployment", (json_int_t)s->deployment,
			      "deployment_release", s->deployment_release, "trial_slot", (json_int_t)s->trial_slot,
			      "event_seq", (json_int_t)s->event_seq);
	char *text = o ? json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (!text)
		return AIRLOCK_ERR_NOMEM;
	agent_path(a, "agent.json", path, sizeof path);
	airlock_err e = airlock_file_write_atomic(path, text, strlen(text));
	free(text);
	if (e != AIRLOCK_OK)
		agent_log(AGENT_WARN, "state", e, "cannot save %s", path);
	return e;
}

void agent_state_error(struct agent *a, airlock_err err, const char *msg)
{
	snprintf(a->st.last_error, sizeof a->st.last_error, "%s", airlock_err_name(err));
	snprintf(a->st.last_error_msg, sizeof a->st.last_error_msg, "%s", msg);
	a->st.last_error_time = (int64_t)time(NULL);
	agent_state_save(a);
}

airlock_err agent_root_store(struct agent *a, const uint8_t *buf, size_t len)
{
	char path[AGENT_PATH_MAX + 32];
	agent_path(a, "root.cbor", path, sizeof path);
	return airlock_file_write_atomic(path, buf, len);
}

/* The trusted root: the one the chain led to, else the one shipped. */
static airlock_err load_root(struct agent *a)
{
	char path[AGENT_PATH_MAX + 32];
	agent_path(a, "root.cbor", path, sizeof path);
	airlock_err e = airlock_file_read_small(path, a->root_buf, sizeof a->root_buf, &a->root_len);
	bool shipped = e == AIRLOCK_ERR_NOT_FOUND;
	if (shipped)
		e = airlock_file_read_small(a->cfg.root, a->root_buf, sizeof a->root_buf, &a->root_len);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "root", e, "cannot read the trusted root %s", shipped ? a->cfg.root : path);
		return e;
	}
	e = airlock_root_load_trusted(a->root_buf, a->root_len, &a->root, NULL);
	if (e != AIRLOCK_OK) {
		agent_log(AGENT_ERROR, "root", e, "trusted root %s does not verify", shipped ? a->cfg.root : path);
		return e;
	}
	return AIRLOCK_OK;
}

airlock_err agent_state_load(struct agent *a)
{
	if (mkdir(a->cfg.state_dir, 0700) != 0 && errno != EEXIST) {
		agent_log(AGENT_ERROR, "state", AIRLOCK_ERR_IO_OPEN, "cannot create %s: %s", a->cfg.state_dir,
			  strerror(errno));
		return AIRLOCK_ERR_IO_OPEN;
	}
	airlock_err e = load_json(a);
	if (e != AIRLOCK_OK) {
		/* Only status lives there (the update state and the counter do
		 * not): start afresh rather than stop updating. */
		agent_log(AGENT_WARN, "state", e, "agent state %s/agent.json is unreadable: starting afresh",
			  a->cfg.state_dir);
		memset(&a->st, 0, sizeof a->st);
	}
	return load_root(a);
}
