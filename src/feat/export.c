/* export: CSV and .xlsx files of the listings and of the VAT quarter (see export.h). */
#include "feat/export.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uthash.h>

#include "feat/table.h"
#include "feat/xlsx.h"
#include "model/facts.h"
#include "model/schema.h"
#include "model/vat.h"

/* The formats every export comes in: the file's extension. */
enum format { FMT_CSV, FMT_XLSX, NFORMATS };
static const char *const extensions[NFORMATS] = {".csv", ".xlsx"};

/* The fixed exports: a collection's listing, in each format (inode order); their file
 * names, <name><extension>, below. */
static const enum schema_role collections[] = {SCHEMA_ROLE_INVOICES, SCHEMA_ROLE_CLIENTS};
#define NCOLLECTIONS (sizeof(collections) / sizeof(collections[0]))
#define NFIXED (NCOLLECTIONS * NFORMATS)
static const char *const fixed_names[NFIXED] = {
	"invoices.csv", "invoices.xlsx", "clients.csv", "clients.xlsx",
};

/* A quarter's export: "btw-" YYYY-Qn extension. */
static const char quarter_prefix[] = "btw-";

/* One rendered export, by file name. */
struct rendered {
	char *name;
	struct export_text *t;
	UT_hash_handle hh;
};

struct exports {
	struct cache *cache;
	pthread_mutex_t lock;     /* protects texts */
	struct rendered *texts;   /* the last rendered, by name */
};

size_t export_count(void)
{
	return NFIXED;
}

const char *export_name(size_t i)
{
	return i < NFIXED ? fixed_names[i] : NULL;
}

int export_find(const char *name)
{
	for (size_t i = 0; i < NFIXED; i++)
		if (!strcmp(name, fixed_names[i]))
			return (int)i;
	return -1;
}

/* The format of file name @name, or -1. */
static int format_of(const char *name)
{
	size_t n = strlen(name);
	for (int f = 0; f < NFORMATS; f++) {
		size_t e = strlen(extensions[f]);
		if (n > e && !strcmp(name + n - e, extensions[f]))
			return f;
	}
	return -1;
}

/* The quarter ("2025-Q3") of quarter export @name into @q (8 bytes). */
static bool quarter_of_name(const char *name, char *q, size_t len)
{
	size_t p = strlen(quarter_prefix);
	int f = format_of(name);
	if (f < 0 || strncmp(name, quarter_prefix, p) != 0 ||
	    strlen(name) != p + 7 + strlen(extensions[f]))
		return false;
	snprintf(q, len, "%.7s", name + p);
	return vat_quarter_valid(q);
}

bool export_quarter_plausible(const char *name)
{
	char q[16];
	return quarter_of_name(name, q, sizeof(q));
}

