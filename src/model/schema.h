/* schema: the data dictionary of the factuursturen API and the conversion
 * between its wire form and the "pythonic" JSON that factuurfs shows.
 *
 * Every collection, field, wire type and permitted method is a row in the
 * tables of schema.c; nothing else in factuurfs knows a field name.  Wire
 * form (what the service sends): scalars as strings ("42", "10.92", "0"/"1",
 * "" for no date), nested objects keyed line1/line2/..., "[]" for an empty
 * object.  Pythonic form (what a file holds): real numbers and booleans, null
 * for empty dates, nested keyed objects as arrays in key order.  The reader is
 * tolerant of every variant docs/API.md lists (numbers as numbers,
 * "true"/"false", arrays instead of keyed objects, wrapped or bare records);
 * a value that does not convert is kept as it came, never dropped.
 */
#ifndef FACTUURFS_MODEL_SCHEMA_H
#define FACTUURFS_MODEL_SCHEMA_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum schema_type {
	SCHEMA_STRING,     /* string both ways */
	SCHEMA_INT,        /* "42" / 42 -> 42; "" -> null */
	SCHEMA_FLOAT,      /* "10.92" / 10.92 / "10,92" -> 10.92; "" -> null */
	SCHEMA_BOOL,       /* "0" "1" "true" "false" 0 1 true false -> bool; "" -> null */
	SCHEMA_DATE,       /* "YYYY-MM-DD" kept; "" and "0000-00-00" -> null */
	SCHEMA_OBJECT,     /* fixed sub-fields (reference: line1..line3); [] -> {} */
	SCHEMA_KEYED_LIST, /* {"line1":{..},"line2":{..}} or [..] -> [..] in key order; [] -> [] */
};

/* Field flags. */
#define SCHEMA_F_READONLY 0x1u /* computed or owned by the API: never sent back */
#define SCHEMA_F_REQUIRED 0x2u /* must be present when creating or editing */
#define SCHEMA_F_CREATE   0x4u /* only meaningful when creating (invoice action...) */
/* A number that may also be given as text, sent as written: a client's country by its
 * name (the service looks the id up), a payment's "full".  With .values, the text must
 * be one of them (checked: refused before any call otherwise). */
#define SCHEMA_F_OR_TEXT  0x8u
/* A number the API takes as text: sent as a string ("12.5"), not a JSON number. */
#define SCHEMA_F_AS_TEXT  0x10u
/* Input only: sent when a file gives it, never in what the service sends back, and
 * left out of templates (an empty one would be sent with every record made). */
#define SCHEMA_F_INPUT    0x20u

struct schema_field {
	const char *name;
	enum schema_type type;
	unsigned flags;
	const char *key_prefix;          /* SCHEMA_KEYED_LIST: "line", "tax", "item" */
	const struct schema_field *sub;  /* SCHEMA_OBJECT / SCHEMA_KEYED_LIST element fields */
	size_t nsub;
	const char *alias;               /* another spelling accepted on input (php's) */
	/* For people, not for conversion: templates/ and the field reference (docs/FIELDS.md,
	 * the man page) show these; schema_to_wire() checks none of them. */
	const char *example;             /* JSON text of a template's value; NULL: by type */
	const char *const *values;       /* the values docs/API.md allows, NULL-ended
					    (checked only with SCHEMA_F_OR_TEXT) */
	const char *note;                /* one line for the field reference, or NULL */
	/* Required on create when another field of the record holds one of some values:
	 * "action=send" (sendmethod), "action=save,repeat"; checked before any call. */
	const char *required_if;
};

/* One reading of how a write-only collection's file is sent (schema_collection.send):
 * @method to @path, where "%s" is the file's identifier, %-escaped; without "%s" the
 * identifier goes in the body, under @body_id ("ids": as a one-element list) or, when
 * @body_id is NULL, as the file has it. */
struct schema_send {
	const char *method;
	const char *path;
	const char *body_id;
};

/* The part a collection plays in what factuurfs builds on the records (views/, exports/,
 * the probe): a feature asks for "the invoices" by role, never by name.  At most one
 * row of the table has each role; schema_by_role() finds it. */
