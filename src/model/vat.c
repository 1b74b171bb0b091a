/* vat: turnover and VAT of invoices, and the rows of the return (see vat.h). */
#include "model/vat.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The service's country id of the Netherlands: a client without a country
 * is there (the service's default). */
static const char home_country[] = "146";

/* The other member states of the EU VAT area, by the service's country ids
 * (its countrylist as captured in the public kt client's test resources,
 * countrylist_response.json).  Overseas parts outside the VAT area
 * (Guadeloupe, Martinique, Réunion, ...) and the United Kingdom (since 2021)
 * are not in it: outside the EU for VAT.  The names are for the reader. */
static const char *const eu_countries[] = {
	"18" /* België */, "30" /* Bulgarije */, "45" /* Cyprus */, "46" /* Denemarken */,
	"50" /* Duitsland */, "56" /* Estland */, "62" /* Finland */, "63" /* Frankrijk */,
	"73" /* Griekenland */, "84" /* Hongarije */, "86" /* Ierland */,
	"93" /* Italië */, "110" /* Kroatië */, "113" /* Letland */, "118" /* Litouwen */,
	"119" /* Luxemburg */, "129" /* Malta */, "163" /* Oostenrijk */,
	"171" /* Polen */, "172" /* Portugal */, "176" /* Roemenië */,
	"188" /* Slovenië */, "189" /* Slowakije */, "192" /* Spanje */,
	"213" /* Tsjechië */, "236" /* Zweden */,
};

/* The rates of the Dutch return and the box each goes in: 1a high, 1b low
 * (the rates of earlier years too: 19 % until 2012, 6 % until 2019), 1e
 * "0 % or not taxed with you".  Shown always are the rates marked; any other
 * rate an invoice has gets its own row in box 1c ("other rates"). */
static const struct {
	double rate;
	const char *box;
	bool always;
} rates[] = {
	{21, "1a", true}, {19, "1a", false}, {9, "1b", true}, {6, "1b", false}, {0, "1e", true},
};
static const char other_rate_box[] = "1c";

/* The rows that are not by rate: what goes in them, and their box.
 *   reverse charge: invoices to clients in the Netherlands whose VAT is
 *                   shifted to the client (tax_shifted): box 1e;
 *   EU:     reverse-charged or 0 % invoices to clients in another member
 *           state (intra-community supplies and services): box 3b;
 *   non-EU: the same to clients outside the EU (exports): box 3a. */
static const struct {
	enum vat_row_kind kind;
	const char *category, *box;
} other_rows[] = {
	{VAT_ROW_SHIFTED, "reverse charge", "1e"},
	{VAT_ROW_EU, "EU", "3b"},
	{VAT_ROW_NON_EU, "non-EU", "3a"},
	{VAT_ROW_TOTAL, "total", ""},
};

/* Fields of an invoice (pythonic form) the parts come from. */
static const struct {
	const char *lines, *rate, *linetotal, *amount, *price, *line_discount, *taxes, *tax_rate,
		*tax_sum, *tax_sum_of, *discounttype, *discount, *total, *tax;
} keys = {
	.lines = "lines", .rate = "tax_rate", .linetotal = "linetotal", .amount = "amount",
	.price = "price", .line_discount = "discount_pct", .taxes = "taxes", .tax_rate = "rate",
	.tax_sum = "sum", .tax_sum_of = "sum_of", .discounttype = "discounttype",
	.discount = "discount", .total = "totalintax", .tax = "tax",
};

/* A number field: a JSON number or a numeric string (as the service may send
 * it); @dflt when absent or not a number. */
static double num(const cJSON *o, const char *field, double dflt, bool *given)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, field);
	char *end = NULL;
	double d = dflt;
	bool ok = false;
	if (cJSON_IsNumber(v)) {
		d = v->valuedouble;
		ok = true;
	} else if (cJSON_IsString(v) && v->valuestring[0]) {
		d = strtod(v->valuestring, &end);
		ok = !*end;
	}
	ok = ok && isfinite(d);
	if (given)
		*given = ok;
	return ok ? d : dflt;
}

static long long cents(double euros)
{
	return llround(euros * 100.0);
}

