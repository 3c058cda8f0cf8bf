/*
 * loadgen: the project's own HTTP/1.1 load generator for the server
 * benchmark (bench/server.sh). One binary for airlock-server and for the
 * nginx baseline, so both are measured by the same client code.
 *
 * N keep-alive mutual-TLS connections (OpenSSL: client certificate and
 * key, the server verified against a CA and its name or address), spread
 * over T threads, each thread one epoll loop over non-blocking sockets.
 * One request at a time per connection (no pipelining, as a device does).
 *
 * Two modes:
 *   closed loop (no --rate): every idle connection sends its next request
 *     at once; the rate is what the server sustains. Latency runs from
 *     the first byte sent to the last byte received.
 *   open loop (--rate R): requests are scheduled at fixed intervals,
 *     whatever the server does; a request that finds no idle connection
 *     waits in a queue, and its latency runs from its scheduled time, so a
 *     stalled server is charged for every request it delayed (no
 *     coordinated omission).
 * A download is a closed loop with few connections and --requests to stop
 * after that many responses; the JSON then gives MB/s over the run.
 *
 * Phases: connect (all connections up, handshakes done), warm-up (load,
 * nothing recorded), measure (--duration), drain (no new requests; those
 * sent or scheduled inside the window still finish and count). Latencies
 * go into a log-linear histogram (64 linear steps per power of two of
 * microseconds: under 1.6% error). The result is one JSON object on
 * stdout. Responses and latencies count for the measure window; errors
 * (connect, TLS, closed mid-request, timeout, unparsable answer) for the
 * whole run, connect phase included; a keep-alive connection that the
 * server closes while idle is reopened and counted as a reconnect.
 *
 * The body may carry a token (default "@NONCE@") that is replaced by 32
 * fresh hex digits in every request: check-ins then carry distinct nonces.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define MAX_THREADS 64
#define MAX_CONNS 100000
#define MAX_HEADERS 16
#define HDR_MAX 16384            /* a response header larger than this is a parse error */
#define READ_BUF (64 * 1024)
#define NONCE_HEX 32
#define RETRY_NS (20 * 1000000LL) /* wait before reconnecting after an error */
#define DRAIN_NS (5 * 1000000000LL)

/* ---- histogram ---- */

#define HIST_SUB_BITS 6
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_EXP 40          /* 2^40 us: far beyond any run */
#define HIST_N (HIST_SUB + (HIST_MAX_EXP - HIST_SUB_BITS + 1) * HIST_SUB)

struct hist {
	uint64_t c[HIST_N];
	uint64_t n, max_us, sum_us;
};

static unsigned hist_index(uint64_t us)
{
	if (us < HIST_SUB)
		return (unsigned)us;
	unsigned e = 63u - (unsigned)__builtin_clzll(us);
	if (e > HIST_MAX_EXP)
		return HIST_N - 1;
	uint64_t m = us >> (e - HIST_SUB_BITS);  /* HIST_SUB .. 2*HIST_SUB-1 */
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + (unsigned)(m - HIST_SUB);
}

/* The middle of a bucket's range, in microseconds. */
static double hist_value(unsigned idx)
{
	if (idx < HIST_SUB)
		return idx;
	unsigned e = (idx - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	uint64_t m = (idx - HIST_SUB) % HIST_SUB + HIST_SUB;
	double lo = (double)(m << (e - HIST_SUB_BITS));
	double width = (double)(1ull << (e - HIST_SUB_BITS));
	return lo + (width - 1) / 2;
}

static void hist_add(struct hist *h, int64_t ns)
{
	uint64_t us = ns > 0 ? (uint64_t)ns / 1000u : 0;
	h->c[hist_index(us)]++;
	h->n++;
	h->sum_us += us;
	if (us > h->max_us)
		h->max_us = us;
}

static void hist_merge(struct hist *into, const struct hist *h)
{
	for (unsigned i = 0; i < HIST_N; i++)
		into->c[i] += h->c[i];
	into->n += h->n;
	into->sum_us += h->sum_us;
	if (h->max_us > into->max_us)
		into->max_us = h->max_us;
}

/* The value at quantile q (0..1), in milliseconds; never above the max. */
static double hist_quantile_ms(const struct hist *h, double q)
{
	if (h->n == 0)
		return 0;
	uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->c[i];
		if (seen >= rank) {
			double v = hist_value(i);
			return (v > (double)h->max_us ? (double)h->max_us : v) / 1000.0;
		}
	}
	return (double)h->max_us / 1000.0;
}

/* ---- options ---- */

struct opts {
	const char *host, *port, *path, *method, *servername;
	const char *cacert, *cert, *key, *label, *nonce_token;
	char *body;
	size_t body_len;
	const char *headers[MAX_HEADERS];
	unsigned n_headers;
	unsigned conns, threads;
	double duration_s, warmup_s, rate, timeout_s, connect_timeout_s;
	uint64_t requests_max;  /* 0: no limit */
};

