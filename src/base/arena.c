/* arena: blocks faulted in at once (see arena.h). */
#include "base/arena.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

struct arena_block {
	atomic_int refs;
	size_t size; /* the mapping's length, this header included */
};

struct arena {
	struct arena_block *cur; /* the arena's own reference; NULL before the first alloc */
	size_t used;		 /* bytes of cur handed out, its header included */
	size_t first, next;
};

#define ARENA_HDR ((sizeof(struct arena_block) + 7) & ~(size_t)7)

struct arena *arena_new(size_t first, size_t next)
{
	struct arena *a = calloc(1, sizeof(*a));
	if (a) {
		a->first = first;
		a->next = next;
	}
	return a;
}

static struct arena_block *block_new(size_t want)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = (want + ARENA_HDR + page - 1) / page * page;
	/* MAP_POPULATE: every page faulted in by this one call (see arena.h). */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
		       -1, 0);
	struct arena_block *b;
	if (p == MAP_FAILED)
		return NULL;
	b = p;
	atomic_init(&b->refs, 1);
	b->size = size;
	return b;
}

void *arena_alloc(struct arena *a, size_t n, struct arena_block **blk)
{
	n = (n + 7) & ~(size_t)7;
	if (!a->cur || a->used + n > a->cur->size) {
		size_t want = a->cur ? a->next : a->first;
		struct arena_block *b = block_new(want > n ? want : n);
		if (!b)
			return NULL;
		arena_block_put(a->cur);
		a->cur = b;
		a->used = ARENA_HDR;
	}
	void *p = (char *)a->cur + a->used;
	a->used += n;
	atomic_fetch_add_explicit(&a->cur->refs, 1, memory_order_relaxed);
	*blk = a->cur;
	return p;
}

void arena_block_put(struct arena_block *b)
{
	if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
		munmap(b, b->size);
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	arena_block_put(a->cur);
	free(a);
}
