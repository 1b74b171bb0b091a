/* store/times: the file-time rule, the service's change time read from a record's
 * text (model/schema.c), and what is kept across opens of one directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/schema.h"
#include "store/times.h"
#include "unit.h"

#define NS 1000000000LL

static void test_rule(void)
{
	long long now = 2000 * NS, seen = 1500 * NS;
	/* Nothing kept: the service's time when it is earlier than the sighting, else
	 * the sighting; never past now. */
	CHECK(times_rule(NULL, 0, seen, now) == seen);
	CHECK(times_rule(NULL, 1000 * NS, seen, now) == 1000 * NS);
	CHECK(times_rule(NULL, 1800 * NS, seen, now) == seen);
	CHECK(times_rule(NULL, 0, 3000 * NS, now) == now);
	/* A new content after a kept time: the service's when it is later... */
	struct times_kept k = {.hash = 1, .mtime = 1200 * NS};
	CHECK(times_rule(&k, 1300 * NS, seen, now) == 1300 * NS);
	/* ...else (not dated, or dated no later) the sighting, or just after the kept. */
	CHECK(times_rule(&k, 1100 * NS, seen, now) == seen);
	CHECK(times_rule(&k, 0, seen, now) == seen);
	CHECK(times_rule(&k, 0, 1100 * NS, now) == 1200 * NS + 1);
	/* Not before a save of ours. */
	k.saved = 1700 * NS;
	CHECK(times_rule(&k, 1300 * NS, seen, now) == 1700 * NS);
	CHECK(times_rule(&k, 0, 1900 * NS, now) == 1900 * NS);
}

static void test_changed(void)
{
	const struct schema_collection *clients = schema_find("clients");
	const struct schema_collection *invoices = schema_find("invoices");
	const struct schema_collection *products = schema_find("products");
	const char *c = "{\"clientnr\": 1, \"timestamp\": \"2025-03-04\", \"city\": \"Goes\"}";
	/* 2025-03-04 is 1741046400 at 00:00 UTC: the day ends a nanosecond before the next. */
	CHECK(schema_record_changed(clients, c, strlen(c)) == 1741132800LL * NS - 1);
	const char *none = "{\"clientnr\": 1, \"timestamp\": null}";
	CHECK(schema_record_changed(clients, none, strlen(none)) == 0);
	const char *i = "{\"invoicenr\": \"1\", \"history\": [{\"date\": \"2025-03-04\", \"time\": "
			"\"10:56\", \"description\": \"a\"}, {\"date\": \"2025-03-05\", \"time\": "
			"\"09:00\", \"description\": \"b\"}, {\"date\": \"2025-03-01\", \"time\": "
			"\"23:00\", \"description\": \"c\"}], \"sent\": \"2025-03-04\"}";
	CHECK(schema_record_changed(invoices, i, strlen(i)) ==
	      (1741132800LL + 9 * 3600 + 60) * NS - 1);
	const char *bare = "{\"invoicenr\": \"1\", \"history\": []}";
	CHECK(schema_record_changed(invoices, bare, strlen(bare)) == 0);
	const char *p = "{\"id\": 1, \"timestamp\": \"2025-03-04\"}";
	CHECK(schema_record_changed(products, p, strlen(p)) == 0);
	/* A text cut short keeps what was read before the cut. */
	CHECK(schema_record_changed(clients, c, 30) == 0);
	CHECK(schema_record_changed(clients, "junk", 4) == 0);
}

static void test_kept(void)
{
	char dir[] = "/tmp/test_times.XXXXXX";
	const struct schema_collection *products = schema_find("products");
	struct times *t = NULL;
	CHECK(mkdtemp(dir) != NULL);
	CHECK(times_open(&t, dir) == 0);
	const char *a = "{\"id\": 1, \"name\": \"a\"}", *b = "{\"id\": 1, \"name\": \"b\"}";
	struct timespec t1 = times_of(t, products, "1", a, strlen(a), 1000);
	CHECK(t1.tv_sec == 1000 && t1.tv_nsec == NS - 1);
	/* The same content later: the same time. */
	struct timespec t2 = times_of(t, products, "1", a, strlen(a), 5000);
	CHECK(t2.tv_sec == t1.tv_sec && t2.tv_nsec == t1.tv_nsec);
	times_free(t);
	/* Another open of the directory: still the same; a new content moves on. */
	CHECK(times_open(&t, dir) == 0);
	t2 = times_of(t, products, "1", a, strlen(a), 7000);
	CHECK(t2.tv_sec == 1000);
	struct timespec t3 = times_of(t, products, "1", b, strlen(b), 7000);
	CHECK(t3.tv_sec == 7000);
	times_free(t);
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK(system(cmd) == 0);
}

int main(void)
{
	test_rule();
	test_changed();
	test_kept();
	return unit_report();
}
