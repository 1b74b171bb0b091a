/* Unit tests for src/model/fastwire.c: wherever the fast path answers, its text, id,
 * date and whole flag are the reference path's (cJSON + schema_from_wire + jt_format,
 * as store/record.c's record_new builds a record); the shapes it leaves alone answer
 * -EAGAIN.  Hand-made oddities first, then records made at random from the tables. */
#include "model/fastwire.h"
#include "model/jsontext.h"
#include "model/schema.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct schema_collection *clients, *products, *invoices;
static struct strbuf buf;
static unsigned fast_taken, fast_left;

/* The reference path on @wire; false when it refuses the text (not JSON). */
static bool reference(const struct schema_collection *c, const char *wire, char **text,
		      char **id, time_t *date, bool *whole)
{
	cJSON *w = cJSON_Parse(wire), *py = NULL;
	size_t len;

	*text = *id = NULL;
	if (!w)
		return false;
	py = schema_from_wire(c, w);
	*text = py ? jt_format(py, &len) : NULL;
	*id = schema_record_id(c, w);
	*date = py ? schema_record_date(c, py) : 0;
	*whole = schema_record_is_whole(c, w);
	cJSON_Delete(py);
	cJSON_Delete(w);
	return *text != NULL;
}

/* Runs both paths on @wire: when the fast one answers, both must agree.  @want: 1 the
 * fast path must answer, 0 it must not, -1 either. */
static void same(const struct schema_collection *c, const char *wire, int want, int line)
{
	struct fastwire_record fr;
	char *text = NULL, *id = NULL;
	time_t date = 0;
	bool whole = false;
	int rc = fastwire_render(c, wire, strlen(wire), &buf, &fr);
	bool ok = reference(c, wire, &text, &id, &date, &whole);

	if (want >= 0)
		unit_check((rc == 0) == (want == 1), __FILE__, line, wire);
	if (rc == 0) {
		fast_taken++;
		unit_check(ok && id, __FILE__, line, "the reference path reads it too");
		if (ok && id) {
			unit_check_str(fr.text, text, __FILE__, line, wire);
			unit_check(fr.len == strlen(text), __FILE__, line, "length");
			unit_check_str(fr.id, id, __FILE__, line, "id");
			unit_check(fr.date == date, __FILE__, line, "date");
			unit_check(fr.whole == whole, __FILE__, line, "whole");
		}
		free(fr.id);
	} else {
		fast_left++;
		unit_check(rc == -EAGAIN, __FILE__, line, "refused with -EAGAIN");
	}
	free(text);
	free(id);
}

#define SAME(c, w) same((c), (w), 1, __LINE__)
#define LEFT(c, w) same((c), (w), 0, __LINE__)
#define EITHER(c, w) same((c), (w), -1, __LINE__)

