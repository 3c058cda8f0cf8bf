/*
 * The server's HTTP layer: libmicrohttpd over GnuTLS, hardened, with a small
 * typed interface for the application (server/api*.c).
 *
 * Conventions, once for the whole header:
 * - One struct http_server per process (or per test). It owns a TLS
 *   listener and, opt-in, a plain-HTTP listener on a local address that
 *   answers only GET/HEAD /healthz and /metrics.
 * - A request goes through three application callbacks, all on an MHD
 *   worker thread: route() once the headers are in (it picks how the body
 *   is read, or answers at once: 401/403/404/413 before any body byte is
 *   read), body() for each piece of a streamed body, handle() once the whole
 *   body is in. done() follows every request that reached route(), whatever
 *   happened to it (client gone, deadline), so per-request state is freed.
 * - The application answers with exactly one http_respond_*() call per
 *   request; a later call replaces an earlier one. Answering is infallible
 *   for the caller: if memory runs out the client gets a 500 "internal".
 * - Everything the layer hands out (strings, the certificate) lives until
 *   done() returns; nothing is owned by the application unless said so.
 * - Errors to clients are JSON {"error":"<stable_code>","message":"..."}; the
 *   layer itself uses: bad_path, bad_query (400), not_found (404, plain
 *   listener), bad_method (405), body_too_large and body_not_allowed (413),
 *   range_not_satisfiable (416), internal (500: an application bug or no
 *   memory, never bad input). MHD itself answers a few malformed requests
 *   before the layer sees them (431 for headers over conn_memory, 400).
 * - The application's context types are incomplete here: each program that
 *   links the layer defines struct http_app_ctx (one per server) and, if it
 *   keeps per-request state, struct http_app_req (one per request).
 */
#ifndef AIRLOCK_SERVER_HTTP_H
#define AIRLOCK_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "airlock/error.h"

/*
 * The built-in GnuTLS priority string: TLS 1.3 and TLS 1.2 only; ECDHE key
 * exchange only (no RSA key exchange, no finite-field DHE); AEAD ciphers only
 * (AES-256-GCM, CHACHA20-POLY1305, AES-128-GCM: no CBC, no RC4, no NULL);
 * no compression (GnuTLS 3.7 has none); SHA-2/EdDSA signatures only (no
 * SHA-1, no MD5); safe renegotiation required; no session tickets (every
 * connection presents its client certificate afresh); the server's order
 * wins. tests/server/test_http.sh checks every part of this with openssl.
 */
#define HTTP_TLS_PRIORITIES                                                         \
	"NONE:+VERS-TLS1.3:+VERS-TLS1.2:+ECDHE-ECDSA:+ECDHE-RSA:"                   \
	"+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:+AEAD:+COMP-NULL:"            \
	"+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:"                          \
	"+SIGN-ECDSA-SECP256R1-SHA256:+SIGN-ECDSA-SECP384R1-SHA384:"                \
	"+SIGN-ECDSA-SHA256:+SIGN-ECDSA-SHA384:"                                    \
	"+SIGN-RSA-PSS-RSAE-SHA256:+SIGN-RSA-PSS-RSAE-SHA384:"                      \
	"+SIGN-RSA-PSS-SHA256:+SIGN-RSA-PSS-SHA384:"                                \
	"+SIGN-RSA-SHA256:+SIGN-RSA-SHA384:+SIGN-RSA-SHA512:+SIGN-EDDSA-ED25519:"   \
	"+CTYPE-X509:%SAFE_RENEGOTIATION:%SERVER_PRECEDENCE:%NO_TICKETS"

#define HTTP_MAX_PATH 2048u          /* raw path bytes; longer is 400 bad_path */
#define HTTP_MAX_QUERY_ARGS 64u      /* more is 400 bad_query */
#define HTTP_MAX_CLIENT_CHAIN 8u     /* client certificates per chain; more is "invalid" */
#define HTTP_CN_MAX 128u             /* subject CN bytes, NUL included */
#define HTTP_SERIAL_HEX_MAX 65u      /* 32-byte serial as hex, NUL included */
#define HTTP_ERRMSG_MAX 256u

/* ---- configuration ---- */

