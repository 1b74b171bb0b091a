/* Unit tests for src/names.c. */
#include "base/names.h"
#include "unit.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void check_encode(const char *id, const char *want, int line)
{
	char *got = names_encode(id);

	unit_check_str(got, want, __FILE__, line, id ? id : "(null)");
	free(got);
}

static void check_decode(const char *stem, const char *want, int line)
{
	char *got = names_decode(stem);

	unit_check_str(got, want, __FILE__, line, stem);
	free(got);
}

/* encode(decode(x)) == x for the stem, decode(encode(x)) == x for the id. */
static void check_round_trip(const char *id, int line)
{
	char *stem = names_encode(id);
	char *back = stem ? names_decode(stem) : NULL;
	char *again = back ? names_encode(back) : NULL;

	unit_check_str(back, id, __FILE__, line, "decode(encode(id))");
	unit_check_str(again, stem, __FILE__, line, "encode(decode(stem))");
	free(stem);
	free(back);
	free(again);
}

static void check_record_id(const char *name, const char *suffix, const char *want, int line)
{
	char *got = names_record_id(name, suffix);

	unit_check_str(got, want, __FILE__, line, name);
	free(got);
}

static void check_url(const char *id, const char *want, int line)
{
	char *got = names_url_escape(id);

	unit_check_str(got, want, __FILE__, line, id);
	free(got);
}

static void check_scratch(const char *name, bool want, int line)
{
	char what[256];

	snprintf(what, sizeof(what), "names_is_scratch(\"%s\") == %s", name,
		 want ? "true" : "false");
	unit_check(names_is_scratch(name) == want, __FILE__, line, what);
}

static void test_encode(void)
{
	check_encode("2024/0042", "2024%2F0042", __LINE__);
	check_encode("a%2Fb", "a%252Fb", __LINE__);
	check_encode(".hidden", "%2Ehidden", __LINE__);
	check_encode("..x", "%2E.x", __LINE__);
	check_encode("...", "%2E..", __LINE__);
	check_encode("x/..", "x%2F..", __LINE__);
	check_encode("%", "%25", __LINE__);
	check_encode("100%", "100%25", __LINE__);
	check_encode("Zoë", "Zoë", __LINE__);
	check_encode("Jan de Vries", "Jan de Vries", __LINE__);
	check_encode("a+b", "a+b", __LINE__);
	check_encode("x.y.z", "x.y.z", __LINE__);
	check_encode("~x~", "~x~", __LINE__);
	check_encode("2024-001", "2024-001", __LINE__);
	check_encode("//", "%2F%2F", __LINE__);
	/* Control bytes: upper-case %XX, so no name holds a raw tab, newline or ESC. */
	check_encode("a\tb", "a%09b", __LINE__);
	check_encode("line\nbreak", "line%0Abreak", __LINE__);
	check_encode("\x01\x1f\x7f", "%01%1F%7F", __LINE__);
	check_encode("\x1b[31m", "%1B[31m", __LINE__);
	check_encode("\t.", "%09.", __LINE__);
	/* Bytes from 0x80 on (UTF-8 or not) and a space stay as they are. */
	check_encode("\xe9\xff ", "\xe9\xff ", __LINE__);
	/* No file name: not a name at all, or a URL path's "here" and "up". */
	check_encode("", NULL, __LINE__);
	check_encode(".", NULL, __LINE__);
	check_encode("..", NULL, __LINE__);
	check_encode(NULL, NULL, __LINE__);
}

static void test_decode(void)
{
	check_decode("2024%2F0042", "2024/0042", __LINE__);
	check_decode("a%252Fb", "a%2Fb", __LINE__);
	check_decode("%2Ehidden", ".hidden", __LINE__);
	check_decode("%2E.x", "..x", __LINE__);
	check_decode("a%09b", "a\tb", __LINE__);
	check_decode("%0A", "\n", __LINE__);
	check_decode("%01%1F%7F", "\x01\x1f\x7f", __LINE__);
	check_decode("%2Ex%2F..", ".x/..", __LINE__);
	check_decode("100%25", "100%", __LINE__);
	check_decode("Zoë", "Zoë", __LINE__);
	check_decode("a b+c", "a b+c", __LINE__);
	/* Not canonical: each would come from no identifier, or from one spelt otherwise. */
	check_decode("2024%2f0042", NULL, __LINE__);
	check_decode("%41", NULL, __LINE__);
	check_decode("a%2Eb", NULL, __LINE__);
	check_decode("a%2E", NULL, __LINE__);
	check_decode("abc%", NULL, __LINE__);
	check_decode("abc%2", NULL, __LINE__);
	check_decode("%%", NULL, __LINE__);
	check_decode("%2e", NULL, __LINE__);
	check_decode(".hidden", NULL, __LINE__);
	check_decode("..", NULL, __LINE__);
	check_decode("a/b", NULL, __LINE__);
	/* Never "." or "..": a URL path would climb out of the collection. */
	check_decode("%2E", NULL, __LINE__);
	check_decode("%2E.", NULL, __LINE__);
	check_decode("%2E%2E", NULL, __LINE__);
	/* Control bytes only as upper-case escapes; no escape for what needs none, or NUL. */
	check_decode("a\tb", NULL, __LINE__);
	check_decode("a\x7f", NULL, __LINE__);
	check_decode("a%0a", NULL, __LINE__);
	check_decode("a%00b", NULL, __LINE__);
	check_decode("%20", NULL, __LINE__);
	check_decode("%7E", NULL, __LINE__);
	check_decode("%80", NULL, __LINE__);
	check_decode("%C3%A9", NULL, __LINE__);
	check_decode("%G0", NULL, __LINE__);
	check_decode("%0", NULL, __LINE__);
	check_decode("", NULL, __LINE__);
	check_decode(NULL, NULL, __LINE__);
}

