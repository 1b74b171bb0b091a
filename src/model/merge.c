/* merge: a save's three-way merge, field by field (see merge.h). */
#include "model/merge.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when members @a and @b (either may be NULL: absent) are the same. */
static bool same(const cJSON *a, const cJSON *b)
{
	if (!a || !b)
		return a == b;
	return cJSON_Compare(a, b, true);
}

static const cJSON *member(const cJSON *obj, const char *name)
{
	return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, name) : NULL;
}

size_t merge_distance(const cJSON *a, const cJSON *b)
{
	const cJSON *m;
	size_t n = 0;
	if (cJSON_IsObject(a)) {
		cJSON_ArrayForEach(m, a)
		{
			if (!same(m, member(b, m->string)))
				n++;
		}
	}
	if (cJSON_IsObject(b)) {
		cJSON_ArrayForEach(m, b)
		{
			if (!member(a, m->string))
				n++;
		}
	}
	return n;
}

long merge_pick_base(const cJSON *mine, const cJSON *primary, const cJSON *const *cands, size_t n)
{
	long best = -1;
	size_t best_d = merge_distance(mine, primary);
	for (size_t i = 0; i < n; i++) {
		if (!cands[i])
			continue;
		size_t d = merge_distance(mine, cands[i]);
		if (d > 0 && d < best_d) {
			best = (long)i;
			best_d = d;
		}
	}
	return best;
}

void merge_result_clear(struct merge_result *r)
{
	cJSON_Delete(r->merged);
	cJSON_Delete(r->base_v);
	cJSON_Delete(r->mine_v);
	cJSON_Delete(r->theirs_v);
	cJSON_Delete(r->resolved);
	free(r->field);
	free(r->more);
	memset(r, 0, sizeof(*r));
}

static bool readonly(const struct schema_collection *c, const char *name)
{
	const struct schema_field *f = c ? schema_field_find(c, name) : NULL;
	return f && (f->flags & SCHEMA_F_READONLY);
}

/* @obj's member @name set to a copy of @v (in its place, when it has one), or
 * removed when @v is NULL. */
static bool set_member(cJSON *obj, const char *name, const cJSON *v)
{
	if (!v) {
		cJSON_DeleteItemFromObjectCaseSensitive(obj, name);
		return true;
	}
	cJSON *copy = cJSON_Duplicate(v, true);
	if (!copy)
		return false;
	bool ok = cJSON_GetObjectItemCaseSensitive(obj, name)
			  ? cJSON_ReplaceItemInObjectCaseSensitive(obj, name, copy)
			  : cJSON_AddItemToObject(obj, name, copy);
	if (!ok) {
		cJSON_Delete(copy);
		return false;
	}
	return true;
}

static cJSON *dup_or_null(const cJSON *v)
{
	return v ? cJSON_Duplicate(v, true) : NULL;
}

/* Field @name, whose base value is @bv and mine @mv (differing): applied to
 * out->merged, or recorded as a conflict.  False on ENOMEM. */
static bool one_change(const char *name, const cJSON *bv, const cJSON *mv, const cJSON *theirs,
		       struct merge_result *out)
{
	const cJSON *tv = member(theirs, name);
	out->changed++;
	/* Untouched on the service, or changed there as here: mine. */
	if (same(tv, bv) || same(tv, mv))
		return set_member(out->merged, name, mv);
	out->conflicts++;
	if (!set_member(out->resolved, name, tv))
		return false;
	if (out->conflicts == 1) {
		out->field = strdup(name);
		out->base_v = dup_or_null(bv);
		out->mine_v = dup_or_null(mv);
		out->theirs_v = dup_or_null(tv);
		return out->field && (!bv || out->base_v) && (!mv || out->mine_v) &&
		       (!tv || out->theirs_v);
	}
	size_t had = out->more ? strlen(out->more) : 0, add = strlen(name);
	char *more = realloc(out->more, had + add + 3);
	if (!more)
		return false;
	snprintf(more + had, add + 3, "%s%s", had ? ", " : "", name);
	out->more = more;
	return true;
}

int merge_records(const struct schema_collection *c, const cJSON *base, const cJSON *mine,
		  const cJSON *theirs, struct merge_result *out)
{
	const cJSON *m;
	memset(out, 0, sizeof(*out));
	out->merged = cJSON_IsObject(theirs) ? cJSON_Duplicate(theirs, true) : cJSON_CreateObject();
	out->resolved = cJSON_IsObject(base) ? cJSON_Duplicate(base, true) : cJSON_CreateObject();
	if (!out->merged || !out->resolved)
		goto nomem;
	/* What mine has (changed or added), then what it dropped. */
	if (cJSON_IsObject(mine)) {
		cJSON_ArrayForEach(m, mine)
		{
			const cJSON *bv = member(base, m->string);
			if (readonly(c, m->string) || same(m, bv))
				continue;
			if (!one_change(m->string, bv, m, theirs, out))
				goto nomem;
		}
	}
	if (cJSON_IsObject(base)) {
		cJSON_ArrayForEach(m, base)
		{
			if (readonly(c, m->string) || member(mine, m->string))
				continue;
			if (!one_change(m->string, m, NULL, theirs, out))
				goto nomem;
		}
	}
	if (out->conflicts) {
		cJSON_Delete(out->merged);
		out->merged = NULL;
	} else {
		cJSON_Delete(out->resolved);
		out->resolved = NULL;
	}
	return 0;
nomem:
	merge_result_clear(out);
	return -ENOMEM;
}
