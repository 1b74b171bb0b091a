/* daemon: every module of a mount, made, started, stopped and freed in order
 * (see daemon.h). */
#include "daemon.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <systemd/sd-daemon.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "base/who.h"
#include "credentials.h"
#include "feat/desktop.h"
#include "feat/export.h"
#include "feat/prefetch.h"
#include "feat/views.h"
#include "fuse/fs.h"
#include "net/api.h"
#include "online.h"
#include "sighup.h"
#include "store/account.h"
#include "store/cache.h"
#include "store/deleted.h"
#include "store/times.h"
#include "store/pdfstore.h"
#include "store/persist.h"
#include "store/search.h"

/* Everything one run of the daemon holds. */
struct daemon {
	struct config *cfg;     /* borrowed: main's */
	time_t started;
	char *username;
	char *apikey;           /* from the credentials until the API client has its copy */
	struct events *events;
	struct api *api;
	struct account *account; /* NULL: nothing on disk (-o nodiskcache, no directory) */
	struct persist *persist;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct prefetch *prefetch;
	struct views *views;
	struct exports *exports;
	struct search *search;
	struct deleted *deleted;
	struct times *times;
	char *journal_dir;
	struct mount *fs;
	struct fuse_session *se;
	size_t built;           /* the steps of build[] made (the last may have failed) */
	/* Serving. */
	char *real_mnt;
	struct who_mount *who;  /* until the mount takes it over */
	bool mounted;
	struct desktop *desktop;
	struct sighup *sighup;
	size_t running;         /* the steps of run[] started */
};

/* One step: @make (or @start) returns 0 or a negative number (said); @undo takes
 * back what it made, also after it failed half-way, and is never called for a
 * step not begun.  NULL: nothing to do. */
struct step {
	int (*make)(struct daemon *d);
	void (*undo)(struct daemon *d);
};

/* ---- building ------------------------------------------------------------------ */

static int make_credentials(struct daemon *d)
{
	struct credentials_opts co = {
		.username = d->cfg->username, .apikey_file = d->cfg->apikey_file,
		.profile = d->cfg->profile,
	};
	return credentials_get(&co, &d->username, &d->apikey);
}

static void free_credentials(struct daemon *d)
{
	credentials_wipe(d->apikey);
	free(d->username);
}

static int make_events(struct daemon *d)
{
	return events_new(&d->events);
}

static void free_events(struct daemon *d)
{
	events_free(d->events);
}

static int make_api(struct daemon *d)
{
	const struct config *c = d->cfg;
	struct api_config acfg = {
		.url = c->url,
		.username = d->username,
		.apikey = d->apikey,
		.connect_timeout_ms = (long)(c->timeout < 10 ? c->timeout * 1000 : 10000),
		.timeout_ms = (long)(c->timeout * 1000),
		.insecure = c->insecure,
		.cainfo = c->cainfo,
		.background_per_hour = c->background_calls,
	};
	int rc = api_new(&d->api, &acfg);
	/* The API client keeps its own copy: this one goes at once. */
	credentials_wipe(d->apikey);
	d->apikey = NULL;
	if (rc < 0)
		fprintf(stderr, "factuurfs: bad url '%s': %s\n", c->url, log_strerror(-rc));
	return rc;
}

static void free_api(struct daemon *d)
{
	api_free(d->api);
}

/* The account's directories (none with -o nodiskcache); a directory someone
 * else could have put there fails the mount rather than be read or followed. */
static int make_account(struct daemon *d)
{
	struct account_config acfg = {
		.root = d->cfg->cache_dir, .url = d->cfg->url, .username = d->username,
	};
	char *refused = NULL;
	int rc = d->cfg->nodiskcache ? 0 : account_open(&d->account, &acfg, &refused);
	if (rc < 0) {
		fprintf(stderr, "factuurfs: cache directory %s %s: not used; remove it, or choose "
				"another directory with -o cache_dir=\n", refused ? refused : "",
			rc == -EPERM ? "is owned by another user" : "is not a directory (a symlink?)");
		free(refused);
		return rc;
	}
	/* The reserve's count lives beside the account's PDFs. */
	char *bg = account_path(d->account, ACCOUNT_RESERVE);
	if (bg && api_background_persist(d->api, bg) < 0)
		log_msg(LOG_WARNING, "%s: the thumbnail reserve counts per mount", bg);
	free(bg);
	return 0;
}

