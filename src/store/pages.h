/* pages: a listing fetched page by page: each page's path (the filter, the user's
 * language and its fallback, the paging query: enum cache_paging), its body's
 * records (store/body.h), the memo that takes a page's records again when it comes
 * back byte for byte the same, and the rule that says when the last page came
 * (including a service that ignores where a page starts).
 */
#ifndef FACTUURFS_STORE_PAGES_H
#define FACTUURFS_STORE_PAGES_H

struct cache;
struct cache_listing;
struct coll_state;

/* Lists slot @st (one call per page) into a new listing in *@out; its `fetched` and
 * `changed` are the caller's to set.  Called by the slot's flight alone, without
 * cache->lock.  0 or -errno (said in the status file's errors). */
int pages_fetch(struct cache *cache, struct coll_state *st, struct cache_listing **out);

/* Drops the page memo of @st (its records' references). */
void pages_memo_clear(struct coll_state *st);

#endif
