/* Unit tests of src/feat/writeback.c over the fake service: what a saved
 * text sends (PUT, POST, DELETE, payments), in the wire form; what is
 * refused before anything is sent; how a POST's answer names the new record;
 * a POST that got no answer and the record it may have made; the service's
 * refusals and the rate limit carried into the message.
 */
#include "fake_service.h"
#include "fake_transport.h"
#include "unit_stack.h"
#include "unit.h"

#include "base/events.h"
#include "feat/writeback.h"
#include "model/templates.h"
#include "net/api.h"
#include "store/cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define T0 1000.0

static struct fake_clock clk;

static double clock_now(void)
{
	return clk.now;
}

static const struct schema_collection *clients, *products, *invoices, *saved;

struct env {
	struct unit_stack st;
	struct wb wb;
	char msg[512];
};

static void env_init(struct env *e)
{
	struct cache_config ccfg = {.ttl = 60, .page_size = 100, .now = clock_now};

	memset(e, 0, sizeof(*e));
	unit_stack_init(&e->st, &clk, T0, &ccfg);
	fake_service_seed(e->st.svc);
	e->wb = (struct wb){.api = e->st.api, .cache = e->st.cache};
}

static void env_fini(struct env *e)
{
	unit_stack_fini(&e->st);
}

static unsigned calls(struct env *e, const char *method, const char *path)
{
	return fake_service_calls(e->st.svc, method, path);
}

/* The text of record @id of @c as its file shows it, with @field set to
 * JSON @value (NULL: as it is); malloc'd. */
static char *text_of(struct env *e, const struct schema_collection *c, const char *id,
		     const char *field, const char *value)
{
	struct cache_record *r = NULL;
	cJSON *j;
	char *out;

	if (cache_record_get(e->st.cache, c, id, &r) < 0)
		return NULL;
	j = cJSON_ParseWithLength(r->text, r->len);
	cache_record_unref(r);
	if (field) {
		cJSON *v = cJSON_Parse(value);

		if (cJSON_GetObjectItemCaseSensitive(j, field))
			cJSON_ReplaceItemInObjectCaseSensitive(j, field, v);
		else
			cJSON_AddItemToObject(j, field, v);
	}
	out = cJSON_Print(j);
	cJSON_Delete(j);
	return out;
}

/* Field @field of the last @method @path body, as unformatted JSON (a
 * static buffer), "(absent)" or "(no body)". */
static const char *sent_field(struct env *e, const char *method, const char *path,
			      const char *field)
{
	static char buf[256];
	char *body = fake_service_last_body(e->st.svc, method, path);
	cJSON *j = body ? cJSON_Parse(body) : NULL;
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, field);
	char *p = v ? cJSON_PrintUnformatted(v) : NULL;

	snprintf(buf, sizeof(buf), "%s", p ? p : j ? "(absent)" : "(no body)");
	free(p);
	cJSON_Delete(j);
	free(body);
	return buf;
}

static bool has(const char *s, const char *part)
{
	return s && strstr(s, part) != NULL;
}

/* ---- edits ---------------------------------------------------------------------- */

