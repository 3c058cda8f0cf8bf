/* The stream consumer on a second thread (agent/handoff.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "handoff.h"
#include "testutil.h"

#define STREAM_BYTES (5u * 1024u * 1024u + 12345u)

static uint8_t byte_at(size_t i)
{
	return (uint8_t)((i * 2654435761u) >> 13);
}

struct consumer {
	pthread_t caller;       /* the test's thread */
	size_t seen, calls, fail_at_call, max_piece;
	bool mismatch, on_caller;
	/* a gate: the consumer waits while held */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool held, waiting;
};

static airlock_err consume(void *ctx, const uint8_t *p, size_t n)
{
	struct consumer *c = ctx;
	pthread_mutex_lock(&c->mu);
	c->waiting = c->held;
	pthread_cond_broadcast(&c->cv);
	while (c->held)
		pthread_cond_wait(&c->cv, &c->mu);
	pthread_mutex_unlock(&c->mu);
	c->calls++;
	if (pthread_equal(pthread_self(), c->caller))
		c->on_caller = true;
	if (n > c->max_piece)
		c->max_piece = n;
	for (size_t i = 0; i < n; i++)
		if (p[i] != byte_at(c->seen + i))
			c->mismatch = true;
	c->seen += n;
	if (c->fail_at_call && c->calls == c->fail_at_call)
		return AIRLOCK_ERR_DIGEST_MISMATCH;
	return AIRLOCK_OK;
}

static void consumer_init(struct consumer *c)
{
	memset(c, 0, sizeof *c);
	c->caller = pthread_self();
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
}

static void consumer_free(struct consumer *c)
{
	pthread_cond_destroy(&c->cv);
	pthread_mutex_destroy(&c->mu);
}

/* Pushes bytes [from, to) of the stream in pieces of 1 to 40000 bytes. */
static airlock_err push_range(struct agent_handoff *h, size_t from, size_t to)
{
	static uint8_t piece[40000];
	size_t n = 1;
	while (from < to) {
		n = (n * 7919u + 13u) % sizeof piece + 1u;
		if (n > to - from)
			n = to - from;
		for (size_t i = 0; i < n; i++)
			piece[i] = byte_at(from + i);
		airlock_err e = agent_handoff_push(h, piece, n);
		if (e != AIRLOCK_OK)
			return e;
		from += n;
	}
	return AIRLOCK_OK;
}

static void test_every_byte_in_order_elsewhere(void **state)
{
	struct agent_handoff h;
	struct consumer c;
	(void)state;
	alarm(60);
	consumer_init(&c);
	agent_handoff_start(&h, consume, &c);
	assert_int_equal(push_range(&h, 0, STREAM_BYTES), AIRLOCK_OK);
	assert_int_equal(agent_handoff_finish(&h), AIRLOCK_OK);
	assert_int_equal(c.seen, STREAM_BYTES);
	assert_false(c.mismatch);
	assert_false(c.on_caller);   /* the consumer ran on the worker */
	assert_true(c.max_piece <= HANDOFF_SLOT_BYTES);
	consumer_free(&c);
}

/* While the consumer is busy with one slot, the receiver fills the others
 * and goes on; the ring is bounded: it holds at most HANDOFF_SLOTS slots. */
static void test_overlap_bounded(void **state)
{
	struct agent_handoff h;
	struct consumer c;
	(void)state;
	alarm(60);
	consumer_init(&c);
	c.held = true;
	agent_handoff_start(&h, consume, &c);
	/* The first slot reaches the consumer, which is then held... */
	assert_int_equal(push_range(&h, 0, HANDOFF_SLOT_BYTES), AIRLOCK_OK);
	pthread_mutex_lock(&c.mu);
	while (!c.waiting)
		pthread_cond_wait(&c.cv, &c.mu);
	pthread_mutex_unlock(&c.mu);
	/* ...and the receiver still queues all but one of the other slots
	 * (the last one's hand-over would wait for a free slot). */
	size_t more = (size_t)(HANDOFF_SLOTS - 1u) * HANDOFF_SLOT_BYTES - 1u;
	assert_int_equal(push_range(&h, HANDOFF_SLOT_BYTES, HANDOFF_SLOT_BYTES + more), AIRLOCK_OK);
	assert_int_equal(c.calls, 0);
	pthread_mutex_lock(&c.mu);
	c.held = false;
	pthread_cond_broadcast(&c.cv);
	pthread_mutex_unlock(&c.mu);
	assert_int_equal(push_range(&h, HANDOFF_SLOT_BYTES + more, STREAM_BYTES), AIRLOCK_OK);
	assert_int_equal(agent_handoff_finish(&h), AIRLOCK_OK);
	assert_int_equal(c.seen, STREAM_BYTES);
	assert_false(c.mismatch);
	consumer_free(&c);
}

/* The consumer's first error stops the receiver and is what finish says;
 * nothing after the failed piece reaches the consumer. */
static void test_consumer_error_is_sticky(void **state)
{
	struct agent_handoff h;
	struct consumer c;
	(void)state;
	alarm(60);
	consumer_init(&c);
	c.fail_at_call = 3;
	agent_handoff_start(&h, consume, &c);
	assert_int_equal(push_range(&h, 0, STREAM_BYTES), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_int_equal(agent_handoff_push(&h, (const uint8_t *)"x", 1), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_int_equal(agent_handoff_finish(&h), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_int_equal(c.calls, 3);
	assert_int_equal(c.seen, 3u * HANDOFF_SLOT_BYTES);
	assert_false(c.mismatch);
	consumer_free(&c);
}

/* An error in the last, partial slot shows at finish. */
static void test_error_in_tail(void **state)
{
	struct agent_handoff h;
	struct consumer c;
	(void)state;
	alarm(60);
	consumer_init(&c);
	c.fail_at_call = 1;
	agent_handoff_start(&h, consume, &c);
	assert_int_equal(push_range(&h, 0, 1000), AIRLOCK_OK);
	assert_int_equal(agent_handoff_finish(&h), AIRLOCK_ERR_DIGEST_MISMATCH);
	assert_int_equal(c.seen, 1000);
	consumer_free(&c);
}

/* Nothing pushed: the consumer is never called. */
static void test_empty(void **state)
{
	struct agent_handoff h;
	struct consumer c;
	(void)state;
	consumer_init(&c);
	agent_handoff_start(&h, consume, &c);
	assert_int_equal(agent_handoff_finish(&h), AIRLOCK_OK);
	assert_int_equal(c.calls, 0);
	consumer_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_byte_in_order_elsewhere),
		cmocka_unit_test(test_overlap_bounded),
		cmocka_unit_test(test_consumer_error_is_sticky),
		cmocka_unit_test(test_error_in_tail),
		cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