static void free_account(struct daemon *d)
{
	account_free(d->account);
}

/* Listings kept across mounts, only under the state's lock. */
static int make_persist(struct daemon *d)
{
	char *listings = account_path(d->account, ACCOUNT_LISTINGS);
	int rc = listings ? persist_new(&d->persist, listings) : 0;
	if (rc < 0)
		log_msg(LOG_WARNING, "%s: %s; listings are kept in memory only", listings,
			log_strerror(-rc));
	free(listings);
	return 0;
}

/* (persist_free also ends its thread, once it wrote what is queued.) */
static void free_persist(struct daemon *d)
{
	persist_free(d->persist);
}

/* The cache is made before the mount that shows its listings: what changed
 * reaches the mount through here, once it is made (before any call). */
static void listing_changed(void *ud, const struct schema_collection *c,
			    const struct cache_listing *old, const struct cache_listing *cur)
{
	struct daemon *d = ud;
	if (d->fs)
		fs_listing_changed(d->fs, c, old, cur);
}

static int make_cache(struct daemon *d)
{
	const struct config *c = d->cfg;
	struct cache_config ccfg = {
		.ttl = c->ttl,
		.page_size = c->page_size,
		.paging = (enum cache_paging)c->paging_how,
		.events = d->events,
		.started = d->started,
		.changed = listing_changed,
		.ud = d,
		.persist = d->persist,
		.refresh_behind = true,
	};
	config_lang(c, ccfg.lang, sizeof(ccfg.lang));
	return cache_new(&d->cache, d->api, &ccfg);
}

static void free_cache(struct daemon *d)
{
	cache_free(d->cache);
}

static int make_pdfstore(struct daemon *d)
{
	char *dir = account_path(d->account, ACCOUNT_PDFS);
	struct pdfstore_config pcfg = {
		.dir = dir, .max = d->cfg->pdf_max, .archive = !d->cfg->noarchive,
		.api = d->api, .events = d->events,
	};
	int rc = pdfstore_new(&d->pdfs, &pcfg);
	free(dir);
	return rc;
}

static void free_pdfstore(struct daemon *d)
{
	pdfstore_free(d->pdfs);
}

/* The archive: every invoice's PDF fetched and kept, unless -o noarchive or
 * nothing is kept on disk. */
static int make_prefetch(struct daemon *d)
{
	const struct config *c = d->cfg;
	if (c->noarchive) {
		log_msg(LOG_WARNING, "noarchive: invoices' PDFs are a cache like the rest: "
			"beyond cache_max the least recently used are removed; keep the "
			"invoices you must keep (seven years) elsewhere");
		return 0;
	}
	if (!d->account) {
		log_msg(LOG_WARNING, "archive: off, the PDFs would not be kept (no disk cache)");
		return 0;
	}
	struct prefetch_config fcfg = {
		.per_hour = c->prefetch, .thumbnail_share = c->background_calls,
		.hour = clock_hour(), .api = d->api, .cache = d->cache, .pdfs = d->pdfs,
	};
	return prefetch_new(&d->prefetch, &fcfg);
}

static void free_prefetch(struct daemon *d)
{
	prefetch_free(d->prefetch);
}

static int make_views(struct daemon *d)
{
	return views_new(&d->views, d->cache);
}

static void free_views(struct daemon *d)
{
	views_free(d->views);
}

static int make_exports(struct daemon *d)
{
	return exports_new(&d->exports, d->cache);
}

static void free_exports(struct daemon *d)
{
	exports_free(d->exports);
}

static int make_search(struct daemon *d)
{
	return search_new(&d->search, d->api, d->cache, d->events);
}

static void free_search(struct daemon *d)
{
	search_free(d->search);
}

/* Records deleted through the mount, kept 30 days beside the state. */
static int make_deleted(struct daemon *d)
{
	char *dir = account_path(d->account, ACCOUNT_DELETED);
	int rc = dir ? deleted_open(&d->deleted, dir) : 0;
	if (rc < 0)
		log_msg(LOG_WARNING, "%s: %s; deleted records are not kept", dir, log_strerror(-rc));
	free(dir);
	return 0;
}

static void free_deleted(struct daemon *d)
{
	deleted_free(d->deleted);
}

