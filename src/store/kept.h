/* kept: the cache's listings and records in state files (store/persist.h), so that
 * a later mount starts from them, fresh for what is left of their TTL, and reads
 * them when the service cannot be reached.
 *
 * Each listing slot has a file ("invoices", "invoices.open"); a record fetched with
 * a GET of its own has one beside them ("<collection>=<file stem>", the same format:
 * a listing of one record), read back at its first read in a mount.
 * The first function is public, through store/cache.h.
 */
#ifndef FACTUURFS_STORE_KEPT_H
#define FACTUURFS_STORE_KEPT_H

#include <stdbool.h>
#include <time.h>

struct cache;
struct cache_listing;
struct cache_record;
struct coll_state;
struct schema_collection;

/* Reads listing @c (narrowed by @filter, NULL for none) from the state file
 * at @path: cache_new's load path, without a cache (the fuzz target drives
 * it).  0 with *@out (a new listing; its `fetched` and `changed` are the
 * caller's to set), *@fetched its fetch time (wall clock) and *@fresh false
 * when a change of ours may be missing from it; -ENOENT without a file;
 * -EBADMSG for a file that is not a whole listing of @c written by this
 * version (torn, corrupted, another version or kind, a record that does not
 * parse): remove it and list again. */
int cache_listing_load(const struct schema_collection *c, const char *filter, const char *path,
		       struct cache_listing **out, time_t *fetched, bool *fresh);

/* ---- the cache's own ---------------------------------------------------------- */

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
