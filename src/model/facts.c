/* facts: what views, xattrs and exports read of a record (see facts.h). */
#include "model/facts.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Fields of an invoice (pythonic form) the facts come from. */
static const struct {
	const char *duedate, *clientnr, *company, *total, *open, *sent, *uncollectible, *country,
		*shifted;
} invoice_keys = {
	.duedate = "duedate",
	.clientnr = "clientnr",
	.company = "company",
	.total = "totalintax",
	.open = "open",
	.sent = "sent",
	.uncollectible = "uncollectible",
	.country = "country",
	.shifted = "tax_shifted",
};

/* The VAT rates of one invoice kept (model/vat.h); an invoice has two or three. */
#define FACTS_MAX_RATES 8

/* Fields naming a client in views/client/<clientnr> - <name>/: the first
 * non-empty of these. */
static const char *const client_name_fields[] = {"company", "contact"};

static const struct facts_column invoice_columns[] = {
	{"invoicenr", "invoicenr", FACTS_CSV_TEXT},
	{"date", NULL, FACTS_CSV_DAY},
	{"duedate", "duedate", FACTS_CSV_DATE},
	{"clientnr", "clientnr", FACTS_CSV_INT},
	{"company", "company", FACTS_CSV_TEXT},
	{"contact", "contact", FACTS_CSV_TEXT},
	{"totalintax", "totalintax", FACTS_CSV_MONEY},
	{"open", "open", FACTS_CSV_MONEY},
	{"paiddate", "paiddate", FACTS_CSV_DATE},
	{"sent", "sent", FACTS_CSV_DATE},
	{"status", NULL, FACTS_CSV_STATUS},
	{"ledger", "category", FACTS_CSV_LEDGER},
};

static const struct facts_column client_columns[] = {
	{"clientnr", "clientnr", FACTS_CSV_INT},
	{"company", "company", FACTS_CSV_TEXT},
	{"contact", "contact", FACTS_CSV_TEXT},
	{"address", "address", FACTS_CSV_TEXT},
	{"zipcode", "zipcode", FACTS_CSV_TEXT},
	{"city", "city", FACTS_CSV_TEXT},
	{"country", "country", FACTS_CSV_INT},
	{"email", "email", FACTS_CSV_TEXT},
	{"phone", "phone", FACTS_CSV_TEXT},
	{"mobile", "mobile", FACTS_CSV_TEXT},
	{"taxnumber", "taxnumber", FACTS_CSV_TEXT},
	{"lastinvoice", "lastinvoice", FACTS_CSV_DATE},
};

static const struct facts_column vat_columns[] = {
	{"category", NULL, FACTS_CSV_TEXT},   /* "21%", "reverse charge", "EU", "non-EU", "total" */
	{"rate", NULL, FACTS_CSV_NUMBER},     /* the rate rows' percentage */
	{"box", NULL, FACTS_CSV_TEXT},        /* of the Dutch return (rubriek): "1a" */
	{"turnover", NULL, FACTS_CSV_MONEY},  /* excluding VAT */
	{"vat", NULL, FACTS_CSV_MONEY},
	{"invoices", NULL, FACTS_CSV_INT},    /* how many have a part in the row */
};

const struct facts_column *facts_vat_columns(size_t *n)
{
	*n = N(vat_columns);
	return vat_columns;
}

const struct facts_column *facts_columns(const struct schema_collection *c, size_t *n)
{
	if (!strcmp(c->name, "invoices")) {
		*n = N(invoice_columns);
		return invoice_columns;
	}
	if (!strcmp(c->name, "clients")) {
		*n = N(client_columns);
		return client_columns;
	}
	*n = 0;
	return NULL;
}

/* ---- reading a record ------------------------------------------------------ */

/* A number field (0 when absent or not a number: the fake reads a missing
 * amount as 0 too); *@is_num says whether it was one. */
static double num(const cJSON *rec, const char *field, bool *is_num)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, field);
	if (is_num)
		*is_num = cJSON_IsNumber(v);
	if (cJSON_IsNumber(v))
		return v->valuedouble;
	if (cJSON_IsString(v))
		return strtod(v->valuestring, NULL);
	return 0;
}

/* A string field that is set ("" and null are not), or NULL. */
static const char *str(const cJSON *rec, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, field);
	return cJSON_IsString(v) && v->valuestring[0] ? v->valuestring : NULL;
}

