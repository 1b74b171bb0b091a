/* cache: the slots of listings, their TTL and flights, and the cache's life
 * cycle (see cache.h; the other concerns are the files cache_i.h names). */
#include "store/cache.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "net/api.h"
#include "base/clock.h"
#include "base/log.h"
#include "store/cache_i.h"
#include "store/found.h"
#include "store/kept.h"
#include "store/pages.h"
#include "store/refresh.h"

/* stale_grace(): at least this long, else the TTL. */
#define CACHE_STALE_GRACE_MIN 60.0

/* The attribute timeout of an expired listing's files while it is served during
 * its refresh (cache_listing_ttl_left): long enough that an `ls -l` meanwhile
 * is answered from the kernel's caches, short enough to follow the refresh,
 * which tells the kernel of every change anyway. */
#define CACHE_STALE_ATTR 1.0

static double now_mono(void)
{
	return clock_mono();
}

/* The slot of @c narrowed by @filter (NULL: the whole collection), or NULL
 * when the filter is none of facts_filter_at()'s. */
static struct coll_state *slot_of(struct cache *cache, const struct schema_collection *c,
				  const char *filter)
{
	if (!filter)
		return &cache->colls[schema_collection_index(c)];
	for (size_t i = schema_ncollections(); i < cache->nslots; i++)
		if (cache->colls[i].c == c && !strcmp(cache->colls[i].filter, filter))
			return &cache->colls[i];
	return NULL;
}

/* How long past its TTL a listing is still answered at once while a refresh runs
 * behind it (listing_get): an expired listing younger than ttl + this is served,
 * older ones are waited for like a first listing.  The bound of staleness in
 * docs/SEMANTICS.md ("Freshness"). */
static double stale_grace(const struct cache *cache)
{
	return cache->cfg.ttl > CACHE_STALE_GRACE_MIN ? cache->cfg.ttl : CACHE_STALE_GRACE_MIN;
}

/* @strict (cache_listing_check): a failed fetch is the caller's error, not
 * the stale copy's success.
 *
 * An expired listing is answered at once while one refresh runs behind it
 * (no browse waits on a refresh), unless a change of ours dropped it (then
 * the reader waits: it must see its own write), or it is older than the TTL
 * plus stale_grace() (then it waits as for a first listing).  The refresh
 * tells the kernel what changed when it lands (cfg.changed). */
static int listing_get(struct cache *cache, struct coll_state *st, struct cache_listing **out,
		       bool strict)
{
	int rc = 0;

	pthread_mutex_lock(&cache->lock);
	for (;;) {
		double now = cache->cfg.now();
		if (st->cur && !st->forced && now - st->cur->fetched < cache->cfg.ttl)
			goto hit;
		if (st->cur && st->stale && !st->forced && now < st->retry_at)
			goto hit;
		/* Expired (or its last refresh failed), not dropped by a change of
		 * ours, and recent enough: the answer now, the refresh behind. */
		if (st->cur && !st->forced && !strict && cache->cfg.refresh_behind &&
		    (st->stale || now - st->cur->fetched < cache->cfg.ttl + stale_grace(cache))) {
			if (!st->fl.loading) {
				flight_begin(&st->fl);
				cache->listing_fetches++;
				if (!refresh_behind(cache, st, st->invalidations, st->changes,
						    st->changing == 0)) {
					/* No thread: this reader fetches, as before. */
					unsigned long inv0 = st->invalidations, chg0 = st->changes;
					bool quiet0 = st->changing == 0;
					pthread_mutex_unlock(&cache->lock);
					return refresh_fetch(cache, st, inv0, chg0, quiet0, strict,
							     out);
				}
			}
			goto hit;
		}
		if (!st->cur && !st->forced && cache_failed_just_now(cache, &st->fl)) {
			rc = st->fl.rc;
			pthread_mutex_unlock(&cache->lock);
			return rc;
		}
		if (!cache_wait_flight(cache, &st->fl))
			break;
		if (st->fl.rc < 0 && !st->cur) {
			rc = st->fl.rc;
			pthread_mutex_unlock(&cache->lock);
			return rc;
		}
		/* Not a result that predates an invalidation (a write of ours):
		 * it could miss the change, so look again. */
		if (st->cur && !st->forced)
			goto hit;
	}
	flight_begin(&st->fl);
	cache->listing_fetches++;
	unsigned long inv0 = st->invalidations, chg0 = st->changes;
	bool quiet0 = st->changing == 0;
	pthread_mutex_unlock(&cache->lock);
	return refresh_fetch(cache, st, inv0, chg0, quiet0, strict, out);
hit:
	cache->listing_hits++;
	atomic_fetch_add_explicit((_Atomic int *)&st->cur->refs, 1, memory_order_relaxed);
	*out = st->cur;
	pthread_mutex_unlock(&cache->lock);
	return rc;
}

int cache_listing_get(struct cache *cache, const struct schema_collection *c,
		      struct cache_listing **out)
{
	return listing_get(cache, slot_of(cache, c, NULL), out, false);
}