static void test_records(void)
{
	/* As the fake (and PHP's json_encode) writes them: "\/" and \u escapes. */
	SAME(invoices,
	     "{\"id\":\"4\",\"invoicenr\":\"2023\\/0001\",\"clientnr\":\"78\","
	     "\"reference\":{\"line1\":\"Project Q1\",\"line2\":\"\",\"line3\":\"\"},"
	     "\"discount\":\"0\",\"tax\":\"14.59\",\"totalintax\":\"176.70\",\"company\":\"Caf\\u00e9\","
	     "\"contact\":\"Ma\\u00eblle \\\"M\\\" \\\\ J\\n\",\"date\":\"2023-01-01\",\"sent\":\"2023-01-01\","
	     "\"paiddate\":\"\",\"open\":\"0.00\",\"lines\":{\"line1\":{\"amount\":4,\"description\":\"Boek\","
	     "\"tax_rate\":9,\"price\":40.54,\"linetotal\":162.16},\"line2\":{\"amount\":7.5,\"price\":-93.10}},"
	     "\"taxes\":{\"tax1\":{\"rate\":9,\"sum\":14.59}},\"history\":[],\"payment_url\":\"https:\\/\\/x.nl\\/b\"}");
	/* Ids: a number, a string with an escape, non-ASCII. */
	SAME(clients, "{\"clientnr\":42,\"company\":\"A\"}");
	SAME(clients, "{\"clientnr\":\"42\"}");
	LEFT(clients, "{\"clientnr\":\"0042\"}");
	SAME(invoices, "{\"invoicenr\":\"2024-0655-\\u00e9\",\"date\":\"2024-03-09\"}");
	SAME(invoices, "{\"invoicenr\":\"F\\u00fcr\"}");
	LEFT(invoices, "{\"invoicenr\":\"\"}");
	LEFT(invoices, "{\"date\":\"2024-01-01\"}");
	/* Dated by sent, or by nothing: the fast path; dated by its history (never sent):
	 * the reference path, which reads the events. */
	SAME(invoices, "{\"invoicenr\":\"1\",\"sent\":\"2024-03-09\",\"history\":{\"item1\":"
		       "{\"date\":\"2024-01-01\"}}}");
	SAME(invoices, "{\"invoicenr\":\"1\",\"sent\":\"\",\"history\":[]}");
	SAME(invoices, "{\"invoicenr\":\"1\",\"sent\":\"\",\"history\":{ }}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"sent\":\"\",\"history\":{\"item1\":"
		       "{\"date\":\"2024-01-01\"}}}");
	/* Whitespace anywhere JSON allows it. */
	SAME(clients, " {\n  \"clientnr\" : \"7\" ,\n \"company\":\t\"B\"\r\n}\n");
	/* Empty objects and PHP's [] for one. */
	SAME(invoices, "{\"invoicenr\":\"1\",\"reference\":[],\"lines\":{},\"taxes\":[]}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"reference\":[\"a\"]}");
	/* Keyed lists: in order (also bare numbers), out of order, numbers past nine digits. */
	SAME(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"line1\":{\"amount\":1},\"line2\":{\"amount\":2},"
		       "\"line10\":{\"amount\":3}}}");
	SAME(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"0\":{\"amount\":1},\"1\":\"x\"}}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"line2\":{\"amount\":2},\"line1\":{\"amount\":1}}}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"line1\":{},\"line01\":{}}}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"lineX\":{}}}");
	LEFT(invoices, "{\"invoicenr\":\"1\",\"lines\":{\"line1234567890\":{}}}");
	SAME(invoices, "{\"invoicenr\":\"1\",\"lines\":[{\"amount\":1},7,\"s\",null,true]}");
	/* Unknown, repeated and alias keys: the reference path sorts and dedups them. */
	LEFT(clients, "{\"clientnr\":\"1\",\"zzz\":1}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"a\",\"company\":\"b\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"c\\u006fmpany\":\"a\"}");
	/* Not JSON: refused by both. */
	LEFT(clients, "{\"clientnr\":\"1\",}");
	LEFT(clients, "{\"clientnr\":\"1\"");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"\\x\"}");
	LEFT(clients, "[1]");
}

static void test_strings(void)
{
	/* Surrogate pairs decode; halves and NUL take the reference path. */
	SAME(clients, "{\"clientnr\":\"1\",\"company\":\"\\ud83d\\ude00 \\u20ac\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"\\ud83d x\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"\\ude00\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"a\\u0000b\"}");
	/* Control characters: escaped as Python writes them. */
	SAME(clients, "{\"clientnr\":\"1\",\"company\":\"\\u0001\\u001f\\u0008\\f\\b\\t\\r\\u000a\\u0022\\u005c\\u007f\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"raw\ttab\"}");
	/* Raw UTF-8 passes; bytes that are not UTF-8 are repaired by the reference path. */
	SAME(clients, "{\"clientnr\":\"1\",\"company\":\"Caf\xc3\xa9 \xe2\x82\xac\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"Caf\xe9\"}");
	LEFT(clients, "{\"clientnr\":\"1\",\"company\":\"\xc0\xaf\"}");
}

