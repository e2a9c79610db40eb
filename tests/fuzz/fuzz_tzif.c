/* Fuzz target: the TZif reader and POSIX rule evaluation on arbitrary files. */
#include <stdint.h>
#include <stdlib.h>

#include "text/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err_msg e;
	struct tz *z = tz_from_tzif("fuzz", data, size, &e);
	if (z) {
		int64_t u;
		for (int64_t t = -4000000000LL; t < 8000000000LL; t += 987654321) {
			tz_offset(z, t);
			tz_local_to_utc(z, t, &u);
			tz_local_date(z, t * 1000000);
		}
		tz_free(z);
	}
	return 0;
}