int cache_listing_check(struct cache *cache, const struct schema_collection *c,
			struct cache_listing **out)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	st->forced = true;
	pthread_mutex_unlock(&cache->lock);
	return listing_get(cache, st, out, true);
}

int cache_listing_get_filtered(struct cache *cache, const struct schema_collection *c,
			       const char *filter, struct cache_listing **out)
{
	struct coll_state *st = slot_of(cache, c, filter);
	return st ? listing_get(cache, st, out, false) : -ENOENT;
}

bool cache_has_filtered(struct cache *cache, const struct schema_collection *c,
			const char *filter)
{
	pthread_mutex_lock(&cache->lock);
	struct coll_state *st = slot_of(cache, c, filter);
	bool held = st && st->cur != NULL;
	pthread_mutex_unlock(&cache->lock);
	return held;
}

bool cache_has_listing(struct cache *cache, const struct schema_collection *c)
{
	return cache_has_filtered(cache, c, NULL);
}

double cache_listing_ttl_left(const struct cache *cache, const struct cache_listing *l)
{
	double now = cache->cfg.now(), left = l->fetched + cache->cfg.ttl - now;
	if (left > 0)
		return left;
	/* Expired but still answered while it refreshes (listing_get): a short
	 * while, never past the TTL itself. */
	if (cache->cfg.refresh_behind && now - l->fetched < cache->cfg.ttl + stale_grace(cache))
		return cache->cfg.ttl < CACHE_STALE_ATTR ? cache->cfg.ttl : CACHE_STALE_ATTR;
	return 0;
}

struct cache_listing *cache_listing_peek(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	struct cache_listing *l = cache->colls[schema_collection_index(c)].cur;
	if (l)
		atomic_fetch_add_explicit((_Atomic int *)&l->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&cache->lock);
	return l;
}

struct cache_listing *cache_listing_version(struct cache *cache, const struct schema_collection *c,
					    unsigned long version)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	struct cache_listing *l = NULL, *expired = NULL;
	pthread_mutex_lock(&cache->lock);
	if (st->prev && cache->cfg.now() >= st->prev_until) {
		expired = st->prev;
		st->prev = NULL;
	}
	if (st->cur && st->cur->version == version)
		l = st->cur;
	else if (st->prev && st->prev->version == version)
		l = st->prev;
	if (l)
		cache_listing_ref(l);
	pthread_mutex_unlock(&cache->lock);
	cache_listing_unref(expired);
	return l;
}

unsigned long cache_listing_version_now(struct cache *cache, const struct schema_collection *c)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	unsigned long v = st->cur ? st->cur->version : 0;
	pthread_mutex_unlock(&cache->lock);
	return v;
}

struct cache_listing *cache_listing_held(struct cache *cache, const struct schema_collection *c)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	bool ours = st->cur && st->forced;
	pthread_mutex_unlock(&cache->lock);
	struct cache_listing *l = NULL;
	if (ours && cache_listing_get(cache, c, &l) == 0)
		return l;
	return cache_listing_peek(cache, c);
}

void cache_invalidate(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	/* The collection and its filtered listings: a change moves records
	 * between filters (a payment). */
	for (size_t i = 0; i < cache->nslots; i++) {
		if (cache->colls[i].c != c)
			continue;
		cache->colls[i].forced = true;
		cache->colls[i].invalidations++;
		cache->colls[i].kept_at = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	kept_unfresh(cache, c);
}

void cache_change_begin(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++) {
		if (cache->colls[i].c != c)
			continue;
		cache->colls[i].changing++;
		cache->colls[i].changes++;
		cache->colls[i].kept_at = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	/* Whatever its outcome (an answer lost, the daemon killed meanwhile),
	 * a remount does not trust what was kept before it. */
	kept_unfresh(cache, c);
}

void cache_change_end(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++)
		if (cache->colls[i].c == c && cache->colls[i].changing > 0)
			cache->colls[i].changing--;
	pthread_mutex_unlock(&cache->lock);
}

void cache_refresh_all(struct cache *cache)
{
	struct detail *d, *tmp;
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++) {
		cache->colls[i].forced = true;
		cache->colls[i].invalidations++;
		cache->colls[i].kept_at = 0;
	}
	HASH_ITER(hh, cache->details, d, tmp) {
		if (d->rec)
			d->fetched = -INFINITY;
	}
	pthread_mutex_unlock(&cache->lock);
	kept_unfresh(cache, NULL);
}

unsigned long cache_generation(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	unsigned long g = cache->colls[schema_collection_index(c)].invalidations;
	pthread_mutex_unlock(&cache->lock);
	return g;
}

double cache_now(const struct cache *cache)
{
	return cache->cfg.now();
}

double cache_ttl(const struct cache *cache)
{
	return cache->cfg.ttl;
}

