/* prefetch: the archive, fetched in the background (see prefetch.h). */
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
/* Before the first PDF it fetched the disk must have room for this many
 * bytes; after, for twice the largest PDF it fetched; and always this much
 * more, left free for everything else on the disk. */
#define PREFETCH_ROOM_FIRST ((off_t)256 << 10)
#define PREFETCH_ROOM_SPARE ((off_t)64 << 20)
/* The pace by default (PREFETCH_AUTO): this share of what the service's
 * hourly budget leaves above the floor, spread over the hour; at most this
 * many calls an hour, and this many while the service has not said its
 * budget yet. */
#define PREFETCH_AUTO_MAX 3600
#define PREFETCH_AUTO_UNKNOWN 300
#define PREFETCH_AUTO_SHARE 0.9
/* The longest hurry one request asks for. */
#define PREFETCH_HURRY_MAX 60.0
/* Collections whose records have a PDF (schema.h pdf_path): invoices first. */
#define PREFETCH_COLLS 4

enum prefetch_state {
	PF_STARTING,
	PF_RUNNING,
	PF_USER,
	PF_BUDGET,
	PF_DOWN,
	PF_ERRORS,
	PF_FULL,
	PF_IDLE,
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
	[PF_FULL] = "stopped: disk full",
	[PF_IDLE] = "idle: prefetch=0, waiting for factuurfs fetch",
	[PF_DONE] = "done",
};

struct prefetch_item {
	const struct schema_collection *c;
	const char *id; /* the listing's, held for the pass */
	time_t date;
};

/* One pass over the listing: the PDFs not local when it began, newest first,
 * handed out one at a time (to the main thread and, while hurrying, to its
 * helpers). */
struct prefetch_pass {
	struct prefetch_item *todo;
	size_t n, next;
	size_t ok, bad, missed; /* fetched or found local; failed; handed out, not done */
	bool full;              /* the disk ran out of room */
	bool room_logged;       /* cache_max left no room for the others: said once */
};

struct prefetch {
	/* Read-only after prefetch_new. */
	long per_hour;
	long thumbnail_share;
	double hour;
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	/* The collections with PDFs: [0] the invoices (the archive, kept for
	 * good), then the rest (quotations: fetched too, kept within cache_max). */
	const struct schema_collection *colls[PREFETCH_COLLS];
	size_t ncolls;

	pthread_mutex_t lock;
	pthread_cond_t wake; /* stop, or a hurry asked; CLOCK_MONOTONIC */
	pthread_t thread;
	bool started;
	/* Everything below is protected by lock. */
	bool stopping;
	enum prefetch_state state;
	bool counted;         /* total and local below are known (a pass began) */
	size_t total, local;  /* invoices in the listing, of which with a PDF here */
	size_t others_total, others_local, others_unkept; /* the rest's; no room for */
	unsigned long fetched, failed;
	double next_at;       /* clock_mono: the next paced call's slot */
	double low_since;     /* clock_mono: the budget ran low then; 0: it is not */
	double listed_at[PREFETCH_COLLS]; /* clock_mono: the last listing of each it asked for */
	long limit_seen;      /* the most X-RateLimit-Remaining seen, plus one; 0: none */
	off_t largest;        /* the largest PDF fetched */
	unsigned inflight;    /* calls of its threads on their way */
	struct prefetch_pass *pass; /* the pass under way, or NULL */
	/* Hurrying (prefetch_hurry). */
	double hurry_until;   /* clock_mono */
	unsigned long session, done_session; /* see prefetch.h; done_session 0: none */
	bool fresh_pass;      /* a new session began: the next pass lists anew */
	double hurry_t0;      /* clock_mono of the session's first fetch; 0: none yet */
	unsigned long hurry_done; /* PDFs fetched in the session */
	pthread_t helpers[PREFETCH_HURRY_CALLS - 1];
	bool helper_alive[PREFETCH_HURRY_CALLS - 1], helper_joinable[PREFETCH_HURRY_CALLS - 1];
};

/* Called with p->lock held. */
static bool prefetch_hurrying(const struct prefetch *p, double now)
{
	return now < p->hurry_until;
}

/* Waits @seconds (at most PREFETCH_SLICE) or until stopped or told to
 * hurry, in state @st; false when stopping. */
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
 * still need this hour.  It waits while remaining, less its own calls on
 * their way (prefetch_gate), is at or below the floor, so no call of its own takes the
 * remaining below the floor, and the service never refuses the user for the
 * prefetch's sake. */
