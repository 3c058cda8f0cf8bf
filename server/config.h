/*
 * airlock-server's configuration: an INI file (libinih). Relative paths are
 * resolved against the directory of the file. Unknown sections or keys are
 * an error, so a typo never silently falls back to a default.
 */
#ifndef AIRLOCK_SERVER_CONFIG_H
#define AIRLOCK_SERVER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_PATH_MAX 1024

struct server_config {
	/* [server] */
	char listen[128];              /* ADDR:PORT */
	char data_dir[CONFIG_PATH_MAX];
	char public_url[512];          /* how devices reach this server, for artifact URLs */
	bool public_url_set;           /* set in the file; else derived from listen */
	unsigned threads;
	char health_listen[128];       /* plain-HTTP /healthz and /metrics; empty: off */
	/* [tls] */
	char tls_cert[CONFIG_PATH_MAX];
	char tls_key[CONFIG_PATH_MAX];
	char client_ca[CONFIG_PATH_MAX];   /* the fleet CA(s), PEM bundle */
	char manufacturer_ca[CONFIG_PATH_MAX]; /* manufacturer CAs, PEM bundle; "": none */
	char tls_priorities[512];          /* empty: the built-in safe default */
	/* [fleet] */
	char ca_cert[CONFIG_PATH_MAX];     /* signs device certificates at enrollment */
	char ca_key[CONFIG_PATH_MAX];
	unsigned device_cert_days;
	char root[CONFIG_PATH_MAX];        /* the fleet's trusted root metadata */
	char director_key[CONFIG_PATH_MAX];
	char content_key[CONFIG_PATH_MAX]; /* X25519: unwraps release content keys */
	char audit_key[CONFIG_PATH_MAX];   /* Ed25519: signs audit checkpoints */
	unsigned directive_ttl;            /* seconds a directive stays valid */
	unsigned checkin_interval;         /* seconds, advised to devices */
	/* [database] */
	char db_backend[16];               /* "sqlite" or "postgres" */
	char db_target[CONFIG_PATH_MAX];   /* file path or libpq conninfo */
	unsigned db_pool;
	/* [limits] */
	size_t max_body;
	size_t max_header;
	unsigned max_connections;
	unsigned max_per_ip;
	unsigned idle_timeout;
	unsigned request_deadline;
	unsigned auth_failures_per_minute;
};

/* Loads path; on failure writes one line saying which line and why into err. */
bool config_load(const char *path, struct server_config *cfg, char *err, size_t err_cap);
/* Replaces the listen address (--listen); a public_url that the file did
 * not set follows it. False if listen is malformed (cfg unchanged). */
bool config_set_listen(struct server_config *cfg, const char *listen);
/* Splits "ADDR:PORT" / "[V6]:PORT"; false if malformed. */
bool config_split_listen(const char *listen, char *addr, size_t addr_cap, uint16_t *port);

#endif
