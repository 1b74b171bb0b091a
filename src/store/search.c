/* search: queries of the service's search, one call per TTL (see search.h). */
#include "store/search.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "base/events.h"
#include "base/flight.h"
#include "base/log.h"
#include "base/names.h"
#include "base/vec.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/get.h"

/* Answers kept at most; past it the one used longest ago goes (never one in flight). */
#define SEARCH_KEPT 256

/* A failed search is not asked again for this long (its callers queue up). */
#define SEARCH_FAIL_HOLD 1.0

/* One query of one area: its answer and its fetch. */
struct entry {
	char *key;                  /* "<area>/<canonical name>" */
	const struct schema_collection *c;
	char *field, *query;        /* as sent (the query decoded, decimals with a dot) */
	char *name;                 /* its canonical directory name (search_name) */
	struct cache_listing *l;    /* the last answer, or NULL */
	unsigned long gen;          /* cache_generation(c) when it was fetched */
	double used;                /* the cache's clock at its last use */
	struct flight fl;
	UT_hash_handle hh;
};

struct search {
	struct api *api;
	struct cache *cache;
	struct events *events;
	pthread_mutex_t lock; /* protects entries and every field of theirs */
	pthread_cond_t done;  /* broadcast when a fetch ends */
	struct entry *entries;
};

int search_new(struct search **out, struct api *api, struct cache *cache, struct events *events)
{
	struct search *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->api = api;
	s->cache = cache;
	s->events = events;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->done, NULL);
	*out = s;
	return 0;
}

static void entry_free(struct entry *e)
{
	cache_listing_unref(e->l);
	free(e->key);
	free(e->field);
	free(e->query);
	free(e->name);
	free(e);
}

void search_free(struct search *s)
{
	struct entry *e, *t;
	if (!s)
		return;
	HASH_ITER(hh, s->entries, e, t) {
		assert(!e->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(s->entries, e);
		entry_free(e);
	}
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->done);
	free(s);
}

/* ---- names ----------------------------------------------------------------------- */

/* "23,95" -> "23.95": the search page writes decimals with a dot, a Dutch user with a
 * comma.  Only a query that is a number with one decimal comma (digits on both sides,
 * an optional sign) is changed: text is searched as written. */
static void decimal_dot(char *q)
{
	char *p = q + (*q == '-' || *q == '+'), *comma = strchr(p, ',');
	if (!comma || comma == p || !comma[1] || strchr(comma + 1, ','))
		return;
	for (char *x = p; *x; x++)
		if (x != comma && !isdigit((unsigned char)*x))
			return;
	*comma = '.';
}

int search_parse(const struct schema_collection *c, const char *name, char **field,
		 char **query)
{
	const char *eq = strchr(name, '=');
	char *f = NULL, *q = NULL;
	*field = *query = NULL;
	/* Dotfiles, desktop.ini, Thumbs.db, editor swap and backup names, vim's 4913:
	 * what programs look for in every directory, never what a person searches. */
	if (names_is_scratch(name))
		return -ENOENT;
	if (eq) {
		f = strndup(name, (size_t)(eq - name));
		if (!f)
			return -ENOMEM;
		/* A field of the area's dictionary (either spelling), or every field. */
		if (strcmp(f, "all") != 0 && !schema_field_find(c, f))
			goto no;
		q = names_decode(eq + 1);
	} else {
		f = strdup("all");
		if (!f)
			return -ENOMEM;
		q = names_decode(name);
	}
	if (!q || strlen(q) > SEARCH_QUERY_MAX)
		goto no;
	bool blank = true;
	for (const unsigned char *p = (const unsigned char *)q; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			goto no; /* a control byte ("%09"): no one's query */
		blank = blank && *p == ' ';
	}
	if (blank)
		goto no;
	decimal_dot(q);
	*field = f;
	*query = q;
	return 0;
no:
	free(f);
	free(q);
	return -ENOENT;
}

char *search_name(const char *field, const char *query)
{
	char *stem = names_encode(query), *name = NULL;
	if (!stem)
		return NULL;
	bool all = !strcmp(field, "all");
	/* "a=b" alone would read as field a: every field's query with a '=' says so. */
	if (asprintf(&name, "%s%s%s", all && !strchr(stem, '=') ? "" : field,
		     all && !strchr(stem, '=') ? "" : "=", stem) < 0)
		name = NULL;
	free(stem);
	return name;
}

