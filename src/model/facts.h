/* facts: what views, extended attributes and exports read of a record, taken
 * out of it once, when the record is rendered (store/record.c), so that no
 * module parses a record's text again.
 *
 * Which fields they are, what each invoice filter means and which columns an
 * export has are tables in facts.c, beside the data dictionary's
 * (model/schema.c): adding a column is adding a row.
 */
#ifndef FACTUURFS_MODEL_FACTS_H
#define FACTUURFS_MODEL_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "model/schema.h"
#include "model/vat.h"

/* The facts of one record of a collection that views or exports read
 * (invoices, clients); one allocation, freed with free(). */
struct facts {
	char date[11];        /* invoices: the day it is dated, "YYYY-MM-DD" (views/year/,
				 views/quarter/, the VAT return), or "": schema_record_day() */
	char duedate[11];     /* invoices, or "" */
	char clientnr[24];    /* invoices: their client's number; clients: their own; or "" */
	const char *name;     /* invoices: their copy of the client's company; clients:
				 company, else contact; "" when none (inside this block) */
	double total, open;   /* invoices: totalintax and the amount still to pay */
	bool has_total;       /* total came as a number */
	bool sent;            /* invoices: a sent date is set */
	bool uncollectible;   /* invoices: marked uncollectible */
	char country[12];     /* invoices: their copy of the client's country id; clients:
				 their own; "" when none */
	int shifted;          /* tax_shifted (reverse charge): 1, 0, or -1 when not given */
	size_t nvat;          /* invoices: their VAT parts, by rate (model/vat.h) */
	const struct vat_part *vat; /* inside this block */
	size_t ncells;        /* the export's columns (0: no export) */
	char cells[];         /* their texts as the export shows them, NUL-separated;
				 the status column is "" (it depends on today) */
};

/* The facts of pythonic record @rec of @c, or NULL when @c has none (or on
 * ENOMEM: a record without facts is left out of views, not of listings). */
struct facts *facts_of(const struct schema_collection *c, const cJSON *rec);

/* Cell @k of @f's export row (k < f->ncells). */
const char *facts_cell(const struct facts *f, size_t k);

/* The API's invoice list filters (`invoices?filter=<name>`) and what each
 * means, as the fake defines them (tests/fakeapi/fakeapi.py, WIRE["filters"]):
 * views/status/<name>/ asks the service; the status xattr and the status
 * column of invoices.csv apply @match locally.  @today is "YYYY-MM-DD"
 * (overdue: due before today). */
struct facts_filter {
	const char *name;
	const char *meaning;
	bool (*match)(const struct facts *invoice, const char *today);
};
size_t facts_nfilters(void);
const struct facts_filter *facts_filter_at(size_t i);
const struct facts_filter *facts_filter_find(const char *name);
/* The filters @invoice matches, comma-separated in table order
 * ("open,overdue"), into @buf ("" when none). */
void facts_status(const struct facts *invoice, const char *today, char *buf, size_t len);

/* Columns of a spreadsheet export (exports/<collection>.csv). */
enum facts_csv {
	FACTS_CSV_TEXT,   /* a string as it is; a number as it reads */
	FACTS_CSV_INT,    /* 42 */
	FACTS_CSV_MONEY,  /* 121.00: two decimals, '.' */
	FACTS_CSV_DATE,   /* YYYY-MM-DD, empty for none */
	FACTS_CSV_DAY,    /* the record's own date (schema_record_day), empty for none */
	FACTS_CSV_STATUS, /* facts_status() */
	FACTS_CSV_NUMBER, /* 21, 5.5: a number as it reads */
	FACTS_CSV_LEDGER, /* the record's category (its cell, as text) shown as that
			     category's ledger from categories/: resolved by the export */
};
struct facts_column {
	const char *header;
	const char *field;  /* NULL for FACTS_CSV_STATUS and FACTS_CSV_DAY */
	enum facts_csv fmt;
};
/* The export columns of @c (NULL, *@n = 0: no export). */
const struct facts_column *facts_columns(const struct schema_collection *c, size_t *n);
/* The columns of the VAT quarter's export (exports/btw-YYYY-Qn.csv): one row
 * per row of the return (model/vat.h). */
const struct facts_column *facts_vat_columns(size_t *n);

#endif
