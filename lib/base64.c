#include "airlock/base64.h"

#include <stdbool.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void airlock_base64_encode(const uint8_t *in, size_t n, char *out)
{
	size_t o = 0, i = 0;
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i > 0) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i == 2 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = n - i == 2 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = '=';
	}
	out[o] = '\0';
}

static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

airlock_err airlock_base64_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len)
{
	size_t o = 0;
	if (len % 4 != 0)
		return AIRLOCK_ERR_BAD_VALUE;
	for (size_t i = 0; i < len; i += 4) {
		bool last = i + 4 == len;
		int pad = last ? (in[i + 3] == '=') + (in[i + 2] == '=' && in[i + 3] == '=') : 0;
		int v[4];
		for (int k = 0; k < 4 - pad; k++) {
			v[k] = value_of(in[i + (size_t)k]);
			if (v[k] < 0)
				return AIRLOCK_ERR_BAD_VALUE;
		}
		for (int k = 4 - pad; k < 4; k++)
			v[k] = 0;
		uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
		size_t bytes = 3u - (size_t)pad;
		/* Canonical: the bits that padding drops must be zero. */
		if ((pad == 1 && (w & 0xff)) || (pad == 2 && (w & 0xffff)))
			return AIRLOCK_ERR_BAD_VALUE;
		if (bytes > cap - o)
			return AIRLOCK_ERR_TOO_LARGE;
		out[o++] = (uint8_t)(w >> 16);
		if (bytes > 1)
			out[o++] = (uint8_t)(w >> 8);
		if (bytes > 2)
			out[o++] = (uint8_t)w;
	}
	*out_len = o;
	return AIRLOCK_OK;
}