/* A client number as text ("17") into @buf, or "" when @v is none. */
static void clientnr_text(const cJSON *v, char *buf, size_t len)
{
	buf[0] = '\0';
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e18)
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsString(v) && names_all_digits(v->valuestring))
		snprintf(buf, len, "%s", v->valuestring);
}

/* A country id as text ("146") into @buf, or "" when @v is none. */
static void country_text(const cJSON *v, char *buf, size_t len)
{
	buf[0] = '\0';
	if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e9)
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsString(v) && strlen(v->valuestring) < len)
		snprintf(buf, len, "%s", v->valuestring);
}

/* tax_shifted: 1, 0, or -1 when not given (any form the service sends). */
static int shifted_of(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? 1 : 0;
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0 ? 1 : 0;
	if (cJSON_IsString(v) && v->valuestring[0])
		return strcmp(v->valuestring, "1") == 0 || strcmp(v->valuestring, "true") == 0 ? 1 : 0;
	return -1;
}

/* Column @col of @rec as its cell text: into @buf, or *@out pointing into @rec. */
static const char *cell(const struct facts_column *col, const cJSON *rec, char *buf, size_t len)
{
	const cJSON *v = col->field ? cJSON_GetObjectItemCaseSensitive(rec, col->field) : NULL;
	buf[0] = '\0';
	if (!v)
		return buf; /* no such field (or the status column): an empty cell */
	switch (col->fmt) {
	case FACTS_CSV_STATUS:
		return buf; /* depends on today: rendered with the export */
	case FACTS_CSV_MONEY:
		if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.2f", v->valuedouble + 0.0);
		else if (cJSON_IsString(v))
			return v->valuestring; /* as it came: it did not convert */
		return buf;
	case FACTS_CSV_INT:
	case FACTS_CSV_NUMBER:
		if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
		else if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.17g", v->valuedouble);
		else if (cJSON_IsString(v))
			return v->valuestring;
		return buf;
	case FACTS_CSV_DAY:
		return buf; /* facts_of fills it in */
	case FACTS_CSV_DATE:
	case FACTS_CSV_TEXT:
	case FACTS_CSV_LEDGER:
		if (cJSON_IsString(v))
			return v->valuestring;
		if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.17g", v->valuedouble);
		else if (cJSON_IsBool(v))
			snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return buf;
	}
	return buf;
}

struct facts *facts_of(const struct schema_collection *c, const cJSON *rec)
{
	bool invoice = !strcmp(c->name, "invoices"), client = !strcmp(c->name, "clients");
	if (!invoice && !client)
		return NULL;
	size_t ncol;
	const struct facts_column *cols = facts_columns(c, &ncol);
	const char *name = NULL;
	if (invoice)
		name = str(rec, invoice_keys.company);
	for (size_t k = 0; client && !name && k < N(client_name_fields); k++)
		name = str(rec, client_name_fields[k]);
	if (!name)
		name = "";

