/* Fuzz target: model/fastwire against the reference path it stands in for.
 *
 * Input: byte 0 picks the collection (schema order); the rest is one wire record.
 * Checks: fastwire_render answers 0, -EAGAIN or -ENOMEM; when it answers 0, cJSON reads
 * the same bytes, and the text, id, date and whole flag are exactly what
 * schema_from_wire + jt_format, schema_record_id, schema_record_date and
 * schema_record_is_whole make of them (store/record.c's record_new).
 */
#include "fuzz.h"
#include "model/fastwire.h"
#include "model/jsontext.h"
#include "model/schema.h"

#include <errno.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct strbuf buf;
	struct fastwire_record fr;
	const struct schema_collection *c;
	const char *p = (const char *)data + 1;
	size_t len;
	int rc;

	if (size < 1)
		return 0;
	c = schema_collection_at(data[0] % schema_ncollections());
	len = size - 1;
	rc = fastwire_render(c, p, len, &buf, &fr);
	FUZZ_CHECK(rc == 0 || rc == -EAGAIN || rc == -ENOMEM);
	if (rc != 0)
		return 0;
	cJSON *w = cJSON_ParseWithLength(p, len);
	FUZZ_CHECK(w != NULL);
	cJSON *py = schema_from_wire(c, w);
	FUZZ_CHECK(py != NULL);
	size_t tlen = 0;
	char *text = jt_format(py, &tlen);
	char *id = schema_record_id(c, w);
	FUZZ_CHECK(text && id);
	FUZZ_CHECK(fr.len == tlen && memcmp(fr.text, text, tlen) == 0);
	FUZZ_CHECK(strcmp(fr.id, id) == 0);
	FUZZ_CHECK(fr.date == schema_record_date(c, py));
	FUZZ_CHECK(fr.whole == schema_record_is_whole(c, w));
	free(text);
	free(id);
	free(fr.id);
	cJSON_Delete(py);
	cJSON_Delete(w);
	return 0;
}
