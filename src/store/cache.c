/* cache: TTL listings and records, single-flight fetches (see cache.h). */
#include "store/cache.h"

#include <assert.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uthash.h>

#include "net/api.h"
#include "base/arena.h"
#include "base/log.h"
#include "base/names.h"
#include "base/clock.h"
#include "base/events.h"
#include "base/flight.h"
#include "model/fastwire.h"
#include "model/jsontext.h"
#include "store/get.h"
#include "store/persist.h"

/* A listing is read page by page until a page holds fewer records than were
 * asked for.  The reference leaves open whether the service honours `count`
 * (kt always sends it, so we read it as honoured); a page longer than asked
 * means it ignores `count`, and then a page shorter than the first ends it.
 * Where a page starts is page_query's reading; a service that ignores it is
 * paging_ignored's. */
#define CACHE_MAX_PAGES 100000

/* A listing whose refresh failed is served stale and tried again after
 * this long (or the TTL, when shorter).  While the service is down or the
 * budget spent, api.c fails the try at once without a call. */
#define CACHE_STALE_RETRY 5.0

/* A fetch that just failed is not repeated for this long: the kernel queues
 * a directory's readers (and a page's) one behind the other, and each would
 * otherwise wait out its own timeout after the first. */
#define CACHE_FAIL_HOLD 1.0

/* stale_grace(): at least this long, else the TTL. */
#define CACHE_STALE_GRACE_MIN 60.0

/* The attribute timeout of an expired listing's files while it is served during
 * its refresh (cache_listing_ttl_left): long enough that an `ls -l` meanwhile
 * is answered from the kernel's caches, short enough to follow the refresh,
 * which tells the kernel of every change anyway. */
#define CACHE_STALE_ATTR 1.0

/* An unchanged listing is written to disk again at most this often (seconds). */
#define CACHE_REKEEP 60.0

/* The nice value of a refresh behind its readers (refresh_main). */
#define CACHE_REFRESH_NICE 10

/* Seconds a listing replaced by other content is kept for the directory reads
 * that began with it (cache_listing_version): one READDIR follows another at
 * once, unless the machine is very busy. */
#define CACHE_PREV_KEEP 10.0


struct cache_index {
	const char *id; /* borrowed from the record */
	size_t pos;
	UT_hash_handle hh;
};

/* A record fetched with GET one because its listing carried only part. */
struct detail {
	char *key; /* "<collection>/<id>" */
	struct cache_record *rec; /* NULL until fetched; kept while refetching */
	double fetched;
	struct flight fl;         /* never freed while the cache lives: waiters look at it */
	UT_hash_handle hh;
};

/* A record a search found (cache_found_put): served without its collection's listing
 * while it holds. */
struct found {
	char *key;                /* "<collection>/<id>" */
	struct cache_record *rec;
	double fetched;           /* the answer's fetch (cfg.now) */
	unsigned long gen;        /* its collection's invalidations then */
	UT_hash_handle hh;
};

/* Per listing slot: one per collection, then one per invoice filter
 * (slot_of); every field protected by cache->lock. */
struct coll_state {
	const struct schema_collection *c;
	const char *filter;   /* the API's ?filter=, NULL for the whole collection */
	struct cache_listing *cur;
	/* The listing cur replaced when their contents differ, until prev_until
	 * (cache_listing_version); and the last content version given. */
	struct cache_listing *prev;
	double prev_until;
	unsigned long versions;
	struct flight fl;
	bool forced;          /* refresh asked for */
	unsigned long invalidations; /* so a fetch can tell one came while it ran */
	/* Changes of ours under way (cache_change_begin), and begun in all: a
	 * listing fetched meanwhile may miss one, so it is not kept fresh. */
	unsigned changing;
	unsigned long changes;
	/* The last refresh failed: cur is served stale until retry_at. */
	bool stale;
	double retry_at;
	time_t stale_since;
	char why[200];
	/* The pages of the last fetch, to take their records again when a page comes
	 * back byte for byte the same (fetch_listing): a refresh of an unchanged
	 * listing then converts nothing.  Read and written only by the slot's
	 * flight (one fetch at a time), freed by cache_free. */
	struct page_memo *pages;
	size_t npages;
	struct cache_record **arrival; /* their records in arrival order, with a reference each */
	size_t narrival;
	/* When the listing was last handed to persist as fresh (wall clock), and whether
	 * no change of ours marked it since: an unchanged listing is written again at
	 * most every CACHE_REKEEP seconds (listing_keep). */
	time_t kept_at;
};

struct page_memo {
	uint64_t hash;
	size_t len;
	size_t first, n; /* its records: arrival[first .. first + n) */
	long elements;   /* the elements the page held (the paging rule reads it) */
};

struct cache {
	struct api *api;
	struct cache_config cfg;
	pthread_mutex_t lock; /* protects every field below, in coll_state and detail */
	pthread_cond_t done;  /* broadcast when any fetch ends */
	struct coll_state *colls; /* nslots: the collections in schema order, then filters */
	size_t nslots;
	struct detail *details;
	struct found *found;  /* records searches found, by key */
	unsigned long listing_hits, listing_fetches; /* for the status file's hit rate */
	/* Listing pages that came back the same and took their records again
	 * (memo_reuse); atomic: the fetch adds to it without the lock. */
	_Atomic unsigned long pages_reused;
	size_t loaded; /* listings read from disk at start */
	/* The service refused <name>/<lang>: list in its own language.  Written
	 * and read only by the fetch of a lang_path listing (one at a time: its
	 * slot's flight). */
	bool lang_refused;
	/* Refreshes running behind their readers (refresh_behind); cache_free
	 * waits for none to be left.  Protected by lock. */
	unsigned refreshing;
	bool quiesced; /* cache_quiesce: no refresh is started behind a reader any more */
	/* How listings page (enum cache_paging): cfg.paging until paging_ignored
	 * learns the service ignores it, then ALL or FIRST for the rest of the mount.
	 * paging_seen: that was learned (once: one fetch does it); paging_note: what
	 * the status file says of it, written once under lock. */
	_Atomic int paging;
	atomic_bool paging_seen;
	char paging_note[320];
};

static double now_mono(void)
{
	return clock_mono();
}

/* With cache->lock held: false when no fetch is in flight on @f; else waits
 * for it to end (base/flight.h). */
static bool wait_flight(struct cache *cache, struct flight *f)
{
	return flight_wait(f, &cache->lock, &cache->done);
}

static void end_flight(struct cache *cache, struct flight *f, int rc)
{
	flight_end(f, &cache->done, rc, cache->cfg.now());
}

/* True when the last fetch failed within CACHE_FAIL_HOLD. */
static bool failed_just_now(const struct cache *cache, const struct flight *f)
{
	return flight_failed_within(f, cache->cfg.now(), CACHE_FAIL_HOLD);
}

/* ---- records and listings ---------------------------------------------- */

/* facts_memo's value for "made: none" (a collection without facts, or no memory):
 * NULL means "not made yet". */
static struct facts facts_none;

/* Stores @f (NULL: none) as @r's facts unless another thread did first; returns
 * what @r holds then. */
static struct facts *facts_store(struct cache_record *r, struct facts *f)
{
	struct facts *expected = NULL, *want = f ? f : &facts_none;
	if (!atomic_compare_exchange_strong_explicit(&r->facts_memo, &expected, want,
						     memory_order_acq_rel, memory_order_acquire)) {
		free(f);
		want = expected;
	}
	return want;
}

const struct facts *cache_record_facts(struct cache_record *r)
{
	struct facts *f = atomic_load_explicit(&r->facts_memo, memory_order_acquire);
	if (!f) {
		cJSON *py = cJSON_ParseWithLength(r->text, r->len);
		f = facts_store(r, py ? facts_of(r->c, py) : NULL);
		cJSON_Delete(py);
	}
	return f == &facts_none ? NULL : f;
}

void cache_record_ref(struct cache_record *r)
{
	atomic_fetch_add_explicit((_Atomic int *)&r->refs, 1, memory_order_relaxed);
}

void cache_record_unref(struct cache_record *r)
{
	if (!r || atomic_fetch_sub_explicit((_Atomic int *)&r->refs, 1, memory_order_acq_rel) != 1)
		return;
	struct facts *f = atomic_load_explicit(&r->facts_memo, memory_order_acquire);
	if (f != &facts_none)
		free(f);
	if (r->wire_block)
		arena_block_put(r->wire_block);
	else if (!r->block)
		free(r->wire);
	if (r->block) {
		/* The record and its strings are one allocation from the block. */
		arena_block_put(r->block);
		return;
	}
	free(r->id);
	free(r->stem);
	free(r->text);
	free(r);
}

