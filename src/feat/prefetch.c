/* prefetch: the invoices' PDFs fetched in the background (see prefetch.h). */
#include "feat/prefetch.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "model/schema.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/pdfstore.h"

/* Waits are cut into slices this long at most: a fresher budget figure, or
 * the user going quiet, is noticed within one. */
#define PREFETCH_SLICE 1.0
/* Before the first PDF it fetched the disk cache must have room for this
 * many bytes; after, for twice the largest PDF it fetched. */
#define PREFETCH_ROOM_FIRST ((off_t)256 << 10)

enum prefetch_state {
	PF_STARTING,
	PF_RUNNING,
	PF_USER,
	PF_BUDGET,
	PF_DOWN,
	PF_ERRORS,
	PF_FULL,
	PF_DONE,
};

/* The status file's words for each state. */
static const char *const prefetch_state_name[] = {
	[PF_STARTING] = "starting",
	[PF_RUNNING] = "running",
	[PF_USER] = "paused: user active",
	[PF_BUDGET] = "paused: budget low",
	[PF_DOWN] = "paused: service down",
	[PF_ERRORS] = "paused: errors",
	[PF_FULL] = "stopped: cache full",
	[PF_DONE] = "done",
};

struct prefetch {
	/* Read-only after prefetch_new. */
	long per_hour;
	long thumbnail_share;
	double hour;
	double interval; /* hour / per_hour: the least time between two calls */
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	const struct schema_collection *invoices;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* stop asked; CLOCK_MONOTONIC */
	pthread_t thread;
	bool started;
	bool stopping;        /* protected by lock */
	enum prefetch_state state; /* protected by lock, like the figures below */
	bool counted;         /* total and local below are known (a pass began) */
	size_t total, local;  /* invoices in the listing, of which with a PDF here */
	unsigned long fetched, failed;

	/* The thread's own (no lock). */
	double next_at;     /* clock_mono: the next call's slot */
	double low_since;   /* clock_mono: the budget ran low then; 0: it is not */
	double listed_at;   /* clock_mono: the last listing asked for; < 0: none */
	off_t largest;      /* the largest PDF fetched */
};

static void prefetch_set(struct prefetch *p, enum prefetch_state st)
{
	pthread_mutex_lock(&p->lock);
	p->state = st;
	pthread_mutex_unlock(&p->lock);
}

/* Waits @seconds (at most PREFETCH_SLICE) or until stopped, in state @st;
 * false when stopping. */
static bool prefetch_wait(struct prefetch *p, enum prefetch_state st, double seconds)
{
	struct timespec until;
	bool go_on;
	if (seconds > PREFETCH_SLICE)
		seconds = PREFETCH_SLICE;
	if (seconds < 0.001)
		seconds = 0.001;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)seconds;
	until.tv_nsec += (long)((seconds - floor(seconds)) * 1e9);
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->lock);
	p->state = st;
	if (!p->stopping)
		pthread_cond_timedwait(&p->wake, &p->lock, &until);
	go_on = !p->stopping;
	pthread_mutex_unlock(&p->lock);
	return go_on;
}

/* The budget rule, in one place.  X-RateLimit-Remaining (the last answer's)
 * is what the account has left of the service's hour for everything: the
 * user's reads and listings, the thumbnailers' share, and the prefetch.  The
 * prefetch spends only what lies above this floor: the thumbnailers' whole
 * hourly share (-o background_calls: it is promised to them, and they come
 * when a folder is opened, at any moment; nothing when they are not limited)
 * plus PREFETCH_USER_SHARE calls for what a person browsing and copying may
 * still need this hour.  It waits while remaining <= floor, so no call of
 * its own takes the remaining below the floor, and the service never
 * refuses the user for the prefetch's sake. */
static long prefetch_floor(const struct prefetch *p)
{
	return (p->thumbnail_share > 0 ? p->thumbnail_share : 0) + PREFETCH_USER_SHARE;
}