static long prefetch_floor(const struct prefetch *p)
{
	return (p->thumbnail_share > 0 ? p->thumbnail_share : 0) + PREFETCH_USER_SHARE;
}

/* The pace, in calls an hour: -o prefetch=N, or by default what the service's
 * hourly budget leaves above the floor (the service does not say its limit:
 * the most it said was left, plus one, is the best guess of it; it only
 * grows); with !@asked the whole of that: the service's rate.  Called with
 * p->lock held. */
static double prefetch_pace(const struct prefetch *p, bool asked)
{
	double pace;
	if (asked && p->per_hour != PREFETCH_AUTO)
		return (double)p->per_hour;
	if (p->limit_seen <= 0)
		return PREFETCH_AUTO_UNKNOWN;
	pace = (double)(p->limit_seen - prefetch_floor(p));
	/* In the background, nine tenths of it: at the whole of it, the archive
	 * alone takes the figure down to the floor by the end of each of the
	 * service's hours and then pauses until it learns that the hour turned.
	 * The service's rate (what factuurfs fetch goes at) is the whole. */
	if (asked)
		pace *= PREFETCH_AUTO_SHARE;
	if (pace < 1)
		pace = 1; /* the floor holds it anyway */
	return pace > PREFETCH_AUTO_MAX ? PREFETCH_AUTO_MAX : pace;
}

/* Waits until one call may be sent now (see prefetch.h) and counts it in
 * flight; false when stopping, or for a @helper when the hurry is over. */
static bool prefetch_gate(struct prefetch *p, bool helper)
{
	for (;;) {
		struct api_stats st;
		double now = clock_mono();
		api_get_stats(p->api, &st);

		pthread_mutex_lock(&p->lock);
		bool stop = p->stopping, hurry = prefetch_hurrying(p, now);
		if (st.ratelimit_remaining >= 0 && st.ratelimit_remaining + 1 > p->limit_seen)
			p->limit_seen = st.ratelimit_remaining + 1;
		pthread_mutex_unlock(&p->lock);
		if (stop || (helper && !hurry))
			return false;
		if (st.health == API_OFFLINE || (st.health != API_UP && st.next_try > 0)) {
			if (!prefetch_wait(p, st.health == API_RATELIMITED ? PF_BUDGET : PF_DOWN,
					   st.health == API_OFFLINE ? PREFETCH_SLICE : st.next_try))
				return false;
			continue;
		}
		/* Hurrying is the user's own request: no waiting for the user. */
		double quiet = hurry ? PREFETCH_QUIET : api_foreground_quiet(p->api);
		if (quiet < PREFETCH_QUIET) {
			if (!prefetch_wait(p, PF_USER, PREFETCH_QUIET - quiet))
				return false;
			continue;
		}
		if (!hurry && p->per_hour == 0) {
			if (!prefetch_wait(p, PF_IDLE, PREFETCH_SLICE))
				return false;
			continue;
		}
		/* The figure and the calls on their way, read together: an
		 * answer lands in the api's figure before its call leaves
		 * `inflight`.  While hurrying, answers may also arrive out of
		 * order (the figure is the last answer's, not the lowest): the
		 * other calls in flight at the most are kept in hand. */
		pthread_mutex_lock(&p->lock);
		api_get_stats(p->api, &st);
		double wait = 0;
		enum prefetch_state why = PF_RUNNING;
		long in_hand = (long)p->inflight + (hurry ? PREFETCH_HURRY_CALLS - 1 : 0);
		if (st.ratelimit_remaining >= 0 &&
		    st.ratelimit_remaining - in_hand <= prefetch_floor(p)) {
			/* The service does not say when its hour turns (no reset
			 * header).  A fresher figure above the floor, from any call,
			 * ends the wait; else, an hour after it began, the window
			 * has turned whatever kind it is, and one call finds out (a
			 * figure still low waits another hour). */
			if (p->low_since <= 0)
				p->low_since = now;
			if (now - p->low_since < p->hour || p->inflight > 0) {
				wait = p->inflight > 0 ? PREFETCH_SLICE : p->hour - (now - p->low_since);
				why = PF_BUDGET;
			} else {
				p->low_since = now;
			}
		} else {
			p->low_since = 0;
		}
		if (why == PF_RUNNING && !hurry && now < p->next_at)
			wait = p->next_at - now;
		if (wait <= 0) {
			/* Claimed: the next paced call is due an interval later. */
			double pace = prefetch_pace(p, true);
			p->inflight++;
			p->next_at = pace > 0 ? now + p->hour / pace : now;
			p->state = PF_RUNNING;
			pthread_mutex_unlock(&p->lock);
			return true;
		}
		pthread_mutex_unlock(&p->lock);
		if (!prefetch_wait(p, why, wait))
			return false;
	}
}

