/* cache_i: the cache's state, shared by the files that make it up.
 *
 * store/cache.h is the interface; cache.c holds the slots (TTL, flights, stale
 * listings, invalidation) and the life cycle, and the rest is split by concern:
 * record.c (one record), listing.c (a listing of them), body.c (the records of a
 * list body), pages.c (a listing fetched page by page), refresh.c (a fetch
 * published, by its reader or behind it), kept.c (state files), detail.c (records
 * fetched one by one) and found.c (records a search found).  The files that work
 * on the cache's state (cache, pages, refresh, kept, detail, found) include this
 * header; record, listing and body know nothing of it.
 */
#ifndef FACTUURFS_CACHE_I_H
#define FACTUURFS_CACHE_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "base/flight.h"
#include "store/cache_config.h"
#include "store/listing.h"
#include "store/record.h"

struct api;

/* A listing whose refresh failed is served stale and tried again after
 * this long (or the TTL, when shorter).  While the service is down or the
 * budget spent, api.c fails the try at once without a call. */
#define CACHE_STALE_RETRY 5.0

/* A fetch that just failed is not repeated for this long: the kernel queues
 * a directory's readers (and a page's) one behind the other, and each would
 * otherwise wait out its own timeout after the first. */
#define CACHE_FAIL_HOLD 1.0

/* A record fetched with GET one because its listing carried only part. */
struct detail {
	char *key; /* "<collection>/<id>" */
	struct cache_record *rec; /* NULL until fetched; kept while refetching */
	double fetched;
	struct flight fl;         /* never freed while the cache lives: waiters look at it */
	UT_hash_handle hh;
};

/* A record a search found (cache_found_put): served without its collection's listing
 * while it holds. */
struct found {
	char *key;                /* "<collection>/<id>" */
	struct cache_record *rec;
	double fetched;           /* the answer's fetch (cfg.now) */
	unsigned long gen;        /* its collection's invalidations then */
	UT_hash_handle hh;
};

/* Per listing slot: one per collection, then one per invoice filter
 * (slot_of); every field protected by cache->lock. */
struct coll_state {
	const struct schema_collection *c;
	const char *filter;   /* the API's ?filter=, NULL for the whole collection */
	struct cache_listing *cur;
	/* The listing cur replaced when their contents differ, until prev_until
	 * (cache_listing_version); and the last content version given. */
	struct cache_listing *prev;
	double prev_until;
	unsigned long versions;
	struct flight fl;
	bool forced;          /* refresh asked for */
	unsigned long invalidations; /* so a fetch can tell one came while it ran */
	/* Changes of ours under way (cache_change_begin), and begun in all: a
	 * listing fetched meanwhile may miss one, so it is not kept fresh. */
	unsigned changing;
	unsigned long changes;
	/* The last refresh failed: cur is served stale until retry_at. */
	bool stale;
	double retry_at;
	time_t stale_since;
	char why[200];
	/* The pages of the last fetch, to take their records again when a page comes
	 * back byte for byte the same (pages_fetch): a refresh of an unchanged
	 * listing then converts nothing.  Read and written only by the slot's
	 * flight (one fetch at a time), freed by cache_free. */
	struct page_memo *pages;
	size_t npages;
	struct cache_record **arrival; /* their records in arrival order, with a reference each */
	size_t narrival;
	/* When the listing was last handed to persist as fresh (wall clock), and whether
	 * no change of ours marked it since: an unchanged listing is written again at
	 * most every CACHE_REKEEP seconds (kept_listing_save). */
	time_t kept_at;
};

struct page_memo {
	uint64_t hash;
	size_t len;
	size_t first, n; /* its records: arrival[first .. first + n) */
	long elements;   /* the elements the page held (the paging rule reads it) */
};

struct cache {
	struct api *api;
	struct cache_config cfg;
	pthread_mutex_t lock; /* protects every field below, in coll_state and detail */
	pthread_cond_t done;  /* broadcast when any fetch ends */
	struct coll_state *colls; /* nslots: the collections in schema order, then filters */
	size_t nslots;
	struct detail *details;
	struct found *found;  /* records searches found, by key */
	unsigned long listing_hits, listing_fetches; /* for the status file's hit rate */
	/* Listing pages that came back the same and took their records again
	 * (memo_reuse); atomic: the fetch adds to it without the lock. */
	_Atomic unsigned long pages_reused;
	size_t loaded; /* listings read from disk at start */
	/* The service refused <name>/<lang>: list in its own language.  Written
	 * and read only by the fetch of a lang_path listing (one at a time: its
	 * slot's flight). */
	bool lang_refused;
	/* Refreshes running behind their readers (refresh_behind); cache_free
	 * waits for none to be left.  Protected by lock. */
	unsigned refreshing;
	bool quiesced; /* cache_quiesce: no refresh is started behind a reader any more */
	/* How listings page (enum cache_paging): cfg.paging until paging_ignored
	 * learns the service ignores it, then ALL or FIRST for the rest of the mount.
	 * paging_seen: that was learned (once: one fetch does it); paging_note: what
	 * the status file says of it, written once under lock. */
	_Atomic int paging;
	atomic_bool paging_seen;
	char paging_note[320];
};

/* With cache->lock held: false when no fetch is in flight on @f; else waits
 * for it to end (base/flight.h). */
static inline bool cache_wait_flight(struct cache *cache, struct flight *f)
{
	return flight_wait(f, &cache->lock, &cache->done);
}

static inline void cache_end_flight(struct cache *cache, struct flight *f, int rc)
{
	flight_end(f, &cache->done, rc, cache->cfg.now());
}

/* True when the last fetch failed within CACHE_FAIL_HOLD. */
static inline bool cache_failed_just_now(const struct cache *cache, const struct flight *f)
{
	return flight_failed_within(f, cache->cfg.now(), CACHE_FAIL_HOLD);
}

#endif
