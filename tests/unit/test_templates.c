/* Unit tests of templates.c and of the dictionary columns it reads (.example, .values):
 * every example is a value of its field's type, and every template converts. */
#include <stdlib.h>
#include <string.h>

#include "model/jsontext.h"
#include "model/schema.h"
#include "model/templates.h"
#include "unit.h"

static bool has_text(const char *s, const char *part)
{
	return s && strstr(s, part);
}

/* Whether @v is a value of @f's type as a file holds it (what schema_to_wire takes
 * without a word, null aside). */
static bool of_type(const struct schema_field *f, const cJSON *v)
{
	switch (f->type) {
	case SCHEMA_STRING:
		return cJSON_IsString(v);
	case SCHEMA_INT:
		return cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble;
	case SCHEMA_FLOAT:
		/* A number, or text where the field takes that too ("full"). */
		return cJSON_IsNumber(v) || ((f->flags & SCHEMA_F_OR_TEXT) && cJSON_IsString(v));
	case SCHEMA_BOOL:
		return cJSON_IsBool(v);
	case SCHEMA_DATE:
		return cJSON_IsNull(v) || (cJSON_IsString(v) && strlen(v->valuestring) == 10);
	case SCHEMA_OBJECT:
		return cJSON_IsObject(v);
	case SCHEMA_KEYED_LIST:
		return cJSON_IsArray(v);
	}
	return false;
}

static void check_examples(const struct schema_field *fields, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct schema_field *f = &fields[i];
		if (f->sub)
			check_examples(f->sub, f->nsub);
		if (f->example) {
			cJSON *v = cJSON_Parse(f->example);
			if (!CHECK(v && of_type(f, v)))
				printf("  field %s: example %s\n", f->name, f->example);
			/* An example among the allowed values, if there are any. */
			bool listed = !f->values;
			for (size_t k = 0; f->values && f->values[k]; k++)
				listed |=
				    cJSON_IsString(v) && !strcmp(v->valuestring, f->values[k]);
			if (!CHECK(listed))
				printf("  field %s: example %s is not an allowed value\n", f->name,
				       f->example);
			cJSON_Delete(v);
		}
		/* A read-only field never reaches a template: an example would be unread. */
		CHECK(!(f->example && (f->flags & SCHEMA_F_READONLY)));
		CHECK(!(f->values && !f->values[0]));
	}
}

static void test_examples(void)
{
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		check_examples(c->fields, c->nfields);
	}
}

static void test_which(void)
{
	static const char *const want[] = {"clients",	 "products",   "invoices",
					   "invoices_payment", "quotations", "invoices_reminder",
					   "invoices_saved_send"};
	char name[64];
	CHECK(templates_count() == 7);
	for (size_t i = 0; i < 7; i++) {
		const struct schema_collection *c = templates_collection(i);
		CHECK_STR(c ? c->name : NULL, want[i]);
		CHECK(templates_name(i, name, sizeof(name)));
		CHECK(!strncmp(name, want[i], strlen(want[i])) &&
		      !strcmp(name + strlen(want[i]), ".json"));
		CHECK(templates_find(name) == (int)i);
	}
	CHECK(templates_collection(7) == NULL);
	CHECK(!templates_name(7, name, sizeof(name)));
	CHECK(!templates_name(0, name, 4)); /* does not fit */
	CHECK(templates_find("products") == -1);
	CHECK(templates_find("taxes.json") == -1);
	CHECK(templates_find("") == -1);
	CHECK(!templates_creatable(schema_find("taxes")));
	CHECK(!templates_creatable(schema_find("invoices_saved")));
	CHECK(!templates_creatable(schema_find("balance")));
	CHECK(!templates_creatable(schema_find("categories")));
	CHECK(!templates_creatable(NULL));
	CHECK(templates_record(schema_find("taxes")) == NULL);
	CHECK(templates_text(7, &(size_t){0}) == NULL);
}

