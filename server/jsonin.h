/*
 * Strict reading of JSON request bodies: every field checked for type and
 * size, unknown fields refused, each failure a 400 with the field's name.
 */
#ifndef AIRLOCK_SERVER_JSONIN_H
#define AIRLOCK_SERVER_JSONIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "app.h"

/* The body must be an object with no key outside the NULL-terminated list. */
bool jin_object(json_t *body, const char *const *allowed, struct svc_result *r);
/* String of 1..max bytes (no NUL inside); *out is NULL when optional and absent. */
bool jin_str(json_t *obj, const char *key, size_t max, bool required, const char **out, struct svc_result *r);
/* Integer within [min, max]; *out untouched when optional and absent. */
bool jin_int(json_t *obj, const char *key, int64_t min, int64_t max, bool required, int64_t *out,
	     struct svc_result *r);
/* Lowercase hex of exactly n bytes. */
bool jin_hex(json_t *obj, const char *key, uint8_t *out, size_t n, bool required, bool *present,
	     struct svc_result *r);

#endif