int cache_new(struct cache **out, struct api *api, const struct cache_config *cfg)
{
	struct cache *cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	cache->api = api;
	cache->cfg = *cfg;
	atomic_init(&cache->paging, (int)cfg->paging);
	atomic_init(&cache->paging_seen, false);
	if (!cache->cfg.now)
		cache->cfg.now = now_mono;
	/* Filtered listings exist for the collection with the API's filters
	 * (the invoices). */
	const struct schema_collection *inv = schema_filtered();
	cache->nslots = schema_ncollections() + (inv ? facts_nfilters() : 0);
	cache->colls = calloc(cache->nslots, sizeof(*cache->colls));
	if (!cache->colls) {
		free(cache);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cache->nslots; i++) {
		bool f = i >= schema_ncollections();
		cache->colls[i].c = f ? inv : schema_collection_at(i);
		cache->colls[i].filter = f ? facts_filter_at(i - schema_ncollections())->name : NULL;
	}
	pthread_mutex_init(&cache->lock, NULL);
	pthread_cond_init(&cache->done, NULL);
	for (size_t i = 0; i < cache->nslots; i++)
		kept_slot_load(cache, &cache->colls[i]);
	if (cache->loaded)
		log_msg(LOG_INFO, "%zu listings read from disk", cache->loaded);
	*out = cache;
	return 0;
}

void cache_quiesce(struct cache *cache)
{
	if (!cache)
		return;
	/* A refresh behind its readers ends within the API's timeout. */
	pthread_mutex_lock(&cache->lock);
	cache->quiesced = true;
	while (cache->refreshing > 0)
		pthread_cond_wait(&cache->done, &cache->lock);
	pthread_mutex_unlock(&cache->lock);
}

void cache_free(struct cache *cache)
{
	struct detail *d, *dt;
	if (!cache)
		return;
	cache_quiesce(cache);
	for (size_t i = 0; i < cache->nslots; i++) {
		cache_listing_unref(cache->colls[i].cur);
		cache_listing_unref(cache->colls[i].prev);
		pages_memo_clear(&cache->colls[i]);
	}
	HASH_ITER(hh, cache->details, d, dt) {
		assert(!d->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(cache->details, d);
		cache_record_unref(d->rec);
		free(d->key);
		free(d);
	}
	found_sweep(cache, INFINITY);
	pthread_mutex_destroy(&cache->lock);
	pthread_cond_destroy(&cache->done);
	free(cache->colls);
	free(cache);
}

size_t cache_listings_loaded(struct cache *cache)
{
	return cache->loaded; /* set in cache_new, never after */
}

void cache_describe(struct cache *cache, cJSON *out)
{
	cJSON *colls = cJSON_AddObjectToObject(out, "collections");
	double now = cache->cfg.now();
	/* Offline, every listing is stale, whatever its age: nothing is fetched
	 * until the service answers again. */
	struct api_stats as;
	api_get_stats(cache->api, &as);
	bool offline = as.health == API_OFFLINE;
	pthread_mutex_lock(&cache->lock);
	cJSON_AddNumberToObject(out, "ttl_seconds", cache->cfg.ttl);
	for (size_t i = 0; i < cache->nslots; i++) {
		const struct schema_collection *c = cache->colls[i].c;
		struct cache_listing *l = cache->colls[i].cur;
		char name[96];
		if (cache->colls[i].filter && !l)
			continue; /* filtered listings show once used */
		if (cache->colls[i].filter)
			snprintf(name, sizeof(name), "%s?filter=%s", c->name, cache->colls[i].filter);
		else
			snprintf(name, sizeof(name), "%s", c->name);
		cJSON *o = cJSON_AddObjectToObject(colls, name);
		if (!o)
			continue;
		if (!l) {
			cJSON_AddStringToObject(o, "state", "not listed");
			continue;
		}
		double age = now - l->fetched;
		const struct coll_state *st = &cache->colls[i];
		/* A listing a refresh (or a change of ours) dropped is kept for
		 * stale-on-failure, but the next access lists it again: it is
		 * no longer fresh, whatever its age. */
		cJSON_AddStringToObject(o, "state", st->stale || offline ? "stale"
						    : age < cache->cfg.ttl && !st->forced ? "fresh"
						    : "expired");
		cJSON_AddNumberToObject(o, "records", (double)l->n);
		cJSON_AddNumberToObject(o, "age_seconds", floor(age * 10) / 10);
		char when[32];
		struct tm tm;
		gmtime_r(&l->fetched_wall, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "fetched_at", when);
		if (st->stale || offline) {
			/* Offline: stale since it was fetched, for want of the service. */
			gmtime_r(st->stale ? &st->stale_since : &l->fetched_wall, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cJSON_AddStringToObject(o, "stale_since", when);
			cJSON_AddStringToObject(o, "stale_because",
						offline ? "offline" : st->why);
		}
	}
	if (cache->paging_note[0])
		cJSON_AddStringToObject(out, "paging", cache->paging_note);
	cJSON_AddNumberToObject(out, "records_fetched_one_by_one", (double)HASH_COUNT(cache->details));
	cJSON_AddNumberToObject(out, "listing_hits", (double)cache->listing_hits);
	cJSON_AddNumberToObject(out, "listing_fetches", (double)cache->listing_fetches);
	cJSON_AddNumberToObject(out, "listing_pages_reused",
				(double)atomic_load_explicit(&cache->pages_reused,
							     memory_order_relaxed));
	pthread_mutex_unlock(&cache->lock);
}
