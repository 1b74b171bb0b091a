/* fields: the field reference of the files a user writes, printed from the data
 * dictionary (src/model/schema.c) so that it cannot say anything else than what factuurfs
 * converts and checks.
 *
 *   fields markdown          docs/FIELDS.md (checked in)
 *   fields scdoc             the FIELDS section of the man page
 *   fields man PAGE.scd      PAGE.scd with its line "; @FIELDS@" replaced by that section
 *   fields check FIELDS.md   exit 1, naming the first different line, when the file is
 *                            not what `fields markdown` prints (a meson test)
 *
 * Per collection a user can create into or edit: its file, the operations, one row
 * per field (sub-fields of objects and lists as reference.line1, lines[].price) with
 * its type as written in a file, when it is required, read-only, create-only, the
 * allowed values and a note; and, in Markdown, the template (templates.c).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/schema.h"
#include "model/templates.h"

enum fmt { MD, SCD };

/* ---- what the dictionary says, in words ----------------------------------- */

static bool editable(const struct schema_collection *c)
{
	return (c->methods & SCHEMA_M_PUT) && (c->methods & SCHEMA_M_LIST);
}

/* A collection of the reference: one whose files a user writes. */
static bool written(const struct schema_collection *c)
{
	return templates_creatable(c) || editable(c);
}

static const char *type_words(const struct schema_field *f)
{
	bool or_text = f->flags & SCHEMA_F_OR_TEXT;
	switch (f->type) {
	case SCHEMA_STRING:
		return "text";
	case SCHEMA_INT:
		return or_text ? "integer or text" : "integer";
	case SCHEMA_FLOAT:
		return or_text ? "number or text" : "number";
	case SCHEMA_BOOL:
		return "true/false";
	case SCHEMA_DATE:
		return "\"YYYY-MM-DD\" or null";
	case SCHEMA_OBJECT:
		return "object";
	case SCHEMA_KEYED_LIST:
		return "array of objects";
	}
	return "?";
}

/* When a required field must be there: "create", "edit" or both. */
static void required_words(const struct schema_collection *c, char *buf, size_t len)
{
	bool cr = templates_creatable(c), ed = editable(c);
	snprintf(buf, len, "%s%s%s", cr ? "create" : "", cr && ed ? ", " : "", ed ? "edit" : "");
}

/* ---- output helpers --------------------------------------------------------- */

/* Text for the format: scdoc takes * _ and \ as markup, Markdown < (HTML) and | (a
 * table cell's end), unless escaped. */
static void put(FILE *o, enum fmt fmt, const char *s)
{
	for (; *s; s++) {
		if (fmt == SCD && (*s == '*' || *s == '_' || *s == '\\'))
			fputc('\\', o);
		if (fmt == MD && (*s == '<' || *s == '>' || *s == '|' || *s == '\\'))
			fputc('\\', o);
		fputc(*s, o);
	}
}

/* @s as code: `s` in Markdown (where nothing is markup), *s* in scdoc. */
static void put_code(FILE *o, enum fmt fmt, const char *s)
{
	if (fmt == MD) {
		fprintf(o, "`%s`", s);
		return;
	}
	fputc('*', o);
	put(o, fmt, s);
	fputc('*', o);
}

/* The identifier in a file name, as the man page and README write it: <clientnr>. */
static void put_path(FILE *o, enum fmt fmt, const struct schema_collection *c)
{
	if (fmt == MD) {
		fprintf(o, "`%s/<%s>.json`", c->name, c->id_field);
		return;
	}
	char up[64];
	size_t i;
	for (i = 0; c->id_field[i] && i + 1 < sizeof(up); i++)
		up[i] = (char)toupper((unsigned char)c->id_field[i]);
	up[i] = '\0';
	fputc('*', o);
	put(o, fmt, c->name);
	fputs("/*_", o);
	put(o, fmt, up);
	fputs("_*.json*", o);
}

static void put_values(FILE *o, enum fmt fmt, const struct schema_field *f)
{
	for (size_t i = 0; f->values && f->values[i]; i++) {
		fputs(i ? ", " : "", o);
		put_code(o, fmt, f->values[i]);
	}
}

/* A keyed list the user must fill: "at least one" element. */
static bool needs_one(const struct schema_field *f)
{
	return f->type == SCHEMA_KEYED_LIST && (f->flags & SCHEMA_F_REQUIRED) &&
	       !(f->flags & SCHEMA_F_READONLY);
}

static bool has_notes(const struct schema_field *f)
{
	return f->values || f->note || f->alias || needs_one(f) || (f->flags & SCHEMA_F_INPUT);
}

/* The last column (Markdown) or the text after the type (scdoc): values, the
 * dictionary's note, what the flags imply; "" when there is nothing to say. */