static void test_numbers(void)
{
	static const char *const ok[] = {
	    "0", "1", "-1", "14.59", "176.70", "0.00", "-5.50", "100", "0.5", "0.001",
	    "0.0001", "123456789012345", "12345678901.2345", "999999999999999",
	};
	static const char *const odd[] = {
	    "007", "1e3", "10,92", "+5", "-0", "-0.0", "0.00001", "1234567890123456",
	    "12345678901234567", "0.1234567890123456", "1.", ".5", "abc", "1 2", " 1",
	};
	char w[256];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		/* As a string in a FLOAT and an INT field, and bare in both. */
		snprintf(w, sizeof(w), "{\"invoicenr\":\"1\",\"tax\":\"%s\",\"discount\":%s}", ok[i],
			 ok[i]);
		SAME(invoices, w);
		snprintf(w, sizeof(w), "{\"clientnr\":\"1\",\"paymentperiod\":\"%s\"}", ok[i]);
		EITHER(clients, w);
		snprintf(w, sizeof(w), "{\"clientnr\":%s}", ok[i]);
		EITHER(clients, w);
	}
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		snprintf(w, sizeof(w), "{\"invoicenr\":\"1\",\"tax\":\"%s\"}", odd[i]);
		EITHER(invoices, w);
		snprintf(w, sizeof(w), "{\"clientnr\":\"1\",\"paymentperiod\":\"%s\"}", odd[i]);
		EITHER(clients, w);
		snprintf(w, sizeof(w), "{\"invoicenr\":\"1\",\"tax\":%s}", odd[i]);
		EITHER(invoices, w);
		snprintf(w, sizeof(w), "{\"clientnr\":\"%s\"}", odd[i]);
		EITHER(clients, w);
	}
}

/* ---- records made at random from the tables ---------------------------------------- */

static unsigned long long rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (unsigned)(rng % n);
}

static void put(char **p, const char *s)
{
	size_t n = strlen(s);

	memcpy(*p, s, n);
	*p += n;
	**p = '\0';
}

static const char *const scalars[] = {
    "\"\"", "\"0\"", "\"1\"", "\"42\"", "\"14.59\"", "\"0.00\"", "\"-5.50\"", "\"10,92\"",
    "\"1e3\"", "\"007\"", "\"true\"", "\"no\"", "\"maybe\"", "\"2024-02-29\"", "\"2023-02-29\"",
    "\"0000-00-00\"", "\"2024-01-01 10:00:00\"", "\"Caf\\u00e9 \\/ x\"", "\"a\\\"b\"",
    "\"\\u00e9\"", "\"tab\\there\"", "0", "1", "2", "-0", "1.50", "7.25", "1e2", "0.00001",
    "true", "false", "null", "[]", "{}", "[1]", "{\"a\":1}", "\"\\ud83d\\ude00\"",
    "\"line\"", "12345678901234567",
};

/* The values records mostly hold. */
static const char *const common[] = {
    "\"\"", "\"0\"", "\"1\"", "\"42\"", "\"14.59\"", "\"0.00\"", "\"-5.50\"",
    "\"2024-02-29\"", "\"Caf\\u00e9 \\/ x\"", "\"a\\\"b\"", "0", "1", "1.50", "7.25",
    "true", "false", "null", "\"\\u20ac 13.291,95\"",
};

static const char *any_scalar(void)
{
	if (rnd(16))
		return common[rnd(sizeof(common) / sizeof(common[0]))];
	return scalars[rnd(sizeof(scalars) / sizeof(scalars[0]))];
}

static void gen_object(char **p, const struct schema_field *f, size_t n, int depth);

/* The id field test_random adds itself (else it would come twice). */
static const char *skip_field;

static void gen_value(char **p, const struct schema_field *f, int depth)
{
	if (depth < 3 && f->type == SCHEMA_OBJECT && rnd(3)) {
		gen_object(p, f->sub, f->nsub, depth + 1);
		return;
	}
	if (depth < 3 && f->type == SCHEMA_KEYED_LIST && rnd(3)) {
		unsigned k = rnd(4), shuffle = rnd(8) == 0, asarray = rnd(5) == 0;
		char key[32];

		put(p, asarray ? "[" : "{");
		for (unsigned i = 0; i < k; i++) {
			if (i)
				put(p, ",");
			if (!asarray) {
				snprintf(key, sizeof(key), "\"%s%u\":", rnd(6) ? (f->key_prefix ? f->key_prefix : "") : "",
					 shuffle ? k - i : i + 1);
				put(p, key);
			}
			if (rnd(6))
				gen_object(p, f->sub, f->nsub, depth + 1);
			else
				put(p, any_scalar());
		}
		put(p, asarray ? "]" : "}");
		return;
	}
	put(p, any_scalar());
}

static void gen_object(char **p, const struct schema_field *f, size_t n, int depth)
{
	bool first = true;

	put(p, "{");
	for (size_t i = 0; i < n; i++) {
		/* Mostly the table's order, sometimes not; now and then a stranger. */
		size_t j = rnd(40) ? i : rnd((unsigned)n);

		if (rnd(5) == 0 || (depth == 0 && !strcmp(f[j].name, skip_field)))
			continue;
		if (!first)
			put(p, ",");
		first = false;
		put(p, "\"");
		put(p, rnd(400) ? f[j].name : "unknown");
		put(p, "\":");
		gen_value(p, &f[j], depth);
	}
	put(p, "}");
}

