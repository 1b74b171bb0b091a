/* views: directories that answer questions about the invoices.
 *
 *   views/status/<filter>/        one per filter of the API (facts_filter_at):
 *                                 the listing `invoices?filter=<filter>`, one call
 *   views/year/<YYYY>/            the invoices dated in that year, from the
 *                                 invoices listing (no call of its own)
 *   views/client/<nr> - <name>/   every client's invoices, from the clients and
 *                                 invoices listings (no call of their own)
 *   views/quarter/<YYYY-Qn>/      the invoices dated in that quarter (the VAT
 *                                 return's period), from the invoices listing
 *
 * Each view directory's content is a cache_listing of invoices (fs.c shows
 * <stem>.json and <stem>.pdf in it as symlinks to invoices/), so the TTL, the
 * single-flight fetches, stale-on-failure and the budget rules of store/cache
 * apply as they do to any listing.  Derived listings are rebuilt when the
 * listings they come from are replaced.
 */
#ifndef FACTUURFS_FEAT_VIEWS_H
#define FACTUURFS_FEAT_VIEWS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/cache.h"

enum views_group { VIEWS_STATUS, VIEWS_YEAR, VIEWS_CLIENT, VIEWS_QUARTER, VIEWS_NGROUPS };

/* The views of a mount: the derived directories built last, over @cache
 * (borrowed).  Its lock is private. */
struct views;
int views_new(struct views **out, struct cache *cache);
void views_free(struct views *v);

/* "status", "year", "client", "quarter"; views_group_find gives -1 for
 * anything else. */
const char *views_group_name(enum views_group g);
int views_group_find(const char *name);

/* True when @name could name a directory of @g: a filter of the table, four
 * digits, "<clientnr>" or "<clientnr> - ...", "YYYY-Qn".  No call: other names
 * are not. */
bool views_name_plausible(enum views_group g, const char *name);

/* The directory names of @g, sorted, as a malloc'd array of malloc'd strings
 * (views_names_free).  Status names come from the filter table (no call); year
 * and client names need their listings.  *@changed and *@ttl_left say how
 * long the names hold (FS-wide: the directory's mtime and its timeouts). */
int views_names(struct views *v, enum views_group g, char ***names, size_t *n,
		struct timespec *changed, double *ttl_left);
void views_names_free(char **names, size_t n);

/* The invoices in view directory @name of @g, sorted by stem, with a
 * reference; -ENOENT when @g has no such directory now. */
int views_dir(struct views *v, enum views_group g, const char *name,
	      struct cache_listing **out);

/* True when the listings behind @g (or behind its directory @name, NULL for
 * the group) are held, so looking at them again costs at most a TTL refresh;
 * an unlisted view answers its attributes without a call. */
bool views_held(struct views *v, enum views_group g, const char *name);

#endif