static void test_edit(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	bool sent = true;
	char *t;

	env_init(&e);
	t = text_of(&e, clients, "1", "company", "\"Bakkerij De Korst BV\"");
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == 0);
	CHECK(sent);
	CHECK(calls(&e, "PUT", "clients/1") == 1);
	/* The wire form: the change, the other fields as the service sent them
	 * ("146" came as text: it goes back so), nothing the service computes. */
	CHECK_STR(sent_field(&e, "PUT", "clients/1", "company"), "\"Bakkerij De Korst BV\"");
	CHECK_STR(sent_field(&e, "PUT", "clients/1", "contact"), "\"Jan de Vries\"");
	CHECK_STR(sent_field(&e, "PUT", "clients/1", "country"), "\"146\"");
	CHECK_STR(sent_field(&e, "PUT", "clients/1", "clientnr"), "(absent)");
	CHECK_STR(sent_field(&e, "PUT", "clients/1", "timestamp"), "(absent)");
	free(t);
	/* The listing is asked again: the edit shows. */
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && calls(&e, "GET", "clients") == 2);
	CHECK(has(l->recs[0]->text, "Bakkerij De Korst BV"));
	cache_listing_unref(l);

	/* Unchanged (spacing aside): nothing sent. */
	t = text_of(&e, clients, "1", NULL, NULL);
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == 0);
	CHECK(!sent && calls(&e, "PUT", NULL) == 1);
	free(t);

	/* What the service computes cannot be changed: refused, nothing sent. */
	t = text_of(&e, clients, "1", "timestamp", "\"2030-01-01 00:00:00\"");
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EINVAL);
	CHECK_STR(e.msg, "field 'timestamp' is set by the service and cannot be changed");
	free(t);
	t = text_of(&e, clients, "1", "clientnr", "7");
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EINVAL);
	CHECK_STR(e.msg, "field 'clientnr' is set by the service and cannot be changed");
	free(t);
	/* Not JSON, a value of the wrong type, a required field missing. */
	CHECK(wb_edit(&e.wb, clients, "1", "{\"company\": ", 12, NULL, &sent, e.msg, sizeof(e.msg)) ==
	      -EINVAL);
	CHECK(has(e.msg, "line 1, column"));
	t = text_of(&e, clients, "1", "top", "\"veertien\"");
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EINVAL);
	CHECK(has(e.msg, "field 'top'"));
	free(t);
	CHECK(wb_edit(&e.wb, products, "1", "{\"id\": 1, \"code\": \"BR-1\"}", 25, NULL, &sent, e.msg,
		      sizeof(e.msg)) == -EINVAL);
	CHECK(has(e.msg, "missing required field"));
	/* A template as it is over a record. */
	size_t len;
	int ti = templates_find("products.json");
	char *tpl = ti >= 0 ? templates_text((size_t)ti, &len) : NULL;
	CHECK(tpl != NULL);
	if (tpl) {
		CHECK(wb_edit(&e.wb, products, "1", tpl, len, NULL, &sent, e.msg, sizeof(e.msg)) ==
		      -EINVAL);
		CHECK_STR(e.msg,
			  "this is templates/products.json unchanged: edit its example values "
			  "first");
		free(tpl);
	}
	/* What the API cannot change. */
	t = text_of(&e, invoices, "2026-0001", "invoicenote", "\"x\"");
	CHECK(wb_edit(&e.wb, invoices, "2026-0001", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) ==
	      -EPERM);
	CHECK_STR(e.msg, "the API cannot change invoices once made");
	free(t);
	/* A record the listing does not have. */
	CHECK(wb_edit(&e.wb, clients, "99", "{}", 2, NULL, &sent, e.msg, sizeof(e.msg)) == -ENOENT);
	CHECK(has(e.msg, "clients/99: cannot read the record to compare"));
	CHECK(calls(&e, "PUT", NULL) == 1 && !sent);
	env_fini(&e);
}

/* The service's refusals and the budget, in the message. */
static void test_refusals(void)
{
	struct env e;
	bool sent;
	char *t;

	env_init(&e);
	t = text_of(&e, clients, "1", "email", "\"niet-een-adres\"");
	fake_service_fail(
	    e.st.svc, "PUT", "clients/1",
	    &(struct fake_answer){.status = 400, .body = "Field 'email' is invalid\n"}, false, 1);
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EINVAL);
	CHECK_STR(e.msg, "PUT clients/1: HTTP 400: Field 'email' is invalid");
	CHECK(!sent);
	fake_service_fail(
	    e.st.svc, "PUT", "clients/1",
	    &(struct fake_answer){.status = 422,
				  .body = "{\"code\": 5, \"message\": \"Klant niet gevonden\"}",
				  .content_type = "application/json"},
	    false, 1);
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EINVAL);
	CHECK_STR(e.msg, "PUT clients/1: HTTP 422: Klant niet gevonden");
	fake_service_fail(
	    e.st.svc, "POST", "products",
	    &(struct fake_answer){.status = 400, .body = "Field 'code' already exists"}, false, 1);
	struct wb_pending *pending = NULL;
	const struct schema_collection *in = NULL;
	char *id = NULL;
	const char *p = "{\"code\": \"BR-1\", \"name\": \"Brood\", \"price\": 2.5}";
	CHECK(wb_create(&e.wb, products, p, strlen(p), &pending, &id, &in, e.msg, sizeof(e.msg),
			NULL) == -EINVAL);
	CHECK_STR(e.msg, "POST products: HTTP 400: Field 'code' already exists");
	CHECK(!pending && !id);

	/* The hourly budget spent (403 with X-RateLimit-Remaining: 0): EAGAIN,
	 * and until the next try nothing more is sent. */
	fake_service_fail(e.st.svc, "PUT", "clients/1",
			  &(struct fake_answer){.status = 403,
						.body = "Rate limit exceeded",
						.headers = "X-RateLimit-Remaining: 0"},
			  false, 1);
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EAGAIN);
	CHECK_STR(e.msg, "PUT clients/1: HTTP 403: Rate limit exceeded");
	CHECK(wb_edit(&e.wb, clients, "1", t, strlen(t), NULL, &sent, e.msg, sizeof(e.msg)) == -EAGAIN);
	/* (The save's read of the record, before its PUT, is the call not sent.) */
	CHECK(has(e.msg, "not sent: clients/1 could not be read from the service to save only "
		  "what changed"));
	CHECK(has(e.msg, "(Resource temporarily unavailable)"));
	CHECK(calls(&e, "PUT", "clients/1") == 3);
	CHECK(wb_delete(&e.wb, clients, "2", e.msg, sizeof(e.msg)) == -EAGAIN);
	CHECK(calls(&e, "DELETE", NULL) == 0);
	/* A 429 is the same. */
	clk.now += 61;
	fake_service_fail(e.st.svc, "DELETE", "clients/2",
			  &(struct fake_answer){.status = 429, .body = "Too Many Requests"}, false,
			  1);
	CHECK(wb_delete(&e.wb, clients, "2", e.msg, sizeof(e.msg)) == -EAGAIN);
	CHECK_STR(e.msg, "DELETE clients/2: HTTP 429: Too Many Requests");
	free(t);
	env_fini(&e);
}

