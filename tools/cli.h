/*
 * The airlock CLI: shared helpers. The CLI is the only layer that prints and
 * exits; libairlock returns bare codes and the CLI adds the context (which
 * file, which key, which payload, which chunk).
 */
#ifndef AIRLOCK_CLI_H
#define AIRLOCK_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/error.h"
#include "airlock/meta.h"

/* Exit codes (documented in docs/cli.md and `airlock --help`). */
enum {
	EXIT_OK = 0,
	EXIT_REFUSED = 1,   /* verification failed: the input is not acceptable */
	EXIT_USAGE = 2,     /* bad command line */
	EXIT_IO = 3,        /* a file could not be read or written, or a key file is unusable */
	EXIT_INTERNAL = 4,  /* out of memory, crypto backend failure */
	EXIT_NETWORK = 5,   /* the server could not be reached, TLS failed, or it failed to answer */
};

extern const char *cli_cmd;  /* "airlock root sign" etc., for messages */

/* Maps a library error to the documented exit code. */
int cli_exit_code(airlock_err err);
/* Prints "airlock <cmd>: <context>: <NAME> (<text>)" to stderr and returns the exit code. */
int cli_fail(airlock_err err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "airlock <cmd>: <message>" to stderr and returns EXIT_USAGE. */
int cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole file of at most max bytes (AIRLOCK_ERR_TOO_LARGE above). */
AIRLOCK_MUST_USE airlock_err cli_read_file(const char *path, size_t max, uint8_t **buf, size_t *len);
/* Writes a file atomically: temp file in the same directory, fsync, rename,
 * fsync of the directory. Refuses to replace an existing file unless replace. */
AIRLOCK_MUST_USE airlock_err cli_write_file(const char *path, const void *data, size_t len, bool replace);

/* An output file that appears whole or not at all: written under a
 * temporary name in the same directory, then fsync'd and renamed. */
struct cli_out {
	int fd;
	bool replace;
	char path[4096];
	char tmp[4096];
};
AIRLOCK_MUST_USE airlock_err cli_out_open(struct cli_out *o, const char *path, bool replace);
AIRLOCK_MUST_USE airlock_err cli_out_write(struct cli_out *o, const void *data, size_t len);
/* Makes the file appear (or fails and leaves nothing). */
AIRLOCK_MUST_USE airlock_err cli_out_commit(struct cli_out *o);
/* Removes the temporary file; idempotent. */
void cli_out_abort(struct cli_out *o);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void cli_hex(const uint8_t *p, size_t n, char *out);
/* First 8 bytes of a key id in hex: how key ids are shown to people. */
const char *cli_keyid_short(const uint8_t keyid[AIRLOCK_KEYID_LEN]);

bool cli_parse_u64(const char *s, uint64_t *out);
/* "YYYY-MM-DD", "YYYY-MM-DDTHH:MM:SSZ", "@EPOCH", or "+N[dhm]" from now. */
bool cli_parse_time(const char *s, uint64_t now, uint64_t *out);
/* ISO 8601 UTC into out (at least 21 bytes). */
void cli_format_time(uint64_t t, char *out, size_t cap);
uint64_t cli_now(void);

/* Encodes an envelope into a malloc'd buffer. */
AIRLOCK_MUST_USE airlock_err cli_encode_envelope(const struct airlock_envelope *env, uint8_t **out, size_t *len);
/* Describes why a signature set was refused, in one line, into msg. */
void cli_describe_sigs(const struct airlock_sig_report *rep, enum airlock_role role, airlock_err err,
		       char *msg, size_t cap);

/* Subcommands. argv[0] is the verb's name. */
int cmd_key(int argc, char **argv);
int cmd_root(int argc, char **argv);
int cmd_release(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_bundle(int argc, char **argv);   /* tools/cmd_bundle.c */
int cmd_audit(int argc, char **argv);
/* Admin API client verbs (tools/cmd_admin_*.c). */
int cmd_server(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_enroll_token(int argc, char **argv);
int cmd_deployments(int argc, char **argv);
int cmd_tokens(int argc, char **argv);
int cmd_release_push(int argc, char **argv);
int cmd_release_list(int argc, char **argv);
int cmd_audit_show(int argc, char **argv);
int cmd_audit_fetch(int argc, char **argv);
/* Shared by `root sign` and `release sign`. */
int cli_sign_file(int argc, char **argv, enum airlock_meta_type type);

#endif
