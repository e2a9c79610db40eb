/*
 * Fuzz target: the envelope reader of tick-normalize (common/av/envelope)
 * on arbitrary lines, then the conversion of the bars it kept to UTC in a
 * zone with daylight saving.  Whatever the line, a rejected envelope has a
 * reason, every bar has a reason or a valid time, and the good bars come
 * out sorted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "av/envelope.h"
#include "text/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
