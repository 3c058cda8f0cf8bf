/*
 * Internals of the HTTP layer shared by http.c (listeners, connections,
 * the deadline watchdog, logging), http_request.c (a request from its
 * request line to its access-log line), http_response.c (responses,
 * Range, metrics) and http_tls.c (certificates, client verification).
 * Nothing here is for the application: it includes server/http.h only.
 */
#ifndef AIRLOCK_SERVER_HTTP_INT_H
#define AIRLOCK_SERVER_HTTP_INT_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>

#include "http.h"

#define HTTP_MAX_EXTRA_HEADERS 8u
#define HTTP_ETAG_MAX 130u          /* quoted tag, NUL included */
#define HTTP_CTYPE_MAX 128u
/* After the application stopped a body (413, a sink error), at most this
 * many more bytes are read and discarded so the client still gets the
 * answer (MHD 0.9.75 cannot queue a response in the middle of a body);
 * past it the connection is closed. */
#define HTTP_DRAIN_MAX (256u * 1024u)
#define HTTP_PEM_MAX (1024u * 1024u)
/* Lingering close: a connection answered before its body was read (413,
 * 403 from route()) would be reset by the kernel when MHD closes it with
 * the body still arriving, and a reset can destroy the answer before the
 * client reads it. So the watchdog keeps a duplicate of the socket, its
 * write side shut, and reads and discards for a while before closing. */
#define HTTP_LINGER_MAX 64u
#define HTTP_LINGER_MS 2000
#define HTTP_LINGER_BYTES (1024u * 1024u)
#define HTTP_DEADLINE_NONE INT64_MAX
#define HTTP_HIST_BUCKETS 12u       /* + the +Inf bucket */

struct http_server;

/* One listener: one MHD daemon. */
struct http_lst {
	struct http_server *srv;
	struct MHD_Daemon *d;
	enum http_listener kind;
	uint16_t port;
};

/* One TCP connection (MHD's socket context). Created at accept, freed when
 * MHD reports it closed, which MHD does before it closes the socket: the
 * watchdog, holding conn_lock, may therefore shutdown() fd safely. */
struct http_conn {
	struct http_lst *lst;
	struct http_conn *prev, *next;   /* srv->conns, under srv->conn_lock */
	int fd;
	bool killed;                     /* under conn_lock */
	bool linger;                     /* answered with a body unread */
	bool had_request;                /* a request line arrived */
	_Atomic int64_t deadline_ms;     /* monotonic; HTTP_DEADLINE_NONE while responding */
	_Atomic int64_t window_ms;       /* start of the current request's window */
	char ip[INET6_ADDRSTRLEN];
	/* The client certificate, verified once per distinct leaf (a
	 * renegotiation that changes it is verified again). Worker thread only. */
	uint8_t *cert_der;
	size_t cert_der_len;
	struct http_client_cert cert;
};

enum http_resp_kind {
	HTTP_RESP_NONE = 0,
	HTTP_RESP_BUF,    /* buf/len, content type */
	HTTP_RESP_FILE,   /* fd/size/etag, content type */
};

struct http_resp {
	enum http_resp_kind kind;
	unsigned status;
	bool oom;                         /* building it failed: a 500 goes out */
	char *buf;                        /* malloc'd */
	size_t len;
	char ctype[HTTP_CTYPE_MAX];
	int fd;
	uint64_t size;
	char etag[HTTP_ETAG_MAX];         /* quoted, "" for none */
	unsigned nhdr;
	char *hdr_name[HTTP_MAX_EXTRA_HEADERS];
	char *hdr_value[HTTP_MAX_EXTRA_HEADERS];
};

enum http_phase {
	HTTP_PH_NEW,        /* headers in, not yet routed */
	HTTP_PH_BODY,       /* reading the body the route asked for */
	HTTP_PH_DRAIN,      /* answered; discarding the rest of the body */
	HTTP_PH_QUEUED,     /* response handed to MHD */
};

struct http_request {
	struct http_server *srv;
	struct http_lst *lst;
	struct http_conn *conn;
	struct MHD_Connection *mc;
	enum http_phase phase;
	enum http_method method;
	const char *method_name;
	char id[17];
	char *raw;                        /* the raw target: path, then '\0', then query */
	const char *path;
	int64_t start_ms;                 /* monotonic, at the request line */
	struct timespec start_wall;
	struct http_route route;
	uint64_t body_cap;                /* 0: none (stream only) */
	bool has_len;
	bool has_body;                    /* a Content-Length > 0 or chunked */
	uint64_t content_length;
	uint8_t *body;
	size_t body_len, body_cap_alloc;
	uint64_t received;
	uint64_t drained;
	bool routed;                      /* route() ran: done() is owed */
	struct http_resp resp;
	unsigned sent_status;             /* 0: nothing queued */
	uint64_t sent_bytes;
	struct http_app_req *app;
	json_t *log;                      /* the application's extra fields, or NULL */
	const struct http_client_cert *cert;
};