struct http_config {
	/* Listen address: "127.0.0.1", "0.0.0.0", "::1", "[::1]", "::". */
	const char *listen;
	uint16_t port;                 /* 0: the kernel picks; see http_server_port() */
	const char *cert_file;         /* PEM: server certificate, then its intermediates */
	const char *key_file;          /* PEM: its private key (ECDSA P-256 or RSA), unencrypted */
	/* PEM bundle of the CAs that issue client certificates (the fleet CA).
	 * NULL: no client certificate is requested and every request's
	 * certificate is HTTP_CERT_NONE. */
	const char *client_ca_file;
	/* PEM bundle of manufacturer CAs, trusted in addition (a separate
	 * trust list: a certificate they issue verifies with anchor
	 * HTTP_ANCHOR_MANUFACTURER). NULL: none. Needs client_ca_file. */
	const char *manufacturer_ca_file;
	const char *client_crl_file;   /* PEM CRLs of those CAs; NULL: none */
	/* Refuse, at the handshake, clients that present no certificate (for
	 * a listener that only devices use). A certificate that is presented
	 * but invalid still completes the handshake and is reported
	 * HTTP_CERT_INVALID: GnuTLS does not check chains, the layer does. */
	bool require_client_cert;
	const char *priorities;        /* GnuTLS priority string; default HTTP_TLS_PRIORITIES */
	size_t max_body;               /* cap of a buffered body, bytes */
	size_t conn_memory;            /* memory per connection, request headers included */
	/* Over all clients; past it MHD stops accepting (new connections wait
	 * in the kernel's listen backlog). Split evenly between the threads. */
	unsigned max_connections;
	/* Concurrent connections from one address; more are closed at once. */
	unsigned max_per_ip;
	unsigned idle_timeout_s;       /* no byte in or out for this long: closed */
	/* From the connection's first byte (or the end of its previous
	 * response) until the whole request, headers and body, has arrived.
	 * A client that has not sent it all by then is disconnected, however
	 * steadily it trickles. A route may give itself longer
	 * (http_route.deadline_s) for large uploads. Sending the response is
	 * bounded by idle_timeout_s only. */
	unsigned request_deadline_s;
	unsigned threads;              /* worker threads of the TLS listener */
	/* Opt-in plain-HTTP listener for /healthz and /metrics: NULL for none.
	 * Must be one local address (a wildcard is refused). One thread, 16
	 * connections, 4 per address. */
	const char *plain_listen;
	uint16_t plain_port;
	bool access_log;               /* one JSON line per request on stderr */
};

/* Fills cfg with the defaults: listen 0.0.0.0:8443, HTTP_TLS_PRIORITIES,
 * max_body 1 MiB, conn_memory 32 KiB, 1024 connections, 32 per address,
 * idle 30 s, deadline 30 s, 4 threads, access log on. Files are NULL. */
void http_config_init(struct http_config *cfg);

/* ---- requests ---- */

enum http_method {
	HTTP_GET,
	HTTP_HEAD,
	HTTP_POST,
	HTTP_PUT,
	HTTP_DELETE,
	HTTP_PATCH,
};

enum http_listener {
	HTTP_LISTENER_TLS,
	HTTP_LISTENER_PLAIN,  /* only GET/HEAD /healthz and /metrics reach the app */
};

enum http_cert_state {
	HTTP_CERT_NONE = 0,   /* no certificate presented (or no client CAs configured) */
	HTTP_CERT_INVALID,    /* presented but refused: answer 403, never identify */
	HTTP_CERT_VERIFIED,   /* chains to a client CA, in its validity period, usable for TLS client auth */
};

/* Which trust list a VERIFIED certificate chains to. */
enum http_cert_anchor {
	HTTP_ANCHOR_NONE = 0,       /* not verified */
	HTTP_ANCHOR_FLEET,          /* http_config.client_ca_file */
	HTTP_ANCHOR_MANUFACTURER,   /* http_config.manufacturer_ca_file */
};

/* The client certificate of the connection. For INVALID, the fields other
 * than `reason` describe the presented leaf where it parsed, for logs only. */
struct http_client_cert {
	enum http_cert_state state;
	enum http_cert_anchor anchor;
	/* INVALID only: "untrusted", "expired", "not_yet_valid", "revoked",
	 * "key_usage", "ext_key_usage", "is_ca", "bad_subject", "chain_too_long",
	 * "malformed". NULL otherwise. */
	const char *reason;
	uint8_t sha256[32];           /* of the leaf's DER */
	char sha256_hex[65];
	char subject_cn[HTTP_CN_MAX]; /* printable ASCII; "" if none */
	char serial_hex[HTTP_SERIAL_HEX_MAX];
	int64_t not_before;           /* Unix seconds */
	int64_t not_after;
};

