/*
 * utf8: UTF-8 validation as RFC 3629 has it (no overlong forms, no
 * surrogates, nothing past U+10FFFF), shared by the JSON scanner, which
 * refuses text that is not UTF-8, and the JSON writers, which must never
 * produce it.
 */
#ifndef STOCKETL_UTF8_H
#define STOCKETL_UTF8_H

#include <stddef.h>

/* Length of the UTF-8 sequence at p (lead byte >= 0x80) before end, or 0 if it is invalid. */
size_t utf8_seq(const unsigned char *p, const unsigned char *end);

/* 0 when s[0..n) is UTF-8, -1 otherwise. */
int utf8_valid(const char *s, size_t n);

#endif
