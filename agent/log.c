/* The local JSON-lines event log (see log.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"

/* Process-wide sink settings: the log is the agent's one global, and it
 * holds no secret. */
static struct {
	char path[1024];
	uint64_t max;
	bool syslog, stderr_on, warned;
} g;

void agent_log_open(const char *path, uint64_t max_bytes, bool use_syslog, bool to_stderr)
{
	snprintf(g.path, sizeof g.path, "%s", path ? path : "");
	g.max = max_bytes ? max_bytes : 1024u * 1024u;
	g.syslog = use_syslog;
	g.stderr_on = to_stderr;
	if (use_syslog)
		openlog("airlockd", LOG_PID, LOG_DAEMON);
}

void agent_log_close(void)
{
	if (g.syslog)
		closelog();
	g.syslog = false;
}

static void rotate_if_needed(void)
{
	struct stat st;
	if (stat(g.path, &st) != 0 || (uint64_t)st.st_size < g.max)
		return;
	char old[1100];
	snprintf(old, sizeof old, "%s.1", g.path);
	(void)rename(g.path, old);
}

static void write_line(const char *line)
{
	if (!g.path[0])
		return;
	rotate_if_needed();
	int fd = open(g.path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		if (!g.warned)
			fprintf(stderr, "airlockd: cannot write log %s: %s\n", g.path, strerror(errno));
		g.warned = true;
		return;
	}
	/* A log created by an older run with a wider mode is narrowed. */
	(void)fchmod(fd, 0600);
	size_t len = strlen(line);
	ssize_t w = write(fd, line, len);
	(void)w;
	close(fd);
}

void agent_log(enum agent_level level, const char *event, airlock_err err, const char *fmt, ...)
{
	static const char *const names[] = { "info", "warn", "error" };
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);

	json_t *o = json_pack("{s:I,s:s,s:s,s:s}", "time", (json_int_t)time(NULL), "level", names[level], "event",
			      event, "msg", msg);
	if (o && err != AIRLOCK_OK)
		json_object_set_new(o, "error", json_string(airlock_err_name(err)));
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
	json_decref(o);
	if (s) {
		char line[1400];
		snprintf(line, sizeof line, "%s\n", s);
		write_line(line);
		free(s);
	}
	if (g.syslog)
		syslog(level == AGENT_ERROR ? LOG_ERR : level == AGENT_WARN ? LOG_WARNING : LOG_INFO, "%s: %s%s%s",
		       event, msg, err ? ": " : "", err ? airlock_err_name(err) : "");
	if (g.stderr_on)
		fprintf(stderr, "airlockd: %s: %s%s%s\n", event, msg, err ? ": " : "", err ? airlock_err_name(err) : "");
}

void agent_log_tail(char *out, size_t cap)
{
	out[0] = '\0';
	if (!g.path[0] || cap < 2)
		return;
	FILE *f = fopen(g.path, "r");
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0) {
		long end = ftell(f);
		long from = end > (long)(cap - 1) ? end - (long)(cap - 1) : 0;
		if (fseek(f, from, SEEK_SET) == 0) {
			size_t n = fread(out, 1, cap - 1, f);
			out[n] = '\0';
		}
	}
	fclose(f);
}
