/*
 * libcurl, loaded when the agent first talks to the network (dlopen), not
 * when it starts. Debian's libcurl brings some thirty shared libraries
 * (GnuTLS, Kerberos, LDAP, SSH, RTMP, IDN, PSL...) that cost about 4.5 MiB of
 * resident memory merely by being mapped; the offline install, status,
 * commit, rollback and provision never touch the network and should not pay
 * for it (docs/agent.md, "Memory").
 *
 * Only the calls transport.c makes are resolved; their signatures are
 * libcurl's own (curl/curl.h), so the compiler still checks every call.
 */
#ifndef AGENT_CURL_DL_H
#define AGENT_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

#include "airlock/error.h"

struct agent_curl {
	CURLcode (*global_init)(long flags);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *k);
	void (*easy_reset)(CURL *k);
	CURLcode (*easy_setopt)(CURL *k, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *k);
	CURLcode (*easy_getinfo)(CURL *k, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/*
 * Loads libcurl (once per process) and runs curl_global_init. *out points at
 * the resolved calls for the rest of the process. Errors: IO_OPEN when the
 * library or one of its calls is missing, or it is not built with OpenSSL
 * (the cipher list and the TLS settings are OpenSSL's); NOMEM when the global
 * init fails. why (may be NULL) gets a one-line reason.
 */
AIRLOCK_MUST_USE airlock_err agent_curl_load(const struct agent_curl **out, char *why, size_t cap);

#endif