/* Newest first: the later date, then the higher number ("2024-0010" after
 * "2024-9": strverscmp). */
static int prefetch_cmp(const void *a, const void *b)
{
	const struct prefetch_item *x = a, *y = b;
	if (x->date != y->date)
		return x->date > y->date ? -1 : 1;
	return -strverscmp(x->id, y->id);
}

/* The listing of collection @ci for a pass, with a reference; NULL when
 * stopping (*@rc 0) or when it cannot be had (*@rc).  The cache's when it
 * holds one (no call); a new one, paced like a PDF, when it holds none, or
 * when @fresh and the one it holds has expired and the prefetch asked for
 * none in the last hour (or a new hurry session asks for one). */
static struct cache_listing *prefetch_listing(struct prefetch *p, size_t ci, bool fresh,
					      bool session, int *rc)
{
	const struct schema_collection *c = p->colls[ci];
	struct cache_listing *l;
	*rc = 0;
	/* With -o prefetch=0 it makes no call of its own until asked to hurry,
	 * but counts what is local in any listing the user's browsing made
	 * (the invoices' it waits for; the rest it does without). */
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool idle = p->per_hour == 0 && !prefetch_hurrying(p, clock_mono());
		pthread_mutex_unlock(&p->lock);
		l = cache_listing_peek(p->cache, c);
		if (!idle || (l && !fresh))
			break;
		cache_listing_unref(l);
		if (ci > 0) {
			*rc = -EAGAIN;
			return NULL;
		}
		if (!prefetch_wait(p, PF_IDLE, PREFETCH_SLICE))
			return NULL;
	}
	pthread_mutex_lock(&p->lock);
	double listed_at = p->listed_at[ci];
	pthread_mutex_unlock(&p->lock);
	if (l && (!(fresh || session) || cache_listing_ttl_left(p->cache, l) > 0 ||
		  (!session && clock_mono() - listed_at < p->hour)))
		return l;
	cache_listing_unref(l);
	l = NULL;
	if (!prefetch_gate(p, false))
		return NULL;
	pthread_mutex_lock(&p->lock);
	p->listed_at[ci] = clock_mono();
	pthread_mutex_unlock(&p->lock);
	*rc = cache_listing_get(p->cache, c, &l);
	pthread_mutex_lock(&p->lock);
	p->inflight--;
	pthread_mutex_unlock(&p->lock);
	if (*rc == 0 && !l)
		*rc = -EIO;
	return *rc < 0 ? NULL : l;
}

/* True when there is room for another PDF of @c: on the disk for the
 * archive's, within cache_max for the rest (which it never evicts one of to
 * fetch another). */
static bool prefetch_room(struct prefetch *p, const struct schema_collection *c)
{
	off_t room = pdfstore_room(p->pdfs, c);
	pthread_mutex_lock(&p->lock);
	off_t need = p->largest > 0 ? 2 * p->largest : PREFETCH_ROOM_FIRST;
	pthread_mutex_unlock(&p->lock);
	if (c == p->colls[0])
		need += PREFETCH_ROOM_SPARE;
	return room < 0 || room >= need;
}

/* Fetches the next PDF of the pass under way; false when there is none left
 * or when the thread is to end (stopping, the disk full, a @helper when the
 * hurry is over). */
