/* Fuzz target: jt_parse() on the bytes a user saves into a record file, then the
 * wire body a save would send to each collection (writeback.c's path).
 *
 * Input: the file's text, as it is (seeds are plain JSON files).
 */
#include "fuzz.h"
#include "model/jsontext.h"
#include "model/schema.h"

#include <string.h>

/* A text jt_parse() accepts is UTF-8 without NUL and without control bytes
 * other than the three JSON allows between tokens. */
static bool clean_text(const uint8_t *data, size_t size)
{
	size_t i;

	for (i = 0; i < size; i++)
		if (data[i] < 0x20 && data[i] != '\t' && data[i] != '\n' && data[i] != '\r')
			return false;
	return fuzz_utf8_valid(data, size);
}

static void check_to_wire(const struct schema_collection *c, const cJSON *rec, bool create)
{
	char err[256] = "";
	cJSON *wire = schema_to_wire(c, rec, create, err, sizeof(err)), *py, *back;
	size_t len;
	char *text;

	if (!wire) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(cJSON_IsObject(wire));
	/* The body, read back as the service's answer, is a file that parses. */
	py = schema_from_wire(c, wire);
	FUZZ_CHECK(py != NULL);
	text = jt_format(py, &len);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)text, len));
	back = jt_parse(text, len, err, sizeof(err));
	if (!back)
		fprintf(stderr, "jt_parse: %s\n%s", err, text);
	FUZZ_CHECK(back != NULL);
	cJSON_Delete(back);
	free(text);
	cJSON_Delete(py);
	cJSON_Delete(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256] = "";
	cJSON *rec = jt_parse((const char *)data, size, err, sizeof(err)), *back;
	char *text, *again;
	size_t len, i;

	if (!rec) {
		FUZZ_CHECK(err[0] != '\0');
		return 0;
	}
	FUZZ_CHECK(err[0] == '\0');
	FUZZ_CHECK(cJSON_IsObject(rec));
	FUZZ_CHECK(clean_text(data, size));
	/* The text factuurfs would show for it parses to the same object. */
	text = jt_format(rec, &len);
	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)text, len));
	back = jt_parse(text, len, err, sizeof(err));
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(cJSON_Compare(back, rec, true));
	again = jt_format(back, NULL);
	FUZZ_CHECK(again && strcmp(again, text) == 0);
	for (i = 0; i < schema_ncollections(); i++) {
		check_to_wire(schema_collection_at(i), rec, true);
		check_to_wire(schema_collection_at(i), rec, false);
	}
	free(again);
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(rec);
	return 0;
}