static struct opts O = {
	.host = "127.0.0.1",
	.path = "/",
	.method = "GET",
	.conns = 1,
	.threads = 1,
	.duration_s = 10,
	.timeout_s = 30,
	.connect_timeout_s = 30,
	.nonce_token = "@NONCE@",
	.label = "",
};

/* The request as sent, built once; nonce_off is where the 32 hex digits
 * go in each copy (or SIZE_MAX). */
static char *req_tmpl;
static size_t req_len, nonce_off = SIZE_MAX;
/* One TLS context per client identity (--cert/--key lists); connection i
 * uses identity i mod n_ctx, so several devices share the load. */
#define MAX_IDENTITIES 256
static SSL_CTX *ctxs[MAX_IDENTITIES];
static unsigned n_ctx;
static struct sockaddr_storage addr;
static socklen_t addr_len;

/* ---- shared run state ---- */

static _Atomic int64_t t_go;       /* 0 until the connect phase is over */
static int64_t t_start, t_end;     /* measure window, set before t_go */
static atomic_uint_fast64_t issued;  /* for --requests */
static atomic_uint ready_conns;
static atomic_int stop_all;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- connections ---- */

enum cstate { C_DOWN, C_CONNECTING, C_HANDSHAKE, C_IDLE, C_SEND, C_RECV };

enum err_kind { E_CONNECT, E_TLS, E_CLOSED, E_TIMEOUT, E_PARSE, E_NKINDS };
static const char *const err_names[E_NKINDS] = { "connect", "tls", "closed", "timeout", "parse" };

struct worker;

struct conn {
	struct worker *w;
	unsigned ident;          /* index into ctxs */
	int fd;
	SSL *ssl;
	enum cstate st;
	uint32_t events;
	bool ever_ready;
	int64_t retry_at;        /* C_DOWN: when to reconnect */
	char *req;               /* this connection's copy of the request */
	size_t req_off;
	int64_t t_sched, t_sent; /* the request in flight */
	/* response parser */
	char hdr[HDR_MAX];
	size_t hdr_len;
	bool in_body;
	uint64_t body_left;
	unsigned status;
	bool close_after;
	struct conn *next_idle;
};

struct worker {
	unsigned id;
	pthread_t th;
	int ep;
	struct conn *conns;
	unsigned n;
	struct conn *idle, *idle_tail;
	unsigned n_inflight;
	uint64_t nonce_seed, nonce_ctr;
	double rate;             /* this thread's share; 0: closed loop */
	int64_t interval_ns;
	uint64_t sched_next;     /* index of the next request to schedule */
	uint64_t sched_sent;     /* index of the next scheduled request to send */
	/* results */
	struct hist h;
	uint64_t ok, non2xx, status[600];
	uint64_t errs[E_NKINDS];
	uint64_t bytes, handshakes, reconnects, unfinished;
	int64_t first_sent, last_done;
	char tls_version[32], tls_cipher[64];
	unsigned char buf[READ_BUF];
};

static void conn_set_events(struct conn *c, uint32_t ev)
{
	if (c->events == ev)
		return;
	struct epoll_event e = { .events = ev, .data.ptr = c };
	if (epoll_ctl(c->w->ep, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) == 0)
		c->events = ev;
}

/* Idle connections form a FIFO queue: the one idle longest sends next, so
 * at a rate below the maximum every connection carries its share (as many
 * devices would) rather than a few hot ones and many that sit idle until
 * the server's keep-alive timeout closes them. */
static void conn_push_idle(struct conn *c)
{
	struct worker *w = c->w;
	c->st = C_IDLE;
	c->next_idle = NULL;
	if (w->idle_tail)
		w->idle_tail->next_idle = c;
	else
		w->idle = c;
	w->idle_tail = c;
	conn_set_events(c, EPOLLIN);
}

static struct conn *conn_pop_idle(struct worker *w)
{
	struct conn *c = w->idle;
	if (c) {
		w->idle = c->next_idle;
		if (!w->idle)
			w->idle_tail = NULL;
	}
	return c;
}

static void conn_unlink_idle(struct conn *c)
{
	struct worker *w = c->w;
	struct conn *prev = NULL;
	for (struct conn *p = w->idle; p; prev = p, p = p->next_idle) {
		if (p != c)
			continue;
		if (prev)
			prev->next_idle = c->next_idle;
		else
			w->idle = c->next_idle;
		if (w->idle_tail == c)
			w->idle_tail = prev;
		return;
	}
}

static bool in_window(int64_t t)
{
	return t >= t_start && t < t_end;
}

/* Closes the connection; it reconnects at retry_at. An error is counted
 * against the request in flight, if any. */
