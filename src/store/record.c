/* record: one record of a listing, from the wire or a state file (see record.h). */
#include "store/record.h"

#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/events.h"
#include "base/names.h"
#include "base/vec.h"
#include "model/fastwire.h"
#include "model/jsontext.h"

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
void record_id_shown(const char *id, char *out, size_t len)
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
	record_id_shown(id, shown, sizeof(shown));
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
bool record_id_was_cut(const char *id, char *const *cut, long ncut, char *why, size_t whylen)
{
	char shown[200];
	for (long i = 0; i < ncut; i++) {
		if (strcmp(cut[i], id) != 0)
			continue;
		record_id_shown(id, shown, sizeof(shown));
		snprintf(why, whylen, "a record whose id holds a NUL (\"%s\\x00\u2026\") is left "
			 "out: no file name can hold one, and cut there it would pass for "
			 "another record", shown);
		return true;
	}
	return false;
}

void record_cuts_free(char **cut, long ncut)
{
	for (long i = 0; i < ncut; i++)
		free(cut[i]);
	free(cut);
}

/* A record of @c left out of its listing for @why: one line in the log and one in
 * the status file's errors (events_error does both).  The rest of the listing is
 * shown as usual.  A page that comes back the same takes its records again without
 * converting them (memo_reuse), so this is said once per change of the page. */
void record_left_out(struct events *ev, const struct schema_collection *c, const char *why)
{
	char what[96];
	snprintf(what, sizeof(what), "list %s", c->name);
	events_error(ev, what, why);
}

/* Builds a record from its wire form; NULL when it has no identifier that can name a
 * file (the reason in @why), also when its id is one of the @ncut a NUL cut short (see
 * record_id_was_cut), or on ENOMEM (@why empty). */
struct cache_record *record_new(const struct schema_collection *c, const cJSON *wire,
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
	if (record_id_was_cut(r->id, cut, ncut, why, whylen))
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

/* The record rendered as @fr, with stem @stem and, when @wire, the wire [@p, @p + @len),
 * as one allocation from @cv's arena (r->block): every field set but refs, c, len and
 * the times.  NULL on ENOMEM.  @fr's id and @stem stay the caller's. */
static struct cache_record *record_in_arena(struct record_convert *cv,
					    const struct fastwire_record *fr, const char *stem,
					    const char *p, size_t len, bool wire)
{
	size_t idl = strlen(fr->id) + 1, stl = strlen(stem) + 1;
	struct arena_block *blk = NULL;
	struct cache_record *r;
	bool copy = wire && !cv->body;
	char *m = arena_alloc(cv->arena, sizeof(*r) + idl + stl + fr->len + 1 +
						 (copy ? len + 1 : 0), &blk);
	if (!m)
		return NULL;
	r = (struct cache_record *)m;
	memset(r, 0, sizeof(*r));
	r->block = blk;
	m += sizeof(*r);
	r->id = memcpy(m, fr->id, idl);
	m += idl;
	r->stem = memcpy(m, stem, stl);
	m += stl;
	r->text = memcpy(m, fr->text, fr->len + 1);
	m += fr->len + 1;
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
	return r;
}

/* Builds a record from the wire text [@p, @p + @len) of one element of a listing
 * page through model/fastwire (no tree); NULL with *@rc -EAGAIN when the record
 * takes the reference path (record_new), -EINVAL when it was left out (its id
 * cannot name a file: said by record_left_out), or -ENOMEM.  With an arena, the record
 * and its strings are one allocation from it (r->block). */
struct cache_record *record_new_fast(const struct schema_collection *c, const char *p,
				     size_t len, struct record_convert *cv, int *rc)
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
		record_left_out(cv->events, c, why);
		free(fr.id);
		*rc = -EINVAL;
		return NULL;
	}
	if (!stem)
		goto oom;
	if (cv->arena) {
		r = record_in_arena(cv, &fr, stem, p, len, wire);
		if (!r)
			goto oom;
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
struct cache_record *record_from_text(const struct schema_collection *c, const char *id,
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

void recs_clear(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		cache_record_unref(rs->v[i]);
	free(rs->v);
	memset(rs, 0, sizeof(*rs));
}

/* Appends @r to @rs (taking its reference); on ENOMEM @r is dropped. */
int recs_push(struct recs *rs, struct cache_record *r)
{
	if (vec_push(rs, r) < 0) {
		cache_record_unref(r);
		return -ENOMEM;
	}
	return 0;
}

/* Converts one page of wire records into @rs right away, so that no more
 * than one page is ever held as parsed JSON (it takes ~7x its wire size).  A
 * record whose id is none of a file (or one of the @ncut a NUL cut short in the
 * page's text: fastwire_nul_ids) is left out, and said to @ev. */
int recs_add(const struct schema_collection *c, const cJSON *items, struct recs *rs,
	     struct events *ev, char *const *cut, long ncut)
{
	const cJSON *w;
	char why[400];
	cJSON_ArrayForEach(w, items) {
		struct cache_record *r = record_new(c, w, cut, ncut, why, sizeof(why));
		if (!r && !why[0])
			return -ENOMEM;
		if (!r) {
			record_left_out(ev, c, why);
			continue;
		}
		int rc = recs_push(rs, r);
		if (rc < 0)
			return rc;
	}
	return 0;
}