static void put_notes(FILE *o, enum fmt fmt, const struct schema_field *f, const char *sep)
{
	const char *s = "";
	if (f->flags & SCHEMA_F_INPUT) {
		fputs("input only: never in what the service sends back, not in the template", o);
		s = sep;
	}
	if (f->values) {
		fputs(f->flags & SCHEMA_F_OR_TEXT ? "text: " : "one of ", o);
		put_values(o, fmt, f);
		s = sep;
	}
	if (f->note) {
		fputs(s, o);
		put(o, fmt, f->note);
		s = sep;
	}
	if (needs_one(f)) {
		fputs(s, o);
		fputs("at least one", o);
		s = sep;
	}
	if (f->alias) {
		fputs(s, o);
		fputs("also read as ", o);
		put_code(o, fmt, f->alias);
	}
}

/* One field and, unless it is read-only as a whole, its sub-fields. */
static void put_field(FILE *o, enum fmt fmt, const struct schema_collection *c,
		      const struct schema_field *f, const char *prefix)
{
	char name[128], req[32];
	bool ro = f->flags & SCHEMA_F_READONLY, cre = f->flags & SCHEMA_F_CREATE;
	snprintf(name, sizeof(name), "%s%s", prefix, f->name);
	required_words(c, req, sizeof(req));
	if (!(f->flags & SCHEMA_F_REQUIRED))
		req[0] = '\0';
	if (fmt == MD) {
		fprintf(o, "| `%s` | %s | %s | %s | %s | ", name, type_words(f), req,
			ro ? "yes" : "", cre ? "yes" : "");
		put_notes(o, fmt, f, "; ");
		fputs(" |\n", o);
	} else {
		fputc('*', o);
		put(o, fmt, name);
		fputs("*\n\t", o);
		put(o, fmt, type_words(f));
		if (req[0])
			fprintf(o, "; required on %s", req);
		if (ro)
			fputs("; read-only", o);
		if (cre)
			fputs("; create only", o);
		fputs(has_notes(f) ? "; " : "", o);
		put_notes(o, fmt, f, "; ");
		fputs("\n", o);
	}
	if (ro || !f->sub)
		return;
	snprintf(name, sizeof(name), "%s%s%s", prefix, f->name,
		 f->type == SCHEMA_KEYED_LIST ? "[]." : ".");
	for (size_t i = 0; i < f->nsub; i++)
		put_field(o, fmt, c, &f->sub[i], name);
}

/* Reading @r of @c's request as a call: "POST invoices_payment/<invoicenr>",
 * "POST invoices_saved {\"ids\": [<id>]}". */
static void send_call(const struct schema_collection *c, const struct schema_send *r, char *buf,
		      size_t len)
{
	const char *at = strstr(r->path, "%s");
	if (at)
		snprintf(buf, len, "%s %.*s<%s>%s", r->method, (int)(at - r->path), r->path,
			 c->id_field, at + 2);
	else if (r->body_id && !strcmp(r->body_id, "ids"))
		snprintf(buf, len, "%s %s {\"ids\": [<%s>], ...}", r->method, r->path, c->id_field);
	else
		snprintf(buf, len, "%s %s {\"%s\": <%s>, ...}", r->method, r->path,
			 r->body_id ? r->body_id : c->id_field, c->id_field);
}

/* " (`PUT clients/<clientnr>`)": the API call an operation makes. */
static void put_call(FILE *o, enum fmt fmt, const char *call)
{
	fputs(" (", o);
	if (fmt == MD)
		put_code(o, fmt, call);
	else
		put(o, fmt, call);
	fputs(")", o);
}