static void conn_down(struct conn *c, int kind, int64_t retry_after)
{
	struct worker *w = c->w;
	if (c->st == C_IDLE)
		conn_unlink_idle(c);
	if (c->st == C_SEND || c->st == C_RECV) {
		w->n_inflight--;
	}
	/* Errors count over the whole run, connect phase included: a
	 * refused connection is a failure whenever it happens. */
	if (kind >= 0)
		w->errs[kind]++;
	if (c->ssl) {
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);  /* also drops it from the epoll set */
	c->fd = -1;
	c->events = 0;
	c->st = C_DOWN;
	c->retry_at = now_ns() + retry_after;
}

static void conn_start(struct conn *c)
{
	c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		c->st = C_CONNECTING;  /* so conn_down counts it */
		conn_down(c, E_CONNECT, RETRY_NS);
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->st = C_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&addr, addr_len) != 0 && errno != EINPROGRESS) {
		conn_down(c, E_CONNECT, RETRY_NS);
		return;
	}
	conn_set_events(c, EPOLLOUT);
}

static bool tls_begin(struct conn *c)
{
	c->ssl = SSL_new(ctxs[c->ident]);
	if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1)
		return false;
	X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
	struct in6_addr tmp;
	const char *name = O.servername ? O.servername : O.host;
	if (inet_pton(AF_INET, name, &tmp) == 1 || inet_pton(AF_INET6, name, &tmp) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1)
			return false;
	} else if (SSL_set_tlsext_host_name(c->ssl, name) != 1 || SSL_set1_host(c->ssl, name) != 1) {
		return false;
	}
	SSL_set_connect_state(c->ssl);
	c->st = C_HANDSHAKE;
	return true;
}