/* Waits until a call may be sent now (see prefetch.h); false when stopping. */
static bool prefetch_gate(struct prefetch *p)
{
	for (;;) {
		struct api_stats st;
		double now = clock_mono(), quiet;

		pthread_mutex_lock(&p->lock);
		bool stop = p->stopping;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			return false;
		api_get_stats(p->api, &st);
		if (st.health != API_UP && st.next_try > 0) {
			if (!prefetch_wait(p, st.health == API_RATELIMITED ? PF_BUDGET : PF_DOWN,
					   st.next_try))
				return false;
			continue;
		}
		quiet = api_foreground_quiet(p->api);
		if (quiet < PREFETCH_QUIET) {
			if (!prefetch_wait(p, PF_USER, PREFETCH_QUIET - quiet))
				return false;
			continue;
		}
		if (st.ratelimit_remaining >= 0 && st.ratelimit_remaining <= prefetch_floor(p)) {
			/* The service does not say when its hour turns (no reset
			 * header).  A fresher figure above the floor, from any call,
			 * ends the wait; else, an hour after it began, the window
			 * has turned whatever kind it is, and one call finds out (a
			 * figure still low waits another hour). */
			if (p->low_since <= 0)
				p->low_since = now;
			if (now - p->low_since < p->hour) {
				if (!prefetch_wait(p, PF_BUDGET, p->hour - (now - p->low_since)))
					return false;
				continue;
			}
			p->low_since = now;
		} else {
			p->low_since = 0;
		}
		if (now < p->next_at) {
			if (!prefetch_wait(p, PF_RUNNING, p->next_at - now))
				return false;
			continue;
		}
		prefetch_set(p, PF_RUNNING);
		return true;
	}
}

/* Marks a call sent at @t0: the next is due an interval later. */
static void prefetch_spent(struct prefetch *p, double t0)
{
	p->next_at = t0 + p->interval;
}

struct prefetch_item {
	const char *id; /* the listing's, held for the pass */
	time_t date;
};

/* Newest first: the later date, then the higher number ("2024-0010" after
 * "2024-9": strverscmp). */
static int prefetch_cmp(const void *a, const void *b)
{
	const struct prefetch_item *x = a, *y = b;
	if (x->date != y->date)
		return x->date > y->date ? -1 : 1;
	return -strverscmp(x->id, y->id);
}

/* The invoices listing for a pass, with a reference; NULL when stopping or
 * when it cannot be had (*@rc).  The cache's when it holds one (no call);
 * a new one, paced like a PDF, when it holds none, or when @fresh and the one
 * it holds has expired and the prefetch asked for none in the last hour. */
static struct cache_listing *prefetch_listing(struct prefetch *p, bool fresh, int *rc)
{
	struct cache_listing *l = cache_listing_peek(p->cache, p->invoices);
	*rc = 0;
	if (l && (!fresh || cache_listing_ttl_left(p->cache, l) > 0 ||
		  clock_mono() - p->listed_at < p->hour))
		return l;
	cache_listing_unref(l);
	l = NULL;
	if (!prefetch_gate(p))
		return NULL;
	double t0 = clock_mono();
	*rc = cache_listing_get(p->cache, p->invoices, &l);
	p->listed_at = t0;
	prefetch_spent(p, t0);
	return *rc < 0 ? NULL : l;
}

/* True when the disk cache has room for another PDF. */
static bool prefetch_room(struct prefetch *p)
{
	off_t room = pdfstore_room(p->pdfs);
	off_t need = p->largest > 0 ? 2 * p->largest : PREFETCH_ROOM_FIRST;
	return room < 0 || room >= need;
}

/* One pass over @l: fetches each PDF not local, newest first.  The state to
 * wait in before the next pass: PF_DONE when every PDF is local, PF_FULL,
 * PF_ERRORS when every fetch failed, else PF_RUNNING (stopped midway). */