enum schema_role {
	SCHEMA_ROLE_NONE,
	SCHEMA_ROLE_INVOICES,   /* the sent invoices: views/, exports/, VAT quarters */
	SCHEMA_ROLE_CLIENTS,    /* whom an invoice names by its clientnr */
	SCHEMA_ROLE_PRODUCTS,
	SCHEMA_ROLE_QUOTATIONS,
	SCHEMA_ROLE_CATEGORIES, /* the ledger accounts an invoice line may name */
	SCHEMA_ROLE_COUNTRIES,  /* the same for every account, longer than a page */
};

/* Where a record made by a collection's POST is listed when its `action` field holds
 * @action (schema_collection.created_as). */
struct schema_lands {
	const char *action;
	const char *in;
};

/* Methods a collection allows. */
#define SCHEMA_M_LIST   0x01u
#define SCHEMA_M_GET    0x02u
#define SCHEMA_M_POST   0x04u
#define SCHEMA_M_PUT    0x08u
#define SCHEMA_M_DELETE 0x10u

struct schema_collection {
	const char *name;           /* directory name and URL path: "clients" */
	const char *one_key;        /* GET-one wrapper key ("client"); NULL: no GET one */
	const char *id_field;       /* "clientnr" */
	const char *id_field2;      /* second part of a composite name ("type" for taxes), or NULL */
	enum schema_type id_type;   /* SCHEMA_INT: an identifier is all digits */
	unsigned methods;
	const char *pdf_path;       /* "invoices_pdf": records also have <id>.pdf */
	/* Other paths the PDF may be at, tried in order when pdf_path answers 404 or
	 * 405: "%s" is the escaped id ("quotations/%s/pdf"); unused entries NULL. */
	const char *pdf_also[3];
	const char *whole_marker;   /* a field only whole records carry; NULL: listings are whole */
	/* The record's date (its file time, its year and quarter in views/ and exports/):
	 * the first of these fields that holds one.  A keyed list (an invoice's history)
	 * holds the date of its first element that has one (in the element's DATE field).
	 * The one place an invoice's date is decided: schema_record_day(). */
	const char *date_fields[4];
	/* The service's own time of the record's last change, where it sends one: a DATE
	 * field (a client's `timestamp`: a day), or {a keyed list, its elements' DATE
	 * field, their "HH:MM" field} (an invoice's `history`: its newest event).  Read by
	 * schema_record_changed() only; NULL: the service says none. */
	const char *changed_at[3];
	/* A write-only collection (methods SCHEMA_M_PUT, no listing): a new file
	 * <id>.json is one request about record <id> of @acts_on.  @send holds the
	 * readings of that request, the likeliest first; the next is tried when one answers
	 * 404 or 405 (or 400, with @send_other_on_400: a body naming the record under a name
	 * the service does not read is refused, not acted on), and the first that works is
	 * the one used for the rest of the mount (feat/writeback.c). */
	const char *acts_on;
	struct schema_send send[3];
	/* Another collection whose listing the request changes (a draft sent becomes an
	 * invoice), or NULL. */
	const char *changes_too;
	/* What the status file's change log says once the service took it, before the
	 * identifier ("registered a payment on invoice"), and what a file here is, for
	 * messages ("a payment"). */
	const char *done, *what;
	/* How messages name one of its records before the identifier ("get the PDF of
	 * quotation 7"); NULL: by the identifier alone (an invoice: "2024/0042"). */
	const char *noun;
	/* A record its POST makes is listed in another collection by its `action` (a new
	 * invoice saved is a draft: invoices_saved); unused entries NULL, and any other
	 * action lists it here. */
	struct schema_lands created_as[2];
	/* A record whose field of this name holds a value (a sent invoice: "sent") is not
	 * deleted unless the mount allows it (-o allow_invoice_delete); NULL: no guard. */
	const char *delete_guard;
	/* The copy kept of a deleted record (.factuurfs/deleted/) gets "action" set to this,
	 * and a "savename" when it has none, so that copying it into invoices/ restores it
	 * as a draft; NULL: kept as it was. */
	const char *restore_action;
	/* A new file here is made by this other collection's POST, with `action` the
	 * restore_action (a draft: invoices' POST with "save"), so that a kept copy of a
	 * deleted record restores where it was; NULL: by its own POST, if any. */
	const char *created_through;
	const struct schema_field *fields;
	size_t nfields;
	/* The small fields last, together, so that the struct packs (clang-tidy's
	 * padding check). */
	bool send_other_on_400;
	/* The identifier must name a record listed in @acts_on (a draft of ours): refused
	 * with ENOENT before the request otherwise. */
	bool must_exist;
	/* A write-only collection whose file must hold its own name in id_field and
	 * nothing but the fields of the table (a reminder, a draft sent: they e-mail the
	 * client, so an accidental copy of another record is refused, never sent). */
	bool deliberate;
	bool single;                /* one object, shown as <name>.json in the root (balance) */
	bool lang_path;             /* listed as <name>/<lang> when -o lang is set (countrylist) */
	/* What features build on the collection (what they would otherwise test its name
	 * for): */
	enum schema_role role;
	/* Its PDFs are the archive's: kept for good under -o archive (bounded by the disk
	 * alone), cached as <id>.pdf where any other's is .<name>=<id>.pdf (the names from
	 * before other records had PDFs), and prefetched first. */
	bool pdf_archived;
	/* The API's listing filters (model/facts.h facts_filter_at: open, paid, ...) apply
	 * to its listing: the cache keeps one filtered listing of it per filter. */
	bool filtered;
	/* Its listing is read by views/ and exports/ (invoices, their clients, the
	 * categories of the ledger column): a change of it changes them. */
	bool feeds_views;
};

