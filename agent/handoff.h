/*
 * A stream's consumer on a second thread. The thread that receives (libcurl
 * and its TLS) copies each piece into a small ring of buffers and goes on
 * receiving, while a worker thread hands the filled buffers, in order, to
 * the consumer (the install pipeline: decrypt, verify, write). On a
 * multi-core device the receive and the pipeline then overlap instead of
 * taking turns; nothing about the pipeline changes, it only runs elsewhere.
 *
 * Bounded: HANDOFF_SLOTS buffers of HANDOFF_SLOT_BYTES, allocated at start.
 * A full ring makes the receiver wait, which slows the transfer as a slow
 * consumer always did (libcurl's minimum-rate timeout still watches it).
 * The consumer sees exactly the bytes pushed, in order, in pieces of at most
 * HANDOFF_SLOT_BYTES. Its first error is sticky: the next push returns it
 * (so the transfer stops), buffers queued behind it are dropped unread, and
 * agent_handoff_finish() returns it. Signals stay with the calling thread.
 *
 * Without memory or a thread, start falls back to calling the consumer from
 * the receiving thread (the serial pipeline): slower, never wrong.
 */
#ifndef AGENT_HANDOFF_H
#define AGENT_HANDOFF_H

#include <pthread.h>
#include <stdbool.h>

#include "transport.h"

/* 1 MiB in all. On the 2-core benchmark machine (bench/agent_net.sh, the
 * server on the same cores) a 4 x 64 KiB ring left the pipeline waiting for
 * data twice as long and gained nothing over the serial pipeline; 4 x
 * 256 KiB gained about 7% when no other work ran (docs/benchmarks.md). */
#define HANDOFF_SLOTS 4u
#define HANDOFF_SLOT_BYTES (256u * 1024u)

struct agent_handoff {
	agent_http_sink sink;    /* the consumer, run on the worker */
	void *ctx;
	uint8_t *mem;            /* HANDOFF_SLOTS * HANDOFF_SLOT_BYTES; NULL: serial */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t ready;    /* worker waits: a slot queued, or closing */
	pthread_cond_t space;    /* receiver waits: a slot free, or an error */
	/* under mu */
	size_t len[HANDOFF_SLOTS];
	unsigned head, queued;   /* the worker's next slot; slots queued (incl. the one in use) */
	bool closing;
	airlock_err err;         /* the consumer's first error */
	/* the receiver's own */
	unsigned tail;           /* slot being filled */
	size_t fill;
};

/* Starts the worker for sink(ctx, ...). Cannot fail (see above). */
void agent_handoff_start(struct agent_handoff *h, agent_http_sink sink, void *ctx);

/* An agent_http_sink: queues p[0..n) for the consumer; its error if it failed. */
AIRLOCK_MUST_USE airlock_err agent_handoff_push(void *h, const uint8_t *p, size_t n);

/* Hands over what is left, waits until the consumer has seen every byte (or
 * failed), stops the worker and frees the ring. The consumer's first error. */
AIRLOCK_MUST_USE airlock_err agent_handoff_finish(struct agent_handoff *h);

#endif
