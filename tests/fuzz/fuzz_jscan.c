/* Fuzz target: the JSON tokenizer, unescaping and the cJSON tree must agree on validity. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "text/jscan.h"
#include "text/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct jscan js;
	struct jscan_token t;
	struct buf b = BUF_INIT;
	jscan_init(&js, s, size);
	int k;
	while ((k = jscan_next(&js, &t)) > 0) {
		if ((k == JS_STR || k == JS_KEY) && t.escaped) {
			buf_reset(&b);
			if (jscan_unescape(t.s, t.n, &b) == 0 &&
			    jscan_utf8_valid(b.data, b.len) < 0)
				abort(); /* unescaped text must be valid UTF-8 */
		}
		if (t.s < s || t.s + t.n > s + size)
			abort();
	}
	buf_free(&b);
	/* skip() over a whole document gives back exactly its text */
	jscan_init(&js, s, size);
	if (jscan_next(&js, &t) > 0) {
		const char *raw;
		size_t rawlen;
		if (jscan_skip(&js, &t, &raw, &rawlen) == 0 && (raw < s || raw + rawlen > s + size))
			abort();
	}
	struct err_msg e;
	struct json *j = json_parse(s, size, &e);
	json_free(j);
	return 0;
}
