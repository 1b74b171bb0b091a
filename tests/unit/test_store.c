/* Unit tests of src/store: the listing and record cache (store/cache.h) and
 * the PDF store (store/pdfstore.h), over the in-process fake service
 * (tests/unit/fake_service.c on fake_transport.c): TTL, invalidation,
 * single-flight, the failure hold, stale-on-failure, paging, list shapes,
 * records completed one by one, filtered listings, the changed callback,
 * facts; PDFs shared, on disk, in memory, bounded, and their counters.
 *
 * Time is one fake clock that the api, the cache and the PDF store read:
 * nothing here sleeps.  Threads meet on condition variables (unit_thread.h).
 */
#include "fake_service.h"
#include "fake_transport.h"
#include "unit_stack.h"
#include "unit.h"
#include "unit_thread.h"

#include "base/events.h"
#include "net/api.h"
#include "store/cache.h"
#include "store/pdfstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1000.0
#define STARTED ((time_t)1767225600) /* the mount's start: 2026-01-01 */
/* The collection of the PDFs tested here. */
#define INV schema_find("invoices")

static struct fake_clock clk;

static double clock_now(void)
{
	return clk.now;
}

static const struct schema_collection *clients, *products, *invoices;

/* ---- the account ------------------------------------------------------------- */

/* In the wire form the service sends (tests/fakeapi/fakeapi.py): numbers as
 * strings, empty objects as []. */
static const char *const client_wire[] = {
    "{'clientnr':'1','contact':'Jan de Vries','company':'Bakkerij De Korst','city':'Utrecht',"
    "'country':'146','top':'14','reference':[],'active':'1','timestamp':'2026-01-05 10:00:00',"
    "'lastinvoice':'2026-02-01'}",
    "{'clientnr':'2','contact':'Els Bos','company':'','city':'Zwolle','country':'146',"
    "'top':'30','reference':[],'active':'1','timestamp':'2026-01-06 11:00:00',"
    "'lastinvoice':''}",
    "{'clientnr':'3','contact':'','company':'Fietsen Snel BV','city':'Delft','country':'146',"
    "'top':'14','reference':{'line1':'PO-7','line2':'','line3':''},'active':'0',"
    "'timestamp':'2026-01-07 12:00:00','lastinvoice':''}",
};

static const char *const product_wire[] = {
    "{'id':'1','code':'BR-1','name':'Brood','price':'2.50','taxes':'9','priceintax':'2.73'}",
    "{'id':'2','code':'TA-1','name':'Taart','price':'18.00','taxes':'9','priceintax':'19.62'}",
};

static const char *const invoice_wire[] = {
    /* Sent, nothing paid. */
    "{'id':'1','invoicenr':'2026-0001','invoicenr_full':'F2026-0001','profile':'1',"
    "'clientnr':'1','company':'Bakkerij De Korst','contact':'Jan de Vries','date':'2026-02-01',"
    "'duedate':'2026-02-15','sent':'2026-02-01','paiddate':'','uncollectible':'',"
    "'totalintax':'121.00','tax':'21.00','open':'121.00','reference':[],'taxes':[],"
    "'history':[],'lines':{'line1':{'amount':'1','description':'Taarten','tax_rate':'21',"
    "'price':'100.00','linetotal':'100.00'}}}",
    /* Paid. */
    "{'id':'2','invoicenr':'2026-0002','profile':'1','clientnr':'3',"
    "'company':'Fietsen Snel BV','date':'2026-02-03','duedate':'2026-02-17',"
    "'sent':'2026-02-03','paiddate':'2026-02-10','uncollectible':'','totalintax':'60.50',"
    "'tax':'10.50','open':'0.00','reference':[],'taxes':[],'history':[],"
    "'lines':{'line1':{'amount':'2','description':'Broden','tax_rate':'21','price':'25.00',"
    "'linetotal':'50.00'}}}",
    /* Uncollectible. */
    "{'id':'3','invoicenr':'2026-0003','profile':'1','clientnr':'2','company':'',"
    "'date':'2026-02-05','duedate':'2026-02-19','sent':'','paiddate':'',"
    "'uncollectible':'2026-03-01','totalintax':'12.10','tax':'2.10','open':'12.10',"
    "'reference':[],'taxes':[],'history':[],'lines':{'line1':{'amount':'1',"
    "'description':'Koek','tax_rate':'21','price':'10.00','linetotal':'10.00'}}}",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* A whole PDF: header first, %%EOF at the end. */
/* Small whole PDFs: their startxref (41) is where their xref starts. */
#define PDF_OF(t)                                                                       \
	"%PDF-1.4\n1 0 obj << /Title (" t ") >> endobj\nxref\n0 2\n0000000000 65535 f \n"   \
	"0000000009 00000 n \ntrailer\n<< /Size 2 /Root 1 0 R >>\nstartxref\n41\n%%EOF\n"
static const char pdf_a[] = PDF_OF("A");
static const char pdf_b[] = PDF_OF("B");
static const char pdf_c[] = PDF_OF("C");

struct env {
	struct unit_stack st;
	/* What the changed callback saw. */
	unsigned changed;
	const struct schema_collection *changed_c;
	bool changed_had_old;
	struct timespec changed_old, changed_cur;
};

static void on_changed(void *ud, const struct schema_collection *c, const struct cache_listing *old,
		       const struct cache_listing *cur)
{
	struct env *e = ud;

	e->changed++;
	e->changed_c = c;
	e->changed_had_old = old != NULL;
	e->changed_old = old ? old->changed : (struct timespec){0};
	e->changed_cur = cur->changed;
}

static void env_init(struct env *e, double ttl, long page_size)
{
	struct cache_config ccfg = {
	    .ttl = ttl,
	    .page_size = page_size,
	    .now = clock_now,
	    .started = STARTED,
	    .changed = on_changed,
	    .ud = e,
	};

	memset(e, 0, sizeof(*e));
	unit_stack_init(&e->st, &clk, T0, &ccfg);
	for (size_t i = 0; i < N(client_wire); i++)
		fake_service_put(e->st.svc, "clients", client_wire[i]);
	for (size_t i = 0; i < N(product_wire); i++)
		fake_service_put(e->st.svc, "products", product_wire[i]);
	for (size_t i = 0; i < N(invoice_wire); i++)
		fake_service_put(e->st.svc, "invoices", invoice_wire[i]);
}

static void env_fini(struct env *e)
{
	unit_stack_fini(&e->st);
}

/* The newest error as "what: message" (a static buffer), or "". */
static const char *last_error(struct events *ev)
{
	static char buf[640];
	struct events_entry ent;

	buf[0] = '\0';
	if (events_list(ev, EVENTS_ERRORS, &ent, 1, NULL) == 1)
		snprintf(buf, sizeof(buf), "%s: %s", ent.what, ent.message);
	return buf;
}

static unsigned gets(struct env *e, const char *path)
{
	return fake_service_calls(e->st.svc, "GET", path);
}

/* The cache's status object, and one string of it. */
static cJSON *describe(struct env *e)
{
	cJSON *o = cJSON_CreateObject();

	cache_describe(e->st.cache, o);
	return o;
}

static const char *coll_state(cJSON *d, const char *name, const char *key)
{
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(
	    cJSON_GetObjectItemCaseSensitive(d, "collections"), name);
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static double num_of(cJSON *d, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

/* ---- TTL and invalidation ------------------------------------------------------ */

static void test_ttl(void)
{
	struct env e;
	struct cache_listing *l1 = NULL, *l2 = NULL, *l3 = NULL;
	cJSON *d;

	env_init(&e, 60, 100);
	CHECK(!cache_has_listing(e.st.cache, clients));
	CHECK(cache_listing_get(e.st.cache, clients, &l1) == 0);
	CHECK(gets(&e, "clients") == 1);
	CHECK_STR(fake_service_path(e.st.svc, 0), "clients?count=100&offset=0&start=0");
	CHECK(l1 && l1->n == 3);
	CHECK(cache_has_listing(e.st.cache, clients));
	/* Sorted by stem, indexed by id. */
	CHECK_STR(l1->recs[0]->id, "1");
	CHECK_STR(l1->recs[2]->stem, "3");
	CHECK(cache_listing_find(l1, "2") == 1 && cache_listing_find(l1, "9") == -1);
	/* The pythonic text: numbers as numbers, [] as {}. */
	CHECK(strstr(l1->recs[0]->text, "\"clientnr\": 1,") != NULL);
	CHECK(strstr(l1->recs[0]->text, "\"reference\": {}") != NULL);
	CHECK(l1->recs[0]->whole);
	/* Its date at noon UTC (its file time is store/times.h's: test_times.c). */
	CHECK(l1->recs[0]->date == 1767614400);
	CHECK(l1->fetched == T0);

	/* Within the TTL: the same listing, no call. */
	clk.now += 59.9;
	CHECK(cache_listing_get(e.st.cache, clients, &l2) == 0);
	CHECK(l2 == l1 && gets(&e, "clients") == 1);
	CHECK(cache_listing_ttl_left(e.st.cache, l2) > 0.09 &&
	      cache_listing_ttl_left(e.st.cache, l2) < 0.11);
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "fresh");
	CHECK_STR(coll_state(d, "products", "state"), "not listed");
	CHECK(num_of(d, "listing_fetches") == 1 && num_of(d, "listing_hits") == 1);
	cJSON_Delete(d);

	/* Past it: listed again. */
	clk.now += 0.2;
	CHECK(cache_listing_ttl_left(e.st.cache, l2) == 0);
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "expired");
	cJSON_Delete(d);
	CHECK(cache_listing_get(e.st.cache, clients, &l3) == 0);
	CHECK(gets(&e, "clients") == 2);
	CHECK(l3 != l1 && l3->n == 3 && l3->fetched == clk.now);
	/* The old snapshot stays valid while referenced. */
	CHECK_STR(l1->recs[1]->id, "2");
	cache_listing_unref(l1);
	cache_listing_unref(l2);
	cache_listing_unref(l3);

	/* ttl=0: every access lists. */
	env_fini(&e);
	env_init(&e, 0, 100);
	for (int i = 0; i < 3; i++) {
		CHECK(cache_listing_get(e.st.cache, products, &l1) == 0);
		cache_listing_unref(l1);
	}
	CHECK(gets(&e, "products") == 3);
	env_fini(&e);
}

static void test_invalidate(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	cJSON *d;

	env_init(&e, 60, 100);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);

	/* A change of ours: the next access lists again, within the TTL. */
	cache_invalidate(e.st.cache, clients);
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "expired");
	CHECK_STR(coll_state(d, "products", "state"), "fresh");
	cJSON_Delete(d);
	/* The held listing is still there to peek at, without a call. */
	l = cache_listing_peek(e.st.cache, clients);
	CHECK(l && l->n == 3 && gets(&e, "clients") == 1);
	cache_listing_unref(l);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 2);
	/* Once: fresh again. */
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 2);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "products") == 1);

	/* cache_refresh_all drops every listing. */
	cache_refresh_all(e.st.cache);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 3 && gets(&e, "products") == 2);
	env_fini(&e);
}