/* The collection whose POST makes a new file of @c a record: @c itself, the one it
 * is created_through, or NULL (a write-only collection's file is a request about a
 * record: a payment). */
const struct schema_collection *schema_creates(const struct schema_collection *c);

/* The row with role @r (never SCHEMA_ROLE_NONE), or NULL; and the same for the roles
 * most features ask for. */
const struct schema_collection *schema_by_role(enum schema_role r);
const struct schema_collection *schema_invoices(void);
const struct schema_collection *schema_clients(void);
const struct schema_collection *schema_categories(void);
/* The collection whose listing the API filters (.filtered), or NULL. */
const struct schema_collection *schema_filtered(void);
/* Where a record @c's POST makes of pythonic @rec is listed (.created_as): another
 * collection by @rec's `action`, else @c. */
const struct schema_collection *schema_created_in(const struct schema_collection *c,
						  const cJSON *rec);

size_t schema_ncollections(void);
const struct schema_collection *schema_collection_at(size_t i);
const struct schema_collection *schema_find(const char *name);
/* The position of table row @c (0 .. schema_ncollections() - 1). */
size_t schema_collection_index(const struct schema_collection *c);
/* Field @name of @c, found by its name or else by its alias (php's spelling); NULL when
 * the dictionary does not know it. */
const struct schema_field *schema_field_find(const struct schema_collection *c, const char *name);

/* The collections the service's search covers (search/<area>/...), in the order
 * search/ lists them: clients, products, invoices, invoices_saved, invoices_repeated. */
size_t schema_nsearch_areas(void);
const struct schema_collection *schema_search_area_at(size_t i);

/* Items of a GET-list body: a top-level array of objects, an object wrapping
 * one ({"clients":[...]}), an object of records ({"0":{..},"1":{..}}), or []
 * for none.  Returns a new array of copies (caller cJSON_Delete()s it), or
 * NULL when @body is none of these ({} and [1,2] are not lists of records). */
cJSON *schema_list_items(const cJSON *body);

/* The record inside a GET-one body: {"client":{...}} (or any single-key
 * wrapper whose value is an object and whose key is no field of @c, since a
 * bare record may have one field) or the bare record.  Borrowed pointer into
 * @body, NULL when @body is not an object or its one_key wrapper holds none, and
 * NULL for a listing (what schema_list_items reads as one: an array, a wrapper
 * around one, an object whose members are all records): a service may answer the
 * GET of a record it does not have with its whole list, which is never the record. */
const cJSON *schema_unwrap_one(const struct schema_collection *c, const cJSON *body);
/* True when @body is a listing in that sense (an answer of "no such record"). */
bool schema_is_listing(const struct schema_collection *c, const cJSON *body);

/* Identifier of a record (wire or pythonic form) as a string: "42",
 * "2024/0042", "21-H" for composite names.  An INT part is written without
 * decimals whether it came as "42", 42 or 42.0, so both forms give one name.
 * malloc'd, NULL if missing or empty. */
