/* fake_service: see fake_service.h. */
#include "fake_service.h"

#include "model/schema.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FAKE_MAX 16

struct fake_coll {
	char *name;
	cJSON *recs;   /* array of wire records, in the order added */
	char *partial; /* a field listings leave out, or NULL */
};

struct fake_pdf {
	char *nr, *data;
	size_t len;
};

struct fake_fault {
	char *method, *path;  /* NULL: any */
	struct fake_answer a; /* strings owned */
	bool act;
	int times; /* < 0: every time */
};

struct fake_logged {
	char *method, *path, *base, *body;
};

struct fake_service {
	struct fake_transport *f;
	pthread_mutex_t lock; /* protects everything below */
	pthread_cond_t cond;  /* held requests, and their count */
	struct fake_coll colls[FAKE_MAX];
	size_t ncolls;
	struct fake_pdf pdfs[FAKE_MAX];
	size_t npdfs;
	enum fake_shape shape;
	bool ignore_offset;
	long server_page;
	enum fake_post post;
	unsigned next_invoice;
	struct fake_fault *faults;
	size_t nfaults;
	char *hold_method, *hold_path;
	bool holding;
	unsigned held;
	struct fake_logged *log;
	size_t nlog;
	char **kept; /* answer bodies: they must outlive the send */
	size_t nkept;
};

static char *dup_or_die(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort(); /* a test out of memory has nothing better to do */
	return d;
}

static void *grow(void *v, size_t n, size_t size)
{
	void *m = realloc(v, (n + 1) * size);

	if (!m)
		abort();
	return m;
}

/* With s->lock held: @str kept until the service is freed; returned. */
static const char *keep(struct fake_service *s, char *str)
{
	if (!str)
		abort();
	s->kept = grow(s->kept, s->nkept, sizeof(*s->kept));
	s->kept[s->nkept++] = str;
	return str;
}

static bool same_or_any(const char *want, const char *got)
{
	return !want || !strcmp(want, got);
}

/* ---- the records ----------------------------------------------------------- */

static struct fake_coll *coll_of(struct fake_service *s, const char *name, bool make)
{
	for (size_t i = 0; i < s->ncolls; i++)
		if (!strcmp(s->colls[i].name, name))
			return &s->colls[i];
	if (!make || s->ncolls == FAKE_MAX)
		return NULL;
	s->colls[s->ncolls].name = dup_or_die(name);
	s->colls[s->ncolls].recs = cJSON_CreateArray();
	return &s->colls[s->ncolls++];
}

/* The id of wire record @rec of @coll (malloc'd), or NULL. */
static char *id_of(const char *coll, const cJSON *rec)
{
	const struct schema_collection *c = schema_find(coll);

	return c ? schema_record_id(c, rec) : NULL;
}

/* Position of record @id in @cl, or -1. */
static int find_rec(const struct fake_coll *cl, const char *coll, const char *id)
{
	int i = 0;
	const cJSON *r;

	if (!cl)
		return -1;
	for (r = cl->recs->child; r; r = r->next) {
		char *rid = id_of(coll, r);
		bool hit = rid && !strcmp(rid, id);

		free(rid);
		if (hit)
			return i;
		i++;
	}
	return -1;
}

