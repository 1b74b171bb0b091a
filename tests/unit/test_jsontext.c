/* Unit tests for src/model/jsontext.c. */
#include "model/jsontext.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

/* jt_message on @body; @want NULL when no message must be found. */
static void check_message(const char *body, size_t outsz, const char *want, int line)
{
	char out[256];
	bool found;

	memset(out, 'Z', sizeof(out));
	found = jt_message(body, strlen(body), out, outsz);
	unit_check(found == (want != NULL), __FILE__, line, body);
	if (found && want)
		unit_check_str(out, want, __FILE__, line, body);
}

/* jt_skip_value over the whole of @text: the rest after it must be @rest
 * (NULL: the scan must fail). */
static void check_skip(const char *text, const char *rest, int line)
{
	const char *end = text + strlen(text);
	const char *p = jt_skip_value(text, end);

	if (!rest) {
		unit_check(p == NULL, __FILE__, line, text);
		return;
	}
	unit_check(p != NULL, __FILE__, line, text);
	if (p)
		unit_check_str(p, rest, __FILE__, line, text);
}

/* Walks a top-level array as jsontext.h shows; returns the element count,
 * -1 when malformed, and the elements joined by '|' in @out. */
static long walk_array(const char *text, char *out, size_t outsz)
{
	const char *p, *end = text + strlen(text);
	long n = 0;

	out[0] = '\0';
	p = jt_ws(text, end);
	if (p == end || *p != '[')
		return -1;
	p = jt_ws(p + 1, end);
	if (p < end && *p == ']')
		return jt_ws(p + 1, end) == end ? 0 : -1;
	for (;;) {
		const char *e = jt_skip_value(p, end);

		if (!e)
			return -1;
		if (n > 0)
			strncat(out, "|", outsz - strlen(out) - 1);
		strncat(out, p,
			(size_t)(e - p) < outsz - strlen(out) - 1 ? (size_t)(e - p)
								  : outsz - strlen(out) - 1);
		n++;
		p = jt_ws(e, end);
		if (p < end && *p == ']')
			return jt_ws(p + 1, end) == end ? n : -1;
		if (p >= end || *p != ',')
			return -1;
		p = jt_ws(p + 1, end);
	}
}

static void check_walk(const char *text, long want_n, const char *want, int line)
{
	char out[256];
	long n = walk_array(text, out, sizeof(out));

	unit_check(n == want_n, __FILE__, line, text);
	if (want && n >= 0)
		unit_check_str(out, want, __FILE__, line, text);
}

static void test_string(void)
{
	const char *s = "\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\u20ac\\ud83d!\" tail";
	char out[64];
	const char *p = jt_string(s, s + strlen(s), out, sizeof(out));

	CHECK(p && !strcmp(p, " tail"));
	CHECK_STR(out, "a\"b\\c/d\n\t\xc3\xa9\xe2\x82\xac?!");
	/* Skipping (no output) finds the same end. */
	CHECK(jt_string(s, s + strlen(s), NULL, 0) == p);

	/* Truncation never leaves half a UTF-8 character. */
	s = "\"ab\\u00e9\"";
	CHECK(jt_string(s, s + strlen(s), out, 4));
	CHECK_STR(out, "ab");
	s = "\"ab\xc3\xa9z\"";
	CHECK(jt_string(s, s + strlen(s), out, 4));
	CHECK_STR(out, "ab");
	CHECK(jt_string(s, s + strlen(s), out, 5));
	CHECK_STR(out, "ab\xc3\xa9");
	s = "\"\xe2\x82\xac\xe2\x82\xac\"";
	CHECK(jt_string(s, s + strlen(s), out, 6));
	CHECK_STR(out, "\xe2\x82\xac");

	/* Malformed: unclosed, bad escape, not a string, the end inside. */
	s = "\"abc";
	CHECK(!jt_string(s, s + strlen(s), out, sizeof(out)));
	s = "\"\\u12g4\"";
	CHECK(!jt_string(s, s + strlen(s), out, sizeof(out)));
	/* Skipping is structure only: cJSON takes that escape, so a skip does. */
	CHECK(jt_string(s, s + strlen(s), NULL, 0) == s + strlen(s));
	s = "\"a\\\"";
	CHECK(!jt_string(s, s + strlen(s), NULL, 0)); /* the quote is escaped: unclosed */
	s = "abc";
	CHECK(!jt_string(s, s + strlen(s), out, sizeof(out)));
	s = "\"abc\"";
	CHECK(!jt_string(s, s + 4, out, sizeof(out))); /* @end before the quote */
	s = "\"ab\\";
	CHECK(!jt_string(s, s + strlen(s), out, sizeof(out)));
}

