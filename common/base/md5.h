/*
 * md5: the MD5 message digest (RFC 1321), for the checksums that the Delta
 * protocol defines with it (_last_checkpoint's "checksum").  Not for
 * anything that needs a secure hash.
 *
 * md5_init(), md5_update() any number of times, md5_final(); or md5_hex()
 * for a buffer at once.  The state is a plain struct the caller owns.
 */
#ifndef STOCKETL_MD5_H
#define STOCKETL_MD5_H

#include <stddef.h>
#include <stdint.h>

struct md5 {
	uint32_t h[4];
	uint64_t len; /* bytes hashed so far */
	unsigned char block[64];
	size_t n; /* bytes of block filled */
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *p, size_t n);
/* The 16-byte digest; m must be initialised again before it is used again. */
void md5_final(struct md5 *m, unsigned char out[16]);
/* The digest of p[0..n) as 32 lower-case hexadecimal digits and a NUL. */
void md5_hex(const void *p, size_t n, char out[33]);

#endif