/* Maps an SSL result to the events to wait for; false: the connection failed. */
static bool ssl_want(struct conn *c, int rc, uint32_t *ev)
{
	switch (SSL_get_error(c->ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*ev = EPOLLIN;
		return true;
	case SSL_ERROR_WANT_WRITE:
		*ev = EPOLLOUT;
		return true;
	default:
		return false;
	}
}

static void conn_ready(struct conn *c)
{
	struct worker *w = c->w;
	w->handshakes++;
	if (!c->ever_ready) {
		c->ever_ready = true;
		atomic_fetch_add(&ready_conns, 1);
	} else {
		w->reconnects++;
	}
	if (!w->tls_version[0]) {
		snprintf(w->tls_version, sizeof w->tls_version, "%s", SSL_get_version(c->ssl));
		snprintf(w->tls_cipher, sizeof w->tls_cipher, "%s", SSL_get_cipher_name(c->ssl));
	}
	conn_push_idle(c);
}

static void do_handshake(struct conn *c)
{
	ERR_clear_error();
	int rc = SSL_do_handshake(c->ssl);
	uint32_t ev;
	if (rc == 1)
		conn_ready(c);
	else if (ssl_want(c, rc, &ev))
		conn_set_events(c, ev);
	else
		conn_down(c, E_TLS, RETRY_NS);
}

static void next_nonce(struct worker *w, char *out)
{
	static const char digits[] = "0123456789abcdef";
	uint64_t a = w->nonce_seed, b = ++w->nonce_ctr;
	for (int i = 0; i < 16; i++) {
		out[i] = digits[(a >> (60 - 4 * i)) & 15];
		out[16 + i] = digits[(b >> (60 - 4 * i)) & 15];
	}
}

static void do_send(struct conn *c)
{
	while (c->req_off < req_len) {
		ERR_clear_error();
		int rc = SSL_write(c->ssl, c->req + c->req_off, (int)(req_len - c->req_off));
		uint32_t ev;
		if (rc > 0) {
			c->req_off += (size_t)rc;
		} else if (ssl_want(c, rc, &ev)) {
			conn_set_events(c, ev);
			return;
		} else {
			conn_down(c, E_CLOSED, RETRY_NS);
			return;
		}
	}
	c->st = C_RECV;
	conn_set_events(c, EPOLLIN);
}

static void send_request(struct conn *c, int64_t sched)
{
	struct worker *w = c->w;
	if (nonce_off != SIZE_MAX)
		next_nonce(w, c->req + nonce_off);
	c->t_sched = sched;
	c->t_sent = now_ns();
	if (!w->first_sent)
		w->first_sent = c->t_sent;
	c->req_off = 0;
	c->hdr_len = 0;
	c->in_body = false;
	c->body_left = 0;
	c->status = 0;
	c->close_after = false;
	c->st = C_SEND;
	w->n_inflight++;
	do_send(c);
}

static void response_done(struct conn *c)
{
	struct worker *w = c->w;
	int64_t t = now_ns();
	w->n_inflight--;
	if (in_window(c->t_sched)) {
		hist_add(&w->h, t - c->t_sched);
		if (c->status >= 200 && c->status < 300)
			w->ok++;
		else
			w->non2xx++;
		if (c->status < 600)
			w->status[c->status]++;
		w->last_done = t;
	}
	if (c->close_after) {
		c->st = C_IDLE;  /* not in flight any more: no error */
		conn_unlink_idle(c);
		conn_down(c, -1, 0);
		return;
	}
	conn_push_idle(c);
}

/* Case-insensitive header-name match at the start of line p. */
static const char *header_value(const char *p, const char *name)
{
	size_t n = strlen(name);
	if (strncasecmp(p, name, n) != 0 || p[n] != ':')
		return NULL;
	p += n + 1;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Parses the complete header block (NUL-terminated, ends at the blank line). */
static bool parse_header(struct conn *c)
{
	const char *p = c->hdr;
	unsigned st = 0;
	if (strncmp(p, "HTTP/1.", 7) != 0 || sscanf(p + 9, "%3u", &st) != 1 || st < 100 || st > 599)
		return false;
	c->status = st;
	bool has_len = false;
	if (strncmp(p, "HTTP/1.0", 8) == 0)
		c->close_after = true;
	for (p = strstr(p, "\r\n"); p && p[2] != '\r'; p = strstr(p + 2, "\r\n")) {
		const char *line = p + 2, *v;
		if ((v = header_value(line, "Content-Length"))) {
			char *end;
			errno = 0;
			unsigned long long len = strtoull(v, &end, 10);
			if (errno || end == v)
				return false;
			c->body_left = len;
			has_len = true;
		} else if ((v = header_value(line, "Transfer-Encoding"))) {
			return false;  /* not needed by either server's answers */
		} else if ((v = header_value(line, "Connection"))) {
			if (strncasecmp(v, "close", 5) == 0)
				c->close_after = true;
		}
	}
	if (!has_len && st != 204 && st != 304 && strcmp(O.method, "HEAD") != 0)
		return false;
	if (strcmp(O.method, "HEAD") == 0 || st == 204 || st == 304)
		c->body_left = 0;
	return true;
}

/* Feeds received bytes to the parser; false on a protocol error. */
static bool feed(struct conn *c, const unsigned char *b, size_t n, bool *done)
{
	while (n > 0) {
		if (c->in_body) {
			size_t take = n < c->body_left ? n : (size_t)c->body_left;
			c->body_left -= take;
			c->w->bytes += take;
			b += take;
			n -= take;
			if (c->body_left == 0) {
				*done = true;
				return n == 0;  /* bytes past the answer: no pipelining here */
			}
			continue;
		}
		/* headers: append until the blank line */
		size_t room = sizeof c->hdr - 1 - c->hdr_len;
		size_t take = n < room ? n : room;
		memcpy(c->hdr + c->hdr_len, b, take);
		size_t old = c->hdr_len;
		c->hdr_len += take;
		c->hdr[c->hdr_len] = '\0';
		char *end = strstr(c->hdr + (old > 3 ? old - 3 : 0), "\r\n\r\n");
		if (!end) {
			if (c->hdr_len >= sizeof c->hdr - 1)
				return false;
			b += take;
			n -= take;
			continue;
		}
		size_t used = (size_t)(end + 4 - c->hdr) - old;
		end[2] = '\0';  /* keep the last header's CRLF for the line walk */
		if (!parse_header(c))
			return false;
		c->in_body = true;
		b += used;
		n -= used;
		if (c->body_left == 0) {
			*done = true;
			return n == 0;
		}
	}
	return true;
}

static void do_recv(struct conn *c)
{
	struct worker *w = c->w;
	for (;;) {
		ERR_clear_error();
		int rc = SSL_read(c->ssl, w->buf, sizeof w->buf);
		uint32_t ev;
		if (rc > 0) {
			bool done = false;
			if (!feed(c, w->buf, (size_t)rc, &done)) {
				conn_down(c, E_PARSE, RETRY_NS);
				return;
			}
			if (done) {
				response_done(c);
				return;
			}
			continue;
		}
		if (ssl_want(c, rc, &ev)) {
			conn_set_events(c, ev);
			return;
		}
		conn_down(c, E_CLOSED, RETRY_NS);
		return;
	}
}

/* An idle connection became readable: post-handshake messages (TLS 1.3
 * tickets), or the server closing a keep-alive connection. */
static void do_idle_read(struct conn *c)
{
	ERR_clear_error();
	int rc = SSL_read(c->ssl, c->w->buf, sizeof c->w->buf);
	uint32_t ev;
	if (rc > 0) {
		conn_down(c, E_PARSE, RETRY_NS);  /* bytes nobody asked for */
		return;
	}
	if (ssl_want(c, rc, &ev)) {
		conn_set_events(c, ev == EPOLLOUT ? EPOLLOUT : EPOLLIN);
		return;
	}
	/* an idle close is the server's right, not an error */
	conn_down(c, -1, 0);
}

static void conn_event(struct conn *c, uint32_t ev)
{
	switch (c->st) {
	case C_CONNECTING: {
		int err = 0;
		socklen_t len = sizeof err;
		if ((ev & (EPOLLERR | EPOLLHUP)) || getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err) {
			conn_down(c, E_CONNECT, RETRY_NS);
			return;
		}
		if (!tls_begin(c)) {
			conn_down(c, E_TLS, RETRY_NS);
			return;
		}
		do_handshake(c);
		return;
	}
	case C_HANDSHAKE:
		do_handshake(c);
		return;
	case C_SEND:
		do_send(c);
		return;
	case C_RECV:
		do_recv(c);
		return;
	case C_IDLE:
		do_idle_read(c);
		return;
	case C_DOWN:
		return;
	}
}

/* May another request start now (limits of count and time)? */
static bool may_issue(int64_t now)
{
	if (atomic_load(&stop_all) || now >= t_end)
		return false;
	if (O.requests_max && atomic_fetch_add(&issued, 1) >= O.requests_max)
		return false;
	return true;
}

/* Sends what is due: every idle connection (closed loop), or the queue of
 * scheduled requests (open loop). */
static void dispatch(struct worker *w, int64_t now)
{
	if (!atomic_load(&t_go))
		return;
	int64_t go = atomic_load(&t_go);
	if (w->rate > 0) {
		while (now < t_end) {
			int64_t at = go + (int64_t)w->sched_next * w->interval_ns;
			if (at > now)
				break;
			w->sched_next++;
		}
		while (w->idle && w->sched_sent < w->sched_next) {
			struct conn *c = conn_pop_idle(w);
			send_request(c, go + (int64_t)w->sched_sent * w->interval_ns);
			w->sched_sent++;
		}
		return;
	}
	while (w->idle && may_issue(now)) {
		struct conn *c = conn_pop_idle(w);
		send_request(c, now_ns());
	}
}

static void check_timers(struct worker *w, int64_t now)
{
	int64_t limit = (int64_t)(O.timeout_s * 1e9);
	for (unsigned i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];
		if (c->st == C_DOWN && now >= c->retry_at && now < t_end + DRAIN_NS && !atomic_load(&stop_all))
			conn_start(c);
		else if ((c->st == C_SEND || c->st == C_RECV) && now - c->t_sent > limit)
			conn_down(c, E_TIMEOUT, RETRY_NS);
	}
}

static bool drained(const struct worker *w)
{
	return w->n_inflight == 0 && (w->rate <= 0 || w->sched_sent >= w->sched_next);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[256];
	int64_t last_timers = 0;
	for (unsigned i = 0; i < w->n; i++)
		conn_start(&w->conns[i]);
	for (;;) {
		int64_t now = now_ns();
		bool go = atomic_load(&t_go) != 0;
		if (atomic_load(&stop_all))
			break;
		if (go && now >= t_end && (drained(w) || now >= t_end + DRAIN_NS))
			break;
		if (go && O.requests_max && atomic_load(&issued) >= O.requests_max && w->n_inflight == 0)
			break;
		dispatch(w, now);
		int timeout = 50;
		if (go && w->rate > 0 && now < t_end) {
			int64_t next = atomic_load(&t_go) + (int64_t)w->sched_next * w->interval_ns;
			int64_t ms = (next - now + 999999) / 1000000;
			timeout = ms < 0 ? 0 : ms < timeout ? (int)ms : timeout;
		}
		int n = epoll_wait(w->ep, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
		for (int i = 0; i < n; i++)
			conn_event(evs[i].data.ptr, evs[i].events);
		now = now_ns();
		if (now - last_timers > 100000000LL) {
			check_timers(w, now);
			last_timers = now;
		}
	}
	/* what is still owed was sent or scheduled in the window */
	w->unfinished = 0;
	for (unsigned i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];
		if ((c->st == C_SEND || c->st == C_RECV) && in_window(c->t_sched))
			w->unfinished++;
	}
	if (w->rate > 0)
		w->unfinished += w->sched_next - w->sched_sent;
	for (unsigned i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];
		if (c->ssl)
			SSL_free(c->ssl);
		if (c->fd >= 0)
			close(c->fd);
		free(c->req);
	}
	return NULL;
}