/* ---- single-flight ---------------------------------------------------------------- */

#define RACERS 6

/* RACERS threads call @fn at once while the service holds the request they
 * cause; it is released only when all of them wait. */
struct race {
	struct env *e;
	int (*fn)(struct race *r, int i);
	const char *what; /* for fn */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pid_t tids[RACERS];
	unsigned started;
	int rcs[RACERS];
	void *got[RACERS];
	off_t sizes[RACERS];
	struct pdfstore *ps;
};

struct racer {
	struct race *r;
	int i;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct race *r = me->r;

	pthread_mutex_lock(&r->lock);
	r->tids[me->i] = unit_tid();
	r->started++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	r->rcs[me->i] = r->fn(r, me->i);
	return NULL;
}

/* Runs the race with the service holding @method @path; true when every
 * racer was seen waiting before the one request was released. */
static bool race_run(struct race *r, const char *method, const char *path)
{
	pthread_t th[RACERS];
	struct racer who[RACERS];
	bool met;

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	fake_service_hold(r->e->st.svc, method, path);
	for (int i = 0; i < RACERS; i++) {
		who[i] = (struct racer){r, i};
		pthread_create(&th[i], NULL, racer_main, &who[i]);
	}
	pthread_mutex_lock(&r->lock);
	while (r->started < RACERS)
		pthread_cond_wait(&r->cond, &r->lock);
	pthread_mutex_unlock(&r->lock);
	/* One of them is in the held request; every other one waits for it
	 * inside the store (or, were single-flight broken, in a request of
	 * its own: the count below would show it). */
	met = fake_service_wait_held(r->e->st.svc, 1) && unit_wait_asleep(r->tids, RACERS);
	fake_service_release(r->e->st.svc);
	for (int i = 0; i < RACERS; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	return met;
}

static int race_listing(struct race *r, int i)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(r->e->st.cache, clients, &l);

	r->got[i] = l;
	return rc;
}

static int race_record(struct race *r, int i)
{
	struct cache_record *rec = NULL;
	int rc = cache_record_get(r->e->st.cache, invoices, r->what, &rec);

	r->got[i] = rec;
	return rc;
}

static int race_pdf(struct race *r, int i)
{
	r->sizes[i] = pdfstore_fetch(r->ps, INV, r->what);
	return r->sizes[i] < 0 ? (int)r->sizes[i] : 0;
}

static void test_single_flight(void)
{
	struct env e;
	struct race r = {0};
	cJSON *d;

	/* A listing: one call for all. */
	env_init(&e, 60, 100);
	r.e = &e;
	r.fn = race_listing;
	CHECK(race_run(&r, "GET", "clients"));
	CHECK(gets(&e, "clients") == 1);
	for (int i = 0; i < RACERS; i++) {
		CHECK(r.rcs[i] == 0 && r.got[i] == r.got[0]);
		cache_listing_unref(r.got[i]);
	}
	d = describe(&e);
	CHECK(num_of(d, "listing_fetches") == 1 && num_of(d, "listing_hits") == RACERS - 1);
	cJSON_Delete(d);

	/* A failed fetch is the outcome of every waiter too. */
	memset(&r, 0, sizeof(r));
	r.e = &e;
	r.fn = race_listing;
	fake_service_fail(e.st.svc, "GET", "clients", &(struct fake_answer){.status = 404}, false, -1);
	cache_invalidate(e.st.cache, clients);
	clk.now += 61; /* and expired: no stale copy is served within the TTL */
	CHECK(race_run(&r, "GET", "clients"));
	CHECK(gets(&e, "clients") == 2);
	for (int i = 0; i < RACERS; i++) {
		/* Served stale: the listing held beats the error. */
		CHECK(r.rcs[i] == 0 && r.got[i] && ((struct cache_listing *)r.got[i])->n == 3);
		cache_listing_unref(r.got[i]);
	}
	env_fini(&e);

	/* A record completed with GET one. */
	env_init(&e, 60, 100);
	fake_service_partial(e.st.svc, "invoices", "lines");
	memset(&r, 0, sizeof(r));
	r.e = &e;
	r.fn = race_record;
	r.what = "2026-0001";
	struct cache_listing *l = NULL;
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0);
	cache_listing_unref(l);
	CHECK(race_run(&r, "GET", "invoices/2026-0001"));
	CHECK(gets(&e, "invoices/2026-0001") == 1);
	for (int i = 0; i < RACERS; i++) {
		CHECK(r.rcs[i] == 0 && r.got[i] == r.got[0]);
		cache_record_unref(r.got[i]);
	}
	env_fini(&e);
}

/* ---- failures -------------------------------------------------------------------- */

static void test_fail_hold(void)
{
	struct env e;
	struct cache_listing *l = NULL;

	env_init(&e, 60, 100);
	fake_service_fail(e.st.svc, "GET", "products",
			  &(struct fake_answer){.status = 400, .body = "Field 'count' is invalid"},
			  false, -1);
	CHECK(cache_listing_get(e.st.cache, products, &l) == -EINVAL && !l);
	CHECK(gets(&e, "products") == 1);
	CHECK_STR(last_error(e.st.ev), "list products: HTTP 400: Field 'count' is invalid");
	/* Within the hold: the same outcome, no call. */
	clk.now += 0.9;
	CHECK(cache_listing_get(e.st.cache, products, &l) == -EINVAL);
	CHECK(gets(&e, "products") == 1);
	/* After it: asked again. */
	clk.now += 0.2;
	CHECK(cache_listing_get(e.st.cache, products, &l) == -EINVAL);
	CHECK(gets(&e, "products") == 2);
	/* An invalidation (a change of ours) asks at once. */
	fake_service_clear_faults(e.st.svc);
	cache_invalidate(e.st.cache, products);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l && l->n == 2);
	CHECK(gets(&e, "products") == 3);
	cache_listing_unref(l);

	/* A body that is not JSON: EIO, said in the errors. */
	fake_service_fail(e.st.svc, "GET", "clients",
			  &(struct fake_answer){.status = 200, .body = "<html>maintenance</html>"},
			  false, 1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == -EIO);
	CHECK_STR(last_error(e.st.ev), "list clients: the service sent a body that is not JSON");
	/* Nor a list: EIO. */
	clk.now += 1.1;
	fake_service_fail(e.st.svc, "GET", "clients",
			  &(struct fake_answer){.status = 200, .body = "42"}, false, 1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == -EIO);
	CHECK_STR(last_error(e.st.ev), "list clients: the service sent something that is not a list of records");
	env_fini(&e);
}

