#include "jsonin.h"

#include <string.h>

#include "airlock/hex.h"

bool jin_object(json_t *body, const char *const *allowed, struct svc_result *r)
{
	const char *key;
	json_t *value;
	if (!json_is_object(body))
		return svc_fail(r, 400, "bad_request", "the body must be a JSON object");
	json_object_foreach(body, key, value) {
		bool known = false;
		for (const char *const *a = allowed; *a; a++)
			known |= strcmp(*a, key) == 0;
		if (!known)
			return svc_fail(r, 400, "bad_request", "unknown field '%.64s'", key);
	}
	return true;
}

bool jin_str(json_t *obj, const char *key, size_t max, bool required, const char **out, struct svc_result *r)
{
	json_t *v = json_object_get(obj, key);
	*out = NULL;
	if (!v || json_is_null(v)) {
		if (required)
			return svc_fail(r, 400, "bad_request", "field '%s' is required", key);
		return true;
	}
	if (!json_is_string(v))
		return svc_fail(r, 400, "bad_request", "field '%s' must be a string", key);
	size_t len = json_string_length(v);
	/* jansson allows NUL inside strings; no field of ours does. */
	if (len == 0 || len > max || strlen(json_string_value(v)) != len)
		return svc_fail(r, 400, "bad_request", "field '%s' must be 1..%zu characters", key, max);
	*out = json_string_value(v);
	return true;
}

bool jin_int(json_t *obj, const char *key, int64_t min, int64_t max, bool required, int64_t *out,
	     struct svc_result *r)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		if (required)
			return svc_fail(r, 400, "bad_request", "field '%s' is required", key);
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return svc_fail(r, 400, "bad_request", "field '%s' must be an integer from %lld to %lld", key,
				(long long)min, (long long)max);
	*out = json_integer_value(v);
	return true;
}

bool jin_hex(json_t *obj, const char *key, uint8_t *out, size_t n, bool required, bool *present,
	     struct svc_result *r)
{
	const char *s;
	if (present)
		*present = false;
	if (!jin_str(obj, key, 2 * n, required, &s, r))
		return false;
	if (!s)
		return true;
	for (const char *p = s; *p; p++)
		if ((*p >= 'A' && *p <= 'F'))
			return svc_fail(r, 400, "bad_request", "field '%s' must be lowercase hex", key);
	if (airlock_hex_decode(s, strlen(s), out, n) != AIRLOCK_OK)
		return svc_fail(r, 400, "bad_request", "field '%s' must be %zu bytes of hex", key, n);
	if (present)
		*present = true;
	return true;
}