static void test_message(void)
{
	check_message("{\"message\": \"Klant niet gevonden\"}", 256, "Klant niet gevonden",
		      __LINE__);
	check_message("{\"error\": \"bad\"}", 256, "bad", __LINE__);
	/* "message" wins, whichever comes first. */
	check_message("{\"code\": 5, \"error\": \"ignored\", \"message\": \"kept \\u00e9\"}", 256,
		      "kept \xc3\xa9", __LINE__);
	check_message("{\"message\": \"kept\", \"error\": \"ignored\"}", 256, "kept", __LINE__);
	/* Other values on the way are skipped whole. */
	check_message(" {\"x\": {\"message\": \"inner\"}, \"y\": [1, \"]\", {\"a\": null}], "
		      "\"error\": \"outer\"}",
		      256, "outer", __LINE__);
	check_message("{\"message\": \"truncated to fit\"}", 10, "truncated", __LINE__);
	/* Nothing to find. */
	check_message("", 256, NULL, __LINE__);
	check_message("Rate limit exceeded", 256, NULL, __LINE__);
	check_message("[\"message\", \"x\"]", 256, NULL, __LINE__);
	check_message("{\"message\": 5}", 256, NULL, __LINE__);
	check_message("{\"message\": \"unclosed}", 256, NULL, __LINE__);
	check_message("{\"other\": \"x\"}", 256, NULL, __LINE__);
	check_message("{\"other\" \"x\", \"message\": \"y\"}", 256, NULL, __LINE__);
	/* A key longer than the key buffer is not "message" by its prefix. */
	check_message("{\"message_of_the_day_long\": \"no\"}", 256, NULL, __LINE__);
	{
		char out[8];

		CHECK(!jt_message(NULL, 0, out, sizeof(out)));
		CHECK(!jt_message("{\"message\": \"x\"}", 16, NULL, 0));
	}
}

static void test_skip(void)
{
	check_skip("{\"a\": [1, 2, {\"b\": \"}\"}]} rest", " rest", __LINE__);
	check_skip("  [] ,", " ,", __LINE__);
	check_skip("\"s\\\"\",", ",", __LINE__);
	check_skip("123.5e3]", "]", __LINE__);
	check_skip("true ,", " ,", __LINE__);
	check_skip("null", "", __LINE__);
	check_skip("{\"a\": [1, 2}", NULL, __LINE__); /* unclosed: ']' missing */
	check_skip("{\"a\": \"x", NULL, __LINE__);
	check_skip("", NULL, __LINE__);
	check_skip("   ", NULL, __LINE__);
	check_skip(",1", NULL, __LINE__);
	check_skip("]", NULL, __LINE__);
	check_skip(":", NULL, __LINE__);
	/* The text is bounded by @end, not by a NUL. */
	{
		const char *s = "[1, 2] x";

		CHECK(jt_skip_value(s, s + 5) == NULL);
		CHECK(jt_skip_value(s, s + 6) == s + 6);
	}
}

static void test_walk(void)
{
	check_walk("[]", 0, "", __LINE__);
	check_walk(" [ ] ", 0, "", __LINE__);
	check_walk("[1]", 1, "1", __LINE__);
	check_walk("[{\"a\": \"x,]\"}, [2, 3] , \"s\",true,null, -1.5e2 ]", 6,
		   "{\"a\": \"x,]\"}|[2, 3]|\"s\"|true|null|-1.5e2", __LINE__);
	check_walk("[1,]", -1, NULL, __LINE__);
	check_walk("[,1]", -1, NULL, __LINE__);
	check_walk("[1 2]", -1, NULL, __LINE__);
	check_walk("[1, {\"a\": 1}", -1, NULL, __LINE__);
	check_walk("[1, 2", -1, NULL, __LINE__);
	check_walk("[1] x", -1, NULL, __LINE__);
	check_walk("{\"a\": 1}", -1, NULL, __LINE__);
}

int main(void)
{
	test_string();
	test_message();
	test_skip();
	test_walk();
	return unit_report();
}