/* ---- setup ---- */

static __attribute__((noreturn)) void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("loadgen: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	unsigned long e;
	while ((e = ERR_get_error()) != 0) {
		char b[256];
		ERR_error_string_n(e, b, sizeof b);
		fprintf(stderr, "  %s\n", b);
	}
	exit(2);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		die("%s: %s", path, strerror(errno));
	size_t cap = 4096, n = 0;
	char *b = malloc(cap);
	for (;;) {
		if (!b)
			die("out of memory");
		size_t r = fread(b + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
		if (n == cap) {
			if (cap > 64u * 1024 * 1024)
				die("%s: too large for a request body", path);
			cap *= 2;
			b = realloc(b, cap);
		}
	}
	fclose(f);
	*len = n;
	return b;
}

static void build_request(void)
{
	size_t body_len = O.body_len;
	const char *tok = NULL;
	size_t tok_len = strlen(O.nonce_token);
	if (O.body && tok_len)
		tok = memmem(O.body, O.body_len, O.nonce_token, tok_len);
	if (tok)
		body_len = O.body_len - tok_len + NONCE_HEX;
	size_t cap = 1024 + strlen(O.path) + strlen(O.host) + body_len;
	for (unsigned i = 0; i < O.n_headers; i++)
		cap += strlen(O.headers[i]) + 2;
	req_tmpl = malloc(cap);
	if (!req_tmpl)
		die("out of memory");
	int n = snprintf(req_tmpl, cap, "%s %s HTTP/1.1\r\nHost: %s:%s\r\n", O.method, O.path,
			 O.servername ? O.servername : O.host, O.port);
	size_t off = (size_t)n;
	for (unsigned i = 0; i < O.n_headers; i++)
		off += (size_t)snprintf(req_tmpl + off, cap - off, "%s\r\n", O.headers[i]);
	if (O.body || strcmp(O.method, "POST") == 0 || strcmp(O.method, "PUT") == 0)
		off += (size_t)snprintf(req_tmpl + off, cap - off, "Content-Length: %zu\r\n", body_len);
	off += (size_t)snprintf(req_tmpl + off, cap - off, "\r\n");
	if (O.body) {
		if (tok) {
			size_t pre = (size_t)(tok - O.body);
			memcpy(req_tmpl + off, O.body, pre);
			nonce_off = off + pre;
			memset(req_tmpl + off + pre, '0', NONCE_HEX);
			memcpy(req_tmpl + off + pre + NONCE_HEX, tok + tok_len, O.body_len - pre - tok_len);
		} else {
			memcpy(req_tmpl + off, O.body, O.body_len);
		}
		off += body_len;
	}
	req_len = off;
}

static SSL_CTX *new_ctx(const char *cert, const char *key)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		die("SSL_CTX_new");
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Every connection makes a full handshake with its certificate, for
	 * both servers alike (airlock-server issues no tickets). */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (!O.cacert)
		die("--cacert is required: the server is always verified");
	if (SSL_CTX_load_verify_locations(ctx, O.cacert, NULL) != 1)
		die("cannot load CA %s", O.cacert);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cert) {
		if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
			die("cannot load certificate %s", cert);
		if (SSL_CTX_use_PrivateKey_file(ctx, key ? key : cert, SSL_FILETYPE_PEM) != 1 ||
		    SSL_CTX_check_private_key(ctx) != 1)
			die("cannot load key %s", key ? key : cert);
	}
	return ctx;
}