static bool same_rate(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

/* The part of @rate in @out[0..*n), added when there is room. */
static struct vat_part *part_for(struct vat_part *out, size_t *n, size_t max, double rate,
				 size_t *lost)
{
	for (size_t i = 0; i < *n; i++)
		if (same_rate(out[i].rate, rate))
			return &out[i];
	if (*n == max) {
		(*lost)++;
		return NULL;
	}
	out[*n] = (struct vat_part){.rate = rate};
	return &out[(*n)++];
}

size_t vat_parts(const cJSON *rec, struct vat_part *out, size_t max, size_t *lost)
{
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(rec, keys.lines);
	const cJSON *taxes = cJSON_GetObjectItemCaseSensitive(rec, keys.taxes);
	const cJSON *x;
	size_t n = 0, nlines = 0;
	*lost = 0;

	/* The lines' net amounts by rate (a credit line is negative). */
	struct vat_base {
		double rate, net;
	} base[16];
	size_t nbase = 0;
	double sub = 0;
	cJSON_ArrayForEach(x, lines) {
		if (!cJSON_IsObject(x))
			continue;
		double rate = num(x, keys.rate, 0, NULL);
		bool given;
		double net = num(x, keys.linetotal, 0, &given);
		if (!given)
			net = num(x, keys.amount, 1, NULL) * num(x, keys.price, 0, NULL) *
			      (1 - num(x, keys.line_discount, 0, NULL) / 100.0);
		size_t k = 0;
		while (k < nbase && !same_rate(base[k].rate, rate))
			k++;
		if (k == nbase && nbase == N(base)) {
			(*lost)++;
			continue;
		}
		if (k == nbase)
			base[nbase++] = (struct vat_base){.rate = rate};
		base[k].net += net;
		sub += net;
		nlines++;
	}
	/* The invoice discount spreads over the rates as the service spreads it
	 * over its `taxes` (the fake's compute_totals): in proportion. */
	const cJSON *dt = cJSON_GetObjectItemCaseSensitive(rec, keys.discounttype);
	double disc = num(rec, keys.discount, 0, NULL);
	double taken = cJSON_IsString(dt) && !strcmp(dt->valuestring, "percentage")
			       ? sub * disc / 100.0 : disc;
	double factor = fabs(sub) > 1e-9 ? (sub - taken) / sub : 1.0;

	/* The rates the invoice states: its own figures. */
	cJSON_ArrayForEach(x, taxes) {
		if (!cJSON_IsObject(x))
			continue;
		struct vat_part *p = part_for(out, &n, max, num(x, keys.tax_rate, 0, NULL), lost);
		if (!p)
			continue;
		p->turnover += cents(num(x, keys.tax_sum_of, 0, NULL));
		p->vat += cents(num(x, keys.tax_sum, 0, NULL));
	}
	/* The rates it does not state (0 %, or an invoice without `taxes`). */
	size_t stated = n;
	for (size_t k = 0; k < nbase; k++) {
		bool has = false;
		for (size_t i = 0; i < stated; i++)
			has |= same_rate(out[i].rate, base[k].rate);
		if (has)
			continue;
		struct vat_part *p = part_for(out, &n, max, base[k].rate, lost);
		if (!p)
			continue;
		p->turnover = cents(base[k].net * factor);
		p->vat = llround((double)p->turnover * base[k].rate / 100.0);
	}
	/* A listing without lines: the rest of the total is turnover at 0 %. */
	if (!nlines) {
		long long rest = cents(num(rec, keys.total, 0, NULL)) - cents(num(rec, keys.tax, 0, NULL));
		for (size_t i = 0; i < n; i++)
			rest -= out[i].turnover;
		struct vat_part *p = rest ? part_for(out, &n, max, 0, lost) : NULL;
		if (p)
			p->turnover += rest;
	}
	return n;
}

enum vat_where vat_where_of(const char *country)
{
	if (!country || !*country || !strcmp(country, home_country))
		return VAT_NL;
	for (size_t i = 0; i < N(eu_countries); i++)
		if (!strcmp(country, eu_countries[i]))
			return VAT_EU;
	return VAT_NON_EU;
}

/* ---- the return ------------------------------------------------------------------ */

static struct vat_row *row_for(struct vat_return *r, enum vat_row_kind kind, double rate)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->rows[i].kind == kind && (kind != VAT_ROW_RATE || same_rate(r->rows[i].rate, rate)))
			return &r->rows[i];
	if (r->n == r->cap && vec_grow(&r->rows, &r->cap, r->n + 1, sizeof(*r->rows)) < 0) {
		r->oom = true;
		return NULL;
	}
	r->rows[r->n] = (struct vat_row){.kind = kind, .rate = rate};
	return &r->rows[r->n++];
}

