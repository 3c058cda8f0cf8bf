/*
 * HTTP layer: configuration, listeners, connections, the request deadline,
 * lingering close and logging. A request's own life is in http_request.c,
 * responses in http_response.c, TLS in http_tls.c.
 *
 * The request deadline. MHD's CONNECTION_TIMEOUT is an idle timeout: a
 * client that sends one byte a second keeps a connection (and its memory)
 * forever, and MHD calls the application only once all headers are in, so
 * a check in the access handler cannot see a client that trickles headers.
 * So a watchdog thread does it: every connection is listed (NOTIFY_CONNECTION)
 * with a monotonic deadline, set at accept (covering the TLS handshake and
 * the headers), moved by the route (a large upload may take longer), lifted
 * while the response is sent (bounded by the idle timeout) and set again
 * when a keep-alive connection waits for its next request. Four times a
 * second the watchdog shuts down (shutdown(2), not close) the socket of
 * every connection past its deadline; MHD then sees the socket fail and
 * closes the connection through its normal path, so its state stays
 * consistent. MHD reports a connection closed before it closes the
 * socket, and the watchdog holds the same lock as that report, so it never
 * shuts down a descriptor that was reused for another connection.
 */
#include "http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WATCHDOG_TICK_MS 250

int64_t http_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void http_format_time(const struct timespec *ts, char out[32])
{
	struct tm tm;
	time_t t = ts->tv_sec;
	gmtime_r(&t, &tm);
	size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 32 - n, ".%03uZ", (unsigned)(ts->tv_nsec / 1000000) % 1000u);
}

void http_log_line(json_t *obj)
{
	char *s = obj ? json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
	json_decref(obj);
	if (!s)
		return;
	size_t n = strlen(s);
	char *line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return;
	}
	line[n] = '\n';
	/* One write: lines from several threads do not interleave. */
	size_t off = 0;
	while (off < n + 1) {
		ssize_t w = write(STDERR_FILENO, line + off, n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	free(line);
}

static json_t *log_base(const char *level)
{
	struct timespec ts;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	http_format_time(&ts, when);
	return json_pack("{s:s, s:s, s:s}", "ts", when, "level", level, "src", "http");
}

static void log_msg(const char *level, const char *msg)
{
	json_t *o = log_base(level);
	if (o)
		json_object_set_new(o, "msg", json_string(msg));
	http_log_line(o);
}

/* MHD's own messages (failed handshakes, resource limits). */
__attribute__((format(printf, 2, 0))) static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char buf[512];
	vsnprintf(buf, sizeof buf, fmt, ap);
	size_t n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e)
			buf[i] = '?';
	json_t *o = log_base("warn");
	if (o) {
		json_object_set_new(o, "src", json_string("mhd"));
		json_object_set_new(o, "msg", json_string(buf));
	}
	http_log_line(o);
}

/* Printable ASCII only, truncated: log lines stay valid JSON and short
 * whatever a client sent. */
void http_sanitize(const char *in, char *out, size_t cap)
{
	size_t i = 0;
	for (; in[i] && i + 1 < cap; i++)
		out[i] = ((unsigned char)in[i] < 0x20 || (unsigned char)in[i] > 0x7e) ? '?' : in[i];
	out[i] = '\0';
}

void http_config_init(struct http_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->listen = "0.0.0.0";
	cfg->port = 8443;
	cfg->priorities = HTTP_TLS_PRIORITIES;
	cfg->max_body = 1024 * 1024;
	cfg->conn_memory = 32 * 1024;
	cfg->max_connections = 1024;
	cfg->max_per_ip = 32;
	cfg->idle_timeout_s = 30;
	cfg->request_deadline_s = 30;
	cfg->threads = 4;
	cfg->access_log = true;
}

/* ---- the request deadline ---- */

void http_conn_set_deadline(struct http_conn *conn, int64_t at)
{
	atomic_store(&conn->deadline_ms, at);
}