static void test_stale(void)
{
	struct env e;
	struct cache_listing *l1 = NULL, *l = NULL;
	cJSON *d;
	double t;

	env_init(&e, 60, 100);
	CHECK(cache_listing_get(e.st.cache, clients, &l1) == 0);
	clk.now += 61;
	/* The refresh fails (a 500 is retried: 4 calls): the held listing is
	 * served, marked stale. */
	fake_service_fail(e.st.svc, "GET", "clients",
			  &(struct fake_answer){.status = 500, .body = "one bad record"}, false,
			  -1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l == l1);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 1 + 4);
	t = clk.now; /* the retries moved the clock */
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "stale");
	CHECK_STR(coll_state(d, "clients", "stale_because"), strerror(EIO));
	CHECK(coll_state(d, "clients", "stale_since") != NULL);
	cJSON_Delete(d);

	/* Not tried again before the stale retry time (5 s, the TTL being longer). */
	clk.now = t + 4.9;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l == l1);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 5);
	/* Then tried, and still stale while it fails. */
	clk.now = t + 5.1;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l == l1);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 9);
	t = clk.now;

	/* The service back: fresh again, the stale marks gone. */
	fake_service_clear_faults(e.st.svc);
	clk.now = t + 5.1;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l != l1 && l->n == 3);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 10);
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "fresh");
	CHECK(coll_state(d, "clients", "stale_since") == NULL);
	cJSON_Delete(d);
	cache_listing_unref(l1);

	/* The service down: its own words say why (the api's health). */
	clk.now += 61;
	fake_service_fail(e.st.svc, "GET", NULL,
			  &(struct fake_answer){.status = 503, .body = "down for maintenance"},
			  false, -1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0); /* 4 calls: not down yet */
	cache_listing_unref(l);
	CHECK(cache_listing_get(e.st.cache, products, &l) == -EIO); /* none held; now down */
	CHECK(gets(&e, NULL) == 10 + 4 + 4);
	clk.now += 5.1;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	d = describe(&e);
	CHECK_STR(coll_state(d, "clients", "state"), "stale");
	CHECK_STR(coll_state(d, "clients", "stale_because"), "HTTP 503: down for maintenance");
	cJSON_Delete(d);
	env_fini(&e);

	/* A short TTL retries sooner (at the TTL, but not under 0.5 s). */
	env_init(&e, 2, 100);
	CHECK(cache_listing_get(e.st.cache, clients, &l1) == 0);
	clk.now += 2.1;
	fake_service_fail(e.st.svc, "GET", "clients", &(struct fake_answer){.status = 404}, false, -1);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l == l1);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 2);
	clk.now += 1.9;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 2);
	clk.now += 0.2;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 3);
	cache_listing_unref(l1);
	env_fini(&e);
}

/* ---- paging and shapes ------------------------------------------------------------- */

static void put_clients(struct env *e, int from, int to)
{
	char wire[128];

	for (int i = from; i <= to; i++) {
		snprintf(wire, sizeof(wire), "{'clientnr':'%d','company':'Klant %d'}", i, i);
		fake_service_put(e->st.svc, "clients", wire);
	}
}

static void test_paging(void)
{
	struct env e;
	struct cache_listing *l = NULL;

	/* Full pages, then a short one: offsets 0, 2, 4. */
	env_init(&e, 60, 2);
	put_clients(&e, 4, 5);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 5);
	CHECK(gets(&e, "clients") == 3);
	CHECK_STR(fake_service_path(e.st.svc, 0), "clients?count=2&offset=0&start=0");
	CHECK_STR(fake_service_path(e.st.svc, 1), "clients?count=2&offset=2&start=2");
	CHECK_STR(fake_service_path(e.st.svc, 2), "clients?count=2&offset=4&start=4");
	CHECK_STR(l->recs[4]->id, "5");
	cache_listing_unref(l);
	env_fini(&e);

	/* Full pages only: the empty page after them ends it. */
	env_init(&e, 60, 3);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 3);
	CHECK(gets(&e, "clients") == 2);
	CHECK_STR(fake_service_path(e.st.svc, 1), "clients?count=3&offset=3&start=3");
	cache_listing_unref(l);
	env_fini(&e);

	/* A server that ignores where a page starts sends the first page again: it
	 * stops there, without the records twice, and asks count=-1 once, which
	 * this one answers with everything: from then on one call per listing. */
	env_init(&e, 60, 2);
	fake_service_paging(e.st.svc, true, 0);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 3);
	CHECK(gets(&e, "clients") == 3);
	CHECK_STR(fake_service_path(e.st.svc, 2), "clients?count=-1");
	cache_listing_unref(l);
	cJSON *d = describe(&e);
	const cJSON *note = cJSON_GetObjectItemCaseSensitive(d, "paging");
	CHECK(cJSON_IsString(note) && strstr(note->valuestring, "ignores offset and start") &&
	      strstr(note->valuestring, "count=-1, everything in one answer"));
	cJSON_Delete(d);
	cache_invalidate(e.st.cache, clients);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l->n == 2);
	cache_listing_unref(l);
	CHECK(gets(&e, "products") == 1);
	CHECK_STR(fake_service_path(e.st.svc, 3), "products?count=-1");
	env_fini(&e);

	/* One that ignores count=-1 too (pages of 2 whatever is asked): the first
	 * page alone, said once; later listings ask for that page only. */
	env_init(&e, 60, 2);
	fake_service_paging(e.st.svc, true, 2);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 2);
	CHECK(gets(&e, "clients") == 3);
	cache_listing_unref(l);
	d = describe(&e);
	note = cJSON_GetObjectItemCaseSensitive(d, "paging");
	CHECK(cJSON_IsString(note) && strstr(note->valuestring, "first page only, 2 records"));
	cJSON_Delete(d);
	cache_invalidate(e.st.cache, clients);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 2);
	cache_listing_unref(l);
	CHECK(gets(&e, "clients") == 4);
	CHECK_STR(fake_service_path(e.st.svc, 3), "clients?count=2");
	env_fini(&e);

	/* A server that ignores `count` (pages of 3 when 2 were asked): a page
	 * shorter than its first ends it. */
	env_init(&e, 60, 2);
	put_clients(&e, 4, 5);
	fake_service_paging(e.st.svc, false, 3);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 5);
	CHECK(gets(&e, "clients") == 2);
	CHECK_STR(fake_service_path(e.st.svc, 1), "clients?count=2&offset=3&start=3");
	cache_listing_unref(l);
	env_fini(&e);
}

static void test_shapes(void)
{
	static const enum fake_shape shapes[] = {FAKE_ARRAY, FAKE_WRAPPED, FAKE_NUMBERED};
	struct env e;
	struct cache_listing *l = NULL;

	for (size_t i = 0; i < N(shapes); i++) {
		env_init(&e, 60, 2);
		fake_service_shape(e.st.svc, shapes[i]);
		CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
		unit_check(l && l->n == 3 && !strcmp(l->recs[2]->id, "3"), __FILE__, __LINE__,
			   "every shape, paged");
		CHECK(gets(&e, "clients") == 2);
		cache_listing_unref(l);
		/* None: [] (and {"countrylist": []}). */
		CHECK(cache_listing_get(e.st.cache, schema_find("countrylist"), &l) == 0 && l->n == 0);
		cache_listing_unref(l);
		env_fini(&e);
	}

	/* [] as such, whatever the service's shape; {} and [1,2] are no list of
	 * records: EIO, never an empty listing. */
	env_init(&e, 60, 100);
	fake_service_fail(e.st.svc, "GET", "products",
			  &(struct fake_answer){.status = 200, .body = "[]"}, false, 1);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l->n == 0);
	cache_listing_unref(l);
	static const char *const not_records[] = {" {} ", "[1,2]", "[{\"id\":\"1\"},2]",
						  "{\"products\":{}}"};
	for (size_t i = 0; i < N(not_records); i++) {
		struct env e2;
		struct cache_listing *none = NULL;
		env_init(&e2, 60, 100);
		fake_service_fail(e2.st.svc, "GET", "products",
				  &(struct fake_answer){.status = 200, .body = not_records[i]},
				  false, 1);
		CHECK(cache_listing_get(e2.st.cache, products, &none) == -EIO && !none);
		CHECK_STR(last_error(e2.st.ev), "list products: the service sent something that "
						"is not a list of records");
		CHECK(gets(&e2, "products") == 1);
		env_fini(&e2);
	}
	/* A record without its id is left out, the rest shown. */
	cache_invalidate(e.st.cache, products);
	fake_service_fail(
	    e.st.svc, "GET", "products",
	    &(struct fake_answer){.status = 200,
				  .body = "[{\"code\":\"X\"},{\"id\":\"7\",\"code\":\"Y\"}]"},
	    false, 1);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l->n == 1);
	CHECK_STR(l->n ? l->recs[0]->id : NULL, "7");
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- identifiers that are no file names ---------------------------------------------- */