	/* One block: the struct, the cells, the name, the VAT parts. */
	char bufs[N(invoice_columns) > N(client_columns) ? N(invoice_columns) : N(client_columns)][64];
	const char *texts[N(bufs)];
	struct vat_part parts[FACTS_MAX_RATES];
	size_t nparts = 0, lost = 0;
	if (invoice)
		nparts = vat_parts(rec, parts, FACTS_MAX_RATES, &lost);
	/* The one rule that dates a record (its collection's date_fields): the views, the
	 * VAT return and the date column all read it from here. */
	char day[11];
	schema_record_day(c, rec, day);
	size_t size = sizeof(struct facts) + strlen(name) + 1;
	for (size_t k = 0; k < ncol; k++) {
		texts[k] = cols[k].fmt == FACTS_CSV_DAY ? day
							: cell(&cols[k], rec, bufs[k], sizeof(bufs[k]));
		size += strlen(texts[k]) + 1;
	}
	const size_t align = _Alignof(struct vat_part);
	size_t vat_at = (size + align - 1) / align * align;
	size = vat_at + nparts * sizeof(struct vat_part);
	struct facts *f = calloc(1, size);
	if (!f)
		return NULL;
	if (nparts)
		memcpy((char *)f + vat_at, parts, nparts * sizeof(*parts));
	f->vat = (const struct vat_part *)(const void *)((char *)f + vat_at);
	f->nvat = nparts;
	char *p = f->cells;
	for (size_t k = 0; k < ncol; k++) {
		size_t l = strlen(texts[k]) + 1;
		memcpy(p, texts[k], l);
		p += l;
	}
	f->ncells = ncol;
	memcpy(p, name, strlen(name) + 1);
	f->name = p;
	if (invoice) {
		const char *d;
		memcpy(f->date, day, sizeof(f->date));
		if ((d = str(rec, invoice_keys.duedate)))
			snprintf(f->duedate, sizeof(f->duedate), "%.10s", d);
		clientnr_text(cJSON_GetObjectItemCaseSensitive(rec, invoice_keys.clientnr), f->clientnr,
			      sizeof(f->clientnr));
		f->total = num(rec, invoice_keys.total, &f->has_total);
		f->open = num(rec, invoice_keys.open, NULL);
		f->sent = str(rec, invoice_keys.sent) != NULL;
		f->uncollectible = str(rec, invoice_keys.uncollectible) != NULL;
	} else {
		clientnr_text(cJSON_GetObjectItemCaseSensitive(rec, "clientnr"), f->clientnr,
			      sizeof(f->clientnr));
	}
	/* Clients and invoices spell these alike. */
	country_text(cJSON_GetObjectItemCaseSensitive(rec, invoice_keys.country), f->country,
		     sizeof(f->country));
	f->shifted = shifted_of(cJSON_GetObjectItemCaseSensitive(rec, invoice_keys.shifted));
	return f;
}

const char *facts_cell(const struct facts *f, size_t k)
{
	const char *p = f->cells;
	while (k--)
		p += strlen(p) + 1;
	return p;
}

/* ---- the invoice filters ---------------------------------------------------- */

/* Amounts are cents: within half a cent is equal (the fake's 0.004/0.005). */
#define CENT 0.004

static bool f_open(const struct facts *f, const char *today)
{
	(void)today;
	return f->open > CENT && !f->uncollectible;
}

static bool f_overdue(const struct facts *f, const char *today)
{
	return f_open(f, today) && f->duedate[0] && strcmp(f->duedate, today) < 0;
}

static bool f_sent(const struct facts *f, const char *today)
{
	return f->sent && f_open(f, today) && fabs(f->open - f->total) < CENT + 0.001;
}

static bool f_partly(const struct facts *f, const char *today)
{
	(void)today;
	return f->open > CENT && f->open < f->total - CENT && !f->uncollectible;
}

static bool f_toomuch(const struct facts *f, const char *today)
{
	(void)today;
	return f->open < -CENT;
}

static bool f_paid(const struct facts *f, const char *today)
{
	(void)today;
	return fabs(f->open) <= CENT && !f->uncollectible;
}

static bool f_uncollectible(const struct facts *f, const char *today)
{
	(void)today;
	return f->uncollectible;
}

/* net InvoiceFilters.cs names them; the meanings are the fake's (WIRE). */
static const struct facts_filter filters[] = {
	{"open", "something left to pay, not uncollectible", f_open},
	{"overdue", "open and due before today", f_overdue},
	{"sent", "sent, nothing paid yet (open == total), not uncollectible", f_sent},
	{"partly", "partly paid: 0 < open < total, not uncollectible", f_partly},
	{"toomuch", "paid more than the total: open < 0", f_toomuch},
	{"paid", "nothing left to pay (open == 0), not uncollectible", f_paid},
	{"uncollectible", "marked uncollectible", f_uncollectible},
};

size_t facts_nfilters(void)
{
	return N(filters);
}

const struct facts_filter *facts_filter_at(size_t i)
{
	return i < N(filters) ? &filters[i] : NULL;
}

const struct facts_filter *facts_filter_find(const char *name)
{
	for (size_t i = 0; i < N(filters); i++)
		if (!strcmp(filters[i].name, name))
			return &filters[i];
	return NULL;
}

void facts_status(const struct facts *invoice, const char *today, char *buf, size_t len)
{
	size_t used = 0;
	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < N(filters); i++) {
		if (!filters[i].match(invoice, today))
			continue;
		int w = snprintf(buf + used, len > used ? len - used : 0, "%s%s", used ? "," : "",
				 filters[i].name);
		if (w < 0 || used + (size_t)w >= len)
			break;
		used += (size_t)w;
	}
}
