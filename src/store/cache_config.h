/* cache_config: how a cache (store/cache.h) is made: its TTL, how listings page,
 * the clock, where changes are told and listings kept.  Apart from cache.h so that
 * the cache's own files (store/cache_i.h) can hold it without the façade.
 */
#ifndef FACTUURFS_STORE_CACHE_CONFIG_H
#define FACTUURFS_STORE_CACHE_CONFIG_H

#include <stdbool.h>
#include <time.h>

struct cache_listing;
struct events;
struct persist;
struct schema_collection;

/* How a listing asks for its pages (pages.c, page_query: the reading and why). */
enum cache_paging {
	CACHE_PAGING_BOTH,   /* count=N&offset=K&start=K: the default */
	CACHE_PAGING_OFFSET, /* count=N&offset=K */
	CACHE_PAGING_START,  /* count=N&start=K */
	CACHE_PAGING_ALL,    /* count=-1: the whole list in one answer */
	CACHE_PAGING_FIRST,  /* learned only: neither is honoured, nor count=-1: one page */
};

/* "both", "offset", "start", "all" (-o paging=) -> the mode; -1 for another name. */
/* (In pages.c.) */
int cache_paging_parse(const char *name);

struct cache_config {
	double ttl;         /* seconds a listing is fresh */
	long page_size;     /* `count` asked per listing page */
	enum cache_paging paging; /* -o paging= */
	struct events *events; /* borrowed: where failed fetches are recorded */
	double (*now)(void);   /* CLOCK_MONOTONIC seconds; NULL: clock_mono (tests drive it) */
	time_t started;     /* the mount's start: a listing's `changed` until it changes */
	/* Called after a listing was replaced by one with other content, outside
	 * any lock, so the FUSE layer can tell the kernel.  @old may be NULL. */
	void (*changed)(void *ud, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur);
	void *ud;
	/* Borrowed, may be NULL (-o nodiskcache): where listings are kept
	 * across mounts (store/persist.h).  cache_new starts from what it
	 * holds; every fetch is written to it; every invalidation marks it. */
	struct persist *persist;
	/* The user's language ("de"; "" for none): a collection with lang_path
	 * (countrylist) is listed as <name>/<lang>, and as <name> when the service
	 * answers that with 404, 405 or 400 (then for the rest of the mount). */
	char lang[8];
	/* An expired listing is answered at once while a thread of its own
	 * refreshes it (the mount: no browse waits on a refresh); false: the
	 * reader that finds it expired fetches it and waits (unit tests that drive
	 * the clock from one thread). */
	bool refresh_behind;
};

#endif
