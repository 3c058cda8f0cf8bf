/* libcurl loaded on first use (curl_dl.h). */
#include <dlfcn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "curl_dl.h"

#define CURL_SONAME "libcurl.so.4"

static struct agent_curl api;
static bool loaded;

/* dlsym into a typed slot: POSIX guarantees object and function pointers
 * convert, so the copy through void * is exact. */
static bool resolve(void *lib, const char *name, void *slot, size_t size, char *why, size_t cap)
{
	void *sym = dlsym(lib, name);
	if (!sym) {
		snprintf(why, cap, "%s has no %s", CURL_SONAME, name);
		return false;
	}
	memcpy(slot, &sym, size);
	return true;
}

static bool resolve_all(void *lib, char *why, size_t cap)
{
	return resolve(lib, "curl_global_init", &api.global_init, sizeof api.global_init, why, cap) &&
	       resolve(lib, "curl_easy_init", &api.easy_init, sizeof api.easy_init, why, cap) &&
	       resolve(lib, "curl_easy_cleanup", &api.easy_cleanup, sizeof api.easy_cleanup, why, cap) &&
	       resolve(lib, "curl_easy_reset", &api.easy_reset, sizeof api.easy_reset, why, cap) &&
	       resolve(lib, "curl_easy_setopt", &api.easy_setopt, sizeof api.easy_setopt, why, cap) &&
	       resolve(lib, "curl_easy_perform", &api.easy_perform, sizeof api.easy_perform, why, cap) &&
	       resolve(lib, "curl_easy_getinfo", &api.easy_getinfo, sizeof api.easy_getinfo, why, cap) &&
	       resolve(lib, "curl_easy_strerror", &api.easy_strerror, sizeof api.easy_strerror, why, cap) &&
	       resolve(lib, "curl_slist_append", &api.slist_append, sizeof api.slist_append, why, cap) &&
	       resolve(lib, "curl_slist_free_all", &api.slist_free_all, sizeof api.slist_free_all, why, cap);
}

/* The transport's settings are OpenSSL's (cipher names, TLS floor): a
 * libcurl built on another TLS library is refused, not half-configured. */
static bool openssl_backend(void *lib, char *why, size_t cap)
{
	curl_version_info_data *(*version)(CURLversion) = NULL;
	if (!resolve(lib, "curl_version_info", &version, sizeof version, why, cap))
		return false;
	const curl_version_info_data *v = version(CURLVERSION_NOW);
	if (v && v->ssl_version && strncmp(v->ssl_version, "OpenSSL/", 8) == 0 && v->version_num >= 0x075500)
		return true;
	snprintf(why, cap, "%s is %s with %s: airlockd needs libcurl 7.85 or later on OpenSSL", CURL_SONAME,
		 v && v->version ? v->version : "?", v && v->ssl_version ? v->ssl_version : "no TLS");
	return false;
}

airlock_err agent_curl_load(const struct agent_curl **out, char *why, size_t cap)
{
	char scratch[8];
	if (!why)
		why = scratch, cap = sizeof scratch;
	if (loaded) {
		*out = &api;
		return AIRLOCK_OK;
	}
	/*
	 * GnuTLS is among Debian libcurl's dependencies (through librtmp) and
	 * initializes itself when loaded, at a cost of ~0.6 MiB, although the
	 * agent never uses it (https only, on OpenSSL). Its documented switch
	 * skips that implicit init; GnuTLS reads it only while loading, so it
	 * is set just around dlopen and not passed on to child processes.
	 */
	bool set_env = getenv("GNUTLS_NO_IMPLICIT_INIT") == NULL;
	if (set_env)
		setenv("GNUTLS_NO_IMPLICIT_INIT", "1", 0);
	void *lib = dlopen(CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (set_env)
		unsetenv("GNUTLS_NO_IMPLICIT_INIT");
	if (!lib) {
		const char *e = dlerror();
		snprintf(why, cap, "cannot load %s: %s", CURL_SONAME, e ? e : "unknown error");
		return AIRLOCK_ERR_IO_OPEN;
	}
	if (!openssl_backend(lib, why, cap) || !resolve_all(lib, why, cap)) {
		dlclose(lib);
		return AIRLOCK_ERR_IO_OPEN;
	}
	if (api.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(why, cap, "curl_global_init failed");
		dlclose(lib);
		return AIRLOCK_ERR_NOMEM;
	}
	loaded = true;   /* the library stays loaded for the process's life */
	*out = &api;
	return AIRLOCK_OK;
}
