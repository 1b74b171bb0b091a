/* body: the records of a list body (see body.h). */
#include "store/body.h"

#include <errno.h>
#include <stdlib.h>

#include "base/arena.h"
#include "model/fastwire.h"
#include "model/jsontext.h"
#include "store/record.h"

/* Converts a page whose body is a top-level JSON array one element at a
 * time, so only the raw body and one record are ever parsed at once (a whole
 * page parsed with cJSON takes ~7x its wire size).  Returns the number of
 * elements, or -EIO when the body is not such an array. */
static long recs_add_elements(const struct schema_collection *c, const char *body, size_t len,
			      struct recs *rs, struct record_convert *cv)
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
			(void)record_id_was_cut(cut[0], cut, ncut, why, sizeof(why));
			record_cuts_free(cut, ncut);
			record_left_out(cv->events, c, why);
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

/* The arena's first block of a big page (BODY_ARENA_PAGE): this many times the
 * page (the texts come out ~1.3 times the wire, with names and records beside
 * them); later blocks a quarter of it, at least 4 MiB. */
#define BODY_ARENA_FIRST 1.45

long body_add_array(const struct schema_collection *c, const char *body, size_t len,
		    struct arena_block *body_block, struct recs *rs, struct events *ev)
{
	struct record_convert cv = {.events = ev, .body = body_block};
	if (len >= BODY_ARENA_PAGE) {
		size_t next = len / 4 > ((size_t)4 << 20) ? len / 4 : (size_t)4 << 20;
		cv.arena = arena_new((size_t)((double)len * BODY_ARENA_FIRST), next);
		if (!cv.arena)
			return -ENOMEM;
	}
	long n = recs_add_elements(c, body, len, rs, &cv);
	free(cv.buf.p);
	arena_free(cv.arena);
	return n;
}

/* The records of a list body in any shape the service may send (a bare array one
 * element at a time, else parsed whole: schema_list_items), appended to @rs: the
 * number of elements, or -EIO (not a list) or -ENOMEM. */
long body_records(const struct schema_collection *c, const char *body, size_t len,
		  struct recs *rs, struct events *ev)
{
	size_t before = rs->n;
	long n = body_add_array(c, body, len, NULL, rs, ev);
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
	record_cuts_free(cut, ncut);
	return rc < 0 ? rc : n;
}