int vat_return_init(struct vat_return *r)
{
	*r = (struct vat_return){0};
	for (size_t i = 0; i < N(rates); i++)
		if (rates[i].always)
			row_for(r, VAT_ROW_RATE, rates[i].rate);
	for (size_t i = 0; i < N(other_rows); i++)
		row_for(r, other_rows[i].kind, 0);
	return r->oom ? -ENOMEM : 0;
}

int vat_return_add(struct vat_return *r, const struct vat_part *parts, size_t n, bool shifted,
		   enum vat_where where)
{
	/* Rows counted once per invoice: remember which this one touched (by
	 * position: row_for may move the rows). */
	size_t touched[24];
	size_t nt = 0;
	for (size_t i = 0; i < n; i++) {
		enum vat_row_kind kind = VAT_ROW_RATE;
		/* Reverse-charged invoices, and 0 % to a client abroad, are
		 * reported by where the client is; everything else by its rate
		 * (Dutch VAT charged to a client abroad is still Dutch VAT). */
		if (shifted || (where != VAT_NL && same_rate(parts[i].rate, 0)))
			kind = where == VAT_NL ? VAT_ROW_SHIFTED : where == VAT_EU ? VAT_ROW_EU
										   : VAT_ROW_NON_EU;
		struct vat_row *row = row_for(r, kind, parts[i].rate);
		if (!row)
			return -ENOMEM;
		row->turnover += parts[i].turnover;
		row->vat += parts[i].vat;
		size_t at = (size_t)(row - r->rows);
		bool seen = false;
		for (size_t k = 0; k < nt; k++)
			seen |= touched[k] == at;
		if (!seen && nt < N(touched)) {
			touched[nt++] = at;
			row->invoices++;
		}
	}
	struct vat_row *total = row_for(r, VAT_ROW_TOTAL, 0);
	if (!total)
		return -ENOMEM;
	total->invoices++;
	return 0;
}

/* Order: rates (highest first), then the other rows in table order. */
static int row_order(const struct vat_row *a)
{
	return a->kind == VAT_ROW_RATE ? 0 : (int)a->kind;
}

static int cmp_rows(const void *pa, const void *pb)
{
	const struct vat_row *a = pa, *b = pb;
	if (row_order(a) != row_order(b))
		return row_order(a) < row_order(b) ? -1 : 1;
	return a->rate > b->rate ? -1 : a->rate < b->rate ? 1 : 0;
}

void vat_return_finish(struct vat_return *r)
{
	struct vat_row *total = row_for(r, VAT_ROW_TOTAL, 0);
	if (!total)
		return;
	total->turnover = total->vat = 0;
	for (size_t i = 0; i < r->n; i++) {
		if (r->rows[i].kind == VAT_ROW_TOTAL)
			continue;
		total->turnover += r->rows[i].turnover;
		total->vat += r->rows[i].vat;
	}
	qsort(r->rows, r->n, sizeof(*r->rows), cmp_rows);
}

void vat_return_free(struct vat_return *r)
{
	free(r->rows);
	*r = (struct vat_return){0};
}

void vat_row_category(const struct vat_row *row, char *buf, size_t len)
{
	if (row->kind == VAT_ROW_RATE) {
		snprintf(buf, len, "%g%%", row->rate);
		return;
	}
	for (size_t i = 0; i < N(other_rows); i++)
		if (other_rows[i].kind == row->kind)
			snprintf(buf, len, "%s", other_rows[i].category);
}

const char *vat_row_box(const struct vat_row *row)
{
	if (row->kind == VAT_ROW_RATE) {
		for (size_t i = 0; i < N(rates); i++)
			if (same_rate(rates[i].rate, row->rate))
				return rates[i].box;
		return other_rate_box;
	}
	for (size_t i = 0; i < N(other_rows); i++)
		if (other_rows[i].kind == row->kind)
			return other_rows[i].box;
	return "";
}

/* ---- quarters ---------------------------------------------------------------------- */

static bool digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

bool vat_quarter_of(const char *date, char *buf, size_t len)
{
	if (strlen(date) < 7 || !digits(date, 4) || date[4] != '-' || !digits(date + 5, 2))
		return false;
	int month = (date[5] - '0') * 10 + (date[6] - '0');
	if (month < 1 || month > 12)
		return false;
	snprintf(buf, len, "%.4s-Q%d", date, (month - 1) / 3 + 1);
	return true;
}

bool vat_quarter_valid(const char *name)
{
	return strlen(name) == 7 && digits(name, 4) && name[4] == '-' && name[5] == 'Q' &&
	       name[6] >= '1' && name[6] <= '4';
}