void http_conn_new_window(struct http_server *srv, struct http_conn *conn)
{
	int64_t now = http_now_ms();
	atomic_store(&conn->window_ms, now);
	http_conn_set_deadline(conn, now + (int64_t)srv->cfg.request_deadline_s * 1000);
}

/* Reads and discards what a lingering socket has; closes it at EOF, on an
 * error, or past its time or byte budget. Under conn_lock. */
static void linger_drain(struct http_server *srv, int64_t now, bool all)
{
	uint8_t buf[16384];
	for (unsigned i = 0; i < srv->nlingers;) {
		struct http_linger *l = &srv->lingers[i];
		bool finished = all || now >= l->until_ms || l->bytes > HTTP_LINGER_BYTES;
		while (!finished) {
			ssize_t n = recv(l->fd, buf, sizeof buf, MSG_DONTWAIT);
			if (n > 0) {
				l->bytes += (uint64_t)n;
				finished = l->bytes > HTTP_LINGER_BYTES;
			} else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
				break;
			} else {
				finished = true;
			}
		}
		if (finished) {
			close(l->fd);
			srv->lingers[i] = srv->lingers[--srv->nlingers];
		} else {
			i++;
		}
	}
}

static void *watchdog_main(void *arg)
{
	struct http_server *srv = arg;
	pthread_mutex_lock(&srv->conn_lock);
	while (!srv->wd_stop) {
		int64_t now = http_now_ms();
		linger_drain(srv, now, false);
		for (struct http_conn *c = srv->conns; c; c = c->next) {
			if (c->killed || atomic_load(&c->deadline_ms) > now)
				continue;
			c->killed = true;
			atomic_fetch_add(&srv->m_deadline, 1);
			shutdown(c->fd, SHUT_RDWR);
		}
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += WATCHDOG_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&srv->wd_cond, &srv->conn_lock, &ts);
	}
	linger_drain(srv, 0, true);
	pthread_mutex_unlock(&srv->conn_lock);
	return NULL;
}

/* ---- MHD callbacks ---- */

static void notify_connection(void *cls, struct MHD_Connection *mc, void **socket_context,
			      enum MHD_ConnectionNotificationCode code)
{
	struct http_lst *lst = cls;
	struct http_server *srv = lst->srv;
	struct http_conn *conn = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		conn = calloc(1, sizeof *conn);
		*socket_context = conn;
		if (!conn)
			return;  /* the access handler closes a connection without one */
		conn->lst = lst;
		conn->cert.state = HTTP_CERT_NONE;
		const union MHD_ConnectionInfo *fd = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ad = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		conn->fd = fd ? fd->connect_fd : -1;
		strcpy(conn->ip, "?");
		if (ad && ad->client_addr) {
			const struct sockaddr *sa = ad->client_addr;
			if (sa->sa_family == AF_INET)
				inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, conn->ip,
					  sizeof conn->ip);
			else if (sa->sa_family == AF_INET6)
				inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
					  conn->ip, sizeof conn->ip);
		}
		http_conn_new_window(srv, conn);
		if (lst->kind == HTTP_LISTENER_TLS && srv->cfg.require_client_cert) {
			/* MHD asks GnuTLS only to request a certificate; this
			 * listener insists. Without a session to tell, fail closed. */
			const union MHD_ConnectionInfo *ts = MHD_get_connection_info(mc, MHD_CONNECTION_INFO_GNUTLS_SESSION);
			if (ts && ts->tls_session)
				gnutls_certificate_server_set_request((gnutls_session_t)ts->tls_session, GNUTLS_CERT_REQUIRE);
			else
				http_conn_set_deadline(conn, 0);
		}
		pthread_mutex_lock(&srv->conn_lock);
		conn->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = conn;
		srv->conns = conn;
		pthread_mutex_unlock(&srv->conn_lock);
		atomic_fetch_add(&srv->m_conns_open, 1);
		return;
	}
	if (!conn)
		return;
	pthread_mutex_lock(&srv->conn_lock);
	bool killed = conn->killed;
	if (conn->linger && conn->fd >= 0 && srv->nlingers < HTTP_LINGER_MAX && !srv->wd_stop) {
		int d = fcntl(conn->fd, F_DUPFD_CLOEXEC, 0);
		if (d >= 0) {
			shutdown(d, SHUT_WR);
			srv->lingers[srv->nlingers++] = (struct http_linger){ d, http_now_ms() + HTTP_LINGER_MS, 0 };
		}
	}
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		srv->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	pthread_mutex_unlock(&srv->conn_lock);
	atomic_fetch_sub(&srv->m_conns_open, 1);
	/* A connection that never got a request line to us: a failed TLS
	 * handshake (wrong protocol, cipher or certificate), a scanner, a
	 * slowloris. MHD logs the TLS error without the address; this names it. */
	if (!conn->had_request && srv->cfg.access_log) {
		json_t *o = log_base("info");
		if (o) {
			json_object_set_new(o, "src", json_string("conn"));
			json_object_set_new(o, "ip", json_string(conn->ip));
			json_object_set_new(o, "msg", json_string("closed without a request"));
			json_object_set_new(o, "end", json_string(killed ? "deadline" : "closed"));
		}
		http_log_line(o);
	}
	http_cert_clear(conn);
	free(conn);
	*socket_context = NULL;
}