/* Each template: the fields a create may send, no read-only one, converting as it is. */
static void test_records(void)
{
	char err[256];
	for (size_t i = 0; i < templates_count(); i++) {
		const struct schema_collection *c = templates_collection(i);
		cJSON *rec = templates_record(c), *wire;
		size_t n = 0, len = 0;
		if (!CHECK(rec != NULL))
			continue;
		for (size_t k = 0; k < c->nfields; k++) {
			const struct schema_field *f = &c->fields[k];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, f->name);
			CHECK(!v == !!(f->flags & SCHEMA_F_READONLY));
			n += v != NULL;
			if (v)
				CHECK(of_type(f, v));
			if (v && f->type == SCHEMA_KEYED_LIST)
				CHECK(cJSON_GetArraySize(v) == 1);
		}
		CHECK((size_t)cJSON_GetArraySize(rec) == n); /* nothing else */
		/* It converts as it is, but for a required date it leaves null: the day is
		 * the user's to say (a payment's), and without it the save is refused. */
		cJSON *dated = cJSON_Duplicate(rec, true);
		for (size_t k = 0; dated && k < c->nfields; k++) {
			const struct schema_field *f = &c->fields[k];
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, f->name);
			if (f->type == SCHEMA_DATE && (f->flags & SCHEMA_F_REQUIRED) && cJSON_IsNull(v)) {
				wire = schema_to_wire(c, rec, true, err, sizeof(err));
				CHECK(!wire && has_text(err, "missing required field"));
				cJSON_Delete(wire);
				cJSON_ReplaceItemInObjectCaseSensitive(dated, f->name,
								      cJSON_CreateString("2026-01-02"));
			}
		}
		wire = schema_to_wire(c, dated, true, err, sizeof(err));
		if (!CHECK(wire != NULL))
			printf("  %s: %s\n", c->name, err);
		cJSON_Delete(wire);
		cJSON_Delete(dated);

		/* The file's text is the record as jt_format writes it, and reads back. */
		char *text = templates_text(i, &len), *fmt = jt_format(rec, &n);
		CHECK(text && fmt && len == n && !memcmp(text, fmt, n));
		cJSON *back = text ? jt_parse(text, len, err, sizeof(err)) : NULL;
		CHECK(back && cJSON_Compare(back, rec, true));
		CHECK(templates_is_verbatim(c, back));
		/* Compared as JSON: the same record compact is still the template. */
		char *compact = cJSON_PrintUnformatted(rec);
		cJSON *again = compact ? cJSON_Parse(compact) : NULL;
		CHECK(templates_is_verbatim(c, again));
		/* Key order does not count either: the last field first. */
		cJSON *moved = cJSON_Duplicate(again, true),
		      *last = cJSON_GetArrayItem(moved, cJSON_GetArraySize(moved) - 1);
		cJSON_DetachItemViaPointer(moved, last);
		CHECK(cJSON_InsertItemInArray(moved, 0, last));
		CHECK(strcmp(moved->child->string, rec->child->string) != 0);
		CHECK(templates_is_verbatim(c, moved));
		cJSON_Delete(moved);
		/* Any change is an edit; another collection's template is not this one's. */
		cJSON_DeleteItemFromObjectCaseSensitive(again, rec->child->string);
		CHECK(!templates_is_verbatim(c, again));
		CHECK(!templates_is_verbatim(templates_collection((i + 1) % templates_count()),
					     back));
		CHECK(!templates_is_verbatim(c, NULL));
		free(compact);
		cJSON_Delete(again);
		cJSON_Delete(back);
		free(text);
		free(fmt);
		cJSON_Delete(rec);
	}
}

/* What the integration test and the docs rely on, spelled out. */
static void test_product(void)
{
	const struct schema_collection *p = schema_find("products");
	cJSON *rec = templates_record(p);
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(rec, "name");
	const cJSON *price = cJSON_GetObjectItemCaseSensitive(rec, "price");
	CHECK(cJSON_IsString(name) && !strcmp(name->valuestring, "Example product"));
	CHECK(cJSON_IsNumber(price) && price->valuedouble == 10);
	CHECK(!cJSON_GetObjectItemCaseSensitive(rec, "id"));
	CHECK(!cJSON_GetObjectItemCaseSensitive(rec, "priceintax"));
	cJSON_Delete(rec);

	const struct schema_collection *inv = schema_find("invoices");
	rec = templates_record(inv);
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(rec, "action");
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(rec, "lines");
	CHECK(cJSON_IsString(action) && !strcmp(action->valuestring, "save"));
	CHECK(cJSON_IsArray(lines) && !cJSON_GetObjectItemCaseSensitive(lines->child, "linetotal"));
	cJSON_Delete(rec);
}

int main(void)
{
	test_examples();
	test_which();
	test_records();
	test_product();
	return unit_report();
}
