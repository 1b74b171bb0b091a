/* strbuf: a growing, always NUL-terminated string, for rendering file texts.
 *
 * Start with `struct strbuf b = {0}`; append; then check b.oom: on out of
 * memory appends stop and b.oom is set (free(b.p) either way is the
 * caller's: the text is b.p, b.len bytes, owned by the caller).
 */
#ifndef FACTUURFS_STRBUF_H
#define FACTUURFS_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void strbuf_put(struct strbuf *b, const char *s, size_t n);
/* Room for @n more bytes and a NUL after b->len: true, or false with b->oom set.
 * For a writer that appends by hand (model/fastwire.c) and ends the text itself. */
bool strbuf_reserve(struct strbuf *b, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);

#endif