struct http_server {
	struct http_config cfg;           /* scalars; strings below are copies */
	char *priorities;
	struct http_app app;
	struct http_lst tls, plain;
	char *cert_pem, *key_pem, *ca_pem;
	size_t key_pem_len;
	gnutls_x509_trust_list_t trust;   /* client CAs (+ CRLs); NULL without */
	gnutls_x509_trust_list_t mfg_trust; /* manufacturer CAs (+ CRLs); NULL without */
	bool sts;                         /* send Strict-Transport-Security */

	pthread_mutex_t conn_lock;
	struct http_conn *conns;
	pthread_cond_t wd_cond;
	pthread_t wd_thread;
	bool wd_started, wd_stop;         /* under conn_lock */
	struct http_linger {
		int fd;
		int64_t until_ms;
		uint64_t bytes;
	} lingers[HTTP_LINGER_MAX];       /* under conn_lock */
	unsigned nlingers;

	/* metrics */
	atomic_uint_fast64_t m_class[6];  /* 1xx..5xx, [0] other */
	atomic_uint_fast64_t m_aborted;
	atomic_uint_fast64_t m_bytes;
	atomic_uint_fast64_t m_hist[HTTP_HIST_BUCKETS + 1];
	atomic_uint_fast64_t m_dur_us;
	atomic_uint_fast64_t m_cert[3];
	atomic_uint_fast64_t m_deadline;
	atomic_uint_fast64_t m_conns_open;
};

extern const unsigned http_hist_bounds_ms[HTTP_HIST_BUCKETS];

int64_t http_now_ms(void);
/* Printable ASCII only, truncated to cap - 1: for logs and messages that
 * may quote a client. */
void http_sanitize(const char *in, char *out, size_t cap);
/* The deadline of the request being received on conn (monotonic ms). */
void http_conn_set_deadline(struct http_conn *conn, int64_t at);
/* A new request window starts now (accept, or the end of a response). */
void http_conn_new_window(struct http_server *srv, struct http_conn *conn);

/* http_request.c: MHD's callbacks for requests. */
void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *mc);
enum MHD_Result http_access_handler(void *cls, struct MHD_Connection *mc, const char *url, const char *method,
				    const char *version, const char *upload_data, size_t *upload_data_size,
				    void **con_cls);
void http_request_completed(void *cls, struct MHD_Connection *mc, void **con_cls,
			    enum MHD_RequestTerminationCode toe);
/* One JSON line to stderr in a single write(); takes the reference. */
void http_log_line(json_t *obj);
/* Wall-clock time as RFC 3339 UTC with milliseconds. */
void http_format_time(const struct timespec *ts, char out[32]);

/* http_tls.c */
AIRLOCK_MUST_USE airlock_err http_read_file(const char *path, bool secret, char **out, size_t *len,
					    char why[HTTP_ERRMSG_MAX]);
AIRLOCK_MUST_USE airlock_err http_tls_setup(struct http_server *srv, const struct http_config *cfg,
					    char why[HTTP_ERRMSG_MAX]);
void http_tls_teardown(struct http_server *srv);
/* The connection's client certificate, verified (cached per leaf). */
const struct http_client_cert *http_tls_client_cert(struct http_server *srv, struct http_conn *conn,
						    struct MHD_Connection *mc);
void http_cert_clear(struct http_conn *conn);

/* http_response.c */
/* Queues req->resp (or a 500 if none was set); returns MHD's verdict. */
enum MHD_Result http_queue(struct http_request *req);
void http_resp_clear(struct http_resp *resp);
/* Parses a Range header against size. Returns 1 with [*first, *last] for
 * a single satisfiable range, 0 when the whole body should be sent
 * (absent, malformed, several ranges), -1 when unsatisfiable (416). */
int http_parse_range(const char *h, uint64_t size, uint64_t *first, uint64_t *last);
/* http.c: a body of size bytes of fd from off, read in large blocks; owns
 * fd once it returns non-NULL (as MHD_create_response_from_fd_at_offset64). */
struct MHD_Response *http_file_response(uint64_t size, int fd, uint64_t off);
void http_metrics_record(struct http_server *srv, const struct http_request *req, int64_t dur_ms);

#endif
