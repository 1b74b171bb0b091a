/* templates: example records from the data dictionary (see templates.h). */
#include "model/templates.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/jsontext.h"

bool templates_creatable(const struct schema_collection *c)
{
	if (!c || c->single)
		return false;
	/* As fs.c's new_kind(): a POST, or a PUT to the file's name where nothing is listed. */
	return (c->methods & SCHEMA_M_POST) ||
	       (!(c->methods & SCHEMA_M_LIST) && (c->methods & SCHEMA_M_PUT));
}

size_t templates_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < schema_ncollections(); i++)
		n += templates_creatable(schema_collection_at(i));
	return n;
}

const struct schema_collection *templates_collection(size_t i)
{
	for (size_t k = 0; k < schema_ncollections(); k++) {
		const struct schema_collection *c = schema_collection_at(k);
		if (templates_creatable(c) && i-- == 0)
			return c;
	}
	return NULL;
}

bool templates_name(size_t i, char *buf, size_t len)
{
	const struct schema_collection *c = templates_collection(i);
	int n = c ? snprintf(buf, len, "%s.json", c->name) : -1;
	return n >= 0 && (size_t)n < len;
}

int templates_find(const char *name)
{
	char buf[128];
	for (size_t i = 0; templates_name(i, buf, sizeof(buf)); i++)
		if (!strcmp(buf, name))
			return (int)i;
	return -1;
}

static cJSON *object_of(const struct schema_field *fields, size_t n);

/* The template value of field @f: its .example, else the plain value of its type. */
static cJSON *value_of(const struct schema_field *f)
{
	cJSON *v, *e;
	if (f->example)
		return cJSON_Parse(f->example); /* unit-tested: every example parses */
	switch (f->type) {
	case SCHEMA_STRING:
		return cJSON_CreateString("");
	case SCHEMA_INT:
	case SCHEMA_FLOAT:
		return cJSON_CreateNumber(0);
	case SCHEMA_BOOL:
		return cJSON_CreateFalse();
	case SCHEMA_DATE:
		return cJSON_CreateNull();
	case SCHEMA_OBJECT:
		return object_of(f->sub, f->nsub);
	case SCHEMA_KEYED_LIST:
		/* One element shows the fields of every element. */
		v = cJSON_CreateArray();
		e = object_of(f->sub, f->nsub);
		if (!v || !e || !cJSON_AddItemToArray(v, e)) {
			cJSON_Delete(v);
			cJSON_Delete(e);
			return NULL;
		}
		return v;
	}
	return NULL;
}

/* Every field of @fields a user may send (none read-only, none input-only), with its
 * template value. */
static cJSON *object_of(const struct schema_field *fields, size_t n)
{
	cJSON *o = cJSON_CreateObject();
	for (size_t i = 0; o && i < n; i++) {
		if (fields[i].flags & (SCHEMA_F_READONLY | SCHEMA_F_INPUT))
			continue;
		cJSON *v = value_of(&fields[i]);
		if (!v || !cJSON_AddItemToObject(o, fields[i].name, v)) {
			cJSON_Delete(v);
			cJSON_Delete(o);
			return NULL;
		}
	}
	return o;
}

cJSON *templates_record(const struct schema_collection *c)
{
	return templates_creatable(c) ? object_of(c->fields, c->nfields) : NULL;
}

char *templates_text(size_t i, size_t *len)
{
	cJSON *rec = templates_record(templates_collection(i));
	char *text = rec ? jt_format(rec, len) : NULL;
	cJSON_Delete(rec);
	return text;
}

bool templates_is_verbatim(const struct schema_collection *c, const cJSON *rec)
{
	cJSON *t = templates_record(c);
	bool same = t && rec && cJSON_Compare(t, rec, true);
	cJSON_Delete(t);
	return same;
}
