/* schema: the data dictionary and the wire <-> pythonic conversion (see schema.h). */
#include "model/schema.h"

#include "model/jsontext.h"
#include "base/strbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The tables are laid out as tables: one row per line. */
/* clang-format off */

/* Row builders for the field tables below. */
#define F(n, t, fl) {.name = (n), .type = (t), .flags = (fl)}
#define FA(n, t, fl, a) {.name = (n), .type = (t), .flags = (fl), .alias = (a)}
/* A row with more columns: .example, .values, .note (schema.h). */
#define FX(n, t, fl, ...) {.name = (n), .type = (t), .flags = (fl), __VA_ARGS__}
#define FO(n, fl, s) {.name = (n), .type = SCHEMA_OBJECT, .flags = (fl), .sub = (s), .nsub = N(s)}
#define FL(n, fl, p, s)                                                                            \
	{.name = (n), .type = SCHEMA_KEYED_LIST, .flags = (fl), .key_prefix = (p), .sub = (s),     \
	 .nsub = N(s)}

#define STR   SCHEMA_STRING
#define INT   SCHEMA_INT
#define FLOAT SCHEMA_FLOAT
#define BOOL  SCHEMA_BOOL
#define DATE  SCHEMA_DATE
#define RO    SCHEMA_F_READONLY
#define REQ   SCHEMA_F_REQUIRED
#define CRE   SCHEMA_F_CREATE
#define ORTXT SCHEMA_F_OR_TEXT
#define ASTXT SCHEMA_F_AS_TEXT

/* ---- the data dictionary ---------------------------------------------------------------- */

/* Sources: docs/API.md, "Fields" (py CONVERTABLEFIELDS, net models).
 * The .example of a field is what templates/ shows (JSON text; by type when absent: "",
 * 0, false, null): the service's own default where the fake has one, an obvious
 * example for what the user must choose.  .values and .note come from the API
 * reference (docs/API.md) only, and are documentation: the service checks them, not
 * factuurfs. */

/* A new invoice (docs/API.md, "Fields": net's validation). */
static const char *const invoice_actions[] = {"send", "save", "repeat", NULL};
static const char *const invoice_sendmethods[] = {"mail", "email", "printcenter", NULL};

static const struct schema_field reference_fields[] = {
	F("line1", STR, 0),
	F("line2", STR, 0),
	F("line3", STR, 0),
};

static const struct schema_field line_fields[] = {
	FX("amount", FLOAT, 0, .example = "1"),
	F("amount_desc", STR, 0),
	FX("description", STR, 0, .example = "\"Example line\""),
	FX("tax_rate", FLOAT, 0, .example = "21"),
	FX("price", FLOAT, 0, .example = "10"),
	F("discount_pct", FLOAT, 0),
	F("linetotal", FLOAT, RO),
	/* The quotation page: input only, never sent back. */
	FX("tax_country", STR, SCHEMA_F_INPUT,
	   .note = "the country of a foreign VAT rate for this line"),
};

static const struct schema_field invoice_tax_fields[] = {
	F("rate", FLOAT, 0),
	F("sum", FLOAT, 0),
	F("sum_of", FLOAT, 0),
};

static const struct schema_field history_fields[] = {
	F("date", DATE, 0),
	F("time", STR, 0),
	F("description", STR, 0),
};

static const struct schema_field client_fields[] = {
	F("clientnr", INT, RO),
	F("contact", STR, 0),
	F("showcontact", BOOL, 0),
	FX("company", STR, 0, .example = "\"Example company\""),
	F("address", STR, 0),
	FX("address_addon", STR, 0, .note = "an extra address line"),
	FX("addon", STR, 0, .note = "extra information, such as a department"),
	F("zipcode", STR, 0),
	F("city", STR, 0),
	/* The clients page: an id, or a name the service finds the id of. */
	FX("country", INT, ORTXT, .example = "146",
	   .note = "a country id from countrylist/ (146: Nederland), or a country's name as "
		   "text (\"Duitsland\"), sent as written: the service looks the id up"),
	F("phone", STR, 0),
	F("mobile", STR, 0),
	F("email", STR, 0),
	FX("email_reminder", STR, 0, .note = "the address reminders go to"),
	F("default_email", INT, 0),
	F("bankcode", STR, 0),
	F("biccode", STR, 0),
	F("taxnumber", STR, 0),
	F("tax_shifted", BOOL, 0),
	FX("taxtype", STR, 0, .alias = "tax_type", .example = "\"extax\""),
	FX("sendmethod", STR, 0, .example = "\"email\""),
	FX("paymentmethod", STR, 0, .example = "\"bank\""),
	FX("top", INT, 0, .example = "14", .note = "payment term in days"),
	F("stddiscount", FLOAT, 0),
	F("mailintro", STR, 0),
	FO("reference", 0, reference_fields),
	F("notes", STR, 0),
	F("notes_on_invoice", BOOL, 0),
	FX("active", BOOL, 0, .example = "true"),
	FX("defaultdoclang", STR, 0, .alias = "default_doclang", .example = "\"nl\""),
	FA("defaultcategory", STR, 0, "default_category"),
	FX("currency", STR, 0, .example = "\"EUR\""),
	FA("mandateid", STR, 0, "mandate_id"),
	FA("mandatedate", DATE, 0, "mandate_date"),
	F("collecttype", STR, 0),
	F("lastinvoice", DATE, RO),
	F("timestamp", DATE, RO),
};

static const struct schema_field product_fields[] = {
	F("id", INT, RO),
	FX("code", STR, REQ, .example = "\"EXAMPLE-1\""),
	FX("name", STR, REQ, .example = "\"Example product\""),
	FX("price", FLOAT, REQ, .example = "10"),
	FX("taxes", INT, 0, .example = "21", .note = "tax percentage"),
	F("priceintax", FLOAT, RO),
};

static const struct schema_field invoice_fields[] = {
	F("id", INT, RO),
	F("invoicenr", STR, RO),
	F("invoicenr_full", STR, RO),
	FX("profile", INT, 0, .example = "1", .note = "a profile id from profiles/"),
	/* 0 is no client: a template left so is refused by the service, never misdirected. */
	FX("clientnr", INT, REQ, .example = "0", .note = "the number of an existing client"),
	FO("reference", 0, reference_fields),
	/* Copies of the client's fields, made by the API when the invoice is sent. */
	F("company", STR, RO),
	F("contact", STR, RO),
	F("address", STR, RO),
	F("zipcode", STR, RO),
	F("city", STR, RO),
	F("country", INT, RO),
	F("phone", STR, RO),
	F("mobile", STR, RO),
	F("email", STR, RO),
	F("taxnumber", STR, RO),
	F("invoicenote", STR, 0),
	/* No invoice the live service sent has one (the captured records are dated by
	 * `sent` and `history`): read when present, never sent. */
	FX("date", DATE, RO, .note = "not in the service's records; when one is there, it "
				      "dates the invoice"),
	FL("lines", REQ, "line", line_fields),
	FX("discounttype", STR, 0, .example = "\"amount\""),
	F("discount", FLOAT, 0),
	F("paymentcondition", STR, 0),
	FX("paymentperiod", INT, 0, .example = "14", .note = "payment term in days"),
	F("collection", BOOL, 0),
	FX("category", STR, 0, .note = "a category id from categories/ (its ledger goes to "
				      "exports/invoices.csv)"),
	F("tax", FLOAT, RO),
	F("totalintax", FLOAT, RO),
	FL("taxes", RO, "tax", invoice_tax_fields),
	F("tax_type", STR, RO),
	F("tax_shifted", BOOL, RO),
	F("language", STR, RO),
	F("sent", DATE, RO),
	F("duedate", DATE, RO),
	F("paiddate", DATE, RO),
	F("open", FLOAT, RO),
	F("uncollectible", DATE, RO),
	F("lastreminder", DATE, RO),
	F("payment_url", STR, RO),
	FL("history", RO, "item", history_fields),
	/* What a POST does with the new invoice: send it, save it, or repeat it.  A
	 * template saves: a draft is the one action that reaches no client. */
	FX("action", STR, CRE, .example = "\"save\"", .values = invoice_actions,
	   .note = "send: numbered and sent to the client; save: a draft in invoices_saved/; "
		   "repeat: a repeating invoice in invoices_repeated/"),
	FX("sendmethod", STR, CRE, .example = "\"email\"", .values = invoice_sendmethods,
	   .note = "required when action is send", .required_if = "action=send"),
	FX("savename", STR, CRE, .example = "\"Example invoice\"",
	   .note = "required when action is save or repeat", .required_if = "action=save,repeat"),
	F("overwrite_if_exist", BOOL, CRE),
	F("convert_prices_to_euro", BOOL, CRE),
	FX("initialdate", DATE, CRE, .note = "required when action is repeat"),
	FX("finalsenddate", DATE, CRE, .note = "required when action is repeat"),
	FX("frequency", STR, CRE, .note = "required when action is repeat"),
	FX("repeattype", STR, CRE, .note = "required when action is repeat"),
};

