/* table: the row model of an export and its CSV (see table.h). */
#include "feat/table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"

void table_init(struct table *t, const char *sheet, const struct facts_column *cols, size_t ncol)
{
	*t = (struct table){.sheet = sheet, .cols = cols, .ncol = ncol};
}

int table_put(struct table *t, const char *text)
{
	if (t->noff == t->cap && vec_grow(&t->off, &t->cap, t->noff + 1, sizeof(*t->off)) < 0)
		return -ENOMEM;
	t->off[t->noff++] = t->pool.len;
	strbuf_put(&t->pool, text, strlen(text) + 1);
	return t->pool.oom ? -ENOMEM : 0;
}

int table_end_row(struct table *t)
{
	if (t->noff != (t->nrow + 1) * t->ncol)
		return -EINVAL;
	t->nrow++;
	return 0;
}

const char *table_cell(const struct table *t, size_t i, size_t k)
{
	return t->pool.p + t->off[i * t->ncol + k];
}

void table_free(struct table *t)
{
	free(t->off);
	free(t->pool.p);
	*t = (struct table){0};
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

char *table_csv(const struct table *t, size_t *len)
{
	struct strbuf b = {0};
	strbuf_put(&b, "\xEF\xBB\xBF", 3); /* UTF-8 byte-order mark */
	for (size_t k = 0; k < t->ncol; k++) {
		if (k)
			strbuf_put(&b, ",", 1);
		put_field(&b, t->cols[k].header, false);
	}
	strbuf_put(&b, "\r\n", 2);
	for (size_t i = 0; i < t->nrow; i++) {
		for (size_t k = 0; k < t->ncol; k++) {
			if (k)
				strbuf_put(&b, ",", 1);
			put_field(&b, table_cell(t, i, k),
				  t->cols[k].fmt == FACTS_CSV_TEXT ||
					  t->cols[k].fmt == FACTS_CSV_LEDGER);
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