/* ---- creating ------------------------------------------------------------------------ */

struct created {
	int rc;
	char *id;
	const struct schema_collection *in;
};

static struct created create(struct env *e, const struct schema_collection *c, const char *text,
			     struct wb_pending **pending)
{
	struct created r = {0};
	struct wb_pending *none = NULL;

	r.rc = wb_create(&e->wb, c, text, strlen(text), pending ? pending : &none, &r.id, &r.in,
			 e->msg, sizeof(e->msg), NULL);
	wb_pending_free(none);
	return r;
}

static const char koek[] = "{\"code\": \"KO-1\", \"name\": \"Koek\", \"price\": 3.5, \"taxes\": 9}";

static void test_create(void)
{
	struct env e;
	struct created r;
	struct cache_listing *l = NULL;
	char *rec;

	env_init(&e);
	/* A product: its id a JSON number (the service's way). */
	r = create(&e, products, koek, NULL);
	CHECK(r.rc == 0 && r.in == products);
	CHECK_STR(r.id, "3");
	free(r.id);
	CHECK(calls(&e, "POST", "products") == 1);
	CHECK_STR(sent_field(&e, "POST", "products", "name"), "\"Koek\"");
	CHECK_STR(sent_field(&e, "POST", "products", "id"), "(absent)");
	rec = fake_service_get(e.st.svc, "products", "3");
	CHECK(has(rec, "\"code\":\"KO-1\""));
	free(rec);
	/* The id as a JSON string, and a record wrapped as GET one answers it. */
	fake_service_post_answer(e.st.svc, FAKE_POST_STRING);
	r = create(&e, products, koek, NULL);
	CHECK(r.rc == 0);
	CHECK_STR(r.id, "4");
	free(r.id);
	fake_service_post_answer(e.st.svc, FAKE_POST_WRAPPED);
	r = create(&e, products, koek, NULL);
	CHECK(r.rc == 0);
	CHECK_STR(r.id, "5");
	free(r.id);
	/* No id in the answer: the record the listing did not have before. */
	fake_service_post_answer(e.st.svc, FAKE_POST_EMPTY);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	r = create(&e, products, "{\"code\": \"ZZ\", \"name\": \"Zout\", \"price\": 1}", NULL);
	CHECK(r.rc == 0);
	CHECK_STR(r.id, "6");
	free(r.id);
	/* ...and without a listing held to compare with: no record named, so
	 * not taken: as a POST without an answer (it may have made one). */
	cache_refresh_all(e.st.cache);
	env_fini(&e);
	env_init(&e);
	fake_service_post_answer(e.st.svc, FAKE_POST_EMPTY);
	struct wb_pending *pend = NULL;
	r = create(&e, clients, "{\"company\": \"Nieuw BV\"}", &pend);
	CHECK(r.rc == -EIO && r.id == NULL && pend != NULL);
	CHECK_STR(e.msg, "POST clients: not the API's answer: HTTP 201, an empty body (the service "
			 "may have made the record: saving again checks for it first)");
	CHECK(fake_service_count(e.st.svc, "clients") == 3);
	/* Saved again: the record it made, adopted; no second POST. */
	r = create(&e, clients, "{\"company\": \"Nieuw BV\"}", &pend);
	CHECK(r.rc == 0 && pend == NULL);
	CHECK_STR(r.id, "3");
	free(r.id);
	CHECK(calls(&e, "POST", "clients") == 1 && fake_service_count(e.st.svc, "clients") == 3);
	fake_service_post_answer(e.st.svc, FAKE_POST_NATURAL);

	/* A client: a number too; the listing held is dropped. */
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	r = create(&e, clients, "{\"company\": \"Nog een BV\", \"country\": 146}", NULL);
	CHECK(r.rc == 0);
	CHECK_STR(r.id, "4");
	free(r.id);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 4);
	cache_listing_unref(l);

	/* An invoice: its number as plain text. */
	const char *inv =
	    "{\"clientnr\": 1, \"lines\": [{\"amount\": 1, \"description\": \"Koek\", "
	    "\"tax_rate\": 9, \"price\": 3.5}], \"action\": \"send\", "
	    "\"sendmethod\": \"email\"}";
	r = create(&e, invoices, inv, NULL);
	CHECK(r.rc == 0 && r.in == invoices);
	CHECK_STR(r.id, "2026-0002");
	free(r.id);
	/* The lines as the API takes them, keyed; the action sent. */
	CHECK(has(sent_field(&e, "POST", "invoices", "lines"), "\"line1\":{"));
	CHECK_STR(sent_field(&e, "POST", "invoices", "action"), "\"send\"");
	/* Saved (a draft): it lands in invoices_saved. */
	const char *draft =
	    "{\"clientnr\": 1, \"lines\": [{\"amount\": 1, \"description\": \"Koek\", "
	    "\"tax_rate\": 9, \"price\": 3.5}], \"action\": \"save\", "
	    "\"savename\": \"Concept\"}";
	r = create(&e, invoices, draft, NULL);
	CHECK(r.rc == 0 && r.in == saved);
	CHECK_STR(r.id, "1");
	free(r.id);
	CHECK(fake_service_count(e.st.svc, "invoices_saved") == 1);

	/* Refused before sending: a template as it is (not sent, kept: WB_UNSENT),
	 * a required field missing, not JSON, a collection the API cannot add to. */
	size_t len;
	int ti = templates_find("products.json");
	char *tpl = ti >= 0 ? templates_text((size_t)ti, &len) : NULL;
	if (tpl) {
		r = create(&e, products, tpl, NULL);
		CHECK(r.rc == WB_UNSENT && r.id == NULL);
		CHECK_STR(e.msg, "templates/products.json as it is: kept, not sent, until edited");
		free(tpl);
	}
	r = create(&e, products, "{\"code\": \"X\", \"name\": \"Y\"}", NULL);
	CHECK(r.rc == -EINVAL && has(e.msg, "missing required field 'price'"));
	r = create(&e, products, "[1, 2]", NULL);
	CHECK(r.rc == -EINVAL && has(e.msg, "expected a JSON object"));
	r = create(&e, saved, "{\"savename\": \"x\"}", NULL);
	CHECK(r.rc == -EPERM);
	CHECK_STR(e.msg, "the API cannot create invoices_saved");
	CHECK(calls(&e, "POST", NULL) == 4);
	env_fini(&e);
}