struct http_request;
struct http_app_ctx;  /* defined by the program: the application's state */
struct http_app_req;  /* defined by the program: its per-request state */

enum http_method http_request_method(const struct http_request *req);
const char *http_request_method_name(const struct http_request *req);
/* The path as sent, without the query: checked (else 400 bad_path) to be
 * at most HTTP_MAX_PATH bytes of printable ASCII starting with '/', with no
 * "..", "//", "\" or "#", and no percent-escape of '/', '\', '.' or of a
 * byte outside printable ASCII (NUL, controls, UTF-8), nor a broken one.
 * Other percent-escapes ("%41") are left as they are: routes compare the
 * raw path. */
const char *http_request_path(const struct http_request *req);
/* A query parameter, percent-decoded by MHD (the first if repeated); NULL
 * if absent. Values never hold NUL or control bytes (those are 400). */
const char *http_request_query(const struct http_request *req, const char *name);
/* A request header (case-insensitive name); NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_request_remote_ip(const struct http_request *req);
/* 16 hex digits, also sent as X-Request-Id and logged. */
const char *http_request_id(const struct http_request *req);
enum http_listener http_request_listener(const struct http_request *req);
/* Never NULL. Check ->state: only HTTP_CERT_VERIFIED identifies a client. */
const struct http_client_cert *http_request_cert(const struct http_request *req);
/* The declared Content-Length; false when the body is chunked or absent. */
bool http_request_content_length(const struct http_request *req, uint64_t *len);
/* HTTP_BODY_BUFFER, in handle(): the body (NUL-terminated for
 * convenience; len excludes the NUL). Empty body: "" and 0. */
const uint8_t *http_request_body(const struct http_request *req, size_t *len);
/* Streamed and buffered bodies: bytes received so far. */
uint64_t http_request_body_received(const struct http_request *req);

void http_request_set_app(struct http_request *req, struct http_app_req *state);
struct http_app_req *http_request_app(const struct http_request *req);
/* In done(): the status of the answer queued (0: none) and its body bytes
 * (0 for HEAD; a file's whole range, even if the client left early). */
unsigned http_request_sent_status(const struct http_request *req);
uint64_t http_request_sent_bytes(const struct http_request *req);

/* Adds a field to this request's access-log line; takes the reference to
 * value. Keys of the layer's own fields are refused (value released). */
void http_request_log_add(struct http_request *req, const char *key, json_t *value);

/* ---- routing ---- */

enum http_body_mode {
	HTTP_BODY_NONE,    /* a request with a body is answered 413 body_not_allowed */
	HTTP_BODY_BUFFER,  /* read into memory, at most max_body bytes, else 413 */
	HTTP_BODY_STREAM,  /* each piece handed to http_app.body() as it arrives */
};

struct http_route {
	enum http_body_mode body;  /* default HTTP_BODY_NONE */
	/* BUFFER: cap in bytes, 0 = http_config.max_body (a larger value is
	 * clamped to it). STREAM: cap in bytes, 0 = no cap (the application's
	 * sink enforces its own, e.g. the signed size). Over the cap: 413
	 * body_too_large, before any byte is read when Content-Length says so. */
	uint64_t max_body;
	/* Total seconds to receive this request, counted from where
	 * request_deadline_s counts; 0 = request_deadline_s. */
	unsigned deadline_s;
};

struct http_app {
	struct http_app_ctx *ctx;
	/* Headers are in, the path and query are checked. Fill *route, or
	 * answer now with an http_respond_*() call (no body byte is read). */
	void (*route)(struct http_app_ctx *ctx, struct http_request *req, struct http_route *route);
	/* HTTP_BODY_STREAM: the next piece. Return false to stop after calling
	 * http_respond_*() (e.g. 413, 422); the rest of the body is discarded
	 * (up to a bound, past which the connection is closed). May be NULL if
	 * no route streams. */
	bool (*body)(struct http_app_ctx *ctx, struct http_request *req, const uint8_t *data, size_t len);
	/* The whole body is in: answer with one http_respond_*() call. */
	void (*handle)(struct http_app_ctx *ctx, struct http_request *req);
	/* Optional: after the response was sent (completed = true) or the
	 * request was abandoned (client gone, deadline, shutdown: false).
	 * Called once for every request that reached route(). */
	void (*done)(struct http_app_ctx *ctx, struct http_request *req, bool completed);
};

