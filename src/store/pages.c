/* pages: a listing fetched page by page (see pages.h). */
#include "store/pages.h"

#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/events.h"
#include "base/log.h"
#include "base/vec.h"
#include "model/fastwire.h"
#include "net/api.h"
#include "store/body.h"
#include "store/cache_i.h"
#include "store/get.h"
#include "store/listing.h"
#include "store/record.h"

/* A listing is read page by page until a page holds fewer records than were
 * asked for.  The reference leaves open whether the service honours `count`
 * (kt always sends it, so we read it as honoured); a page longer than asked
 * means it ignores `count`, and then a page shorter than the first ends it.
 * Where a page starts is page_query's reading; a service that ignores it is
 * paging_ignored's. */
#define CACHE_MAX_PAGES 100000

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

void pages_memo_clear(struct coll_state *st)
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
	if (vec_reserve(rs, m->n) < 0)
		return -1;
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
	pages_memo_clear(st);
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
	long n = rc == 0 ? body_records(st->c, resp.body, resp.len, &all, cache->cfg.events) : -1;
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

/* What the memo keeps of each page of a fetch (memo_keep). */
/* cppcheck-suppress unusedStructMember ; vec_reserve reads cap, through &f.pages */
VEC(page_memos, struct page_memo);

/* One fetch of a listing, page by page (pages_fetch). */
struct fetch {
	struct cache *cache;
	struct coll_state *st;
	char what[96];           /* "list invoices?filter=open": what errors name */
	/* How this fetch pages, all through: what paging_ignored learns counts
	 * from the next fetch on. */
	enum cache_paging mode;
	long asked;              /* the `count` asked per page */
	long first;              /* the first page's elements; -1 before it came */
	char prefix[160];        /* the last page's path up to '?' and the filter */
	struct recs rs;          /* the records so far, in arrival order */
	struct page_memos pages; /* what the memo keeps of each page (memo_keep) */
};

/* GETs page @page (at @offset) of @f's listing into @resp (api_answer_clear it after),
 * leaving its path up to the paging query in f->prefix.  countrylist/<lang>: the names
 * in the user's language (two public clients' reading); the service's own language,
 * for the rest of the mount, when it refuses that. */
static int page_get(struct fetch *f, long page, long offset, struct api_answer *resp)
{
	struct cache *cache = f->cache;
	const struct schema_collection *c = f->st->c;
	const char *filter = f->st->filter;
	char base[64], query[96], path[256];
	bool lang = c->lang_path && cache->cfg.lang[0] && !cache->lang_refused;
	int rc;
	snprintf(base, sizeof(base), "%s%s%s", c->name, lang ? "/" : "",
		 lang ? cache->cfg.lang : "");
	snprintf(f->prefix, sizeof(f->prefix), "%s?%s%s%s", base, filter ? "filter=" : "",
		 filter ? filter : "", filter ? "&" : "");
	page_query(f->mode, f->asked, offset, query, sizeof(query));
	if (c->single)
		snprintf(path, sizeof(path), "%s", c->name);
	else
		snprintf(path, sizeof(path), "%s%s", f->prefix, query);
	if (!lang || page != 0)
		return store_get(cache->api, cache->cfg.events, f->what, path, resp);
	rc = api_call(cache->api, "GET", path, NULL, 0, resp);
	if (rc == -ENOENT || rc == -EPERM || rc == -EINVAL) {
		log_msg(LOG_INFO, "%s: GET %s: %s; listing it in the service's own language",
			f->what, base, resp->message);
		api_answer_clear(resp);
		cache->lang_refused = true;
		/* The same page, without the language. */
		snprintf(f->prefix, sizeof(f->prefix), "%s?", c->name);
		snprintf(path, sizeof(path), "%s%s", f->prefix, query);
		rc = store_get(cache->api, cache->cfg.events, f->what, path, resp);
	} else if (rc < 0) {
		store_failed(cache->cfg.events, f->what, resp);
	}
	return rc;
}

/* The records of a page body parsed whole (@body, taken; NULL when it was no JSON),
 * appended to f->rs: a one-object collection's record (balance), or the list the body
 * wraps, leaving out the @ncut ids a NUL cut short (@cut, taken).  The number of
 * elements, or -errno (said in the status file). */
static long page_tree(struct fetch *f, cJSON *body, char **cut, long ncut)
{
	const struct schema_collection *c = f->st->c;
	struct events *ev = f->cache->cfg.events;
	cJSON *items = NULL;
	char why[400];
	long n = -EIO;
	if (!body) {
		events_error(ev, f->what, "the service sent a body that is not JSON");
		goto out;
	}
	if (c->single) {
		/* balance: one object, shown as one file. */
		struct cache_record *r = record_new(c, body, NULL, 0, why, sizeof(why));
		n = r ? recs_push(&f->rs, r) : 0;
		goto out;
	}
	items = schema_list_items(body);
	if (!items) {
		events_error(ev, f->what, "the service sent something that is not a list");
		goto out;
	}
	n = cJSON_GetArraySize(items);
	int rc = recs_add(c, items, &f->rs, ev, cut, ncut);
	if (rc < 0)
		n = rc;
out:
	cJSON_Delete(items);
	cJSON_Delete(body);
	record_cuts_free(cut, ncut);
	return n;
}

/* The records of page @page's answer @resp (a 2xx; cleared here), appended to f->rs:
 * the page's elements, or -errno.  A page that came back as the last fetch had it
 * takes that fetch's records again (memo_reuse); a bare array is converted one
 * element at a time; any other shape is parsed whole.  *@h and *@plen: the body's
 * digest and length, for the memo. */