/* A POST that got no answer may have made its record: the next attempt looks
 * for it first and never posts blindly again. */
static void test_lost_post(void)
{
	struct env e;
	struct created r;
	struct cache_listing *l = NULL;
	struct wb_pending *pending = NULL;

	env_init(&e);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	/* The service makes the record; its answer is lost on the way. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, true,
			  1);
	r = create(&e, products, koek, &pending);
	CHECK(r.rc == -ECONNRESET && r.id == NULL && pending != NULL);
	CHECK_STR(e.msg, "POST products: no answer: Recv failure (the service may have made the "
			 "record: saving again checks for it first)");
	CHECK(calls(&e, "POST", "products") == 1 && fake_service_count(e.st.svc, "products") == 3);
	/* Saved again while the listing cannot be had (a 503, the stale listing
	 * held): not known whether it made the record, so nothing is sent. */
	fake_service_fail(e.st.svc, "GET", "products",
			  &(struct fake_answer){.status = 503, .body = "Service Unavailable"}, false,
			  -1);
	r = create(&e, products, koek, &pending);
	CHECK(r.rc == -EIO && r.id == NULL && pending != NULL);
	CHECK(has(e.msg, "POST products: not sent: the save before got no clear answer, and the "
			 "record it may have made could not be looked for"));
	CHECK(calls(&e, "POST", "products") == 1);
	fake_service_clear_faults(e.st.svc);
	clk.now += 20; /* past the wait of a service that seemed down */
	unsigned gets = calls(&e, "GET", "products");
	/* Saved again: the listing shows the record it made; adopted, not posted. */
	r = create(&e, products, koek, &pending);
	CHECK(r.rc == 0 && r.in == products && pending == NULL);
	CHECK_STR(r.id, "3");
	free(r.id);
	CHECK(calls(&e, "POST", "products") == 1 && fake_service_count(e.st.svc, "products") == 3);
	CHECK(calls(&e, "GET", "products") == gets + 1);

	/* Lost before it arrived (nothing made): the next attempt looks, finds
	 * nothing new, and posts. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ETIMEDOUT, .error = "Timeout was reached"},
			  false, 1);
	const char *zout = "{\"code\": \"ZO-1\", \"name\": \"Zout\", \"price\": 1}";
	r = create(&e, products, zout, &pending);
	CHECK(r.rc == -ETIMEDOUT && pending != NULL);
	r = create(&e, products, zout, &pending);
	CHECK(r.rc == 0 && pending == NULL);
	CHECK_STR(r.id, "4");
	free(r.id);
	CHECK(calls(&e, "POST", "products") == 3 && fake_service_count(e.st.svc, "products") == 4);
	/* A record that differs from what was posted is not adopted. */
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"}, false,
			  1);
	r = create(&e, products, "{\"code\": \"PE-1\", \"name\": \"Peper\", \"price\": 2}",
		   &pending);
	CHECK(r.rc == -ECONNRESET && pending != NULL);
	fake_service_put(e.st.svc, "products",
			 "{'id':'9','code':'PE-1','name':'Peper','price':'3.00'}");
	r = create(&e, products, "{\"code\": \"PE-1\", \"name\": \"Peper\", \"price\": 2}",
		   &pending);
	CHECK(r.rc == 0 && pending == NULL);
	CHECK_STR(r.id, "10");
	free(r.id);
	CHECK(calls(&e, "POST", "products") == 5);
	env_fini(&e);

	/* Provably never sent (the connection refused): nothing to look for. */
	env_init(&e);
	fake_service_fail(e.st.svc, "POST", "products",
			  &(struct fake_answer){.err = -EHOSTUNREACH,
						.unsent = true,
						.error = "Couldn't connect to server"},
			  false, -1);
	r = create(&e, products, koek, &pending);
	CHECK(r.rc == -EHOSTUNREACH && pending == NULL);
	CHECK_STR(e.msg, "POST products: not sent: Couldn't connect to server");
	env_fini(&e);
}

