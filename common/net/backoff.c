/*
 * backoff: the schedule and its generator.  The generator is splitmix64:
 * tiny, good enough to spread retries, and reproducible from a seed; it is
 * not meant for anything that needs unpredictability.
 */
#include "net/backoff.h"

void backoff_init(struct backoff *b, int64_t base_us, int64_t max_us, uint64_t seed)
{
	b->base_us = base_us > 0 ? base_us : 1;
	b->max_us = max_us > b->base_us ? max_us : b->base_us;
	b->state = seed;
}

int64_t backoff_nominal(const struct backoff *b, int retry)
{
	int64_t d = b->base_us;
	/* Doubling stops at the cap, so the product never overflows. */
	for (int i = 1; i < retry && d < b->max_us; i++)
		d = d > b->max_us / 2 ? b->max_us : d * 2;
	return d < b->max_us ? d : b->max_us;
}

static uint64_t backoff_next(struct backoff *b)
{
	uint64_t z = (b->state += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

int64_t backoff_delay(struct backoff *b, int retry)
{
	int64_t n = backoff_nominal(b, retry);
	int64_t half = n / 2;
	uint64_t span = (uint64_t)(n - half) + 1;
	return half + (int64_t)(backoff_next(b) % span);
}