/* Random records per run.  A ThreadSanitizer build runs this one-threaded test
 * some ten times slower and finds no race in it: a fifth as many there, so that on
 * a busy machine it stays inside meson's timeout. */
#if defined(__SANITIZE_THREAD__)
#define RANDOM_RECORDS 4000
#else
#define RANDOM_RECORDS 20000
#endif

static void test_random(void)
{
	static char w[1 << 16];
	const struct schema_collection *cs[] = {clients, products, invoices};
	unsigned taken0 = fast_taken;

	for (int i = 0; i < RANDOM_RECORDS; i++) {
		const struct schema_collection *c = cs[rnd(3)];
		char *p = w;
		char id[48];

		skip_field = c->id_field;
		gen_object(&p, c->fields, c->nfields, 0);
		/* An id, so that most records are records at all. */
		if (rnd(8) && p - w > 2) {
			p[-1] = '\0';
			snprintf(id, sizeof(id), "%s\"%s\":\"%u\"}", p - w > 2 ? "," : "", c->id_field,
				 rnd(100000));
			strcat(w, id);
		}
		EITHER(c, w);
	}
	/* Random records are mostly odd: still, the fast path must take a fair share. */
	CHECK(fast_taken - taken0 > RANDOM_RECORDS / 10);
	printf("random records: %u of %d took the fast path\n", fast_taken - taken0, RANDOM_RECORDS);
}

/* fastwire_nul_ids on @len bytes of @text: the cut ids joined with ',' (a static
 * buffer), or "-" when it fails. */
static const char *nul_ids(const struct schema_collection *c, const char *text, size_t len,
			   bool record)
{
	static char out[256];
	char **cut = NULL;
	long n = fastwire_nul_ids(c, text, len, record, &cut);

	if (n < 0)
		return "-";
	out[0] = '\0';
	for (long i = 0; i < n; i++) {
		snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s", i ? "," : "", cut[i]);
		free(cut[i]);
	}
	free(cut);
	return out;
}

#define NUL_IDS(c, lit, record, want) CHECK_STR(nul_ids((c), (lit), sizeof(lit) - 1, (record)), (want))

/* What cJSON would read of an id with a NUL in it (a C string ends there). */
static void test_nul_ids(void)
{
	NUL_IDS(products, "{\"id\":\"7\"}", true, "");
	NUL_IDS(products, "{\"id\":\"7\\u0000evil\",\"code\":\"x\"}", true, "7");
	NUL_IDS(products, "{\"code\":\"x\\u0000\",\"id\":\"7\"}", true, ""); /* not an id */
	NUL_IDS(products, "{\"i\\u0064\":\"\\u00e9\\u0000\"}", true, "\xc3\xa9"); /* "id", "é\0" */
	NUL_IDS(products, "{\"id\":\"a\\\\u0000\"}", true, ""); /* an escaped backslash */
	NUL_IDS(products, "{\"id\":\"7\0x\"}", true, "7");      /* a raw NUL byte */
	NUL_IDS(invoices, "{\"invoicenr\":\"2026\\u0000\",\"lines\":[{\"id\":\"\\u0000\"}]}",
		true, "2026"); /* a line's id is not the record's */
	/* A body: the records in a wrapper, or numbered. */
	NUL_IDS(products, "{\"products\":[{\"id\":\"1\\u0000\"},{\"id\":\"2\"},{\"id\":\"3\\u0000x\"}]}",
		false, "1,3");
	NUL_IDS(products, "{\"0\":{\"id\":\"1\\u0000\"}}", false, "1");
	NUL_IDS(products, "{\"product\":{\"id\":\"\\u0000\"}}", false, "");
	NUL_IDS(products, "[{\"id\":\"1\\u0000", false, ""); /* not JSON: the parse refuses it */
}

int main(void)
{
	clients = schema_find("clients");
	products = schema_find("products");
	invoices = schema_find("invoices");
	if (!clients || !products || !invoices) {
		printf("missing collections\n0 passed, 1 failed\n");
		return 1;
	}
	test_records();
	test_strings();
	test_numbers();
	test_random();
	test_nul_ids();
	free(buf.p);
	return unit_report();
}
