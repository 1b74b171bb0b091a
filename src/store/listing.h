/* listing: a listing of records (struct cache_listing, store/cache.h), sorted by
 * file-name stem and indexed by id; immutable once made, shared by reference count.
 * The first half is public, through store/cache.h.
 */
#ifndef FACTUURFS_STORE_LISTING_H
#define FACTUURFS_STORE_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "store/record.h"

struct cache_index;

/* One listing of a collection, sorted by stem.  Immutable; shared. */
struct cache_listing {
	int refs;          /* atomic */
	size_t n;
	struct cache_record **recs;
	struct cache_index *by_id;  /* uthash, id -> position */
	double fetched;    /* CLOCK_MONOTONIC seconds */
	time_t fetched_wall; /* wall time of that fetch (the fetched xattr) */
	/* Wall time its content last changed: the directory's mtime.  To the
	 * nanosecond, and never equal for two contents: the kernel keeps a
	 * directory's cached entries while its mtime stays the same. */
	struct timespec changed;
	/* Its content's number in its slot: kept while the content stays the same,
	 * one more at each change (a READDIR's position carries it: fuse/dir.c). */
	unsigned long version;
};

void cache_listing_unref(struct cache_listing *l);
void cache_listing_ref(struct cache_listing *l);
/* A new listing of the records at positions @pos of @l (sharing them), with
 * @l's times: a view's directory.  NULL on ENOMEM. */
struct cache_listing *cache_listing_subset(const struct cache_listing *l, const size_t *pos,
					   size_t n);

/* True when @a is later than @b. */
static inline bool cache_time_after(struct timespec a, struct timespec b)
{
	return a.tv_sec > b.tv_sec || (a.tv_sec == b.tv_sec && a.tv_nsec > b.tv_nsec);
}

/* Position of @id in @l, or -1. */
ssize_t cache_listing_find(const struct cache_listing *l, const char *id);

/* ---- the cache's own (store/cache_i.h names its files) ---------------------- */

/* A listing of the records in @rs (taken; @rs is left empty), given in the order
 * the service listed them, of collection @c (NULL for a view's subset): the first
 * of two records with one id is kept.  NULL on ENOMEM (the records dropped). */
struct cache_listing *listing_new(const struct schema_collection *c, struct recs *rs);

/* True when @a and @b show the same files with the same texts. */
bool listing_same(const struct cache_listing *a, const struct cache_listing *b);

#endif
