/*
 * Fuzz target: the envelope reader of tick-normalize (common/av/envelope)
 * on arbitrary lines, then the conversion of the bars it kept to UTC in a
 * zone with daylight saving.  Whatever the line, a rejected envelope has a
 * reason, every bar has a reason or a valid time, and the good bars come
 * out sorted.  The line is also read with a space after each colon outside
 * strings, which takes every bar off the reader's fast path (it reads only
 * the compact layout av-fetch stores) and means the same: both readings
 * must agree on the verdict and on every bar.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "av/envelope.h"
#include "../unit/t_spaced.h"
#include "text/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The line read spaced agrees with env, the line read as it is (rc its verdict). */
static void check_spaced(const struct av_env *env, int rc, const char *line, size_t size)
{
	static struct av_env other;
	static struct buf sp;
	static int ready;
	if (!ready) {
		av_env_init(&other);
		ready = 1;
	}
	spaced(line, size, &sp);
	int rc2 = av_env_parse(&other, sp.data ? sp.data : "", sp.len);
	if (rc2 == -2 || rc == -2)
		return;
	if (rc2 != rc || other.valid_json != env->valid_json)
		abort();
	if (rc < 0)
		return;
	if (other.nbars != env->nbars)
		abort();
	for (size_t i = 0; i < env->nbars; i++) {
		const struct av_bar *a = &env->bars[i], *b = &other.bars[i];
		const char *wa = av_env_bar_why(env, a), *wb = av_env_bar_why(&other, b);
		if (a->local != b->local || a->date != b->date || a->open != b->open ||
		    a->high != b->high || a->low != b->low || a->close != b->close ||
		    a->volume != b->volume || !wa != !wb || (wa && strcmp(wa, wb) != 0))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct av_env env;
	static struct tz *zone;
	static int ready;
	if (!ready) {
		struct err_msg e;
		av_env_init(&env);
		zone = tz_load("America/New_York", &e);
		if (!zone)
			abort();
		ready = 1;
	}
	/* The reader is given a line it does not own: a copy of exactly size bytes. */
	char *line = malloc(size ? size : 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	int rc = av_env_parse(&env, line, size);
	check_spaced(&env, rc, line, size);
	if (rc == -1 && !env.reject[0])
		abort();
	if (rc == 0) {
		size_t good = av_env_convert(&env, zone);
		if (good > env.nbars)
			abort();
		for (size_t i = 0; i < env.nbars; i++) {
			const struct av_bar *b = &env.bars[i];
			if ((i < good) != (av_env_bar_why(&env, b) == NULL))
				abort();
			if (i > 0 && i < good && env.bars[i - 1].ts > b->ts)
				abort();
			/* A bar's text lies inside the line or the envelope's copy of its CSV body. */
			if (b->raw_len && !b->raw)
				abort();
		}
	}
	free(line);
	return 0;
}