char *schema_record_id(const struct schema_collection *c, const cJSON *rec);

/* True when a listed (wire) record carries everything GET one would. */
bool schema_record_is_whole(const struct schema_collection *c, const cJSON *wire);

/* Pythonic copy of wire record @wire: known fields in dictionary order, then
 * unknown fields in name order (kept as they came).  Whatever the server sent, the
 * copy is one jt_format() writes as valid UTF-8 JSON that jt_parse() reads
 * back equal:
 *  - a string or key that is not valid UTF-8 (overlong forms, surrogates and code
 *    points above U+10FFFF included) has each byte that starts no well-formed
 *    sequence read as the ISO-8859-1 character of that value ("Caf\xe9" is shown
 *    "Café"), the likeliest cause being a server that sent Latin-1;
 *  - a key that occurs twice in one object, as sent or once repaired, keeps its
 *    first value (at any depth, as cJSON's lookups do);
 *  - a number beyond a double (1e999) is null.
 * Identifiers are not repaired: schema_record_id() gives the server's own bytes.
 * Caller deletes. */
cJSON *schema_from_wire(const struct schema_collection *c, const cJSON *wire);

/* The record's date by @c's date_fields: the first that holds a valid "YYYY-MM-DD"
 * (or a "YYYY-MM-DD HH:MM:SS" kept as it came: its date), as "YYYY-MM-DD" into @day
 * (11 bytes); false, @day "", when none does.  @rec is pythonic. */
bool schema_record_day(const struct schema_collection *c, const cJSON *rec, char day[11]);
/* The same date at 12:00 UTC (file times), or 0 when there is none. */
time_t schema_record_date(const struct schema_collection *c, const cJSON *rec);

/* The latest moment the service's own change time of record @text (pythonic JSON,
 * @len bytes: a record file's text) allows, by @c's changed_at, in nanoseconds since
 * the epoch; 0 when the record carries none.  A day allows until its end, an "HH:MM"
 * until that minute's end.  Read as UTC: the service's times are Dutch (CET/CEST,
 * ahead of UTC), so as UTC they are never earlier than the change they stand for. */
long long schema_record_changed(const struct schema_collection *c, const char *text,
				size_t len);

/* The rules of the wire -> pythonic conversion for one scalar, for model/fastwire.c
 * (which renders the common records without a tree and must agree with the tables'
 * conversion to the byte): a number as the wire or a user spells it in a string ("42",
 * "10,92", "1e3"; false for anything else); a boolean string (1, 0, -1 for none); an
 * empty date ("", "0000-00-00"); and the time (noon UTC) a date string stands for, 0
 * when it is none. */
bool schema_parse_number(const char *s, double *out);
int schema_parse_bool(const char *s);
bool schema_empty_date(const char *s);
time_t schema_date_of(const char *s);

/* Wire body for a POST (@create) or PUT of pythonic record @rec: read-only
 * fields dropped, create-only fields dropped unless @create, unknown fields
 * passed on, keyed lists rebuilt as {"line1":..}, values in the types the API
 * takes (one table in schema.c decides them).  NULL with a message in @err
 * naming the field ("field 'lines[1].price': expected a number", "missing
 * required field 'price'") on a wrong type or a missing required field;
 * required fields are checked for PUT too.  Caller deletes. */
cJSON *schema_to_wire(const struct schema_collection *c, const cJSON *rec, bool create,
		      char *err, size_t errlen);

/* As schema_to_wire, shaped as @sent: the wire record the service sent for this record
 * (NULL: as schema_to_wire).  Every field goes back under the name @sent used for it
 * (the .NET spelling or php's underscore alias: "mandate_id"), a value equal to what
 * @sent read as goes back exactly as sent, and a changed one in @sent's form for that
 * field (the form table in schema.c: "0"/"1" or "true"/"false", "42" or 42, ...);
 * inside a keyed list each element follows @sent's element at its position, a new one
 * the first, and a list sent as a JSON array goes back as one.  A field @sent lacks
 * takes the default form.  Caller deletes. */
cJSON *schema_to_wire_as(const struct schema_collection *c, const cJSON *rec, const cJSON *sent,
			 bool create, char *err, size_t errlen);

#endif
