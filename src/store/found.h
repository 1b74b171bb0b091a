/* found: the records a search found (cache_found_put, cache_found_peek and
 * cache_listing_parse in store/cache.h), served without their collection's listing
 * until the TTL runs out, a change of ours, or a listing fetched after them.
 */
#ifndef FACTUURFS_STORE_FOUND_H
#define FACTUURFS_STORE_FOUND_H

#include "store/cache_i.h"

/* With cache->lock held: drops the found records older than @age seconds (all of
 * them for INFINITY). */
void found_sweep(struct cache *cache, double age);

#endif