/* invoices_saved and invoices_repeated: the same record, a saved invoice draft. */
static const struct schema_field saved_fields[] = {
	F("id", INT, RO),
	F("savename", STR, 0),
	/* The saved-invoices page's read-only fields. */
	FX("name", STR, RO, .note = "the draft's unique name (savename sets it)"),
	FX("alreadypaid", FLOAT, RO, .note = "the amount already marked paid"),
	FX("alreadypaidmethod", STR, RO, .note = "how that was paid"),
	F("profile", INT, 0),
	F("clientnr", INT, 0),
	FO("reference", 0, reference_fields),
	F("invoicenote", STR, 0),
	F("date", DATE, 0),
	FL("lines", 0, "line", line_fields),
	F("discounttype", STR, 0),
	F("discount", FLOAT, 0),
	F("totaldiscount", FLOAT, 0),
	F("tax", FLOAT, RO),
	F("totalintax", FLOAT, 0),
	FL("taxes", RO, "tax", invoice_tax_fields),
	/* Copies of the client's fields, as on invoices. */
	F("company", STR, RO),
	F("contact", STR, RO),
	F("address", STR, RO),
	F("zipcode", STR, RO),
	F("city", STR, RO),
	F("country", INT, RO),
	F("email", STR, RO),
	F("language", STR, RO),
	F("paymentcondition", STR, 0),
	F("paymentperiod", INT, 0),
	F("collection", BOOL, 0),
	F("datesaved", DATE, 0),
	F("initialdate", DATE, 0),
	F("nextsenddate", DATE, 0),
	F("finalsenddate", DATE, 0),
	F("frequency", STR, 0),
	F("repeattype", STR, 0),
};

static const struct schema_field profile_fields[] = {
	F("id", INT, 0),
	F("name", STR, 0),
	F("default", BOOL, 0),
};

static const struct schema_field tax_fields[] = {
	F("percentage", INT, 0),
	F("type", STR, 0),
	F("default", BOOL, 0),
	F("country", STR, 0),
};

static const struct schema_field country_fields[] = {
	F("id", INT, 0),
	F("name", STR, 0),
};

/* Quotations (php Models/Quotation.php, the official quotation page): an invoice's
 * fields where a quotation has them, and its own (quotationperiod, showtotals, ...). */
static const char *const quotation_actions[] = {"send", "save", NULL};

static const struct schema_field quotation_fields[] = {
	F("id", INT, RO),
	FX("profile", INT, 0, .example = "1", .note = "a profile id from profiles/"),
	/* 0 is no client: a template left so is refused by the service, never misdirected. */
	FX("clientnr", INT, REQ, .example = "0", .note = "the number of an existing client"),
	FO("reference", 0, reference_fields),
	F("quotationreference", STR, 0),
	FX("category", STR, 0, .note = "a category id from categories/"),
	/* Copies of the client's fields, made by the API. */
	F("company", STR, RO),
	F("contact", STR, RO),
	F("date", DATE, 0),
	FL("lines", REQ, "line", line_fields),
	FX("discounttype", STR, 0, .example = "\"amount\""),
	F("discount", FLOAT, 0),
	F("paymentcondition", STR, 0),
	FX("quotationperiod", INT, 0, .example = "30", .note = "days the quotation holds"),
	F("showtotals", BOOL, 0),
	F("notes", STR, 0),
	F("customstatus", STR, 0),
	F("approved", BOOL, 0),
	F("tax", FLOAT, RO),
	F("totalintax", FLOAT, RO),
	FL("taxes", RO, "tax", invoice_tax_fields),
	FX("profile_name", STR, RO, .note = "the name of its profile"),
	FX("category_name", STR, RO, .note = "the name of its category"),
	/* A template saves: a draft is the one action that reaches no client. */
	FX("action", STR, CRE, .example = "\"save\"", .values = quotation_actions,
	   .note = "send: e-mailed to the client; save: kept as a draft"),
	FX("sendmethod", STR, CRE, .example = "\"email\"", .values = invoice_sendmethods,
	   .note = "required when action is send", .required_if = "action=send"),
	FX("savename", STR, CRE, .example = "\"Example quotation\""),
	F("overwrite_if_exist", BOOL, CRE),
	F("convert_prices_to_euro", BOOL, CRE),
};

/* Categories (deinte CategoriesData.php): ledger is a general-ledger account code,
 * text (it may start with 0). */
static const struct schema_field category_fields[] = {
	F("id", INT, 0),
	F("name", STR, 0),
	F("ledger", STR, 0),
};

/* A reminder: PUT invoices_reminder/<invoicenr> (php: POST invoices_reminder with
 * invoicenr inside).  It e-mails the client, so the file must name its invoice: the
 * invoicenr inside must be the file's name (see .deliberate). */
static const struct schema_field reminder_fields[] = {
	FX("invoicenr", STR, REQ, .example = "\"\"",
	   .note = "the invoice number again, as in the file name: "
		   "invoices_reminder/<invoicenr>.json"),
	FX("attach_invoice", BOOL, 0, .example = "true", .note = "attach the invoice's PDF"),
};

/* A payment: POST invoices_payment/<invoicenr> (the official payment page: `date`
 * required, `amount` a string, "full" for what is open, an optional `method`). */
static const char *const payment_words[] = {"full", NULL};

static const struct schema_field payment_fields[] = {
	/* In the path, not the body. */
	FX("invoicenr", STR, RO, .note = "the file name: invoices_payment/<invoicenr>.json"),
	FX("amount", FLOAT, REQ | ORTXT | ASTXT, .example = "\"full\"", .values = payment_words,
	   .note = "the amount paid (12.50), or \"full\": all that is open; sent as text"),
	FX("date", DATE, REQ, .note = "the day it was paid"),
	FX("method", STR, 0, .note = "how it was paid (\"bank\", \"cash\", ...)"),
};

/* Sending a draft: POST invoices_saved (the saved-invoices page: "send saved
 * invoice(s)").  It e-mails the client, so the file must name its draft inside, as its
 * file name does (see .deliberate). */
static const struct schema_field draft_send_fields[] = {
	FX("id", INT, REQ, .example = "0",
	   .note = "the draft's id again, as in the file name: invoices_saved_send/<id>.json"),
	FX("sendmethod", STR, 0, .example = "\"email\"", .values = invoice_sendmethods,
	   .note = "how the invoice goes to the client"),
};

#define M_ALL (SCHEMA_M_LIST | SCHEMA_M_GET | SCHEMA_M_POST | SCHEMA_M_PUT | SCHEMA_M_DELETE)
#define M_RD  (SCHEMA_M_LIST | SCHEMA_M_GET | SCHEMA_M_DELETE)

