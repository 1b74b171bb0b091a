/* Unit tests of store/search.h over the in-process fake service: which names are
 * queries (and which never reach the service), their directory names, one call per
 * query and TTL, both readings of "no match", the last answer on failure, and the
 * records found served by the cache without listing their collection.
 */
#include "fake_service.h"
#include "fake_transport.h"
#include "unit_stack.h"
#include "unit.h"

#include "base/events.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/search.h"

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

static const struct schema_collection *clients, *invoices;

struct env {
	struct unit_stack st;
	struct search *s;
};

static void env_init(struct env *e)
{
	struct cache_config ccfg = {.ttl = 60, .page_size = 100, .now = clock_now};
	memset(e, 0, sizeof(*e));
	unit_stack_init(&e->st, &clk, T0, &ccfg);
	fake_service_put(e->st.svc, "clients",
			 "{'clientnr':'2','contact':'Els Bos','company':'','city':'Zwolle',"
			 "'country':'146','reference':[],'active':'1'}");
	CHECK(search_new(&e->s, e->st.api, e->st.cache, e->st.ev) == 0);
}

static void env_fini(struct env *e)
{
	search_free(e->s);
	unit_stack_fini(&e->st);
}

static unsigned calls(struct env *e, const char *path)
{
	return fake_service_calls(e->st.svc, "GET", path);
}

/* Answers GET @path with @status and @body from now on. */
static void answer(struct env *e, const char *path, long status, const char *body)
{
	fake_service_fail(e->st.svc, "GET", path,
			  &(struct fake_answer){.status = status, .body = body,
						.content_type = "application/json"},
			  false, -1);
}

#define ZWOLLE "[{\"clientnr\":\"2\",\"contact\":\"Els Bos\",\"company\":\"\",\"city\":\"Zwolle\"," \
	       "\"country\":\"146\",\"reference\":[],\"active\":\"1\"}]"

static void test_parse(void)
{
	static const char *const none[] = {
	    ".hidden", ".Trash-1000", "desktop.ini", "Thumbs.db", "x.swp", "4913", "backup~",
	    "nosuchfield=x", "city=", "=x", "50%", "%2e", "%2E", "a%2Fb%zz", "%09tab",
	    "   ", "city=.net", "all=",
	};
	char *f, *q, *n;
	for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
		int rc = search_parse(clients, none[i], &f, &q);
		if (!unit_check(rc == -ENOENT, __FILE__, __LINE__, none[i]))
			printf("  (%s read as %s=%s)\n", none[i], f, q);
		if (rc == 0) {
			free(f);
			free(q);
		}
	}
	char longer[SEARCH_QUERY_MAX + 2];
	memset(longer, 'x', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	CHECK(search_parse(clients, longer, &f, &q) == -ENOENT);
	longer[SEARCH_QUERY_MAX] = '\0';
	CHECK(search_parse(clients, longer, &f, &q) == 0);
	free(f);
	free(q);

	static const struct {
		const char *name, *field, *query, *canonical;
	} ok[] = {
	    {"zwolle", "all", "zwolle", "zwolle"},
	    {"all=zwolle", "all", "zwolle", "zwolle"},
	    {"city=Zwolle", "city", "Zwolle", "city=Zwolle"},
	    {"email=pete@acme.com", "email", "pete@acme.com", "email=pete@acme.com"},
	    {"default_doclang=nl", "default_doclang", "nl", "default_doclang=nl"},
	    {"a b", "all", "a b", "a b"},
	    {"2024%2F0042", "all", "2024/0042", "2024%2F0042"},
	    {"100%25", "all", "100%", "100%25"},
	    {"%2Enet", "all", ".net", "%2Enet"},
	    {"all=a=b", "all", "a=b", "all=a=b"},
	    {"company=a=b", "company", "a=b", "company=a=b"},
	    {"Café Ümlaut", "all", "Café Ümlaut", "Café Ümlaut"},
	    {"23,95", "all", "23.95", "23.95"},
	    {"totalintax=-1,5", "totalintax", "-1.5", "totalintax=-1.5"},
	    {"1,2,3", "all", "1,2,3", "1,2,3"},
	    {"Jansen, Piet", "all", "Jansen, Piet", "Jansen, Piet"},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		const struct schema_collection *c = strstr(ok[i].name, "totalintax") ? invoices
											: clients;
		f = q = NULL;
		CHECK(search_parse(c, ok[i].name, &f, &q) == 0);
		CHECK_STR(f, ok[i].field);
		CHECK_STR(q, ok[i].query);
		n = f && q ? search_name(f, q) : NULL;
		CHECK_STR(n, ok[i].canonical);
		free(n);
		free(f);
		free(q);
	}
}