static cJSON *parse_fixture(const char *sq)
{
	char *text = dup_or_die(sq);
	cJSON *j;

	for (char *p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = cJSON_Parse(text);
	if (!j) {
		printf("broken fixture: %s\n", text);
		exit(2);
	}
	free(text);
	return j;
}

/* With s->lock held: adds or replaces @rec (taken) in @coll. */
static void put_rec(struct fake_service *s, const char *coll, cJSON *rec)
{
	struct fake_coll *cl = coll_of(s, coll, true);
	char *id = id_of(coll, rec);
	int at = id ? find_rec(cl, coll, id) : -1;

	free(id);
	if (at >= 0)
		cJSON_ReplaceItemInArray(cl->recs, at, rec);
	else
		cJSON_AddItemToArray(cl->recs, rec);
}

void fake_service_put(struct fake_service *s, const char *coll, const char *wire)
{
	cJSON *rec = parse_fixture(wire);

	pthread_mutex_lock(&s->lock);
	put_rec(s, coll, rec);
	pthread_mutex_unlock(&s->lock);
}

char *fake_service_get(struct fake_service *s, const char *coll, const char *id)
{
	char *out = NULL;

	pthread_mutex_lock(&s->lock);
	struct fake_coll *cl = coll_of(s, coll, false);
	int at = find_rec(cl, coll, id);

	if (at >= 0)
		out = cJSON_PrintUnformatted(cJSON_GetArrayItem(cl->recs, at));
	pthread_mutex_unlock(&s->lock);
	return out;
}

size_t fake_service_count(struct fake_service *s, const char *coll)
{
	pthread_mutex_lock(&s->lock);
	struct fake_coll *cl = coll_of(s, coll, false);
	size_t n = cl ? (size_t)cJSON_GetArraySize(cl->recs) : 0;

	pthread_mutex_unlock(&s->lock);
	return n;
}

void fake_service_pdf(struct fake_service *s, const char *nr, const char *data, size_t len)
{
	pthread_mutex_lock(&s->lock);
	if (s->npdfs < FAKE_MAX) {
		struct fake_pdf *p = &s->pdfs[s->npdfs++];

		p->nr = dup_or_die(nr);
		p->data = malloc(len + 1);
		if (!p->data)
			abort();
		memcpy(p->data, data, len);
		p->data[len] = '\0';
		p->len = len;
	}
	pthread_mutex_unlock(&s->lock);
}

/* ---- options --------------------------------------------------------------- */

void fake_service_shape(struct fake_service *s, enum fake_shape shape)
{
	pthread_mutex_lock(&s->lock);
	s->shape = shape;
	pthread_mutex_unlock(&s->lock);
}

void fake_service_paging(struct fake_service *s, bool ignore_offset, long server_page)
{
	pthread_mutex_lock(&s->lock);
	s->ignore_offset = ignore_offset;
	s->server_page = server_page;
	pthread_mutex_unlock(&s->lock);
}

void fake_service_partial(struct fake_service *s, const char *coll, const char *field)
{
	pthread_mutex_lock(&s->lock);
	struct fake_coll *cl = coll_of(s, coll, true);

	free(cl->partial);
	cl->partial = dup_or_die(field);
	pthread_mutex_unlock(&s->lock);
}

void fake_service_post_answer(struct fake_service *s, enum fake_post how)
{
	pthread_mutex_lock(&s->lock);
	s->post = how;
	pthread_mutex_unlock(&s->lock);
}

static void fault_free(struct fake_fault *x)
{
	free(x->method);
	free(x->path);
	free((char *)x->a.body);
	free((char *)x->a.content_type);
	free((char *)x->a.headers);
	free((char *)x->a.error);
}

void fake_service_fail(struct fake_service *s, const char *method, const char *path,
		       const struct fake_answer *a, bool act, int times)
{
	pthread_mutex_lock(&s->lock);
	s->faults = grow(s->faults, s->nfaults, sizeof(*s->faults));
	struct fake_fault *x = &s->faults[s->nfaults++];

	x->method = dup_or_die(method);
	x->path = dup_or_die(path);
	x->a = *a;
	x->a.body = dup_or_die(a->body);
	x->a.content_type = dup_or_die(a->content_type);
	x->a.headers = dup_or_die(a->headers);
	x->a.error = dup_or_die(a->error);
	x->act = act;
	x->times = times;
	pthread_mutex_unlock(&s->lock);
}

void fake_service_clear_faults(struct fake_service *s)
{
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nfaults; i++)
		fault_free(&s->faults[i]);
	free(s->faults);
	s->faults = NULL;
	s->nfaults = 0;
	pthread_mutex_unlock(&s->lock);
}

