/*
 * airlockd's configuration: one INI file (default /etc/airlock/airlockd.conf),
 * read with libinih, validated as a whole before the agent does anything.
 * docs/agent.md lists every key; this header is the contract the modules use.
 *
 * Every path is kept as given; lengths are capped (AGENT_PATH_MAX) so that no
 * value is silently truncated: a longer one is a configuration error.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "airlock/crypto.h"
#include "airlock/meta.h"

#define AGENT_PATH_MAX 1024
#define AGENT_DEFAULT_CONFIG "/etc/airlock/airlockd.conf"

struct agent_config {
	/* [server] */
	char url[AIRLOCK_MAX_URL_LEN + 1];      /* https://host[:port], no trailing slash */
	char ca[AGENT_PATH_MAX];                 /* fleet CA (PEM) that signed the server */
	char cert[AGENT_PATH_MAX];               /* device certificate (PEM) */
	char key[AGENT_PATH_MAX];                /* its private key: mode 0600 or refused */
	char pin[128];                           /* "sha256//BASE64" of the server's SPKI, or "" */
	/* [device] */
	char device_id[AIRLOCK_MAX_DEVICE_ID_LEN + 1]; /* from the certificate's CN unless set */
	char hardware[AIRLOCK_MAX_NAME_LEN + 1];
	char root[AGENT_PATH_MAX];               /* the root shipped with the device */
	char state_dir[AGENT_PATH_MAX];
	char wrap_key[AGENT_PATH_MAX];           /* X25519 private key for content keys, or "" */
	bool trusted_clock;                      /* check expiry against the system clock */
	/* [slots] */
	char slot_backend[16];                   /* file, block, sim */
	char slot_path[2][AGENT_PATH_MAX];       /* A, B */
	uint64_t slot_capacity;                  /* 0: the backend's own size */
	char payload[AIRLOCK_MAX_NAME_LEN + 1];  /* the release payload that goes to the slot; "": the only one */
	/* [boot] */
	char boot_backend[16];                   /* sim, uboot, grub */
	char boot_record[AGENT_PATH_MAX];        /* sim: record file; grub: grubenv; uboot: fw_env.config */
	uint32_t boot_limit;                     /* trial boots before rollback */
	char reboot_command[AGENT_PATH_MAX];     /* "": exit with status 10 and let the supervisor reboot */
	/* [health] */
	char health_command[AGENT_PATH_MAX];     /* "" : the trial boot is healthy when the agent runs */
	uint32_t health_timeout;                 /* seconds */
	/* [agent] */
	uint32_t checkin_interval;               /* seconds */
	uint32_t min_rate;                       /* bytes/s below which a transfer is TOO_SLOW */
	uint32_t rate_window;                    /* seconds the rate may stay below min_rate */
	uint32_t connect_timeout;                /* seconds */
	char log_path[AGENT_PATH_MAX];           /* local JSON-lines event log */
	uint64_t log_max;                        /* bytes before rotation */
	bool syslog;
	uint32_t queue_max;                      /* reports kept on disk while offline */
};

/*
 * Reads and validates path. On error, a one-line reason naming the file,
 * section and key goes into err and false is returned; *cfg is then
 * undefined. need_server: the [server] section must be complete (check-in);
 * `install BUNDLE`, `status`, `commit` and `rollback` work without it.
 */
bool agent_config_load(const char *path, bool need_server, struct agent_config *cfg, char *err, size_t cap);

/*
 * For `airlockd enroll`: reads path and checks only what enrollment needs
 * ([server] url and a readable ca; [server] cert, key and [device] wrap_key
 * set, as the places the new identity goes; a valid [device] id if set).
 */
bool agent_config_load_enroll(const char *path, struct agent_config *cfg, char *err, size_t cap);

/*
 * The parse alone, on text in memory (NUL-terminated): defaults, then
 * syntax, sections, keys and value ranges, with errors as load gives them
 * ("NAME:LINE: [section] key: why"). Opens no file: the checks of load that
 * read the files the configuration names are not made.
 */
bool agent_config_parse_text(const char *text, const char *name, struct agent_config *cfg, char *err, size_t cap);

/* Fills the defaults (what load starts from). */
void agent_config_defaults(struct agent_config *cfg);

/*
 * The CN of a PEM certificate, as the server reads it (the server issues
 * certificates with CN = device id). false with a reason otherwise.
 */
bool agent_cert_cn(const char *cert_path, char *out, size_t cap, char *err, size_t err_cap);

/* Whether a private key file is only readable by its owner (mode & 077 == 0). */
bool agent_key_perms_ok(const char *path, char *err, size_t cap);

#endif