static long page_records(struct fetch *f, long page, struct api_answer *resp, uint64_t *h,
			 size_t *plen)
{
	const struct schema_collection *c = f->st->c;
	/* A big page's body stays, as its records' wire (of a collection that
	 * keeps the wire: one that can be edited). */
	struct arena_block *bb = NULL;
	const char *raw = resp->body;
	size_t before = f->rs.n;
	cJSON *body = NULL;
	char **cut = NULL; /* the ids a NUL cuts short in a page parsed whole */
	long n, ncut = 0;
	*h = page_hash(resp->body, resp->len);
	*plen = resp->len;
	n = !c->single ? memo_reuse(f->st, page, *h, *plen, &f->rs) : -1;
	if (n >= 0) {
		/* The same page as last time: its records again. */
		atomic_fetch_add_explicit(&f->cache->pages_reused, 1, memory_order_relaxed);
	} else if (!c->single) {
		if ((c->methods & SCHEMA_M_PUT) && resp->len >= BODY_ARENA_PAGE &&
		    (bb = arena_adopt(resp->body, resp->len)))
			resp->body = NULL; /* the block's now */
		n = body_add_array(c, raw, resp->len, bb, &f->rs, f->cache->cfg.events);
	} else {
		n = -EIO;
	}
	if (n == -EIO) {
		/* Not a bare array (or balance): the other shapes, parsed whole. */
		while (f->rs.n > before) /* what it converted before giving up */
			cache_record_unref(f->rs.v[--f->rs.n]);
		body = cJSON_ParseWithOpts(raw, NULL, true);
		ncut = body && !c->single ? fastwire_nul_ids(c, raw, *plen, false, &cut) : 0;
		if (ncut < 0) {
			cJSON_Delete(body);
			body = NULL;
			n = -ENOMEM;
			ncut = 0;
		}
	}
	/* The raw body goes before the tree is converted: never both with the records. */
	arena_block_put(bb);
	api_answer_clear(resp);
	if (n == -EIO)
		n = page_tree(f, body, cut, ncut);
	return n;
}

/* The paging rule (see CACHE_MAX_PAGES): true when the page of @n elements was the
 * last.  count=-1 is the whole list; a mount that learned paging is ignored asks for
 * the first page alone. */
static bool page_last(const struct fetch *f, long n)
{
	if (f->mode == CACHE_PAGING_ALL || f->mode == CACHE_PAGING_FIRST)
		return true;
	return n == 0 || (n < f->asked && f->first <= f->asked) ||
	       (f->first > f->asked && n < f->first);
}

/* Lists slot @st (one call per page).  A page that comes back as the last fetch had it
 * takes that fetch's records again instead of being converted (memo_reuse). */
int pages_fetch(struct cache *cache, struct coll_state *st, struct cache_listing **out)
{
	struct fetch f = {.cache = cache, .st = st, .asked = cache->cfg.page_size, .first = -1,
			  .mode = (enum cache_paging)atomic_load(&cache->paging)};
	int rc = 0;
	if (st->filter)
		snprintf(f.what, sizeof(f.what), "list %s?filter=%s", st->c->name, st->filter);
	else
		snprintf(f.what, sizeof(f.what), "list %s", st->c->name);

	for (long page = 0, offset = 0; page < CACHE_MAX_PAGES; page++) {
		struct api_answer resp;
		size_t before = f.rs.n, plen = 0;
		uint64_t h = 0;
		long n;
		rc = page_get(&f, page, offset, &resp);
		if (rc < 0) {
			api_answer_clear(&resp);
			goto out;
		}
		n = page_records(&f, page, &resp, &h, &plen);
		if (n < 0) {
			rc = (int)n;
			goto out;
		}
		if (st->c->single)
			break;
		/* A server that ignores where the page starts sends the first page
		 * again: stop rather than loop or show every record twice. */
		if (page > 0 && f.rs.n > before && before > 0 &&
		    !strcmp(f.rs.v[before]->id, f.rs.v[0]->id)) {
			while (f.rs.n > before)
				cache_record_unref(f.rs.v[--f.rs.n]);
			paging_ignored(cache, st, f.what, f.prefix, &f.rs);
			break;
		}
		/* On ENOMEM the memo misses this page, and is not kept (below). */
		if (vec_reserve(&f.pages, 1) == 0)
			f.pages.v[f.pages.n++] = (struct page_memo){
				.hash = h, .len = plen, .first = before, .n = f.rs.n - before,
				.elements = n};
		if (f.first < 0)
			f.first = n;
		offset += n;
		if (page_last(&f, n))
			break;
	}
	/* A page the memo could not hold leaves a memo that does not match the
	 * listing: none then. */
	if (f.pages.n && f.pages.v[f.pages.n - 1].first + f.pages.v[f.pages.n - 1].n == f.rs.n) {
		memo_keep(st, f.pages.v, f.pages.n, &f.rs);
		f.pages.v = NULL;
	} else {
		pages_memo_clear(st);
	}
	*out = listing_new(st->c, &f.rs);
	if (!*out)
		rc = -ENOMEM;
	/* A big listing's parse left freed pages behind: give them back. */
	if (*out && (*out)->n > 1000)
		malloc_trim(0);
out:
	vec_free(&f.pages);
	recs_clear(&f.rs);
	return rc;
}