static const struct schema_collection collections[] = {
	{.name = "clients", .one_key = "client", .id_field = "clientnr", .id_type = INT,
	 .methods = M_ALL, .role = SCHEMA_ROLE_CLIENTS, .date_fields = {"timestamp", "lastinvoice"},
	 .changed_at = {"timestamp"}, .fields = client_fields, .nfields = N(client_fields),
	 .feeds_views = true},
	{.name = "products", .one_key = "product", .id_field = "id", .id_type = INT,
	 .methods = M_ALL, .role = SCHEMA_ROLE_PRODUCTS, .fields = product_fields, .nfields = N(product_fields)},
	{.name = "invoices", .one_key = "invoice", .id_field = "invoicenr", .id_type = STR,
	 .methods = M_RD | SCHEMA_M_POST, .pdf_path = "invoices_pdf", .whole_marker = "lines",
	 .role = SCHEMA_ROLE_INVOICES, .pdf_archived = true, .filtered = true,
	 .created_as = {{"save", "invoices_saved"}, {"repeat", "invoices_repeated"}},
	 /* Dated by `sent` (or a `date`, where one is sent), else by its first dated event:
	  * docs/SEMANTICS.md, "Dates". */
	 .date_fields = {"date", "sent", "history"},
	 /* A payment, a reminder, a sending: each is an event of its history. */
	 .changed_at = {"history", "date", "time"},
	 .fields = invoice_fields, .nfields = N(invoice_fields),
	 /* Dutch invoice numbers run on without gaps: a sent one is corrected with a credit
	  * invoice, not deleted. */
	 .delete_guard = "sent", .restore_action = "save", .feeds_views = true},
	{.name = "invoices_saved", .one_key = "invoices_saved", .id_field = "id", .id_type = INT,
	 .methods = M_RD, .date_fields = {"datesaved", "date"},
	 .fields = saved_fields, .nfields = N(saved_fields), .restore_action = "save",
	 .created_through = "invoices"},
	/* The API wraps a repeated invoice in the saved one's key. */
	{.name = "invoices_repeated", .one_key = "invoices_saved", .id_field = "id", .id_type = INT,
	 .methods = M_RD, .date_fields = {"datesaved", "initialdate", "nextsenddate"},
	 .fields = saved_fields, .nfields = N(saved_fields), .restore_action = "save"},
	{.name = "profiles", .id_field = "id", .id_type = INT, .methods = SCHEMA_M_LIST,
	 .fields = profile_fields, .nfields = N(profile_fields)},
	{.name = "taxes", .id_field = "percentage", .id_field2 = "type", .id_type = STR,
	 .methods = SCHEMA_M_LIST, .fields = tax_fields, .nfields = N(tax_fields)},
	{.name = "countrylist", .id_field = "id", .id_type = INT, .methods = SCHEMA_M_LIST,
	 .lang_path = true, .role = SCHEMA_ROLE_COUNTRIES, .fields = country_fields, .nfields = N(country_fields)},
	/* Write-only: a payment file names its invoice; nothing to list.  POST is the
	 * official page's reading, PUT py v0's. */
	{.name = "invoices_payment", .id_field = "invoicenr", .id_type = STR,
	 .methods = SCHEMA_M_PUT, .acts_on = "invoices",
	 .send = {{"POST", "invoices_payment/%s", NULL}, {"PUT", "invoices_payment/%s", NULL}},
	 .done = "registered a payment on invoice", .what = "a payment",
	 .fields = payment_fields, .nfields = N(payment_fields)},
	/* No known fields: everything is shown as it comes. */
	{.name = "balance", .methods = SCHEMA_M_LIST, .single = true},
	/* The quotation PDF's path is in no source: quotations_pdf/<id> by analogy with
	 * invoices_pdf is our reading; the others are tried when it answers 404/405.
	 * POST is a reading too: the official quotation page has no POST row, though its
	 * `action` field is required (README, "Where the API reference is uncertain"). */
	{.name = "quotations", .one_key = "quotation", .id_field = "id", .id_type = INT,
	 .methods = M_ALL, .pdf_path = "quotations_pdf",
	 .pdf_also = {"quotations/%s/pdf", "quotation_pdf/%s"}, .whole_marker = "lines",
	 .role = SCHEMA_ROLE_QUOTATIONS, .noun = "quotation",
	 .date_fields = {"date"}, .fields = quotation_fields, .nfields = N(quotation_fields)},
	{.name = "categories", .id_field = "id", .id_type = INT, .methods = SCHEMA_M_LIST,
	 .role = SCHEMA_ROLE_CATEGORIES,
	 /* (feeds_views: the ledger column of exports/invoices.csv) */
	 .fields = category_fields, .nfields = N(category_fields), .feeds_views = true},
	/* Write-only, and deliberate: a reminder e-mails the client.  PUT is our reading
	 * (as py's payments), POST with the number inside php's. */
	{.name = "invoices_reminder", .id_field = "invoicenr", .id_type = STR,
	 .methods = SCHEMA_M_PUT, .deliberate = true, .acts_on = "invoices",
	 .send = {{"PUT", "invoices_reminder/%s", NULL}, {"POST", "invoices_reminder", NULL}},
	 .done = "sent a reminder of invoice", .what = "a reminder",
	 .fields = reminder_fields, .nfields = N(reminder_fields)},
	/* Write-only, deliberate, and only for a draft of ours: the draft is sent to its
	 * client and becomes an invoice.  Which body field names the draft is not on the
	 * readable part of the saved-invoices page: `id`, as every other call names a
	 * record, is our reading; a list `ids` and `invoicenr` are tried after a refusal
	 * (README, "Where the API reference is uncertain"). */
	{.name = "invoices_saved_send", .id_field = "id", .id_type = INT,
	 .methods = SCHEMA_M_PUT, .deliberate = true, .must_exist = true,
	 .acts_on = "invoices_saved", .changes_too = "invoices",
	 .send = {{"POST", "invoices_saved", NULL}, {"POST", "invoices_saved", "ids"},
		  {"POST", "invoices_saved", "invoicenr"}},
	 .send_other_on_400 = true, .done = "sent as an invoice: draft",
	 .what = "sending a draft",
	 .fields = draft_send_fields, .nfields = N(draft_send_fields)},
};

/* clang-format on */

size_t schema_ncollections(void)
{
	return N(collections);
}

size_t schema_collection_index(const struct schema_collection *c)
{
	return (size_t)(c - collections);
}

const struct schema_collection *schema_collection_at(size_t i)
{
	return i < N(collections) ? &collections[i] : NULL;
}

const struct schema_collection *schema_creates(const struct schema_collection *c)
{
	if (!c)
		return NULL;
	if (c->created_through)
		return schema_find(c->created_through);
	return (c->methods & SCHEMA_M_POST) ? c : NULL;
}

const struct schema_collection *schema_by_role(enum schema_role r)
{
	for (size_t i = 0; r != SCHEMA_ROLE_NONE && i < N(collections); i++)
		if (collections[i].role == r)
			return &collections[i];
	return NULL;
}

const struct schema_collection *schema_invoices(void)
{
	return schema_by_role(SCHEMA_ROLE_INVOICES);
}

const struct schema_collection *schema_clients(void)
{
	return schema_by_role(SCHEMA_ROLE_CLIENTS);
}

const struct schema_collection *schema_categories(void)
{
	return schema_by_role(SCHEMA_ROLE_CATEGORIES);
}

const struct schema_collection *schema_filtered(void)
{
	for (size_t i = 0; i < N(collections); i++)
		if (collections[i].filtered)
			return &collections[i];
	return NULL;
}

const struct schema_collection *schema_created_in(const struct schema_collection *c,
						  const cJSON *rec)
{
	const cJSON *action = cJSON_GetObjectItemCaseSensitive(rec, "action");
	if (!cJSON_IsString(action))
		return c;
	for (size_t i = 0; i < N(c->created_as) && c->created_as[i].action; i++)
		if (!strcmp(action->valuestring, c->created_as[i].action))
			return schema_find(c->created_as[i].in);
	return c;
}

const struct schema_collection *schema_find(const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < N(collections); i++)
		if (strcmp(collections[i].name, name) == 0)
			return &collections[i];
	return NULL;
}

/* A field by its name, else by its alias (an exact name always wins). */
static const struct schema_field *field_in(const struct schema_field *fields, size_t n,
					   const char *name)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < n; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	for (i = 0; i < n; i++)
		if (fields[i].alias && strcmp(fields[i].alias, name) == 0)
			return &fields[i];
	return NULL;
}

const struct schema_field *schema_field_find(const struct schema_collection *c, const char *name)
{
	return c ? field_in(c->fields, c->nfields, name) : NULL;
}

/* ---- scalar helpers, shared by both directions --------------------------------------------- */

/* Largest magnitude below which every integer is exact in a double (2^53). */
#define EXACT_INT_MAX 9007199254740992.0

