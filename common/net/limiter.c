/*
 * limiter: each window keeps the start times of its last `calls` calls in
 * a ring.  The oldest of them decides when the next call may start: once
 * it is window_us in the past, a new call keeps the count within the
 * limit.  Memory is one int64 per allowed call of each window.
 */
#include "net/limiter.h"

#include <stdlib.h>

struct limiter_window {
	int64_t calls;
	int64_t window_us;
	int64_t *ring; /* start times; ring[head] is the oldest once full */
	int64_t head;
	int64_t count;
};

struct limiter {
	struct limiter_window w[LIMITER_MAX_WINDOWS];
	int n;
	int64_t hold_until;
};

struct limiter *limiter_new(void)
{
	return calloc(1, sizeof(struct limiter));
}

void limiter_free(struct limiter *l)
{
	if (!l)
		return;
	for (int i = 0; i < l->n; i++)
		free(l->w[i].ring);
	free(l);
}

int limiter_add(struct limiter *l, int64_t calls, int64_t window_us)
{
	if (l->n == LIMITER_MAX_WINDOWS || calls < 1 || calls > LIMITER_MAX_CALLS || window_us <= 0)
		return -1;
	struct limiter_window *w = &l->w[l->n];
	w->ring = malloc((size_t)calls * sizeof *w->ring);
	if (!w->ring)
		return -1;
	w->calls = calls;
	w->window_us = window_us;
	w->head = 0;
	w->count = 0;
	l->n++;
	return 0;
}

int64_t limiter_next(const struct limiter *l, int64_t now)
{
	int64_t t = now > l->hold_until ? now : l->hold_until;
	for (int i = 0; i < l->n; i++) {
		const struct limiter_window *w = &l->w[i];
		if (w->count < w->calls)
			continue;
		int64_t free_at = w->ring[w->head] + w->window_us;
		if (free_at > t)
			t = free_at;
	}
	return t;
}

void limiter_record(struct limiter *l, int64_t t)
{
	for (int i = 0; i < l->n; i++) {
		struct limiter_window *w = &l->w[i];
		if (w->count < w->calls) {
			w->ring[(w->head + w->count) % w->calls] = t;
			w->count++;
		} else {
			w->ring[w->head] = t;
			w->head = (w->head + 1) % w->calls;
		}
	}
}

void limiter_hold(struct limiter *l, int64_t until)
{
	if (until > l->hold_until)
		l->hold_until = until;
}