static unsigned long errors_total(struct env *e)
{
	struct events_entry ent;
	unsigned long total = 0;

	events_list(e->st.ev, EVENTS_ERRORS, &ent, 1, &total);
	return total;
}

/* The listing of products when the service answers @body; its ids in order in @ids. */
static struct cache_listing *list_products(struct env *e, const char *body, char *ids,
					   size_t len)
{
	struct cache_listing *l = NULL;

	cache_invalidate(e->st.cache, products);
	fake_service_fail(e->st.svc, "GET", "products",
			  &(struct fake_answer){.status = 200, .body = body}, false, 1);
	CHECK(cache_listing_get(e->st.cache, products, &l) == 0);
	ids[0] = '\0';
	for (size_t i = 0; l && i < l->n; i++)
		snprintf(ids + strlen(ids), len - strlen(ids), "%s%s", i ? "," : "", l->recs[i]->id);
	return l;
}

static void test_odd_ids(void)
{
	struct env e;
	struct cache_listing *l;
	struct cache_record *r = NULL;
	char ids[512], body[2048];
	unsigned long before;

	env_init(&e, 60, 100);
	/* ".", "..", "", over 250 bytes as a stem, and a NUL inside: left out, each said
	 * once; the one cut at its NUL does not pass for record 1, whose text stays its
	 * own, whatever order they come in. */
	for (int order = 0; order < 2; order++) {
		snprintf(body, sizeof(body),
			 "[%s{\"id\":\".\"},{\"id\":\"..\"},{\"id\":\"\"},{\"id\":\"%0251d\"},"
			 "{\"id\":\"%s\"},{\"id\":\"2\",\"code\":\"D\"}%s]",
			 order ? "" : "{\"id\":\"1\\u0000x\",\"code\":\"A\"},",
			 0, "////////////////////////////////////////////////////////////////"
			    "////////////////////",
			 order ? ",{\"id\":\"1\",\"code\":\"B\"},{\"id\":\"1\\u0000x\",\"code\":\"A\"}"
			       : ",{\"id\":\"1\",\"code\":\"B\"}");
		before = errors_total(&e);
		l = list_products(&e, body, ids, sizeof(ids));
		CHECK_STR(ids, "1,2");
		CHECK(l && l->n == 2 && strstr(l->recs[0]->text, "\"B\""));
		CHECK(errors_total(&e) - before == 6);
		cache_listing_unref(l);
	}
	CHECK(strstr(last_error(e.st.ev), "list products: ") != NULL);
	/* The longest that fits: a 250-byte stem ("/" is 3 bytes of it). */
	snprintf(body, sizeof(body), "[{\"id\":\"%0250d\"},{\"id\":\"%s\"}]", 0,
		 "/////////////////////////////////////////////////////////////////////////////////"
		 "//");
	l = list_products(&e, body, ids, sizeof(ids));
	CHECK(l && l->n == 2 && strlen(l->recs[0]->stem) == 249 && strlen(l->recs[1]->stem) == 250);
	cache_listing_unref(l);
	/* A page in another shape, parsed whole: the id cut at its NUL and the record
	 * it would pass for are both left out (which is which cannot be told), the rest
	 * shown. */
	before = errors_total(&e);
	l = list_products(&e, "{\"products\":[{\"id\":\"1\",\"code\":\"B\"},{\"id\":\"1\\u0000\"},"
			      "{\"id\":\"2\"},{\"id\":\"..\"}]}", ids, sizeof(ids));
	CHECK_STR(ids, "2");
	CHECK(errors_total(&e) - before == 3);
	cache_listing_unref(l);
	/* Two records with one id: the first listed, on every listing (the sort after
	 * is not stable). */
	for (int i = 0; i < 3; i++) {
		l = list_products(&e, "[{\"id\":\"3\",\"code\":\"first\"},{\"id\":\"2\"},"
				      "{\"id\":\"3\",\"code\":\"second\"},{\"id\":\"1\"}]",
				  ids, sizeof(ids));
		CHECK_STR(ids, "1,2,3");
		CHECK(l && l->n == 3 && strstr(l->recs[2]->text, "\"first\"") &&
		      cache_listing_find(l, "3") == 2 && cache_listing_find(l, "1") == 0);
		cache_listing_unref(l);
	}
	/* A record fetched one by one whose id the NUL cut, or that is another
	 * record: refused (EIO), its reason said. */
	fake_service_partial(e.st.svc, "invoices", "lines");
	l = NULL;
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0 && l->n == 3);
	cache_listing_unref(l);
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0001",
			  &(struct fake_answer){.status = 200,
						.body = "{\"invoice\":{\"invoicenr\":\"2026-0001\\u0000x\","
							"\"lines\":[]}}"},
			  false, 1);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r) == -EIO);
	CHECK(strstr(last_error(e.st.ev), "holds a NUL") != NULL);
	clk.now += 2; /* past the failure's hold */
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0001",
			  &(struct fake_answer){.status = 200,
						.body = "{\"invoice\":{\"invoicenr\":\"2026-0002\","
							"\"lines\":[]}}"},
			  false, 1);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r) == -EIO);
	CHECK(strstr(last_error(e.st.ev), "answered with the record \"2026-0002\"") != NULL);
	clk.now += 2;
	r = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r) == 0 && r && r->whole);
	cache_record_unref(r);
	env_fini(&e);
}

/* Content versions: kept while the content stays, one more at a change; the listing
 * replaced stays findable by its version for a few seconds (a directory read in
 * pieces goes on in it). */
static void test_versions(void)
{
	struct env e;
	struct cache_listing *l = NULL, *v = NULL;
	unsigned long v1;

	env_init(&e, 60, 100);
	CHECK(cache_listing_version_now(e.st.cache, products) == 0);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	v1 = l->version;
	CHECK(v1 > 0 && cache_listing_version_now(e.st.cache, products) == v1);
	cache_listing_unref(l);
	/* Listed again, the same content: the same version. */
	cache_invalidate(e.st.cache, products);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l->version == v1);
	cache_listing_unref(l);
	/* Changed: one more, and the old one still there by its version. */
	fake_service_put(e.st.svc, "products", "{'id':'3','code':'KO-1','name':'Koek'}");
	cache_invalidate(e.st.cache, products);
	CHECK(cache_listing_get(e.st.cache, products, &l) == 0 && l->version == v1 + 1 &&
	      l->n == 3);
	v = cache_listing_version(e.st.cache, products, v1);
	CHECK(v && v->version == v1 && v->n == 2);
	cache_listing_unref(v);
	v = cache_listing_version(e.st.cache, products, v1 + 1);
	CHECK(v == l);
	cache_listing_unref(v);
	CHECK(cache_listing_version(e.st.cache, products, v1 + 7) == NULL);
	/* ... for a few seconds only. */
	clk.now += 11;
	CHECK(cache_listing_version(e.st.cache, products, v1) == NULL);
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- records one by one ------------------------------------------------------------- */

