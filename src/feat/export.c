/* export: CSV files of the invoices and clients listings (see export.h). */
#include "feat/export.h"
#include "base/strbuf.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/facts.h"
#include "model/schema.h"

/* The exports: file name and the collection it lists. */
static const struct {
	const char *file;
	const char *collection;
} exports[] = {
	{"invoices.csv", "invoices"},
	{"clients.csv", "clients"},
};
#define NEXPORTS (sizeof(exports) / sizeof(exports[0]))

struct exports {
	struct cache *cache;
	pthread_mutex_t lock;                 /* protects current */
	struct export_text *current[NEXPORTS]; /* the last rendered, by export */
};

size_t export_count(void)
{
	return NEXPORTS;
}

const char *export_name(size_t i)
{
	return i < NEXPORTS ? exports[i].file : NULL;
}

int export_find(const char *name)
{
	for (size_t i = 0; i < NEXPORTS; i++)
		if (!strcmp(name, exports[i].file))
			return (int)i;
	return -1;
}

/* One field, quoted when RFC 4180 wants it; @text cells that a spreadsheet
 * would read as a formula get a leading '. */
static void put_field(struct strbuf *b, const char *s, bool text)
{
	bool formula = text && (*s == '=' || *s == '+' || *s == '-' || *s == '@');
	if (!strpbrk(s, ",\"\r\n") && !formula) {
		strbuf_put(b, s, strlen(s));
		return;
	}
	strbuf_put(b, "\"", 1);
	if (formula)
		strbuf_put(b, "'", 1);
	for (const char *q = s; *q; q++) {
		if (*q == '"')
			strbuf_put(b, "\"\"", 2);
		else
			strbuf_put(b, q, 1);
	}
	strbuf_put(b, "\"", 1);
}

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

char *export_render(const struct schema_collection *c, const struct cache_listing *l,
		    const struct cache_listing *cats, size_t *len)
{
	size_t nledgers;
	struct ledger *ledgers = ledgers_of(cats, &nledgers);
	struct strbuf b = {0};
	size_t ncol;
	const struct facts_column *cols = facts_columns(c, &ncol);
	char today[16], status[128];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(today, sizeof(today), "%Y-%m-%d", &tm);
	strbuf_put(&b, "\xEF\xBB\xBF", 3); /* UTF-8 byte-order mark */
	for (size_t k = 0; k < ncol; k++) {
		if (k)
			strbuf_put(&b, ",", 1);
		put_field(&b, cols[k].header, false);
	}
	strbuf_put(&b, "\r\n", 2);
	for (size_t i = 0; i < l->n; i++) {
		const struct facts *f = l->recs[i]->facts;
		if (!f || f->ncells != ncol)
			continue;
		for (size_t k = 0; k < ncol; k++) {
			const char *cell = facts_cell(f, k);
			if (cols[k].fmt == FACTS_CSV_STATUS) {
				facts_status(f, today, status, sizeof(status));
				cell = status;
			} else if (cols[k].fmt == FACTS_CSV_LEDGER) {
				cell = ledger_find(ledgers, nledgers, cell);
			}
			if (k)
				strbuf_put(&b, ",", 1);
			put_field(&b, cell, cols[k].fmt == FACTS_CSV_TEXT);
		}
		strbuf_put(&b, "\r\n", 2);
	}
	ledgers_free(ledgers, nledgers);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

void export_text_unref(struct export_text *t)
{
	if (!t || atomic_fetch_sub_explicit((_Atomic int *)&t->refs, 1, memory_order_acq_rel) != 1)
		return;
	cache_listing_unref(t->l);
	cache_listing_unref(t->cats);
	free(t->data);
	free(t);
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
			const struct facts *f = l->recs[i]->facts;
			if (f && f->ncells == ncol && *facts_cell(f, k))
				return true;
		}
	}
	return false;
}

int export_get(struct exports *x, size_t i, struct export_text **out)
{
	struct cache *cache = x->cache;
	const struct schema_collection *c = i < NEXPORTS ? schema_find(exports[i].collection) : NULL;
	struct cache_listing *l = NULL;
	struct export_text *t;
	if (!c)
		return -ENOENT;
	struct cache_listing *cats = NULL;
	int rc = cache_listing_get(cache, c, &l);
	if (rc < 0)
		return rc;
	/* Scanned once per listing snapshot, not on every read of the file. */
	pthread_mutex_lock(&x->lock);
	t = x->current[i];
	bool known = t && t->l == l, wants = known && t->wants_cats;
	pthread_mutex_unlock(&x->lock);
	if (!known)
		wants = needs_categories(c, l);
	if (wants) {
		/* Without them the ledger column is empty: the rest of the export
		 * still holds (the failure is in the status file). */
		const struct schema_collection *cc = schema_find("categories");
		if (cc && cache_listing_get(cache, cc, &cats) < 0)
			cats = NULL;
	}
	pthread_mutex_lock(&x->lock);
	t = x->current[i];
	if (!t || t->l != l || t->cats != cats) {
		/* A new snapshot: render once, under the lock, so concurrent
		 * readers share one text. */
		t = calloc(1, sizeof(*t));
		if (t && !(t->data = export_render(c, l, cats, &t->len))) {
			free(t);
			t = NULL;
		}
		if (!t) {
			pthread_mutex_unlock(&x->lock);
			cache_listing_unref(l);
			cache_listing_unref(cats);
			return -ENOMEM;
		}
		t->refs = 1;
		t->l = l;
		t->cats = cats;
		t->wants_cats = wants;
		l = NULL;
		cats = NULL;
		export_text_unref(x->current[i]);
		x->current[i] = t;
	}
	atomic_fetch_add_explicit((_Atomic int *)&t->refs, 1, memory_order_relaxed);
	*out = t;
	pthread_mutex_unlock(&x->lock);
	cache_listing_unref(l);
	cache_listing_unref(cats);
	return 0;
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
	if (!x)
		return;
	for (size_t i = 0; i < NEXPORTS; i++)
		export_text_unref(x->current[i]);
	pthread_mutex_destroy(&x->lock);
	free(x);
}