/* The operations on @c's files: bullet lines (Markdown) or sentences (scdoc). */
static void put_operations(FILE *o, enum fmt fmt, const struct schema_collection *c)
{
	/* scdoc: one paragraph after the path, a line each (++ ends a line, and may not
	 * end the paragraph). */
	const char *li = fmt == MD ? "- " : " ++\n";
	const char *end = fmt == MD ? "\n" : "";
	char dir[128], call[192];
	snprintf(dir, sizeof(dir), "%s/", c->name);
	if (fmt == MD) {
		fputs("- file: ", o);
		put_path(o, fmt, c);
		fputs("\n", o);
	}
	if (c->methods & SCHEMA_M_POST) {
		fprintf(o, "%screate: write a new ", li);
		put_code(o, fmt, "*.json");
		fputs(" file into ", o);
		put_code(o, fmt, dir);
		snprintf(call, sizeof(call), "POST %s", c->name);
		put_call(o, fmt, call);
		fputs(end, o);
	} else if (templates_creatable(c)) {
		fprintf(o, "%s%s: write a new file ", li, c->deliberate ? "send" : "register");
		put_path(o, fmt, c);
		send_call(c, &c->send[0], call, sizeof(call));
		put_call(o, fmt, call);
		if (c->deliberate)
			/* schema.h: a deliberate file names itself and holds nothing else. */
			fprintf(o, " holding its own %s and nothing but the fields below: "
				"anything else (a copy of another record) is refused, unsent", c->id_field);
		if (c->must_exist)
			fprintf(o, "; only for a record listed in %s/ (else ENOENT, unsent)",
				c->acts_on);
		fprintf(o, "; nothing is listed%s", end);
		/* The other readings, tried when the service refuses the first. */
		for (size_t k = 1; k < sizeof(c->send) / sizeof(c->send[0]) && c->send[k].method;
		     k++) {
			fprintf(o, "%salso: ", li);
			send_call(c, &c->send[k], call, sizeof(call));
			put_code(o, fmt, call);
			fprintf(o, ", when the service refuses the one above%s", end);
		}
	}
	if (editable(c)) {
		fprintf(o, "%sedit: save the file", li);
		snprintf(call, sizeof(call), "PUT %s/<%s>", c->name, c->id_field);
		put_call(o, fmt, call);
		fputs(end, o);
	} else if (c->methods & SCHEMA_M_LIST) {
		snprintf(call, sizeof(call),
			 "edit: none, the API cannot change %s (a write is EPERM)", c->name);
		fputs(li, o);
		put(o, fmt, call);
		fputs(end, o);
	}
	if (c->methods & SCHEMA_M_DELETE) {
		fprintf(o, "%sdelete: ", li);
		put_code(o, fmt, "rm");
		snprintf(call, sizeof(call), "DELETE %s/<%s>", c->name, c->id_field);
		put_call(o, fmt, call);
		fputs(end, o);
	}
	if (templates_creatable(c)) {
		snprintf(call, sizeof(call), "templates/%s.json", c->name);
		fprintf(o, "%stemplate: ", li);
		put_code(o, fmt, call);
		fputs(end, o);
	}
}

/* ---- the two documents ------------------------------------------------------ */

static const char md_head[] =
    "# Fields of the files you write\n"
    "\n"
    "<!-- Generated from the data dictionary (src/model/schema.c) by tools/fields.c: do not edit.\n"
    "     `meson test -C build fields-doc` fails when this file is not what\n"
    "     `build/fields markdown` prints; that command writes it again. -->\n"
    "\n"
    "What each file you can create or edit holds: one table per collection, made from the\n"
    "data dictionary that factuurfs converts and checks with. To make a record, start from\n"
    "its template (no API call): `cp templates/products.json products/new.json`, change the\n"
    "example values, save. Every field a template holds is sent: delete a field's line to\n"
    "leave it to the service. A template saved unchanged is refused (`EINVAL`), so its\n"
    "examples never reach the service; see [SEMANTICS.md](SEMANTICS.md#templates).\n"
    "\n"
    "A value is written in a file as its type says:\n"
    "\n"
    "| type | written as |\n"
    "| --- | --- |\n"
    "| text | a JSON string: `\"Amsterdam\"` |\n"
    "| integer | a whole number: `14` |\n"
    "| number | `10.5` |\n"
    "| true/false | `true` or `false` |\n"
    "| \"YYYY-MM-DD\" or null | a date `\"2025-06-01\"`, or `null` for none |\n"
    "| object | `{\"line1\": \"...\", ...}`, the fields in the rows below it |\n"
    "| array of objects | `[{...}, {...}]`, each with the fields in the rows below it |\n"
    "\n"
    "- **required**: must be there and not `null` when creating or when editing (and an\n"
    "  array not empty); without it the save fails with `EINVAL` before any call.\n"
    "- **read-only**: the service's own (an id, a total): shown, never sent; changing one\n"
    "  in an edit is refused with `EINVAL`.\n"
    "- **create only**: sent when the record is made, never in an edit.\n"
    "- **values**: what the API allows ([API.md](API.md)). The service checks them, factuurfs\n"
    "  does not, but for a number that may also be a word (a payment's `\"full\"`).\n";

