/* listing: a listing's records, sorted and indexed (see listing.h). */
#include "store/listing.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "base/log.h"
#include "base/vec.h"
#include "store/record.h"

/* A listing's index entry: id -> position (listing_new). */
struct cache_index {
	const char *id; /* borrowed from the record */
	size_t pos;
	UT_hash_handle hh;
};

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

/* Takes ownership of the records in @rs (left empty), given in the order the service
 * listed them. */
struct cache_listing *listing_new(const struct schema_collection *c, struct recs *rs)
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
			record_id_shown(r->id, shown, sizeof(shown));
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

bool listing_same(const struct cache_listing *a, const struct cache_listing *b)
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
