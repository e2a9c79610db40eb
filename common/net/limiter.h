/*
 * limiter: a client-side rate limiter over sliding windows, such as "at
 * most 5 calls in any 60 s and at most 1 in any 1 s", shared by every
 * request of a process so that the limit holds across concurrent
 * requests for different symbols.
 *
 * Windows slide: a call may start when, for every window, fewer than its
 * count of calls started in the window_us before it.  That is stricter
 * than a server that counts per calendar minute, so honouring it honours
 * both.  The limiter reads no clock: times (µs of a monotonic clock) come
 * in as arguments, so a test drives it with a fake clock.
 *
 * Ownership: limiter_new() allocates; limiter_free() releases.
 */
#ifndef STOCKETL_LIMITER_H
#define STOCKETL_LIMITER_H

#include <stdint.h>

#define LIMITER_MAX_WINDOWS 4
#define LIMITER_MAX_CALLS   1000000

struct limiter;

struct limiter *limiter_new(void);
void limiter_free(struct limiter *l);

/*
 * Add a window: at most calls (1..LIMITER_MAX_CALLS) calls in any span of
 * window_us (> 0).  Returns 0, or -1 for bad arguments, too many windows
 * or no memory.
 */
int limiter_add(struct limiter *l, int64_t calls, int64_t window_us);
/* The earliest time, not before now, at which a call may start. */
int64_t limiter_next(const struct limiter *l, int64_t now);
/* Record a call that started at t (calls are recorded in time order). */
void limiter_record(struct limiter *l, int64_t t);
/* Let no call start before until (a server asked to slow down); holds only extend. */
void limiter_hold(struct limiter *l, int64_t until);

#endif
