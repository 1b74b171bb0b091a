/* search: the service's search (GET search/<area>/<field|all>/<query>) as
 * directories: search/<area>/<query>/ asks every field, <field>=<query>/ one.
 *
 * A directory name is read as a query here (search_parse): the query is a
 * file-name stem (base/names.h: '/' written %2F, '%' %25, a leading '.'
 * %2E), the field one of the area's data dictionary.  A name that can be no
 * query (dotfiles, desktop probes, editor scratch names, a field the area does
 * not have, an empty or over-long query, a '%' that is not the codec's) is
 * never sent.  Each query costs one call, and its answer is kept for the TTL
 * (one fetch shared by concurrent callers, the last answer served when a
 * refresh fails) until a change of ours to its collection; the records found
 * go to the cache as well (cache_found_put), so following a link to one costs
 * no listing of its collection.  One per mount; its lock is private and never
 * held across a call.
 */
#ifndef FACTUURFS_STORE_SEARCH_H
#define FACTUURFS_STORE_SEARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model/schema.h"

struct api;
struct cache;
struct cache_listing;
struct events;
struct search;

/* The longest query sent, in bytes (as decoded): a longer name is no query. */
#define SEARCH_QUERY_MAX 100

/* Borrowed: @api, @cache, @events outlive the search.  0 or -ENOMEM. */
int search_new(struct search **out, struct api *api, struct cache *cache, struct events *events);
void search_free(struct search *s);

/* Reads directory name @name of area @c as a query: 0 with *@field ("all" or
 * the field as the name spells it, malloc'd) and *@query (decoded, malloc'd),
 * or -ENOENT when @name can be no query (nothing is sent for it). */
int search_parse(const struct schema_collection *c, const char *name, char **field,
		 char **query);

/* The directory name a query is listed under: "<query>" for every field
 * ("all=<query>" when the query holds a '='), else "<field>=<query>", the
 * query written as a file-name stem.  malloc'd, NULL on ENOMEM. */
char *search_name(const char *field, const char *query);

/* The answer to directory @name of area @c: a listing of the records found,
 * with a reference (cache_listing_unref); empty when none matched.  One call
 * per query and TTL; -ENOENT without a call for a name that is no query, else
 * -errno when the service could not be asked and no earlier answer is held. */
int search_get(struct search *s, const struct schema_collection *c, const char *name,
	       struct cache_listing **out);

/* The answer to @name of @c when one is held and fresh (as search_get would
 * give it without a call), with a reference; NULL otherwise.  Never calls. */
struct cache_listing *search_held(struct search *s, const struct schema_collection *c,
				  const char *name);

/* The directory names of the fresh answers of area @c, sorted: the queries made
 * on this mount within the TTL.  malloc'd copies in *@names (free each, then
 * the array), count in *@n.  0 or -ENOMEM.  Never calls. */
int search_names(struct search *s, const struct schema_collection *c, char ***names,
		 size_t *n);

/* When the names search_names gives for area @c last changed (an answer landed or
 * ran out): the area directory's mtime, so the kernel drops the entries it cached.
 * {0, 0} before the first answer.  Never calls. */
struct timespec search_area_changed(struct search *s, const struct schema_collection *c);

#endif
