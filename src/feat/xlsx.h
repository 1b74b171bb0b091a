/* xlsx: an export's table (feat/table.h) as an Excel workbook, written with
 * libxlsxwriter: one sheet, a bold header row that stays in view, typed cells
 * (numbers as numbers, amounts as numbers in a euro format, dates as dates),
 * each column as wide as its longest text.  A Dutch Excel opens it as it is,
 * where it reads the CSV beside it as one column (';' is its separator).
 */
#ifndef FACTUURFS_FEAT_XLSX_H
#define FACTUURFS_FEAT_XLSX_H

#include <stddef.h>
#include <time.h>

#include "feat/table.h"

/* The number formats of amounts and dates. */
#define XLSX_MONEY_FORMAT "[$\xE2\x82\xAC-413] #,##0.00;[$\xE2\x82\xAC-413] -#,##0.00"
#define XLSX_DATE_FORMAT "yyyy-mm-dd"

/* The workbook of @t, its properties dated @created (the listing's time, so
 * the same table gives the same bytes), malloc'd, *@len bytes; -errno. */
int xlsx_render(const struct table *t, time_t created, char **out, size_t *len);

#endif
