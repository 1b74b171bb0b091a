/* status: the text of .factuurfs/status (see status.h). */
#include "feat/status.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/events.h"
#include "model/jsontext.h"
#include "model/schema.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/pdfstore.h"
#include "feat/prefetch.h"

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), t = strlen(tail);
	return n > t && !strcmp(s + n - t, tail);
}

/* "unsaved": the texts the service does not have, kept in journal directory
 * @dir: a user who sees a count here knows where their text is (counted from
 * the directory, the journal's own state: the status file is read rarely).
 * "unreadable": entries the journal set aside as <file>.bad. */
static void add_unsaved(cJSON *o, const char *dir)
{
	size_t texts = 0, bad = 0;
	DIR *d = opendir(dir);
	struct dirent *e;
	while (d && (e = readdir(d))) {
		texts += ends_with(e->d_name, ".entry");
		bad += ends_with(e->d_name, ".bad");
	}
	if (d)
		closedir(d);
	cJSON_AddNumberToObject(o, "texts", (double)texts);
	cJSON_AddNumberToObject(o, "unreadable", (double)bad);
	cJSON_AddStringToObject(o, "directory", dir);
}

static void add_time(cJSON *o, const char *key, time_t t)
{
	char buf[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, key, buf);
}

/* The entries of @ring, newest first. */
static cJSON *ring_json(struct events *ev, enum events_ring ring, const char *key,
			unsigned long *total)
{
	struct events_entry items[EVENTS_KEPT];
	size_t n = ev ? events_list(ev, ring, items, EVENTS_KEPT, total) : 0;
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; arr && i < n; i++) {
		const struct events_entry *e = &items[i];
		cJSON *o = cJSON_CreateObject();
		add_time(o, "time", e->when);
		if (e->what[0])
			cJSON_AddStringToObject(o, "operation", e->what);
		cJSON_AddStringToObject(o, key, e->message);
		if (e->times > 1)
			cJSON_AddNumberToObject(o, "times", (double)e->times);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

char *status_render(const struct status_sources *src, size_t *len)
{
	cJSON *root = cJSON_CreateObject(), *api = NULL, *errs;
	struct api_stats stats;
	char *text = NULL;
	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "version", FACTUURFS_VERSION);
	/* The daemon's: for kill, and to wait for its end after an unmount. */
	cJSON_AddNumberToObject(root, "pid", (double)getpid());

	cJSON_AddStringToObject(root, "url", src->url ? src->url : "");
	cJSON_AddStringToObject(root, "username", src->username ? src->username : "");
	add_time(root, "mounted_at", src->mounted);
	struct api *a = src->api;
	unsigned long total = 0;
	errs = ring_json(src->events, EVENTS_ERRORS, "message", &total);
	cJSON *changes = ring_json(src->events, EVENTS_CHANGES, "change", NULL);

	if (a) {
		api_get_stats(a, &stats);
		api = cJSON_AddObjectToObject(root, "api");
		cJSON_AddNumberToObject(api, "requests", (double)stats.requests);
		cJSON_AddNumberToObject(api, "requests_last_hour", (double)stats.last_hour);
		/* The reserve: what thumbnailers and indexers spent and were refused. */
		cJSON *bg = cJSON_AddObjectToObject(api, "background");
		cJSON_AddNumberToObject(bg, "calls_last_hour", (double)stats.background_last_hour);
		cJSON_AddNumberToObject(bg, "per_hour", (double)stats.background_per_hour);
		cJSON_AddNumberToObject(bg, "refused", (double)stats.background_refused);
		cJSON_AddNumberToObject(api, "failures", (double)stats.failures);
		cJSON_AddNumberToObject(api, "retries", (double)stats.retries);
		cJSON_AddNumberToObject(api, "not_sent", (double)stats.failed_fast);
		cJSON_AddNumberToObject(api, "bytes_received", (double)stats.bytes_in);
		if (stats.ratelimit_remaining >= 0)
			cJSON_AddNumberToObject(api, "ratelimit_remaining",
						(double)stats.ratelimit_remaining);
		else
			cJSON_AddNullToObject(api, "ratelimit_remaining");
		/* The service as the mount sees it: while not "up", reads come
		 * from the cache (listings marked stale) and the rest fail fast. */
		static const char *const health[] = {
		    [API_UP] = "up", [API_DOWN] = "down", [API_RATELIMITED] = "ratelimited",
		    [API_OFFLINE] = "offline"};
		cJSON *svc = cJSON_AddObjectToObject(root, "service");
		cJSON_AddStringToObject(svc, "state", health[stats.health]);
		if (stats.health != API_UP) {
			cJSON_AddNumberToObject(svc, "next_try_seconds", ceil(stats.next_try));
			cJSON_AddStringToObject(svc, "reason", stats.health_reason);
		}
	}
	if (src->cache || src->pdfs) {
		cJSON *c = cJSON_AddObjectToObject(root, "cache");
		if (src->cache)
			cache_describe(src->cache, c);
		if (src->pdfs)
			pdfstore_describe(src->pdfs, c);
		if (a)
			cJSON_AddBoolToObject(c, "ratelimited", stats.health == API_RATELIMITED);
	}
	prefetch_describe(src->prefetch, cJSON_AddObjectToObject(root, "prefetch"));
	if (src->journal_dir)
		add_unsaved(cJSON_AddObjectToObject(root, "unsaved"), src->journal_dir);
	cJSON_AddNumberToObject(root, "errors_total", (double)total);
	cJSON_AddItemToObject(root, "last_errors", errs);
	cJSON_AddItemToObject(root, "last_changes", changes);
	text = jt_format(root, len);
	cJSON_Delete(root);
	return text;
}
