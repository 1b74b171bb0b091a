/* kept: the cache's listings and records in state files (store/persist.h), so that
 * a later mount starts from them, fresh for what is left of their TTL, and reads
 * them when the service cannot be reached.
 *
 * Each listing slot has a file ("invoices", "invoices.open"); a record fetched with
 * a GET of its own has one beside them ("<collection>=<file stem>", the same format:
 * a listing of one record), read back at its first read in a mount.
 * cache_listing_load (store/cache.h) reads a listing's file.
 */
#ifndef FACTUURFS_STORE_KEPT_H
#define FACTUURFS_STORE_KEPT_H

#include <stdbool.h>

#include "store/cache_i.h"

/* Hands a reference of @l, fetched at @st's slot, to persist's writer (queued),
 * kept as fresh or not (@fresh). */
void kept_listing_save(struct cache *cache, const struct coll_state *st, struct cache_listing *l,
		       bool fresh);

/* Hands record @r of @c, just fetched with a GET of its own, to persist's writer. */
void kept_record_save(struct cache *cache, const struct schema_collection *c,
		      struct cache_record *r);

/* Record @id of @c as kept_record_save kept it, when no older than listing @l, with
 * its age in seconds in *@age and a reference; else NULL.  Reads a file: never with
 * cache->lock held. */
struct cache_record *kept_record_load(struct cache *cache, const struct schema_collection *c,
				      const char *id, const struct cache_listing *l,
				      double *age);

/* The files of the slots of @c (every slot when NULL) are no longer fresh: a remount
 * lists them again.  Without cache->lock. */
void kept_unfresh(struct cache *cache, const struct schema_collection *c);

/* Starts slot @st from its file, if there is a whole one (cache_new). */
void kept_slot_load(struct cache *cache, struct coll_state *st);

#endif