static void markdown(FILE *o)
{
	fputs(md_head, o);
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		if (!written(c))
			continue;
		fprintf(o, "\n## %s\n\n", c->name);
		put_operations(o, MD, c);
		fputs("\n| field | type | required on | read-only | create only | values, notes |\n"
		      "| --- | --- | --- | --- | --- | --- |\n",
		      o);
		for (size_t k = 0; k < c->nfields; k++)
			put_field(o, MD, c, &c->fields[k], "");
		int t = -1;
		for (size_t k = 0; k < templates_count(); k++)
			if (templates_collection(k) == c)
				t = (int)k;
		if (t < 0)
			continue;
		size_t len;
		char *text = templates_text((size_t)t, &len);
		if (!text)
			continue;
		fprintf(o, "\n`templates/%s.json`:\n\n```json\n", c->name);
		fwrite(text, 1, len, o);
		fputs("```\n", o);
		free(text);
	}
	fputs("\n## Not written by users\n\n", o);
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		if (written(c))
			continue;
		fprintf(o, "- `%s%s`: %s\n", c->name, c->single ? ".json" : "/",
			c->methods & SCHEMA_M_DELETE ? "read; `rm` deletes a record (DELETE)"
						     : "read only");
	}
}

static const char scd_head[] =
    "# FIELDS\n"
    "\n"
    "What each file you can create or edit holds, made from the data dictionary\n"
    "(docs/FIELDS.md in the source tree has the same, with the templates). To make a\n"
    "record, copy its template: *cp templates/products.json products/new.json*, change\n"
    "the example values, save; every field a template holds is sent, and a template\n"
    "saved unchanged is refused (EINVAL). A type is written in a file as: _text_, a JSON\n"
    "string; _integer_; _number_; _true/false_; a date *\"YYYY-MM-DD\"* or *null*; an\n"
    "_object_ or an _array of objects_ with the fields listed after it. A _required_\n"
    "field must be there and not *null* (the save fails with EINVAL); a _read-only_ one\n"
    "is the service's own, never sent; a _create only_ one is sent when the record is\n"
    "made, never in an edit. The values listed are the API's (docs/API.md): the\n"
    "service checks them.\n";

static void scdoc(FILE *o)
{
	fputs(scd_head, o);
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		if (!written(c))
			continue;
		fputs("\n## ", o);
		put(o, SCD, c->name);
		fputs("\n\n", o);
		put_path(o, SCD, c);
		put_operations(o, SCD, c);
		fputs("\n\n", o);
		for (size_t k = 0; k < c->nfields; k++)
			put_field(o, SCD, c, &c->fields[k], "");
	}
}

/* ---- commands --------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0;
	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (*len + 4096 + 1 > cap) {
			char *p = realloc(buf, cap = cap * 2 + 8192);
			if (!p)
				break;
			buf = p;
		}
		size_t got = fread(buf + *len, 1, cap - *len - 1, f);
		*len += got;
		if (got == 0)
			break;
	}
	fclose(f);
	if (buf)
		buf[*len] = '\0';
	return buf;
}

static char *render(void (*fn)(FILE *), size_t *len)
{
	char *text = NULL;
	FILE *o = open_memstream(&text, len);
	if (!o)
		return NULL;
	fn(o);
	if (fclose(o) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* 0 when the file at @path is what `fields markdown` prints. */
static int check(const char *path)
{
	size_t want_len, got_len, line = 1, i;
	char *want = render(markdown, &want_len), *got = slurp(path, &got_len);
	int rc = 1;
	if (!want || !got) {
		fprintf(stderr, "fields: cannot read %s\n", path);
		goto out;
	}
	if (want_len == got_len && !memcmp(want, got, want_len)) {
		rc = 0;
		goto out;
	}
	for (i = 0; i < want_len && i < got_len && want[i] == got[i]; i++)
		line += want[i] == '\n';
	fprintf(stderr,
		"fields: %s differs from the data dictionary from line %zu on.\n"
		"  Write it again with: build/fields markdown > docs/FIELDS.md\n",
		path, line);
out:
	free(want);
	free(got);
	return rc;
}

/* @path with the line starting "; @FIELDS@" replaced by the FIELDS section. */
static int man(const char *path)
{
	size_t len;
	char *src = slurp(path, &len), *p, *eol;
	bool done = false;
	if (!src) {
		fprintf(stderr, "fields: cannot read %s\n", path);
		return 1;
	}
	for (p = src; *p; p = eol) {
		eol = strchr(p, '\n');
		eol = eol ? eol + 1 : p + strlen(p);
		if (!done && !strncmp(p, "; @FIELDS@", 10)) {
			scdoc(stdout);
			done = true;
		} else {
			fwrite(p, 1, (size_t)(eol - p), stdout);
		}
	}
	free(src);
	if (!done)
		fprintf(stderr, "fields: %s has no line \"; @FIELDS@\"\n", path);
	return done ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "markdown")) {
		markdown(stdout);
		return 0;
	}
	if (argc == 2 && !strcmp(argv[1], "scdoc")) {
		scdoc(stdout);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "check"))
		return check(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "man"))
		return man(argv[2]);
	fprintf(stderr, "usage: fields markdown | scdoc | check FIELDS.md | man PAGE.scd\n");
	return 2;
}
