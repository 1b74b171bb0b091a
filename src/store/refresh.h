/* refresh: a slot's fetch and what it publishes: the new listing (with its change
 * time and version, the one it replaced kept a while, its file written), or, when
 * the fetch failed, the listing held served stale; by the reader that found the
 * slot expired, or behind it on a thread of its own.
 */
#ifndef FACTUURFS_STORE_REFRESH_H
#define FACTUURFS_STORE_REFRESH_H

#include <stdbool.h>

struct cache;
struct cache_listing;
struct coll_state;

/* The fetch of slot @st that the caller began (flight_begin, with @inv0, @chg0 and
 * @quiet0 read then), and its publication; takes cache->lock and returns with it
 * released.  0 with a reference in *@out (the new listing, or the stale one when the
 * fetch failed and @strict is false), else -errno. */
int refresh_fetch(struct cache *cache, struct coll_state *st, unsigned long inv0,
		  unsigned long chg0, bool quiet0, bool strict, struct cache_listing **out);

/* With cache->lock held and @st's flight begun: runs refresh_fetch on a thread of
 * its own, counted in cache->refreshing.  False when none could be started (the
 * caller fetches itself). */
bool refresh_behind(struct cache *cache, struct coll_state *st, unsigned long inv0,
		    unsigned long chg0, bool quiet0);

#endif
