/* The consumer of a stream on a second thread (handoff.h). */
#include "handoff.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

/*
 * Slot ownership: slot `tail` belongs to the receiver while it fills it
 * (never queued, so the worker never reads it); slots head .. head+queued-1
 * (mod HANDOFF_SLOTS) belong to the worker, the one at head while it runs
 * the consumer on it outside the lock. head + queued is therefore always
 * the receiver's tail, and tail is free whenever queued < HANDOFF_SLOTS.
 */

static uint8_t *slot_mem(struct agent_handoff *h, unsigned i)
{
	return h->mem + (size_t)i * HANDOFF_SLOT_BYTES;
}

static void *worker(void *arg)
{
	struct agent_handoff *h = arg;
	pthread_mutex_lock(&h->mu);
	for (;;) {
		while (h->queued == 0 && !h->closing)
			pthread_cond_wait(&h->ready, &h->mu);
		if (h->queued == 0)
			break;   /* closing, and every byte seen */
		unsigned i = h->head;
		size_t len = h->len[i];
		bool failed = h->err != AIRLOCK_OK;
		pthread_mutex_unlock(&h->mu);
		/* After a failure the rest is dropped unread: the consumer has stopped. */
		airlock_err e = failed ? AIRLOCK_OK : h->sink(h->ctx, slot_mem(h, i), len);
		pthread_mutex_lock(&h->mu);
		if (e != AIRLOCK_OK && h->err == AIRLOCK_OK)
			h->err = e;
		h->head = (i + 1) % HANDOFF_SLOTS;
		h->queued--;
		pthread_cond_signal(&h->space);
	}
	pthread_mutex_unlock(&h->mu);
	return NULL;
}

/* The worker gets no signal: they stay with the thread that handles them. */
static bool start_worker(struct agent_handoff *h)
{
	sigset_t all, old;
	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
		return false;
	int rc = pthread_create(&h->thread, NULL, worker, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0;
}

void agent_handoff_start(struct agent_handoff *h, agent_http_sink sink, void *ctx)
{
	memset(h, 0, sizeof *h);
	h->sink = sink;
	h->ctx = ctx;
	h->mem = malloc((size_t)HANDOFF_SLOTS * HANDOFF_SLOT_BYTES);
	if (!h->mem)
		return;
	bool sync_ok = pthread_mutex_init(&h->mu, NULL) == 0;
	bool ready_ok = sync_ok && pthread_cond_init(&h->ready, NULL) == 0;
	bool space_ok = ready_ok && pthread_cond_init(&h->space, NULL) == 0;
	if (space_ok && start_worker(h))
		return;
	if (space_ok)
		pthread_cond_destroy(&h->space);
	if (ready_ok)
		pthread_cond_destroy(&h->ready);
	if (sync_ok)
		pthread_mutex_destroy(&h->mu);
	free(h->mem);
	h->mem = NULL;   /* serial */
}

/* Queues the filled tail slot; waits for a free slot to fill next. */
static airlock_err hand_over(struct agent_handoff *h)
{
	pthread_mutex_lock(&h->mu);
	airlock_err e = h->err;
	if (e == AIRLOCK_OK) {
		h->len[h->tail] = h->fill;
		h->queued++;
		pthread_cond_signal(&h->ready);
		h->tail = (h->tail + 1) % HANDOFF_SLOTS;
		h->fill = 0;
		while (h->queued == HANDOFF_SLOTS && h->err == AIRLOCK_OK)
			pthread_cond_wait(&h->space, &h->mu);
		e = h->err;
	}
	pthread_mutex_unlock(&h->mu);
	return e;
}

airlock_err agent_handoff_push(void *ctx, const uint8_t *p, size_t n)
{
	struct agent_handoff *h = ctx;
	if (!h->mem)
		return h->sink(h->ctx, p, n);
	while (n > 0) {
		size_t take = HANDOFF_SLOT_BYTES - h->fill;
		if (take > n)
			take = n;
		memcpy(slot_mem(h, h->tail) + h->fill, p, take);
		h->fill += take;
		p += take;
		n -= take;
		if (h->fill == HANDOFF_SLOT_BYTES) {
			airlock_err e = hand_over(h);
			if (e != AIRLOCK_OK)
				return e;
		}
	}
	/* A failure in a slot queued earlier stops the transfer now. */
	pthread_mutex_lock(&h->mu);
	airlock_err e = h->err;
	pthread_mutex_unlock(&h->mu);
	return e;
}

airlock_err agent_handoff_finish(struct agent_handoff *h)
{
	if (!h->mem)
		return AIRLOCK_OK;   /* serial: each error was returned by its push */
	if (h->fill > 0)
		(void)hand_over(h);   /* its error, if any, is h->err below */
	pthread_mutex_lock(&h->mu);
	h->closing = true;
	pthread_cond_signal(&h->ready);
	pthread_mutex_unlock(&h->mu);
	pthread_join(h->thread, NULL);
	airlock_err e = h->err;
	pthread_cond_destroy(&h->space);
	pthread_cond_destroy(&h->ready);
	pthread_mutex_destroy(&h->mu);
	free(h->mem);
	h->mem = NULL;
	return e;
}
