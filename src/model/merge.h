/* merge: a save's three-way merge, field by field.
 *
 * A save changes only what the user changed: the fields in which the user's
 * text (mine) differs from the version it started from (the base), applied to
 * the record as the service holds it now (theirs).  A field is a top-level
 * member of the record (an object such as `reference`, a list such as
 * `lines`, is one field).  A field changed on both sides to different values
 * is a conflict.  Fields the service computes (schema's read-only ones) are
 * never a change of the user's: they are theirs.  Pure functions over pythonic
 * records (model/schema.h).
 */
#ifndef FACTUURFS_MODEL_MERGE_H
#define FACTUURFS_MODEL_MERGE_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "model/schema.h"

/* How many members @a and @b differ in (a member only one has counts): how far a
 * text is from a version it may have started from. */
size_t merge_distance(const cJSON *a, const cJSON *b);

/* The base a text @mine started from: @primary (the version it began from, as far as
 * the daemon saw), unless one of the @n other versions @cands a user may hold (NULL
 * entries skipped) is nearer to it (merge_distance) without being equal to it.  The
 * index of that one (the earliest on a tie), or -1 for @primary.  A user edits a few
 * fields of what they read, and an editor may have read a version older than the
 * one the daemon serves when the text begins; but a text equal to an older version
 * is taken as meant (a copy put back), not as that version unchanged. */
long merge_pick_base(const cJSON *mine, const cJSON *primary, const cJSON *const *cands, size_t n);

struct merge_result {
	cJSON *merged;	  /* theirs with mine's changes (owned), NULL on a conflict */
	size_t changed;	  /* fields mine changed from base (0: nothing to send) */
	size_t conflicts; /* fields changed on both sides to different values */
	/* The first conflict (owned copies; a NULL value: the field is absent). */
	char *field;
	cJSON *base_v, *mine_v, *theirs_v;
	/* The other conflicting fields' names, ", "-separated (owned), or NULL. */
	char *more;
	/* The base with every conflicting field set as theirs has it (owned; NULL
	 * without a conflict): the user has now been told the service's values, so
	 * saving mine again against it keeps mine. */
	cJSON *resolved;
};

/* Merges @mine over @theirs against @base, all records of @c (its read-only
 * fields are theirs).  0, or -ENOMEM (@out then holds nothing).  Clear @out
 * with merge_result_clear. */
int merge_records(const struct schema_collection *c, const cJSON *base, const cJSON *mine,
		  const cJSON *theirs, struct merge_result *out);
void merge_result_clear(struct merge_result *r);

#endif
