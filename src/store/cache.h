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
 */
#ifndef FACTUURFS_CACHE_H
#define FACTUURFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "model/facts.h"
#include "model/schema.h"

struct api;
struct arena_block;
struct cache;
struct events;
struct persist;

/* One record as its file shows it.  Immutable once published; shared by
 * reference count (cache_record_unref). */
struct cache_record {
	int refs;          /* atomic */
	char *id;          /* API identifier: "2024/0042" */
	char *stem;        /* file-name stem: "2024%2F0042" */
	char *text;        /* pythonic JSON text */
	size_t len;
	time_t date;       /* the record's own date (12:00 UTC), 0 when it has none */
	time_t mtime;      /* date + a content-derived offset (see cache.c) */
	bool whole;        /* false: the listing carried only part of it */
	char *wire;        /* the record as the service sent it (JSON, wire_len bytes, not
			      NUL-terminated: it may point into the page it came in), kept
			      for collections that can be edited (schema_to_wire_as follows
			      its names and forms); NULL for the others or when unknown */
	size_t wire_len;
	struct arena_block *wire_block; /* non-NULL: wire points into this block (a page's
					   body, base/arena.h), held by the record */
	const struct schema_collection *c; /* its collection (a table row: static) */
	/* Non-NULL: the record and its strings are one allocation from this block of
	 * a listing's arena (base/arena.h), released with it; else each is malloc'd. */
	struct arena_block *block;
	/* What views, xattrs and exports read: cache_record_facts().  Made at the
	 * first use, not when listed: a listing renders its records without a tree
	 * (model/fastwire.h), and only views need the facts.  Written once (atomic
	 * compare-and-swap), the one change an immutable record sees. */
	struct facts *_Atomic facts_memo;
};

/* The record's facts (model/facts.h), made from its text at the first call and kept
 * with it; NULL for a collection without facts, or when they could not be made.
 * Borrowed: valid while the record is. */
const struct facts *cache_record_facts(struct cache_record *r);

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

/* How a listing asks for its pages (cache.c, page_query: the reading and why). */
enum cache_paging {
	CACHE_PAGING_BOTH,   /* count=N&offset=K&start=K: the default */
	CACHE_PAGING_OFFSET, /* count=N&offset=K */
	CACHE_PAGING_START,  /* count=N&start=K */
	CACHE_PAGING_ALL,    /* count=-1: the whole list in one answer */
	CACHE_PAGING_FIRST,  /* learned only: neither is honoured, nor count=-1: one page */
};

/* "both", "offset", "start", "all" (-o paging=) -> the mode; -1 for another name. */
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

int cache_new(struct cache **out, struct api *api, const struct cache_config *cfg);
void cache_free(struct cache *cache);
/* Waits for the refreshes running behind their readers to end (each within the API's
 * timeout) and starts none after: before what cfg.changed reaches goes away. */
void cache_quiesce(struct cache *cache);

/* How many listings cache_new read from disk (fresh or not). */
size_t cache_listings_loaded(struct cache *cache);

/* Reads listing @c (narrowed by @filter, NULL for none) from the state file
 * at @path: cache_new's load path, without a cache (the fuzz target drives
 * it).  0 with *@out (a new listing; its `fetched` and `changed` are the
 * caller's to set), *@fetched its fetch time (wall clock) and *@fresh false
 * when a change of ours may be missing from it; -ENOENT without a file;
 * -EBADMSG for a file that is not a whole listing of @c written by this
 * version (torn, corrupted, another version or kind, a record that does not
 * parse): remove it and list again. */
int cache_listing_load(const struct schema_collection *c, const char *filter, const char *path,
		       struct cache_listing **out, time_t *fetched, bool *fresh);

/* A fresh (or, when refreshing fails, the last good) listing of @c with a
 * reference taken; -errno when there is none. */
int cache_listing_get(struct cache *cache, const struct schema_collection *c,
		      struct cache_listing **out);
void cache_listing_unref(struct cache_listing *l);

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
void cache_record_ref(struct cache_record *r);
void cache_record_unref(struct cache_record *r);

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

/* ---- records a search found (store/search.h) ------------------------------- */

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
