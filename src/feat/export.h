/* export: spreadsheet files of whole collections and of the VAT quarter.
 *
 *   exports/invoices.csv, clients.csv    one row per record of the listing,
 *                                        columns from the data dictionary
 *                                        (facts_columns)
 *   exports/btw-YYYY-Qn.csv              the VAT return of a quarter: one row
 *                                        per rate and per other row of the
 *                                        return (model/vat.h), for every
 *                                        quarter an invoice is dated in
 *   exports/<each of those>.xlsx         the same table as a workbook
 *
 * Each is built once per listing snapshot as a table (feat/table.h), and
 * both files are rendered from that one table (the CSV: RFC 4180, UTF-8 with
 * a byte-order mark; the .xlsx: feat/xlsx.h), so they hold the same cells
 * and their `stat` size is exact.  No call beyond the listings: the
 * collection's; for a quarter the invoices and the clients listings; for
 * invoices' ledger column the categories listing, only when an invoice has a
 * category.
 */
#ifndef FACTUURFS_FEAT_EXPORT_H
#define FACTUURFS_FEAT_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "store/cache.h"

/* An export's bytes; immutable, shared by reference. */
struct export_text {
	int refs;                 /* atomic */
	char *data;
	size_t len;
	struct cache_listing *l;  /* the listing it was rendered from (a reference) */
	struct cache_listing *l2; /* a quarter's: the clients listing too, or NULL */
	struct cache_listing *cats; /* the categories the ledger column read, or NULL */
	bool wants_cats;          /* a record of l has a category (needs_categories) */
};

/* The exports of a mount: the texts rendered last, over @cache (borrowed).
 * Its lock is private. */
struct exports;
int exports_new(struct exports **out, struct cache *cache);
void exports_free(struct exports *x);

/* The fixed exports (the collections' files), in their inode order. */
size_t export_count(void);
/* The file name of fixed export @i ("invoices.csv"), NULL past the end. */
const char *export_name(size_t i);
/* The index of fixed export @name, or -1. */
int export_find(const char *name);
/* True when @name could be a quarter's export ("btw-2025-Q3.csv" or
 * ".xlsx"); no call: other names are not. */
bool export_quarter_plausible(const char *name);

/* Every export's file name now, the fixed ones first, then the quarters'
 * sorted (needs the invoices listing): a malloc'd array of malloc'd strings
 * (views_names_free frees it). */
int export_names(struct exports *x, char ***names, size_t *n);

/* The text of export @name for the current listings (listing them when
 * needed), with a reference; -ENOENT when there is no such export now,
 * -errno when a listing failed. */
int export_get(struct exports *x, const char *name, struct export_text **out);
void export_text_unref(struct export_text *t);
/* When @t's content last changed (the directory-like mtime) and how long it
 * holds (the shorter TTL of its listings). */
void export_text_times(struct exports *x, const struct export_text *t, struct timespec *changed,
		       double *ttl_left);

#endif
