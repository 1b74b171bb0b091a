/* Fuzz target: names.c, the file-name codec.
 *
 * Input: any bytes, read up to the first NUL as an identifier from the service, as a
 * file name a user or a tool made up, and as a stem.
 */
#include "fuzz.h"
#include "base/names.h"

#include <string.h>

static bool unusable(const char *id)
{
	return !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0;
}

static int hex_digit(char c)
{
	static const char hex[] = "0123456789ABCDEF";
	const char *p = c ? strchr(hex, c) : NULL;

	return p ? (int)(p - hex) : -1;
}

/* An identifier's file name: reversible, and a record's name, never a scratch one. */
static void check_id(const char *id)
{
	char *stem = names_encode(id), *back, *name;
	const char *s;
	size_t n;

	if (unusable(id)) {
		FUZZ_CHECK(stem == NULL);
		return;
	}
	FUZZ_CHECK(stem != NULL);
	FUZZ_CHECK(stem[0] != '.' && !unusable(stem));
	for (s = stem; *s; s++)
		FUZZ_CHECK(*s != '/' && (unsigned char)*s >= 0x20 && *s != 0x7f);
	back = names_decode(stem);
	FUZZ_CHECK(back && strcmp(back, id) == 0);
	free(back);
	n = strlen(stem);
	name = malloc(n + 6);
	FUZZ_CHECK(name != NULL);
	memcpy(name, stem, n);
	memcpy(name + n, ".json", 6);
	FUZZ_CHECK(!names_is_scratch(name));
	back = names_record_id(name, ".json");
	FUZZ_CHECK(back && strcmp(back, id) == 0);
	free(back);
	free(name);
	free(stem);
}

/* A stem decodes to at most one identifier, whose encoding is the stem itself. */
static void check_stem(const char *stem)
{
	char *id = names_decode(stem), *again;

	if (!id)
		return;
	FUZZ_CHECK(!unusable(id));
	again = names_encode(id);
	FUZZ_CHECK(again && strcmp(again, stem) == 0);
	free(again);
	free(id);
}

/* A file name is a record of this suffix exactly when its stem decodes. */
static void check_name(const char *name)
{
	char *id = names_record_id(name, ".json"), *stem;
	size_t n = strlen(name);

	(void)names_is_scratch(name);
	if (!id)
		return;
	FUZZ_CHECK(n > 5 && strcmp(name + n - 5, ".json") == 0);
	stem = names_encode(id);
	FUZZ_CHECK(stem && strlen(stem) == n - 5 && strncmp(stem, name, n - 5) == 0);
	free(stem);
	free(id);
}

/* Only unreserved bytes and upper-case %XX, which decode back to @id. */
static void check_url(const char *id)
{
	char *url = names_url_escape(id), *dec, *o;
	const char *s;
	int hi, lo;

	FUZZ_CHECK(url != NULL);
	dec = malloc(strlen(url) + 1);
	FUZZ_CHECK(dec != NULL);
	o = dec;
	for (s = url; *s; s++) {
		if (*s == '%') {
			hi = hex_digit(s[1]);
			lo = hi < 0 ? -1 : hex_digit(s[2]);
			FUZZ_CHECK(lo >= 0);
			*o++ = (char)(hi << 4 | lo);
			s += 2;
			continue;
		}
		FUZZ_CHECK((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
			   (*s >= '0' && *s <= '9') || strchr("-._~", *s));
		*o++ = *s;
	}
	*o = '\0';
	FUZZ_CHECK(strcmp(dec, id) == 0);
	free(dec);
	free(url);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s != NULL);
	memcpy(s, data, size);
	s[size] = '\0';
	check_id(s);
	check_stem(s);
	check_name(s);
	check_url(s);
	free(s);
	return 0;
}
