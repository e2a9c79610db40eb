/* Fuzz target: the INI parser. */
#include <stdint.h>
#include <stdlib.h>

#include "base/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err_msg e;
	struct config *c = config_parse("fuzz.ini", (const char *)data, size, &e);
	if (c) {
		config_get(c, "API", "api_key");
		config_line(c, "storage", "lake");
	}
	config_free(c);
	return 0;
}
