/* found: records a search found, served without their listing (see found.h). */
#include "store/found.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "store/body.h"
#include "store/cache_i.h"
#include "store/listing.h"
#include "store/record.h"

int cache_listing_parse(struct cache *cache, const struct schema_collection *c,
			const char *body, size_t len, struct cache_listing **out)
{
	struct recs rs = {0};
	long n = body_records(c, body, len, &rs, cache->cfg.events);
	if (n < 0) {
		recs_clear(&rs);
		return (int)n;
	}
	*out = listing_new(c, &rs);
	if (!*out)
		return -ENOMEM;
	(*out)->fetched = cache->cfg.now();
	(*out)->fetched_wall = time(NULL);
	clock_gettime(CLOCK_REALTIME, &(*out)->changed);
	return 0;
}

/* With cache->lock held: drops the found records older than @age seconds (all of
 * them for INFINITY).  The table is rebuilt with the others, every entry taken off
 * at the head: what the static analysers can follow of uthash (#128). */
void found_sweep(struct cache *cache, double age)
{
	struct found *f, *ft, *kept = NULL;
	double now = cache->cfg.now();
	HASH_ITER(hh, cache->found, f, ft) {
		assert(!f->hh.prev);
		HASH_DEL(cache->found, f);
		if (age != INFINITY && now - f->fetched < age) {
			HASH_ADD_KEYPTR(hh, kept, f->key, strlen(f->key), f);
			continue;
		}
		cache_record_unref(f->rec);
		free(f->key);
		free(f);
	}
	cache->found = kept;
}

/* The found records kept at most: past it the ones older than the TTL go first. */
#define CACHE_FOUND_MAX 20000

void cache_found_put(struct cache *cache, const struct schema_collection *c,
		     const struct cache_listing *l)
{
	pthread_mutex_lock(&cache->lock);
	if (HASH_COUNT(cache->found) + l->n > CACHE_FOUND_MAX)
		found_sweep(cache, cache->cfg.ttl);
	unsigned long gen = cache->colls[schema_collection_index(c)].invalidations;
	for (size_t i = 0; i < l->n && HASH_COUNT(cache->found) < CACHE_FOUND_MAX; i++) {
		struct cache_record *r = l->recs[i];
		struct found *f = NULL;
		char *key = NULL;
		if (asprintf(&key, "%s/%s", c->name, r->id) < 0)
			break;
		HASH_FIND_STR(cache->found, key, f);
		if (f) {
			free(key);
		} else if ((f = calloc(1, sizeof(*f)))) {
			f->key = key;
			HASH_ADD_KEYPTR(hh, cache->found, f->key, strlen(f->key), f);
		} else {
			free(key);
			break;
		}
		if (f->rec && f->fetched > l->fetched)
			continue; /* a later answer's copy stands */
		cache_record_ref(r);
		cache_record_unref(f->rec);
		f->rec = r;
		f->fetched = l->fetched;
		f->gen = gen;
	}
	pthread_mutex_unlock(&cache->lock);
}

int cache_found_peek(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out, double *ttl_left)
{
	struct found *f = NULL;
	char *key = NULL;
	int rc = -ENOENT;
	if (asprintf(&key, "%s/%s", c->name, id) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&cache->lock);
	const struct coll_state *st = &cache->colls[schema_collection_index(c)];
	HASH_FIND_STR(cache->found, key, f);
	double left = f ? f->fetched + cache->cfg.ttl - cache->cfg.now() : 0;
	/* A listing fetched since says what there is; a change of ours makes it stale. */
	if (f && f->rec && left > 0 && f->gen == st->invalidations &&
	    !(st->cur && st->cur->fetched > f->fetched)) {
		cache_record_ref(f->rec);
		*out = f->rec;
		if (ttl_left)
			*ttl_left = left;
		rc = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	free(key);
	return rc;
}
