/* refresh: a slot's fetch and its publication (see refresh.h). */
#include "store/refresh.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"
#include "net/api.h"
#include "store/cache_i.h"
#include "store/kept.h"
#include "store/listing.h"
#include "store/pages.h"
#include "store/persist.h"

/* An unchanged listing is written to disk again at most this often (seconds). */
#define CACHE_REKEEP 60.0

/* The nice value of a refresh behind its readers (refresh_main). */
#define CACHE_REFRESH_NICE 10

/* Seconds a listing replaced by other content is kept for the directory reads
 * that began with it (cache_listing_version): one READDIR follows another at
 * once, unless the machine is very busy. */
#define CACHE_PREV_KEEP 10.0

/* With cache->lock held, after the fetch of slot @st failed with @rc: the listing held
 * is served marked stale (unless @strict, or there is none), and tried again after a
 * short while.  Returns with the lock released: 0 with a reference in *@out, or @rc. */
static int fetch_failed(struct cache *cache, struct coll_state *st, int rc, unsigned long inv0,
			bool strict, struct cache_listing **out)
{
	if (!st->cur) {
		pthread_mutex_unlock(&cache->lock);
		return rc;
	}
	/* Serve what we have, marked stale, and try again later. */
	double wait = cache->cfg.ttl < CACHE_STALE_RETRY ? cache->cfg.ttl : CACHE_STALE_RETRY;
	if (!st->stale) {
		log_msg(LOG_WARNING, "serving the cached listing of %s: refresh failed (%s)",
			st->c->name, log_strerror(-rc));
		st->stale_since = time(NULL);
	}
	st->stale = true;
	st->retry_at = cache->cfg.now() + (wait > 0.5 ? wait : 0.5);
	/* The service's own words when it is down or out of
	 * budget; the errno's name says too little. */
	struct api_stats as;
	api_get_stats(cache->api, &as);
	snprintf(st->why, sizeof(st->why), "%.199s",
		 as.health != API_UP ? as.health_reason : log_strerror(-rc));
	st->forced = st->invalidations != inv0;
	if (strict) {
		pthread_mutex_unlock(&cache->lock);
		return rc;
	}
	cache->listing_hits++;
	atomic_fetch_add_explicit((_Atomic int *)&st->cur->refs, 1, memory_order_relaxed);
	*out = st->cur;
	pthread_mutex_unlock(&cache->lock);
	return 0;
}

/* With cache->lock held: the times of listing @fresh, fetched now to replace @old
 * (NULL for a first listing), @same when their contents are: its directory's change
 * time and content version, and the listing it replaced kept a while.  Returns the
 * listing that was kept before (to unref after the lock), or NULL. */
static struct cache_listing *fetch_times(struct cache *cache, struct coll_state *st,
					 struct cache_listing *fresh, struct cache_listing *old,
					 bool same)
{
	struct cache_listing *dropped = NULL;
	fresh->fetched = cache->cfg.now();
	fresh->fetched_wall = time(NULL);
	if (old && same) {
		fresh->changed = old->changed;
		fresh->version = old->version;
	} else if (old) {
		clock_gettime(CLOCK_REALTIME, &fresh->changed);
		if (!cache_time_after(fresh->changed, old->changed)) {
			fresh->changed = old->changed;
			if (++fresh->changed.tv_nsec >= 1000000000L) {
				fresh->changed.tv_sec++;
				fresh->changed.tv_nsec = 0;
			}
		}
	} else {
		/* First listing: the mount's start, the time the directory showed
		 * before it was listed.  A directory whose time moved when it was
		 * first read makes a second `rsync -a` set it again. */
		fresh->changed = (struct timespec){.tv_sec = cache->cfg.started};
	}
	if (!old || !same) {
		fresh->version = ++st->versions;
		/* Kept a while for a directory read that began with it. */
		dropped = st->prev;
		st->prev = old;
		if (old)
			cache_listing_ref(old);
		st->prev_until = fresh->fetched + CACHE_PREV_KEEP;
	}
	return dropped;
}

/* The fetch of slot @st that listing_get began (flight_begin, with @inv0, @chg0 and
 * @quiet0 read then), and its publication; takes cache->lock and returns with it
 * released.  0 with a reference in *@out (the new listing, or the stale one when the
 * fetch failed and @strict is false), else -errno. */
