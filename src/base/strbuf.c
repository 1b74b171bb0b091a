/* strbuf: a growing string (see strbuf.h). */
#include "base/strbuf.h"

#include <stdlib.h>
#include <string.h>

#include "base/vec.h"

/* The capacity a buffer starts with: a file's text is rarely shorter. */
#define STRBUF_FIRST 256

bool strbuf_reserve(struct strbuf *b, size_t n)
{
	size_t need = b->len + n + 1;
	if (b->oom)
		return false;
	if (need <= b->cap)
		return true;
	if (vec_grow(&b->p, &b->cap, need > STRBUF_FIRST ? need : STRBUF_FIRST, 1) < 0) {
		b->oom = true;
		return false;
	}
	return true;
}

void strbuf_put(struct strbuf *b, const char *s, size_t n)
{
	if (!strbuf_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_put(b, s, strlen(s));
}