static bool is_integral(double v)
{
	return v >= -EXACT_INT_MAX && v <= EXACT_INT_MAX && (double)(long long)v == v;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A number as the wire or a user writes it in a string: "42", "-3", "10.92", the Dutch
 * "10,92", "1e3".  No spaces, no hex, no inf/nan (strtod alone would take those).
 * factuurfs never calls setlocale(), so strtod reads '.' as the decimal point. */
static bool parse_number(const char *s, double *out)
{
	char buf[64];
	size_t i = 0, digits = 0;
	double v;
	char *end;
	size_t len = s ? strlen(s) : sizeof(buf);

	if (len >= sizeof(buf))
		return false;
	memcpy(buf, s, len + 1);
	if (buf[i] == '-' || buf[i] == '+')
		i++;
	for (; is_digit(buf[i]); i++)
		digits++;
	if (buf[i] == '.' || buf[i] == ',') {
		buf[i++] = '.';
		for (; is_digit(buf[i]); i++)
			digits++;
	}
	if (!digits)
		return false;
	if (buf[i] == 'e' || buf[i] == 'E') {
		i++;
		if (buf[i] == '-' || buf[i] == '+')
			i++;
		if (!is_digit(buf[i]))
			return false;
		while (is_digit(buf[i]))
			i++;
	}
	if (buf[i])
		return false;
	v = strtod(buf, &end);
	if (*end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* Spellings of a boolean in a string: 1 for true, 0 for false, -1 for none. */
static int parse_bool(const char *s)
{
	static const char *const yes[] = {"1", "true", "yes"};
	static const char *const no[] = {"0", "false", "no"};
	size_t i;

	for (i = 0; i < N(yes); i++)
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
	for (i = 0; i < N(no); i++)
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	return -1;
}

/* Strict "YYYY-MM-DD" with a real month and day; fills @tm (may be NULL). */
static bool parse_date(const char *s, struct tm *tm)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, m, d, i;

	for (i = 0; i < 10; i++)
		if ((i == 4 || i == 7) ? s[i] != '-' : !is_digit(s[i]))
			return false;
	if (s[10])
		return false;
	/* Every one a digit (above): the numbers are their digits' values. */
	y = ((s[0] - '0') * 10 + (s[1] - '0')) * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return false;
	if (tm) {
		memset(tm, 0, sizeof(*tm));
		tm->tm_year = y - 1900;
		tm->tm_mon = m - 1;
		tm->tm_mday = d;
	}
	return true;
}

/* The wire's "no date": "" or MySQL's zero date. */
static bool is_empty_date(const char *s)
{
	return !*s || strcmp(s, "0000-00-00") == 0 || strcmp(s, "0000-00-00 00:00:00") == 0;
}

/* Adds @item to @obj under @key; takes @item even on failure. */
static bool add(cJSON *obj, const char *key, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToObject(obj, key, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

static bool append(cJSON *arr, cJSON *item)
{
	if (!item)
		return false;
	if (!cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return false;
	}
	return true;
}

/* The member of @obj that a field takes: by its name, else by its alias. */
static const cJSON *field_value(const cJSON *obj, const struct schema_field *f)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, f->name);

	if (!v && f->alias)
		v = cJSON_GetObjectItemCaseSensitive(obj, f->alias);
	return v;
}

/* ---- UTF-8 ----------------------------------------------------------------------------------- */

/* The well-formed UTF-8 sequences (Unicode's table 3-7): by lead byte, the sequence's
 * length and the range of its second byte, which rules out overlong forms, surrogates
 * and code points above U+10FFFF; later bytes are 0x80-0xBF. */
/* ---- wire -> pythonic ------------------------------------------------------------------------ */

/* A wire string made fit for a file (see utf8_repaired). */
static cJSON *repaired_string(const char *s)
{
	char *r = jt_utf8_repaired(s);
	cJSON *out = r ? cJSON_CreateString(r) : NULL;

	free(r);
	return out;
}

/* A wire value kept as it came, made fit for a file: strings and keys repaired to UTF-8,
 * a key that occurs twice in one object (as cJSON read it, or once repaired) keeping
 * its first value as cJSON's lookups do, and a number JSON cannot write (1e999 reads
 * as infinity) null, which is what the file shows. */
static cJSON *wire_copy(const cJSON *v)
{
	const cJSON *m;
	cJSON *out;
	char *key = NULL;

	if (cJSON_IsString(v))
		return repaired_string(v->valuestring);
	if (cJSON_IsNumber(v) && !isfinite(v->valuedouble))
		return cJSON_CreateNull();
	if (!cJSON_IsObject(v) && !cJSON_IsArray(v))
		return cJSON_Duplicate(v, false);
	out = cJSON_IsObject(v) ? cJSON_CreateObject() : cJSON_CreateArray();
	if (!out)
		return NULL;
	cJSON_ArrayForEach(m, v)
	{
		if (cJSON_IsArray(v)) {
			if (!append(out, wire_copy(m)))
				goto fail;
			continue;
		}
		key = jt_utf8_repaired(m->string);
		if (!key)
			goto fail;
		if (!cJSON_GetObjectItemCaseSensitive(out, key) && !add(out, key, wire_copy(m)))
			goto fail;
		free(key);
		key = NULL;
	}
	return out;
fail:
	free(key);
	cJSON_Delete(out);
	return NULL;
}

static cJSON *wire_object(const struct schema_field *fields, size_t n, const cJSON *obj);

/* A keyed-list element: converted when it is an object, kept as it came otherwise. */
static cJSON *wire_element(const struct schema_field *f, const cJSON *v)
{
	return cJSON_IsObject(v) ? wire_object(f->sub, f->nsub, v) : wire_copy(v);
}

struct keyed {
	unsigned long num;
	size_t pos;
	const cJSON *item;
};

static int keyed_cmp(const void *a, const void *b)
{
	const struct keyed *x = a, *y = b;

	if (x->num != y->num)
		return x->num < y->num ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* {"line1":..,"line2":..,"line10":..} -> [..] in numeric key order (line10 after line9).
 * Bare numeric keys ({"0":..}) are taken too; any other key keeps the object as it came. */
static cJSON *keyed_to_array(const struct schema_field *f, const cJSON *obj)
{
	size_t plen = f->key_prefix ? strlen(f->key_prefix) : 0;
	size_t n = (size_t)cJSON_GetArraySize(obj), i = 0;
	struct keyed *k = NULL;
	const cJSON *m;
	cJSON *out = NULL;

	if (!n)
		return cJSON_CreateArray();
	k = calloc(n, sizeof(*k));
	if (!k)
		return NULL;
	cJSON_ArrayForEach(m, obj)
	{
		const char *s = m->string;
		size_t len;

		if (plen && strncmp(s, f->key_prefix, plen) == 0)
			s += plen;
		len = strspn(s, "0123456789");
		/* Nine digits fit an unsigned long anywhere. */
		if (!len || s[len] || len > 9) {
			out = wire_copy(obj);
			goto out;
		}
		k[i].num = strtoul(s, NULL, 10);
		k[i].pos = i;
		k[i].item = m;
		i++;
	}
	qsort(k, n, sizeof(*k), keyed_cmp);
	out = cJSON_CreateArray();
	if (!out)
		goto out;
	for (i = 0; i < n; i++) {
		if (!append(out, wire_element(f, k[i].item))) {
			cJSON_Delete(out);
			out = NULL;
			goto out;
		}
	}
out:
	free(k);
	return out;
}

/* One field's value in pythonic form; a value that does not convert is copied as it came. */
static cJSON *wire_value(const struct schema_field *f, const cJSON *v)
{
	double d;
	int b;

	if (cJSON_IsString(v) && !*v->valuestring &&
	    (f->type == INT || f->type == FLOAT || f->type == BOOL || f->type == DATE))
		return cJSON_CreateNull();

	switch (f->type) {
	case SCHEMA_STRING:
		break;
	case SCHEMA_INT:
		if (cJSON_IsString(v) && parse_number(v->valuestring, &d) && is_integral(d))
			return cJSON_CreateNumber(d);
		break;
	case SCHEMA_FLOAT:
		if (cJSON_IsString(v) && parse_number(v->valuestring, &d))
			return cJSON_CreateNumber(d);
		break;
	case SCHEMA_BOOL:
		if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
			return cJSON_CreateBool(v->valuedouble == 1);
		if (cJSON_IsString(v) && (b = parse_bool(v->valuestring)) >= 0)
			return cJSON_CreateBool(b);
		break;
	case SCHEMA_DATE:
		if (cJSON_IsString(v) && is_empty_date(v->valuestring))
			return cJSON_CreateNull();
		break;
	case SCHEMA_OBJECT:
		if (cJSON_IsObject(v))
			return wire_object(f->sub, f->nsub, v);
		/* PHP encodes an empty associative array as []. */
		if (cJSON_IsArray(v) && !v->child)
			return cJSON_CreateObject();
		break;
	case SCHEMA_KEYED_LIST:
		if (cJSON_IsObject(v))
			return keyed_to_array(f, v);
		if (cJSON_IsArray(v)) {
			const cJSON *e;
			cJSON *out = cJSON_CreateArray();

			if (!out)
				return NULL;
			cJSON_ArrayForEach(e, v)
			{
				if (!append(out, wire_element(f, e))) {
					cJSON_Delete(out);
					return NULL;
				}
			}
			return out;
		}
		break;
	}
	return wire_copy(v);
}

/* An unknown field of a wire object: its name as the file shows it, and where it came. */
struct member {
	char *name;
	size_t pos;
	const cJSON *item;
};

static int member_cmp(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	int d = strcmp(x->name, y->name);

	if (d)
		return d;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* Known fields in table order, then the rest sorted by name (repaired to UTF-8).  A key
 * that occurs twice, as it came or once repaired, keeps its first value, as cJSON's
 * lookups do; a php alias shadowed by the .NET spelling of the same field stays, as an
 * unknown field. */
static cJSON *wire_object(const struct schema_field *fields, size_t n, const cJSON *obj)
{
	size_t nmemb = (size_t)cJSON_GetArraySize(obj), nrest = 0, pos = 0, i;
	struct member *rest = NULL;
	const cJSON *m;
	cJSON *out = cJSON_CreateObject();

	if (!out)
		return NULL;
	for (i = 0; i < n; i++) {
		const cJSON *v = field_value(obj, &fields[i]);

		if (v && !add(out, fields[i].name, wire_value(&fields[i], v)))
			goto fail;
	}
	/* Allocated even for an empty object (+1): the walk below meets the nmemb members
	 * cJSON_GetArraySize counted, which the analysers cannot see in the library. */
	rest = calloc(nmemb + 1, sizeof(*rest));
	if (!rest)
		goto fail;
	cJSON_ArrayForEach(m, obj)
	{
		const struct schema_field *f = field_in(fields, n, m->string);

		pos++;
		if (f && field_value(obj, f) == m)
			continue;
		if (f && strcmp(f->name, m->string) == 0)
			continue;
		rest[nrest].name = jt_utf8_repaired(m->string);
		if (!rest[nrest].name)
			goto fail;
		rest[nrest].pos = pos;
		rest[nrest].item = m;
		nrest++;
	}
	/* Equal names sort by position, so the first of each run is the one that counts. */
	if (nrest)
		qsort(rest, nrest, sizeof(*rest), member_cmp);
	for (i = 0; i < nrest; i++) {
		if (i && strcmp(rest[i].name, rest[i - 1].name) == 0)
			continue;
		if (!add(out, rest[i].name, wire_copy(rest[i].item)))
			goto fail;
	}
	goto out;
fail:
	cJSON_Delete(out);
	out = NULL;
out:
	for (i = 0; i < nrest; i++)
		free(rest[i].name);
	free(rest);
	return out;
}

cJSON *schema_from_wire(const struct schema_collection *c, const cJSON *wire)
{
	if (!c || !cJSON_IsObject(wire))
		return NULL;
	return wire_object(c->fields, c->nfields, wire);
}

/* ---- listings and records ------------------------------------------------------------------- */

/* A non-empty object whose members are all objects: records keyed by index or id. */
static bool all_objects(const cJSON *o)
{
	const cJSON *m;

	if (!cJSON_IsObject(o) || !o->child)
		return false;
	cJSON_ArrayForEach(m, o)
	{
		if (!cJSON_IsObject(m))
			return false;
	}
	return true;
}

/* True when every element of array @a is an object (a record); true for []. */
static bool only_objects(const cJSON *a)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, a)
	{
		if (!cJSON_IsObject(m))
			return false;
	}
	return true;
}

/* A list of records, or NULL when @body is none: an array of anything but objects
 * ([1,2]) is no listing, nor is an empty object ({}), which the service never sends
 * for an empty one (it sends []); taking either for one would show an empty or
 * shorter directory as the truth. */
static cJSON *list_items(const cJSON *body, bool may_unwrap)
{
	const cJSON *m;
	cJSON *out;

	if (cJSON_IsArray(body))
		return only_objects(body) ? cJSON_Duplicate(body, true) : NULL;
	if (!cJSON_IsObject(body) || !body->child)
		return NULL;
	/* {"clients": [...]} or {"clients": {"0": {..}}}: one wrapper around the listing. */
	if (may_unwrap && !body->child->next) {
		m = body->child;
		if (cJSON_IsArray(m) || all_objects(m))
			return list_items(m, false);
		if (cJSON_IsObject(m) && !m->child)
			return NULL; /* {"clients": {}} */
	}
	if (!all_objects(body))
		return NULL;
	out = cJSON_CreateArray();
	if (!out)
		return NULL;
	cJSON_ArrayForEach(m, body)
	{
		if (!append(out, cJSON_Duplicate(m, true))) {
			cJSON_Delete(out);
			return NULL;
		}
	}
	return out;
}

cJSON *schema_list_items(const cJSON *body)
{
	return list_items(body, true);
}

/* True when no member of object @o is named as a field of @c. */
static bool no_field_names(const struct schema_collection *c, const cJSON *o)
{
	const cJSON *m;

	cJSON_ArrayForEach(m, o)
	{
		if (schema_field_find(c, m->string))
			return false;
	}
	return true;
}

bool schema_is_listing(const struct schema_collection *c, const cJSON *body)
{
	const cJSON *m;

	if (cJSON_IsArray(body))
		return true;
	if (!cJSON_IsObject(body) || !body->child)
		return false;
	m = body->child;
	if (!m->next) {
		/* {"clients": [...]} or {"clients": {"0": {..}, "1": {..}}}; never the
		 * record's own wrapper, nor a record of one field. */
		if ((c && c->one_key && strcmp(m->string, c->one_key) == 0) ||
		    schema_field_find(c, m->string))
			return false;
		return cJSON_IsArray(m) ||
		       (all_objects(m) && m->child->next && no_field_names(c, m));
	}
	/* {"0": {..}, "1": {..}}: records keyed by index or id. */
	return all_objects(body) && no_field_names(c, body);
}

const cJSON *schema_unwrap_one(const struct schema_collection *c, const cJSON *body)
{
	const cJSON *m;

	if (!cJSON_IsObject(body) || schema_is_listing(c, body))
		return NULL;
	m = body->child;
	/* A record of one field looks like a wrapper: tell them apart by the key. */
	if (!m || m->next)
		return body;
	if (c && c->one_key && strcmp(m->string, c->one_key) == 0)
		return cJSON_IsObject(m) ? m : NULL;
	if (cJSON_IsObject(m) && !schema_field_find(c, m->string))
		return m;
	return body;
}

/* One part of a record's name, read as @type (an INT from "42", 42 or 42.0 is "42"). */
static char *id_part(const cJSON *v, enum schema_type type)
{
	char num[32];
	double d;

	if (cJSON_IsNumber(v)) {
		jt_number(v->valuedouble, num);
		return strdup(num);
	}
	if (!cJSON_IsString(v) || !*v->valuestring)
		return NULL;
	if (type == SCHEMA_INT && parse_number(v->valuestring, &d) && is_integral(d)) {
		jt_number(d, num);
		return strdup(num);
	}
	return strdup(v->valuestring);
}

static char *id_of(const struct schema_collection *c, const cJSON *rec, const char *name)
{
	const struct schema_field *f = schema_field_find(c, name);

	return id_part(cJSON_GetObjectItemCaseSensitive(rec, name), f ? f->type : c->id_type);
}

char *schema_record_id(const struct schema_collection *c, const cJSON *rec)
{
	char *a = NULL, *b = NULL, *id = NULL;

	if (!c || !c->id_field || !cJSON_IsObject(rec))
		return NULL;
	a = id_of(c, rec, c->id_field);
	if (!a || !c->id_field2)
		return a;
	b = id_of(c, rec, c->id_field2);
	if (b && asprintf(&id, "%s-%s", a, b) < 0)
		id = NULL;
	free(a);
	free(b);
	return id;
}

bool schema_record_is_whole(const struct schema_collection *c, const cJSON *wire)
{
	if (!c || !c->whole_marker)
		return true;
	return cJSON_GetObjectItemCaseSensitive(wire, c->whole_marker) != NULL;
}

time_t schema_date_of(const char *s)
{
	char day[11];
	struct tm tm;

	/* A date, or the date part of "YYYY-MM-DD HH:MM:SS" (kept as it came). */
	if (strlen(s) < 10 || (s[10] && s[10] != ' ' && s[10] != 'T'))
		return 0;
	memcpy(day, s, 10);
	day[10] = '\0';
	if (!parse_date(day, &tm))
		return 0;
	/* Noon UTC keeps the calendar day in every time zone a user is likely in. */
	tm.tm_hour = 12;
	return timegm(&tm);
}

/* @v's date as "YYYY-MM-DD" into @day when it is a string holding one. */
static bool day_of(const cJSON *v, char day[11])
{
	if (!cJSON_IsString(v) || !schema_date_of(v->valuestring))
		return false;
	memcpy(day, v->valuestring, 10);
	day[10] = '\0';
	return true;
}

/* The date of keyed list @v (field @f): that of its first element whose DATE field
 * holds one. */
static bool list_day(const struct schema_field *f, const cJSON *v, char day[11])
{
	const cJSON *e;
	size_t k;

	if (!cJSON_IsArray(v))
		return false;
	cJSON_ArrayForEach(e, v)
	{
		for (k = 0; k < f->nsub; k++)
			if (f->sub[k].type == SCHEMA_DATE &&
			    day_of(cJSON_GetObjectItemCaseSensitive(e, f->sub[k].name), day))
				return true;
	}
	return false;
}

bool schema_record_day(const struct schema_collection *c, const cJSON *rec, char day[11])
{
	size_t i;

	day[0] = '\0';
	for (i = 0; c && i < N(c->date_fields) && c->date_fields[i]; i++) {
		const struct schema_field *f = schema_field_find(c, c->date_fields[i]);
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, c->date_fields[i]);

		if (f && f->type == SCHEMA_KEYED_LIST ? list_day(f, v, day) : day_of(v, day))
			return true;
	}
	day[0] = '\0';
	return false;
}

time_t schema_record_date(const struct schema_collection *c, const cJSON *rec)
{
	char day[11];

	return schema_record_day(c, rec, day) ? schema_date_of(day) : 0;
}

/* The end of day "YYYY-MM-DD" @day, or of minute @hhmm ("HH:MM") of it when given, in
 * nanoseconds since the epoch (UTC); 0 when @day is no date. */
static long long moment_end(const char *day, const char *hhmm)
{
	struct tm tm;
	char d[11], hm[6];
	int h, m;

	/* A date kept with its time ("YYYY-MM-DD HH:MM:SS"): both. */
	if (strlen(day) < 10 || (day[10] && day[10] != ' ' && day[10] != 'T'))
		return 0;
	memcpy(d, day, 10);
	d[10] = '\0';
	if (!hhmm && day[10] && strlen(day + 11) >= 5) {
		memcpy(hm, day + 11, 5);
		hm[5] = '\0';
		hhmm = hm;
	}
	if (!parse_date(d, &tm))
		return 0;
	long long t = (long long)timegm(&tm);
	if (hhmm && strlen(hhmm) == 5 && is_digit(hhmm[0]) && is_digit(hhmm[1]) &&
	    hhmm[2] == ':' && is_digit(hhmm[3]) && is_digit(hhmm[4]) &&
	    (h = (hhmm[0] - '0') * 10 + hhmm[1] - '0') < 24 &&
	    (m = (hhmm[3] - '0') * 10 + hhmm[4] - '0') < 60)
		t += h * 3600 + m * 60 + 60;
	else
		t += 86400;
	return t * 1000000000LL - 1;
}

/* Walks the object at @p: for each member, @fn(@ud, name, value start, end). */
static bool walk_object(const char *p, const char *end,
			void (*fn)(void *ud, const char *name, const char *v, const char *end),
			void *ud)
{
	char name[64];

	p = jt_ws(p, end);
	if (p >= end || *p != '{')
		return false;
	p = jt_ws(p + 1, end);
	if (p < end && *p == '}')
		return true;
	while (p < end && *p == '"') {
		p = jt_string(p, end, name, sizeof(name));
		p = p ? jt_ws(p, end) : NULL;
		if (!p || p >= end || *p != ':')
			return false;
		const char *v = jt_ws(p + 1, end), *e = jt_skip_value(v, end);
		if (!e)
			return false;
		fn(ud, name, v, end);
		p = jt_ws(e, end);
		if (p < end && *p == '}')
			return true;
		if (p >= end || *p != ',')
			return false;
		p = jt_ws(p + 1, end);
	}
	return false;
}

struct changed_scan {
	const struct schema_collection *c;
	long long t;          /* the newest so far */
	char day[16], hhmm[8]; /* an element's */
};

static void element_member(void *ud, const char *name, const char *v, const char *end)
{
	struct changed_scan *k = ud;

	if (*v != '"')
		return;
	if (!strcmp(name, k->c->changed_at[1]))
		jt_string(v, end, k->day, sizeof(k->day));
	else if (k->c->changed_at[2] && !strcmp(name, k->c->changed_at[2]))
		jt_string(v, end, k->hhmm, sizeof(k->hhmm));
}

static void record_member(void *ud, const char *name, const char *v, const char *end)
{
	struct changed_scan *k = ud;
	long long t;

	if (strcmp(name, k->c->changed_at[0]) != 0)
		return;
	if (*v == '"' && !k->c->changed_at[1]) {
		char day[16];
		if (jt_string(v, end, day, sizeof(day)) && (t = moment_end(day, NULL)) > k->t)
			k->t = t;
		return;
	}
	if (*v != '[' || !k->c->changed_at[1])
		return;
	/* The newest of the list's elements. */
	const char *p = jt_ws(v + 1, end);
	while (p < end && *p == '{') {
		const char *e = jt_skip_value(p, end);
		k->day[0] = k->hhmm[0] = '\0';
		if (!e || !walk_object(p, e, element_member, k))
			return;
		if ((t = moment_end(k->day, k->hhmm[0] ? k->hhmm : NULL)) > k->t)
			k->t = t;
		p = jt_ws(e, end);
		if (p >= end || *p != ',')
			return;
		p = jt_ws(p + 1, end);
	}
}

long long schema_record_changed(const struct schema_collection *c, const char *text,
				size_t len)
{
	struct changed_scan k = {.c = c};

	if (!c || !c->changed_at[0] || !text)
		return 0;
	/* A text that does not walk keeps what was found before the fault. */
	walk_object(text, text + len, record_member, &k);
	return k.t;
}

bool schema_parse_number(const char *s, double *out)
{
	return parse_number(s, out);
}

int schema_parse_bool(const char *s)
{
	return parse_bool(s);
}

bool schema_empty_date(const char *s)
{
	return is_empty_date(s);
}

/* ---- pythonic -> wire ------------------------------------------------------------------------ */

/* A message into @dst, like snprintf. */
static void set_err(char *dst, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

/*
 * The wire form of each type, decided here and nowhere else.  No source says what a
 * request body's values must look like; the v1 clients (php json_encode, .NET
 * Json.NET) send JSON bodies with native types, so that is the likeliest reading:
 *   STRING        a string (a number is sent as its text)
 *   INT, FLOAT    a JSON number (numeric strings such as "42" or "10,92" are converted);
 *                 as text with SCHEMA_F_AS_TEXT; other text as written with
 *                 SCHEMA_F_OR_TEXT
 *   BOOL          true / false (0/1 and the wire's string spellings are accepted)
 *   DATE          "YYYY-MM-DD"
 *   null          "" for every scalar type: the wire's own empty value
 *   OBJECT        an object of its sub-fields ([] when empty or null, as the service
 *                 writes an empty object)
 *   KEYED_LIST    {"line1": .., "line2": ..} ([] when empty or null)
 */
/* Text a SCHEMA_F_OR_TEXT number takes: any (a country's name) or, when the field has
 * .values, one of them ("full"). */
static bool text_allowed(const struct schema_field *f, const cJSON *v)
{
	if (!*v->valuestring)
		return false;
	for (size_t i = 0; f->values && f->values[i]; i++)
		if (!strcmp(f->values[i], v->valuestring))
			return true;
	return !f->values;
}

/* "expected a number", or what else the field takes. */
static void number_err(const struct schema_field *f, const char *path, char *err, size_t errlen)
{
	if (!(f->flags & SCHEMA_F_OR_TEXT)) {
		set_err(err, errlen, "field '%s': expected a number", path);
		return;
	}
	if (!f->values) {
		set_err(err, errlen, "field '%s': expected a number or a name", path);
		return;
	}
	set_err(err, errlen, "field '%s': expected a number or \"%s\"", path, f->values[0]);
}

static cJSON *to_wire_scalar(const struct schema_field *f, const cJSON *v, const char *path,
			     char *err, size_t errlen)
{
	double d;
	int b;

	if (cJSON_IsNull(v))
		return cJSON_CreateString("");
	switch (f->type) {
	case SCHEMA_STRING:
		if (cJSON_IsString(v))
			return cJSON_CreateString(v->valuestring);
		if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
			char num[32];
			jt_number(v->valuedouble, num);
			return cJSON_CreateString(num);
		}
		set_err(err, errlen, "field '%s': expected a string", path);
		return NULL;
	case SCHEMA_INT:
	case SCHEMA_FLOAT:
		if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
			d = v->valuedouble;
		else if (cJSON_IsString(v) && parse_number(v->valuestring, &d))
			;
		else if ((f->flags & SCHEMA_F_OR_TEXT) && cJSON_IsString(v) && text_allowed(f, v))
			return cJSON_CreateString(v->valuestring); /* as written: a name, "full" */
		else {
			number_err(f, path, err, errlen);
			return NULL;
		}
		if (f->type == SCHEMA_INT && !is_integral(d)) {
			set_err(err, errlen, "field '%s': expected a whole number", path);
			return NULL;
		}
		if (f->flags & SCHEMA_F_AS_TEXT) {
			char num[32];
			jt_number(d, num);
			return cJSON_CreateString(num);
		}
		return cJSON_CreateNumber(d);
	case SCHEMA_BOOL:
		if (cJSON_IsBool(v))
			return cJSON_CreateBool(cJSON_IsTrue(v));
		if (cJSON_IsNumber(v) && (v->valuedouble == 0 || v->valuedouble == 1))
			return cJSON_CreateBool(v->valuedouble == 1);
		if (cJSON_IsString(v) && (b = parse_bool(v->valuestring)) >= 0)
			return cJSON_CreateBool(b);
		set_err(err, errlen, "field '%s': expected true or false", path);
		return NULL;
	case SCHEMA_DATE:
		if (cJSON_IsString(v) && (!*v->valuestring || parse_date(v->valuestring, NULL)))
			return cJSON_CreateString(v->valuestring);
		set_err(err, errlen, "field '%s': expected a date (YYYY-MM-DD) or null", path);
		return NULL;
	default:
		break;
	}
	set_err(err, errlen, "field '%s': unexpected value", path);
	return NULL;
}

static cJSON *to_wire_object(const struct schema_field *fields, size_t n, const cJSON *obj,
			     const cJSON *sent, const char *prefix, bool create, char *err,
			     size_t errlen);

/*
 * The forms the service has been seen to send a value in, beside the default of the
 * table above: a field that changed goes back in the form the service used for it in
 * that record (docs/API.md, "Values on the wire": one captured record has "0"/"1",
 * another "true"/"false").  One row per form: the types it applies to, how to
 * recognise it in what was sent, how to dress the default wire value (@w, made by
 * to_wire_scalar) in it.  The first row that applies and recognises the sent value
 * wins; none: the default stays.  A dress returns NULL to leave @w as it is.
 */
struct wire_form {
	unsigned types;                             /* 1u << enum schema_type */
	bool (*sent_is)(const cJSON *s);
	cJSON *(*dress)(const cJSON *w, const cJSON *s);
};

static bool is_num_text(const cJSON *s)
{
	double d;
	return cJSON_IsString(s) && parse_number(s->valuestring, &d);
}

static bool is_bool_digit(const cJSON *s)
{
	return cJSON_IsString(s) && (!strcmp(s->valuestring, "0") || !strcmp(s->valuestring, "1"));
}

static bool is_bool_word(const cJSON *s)
{
	return cJSON_IsString(s) && (!strcasecmp(s->valuestring, "true") ||
				     !strcasecmp(s->valuestring, "false"));
}

static bool is_bool_number(const cJSON *s)
{
	return cJSON_IsNumber(s) && (s->valuedouble == 0 || s->valuedouble == 1);
}

static bool is_json_number(const cJSON *s)
{
	return cJSON_IsNumber(s) && isfinite(s->valuedouble);
}

static bool is_zero_date(const cJSON *s)
{
	return cJSON_IsString(s) && (!strcmp(s->valuestring, "0000-00-00") ||
				     !strcmp(s->valuestring, "0000-00-00 00:00:00"));
}

static bool is_null(const cJSON *s)
{
	return cJSON_IsNull(s);
}

/* Decimals after the point (or the Dutch comma) in a number as text: "10.90" 2. */
static int decimals(const char *s)
{
	const char *p = strpbrk(s, ".,");
	return p && !strpbrk(p, "eE") ? (int)strspn(p + 1, "0123456789") : 0;
}

/* 12.5 as "12.50" when the service wrote "10.90": as many decimals as it used, when
 * they hold the value exactly; else the shortest text that reads back the same. */
static cJSON *as_num_text(const cJSON *w, const cJSON *s)
{
	char num[64];
	int k = decimals(s->valuestring);

	if (!cJSON_IsNumber(w))
		return NULL;
	if (k > 0 && k < 10) {
		snprintf(num, sizeof(num), "%.*f", k, w->valuedouble);
		if (strtod(num, NULL) == w->valuedouble)
			return cJSON_CreateString(num);
	}
	jt_number(w->valuedouble, num);
	return cJSON_CreateString(num);
}

static cJSON *as_bool_digit(const cJSON *w, const cJSON *s)
{
	(void)s;
	return cJSON_IsBool(w) ? cJSON_CreateString(cJSON_IsTrue(w) ? "1" : "0") : NULL;
}

/* "true"/"false", capitalised as the service wrote it ("True"). */
static cJSON *as_bool_word(const cJSON *w, const cJSON *s)
{
	bool cap = s->valuestring[0] == 'T' || s->valuestring[0] == 'F';

	if (!cJSON_IsBool(w))
		return NULL;
	if (cJSON_IsTrue(w))
		return cJSON_CreateString(cap ? "True" : "true");
	return cJSON_CreateString(cap ? "False" : "false");
}

static cJSON *as_bool_number(const cJSON *w, const cJSON *s)
{
	(void)s;
	return cJSON_IsBool(w) ? cJSON_CreateNumber(cJSON_IsTrue(w) ? 1 : 0) : NULL;
}

/* A text field the service sent as a JSON number (a zipcode 1234) goes back as one
 * while it is a number. */
static cJSON *as_json_number(const cJSON *w, const cJSON *s)
{
	double d;
	(void)s;
	return cJSON_IsString(w) && parse_number(w->valuestring, &d) &&
			       !strpbrk(w->valuestring, ",") && w->valuestring[0] != '+'
		       ? cJSON_CreateNumber(d)
		       : NULL;
}

/* An emptied date as the service writes none: "0000-00-00" where it did. */
static cJSON *as_zero_date(const cJSON *w, const cJSON *s)
{
	return cJSON_IsString(w) && !*w->valuestring ? cJSON_CreateString(s->valuestring) : NULL;
}

/* A value emptied (null in the file) as JSON null where the service sent null. */
static cJSON *as_null(const cJSON *w, const cJSON *s)
{
	(void)s;
	return cJSON_IsString(w) && !*w->valuestring ? cJSON_CreateNull() : NULL;
}

#define T(t) (1u << (t))
#define T_SCALAR (T(STR) | T(INT) | T(FLOAT) | T(BOOL) | T(DATE))

/* clang-format off */
static const struct wire_form wire_forms[] = {
	/* a number as text ("42", "10.90": as many decimals) */
	{T(INT) | T(FLOAT), is_num_text,    as_num_text},
	/* a boolean as "0"/"1" */
	{T(BOOL),           is_bool_digit,  as_bool_digit},
	/* a boolean as "true"/"false" */
	{T(BOOL),           is_bool_word,   as_bool_word},
	/* a boolean as the number 0/1 */
	{T(BOOL),           is_bool_number, as_bool_number},
	/* text as a JSON number (1234) */
	{T(STR),            is_json_number, as_json_number},
	/* no date as "0000-00-00" */
	{T(DATE),           is_zero_date,   as_zero_date},
	/* no value as null */
	{T_SCALAR,          is_null,        as_null},
};
/* clang-format on */

/* @w (taken) dressed in the form of @sent, the value the service sent for field @f. */
static cJSON *wire_dress(const struct schema_field *f, cJSON *w, const cJSON *sent)
{
	for (size_t i = 0; i < N(wire_forms); i++) {
		const struct wire_form *form = &wire_forms[i];
		cJSON *d;

		if (!(form->types & T(f->type)) || !form->sent_is(sent))
			continue;
		d = form->dress(w, sent);
		if (d) {
			cJSON_Delete(w);
			return d;
		}
		break;
	}
	return w;
}

static cJSON *oom(char *err, size_t errlen)
{
	set_err(err, errlen, "out of memory");
	return NULL;
}

/* Element @i (0-based) of a keyed list as the service sent it ({"line1":..} or [..]),
 * else its first: a form to follow for a line the user added.  NULL when none. */
static const cJSON *sent_element(const struct schema_field *f, const cJSON *sent, size_t i)
{
	char key[64];
	const cJSON *e;

	if (!sent)
		return NULL;
	if (cJSON_IsArray(sent)) {
		e = cJSON_GetArrayItem(sent, (int)i);
		return e ? e : sent->child;
	}
	if (!cJSON_IsObject(sent))
		return NULL;
	set_err(key, sizeof(key), "%s%zu", f->key_prefix ? f->key_prefix : "", i + 1);
	e = cJSON_GetObjectItemCaseSensitive(sent, key);
	return e ? e : sent->child;
}

/* True when pythonic @v is what @sent reads as: the value is unchanged, so it goes
 * back exactly as the service sent it ("10.90" stays "10.90", not "10.9"). */
static bool unchanged(const struct schema_field *f, const cJSON *v, const cJSON *sent)
{
	cJSON *py = sent ? wire_value(f, sent) : NULL;
	bool same = py && cJSON_Compare(py, v, true);

	cJSON_Delete(py);
	return same;
}

static cJSON *to_wire_value(const struct schema_field *f, const cJSON *v, const cJSON *sent,
			    const char *path, bool create, char *err, size_t errlen)
{
	char epath[256], key[64];
	const cJSON *e;
	cJSON *out, *w;
	size_t i = 0;
	bool as_array;

	if (sent && unchanged(f, v, sent)) {
		out = cJSON_Duplicate(sent, true);
		return out ? out : oom(err, errlen);
	}
	if (f->type != SCHEMA_OBJECT && f->type != SCHEMA_KEYED_LIST) {
		w = to_wire_scalar(f, v, path, err, errlen);
		return w && sent ? wire_dress(f, w, sent) : w;
	}
	if (cJSON_IsNull(v) || ((cJSON_IsArray(v) || cJSON_IsObject(v)) && !v->child)) {
		/* Nothing, as the service writes nothing: [] (docs/API.md, "Values on
		 * the wire": an empty object is []), or {} where it sent that.  (sent &&: the
		 * analysers cannot see that cJSON_IsObject takes NULL.) */
		bool braces = sent && cJSON_IsObject(sent) && !sent->child;
		out = braces ? cJSON_CreateObject() : cJSON_CreateArray();
		return out ? out : oom(err, errlen);
	}
	if (f->type == SCHEMA_OBJECT) {
		if (!cJSON_IsObject(v)) {
			set_err(err, errlen, "field '%s': expected an object", path);
			return NULL;
		}
		return to_wire_object(f->sub, f->nsub, v, cJSON_IsObject(sent) ? sent : NULL, path,
				      create, err, errlen);
	}
	if (!cJSON_IsArray(v) && !cJSON_IsObject(v)) {
		set_err(err, errlen, "field '%s': expected a list", path);
		return NULL;
	}
	/* A list the service sent as a JSON array goes back as one. */
	as_array = cJSON_IsArray(v) && sent && cJSON_IsArray(sent) && sent->child;
	out = as_array ? cJSON_CreateArray() : cJSON_CreateObject();
	if (!out)
		return oom(err, errlen);
	/* An array becomes prefix1..N; an object already keyed keeps its keys. */
	cJSON_ArrayForEach(e, v)
	{
		const cJSON *se = cJSON_IsArray(v) ? sent_element(f, sent, i) : NULL;

		if (cJSON_IsArray(v)) {
			set_err(epath, sizeof(epath), "%s[%zu]", path, i);
			set_err(key, sizeof(key), "%s%zu", f->key_prefix ? f->key_prefix : "",
				i + 1);
		} else {
			set_err(epath, sizeof(epath), "%s.%s", path, e->string);
			se = cJSON_IsObject(sent) ? cJSON_GetObjectItemCaseSensitive(sent, e->string)
						  : NULL;
		}
		i++;
		if (!cJSON_IsObject(e)) {
			set_err(err, errlen, "field '%s': expected an object", epath);
			goto fail;
		}
		w = to_wire_object(f->sub, f->nsub, e, cJSON_IsObject(se) ? se : NULL, epath,
				   create, err, errlen);
		if (!w)
			goto fail;
		if (as_array ? !append(out, w) : !add(out, cJSON_IsArray(v) ? key : e->string, w)) {
			oom(err, errlen);
			goto fail;
		}
	}
	return out;
fail:
	cJSON_Delete(out);
	return NULL;
}

/* The value of @obj's field that @f's required_if names ("action=send": "action") when
 * it is one of the values listed there: NULL when the condition does not hold. */
static const char *required_because(const struct schema_field *fields, size_t n,
				    const cJSON *obj, const struct schema_field *f)
{
	const char *eq = strchr(f->required_if, '='), *vals, *p;
	char name[64];
	const struct schema_field *other = NULL;
	const cJSON *v;
	size_t len;

	if (!eq || (size_t)(eq - f->required_if) >= sizeof(name))
		return NULL;
	memcpy(name, f->required_if, (size_t)(eq - f->required_if));
	name[eq - f->required_if] = '\0';
	other = field_in(fields, n, name);
	v = other ? field_value(obj, other) : NULL;
	if (!v || !cJSON_IsString(v) || !v->valuestring)
		return NULL;
	len = strlen(v->valuestring);
	for (vals = eq + 1; *vals; vals = *p ? p + 1 : p) {
		p = strchr(vals, ',');
		if (!p)
			p = vals + strlen(vals);
		if ((size_t)(p - vals) == len && !strncmp(vals, v->valuestring, len))
			return v->valuestring;
	}
	return NULL;
}

static bool check_required(const struct schema_field *fields, size_t n, const cJSON *obj,
			   const char *prefix, bool create, char *err, size_t errlen)
{
	char path[256];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct schema_field *f = &fields[i];
		const cJSON *v = field_value(obj, f);
		const char *because;

		set_err(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
			f->name);
		/* A field the service needs for what the record asks (an invoice sent needs
		 * its sendmethod): said here rather than by a 400 after a call. */
		if (create && f->required_if && (!v || cJSON_IsNull(v) ||
						  (cJSON_IsString(v) && !*v->valuestring)) &&
		    (because = required_because(fields, n, obj, f))) {
			set_err(err, errlen, "missing field '%s': required when '%.*s' is \"%s\"",
				path, (int)(strchr(f->required_if, '=') - f->required_if),
				f->required_if, because);
			return false;
		}
		if (!(f->flags & SCHEMA_F_REQUIRED))
			continue;
		if (!v || cJSON_IsNull(v)) {
			set_err(err, errlen, "missing required field '%s'", path);
			return false;
		}
		if (f->type == SCHEMA_KEYED_LIST && (cJSON_IsArray(v) || cJSON_IsObject(v)) &&
		    !v->child) {
			set_err(err, errlen, "field '%s': must not be empty", path);
			return false;
		}
	}
	return true;
}