/* ---- file bodies ----
 *
 * MHD's own file response reads 4 KiB at a time (MHD_FILE_READ_BLOCK_SIZE),
 * and over TLS each read became one 4 KiB record, one sendmsg and one pass
 * of the event loop: a 1 GiB download made 262,144 of each. A callback
 * response reads HTTP_FILE_BLOCK at once, which GnuTLS sends as full
 * 16 KiB records. */
#define HTTP_FILE_BLOCK (256u * 1024u)

struct http_file_src {
	int fd;
	uint64_t off;
};

static ssize_t file_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	const struct http_file_src *f = cls;
	for (;;) {
		ssize_t n = pread(f->fd, buf, max, (off_t)(f->off + pos));
		if (n > 0)
			return n;
		if (n < 0 && errno == EINTR)
			continue;
		/* the file shrank under us or a read error: cut the body, the
		 * client sees fewer bytes than Content-Length */
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
}

static void file_free(void *cls)
{
	struct http_file_src *f = cls;
	close(f->fd);
	free(f);
}

struct MHD_Response *http_file_response(uint64_t size, int fd, uint64_t off)
{
	if (off > (uint64_t)INT64_MAX || size > (uint64_t)INT64_MAX - off)
		return NULL;
	struct http_file_src *f = malloc(sizeof *f);
	if (!f)
		return NULL;
	*f = (struct http_file_src){ fd, off };
	struct MHD_Response *m = MHD_create_response_from_callback(size, HTTP_FILE_BLOCK, file_read, f, file_free);
	if (!m)
		free(f);  /* fd stays the caller's */
	return m;
}

/* ---- start and stop ---- */