static void test_partial(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	struct cache_record *r = NULL, *r2 = NULL;
	cJSON *d;

	env_init(&e, 60, 100);
	fake_service_partial(e.st.svc, "invoices", "lines");
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0 && l->n == 3);
	CHECK(!l->recs[0]->whole && strstr(l->recs[0]->text, "lines") == NULL);
	cache_listing_unref(l);
	/* Not held whole: peek says so without a call. */
	CHECK(cache_record_peek(e.st.cache, invoices, "2026-0001", &r) == -ENOENT);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r) == 0);
	CHECK(gets(&e, "invoices/2026-0001") == 1);
	CHECK(r && r->whole && strstr(r->text, "\"description\": \"Taarten\"") != NULL);
	/* Kept: no second call, and peek has it. */
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r2) == 0 && r2 == r);
	cache_record_unref(r2);
	r2 = NULL;
	CHECK(cache_record_peek(e.st.cache, invoices, "2026-0001", &r2) == 0 && r2 == r);
	cache_record_unref(r2);
	CHECK(gets(&e, "invoices/2026-0001") == 1);
	/* Each record one GET. */
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0002", &r2) == 0);
	cache_record_unref(r2);
	CHECK(gets(&e, "invoices/2026-0002") == 1);
	d = describe(&e);
	CHECK(num_of(d, "records_fetched_one_by_one") == 2);
	cJSON_Delete(d);
	/* A GET one that failed is not repeated within the hold (1 s), as a
	 * listing's is not: the kernel queues a file's readers one behind the
	 * other. */
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0003",
			  &(struct fake_answer){.status = 400, .body = "nee"}, false, 1);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0003", &r2) == -EINVAL);
	CHECK(gets(&e, "invoices/2026-0003") == 1);
	clk.now += 0.9;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0003", &r2) == -EINVAL);
	CHECK(gets(&e, "invoices/2026-0003") == 1);
	clk.now += 0.2;
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0003", &r2) == 0 && r2 && r2->whole);
	CHECK(gets(&e, "invoices/2026-0003") == 2);
	cache_record_unref(r2);
	/* A record the listing lacks: ENOENT, no call. */
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0099", &r2) == -ENOENT);
	CHECK(gets(&e, "invoices/2026-0099") == 0);
	/* A newer listing makes the record older than it: fetched again. */
	clk.now += 61;
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r2) == 0);
	CHECK(gets(&e, "invoices") == 2 && gets(&e, "invoices/2026-0001") == 2);
	cache_record_unref(r2);
	/* Refetching fails: the copy held beats the error. */
	clk.now += 61;
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0001", &(struct fake_answer){.status = 500},
			  false, -1);
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r2) == 0 && r2 && r2->whole);
	cache_record_unref(r2);
	/* Gone from the service: ENOENT. */
	clk.now += 61;
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0001", &(struct fake_answer){.status = 404},
			  false, -1);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0001", &r2) == -ENOENT);
	cache_record_unref(r);

	/* A failure is held only against the listing it was found with: one
	 * listed since (a change of ours) asks at once. */
	fake_service_put(e.st.svc, "invoices",
			 "{'invoicenr':'2026-0004','totalintax':'1.00','lines':[]}");
	cache_invalidate(e.st.cache, invoices);
	fake_service_fail(e.st.svc, "GET", "invoices/2026-0004",
			  &(struct fake_answer){.status = 400, .body = "nee"}, false, 1);
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0004", &r2) == -EINVAL);
	clk.now += 0.1;
	cache_invalidate(e.st.cache, invoices);
	r2 = NULL;
	CHECK(cache_record_get(e.st.cache, invoices, "2026-0004", &r2) == 0);
	CHECK(gets(&e, "invoices/2026-0004") == 2);
	cache_record_unref(r2);

	/* Listings that carry records whole need no GET one. */
	r = NULL;
	CHECK(cache_record_get(e.st.cache, clients, "1", &r) == 0 && r && r->whole);
	cache_record_unref(r);
	CHECK(gets(&e, "clients/1") == 0);
	env_fini(&e);
}

/* ---- filtered listings ---------------------------------------------------------------- */

