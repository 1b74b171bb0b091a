/* export: CSV files of the invoices and clients listings (see export.h). */
#include "feat/export.h"
#include "base/strbuf.h"

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

char *export_render(const struct schema_collection *c, const struct cache_listing *l, size_t *len)
{
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
			}
			if (k)
				strbuf_put(&b, ",", 1);
			put_field(&b, cell, cols[k].fmt == FACTS_CSV_TEXT);
		}
		strbuf_put(&b, "\r\n", 2);
	}
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
	free(t->data);
	free(t);
}

int export_get(struct exports *x, size_t i, struct export_text **out)
{
	struct cache *cache = x->cache;
	const struct schema_collection *c = i < NEXPORTS ? schema_find(exports[i].collection) : NULL;
	struct cache_listing *l = NULL;
	struct export_text *t;
	if (!c)
		return -ENOENT;
	int rc = cache_listing_get(cache, c, &l);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&x->lock);
	t = x->current[i];
	if (!t || t->l != l) {
		/* A new snapshot: render once, under the lock, so concurrent
		 * readers share one text. */
		t = calloc(1, sizeof(*t));
		if (t && !(t->data = export_render(c, l, &t->len))) {
			free(t);
			t = NULL;
		}
		if (!t) {
			pthread_mutex_unlock(&x->lock);
			cache_listing_unref(l);
			return -ENOMEM;
		}
		t->refs = 1;
		t->l = l;
		l = NULL;
		export_text_unref(x->current[i]);
		x->current[i] = t;
	}
	atomic_fetch_add_explicit((_Atomic int *)&t->refs, 1, memory_order_relaxed);
	*out = t;
	pthread_mutex_unlock(&x->lock);
	cache_listing_unref(l);
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