void fake_service_hold(struct fake_service *s, const char *method, const char *path)
{
	pthread_mutex_lock(&s->lock);
	free(s->hold_method);
	free(s->hold_path);
	s->hold_method = dup_or_die(method);
	s->hold_path = dup_or_die(path);
	s->holding = true;
	s->held = 0;
	pthread_mutex_unlock(&s->lock);
}

bool fake_service_wait_held(struct fake_service *s, unsigned n)
{
	struct timespec until;
	int rc = 0;

	/* A deadline on the real clock only so that a broken test fails
	 * rather than hangs: nothing here waits for time to pass. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	pthread_mutex_lock(&s->lock);
	while (s->held < n && rc == 0)
		rc = pthread_cond_timedwait(&s->cond, &s->lock, &until);
	bool ok = s->held >= n;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void fake_service_release(struct fake_service *s)
{
	pthread_mutex_lock(&s->lock);
	s->holding = false;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* ---- the log ----------------------------------------------------------------- */

unsigned fake_service_calls(struct fake_service *s, const char *method, const char *path)
{
	unsigned n = 0;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->nlog; i++)
		if (same_or_any(method, s->log[i].method) && same_or_any(path, s->log[i].base))
			n++;
	pthread_mutex_unlock(&s->lock);
	return n;
}

char *fake_service_last_body(struct fake_service *s, const char *method, const char *path)
{
	char *b = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = s->nlog; i-- > 0;)
		if (same_or_any(method, s->log[i].method) && same_or_any(path, s->log[i].base)) {
			b = dup_or_die(s->log[i].body);
			break;
		}
	pthread_mutex_unlock(&s->lock);
	return b;
}

const char *fake_service_path(struct fake_service *s, unsigned i)
{
	const char *p;

	pthread_mutex_lock(&s->lock);
	p = i < s->nlog ? s->log[i].path : NULL;
	pthread_mutex_unlock(&s->lock);
	return p;
}

/* ---- answering ----------------------------------------------------------------- */

/* A request taken apart: "clients/12?x=1" -> coll "clients", id "12". */
struct fake_req {
	const char *method;
	char base[256]; /* the path without its query */
	char coll[64];
	char id[128]; /* "" when none; %XX decoded */
	const char *query;
	const char *body;
};

static int hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
				      : -1;
}

static void split(const struct transport_request *req, struct fake_req *r)
{
	const char *q = strchr(req->path, '?');
	size_t n = q ? (size_t)(q - req->path) : strlen(req->path);

	memset(r, 0, sizeof(*r));
	r->method = req->method;
	r->body = req->body;
	r->query = q ? q + 1 : "";
	snprintf(r->base, sizeof(r->base), "%.*s", (int)n, req->path);
	const char *slash = strchr(r->base, '/');
	size_t cn = slash ? (size_t)(slash - r->base) : strlen(r->base);
	snprintf(r->coll, sizeof(r->coll), "%.*s", (int)cn, r->base);
	if (slash) {
		size_t k = 0;

		for (const char *p = slash + 1; *p && k + 1 < sizeof(r->id); p++) {
			if (*p == '%' && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
				r->id[k++] = (char)(hexval(p[1]) * 16 + hexval(p[2]));
				p += 2;
			} else {
				r->id[k++] = *p;
			}
		}
		r->id[k] = '\0';
	}
}

/* The value of query parameter @name, or -1 (numbers only). */
static long query_num(const char *query, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = query; p && *p;) {
		if (!strncmp(p, name, n) && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return -1;
}

static bool query_str(const char *query, const char *name, char *out, size_t len)
{
	size_t n = strlen(name);

	for (const char *p = query; p && *p;) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			size_t k = strcspn(p + n + 1, "&");

			snprintf(out, len, "%.*s", (int)k, p + n + 1);
			return true;
		}
		p = strchr(p, '&');
		p = p ? p + 1 : NULL;
	}
	return false;
}