/* Record files' times, kept under the state's lock (in memory without it). */
static int make_times(struct daemon *d)
{
	char *dir = account_path(d->account, ACCOUNT_TIMES);
	int rc = times_open(&d->times, dir);
	if (rc < 0)
		log_msg(LOG_WARNING, "%s: %s; file times are kept in memory only",
			dir ? dir : "state/times", log_strerror(-rc));
	free(dir);
	return 0;
}

static void free_times(struct daemon *d)
{
	times_free(d->times); /* writes what was decided */
}

static int make_mount(struct daemon *d)
{
	const struct config *c = d->cfg;
	/* Only under the state's lock (none with -o nodiskcache). */
	d->journal_dir = account_path(d->account, ACCOUNT_JOURNAL);
	struct mount_parts p = {
		.ttl = c->ttl, .readonly = c->readonly, .started = d->started,
		.api = d->api, .cache = d->cache, .pdfs = d->pdfs, .events = d->events,
		.views = d->views, .exports = d->exports, .search = d->search,
		.deleted = d->deleted, .allow_invoice_delete = c->allow_invoice_delete,
		.times = d->times,
		.journal_dir = d->journal_dir,
		.status = {
			.url = c->url, .username = d->username, .mounted = d->started,
			.api = d->api, .cache = d->cache, .pdfs = d->pdfs, .events = d->events,
			.prefetch = d->prefetch, .journal_dir = d->journal_dir,
		},
	};
	return fs_new(&d->fs, &p);
}

static void free_mount(struct daemon *d)
{
	fs_free(d->fs);
	d->fs = NULL;
	free(d->journal_dir);
}

/* The session's options were checked with the command line (config.c). */
static int make_session(struct daemon *d)
{
	d->se = fuse_session_new(&d->cfg->args, &fs_ops, sizeof(fs_ops), d->fs);
	return d->se ? 0 : -1;
}

static void free_session(struct daemon *d)
{
	if (d->se)
		fuse_session_destroy(d->se);
}

/* In the order each depends on the ones before it. */
static const struct step build[] = {
	{make_credentials, free_credentials},
	{make_events, free_events},
	{make_api, free_api},
	{make_account, free_account},
	{make_persist, free_persist},
	{make_cache, free_cache},
	{make_pdfstore, free_pdfstore},
	{make_prefetch, free_prefetch},
	{make_views, free_views},
	{make_exports, free_exports},
	{make_search, free_search},
	{make_deleted, free_deleted},
	{make_times, free_times},
	{make_mount, free_mount},
	{make_session, free_session},
};
#define NBUILD (sizeof(build) / sizeof(build[0]))

int daemon_new(struct daemon **out, struct config *cfg)
{
	struct daemon *d = calloc(1, sizeof(*d));
	*out = d;
	if (!d)
		return -1;
	d->cfg = cfg;
	d->started = time(NULL);
	while (d->built < NBUILD)
		if (build[d->built++].make(d) < 0)
			return -1;
	struct online_check oc = {
		.url = cfg->url, .offline = cfg->offline,
		.api = d->api, .cache = d->cache, .events = d->events,
	};
	return online_check(&oc) < 0 ? -1 : 0;
}

/* ---- serving ------------------------------------------------------------------- */

static int start_mount(struct daemon *d)
{
	const char *mnt = d->cfg->fuse.mountpoint;
	/* Resolved before mounting: after, it would ask this very filesystem. */
	d->real_mnt = realpath(mnt, NULL);
	if (fuse_session_mount(d->se, mnt) != 0)
		return -1;
	d->mounted = true;
	if (!d->real_mnt || who_mount_new(&d->who, d->real_mnt) < 0)
		log_msg(LOG_WARNING, "%s not found in /proc/self/mountinfo: programs that "
			"fstat() an unfetched PDF see its placeholder size", mnt);
	return 0;
}

static void stop_mount(struct daemon *d)
{
	if (d->mounted)
		fuse_session_unmount(d->se);
	who_mount_free(d->who);
	free(d->real_mnt);
}

/* Threads only after this: fork keeps just the calling thread. */
static int start_background(struct daemon *d)
{
	if (fuse_set_signal_handlers(d->se) != 0 || fuse_daemonize(d->cfg->fuse.foreground) != 0)
		return -1;
	return 0;
}

static int start_threads(struct daemon *d)
{
	int rc = persist_start(d->persist);
	if (rc == 0)
		rc = api_start(d->api);
	if (rc < 0)
		log_msg(LOG_ERR, "cannot start a thread: %s", log_strerror(-rc));
	return rc;
}