/* Every answer to a POST that is not a clear one — a 5xx, a 3xx, a 2xx whose
 * body is not what the API answers — may come after the service acted: never
 * taken, never posted again blindly.  Only a 4xx is a refusal. */
static void test_unclear_answers(void)
{
	static const struct {
		struct fake_answer a;
		int rc;
		const char *msg;
	} cases[] = {
	    {{.status = 200, .body = "<!DOCTYPE html>\n<html><body>Onderhoud</body></html>",
	      .content_type = "text/html"},
	     -EIO,
	     "POST products: not the API's answer: HTTP 200, text/html: \"<!DOCTYPE html>\""},
	    {{.status = 201, .body = "OK", .content_type = "text/plain"},
	     -EIO,
	     "POST products: not the API's answer: HTTP 201, text/plain: \"OK\""},
	    {{.status = 200, .body = "true", .content_type = "application/json"},
	     -EIO,
	     "POST products: not the API's answer: HTTP 200, application/json: \"true\""},
	    {{.status = 200, .body = "3.5"}, -EIO, "POST products: not the API's answer: HTTP 200, "
						   "\"3.5\""},
	    {{.status = 500, .body = "Internal Server Error"},
	     -EIO,
	     "POST products: HTTP 500: Internal Server Error"},
	    {{.status = 502, .body = "Bad Gateway"}, -EIO, "POST products: HTTP 502: Bad Gateway"},
	    {{.status = 303, .body = "", .error = "redirect to https://elders.example/ not followed"},
	     -EIO,
	     "POST products: HTTP 303: redirect to https://elders.example/ not followed"},
	};
	const char *suffix = " (the service may have made the record: saving again checks for "
			     "it first)";
	char want[600], text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int acted = 0; acted < 2; acted++) {
			struct env e;
			struct created r;
			struct cache_listing *l = NULL;
			struct wb_pending *pending = NULL;

			env_init(&e);
			CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
			cache_listing_unref(l);
			snprintf(text, sizeof(text),
				 "{\"code\": \"U-%zu-%d\", \"name\": \"Onduidelijk\", \"price\": 1}", i,
				 acted);
			fake_service_fail(e.st.svc, "POST", "products", &cases[i].a, acted, 1);
			r = create(&e, products, text, &pending);
			snprintf(want, sizeof(want), "%s%s", cases[i].msg, suffix);
			/* A 2xx acted on is found in the listing at once: taken. */
			bool found = acted && cases[i].a.status < 300;
			if (found) {
				CHECK(r.rc == 0 && pending == NULL);
				CHECK_STR(r.id, "3");
			} else {
				CHECK(r.rc == cases[i].rc && r.id == NULL && pending != NULL);
				CHECK_STR(e.msg, want);
				/* Saved again: looked for first; adopted when it was
				 * made, posted once when it was not. */
				r = create(&e, products, text, &pending);
				CHECK(r.rc == 0 && pending == NULL);
				CHECK_STR(r.id, "3");
			}
			free(r.id);
			CHECK(calls(&e, "POST", "products") == (acted ? 1u : 2u));
			CHECK(fake_service_count(e.st.svc, "products") == 3);
			env_fini(&e);
		}
	}

	/* A 4xx is the service's no (the rate limit's too): nothing to look for. */
	static const struct fake_answer no[] = {
	    {.status = 400, .body = "Field 'code' already exists"},
	    {.status = 429, .body = "Too Many Requests"},
	    {.status = 403, .body = "Forbidden"},
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct env e;
		struct wb_pending *pending = NULL;

		env_init(&e);
		fake_service_fail(e.st.svc, "POST", "products", &no[i], false, 1);
		struct created r = create(&e, products, koek, &pending);
		CHECK(r.rc < 0 && pending == NULL && !has(e.msg, "may have made"));
		env_fini(&e);
	}

	/* The answers the API gives, and the readings other clients have. */
	static const struct {
		const struct schema_collection **c;
		const char *body;
		const char *id; /* NULL: not an answer */
	} ids[] = {
	    {&products, "42", "42"},
	    {&products, " 42\r\n", "42"},
	    {&products, "\"42\"", "42"},
	    {&products, "{\"id\": 42}", "42"},
	    {&products, "-1", NULL},
	    {&products, "1e300", NULL},
	    {&products, "null", NULL},
	    {&products, "[42]", NULL},
	    {&products, "\"\"", NULL},
	    {&products, "Service Unavailable", NULL},
	    {&invoices, "2026-0007", "2026-0007"},
	    {&invoices, "F/2026/7\n", "F/2026/7"},
	    {&invoices, "<html>2026-0007</html>", NULL},
	    {&invoices, "Factuur 2026-0007", NULL},
	    {&invoices, "Maintenance", NULL},
	    {&invoices, "2026-0007\nsecond line", NULL},
	    {&invoices, "12345678901234567890123456789012345678901234567890123456789012345", NULL},
	};
	const char *inv = "{\"clientnr\": 1, \"lines\": [{\"amount\": 1, \"description\": \"Koek\", "
			  "\"tax_rate\": 9, \"price\": 3.5}], \"action\": \"send\", "
			  "\"sendmethod\": \"email\"}";
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct env e;
		struct wb_pending *pending = NULL;

		env_init(&e);
		/* (Answered without acting: a wrong reading cannot find a record.) */
		fake_service_fail(e.st.svc, "POST", NULL,
				  &(struct fake_answer){.status = 201, .body = ids[i].body}, false, 1);
		struct created r = create(&e, *ids[i].c, *ids[i].c == invoices ? inv : koek, &pending);
		if (ids[i].id) {
			CHECK(r.rc == 0 && pending == NULL);
			CHECK_STR(r.id, ids[i].id);
		} else {
			CHECK(r.rc == -EIO && r.id == NULL && pending != NULL);
			CHECK(has(e.msg, "not the API's answer"));
		}
		free(r.id);
		wb_pending_free(pending);
		env_fini(&e);
	}
}

