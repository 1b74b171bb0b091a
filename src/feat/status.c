/* status: recent errors and the text of .factuurfs/status (see status.h). */
#include "feat/status.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "net/api.h"
#include "store/cache.h"
#include "feat/desktop.h"
#include "base/log.h"
#include "model/schema.h"

#define STATUS_MAX_ERRORS 10

struct status_entry {
	time_t when;
	char what[96];     /* the operation; empty for a change */
	char message[512]; /* as long as a refusal's reason: user.factuurfs.error shows the same */
	unsigned long times; /* the same entry in a row, counted once */
};

/* The last STATUS_MAX_ERRORS entries, newest at (next - 1). */
struct ring {
	struct status_entry items[STATUS_MAX_ERRORS];
	unsigned next, count;
};

static struct {
	pthread_mutex_t lock; /* protects everything below */
	struct ring errors, changes;
	unsigned long total;      /* errors ever */
	unsigned long generation; /* bumped by every error and change */
	const char *url, *username;
	struct api *api;
	struct cache *cache;
	time_t mounted;
} st = {.lock = PTHREAD_MUTEX_INITIALIZER};

void status_init(const char *url, const char *username, struct api *api, struct cache *cache)
{
	pthread_mutex_lock(&st.lock);
	st.url = url;
	st.username = username;
	st.api = api;
	st.cache = cache;
	st.mounted = time(NULL);
	pthread_mutex_unlock(&st.lock);
}

/* Called with st.lock held. */
static const struct status_entry *ring_newest(const struct ring *r, unsigned i);

static void ring_push(struct ring *r, const char *what, const char *message)
{
	struct status_entry *e;

	/* A failing file manager repeats one error hundreds of times: count
	 * it, so the errors before it stay visible. */
	if (r->count) {
		e = (struct status_entry *)ring_newest(r, 0);
		if (!strncmp(e->what, what, sizeof(e->what) - 1) &&
		    !strncmp(e->message, message, sizeof(e->message) - 1)) {
			e->when = time(NULL);
			e->times++;
			st.generation++;
			return;
		}
	}
	e = &r->items[r->next];
	e->times = 1;
	e->when = time(NULL);
	snprintf(e->what, sizeof(e->what), "%s", what);
	snprintf(e->message, sizeof(e->message), "%s", message);
	r->next = (r->next + 1) % STATUS_MAX_ERRORS;
	if (r->count < STATUS_MAX_ERRORS)
		r->count++;
	st.generation++;
}

static const struct status_entry *ring_newest(const struct ring *r, unsigned i)
{
	return &r->items[(r->next + STATUS_MAX_ERRORS - 1 - i) % STATUS_MAX_ERRORS];
}

void status_error(const char *what, const char *message)
{
	log_msg(LOG_ERR, "%s: %s", what, message);
	pthread_mutex_lock(&st.lock);
	ring_push(&st.errors, what, message);
	st.total++;
	pthread_mutex_unlock(&st.lock);
}

void status_refused(const char *file, const char *done, const char *reason)
{
	char summary[1200];
	log_refusal(file, reason);
	pthread_mutex_lock(&st.lock);
	ring_push(&st.errors, file, reason);
	st.total++;
	pthread_mutex_unlock(&st.lock);
	snprintf(summary, sizeof(summary), "%s was not %s", file, done);
	desktop_notify(summary, reason);
}

void status_change(const char *fmt, ...)
{
	char buf[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_INFO, "%s", buf);
	pthread_mutex_lock(&st.lock);
	ring_push(&st.changes, "", buf);
	pthread_mutex_unlock(&st.lock);
}

void status_touch(void)
{
	pthread_mutex_lock(&st.lock);
	st.generation++;
	pthread_mutex_unlock(&st.lock);
}

unsigned long status_generation(void)
{
	pthread_mutex_lock(&st.lock);
	unsigned long g = st.generation;
	pthread_mutex_unlock(&st.lock);
	return g;
}

char *status_last_error(void)
{
	char *msg = NULL;
	pthread_mutex_lock(&st.lock);
	if (st.errors.count)
		msg = strdup(ring_newest(&st.errors, 0)->message);
	pthread_mutex_unlock(&st.lock);
	return msg;
}

static void add_time(cJSON *o, const char *key, time_t t)
{
	char buf[32];
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddStringToObject(o, key, buf);
}

/* The entries of @r, newest first; called with st.lock held. */
static cJSON *ring_json(const struct ring *r, const char *key)
{
	cJSON *arr = cJSON_CreateArray();
	for (unsigned i = 0; arr && i < r->count; i++) {
		const struct status_entry *e = ring_newest(r, i);
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

char *status_render(size_t *len)
{
	cJSON *root = cJSON_CreateObject(), *api = NULL, *errs;
	struct api_stats stats;
	char *text = NULL;
	if (!root)
		return NULL;
	cJSON_AddStringToObject(root, "version", FACTUURFS_VERSION);

	pthread_mutex_lock(&st.lock);
	cJSON_AddStringToObject(root, "url", st.url ? st.url : "");
	cJSON_AddStringToObject(root, "username", st.username ? st.username : "");
	add_time(root, "mounted_at", st.mounted);
	struct api *a = st.api;
	struct cache *c = st.cache;
	errs = ring_json(&st.errors, "message");
	cJSON *changes = ring_json(&st.changes, "change");
	unsigned long total = st.total;
	pthread_mutex_unlock(&st.lock);

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
		    [API_UP] = "up", [API_DOWN] = "down", [API_RATELIMITED] = "ratelimited"};
		cJSON *svc = cJSON_AddObjectToObject(root, "service");
		cJSON_AddStringToObject(svc, "state", health[stats.health]);
		if (stats.health != API_UP) {
			cJSON_AddNumberToObject(svc, "next_try_seconds", ceil(stats.next_try));
			cJSON_AddStringToObject(svc, "reason", stats.health_reason);
		}
	}
	if (c)
		cache_describe(c, cJSON_AddObjectToObject(root, "cache"));
	cJSON_AddNumberToObject(root, "errors_total", (double)total);
	cJSON_AddItemToObject(root, "last_errors", errs);
	cJSON_AddItemToObject(root, "last_changes", changes);
	text = schema_format(root, len);
	cJSON_Delete(root);
	return text;
}