static bool parse_addr(const char *s, uint16_t port, struct sockaddr_storage *ss, bool *v6, bool *wildcard)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(s);
	memset(ss, 0, sizeof *ss);
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		if (n - 2 >= sizeof buf)
			return false;
		memcpy(buf, s + 1, n - 2);
		buf[n - 2] = '\0';
	} else {
		if (n >= sizeof buf)
			return false;
		memcpy(buf, s, n + 1);
	}
	struct sockaddr_in *in4 = (struct sockaddr_in *)(void *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)ss;
	if (inet_pton(AF_INET, buf, &in4->sin_addr) == 1 && buf[0] != '[') {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(port);
		*v6 = false;
		*wildcard = in4->sin_addr.s_addr == htonl(INADDR_ANY);
		return true;
	}
	if (inet_pton(AF_INET6, buf, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		*v6 = true;
		*wildcard = memcmp(&in6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0;
		return true;
	}
	return false;
}

static airlock_err start_listener(struct http_server *srv, struct http_lst *lst, const char *addr, uint16_t port,
				  char why[HTTP_ERRMSG_MAX])
{
	struct sockaddr_storage ss;
	bool v6 = false, wildcard = false;
	if (!addr || !parse_addr(addr, port, &ss, &v6, &wildcard)) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "bad listen address \"%s\"", addr ? addr : "(null)");
		return AIRLOCK_ERR_INVALID_ARG;
	}
	if (lst->kind == HTTP_LISTENER_PLAIN && wildcard) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "the plain listener must name one local address, not \"%s\"",
				 addr);
		return AIRLOCK_ERR_INVALID_ARG;
	}
	const struct http_config *c = &srv->cfg;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	bool tls = lst->kind == HTTP_LISTENER_TLS;
	unsigned threads = tls ? c->threads : 1;
	struct MHD_OptionItem ops[24];
	size_t i = 0;
#define OPT(o, v, p) ops[i++] = (struct MHD_OptionItem){ (o), (intptr_t)(v), (p) }
	OPT(MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_logger, NULL);
	OPT(MHD_OPTION_SOCK_ADDR, 0, &ss);
	OPT(MHD_OPTION_CONNECTION_LIMIT, tls ? c->max_connections : 16, NULL);
	OPT(MHD_OPTION_PER_IP_CONNECTION_LIMIT, tls ? c->max_per_ip : 4, NULL);
	OPT(MHD_OPTION_CONNECTION_TIMEOUT, c->idle_timeout_s, NULL);
	OPT(MHD_OPTION_CONNECTION_MEMORY_LIMIT, c->conn_memory, NULL);
	OPT(MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL);
	OPT(MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_connection, lst);
	OPT(MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)http_request_completed, lst);
	OPT(MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)http_uri_log, lst);
	if (threads > 1)
		OPT(MHD_OPTION_THREAD_POOL_SIZE, threads, NULL);
	if (tls) {
		flags |= MHD_USE_TLS;
		OPT(MHD_OPTION_HTTPS_MEM_CERT, 0, srv->cert_pem);
		OPT(MHD_OPTION_HTTPS_MEM_KEY, 0, srv->key_pem);
		OPT(MHD_OPTION_HTTPS_PRIORITIES, 0, srv->priorities);
		if (srv->ca_pem)
			OPT(MHD_OPTION_HTTPS_MEM_TRUST, 0, srv->ca_pem);
	}
	OPT(MHD_OPTION_END, 0, NULL);
#undef OPT
	/* The function-pointer options travel as intptr_t in MHD's array. */
	lst->d = MHD_start_daemon(flags, 0, NULL, NULL, http_access_handler, lst, MHD_OPTION_ARRAY, ops, MHD_OPTION_END);
	if (!lst->d) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "cannot listen on %s port %u (address in use, or TLS setup failed)",
				 addr, (unsigned)port);
		return AIRLOCK_ERR_IO_WRITE;
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(lst->d, MHD_DAEMON_INFO_BIND_PORT);
	lst->port = di ? di->port : port;
	return AIRLOCK_OK;
}

static bool config_ok(const struct http_config *c, char why[HTTP_ERRMSG_MAX])
{
	const char *bad = NULL;
	if (c->max_body == 0)
		bad = "max_body must be > 0";
	else if (c->conn_memory < 4096 || c->conn_memory > 1024 * 1024)
		bad = "conn_memory must be 4 KiB .. 1 MiB";
	else if (c->max_connections == 0 || c->max_per_ip == 0)
		bad = "connection limits must be > 0";
	else if (c->idle_timeout_s == 0 || c->request_deadline_s == 0)
		bad = "idle_timeout_s and request_deadline_s must be > 0";
	else if (c->threads == 0 || c->threads > 256)
		bad = "threads must be 1 .. 256";
	else if (c->require_client_cert && !c->client_ca_file)
		bad = "require_client_cert needs client_ca_file";
	if (bad && why)
		snprintf(why, HTTP_ERRMSG_MAX, "%s", bad);
	return bad == NULL;
}