static int start_notifier(struct daemon *d)
{
	int rc = fs_start(d->fs, d->se, d->who);
	d->who = NULL;
	return rc;
}

/* The notifier writes to the session's descriptor: it stops before the unmount
 * closes that (ThreadSanitizer saw its writev race the close). */
static void stop_notifier(struct daemon *d)
{
	fs_stop(d->fs);
}

static int start_desktop(struct daemon *d)
{
	int rc;
	if (!d->cfg->nonotify && (rc = desktop_start(&d->desktop)) < 0)
		log_msg(LOG_WARNING, "no desktop notifications: %s", log_strerror(-rc));
	events_on_refusal(d->events, desktop_notify, d->desktop);
	return 0;
}

/* The workers are done: nothing queues a notification any more. */
static void stop_desktop(struct daemon *d)
{
	events_on_refusal(d->events, NULL, NULL);
	desktop_stop(d->desktop);
}

/* A refresh running behind its readers tells the mount what changed when it
 * lands: it ends before the notifier goes, and after the archive, which reads
 * through the cache as the workers do. */
static void stop_refreshes(struct daemon *d)
{
	cache_quiesce(d->cache);
}

static int start_prefetch(struct daemon *d)
{
	int rc;
	if (d->prefetch && (rc = prefetch_start(d->prefetch)) < 0)
		log_msg(LOG_WARNING, "no prefetch: %s", log_strerror(-rc));
	return 0;
}

/* (It may finish the one call it is in.) */
static void stop_prefetch(struct daemon *d)
{
	prefetch_stop(d->prefetch);
}

static void refresh_all(void *arg)
{
	fs_refresh(arg);
}

static int start_sighup(struct daemon *d)
{
	int rc = sighup_start(&d->sighup, refresh_all, d->fs);
	if (rc < 0)
		log_msg(LOG_WARNING, "SIGHUP will not refresh: %s", log_strerror(-rc));
	return 0;
}

static void stop_sighup(struct daemon *d)
{
	sighup_stop(d->sighup);
}

/* The mount has ended: a call still in flight behind it (a refresh's next
 * pages, the archive's PDF, the probe) is cut off and no other is sent, so
 * that the stops below wait for none of them (each would end only within its
 * own timeout, page after page). */
static void stop_calls(struct daemon *d)
{
	api_cancel(d->api);
}

/* Started in this order once built; stopped in the reverse one after the
 * session loop (the threads the API client and the listing writer start end
 * in api_free and persist_free). */
static const struct step run[] = {
	{start_mount, stop_mount},
	{start_background, NULL},
	{start_threads, NULL},
	{start_notifier, stop_notifier},
	{start_desktop, stop_desktop},
	{NULL, stop_refreshes},
	{start_prefetch, stop_prefetch},
	{start_sighup, stop_sighup},
	{NULL, stop_calls},
};
#define NRUN (sizeof(run) / sizeof(run[0]))

static int loop(struct daemon *d)
{
	const struct fuse_cmdline_opts *f = &d->cfg->fuse;
	if (f->singlethread)
		return fuse_session_loop(d->se);
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	fuse_loop_cfg_set_clone_fd(lc, f->clone_fd);
	/* UINT_MAX: not given on the command line, keep libfuse's default. */
	if (f->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(lc, f->max_idle_threads);
	fuse_loop_cfg_set_max_threads(lc, f->max_threads);
	int ret = fuse_session_loop_mt(d->se, lc);
	fuse_loop_cfg_destroy(lc);
	return ret;
}

int daemon_serve(struct daemon *d)
{
	while (d->running < NRUN) {
		const struct step *s = &run[d->running++];
		if (s->make && s->make(d) < 0)
			return 1;
	}
	log_msg(LOG_INFO, "mounted %s for %s on %s", d->cfg->url, d->username,
		d->cfg->fuse.mountpoint);
	sd_notify(0, "READY=1");
	int ret = loop(d);
	sd_notify(0, "STOPPING=1");
	fuse_remove_signal_handlers(d->se);
	return ret != 0;
}

void daemon_free(struct daemon *d)
{
	if (!d)
		return;
	while (d->running > 0)
		if (run[--d->running].undo)
			run[d->running].undo(d);
	while (d->built > 0)
		build[--d->built].undo(d);
	free(d);
}