/* --cert a.crt,b.crt --key a.key,b.key: one identity per pair (one key
 * for all certificates is accepted too). */
static void setup_tls(void)
{
	if (!O.cacert)
		die("--cacert is required: the server is always verified");
	if (!O.cert) {
		ctxs[n_ctx++] = new_ctx(NULL, NULL);
		return;
	}
	char *certs = strdup(O.cert), *keys = O.key ? strdup(O.key) : NULL;
	char *cs = NULL, *ks = NULL, *k = NULL;
	if (!certs || (O.key && !keys))
		die("out of memory");
	for (char *c = strtok_r(certs, ",", &cs); c; c = strtok_r(NULL, ",", &cs)) {
		char *nk = keys ? strtok_r(n_ctx == 0 ? keys : NULL, ",", &ks) : NULL;
		if (nk)
			k = nk;
		if (n_ctx == MAX_IDENTITIES)
			die("at most %d identities", MAX_IDENTITIES);
		ctxs[n_ctx++] = new_ctx(c, k);
	}
	free(certs);
	free(keys);
}

static void resolve(void)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res;
	int rc = getaddrinfo(O.host, O.port, &hints, &res);
	if (rc != 0)
		die("%s:%s: %s", O.host, O.port, gai_strerror(rc));
	memcpy(&addr, res->ai_addr, res->ai_addrlen);
	addr_len = res->ai_addrlen;
	freeaddrinfo(res);
}

static void raise_nofile(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t want = (rlim_t)O.conns + 64;
	if (rl.rlim_cur >= want)
		return;
	rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (rl.rlim_cur < want)
		die("%u connections need %lu descriptors, the hard limit is %lu (ulimit -n)", O.conns,
		    (unsigned long)want, (unsigned long)rl.rlim_cur);
}

static const char usage[] =
	"usage: loadgen --url https://HOST:PORT/PATH --cacert CA [--cert CRT[,CRT...] --key KEY[,KEY...]]\n"
	"               [--method M] [--body STR | --body-file F] [--header 'N: V']...\n"
	"               [--connections N] [--threads T] [--duration S] [--warmup S]\n"
	"               [--rate R] [--requests N] [--timeout S] [--servername NAME]\n"
	"               [--nonce-token TOK] [--label L]\n"
	"closed loop without --rate, open loop at R requests/s with it; JSON on stdout.\n";

