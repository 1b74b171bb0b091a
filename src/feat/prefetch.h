/* prefetch: the archive — every invoice's PDF fetched in the background and
 * kept, at a pace the budget can spare.
 *
 * One thread per mount walks the invoices listing, newest first (by the
 * invoice's date, then its number), and fetches each PDF that is not local
 * yet through the store's own path (pdfstore_prefetch: a read of the same PDF
 * meanwhile waits for that one call); the store keeps invoices' PDFs for good
 * (pdfstore_config.archive).  The PDFs on disk are the whole state: a remount
 * goes on with the ones still missing, and new invoices are fetched as they
 * are listed.  Before each call it waits (prefetch.c, prefetch_gate) until
 *   - the service is up,
 *   - no call of the user's is in flight or ended in the last
 *     PREFETCH_QUIET seconds (the user's reads go first),
 *   - the service's budget left is above the floor (prefetch_floor: the
 *     thumbnailers' share and the user's), and
 *   - its slot in the pace is due: calls at least an hour/N apart, N being
 *     -o prefetch=N or, by default, what the service's hourly budget leaves
 *     above the floor (prefetch_pace).
 * The listing it needs is the cache's (one listing call per TTL at most,
 * paced and counted like the PDFs).  It stops when the disk is full.
 *
 * `factuurfs fetch` asks it to hurry (prefetch_hurry): for as long as the
 * command keeps asking, PREFETCH_HURRY_CALLS calls at a time, with no pace
 * and no waiting for the user (it is the user's own request), down to the
 * same floor.
 *
 * Its threads are started after the mount daemonizes and stopped before the
 * unmount (daemon.c).  Locks: its own, innermost, never held across a call or
 * a wait for one.
 */
#ifndef FACTUURFS_FEAT_PREFETCH_H
#define FACTUURFS_FEAT_PREFETCH_H

#include <cjson/cJSON.h>

struct api;
struct cache;
struct pdfstore;
struct prefetch;

/* Seconds without a call of the user's before the prefetch sends one. */
#define PREFETCH_QUIET 2.0
/* Calls of the hourly budget kept for the user (see prefetch_floor). */
#define PREFETCH_USER_SHARE 100
/* -o prefetch's default: the pace the budget can spare (prefetch_pace). */
#define PREFETCH_AUTO (-1L)
/* Calls in flight at once while hurrying (of the api's 8 connections). */
#define PREFETCH_HURRY_CALLS 4

struct prefetch_config {
	long per_hour;        /* calls an hour at most; PREFETCH_AUTO; 0: none but
				 while hurrying (-o prefetch=0) */
	long thumbnail_share; /* -o background_calls: kept for thumbnailers; < 0: none */
	double hour;          /* seconds in an hour (base/clock.h clock_hour) */
	struct api *api;      /* borrowed, like the rest */
	struct cache *cache;
	struct pdfstore *pdfs;
};

/* 0 and a new prefetch (no thread yet) in *@out, or -errno. */
int prefetch_new(struct prefetch **out, const struct prefetch_config *cfg);

/* Starts the thread (after daemonizing: fork keeps one thread).  0 or -errno. */
int prefetch_start(struct prefetch *p);

/* Stops the threads, waiting for the calls they may be in (bounded by the
 * call's timeout).  NULL, or never started, is fine. */
void prefetch_stop(struct prefetch *p);

void prefetch_free(struct prefetch *p);

/* Hurry for the next @seconds (at most a minute): `factuurfs fetch` asks
 * again every second while it runs, so a command that ends or dies leaves
 * the pace to the background within seconds.  A request while not hurrying
 * begins a new session (a pass over a fresh listing); its number goes to
 * *@session: the archive is complete for it once the status file's
 * "done_session" is at least that.  0 or -errno (-ENODEV: @p NULL). */
int prefetch_hurry(struct prefetch *p, double seconds, unsigned long *session);

/* Fills the status file's "prefetch" object @out: state, per_hour, pace,
 * local, total, eta_seconds, calls, fetched, failed, budget_floor, hurry,
 * rate_per_second, session, done_session.  @p NULL: {"state": "off"}. */
void prefetch_describe(struct prefetch *p, cJSON *out);

#endif