void export_text_unref(struct export_text *t)
{
	if (!t || atomic_fetch_sub_explicit((_Atomic int *)&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	cache_listing_unref(t->l);
	cache_listing_unref(t->l2);
	cache_listing_unref(t->cats);
	free(t->data);
	free(t);
}

/* ---- the tables ---------------------------------------------------------------------- */

/* A category's ledger (general-ledger account) for the ledger column. */
struct ledger {
	char *id, *name, *ledger;
};

/* The categories of @cats as (id, name, ledger), *@n of them; NULL with 0 when
 * none (or on ENOMEM: the column is then empty, the export still made). */
static struct ledger *ledgers_of(const struct cache_listing *cats, size_t *n)
{
	struct ledger *v = cats && cats->n ? calloc(cats->n, sizeof(*v)) : NULL;
	*n = 0;
	for (size_t i = 0; v && i < cats->n; i++) {
		cJSON *rec = cJSON_ParseWithLength(cats->recs[i]->text, cats->recs[i]->len);
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
		const cJSON *ledger = cJSON_GetObjectItemCaseSensitive(rec, "ledger");
		char num[32] = "";
		if (cJSON_IsNumber(ledger)) /* a ledger given as a number: as it reads */
			snprintf(num, sizeof(num), "%.17g", ledger->valuedouble);
		struct ledger *g = &v[*n];
		g->id = strdup(cats->recs[i]->id);
		g->name = strdup(cJSON_IsString(name) ? name->valuestring : "");
		g->ledger = strdup(cJSON_IsString(ledger) ? ledger->valuestring : num);
		cJSON_Delete(rec);
		if (g->id && g->name && g->ledger) {
			(*n)++;
		} else {
			free(g->id);
			free(g->name);
			free(g->ledger);
		}
	}
	return v;
}

/* The ledger of category @category: by id (our reading: an invoice's category
 * is the category's id), else by name (the other); "" when none. */
static const char *ledger_find(const struct ledger *v, size_t n, const char *category)
{
	for (size_t i = 0; *category && i < n; i++)
		if (!strcmp(v[i].id, category))
			return v[i].ledger;
	for (size_t i = 0; *category && i < n; i++)
		if (!strcmp(v[i].name, category))
			return v[i].ledger;
	return "";
}

static void ledgers_free(struct ledger *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].id);
		free(v[i].name);
		free(v[i].ledger);
	}
	free(v);
}

/* True when a record of @l has a ledger column with something in it: only then
 * are the categories listed (no call for an account without categories). */
static bool needs_categories(const struct schema_collection *c, const struct cache_listing *l)
{
	size_t ncol;
	const struct facts_column *cols = facts_columns(c, &ncol);
	for (size_t k = 0; k < ncol; k++) {
		if (cols[k].fmt != FACTS_CSV_LEDGER)
			continue;
		for (size_t i = 0; i < l->n; i++) {
			const struct facts *f = cache_record_facts(l->recs[i]);
			if (f && f->ncells == ncol && *facts_cell(f, k))
				return true;
		}
	}
	return false;
}

/* The table of collection @c from its listing @l (@cats: the categories the
 * ledger column reads; NULL: that column is empty). */
static int table_of_listing(struct table *t, const struct schema_collection *c,
			    const struct cache_listing *l, const struct cache_listing *cats)
{
	size_t nledgers;
	struct ledger *ledgers = ledgers_of(cats, &nledgers);
	size_t ncol;
	const struct facts_column *cols = facts_columns(c, &ncol);
	char today[16], status[128];
	time_t now = time(NULL);
	struct tm tm;
	int rc = 0;
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	table_init(t, c->name, cols, ncol);
	for (size_t i = 0; i < l->n && rc == 0; i++) {
		const struct facts *f = cache_record_facts(l->recs[i]);
		if (!f || f->ncells != ncol)
			continue;
		for (size_t k = 0; k < ncol && rc == 0; k++) {
			const char *cell = facts_cell(f, k);
			if (cols[k].fmt == FACTS_CSV_STATUS) {
				facts_status(f, today, status, sizeof(status));
				cell = status;
			} else if (cols[k].fmt == FACTS_CSV_LEDGER) {
				cell = ledger_find(ledgers, nledgers, cell);
			}
			rc = table_put(t, cell);
		}
		if (rc == 0)
			rc = table_end_row(t);
	}
	ledgers_free(ledgers, nledgers);
	return rc;
}

/* Cents as an amount: "-12.05". */
static void amount_text(long long cents, char *buf, size_t len)
{
	unsigned long long a = cents < 0 ? 0ULL - (unsigned long long)cents : (unsigned long long)cents;
	snprintf(buf, len, "%s%llu.%02llu", cents < 0 ? "-" : "", a / 100, a % 100);
}

/* The VAT return of quarter @q ("2025-Q3") from the invoices listing @inv:
 * the invoices dated in it.  Whether an invoice is reverse-charged and where
 * its client is come from the invoice's own copy (what it stated when it was
 * made), else from its client in @cli. */
