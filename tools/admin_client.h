/*
 * The admin API client behind `airlock server|devices|enroll-token|release
 * push|list|deployments|tokens|audit show|fetch`: libcurl over HTTPS only
 * (TLS 1.2 at least, the server verified against a CA file or the system
 * store, no redirects), a bearer token that is never printed, and the
 * server's JSON errors turned into one line and a documented exit code.
 *
 * Settings come from flags, then the environment (AIRLOCK_SERVER,
 * AIRLOCK_CA, AIRLOCK_TOKEN), then a config file (--config, AIRLOCK_CONFIG,
 * or ~/.config/airlock/admin.conf): INI, section [admin], keys server, ca,
 * token, timeout. A config file that holds a token must not be readable by
 * group or others. Every function that can fail prints its one line itself
 * and returns the exit code (EXIT_OK on success).
 */
#ifndef AIRLOCK_ADMIN_CLIENT_H
#define AIRLOCK_ADMIN_CLIENT_H

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "cli.h"

/* Options every admin verb takes; put ADMIN_LONG_OPTIONS in the verb's table. */
enum {
	ADMIN_OPT_SERVER = 900,
	ADMIN_OPT_CA,
	ADMIN_OPT_TOKEN,
	ADMIN_OPT_CONFIG,
	ADMIN_OPT_TIMEOUT,
	ADMIN_OPT_JSON,
};
#define ADMIN_LONG_OPTIONS                                                   \
	{ "server", required_argument, NULL, ADMIN_OPT_SERVER },             \
	{ "ca", required_argument, NULL, ADMIN_OPT_CA },                     \
	{ "token", required_argument, NULL, ADMIN_OPT_TOKEN },               \
	{ "config", required_argument, NULL, ADMIN_OPT_CONFIG },             \
	{ "timeout", required_argument, NULL, ADMIN_OPT_TIMEOUT },           \
	{ "json", no_argument, NULL, ADMIN_OPT_JSON },                       \
	{ "help", no_argument, NULL, 'h' }

/* The usage text's common part, appended to every admin verb's usage. */
extern const char admin_common_usage[];

struct admin_opts {
	const char *server, *ca, *token, *config;
	uint64_t timeout;   /* seconds; 0: not given */
	bool json;
};

/* Handles one common option: 1 consumed, 0 not a common option, or
 * -(exit code) for a bad value (the message is printed). */
int admin_opt(struct admin_opts *o, int c, const char *arg);

/*
 * Parses the argv of a verb that takes only the connection options and
 * exactly n_args positional arguments (0 or 1; `what` names it in errors).
 * Returns 0 with *arg (when n_args is 1) set, ADMIN_ARGS_HELP after printing
 * usage (the verb then exits 0), or an exit code after a usage error.
 */
#define ADMIN_ARGS_HELP (-1)
int admin_parse_args(struct admin_opts *o, int argc, char **argv, const char *usage, int n_args, const char *what,
		     const char **arg);

#define ADMIN_URL_MAX 512
#define ADMIN_TOKEN_MAX 256

struct admin_client {
	void *curl;                      /* CURL * */
	char server[ADMIN_URL_MAX];      /* "https://host:port", no trailing slash */
	char ca[4096];                   /* empty: the system's trust store */
	char auth[ADMIN_TOKEN_MAX + 32]; /* "Authorization: Bearer ..."; wiped by admin_close */
	bool has_token;
	uint64_t timeout;                /* total seconds per request; 0: none (uploads) */
	bool timeout_given;
	bool json;
	bool quiet;                      /* failed calls print nothing (a probe) */
};

/* Resolves the settings and prepares a connection. need_token: refuse
 * (usage error) when no token is configured. */
int admin_open(struct admin_client *cl, const struct admin_opts *o, bool need_token);
/* Wipes the token and frees the connection; idempotent. */
void admin_close(struct admin_client *cl);

/* Answers are bounded: a JSON answer above this is refused. */
#define ADMIN_BODY_MAX ((size_t)256 << 20)

struct admin_resp {
	long status;
	char *body;     /* NUL-terminated, malloc'd */
	size_t len;
	json_t *json;   /* the parsed body (when it is JSON) */
};
void admin_resp_free(struct admin_resp *r);

/* METHOD PATH (under /api/v1 unless it starts with "/": "/healthz") with an
 * optional JSON body (not consumed). EXIT_OK only for a 2xx answer whose body
 * is a JSON object; anything else is printed as one line. */
int admin_call(struct admin_client *cl, const char *method, const char *path, json_t *body, struct admin_resp *r);

/* GET PATH whose 2xx answer may be anything (r->body, r->len). */
int admin_get_raw(struct admin_client *cl, const char *path, struct admin_resp *r);

/* PUT file (exactly size bytes) to PATH, streamed from disk with that Content-Length. */
int admin_upload(struct admin_client *cl, const char *path, const char *file, uint64_t size, struct admin_resp *r);

/* GET PATH into out (an opened cli_out); the caller commits or aborts. */
int admin_download(struct admin_client *cl, const char *path, struct cli_out *out);

/* A path segment percent-encoded into out; false if it does not fit. */
bool admin_escape(const char *seg, char *out, size_t cap);

/* Prints the raw answer (for --json). */
void admin_print_raw(const struct admin_resp *r);

/* ---- readable output ---- */

enum admin_col_kind { COL_TEXT, COL_INT, COL_TIME, COL_BOOL };
struct admin_col {
	const char *key;
	const char *header;
	enum admin_col_kind kind;
};
/* One aligned table of the objects in array; "-" for a missing value. */
void admin_print_table(json_t *array, const struct admin_col *cols, size_t n_cols);
/* "key: value" lines of one object, in the order of cols. */
void admin_print_object(json_t *obj, const struct admin_col *cols, size_t n_cols);
/* A field as text into out (time as ISO 8601, null as "-"). */
void admin_format_value(json_t *v, enum admin_col_kind kind, char *out, size_t cap);

/* "90", "90s", "15m", "12h", "30d" into seconds. */
bool admin_parse_duration(const char *s, uint64_t *out);

/* Splits argv[1] as the sub-verb: returns its index in names, or -1 after
 * printing a usage error (or the usage, for --help: then *rc = EXIT_OK). */
int admin_subverb(int argc, char **argv, const char *const *names, const char *usage, int *rc);

#endif
