/* found: the records a search found (store/search.h), served without their
 * collection's listing until the TTL runs out, a change of ours, or a listing
 * fetched after them.  The first half is public, through store/cache.h.
 */
#ifndef FACTUURFS_STORE_FOUND_H
#define FACTUURFS_STORE_FOUND_H

#include <stddef.h>

struct cache;
struct cache_listing;
struct cache_record;
struct schema_collection;

/* A listing of the records in list body @body (@len bytes; any shape a listing may
 * come in) of collection @c, converted as a listing's page is, fetched now: a
 * search's answer.  0, -EIO when the body is no list, -ENOMEM. */
int cache_listing_parse(struct cache *cache, const struct schema_collection *c,
			const char *body, size_t len, struct cache_listing **out);
/* Keeps the records of @l (of @c, fetched at l->fetched) as found: until the TTL
 * runs out, a change of ours to @c (cache_invalidate) or a listing of @c fetched
 * after them, cache_found_peek answers them, and cache_record_get and
 * cache_record_peek serve the whole ones, without listing @c. */
void cache_found_put(struct cache *cache, const struct schema_collection *c,
		     const struct cache_listing *l);
/* Record @id of @c as a search found it (see cache_found_put), with a reference
 * and *@ttl_left (may be NULL) the seconds it holds; -ENOENT when none is held.
 * Never calls the API. */
int cache_found_peek(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out, double *ttl_left);

/* ---- the cache's own ---------------------------------------------------------- */

/* With cache->lock held: drops the found records older than @age seconds (all of
 * them for INFINITY). */
void found_sweep(struct cache *cache, double age);

#endif
