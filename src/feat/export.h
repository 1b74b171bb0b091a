/* export: spreadsheet files of whole collections (exports/<name>.csv).
 *
 * One row per record of the collection's listing, columns from the data
 * dictionary (facts_columns), RFC 4180: a header row, CRLF line ends,
 * fields holding a comma, quote, CR or LF in double quotes with quotes
 * doubled.  UTF-8 with a byte-order mark, which LibreOffice and Excel take as
 * "this is UTF-8".  A text cell starting with = + - @ is prefixed with ' so
 * a spreadsheet never runs it as a formula.  The text is rendered once per
 * listing snapshot and needs no call beyond the listing, and for invoices.csv's
 * ledger column the categories' listing (only when an invoice has a category).
 */
#ifndef FACTUURFS_FEAT_EXPORT_H
#define FACTUURFS_FEAT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/cache.h"

/* An export's text; immutable, shared by reference. */
struct export_text {
	int refs;                 /* atomic */
	char *data;
	size_t len;
	struct cache_listing *l;  /* the listing it was rendered from (a reference) */
	struct cache_listing *cats; /* and the categories' (a reference), or NULL */
	bool wants_cats;          /* a record of l has a category (needs_categories) */
};

/* The exports of a mount: the texts rendered last, over @cache (borrowed).
 * Its lock is private. */
struct exports;
int exports_new(struct exports **out, struct cache *cache);
void exports_free(struct exports *x);

size_t export_count(void);
/* The file name of export @i ("invoices.csv"), NULL past the end. */
const char *export_name(size_t i);
/* The index of export file @name, or -1. */
int export_find(const char *name);

/* The text of export @i for the current listing (listing it when needed),
 * with a reference; -errno when the listing failed. */
int export_get(struct exports *x, size_t i, struct export_text **out);
void export_text_unref(struct export_text *t);

/* Renders @l of @c as CSV (exposed for tests of the format); malloc'd.  @cats is
 * the categories listing the ledger column reads (NULL: that column is empty). */
char *export_render(const struct schema_collection *c, const struct cache_listing *l,
		    const struct cache_listing *cats, size_t *len);

#endif
