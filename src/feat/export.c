/* export: CSV files of the invoices and clients listings (see export.h). */
#include "feat/export.h"
#include "base/strbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static pthread_mutex_t export_lock = PTHREAD_MUTEX_INITIALIZER;
static struct export_text *current[NEXPORTS]; /* protected by export_lock */

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

/* Field @col of pythonic record @rec as its cell text, into @buf. */
static void cell(const struct schema_column *col, const cJSON *rec, const char *today,
		 char *buf, size_t len, const char **out)
{
	const cJSON *v = col->field ? cJSON_GetObjectItemCaseSensitive(rec, col->field) : NULL;
	*out = buf;
	buf[0] = '\0';
	switch (col->fmt) {
	case SCHEMA_CSV_STATUS:
		schema_invoice_status(rec, today, buf, len);
		return;
	case SCHEMA_CSV_MONEY:
		if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.2f", v->valuedouble + 0.0);
		else if (cJSON_IsString(v))
			*out = v->valuestring; /* as it came: it did not convert */
		return;
	case SCHEMA_CSV_INT:
		if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
			snprintf(buf, len, "%lld", (long long)v->valuedouble);
		else if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.17g", v->valuedouble);
		else if (cJSON_IsString(v))
			*out = v->valuestring;
		return;
	case SCHEMA_CSV_DATE:
	case SCHEMA_CSV_TEXT:
		if (cJSON_IsString(v))
			*out = v->valuestring;
		else if (cJSON_IsNumber(v))
			snprintf(buf, len, "%.17g", v->valuedouble);
		else if (cJSON_IsBool(v))
			snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
		return;
	}
}

char *export_render(const struct schema_collection *c, const struct cache_listing *l, size_t *len)
{
	struct strbuf b = {0};
	size_t ncol;
	const struct schema_column *cols = schema_export_columns(c, &ncol);
	char today[16], buf[512];
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
		cJSON *rec = cJSON_Parse(l->recs[i]->text);
		if (!rec)
			continue;
		for (size_t k = 0; k < ncol; k++) {
			const char *s;
			cell(&cols[k], rec, today, buf, sizeof(buf), &s);
			if (k)
				strbuf_put(&b, ",", 1);
			put_field(&b, s, cols[k].fmt == SCHEMA_CSV_TEXT);
		}
		strbuf_put(&b, "\r\n", 2);
		cJSON_Delete(rec);
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

int export_get(struct cache *cache, size_t i, struct export_text **out)
{
	const struct schema_collection *c = i < NEXPORTS ? schema_find(exports[i].collection) : NULL;
	struct cache_listing *l = NULL;
	struct export_text *t;
	if (!c)
		return -ENOENT;
	int rc = cache_listing_get(cache, c, &l);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&export_lock);
	t = current[i];
	if (!t || t->l != l) {
		/* A new snapshot: render once, under the lock, so concurrent
		 * readers share one text. */
		t = calloc(1, sizeof(*t));
		if (t && !(t->data = export_render(c, l, &t->len))) {
			free(t);
			t = NULL;
		}
		if (!t) {
			pthread_mutex_unlock(&export_lock);
			cache_listing_unref(l);
			return -ENOMEM;
		}
		t->refs = 1;
		t->l = l;
		l = NULL;
		export_text_unref(current[i]);
		current[i] = t;
	}
	atomic_fetch_add_explicit((_Atomic int *)&t->refs, 1, memory_order_relaxed);
	*out = t;
	pthread_mutex_unlock(&export_lock);
	cache_listing_unref(l);
	return 0;
}

void export_clear(void)
{
	pthread_mutex_lock(&export_lock);
	for (size_t i = 0; i < NEXPORTS; i++) {
		export_text_unref(current[i]);
		current[i] = NULL;
	}
	pthread_mutex_unlock(&export_lock);
}