static void test_one_call_per_ttl(void)
{
	struct env e;
	struct cache_listing *l = NULL, *l2 = NULL;
	env_init(&e);
	answer(&e, "search/clients/all/zwolle", 200, ZWOLLE);
	CHECK(search_get(e.s, clients, "zwolle", &l) == 0 && l->n == 1);
	CHECK_STR(l->recs[0]->id, "2");
	/* The same query in its other spelling, and again: no call. */
	CHECK(search_get(e.s, clients, "all=zwolle", &l2) == 0 && l2 == l);
	cache_listing_unref(l2);
	CHECK(calls(&e, "search/clients/all/zwolle") == 1);
	l2 = search_held(e.s, clients, "zwolle");
	CHECK(l2 == l);
	cache_listing_unref(l2);
	char **names = NULL;
	size_t n = 0;
	CHECK(search_names(e.s, clients, &names, &n) == 0 && n == 1 && !strcmp(names[0], "zwolle"));
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	CHECK(search_names(e.s, invoices, &names, &n) == 0 && n == 0);
	free(names);
	cache_listing_unref(l);

	/* The record found: served whole, and its name known, without listing clients. */
	struct cache_record *r = NULL;
	double left = 0;
	CHECK(cache_found_peek(e.st.cache, clients, "2", &r, &left) == 0 && left == 60);
	cache_record_unref(r);
	CHECK(cache_record_get(e.st.cache, clients, "2", &r) == 0 && strstr(r->text, "Els Bos"));
	cache_record_unref(r);
	CHECK(calls(&e, "clients") == 0);

	/* Past the TTL: one call again, and the old record no longer served as found. */
	clk.now += 60.5;
	CHECK(search_held(e.s, clients, "zwolle") == NULL);
	CHECK(cache_found_peek(e.st.cache, clients, "2", &r, NULL) == -ENOENT);
	CHECK(search_get(e.s, clients, "zwolle", &l) == 0 && l->n == 1);
	cache_listing_unref(l);
	CHECK(calls(&e, "search/clients/all/zwolle") == 2);

	/* A change of ours to clients: the answer and the found record are stale. */
	cache_invalidate(e.st.cache, clients);
	CHECK(search_held(e.s, clients, "zwolle") == NULL);
	CHECK(cache_found_peek(e.st.cache, clients, "2", &r, NULL) == -ENOENT);
	CHECK(search_get(e.s, clients, "zwolle", &l) == 0);
	cache_listing_unref(l);
	CHECK(calls(&e, "search/clients/all/zwolle") == 3);

	/* A listing fetched after the search says what there is. */
	CHECK(cache_found_peek(e.st.cache, clients, "2", &r, NULL) == 0);
	cache_record_unref(r);
	clk.now += 1;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(cache_found_peek(e.st.cache, clients, "2", &r, NULL) == -ENOENT);
	env_fini(&e);
}

static void test_no_call_for_names_that_are_no_query(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	env_init(&e);
	CHECK(search_get(e.s, clients, ".git", &l) == -ENOENT);
	CHECK(search_get(e.s, clients, "desktop.ini", &l) == -ENOENT);
	CHECK(search_get(e.s, clients, "nosuchfield=x", &l) == -ENOENT);
	CHECK(search_get(e.s, clients, "50%", &l) == -ENOENT);
	CHECK(fake_service_calls(e.st.svc, NULL, NULL) == 0);
	env_fini(&e);
}

static void test_escaping(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	env_init(&e);
	answer(&e, "search/invoices/all/2024%2F0042", 200, "[]");
	answer(&e, "search/clients/all/a%20b%25%C3%A9", 200, "[]");
	answer(&e, "search/invoices/totalintax/23.95", 200, "[]");
	CHECK(search_get(e.s, invoices, "2024%2F0042", &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	CHECK(search_get(e.s, clients, "a b%25\xc3\xa9", &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	CHECK(search_get(e.s, invoices, "totalintax=23,95", &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	CHECK(calls(&e, "search/invoices/all/2024%2F0042") == 1);
	CHECK(calls(&e, "search/clients/all/a%20b%25%C3%A9") == 1);
	CHECK(calls(&e, "search/invoices/totalintax/23.95") == 1);
	env_fini(&e);
}

static void test_no_match_and_failure(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	env_init(&e);
	/* Both readings of "nothing found": an empty answer, no error recorded. */
	answer(&e, "search/clients/all/none", 200, "[]");
	answer(&e, "search/clients/all/gone", 404, "No results");
	CHECK(search_get(e.s, clients, "none", &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	CHECK(search_get(e.s, clients, "gone", &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	CHECK(events_last_error(e.st.ev) == NULL);
	/* A failure without an earlier answer is the caller's; with one, that answer. */
	answer(&e, "search/clients/all/down", 500, "broken");
	CHECK(search_get(e.s, clients, "down", &l) == -EIO);
	answer(&e, "search/clients/all/zwolle", 200, ZWOLLE);
	CHECK(search_get(e.s, clients, "zwolle", &l) == 0 && l->n == 1);
	cache_listing_unref(l);
	answer(&e, "search/clients/all/zwolle", 500, "broken");
	clk.now += 61;
	CHECK(search_get(e.s, clients, "zwolle", &l) == 0 && l->n == 1);
	cache_listing_unref(l);
	/* Not a list: an error, said where the user looks. */
	answer(&e, "search/clients/all/odd", 200, "\"what\"");
	CHECK(search_get(e.s, clients, "odd", &l) == -EIO);
	char *err = events_last_error(e.st.ev);
	CHECK(err && strstr(err, "not a list"));
	free(err);
	env_fini(&e);
}

int main(void)
{
	clients = schema_find("clients");
	invoices = schema_find("invoices");
	test_parse();
	test_one_call_per_ttl();
	test_no_call_for_names_that_are_no_query();
	test_escaping();
	test_no_match_and_failure();
	return unit_report();
}