int refresh_fetch(struct cache *cache, struct coll_state *st, unsigned long inv0,
		  unsigned long chg0, bool quiet0, bool strict, struct cache_listing **out)
{
	const struct schema_collection *c = st->c;
	struct cache_listing *fresh = NULL, *old = NULL;
	int rc = pages_fetch(cache, st, &fresh);

	/* Compared with the listing held before the lock is taken (a 10,000-invoice
	 * listing is 20 MB of text): no reader waits for it.  Only this flight
	 * replaces st->cur, so it is still the one compared below. */
	bool same = false;
	if (rc == 0) {
		struct cache_listing *held = NULL;
		pthread_mutex_lock(&cache->lock);
		if ((held = st->cur))
			cache_listing_ref(held);
		pthread_mutex_unlock(&cache->lock);
		same = held && listing_same(held, fresh);
		cache_listing_unref(held);
	}

	pthread_mutex_lock(&cache->lock);
	cache_end_flight(cache, &st->fl, rc);
	if (rc < 0)
		return fetch_failed(cache, st, rc, inv0, strict, out);
	if (st->stale)
		log_msg(LOG_INFO, "%s listed again: no longer stale", c->name);
	st->stale = false;
	old = st->cur;
	struct cache_listing *dropped = fetch_times(cache, st, fresh, old, same);
	st->cur = fresh;
	/* An invalidation during the fetch (a PUT or POST that landed while
	 * its pages were read) may not be in it: the next access lists again. */
	st->forced = st->invalidations != inv0;
	bool keep_fresh = !st->forced && quiet0 && st->changing == 0 && st->changes == chg0;
	/* An unchanged listing kept fresh on disk lately is not written again: its
	 * file's fetch time lags by at most CACHE_REKEEP, which only makes a remount
	 * list it again sooner (behind its answer). */
	bool rewrite = !(same && keep_fresh && st->kept_at &&
			 difftime(fresh->fetched_wall, st->kept_at) < CACHE_REKEEP);
	if (rewrite)
		st->kept_at = keep_fresh ? fresh->fetched_wall : 0;
	atomic_fetch_add_explicit((_Atomic int *)&fresh->refs, 1, memory_order_relaxed);
	*out = fresh;
	pthread_mutex_unlock(&cache->lock);
	if (rewrite) {
		kept_listing_save(cache, st, fresh, keep_fresh);
	} else if (cache->cfg.persist && !st->filter && c->whole_marker) {
		/* Not written, but fetched again all the same: what was kept of its
		 * records one by one is older than this listing (kept_record_save). */
		persist_prune(cache->cfg.persist, c->name, fresh->fetched_wall);
	}
	if (cache->cfg.changed && !st->filter &&
	    (!old || cache_time_after(fresh->changed, old->changed)))
		cache->cfg.changed(cache->cfg.ud, c, old, fresh);
	cache_listing_unref(old);
	cache_listing_unref(dropped);
	return 0;
}

/* A refresh that no reader waits for (listing_get). */
struct refresh {
	struct cache *cache;
	struct coll_state *st;
	unsigned long inv0, chg0;
	bool quiet0;
};

static void *refresh_main(void *arg)
{
	struct refresh *job = arg;
	struct cache *cache = job->cache;
	struct cache_listing *l = NULL;
	/* Nobody waits for it: its parse takes a CPU only when the readers, served
	 * from the listing held meanwhile, leave one (a thread's nice value is its
	 * own on Linux; failing to lower it is harmless). */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), CACHE_REFRESH_NICE);
	if (refresh_fetch(cache, job->st, job->inv0, job->chg0, job->quiet0, false, &l) == 0)
		cache_listing_unref(l);
	pthread_mutex_lock(&cache->lock);
	cache->refreshing--;
	pthread_cond_broadcast(&cache->done);
	pthread_mutex_unlock(&cache->lock);
	free(job);
	return NULL;
}

/* With cache->lock held and @st's flight begun: runs its fetch on a thread of its
 * own.  False when no thread could be started (the caller fetches itself). */
bool refresh_behind(struct cache *cache, struct coll_state *st, unsigned long inv0,
		    unsigned long chg0, bool quiet0)
{
	struct refresh *job = NULL;
	pthread_attr_t attr;
	pthread_t t;
	bool ok = false;
	if (cache->quiesced || !(job = calloc(1, sizeof(*job))))
		return false;
	*job = (struct refresh){.cache = cache, .st = st, .inv0 = inv0, .chg0 = chg0,
				.quiet0 = quiet0};
	/* Detached: cache_free waits for cache->refreshing to reach 0 instead. */
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		cache->refreshing++;
		ok = pthread_create(&t, &attr, refresh_main, job) == 0;
		if (!ok)
			cache->refreshing--;
		pthread_attr_destroy(&attr);
	}
	if (!ok)
		free(job);
	return ok;
}