static double money_of(const cJSON *rec, const char *field)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, field);

	return cJSON_IsString(v)   ? strtod(v->valuestring, NULL)
	       : cJSON_IsNumber(v) ? v->valuedouble
				   : 0;
}

static bool filter_match(const cJSON *rec, const char *filter)
{
	const cJSON *unc = cJSON_GetObjectItemCaseSensitive(rec, "uncollectible");
	bool uncollectible = cJSON_IsString(unc) && unc->valuestring[0];
	double open = money_of(rec, "open");

	if (!strcmp(filter, "open"))
		return open > 0.004 && !uncollectible;
	return open <= 0.004 && open >= -0.004 && !uncollectible; /* "paid" */
}

/* With s->lock held: the answer to @r into @a (strings kept). */
static void answer_list(struct fake_service *s, const struct fake_req *r, struct fake_answer *a)
{
	struct fake_coll *cl = coll_of(s, r->coll, false);
	char filter[32] = "";
	long count = query_num(r->query, "count"), offset = query_num(r->query, "offset");
	cJSON *page = cJSON_CreateArray(), *out;
	long i = 0;
	const cJSON *rec;

	if (query_str(r->query, "filter", filter, sizeof(filter)) && strcmp(filter, "open") &&
	    strcmp(filter, "paid")) {
		cJSON_Delete(page);
		*a = (struct fake_answer){.status = 400,
					  .body = "Field 'filter' must be one of open, paid"};
		return;
	}
	if (s->server_page > 0 || count < 0)
		count = s->server_page > 0 ? s->server_page : 100;
	if (s->ignore_offset || offset < 0)
		offset = 0;
	if (cl) {
		for (rec = cl->recs->child; rec; rec = rec->next) {
			if (filter[0] && !filter_match(rec, filter))
				continue;
			if (i >= offset && i < offset + count) {
				cJSON *copy = cJSON_Duplicate(rec, true);

				if (cl->partial)
					cJSON_DeleteItemFromObjectCaseSensitive(copy, cl->partial);
				cJSON_AddItemToArray(page, copy);
			}
			i++;
		}
	}
	if (s->shape == FAKE_WRAPPED) {
		out = cJSON_CreateObject();
		cJSON_AddItemToObject(out, r->coll, page);
	} else if (s->shape == FAKE_NUMBERED && cJSON_GetArraySize(page) > 0) {
		/* (empty, the service sends [] whatever its shape: {} is no listing) */
		int k = 0;
		char key[16];

		out = cJSON_CreateObject();
		while (cJSON_GetArraySize(page) > 0) {
			snprintf(key, sizeof(key), "%d", k++);
			cJSON_AddItemToObject(out, key, cJSON_DetachItemFromArray(page, 0));
		}
		cJSON_Delete(page);
	} else {
		out = page;
	}
	a->status = 200;
	a->content_type = "application/json";
	a->body = keep(s, cJSON_PrintUnformatted(out));
	cJSON_Delete(out);
}

static void answer_text(struct fake_service *s, struct fake_answer *a, long status,
			const char *text)
{
	*a = (struct fake_answer){.status = status, .body = keep(s, dup_or_die(text))};
}

/* The largest integer id of @coll, plus one. */
static long next_id(struct fake_service *s, const char *coll)
{
	struct fake_coll *cl = coll_of(s, coll, false);
	long max = 0;
	const cJSON *rec;

	if (cl) {
		for (rec = cl->recs->child; rec; rec = rec->next) {
			char *id = id_of(coll, rec);
			long v = id ? strtol(id, NULL, 10) : 0;

			if (v > max)
				max = v;
			free(id);
		}
	}
	return max + 1;
}