airlock_err http_server_start(const struct http_config *cfg, const struct http_app *app, struct http_server **out,
			      char why[HTTP_ERRMSG_MAX])
{
	airlock_err err;
	*out = NULL;
	if (why)
		why[0] = '\0';
	if (!cfg || !app || !app->route || !app->handle) {
		if (why)
			snprintf(why, HTTP_ERRMSG_MAX, "missing configuration or application callbacks");
		return AIRLOCK_ERR_INVALID_ARG;
	}
	if (!config_ok(cfg, why))
		return AIRLOCK_ERR_INVALID_ARG;
	struct http_server *srv = calloc(1, sizeof *srv);
	if (!srv)
		return AIRLOCK_ERR_NOMEM;
	srv->cfg = *cfg;
	srv->app = *app;
	srv->tls = (struct http_lst){ srv, NULL, HTTP_LISTENER_TLS, 0 };
	srv->plain = (struct http_lst){ srv, NULL, HTTP_LISTENER_PLAIN, 0 };
	srv->priorities = strdup(cfg->priorities ? cfg->priorities : HTTP_TLS_PRIORITIES);
	pthread_mutex_init(&srv->conn_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->wd_cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!srv->priorities) {
		err = AIRLOCK_ERR_NOMEM;
		goto fail;
	}
	err = http_tls_setup(srv, cfg, why);
	if (err != AIRLOCK_OK)
		goto fail;
	srv->sts = true;
	if (pthread_create(&srv->wd_thread, NULL, watchdog_main, srv) != 0) {
		err = AIRLOCK_ERR_NOMEM;
		goto fail;
	}
	srv->wd_started = true;
	err = start_listener(srv, &srv->tls, cfg->listen, cfg->port, why);
	if (err != AIRLOCK_OK)
		goto fail;
	if (cfg->plain_listen) {
		err = start_listener(srv, &srv->plain, cfg->plain_listen, cfg->plain_port, why);
		if (err != AIRLOCK_OK)
			goto fail;
	}
	if (cfg->access_log) {
		char msg[160];
		snprintf(msg, sizeof msg, "listening on %s port %u (TLS)%s", cfg->listen, (unsigned)srv->tls.port,
			 !srv->ca_pem ? "" : cfg->require_client_cert ? ", client certificates required" : ", client certificates requested");
		log_msg("info", msg);
	}
	*out = srv;
	return AIRLOCK_OK;
fail:
	http_server_stop(srv);
	return err;
}

void http_server_stop(struct http_server *srv)
{
	if (!srv)
		return;
	/* MHD closes every connection here, reporting each (done() runs). */
	if (srv->plain.d)
		MHD_stop_daemon(srv->plain.d);
	if (srv->tls.d)
		MHD_stop_daemon(srv->tls.d);
	srv->plain.d = srv->tls.d = NULL;
	if (srv->wd_started) {
		pthread_mutex_lock(&srv->conn_lock);
		srv->wd_stop = true;
		pthread_cond_signal(&srv->wd_cond);
		pthread_mutex_unlock(&srv->conn_lock);
		pthread_join(srv->wd_thread, NULL);
	}
	http_tls_teardown(srv);
	pthread_cond_destroy(&srv->wd_cond);
	pthread_mutex_destroy(&srv->conn_lock);
	free(srv->priorities);
	free(srv);
}

uint16_t http_server_port(const struct http_server *srv) { return srv->tls.d ? srv->tls.port : 0; }
uint16_t http_server_plain_port(const struct http_server *srv) { return srv->plain.d ? srv->plain.port : 0; }
