/* arena: many small allocations carved from a few big blocks whose pages are
 * faulted in at once.
 *
 * Why: on the machines factuurfs is measured on (a Firecracker VM), the first
 * write to a fresh 4 KiB page costs ~12 us (the host backs the page then), also
 * after MAP_POPULATE; memory advised MADV_HUGEPAGE and populated for writing
 * takes 32 MB in ~10 ms instead of ~100 ms (docs/ARCHITECTURE.md, "The cold
 * path").  A 10,000-invoice listing makes ~23 MB of record texts: malloc would
 * fault them in one page at a time, a good part of the whole transfer's time.  A
 * block is freed when the last allocation carved from it is released (each
 * takes a reference), so records can outlive the listing that made them.
 *
 * An arena is filled by one thread; blocks are shared by any.
 */
#ifndef FACTUURFS_BASE_ARENA_H
#define FACTUURFS_BASE_ARENA_H

#include <stddef.h>

struct arena;
struct arena_block;

/* A new arena whose first block holds @first bytes and later ones at least
 * @next; NULL on ENOMEM.  No memory is mapped before the first alloc. */
struct arena *arena_new(size_t first, size_t next);

/* @n bytes (8-aligned) from @a, and in *@blk the block they are in, with a
 * reference for the caller (arena_block_put it when the bytes are no longer
 * used).  NULL on ENOMEM. */
void *arena_alloc(struct arena *a, size_t n, struct arena_block **blk);

/* A block made of @mem (@len bytes, malloc'd), which it frees with its last
 * reference: a buffer whose bytes records keep pointing into (a listing page's
 * body, the wire of its records).  The caller holds that one reference.  NULL on
 * ENOMEM (@mem is then still the caller's). */
struct arena_block *arena_adopt(void *mem, size_t len);

/* Takes one more reference on @b. */
void arena_block_get(struct arena_block *b);

/* Drops a reference; the last one unmaps (or frees) the block.  @b may be NULL. */
void arena_block_put(struct arena_block *b);

/* Makes the pages of [@mem, @mem + @len) huge where it can and writable now, as
 * arena blocks are made: for a big buffer about to be filled (a listing page's
 * body, net/http.c).  Best effort. */
void arena_prefault(void *mem, size_t len);

/* Ends filling: the blocks live on while allocations from them do. */
void arena_free(struct arena *a);

#endif
