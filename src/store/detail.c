/* detail: records a listing carries only in part, fetched with a GET each
 * (cache_record_get, cache_record_peek in cache.h). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/events.h"
#include "base/names.h"
#include "model/fastwire.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/cache_i.h"
#include "store/get.h"
#include "store/kept.h"
#include "store/record.h"

/* GETs @path as JSON in *@out, with the ids of @c a NUL cuts short in its text in
 * *@cut (fastwire_nul_ids: *@ncut of them). */
static int get_json(struct cache *cache, const struct schema_collection *c, const char *what,
		    const char *path, cJSON **out, char ***cut, long *ncut)
{
	struct api_answer resp;
	int rc = store_get(cache->api, cache->cfg.events, what, path, &resp);
	*out = NULL;
	*cut = NULL;
	*ncut = 0;
	if (rc == 0) {
		/* Strict: a body with anything after its JSON is not JSON. */
		*out = cJSON_ParseWithOpts(resp.body, NULL, true);
		if (!*out) {
			events_error(cache->cfg.events, what, "the service sent a body that is not JSON");
			rc = -EIO;
		} else if ((*ncut = fastwire_nul_ids(c, resp.body, resp.len, false, cut)) < 0) {
			*ncut = 0;
			rc = -ENOMEM;
		}
	}
	api_answer_clear(&resp);
	return rc;
}

static int fetch_one(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out)
{
	char what[96], why[400], *esc = names_url_escape(id), *path = NULL, **cut = NULL;
	cJSON *body = NULL;
	long ncut = 0;
	int rc;
	if (!esc || asprintf(&path, "%s/%s", c->name, esc) < 0) {
		path = NULL;
		rc = -ENOMEM;
		goto out;
	}
	snprintf(what, sizeof(what), "get %s/%s", c->name, id);
	rc = get_json(cache, c, what, path, &body, &cut, &ncut);
	if (rc < 0)
		goto out;
	const cJSON *rec = schema_unwrap_one(c, body);
	/* A service may answer the GET of a record it does not have with its whole
	 * list: the record is not there. */
	if (schema_is_listing(c, body)) {
		events_error(cache->cfg.events, what,
			     "the service answered with a list, not the record: not found");
		rc = -ENOENT;
		goto out;
	}
	why[0] = '\0';
	*out = rec ? record_new(c, rec, cut, ncut, why, sizeof(why)) : NULL;
	if (*out && strcmp((*out)->id, id) != 0) {
		/* Another record than the one asked for: shown under this name, it
		 * would pass for it. */
		char shown[200];
		record_id_shown((*out)->id, shown, sizeof(shown));
		snprintf(why, sizeof(why), "the service answered with the record \"%s\"", shown);
		cache_record_unref(*out);
		*out = NULL;
	}
	if (!*out) {
		events_error(cache->cfg.events, what, why[0] ? why
					: "the service sent a record this client cannot read");
		rc = -EIO;
	}
out:
	record_cuts_free(cut, ncut);
	cJSON_Delete(body);
	free(esc);
	free(path);
	return rc;
}

/* With cache->lock held: true when @d holds a record that may be served with
 * listing @l: fetched since @l was, and within the TTL. */
static bool detail_fresh(const struct cache *cache, const struct detail *d,
			 const struct cache_listing *l)
{
	return d->rec && d->fetched >= l->fetched && cache->cfg.now() - d->fetched < cache->cfg.ttl;
}

/* With cache->lock held: the detail entry of @key (record @id of @c, which
 * listing @l carries only in part), made from the copy an earlier mount kept
 * (kept_record_load) at this mount's first read of it, which then stands in as a
 * fetched one of its age.  NULL when there is none.  Drops the lock while
 * the file is read. */
static struct detail *detail_from_disk(struct cache *cache, const struct schema_collection *c,
				       const char *id, const char *key,
				       const struct cache_listing *l)
{
	struct detail *d = NULL;
	HASH_FIND_STR(cache->details, key, d);
	if (d || !cache->cfg.persist)
		return d;
	double age = 0;
	pthread_mutex_unlock(&cache->lock);
	struct cache_record *kept = kept_record_load(cache, c, id, l, &age);
	pthread_mutex_lock(&cache->lock);
	HASH_FIND_STR(cache->details, key, d);
	if (kept && !d) {
		/* (else another reader got there first: its entry stands) */
		d = calloc(1, sizeof(*d));
		if (d && (d->key = strdup(key))) {
			d->rec = kept;
			kept = NULL;
			/* No earlier than the listing it completes (the file's
			 * times are whole seconds; kept_record_load saw that it is
			 * no older). */
			d->fetched = cache->cfg.now() - age;
			if (d->fetched < l->fetched)
				d->fetched = l->fetched;
			HASH_ADD_KEYPTR(hh, cache->details, d->key, strlen(d->key), d);
		} else {
			free(d);
			d = NULL;
		}
	}
	cache_record_unref(kept);
	return d;
}

/* A whole record a search found for @c/@id (cache_found_peek), with a reference: true
 * when there is one. */
static bool found_whole(struct cache *cache, const struct schema_collection *c, const char *id,
			struct cache_record **out)
{
	struct cache_record *f = NULL;
	if (cache_found_peek(cache, c, id, &f, NULL) < 0)
		return false;
	if (f->whole) {
		*out = f;
		return true;
	}
	cache_record_unref(f);
	return false;
}

/* With cache->lock held: waits on the entry of @key until it holds a record that may
 * be served with listing @l, or its fetch failed just now.  1 with a reference in
 * *@out; -errno for that failure; 0 when the caller fetches, into *@dp (NULL: there is
 * no entry yet). */
