/* dir: what a name in a collection directory stands for.
 *
 * A name is a record's file (<stem>.json, an invoice's <stem>.pdf) when the
 * collection's listing has the record; a local name (a scratch or new file,
 * the name a created record was written under, a record's name held for an
 * mv); a name that may be created (a new *.json where the API can create, or
 * a scratch name); or no name at all.  Names that cannot be records never
 * cause a call.
 */
#ifndef FACTUURFS_NS_DIR_H
#define FACTUURFS_NS_DIR_H

#include <stdbool.h>

#include "ns/inode.h"
#include "store/cache.h"

/* What a new name in collection @c becomes: N_SCRATCH (no .json suffix,
 * dotfiles, editor names), N_NEW (a record-to-be, or a payment), or -errno:
 * -ENAMETOOLONG past NAME_MAX, -EINVAL for control characters or a '%' that
 * is not the file-name codec's ("%2E%2E.json" is no name a record can have,
 * and guessing what it meant could write the wrong record), -EPERM for a
 * *.json name where the API cannot create. */
int dir_new_kind(const struct schema_collection *c, const char *name);

/* The record @name stands for in @c when the listing has it: its id
 * (malloc'd) and *@kind (N_JSON or N_PDF), else NULL; *@err is set when the
 * listing failed.  *@ttl_left (may be NULL) says how long the answer holds. */
char *dir_listed_record(struct cache *cache, const struct schema_collection *c,
			const char *name, enum node_kind *kind, int *err, double *ttl_left);

/* The node @name of collection directory @dir stands for: a local name
 * first, then a listed record.  NULL with *@neg (how long the kernel may keep
 * "no such name": 0 for a name that may still be created) when none; -errno
 * when the listing failed.  A record's name held for an mv is "no such
 * name" until its hold ends (@now, CLOCK_MONOTONIC). */
int dir_lookup(struct inodes *t, struct cache *cache, struct node *dir, const char *name,
	       double now, struct node **out, double *neg);

#endif