/* ---- answers ----------------------------------------------------------------------- */

/* What a search that matches nothing answers: a reading, kept here alone.  The search
 * page says the answer is a list of records, so an empty list `[]` is the likely one;
 * a 404 (what the service answers for a record it does not have) is the other, and is
 * taken as no match too.  Either way the query's directory is empty. */
static bool no_match(int rc, const struct api_answer *a)
{
	return rc == -ENOENT && a->status == 404;
}

/* Asks the service for @e's query (without the lock): 0 with a new listing in *@out. */
static int fetch(struct search *s, const struct entry *e, struct cache_listing **out)
{
	char *f = names_url_escape(e->field), *q = names_url_escape(e->query), *path = NULL;
	char what[160];
	struct api_answer a;
	int rc = -ENOMEM;
	*out = NULL;
	snprintf(what, sizeof(what), "search %s/%s", e->c->name, e->name);
	if (!f || !q || asprintf(&path, "search/%s/%s/%s", e->c->name, f, q) < 0) {
		path = NULL;
		goto out;
	}
	rc = api_call(s->api, "GET", path, NULL, 0, &a);
	if (rc == 0) {
		rc = cache_listing_parse(s->cache, e->c, a.body, a.len, out);
		if (rc == -EIO)
			events_error(s->events, what, "the service sent something that is not a list");
	} else if (no_match(rc, &a)) {
		rc = cache_listing_parse(s->cache, e->c, "[]", 2, out);
	} else {
		store_failed(s->events, what, &a);
	}
	api_answer_clear(&a);
	if (rc == 0)
		cache_found_put(s->cache, e->c, *out);
out:
	free(f);
	free(q);
	free(path);
	return rc;
}

/* With s->lock held: true when @e's answer may be served without a call. */
static bool fresh(const struct search *s, const struct entry *e, unsigned long gen)
{
	return e->l && e->gen == gen &&
	       cache_now(s->cache) - e->l->fetched < cache_ttl(s->cache);
}

/* With s->lock held: makes room for one more entry (SEARCH_KEPT).  The table is
 * rebuilt without the oldest, every entry taken off at the head: what the static
 * analysers can follow of uthash (#128); 256 entries, once per new query past them. */
static void evict(struct search *s)
{
	struct entry *e, *t, *oldest = NULL, *kept = NULL;
	if (HASH_COUNT(s->entries) < SEARCH_KEPT)
		return;
	HASH_ITER(hh, s->entries, e, t) {
		if (!e->fl.loading && (!oldest || e->used < oldest->used))
			oldest = e;
	}
	HASH_ITER(hh, s->entries, e, t) {
		assert(!e->hh.prev);
		HASH_DEL(s->entries, e);
		if (e == oldest)
			entry_free(e);
		else
			HASH_ADD_KEYPTR(hh, kept, e->key, strlen(e->key), e);
	}
	s->entries = kept;
}

/* With s->lock held: the entry of (@c, @field, @query), made when there is none;
 * NULL on ENOMEM. */
static struct entry *entry_of(struct search *s, const struct schema_collection *c, char *field,
			      char *query)
{
	struct entry *e = NULL;
	char *name = search_name(field, query), *key = NULL;
	if (!name || asprintf(&key, "%s/%s", c->name, name) < 0) {
		free(name);
		return NULL;
	}
	HASH_FIND_STR(s->entries, key, e);
	if (e) {
		free(key);
		free(name);
		return e;
	}
	evict(s);
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(key);
		free(name);
		return NULL;
	}
	*e = (struct entry){.key = key, .c = c, .field = strdup(field), .query = strdup(query),
			    .name = name};
	if (!e->field || !e->query) {
		entry_free(e);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, s->entries, e->key, strlen(e->key), e);
	return e;
}

