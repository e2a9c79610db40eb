/*
 * backoff: the delays between the attempts of a request that failed for a
 * reason that may pass (a server error, a timeout, a throttled answer).
 *
 * The schedule is exponential with "equal jitter": the nominal delay
 * before retry n is base * 2^(n-1), capped at max, and the actual delay is
 * drawn uniformly from [nominal/2, nominal].  The fixed half gives the
 * server a rest that grows with each failure; the random half keeps
 * clients that failed together from retrying together.  The random
 * generator is seeded by the caller so that a test can reproduce a
 * schedule.  The struct is the caller's; nothing is allocated.
 */
#ifndef STOCKETL_BACKOFF_H
#define STOCKETL_BACKOFF_H

#include <stdint.h>

struct backoff {
	int64_t base_us; /* nominal delay before the first retry */
	int64_t max_us;  /* cap of the nominal delay */
	uint64_t state;  /* generator state */
};

/* Set the schedule; base_us and max_us must be > 0 (max_us below base_us is raised to it). */
void backoff_init(struct backoff *b, int64_t base_us, int64_t max_us, uint64_t seed);
/* The nominal delay before retry number retry (1 = the first retry). */
int64_t backoff_nominal(const struct backoff *b, int retry);
/* The jittered delay before retry number retry: in [nominal/2, nominal]. */
int64_t backoff_delay(struct backoff *b, int retry);

#endif