static void test_round_trips(void)
{
	static const char *const ids[] = {
		"2024/0042", "a%2Fb", ".hidden", "..x", "...", ".x.", "%", "100%", "Zoë",
		"with spaces ", " lead", "a+b", "%2E", "%25", "/", "./x", "x/.", "/..", "../",
		"~", "#x#", "4913", "a\tb", "\n", ".\n", "\x01\x7f\x1f", "\xff\xfe", "日本/語",
		"42",
	};
	size_t i;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		check_round_trip(ids[i], __LINE__);
}

static void test_record_id(void)
{
	check_record_id("2024%2F0042.json", ".json", "2024/0042", __LINE__);
	check_record_id("2024%2F0042.pdf", ".pdf", "2024/0042", __LINE__);
	check_record_id("17.json", ".json", "17", __LINE__);
	check_record_id("%2Ehidden.json", ".json", ".hidden", __LINE__);
	check_record_id("17.json.json", ".json", "17.json", __LINE__);
	check_record_id("100%25.json", ".json", "100%", __LINE__);
	check_record_id("Zoë.json", ".json", "Zoë", __LINE__);
	check_record_id("2024%2f0042.json", ".json", NULL, __LINE__);
	check_record_id("%41.json", ".json", NULL, __LINE__);
	check_record_id("a%2E.json", ".json", NULL, __LINE__);
	check_record_id("a%.json", ".json", NULL, __LINE__);
	check_record_id(".hidden.json", ".json", NULL, __LINE__);
	check_record_id(".json", ".json", NULL, __LINE__);
	check_record_id("17.pdf", ".json", NULL, __LINE__);
	check_record_id("17.json~", ".json", NULL, __LINE__);
	check_record_id("17", ".json", NULL, __LINE__);
	check_record_id("17.JSON", ".json", NULL, __LINE__);
	check_record_id("a%09b.json", ".json", "a\tb", __LINE__);
	check_record_id("a\tb.json", ".json", NULL, __LINE__);
	check_record_id("%2E.json", ".json", NULL, __LINE__);
	check_record_id("%2E..json", ".json", NULL, __LINE__);
}

static void test_url_escape(void)
{
	check_url("2024/0042", "2024%2F0042", __LINE__);
	check_url("a b", "a%20b", __LINE__);
	check_url("a+b", "a%2Bb", __LINE__);
	check_url("100%", "100%25", __LINE__);
	check_url("Zoë", "Zo%C3%AB", __LINE__);
	check_url("AZaz09-._~", "AZaz09-._~", __LINE__);
	check_url("?#&=", "%3F%23%26%3D", __LINE__);
	check_url("a\tb\x7f\xff", "a%09b%7F%FF", __LINE__);
	check_url("", "", __LINE__);
}

static void test_scratch(void)
{
	/* Dotfiles and desktop probes. */
	check_scratch(".hidden", true, __LINE__);
	check_scratch(".directory", true, __LINE__);
	check_scratch(".Trash", true, __LINE__);
	check_scratch(".Trash-1000", true, __LINE__);
	check_scratch(".xdg-volume-info", true, __LINE__);
	check_scratch(".goutputstream-AB12CD", true, __LINE__);
	check_scratch(".git", true, __LINE__);
	check_scratch(".17.json.swp", true, __LINE__);
	check_scratch(".#17.json", true, __LINE__);
	check_scratch("desktop.ini", true, __LINE__);
	check_scratch("Desktop.ini", true, __LINE__);
	check_scratch("autorun.inf", true, __LINE__);
	check_scratch("AUTORUN.INF", true, __LINE__);
	check_scratch("Thumbs.db", true, __LINE__);
	check_scratch("folder.jpg", true, __LINE__);
	/* Editor scratch names. */
	check_scratch("17.json~", true, __LINE__);
	check_scratch("~", true, __LINE__);
	check_scratch("#17.json#", true, __LINE__);
	check_scratch("##", true, __LINE__);
	check_scratch("17.json.swp", true, __LINE__);
	check_scratch("17.json.swx", true, __LINE__);
	check_scratch("17.json.swo", true, __LINE__);
	check_scratch("17.json.tmp", true, __LINE__);
	check_scratch("4913", true, __LINE__);
	/* Records and names the caller judges. */
	check_scratch("17.json", false, __LINE__);
	check_scratch("4913.json", false, __LINE__);
	check_scratch("4914", false, __LINE__);
	check_scratch("49130", false, __LINE__);
	check_scratch("%2Ehidden.json", false, __LINE__);
	check_scratch("2024-001.pdf", false, __LINE__);
	check_scratch("#17.json", false, __LINE__);
	check_scratch("#", false, __LINE__);
	check_scratch("~17.json", false, __LINE__);
	check_scratch("a.swp.json", false, __LINE__);
	check_scratch("notes.txt", false, __LINE__);
	check_scratch("xdesktop.ini", false, __LINE__);
	check_scratch("", false, __LINE__);
}