static double num(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end || end == s || v < 0)
		die("bad %s '%s'", what, s);
	return v;
}

static void parse_url(char *url)
{
	if (strncmp(url, "https://", 8) != 0)
		die("--url must start with https://");
	char *h = url + 8, *slash = strchr(h, '/');
	O.path = slash ? strdup(slash) : "/";
	if (slash)
		*slash = '\0';
	char *colon = strrchr(h, ':');
	if (h[0] == '[') {
		char *rb = strchr(h, ']');
		if (!rb)
			die("bad --url");
		*rb = '\0';
		O.host = h + 1;
		O.port = rb[1] == ':' ? rb + 2 : "443";
	} else {
		O.port = colon ? colon + 1 : "443";
		if (colon)
			*colon = '\0';
		O.host = h;
	}
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "url", required_argument, NULL, 'u' },        { "cacert", required_argument, NULL, 'C' },
		{ "cert", required_argument, NULL, 'c' },       { "key", required_argument, NULL, 'k' },
		{ "method", required_argument, NULL, 'X' },     { "body", required_argument, NULL, 'b' },
		{ "body-file", required_argument, NULL, 'B' },  { "header", required_argument, NULL, 'H' },
		{ "connections", required_argument, NULL, 'n' }, { "threads", required_argument, NULL, 't' },
		{ "duration", required_argument, NULL, 'd' },   { "warmup", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },       { "requests", required_argument, NULL, 'N' },
		{ "timeout", required_argument, NULL, 'T' },    { "servername", required_argument, NULL, 's' },
		{ "nonce-token", required_argument, NULL, 'o' }, { "label", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },             { NULL, 0, NULL, 0 },
	};
	bool have_url = false;
	int ch;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'u': parse_url(optarg); have_url = true; break;
		case 'C': O.cacert = optarg; break;
		case 'c': O.cert = optarg; break;
		case 'k': O.key = optarg; break;
		case 'X': O.method = optarg; break;
		case 'b': O.body = optarg; O.body_len = strlen(optarg); break;
		case 'B': O.body = read_file(optarg, &O.body_len); break;
		case 'H':
			if (O.n_headers == MAX_HEADERS)
				die("at most %d headers", MAX_HEADERS);
			O.headers[O.n_headers++] = optarg;
			break;
		case 'n': O.conns = (unsigned)num(optarg, "--connections"); break;
		case 't': O.threads = (unsigned)num(optarg, "--threads"); break;
		case 'd': O.duration_s = num(optarg, "--duration"); break;
		case 'w': O.warmup_s = num(optarg, "--warmup"); break;
		case 'r': O.rate = num(optarg, "--rate"); break;
		case 'N': O.requests_max = (uint64_t)num(optarg, "--requests"); break;
		case 'T': O.timeout_s = num(optarg, "--timeout"); break;
		case 's': O.servername = optarg; break;
		case 'o': O.nonce_token = optarg; break;
		case 'l': O.label = optarg; break;
		case 'h': fputs(usage, stdout); exit(0);
		default: fputs(usage, stderr); exit(2);
		}
	}
	if (!have_url || optind != argc) {
		fputs(usage, stderr);
		exit(2);
	}
	if (O.conns == 0 || O.conns > MAX_CONNS)
		die("--connections must be 1..%d", MAX_CONNS);
	if (O.threads == 0 || O.threads > MAX_THREADS)
		die("--threads must be 1..%d", MAX_THREADS);
	if (O.threads > O.conns)
		O.threads = O.conns;
	if (O.duration_s <= 0)
		die("--duration must be > 0");
}

/* ---- report ---- */