static enum prefetch_state prefetch_pass(struct prefetch *p, const struct cache_listing *l)
{
	struct prefetch_item *todo = calloc(l->n ? l->n : 1, sizeof(*todo));
	size_t n = 0, ok = 0, bad = 0;
	enum prefetch_state next = PF_RUNNING;
	if (!todo)
		return PF_ERRORS;
	for (size_t i = 0; i < l->n; i++)
		if (!pdfstore_is_local(p->pdfs, p->invoices, l->recs[i]->id))
			todo[n++] = (struct prefetch_item){l->recs[i]->id, l->recs[i]->date};
	qsort(todo, n, sizeof(*todo), prefetch_cmp);
	pthread_mutex_lock(&p->lock);
	p->counted = true;
	p->total = l->n;
	p->local = l->n - n;
	pthread_mutex_unlock(&p->lock);
	size_t i = 0;
	for (; i < n; i++) {
		if (!prefetch_room(p)) {
			log_msg(LOG_INFO, "prefetch: the PDF cache is full (cache_max); stopping");
			next = PF_FULL;
			break;
		}
		if (!prefetch_gate(p))
			break;
		/* A read of the user's may have brought it meanwhile. */
		if (pdfstore_is_local(p->pdfs, p->invoices, todo[i].id)) {
			pthread_mutex_lock(&p->lock);
			p->local++;
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		double t0 = clock_mono();
		int rc = pdfstore_prefetch(p->pdfs, p->invoices, todo[i].id);
		if (rc != 0)
			prefetch_spent(p, t0);
		if (rc > 0) {
			off_t size = pdfstore_size(p->pdfs, p->invoices, todo[i].id, false);
			if (size > p->largest)
				p->largest = size;
		}
		pthread_mutex_lock(&p->lock);
		if (rc >= 0) {
			p->local++;
			p->fetched += rc > 0;
			ok++;
		} else {
			p->failed++;
			bad++;
		}
		pthread_mutex_unlock(&p->lock);
		if (rc < 0)
			log_msg(LOG_DEBUG, "prefetch: the PDF of %s: %s", todo[i].id,
				log_strerror(-rc));
	}
	if (i == n)
		next = bad == 0 ? PF_DONE : ok == 0 ? PF_ERRORS : PF_RUNNING;
	free(todo);
	return next;
}

static void *prefetch_main(void *arg)
{
	struct prefetch *p = arg;
	enum prefetch_state last = PF_RUNNING;
	double rest_until = 0;
	api_thread_is_prefetch();
	for (;;) {
		/* After a pass that left nothing to do (or could do nothing), the
		 * next looks again for new invoices in a while: in the listing the
		 * user's browsing keeps fresh (free), else in one of its own once
		 * an hour. */
		if (last != PF_RUNNING && clock_mono() < rest_until) {
			if (!prefetch_wait(p, last, rest_until - clock_mono()))
				break;
			continue;
		}
		int rc;
		struct cache_listing *l = prefetch_listing(p, last != PF_RUNNING, &rc);
		if (!l) {
			if (rc == 0)
				break; /* stopping */
			log_msg(LOG_DEBUG, "prefetch: no invoices listing: %s", log_strerror(-rc));
			last = PF_ERRORS;
			rest_until = clock_mono() + p->hour / 60;
			continue;
		}
		last = prefetch_pass(p, l);
		cache_listing_unref(l);
		rest_until = clock_mono() + p->hour / 60;
		pthread_mutex_lock(&p->lock);
		bool stop = p->stopping;
		if (!stop && last != PF_RUNNING)
			p->state = last;
		pthread_mutex_unlock(&p->lock);
		if (stop)
			break;
	}
	return NULL;
}

int prefetch_new(struct prefetch **out, const struct prefetch_config *cfg)
{
	pthread_condattr_t ca;
	struct prefetch *p;
	*out = NULL;
	if (!cfg || cfg->per_hour <= 0 || !cfg->api || !cfg->cache || !cfg->pdfs)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->per_hour = cfg->per_hour;
	p->thumbnail_share = cfg->thumbnail_share;
	p->hour = cfg->hour > 0 ? cfg->hour : 3600;
	p->interval = p->hour / (double)p->per_hour;
	p->api = cfg->api;
	p->cache = cfg->cache;
	p->pdfs = cfg->pdfs;
	p->invoices = schema_find("invoices");
	p->listed_at = -1e18;
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	*out = p;
	return 0;
}

int prefetch_start(struct prefetch *p)
{
	int rc = pthread_create(&p->thread, NULL, prefetch_main, p);
	if (rc != 0)
		return -rc;
	p->started = true;
	log_msg(LOG_INFO, "prefetch: PDFs at most %ld an hour (one every %.1f s)", p->per_hour,
		p->interval);
	return 0;
}

void prefetch_stop(struct prefetch *p)
{
	if (!p || !p->started)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	p->started = false;
}

void prefetch_free(struct prefetch *p)
{
	if (!p)
		return;
	prefetch_stop(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	free(p);
}

void prefetch_describe(struct prefetch *p, cJSON *out)
{
	struct api_stats st;
	if (!out)
		return;
	if (!p) {
		cJSON_AddStringToObject(out, "state", "off");
		return;
	}
	api_get_stats(p->api, &st);
	pthread_mutex_lock(&p->lock);
	enum prefetch_state state = p->state;
	bool counted = p->counted;
	size_t total = p->total, local = p->local;
	unsigned long fetched = p->fetched, failed = p->failed;
	pthread_mutex_unlock(&p->lock);
	cJSON_AddStringToObject(out, "state", prefetch_state_name[state]);
	cJSON_AddNumberToObject(out, "per_hour", (double)p->per_hour);
	if (counted) {
		cJSON_AddNumberToObject(out, "local", (double)local);
		cJSON_AddNumberToObject(out, "total", (double)total);
	}
	/* At the pace asked for; pauses make it longer. */
	if (counted && state != PF_DONE && state != PF_FULL && total > local)
		cJSON_AddNumberToObject(out, "eta_seconds",
					ceil((double)(total - local) * p->interval));
	cJSON_AddNumberToObject(out, "calls", (double)st.prefetch_requests);
	cJSON_AddNumberToObject(out, "fetched", (double)fetched);
	cJSON_AddNumberToObject(out, "failed", (double)failed);
	cJSON_AddNumberToObject(out, "budget_floor", (double)prefetch_floor(p));
}
