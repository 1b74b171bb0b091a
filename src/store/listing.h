/* listing: a listing of records (struct cache_listing, store/cache.h), sorted by
 * file-name stem and indexed by id; immutable once made, shared by reference count.
 * The public half (ref, unref, find, subset) is declared in store/cache.h.
 */
#ifndef FACTUURFS_STORE_LISTING_H
#define FACTUURFS_STORE_LISTING_H

#include <stdbool.h>

#include "store/record.h"

/* A listing of the records in @rs (taken; @rs is left empty), given in the order
 * the service listed them, of collection @c (NULL for a view's subset): the first
 * of two records with one id is kept.  NULL on ENOMEM (the records dropped). */
struct cache_listing *listing_new(const struct schema_collection *c, struct recs *rs);

/* True when @a and @b show the same files with the same texts. */
bool listing_same(const struct cache_listing *a, const struct cache_listing *b);

#endif