static void answer_post(struct fake_service *s, const struct fake_req *r, struct fake_answer *a)
{
	const struct schema_collection *c = schema_find(r->coll);
	cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
	char id[64], where[64];
	bool text_id = false;

	if (!c || !cJSON_IsObject(body)) {
		cJSON_Delete(body);
		answer_text(s, a, 400, "Invalid request body");
		return;
	}
	snprintf(where, sizeof(where), "%s", r->coll);
	if (!strcmp(r->coll, "invoices")) {
		const cJSON *action = cJSON_GetObjectItemCaseSensitive(body, "action");
		const char *act = cJSON_IsString(action) ? action->valuestring : "send";

		text_id = true;
		if (!strcmp(act, "save") || !strcmp(act, "repeat")) {
			snprintf(where, sizeof(where), "%s",
				 !strcmp(act, "save") ? "invoices_saved" : "invoices_repeated");
			snprintf(id, sizeof(id), "%ld", next_id(s, where));
			cJSON_AddStringToObject(body, "id", id);
		} else {
			/* The next number of the year that is free. */
			do
				snprintf(id, sizeof(id), "2026-%04u", ++s->next_invoice);
			while (find_rec(coll_of(s, "invoices", false), "invoices", id) >= 0);
			cJSON_AddStringToObject(body, "invoicenr", id);
		}
	} else {
		snprintf(id, sizeof(id), "%ld", next_id(s, r->coll));
		cJSON_DeleteItemFromObjectCaseSensitive(body, c->id_field);
		cJSON_AddStringToObject(body, c->id_field, id);
	}
	cJSON *wrapped = NULL;

	if (s->post == FAKE_POST_WRAPPED) {
		const struct schema_collection *in = schema_find(where);

		wrapped = cJSON_CreateObject();
		cJSON_AddItemToObject(wrapped, in && in->one_key ? in->one_key : "record",
				      cJSON_Duplicate(body, true));
	}
	put_rec(s, where, body);
	a->status = 201;
	switch (s->post) {
	case FAKE_POST_NATURAL:
		a->body = keep(s, dup_or_die(id));
		a->content_type = text_id ? "text/plain" : "application/json";
		break;
	case FAKE_POST_NUMBER:
		a->body = keep(s, dup_or_die(id));
		a->content_type = "application/json";
		break;
	case FAKE_POST_STRING: {
		char *q = malloc(strlen(id) + 3);

		if (!q)
			abort();
		sprintf(q, "\"%s\"", id);
		a->body = keep(s, q);
		a->content_type = "application/json";
		break;
	}
	case FAKE_POST_WRAPPED:
		a->body = keep(s, cJSON_PrintUnformatted(wrapped));
		a->content_type = "application/json";
		break;
	case FAKE_POST_EMPTY:
		a->body = "";
		break;
	}
	cJSON_Delete(wrapped);
}

static void answer_payment(struct fake_service *s, const struct fake_req *r, struct fake_answer *a)
{
	struct fake_coll *cl = coll_of(s, "invoices", false);
	int at = find_rec(cl, "invoices", r->id);
	cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
	const cJSON *amount = cJSON_GetObjectItemCaseSensitive(body, "amount");
	cJSON *inv = at >= 0 ? cJSON_GetArrayItem(cl->recs, at) : NULL;
	/* "full": all that is open (the official payment page). */
	bool full = cJSON_IsString(amount) && !strcmp(amount->valuestring, "full");
	double v = full			    ? money_of(inv, "open")
		   : cJSON_IsNumber(amount) ? amount->valuedouble
		   : cJSON_IsString(amount) ? strtod(amount->valuestring, NULL)
					    : 0;

	if (at < 0) {
		answer_text(s, a, 404, "Invoice not found");
	} else if (!(v > 0)) {
		answer_text(s, a, 400, "Field 'amount' must be a number greater than 0");
	} else {
		char open[32];

		snprintf(open, sizeof(open), "%.2f", money_of(inv, "open") - v);
		cJSON_ReplaceItemInObjectCaseSensitive(inv, "open", cJSON_CreateString(open));
		*a = (struct fake_answer){.status = !strcmp(r->method, "POST") ? 201 : 200,
					  .body = ""};
	}
	cJSON_Delete(body);
}

