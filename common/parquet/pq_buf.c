/*
 * pq_buf: growth of the codec's byte buffers (see pq_buf.h).  Capacity
 * doubles, so appending n bytes one at a time costs O(n) copies in all.
 */
#include "parquet/pq_buf.h"

#include <stdlib.h>

int pq_buf_grow(struct pq_buf *b, size_t n)
{
	if (n > PQ_BUF_MAX || b->len > PQ_BUF_MAX - n)
		return -1;
	size_t need = b->len + n;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

void pq_buf_free(struct pq_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}