static int table_of_quarter(struct table *t, const char *q, const struct cache_listing *inv,
			    const struct cache_listing *cli, char *sheet)
{
	struct vat_return r;
	size_t ncol;
	int rc = vat_return_init(&r);
	const struct facts_column *cols = facts_vat_columns(&ncol);
	table_init(t, sheet, cols, ncol);
	for (size_t i = 0; i < inv->n && rc == 0; i++) {
		const struct facts *f = cache_record_facts(inv->recs[i]);
		char fq[16];
		if (!f || !vat_quarter_of(f->date, fq, sizeof(fq)) || strcmp(fq, q) != 0)
			continue;
		int shifted = f->shifted;
		const char *country = f->country;
		ssize_t pos = cli && f->clientnr[0] ? cache_listing_find(cli, f->clientnr) : -1;
		const struct facts *cf = pos >= 0 ? cache_record_facts(cli->recs[pos]) : NULL;
		if (cf && shifted < 0)
			shifted = cf->shifted;
		if (cf && !country[0])
			country = cf->country;
		rc = vat_return_add(&r, f->vat, f->nvat, shifted > 0, vat_where_of(country));
	}
	if (rc == 0)
		vat_return_finish(&r);
	for (size_t i = 0; i < r.n && rc == 0 && !r.oom; i++) {
		const struct vat_row *row = &r.rows[i];
		char cat[64], rate[32] = "", turnover[32], vat[32], count[32];
		vat_row_category(row, cat, sizeof(cat));
		if (row->kind == VAT_ROW_RATE)
			snprintf(rate, sizeof(rate), "%g", row->rate);
		amount_text(row->turnover, turnover, sizeof(turnover));
		amount_text(row->vat, vat, sizeof(vat));
		snprintf(count, sizeof(count), "%zu", row->invoices);
		const char *cells[] = {cat, rate, vat_row_box(row), turnover, vat, count};
		for (size_t k = 0; k < ncol && rc == 0; k++)
			rc = table_put(t, k < sizeof(cells) / sizeof(cells[0]) ? cells[k] : "");
		if (rc == 0)
			rc = table_end_row(t);
	}
	if (rc == 0 && r.oom)
		rc = -ENOMEM;
	vat_return_free(&r);
	return rc;
}

/* The bytes of @tbl in format @f; *@data malloc'd. */
static int render(const struct table *tbl, enum format f, time_t created, char **data,
		  size_t *len)
{
	if (f == FMT_XLSX)
		return xlsx_render(tbl, created, data, len);
	*data = table_csv(tbl, len);
	return *data ? 0 : -ENOMEM;
}

/* ---- the rendered texts ------------------------------------------------------------ */

/* The invoices and clients listings rendered text @e was made from (NULL:
 * none), by its name. */
static void listings_of(const struct rendered *e, const struct cache_listing **inv,
			const struct cache_listing **cli)
{
	int fixed = export_find(e->name);
	bool clients = fixed >= 0 && collections[(size_t)fixed / NFORMATS] == SCHEMA_ROLE_CLIENTS;
	*inv = clients ? NULL : e->t->l;
	*cli = clients ? e->t->l : e->t->l2;
}

/* Drops every rendered text but @keep made from an invoices listing that is
 * not @inv or a clients listing that is not @cli (NULL: not known now): it
 * is out of date, and it holds its snapshot's memory. */
static void prune(struct exports *x, const struct cache_listing *inv,
		  const struct cache_listing *cli, const struct rendered *keep)
{
	struct rendered *e, *tmp;
	HASH_ITER(hh, x->texts, e, tmp) {
		const struct cache_listing *ei, *ec;
		listings_of(e, &ei, &ec);
		if (e == keep || !((inv && ei && ei != inv) || (cli && ec && ec != cli)))
			continue;
		/* The analyzer loses uthash's links (uthash #128): e is unlinked
		 * before it is freed, and tmp was read before. */
		HASH_DEL(x->texts, e); // NOLINT(clang-analyzer-unix.Malloc)
		export_text_unref(e->t);
		free(e->name);
		free(e);
	}
}