static void answer_put(struct fake_service *s, const struct fake_req *r, struct fake_answer *a)
{
	struct fake_coll *cl = coll_of(s, r->coll, false);
	int at = find_rec(cl, r->coll, r->id);
	cJSON *body = r->body ? cJSON_Parse(r->body) : NULL;
	const cJSON *f;

	if (at < 0) {
		answer_text(s, a, 404, "Not found");
	} else if (!body || !cJSON_IsObject(body)) {
		answer_text(s, a, 400, "Invalid request body");
	} else {
		cJSON *rec = cJSON_GetArrayItem(cl->recs, at);

		/* Merged: what the body leaves out keeps its value (WIRE put_missing). */
		for (f = body->child; f; f = f->next) {
			cJSON *v = cJSON_Duplicate(f, true);

			if (cJSON_GetObjectItemCaseSensitive(rec, f->string))
				cJSON_ReplaceItemInObjectCaseSensitive(rec, f->string, v);
			else
				cJSON_AddItemToObject(rec, f->string, v);
		}
		*a = (struct fake_answer){.status = 200, .body = ""};
	}
	cJSON_Delete(body);
}

/* With s->lock held: does what @r asks, answering into @a. */
static void perform(struct fake_service *s, const struct fake_req *r, struct fake_answer *a)
{
	const struct schema_collection *c = schema_find(r->coll);
	struct fake_coll *cl = coll_of(s, r->coll, false);

	if (!strcmp(r->method, "GET") && !strcmp(r->coll, "invoices_pdf")) {
		for (size_t i = 0; i < s->npdfs; i++)
			if (!strcmp(s->pdfs[i].nr, r->id)) {
				*a = (struct fake_answer){.status = 200,
							  .body = s->pdfs[i].data,
							  .content_type = "application/pdf"};
				return;
			}
		answer_text(s, a, 404, "Invoice not found");
	} else if (!c) {
		answer_text(s, a, 404, "Not found");
	} else if (!strcmp(r->method, "GET") && !r->id[0]) {
		answer_list(s, r, a);
	} else if (!strcmp(r->method, "GET")) {
		int at = find_rec(cl, r->coll, r->id);
		cJSON *o;

		if (at < 0) {
			answer_text(s, a, 404, "Not found");
			return;
		}
		o = cJSON_CreateObject();
		cJSON_AddItemToObject(o, c->one_key ? c->one_key : "record",
				      cJSON_Duplicate(cJSON_GetArrayItem(cl->recs, at), true));
		*a = (struct fake_answer){.status = 200,
					  .content_type = "application/json",
					  .body = keep(s, cJSON_PrintUnformatted(o))};
		cJSON_Delete(o);
	} else if (!strcmp(r->coll, "invoices_payment") && r->id[0] &&
		   (!strcmp(r->method, "POST") || !strcmp(r->method, "PUT"))) {
		/* POST (the official page) or PUT (py v0): both taken here. */
		answer_payment(s, r, a);
	} else if (!strcmp(r->method, "POST") && !r->id[0]) {
		answer_post(s, r, a);
	} else if (!strcmp(r->method, "PUT")) {
		answer_put(s, r, a);
	} else if (!strcmp(r->method, "DELETE")) {
		int at = find_rec(cl, r->coll, r->id);

		if (at < 0) {
			answer_text(s, a, 404, "Not found");
			return;
		}
		cJSON_DeleteItemFromArray(cl->recs, at);
		*a = (struct fake_answer){.status = 200, .body = ""};
	} else {
		answer_text(s, a, 405, "Method not allowed");
	}
}

static bool service_answer(void *arg, const struct transport_request *req, unsigned call,
			   struct fake_answer *out)
{
	struct fake_service *s = arg;
	struct fake_req r;
	struct fake_fault *fault = NULL;