static bool prefetch_one(struct prefetch *p, bool helper)
{
	pthread_mutex_lock(&p->lock);
	struct prefetch_pass *pass = p->pass;
	if (!pass || pass->next == pass->n || pass->full) {
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	struct prefetch_item it = pass->todo[pass->next++];
	pthread_mutex_unlock(&p->lock);

	/* A read of the user's may have brought it meanwhile. */
	bool archived = it.c == p->colls[0];
	bool local = pdfstore_is_local(p->pdfs, it.c, it.id);
	bool room = local || prefetch_room(p, it.c);
	if (local || !room) {
		pthread_mutex_lock(&p->lock);
		if (local) {
			*(archived ? &p->local : &p->others_local) += 1;
			pass->ok++;
		} else if (!archived) {
			p->others_unkept++;
			if (!pass->room_logged)
				log_msg(LOG_INFO, "prefetch: cache_max holds no more %s PDFs; the rest "
					"are fetched when read", it.c->name);
			pass->room_logged = true;
		} else {
			pass->missed++;
			if (!pass->full)
				log_msg(LOG_WARNING, "archive: the disk of the PDF cache is full; "
					"stopping (%zu of %zu PDFs local)", p->local, p->total);
			pass->full = true;
		}
		pthread_mutex_unlock(&p->lock);
		return room || !archived;
	}
	if (!prefetch_gate(p, helper)) {
		pthread_mutex_lock(&p->lock);
		pass->missed++;
		pthread_mutex_unlock(&p->lock);
		return false;
	}
	double t0 = clock_mono();
	int rc = pdfstore_prefetch(p->pdfs, it.c, it.id);
	off_t size = rc > 0 ? pdfstore_size(p->pdfs, it.c, it.id, false) : -1;
	pthread_mutex_lock(&p->lock);
	p->inflight--;
	if (size > p->largest)
		p->largest = size;
	if (rc >= 0) {
		*(archived ? &p->local : &p->others_local) += 1;
		p->fetched += rc > 0;
		pass->ok++;
		if (rc > 0 && prefetch_hurrying(p, t0)) {
			if (p->hurry_t0 <= 0)
				p->hurry_t0 = t0;
			p->hurry_done++;
		}
	} else {
		p->failed++;
		pass->bad++;
	}
	pthread_mutex_unlock(&p->lock);
	if (rc < 0)
		log_msg(LOG_DEBUG, "prefetch: the PDF of %s %s: %s", it.c->name, it.id,
			log_strerror(-rc));
	return true;
}

static void *prefetch_helper(void *arg)
{
	struct prefetch *p = arg;
	api_thread_is_prefetch();
	while (prefetch_one(p, true))
		;
	pthread_mutex_lock(&p->lock);
	for (size_t i = 0; i < PREFETCH_HURRY_CALLS - 1; i++)
		if (p->helper_alive[i] && pthread_equal(p->helpers[i], pthread_self()))
			p->helper_alive[i] = false;
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Joins the helpers that ended (@all: every one, waiting for them). */
static void prefetch_join_helpers(struct prefetch *p, bool all)
{
	for (size_t i = 0; i < PREFETCH_HURRY_CALLS - 1; i++) {
		pthread_mutex_lock(&p->lock);
		bool join = p->helper_joinable[i] && (all || !p->helper_alive[i]);
		pthread_mutex_unlock(&p->lock);
		if (!join)
			continue;
		pthread_join(p->helpers[i], NULL);
		pthread_mutex_lock(&p->lock);
		p->helper_joinable[i] = false;
		pthread_mutex_unlock(&p->lock);
	}
}

/* While hurrying, the helpers that share the pass with the main thread. */
static void prefetch_start_helpers(struct prefetch *p)
{
	prefetch_join_helpers(p, false);
	for (size_t i = 0; i < PREFETCH_HURRY_CALLS - 1; i++) {
		pthread_mutex_lock(&p->lock);
		bool go = !p->helper_joinable[i] && prefetch_hurrying(p, clock_mono()) && !p->stopping;
		if (go) {
			p->helper_alive[i] = p->helper_joinable[i] = true;
			if (pthread_create(&p->helpers[i], NULL, prefetch_helper, p) != 0)
				p->helper_alive[i] = p->helper_joinable[i] = false;
		}
		pthread_mutex_unlock(&p->lock);
	}
}

/* The PDFs of @l not local into @todo from *@n on, newest first; how many. */
static size_t prefetch_todo(struct prefetch *p, const struct schema_collection *c,
			    const struct cache_listing *l, struct prefetch_item *todo, size_t *n)
{
	size_t from = *n;
	for (size_t i = 0; i < l->n; i++)
		if (!pdfstore_is_local(p->pdfs, c, l->recs[i]->id))
			todo[(*n)++] = (struct prefetch_item){c, l->recs[i]->id, l->recs[i]->date};
	qsort(todo + from, *n - from, sizeof(*todo), prefetch_cmp);
	return *n - from;
}

/* One pass over the listings @ls, one per collection of p->colls (NULL where a
 * listing could not be had).  It fetches each PDF that is not local, the invoices'
 * first and each collection's newest first, and returns the state to wait in before
 * the next pass: PF_DONE when every PDF is local (or cache_max has no room for the
 * rest), PF_FULL, PF_ERRORS when every fetch failed, and PF_RUNNING when it stopped
 * midway. */
static enum prefetch_state prefetch_pass(struct prefetch *p, struct cache_listing *const *ls)
{
	size_t all = 0, others = 0, others_todo = 0;
	for (size_t ci = 0; ci < p->ncolls; ci++)
		all += ls[ci] ? ls[ci]->n : 0;
	/* On the heap: the helpers reach it through p->pass. */
	struct prefetch_pass *pass = calloc(1, sizeof(*pass));
	enum prefetch_state next;
	if (pass)
		pass->todo = calloc(all ? all : 1, sizeof(*pass->todo));
	if (!pass || !pass->todo) {
		free(pass);
		return PF_ERRORS;
	}
	size_t inv_todo = prefetch_todo(p, p->colls[0], ls[0], pass->todo, &pass->n);
	for (size_t ci = 1; ci < p->ncolls; ci++) {
		if (!ls[ci])
			continue;
		others += ls[ci]->n;
		others_todo += prefetch_todo(p, p->colls[ci], ls[ci], pass->todo, &pass->n);
	}
	pthread_mutex_lock(&p->lock);
	p->counted = true;
	p->total = ls[0]->n;
	p->local = ls[0]->n - inv_todo;
	p->others_total = others;
	p->others_local = others - others_todo;
	p->others_unkept = 0;
	p->pass = pass;
	unsigned long session = p->session;
	pthread_mutex_unlock(&p->lock);
	for (;;) {
		pthread_mutex_lock(&p->lock);
		bool hurry = prefetch_hurrying(p, clock_mono());
		pthread_mutex_unlock(&p->lock);
		if (hurry)
			prefetch_start_helpers(p);
		if (!prefetch_one(p, false))
			break;
	}
	prefetch_join_helpers(p, true);
	pthread_mutex_lock(&p->lock);
	p->pass = NULL;
	if (pass->full)
		next = PF_FULL;
	else if (pass->next < pass->n || pass->missed > 0)
		next = PF_RUNNING;
	else
		next = pass->bad == 0 ? PF_DONE : pass->ok == 0 ? PF_ERRORS : PF_RUNNING;
	if (next == PF_DONE)
		p->done_session = session;
	pthread_mutex_unlock(&p->lock);
	free(pass->todo);
	free(pass);
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
		 * an hour; at once when a hurry session begins. */
		pthread_mutex_lock(&p->lock);
		bool session = p->fresh_pass;
		p->fresh_pass = false;
		pthread_mutex_unlock(&p->lock);
		if (!session && last != PF_RUNNING && clock_mono() < rest_until) {
			if (!prefetch_wait(p, last, rest_until - clock_mono()))
				break;
			continue;
		}
		int rc;
		struct cache_listing *ls[PREFETCH_COLLS] = {NULL};
		bool stopped = false;
		for (size_t ci = 0; ci < p->ncolls && !stopped; ci++) {
			ls[ci] = prefetch_listing(p, ci, last != PF_RUNNING, session, &rc);
			stopped = !ls[ci] && rc == 0;
			if (!ls[ci] && rc < 0 && rc != -EAGAIN)
				log_msg(LOG_DEBUG, "prefetch: no %s listing: %s", p->colls[ci]->name,
					log_strerror(-rc));
			if (!ls[0])
				break; /* the invoices' first */
		}
		if (stopped) {
			for (size_t ci = 0; ci < p->ncolls; ci++)
				cache_listing_unref(ls[ci]);
			break;
		}
		if (!ls[0]) {
			last = PF_ERRORS;
			rest_until = clock_mono() + p->hour / 60;
			continue;
		}
		last = prefetch_pass(p, ls);
		for (size_t ci = 0; ci < p->ncolls; ci++)
			cache_listing_unref(ls[ci]);
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
	if (!cfg || (cfg->per_hour < 0 && cfg->per_hour != PREFETCH_AUTO) || !cfg->api ||
	    !cfg->cache || !cfg->pdfs)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->per_hour = cfg->per_hour;
	p->thumbnail_share = cfg->thumbnail_share;
	p->hour = cfg->hour > 0 ? cfg->hour : 3600;
	p->api = cfg->api;
	p->cache = cfg->cache;
	p->pdfs = cfg->pdfs;
	/* The archive's collection first (colls[0]), then the others with PDFs. */
	for (int archived = 1; archived >= 0; archived--)
		for (size_t i = 0; i < schema_ncollections() && p->ncolls < PREFETCH_COLLS; i++) {
			const struct schema_collection *c = schema_collection_at(i);
			if (c->pdf_path && c->pdf_archived == archived)
				p->colls[p->ncolls++] = c;
		}
	for (size_t i = 0; i < PREFETCH_COLLS; i++)
		p->listed_at[i] = -1e18;
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
	if (p->per_hour == PREFETCH_AUTO)
		log_msg(LOG_INFO, "archive: fetching every invoice's PDF at the pace the budget "
			"spares");
	else if (p->per_hour > 0)
		log_msg(LOG_INFO, "archive: fetching every invoice's PDF, at most %ld an hour",
			p->per_hour);
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

int prefetch_hurry(struct prefetch *p, double seconds, unsigned long *session)
{
	if (!p)
		return -ENODEV;
	if (!(seconds > 0))
		return -EINVAL;
	if (seconds > PREFETCH_HURRY_MAX)
		seconds = PREFETCH_HURRY_MAX;
	double now = clock_mono();
	pthread_mutex_lock(&p->lock);
	if (!prefetch_hurrying(p, now)) {
		/* A new session: its own pass over a fresh listing (new invoices
		 * included), its own rate. */
		p->session++;
		p->fresh_pass = true;
		p->hurry_t0 = 0;
		p->hurry_done = 0;
	}
	p->hurry_until = now + seconds;
	if (session)
		*session = p->session;
	pthread_cond_broadcast(&p->wake);
	pthread_mutex_unlock(&p->lock);
	return 0;
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
	double now = clock_mono();
	pthread_mutex_lock(&p->lock);
	enum prefetch_state state = p->state;
	bool counted = p->counted, hurry = prefetch_hurrying(p, now);
	size_t total = p->total, local = p->local;
	size_t others_total = p->others_total, others_local = p->others_local;
	size_t others_unkept = p->others_unkept;
	unsigned long fetched = p->fetched, failed = p->failed;
	unsigned long session = p->session, done_session = p->done_session;
	double pace = prefetch_pace(p, true), service = prefetch_pace(p, false);
	double rate = p->hurry_t0 > 0 && now > p->hurry_t0 ? (double)p->hurry_done / (now - p->hurry_t0)
							   : 0;
	long floor_ = prefetch_floor(p);
	pthread_mutex_unlock(&p->lock);
	cJSON_AddStringToObject(out, "state", prefetch_state_name[state]);
	cJSON_AddNumberToObject(out, "per_hour", round(pace));
	cJSON_AddNumberToObject(out, "service_per_hour", round(service));
	cJSON_AddStringToObject(out, "pace", p->per_hour == PREFETCH_AUTO ? "auto" : "fixed");
	if (counted) {
		cJSON_AddNumberToObject(out, "local", (double)local);
		cJSON_AddNumberToObject(out, "total", (double)total);
		cJSON_AddNumberToObject(out, "others_local", (double)others_local);
		cJSON_AddNumberToObject(out, "others_total", (double)others_total);
		cJSON_AddNumberToObject(out, "others_unkept", (double)others_unkept);
	}
	/* What is left, at the pace; while hurrying, as fast as it goes for what
	 * the budget holds above the floor now, and at the service's rate (what
	 * its hourly budget leaves above the floor) for the rest. */
	size_t others_left = others_total - others_local - others_unkept;
	if (counted && state != PF_DONE && state != PF_FULL && total + others_left > local &&
	    (pace > 0 || hurry)) {
		double left = (double)(total - local + others_left), eta;
		if (hurry) {
			double now_ok = st.ratelimit_remaining >= 0
						? (double)(st.ratelimit_remaining - floor_)
						: left;
			if (now_ok < 0)
				now_ok = 0;
			if (now_ok > left)
				now_ok = left;
			eta = (rate > 0 ? now_ok / rate : 0) + (left - now_ok) * p->hour / service;
		} else {
			eta = left * p->hour / pace;
		}
		cJSON_AddNumberToObject(out, "eta_seconds", ceil(eta));
	}
	cJSON_AddNumberToObject(out, "calls", (double)st.prefetch_requests);
	cJSON_AddNumberToObject(out, "fetched", (double)fetched);
	cJSON_AddNumberToObject(out, "failed", (double)failed);
	cJSON_AddNumberToObject(out, "budget_floor", (double)floor_);
	cJSON_AddBoolToObject(out, "hurry", hurry);
	cJSON_AddNumberToObject(out, "rate_per_second", round(rate * 100) / 100);
	cJSON_AddNumberToObject(out, "session", (double)session);
	cJSON_AddNumberToObject(out, "done_session", (double)done_session);
}