/* True when an invoice of listing @l is dated in quarter @q: the quarter's export is
 * there while one is. */
static bool quarter_dated(const struct cache_listing *l, const char *q)
{
	for (size_t i = 0; i < l->n; i++) {
		char fq[16];
		const struct facts *fa = cache_record_facts(l->recs[i]);
		if (fa && vat_quarter_of(fa->date, fq, sizeof(fq)) && !strcmp(fq, q))
			return true;
	}
	return false;
}

/* The text of an export into @t's data: quarter @q's of invoices @l and clients @l2,
 * or (@q NULL) @c's listing @l with the ledger names of @cats; dated by the newer
 * listing.  @tbl is the caller's (table_free). */
static int render_text(struct export_text *t, struct table *tbl,
		       const struct schema_collection *c, const char *q, enum format f,
		       const struct cache_listing *l, const struct cache_listing *l2,
		       const struct cache_listing *cats)
{
	char sheet[32];
	time_t created = l->changed.tv_sec;
	if (l2 && l2->changed.tv_sec > created)
		created = l2->changed.tv_sec;
	snprintf(sheet, sizeof(sheet), "btw %s", q ? q : "");
	int rc = q ? table_of_quarter(tbl, q, l, l2, sheet) : table_of_listing(tbl, c, l, cats);
	return rc == 0 ? render(tbl, f, created, &t->data, &t->len) : rc;
}

/* The ledger column of export @name of @c's listing @l needs the categories: when an
 * invoice has one, scanned once per listing snapshot, not on every read. */
static bool wants_categories(struct exports *x, const char *name,
			     const struct schema_collection *c, const struct cache_listing *l)
{
	struct rendered *e = NULL;
	pthread_mutex_lock(&x->lock);
	HASH_FIND_STR(x->texts, name, e);
	bool known = e && e->t->l == l, wants = known && e->t->wants_cats;
	pthread_mutex_unlock(&x->lock);
	return known ? wants : needs_categories(c, l);
}

int export_get(struct exports *x, const char *name, struct export_text **out)
{
	const struct schema_collection *inv_c = schema_invoices();
	const struct schema_collection *cli_c = schema_clients();
	struct cache_listing *l = NULL, *l2 = NULL, *cats = NULL;
	struct rendered *e = NULL;
	struct table tbl = {0};
	char q[16] = "";
	int fixed = export_find(name), f = format_of(name), rc;
	bool quarter = fixed < 0 && quarter_of_name(name, q, sizeof(q));
	const struct schema_collection *c =
		fixed >= 0 ? schema_by_role(collections[(size_t)fixed / NFORMATS]) : inv_c;
	if ((fixed < 0 && !quarter) || !c || f < 0)
		return -ENOENT;
	rc = cache_listing_get(x->cache, c, &l);
	if (rc == 0 && quarter)
		rc = cache_listing_get(x->cache, cli_c, &l2);
	if (rc != 0)
		goto out;
	if (quarter && !quarter_dated(l, q)) {
		rc = -ENOENT;
		goto out;
	}
	/* Without the categories the ledger column is empty; the rest of the export
	 * still holds (the failure is in the status file). */
	bool wants = !quarter && wants_categories(x, name, c, l);
	if (wants && cache_listing_get(x->cache, schema_categories(), &cats) != 0)
		cats = NULL;
	pthread_mutex_lock(&x->lock);
	HASH_FIND_STR(x->texts, name, e);
	if (!e || e->t->l != l || e->t->l2 != l2 || e->t->cats != cats) {
		/* A new snapshot: render once, under the lock, so concurrent
		 * readers share one text. */
		struct export_text *t = calloc(1, sizeof(*t));
		rc = !t ? -ENOMEM
		     : render_text(t, &tbl, c, quarter ? q : NULL, (enum format)f, l, l2, cats);
		if (rc == 0 && !e) {
			e = calloc(1, sizeof(*e));
			if (!e || !(e->name = strdup(name))) {
				free(e);
				e = NULL;
				rc = -ENOMEM;
			} else {
				HASH_ADD_KEYPTR(hh, x->texts, e->name, strlen(e->name), e);
			}
		}
		if (rc < 0 || !e) {
			pthread_mutex_unlock(&x->lock);
			if (t)
				free(t->data);
			free(t);
			rc = rc < 0 ? rc : -ENOMEM;
			goto out;
		}
		t->refs = 1;
		t->l = l;
		t->l2 = l2;
		t->cats = cats;
		t->wants_cats = wants;
		l = l2 = cats = NULL;
		export_text_unref(e->t);
		e->t = t;
		prune(x, c == cli_c ? NULL : t->l, c == cli_c ? t->l : t->l2, e);
	}
	if (!e) { /* not so: for the analyzer, which loses e on the way */
		pthread_mutex_unlock(&x->lock);
		rc = -ENOMEM;
		goto out;
	}
	atomic_fetch_add_explicit((_Atomic int *)&e->t->refs, 1, memory_order_relaxed);
	*out = e->t;
	pthread_mutex_unlock(&x->lock);
out:
	table_free(&tbl);
	cache_listing_unref(l);
	cache_listing_unref(l2);
	cache_listing_unref(cats);
	return rc;
}

