/* table: the row model of a spreadsheet export, and its CSV.
 *
 * An export is built once as a table — a header and a type per column (the
 * column tables of model/facts.c), then the cells' texts as the CSV shows
 * them — and both its files are rendered from it: the CSV here, the .xlsx
 * in feat/xlsx.c.  So a column added to a table appears in both.
 */
#ifndef FACTUURFS_FEAT_TABLE_H
#define FACTUURFS_FEAT_TABLE_H

#include <stddef.h>

#include "base/strbuf.h"
#include "model/facts.h"

struct table {
	const char *sheet;               /* the sheet's name in the .xlsx */
	const struct facts_column *cols; /* header and type of each column (static tables) */
	size_t ncol, nrow;
	size_t *off;                     /* cell (i, k) at pool.p + off[i * ncol + k] */
	size_t noff, cap;
	struct strbuf pool;              /* the cells' texts, NUL-separated */
};

/* An empty table of the columns @cols[0..@ncol). */
void table_init(struct table *t, const char *sheet, const struct facts_column *cols, size_t ncol);
/* Appends the next cell (rows fill left to right); -ENOMEM or 0. */
int table_put(struct table *t, const char *text);
/* Ends a row: -EINVAL when it does not have ncol cells. */
int table_end_row(struct table *t);
/* The text of cell (@i, @k). */
const char *table_cell(const struct table *t, size_t i, size_t k);
void table_free(struct table *t);

/* The table as RFC 4180 CSV, UTF-8 with a byte-order mark, CRLF line ends;
 * a text cell starting with = + - @ gets a leading ' (never run as a
 * formula).  malloc'd, *@len bytes; NULL on ENOMEM. */
char *table_csv(const struct table *t, size_t *len);

#endif
