/* prefetch: the invoices' PDFs fetched in the background, at a pace the
 * budget allows (-o prefetch=N calls an hour).
 *
 * One thread per mount walks the invoices listing, newest first (by the
 * invoice's date, then its number), and fetches each PDF that is not local
 * yet through the store's own path (pdfstore_prefetch: a read of the same PDF
 * meanwhile waits for that one call).  The PDFs on disk are the whole state:
 * a remount goes on with the ones still missing.  Before each call it waits
 * (prefetch.c, prefetch_gate) until
 *   - the service is up,
 *   - no call of the user's is in flight or ended in the last
 *     PREFETCH_QUIET seconds (the user's reads go first),
 *   - the service's budget left is above the floor (prefetch_floor: the
 *     thumbnailers' share and the user's), and
 *   - its slot in the pace is due: calls at least an hour/N apart.
 * The listing it needs is the cache's (one listing call per TTL at most,
 * paced and counted like the PDFs).  It stops when the disk cache is full.
 *
 * Its thread is started after the mount daemonizes and stopped before the
 * unmount (main.c).  Locks: its own, innermost, never held across a call or
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

struct prefetch_config {
	long per_hour;        /* calls an hour, > 0 */
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

/* Stops the thread, waiting for the call it may be in (bounded by the
 * call's timeout).  NULL, or never started, is fine. */
void prefetch_stop(struct prefetch *p);

void prefetch_free(struct prefetch *p);

/* Fills the status file's "prefetch" object @out: state, per_hour, local,
 * total, eta_seconds, calls, fetched, budget_floor.  @p NULL: {"state": "off"}. */
void prefetch_describe(struct prefetch *p, cJSON *out);

#endif