static uint32_t fnv1a(const char *s, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

/* ---- identifiers that cannot name a file ---------------------------------------- */

/* What a message shows of identifier @id, which came from the service and may hold
 * any byte: at most 40 of them, control bytes, quotes and backslashes as \xHH. */
static void id_shown(const char *id, char *out, size_t len)
{
	size_t o = 0, i;
	for (i = 0; i < 40 && id[i] && o + 5 < len; i++) {
		unsigned char b = (unsigned char)id[i];
		if (b < 0x20 || b == 0x7f || b == '"' || b == '\\')
			o += (size_t)snprintf(out + o, len - o, "\\x%02X", b);
		else
			out[o++] = (char)b;
	}
	if (id[i] && o + 4 < len) {
		memcpy(out + o, "\u2026", 3); /* an ellipsis: the id goes on */
		o += 3;
	}
	out[o] = '\0';
}

/* The file-name stem of record id @id, or NULL with the reason it has none in @why
 * (left empty on ENOMEM). */
static char *stem_of(const char *id, char *why, size_t whylen)
{
	char *stem = NULL, shown[200];
	int rc = names_stem(id, NAMES_STEM_MAX, &stem);
	why[0] = '\0';
	id_shown(id, shown, sizeof(shown));
	if (rc == -EINVAL)
		snprintf(why, whylen, "a record with the id \"%s\" is left out: \"\", \".\" and "
			 "\"..\" cannot be file names", shown);
	else if (rc == -ENAMETOOLONG)
		snprintf(why, whylen, "a record with an id of %zu bytes (\"%s\") is left out: its "
			 "file name would be longer than %d bytes", strlen(id), shown, NAME_MAX);
	return stem;
}

/* @id is one of the @ncut ids a NUL cut short (fastwire_nul_ids): the record may be
 * one whose id goes on past the NUL, or one the service lists beside such a record.
 * Either way it is not shown: shown, it would pass for the other. */
static bool id_was_cut(const char *id, char *const *cut, long ncut, char *why, size_t whylen)
{
	char shown[200];
	for (long i = 0; i < ncut; i++) {
		if (strcmp(cut[i], id) != 0)
			continue;
		id_shown(id, shown, sizeof(shown));
		snprintf(why, whylen, "a record whose id holds a NUL (\"%s\\x00\u2026\") is left "
			 "out: no file name can hold one, and cut there it would pass for "
			 "another record", shown);
		return true;
	}
	return false;
}

static void cuts_free(char **cut, long ncut)
{
	for (long i = 0; i < ncut; i++)
		free(cut[i]);
	free(cut);
}

/* A record of @c left out of its listing for @why: one line in the log and one in
 * the status file's errors (events_error does both).  The rest of the listing is
 * shown as usual.  A page that comes back the same takes its records again without
 * converting them (memo_reuse), so this is said once per change of the page. */
static void left_out(struct events *ev, const struct schema_collection *c, const char *why)
{
	char what[96];
	snprintf(what, sizeof(what), "list %s", c->name);
	events_error(ev, what, why);
}

/* Builds a record from its wire form; NULL when it has no identifier that can name a
 * file (the reason in @why), also when its id is one of the @ncut a NUL cut short (see
 * id_was_cut), or on ENOMEM (@why empty). */
static struct cache_record *record_new(const struct schema_collection *c, const cJSON *wire,
				       char *const *cut, long ncut, char *why, size_t whylen)
{
	struct cache_record *r = calloc(1, sizeof(*r));
	cJSON *py = NULL;
	why[0] = '\0';
	if (!r)
		return NULL;
	r->refs = 1;
	r->c = c;
	/* A single-object collection (balance) is one file named after it. */
	r->id = c->single ? strdup(c->name) : schema_record_id(c, wire);
	if (!r->id || !*r->id) {
		snprintf(why, whylen, "a record without a usable '%s' is left out",
			 c->id_field ? c->id_field : "id");
		goto fail;
	}
	if (id_was_cut(r->id, cut, ncut, why, whylen))
		goto fail;
	r->stem = stem_of(r->id, why, whylen);
	if (!r->stem)
		goto fail;
	py = schema_from_wire(c, wire);
	if (!py)
		goto fail;
	r->text = jt_format(py, &r->len);
	if (!r->text)
		goto fail;
	/* The file's time is the record's own date, so it is the same on every
	 * mount; the content-derived seconds within that day make an edit that
	 * keeps the size still change the mtime, which rsync and thumbnailers
	 * rely on. */
	r->date = schema_record_date(c, py);
	r->mtime = r->date + (time_t)(fnv1a(r->text, r->len) % 3600);
	r->whole = schema_record_is_whole(c, wire);
	/* An edit goes back under the names and in the forms the service used for
	 * this record (the API reference's correction of 2026-11-30): only records
	 * that can be edited keep them. */
	if ((c->methods & SCHEMA_M_PUT) && !(r->wire = cJSON_PrintUnformatted(wire)))
		goto fail;
	r->wire_len = r->wire ? strlen(r->wire) : 0;
	/* The tree is at hand: the facts now, rather than a parse at first use. */
	facts_store(r, facts_of(c, py));
	cJSON_Delete(py);
	return r;
fail:
	cJSON_Delete(py);
	r->refs = 1;
	cache_record_unref(r);
	return NULL;
}

/* What a page's conversion reuses from one record to the next. */
struct convert {
	struct events *events;   /* where a record left out is said (left_out) */
	struct fastwire_buf buf; /* fastwire's rendering */
	/* The page's body as a block (a big page): the records' wire points into it
	 * instead of a copy.  NULL: each record copies its wire. */
	struct arena_block *body;
	struct arena *arena;     /* the records' bytes, for a big page; NULL: malloc */
};

/* Builds a record from the wire text [@p, @p + @len) of one element of a listing
 * page through model/fastwire (no tree); NULL with *@rc -EAGAIN when the record
 * takes the reference path (record_new), -EINVAL when it was left out (its id
 * cannot name a file: said by left_out), or -ENOMEM.  With an arena, the record
 * and its strings are one allocation from it (r->block). */
static struct cache_record *record_new_fast(const struct schema_collection *c, const char *p,
					    size_t len, struct convert *cv, int *rc)
{
	struct fastwire_record fr;
	struct cache_record *r = NULL;
	char *stem = NULL, why[400];
	bool wire = c->methods & SCHEMA_M_PUT;
	*rc = fastwire_render(c, p, len, &cv->buf, &fr);
	if (*rc < 0)
		return NULL;
	stem = stem_of(fr.id, why, sizeof(why));
	if (!stem && why[0]) {
		left_out(cv->events, c, why);
		free(fr.id);
		*rc = -EINVAL;
		return NULL;
	}
	if (!stem)
		goto oom;
	if (cv->arena) {
		size_t idl = strlen(fr.id) + 1, stl = strlen(stem) + 1;
		struct arena_block *blk = NULL;
		bool copy = wire && !cv->body;
		char *m = arena_alloc(cv->arena, sizeof(*r) + idl + stl + fr.len + 1 +
							 (copy ? len + 1 : 0), &blk);
		if (!m)
			goto oom;
		r = (struct cache_record *)m;
		memset(r, 0, sizeof(*r));
		r->block = blk;
		m += sizeof(*r);
		r->id = memcpy(m, fr.id, idl);
		m += idl;
		r->stem = memcpy(m, stem, stl);
		m += stl;
		r->text = memcpy(m, fr.text, fr.len + 1);
		m += fr.len + 1;
		if (copy) {
			r->wire = memcpy(m, p, len);
			r->wire[len] = '\0';
		} else if (wire) {
			/* The wire stays where it came: in the page's body. */
			r->wire = (char *)p;
			arena_block_get(cv->body);
			r->wire_block = cv->body;
		}
		r->wire_len = wire ? len : 0;
		free(fr.id);
		free(stem);
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			goto oom;
		r->id = fr.id;
		r->stem = stem;
		fr.id = stem = NULL;
		r->text = malloc(fr.len + 1);
		/* The wire as the service sent it: the element's own bytes (what
		 * schema_to_wire_as reads back is the same JSON as record_new's
		 * compact print of it). */
		if (!r->text || (wire && !(r->wire = strndup(p, len))))
			goto oom;
		r->wire_len = wire ? len : 0;
		memcpy(r->text, fr.text, fr.len + 1);
	}
	r->refs = 1;
	r->c = c;
	r->len = fr.len;
	/* As record_new. */
	r->date = fr.date;
	r->mtime = r->date + (time_t)(fnv1a(r->text, r->len) % 3600);
	r->whole = fr.whole;
	return r;
oom:
	free(fr.id);
	free(stem);
	if (r)
		r->refs = 1;
	cache_record_unref(r);
	*rc = -ENOMEM;
	return NULL;
}

/* Builds a record from the text a state file kept (store/persist.h): @id,
 * @whole and the text as it was shown.  NULL when the text is not one JSON
 * object or not exactly the text this version renders for it (a file of
 * ours holds nothing else: whatever differs was not written by us). */
static struct cache_record *record_from_text(const struct schema_collection *c, const char *id,
					     bool whole, const char *text, size_t len,
					     const char *wire)
{
	struct cache_record *r = calloc(1, sizeof(*r));
	const char *end = NULL;
	char *again = NULL;
	size_t alen = 0;
	cJSON *py = NULL;
	if (!r)
		return NULL;
	r->refs = 1;
	r->c = c;
	py = cJSON_ParseWithOpts(text, &end, true);
	if (!py || !cJSON_IsObject(py) || end != text + len)
		goto fail;
	again = jt_format(py, &alen);
	if (!again || alen != len || memcmp(again, text, len) != 0)
		goto fail;
	r->id = strdup(id);
	/* An id the listing would have left out is no file of ours. */
	if (!r->id || names_stem(id, NAMES_STEM_MAX, &r->stem) < 0)
		goto fail;
	r->text = again;
	again = NULL;
	r->len = len;
	/* As record_new: the same date, mtime and facts as when it was fetched. */
	r->date = schema_record_date(c, py);
	r->mtime = r->date + (time_t)(fnv1a(r->text, r->len) % 3600);
	r->whole = whole;
	if (wire && (c->methods & SCHEMA_M_PUT) && !(r->wire = strdup(wire)))
		goto fail;
	r->wire_len = r->wire ? strlen(r->wire) : 0;
	facts_store(r, facts_of(c, py));
	cJSON_Delete(py);
	return r;
fail:
	free(again);
	cJSON_Delete(py);
	cache_record_unref(r);
	return NULL;
}

static int cmp_stem(const void *a, const void *b)
{
	const struct cache_record *const *x = a, *const *y = b;
	return strcmp((*x)->stem, (*y)->stem);
}

void cache_listing_unref(struct cache_listing *l)
{
	if (!l || atomic_fetch_sub_explicit((_Atomic int *)&l->refs, 1, memory_order_acq_rel) != 1)
		return;
	/* The index entries live in the records' allocation (listing_new). */
	HASH_CLEAR(hh, l->by_id);
	for (size_t i = 0; i < l->n; i++)
		cache_record_unref(l->recs[i]);
	free(l->recs);
	free(l);
}

ssize_t cache_listing_find(const struct cache_listing *l, const char *id)
{
	struct cache_index *ix = NULL;
	HASH_FIND_STR(l->by_id, id, ix);
	return ix ? (ssize_t)ix->pos : -1;
}

/* Records converted so far, while a listing's pages arrive. */
struct recs {
	struct cache_record **v;
	size_t n, cap;
};

static void recs_clear(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		cache_record_unref(rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* Appends @r to @rs (taking its reference); on ENOMEM @r is dropped. */
static int recs_push(struct recs *rs, struct cache_record *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct cache_record **v = realloc(rs->v, cap * sizeof(struct cache_record *));
		if (!v) {
			cache_record_unref(r);
			return -ENOMEM;
		}
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = r;
	return 0;
}

/* Converts one page of wire records into @rs right away, so that no more
 * than one page is ever held as parsed JSON (it takes ~7x its wire size).  A
 * record whose id is none of a file (or one of the @ncut a NUL cut short in the
 * page's text: fastwire_nul_ids) is left out, and said to @ev. */
static int recs_add(const struct schema_collection *c, const cJSON *items, struct recs *rs,
		    struct events *ev, char *const *cut, long ncut)
{
	const cJSON *w;
	char why[400];
	cJSON_ArrayForEach(w, items) {
		struct cache_record *r = record_new(c, w, cut, ncut, why, sizeof(why));
		if (!r && !why[0])
			return -ENOMEM;
		if (!r) {
			left_out(ev, c, why);
			continue;
		}
		int rc = recs_push(rs, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}


/* Takes ownership of the records in @rs (left empty), given in the order the service
 * listed them. */
static struct cache_listing *listing_new(const struct schema_collection *c, struct recs *rs)
{
	size_t n = rs->n, kept = 0;
	struct cache_listing *l = calloc(1, sizeof(*l));
	if (!l)
		goto fail;
	l->refs = 1;
	/* Records and their index in one allocation: freed together. */
	l->recs = calloc(1, n * (sizeof(struct cache_record *) + sizeof(struct cache_index)) + 1);
	if (!l->recs)
		goto fail;
	struct cache_index *ixs = (struct cache_index *)(l->recs + n);
	/* Two records with one id (the service's error): the first it listed is shown,
	 * whatever order the sort below leaves them in, and the others dropped. */
	for (size_t i = 0; i < n; i++) {
		struct cache_record *r = rs->v[i];
		struct cache_index *dup = NULL;
		HASH_FIND_STR(l->by_id, r->id, dup);
		if (dup) {
			char shown[200];
			id_shown(r->id, shown, sizeof(shown));
			log_msg(LOG_WARNING, "%s: the service lists two records with the id \"%s\": "
				"showing the first it listed", c ? c->name : "a view", shown);
			cache_record_unref(r);
			continue;
		}
		ixs[kept].id = r->id;
		HASH_ADD_KEYPTR(hh, l->by_id, ixs[kept].id, strlen(ixs[kept].id), &ixs[kept]);
		l->recs[kept++] = r;
	}
	l->n = kept;
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
	/* A service that lists in name order (most do: by number) needs no sort. */
	bool sorted = true;
	for (size_t i = 1; i < l->n && sorted; i++)
		sorted = cmp_stem(&l->recs[i - 1], &l->recs[i]) <= 0;
	if (!sorted)
		qsort(l->recs, l->n, sizeof(struct cache_record *), cmp_stem);
	for (size_t i = 0; i < l->n; i++) {
		struct cache_index *ix = NULL;
		if (sorted) {
			ixs[i].pos = i;
			continue;
		}
		HASH_FIND_STR(l->by_id, l->recs[i]->id, ix);
		if (ix)
			ix->pos = i;
	}
	return l;
fail:
	free(l);
	recs_clear(rs);
	return NULL;
}

static bool listing_same(const struct cache_listing *a, const struct cache_listing *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (a->recs[i] != b->recs[i] && (strcmp(a->recs[i]->stem, b->recs[i]->stem) != 0 ||
		    a->recs[i]->len != b->recs[i]->len ||
		    memcmp(a->recs[i]->text, b->recs[i]->text, a->recs[i]->len) != 0))
			return false;
	return true;
}

/* ---- kept on disk (store/persist.h) --------------------------------------- */

/* The name a listing slot's file has: "invoices", "invoices.open". */
static void slot_name(const struct schema_collection *c, const char *filter, char *buf,
		      size_t len)
{
	if (filter)
		snprintf(buf, len, "%s.%s", c->name, filter);
	else
		snprintf(buf, len, "%s", c->name);
}

/* A listing on its way to disk: what persist_save holds. */
struct kept {
	char name[96];
	struct cache_listing *l; /* a reference */
};

/* persist_render_fn of a struct kept (on persist's thread: the listing is
 * immutable, and the reference keeps it). */
static int listing_render(void *snap, time_t fetched, bool fresh, struct strbuf *out)
{
	const struct kept *k = snap;
	const struct cache_listing *l = k->l;
	persist_put_header(out, k->name, fetched, fresh, l->n);
	for (size_t i = 0; i < l->n && !out->oom; i++)
		persist_put_record(out, l->recs[i]->id, l->recs[i]->whole, l->recs[i]->text,
				   l->recs[i]->len, l->recs[i]->wire, l->recs[i]->wire_len);
	return 0;
}

static void listing_release(void *snap)
{
	struct kept *k = snap;
	cache_listing_unref(k->l);
	free(k);
}

/* Hands a reference of @l, fetched at @st's slot, to persist's writer.  Every
 * fetch is written (at most one per TTL per listing, and a newer one replaces
 * one still queued): the file's fetch time then stays the listing's, which is
 * what a remount's freshness and the offline ages are read from. */
static void listing_keep(struct cache *cache, const struct coll_state *st, struct cache_listing *l,
			 bool fresh)
{
	struct kept *k;
	if (!cache->cfg.persist || !(k = calloc(1, sizeof(*k))))
		return;
	slot_name(st->c, st->filter, k->name, sizeof(k->name));
	cache_listing_ref(l);
	k->l = l;
	persist_save(cache->cfg.persist, k->name, k, l->fetched_wall, fresh, listing_render,
		     listing_release);
}

/* ---- records fetched one by one, kept on disk ------------------------------------------ */

/* A record the listings carry only in part (schema's whole_marker: an invoice
 * listed without its lines) is fetched with a GET of its own: that copy is
 * kept in a state file of its own, "<collection>=<file stem>" beside the
 * listings (the same format: a listing of one record), so that a later mount
 * that cannot reach the service still reads it.  It is read back lazily, at
 * the record's first read in a mount (no directory scan), and only when it is
 * no older than the listing it would complete. */

/* The state file's name for record @id of @c (malloc'd), or NULL (ENOMEM, or
 * a name too long for a file). */
static char *record_name(const struct schema_collection *c, const char *id)
{
	char *stem = names_encode(id), *name = NULL;
	if (stem && strlen(c->name) + strlen(stem) < 200 &&
	    asprintf(&name, "%s=%s", c->name, stem) < 0)
		name = NULL;
	free(stem);
	return name;
}

struct kept_record {
	char *name;
	struct cache_record *r; /* a reference */
};

static int record_render(void *snap, time_t fetched, bool fresh, struct strbuf *out)
{
	const struct kept_record *k = snap;
	persist_put_header(out, k->name, fetched, fresh, 1);
	persist_put_record(out, k->r->id, true, k->r->text, k->r->len, k->r->wire,
			   k->r->wire_len);
	return 0;
}

static void record_release(void *snap)
{
	struct kept_record *k = snap;
	cache_record_unref(k->r);
	free(k->name);
	free(k);
}

/* Hands record @r of @c, just fetched with a GET of its own, to persist's
 * writer (queued: no reply waits for it). */
static void record_keep(struct cache *cache, const struct schema_collection *c,
			struct cache_record *r)
{
	struct kept_record *k;
	if (!cache->cfg.persist || !(k = calloc(1, sizeof(*k))))
		return;
	k->name = record_name(c, r->id);
	if (!k->name) {
		free(k);
		return;
	}
	cache_record_ref(r);
	k->r = r;
	persist_save(cache->cfg.persist, k->name, k, time(NULL), true, record_render,
		     record_release);
}

struct load_one {
	const struct schema_collection *c;
	const char *id;
	struct cache_record *r;
};

static int load_one_record(void *ud, const char *id, bool whole, const char *text, size_t len,
			   const char *wire)
{
	struct load_one *lo = ud;
	/* One whole record, the one the name says: anything else is not ours. */
	if (lo->r || !whole || strcmp(id, lo->id) != 0)
		return -EBADMSG;
	lo->r = record_from_text(lo->c, id, true, text, len, wire);
	return lo->r ? 0 : -EBADMSG;
}

/* Record @id of @c as record_keep kept it, when its fetch was no earlier than
 * listing @l's (an older copy may predate a change the listing shows), with
 * its age in seconds in *@age; else NULL.  A file that is not whole is
 * removed.  Reads a file: never with cache->lock held. */
static struct cache_record *record_load(struct cache *cache, const struct schema_collection *c,
					const char *id, const struct cache_listing *l,
					double *age)
{
	struct load_one lo = {.c = c, .id = id};
	struct persist_meta meta;
	char *name = cache->cfg.persist ? record_name(c, id) : NULL;
	char *path = name ? persist_path(cache->cfg.persist, name) : NULL;
	int rc = path ? persist_read(path, name, &meta, load_one_record, &lo) : -ENOENT;
	if (rc == 0 && (!lo.r || meta.count != 1))
		rc = -EBADMSG;
	if (rc == -EBADMSG) {
		log_msg(LOG_WARNING, "%s kept on disk is not whole or not of this version: removed",
			name);
		persist_remove(cache->cfg.persist, name);
	}
	if (rc == 0 && meta.fetched < l->fetched_wall)
		rc = -ESTALE;
	if (rc == 0) {
		*age = difftime(time(NULL), meta.fetched);
		if (*age < 0) /* the clock was set back: its age is not known */
			*age = cache->cfg.ttl;
	} else {
		cache_record_unref(lo.r);
		lo.r = NULL;
	}
	free(path);
	free(name);
	return lo.r;
}

struct load {
	const struct schema_collection *c;
	struct recs rs;
};

static int load_record(void *ud, const char *id, bool whole, const char *text, size_t len,
		       const char *wire)
{
	struct load *ld = ud;
	struct cache_record *r = record_from_text(ld->c, id, whole, text, len, wire);
	return r ? recs_push(&ld->rs, r) : -EBADMSG;
}

int cache_listing_load(const struct schema_collection *c, const char *filter, const char *path,
		       struct cache_listing **out, time_t *fetched, bool *fresh)
{
	struct load ld = {.c = c};
	struct persist_meta meta;
	char name[96];
	*out = NULL;
	slot_name(c, filter, name, sizeof(name));
	struct cache_listing *l = NULL;
	int rc = persist_read(path, name, &meta, load_record, &ld);
	/* A single-object collection is one record, named after it. */
	if (rc == 0 && c->single && (ld.rs.n != 1 || strcmp(ld.rs.v[0]->id, c->name) != 0))
		rc = -EBADMSG;
	if (rc == 0) {
		l = listing_new(c, &ld.rs);
		if (!l)
			rc = -ENOMEM;
	}
	recs_clear(&ld.rs);
	if (!l)
		return rc < 0 ? rc : -ENOMEM;
	l->fetched_wall = meta.fetched;
	*out = l;
	*fetched = meta.fetched;
	*fresh = meta.fresh;
	return 0;
}

/* ---- fetching ----------------------------------------------------------- */

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

/* The end of the JSON value starting at @p (just past it), or NULL when it
 * runs past @end unclosed.  Only brackets and strings matter here: cJSON
 * checks each value properly afterwards. */
/* Converts a page whose body is a top-level JSON array one element at a
 * time, so only the raw body and one record are ever parsed at once (a whole
 * page parsed with cJSON takes ~7x its wire size).  Returns the number of
 * elements, or -EIO when the body is not such an array. */
static long recs_add_elements(const struct schema_collection *c, const char *body, size_t len,
			      struct recs *rs, struct convert *cv)
{
	const char *p = jt_ws(body, body + len), *end = body + len;
	long n = 0;
	if (p == end || *p != '[')
		return -EIO;
	p = jt_ws(p + 1, end);
	if (p < end && *p == ']')
		return jt_ws(p + 1, end) == end ? 0 : -EIO;
	for (;;) {
		const char *e = jt_skip_value(p, end);
		if (!e)
			return -EIO;
		int frc;
		struct cache_record *fast = record_new_fast(c, p, (size_t)(e - p), cv, &frc);
		if (fast) {
			if (recs_push(rs, fast) < 0)
				return -ENOMEM;
			goto next;
		}
		if (frc == -ENOMEM)
			return -ENOMEM;
		if (frc == -EINVAL)
			goto next; /* left out */
		/* The reference path reads the id through cJSON, which ends it at a NUL. */
		char **cut = NULL;
		long ncut = fastwire_nul_ids(c, p, (size_t)(e - p), true, &cut);
		if (ncut < 0)
			return -ENOMEM;
		if (ncut > 0) {
			char why[400];
			(void)id_was_cut(cut[0], cut, ncut, why, sizeof(why));
			cuts_free(cut, ncut);
			left_out(cv->events, c, why);
			goto next;
		}
		cJSON *item = cJSON_ParseWithLength(p, (size_t)(e - p));
		if (!item)
			return -EIO;
		cJSON *one = cJSON_CreateArray();
		if (!one) {
			cJSON_Delete(item);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(one, item);
		int rc = recs_add(c, one, rs, cv->events, NULL, 0);
		cJSON_Delete(one);
		if (rc < 0)
			return rc;
next:
		n++;
		p = jt_ws(e, end);
		if (p < end && *p == ',') {
			p = jt_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == ']')
			return jt_ws(p + 1, end) == end ? n : -EIO;
		return -EIO;
	}
}

/* A page at least this big puts its records in an arena (base/arena.h), and keeps
 * its body as their wire (fetch_listing): the arena's first block holds ARENA_FIRST
 * times the page (the texts come out ~1.3 times the wire, with names and records
 * beside them), later ones a quarter of it, at least 4 MiB. */
#define CACHE_ARENA_PAGE ((size_t)256 << 10)
#define CACHE_ARENA_FIRST 1.45

static long recs_add_array(const struct schema_collection *c, const char *body, size_t len,
			   struct arena_block *body_block, struct recs *rs, struct events *ev)
{
	struct convert cv = {.events = ev, .body = body_block};
	if (len >= CACHE_ARENA_PAGE) {
		size_t next = len / 4 > ((size_t)4 << 20) ? len / 4 : (size_t)4 << 20;
		cv.arena = arena_new((size_t)((double)len * CACHE_ARENA_FIRST), next);
		if (!cv.arena)
			return -ENOMEM;
	}
	long n = recs_add_elements(c, body, len, rs, &cv);
	fastwire_buf_free(&cv.buf);
	arena_free(cv.arena);
	return n;
}

/* The records of a list body in any shape the service may send (a bare array one
 * element at a time, else parsed whole: schema_list_items), appended to @rs: the
 * number of elements, or -EIO (not a list) or -ENOMEM. */
static long recs_from_body(const struct schema_collection *c, const char *body, size_t len,
			   struct recs *rs, struct events *ev)
{
	size_t before = rs->n;
	long n = recs_add_array(c, body, len, NULL, rs, ev);
	if (n != -EIO)
		return n;
	while (rs->n > before)
		cache_record_unref(rs->v[--rs->n]);
	/* Parsed whole, cJSON would cut an id at a NUL: those ids are found first. */
	char **cut = NULL;
	long ncut = fastwire_nul_ids(c, body, len, false, &cut);
	if (ncut < 0)
		return -ENOMEM;
	cJSON *parsed = cJSON_ParseWithOpts(body, NULL, true);
	cJSON *items = parsed ? schema_list_items(parsed) : NULL;
	cJSON_Delete(parsed);
	int rc = -EIO;
	if (items) {
		n = cJSON_GetArraySize(items);
		rc = recs_add(c, items, rs, ev, cut, ncut);
		cJSON_Delete(items);
	}
	cuts_free(cut, ncut);
	return rc < 0 ? rc : n;
}

/* A 64-bit digest of a page's body: FNV-1a over 8-byte words, finished with a
 * multiply-xorshift, and the length beside it in the memo.  Not for an adversary:
 * for telling whether the service sent the same page again (~3 GB/s here, 5 ms for
 * 15 MB).  A changed page mistaken for the same one would need two bodies of one
 * length with one digest: about 2^-64 per page. */
static uint64_t page_hash(const char *p, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL ^ len;
	size_t i = 0;
	for (; i + 8 <= len; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		h = (h ^ w) * 0x100000001b3ULL;
		h ^= h >> 29;
	}
	for (; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
	h ^= h >> 32;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

static void memo_clear(struct coll_state *st)
{
	for (size_t i = 0; i < st->narrival; i++)
		cache_record_unref(st->arrival[i]);
	free(st->arrival);
	free(st->pages);
	st->arrival = NULL;
	st->pages = NULL;
	st->narrival = st->npages = 0;
}

/* With page @page's body hashing to @h (@len bytes): appends the records the last
 * fetch made of the same page to @rs (a reference each) and returns its element
 * count, or -1 when it was not the same. */
static long memo_reuse(const struct coll_state *st, long page, uint64_t h, size_t len,
		       struct recs *rs)
{
	const struct page_memo *m = page < (long)st->npages ? &st->pages[page] : NULL;
	if (!m || m->hash != h || m->len != len)
		return -1;
	if (rs->n + m->n > rs->cap) {
		size_t cap = rs->n + m->n + 64;
		struct cache_record **v = realloc(rs->v, cap * sizeof(struct cache_record *));
		if (!v)
			return -1;
		rs->v = v;
		rs->cap = cap;
	}
	for (size_t i = m->first; i < m->first + m->n; i++) {
		cache_record_ref(st->arrival[i]);
		rs->v[rs->n++] = st->arrival[i];
	}
	return m->elements;
}

/* Replaces @st's memo by this fetch's pages (@pages, taken) and the records of @rs
 * in arrival order (a reference each); on ENOMEM the slot just has none. */
static void memo_keep(struct coll_state *st, struct page_memo *pages, size_t npages,
		      const struct recs *rs)
{
	memo_clear(st);
	st->arrival = malloc((rs->n ? rs->n : 1) * sizeof(struct cache_record *));
	if (!st->arrival) {
		free(pages);
		return;
	}
	for (size_t i = 0; i < rs->n; i++) {
		cache_record_ref(rs->v[i]);
		st->arrival[i] = rs->v[i];
	}
	st->narrival = rs->n;
	st->pages = pages;
	st->npages = npages;
}

int cache_paging_parse(const char *name)
{
	static const char *const names[] = {
		[CACHE_PAGING_BOTH] = "both", [CACHE_PAGING_OFFSET] = "offset",
		[CACHE_PAGING_START] = "start", [CACHE_PAGING_ALL] = "all"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return (int)i;
	return -1;
}

/* The query of one listing page, after "<path>?" and the filter: how many records
 * and where the page starts.  A reading, kept here alone: the official documentation
 * names `start`, kt sends `offset`, and which one the service honours is not known.
 * So by default both go, with the same value: the one the service reads pages, and
 * the other it ignores, as PHP ignores a query parameter it does not read.
 * -o paging=offset|start sends one only (for a service found to refuse the other:
 * `factuurfs probe` says), -o paging=all asks count=-1, the whole list in one answer
 * (one public script's reading).  A service that honours none shows a second page
 * equal to the first: paging_ignored. */
static void page_query(enum cache_paging mode, long asked, long offset, char *buf, size_t len)
{
	switch (mode) {
	case CACHE_PAGING_ALL:
		snprintf(buf, len, "count=-1");
		break;
	case CACHE_PAGING_OFFSET:
		snprintf(buf, len, "count=%ld&offset=%ld", asked, offset);
		break;
	case CACHE_PAGING_START:
		snprintf(buf, len, "count=%ld&start=%ld", asked, offset);
		break;
	case CACHE_PAGING_FIRST:
		snprintf(buf, len, "count=%ld", asked);
		break;
	default:
		snprintf(buf, len, "count=%ld&offset=%ld&start=%ld", asked, offset, offset);
	}
}

/* The second page of slot @st came back as its first: the service ignores where we
 * asked the page to start.  @rs holds the first page's records (the repeat dropped);
 * @prefix is the path up to and including '?' and the filter.  Once per mount (the
 * first fetch to see it; later fetches page as it learned): one call with count=-1.
 * When that brings more records than the first page, without a repeat, they replace
 * @rs and every later listing asks count=-1 (one call); else every later listing asks
 * for its first page only.  Said once, in the log and in the status file (cache
 * "paging"), with what it means for the listings. */
static void paging_ignored(struct cache *cache, struct coll_state *st, const char *what,
			   const char *prefix, struct recs *rs)
{
	int was = atomic_load(&cache->paging);
	bool seen = false;
	if (was == CACHE_PAGING_ALL || was == CACHE_PAGING_FIRST ||
	    !atomic_compare_exchange_strong(&cache->paging_seen, &seen, true))
		return;
	char path[320], note[sizeof(cache->paging_note)];
	struct recs all = {0};
	struct api_answer resp;
	snprintf(path, sizeof(path), "%scount=-1", prefix);
	int rc = store_get(cache->api, cache->cfg.events, what, path, &resp);
	long n = rc == 0 ? recs_from_body(st->c, resp.body, resp.len, &all, cache->cfg.events) : -1;
	api_answer_clear(&resp);
	const char *ignored = was == CACHE_PAGING_OFFSET ? "offset"
			      : was == CACHE_PAGING_START ? "start"
							  : "offset and start";
	if (n > 0 && all.n > rs->n) {
		snprintf(note, sizeof(note), "the service ignores %s (the second page of %s was "
			 "its first again): listings ask count=-1, everything in one answer",
			 ignored, st->c->name);
		atomic_store(&cache->paging, CACHE_PAGING_ALL);
		struct recs tmp = *rs;
		*rs = all;
		all = tmp;
	} else {
		snprintf(note, sizeof(note), "the service ignores %s (the second page of %s was "
			 "its first again) and count=-1 brought no more: each listing shows its "
			 "first page only, %zu records of %s", ignored, st->c->name, rs->n,
			 st->c->name);
		atomic_store(&cache->paging, CACHE_PAGING_FIRST);
	}
	recs_clear(&all);
	pthread_mutex_lock(&cache->lock);
	snprintf(cache->paging_note, sizeof(cache->paging_note), "%s", note);
	pthread_mutex_unlock(&cache->lock);
	log_msg(LOG_WARNING, "%s", note);
	events_touch(cache->cfg.events);
}

/* Lists slot @st (one call per page).  A page that comes back as the last fetch had it
 * takes that fetch's records again instead of being converted (memo_reuse). */
static int fetch_listing(struct cache *cache, struct coll_state *st, struct cache_listing **out)
{
	const struct schema_collection *c = st->c;
	const char *filter = st->filter;
	char what[96], path[256];
	struct recs rs = {0};
	struct page_memo *pages = NULL;
	size_t npages = 0;
	int rc = 0;
	long asked = cache->cfg.page_size, first = -1;
	/* How this fetch pages, all through: what paging_ignored learns counts
	 * from the next fetch on. */
	enum cache_paging mode = (enum cache_paging)atomic_load(&cache->paging);
	char prefix[160] = "", query[96];
	/* The ids a NUL cuts short in a page parsed whole (fastwire_nul_ids). */
	char **cut = NULL;
	long ncut = 0;
	char why[400];
	if (filter)
		snprintf(what, sizeof(what), "list %s?filter=%s", c->name, filter);
	else
		snprintf(what, sizeof(what), "list %s", c->name);

	for (long page = 0, offset = 0; page < CACHE_MAX_PAGES; page++) {
		struct api_answer resp;
		cJSON *body = NULL, *items = NULL;
		size_t before = rs.n;
		long n;
		/* countrylist/<lang>: the names in the user's language (two public
		 * clients' reading); the service's own language when it has none. */
		bool lang = c->lang_path && cache->cfg.lang[0] && !cache->lang_refused;
		char base[64];
		snprintf(base, sizeof(base), "%s%s%s", c->name, lang ? "/" : "",
			 lang ? cache->cfg.lang : "");
		snprintf(prefix, sizeof(prefix), "%s?%s%s%s", base, filter ? "filter=" : "",
			 filter ? filter : "", filter ? "&" : "");
		page_query(mode, asked, offset, query, sizeof(query));
		if (c->single)
			snprintf(path, sizeof(path), "%s", c->name);
		else
			snprintf(path, sizeof(path), "%s%s", prefix, query);
		if (lang && page == 0) {
			rc = api_call(cache->api, "GET", path, NULL, 0, &resp);
			if (rc == -ENOENT || rc == -EPERM || rc == -EINVAL) {
				log_msg(LOG_INFO, "%s: GET %s: %s; listing it in the service's "
					"own language", what, base, resp.message);
				api_answer_clear(&resp);
				cache->lang_refused = true;
				/* The same page, without the language. */
				snprintf(prefix, sizeof(prefix), "%s?", c->name);
				snprintf(path, sizeof(path), "%s%s", prefix, query);
				rc = store_get(cache->api, cache->cfg.events, what, path, &resp);
			} else if (rc < 0) {
				store_failed(cache->cfg.events, what, &resp);
			}
		} else {
			rc = store_get(cache->api, cache->cfg.events, what, path, &resp);
		}
		/* A big page's body stays, as its records' wire (of a collection that
		 * keeps the wire: one that can be edited). */
		struct arena_block *bb = NULL;
		const char *raw = resp.body;
		uint64_t h = rc == 0 ? page_hash(resp.body, resp.len) : 0;
		size_t plen = resp.len;
		n = rc == 0 && !c->single ? memo_reuse(st, page, h, plen, &rs) : -1;
		if (n >= 0) {
			/* The same page as last time: its records again. */
			atomic_fetch_add_explicit(&cache->pages_reused, 1, memory_order_relaxed);
		} else if (rc == 0 && !c->single) {
			if ((c->methods & SCHEMA_M_PUT) && resp.len >= CACHE_ARENA_PAGE &&
			    (bb = arena_adopt(resp.body, resp.len)))
				resp.body = NULL; /* the block's now */
			n = recs_add_array(c, raw, resp.len, bb, &rs, cache->cfg.events);
		} else {
			n = -EIO;
		}
		if (rc == 0 && n == -EIO) {
			/* Not a bare array (or balance): the other shapes, parsed whole. */
			while (rs.n > before) /* what it converted before giving up */
				cache_record_unref(rs.v[--rs.n]);
			body = cJSON_ParseWithOpts(raw, NULL, true);
			ncut = body && !c->single ? fastwire_nul_ids(c, raw, plen, false, &cut) : 0;
			if (ncut < 0) {
				cJSON_Delete(body);
				body = NULL;
				rc = -ENOMEM;
				ncut = 0;
			}
		}
		arena_block_put(bb);
		api_answer_clear(&resp);
		if (rc < 0)
			goto out;
		if (n == -EIO) {
			if (!body) {
				events_error(cache->cfg.events, what, "the service sent a body that is not JSON");
				rc = -EIO;
				goto out;
			}
			if (c->single) {
				/* balance: one object, shown as one file. */
				struct cache_record *r = record_new(c, body, NULL, 0, why,
								       sizeof(why));
				cJSON_Delete(body);
				if (r && (rc = recs_push(&rs, r)) < 0)
					goto out;
				break;
			}
			items = schema_list_items(body);
			cJSON_Delete(body);
			if (!items) {
				events_error(cache->cfg.events, what, "the service sent something that is not a list");
				rc = -EIO;
				goto out;
			}
			n = cJSON_GetArraySize(items);
			rc = recs_add(c, items, &rs, cache->cfg.events, cut, ncut);
			cJSON_Delete(items);
			cuts_free(cut, ncut);
			cut = NULL;
			ncut = 0;
		} else if (n < 0) {
			rc = (int)n;
		}
		if (rc < 0)
			goto out;
		/* A server that ignores where the page starts sends the first page
		 * again: stop rather than loop or show every record twice. */
		if (page > 0 && rs.n > before && before > 0 &&
		    !strcmp(rs.v[before]->id, rs.v[0]->id)) {
			while (rs.n > before)
				cache_record_unref(rs.v[--rs.n]);
			paging_ignored(cache, st, what, prefix, &rs);
			break;
		}
		struct page_memo *more = realloc(pages, (npages + 1) * sizeof(*pages));
		if (more) {
			pages = more;
			pages[npages++] = (struct page_memo){.hash = h, .len = plen, .first = before,
							     .n = rs.n - before, .elements = n};
		}
		if (first < 0)
			first = n;
		offset += n;
		/* count=-1 is the whole list; a mount that learned paging is ignored
		 * asks for the first page alone. */
		if (mode == CACHE_PAGING_ALL || mode == CACHE_PAGING_FIRST)
			break;
		if (n == 0 || (n < asked && first <= asked) || (first > asked && n < first))
			break;
	}
	/* A page the memo could not hold leaves a memo that does not match the
	 * listing: none then. */
	if (pages && npages && pages[npages - 1].first + pages[npages - 1].n == rs.n) {
		memo_keep(st, pages, npages, &rs);
		pages = NULL;
	} else {
		memo_clear(st);
	}
	*out = listing_new(c, &rs);
	if (!*out)
		rc = -ENOMEM;
	/* A big listing's parse left freed pages behind: give them back. */
	if (*out && (*out)->n > 1000)
		malloc_trim(0);
out:
	cuts_free(cut, ncut);
	free(pages);
	recs_clear(&rs);
	return rc;
}

/* The slot of @c narrowed by @filter (NULL: the whole collection), or NULL
 * when the filter is none of facts_filter_at()'s. */
static struct coll_state *slot_of(struct cache *cache, const struct schema_collection *c,
				  const char *filter)
{
	if (!filter)
		return &cache->colls[schema_collection_index(c)];
	for (size_t i = schema_ncollections(); i < cache->nslots; i++)
		if (cache->colls[i].c == c && !strcmp(cache->colls[i].filter, filter))
			return &cache->colls[i];
	return NULL;
}

/* How long past its TTL a listing is still answered at once while a refresh runs
 * behind it (listing_get): an expired listing younger than ttl + this is served,
 * older ones are waited for like a first listing.  The bound of staleness in
 * docs/SEMANTICS.md ("Freshness"). */
static double stale_grace(const struct cache *cache)
{
	return cache->cfg.ttl > CACHE_STALE_GRACE_MIN ? cache->cfg.ttl : CACHE_STALE_GRACE_MIN;
}

/* The fetch of slot @st that listing_get began (flight_begin, with @inv0, @chg0 and
 * @quiet0 read then), and its publication; takes cache->lock and returns with it
 * released.  0 with a reference in *@out (the new listing, or the stale one when the
 * fetch failed and @strict is false), else -errno. */
static int listing_fetch(struct cache *cache, struct coll_state *st, unsigned long inv0,
			 unsigned long chg0, bool quiet0, bool strict, struct cache_listing **out)
{
	const struct schema_collection *c = st->c;
	struct cache_listing *fresh = NULL, *old = NULL;
	int rc = fetch_listing(cache, st, &fresh);

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
	end_flight(cache, &st->fl, rc);
	if (rc < 0) {
		if (st->cur) {
			/* Serve what we have, marked stale, and try again later. */
			double wait = cache->cfg.ttl < CACHE_STALE_RETRY ? cache->cfg.ttl
									 : CACHE_STALE_RETRY;
			if (!st->stale) {
				log_msg(LOG_WARNING,
					"serving the cached listing of %s: refresh failed (%s)",
					c->name, log_strerror(-rc));
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
			atomic_fetch_add_explicit((_Atomic int *)&st->cur->refs, 1,
						  memory_order_relaxed);
			*out = st->cur;
			pthread_mutex_unlock(&cache->lock);
			return 0;
		}
		pthread_mutex_unlock(&cache->lock);
		return rc;
	}
	if (st->stale)
		log_msg(LOG_INFO, "%s listed again: no longer stale", c->name);
	st->stale = false;
	fresh->fetched = cache->cfg.now();
	fresh->fetched_wall = time(NULL);
	old = st->cur;
	struct cache_listing *dropped = NULL;
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
		listing_keep(cache, st, fresh, keep_fresh);
	} else if (cache->cfg.persist && !st->filter && c->whole_marker) {
		/* Not written, but fetched again all the same: what was kept of its
		 * records one by one is older than this listing (record_keep). */
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
	if (listing_fetch(cache, job->st, job->inv0, job->chg0, job->quiet0, false, &l) == 0)
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
static bool refresh_behind(struct cache *cache, struct coll_state *st, unsigned long inv0,
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

/* @strict (cache_listing_check): a failed fetch is the caller's error, not
 * the stale copy's success.
 *
 * An expired listing is answered at once while one refresh runs behind it
 * (no browse waits on a refresh), unless a change of ours dropped it (then
 * the reader waits: it must see its own write), or it is older than the TTL
 * plus stale_grace() (then it waits as for a first listing).  The refresh
 * tells the kernel what changed when it lands (cfg.changed). */
static int listing_get(struct cache *cache, struct coll_state *st, struct cache_listing **out,
		       bool strict)
{
	int rc = 0;

	pthread_mutex_lock(&cache->lock);
	for (;;) {
		double now = cache->cfg.now();
		if (st->cur && !st->forced && now - st->cur->fetched < cache->cfg.ttl)
			goto hit;
		if (st->cur && st->stale && !st->forced && now < st->retry_at)
			goto hit;
		/* Expired (or its last refresh failed), not dropped by a change of
		 * ours, and recent enough: the answer now, the refresh behind. */
		if (st->cur && !st->forced && !strict && cache->cfg.refresh_behind &&
		    (st->stale || now - st->cur->fetched < cache->cfg.ttl + stale_grace(cache))) {
			if (!st->fl.loading) {
				flight_begin(&st->fl);
				cache->listing_fetches++;
				if (!refresh_behind(cache, st, st->invalidations, st->changes,
						    st->changing == 0)) {
					/* No thread: this reader fetches, as before. */
					unsigned long inv0 = st->invalidations, chg0 = st->changes;
					bool quiet0 = st->changing == 0;
					pthread_mutex_unlock(&cache->lock);
					return listing_fetch(cache, st, inv0, chg0, quiet0, strict,
							     out);
				}
			}
			goto hit;
		}
		if (!st->cur && !st->forced && failed_just_now(cache, &st->fl)) {
			rc = st->fl.rc;
			pthread_mutex_unlock(&cache->lock);
			return rc;
		}
		if (!wait_flight(cache, &st->fl))
			break;
		if (st->fl.rc < 0 && !st->cur) {
			rc = st->fl.rc;
			pthread_mutex_unlock(&cache->lock);
			return rc;
		}
		/* Not a result that predates an invalidation (a write of ours):
		 * it could miss the change, so look again. */
		if (st->cur && !st->forced)
			goto hit;
	}
	flight_begin(&st->fl);
	cache->listing_fetches++;
	unsigned long inv0 = st->invalidations, chg0 = st->changes;
	bool quiet0 = st->changing == 0;
	pthread_mutex_unlock(&cache->lock);
	return listing_fetch(cache, st, inv0, chg0, quiet0, strict, out);
hit:
	cache->listing_hits++;
	atomic_fetch_add_explicit((_Atomic int *)&st->cur->refs, 1, memory_order_relaxed);
	*out = st->cur;
	pthread_mutex_unlock(&cache->lock);
	return rc;
}

int cache_listing_get(struct cache *cache, const struct schema_collection *c,
		      struct cache_listing **out)
{
	return listing_get(cache, slot_of(cache, c, NULL), out, false);
}

int cache_listing_check(struct cache *cache, const struct schema_collection *c,
			struct cache_listing **out)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	st->forced = true;
	pthread_mutex_unlock(&cache->lock);
	return listing_get(cache, st, out, true);
}

int cache_listing_get_filtered(struct cache *cache, const struct schema_collection *c,
			       const char *filter, struct cache_listing **out)
{
	struct coll_state *st = slot_of(cache, c, filter);
	return st ? listing_get(cache, st, out, false) : -ENOENT;
}

bool cache_has_filtered(struct cache *cache, const struct schema_collection *c,
			const char *filter)
{
	pthread_mutex_lock(&cache->lock);
	struct coll_state *st = slot_of(cache, c, filter);
	bool held = st && st->cur != NULL;
	pthread_mutex_unlock(&cache->lock);
	return held;
}

bool cache_has_listing(struct cache *cache, const struct schema_collection *c)
{
	return cache_has_filtered(cache, c, NULL);
}

void cache_listing_ref(struct cache_listing *l)
{
	atomic_fetch_add_explicit((_Atomic int *)&l->refs, 1, memory_order_relaxed);
}

struct cache_listing *cache_listing_subset(const struct cache_listing *l, const size_t *pos,
					   size_t n)
{
	struct recs rs = {0};
	rs.v = malloc((n ? n : 1) * sizeof(struct cache_record *));
	if (!rs.v)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cache_record_ref(l->recs[pos[i]]);
		rs.v[rs.n++] = l->recs[pos[i]];
	}
	rs.cap = n;
	struct cache_listing *sub = listing_new(NULL, &rs);
	if (sub) {
		sub->fetched = l->fetched;
		sub->fetched_wall = l->fetched_wall;
		sub->changed = l->changed;
	}
	return sub;
}

double cache_listing_ttl_left(const struct cache *cache, const struct cache_listing *l)
{
	double now = cache->cfg.now(), left = l->fetched + cache->cfg.ttl - now;
	if (left > 0)
		return left;
	/* Expired but still answered while it refreshes (listing_get): a short
	 * while, never past the TTL itself. */
	if (cache->cfg.refresh_behind && now - l->fetched < cache->cfg.ttl + stale_grace(cache))
		return cache->cfg.ttl < CACHE_STALE_ATTR ? cache->cfg.ttl : CACHE_STALE_ATTR;
	return 0;
}

struct cache_listing *cache_listing_peek(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	struct cache_listing *l = cache->colls[schema_collection_index(c)].cur;
	if (l)
		atomic_fetch_add_explicit((_Atomic int *)&l->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&cache->lock);
	return l;
}

struct cache_listing *cache_listing_version(struct cache *cache, const struct schema_collection *c,
					    unsigned long version)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	struct cache_listing *l = NULL, *expired = NULL;
	pthread_mutex_lock(&cache->lock);
	if (st->prev && cache->cfg.now() >= st->prev_until) {
		expired = st->prev;
		st->prev = NULL;
	}
	if (st->cur && st->cur->version == version)
		l = st->cur;
	else if (st->prev && st->prev->version == version)
		l = st->prev;
	if (l)
		cache_listing_ref(l);
	pthread_mutex_unlock(&cache->lock);
	cache_listing_unref(expired);
	return l;
}

unsigned long cache_listing_version_now(struct cache *cache, const struct schema_collection *c)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	unsigned long v = st->cur ? st->cur->version : 0;
	pthread_mutex_unlock(&cache->lock);
	return v;
}

struct cache_listing *cache_listing_held(struct cache *cache, const struct schema_collection *c)
{
	struct coll_state *st = slot_of(cache, c, NULL);
	pthread_mutex_lock(&cache->lock);
	bool ours = st->cur && st->forced;
	pthread_mutex_unlock(&cache->lock);
	struct cache_listing *l = NULL;
	if (ours && cache_listing_get(cache, c, &l) == 0)
		return l;
	return cache_listing_peek(cache, c);
}

/* The files kept of the slots of @c (every slot when NULL) are no longer
 * fresh: a remount lists them again.  Without cache->lock (a syscall each);
 * the slots never change. */
static void unkeep(struct cache *cache, const struct schema_collection *c)
{
	char name[96];
	if (!cache->cfg.persist)
		return;
	for (size_t i = 0; i < cache->nslots; i++) {
		if (c && cache->colls[i].c != c)
			continue;
		slot_name(cache->colls[i].c, cache->colls[i].filter, name, sizeof(name));
		persist_invalidate(cache->cfg.persist, name);
	}
}

void cache_invalidate(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	/* The collection and its filtered listings: a change moves records
	 * between filters (a payment). */
	for (size_t i = 0; i < cache->nslots; i++) {
		if (cache->colls[i].c != c)
			continue;
		cache->colls[i].forced = true;
		cache->colls[i].invalidations++;
		cache->colls[i].kept_at = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	unkeep(cache, c);
}

void cache_change_begin(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++) {
		if (cache->colls[i].c != c)
			continue;
		cache->colls[i].changing++;
		cache->colls[i].changes++;
		cache->colls[i].kept_at = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	/* Whatever its outcome (an answer lost, the daemon killed meanwhile),
	 * a remount does not trust what was kept before it. */
	unkeep(cache, c);
}

void cache_change_end(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++)
		if (cache->colls[i].c == c && cache->colls[i].changing > 0)
			cache->colls[i].changing--;
	pthread_mutex_unlock(&cache->lock);
}

void cache_refresh_all(struct cache *cache)
{
	struct detail *d, *tmp;
	pthread_mutex_lock(&cache->lock);
	for (size_t i = 0; i < cache->nslots; i++) {
		cache->colls[i].forced = true;
		cache->colls[i].invalidations++;
		cache->colls[i].kept_at = 0;
	}
	HASH_ITER(hh, cache->details, d, tmp) {
		if (d->rec)
			d->fetched = -INFINITY;
	}
	pthread_mutex_unlock(&cache->lock);
	unkeep(cache, NULL);
}

/* ---- single records ----------------------------------------------------- */

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
		id_shown((*out)->id, shown, sizeof(shown));
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
	cuts_free(cut, ncut);
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
 * (record_load) at this mount's first read of it, which then stands in as a
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
	struct cache_record *kept = record_load(cache, c, id, l, &age);
	pthread_mutex_lock(&cache->lock);
	HASH_FIND_STR(cache->details, key, d);
	if (kept && !d) {
		/* (else another reader got there first: its entry stands) */
		d = calloc(1, sizeof(*d));
		if (d && (d->key = strdup(key))) {
			d->rec = kept;
			kept = NULL;
			/* No earlier than the listing it completes (the file's
			 * times are whole seconds; record_load saw that it is
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
	(void)detail_from_disk(cache, c, id, key, l); /* the loop below finds it */
	for (;;) {
		HASH_FIND_STR(cache->details, key, d);
		if (!d)
			break;
		if (detail_fresh(cache, d, l)) {
			cache_record_ref(d->rec);
			*out = d->rec;
			pthread_mutex_unlock(&cache->lock);
			goto out;
		}
		if (!wait_flight(cache, &d->fl)) {
			/* Failed just now, since this listing: the same outcome
			 * for the reader queued behind (as for listings). */
			if (!d->rec && failed_just_now(cache, &d->fl) && d->fl.ended >= l->fetched) {
				rc = d->fl.rc;
				pthread_mutex_unlock(&cache->lock);
				goto out;
			}
			break; /* stale or failed before: fetch again below */
		}
		if (d->fl.rc < 0 && !d->rec) {
			rc = d->fl.rc;
			pthread_mutex_unlock(&cache->lock);
			goto out;
		}
		if (d->rec) {
			cache_record_ref(d->rec);
			*out = d->rec;
			pthread_mutex_unlock(&cache->lock);
			goto out;
		}
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
	pthread_mutex_unlock(&cache->lock);

	struct cache_record *r = NULL;
	rc = fetch_one(cache, c, id, &r);

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
	end_flight(cache, &d->fl, rc);
	pthread_mutex_unlock(&cache->lock);
	if (rc == 0 && r)
		record_keep(cache, c, r);
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

/* ---- records a search found ------------------------------------------------ */

int cache_listing_parse(struct cache *cache, const struct schema_collection *c,
			const char *body, size_t len, struct cache_listing **out)
{
	struct recs rs = {0};
	long n = recs_from_body(c, body, len, &rs, cache->cfg.events);
	if (n < 0) {
		recs_clear(&rs);
		return (int)n;
	}
	*out = listing_new(c, &rs);
	if (!*out)
		return -ENOMEM;
	(*out)->fetched = cache->cfg.now();
	(*out)->fetched_wall = time(NULL);
	clock_gettime(CLOCK_REALTIME, &(*out)->changed);
	return 0;
}

/* With cache->lock held: drops the found records older than @age seconds (all of
 * them for INFINITY).  The table is rebuilt with the others, every entry taken off
 * at the head: what the static analysers can follow of uthash (#128). */
static void found_sweep(struct cache *cache, double age)
{
	struct found *f, *ft, *kept = NULL;
	double now = cache->cfg.now();
	HASH_ITER(hh, cache->found, f, ft) {
		assert(!f->hh.prev);
		HASH_DEL(cache->found, f);
		if (age != INFINITY && now - f->fetched < age) {
			HASH_ADD_KEYPTR(hh, kept, f->key, strlen(f->key), f);
			continue;
		}
		cache_record_unref(f->rec);
		free(f->key);
		free(f);
	}
	cache->found = kept;
}

/* The found records kept at most: past it the ones older than the TTL go first. */
#define CACHE_FOUND_MAX 20000

void cache_found_put(struct cache *cache, const struct schema_collection *c,
		     const struct cache_listing *l)
{
	pthread_mutex_lock(&cache->lock);
	if (HASH_COUNT(cache->found) + l->n > CACHE_FOUND_MAX)
		found_sweep(cache, cache->cfg.ttl);
	unsigned long gen = cache->colls[schema_collection_index(c)].invalidations;
	for (size_t i = 0; i < l->n && HASH_COUNT(cache->found) < CACHE_FOUND_MAX; i++) {
		struct cache_record *r = l->recs[i];
		struct found *f = NULL;
		char *key = NULL;
		if (asprintf(&key, "%s/%s", c->name, r->id) < 0)
			break;
		HASH_FIND_STR(cache->found, key, f);
		if (f) {
			free(key);
		} else if ((f = calloc(1, sizeof(*f)))) {
			f->key = key;
			HASH_ADD_KEYPTR(hh, cache->found, f->key, strlen(f->key), f);
		} else {
			free(key);
			break;
		}
		if (f->rec && f->fetched > l->fetched)
			continue; /* a later answer's copy stands */
		cache_record_ref(r);
		cache_record_unref(f->rec);
		f->rec = r;
		f->fetched = l->fetched;
		f->gen = gen;
	}
	pthread_mutex_unlock(&cache->lock);
}

int cache_found_peek(struct cache *cache, const struct schema_collection *c, const char *id,
		     struct cache_record **out, double *ttl_left)
{
	struct found *f = NULL;
	char *key = NULL;
	int rc = -ENOENT;
	if (asprintf(&key, "%s/%s", c->name, id) < 0)
		return -ENOMEM;
	pthread_mutex_lock(&cache->lock);
	const struct coll_state *st = &cache->colls[schema_collection_index(c)];
	HASH_FIND_STR(cache->found, key, f);
	double left = f ? f->fetched + cache->cfg.ttl - cache->cfg.now() : 0;
	/* A listing fetched since says what there is; a change of ours makes it stale. */
	if (f && f->rec && left > 0 && f->gen == st->invalidations &&
	    !(st->cur && st->cur->fetched > f->fetched)) {
		cache_record_ref(f->rec);
		*out = f->rec;
		if (ttl_left)
			*ttl_left = left;
		rc = 0;
	}
	pthread_mutex_unlock(&cache->lock);
	free(key);
	return rc;
}

unsigned long cache_generation(struct cache *cache, const struct schema_collection *c)
{
	pthread_mutex_lock(&cache->lock);
	unsigned long g = cache->colls[schema_collection_index(c)].invalidations;
	pthread_mutex_unlock(&cache->lock);
	return g;
}

double cache_now(const struct cache *cache)
{
	return cache->cfg.now();
}

double cache_ttl(const struct cache *cache)
{
	return cache->cfg.ttl;
}

/* ---- life cycle and status ---------------------------------------------- */

/* Starts slot @st from the listing kept on disk, if there is a whole one: fresh
 * for what is left of the TTL since its fetch (wall clock), else expired, to
 * be listed again on first use and served stale while that fails, as any
 * listing is.  A refused file is removed: it is listed again, never trusted. */
static void load_slot(struct cache *cache, struct coll_state *st)
{
	struct cache_listing *l = NULL;
	time_t fetched = 0;
	bool fresh = false;
	char name[96];
	if (!cache->cfg.persist)
		return;
	slot_name(st->c, st->filter, name, sizeof(name));
	char *path = persist_path(cache->cfg.persist, name);
	int rc = path ? cache_listing_load(st->c, st->filter, path, &l, &fetched, &fresh) : -ENOMEM;
	free(path);
	if (rc == -EBADMSG) {
		log_msg(LOG_WARNING, "the listing of %s kept on disk is not whole or not of this "
			"version: removed, to be listed again", name);
		persist_remove(cache->cfg.persist, name);
	}
	if (rc < 0)
		return;
	double age = difftime(time(NULL), fetched);
	/* A fetch time ahead of the clock (it was set back): its age is not
	 * known, so it is not fresh. */
	if (age < 0)
		age = cache->cfg.ttl;
	l->fetched = cache->cfg.now() - age;
	/* The directory's time until its content changes, as for a first listing. */
	l->changed = (struct timespec){.tv_sec = cache->cfg.started};
	st->cur = l;
	l->version = ++st->versions;
	/* A change of ours that it may miss: listed again at first use. */
	st->forced = !fresh;
	cache->loaded++;
}

int cache_new(struct cache **out, struct api *api, const struct cache_config *cfg)
{
	struct cache *cache = calloc(1, sizeof(*cache));
	if (!cache)
		return -ENOMEM;
	cache->api = api;
	cache->cfg = *cfg;
	atomic_init(&cache->paging, (int)cfg->paging);
	atomic_init(&cache->paging_seen, false);
	if (!cache->cfg.now)
		cache->cfg.now = now_mono;
	/* Filtered listings exist for the collection with the API's filters:
	 * the invoices. */
	const struct schema_collection *inv = schema_find("invoices");
	cache->nslots = schema_ncollections() + (inv ? facts_nfilters() : 0);
	cache->colls = calloc(cache->nslots, sizeof(*cache->colls));
	if (!cache->colls) {
		free(cache);
		return -ENOMEM;
	}
	for (size_t i = 0; i < cache->nslots; i++) {
		bool f = i >= schema_ncollections();
		cache->colls[i].c = f ? inv : schema_collection_at(i);
		cache->colls[i].filter = f ? facts_filter_at(i - schema_ncollections())->name : NULL;
	}
	pthread_mutex_init(&cache->lock, NULL);
	pthread_cond_init(&cache->done, NULL);
	for (size_t i = 0; i < cache->nslots; i++)
		load_slot(cache, &cache->colls[i]);
	if (cache->loaded)
		log_msg(LOG_INFO, "%zu listings read from disk", cache->loaded);
	*out = cache;
	return 0;
}

void cache_quiesce(struct cache *cache)
{
	if (!cache)
		return;
	/* A refresh behind its readers ends within the API's timeout. */
	pthread_mutex_lock(&cache->lock);
	cache->quiesced = true;
	while (cache->refreshing > 0)
		pthread_cond_wait(&cache->done, &cache->lock);
	pthread_mutex_unlock(&cache->lock);
}

void cache_free(struct cache *cache)
{
	struct detail *d, *dt;
	if (!cache)
		return;
	cache_quiesce(cache);
	for (size_t i = 0; i < cache->nslots; i++) {
		cache_listing_unref(cache->colls[i].cur);
		cache_listing_unref(cache->colls[i].prev);
		memo_clear(&cache->colls[i]);
	}
	HASH_ITER(hh, cache->details, d, dt) {
		assert(!d->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(cache->details, d);
		cache_record_unref(d->rec);
		free(d->key);
		free(d);
	}
	found_sweep(cache, INFINITY);
	pthread_mutex_destroy(&cache->lock);
	pthread_cond_destroy(&cache->done);
	free(cache->colls);
	free(cache);
}

size_t cache_listings_loaded(struct cache *cache)
{
	return cache->loaded; /* set in cache_new, never after */
}

void cache_describe(struct cache *cache, cJSON *out)
{
	cJSON *colls = cJSON_AddObjectToObject(out, "collections");
	double now = cache->cfg.now();
	/* Offline, every listing is stale, whatever its age: nothing is fetched
	 * until the service answers again. */
	struct api_stats as;
	api_get_stats(cache->api, &as);
	bool offline = as.health == API_OFFLINE;
	pthread_mutex_lock(&cache->lock);
	cJSON_AddNumberToObject(out, "ttl_seconds", cache->cfg.ttl);
	for (size_t i = 0; i < cache->nslots; i++) {
		const struct schema_collection *c = cache->colls[i].c;
		struct cache_listing *l = cache->colls[i].cur;
		char name[96];
		if (cache->colls[i].filter && !l)
			continue; /* filtered listings show once used */
		if (cache->colls[i].filter)
			snprintf(name, sizeof(name), "%s?filter=%s", c->name, cache->colls[i].filter);
		else
			snprintf(name, sizeof(name), "%s", c->name);
		cJSON *o = cJSON_AddObjectToObject(colls, name);
		if (!o)
			continue;
		if (!l) {
			cJSON_AddStringToObject(o, "state", "not listed");
			continue;
		}
		double age = now - l->fetched;
		const struct coll_state *st = &cache->colls[i];
		/* A listing a refresh (or a change of ours) dropped is kept for
		 * stale-on-failure, but the next access lists it again: it is
		 * no longer fresh, whatever its age. */
		cJSON_AddStringToObject(o, "state", st->stale || offline ? "stale"
						    : age < cache->cfg.ttl && !st->forced ? "fresh"
						    : "expired");
		cJSON_AddNumberToObject(o, "records", (double)l->n);
		cJSON_AddNumberToObject(o, "age_seconds", floor(age * 10) / 10);
		char when[32];
		struct tm tm;
		gmtime_r(&l->fetched_wall, &tm);
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
		cJSON_AddStringToObject(o, "fetched_at", when);
		if (st->stale || offline) {
			/* Offline: stale since it was fetched, for want of the service. */
			gmtime_r(st->stale ? &st->stale_since : &l->fetched_wall, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			cJSON_AddStringToObject(o, "stale_since", when);
			cJSON_AddStringToObject(o, "stale_because",
						offline ? "offline" : st->why);
		}
	}
	if (cache->paging_note[0])
		cJSON_AddStringToObject(out, "paging", cache->paging_note);
	cJSON_AddNumberToObject(out, "records_fetched_one_by_one", (double)HASH_COUNT(cache->details));
	cJSON_AddNumberToObject(out, "listing_hits", (double)cache->listing_hits);
	cJSON_AddNumberToObject(out, "listing_fetches", (double)cache->listing_fetches);
	cJSON_AddNumberToObject(out, "listing_pages_reused",
				(double)atomic_load_explicit(&cache->pages_reused,
							     memory_order_relaxed));
	pthread_mutex_unlock(&cache->lock);
}
