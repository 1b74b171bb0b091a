/* probe: the live service's readings, asked with GETs only (see probe.h). */
#include "feat/probe.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "base/strbuf.h"
#include "model/schema.h"
#include "net/api.h"

/* A call retries at most this often (net/api.c's table): a call is only sent while
 * its retries, too, stay within PROBE_MAX_CALLS. */
#define PROBE_ATTEMPTS 4

/* A query no record of a real account holds: the search with no match. */
#define PROBE_NO_MATCH "zzqx-factuurfs-probe-0"

struct probe {
	struct api *api;
	cJSON *report;
	/* The rate limit, from every answer. */
	unsigned answers, with_remaining;
	long remaining_first, remaining_last;
	unsigned long requests_first, requests_last;
	char headers[160];
	/* What the readings below share. */
	bool offset_ok, start_ok, offset_refused, start_refused, paging_known;
	bool all_ok;
	char why[400]; /* failure()'s text */
};

static void say(struct probe *p, const char *reading, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void addf(struct strbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void addf(struct strbuf *b, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		strbuf_put(b, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

static void say(struct probe *p, const char *reading, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON_DeleteItemFromObjectCaseSensitive(p->report, reading);
	cJSON_AddStringToObject(p->report, reading, buf);
}

static unsigned long requests_sent(struct probe *p)
{
	struct api_stats st;
	api_get_stats(p->api, &st);
	return st.requests;
}

/* One GET of @path, parsed into *@json when it answered 2xx JSON (else NULL); a's
 * status says what came.  -EDQUOT without a call once the budget of calls is spent. */
static int get(struct probe *p, const char *path, struct api_answer *a, cJSON **json)
{
	*json = NULL;
	memset(a, 0, sizeof(*a));
	unsigned long sent = requests_sent(p);
	if (sent + PROBE_ATTEMPTS > PROBE_MAX_CALLS)
		return -EDQUOT;
	int rc = api_call(p->api, "GET", path, NULL, 0, a);
	if (a->answered) {
		if (!p->answers++)
			p->requests_first = sent;
		if (a->ratelimit_remaining >= 0) {
			if (!p->with_remaining++)
				p->remaining_first = a->ratelimit_remaining;
			p->remaining_last = a->ratelimit_remaining;
			p->requests_last = sent;
		}
		for (char *h = a->ratelimit_headers; *h;) {
			size_t n = strcspn(h, ",");
			char name[48];
			snprintf(name, sizeof(name), "%.*s", (int)n, h);
			size_t have = strlen(p->headers);
			if (!strstr(p->headers, name) && have + n + 3 < sizeof(p->headers))
				snprintf(p->headers + have, sizeof(p->headers) - have, "%s%s",
					 have ? ", " : "", name);
			h += n;
			while (*h == ',' || *h == ' ')
				h++;
		}
	}
	if (rc == 0 && a->body)
		*json = cJSON_ParseWithOpts(a->body, NULL, true);
	return rc;
}

/* The records of a list body (a copy, cJSON_Delete it), or NULL when it is none. */
static cJSON *records_of(const cJSON *body)
{
	return body ? schema_list_items(body) : NULL;
}

/* "HTTP 404", "no answer (...)" for a failed call, in p->why (one at a time). */
static const char *failure(struct probe *p, const struct api_answer *a, int rc)
{
	char *buf = p->why;
	size_t len = sizeof(p->why);
	if (rc == -EDQUOT)
		snprintf(buf, len, "not asked (the probe's %d calls were spent)", PROBE_MAX_CALLS);
	else if (a->status)
		snprintf(buf, len, "HTTP %ld", a->status);
	else
		snprintf(buf, len, "no answer (%s)", a->message);
	return buf;
}

static int cmp_str(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The field names the records of @items carry, sorted, space-separated, into @sb;
 * with @c, the fields the dictionary does not know into @unknown. */
static void field_names(const cJSON *items, const struct schema_collection *c,
			struct strbuf *sb, struct strbuf *unknown)
{
	const char *v[256] = {0};
	size_t n = 0;
	const cJSON *rec, *f;
	cJSON_ArrayForEach(rec, items)
	{
		cJSON_ArrayForEach(f, rec)
		{
			bool seen = false;
			for (size_t i = 0; i < n && !seen; i++)
				seen = !strcmp(v[i], f->string);
			if (!seen && n < sizeof(v) / sizeof(v[0]))
				v[n++] = f->string;
		}
	}
	qsort(v, n, sizeof(v[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		addf(sb, "%s%s", i ? " " : "", v[i]);
		if (unknown && c && !schema_field_find(c, v[i]))
			addf(unknown, "%s%s", unknown->len ? " " : "", v[i]);
	}
}

/* How boolean value @v is written: "0"/"1", "true"/"false", true/false, 0/1. */
static const char *bool_form(const cJSON *v)
{
	if (cJSON_IsBool(v))
		return "true/false";
	if (cJSON_IsNumber(v))
		return "0/1";
	if (!cJSON_IsString(v))
		return "other";
	const char *s = v->valuestring;
	if (!strcmp(s, "0") || !strcmp(s, "1"))
		return "\"0\"/\"1\"";
	if (!strcmp(s, "true") || !strcmp(s, "false"))
		return "\"true\"/\"false\"";
	return *s ? "other" : "\"\"";
}

/* "<collection>: field form, field form" for the booleans of @c in @items, into @sb. */
static void bool_forms(const cJSON *items, const struct schema_collection *c, struct strbuf *sb)
{
	bool any = false;
	for (size_t i = 0; i < c->nfields; i++) {
		const struct schema_field *f = &c->fields[i];
		if (f->type != SCHEMA_BOOL)
			continue;
		const char *forms[4];
		size_t nf = 0;
		const cJSON *rec;
		cJSON_ArrayForEach(rec, items)
		{
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, f->name);
			if (!v && f->alias)
				v = cJSON_GetObjectItemCaseSensitive(rec, f->alias);
			if (!v)
				continue;
			const char *form = bool_form(v);
			bool seen = false;
			for (size_t k = 0; k < nf && !seen; k++)
				seen = !strcmp(forms[k], form);
			if (!seen && nf < 4)
				forms[nf++] = form;
		}
		if (!nf)
			continue;
		if (any)
			addf(sb, ", ");
		else
			addf(sb, "%s%s: ", sb->len ? "; " : "", c->name);
		addf(sb, "%s", f->name);
		for (size_t k = 0; k < nf; k++)
			addf(sb, "%s%s", k ? " and " : " ", forms[k]);
		any = true;
	}
}

/* The identifiers of the records of @items (of @c), at most @max, malloc'd each. */
static size_t ids_of(const cJSON *items, const struct schema_collection *c, char **ids,
		     size_t max)
{
	size_t n = 0;
	const cJSON *rec;
	cJSON_ArrayForEach(rec, items)
	{
		if (n == max)
			break;
		ids[n] = schema_record_id(c, rec);
		if (ids[n])
			n++;
	}
	return n;
}

static void ids_free(char **ids, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(ids[i]);
}

/* ---- the questions --------------------------------------------------------------- */

/* False when the service refused the credentials (or did not answer): nothing
 * more is asked then. */
static bool ask_credentials(struct probe *p)
{
	struct api_answer a;
	cJSON *j;
	int rc = get(p, "balance", &a, &j);
	if (rc == 0)
		say(p, "credentials", "accepted (balance answered %ld)", a.status);
	else
		say(p, "credentials", "%s: %s", rc == -EACCES ? "refused" : "not checked",
		    failure(p, &a, rc));
	cJSON_Delete(j);
	api_answer_clear(&a);
	return rc == 0;
}

/* Page 2 of @c (2 records from the third) with parameter @param, against the first
 * page's @ids: honoured, ignored or refused. */
static void ask_page_param(struct probe *p, const struct schema_collection *c, char **ids,
			   const char *param, bool *ok, bool *refused, struct strbuf *sb)
{
	char path[96];
	struct api_answer a;
	cJSON *j;
	snprintf(path, sizeof(path), "%s?count=2&%s=2", c->name, param);
	int rc = get(p, path, &a, &j);
	cJSON *items = rc == 0 ? records_of(j) : NULL;
	char *got[1] = {NULL};
	size_t n = items ? ids_of(items, c, got, 1) : 0;
	if (rc < 0 && a.status >= 400 && a.status < 500)
		*refused = true;
	*ok = n == 1 && !strcmp(got[0], ids[2]);
	addf(sb, "%s%s ", sb->len ? "; " : "", param);
	if (rc < 0)
		addf(sb, "refused (%s)", failure(p, &a, rc));
	else if (*ok)
		addf(sb, "honoured");
	else if (n == 1 && !strcmp(got[0], ids[0]))
		addf(sb, "ignored (page 2 was page 1)");
	else if (n == 0)
		addf(sb, "unclear (page 2 was empty)");
	else
		addf(sb, "unclear (page 2 began with another record)");
	ids_free(got, n);
	cJSON_Delete(items);
	cJSON_Delete(j);
	api_answer_clear(&a);
}

/* Paging on @c, whose first page of 4 asked was @items (@n records). */
static void ask_paging(struct probe *p, const struct schema_collection *c, const cJSON *items,
		       int n)
{
	char *ids[4];
	size_t k = ids_of(items, c, ids, 4);
	say(p, "count", n > 4 ? "ignored (asked 4 %s, got %d)" : "honoured (asked 4 %s, got %d)",
	    c->name, n);
	if (k < 3) {
		say(p, "paging", "cannot tell: fewer than 3 %s", c->name);
		ids_free(ids, k);
		return;
	}
	struct strbuf params = {0};
	ask_page_param(p, c, ids, "start", &p->start_ok, &p->start_refused, &params);
	ask_page_param(p, c, ids, "offset", &p->offset_ok, &p->offset_refused, &params);
	p->paging_known = true;
	say(p, "paging", "%s (on %s)", params.p ? params.p : "", c->name);
	free(params.p);
	ids_free(ids, k);
}

/* The invoices (their fields, dates and booleans), and paging on the first
 * collection with 3 records or more. */
static void ask_lists(struct probe *p, struct strbuf *bools, struct strbuf *unknown)
{
	static const enum schema_role subjects[] = {SCHEMA_ROLE_INVOICES, SCHEMA_ROLE_CLIENTS,
						    SCHEMA_ROLE_PRODUCTS};
	bool paged = false;
	for (size_t s = 0; s < sizeof(subjects) / sizeof(subjects[0]); s++) {
		const struct schema_collection *c = schema_by_role(subjects[s]);
		struct api_answer a;
		cJSON *j;
		char path[64];
		snprintf(path, sizeof(path), "%s?count=4", c->name);
		int rc = get(p, path, &a, &j);
		cJSON *items = rc == 0 ? records_of(j) : NULL;
		int n = items ? cJSON_GetArraySize(items) : 0;
		struct strbuf f = {0}, u = {0};
		if (items)
			field_names(items, c, &f, &u);
		if (u.len)
			addf(unknown, "%s%s: %s", unknown->len ? "; " : "", c->name, u.p);
		if (items)
			bool_forms(items, c, bools);
		if (c->role == SCHEMA_ROLE_INVOICES) {
			if (!items) {
				say(p, "invoice fields", "not listed: %s",
				    failure(p, &a, rc));
			} else if (n == 0) {
				say(p, "invoice fields", "no invoice to look at");
			} else {
				say(p, "invoice fields", "%s", f.p);
				int dated = 0, sent = 0, lines = 0, hist = 0;
				const cJSON *r;
				cJSON_ArrayForEach(r, items)
				{
					dated += cJSON_GetObjectItemCaseSensitive(r, "date") != NULL;
					sent += cJSON_GetObjectItemCaseSensitive(r, "sent") != NULL;
					lines += cJSON_GetObjectItemCaseSensitive(r, "lines") != NULL;
					const cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "history");
					hist += cJSON_IsObject(h) && cJSON_GetArraySize(h) > 0;
				}
				say(p, "invoice date", "%s; sent on %d of %d, history with events on %d",
				    dated ? "a date field" : "no date field", sent, n, hist);
				if (dated && dated < n)
					say(p, "invoice date", "a date field on %d of %d; sent on %d, "
					    "history with events on %d", dated, n, sent, hist);
				say(p, "invoice listing", lines == n ? "carries lines" :
				    lines ? "carries lines on some invoices" : "without lines");
			}
		} else if (c->role == SCHEMA_ROLE_CLIENTS && items && n > 0) {
			/* The five fields php spells with underscores. */
			int under = 0, net = 0;
			for (size_t i = 0; i < c->nfields; i++) {
				const struct schema_field *fd = &c->fields[i];
				if (!fd->alias)
					continue;
				const cJSON *r;
				cJSON_ArrayForEach(r, items)
				{
					under += cJSON_GetObjectItemCaseSensitive(r, fd->alias) != NULL;
					net += cJSON_GetObjectItemCaseSensitive(r, fd->name) != NULL;
				}
			}
			say(p, "client spelling", under && net ? "both (underscores and .NET names)"
				 : under ? "underscores (default_doclang, mandate_id, ...)"
				 : net ? ".NET names (defaultdoclang, mandateid, ...)"
				       : "neither spelling seen");
		}
		if (!paged && items && n >= 3) {
			ask_paging(p, c, items, n);
			paged = true;
		}
		free(f.p);
		free(u.p);
		cJSON_Delete(items);
		cJSON_Delete(j);
		api_answer_clear(&a);
	}
	if (!paged)
		say(p, "paging", "cannot tell: fewer than 3 invoices, clients and products");
}

/* count=-1 and the default page, on countrylist: the same for every account, and
 * longer than a page on the live service. */
static void ask_count_all(struct probe *p)
{
	const struct schema_collection *c = schema_by_role(SCHEMA_ROLE_COUNTRIES);
	struct api_answer a, b;
	cJSON *ja, *jb, *all, *def;
	char path[64];
	snprintf(path, sizeof(path), "%s?count=-1", c->name);
	int ra = get(p, path, &a, &ja);
	int rb = get(p, c->name, &b, &jb);
	all = ra == 0 ? records_of(ja) : NULL;
	def = rb == 0 ? records_of(jb) : NULL;
	int na = all ? cJSON_GetArraySize(all) : -1, nd = def ? cJSON_GetArraySize(def) : -1;
	if (def)
		say(p, "default page", "%d records (countrylist without count)", nd);
	else
		say(p, "default page", "unknown: countrylist %s", failure(p, &b, rb));
	if (!all)
		say(p, "count=-1", "refused (%s)", failure(p, &a, ra));
	else if (nd >= 0 && na > nd)
		say(p, "count=-1", "the whole list in one answer (countrylist: %d records, %d "
		    "without count)", na, nd);
	else if (na == nd)
		say(p, "count=-1", "as without count (%d records): ignored, or the list is no "
		    "longer than a page", na);
	else
		say(p, "count=-1", "%d records (%d without count)", na, nd);
	p->all_ok = all && nd >= 0 && na > nd;
	cJSON_Delete(all);
	cJSON_Delete(def);
	cJSON_Delete(ja);
	cJSON_Delete(jb);
	api_answer_clear(&a);
	api_answer_clear(&b);
}

/* countrylist/en against countrylist: the names in another language, or 404. */
static void ask_lang(struct probe *p)
{
	struct api_answer a, b;
	cJSON *ja, *jb;
	int ra = get(p, "countrylist/en?count=2", &a, &ja);
	int rb = ra == 0 ? get(p, "countrylist?count=2", &b, &jb) : -1;
	cJSON *en = ra == 0 ? records_of(ja) : NULL, *own = rb == 0 ? records_of(jb) : NULL;
	if (ra < 0) {
		say(p, "countrylist/<lang>", "not known (%s): countrylist/ shows the service's "
		    "own language", failure(p, &a, ra));
	} else if (!en) {
		say(p, "countrylist/<lang>", "answers, but not a list");
	} else {
		const cJSON *x = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(en, 0), "name");
		const cJSON *y = own ? cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(own, 0),
									 "name") : NULL;
		bool differ = x && y && cJSON_IsString(x) && cJSON_IsString(y) &&
			      strcmp(x->valuestring, y->valuestring) != 0;
		say(p, "countrylist/<lang>", "answers a list (en%s)",
		    !y ? "" : differ ? ": names differ from countrylist's" : ": the same names");
	}
	cJSON_Delete(en);
	cJSON_Delete(own);
	cJSON_Delete(ja);
	api_answer_clear(&a);
	if (ra == 0) {
		cJSON_Delete(jb);
		api_answer_clear(&b);
	}
}

/* GET one client (wrapped or bare) and one that does not exist (404 or the list). */
static void ask_one(struct probe *p, const struct schema_collection *c, char *first)
{
	struct api_answer a;
	cJSON *j;
	char path[128];
	if (first) {
		char *esc = names_url_escape(first);
		snprintf(path, sizeof(path), "%s/%s", c->name, esc ? esc : "");
		free(esc);
		int rc = get(p, path, &a, &j);
		const cJSON *w = cJSON_GetObjectItemCaseSensitive(j, c->one_key);
		if (rc < 0)
			say(p, "get one", "%s", failure(p, &a, rc));
		else if (cJSON_IsObject(w))
			say(p, "get one", "wrapped in \"%s\"", c->one_key);
		else if (cJSON_IsObject(j) && cJSON_GetObjectItemCaseSensitive(j, c->id_field))
			say(p, "get one", "the bare record");
		else
			say(p, "get one", "neither wrapped nor a record");
		cJSON_Delete(j);
		api_answer_clear(&a);
	} else {
		say(p, "get one", "no client to ask for");
	}
	snprintf(path, sizeof(path), "%s/999999999", c->name);
	int rc = get(p, path, &a, &j);
	if (rc == -ENOENT)
		say(p, "get one missing", "404");
	else if (rc < 0)
		say(p, "get one missing", "%s", failure(p, &a, rc));
	else if (cJSON_IsArray(j))
		say(p, "get one missing", "the whole list (a list, not a 404)");
	else
		say(p, "get one missing", "%ld with something else", a.status);
	cJSON_Delete(j);
	api_answer_clear(&a);
}

/* The fields of the drafts and of the repeating invoices: the collections an invoice's
 * POST lands in by its action (the table's created_as, in its order). */
static void ask_drafts(struct probe *p, struct strbuf *bools, struct strbuf *unknown)
{
	static const char *const readings[] = {"draft fields", "repeating fields"};
	const struct schema_collection *inv = schema_invoices();
	for (size_t i = 0; i < 2; i++) {
		const struct schema_collection *c = schema_find(inv->created_as[i].in);
		if (!c)
			continue;
		struct api_answer a;
		cJSON *j;
		char path[64];
		snprintf(path, sizeof(path), "%s?count=2", c->name);
		int rc = get(p, path, &a, &j);
		cJSON *items = rc == 0 ? records_of(j) : NULL;
		struct strbuf f = {0}, u = {0};
		if (!items)
			say(p, readings[i], "not listed: %s", failure(p, &a, rc));
		else if (!cJSON_GetArraySize(items))
			say(p, readings[i], "none to look at");
		else {
			field_names(items, c, &f, &u);
			bool_forms(items, c, bools);
			say(p, readings[i], "%s", f.p);
			if (u.len)
				addf(unknown, "%s%s: %s", unknown->len ? "; " : "", c->name,
					    u.p);
		}
		free(f.p);
		free(u.p);
		cJSON_Delete(items);
		cJSON_Delete(j);
		api_answer_clear(&a);
	}
}

/* Where a quotation's PDF is: each path of the dictionary's, until one is a PDF. */
static void ask_quotation_pdf(struct probe *p)
{
	const struct schema_collection *c = schema_by_role(SCHEMA_ROLE_QUOTATIONS);
	struct api_answer a;
	cJSON *j;
	int rc = get(p, "quotations?count=1", &a, &j);
	cJSON *items = rc == 0 ? records_of(j) : NULL;
	char *id[1] = {NULL};
	size_t n = items ? ids_of(items, c, id, 1) : 0;
	if (rc < 0)
		say(p, "quotation pdf", "quotations not listed (%s)", failure(p, &a, rc));
	else if (!n)
		say(p, "quotation pdf", "no quotation to try");
	cJSON_Delete(items);
	cJSON_Delete(j);
	api_answer_clear(&a);
	if (!n)
		return;
	char *esc = names_url_escape(id[0]);
	struct strbuf tried = {0};
	const char *found = NULL;
	char path[160];
	const char *forms[1 + sizeof(c->pdf_also) / sizeof(c->pdf_also[0])];
	size_t nf = 0;
	static char main_form[64];
	snprintf(main_form, sizeof(main_form), "%s/%%s", c->pdf_path);
	forms[nf++] = main_form;
	for (size_t i = 0; i < sizeof(c->pdf_also) / sizeof(c->pdf_also[0]); i++)
		if (c->pdf_also[i])
			forms[nf++] = c->pdf_also[i];
	for (size_t i = 0; i < nf && esc && !found; i++) {
		snprintf(path, sizeof(path), forms[i], esc);
		rc = get(p, path, &a, &j);
		bool pdf = rc == 0 && a.len >= 5 && !memcmp(a.body, "%PDF-", 5);
		char shown[64];
		snprintf(shown, sizeof(shown), forms[i], "<id>");
		if (pdf)
			found = forms[i];
		else
			addf(&tried, "%s%s %s", tried.len ? ", " : "", shown,
				    rc < 0 ? failure(p, &a, rc) : "not a PDF");
		if (pdf)
			say(p, "quotation pdf", "%s%s%s%s", shown, tried.len ? " (" : "",
			    tried.len ? tried.p : "", tried.len ? ")" : "");
		cJSON_Delete(j);
		api_answer_clear(&a);
	}
	if (!found)
		say(p, "quotation pdf", "none of the paths gave a PDF: %s", tried.p ? tried.p : "");
	free(tried.p);
	free(esc);
	free(id[0]);
}

/* A search with no match, and one that matches (client @first by its number, whose
 * listing showed @listed's fields). */
static void ask_search(struct probe *p, const char *first, const char *listed)
{
	struct api_answer a;
	cJSON *j;
	char path[160];
	int rc = get(p, "search/clients/all/" PROBE_NO_MATCH, &a, &j);
	cJSON *items = rc == 0 ? records_of(j) : NULL;
	if (rc == -ENOENT)
		say(p, "search, no match", "404");
	else if (rc < 0)
		say(p, "search, no match", "%s", failure(p, &a, rc));
	else if (items && !cJSON_GetArraySize(items))
		say(p, "search, no match", "[] (an empty list, %ld)", a.status);
	else
		say(p, "search, no match", "%ld with %s", a.status, items ? "records" : "no list");
	cJSON_Delete(items);
	cJSON_Delete(j);
	api_answer_clear(&a);

	const struct schema_collection *c = schema_clients();
	if (!first) {
		say(p, "search, a match", "no client to look for");
		return;
	}
	char *esc = names_url_escape(first);
	snprintf(path, sizeof(path), "search/clients/%s/%s", c->id_field, esc ? esc : "");
	rc = get(p, path, &a, &j);
	items = rc == 0 ? records_of(j) : NULL;
	if (rc < 0) {
		say(p, "search, a match", "%s", failure(p, &a, rc));
	} else if (!items) {
		say(p, "search, a match", "not a list");
	} else {
		struct strbuf f = {0};
		cJSON *one = cJSON_CreateArray();
		if (one && cJSON_GetArraySize(items))
			cJSON_AddItemReferenceToArray(one, cJSON_GetArrayItem(items, 0));
		field_names(one, c, &f, NULL);
		say(p, "search, a match", "a list of %d record%s%s", cJSON_GetArraySize(items),
		    cJSON_GetArraySize(items) == 1 ? "" : "s",
		    !cJSON_GetArraySize(items) ? " (the client was not found by its number)"
		    : f.p && listed && !strcmp(f.p, listed) ? ", as a listing has them"
									 : ", with other fields than a listing's");
		cJSON_Delete(one);
		free(f.p);
	}
	cJSON_Delete(items);
	cJSON_Delete(j);
	api_answer_clear(&a);
	free(esc);
}

/* The first client's identifier (for GET one and a search), malloc'd, or NULL, and
 * the fields its listing shows in *@fields (malloc'd); one call. */
static char *first_client(struct probe *p, char **fields)
{
	struct api_answer a;
	cJSON *j;
	char *id[1] = {NULL};
	struct strbuf f = {0};
	int rc = get(p, "clients?count=1", &a, &j);
	cJSON *items = rc == 0 ? records_of(j) : NULL;
	if (items) {
		ids_of(items, schema_clients(), id, 1);
		field_names(items, schema_clients(), &f, NULL);
	}
	*fields = f.p;
	cJSON_Delete(items);
	cJSON_Delete(j);
	api_answer_clear(&a);
	return id[0];
}

static void ask_ratelimit(struct probe *p)
{
	if (!p->with_remaining) {
		say(p, "rate limit", "no X-RateLimit-Remaining on %u answers%s%s", p->answers,
		    p->headers[0] ? "; headers: " : "", p->headers);
		return;
	}
	say(p, "rate limit", "headers: %s; X-RateLimit-Remaining on %u of %u answers, fell by "
	    "%ld over %lu calls", p->headers[0] ? p->headers : "none", p->with_remaining,
	    p->answers, p->remaining_first - p->remaining_last,
	    p->requests_last - p->requests_first);
}

/* What the mount should be told (-o paging=). */
static void suggest(struct probe *p)
{
	if (!p->paging_known) {
		say(p, "suggested options", "none (paging could not be told)");
	} else if (p->start_ok && p->offset_ok) {
		say(p, "suggested options", "none (both parameters work)");
	} else if (p->start_ok) {
		say(p, "suggested options", p->offset_refused
			? "-o paging=start (needed: offset is refused)"
			: "-o paging=start (the default, offset and start, works too)");
	} else if (p->offset_ok) {
		say(p, "suggested options", p->start_refused
			? "-o paging=offset (needed: start is refused)"
			: "-o paging=offset (the default, offset and start, works too)");
	} else if (p->all_ok) {
		say(p, "suggested options", "-o paging=all (neither offset nor start pages; "
		    "count=-1 gives the whole list)");
	} else {
		say(p, "suggested options", "none helps: neither offset nor start pages, nor "
		    "count=-1; listings show their first page only");
	}
}

cJSON *probe_run(struct api *api)
{
	struct probe p = {.api = api, .report = cJSON_CreateObject()};
	struct strbuf bools = {0}, unknown = {0};
	if (!p.report)
		return NULL;
	if (!ask_credentials(&p)) {
		say(&p, "calls", "%lu, all GET", requests_sent(&p));
		return p.report;
	}
	ask_lists(&p, &bools, &unknown);
	ask_count_all(&p);
	ask_lang(&p);
	char *fields = NULL, *first = first_client(&p, &fields);
	ask_one(&p, schema_clients(), first);
	ask_drafts(&p, &bools, &unknown);
	ask_quotation_pdf(&p);
	ask_search(&p, first, fields);
	free(first);
	free(fields);
	say(&p, "booleans", "%s", bools.len ? bools.p : "none seen");
	say(&p, "unknown fields", "%s", unknown.len ? unknown.p : "none");
	ask_ratelimit(&p);
	say(&p, "calls", "%lu, all GET", requests_sent(&p));
	suggest(&p);
	free(bools.p);
	free(unknown.p);
	return p.report;
}

void probe_print(FILE *out, const char *url, const cJSON *r)
{
	const cJSON *x;
	fprintf(out, "factuurfs probe of %s\n", url);
	cJSON_ArrayForEach(x, r)
	{
		if (cJSON_IsString(x))
			fprintf(out, "  %-20s %s\n", x->string, x->valuestring);
	}
}