static void report(struct worker *ws, double window_s, double connect_s)
{
	static struct hist h;
	uint64_t ok = 0, non2xx = 0, errs[E_NKINDS] = { 0 }, bytes = 0, hs = 0, rec = 0, unf = 0;
	static uint64_t status[600];
	for (unsigned i = 0; i < O.threads; i++) {
		struct worker *w = &ws[i];
		hist_merge(&h, &w->h);
		ok += w->ok;
		non2xx += w->non2xx;
		for (unsigned k = 0; k < E_NKINDS; k++)
			errs[k] += w->errs[k];
		for (unsigned s = 0; s < 600; s++)
			status[s] += w->status[s];
		bytes += w->bytes;
		hs += w->handshakes;
		rec += w->reconnects;
		unf += w->unfinished;
	}
	uint64_t nerr = non2xx;
	for (unsigned k = 0; k < E_NKINDS; k++)
		nerr += errs[k];
	printf("{\"label\":\"%s\",\"mode\":\"%s\",\"target_rate\":%.0f,\"connections\":%u,\"connections_ready\":%u,"
	       "\"threads\":%u,\"connect_s\":%.3f,\"duration_s\":%.3f,\"requests\":%" PRIu64 ",\"ok\":%" PRIu64
	       ",\"errors\":%" PRIu64 ",\"errors_by_kind\":{",
	       O.label, O.rate > 0 ? "open" : "closed", O.rate, O.conns, atomic_load(&ready_conns), O.threads, connect_s,
	       window_s, ok + non2xx, ok, nerr);
	for (unsigned k = 0; k < E_NKINDS; k++)
		printf("\"%s\":%" PRIu64 ",", err_names[k], errs[k]);
	printf("\"http\":{");
	bool first = true;
	for (unsigned s = 0; s < 600; s++) {
		if (status[s] && (s < 200 || s >= 300)) {
			printf("%s\"%u\":%" PRIu64, first ? "" : ",", s, status[s]);
			first = false;
		}
	}
	printf("}},\"unfinished\":%" PRIu64 ",\"rate\":%.1f,", unf, window_s > 0 ? (double)ok / window_s : 0);
	printf("\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"mean\":%.3f},",
	       hist_quantile_ms(&h, 0.50), hist_quantile_ms(&h, 0.90), hist_quantile_ms(&h, 0.99),
	       hist_quantile_ms(&h, 0.999), (double)h.max_us / 1000.0, h.n ? (double)h.sum_us / (double)h.n / 1000.0 : 0);
	printf("\"bytes\":%" PRIu64 ",\"mb_per_s\":%.1f,\"handshakes\":%" PRIu64 ",\"reconnects\":%" PRIu64
	       ",\"tls\":{\"version\":\"%s\",\"cipher\":\"%s\"}}\n",
	       bytes, window_s > 0 ? (double)bytes / window_s / 1e6 : 0, hs, rec, ws[0].tls_version, ws[0].tls_cipher);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	resolve();
	setup_tls();
	build_request();

	struct worker *ws = calloc(O.threads, sizeof *ws);
	struct conn *all = calloc(O.conns, sizeof *all);
	if (!ws || !all)
		die("out of memory");
	/* t_end far away until the connect phase is over */
	t_start = t_end = INT64_MAX / 2;
	unsigned next = 0;
	for (unsigned i = 0; i < O.threads; i++) {
		struct worker *w = &ws[i];
		w->id = i;
		w->n = O.conns / O.threads + (i < O.conns % O.threads);
		w->conns = all + next;
		next += w->n;
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		if (w->ep < 0)
			die("epoll_create1: %s", strerror(errno));
		if (getrandom(&w->nonce_seed, sizeof w->nonce_seed, 0) != sizeof w->nonce_seed)
			w->nonce_seed = (uint64_t)now_ns() ^ i;
		if (O.rate > 0) {
			w->rate = O.rate / O.threads;
			w->interval_ns = (int64_t)(1e9 / w->rate);
		}
		for (unsigned k = 0; k < w->n; k++) {
			struct conn *c = &w->conns[k];
			c->w = w;
			c->ident = (next - w->n + k) % n_ctx;
			c->fd = -1;
			c->req = malloc(req_len);
			if (!c->req)
				die("out of memory");
			memcpy(c->req, req_tmpl, req_len);
		}
	}
	int64_t t0 = now_ns();
	for (unsigned i = 0; i < O.threads; i++)
		if (pthread_create(&ws[i].th, NULL, worker_main, &ws[i]) != 0)
			die("pthread_create failed");
	/* connect phase: all connections up, or the time is over */
	int64_t limit = t0 + (int64_t)(O.connect_timeout_s * 1e9);
	while (atomic_load(&ready_conns) < O.conns && now_ns() < limit)
		usleep(10000);
	int64_t go = now_ns();
	double connect_s = (double)(go - t0) / 1e9;
	t_start = go + (int64_t)(O.warmup_s * 1e9);
	t_end = t_start + (int64_t)(O.duration_s * 1e9);
	atomic_store(&t_go, go);
	for (unsigned i = 0; i < O.threads; i++)
		pthread_join(ws[i].th, NULL);

	/* The window: its full length, or from the first request sent to the
	 * last response when a --requests run finished early (a download). */
	double window_s = O.duration_s;
	if (O.requests_max && O.warmup_s == 0) {
		int64_t first = INT64_MAX, last = 0;
		for (unsigned i = 0; i < O.threads; i++) {
			if (ws[i].last_done > last)
				last = ws[i].last_done;
			if (ws[i].first_sent && ws[i].first_sent < first)
				first = ws[i].first_sent;
		}
		if (last > 0 && last < t_end)
			window_s = (double)(last - first) / 1e9;
	}
	report(ws, window_s, connect_s);
	for (unsigned i = 0; i < n_ctx; i++)
		SSL_CTX_free(ctxs[i]);
	free(all);
	free(ws);
	free(req_tmpl);
	return 0;
}
