/* cache: the TTL store of listings and records, between the features above
 * and the API below.
 *
 * A collection is listed with one call (one per page) when first needed and
 * the listing is kept as an immutable, reference-counted snapshot for `ttl`
 * seconds; concurrent demands for the same listing or record share one
 * request (single-flight, base/flight.h).  When a refresh fails or the hourly
 * budget is spent, the stale snapshot is served rather than an error.
 * Records that a listing carries only in part are completed with one GET
 * each.  (PDFs are store/pdfstore.h.)  One per mount; its lock is private
 * and never held across a call.
 *
 * This header is the whole interface; it includes the headers of the files that
 * make the cache up for their public parts: a record (store/record.h), a listing
 * (store/listing.h), how a cache is made (store/cache_config.h), listings kept on
 * disk (store/kept.h) and records a search found (store/found.h).
 */
#ifndef FACTUURFS_CACHE_H
#define FACTUURFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "model/facts.h"
#include "model/schema.h"
#include "store/cache_config.h"
#include "store/found.h"
#include "store/kept.h"
#include "store/listing.h"
#include "store/record.h"

struct api;
struct cache;

int cache_new(struct cache **out, struct api *api, const struct cache_config *cfg);
void cache_free(struct cache *cache);
/* Waits for the refreshes running behind their readers to end (each within the API's
 * timeout) and starts none after: before what cfg.changed reaches goes away. */
void cache_quiesce(struct cache *cache);

/* How many listings cache_new read from disk (fresh or not). */
size_t cache_listings_loaded(struct cache *cache);

/* A fresh (or, when refreshing fails, the last good) listing of @c with a
 * reference taken; -errno when there is none. */
int cache_listing_get(struct cache *cache, const struct schema_collection *c,
		      struct cache_listing **out);

/* Lists @c now (one call, even when a fresh listing is held), and returns that
 * call's error rather than serving the listing held: the mount's check. */
int cache_listing_check(struct cache *cache, const struct schema_collection *c,
			struct cache_listing **out);

/* True when @c was listed before (the listing may be stale); no call. */
bool cache_has_listing(struct cache *cache, const struct schema_collection *c);

/* The listing of invoices collection @c narrowed by the API's @filter (a name
 * of facts_filter_at(): `invoices?filter=open`), kept like any listing: TTL,
 * single-flight, stale on failure, the budget's rules; -ENOENT for a filter the
 * table does not have.  cache_invalidate(@c) drops it with the whole listing. */
int cache_listing_get_filtered(struct cache *cache, const struct schema_collection *c,
			       const char *filter, struct cache_listing **out);
/* True when that filtered listing was fetched before; no call. */
bool cache_has_filtered(struct cache *cache, const struct schema_collection *c,
			const char *filter);

/* Seconds @l stays fresh from now (>= 0). */
double cache_listing_ttl_left(const struct cache *cache, const struct cache_listing *l);

/* The whole record @id of @c, with a reference taken: from the listing when
 * it carries it whole, otherwise from one GET (shared, cached).  -ENOENT when
 * the collection has no such record. */
int cache_record_get(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out);
/* Record @id of @c as the service has it now: one GET of it, always (a save's
 * merge reads it just before its PUT), with a reference; kept nowhere.
 * -EOPNOTSUPP for a collection without GET one, -ENOENT when the service has
 * no such record (or answers with a list), else as cache_record_get. */
int cache_record_fetch(struct cache *cache, const struct schema_collection *c, const char *id,
		       struct cache_record **out);
/* The whole record @id of @c when it is held now (as cache_record_get would
 * answer it without a call), with a reference; -ENOENT when it is not.  Never
 * calls the API. */
int cache_record_peek(struct cache *cache, const struct schema_collection *c, const char *id,
		      struct cache_record **out);

/* The listing of @c held now, fresh or stale, with a reference; NULL when
 * there is none.  Never calls the API. */
struct cache_listing *cache_listing_peek(struct cache *cache, const struct schema_collection *c);

/* The listing of @c whose content is version @version, with a reference: the one
 * held now, or the one it replaced, for a few seconds after (a directory read in
 * pieces goes on from the content it began with); NULL when neither is.  And the
 * version held now (0: none).  Never call the API. */
struct cache_listing *cache_listing_version(struct cache *cache, const struct schema_collection *c,
					    unsigned long version);
unsigned long cache_listing_version_now(struct cache *cache, const struct schema_collection *c);

/* The listing of @c held now, like cache_listing_peek, but listed again
 * first when a change of ours (cache_invalidate, cache_refresh_all) dropped
 * it: what derives from it (xattrs) then shows that change at once. */
struct cache_listing *cache_listing_held(struct cache *cache, const struct schema_collection *c);

/* Makes the next access to @c list it again (after a change we made). */
void cache_invalidate(struct cache *cache, const struct schema_collection *c);

/* A change of @c is about to be sent (a PUT, POST or DELETE): before this
 * returns, its listings kept on disk stop being fresh, whatever the change's
 * outcome, and a listing of @c fetched until cache_change_end is kept as not
 * fresh.  Every begin is ended once the call returned. */
void cache_change_begin(struct cache *cache, const struct schema_collection *c);
void cache_change_end(struct cache *cache, const struct schema_collection *c);

/* Drops every listing so the next access lists again (SIGHUP, .factuurfs/refresh). */
void cache_refresh_all(struct cache *cache);

/* How many changes of ours (cache_invalidate, cache_refresh_all) @c has seen:
 * what derives from an answer about @c is stale once it moved. */
unsigned long cache_generation(struct cache *cache, const struct schema_collection *c);
/* The cache's clock (cfg.now): CLOCK_MONOTONIC seconds, or the tests' own. */
double cache_now(const struct cache *cache);
/* Seconds the cache's TTL lasts (cfg.ttl). */
double cache_ttl(const struct cache *cache);

/* Appends a JSON object describing the cache to @out (a cJSON object). */
void cache_describe(struct cache *cache, cJSON *out);

#endif