/* ---- responses ----
 * Every response carries X-Request-Id, X-Content-Type-Options: nosniff,
 * X-Frame-Options: DENY, Referrer-Policy: no-referrer,
 * Content-Security-Policy: default-src 'none'; frame-ancestors 'none',
 * Cache-Control: no-store and, on the TLS listener,
 * Strict-Transport-Security. http_response_header() may replace the
 * Cache-Control and Content-Security-Policy defaults. */

/* JSON body; takes the reference to body. NULL (a json_pack() that
 * failed) answers 500 internal. Statuses outside 200..599 become 500. */
void http_respond_json(struct http_request *req, unsigned status, json_t *body);
/* A prebuilt JSON text (copied). */
void http_respond_json_text(struct http_request *req, unsigned status, const char *json, size_t len);
/* {"error":code,"message":...}; status is 4xx or 5xx; code is a stable
 * snake_case name. */
void http_respond_error(struct http_request *req, unsigned status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Bytes (copied) with their content type. */
void http_respond_bytes(struct http_request *req, unsigned status, const char *content_type, const void *data,
			size_t len);
/* No body (e.g. 204). */
void http_respond_empty(struct http_request *req, unsigned status);
/*
 * A file (takes fd, closes it in every case) of `size` bytes, with an
 * entity tag (printable ASCII without '"' or '\\', quoted by the layer;
 * NULL for none). GET/HEAD honour a single Range ("bytes=a-b", "bytes=a-",
 * "bytes=-n") with 206 and Content-Range, answer 416 with
 * "Content-Range: bytes * /size" (no space) when unsatisfiable, the full
 * 200 for several ranges or a malformed Range, 304 for a matching
 * If-None-Match, and ignore Range when If-Range names another tag.
 */
void http_respond_file(struct http_request *req, int fd, uint64_t size, const char *etag, const char *content_type);
/* An extra header on the response being built (call after http_respond_*;
 * at most 8). Names are tokens, values printable without CR/LF; invalid
 * ones are dropped and logged. Setting Cache-Control or
 * Content-Security-Policy replaces the default. */
void http_response_header(struct http_request *req, const char *name, const char *value);

/* ---- the server ---- */

struct http_server;

/*
 * Loads the certificate, key, client CAs and CRLs, checks the priority
 * string, binds the listeners and starts the worker threads. On failure
 * *out is NULL and, if why is not NULL, why holds one line for people.
 * AIRLOCK_ERR_INVALID_ARG (configuration), AIRLOCK_ERR_IO_OPEN/IO_READ
 * (files), AIRLOCK_ERR_KEY_PERMS (key file accessible to others),
 * AIRLOCK_ERR_BAD_KEY_FILE (certificate, key or CA bundle that does not
 * parse, or key and certificate that do not match), AIRLOCK_ERR_NOMEM,
 * AIRLOCK_ERR_IO_WRITE (cannot listen: address in use, permission).
 */
AIRLOCK_MUST_USE airlock_err http_server_start(const struct http_config *cfg, const struct http_app *app,
					       struct http_server **out, char why[HTTP_ERRMSG_MAX]);
/* Stops accepting, closes every connection (done() runs with completed =
 * false for requests in flight), joins the threads, wipes the key. NULL is
 * a no-op. */
void http_server_stop(struct http_server *srv);

/* The bound ports (useful with port 0); 0 for a listener not started. */
uint16_t http_server_port(const struct http_server *srv);
uint16_t http_server_plain_port(const struct http_server *srv);

/*
 * Writes the layer's metrics in the Prometheus text format (0.0.4):
 * airlock_http_requests_total{class="2xx"}, airlock_http_response_bytes_total,
 * airlock_http_request_duration_seconds (histogram),
 * airlock_http_requests_by_cert_total{state=...},
 * airlock_http_deadline_disconnects_total, airlock_http_connections_open.
 * The application appends its own to the same stream.
 */
void http_server_metrics_write(const struct http_server *srv, FILE *out);

#endif