/* ---- payments and deletes --------------------------------------------------------------- */

static void test_payment(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	char *rec;
	const struct schema_collection *payments = schema_find("invoices_payment");
	const char *pay = "{\"amount\": 21, \"date\": \"2026-03-01\"}";

	/* Every collection has a slot for the reading learned. */
	CHECK(schema_ncollections() <= WB_LEARNED);
	env_init(&e);
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0);
	cache_listing_unref(l);
	CHECK(wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), NULL, e.msg, sizeof(e.msg), NULL) == 0);
	/* POST (the official payment page), the amount as text. */
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1);
	CHECK_STR(sent_field(&e, "POST", "invoices_payment/2026-0001", "amount"), "\"21\"");
	CHECK_STR(sent_field(&e, "POST", "invoices_payment/2026-0001", "date"), "\"2026-03-01\"");
	rec = fake_service_get(e.st.svc, "invoices", "2026-0001");
	CHECK(has(rec, "\"open\":\"100.00\""));
	free(rec);
	/* The invoices are listed again: their open amounts moved. */
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0 && calls(&e, "GET", "invoices") == 2);
	CHECK(has(l->recs[0]->text, "\"open\": 100"));
	cache_listing_unref(l);
	/* The template as it is: kept, not sent. */
	size_t len;
	int ti = templates_find("invoices_payment.json");
	char *tpl = ti >= 0 ? templates_text((size_t)ti, &len) : NULL;
	CHECK(tpl != NULL);
	if (tpl) {
		CHECK(wb_act(&e.wb, payments, "2026-0001", tpl, len, NULL, e.msg, sizeof(e.msg), NULL) == WB_UNSENT);
		free(tpl);
	}
	CHECK(wb_act(&e.wb, payments, "2026-0001", "{\"date\": \"2026-03-01\"}", 22, NULL, e.msg,
			 sizeof(e.msg), NULL) == -EINVAL);
	CHECK(has(e.msg, "missing required field 'amount'"));
	const char *veel = "{\"amount\": \"veel\", \"date\": \"2026-03-01\"}";
	CHECK(wb_act(&e.wb, payments, "2026-0001", veel, strlen(veel), NULL, e.msg, sizeof(e.msg), NULL) ==
	      -EINVAL);
	CHECK(has(e.msg, "field 'amount': expected a number or \"full\""));
	CHECK(calls(&e, "POST", NULL) == 1 && calls(&e, "PUT", NULL) == 0);
	/* "full": the service pays what is open. */
	const char *full = "{\"amount\": \"full\", \"date\": \"2026-03-02\", \"method\": \"cash\"}";
	CHECK(wb_act(&e.wb, payments, "2026-0001", full, strlen(full), NULL, e.msg, sizeof(e.msg), NULL) == 0);
	CHECK_STR(sent_field(&e, "POST", "invoices_payment/2026-0001", "amount"), "\"full\"");
	CHECK_STR(sent_field(&e, "POST", "invoices_payment/2026-0001", "method"), "\"cash\"");
	rec = fake_service_get(e.st.svc, "invoices", "2026-0001");
	CHECK(has(rec, "\"open\":\"0.00\""));
	free(rec);
	/* The service's answer for an invoice it does not have: the reading it took
	 * before is the one asked, once. */
	CHECK(wb_act(&e.wb, payments, "2026-0404", pay, strlen(pay), NULL, e.msg, sizeof(e.msg), NULL) == -ENOENT);
	CHECK_STR(e.msg, "POST invoices_payment/2026-0404: HTTP 404: Invoice not found");
	CHECK(calls(&e, "PUT", NULL) == 0);
	env_fini(&e);

	/* A service that takes py's PUT only: the POST answers 405, the PUT follows, and
	 * from then on the PUT alone is sent. */
	env_init(&e);
	fake_service_fail(e.st.svc, "POST", "invoices_payment/2026-0001",
			  &(struct fake_answer){.status = 405, .body = "Method not allowed"}, false,
			  -1);
	CHECK(wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), NULL, e.msg, sizeof(e.msg), NULL) == 0);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1 &&
	      calls(&e, "PUT", "invoices_payment/2026-0001") == 1);
	CHECK(wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), NULL, e.msg, sizeof(e.msg), NULL) == 0);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1 &&
	      calls(&e, "PUT", "invoices_payment/2026-0001") == 2);
	/* Not learned yet, nothing there: both readings asked (a 404 may be the
	 * path's), the likeliest one's reason kept. */
	env_fini(&e);
	env_init(&e);
	CHECK(wb_act(&e.wb, payments, "2026-0404", pay, strlen(pay), NULL, e.msg, sizeof(e.msg), NULL) == -ENOENT);
	CHECK_STR(e.msg, "POST invoices_payment/2026-0404: HTTP 404: Invoice not found (and the "
			 "other readings of this request too)");
	CHECK(calls(&e, "PUT", "invoices_payment/2026-0404") == 1);
	env_fini(&e);

	/* Sent once: a 502 after the service acted is not tried again, and the same
	 * text is then refused with EALREADY and no call (also from the journal's
	 * copy of what it left); a changed text is the user's new request. */
	env_init(&e);
	struct wb_pending *pend = NULL, *back = NULL;
	fake_service_fail(e.st.svc, "POST", "invoices_payment/2026-0001",
			  &(struct fake_answer){.status = 502, .body = "Bad Gateway"}, true, 1);
	CHECK(wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), &pend, e.msg, sizeof(e.msg), NULL) ==
	      -EIO);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1 && pend);
	CHECK(has(e.msg, "the service may have carried it out"));
	CHECK(wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), &pend, e.msg, sizeof(e.msg), NULL) ==
	      -EALREADY);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 1 && pend);
	CHECK(has(e.msg, "not sent again") && has(e.msg, "check invoices/2026-0001"));
	cJSON *j = pend ? wb_pending_to_json(pend) : NULL;
	back = j ? wb_pending_from_json(j) : NULL;
	cJSON_Delete(j);
	CHECK(back && wb_act(&e.wb, payments, "2026-0001", pay, strlen(pay), &back, e.msg,
			     sizeof(e.msg), NULL) == -EALREADY);
	wb_pending_free(back);
	const char *other = "{\"amount\": 22, \"date\": \"2026-03-01\"}";
	CHECK(wb_act(&e.wb, payments, "2026-0001", other, strlen(other), &pend, e.msg,
		     sizeof(e.msg), NULL) == 0);
	CHECK(calls(&e, "POST", "invoices_payment/2026-0001") == 2 && !pend);
	/* A PUT reading (a reminder) likewise: a 500 is not retried. */
	const struct schema_collection *reminders = schema_find("invoices_reminder");
	const char *remind = "{\"invoicenr\": \"2026-0001\"}";
	fake_service_fail(e.st.svc, "PUT", "invoices_reminder/2026-0001",
			  &(struct fake_answer){.status = 500, .body = "oops"}, false, 1);
	CHECK(wb_act(&e.wb, reminders, "2026-0001", remind, strlen(remind), &pend, e.msg,
		     sizeof(e.msg), NULL) == -EIO);
	CHECK(calls(&e, "PUT", "invoices_reminder/2026-0001") == 1 && pend);
	wb_pending_free(pend);
	env_fini(&e);
}