static void test_filtered(void)
{
	struct env e;
	struct cache_listing *l = NULL, *l2 = NULL;
	cJSON *d;

	env_init(&e, 60, 100);
	CHECK(!cache_has_filtered(e.st.cache, invoices, "open"));
	CHECK(cache_listing_get_filtered(e.st.cache, invoices, "open", &l) == 0);
	CHECK_STR(fake_service_path(e.st.svc, 0), "invoices?filter=open&count=100&offset=0&start=0");
	/* open: something left to pay, not uncollectible. */
	CHECK(l->n == 1 && !strcmp(l->recs[0]->id, "2026-0001"));
	CHECK(cache_has_filtered(e.st.cache, invoices, "open"));
	CHECK(!cache_has_listing(e.st.cache, invoices));
	/* Kept like any listing. */
	CHECK(cache_listing_get_filtered(e.st.cache, invoices, "open", &l2) == 0 && l2 == l);
	cache_listing_unref(l2);
	CHECK(gets(&e, "invoices") == 1);
	/* Another filter is another listing. */
	CHECK(cache_listing_get_filtered(e.st.cache, invoices, "paid", &l2) == 0 && l2->n == 1);
	CHECK_STR(l2->recs[0]->id, "2026-0002");
	cache_listing_unref(l2);
	CHECK(gets(&e, "invoices") == 2);
	/* A filter the table does not have: ENOENT, no call. */
	CHECK(cache_listing_get_filtered(e.st.cache, invoices, "bogus", &l2) == -ENOENT);
	CHECK(gets(&e, "invoices") == 2);
	d = describe(&e);
	CHECK_STR(coll_state(d, "invoices?filter=open", "state"), "fresh");
	CHECK(coll_state(d, "invoices?filter=overdue", "state") == NULL); /* not used */
	cJSON_Delete(d);
	/* A payment moves an invoice between filters: the invalidation of the
	 * collection drops them too. */
	cache_invalidate(e.st.cache, invoices);
	fake_service_put(e.st.svc, "invoices",
			 "{'invoicenr':'2026-0001','totalintax':'121.00','open':'0.00'}");
	CHECK(cache_listing_get_filtered(e.st.cache, invoices, "open", &l2) == 0 && l2->n == 0);
	cache_listing_unref(l2);
	CHECK(gets(&e, "invoices") == 3);
	/* Filtered listings do not tell the kernel (views do that from theirs). */
	CHECK(e.changed == 0);
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- what is held -------------------------------------------------------------------- */

static void test_held(void)
{
	struct env e;
	struct cache_listing *l = NULL, *h;

	env_init(&e, 60, 100);
	CHECK(cache_listing_held(e.st.cache, clients) == NULL);
	CHECK(cache_listing_peek(e.st.cache, clients) == NULL);
	CHECK(gets(&e, NULL) == 0);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	/* Expired: still what is held, no call. */
	clk.now += 120;
	h = cache_listing_held(e.st.cache, clients);
	CHECK(h == l && gets(&e, "clients") == 1);
	cache_listing_unref(h);
	/* Dropped by a change of ours: listed again, the change shown. */
	fake_service_put(e.st.svc, "clients", "{'clientnr':'2','company':'Bos & Zn'}");
	cache_invalidate(e.st.cache, clients);
	h = cache_listing_held(e.st.cache, clients);
	CHECK(h && h != l && gets(&e, "clients") == 2);
	CHECK(h && strstr(h->recs[1]->text, "Bos & Zn") != NULL);
	cache_listing_unref(h);
	/* Once. */
	h = cache_listing_held(e.st.cache, clients);
	CHECK(gets(&e, "clients") == 2);
	cache_listing_unref(h);
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- the changed callback ---------------------------------------------------------------- */

static void test_changed(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	struct timespec first;

	env_init(&e, 10, 100);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	/* First listing: the mount's start is its time. */
	CHECK(e.changed == 1 && e.changed_c == clients && !e.changed_had_old);
	CHECK(l->changed.tv_sec == STARTED && l->changed.tv_nsec == 0);
	first = l->changed;
	cache_listing_unref(l);

	/* Listed again, the same content: no call back, the same time. */
	clk.now += 11;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	CHECK(gets(&e, "clients") == 2 && e.changed == 1);
	CHECK(l->changed.tv_sec == first.tv_sec && l->changed.tv_nsec == first.tv_nsec);
	cache_listing_unref(l);

	/* Other content: called back, the time strictly later. */
	fake_service_put(e.st.svc, "clients", "{'clientnr':'4','company':'Nieuw'}");
	clk.now += 11;
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0 && l->n == 4);
	CHECK(e.changed == 2 && e.changed_had_old);
	CHECK(cache_time_after(e.changed_cur, e.changed_old));
	CHECK(cache_time_after(l->changed, first));
	first = l->changed;
	cache_listing_unref(l);
	/* Changed twice at once (the wall clock may not move): still later. */
	for (int i = 0; i < 3; i++) {
		char wire[64];

		snprintf(wire, sizeof(wire), "{'clientnr':'4','company':'Nieuw %d'}", i);
		fake_service_put(e.st.svc, "clients", wire);
		cache_invalidate(e.st.cache, clients);
		CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
		CHECK(cache_time_after(l->changed, first));
		first = l->changed;
		cache_listing_unref(l);
	}
	CHECK(e.changed == 5);
	/* A change in a record's text alone counts (same ids, same sizes). */
	fake_service_put(e.st.svc, "clients", "{'clientnr':'4','company':'Nieuw 7'}");
	cache_invalidate(e.st.cache, clients);
	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	CHECK(e.changed == 6);
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- facts ---------------------------------------------------------------------------- */

static void test_facts(void)
{
	struct env e;
	struct cache_listing *l = NULL;
	const struct facts *f;

	env_init(&e, 60, 100);
	CHECK(cache_listing_get(e.st.cache, invoices, &l) == 0 && l->n == 3);
	f = cache_record_facts(l->recs[0]);
	CHECK(f != NULL);
	if (f) {
		CHECK_STR(f->date, "2026-02-01");
		CHECK_STR(f->duedate, "2026-02-15");
		CHECK_STR(f->clientnr, "1");
		CHECK_STR(f->name, "Bakkerij De Korst");
		CHECK(f->has_total && f->total == 121 && f->open == 121);
		CHECK(f->sent && !f->uncollectible);
		CHECK(f->ncells > 0);
		CHECK_STR(facts_cell(f, 0), "2026-0001");
	}
	f = cache_record_facts(l->recs[2]);
	CHECK(f && !f->sent && f->uncollectible && f->open > 12.09 && f->open < 12.11);
	/* The invoice's date is its file's. */
	CHECK(l->recs[1]->date == 1770120000); /* 2026-02-03 12:00 UTC */
	cache_listing_unref(l);

	CHECK(cache_listing_get(e.st.cache, clients, &l) == 0);
	f = cache_record_facts(l->recs[0]);
	CHECK(f && !strcmp(f->clientnr, "1") && !strcmp(f->name, "Bakkerij De Korst"));
	/* No company: the contact names the client. */
	f = cache_record_facts(l->recs[1]);
	CHECK(f && !strcmp(f->name, "Els Bos"));
	cache_listing_unref(l);

	CHECK(cache_listing_get(e.st.cache, products, &l) == 0);
	CHECK(l->n == 2 && cache_record_facts(l->recs[0]) == NULL);
	cache_listing_unref(l);
	env_fini(&e);
}

/* ---- PDFs ------------------------------------------------------------------------------ */

struct pdfenv {
	struct env e;
	struct pdfstore *ps;
	char dir[64];
};

static void pdf_init(struct pdfenv *p, bool disk, off_t max)
{
	env_init(&p->e, 60, 100);
	fake_service_pdf(p->e.st.svc, "2026-0001", pdf_a, strlen(pdf_a));
	fake_service_pdf(p->e.st.svc, "2026-0002", pdf_b, strlen(pdf_b));
	fake_service_pdf(p->e.st.svc, "2026-0003", pdf_c, strlen(pdf_c));
	fake_service_pdf(p->e.st.svc, "2026-0098", "<html>not a pdf</html>", 22);
	fake_service_pdf(p->e.st.svc, "2026-0099", "%PDF-1.4\n1 0 obj cut short", 26);
	/* Between a PDF's markers, with a startxref pointing at no xref. */
	static const char page[] = "%PDF-1.4\n<html>down</html>\nstartxref\n9\n%%EOF\n";
	fake_service_pdf(p->e.st.svc, "2026-0097", page, strlen(page));
	p->dir[0] = '\0';
	if (disk) {
		snprintf(p->dir, sizeof(p->dir), "/tmp/test_store.XXXXXX");
		if (!mkdtemp(p->dir)) {
			printf("mkdtemp failed\n");
			exit(1);
		}
	}
	struct pdfstore_config cfg = {
	    .dir = disk ? p->dir : NULL,
	    .max = max,
	    .api = p->e.st.api,
	    .events = p->e.st.ev,
	    .now = clock_now,
	};
	if (pdfstore_new(&p->ps, &cfg) != 0) {
		printf("setup failed\n");
		exit(1);
	}
}

/* A second store on the same directory (a remount). */
static struct pdfstore *pdf_remount(struct pdfenv *p, off_t max)
{
	struct pdfstore *ps = NULL;
	struct pdfstore_config cfg = {
	    .dir = p->dir, .max = max, .api = p->e.st.api, .events = p->e.st.ev, .now = clock_now};

	return pdfstore_new(&ps, &cfg) == 0 ? ps : NULL;
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(dirfd(d), de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(dir);
}

static void pdf_fini(struct pdfenv *p)
{
	pdfstore_free(p->ps);
	if (p->dir[0])
		rm_tree(p->dir);
	env_fini(&p->e);
}

static unsigned pdf_gets(struct pdfenv *p, const char *nr)
{
	char path[64];

	snprintf(path, sizeof(path), "invoices_pdf/%s", nr);
	return gets(&p->e, path);
}

static double pdf_figure(struct pdfstore *ps, const char *key)
{
	cJSON *o = cJSON_CreateObject();
	double v;

	pdfstore_describe(ps, o);
	v = num_of(o, key);
	cJSON_Delete(o);
	return v;
}

/* Reads all of PDF @nr into @buf (NUL-terminated). */
static ssize_t read_pdf(struct pdfstore *ps, const char *nr, char *buf, size_t size)
{
	ssize_t n = pdfstore_read(ps, INV, nr, buf, size - 1, 0);

	buf[n > 0 ? n : 0] = '\0';
	return n;
}

/* As the FUSE layer reads (vfs/coll.c): once more after -EAGAIN, which
 * says the disk copy went (or was not the one fetched) and is fetched anew. */
static ssize_t read_pdf_again(struct pdfstore *ps, const char *nr, char *buf, size_t size)
{
	ssize_t n = read_pdf(ps, nr, buf, size);
	return n == -EAGAIN ? read_pdf(ps, nr, buf, size) : n;
}

static bool file_is(const char *path, const char *want, mode_t mode)
{
	char buf[256];
	struct stat st;
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	fstat(fd, &st);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return !strcmp(buf, want) && (st.st_mode & 0777) == mode;
}

static size_t count_files(const char *dir, const char *containing)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	while (d && (de = readdir(d)))
		n += strstr(de->d_name, containing) != NULL;
	if (d)
		closedir(d);
	return n;
}

static void test_pdf_shared(void)
{
	struct pdfenv p;
	struct race r = {0};
	char buf[256];

	pdf_init(&p, true, 1 << 20);
	r.e = &p.e;
	r.fn = race_pdf;
	r.ps = p.ps;
	r.what = "2026-0001";
	CHECK(race_run(&r, "GET", "invoices_pdf/2026-0001"));
	CHECK(pdf_gets(&p, "2026-0001") == 1);
	for (int i = 0; i < RACERS; i++)
		CHECK(r.rcs[i] == 0 && r.sizes[i] == (off_t)strlen(pdf_a));
	/* Known now: its size, its bytes, no call. */
	CHECK(pdfstore_size(p.ps, INV, "2026-0001", false) == (off_t)strlen(pdf_a));
	CHECK(read_pdf(p.ps, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(pdfstore_read(p.ps, INV, "2026-0001", buf, 10, 9) == 10 && !memcmp(buf, pdf_a + 9, 10));
	CHECK(pdfstore_read(p.ps, INV, "2026-0001", buf, 10, (off_t)strlen(pdf_a)) == 0);
	CHECK(pdf_gets(&p, "2026-0001") == 1);
	CHECK(pdf_figure(p.ps, "pdfs_fetched") == 1 &&
	      pdf_figure(p.ps, "pdf_disk_cache_hits") == 0);
	/* Not asked yet: unknown, and no call to say so. */
	CHECK(pdfstore_size(p.ps, INV, "2026-0002", false) == -1);
	CHECK(pdfstore_size(p.ps, INV, "2026-0002", true) == -1);
	CHECK(pdf_gets(&p, "2026-0002") == 0);
	pdf_fini(&p);
}

/* pdfstore_prefetch: the read's path (one call, shared), counted apart; a
 * prefetched PDF is local, and its first read a disk hit; room shrinks. */
static void test_pdf_prefetch(void)
{
	struct pdfenv p;
	struct pdfstore *ps2;
	char buf[256];
	off_t room;

	pdf_init(&p, true, 1 << 20);
	room = pdfstore_room(p.ps, INV);
	CHECK(room == 1 << 20);
	CHECK(!pdfstore_is_local(p.ps, INV, "2026-0001") && pdf_gets(&p, "2026-0001") == 0);
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0001") == 1);
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0001") == 0);
	CHECK(pdf_gets(&p, "2026-0001") == 1);
	CHECK(pdfstore_is_local(p.ps, INV, "2026-0001"));
	CHECK(pdfstore_room(p.ps, INV) == room - (off_t)strlen(pdf_a));
	CHECK(pdf_figure(p.ps, "pdfs_prefetched") == 1 && pdf_figure(p.ps, "pdfs_fetched") == 0);
	CHECK(read_pdf(p.ps, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(pdf_gets(&p, "2026-0001") == 1 && pdf_figure(p.ps, "pdf_disk_cache_hits") == 1);
	/* A read first: the prefetch finds it known, no call. */
	CHECK(read_pdf(p.ps, "2026-0002", buf, sizeof(buf)) == (ssize_t)strlen(pdf_b));
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0002") == 0 && pdf_gets(&p, "2026-0002") == 1);
	/* What the service refuses is an error, and nothing local. */
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0098") < 0 && !pdfstore_is_local(p.ps, INV, "2026-0098"));
	/* A remount: what is on disk is local, without a call or an entry. */
	ps2 = pdf_remount(&p, 1 << 20);
	CHECK(ps2 && pdfstore_is_local(ps2, INV, "2026-0001") && !pdfstore_is_local(ps2, INV, "2026-0003"));
	pdfstore_free(ps2);
	pdf_fini(&p);
	/* Without a disk cache: no room to speak of. */
	pdf_init(&p, false, 1 << 20);
	CHECK(pdfstore_room(p.ps, INV) == -1);
	pdf_fini(&p);
}

/* The archive (pdfstore_config.archive): invoices' PDFs on disk are never
 * evicted, whatever cache_max, and their room is the disk's; without it the
 * least recently used go. */
static void test_pdf_archive(void)
{
	struct pdfenv p;
	struct pdfstore *plain;

	pdf_init(&p, true, 1);
	pdfstore_free(p.ps);
	struct pdfstore_config cfg = {.dir = p.dir, .max = 1, .archive = true, .api = p.e.st.api,
				      .events = p.e.st.ev, .now = clock_now};
	CHECK(pdfstore_new(&p.ps, &cfg) == 0);
	CHECK(pdfstore_room(p.ps, INV) > 1 << 20);
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0001") == 1);
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0002") == 1);
	CHECK(pdfstore_prefetch(p.ps, INV, "2026-0003") == 1);
	plain = pdf_remount(&p, 1);
	CHECK(plain && pdfstore_is_local(plain, INV, "2026-0001") &&
	      pdfstore_is_local(plain, INV, "2026-0002") && pdfstore_is_local(plain, INV, "2026-0003"));
	/* Without the archive, past cache_max only the one just written stays. */
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/2026-0003.pdf", p.dir);
	CHECK(unlink(path) == 0);
	CHECK(pdfstore_fetch(plain, INV, "2026-0003") == (off_t)strlen(pdf_c));
	CHECK(!pdfstore_is_local(plain, INV, "2026-0001") && !pdfstore_is_local(plain, INV, "2026-0002"));
	CHECK(pdfstore_is_local(plain, INV, "2026-0003"));
	pdfstore_free(plain);
	pdf_fini(&p);
}

/* pdfstore_size(wait): while a fetch runs, the size is unknown without
 * waiting, and known at its end with. */
struct sizer {
	struct pdfstore *ps;
	pid_t tid;
	off_t size;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
};

static void *fetch_main(void *arg)
{
	struct sizer *z = arg;

	z->size = pdfstore_fetch(z->ps, INV, "2026-0002");
	return NULL;
}

static void *size_main(void *arg)
{
	struct sizer *z = arg;

	pthread_mutex_lock(&z->lock);
	z->tid = unit_tid();
	z->started = true;
	pthread_cond_broadcast(&z->cond);
	pthread_mutex_unlock(&z->lock);
	z->size = pdfstore_size(z->ps, INV, "2026-0002", true);
	return NULL;
}

static void test_pdf_size_waits(void)
{
	struct pdfenv p;
	struct sizer f = {0}, w = {0};
	pthread_t tf, tw;

	pdf_init(&p, true, 1 << 20);
	f.ps = w.ps = p.ps;
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	fake_service_hold(p.e.st.svc, "GET", "invoices_pdf/2026-0002");
	pthread_create(&tf, NULL, fetch_main, &f);
	CHECK(fake_service_wait_held(p.e.st.svc, 1));
	CHECK(pdfstore_size(p.ps, INV, "2026-0002", false) == -1);
	pthread_create(&tw, NULL, size_main, &w);
	pthread_mutex_lock(&w.lock);
	while (!w.started)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	CHECK(unit_wait_asleep(&w.tid, 1));
	fake_service_release(p.e.st.svc);
	pthread_join(tf, NULL);
	pthread_join(tw, NULL);
	CHECK(f.size == (off_t)strlen(pdf_b) && w.size == (off_t)strlen(pdf_b));
	CHECK(pdf_gets(&p, "2026-0002") == 1);
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	pdf_fini(&p);
}

static void test_pdf_disk(void)
{
	struct pdfenv p;
	struct pdfstore *ps2;
	char path[128], buf[256];
	int fd;

	pdf_init(&p, true, 1 << 20);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0001") == (off_t)strlen(pdf_a));
	/* On disk, private, whole, and no temporary file left. */
	snprintf(path, sizeof(path), "%s/2026-0001.pdf", p.dir);
	CHECK(file_is(path, pdf_a, 0600));
	CHECK(count_files(p.dir, ".tmp") == 0);
	CHECK(pdf_figure(p.ps, "pdf_disk_bytes") == (double)strlen(pdf_a));
	CHECK(pdf_figure(p.ps, "pdf_memory_bytes") == 0);

	/* A remount finds it: its size without a call, its bytes from disk
	 * (a disk hit, once per PDF). */
	ps2 = pdf_remount(&p, 1 << 20);
	CHECK(ps2 && pdfstore_size(ps2, INV, "2026-0001", false) == (off_t)strlen(pdf_a));
	CHECK(read_pdf(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(read_pdf(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK(pdf_gets(&p, "2026-0001") == 1);
	CHECK(pdf_figure(ps2, "pdfs_fetched") == 0 && pdf_figure(ps2, "pdf_disk_cache_hits") == 1);
	pdfstore_free(ps2);

	/* A torn file (cut before its %%EOF): removed and fetched again. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0 && write(fd, pdf_a, 30) == 30);
	close(fd);
	ps2 = pdf_remount(&p, 1 << 20);
	CHECK(ps2 && pdfstore_size(ps2, INV, "2026-0001", false) == -1);
	CHECK(access(path, F_OK) != 0);
	CHECK(read_pdf(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(pdf_gets(&p, "2026-0001") == 2);
	CHECK(file_is(path, pdf_a, 0600));
	CHECK(pdf_figure(ps2, "pdfs_fetched") == 1 && pdf_figure(ps2, "pdf_disk_cache_hits") == 0);

	/* Two swapped on disk (the same size): each is read again from the service,
	 * with its digest file moved along too (the digest names its invoice). */
	CHECK(pdfstore_fetch(ps2, INV, "2026-0002") == (off_t)strlen(pdf_b));
	pdfstore_free(ps2);
	for (int with_sums = 0; with_sums < 2; with_sums++) {
		char pa[128], pb[128], tmp[140];
		snprintf(pa, sizeof(pa), "%s/2026-0001%s", p.dir, with_sums ? ".sha256" : ".pdf");
		snprintf(pb, sizeof(pb), "%s/2026-0002%s", p.dir, with_sums ? ".sha256" : ".pdf");
		snprintf(tmp, sizeof(tmp), "%s.swap", pa);
		CHECK(rename(pa, tmp) == 0 && rename(pb, pa) == 0 && rename(tmp, pb) == 0);
	}
	unsigned gets_a = pdf_gets(&p, "2026-0001"), gets_b = pdf_gets(&p, "2026-0002");
	ps2 = pdf_remount(&p, 1 << 20);
	CHECK(ps2 && pdfstore_size(ps2, INV, "2026-0001", false) == (off_t)strlen(pdf_a));
	CHECK(read_pdf_again(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(read_pdf_again(ps2, "2026-0002", buf, sizeof(buf)) == (ssize_t)strlen(pdf_b));
	CHECK_STR(buf, pdf_b);
	CHECK(pdf_gets(&p, "2026-0001") == gets_a + 1 && pdf_gets(&p, "2026-0002") == gets_b + 1);
	CHECK(pdf_figure(ps2, "pdf_disk_cache_hits") == 0);
	/* Checked once: read again, from the disk. */
	CHECK(read_pdf_again(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK(pdf_gets(&p, "2026-0001") == gets_a + 1);
	/* Changed in place after its check (another identity): checked again. */
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "X", 1, 20) == 1);
	close(fd);
	CHECK(read_pdf_again(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK_STR(buf, pdf_a);
	CHECK(pdf_gets(&p, "2026-0001") == gets_a + 2);

	/* Its disk copy removed behind the store's back: EAGAIN, then fetched anew. */
	unlink(path);
	CHECK(pdfstore_read(ps2, INV, "2026-0001", buf, sizeof(buf), 0) == -EAGAIN);
	CHECK(read_pdf(ps2, "2026-0001", buf, sizeof(buf)) == (ssize_t)strlen(pdf_a));
	CHECK(pdf_gets(&p, "2026-0001") == gets_a + 3);
	pdfstore_free(ps2);
	pdf_fini(&p);
}

static void test_pdf_failures(void)
{
	struct pdfenv p;
	char buf[256];

	pdf_init(&p, true, 1 << 20);
	/* Not a PDF: EIO, nothing kept. */
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0098") == -EIO);
	CHECK_STR(last_error(p.e.st.ev),
		  "get the PDF of 2026-0098: the service sent something that is not a PDF");
	/* A PDF without its end: EIO, not kept. */
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0099") == -EIO);
	CHECK(count_files(p.dir, "2026-0099") == 0);
	/* Not asked again within the hold, then asked. */
	clk.now += 0.5;
	CHECK(pdfstore_read(p.ps, INV, "2026-0099", buf, sizeof(buf), 0) == -EIO);
	CHECK(pdf_gets(&p, "2026-0099") == 1);
	clk.now += 0.6;
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0099") == -EIO);
	CHECK(pdf_gets(&p, "2026-0099") == 2);
	/* Its markers around something else: EIO, not kept. */
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0097") == -EIO);
	CHECK(strstr(last_error(p.e.st.ev), "(startxref)") != NULL);
	CHECK(count_files(p.dir, "2026-0097") == 0);
	/* No such invoice: ENOENT. */
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0404") == -ENOENT);
	CHECK(pdf_figure(p.ps, "pdfs_fetched") == 0);
	pdf_fini(&p);
}

static void test_pdf_memory(void)
{
	struct pdfenv p;
	char buf[256];
	off_t size = (off_t)strlen(pdf_a);

	/* No directory: the bytes in memory, at most two and a half PDFs. */
	CHECK(strlen(pdf_b) == strlen(pdf_a) && strlen(pdf_c) == strlen(pdf_a));
	pdf_init(&p, false, size * 5 / 2);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0001") == size);
	clk.now += 1;
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0002") == size);
	CHECK(pdf_figure(p.ps, "pdf_memory_bytes") == 2 * size);
	CHECK(pdf_figure(p.ps, "pdf_disk_bytes") == 0);
	/* Read: 0001 is now the most recently used. */
	clk.now += 1;
	CHECK(read_pdf(p.ps, "2026-0002", buf, sizeof(buf)) == size);
	clk.now += 1;
	CHECK(read_pdf(p.ps, "2026-0001", buf, sizeof(buf)) == size);
	CHECK_STR(buf, pdf_a);
	/* A third: the least recently read goes. */
	clk.now += 1;
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0003") == size);
	CHECK(pdf_figure(p.ps, "pdf_memory_bytes") == 2 * size);
	CHECK(pdfstore_size(p.ps, INV, "2026-0002", false) == -1);
	CHECK(pdfstore_size(p.ps, INV, "2026-0001", false) == size);
	CHECK(pdfstore_size(p.ps, INV, "2026-0003", false) == size);
	CHECK(gets(&p.e, NULL) == 3);
	/* Read again: fetched again. */
	CHECK(read_pdf(p.ps, "2026-0002", buf, sizeof(buf)) == size);
	CHECK_STR(buf, pdf_b);
	CHECK(pdf_gets(&p, "2026-0002") == 2);
	CHECK(pdf_figure(p.ps, "pdfs_fetched") == 4);
	CHECK(pdf_figure(p.ps, "pdf_memory_bytes") == 2 * size);
	pdf_fini(&p);
}

static void set_mtime(const char *dir, const char *name, time_t when)
{
	char path[128];
	struct timespec ts[2] = {{.tv_sec = when}, {.tv_sec = when}};

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	utimensat(AT_FDCWD, path, ts, 0);
}

static void test_pdf_disk_lru(void)
{
	struct pdfenv p;
	off_t size = (off_t)strlen(pdf_a);
	char path[128];

	pdf_init(&p, true, size * 5 / 2);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0001") == size);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0002") == size);
	/* Their last use, set apart: 0002 is the older (the file times may
	 * share a clock tick otherwise). */
	set_mtime(p.dir, "2026-0001.pdf", 1800000000);
	set_mtime(p.dir, "2026-0002.pdf", 1700000000);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0003") == size);
	snprintf(path, sizeof(path), "%s/2026-0002.pdf", p.dir);
	CHECK(access(path, F_OK) != 0);
	snprintf(path, sizeof(path), "%s/2026-0001.pdf", p.dir);
	CHECK(access(path, F_OK) == 0);
	snprintf(path, sizeof(path), "%s/2026-0003.pdf", p.dir);
	CHECK(access(path, F_OK) == 0);
	CHECK(pdf_figure(p.ps, "pdf_disk_bytes") == 2 * size);

	/* A PDF bigger than the bound is still kept while it is the one just written. */
	pdf_fini(&p);
	pdf_init(&p, true, size / 2);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0001") == size);
	snprintf(path, sizeof(path), "%s/2026-0001.pdf", p.dir);
	CHECK(access(path, F_OK) == 0);
	CHECK(pdfstore_fetch(p.ps, INV, "2026-0002") == size);
	CHECK(access(path, F_OK) != 0);
	CHECK(count_files(p.dir, ".pdf") == 1);
	pdf_fini(&p);
}

static void test_pdf_leftovers(void)
{
	char dir[] = "/tmp/test_store.XXXXXX", path[128];
	struct pdfstore *ps = NULL;
	struct pdfstore_config cfg = {.max = 1 << 20, .now = clock_now};
	time_t now = time(NULL);
	int fd;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	/* A dead writer's (two minutes old), a live one's (just now), a PDF. */
	snprintf(path, sizeof(path), "%s/2026-0001.pdf.tmp4242", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	set_mtime(dir, "2026-0001.pdf.tmp4242", now - 120);
	snprintf(path, sizeof(path), "%s/2026-0002.pdf.tmp4343", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	close(fd);
	snprintf(path, sizeof(path), "%s/2026-0003.pdf", dir);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	CHECK(write(fd, pdf_c, strlen(pdf_c)) == (ssize_t)strlen(pdf_c));
	close(fd);
	set_mtime(dir, "2026-0003.pdf", now - 120);

	cfg.dir = dir;
	CHECK(pdfstore_new(&ps, &cfg) == 0);
	CHECK(count_files(dir, "2026-0001") == 0);
	CHECK(count_files(dir, "2026-0002.pdf.tmp4343") == 1);
	CHECK(count_files(dir, "2026-0003.pdf") == 1);
	/* The PDFs found are counted. */
	CHECK(pdf_figure(ps, "pdf_disk_bytes") == (double)strlen(pdf_c));
	pdfstore_free(ps);
	rm_tree(dir);
}

int main(void)
{
	clients = schema_find("clients");
	products = schema_find("products");
	invoices = schema_find("invoices");
	test_ttl();
	test_invalidate();
	test_single_flight();
	test_fail_hold();
	test_stale();
	test_paging();
	test_shapes();
	test_odd_ids();
	test_versions();
	test_partial();
	test_filtered();
	test_held();
	test_changed();
	test_facts();
	test_pdf_shared();
	test_pdf_prefetch();
	test_pdf_archive();
	test_pdf_size_waits();
	test_pdf_disk();
	test_pdf_failures();
	test_pdf_memory();
	test_pdf_disk_lru();
	test_pdf_leftovers();
	return unit_report();
}
