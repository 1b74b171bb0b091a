/* vat: what the quarterly VAT (btw) return reads of invoices — each
 * invoice's turnover and VAT by rate, where its client is (the Netherlands,
 * another EU member state, outside the EU) — and the rows of the return.
 *
 * The data are tables in vat.c (the EU member states by the service's country
 * ids, the box of the Dutch return each rate goes in, the rows always shown);
 * the rules are in docs/SEMANTICS.md ("The VAT quarter").  Amounts are whole
 * cents, so sums never drift.
 */
#ifndef FACTUURFS_MODEL_VAT_H
#define FACTUURFS_MODEL_VAT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

/* One rate of one invoice: its turnover excluding VAT and its VAT, in cents. */
struct vat_part {
	double rate;        /* percent: 21, 9, 0 */
	long long turnover, vat;
};

/* The parts of pythonic invoice @rec, at most @max into @out (an invoice
 * with more rates than that keeps the first @max; *@lost counts the rest);
 * returns how many.  From its `taxes` entries (the figures
 * the invoice states), and for the rates without one (0 %) from its `lines`
 * after the invoice discount; without lines, what `totalintax - tax` leaves
 * is turnover at 0 %. */
size_t vat_parts(const cJSON *rec, struct vat_part *out, size_t max, size_t *lost);

/* Where a client is, by the service's country id ("146"); "" (none given)
 * is the Netherlands, the service's default. */
enum vat_where { VAT_NL, VAT_EU, VAT_NON_EU };
enum vat_where vat_where_of(const char *country);

/* The rows of the return, in order: one per rate (the standard rates always,
 * other rates when an invoice has them, highest first), then the rows that
 * are not by rate, then the total. */
enum vat_row_kind { VAT_ROW_RATE, VAT_ROW_SHIFTED, VAT_ROW_EU, VAT_ROW_NON_EU, VAT_ROW_TOTAL };
struct vat_row {
	enum vat_row_kind kind;
	double rate;            /* VAT_ROW_RATE */
	long long turnover, vat;
	size_t invoices;        /* invoices with a part in this row */
};
struct vat_return {
	struct vat_row *rows;   /* malloc'd; vat_return_free */
	size_t n, cap;
	bool oom;
};
/* An empty return with the rows that are always shown. */
int vat_return_init(struct vat_return *r);
/* Adds one invoice: its @parts, whether it is reverse-charged (@shifted) and
 * where its client is.  -ENOMEM, or 0. */
int vat_return_add(struct vat_return *r, const struct vat_part *parts, size_t n, bool shifted,
		   enum vat_where where);
/* Sorts the rows into their order and sets the total row. */
void vat_return_finish(struct vat_return *r);
void vat_return_free(struct vat_return *r);

/* A row's category ("21%", "reverse charge", "EU", "non-EU", "total") and box
 * of the Dutch return ("1a", "1e", "3b", ...; "" for the total), into @buf. */
void vat_row_category(const struct vat_row *row, char *buf, size_t len);
const char *vat_row_box(const struct vat_row *row);

/* "YYYY-Qn" of date "YYYY-MM-DD" into @buf (8 bytes), or false when @date is
 * not one: an invoice's quarter is that of its invoice date. */
bool vat_quarter_of(const char *date, char *buf, size_t len);
/* True when @name is "YYYY-Qn" (n 1..4). */
bool vat_quarter_valid(const char *name);

#endif
