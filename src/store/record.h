/* record: one record of a listing (struct cache_record: public, through
 * store/cache.h), made from the service's wire form (through cJSON, or through model/fastwire without a tree)
 * or from the text a state file kept; and struct recs, the records converted so far
 * while a listing's pages arrive.
 *
 * A record whose id cannot name a file is left out of its listing, and said once in
 * the log and the status file's errors (record_left_out).
 */
#ifndef FACTUURFS_STORE_RECORD_H
#define FACTUURFS_STORE_RECORD_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "base/strbuf.h"
#include "model/facts.h"
#include "model/schema.h"

struct arena;
struct arena_block;
struct events;

/* One record as its file shows it.  Immutable once published; shared by
 * reference count (cache_record_unref). */
struct cache_record {
	int refs;          /* atomic */
	char *id;          /* API identifier: "2024/0042" */
	char *stem;        /* file-name stem: "2024%2F0042" */
	char *text;        /* pythonic JSON text */
	size_t len;
	time_t date;       /* the record's own date (12:00 UTC), 0 when it has none */
	time_t mtime;      /* date + a content-derived offset (see record.c) */
	bool whole;        /* false: the listing carried only part of it */
	char *wire;        /* the record as the service sent it (JSON, wire_len bytes, not
			      NUL-terminated: it may point into the page it came in), kept
			      for collections that can be edited (schema_to_wire_as follows
			      its names and forms); NULL for the others or when unknown */
	size_t wire_len;
	struct arena_block *wire_block; /* non-NULL: wire points into this block (a page's
					   body, base/arena.h), held by the record */
	const struct schema_collection *c; /* its collection (a table row: static) */
	/* Non-NULL: the record and its strings are one allocation from this block of
	 * a listing's arena (base/arena.h), released with it; else each is malloc'd. */
	struct arena_block *block;
	/* What views, xattrs and exports read: cache_record_facts().  Made at the
	 * first use, not when listed: a listing renders its records without a tree
	 * (model/fastwire.h), and only views need the facts.  Written once (atomic
	 * compare-and-swap), the one change an immutable record sees. */
	struct facts *_Atomic facts_memo;
};

/* The record's facts (model/facts.h), made from its text at the first call and kept
 * with it; NULL for a collection without facts, or when they could not be made.
 * Borrowed: valid while the record is. */
const struct facts *cache_record_facts(struct cache_record *r);
void cache_record_ref(struct cache_record *r);
void cache_record_unref(struct cache_record *r);

/* ---- the cache's own (store/cache_i.h names its files) ---------------------- */

/* What a page's conversion reuses from one record to the next. */
struct record_convert {
	struct events *events; /* where a record left out is said (record_left_out) */
	struct strbuf buf;     /* fastwire's rendering; free(buf.p) after the page */
	/* The page's body as a block (a big page): the records' wire points into it
	 * instead of a copy.  NULL: each record copies its wire. */
	struct arena_block *body;
	struct arena *arena;   /* the records' bytes, for a big page; NULL: malloc */
};

/* Builds a record from its wire form; NULL when it has no identifier that can name a
 * file (the reason in @why), also when its id is one of the @ncut a NUL cut short (see
 * record_id_was_cut), or on ENOMEM (@why empty).  A new reference. */
struct cache_record *record_new(const struct schema_collection *c, const cJSON *wire,
				char *const *cut, long ncut, char *why, size_t whylen);

/* Builds a record from the wire text [@p, @p + @len) of one listing element through
 * model/fastwire; NULL with *@rc -EAGAIN (take record_new's path), -EINVAL (left out
 * and said) or -ENOMEM. */
struct cache_record *record_new_fast(const struct schema_collection *c, const char *p,
				     size_t len, struct record_convert *cv, int *rc);

/* Builds a record from the text a state file kept (store/persist.h); NULL when the
 * text is not exactly what this version renders for it. */
struct cache_record *record_from_text(const struct schema_collection *c, const char *id,
				      bool whole, const char *text, size_t len,
				      const char *wire);

/* What a message shows of identifier @id (any bytes): at most 40 of them, control
 * bytes, quotes and backslashes as \xHH, in @out (@len bytes). */
void record_id_shown(const char *id, char *out, size_t len);

/* True, with the reason in @why, when @id is one of the @ncut ids a NUL cut short
 * (fastwire_nul_ids). */
bool record_id_was_cut(const char *id, char *const *cut, long ncut, char *why,
		       size_t whylen);

/* Frees the @ncut ids fastwire_nul_ids gave, and their array. */
void record_cuts_free(char **cut, long ncut);

/* Says that a record of @c is left out of its listing for @why (log and status). */
void record_left_out(struct events *ev, const struct schema_collection *c, const char *why);

/* Records in arrival order, a reference each (a base/vec.h vector). */
struct recs {
	struct cache_record **v;
	size_t n, cap;
};

/* Drops every record of @rs and its array; @rs is left empty. */
void recs_clear(struct recs *rs);

/* Appends @r to @rs (taking its reference); on ENOMEM @r is dropped. */
int recs_push(struct recs *rs, struct cache_record *r);

/* Converts the cJSON array @items of wire records into @rs (record_new), leaving out
 * and saying (to @ev) the ones whose id names no file; 0 or -ENOMEM. */
int recs_add(const struct schema_collection *c, const cJSON *items, struct recs *rs,
	     struct events *ev, char *const *cut, long ncut);

#endif