/* @obj's fields in wire form.  @sent (may be NULL): the same object as the service
 * sent it, whose names and forms the fields follow (see schema_to_wire_as). */
static cJSON *to_wire_object(const struct schema_field *fields, size_t n, const cJSON *obj,
			     const cJSON *sent, const char *prefix, bool create, char *err,
			     size_t errlen)
{
	char path[256];
	const cJSON *m;
	cJSON *out, *w;

	if (!check_required(fields, n, obj, prefix, create, err, errlen))
		return NULL;
	out = cJSON_CreateObject();
	if (!out)
		return oom(err, errlen);
	cJSON_ArrayForEach(m, obj)
	{
		const struct schema_field *f = field_in(fields, n, m->string);

		if (!f) {
			/* Unknown to the dictionary: the API may know it, so it goes as it is. */
			if (!add(out, m->string, cJSON_Duplicate(m, true)))
				goto nomem;
			continue;
		}
		/* A php alias beside the .NET name, or a repeated key: the first value wins. */
		if (field_value(obj, f) != m)
			continue;
		if ((f->flags & SCHEMA_F_READONLY) || ((f->flags & SCHEMA_F_CREATE) && !create))
			continue;
		set_err(path, sizeof(path), "%s%s%s", prefix ? prefix : "", prefix ? "." : "",
			f->name);
		/* Under the name the service used for it: the .NET name or php's alias. */
		const cJSON *sv = sent ? field_value(sent, f) : NULL;
		w = to_wire_value(f, m, sv, path, create, err, errlen);
		if (!w)
			goto fail;
		if (!add(out, sv ? sv->string : f->name, w))
			goto nomem;
	}
	return out;
nomem:
	oom(err, errlen);
fail:
	cJSON_Delete(out);
	return NULL;
}

cJSON *schema_to_wire_as(const struct schema_collection *c, const cJSON *rec, const cJSON *sent,
			 bool create, char *err, size_t errlen)
{
	if (!c || !cJSON_IsObject(rec)) {
		set_err(err, errlen, "expected a JSON object");
		return NULL;
	}
	return to_wire_object(c->fields, c->nfields, rec, cJSON_IsObject(sent) ? sent : NULL, NULL,
			      create, err, errlen);
}

cJSON *schema_to_wire(const struct schema_collection *c, const cJSON *rec, bool create,
		      char *err, size_t errlen)
{
	return schema_to_wire_as(c, rec, NULL, create, err, errlen);
}

/* The areas of the service's search (search/<area>/<field|all>/<query>): the
 * collections its search page names, in the order search/ lists them. */
static const char *const search_areas[] = {"clients", "products", "invoices", "invoices_saved",
					   "invoices_repeated"};

size_t schema_nsearch_areas(void)
{
	return N(search_areas);
}

const struct schema_collection *schema_search_area_at(size_t i)
{
	return i < N(search_areas) ? schema_find(search_areas[i]) : NULL;
}