static int detail_wait(struct cache *cache, const char *key, const struct cache_listing *l,
		       struct detail **dp, struct cache_record **out)
{
	struct detail *d = NULL;
	for (;;) {
		HASH_FIND_STR(cache->details, key, d);
		if (!d)
			break;
		if (detail_fresh(cache, d, l)) {
			cache_record_ref(d->rec);
			*out = d->rec;
			return 1;
		}
		if (!cache_wait_flight(cache, &d->fl)) {
			/* Failed just now, since this listing: the same outcome
			 * for the reader queued behind (as for listings). */
			if (!d->rec && cache_failed_just_now(cache, &d->fl) && d->fl.ended >= l->fetched)
				return d->fl.rc;
			break; /* stale or failed before: fetch again below */
		}
		if (d->fl.rc < 0 && !d->rec)
			return d->fl.rc;
		if (d->rec) {
			cache_record_ref(d->rec);
			*out = d->rec;
			return 1;
		}
	}
	*dp = d;
	return 0;
}

/* With cache->lock held and @d's flight begun: fetches record @id of @c into @d and
 * ends the flight; returns with the lock released.  0 with a reference in *@out (the
 * record fetched, or the copy @d held when the fetch failed), else -errno. */
static int detail_fetch(struct cache *cache, const struct schema_collection *c, const char *id,
			struct detail *d, struct cache_record **out)
{
	pthread_mutex_unlock(&cache->lock);

	struct cache_record *r = NULL;
	int rc = fetch_one(cache, c, id, &r);

	pthread_mutex_lock(&cache->lock);
	if (rc < 0 && d->rec && rc != -ENOENT) {
		/* The copy we had beats an error; try again after a short while. */
		double wait = cache->cfg.ttl < CACHE_STALE_RETRY ? cache->cfg.ttl : CACHE_STALE_RETRY;
		d->fetched = cache->cfg.now() - cache->cfg.ttl + wait;
		cache_record_ref(d->rec);
		*out = d->rec;
		rc = 0;
	} else if (rc < 0) {
		/* Nothing to serve (gone from the service, or never fetched):
		 * the entry stays, empty, for the waiters to read the outcome. */
		cache_record_unref(d->rec);
		d->rec = NULL;
	} else {
		cache_record_unref(d->rec);
		d->rec = r;
		d->fetched = cache->cfg.now();
		cache_record_ref(r);
		*out = r;
	}
	cache_end_flight(cache, &d->fl, rc);
	pthread_mutex_unlock(&cache->lock);
	if (rc == 0 && r)
		kept_record_save(cache, c, r);
	return rc;
}

int cache_record_get(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out)
{
	struct cache_listing *l = NULL;
	struct detail *d = NULL;
	char *key = NULL;
	/* Found by a search (whole): no listing of thousands for the one asked for. */
	if (found_whole(cache, c, id, out))
		return 0;
	int rc = cache_listing_get(cache, c, &l);
	if (rc < 0)
		return rc;
	ssize_t pos = cache_listing_find(l, id);
	if (pos < 0) {
		rc = -ENOENT;
		goto out;
	}
	if (l->recs[pos]->whole) {
		cache_record_ref(l->recs[pos]);
		*out = l->recs[pos];
		goto out;
	}
	if (asprintf(&key, "%s/%s", c->name, id) < 0) {
		key = NULL;
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&cache->lock);
	(void)detail_from_disk(cache, c, id, key, l); /* detail_wait finds it */
	rc = detail_wait(cache, key, l, &d, out);
	if (rc != 0) {
		pthread_mutex_unlock(&cache->lock);
		rc = rc > 0 ? 0 : rc;
		goto out;
	}
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d) {
			pthread_mutex_unlock(&cache->lock);
			rc = -ENOMEM;
			goto out;
		}
		d->key = key;
		key = NULL;
		HASH_ADD_KEYPTR(hh, cache->details, d->key, strlen(d->key), d);
	}
	flight_begin(&d->fl);
	rc = detail_fetch(cache, c, id, d, out);
out:
	free(key);
	cache_listing_unref(l);
	return rc;
}

int cache_record_fetch(struct cache *cache, const struct schema_collection *c, const char *id,
		       struct cache_record **out)
{
	*out = NULL;
	if (!c->one_key)
		return -EOPNOTSUPP;
	return fetch_one(cache, c, id, out);
}

int cache_record_peek(struct cache *cache, const struct schema_collection *c, const char *id,
		      struct cache_record **out)
{
	if (found_whole(cache, c, id, out))
		return 0;
	struct cache_listing *l = cache_listing_peek(cache, c);
	struct detail *d = NULL;
	char *key = NULL;
	int rc = -ENOENT;
	ssize_t pos = l ? cache_listing_find(l, id) : -1;
	if (pos < 0)
		goto out;
	if (l->recs[pos]->whole) {
		cache_record_ref(l->recs[pos]);
		*out = l->recs[pos];
		rc = 0;
		goto out;
	}
	if (asprintf(&key, "%s/%s", c->name, id) < 0) {
		key = NULL;
		rc = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&cache->lock);
	HASH_FIND_STR(cache->details, key, d);
	if (d && detail_fresh(cache, d, l)) {
		cache_record_ref(d->rec);
		*out = d->rec;
		rc = 0;
	}
	pthread_mutex_unlock(&cache->lock);
out:
	free(key);
	cache_listing_unref(l);
	return rc;
}