	(void)call;
	split(req, &r);
	pthread_mutex_lock(&s->lock);
	s->log = grow(s->log, s->nlog, sizeof(*s->log));
	s->log[s->nlog++] = (struct fake_logged){.method = dup_or_die(req->method),
						 .path = dup_or_die(req->path),
						 .base = dup_or_die(r.base),
						 .body = dup_or_die(req->body)};
	if (s->holding && same_or_any(s->hold_method, r.method) &&
	    same_or_any(s->hold_path, r.base)) {
		s->held++;
		pthread_cond_broadcast(&s->cond);
		while (s->holding)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	/* The latest fault set that matches wins. */
	for (size_t i = s->nfaults; i-- > 0 && !fault;) {
		struct fake_fault *x = &s->faults[i];

		if (x->times != 0 && same_or_any(x->method, r.method) &&
		    same_or_any(x->path, r.base))
			fault = x;
	}
	if (!fault || fault->act)
		perform(s, &r, out);
	if (fault) {
		if (fault->times > 0)
			fault->times--;
		/* Copies: the test may clear the fault before the send returns. */
		*out = fault->a;
		out->body = fault->a.body ? keep(s, dup_or_die(fault->a.body)) : NULL;
		out->content_type =
		    fault->a.content_type ? keep(s, dup_or_die(fault->a.content_type)) : NULL;
		out->headers = fault->a.headers ? keep(s, dup_or_die(fault->a.headers)) : NULL;
		out->error = fault->a.error ? keep(s, dup_or_die(fault->a.error)) : NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return true;
}

struct fake_service *fake_service_new(struct fake_transport *f)
{
	struct fake_service *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->f = f;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	fake_transport_set_fn(f, service_answer, s);
	return s;
}

void fake_service_free(struct fake_service *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->ncolls; i++) {
		free(s->colls[i].name);
		free(s->colls[i].partial);
		cJSON_Delete(s->colls[i].recs);
	}
	for (size_t i = 0; i < s->npdfs; i++) {
		free(s->pdfs[i].nr);
		free(s->pdfs[i].data);
	}
	fake_service_clear_faults(s);
	for (size_t i = 0; i < s->nlog; i++) {
		free(s->log[i].method);
		free(s->log[i].path);
		free(s->log[i].base);
		free(s->log[i].body);
	}
	free(s->log);
	for (size_t i = 0; i < s->nkept; i++)
		free(s->kept[i]);
	free(s->kept);
	free(s->hold_method);
	free(s->hold_path);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
}

void fake_service_seed(struct fake_service *s)
{
	fake_service_put(s, "clients",
			 "{'clientnr':'1','contact':'Jan de Vries','company':'Bakkerij De Korst',"
			 "'city':'Utrecht','country':'146','top':'14','reference':[],'active':'1',"
			 "'timestamp':'2026-01-05 10:00:00','lastinvoice':'2026-02-01'}");
	fake_service_put(
	    s, "clients",
	    "{'clientnr':'2','contact':'Els Bos','company':'','country':'146',"
	    "'top':'30','reference':[],'active':'1','timestamp':'2026-01-06 11:00:00'}");
	fake_service_put(s, "products",
			 "{'id':'1','code':'BR-1','name':'Brood','price':'2.50','taxes':'9',"
			 "'priceintax':'2.73'}");
	fake_service_put(s, "products",
			 "{'id':'2','code':'TA-1','name':'Taart','price':'18.00','taxes':'9',"
			 "'priceintax':'19.62'}");
	fake_service_put(s, "invoices",
			 "{'id':'1','invoicenr':'2026-0001','clientnr':'1','date':'2026-02-01',"
			 "'totalintax':'121.00','open':'121.00','lines':{'line1':{'amount':'1',"
			 "'description':'Taarten','tax_rate':'21','price':'100.00'}}}");
}