int search_get(struct search *s, const struct schema_collection *c, const char *name,
	       struct cache_listing **out)
{
	char *field = NULL, *query = NULL;
	struct cache_listing *got = NULL;
	int rc = search_parse(c, name, &field, &query);
	if (rc < 0)
		return rc;
	/* Read before the lock: the cache's lock is never taken under ours. */
	unsigned long gen = cache_generation(s->cache, c);
	pthread_mutex_lock(&s->lock);
	struct entry *e = entry_of(s, c, field, query);
	if (!e) {
		rc = -ENOMEM;
		goto unlock;
	}
	e->used = cache_now(s->cache);
	for (;;) {
		if (fresh(s, e, gen)) {
			cache_listing_ref(e->l);
			*out = e->l;
			rc = 0;
			goto unlock;
		}
		if (!flight_wait(&e->fl, &s->lock, &s->done))
			break;
		/* The fetch we waited for ended: its outcome is ours. */
		if (e->fl.rc < 0 && !e->l) {
			rc = e->fl.rc;
			goto unlock;
		}
		if (e->l) {
			cache_listing_ref(e->l);
			*out = e->l;
			rc = 0;
			goto unlock;
		}
	}
	if (flight_failed_within(&e->fl, cache_now(s->cache), SEARCH_FAIL_HOLD)) {
		rc = e->fl.rc;
		if (e->l) {
			cache_listing_ref(e->l);
			*out = e->l;
			rc = 0;
		}
		goto unlock;
	}
	flight_begin(&e->fl);
	pthread_mutex_unlock(&s->lock);
	rc = fetch(s, e, &got);
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		cache_listing_unref(e->l);
		e->l = got;
		e->gen = gen;
		cache_listing_ref(got);
		*out = got;
	} else if (e->l) {
		/* The answer we had beats an error; asked again after the hold. */
		log_msg(LOG_WARNING, "search %s/%s: serving the last answer: %s", c->name,
			e->name, log_strerror(-rc));
		cache_listing_ref(e->l);
		*out = e->l;
	}
	flight_end(&e->fl, &s->done, rc, cache_now(s->cache));
	if (rc < 0 && e->l)
		rc = 0;
unlock:
	pthread_mutex_unlock(&s->lock);
	free(field);
	free(query);
	return rc;
}

struct cache_listing *search_held(struct search *s, const struct schema_collection *c,
				  const char *name)
{
	char *field = NULL, *query = NULL, *canon = NULL, *key = NULL;
	struct cache_listing *l = NULL;
	if (search_parse(c, name, &field, &query) < 0)
		return NULL;
	unsigned long gen = cache_generation(s->cache, c);
	canon = search_name(field, query);
	if (canon && asprintf(&key, "%s/%s", c->name, canon) >= 0) {
		struct entry *e = NULL;
		pthread_mutex_lock(&s->lock);
		HASH_FIND_STR(s->entries, key, e);
		if (e && fresh(s, e, gen)) {
			l = e->l;
			cache_listing_ref(l);
		}
		pthread_mutex_unlock(&s->lock);
		free(key);
	}
	free(canon);
	free(field);
	free(query);
	return l;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int search_names(struct search *s, const struct schema_collection *c, char ***names,
		 size_t *n)
{
	struct entry *e, *t;
	size_t k = 0, cap = 0;
	char **v = NULL;
	int rc = 0;
	unsigned long gen = cache_generation(s->cache, c);
	pthread_mutex_lock(&s->lock);
	HASH_ITER(hh, s->entries, e, t) {
		if (e->c != c || !fresh(s, e, gen))
			continue;
		if (k == cap && vec_grow(&v, &cap, k + 1, sizeof(*v)) < 0) {
			rc = -ENOMEM;
			break;
		}
		if (!(v[k] = strdup(e->name))) {
			rc = -ENOMEM;
			break;
		}
		k++;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc < 0) {
		for (size_t i = 0; i < k; i++)
			free(v[i]);
		free(v);
		return rc;
	}
	if (k > 1)
		qsort(v, k, sizeof(*v), cmp_str);
	*names = v;
	*n = k;
	return 0;
}

struct timespec search_area_changed(struct search *s, const struct schema_collection *c)
{
	struct entry *e, *t;
	struct timespec latest = {0, 0};
	unsigned long gen = cache_generation(s->cache, c);
	double ttl = cache_ttl(s->cache);
	pthread_mutex_lock(&s->lock);
	HASH_ITER(hh, s->entries, e, t) {
		if (e->c != c || !e->l)
			continue;
		struct timespec when = e->l->changed;
		if (!fresh(s, e, gen)) {
			/* Gone from the names when its TTL ran out: a time that stays the
			 * same from one call to the next. */
			when = (struct timespec){.tv_sec = e->l->fetched_wall + (time_t)ttl + 1};
		}
		if (cache_time_after(when, latest))
			latest = when;
	}
	pthread_mutex_unlock(&s->lock);
	return latest;
}
