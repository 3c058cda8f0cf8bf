/* airlock inspect: a human (or JSON) view of any metadata file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "airlock/keywrap.h"
#include "cli.h"
#include "payload_io.h"

static const char inspect_usage[] =
	"usage: airlock inspect FILE [--json]\n"
	"\n"
	"Shows a root, release or directive (its fields and who signed it), or a\n"
	"keys file. Inspecting checks the encoding but not the signatures: use\n"
	"'airlock verify' for that.\n";

/* A tiny JSON emitter: enough for this view, with correct string escaping. */
struct out {
	bool json;
	bool need_comma;
};

static void json_str(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void key(struct out *o, const char *k)
{
	if (o->need_comma)
		putchar(',');
	json_str(k, strlen(k));
	putchar(':');
	o->need_comma = true;
}

static void open_obj(struct out *o, const char *k)
{
	if (k)
		key(o, k);
	else if (o->need_comma)
		putchar(',');
	putchar('{');
	o->need_comma = false;
}

static void open_arr(struct out *o, const char *k)
{
	key(o, k);
	putchar('[');
	o->need_comma = false;
}

static void close_obj(struct out *o, char c)
{
	putchar(c);
	o->need_comma = true;
}

static void field_str(struct out *o, const char *label, const char *s, size_t len)
{
	if (o->json) {
		key(o, label);
		json_str(s, len);
	} else {
		printf("%-18s %.*s\n", label, (int)len, s);
	}
}

static void field_u64(struct out *o, const char *label, uint64_t v)
{
	if (o->json) {
		key(o, label);
		printf("%llu", (unsigned long long)v);
	} else {
		printf("%-18s %llu\n", label, (unsigned long long)v);
	}
}

static void field_hex(struct out *o, const char *label, const uint8_t *p, size_t n)
{
	char hex[2 * 64 + 1];
	cli_hex(p, n, hex);
	field_str(o, label, hex, 2 * n);
}

static void field_time(struct out *o, const char *label, uint64_t t)
{
	char s[32];
	if (t == 0) {
		if (o->json) {
			key(o, label);
			fputs("null", stdout);
		} else {
			printf("%-18s never\n", label);
		}
		return;
	}
	cli_format_time(t, s, sizeof s);
	field_str(o, label, s, strlen(s));
}

static void show_root(struct out *o, const struct airlock_root *r)
{
	field_u64(o, "version", r->version);
	field_time(o, "expires", r->expires);
	if (o->json)
		open_arr(o, "keys");
	for (size_t i = 0; i < r->n_keys; i++) {
		char id[2 * AIRLOCK_KEYID_LEN + 1], pub[2 * AIRLOCK_PUB_MAX_LEN + 1];
		cli_hex(r->keys[i].keyid, AIRLOCK_KEYID_LEN, id);
		cli_hex(r->keys[i].pub.ptr, r->keys[i].pub.len, pub);
		if (o->json) {
			open_obj(o, NULL);
			field_str(o, "keyid", id, strlen(id));
			field_str(o, "alg", airlock_alg_name(r->keys[i].alg), strlen(airlock_alg_name(r->keys[i].alg)));
			field_str(o, "public", pub, strlen(pub));
			close_obj(o, '}');
		} else {
			printf("key %-14s %s %s\n", cli_keyid_short(r->keys[i].keyid), airlock_alg_name(r->keys[i].alg), id);
		}
	}
	if (o->json) {
		close_obj(o, ']');
		open_obj(o, "roles");
	}
	for (int role = AIRLOCK_ROLE_ROOT; role <= AIRLOCK_ROLE_DIRECTOR; role++) {
		const struct airlock_role_keys *rk = &r->roles[role];
		const char *name = airlock_role_name((enum airlock_role)role);
		if (o->json) {
			open_obj(o, name);
			field_u64(o, "threshold", rk->threshold);
			open_arr(o, "keyids");
			for (size_t i = 0; i < rk->n_keyids; i++) {
				char id[2 * AIRLOCK_KEYID_LEN + 1];
				cli_hex(rk->keyids[i], AIRLOCK_KEYID_LEN, id);
				if (i)
					putchar(',');
				json_str(id, strlen(id));
			}
			close_obj(o, ']');
			close_obj(o, '}');
		} else {
			printf("role %-13s %u of", name, rk->threshold);
			for (size_t i = 0; i < rk->n_keyids; i++)
				printf(" %s", cli_keyid_short(rk->keyids[i]));
			putchar('\n');
		}
	}
	if (o->json)
		close_obj(o, '}');
}

static void show_release(struct out *o, const struct airlock_release *r)
{
	field_str(o, "product", r->product.ptr, r->product.len);
	field_str(o, "version", r->version.ptr, r->version.len);
	field_u64(o, "security_version", r->security_version);
	field_time(o, "expires", r->expires);
	if (o->json)
		open_arr(o, "hardware");
	for (size_t i = 0; i < r->n_hardware; i++) {
		if (o->json) {
			if (i)
				putchar(',');
			json_str(r->hardware[i].ptr, r->hardware[i].len);
		} else {
			field_str(o, "hardware", r->hardware[i].ptr, r->hardware[i].len);
		}
	}
	if (o->json) {
		close_obj(o, ']');
		open_arr(o, "payloads");
	}
	for (size_t i = 0; i < r->n_payloads; i++) {
		const struct airlock_payload *p = &r->payloads[i];
		uint64_t chunks = p->size / p->chunk_size + (p->size % p->chunk_size != 0);
		if (o->json)
			open_obj(o, NULL);
		else
			printf("payload %.*s\n", (int)p->name.len, p->name.ptr);
		if (o->json)
			field_str(o, "name", p->name.ptr, p->name.len);
		field_u64(o, "  size", p->size);
		field_u64(o, "  chunk_size", p->chunk_size);
		field_u64(o, "  chunks", chunks);
		field_hex(o, "  digest", p->digest, AIRLOCK_SHA256_LEN);
		if (p->encrypted) {
			if (o->json)
				open_obj(o, "encryption");
			field_str(o, "  encryption", "aes-256-gcm-chunked", 19);
			field_u64(o, "  ciphertext_size", p->enc.size);
			field_hex(o, "  ciphertext_sha256", p->enc.sha256, AIRLOCK_SHA256_LEN);
			field_hex(o, "  nonce_prefix", p->enc.nonce_prefix, AIRLOCK_NONCE_PREFIX_LEN);
			if (o->json)
				close_obj(o, '}');
		}
		if (o->json)
			close_obj(o, '}');
	}
	if (o->json)
		close_obj(o, ']');
}

static void show_directive(struct out *o, const struct airlock_directive *d)
{
	field_str(o, "device", d->device.ptr, d->device.len);
	field_hex(o, "nonce", d->nonce.ptr, d->nonce.len);
	field_time(o, "issued", d->issued);
	field_time(o, "expires", d->expires);
	field_str(o, "action", d->action == AIRLOCK_ACTION_INSTALL ? "install" : "none",
		  d->action == AIRLOCK_ACTION_INSTALL ? 7 : 4);
	if (d->action != AIRLOCK_ACTION_INSTALL)
		return;
	field_hex(o, "release_digest", d->release_digest, AIRLOCK_SHA256_LEN);
	if (o->json)
		open_arr(o, "payloads");
	for (size_t i = 0; i < d->n_payloads; i++) {
		const struct airlock_directive_payload *p = &d->payloads[i];
		if (o->json)
			open_obj(o, NULL);
		else
			printf("payload %.*s\n", (int)p->name.len, p->name.ptr);
		if (o->json)
			field_str(o, "name", p->name.ptr, p->name.len);
		field_str(o, "  kind", p->kind == AIRLOCK_ARTIFACT_DELTA ? "delta" : "full",
			  p->kind == AIRLOCK_ARTIFACT_DELTA ? 5 : 4);
		field_u64(o, "  size", p->size);
		field_hex(o, "  digest", p->digest, AIRLOCK_SHA256_LEN);
		if (o->json)
			open_arr(o, "urls");
		for (size_t j = 0; j < p->n_urls; j++) {
			if (o->json) {
				if (j)
					putchar(',');
				json_str(p->urls[j].ptr, p->urls[j].len);
			} else {
				field_str(o, "  url", p->urls[j].ptr, p->urls[j].len);
			}
		}
		if (o->json) {
			close_obj(o, ']');
			close_obj(o, '}');
		}
	}
	if (o->json)
		close_obj(o, ']');
	if (d->wrapped_key.len)
		field_str(o, "content_key", "wrapped for this device", 23);
}

static int inspect_envelope(struct out *o, const char *path, const struct airlock_envelope *env)
{
	static struct airlock_root root;
	static struct airlock_release rel;
	static struct airlock_directive dir;
	uint8_t digest[AIRLOCK_SHA256_LEN];
	airlock_err err;

	switch (env->type) {
	case AIRLOCK_META_ROOT: err = airlock_root_parse_body(env->body.ptr, env->body.len, &root); break;
	case AIRLOCK_META_RELEASE: err = airlock_release_parse_body(env->body.ptr, env->body.len, &rel); break;
	default: err = airlock_directive_parse_body(env->body.ptr, env->body.len, &dir); break;
	}
	if (err == AIRLOCK_OK)
		err = airlock_sha256(env->body.ptr, env->body.len, digest);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s: %s body", path, airlock_meta_type_name(env->type));

	const char *type = airlock_meta_type_name(env->type);
	if (o->json)
		open_obj(o, NULL);
	field_str(o, "file", path, strlen(path));
	field_str(o, "type", type, strlen(type));
	field_u64(o, "format", AIRLOCK_FORMAT_VERSION);
	field_hex(o, env->type == AIRLOCK_META_RELEASE ? "release_digest" : "body_sha256", digest, sizeof digest);
	if (o->json) {
		open_arr(o, "signatures");
		for (size_t i = 0; i < env->n_sigs; i++) {
			open_obj(o, NULL);
			field_hex(o, "keyid", env->sigs[i].keyid, AIRLOCK_KEYID_LEN);
			const char *alg = airlock_alg_name(env->sigs[i].alg);
			if (alg)
				field_str(o, "alg", alg, strlen(alg));
			else
				field_u64(o, "alg_unknown", (uint64_t)env->sigs[i].alg);
			close_obj(o, '}');
		}
		close_obj(o, ']');
	} else {
		printf("%-18s %zu (not verified here: use 'airlock verify')\n", "signatures", env->n_sigs);
		for (size_t i = 0; i < env->n_sigs; i++) {
			const char *alg = airlock_alg_name(env->sigs[i].alg);
			printf("  %zu. key %s %s\n", i + 1, cli_keyid_short(env->sigs[i].keyid), alg ? alg : "(unknown)");
		}
	}
	if (o->json)
		open_obj(o, type);
	if (env->type == AIRLOCK_META_ROOT)
		show_root(o, &root);
	else if (env->type == AIRLOCK_META_RELEASE)
		show_release(o, &rel);
	else
		show_directive(o, &dir);
	if (o->json) {
		close_obj(o, '}');
		close_obj(o, '}');
		putchar('\n');
	}
	return EXIT_OK;
}

/* A keys file: [1, [wrapped...]]. Returns -1 if buf is not one. */
static int inspect_keys(struct out *o, const char *path, const uint8_t *buf, size_t len)
{
	struct airlock_cbor_dec d;
	struct airlock_wrapped_key w[KEYS_MAX_RECIPIENTS];
	size_t n;
	uint64_t format;
	airlock_cbor_dec_init(&d, buf, len);
	if (airlock_cbor_read_array(&d, &n) != AIRLOCK_OK || n != 2 ||
	    airlock_cbor_read_uint(&d, &format) != AIRLOCK_OK || format != KEYS_FILE_FORMAT ||
	    airlock_cbor_read_array(&d, &n) != AIRLOCK_OK || n > KEYS_MAX_RECIPIENTS)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (airlock_keywrap_decode(&d, &w[i]) != AIRLOCK_OK)
			return -1;
	if (airlock_cbor_dec_finish(&d) != AIRLOCK_OK)
		return -1;
	if (o->json)
		open_obj(o, NULL);
	field_str(o, "file", path, strlen(path));
	field_str(o, "type", "keys", 4);
	if (o->json)
		open_arr(o, "recipients");
	for (size_t i = 0; i < n; i++) {
		if (o->json) {
			char id[2 * AIRLOCK_KEYID_LEN + 1];
			cli_hex(w[i].recipient, AIRLOCK_KEYID_LEN, id);
			if (i)
				putchar(',');
			json_str(id, strlen(id));
		} else {
			field_hex(o, "recipient", w[i].recipient, AIRLOCK_KEYID_LEN);
		}
	}
	if (o->json) {
		close_obj(o, ']');
		close_obj(o, '}');
		putchar('\n');
	}
	return EXIT_OK;
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct out o = { false, false };
	static struct airlock_envelope env;
	uint8_t *buf;
	size_t len;
	int c, rc;

	cli_cmd = "airlock inspect";
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'j': o.json = true; break;
		case 'h': fputs(inspect_usage, stdout); return EXIT_OK;
		default: return cli_usage_error("bad option");
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("expected exactly one file");
	const char *path = argv[optind];
	airlock_err err = cli_read_file(path, AIRLOCK_ROOT_MAX_LEN, &buf, &len);
	if (err != AIRLOCK_OK)
		return cli_fail(err, "%s", path);
	err = airlock_envelope_parse(buf, len, AIRLOCK_ROOT_MAX_LEN, &env);
	if (err == AIRLOCK_OK) {
		rc = inspect_envelope(&o, path, &env);
	} else {
		rc = inspect_keys(&o, path, buf, len);
		if (rc < 0)
			rc = cli_fail(err, "%s is not an airlock metadata file", path);
	}
	free(buf);
	return rc;
}