void export_text_times(struct exports *x, const struct export_text *t, struct timespec *changed,
		       double *ttl_left)
{
	*changed = t->l->changed;
	*ttl_left = cache_listing_ttl_left(x->cache, t->l);
	if (t->l2) {
		double left = cache_listing_ttl_left(x->cache, t->l2);
		if (cache_time_after(t->l2->changed, *changed))
			*changed = t->l2->changed;
		if (left < *ttl_left)
			*ttl_left = left;
	}
}

static int cmp_quarter(const void *a, const void *b)
{
	return strcmp(a, b);
}

int export_names(struct exports *x, char ***names, size_t *n)
{
	struct cache_listing *l = NULL;
	char **v = NULL;
	char (*qs)[8] = NULL;
	size_t k = 0, nq = 0;
	int rc = cache_listing_get(x->cache, schema_invoices(), &l);
	*names = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	/* The quarters the invoices are dated in, each once. */
	qs = calloc(l->n + 1, sizeof(*qs));
	for (size_t i = 0; qs && i < l->n; i++) {
		const struct facts *f = cache_record_facts(l->recs[i]);
		if (f && vat_quarter_of(f->date, qs[nq], sizeof(qs[nq])))
			nq++;
	}
	if (qs)
		qsort(qs, nq, sizeof(*qs), cmp_quarter);
	v = qs ? calloc(NFIXED + 2 * nq + 1, sizeof(*v)) : NULL;
	if (!v) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < NFIXED; i++)
		if ((v[k] = strdup(fixed_names[i])))
			k++;
	for (size_t i = 0; i < nq; i++) {
		if (i && !strcmp(qs[i], qs[i - 1]))
			continue;
		for (int f = 0; f < NFORMATS; f++) {
			char name[64];
			snprintf(name, sizeof(name), "%s%s%s", quarter_prefix, qs[i], extensions[f]);
			if ((v[k] = strdup(name)))
				k++;
		}
	}
	*names = v;
	*n = k;
out:
	free(qs);
	cache_listing_unref(l);
	return rc;
}

int exports_new(struct exports **out, struct cache *cache)
{
	struct exports *x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->cache = cache;
	pthread_mutex_init(&x->lock, NULL);
	*out = x;
	return 0;
}

void exports_free(struct exports *x)
{
	struct rendered *e, *tmp;
	if (!x)
		return;
	HASH_ITER(hh, x->texts, e, tmp) {
		assert(!e->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(x->texts, e);
		export_text_unref(e->t);
		free(e->name);
		free(e);
	}
	pthread_mutex_destroy(&x->lock);
	free(x);
}
