/* Fuzz target: model/jsontext.c, the scanners over bodies from the service.
 *
 * Input: any bytes, as an error body and as a JSON text (copied to a buffer of exactly
 * their length, so that a read past @end is an ASan report).
 */
#include "fuzz.h"
#include "model/jsontext.h"

#include <cjson/cJSON.h>
#include <string.h>

/* Every JSON text cJSON takes whole is one value to jt_skip_value, too. */
static void check_skip(const char *p, const char *end)
{
	const char *e = jt_skip_value(p, end);
	cJSON *j;

	FUZZ_CHECK(!e || (e > p && e <= end));
	/* cJSON wants no NUL inside and reads up to @len. */
	if (memchr(p, '\0', (size_t)(end - p)))
		return;
	/* (Trailing bytes after the value are cJSON's to ignore here.) */
	j = cJSON_ParseWithLength(p, (size_t)(end - p));
	if (j) {
		FUZZ_CHECK(e != NULL);
		cJSON_Delete(j);
	}
}

/* A top-level array walks element by element (jsontext.h) and always ends. */
static void check_walk(const char *p, const char *end)
{
	p = jt_ws(p, end);
	if (p == end || *p != '[')
		return;
	p = jt_ws(p + 1, end);
	if (p < end && *p == ']')
		return;
	for (;;) {
		const char *e = jt_skip_value(p, end);

		if (!e)
			return;
		FUZZ_CHECK(e > p && e <= end);
		p = jt_ws(e, end);
		if (p >= end || *p != ',')
			return;
		p = jt_ws(p + 1, end);
	}
}

/* The message fits its buffer, NUL-terminated, for any size of buffer. */
static void check_message(const char *p, size_t n)
{
	char out[64];

	for (size_t sz = 1; sz <= sizeof(out); sz *= 4) {
		memset(out, 'Z', sizeof(out));
		if (jt_message(p, n, out, sz))
			FUZZ_CHECK(memchr(out, '\0', sz) != NULL);
		for (size_t i = sz; i < sizeof(out); i++)
			FUZZ_CHECK(out[i] == 'Z');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf = malloc(size ? size : 1);

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	check_skip(buf, buf + size);
	check_walk(buf, buf + size);
	check_message(buf, size);
	free(buf);
	return 0;
}