static void test_delete(void)
{
	struct env e;
	struct cache_listing *l = NULL;

	env_init(&e);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(wb_delete(&e.wb, clients, "2", e.msg, sizeof(e.msg)) == 0);
	CHECK(calls(&e, "DELETE", "clients/2") == 1 && fake_service_count(e.st.svc, "clients") == 1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 1);
	cache_listing_unref(l);
	/* Gone already: ENOENT, and the listing asked again all the same. */
	CHECK(wb_delete(&e.wb, clients, "2", e.msg, sizeof(e.msg)) == -ENOENT);
	CHECK_STR(e.msg, "DELETE clients/2: HTTP 404: Not found");
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && calls(&e, "GET", "clients") == 3);
	cache_listing_unref(l);
	/* An identifier with a '/' is one path segment. */
	fake_service_put(e.st.svc, "invoices", "{'invoicenr':'2026/0042','totalintax':'1.00'}");
	CHECK(wb_delete(&e.wb, invoices, "2026/0042", e.msg, sizeof(e.msg)) == 0);
	CHECK(calls(&e, "DELETE", "invoices/2026%2F0042") == 1);
	/* What the API cannot delete: nothing sent. */
	CHECK(wb_delete(&e.wb, schema_find("profiles"), "1", e.msg, sizeof(e.msg)) == -EPERM);
	CHECK_STR(e.msg, "the API cannot delete profiles");
	CHECK(calls(&e, "DELETE", NULL) == 3);
	env_fini(&e);
}

int main(void)
{
	clients = schema_find("clients");
	products = schema_find("products");
	invoices = schema_find("invoices");
	saved = schema_find("invoices_saved");
	test_edit();
	test_refusals();
	test_create();
	test_lost_post();
	test_unclear_answers();
	test_payment();
	test_delete();
	return unit_report();
}
