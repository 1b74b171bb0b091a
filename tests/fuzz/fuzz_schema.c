/* Fuzz target: schema.c's wire <-> pythonic conversion, as store/record.c and writeback.c
 * use it.
 *
 * Input: the first byte picks a collection, the rest is a body from the service (a
 * listing, a GET-one answer or a bare record).  Every record in it goes the way a
 * listed record goes: its id and file name, the pythonic copy and its file text, the
 * text read back as a user's save, the file time, and the wire body a save would send.
 */
#include "fuzz.h"
#include "base/names.h"
#include "model/jsontext.h"
#include "model/schema.h"

#include <string.h>

/* The file text of @py, which must be one a user can save back unchanged. */
static char *checked_text(const cJSON *py, size_t *len)
{
	char err[256] = "";
	char *text = jt_format(py, len), *again;
	cJSON *back;

	FUZZ_CHECK(text != NULL);
	FUZZ_CHECK(*len == strlen(text));
	FUZZ_CHECK(fuzz_utf8_valid((const unsigned char *)text, *len));
	back = jt_parse(text, *len, err, sizeof(err));
	if (!back)
		fprintf(stderr, "jt_parse: %s\n%s", err, text);
	FUZZ_CHECK(back != NULL);
	FUZZ_CHECK(cJSON_Compare(back, py, true));
	/* Same keys in the same order: a file read and written back is the same file. */
	again = jt_format(back, NULL);
	FUZZ_CHECK(again && strcmp(again, text) == 0);
	free(again);
	cJSON_Delete(back);
	return text;
}

/* A save of @py as POST (@create) or PUT. */
static void check_to_wire(const struct schema_collection *c, const cJSON *py, bool create)
{
	char err[256] = "";
	cJSON *wire = schema_to_wire(c, py, create, err, sizeof(err)), *py2;
	size_t i, len;
	char *text;

	if (!wire) {
		FUZZ_CHECK(err[0] != '\0');
		return;
	}
	FUZZ_CHECK(cJSON_IsObject(wire));
	/* What the service computes is never sent, nor create-only fields on an edit. */
	for (i = 0; i < c->nfields; i++) {
		const struct schema_field *f = &c->fields[i];
		bool never =
		    (f->flags & SCHEMA_F_READONLY) || (!create && (f->flags & SCHEMA_F_CREATE));

		FUZZ_CHECK(!never || !cJSON_GetObjectItemCaseSensitive(wire, f->name));
	}
	/* The body, read as the service's answer, is again a file a user can save. */
	py2 = schema_from_wire(c, wire);
	FUZZ_CHECK(py2 != NULL);
	text = checked_text(py2, &len);
	free(text);
	cJSON_Delete(py2);
	cJSON_Delete(wire);
}

static void check_record(const struct schema_collection *c, const cJSON *wire)
{
	char *id, *stem, *back, *text;
	cJSON *py;
	time_t t;
	size_t len;

	if (!cJSON_IsObject(wire))
		return;
	(void)schema_record_is_whole(c, wire);
	id = schema_record_id(c, wire);
	if (id) {
		FUZZ_CHECK(*id != '\0');
		/* The file name maps back to the record. */
		stem = names_encode(id);
		if (stem) {
			back = names_decode(stem);
			FUZZ_CHECK(back && strcmp(back, id) == 0);
			free(back);
		} else {
			FUZZ_CHECK(strcmp(id, ".") == 0 || strcmp(id, "..") == 0);
		}
		free(stem);
		free(id);
	}
	py = schema_from_wire(c, wire);
	FUZZ_CHECK(cJSON_IsObject(py));
	text = checked_text(py, &len);
	/* A date's noon UTC, or 0. */
	t = schema_record_date(c, py);
	FUZZ_CHECK(t == 0 || ((t % 86400) + 86400) % 86400 == 43200);
	check_to_wire(c, py, true);
	check_to_wire(c, py, false);
	free(text);
	cJSON_Delete(py);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct schema_collection *c;
	const cJSON *one, *item;
	cJSON *body, *items;

	if (size < 1)
		return 0;
	c = schema_collection_at(data[0] % schema_ncollections());
	FUZZ_CHECK(c != NULL);
	body = cJSON_ParseWithLength((const char *)data + 1, size - 1);
	if (!body)
		return 0;
	items = schema_list_items(body);
	if (items) {
		FUZZ_CHECK(cJSON_IsArray(items));
		cJSON_ArrayForEach(item, items)
		{
			check_record(c, item);
		}
	}
	one = schema_unwrap_one(c, body);
	if (one) {
		FUZZ_CHECK(cJSON_IsObject(one));
		check_record(c, one);
	}
	cJSON_Delete(items);
	cJSON_Delete(body);
	return 0;
}
