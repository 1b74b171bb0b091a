/* arena: blocks faulted in at once (see arena.h). */
#include "base/arena.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

/* A block's header lives apart from its bytes (an adopted buffer has no room). */
struct arena_block {
	atomic_int refs;
	char *mem;
	size_t size; /* the mapping's length (or the buffer's) */
	bool mapped; /* mmap'd here, else malloc'd by whoever gave it (arena_adopt) */
};

struct arena {
	struct arena_block *cur; /* the arena's own reference; NULL before the first alloc */
	size_t used;		 /* bytes of cur handed out */
	size_t first, next;
};

struct arena *arena_new(size_t first, size_t next)
{
	struct arena *a = calloc(1, sizeof(*a));
	if (a) {
		a->first = first;
		a->next = next;
	}
	return a;
}

void arena_prefault(void *mem, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	char *p = mem;
	size_t head = (page - (size_t)((uintptr_t)p % page)) % page, span;
	if (len <= head || (span = (len - head) / page * page) == 0)
		return;
	/* Huge pages where the kernel has them (transparent_hugepage "madvise"), then
	 * every page made writable now: either may be refused, which costs only the
	 * faults they would have saved. */
	(void)madvise(p + head, span, MADV_HUGEPAGE);
#ifdef MADV_POPULATE_WRITE
	(void)madvise(p + head, span, MADV_POPULATE_WRITE);
#endif
}

static struct arena_block *block_new(size_t want)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t size = (want + page - 1) / page * page;
	struct arena_block *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(b);
		return NULL;
	}
	arena_prefault(p, size);
	atomic_init(&b->refs, 1);
	b->mem = p;
	b->size = size;
	b->mapped = true;
	return b;
}

struct arena_block *arena_adopt(void *mem, size_t len)
{
	struct arena_block *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	atomic_init(&b->refs, 1);
	b->mem = mem;
	b->size = len;
	return b;
}

void arena_block_get(struct arena_block *b)
{
	atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
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
		a->used = 0;
	}
	void *p = a->cur->mem + a->used;
	a->used += n;
	atomic_fetch_add_explicit(&a->cur->refs, 1, memory_order_relaxed);
	*blk = a->cur;
	return p;
}

void arena_block_put(struct arena_block *b)
{
	if (!b || atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) != 1)
		return;
	if (b->mapped)
		munmap(b->mem, b->size);
	else
		free(b->mem);
	free(b);
}

void arena_free(struct arena *a)
{
	if (!a)
		return;
	if (a->cur && a->cur->mapped) {
		/* The pages of the last block no allocation reached: back to the
		 * system now (they were faulted in, so they count in the RSS). */
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		size_t keep = (a->used + page - 1) / page * page;
		if (keep < a->cur->size && munmap(a->cur->mem + keep, a->cur->size - keep) == 0)
			a->cur->size = keep;
	}
	arena_block_put(a->cur);
	free(a);
}