/* names_stem: "cannot name a file" and "too long" are not "out of memory". */
static void test_stem(void)
{
	char id[400], *stem = (char *)1;

	CHECK(names_stem("", NAMES_STEM_MAX, &stem) == -EINVAL && !stem);
	CHECK(names_stem(".", NAMES_STEM_MAX, &stem) == -EINVAL && !stem);
	CHECK(names_stem("..", NAMES_STEM_MAX, &stem) == -EINVAL && !stem);
	CHECK(NAMES_STEM_MAX == 250);
	memset(id, 'x', 250);
	id[250] = '\0';
	CHECK(names_stem(id, NAMES_STEM_MAX, &stem) == 0 && stem && strlen(stem) == 250);
	free(stem);
	id[250] = 'x';
	id[251] = '\0';
	CHECK(names_stem(id, NAMES_STEM_MAX, &stem) == -ENAMETOOLONG && !stem);
	/* The bound is the stem's, escapes counted: 83 '/' are 249 bytes, 84 are 252. */
	memset(id, '/', 84);
	id[84] = '\0';
	CHECK(names_stem(id, NAMES_STEM_MAX, &stem) == -ENAMETOOLONG && !stem);
	id[83] = '\0';
	CHECK(names_stem(id, NAMES_STEM_MAX, &stem) == 0 && stem && strlen(stem) == 249);
	free(stem);
	/* names_encode has no bound. */
	memset(id, 'x', 399);
	id[399] = '\0';
	stem = names_encode(id);
	CHECK(stem && strlen(stem) == 399);
	free(stem);
}

/* No two ids have one name: every id of up to 4 bytes from the bytes the codec
 * treats apart (and the letters of its escapes), and 200,000 random ids of random
 * bytes, each decoded back to itself from a name no other id of the set has. */
static void test_injective(void)
{
	static const char alphabet[] = {'a', '.', '/', '%', '2', 'E', 'F', '5', '\x01', '\x7f',
					'\xc3', '~', ' '};
	enum { A = sizeof(alphabet), MAXLEN = 4 };
	size_t total = 0, bad = 0;
	char id[64];

	/* Exhaustive: A + A^2 + A^3 + A^4 ids; two of them with one stem would decode
	 * to the same id, so decode(encode(x)) == x for all is injectivity. */
	for (size_t len = 1; len <= MAXLEN; len++) {
		size_t count = 1;
		for (size_t k = 0; k < len; k++)
			count *= A;
		for (size_t code = 0; code < count; code++) {
			size_t c = code;
			for (size_t k = 0; k < len; k++, c /= A)
				id[k] = alphabet[c % A];
			id[len] = '\0';
			char *stem = names_encode(id), *back = stem ? names_decode(stem) : NULL;
			bool ok = !strcmp(id, ".") || !strcmp(id, "..")
					  ? !stem
					  : back && !strcmp(back, id) && !strchr(stem, '/') && stem[0] != '.';
			bad += !ok;
			total++;
			free(stem);
			free(back);
		}
	}
	unsigned seed = 42;
	for (int i = 0; i < 200000; i++) {
		size_t len = 1 + (size_t)(rand_r(&seed) % 40);
		for (size_t k = 0; k < len; k++)
			id[k] = (char)(1 + rand_r(&seed) % 255);
		id[len] = '\0';
		char *stem = names_encode(id), *back = stem ? names_decode(stem) : NULL;
		bad += !(!strcmp(id, ".") || !strcmp(id, "..") || (back && !strcmp(back, id)));
		total++;
		free(stem);
		free(back);
	}
	CHECK(bad == 0);
	printf("%zu ids, each its own name\n", total);
}

int main(void)
{
	test_encode();
	test_decode();
	test_round_trips();
	test_record_id();
	test_url_escape();
	test_scratch();
	test_stem();
	test_injective();
	return unit_report();
}
