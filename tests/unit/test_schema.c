/* Unit tests for src/schema.c.
 *
 * Fixtures are C literals written with single quotes for readability; js() turns
 * them into JSON (so a fixture cannot hold a literal apostrophe: write \u0027).
 */
#include "model/jsontext.h"
#include "model/schema.h"
#include "unit.h"

#include <stdlib.h>

static const struct schema_collection *clients, *products, *invoices, *saved, *repeated, *taxes,
	*balance, *profiles, *payments;

/* Parses a single-quoted fixture; a broken fixture is a bug in the test: stop. */
static cJSON *js(const char *sq)
{
	char *text = strdup(sq), *p;
	cJSON *j;

	if (!text)
		abort();
	for (p = text; *p; p++)
		if (*p == '\'')
			*p = '"';
	j = cJSON_Parse(text);
	if (!j) {
		printf("broken fixture: %s\n", text);
		exit(2);
	}
	free(text);
	return j;
}

/* Compares @got with fixture @want as formatted text: values, types and key order. */
static bool check_json_at(const cJSON *got, const char *want, int line)
{
	cJSON *w = js(want);
	char *a = jt_format(got, NULL), *b = jt_format(w, NULL);
	bool ok = a && b && strcmp(a, b) == 0;

	if (ok) {
		unit_passed++;
	} else {
		char *ga = got ? cJSON_PrintUnformatted(got) : NULL;
		char *wa = cJSON_PrintUnformatted(w);

		unit_failed++;
		printf("%s:%d: got %s, want %s\n", __FILE__, line, ga ? ga : "NULL", wa ? wa : "?");
		free(ga);
		free(wa);
	}
	free(a);
	free(b);
	cJSON_Delete(w);
	return ok;
}

#define CHECK_JSON(got, want) check_json_at((got), (want), __LINE__)

/* schema_from_wire on a fixture, compared with the expected pythonic fixture. */
static void check_from_wire_at(const struct schema_collection *c, const char *wire,
			       const char *want, int line)
{
	cJSON *w = js(wire), *p = schema_from_wire(c, w);

	check_json_at(p, want, line);
	cJSON_Delete(p);
	cJSON_Delete(w);
}

#define CHECK_FROM_WIRE(c, wire, want) check_from_wire_at((c), (wire), (want), __LINE__)

/* schema_to_wire on a fixture: @want is the expected body, or NULL with @want_err. */
static void check_to_wire_at(const struct schema_collection *c, const char *rec, bool create,
			     const char *want, const char *want_err, int line)
{
	cJSON *r = js(rec), *w;
	char err[256] = "";

	w = schema_to_wire(c, r, create, err, sizeof(err));
	if (want) {
		check_json_at(w, want, line);
	} else {
		unit_check(w == NULL, __FILE__, line, "schema_to_wire() fails");
		unit_check_str(err, want_err, __FILE__, line, "error");
	}
	cJSON_Delete(w);
	cJSON_Delete(r);
}

#define CHECK_TO_WIRE(c, rec, create, want)                                                        \
	check_to_wire_at((c), (rec), (create), (want), NULL, __LINE__)
#define CHECK_TO_WIRE_ERR(c, rec, create, err)                                                     \
	check_to_wire_at((c), (rec), (create), NULL, (err), __LINE__)

/* ---- the dictionary ------------------------------------------------------------------------ */

static void test_tables(void)
{
	static const char *const names[] = {"clients",	   "products", "invoices",
					    "invoices_saved", "invoices_repeated", "profiles",
					    "taxes",	   "countrylist", "invoices_payment",
					    "balance", "quotations", "categories",
					    "invoices_reminder", "invoices_saved_send"};
	const struct schema_field *f;
	size_t i, j;

	CHECK(schema_ncollections() == sizeof(names) / sizeof(names[0]));
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const struct schema_collection *c = schema_collection_at(i);

		CHECK_STR(c ? c->name : NULL, names[i]);
		CHECK(schema_find(names[i]) == c);
		if (!c)
			continue;
		/* Every name the collection row uses is a field of its table. */
		if (c->id_field)
			CHECK(schema_field_find(c, c->id_field) != NULL);
		if (c->id_field2)
			CHECK(schema_field_find(c, c->id_field2) != NULL);
		if (c->whole_marker)
			CHECK(schema_field_find(c, c->whole_marker) != NULL);
		/* A date field, or a keyed list whose elements have one (history). */
		for (j = 0; j < 4 && c->date_fields[j]; j++) {
			f = schema_field_find(c, c->date_fields[j]);
			CHECK(f && (f->type == SCHEMA_DATE || f->type == SCHEMA_KEYED_LIST));
			if (f && f->type == SCHEMA_KEYED_LIST) {
				bool dated = false;
				for (size_t k = 0; k < f->nsub; k++)
					dated |= f->sub[k].type == SCHEMA_DATE;
				CHECK(dated);
			}
		}
		/* A write-only collection: what it acts on, how it is sent, what it did. */
		if (c->acts_on) {
			CHECK(schema_find(c->acts_on) != NULL);
			CHECK(c->send[0].method && c->send[0].path && c->done);
			CHECK(!(c->methods & SCHEMA_M_LIST) && (c->methods & SCHEMA_M_PUT));
		}
		if (c->changes_too)
			CHECK(schema_find(c->changes_too) != NULL);
		for (j = 0; j < c->nfields; j++) {
			f = &c->fields[j];
			if (f->type == SCHEMA_KEYED_LIST)
				CHECK(f->key_prefix && f->sub && f->nsub);
			if (f->type == SCHEMA_OBJECT)
				CHECK(f->sub && f->nsub);
			/* An alias is no other field's name: from_wire shows a shadowed alias
			 * as an unknown field beside the known ones. */
			if (f->alias)
				CHECK(schema_field_find(c, f->alias) == f);
		}
	}
	CHECK(schema_collection_at(schema_ncollections()) == NULL);
	CHECK(schema_find("nope") == NULL);
	CHECK(schema_find(NULL) == NULL);

	CHECK_STR(clients->one_key, "client");
	CHECK_STR(clients->id_field, "clientnr");
	CHECK(clients->id_type == SCHEMA_INT);
	CHECK(clients->methods == (SCHEMA_M_LIST | SCHEMA_M_GET | SCHEMA_M_POST | SCHEMA_M_PUT |
				   SCHEMA_M_DELETE));
	CHECK_STR(invoices->id_field, "invoicenr");
	CHECK(invoices->id_type == SCHEMA_STRING);
	CHECK((invoices->methods & SCHEMA_M_POST) && !(invoices->methods & SCHEMA_M_PUT));
	CHECK_STR(invoices->pdf_path, "invoices_pdf");
	CHECK_STR(invoices->whole_marker, "lines");
	CHECK_STR(repeated->one_key, "invoices_saved");
	CHECK(saved->methods == (SCHEMA_M_LIST | SCHEMA_M_GET | SCHEMA_M_DELETE));
	CHECK(profiles->methods == SCHEMA_M_LIST && profiles->one_key == NULL);
	CHECK_STR(taxes->id_field2, "type");
	CHECK(balance->single && balance->id_field == NULL && balance->nfields == 0);
	CHECK(!clients->single);

	f = schema_field_find(clients, "tax_type");
	CHECK_STR(f ? f->name : NULL, "taxtype");
	f = schema_field_find(clients, "mandate_date");
	CHECK(f && f->type == SCHEMA_DATE && strcmp(f->name, "mandatedate") == 0);
	f = schema_field_find(invoices, "lines");
	CHECK(f && f->type == SCHEMA_KEYED_LIST && (f->flags & SCHEMA_F_REQUIRED));
	f = schema_field_find(invoices, "action");
	CHECK(f && (f->flags & SCHEMA_F_CREATE));
	f = schema_field_find(products, "price");
	CHECK(f && f->type == SCHEMA_FLOAT && (f->flags & SCHEMA_F_REQUIRED));
	CHECK(schema_field_find(clients, "nope") == NULL);
	CHECK(schema_field_find(balance, "balance") == NULL);
	CHECK(schema_field_find(NULL, "id") == NULL);
}

/* ---- wire -> pythonic ------------------------------------------------------------------------ */

static void test_numbers(void)
{
	/* As strings, as JSON numbers, with a decimal comma. */
	CHECK_FROM_WIRE(clients,
			"{'clientnr':'42','country':'146','top':'14','stddiscount':'2.5',"
			"'default_email':'1'}",
			"{'clientnr':42,'country':146,'default_email':1,'top':14,"
			"'stddiscount':2.5}");
	CHECK_FROM_WIRE(clients, "{'clientnr':42,'top':14,'stddiscount':2.5}",
			"{'clientnr':42,'top':14,'stddiscount':2.5}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'10,92'}", "{'stddiscount':10.92}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'-0,5'}", "{'stddiscount':-0.5}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'10'}", "{'stddiscount':10}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'1e2'}", "{'stddiscount':100}");
	CHECK_FROM_WIRE(clients, "{'top':'14.0'}", "{'top':14}");
	/* What does not convert is kept as it came, never dropped. */
	CHECK_FROM_WIRE(clients, "{'clientnr':'abc'}", "{'clientnr':'abc'}");
	CHECK_FROM_WIRE(clients, "{'top':'4.5'}", "{'top':'4.5'}");
	CHECK_FROM_WIRE(clients, "{'top':4.5}", "{'top':4.5}");
	CHECK_FROM_WIRE(clients, "{'top':'12345678901234567890'}",
			"{'top':'12345678901234567890'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'1.234,5'}", "{'stddiscount':'1.234,5'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':' 2'}", "{'stddiscount':' 2'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'0x10'}", "{'stddiscount':'0x10'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'nan'}", "{'stddiscount':'nan'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':'1e999'}", "{'stddiscount':'1e999'}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':true}", "{'stddiscount':true}");
	CHECK_FROM_WIRE(clients, "{'stddiscount':[]}", "{'stddiscount':[]}");
	/* Strings stay strings, even when they look like numbers. */
	CHECK_FROM_WIRE(clients, "{'zipcode':'1234','phone':0612345678}",
			"{'zipcode':'1234','phone':612345678}");
}

static void test_bools(void)
{
	CHECK_FROM_WIRE(clients,
			"{'showcontact':'0','tax_shifted':'1','notes_on_invoice':'true',"
			"'active':'false'}",
			"{'showcontact':false,'tax_shifted':true,'notes_on_invoice':true,"
			"'active':false}");
	CHECK_FROM_WIRE(clients, "{'showcontact':0,'active':1}",
			"{'showcontact':false,'active':true}");
	CHECK_FROM_WIRE(clients, "{'showcontact':false,'active':true}",
			"{'showcontact':false,'active':true}");
	CHECK_FROM_WIRE(clients, "{'showcontact':'yes','active':'no'}",
			"{'showcontact':true,'active':false}");
	CHECK_FROM_WIRE(clients, "{'showcontact':'TRUE','active':'False'}",
			"{'showcontact':true,'active':false}");
	CHECK_FROM_WIRE(clients, "{'showcontact':'2','active':2}",
			"{'showcontact':'2','active':2}");
	CHECK_FROM_WIRE(clients, "{'active':'maybe'}", "{'active':'maybe'}");
}

static void test_empty_values(void)
{
	/* "" is null for INT/FLOAT/BOOL/DATE and stays "" for strings. */
	CHECK_FROM_WIRE(clients,
			"{'clientnr':'','company':'','showcontact':'','top':'','stddiscount':'',"
			"'lastinvoice':''}",
			"{'clientnr':null,'showcontact':null,'company':'','top':null,"
			"'stddiscount':null,'lastinvoice':null}");
	CHECK_FROM_WIRE(clients, "{'lastinvoice':'0000-00-00','timestamp':'0000-00-00 00:00:00'}",
			"{'lastinvoice':null,'timestamp':null}");
	CHECK_FROM_WIRE(clients, "{'lastinvoice':'2024-03-05','timestamp':'2024-03-05 10:11:12'}",
			"{'lastinvoice':'2024-03-05','timestamp':'2024-03-05 10:11:12'}");
	CHECK_FROM_WIRE(clients, "{'lastinvoice':'2024-13-45'}", "{'lastinvoice':'2024-13-45'}");
	CHECK_FROM_WIRE(clients, "{'lastinvoice':null,'company':null}",
			"{'company':null,'lastinvoice':null}");
	/* The wire's [] for an empty object. */
	CHECK_FROM_WIRE(clients, "{'reference':[]}", "{'reference':{}}");
	CHECK_FROM_WIRE(clients, "{'reference':{}}", "{'reference':{}}");
	CHECK_FROM_WIRE(clients, "{'reference':{'line2':'b','line1':'a','extra':1}}",
			"{'reference':{'line1':'a','line2':'b','extra':1}}");
	CHECK_FROM_WIRE(clients, "{'reference':['a']}", "{'reference':['a']}");
	CHECK_FROM_WIRE(clients, "{'reference':''}", "{'reference':''}");
}

static void test_keyed_lists(void)
{
	/* Keyed line1..line12, in any order: numeric order, line10 after line9. */
	CHECK_FROM_WIRE(invoices,
			"{'lines':{'line10':{'description':'d10'},'line2':{'description':'d2'},"
			"'line1':{'description':'d1'},'line12':{'description':'d12'},"
			"'line3':{'description':'d3'},'line4':{'description':'d4'},"
			"'line11':{'description':'d11'},'line5':{'description':'d5'},"
			"'line6':{'description':'d6'},'line7':{'description':'d7'},"
			"'line9':{'description':'d9'},'line8':{'description':'d8'}}}",
			"{'lines':[{'description':'d1'},{'description':'d2'},{'description':'d3'},"
			"{'description':'d4'},{'description':'d5'},{'description':'d6'},"
			"{'description':'d7'},{'description':'d8'},{'description':'d9'},"
			"{'description':'d10'},{'description':'d11'},{'description':'d12'}]}");
	/* Elements are converted by their own sub-fields, unknown sub-fields kept. */
	CHECK_FROM_WIRE(invoices,
			"{'lines':{'line1':{'vat_code':'x','price':'10,92','amount':'4',"
			"'linetotal':43.68,'description':'a','aa':[]}}}",
			"{'lines':[{'amount':4,'description':'a','price':10.92,'linetotal':43.68,"
			"'aa':[],'vat_code':'x'}]}");
	/* Already an array. */
	CHECK_FROM_WIRE(invoices, "{'lines':[{'amount':'1'},{'amount':2}]}",
			"{'lines':[{'amount':1},{'amount':2}]}");
	/* Empty, as [] or {}. */
	CHECK_FROM_WIRE(invoices, "{'lines':[],'taxes':{},'history':[]}",
			"{'lines':[],'taxes':[],'history':[]}");
	/* Bare numeric keys, as PHP writes a sparse array. */
	CHECK_FROM_WIRE(invoices, "{'lines':{'1':{'amount':'2'},'0':{'amount':'1'}}}",
			"{'lines':[{'amount':1},{'amount':2}]}");
	/* Other prefixes. */
	CHECK_FROM_WIRE(invoices,
			"{'taxes':{'tax2':{'rate':'9','sum':'0,90','sum_of':'10'},"
			"'tax1':{'rate':21,'sum':'2.10','sum_of':'10.00'}},"
			"'history':{'item1':{'date':'2024-03-05','time':'12:00',"
			"'description':'sent'}}}",
			"{'taxes':[{'rate':21,'sum':2.1,'sum_of':10},"
			"{'rate':9,'sum':0.9,'sum_of':10}],"
			"'history':[{'date':'2024-03-05','time':'12:00','description':'sent'}]}");
	/* A key that is no line number: the object is kept as it came. */
	CHECK_FROM_WIRE(invoices, "{'lines':{'line1':{'amount':'1'},'note':'x'}}",
			"{'lines':{'line1':{'amount':'1'},'note':'x'}}");
	CHECK_FROM_WIRE(invoices, "{'lines':{'line':{'amount':'1'}}}",
			"{'lines':{'line':{'amount':'1'}}}");
	CHECK_FROM_WIRE(invoices, "{'lines':{'linex1':{'amount':'1'}}}",
			"{'lines':{'linex1':{'amount':'1'}}}");
	/* Elements that are no objects are kept as they came. */
	CHECK_FROM_WIRE(invoices, "{'lines':{'line1':'text','line2':{'amount':'2'}}}",
			"{'lines':['text',{'amount':2}]}");
	CHECK_FROM_WIRE(invoices, "{'lines':''}", "{'lines':''}");
}

static void test_unknown_and_order(void)
{
	/* Known fields in dictionary order, then the unknown ones sorted by name. */
	CHECK_FROM_WIRE(clients,
			"{'zeta':'1','timestamp':'2024-01-01','alpha':{'b':'2','a':'1'},"
			"'company':'X','clientnr':'7','Beta':[],'é':'e'}",
			"{'clientnr':7,'company':'X','timestamp':'2024-01-01','Beta':[],"
			"'alpha':{'b':'2','a':'1'},'zeta':'1','é':'e'}");
	/* balance: no known fields; everything as it came. */
	CHECK_FROM_WIRE(balance, "{'open':'12.50','balance':'3','0':false}",
			"{'0':false,'balance':'3','open':'12.50'}");
	/* php spellings are read under the .NET name. */
	CHECK_FROM_WIRE(clients,
			"{'tax_type':'intra','default_doclang':'nl','default_category':'3',"
			"'mandate_id':'M1','mandate_date':'2020-01-02'}",
			"{'taxtype':'intra','defaultdoclang':'nl','defaultcategory':'3',"
			"'mandateid':'M1','mandatedate':'2020-01-02'}");
	CHECK_FROM_WIRE(clients, "{'mandate_date':''}", "{'mandatedate':null}");
	/* Both spellings: the .NET one wins, the php one stays beside it, unknown. */
	CHECK_FROM_WIRE(clients, "{'tax_type':'php','taxtype':'net'}",
			"{'taxtype':'net','tax_type':'php'}");
	/* A repeated key keeps its first value, as every cJSON lookup does. */
	CHECK_FROM_WIRE(clients, "{'company':'first','company':'second','x':1,'x':2}",
			"{'company':'first','x':1}");
	CHECK(schema_from_wire(clients, NULL) == NULL);
	{
		cJSON *a = js("[{'clientnr':'1'}]");

		CHECK(schema_from_wire(clients, a) == NULL);
		CHECK(schema_from_wire(NULL, a->child) == NULL);
		cJSON_Delete(a);
	}
}

/* Bytes that are not UTF-8 read as ISO-8859-1, so a file is always UTF-8. */
static void test_invalid_utf8(void)
{
	cJSON *w, *p;
	char *id;

	/* Latin-1 text, in a known field, an unknown one, a key, nested values. */
	CHECK_FROM_WIRE(clients,
			"{'company':'Caf\xe9 M\xfcller','n\xe4me':'x',"
			"'extra':{'k\xe9y':['\xa9 2024',1]}}",
			"{'company':'Caf\xc3\xa9 M\xc3\xbcller',"
			"'extra':{'k\xc3\xa9y':['\xc2\xa9 2024',1]},'n\xc3\xa4me':'x'}");
	/* Valid UTF-8 is kept, up to four bytes; only the bytes that start no sequence change. */
	CHECK_FROM_WIRE(products,
			"{'name':'Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc3\xa9\xe9'}",
			"{'name':'Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc3\xa9\xc3\xa9'}");
	/* Overlong forms, UTF-16 surrogates, code points above U+10FFFF, cut sequences and
	 * stray continuation bytes are no UTF-8: each byte becomes a character. */
	CHECK_FROM_WIRE(products, "{'name':'\xc0\xaf'}", "{'name':'\xc3\x80\xc2\xaf'}");
	CHECK_FROM_WIRE(products, "{'name':'\xed\xa0\x80'}",
			"{'name':'\xc3\xad\xc2\xa0\xc2\x80'}");
	CHECK_FROM_WIRE(products, "{'name':'\xf4\x90\x80\x80'}",
			"{'name':'\xc3\xb4\xc2\x90\xc2\x80\xc2\x80'}");
	CHECK_FROM_WIRE(products, "{'name':'a\xe2\x82'}", "{'name':'a\xc3\xa2\xc2\x82'}");
	CHECK_FROM_WIRE(products, "{'name':'\x80x\xff'}", "{'name':'\xc2\x80x\xc3\xbf'}");
	/* Keyed lists: in an element, and in a list kept as it came. */
	CHECK_FROM_WIRE(invoices, "{'lines':{'line1':{'description':'cr\xe8me'}}}",
			"{'lines':[{'description':'cr\xc3\xa8me'}]}");
	CHECK_FROM_WIRE(invoices, "{'lines':{'x\xe9':{'description':'\xe9'}}}",
			"{'lines':{'x\xc3\xa9':{'description':'\xc3\xa9'}}}");
	/* Repaired keys sort as they are shown, and two keys that become one keep the first. */
	CHECK_FROM_WIRE(balance, "{'\xe9':1,'z':2,'\xc3\xa9':3}", "{'z':2,'\xc3\xa9':1}");
	CHECK_FROM_WIRE(balance, "{'\xc3\xa9':3,'\xe9':1}", "{'\xc3\xa9':3}");
	CHECK_FROM_WIRE(balance, "{'x':{'\xc3\xa9':3,'\xe9':1}}", "{'x':{'\xc3\xa9':3}}");
	/* The identifier stays the service's own bytes: it names the record in URLs. */
	w = js("{'invoicenr':'F\xe9-1'}");
	p = schema_from_wire(invoices, w);
	id = schema_record_id(invoices, w);
	CHECK_STR(id, "F\xe9-1");
	CHECK_JSON(p, "{'invoicenr':'F\xc3\xa9-1'}");
	free(id);
	cJSON_Delete(p);
	cJSON_Delete(w);
}

/* What is kept as it came is still something a file can hold and a save send back. */
static void test_kept_values(void)
{
	cJSON *w, *p;

	/* A key repeated inside a value kept as it came keeps its first value too. */
	CHECK_FROM_WIRE(clients, "{'x':{'k':1,'k':2,'l':[{'a':1,'a':2}]}}",
			"{'x':{'k':1,'l':[{'a':1}]}}");
	CHECK_FROM_WIRE(invoices, "{'lines':{'a':{'price':1},'a':{'price':2}}}",
			"{'lines':{'a':{'price':1}}}");
	CHECK_FROM_WIRE(invoices, "{'lines':[{'price':'1','price':'2'}]}",
			"{'lines':[{'price':1}]}");
	/* A number beyond a double (1e999 reads as infinity) is null, as the file shows it. */
	w = cJSON_Parse("{\"price\": 1e999, \"x\": [-1e999, 1e-999]}");
	p = schema_from_wire(products, w);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(p, "price")));
	CHECK(cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "x"), 0)));
	CHECK(cJSON_IsNumber(cJSON_GetArrayItem(cJSON_GetObjectItem(p, "x"), 1)));
	cJSON_Delete(p);
	cJSON_Delete(w);
}

static void test_ids_in_records(void)
{
	CHECK_FROM_WIRE(invoices, "{'id':'4','invoicenr':'2009-04'}",
			"{'id':4,'invoicenr':'2009-04'}");
	CHECK_FROM_WIRE(invoices, "{'id':4,'invoicenr':2009}", "{'id':4,'invoicenr':2009}");
	CHECK_FROM_WIRE(taxes, "{'type':'H','percentage':'21','default':'1','country':'NL'}",
			"{'percentage':21,'type':'H','default':true,'country':'NL'}");
	CHECK_FROM_WIRE(schema_find("countrylist"), "{'name':'Afghanistan','id':'1'}",
			"{'id':1,'name':'Afghanistan'}");
	CHECK_FROM_WIRE(profiles, "{'id':'1','name':'Standaard','default':'1'}",
			"{'id':1,'name':'Standaard','default':true}");
	CHECK_FROM_WIRE(products,
			"{'id':'3','code':'P1','name':'Pen','price':'2.50','taxes':'21',"
			"'priceintax':'3.03'}",
			"{'id':3,'code':'P1','name':'Pen','price':2.5,'taxes':21,"
			"'priceintax':3.03}");
	CHECK_FROM_WIRE(repeated,
			"{'id':'9','datesaved':'2024-01-01','initialdate':'2024-02-01',"
			"'nextsenddate':'','finalsenddate':'0000-00-00','frequency':'monthly',"
			"'lines':{'line1':{'amount':'1'}},'collection':'1','totalintax':'12,10'}",
			"{'id':9,'lines':[{'amount':1}],'totalintax':12.1,'collection':true,"
			"'datesaved':'2024-01-01','initialdate':'2024-02-01','nextsenddate':null,"
			"'finalsenddate':null,'frequency':'monthly'}");
}

/* A whole invoice as the v1 API sends it (cf. the captured responses in jfactuursturen). */
static const char wire_invoice[] =
	"{'id':'4','invoicenr':'2009\\/04','invoicenr_full':'F2009\\/04','profile':'1',"
	"'clientnr':'42','reference':{'line1':'PO 7','line2':'','line3':''},"
	"'company':'Zo\u00eb B.V.','contact':'Zo\u00eb','address':'Straat 1','zipcode':'1234 AB',"
	"'city':'Utrecht','country':'146','phone':'','mobile':'','email':'zoe@example.nl',"
	"'taxnumber':'','invoicenote':'','date':'2024-03-05',"
	"'lines':{'line2':{'amount':1,'amount_desc':'','description':'Hosting','tax_rate':21,"
	"'price':'10,92','discount_pct':0,'linetotal':'10.92'},"
	"'line1':{'amount':'4','amount_desc':'uur','description':'Werk \\/ advies',"
	"'tax_rate':'21','price':'75.00','discount_pct':'0','linetotal':300}},"
	"'discounttype':'amount','discount':'0.00','paymentcondition':'','paymentperiod':'14',"
	"'collection':'0','tax':'65.29','totalintax':'376.21',"
	"'taxes':{'tax1':{'rate':21,'sum':'65.29','sum_of':'310.92'}},'tax_type':'intra',"
	"'tax_shifted':'false','language':'nl','sent':'2024-03-05','duedate':'2024-03-19',"
	"'paiddate':'','open':'376.21','uncollectible':'0000-00-00','lastreminder':'',"
	"'payment_url':'https:\\/\\/pay.example\\/x','history':[],'zz_new':'kept',"
	"'aa_new':{'x':'1'}}";

static const char py_invoice[] =
	"{'id':4,'invoicenr':'2009/04','invoicenr_full':'F2009/04','profile':1,'clientnr':42,"
	"'reference':{'line1':'PO 7','line2':'','line3':''},'company':'Zo\u00eb B.V.',"
	"'contact':'Zo\u00eb','address':'Straat 1','zipcode':'1234 AB','city':'Utrecht',"
	"'country':146,'phone':'','mobile':'','email':'zoe@example.nl','taxnumber':'',"
	"'invoicenote':'','date':'2024-03-05',"
	"'lines':[{'amount':4,'amount_desc':'uur','description':'Werk / advies','tax_rate':21,"
	"'price':75,'discount_pct':0,'linetotal':300},"
	"{'amount':1,'amount_desc':'','description':'Hosting','tax_rate':21,'price':10.92,"
	"'discount_pct':0,'linetotal':10.92}],"
	"'discounttype':'amount','discount':0,'paymentcondition':'','paymentperiod':14,"
	"'collection':false,'tax':65.29,'totalintax':376.21,"
	"'taxes':[{'rate':21,'sum':65.29,'sum_of':310.92}],'tax_type':'intra',"
	"'tax_shifted':false,'language':'nl','sent':'2024-03-05','duedate':'2024-03-19',"
	"'paiddate':null,'open':376.21,'uncollectible':null,'lastreminder':null,"
	"'payment_url':'https://pay.example/x','history':[],'aa_new':{'x':'1'},'zz_new':'kept'}";

/* What a POST of that invoice's file sends: writable fields in native types. */
static const char post_invoice[] =
	"{'profile':1,'clientnr':42,'reference':{'line1':'PO 7','line2':'','line3':''},"
	"'invoicenote':'',"
	"'lines':{'line1':{'amount':4,'amount_desc':'uur','description':'Werk / advies',"
	"'tax_rate':21,'price':75,'discount_pct':0},"
	"'line2':{'amount':1,'amount_desc':'','description':'Hosting','tax_rate':21,"
	"'price':10.92,'discount_pct':0}},"
	"'discounttype':'amount','discount':0,'paymentcondition':'','paymentperiod':14,"
	"'collection':false,'aa_new':{'x':'1'},'zz_new':'kept'}";

static void test_whole_invoice(void)
{
	CHECK_FROM_WIRE(invoices, wire_invoice, py_invoice);
}

/* ---- listings and records ------------------------------------------------------------------- */

static void check_items_at(const char *body, const char *want, int line)
{
	cJSON *b = js(body), *items = schema_list_items(b);

	if (want)
		check_json_at(items, want, line);
	else
		unit_check(items == NULL, __FILE__, line, "schema_list_items() == NULL");
	cJSON_Delete(items);
	cJSON_Delete(b);
}

#define CHECK_ITEMS(body, want) check_items_at((body), (want), __LINE__)

static void test_list_items(void)
{
	CHECK_ITEMS("[{'clientnr':'1'},{'clientnr':'2'}]", "[{'clientnr':'1'},{'clientnr':'2'}]");
	CHECK_ITEMS("{'clients':[{'clientnr':'1'},{'clientnr':'2'}]}",
		    "[{'clientnr':'1'},{'clientnr':'2'}]");
	CHECK_ITEMS("{'0':{'clientnr':'1'},'1':{'clientnr':'2'}}",
		    "[{'clientnr':'1'},{'clientnr':'2'}]");
	CHECK_ITEMS("{'0':{'clientnr':'1'}}", "[{'clientnr':'1'}]");
	CHECK_ITEMS("{'2024-001':{'invoicenr':'2024-001'}}", "[{'invoicenr':'2024-001'}]");
	CHECK_ITEMS("{'clients':{'0':{'clientnr':'1'},'1':{'clientnr':'2'}}}",
		    "[{'clientnr':'1'},{'clientnr':'2'}]");
	CHECK_ITEMS("[]", "[]");
	CHECK_ITEMS("{'clients':[]}", "[]");
	/* Not a list of records: never an empty listing. */
	CHECK_ITEMS("{}", NULL);
	CHECK_ITEMS("{'clients':{}}", NULL);
	CHECK_ITEMS("[1,2]", NULL);
	CHECK_ITEMS("[{'clientnr':'1'},2]", NULL);
	CHECK_ITEMS("['a']", NULL);
	CHECK_ITEMS("[null]", NULL);
	CHECK_ITEMS("[[]]", NULL);
	CHECK_ITEMS("{'clients':[1]}", NULL);
	CHECK_ITEMS("{'0':1}", NULL);
	CHECK_ITEMS("{'a':1}", NULL);
	CHECK_ITEMS("{'a':{'x':1},'b':2}", NULL);
	CHECK_ITEMS("'text'", NULL);
	CHECK_ITEMS("42", NULL);
	CHECK_ITEMS("null", NULL);
	CHECK(schema_list_items(NULL) == NULL);
}

static void check_unwrap_at(const struct schema_collection *c, const char *body,
			    const char *want_path, int line)
{
	cJSON *b = js(body);
	const cJSON *got = schema_unwrap_one(c, b), *want;

	/* @want_path: "" for @body itself, a key for its member, NULL for none. */
	if (!want_path)
		want = NULL;
	else if (!*want_path)
		want = b;
	else
		want = cJSON_GetObjectItemCaseSensitive(b, want_path);
	unit_check(got == want, __FILE__, line, body);
	cJSON_Delete(b);
}

#define CHECK_UNWRAP(c, body, want) check_unwrap_at((c), (body), (want), __LINE__)

static void test_unwrap_one(void)
{
	CHECK_UNWRAP(clients, "{'client':{'clientnr':'1','company':'X'}}", "client");
	CHECK_UNWRAP(clients, "{'client':{'clientnr':'1'}}", "client");
	CHECK_UNWRAP(clients, "{'clientnr':'1','company':'X'}", "");
	/* A bare record of a single field is no wrapper. */
	CHECK_UNWRAP(clients, "{'clientnr':'1'}", "");
	CHECK_UNWRAP(clients, "{'reference':{'line1':'a'}}", "");
	CHECK_UNWRAP(clients, "{'client':[]}", NULL);
	CHECK_UNWRAP(clients, "{}", "");
	CHECK_UNWRAP(invoices, "{'invoice':{'invoicenr':'2024/1'}}", "invoice");
	CHECK_UNWRAP(saved, "{'invoices_saved':{'id':'3'}}", "invoices_saved");
	CHECK_UNWRAP(repeated, "{'invoices_saved':{'id':'3'}}", "invoices_saved");
	/* Another wrapper word whose value is an object and which is no field. */
	CHECK_UNWRAP(repeated, "{'invoices_repeated':{'id':'3'}}", "invoices_repeated");
	CHECK_UNWRAP(products, "{'product':{'id':'3'}}", "product");
	CHECK_UNWRAP(products, "{'item':'x'}", "");
	CHECK_UNWRAP(products, "[{'id':'3'}]", NULL);
	CHECK_UNWRAP(NULL, "{'whatever':{'id':'3'}}", "whatever");
	CHECK(schema_unwrap_one(clients, NULL) == NULL);
	/* The whole list, as a service may answer the GET of a record it does not
	 * have: never the record. */
	CHECK_UNWRAP(clients, "[{'clientnr':'1'},{'clientnr':'2'}]", NULL);
	CHECK_UNWRAP(clients, "{'clients':[{'clientnr':'1'}]}", NULL);
	CHECK_UNWRAP(clients, "{'clients':[]}", NULL);
	CHECK_UNWRAP(clients, "{'clients':{'0':{'clientnr':'1'},'1':{'clientnr':'2'}}}", NULL);
	CHECK_UNWRAP(clients, "{'0':{'clientnr':'1'},'1':{'clientnr':'2'}}", NULL);
	CHECK_UNWRAP(clients, "{'1':{'clientnr':'1'},'2':{'clientnr':'2'},'3':{}}", NULL);
	/* ... while a record whose fields are objects, or a list field, is one. */
	CHECK_UNWRAP(invoices, "{'reference':{'line1':'a'},'lines':{'line1':{}}}", "");
	CHECK_UNWRAP(invoices, "{'lines':[]}", "");
	CHECK_UNWRAP(invoices, "{'invoice':{'lines':{'line1':{},'line2':{}}}}", "invoice");
	cJSON *b = js("[]");
	CHECK(schema_is_listing(clients, b));
	cJSON_Delete(b);
	b = js("{'clientnr':'1'}");
	CHECK(!schema_is_listing(clients, b));
	cJSON_Delete(b);
}

static void check_id_at(const struct schema_collection *c, const char *rec, const char *want,
			int line)
{
	cJSON *r = js(rec);
	char *id = schema_record_id(c, r);

	unit_check_str(id, want, __FILE__, line, rec);
	free(id);
	cJSON_Delete(r);
}

#define CHECK_ID(c, rec, want) check_id_at((c), (rec), (want), __LINE__)

static void test_record_id(void)
{
	CHECK_ID(clients, "{'clientnr':'42'}", "42");
	CHECK_ID(clients, "{'clientnr':42}", "42");
	CHECK_ID(clients, "{'clientnr':42.0}", "42");
	CHECK_ID(clients, "{'clientnr':'42.0'}", "42");
	CHECK_ID(clients, "{'clientnr':'042'}", "42");
	CHECK_ID(clients, "{'clientnr':'abc'}", "abc");
	CHECK_ID(clients, "{'clientnr':''}", NULL);
	CHECK_ID(clients, "{'clientnr':null}", NULL);
	CHECK_ID(clients, "{'clientnr':true}", NULL);
	CHECK_ID(clients, "{'company':'X'}", NULL);
	CHECK_ID(invoices, "{'id':'4','invoicenr':'2024/0042'}", "2024/0042");
	CHECK_ID(invoices, "{'invoicenr':'007'}", "007");
	CHECK_ID(invoices, "{'invoicenr':20240042}", "20240042");
	CHECK_ID(products, "{'id':'3'}", "3");
	CHECK_ID(saved, "{'id':9}", "9");
	CHECK_ID(taxes, "{'percentage':'21','type':'H'}", "21-H");
	CHECK_ID(taxes, "{'percentage':21.0,'type':'H'}", "21-H");
	CHECK_ID(taxes, "{'percentage':'0','type':'N'}", "0-N");
	CHECK_ID(taxes, "{'percentage':'21'}", NULL);
	CHECK_ID(taxes, "{'type':'H'}", NULL);
	CHECK_ID(balance, "{'balance':'3'}", NULL);
	CHECK(schema_record_id(clients, NULL) == NULL);

	/* The wire and the pythonic form of one record have one name. */
	{
		cJSON *w = js(wire_invoice), *p = schema_from_wire(invoices, w);
		char *a = schema_record_id(invoices, w), *b = schema_record_id(invoices, p);

		CHECK_STR(a, "2009/04");
		CHECK_STR(b, "2009/04");
		free(a);
		free(b);
		cJSON_Delete(p);
		cJSON_Delete(w);
	}
}

static void test_is_whole(void)
{
	cJSON *with = js("{'invoicenr':'1','lines':[]}"), *without = js("{'invoicenr':'1'}");

	CHECK(schema_record_is_whole(invoices, with));
	CHECK(!schema_record_is_whole(invoices, without));
	CHECK(schema_record_is_whole(clients, without));
	CHECK(schema_record_is_whole(balance, without));
	cJSON_Delete(with);
	cJSON_Delete(without);
}

static void check_date_at(const struct schema_collection *c, const char *rec, time_t want,
			  int line)
{
	cJSON *r = js(rec);
	time_t got = schema_record_date(c, r);
	char what[512];

	snprintf(what, sizeof(what), "date of %s: got %lld, want %lld", rec, (long long)got,
		 (long long)want);
	unit_check(got == want, __FILE__, line, what);
	cJSON_Delete(r);
}

#define CHECK_DATE(c, rec, want) check_date_at((c), (rec), (want), __LINE__)

static void test_record_date(void)
{
	/* 2024-03-05 12:00:00 UTC and friends, computed with Python's calendar.timegm. */
	CHECK_DATE(clients, "{'timestamp':'2024-03-05','lastinvoice':'2024-01-02'}", 1709640000);
	CHECK_DATE(clients, "{'timestamp':null,'lastinvoice':'2024-01-02'}", 1704196800);
	CHECK_DATE(clients, "{'lastinvoice':'2023-12-31'}", 1704024000);
	CHECK_DATE(clients, "{'timestamp':'2024-03-05 23:59:59'}", 1709640000);
	CHECK_DATE(clients, "{'timestamp':'2024-03-05T01:00:00'}", 1709640000);
	CHECK_DATE(clients, "{'timestamp':'2024-02-29'}", 1709208000);
	CHECK_DATE(clients, "{'timestamp':'2023-02-29','lastinvoice':'2024-01-02'}", 1704196800);
	CHECK_DATE(clients, "{'timestamp':'2024-03-05x'}", 0);
	CHECK_DATE(clients, "{'timestamp':'0000-00-00'}", 0);
	CHECK_DATE(clients, "{'timestamp':20240305}", 0);
	CHECK_DATE(clients, "{'timestamp':''}", 0);
	CHECK_DATE(clients, "{}", 0);
	/* An invoice: `date` when it has one, else `sent`, else its first dated event. */
	CHECK_DATE(invoices, "{'date':'2024-03-05','sent':'2024-01-02'}", 1709640000);
	CHECK_DATE(invoices, "{'date':null,'sent':'2024-01-02'}", 1704196800);
	CHECK_DATE(invoices, "{'sent':'2024-01-02','history':[{'date':'2024-03-05'}]}", 1704196800);
	CHECK_DATE(invoices, "{'sent':null,'history':[{'date':null,'time':'10:56'},"
			     "{'date':'2024-03-05','description':'x'},{'date':'2024-01-02'}]}",
		   1709640000);
	CHECK_DATE(invoices, "{'sent':null,'history':[]}", 0);
	CHECK_DATE(invoices, "{'sent':null,'history':{'x':1}}", 0);
	CHECK_DATE(invoices, "{'sent':null,'history':[7,'2024-03-05',{'date':'2024-13-01'}]}", 0);
	CHECK_DATE(invoices, "{}", 0);
	CHECK_DATE(saved, "{'datesaved':null,'date':'2024-01-02'}", 1704196800);
	CHECK_DATE(repeated, "{'datesaved':null,'initialdate':'2024-01-02'}", 1704196800);
	CHECK_DATE(repeated, "{'datesaved':null,'initialdate':null,'nextsenddate':'2024-01-02'}",
		   1704196800);
	CHECK_DATE(products, "{'date':'2024-01-02'}", 0);
}

/* ---- text ------------------------------------------------------------------------------------ */

static void check_format_at(const char *json, const char *want, int line)
{
	cJSON *j = cJSON_Parse(json);
	size_t len = 0;
	char *got = jt_format(j, &len);

	unit_check_str(got, want, __FILE__, line, json);
	unit_check(got && len == strlen(got), __FILE__, line, "length");
	free(got);
	cJSON_Delete(j);
}

#define CHECK_FORMAT(json, want) check_format_at((json), (want), __LINE__)

static void test_format(void)
{
	/* Expected texts are Python's json.dumps(obj, indent=2, ensure_ascii=False) + "\n". */
	CHECK_FORMAT("{}", "{}\n");
	CHECK_FORMAT("{\"a\":[]}", "{\n  \"a\": []\n}\n");
	CHECK_FORMAT("{\"name\":\"Zo\\u00eb \\\"q\\\" \\\\ back\\/slash"
		     "\\n\\t\\r\\b\\f\\u0001\\u001F"
		     "\\u007f \xe6\x97\xa5\xe6\x9c\xac\","
		     "\"n\":[100,-3,0.1,10.92,1e-05,1e+20,0.30000000000000004,1152921504606846976,"
		     "123456.789,-0.5,1.5e300,5e-324,100.0,1E2,9.1e15,1.5e16,9007199254740993,"
		     "1e16,-1e16,0.0001,123456789012.5,1.7976931348623157e308,"
		     "2.2250738585072014e-308],"
		     "\"b\":[true,false,null],\"e\":{},\"a\":[],"
		     "\"nest\":{\"x\":[{},[],{\"y\":[1,{\"z\":null}]}]}}",
		     "{\n"
		     "  \"name\": \"Zo\xc3\xab \\\"q\\\" \\\\ back/slash"
		     "\\n\\t\\r\\b\\f\\u0001\\u001f"
		     "\x7f \xe6\x97\xa5\xe6\x9c\xac\",\n"
		     "  \"n\": [\n"
		     "    100,\n"
		     "    -3,\n"
		     "    0.1,\n"
		     "    10.92,\n"
		     "    1e-05,\n"
		     "    1e+20,\n"
		     "    0.30000000000000004,\n"
		     "    1.152921504606847e+18,\n"
		     "    123456.789,\n"
		     "    -0.5,\n"
		     "    1.5e+300,\n"
		     "    5e-324,\n"
		     "    100,\n"
		     "    100,\n"
		     "    9100000000000000,\n"
		     "    1.5e+16,\n"
		     "    9007199254740992,\n"
		     "    1e+16,\n"
		     "    -1e+16,\n"
		     "    0.0001,\n"
		     "    123456789012.5,\n"
		     "    1.7976931348623157e+308,\n"
		     "    2.2250738585072014e-308\n"
		     "  ],\n"
		     "  \"b\": [\n"
		     "    true,\n"
		     "    false,\n"
		     "    null\n"
		     "  ],\n"
		     "  \"e\": {},\n"
		     "  \"a\": [],\n"
		     "  \"nest\": {\n"
		     "    \"x\": [\n"
		     "      {},\n"
		     "      [],\n"
		     "      {\n"
		     "        \"y\": [\n"
		     "          1,\n"
		     "          {\n"
		     "            \"z\": null\n"
		     "          }\n"
		     "        ]\n"
		     "      }\n"
		     "    ]\n"
		     "  }\n"
		     "}\n");
	/* Keys are escaped like values. */
	CHECK_FORMAT("{\"a\\\"b\\n\":1}", "{\n  \"a\\\"b\\n\": 1\n}\n");
	/* A pythonic record as a user sees it. */
	{
		cJSON *w = js("{'clientnr':'17','company':'Zo\u00eb & Co \\/ BV','active':'1',"
			      "'stddiscount':'2,5','lastinvoice':'','reference':[]}");
		cJSON *p = schema_from_wire(clients, w);
		char *text = jt_format(p, NULL);

		CHECK_STR(text, "{\n"
				"  \"clientnr\": 17,\n"
				"  \"company\": \"Zo\xc3\xab & Co / BV\",\n"
				"  \"stddiscount\": 2.5,\n"
				"  \"reference\": {},\n"
				"  \"active\": true,\n"
				"  \"lastinvoice\": null\n"
				"}\n");
		free(text);
		cJSON_Delete(p);
		cJSON_Delete(w);
	}
	/* Non-finite numbers cannot be JSON. */
	{
		cJSON *n = cJSON_CreateNumber(1.0 / 0.0);
		char *text = jt_format(n, NULL);

		CHECK_STR(text, "null\n");
		free(text);
		cJSON_Delete(n);
	}
}

static void check_parse_at(const char *text, const char *want_err, int line)
{
	char err[256] = "";
	cJSON *j = jt_parse(text, strlen(text), err, sizeof(err));

	if (want_err) {
		unit_check(j == NULL, __FILE__, line, "jt_parse() fails");
		unit_check_str(err, want_err, __FILE__, line, text);
	} else {
		unit_check(cJSON_IsObject(j), __FILE__, line, "jt_parse() gives an object");
		unit_check_str(err, "", __FILE__, line, "no error");
	}
	cJSON_Delete(j);
}

#define CHECK_PARSE(text, err) check_parse_at((text), (err), __LINE__)

static void test_parse(void)
{
	CHECK_PARSE("{}", NULL);
	CHECK_PARSE("\n  {\"a\": 1}\n\n", NULL);
	CHECK_PARSE("\xef\xbb\xbf{\"a\": 1}\n", NULL);
	CHECK_PARSE("{\"a\": 1,\n  \"b\" 2}\n", "line 2, column 7: invalid JSON");
	CHECK_PARSE("{\n  \"naam\": \"Zo\xc3\xab\",\n  \"x\": tru\n}\n",
		    "line 3, column 8: invalid JSON");
	CHECK_PARSE("{\"naam\": \"Zo\xc3\xab\" \"x\"}", "line 1, column 16: invalid JSON");
	CHECK_PARSE("{\"a\": [1, 2,]}", "line 1, column 13: invalid JSON");
	CHECK_PARSE("{\"a\": 1,}", "line 1, column 9: invalid JSON");
	CHECK_PARSE("{\"a\": \"\\q\"}", "line 1, column 8: invalid JSON");
	CHECK_PARSE("{", "line 1, column 1: invalid JSON");
	CHECK_PARSE("[{\"a\": 1}]", "expected a JSON object");
	CHECK_PARSE("42", "expected a JSON object");
	CHECK_PARSE("\"text\"", "expected a JSON object");
	CHECK_PARSE("null", "expected a JSON object");
	CHECK_PARSE("{} x", "line 1, column 4: unexpected text after the JSON object");
	CHECK_PARSE("{}\n{}", "line 2, column 1: unexpected text after the JSON object");
	CHECK_PARSE("", "empty file: expected a JSON object");
	CHECK_PARSE(" \n\t\r\n", "empty file: expected a JSON object");
	CHECK_PARSE("{\"a\": 1, \"a\": 2}", "duplicate key 'a'");
	CHECK_PARSE("{\"l\": [{\"b\": 1, \"b\": 1}]}", "duplicate key 'b'");
	CHECK_PARSE("{\"a\": {}, \"b\": {}}", NULL);

	/* What cJSON lets through and JSON does not: the first problem is named. */
	CHECK_PARSE("{\"a\": \"x\xe9\"}", "line 1, column 9: invalid UTF-8");
	CHECK_PARSE("{\n  \"Zo\xc3\xab\": \"\xc0\xaf\"}", "line 2, column 11: invalid UTF-8");
	CHECK_PARSE("{\"a\": \"\xed\xa0\x80\"}", "line 1, column 8: invalid UTF-8");
	CHECK_PARSE("{\"a\": \"\xf4\x90\x80\x80\"}", "line 1, column 8: invalid UTF-8");
	CHECK_PARSE("{\"a\": \"\xe2\x82\"}", "line 1, column 8: invalid UTF-8");
	CHECK_PARSE("{} \xff", "line 1, column 4: invalid UTF-8");
	CHECK_PARSE("{\"a\": \"\xf0\x9f\x98\x80 \xe6\x97\xa5 \x7f\"}", NULL);
	CHECK_PARSE("{\"a\": \"x\ny\"}",
		    "line 1, column 9: line break in a string: write it as \\n");
	CHECK_PARSE("{\"a\": \"x\ty\"}", "line 1, column 9: tab in a string: write it as \\t");
	CHECK_PARSE("{\"a\": \"\r\"}",
		    "line 1, column 8: carriage return in a string: write it as \\r");
	CHECK_PARSE("{\"a\": \"\x01\"}",
		    "line 1, column 8: control character U+0001 in a string: write it as \\u0001");
	CHECK_PARSE("{\"\x1b[0m\": 1}",
		    "line 1, column 3: control character U+001B in a string: write it as \\u001B");
	CHECK_PARSE("{\x0c}", "line 1, column 2: control character U+000C outside a string");
	CHECK_PARSE("{\"a\": \"x\\u0000y\"}",
		    "line 1, column 9: \\u0000 in a string: a NUL cannot be stored");
	CHECK_PARSE("{\"a\": \"x\\\\u0000\\\"\\t\\u0001\"}", NULL);
	/* Whichever comes first: a syntax error, or a byte cJSON would have let through. */
	CHECK_PARSE("{\"a\": tru, \"b\": \"\x01\"}", "line 1, column 7: invalid JSON");
	CHECK_PARSE("{\"a\": \"\x01\", tru}", "line 1, column 8: control character U+0001 in a "
						  "string: write it as \\u0001");
	CHECK_PARSE("{} x \x01", "line 1, column 4: unexpected text after the JSON object");
	/* A number a double cannot hold would be shown, and sent, as something else. */
	CHECK_PARSE("{\"lines\": [{\"price\": 1}, {\"price\": 1e999}]}",
		    "field 'lines[1].price': number out of range");
	CHECK_PARSE("{\"a\": {\"b\": -1e400}}", "field 'a.b': number out of range");
	CHECK_PARSE("{\"a\": 1e-400, \"b\": 1.7976931348623157e308}", NULL);
	/* A NUL byte: in a string, between tokens, after the object. */
	{
		static const char *const texts[] = {"{\"a\": \"x\0y\"}", "{\"a\":\0 1}", "{}\0"};
		static const size_t lens[] = {12, 10, 3};
		static const char *const want[] = {"line 1, column 9: NUL byte",
						   "line 1, column 6: NUL byte",
						   "line 1, column 3: NUL byte"};
		char err[128];
		size_t i;

		for (i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
			err[0] = '\0';
			CHECK(jt_parse(texts[i], lens[i], err, sizeof(err)) == NULL);
			CHECK_STR(err, want[i]);
		}
	}

	/* Only @len bytes count: the buffer need not end in a NUL. */
	{
		static const char buf[] = "{\"a\": 1}GARBAGE";
		char err[64] = "";
		cJSON *j = jt_parse(buf, 8, err, sizeof(err));

		CHECK(cJSON_IsObject(j));
		cJSON_Delete(j);
		j = jt_parse(buf, 9, err, sizeof(err));
		CHECK(j == NULL);
		CHECK_STR(err, "line 1, column 9: unexpected text after the JSON object");
		j = jt_parse(buf, 4, err, sizeof(err));
		CHECK(j == NULL);
		j = jt_parse(buf, 8, NULL, 0);
		CHECK(j != NULL);
		cJSON_Delete(j);
		CHECK(jt_parse(NULL, 0, err, sizeof(err)) == NULL);
		CHECK(jt_parse("x", 1, NULL, 0) == NULL);
		/* A short error buffer is cut, not overrun. */
		CHECK(jt_parse("[]", 2, err, 9) == NULL);
		CHECK_STR(err, "expected");
	}
}

/* ---- pythonic -> wire ------------------------------------------------------------------------ */

static void test_to_wire_types(void)
{
	/* Read-only fields dropped, numeric strings converted, unknown fields passed on. */
	CHECK_TO_WIRE(products,
		      "{'id':5,'code':'A1','name':'Pen','price':'2,50','taxes':'21',"
		      "'priceintax':3.03,'extra':'x','more':{'a':[1]}}",
		      true, "{'code':'A1','name':'Pen','price':2.5,'taxes':21,'extra':'x',"
			    "'more':{'a':[1]}}");
	CHECK_TO_WIRE(products, "{'code':'A1','name':'Pen','price':2.5,'taxes':21}", false,
		      "{'code':'A1','name':'Pen','price':2.5,'taxes':21}");
	/* Numbers. */
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':'abc'}", true,
			  "field 'price': expected a number");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':true}", true,
			  "field 'price': expected a number");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':{}}", true,
			  "field 'price': expected a number");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':[1]}", false,
			  "field 'price': expected a number");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':1,'taxes':2.5}", true,
			  "field 'taxes': expected a whole number");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':1,'taxes':'21%'}", true,
			  "field 'taxes': expected a number");
	CHECK_TO_WIRE(products, "{'code':'A','name':'P','price':1,'taxes':'21.0'}", true,
		      "{'code':'A','name':'P','price':1,'taxes':21}");
	CHECK_TO_WIRE(products, "{'code':'A','name':'P','price':-1e-3,'taxes':null}", true,
		      "{'code':'A','name':'P','price':-0.001,'taxes':''}");
	/* Strings: numbers become their text; nothing else is a string. */
	CHECK_TO_WIRE(products, "{'code':42,'name':'P','price':1}", true,
		      "{'code':'42','name':'P','price':1}");
	CHECK_TO_WIRE(products, "{'code':10.5,'name':'','price':1}", true,
		      "{'code':'10.5','name':'','price':1}");
	CHECK_TO_WIRE_ERR(products, "{'code':true,'name':'P','price':1}", true,
			  "field 'code': expected a string");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':['P'],'price':1}", true,
			  "field 'name': expected a string");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':{},'price':1}", true,
			  "field 'name': expected a string");
	/* Booleans. */
	CHECK_TO_WIRE(clients,
		      "{'showcontact':true,'active':false,'tax_shifted':1,'notes_on_invoice':'0'}",
		      false,
		      "{'showcontact':true,'active':false,'tax_shifted':true,"
		      "'notes_on_invoice':false}");
	CHECK_TO_WIRE(clients, "{'active':'true','showcontact':'no'}", false,
		      "{'active':true,'showcontact':false}");
	CHECK_TO_WIRE_ERR(clients, "{'active':'maybe'}", false,
			  "field 'active': expected true or false");
	CHECK_TO_WIRE_ERR(clients, "{'active':2}", false, "field 'active': expected true or false");
	CHECK_TO_WIRE_ERR(clients, "{'active':{}}", false,
			  "field 'active': expected true or false");
	/* Dates; null is the wire's empty date, and so for every scalar. */
	CHECK_TO_WIRE(clients, "{'mandatedate':'2024-02-29'}", false,
		      "{'mandatedate':'2024-02-29'}");
	CHECK_TO_WIRE(clients, "{'mandatedate':null,'top':null,'active':null,'company':null}",
		      false, "{'mandatedate':'','top':'','active':'','company':''}");
	CHECK_TO_WIRE(clients, "{'mandatedate':''}", false, "{'mandatedate':''}");
	CHECK_TO_WIRE_ERR(clients, "{'mandatedate':'05-01-2024'}", false,
			  "field 'mandatedate': expected a date (YYYY-MM-DD) or null");
	CHECK_TO_WIRE_ERR(clients, "{'mandatedate':'2023-02-29'}", false,
			  "field 'mandatedate': expected a date (YYYY-MM-DD) or null");
	CHECK_TO_WIRE_ERR(clients, "{'mandatedate':'2024-01-05 10:00:00'}", false,
			  "field 'mandatedate': expected a date (YYYY-MM-DD) or null");
	CHECK_TO_WIRE_ERR(clients, "{'mandatedate':20240105}", false,
			  "field 'mandatedate': expected a date (YYYY-MM-DD) or null");
	/* Read-only fields of clients; php spellings sent under the .NET name. */
	CHECK_TO_WIRE(clients,
		      "{'clientnr':17,'company':'X','lastinvoice':'2024-01-01','timestamp':null,"
		      "'tax_type':'intra','mandate_date':'2020-01-02'}",
		      false, "{'company':'X','taxtype':'intra','mandatedate':'2020-01-02'}");
	CHECK_TO_WIRE(clients, "{'tax_type':'php','taxtype':'net'}", false, "{'taxtype':'net'}");
	CHECK_TO_WIRE(clients, "{'taxtype':'net','tax_type':'php'}", false, "{'taxtype':'net'}");
	/* Objects. */
	CHECK_TO_WIRE(clients, "{'reference':{'line1':'a','line2':5,'x':true}}", false,
		      "{'reference':{'line1':'a','line2':'5','x':true}}");
	CHECK_TO_WIRE(clients, "{'reference':[]}", false, "{'reference':[]}");
	CHECK_TO_WIRE(clients, "{'reference':null}", false, "{'reference':[]}");
	CHECK_TO_WIRE(clients, "{'reference':{}}", false, "{'reference':[]}");
	CHECK_TO_WIRE_ERR(clients, "{'reference':'PO 7'}", false,
			  "field 'reference': expected an object");
	CHECK_TO_WIRE_ERR(clients, "{'reference':{'line1':true}}", false,
			  "field 'reference.line1': expected a string");
	/* Not a record. */
	{
		cJSON *a = js("[1]");
		char err[64] = "";

		CHECK(schema_to_wire(clients, a, false, err, sizeof(err)) == NULL);
		CHECK_STR(err, "expected a JSON object");
		CHECK(schema_to_wire(clients, NULL, false, NULL, 0) == NULL);
		cJSON_Delete(a);
	}
}

static void test_to_wire_required(void)
{
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P'}", true,
			  "missing required field 'price'");
	CHECK_TO_WIRE_ERR(products, "{'code':'A','name':'P','price':null}", true,
			  "missing required field 'price'");
	/* A PUT sends the whole record: required there too. */
	CHECK_TO_WIRE_ERR(products, "{'id':3,'code':'A','price':1}", false,
			  "missing required field 'name'");
	CHECK_TO_WIRE(clients, "{}", true, "{}");
	CHECK_TO_WIRE_ERR(invoices, "{'lines':[{'amount':1}]}", true,
			  "missing required field 'clientnr'");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1}", true, "missing required field 'lines'");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':null}", true,
			  "missing required field 'lines'");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':[]}", true,
			  "field 'lines': must not be empty");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':{}}", true,
			  "field 'lines': must not be empty");
}

static void test_to_wire_lists(void)
{
	/* Arrays become line1..N; read-only sub-fields go; unknown sub-fields stay. */
	CHECK_TO_WIRE(invoices,
		      "{'clientnr':'42','lines':[{'amount':4,'price':'75','linetotal':300,'x':1},"
		      "{'description':'b','price':10.92}],"
		      "'taxes':[{'rate':21}],'history':[],'invoicenr':'2024/1','sent':null,"
		      "'action':'send','sendmethod':'email','overwrite_if_exist':'1'}",
		      true,
		      "{'clientnr':42,'lines':{'line1':{'amount':4,'price':75,'x':1},"
		      "'line2':{'description':'b','price':10.92}},"
		      "'action':'send','sendmethod':'email','overwrite_if_exist':true}");
	/* Create-only fields go only with a POST. */
	CHECK_TO_WIRE(invoices,
		      "{'clientnr':42,'lines':[{'amount':1}],'action':'save','savename':'s',"
		      "'initialdate':null,'frequency':'monthly'}",
		      false, "{'clientnr':42,'lines':{'line1':{'amount':1}}}");
	CHECK_TO_WIRE(invoices,
		      "{'clientnr':42,'lines':[{'amount':1}],'action':'repeat','savename':'s',"
		      "'initialdate':'2024-01-01','finalsenddate':null,'frequency':'monthly',"
		      "'repeattype':'auto','convert_prices_to_euro':false}",
		      true,
		      "{'clientnr':42,'lines':{'line1':{'amount':1}},'action':'repeat',"
		      "'savename':'s','initialdate':'2024-01-01','finalsenddate':'',"
		      "'frequency':'monthly','repeattype':'auto','convert_prices_to_euro':false}");
	/* Twelve lines keep their order: line10 is the tenth. */
	CHECK_TO_WIRE(invoices,
		      "{'clientnr':1,'lines':[{'amount':1},{'amount':2},{'amount':3},{'amount':4},"
		      "{'amount':5},{'amount':6},{'amount':7},{'amount':8},{'amount':9},"
		      "{'amount':10},{'amount':11},{'amount':12}]}",
		      true,
		      "{'clientnr':1,'lines':{'line1':{'amount':1},'line2':{'amount':2},"
		      "'line3':{'amount':3},'line4':{'amount':4},'line5':{'amount':5},"
		      "'line6':{'amount':6},'line7':{'amount':7},'line8':{'amount':8},"
		      "'line9':{'amount':9},'line10':{'amount':10},'line11':{'amount':11},"
		      "'line12':{'amount':12}}}");
	/* Already keyed: the keys stay. */
	CHECK_TO_WIRE(invoices, "{'clientnr':1,'lines':{'line1':{'amount':'1','linetotal':1}}}",
		      true, "{'clientnr':1,'lines':{'line1':{'amount':1}}}");
	/* Errors name the element (0-based, as in JSON arrays) and its field. */
	CHECK_TO_WIRE_ERR(invoices,
			  "{'clientnr':1,'lines':[{'amount':1},{'price':'abc'}]}", true,
			  "field 'lines[1].price': expected a number");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':['text']}", true,
			  "field 'lines[0]': expected an object");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':'text'}", true,
			  "field 'lines': expected a list");
	CHECK_TO_WIRE_ERR(invoices, "{'clientnr':1,'lines':{'line1':{'amount':'x'}}}", true,
			  "field 'lines.line1.amount': expected a number");
	CHECK_TO_WIRE_ERR(invoices,
			  "{'clientnr':1,'lines':[{'amount':1}],'initialdate':'2024-1-1'}", true,
			  "field 'initialdate': expected a date (YYYY-MM-DD) or null");
	CHECK_TO_WIRE_ERR(invoices,
			  "{'clientnr':1,'lines':[{'amount':1}],'overwrite_if_exist':'?'}", true,
			  "field 'overwrite_if_exist': expected true or false");
	/* A client's country: an id, or a name sent as written (the service finds the
	 * id); a payment's amount as text, or "full", and nothing else. */
	CHECK_TO_WIRE(clients, "{'company':'X','country':146}", true,
		      "{'company':'X','country':146}");
	CHECK_TO_WIRE(clients, "{'company':'X','country':'Duitsland'}", true,
		      "{'company':'X','country':'Duitsland'}");
	CHECK_TO_WIRE_ERR(clients, "{'company':'X','country':true}", true,
			  "field 'country': expected a number or a name");
	CHECK_TO_WIRE_ERR(clients, "{'company':'X','country':''}", true,
			  "field 'country': expected a number or a name");
	CHECK_TO_WIRE(payments, "{'amount':12.5,'date':'2026-01-02'}", true,
		      "{'amount':'12.5','date':'2026-01-02'}");
	CHECK_TO_WIRE(payments, "{'amount':'12,50','date':'2026-01-02','method':'cash'}", true,
		      "{'amount':'12.5','date':'2026-01-02','method':'cash'}");
	CHECK_TO_WIRE(payments, "{'amount':'full','date':'2026-01-02'}", true,
		      "{'amount':'full','date':'2026-01-02'}");
	CHECK_TO_WIRE_ERR(payments, "{'amount':'veel','date':'2026-01-02'}", true,
			  "field 'amount': expected a number or \"full\"");
	CHECK_TO_WIRE_ERR(payments, "{'amount':'full'}", true, "missing required field 'date'");
	/* A wrong read-only value is not checked: it is never sent. */
	CHECK_TO_WIRE(invoices, "{'clientnr':1,'lines':[{'amount':1}],'tax':'n/a'}", true,
		      "{'clientnr':1,'lines':{'line1':{'amount':1}}}");
}

/* wire -> pythonic -> text -> parse -> wire gives the same values, in native types. */
static void test_round_trips(void)
{
	cJSON *w = js(wire_invoice), *p = schema_from_wire(invoices, w), *back = NULL, *body;
	char err[256] = "";
	size_t len = 0;
	char *text = jt_format(p, &len), *again = NULL;

	back = jt_parse(text, len, err, sizeof(err));
	CHECK_STR(err, "");
	CHECK_JSON(back, py_invoice);
	/* Formatting what was parsed gives the same text: a file read and written back. */
	again = jt_format(back, NULL);
	CHECK_STR(again, text);
	body = schema_to_wire(invoices, back, true, err, sizeof(err));
	CHECK_STR(err, "");
	CHECK_JSON(body, post_invoice);
	cJSON_Delete(body);
	free(again);
	free(text);
	cJSON_Delete(back);
	cJSON_Delete(p);
	cJSON_Delete(w);

	/* A client: wire -> pythonic -> wire -> pythonic keeps every writable value. */
	{
		static const char wire[] =
			"{'clientnr':'17','contact':'Jan','showcontact':'1','company':'Zo\u00eb',"
			"'address':'Straat 1','zipcode':'1234 AB','city':'Utrecht','country':'146',"
			"'phone':'','mobile':'06','email':'a@b.nl','email_reminder':'',"
			"'default_email':'0','bankcode':'NL00BANK','biccode':'BANKNL2A',"
			"'taxnumber':'','tax_shifted':'0','tax_type':'nl','sendmethod':'email',"
			"'paymentmethod':'bank','top':'14','stddiscount':'2,5','mailintro':'Hi',"
			"'reference':{'line1':'a','line2':'','line3':''},'notes':'n',"
			"'notes_on_invoice':'false','active':'true','default_doclang':'nl',"
			"'defaultcategory':'','currency':'EUR','mandateid':'','mandatedate':'',"
			"'collecttype':'','lastinvoice':'2024-01-02','timestamp':'2024-03-05',"
			"'x_new':'1'}";
		static const char want[] =
			"{'contact':'Jan','showcontact':true,'company':'Zo\u00eb',"
			"'address':'Straat 1','zipcode':'1234 AB','city':'Utrecht','country':146,"
			"'phone':'','mobile':'06','email':'a@b.nl','email_reminder':'',"
			"'default_email':0,'bankcode':'NL00BANK','biccode':'BANKNL2A',"
			"'taxnumber':'','tax_shifted':false,'taxtype':'nl','sendmethod':'email',"
			"'paymentmethod':'bank','top':14,'stddiscount':2.5,'mailintro':'Hi',"
			"'reference':{'line1':'a','line2':'','line3':''},'notes':'n',"
			"'notes_on_invoice':false,'active':true,'defaultdoclang':'nl',"
			"'defaultcategory':'','currency':'EUR','mandateid':'','mandatedate':null,"
			"'collecttype':'','x_new':'1'}";
		cJSON *cw = js(wire), *p1 = schema_from_wire(clients, cw);
		cJSON *w2 = schema_to_wire(clients, p1, false, err, sizeof(err));
		cJSON *p2 = schema_from_wire(clients, w2);

		CHECK_STR(err, "");
		CHECK_JSON(p2, want);
		cJSON_Delete(p2);
		cJSON_Delete(w2);
		cJSON_Delete(p1);
		cJSON_Delete(cw);
	}
}

/* schema_to_wire_as: read @sent, set @field to @value (JSON) in the pythonic record, and
 * the body is @want: every field under @sent's name, unchanged ones as sent. */
static void check_wire_as_at(const struct schema_collection *c, const char *sent,
			     const char *field, const char *value, const char *want, int line)
{
	cJSON *s = js(sent), *py = schema_from_wire(c, s), *w;
	char err[256] = "";

	if (field && cJSON_GetObjectItemCaseSensitive(py, field))
		cJSON_ReplaceItemInObjectCaseSensitive(py, field, js(value));
	else if (field)
		cJSON_AddItemToObject(py, field, js(value));
	w = schema_to_wire_as(c, py, s, false, err, sizeof(err));
	if (!w)
		printf("%s:%d: %s\n", __FILE__, line, err);
	check_json_at(w, want, line);
	cJSON_Delete(w);
	cJSON_Delete(py);
	cJSON_Delete(s);
}

#define CHECK_WIRE_AS(c, sent, field, value, want)                                                 \
	check_wire_as_at((c), (sent), (field), (value), (want), __LINE__)

static void test_to_wire_as(void)
{
	/* A client as the 2015 copies keep it: underscores, "true"/"false", "0"/"1", "". */
	static const char live[] =
		"{'clientnr':'7','company':'A','showcontact':'true','tax_shifted':'false',"
		"'default_email':'0','mandate_id':'M1','mandate_date':'','tax_type':'extax',"
		"'default_doclang':'nl','default_category':'','active':'true','top':'14',"
		"'stddiscount':'2.50','lastinvoice':'','reference':[]}";
	CHECK_WIRE_AS(clients, live, NULL, NULL,
		      "{'showcontact':'true','company':'A','default_email':'0',"
		      "'tax_shifted':'false','tax_type':'extax','top':'14','stddiscount':'2.50',"
		      "'reference':[],'active':'true','default_doclang':'nl',"
		      "'default_category':'','mandate_id':'M1','mandate_date':''}");
	CHECK_WIRE_AS(clients, live, "active", "false",
		      "{'showcontact':'true','company':'A','default_email':'0',"
		      "'tax_shifted':'false','tax_type':'extax','top':'14','stddiscount':'2.50',"
		      "'reference':[],'active':'false','default_doclang':'nl',"
		      "'default_category':'','mandate_id':'M1','mandate_date':''}");
	CHECK_WIRE_AS(clients, live, "mandateid", "'M2'",
		      "{'showcontact':'true','company':'A','default_email':'0',"
		      "'tax_shifted':'false','tax_type':'extax','top':'14','stddiscount':'2.50',"
		      "'reference':[],'active':'true','default_doclang':'nl',"
		      "'default_category':'','mandate_id':'M2','mandate_date':''}");
	/* A number as text keeps its decimals; a date set and cleared. */
	CHECK_WIRE_AS(clients, "{'clientnr':'7','company':'A','stddiscount':'2.50','top':'14'}",
		      "stddiscount", "5", "{'company':'A','top':'14','stddiscount':'5.00'}");
	CHECK_WIRE_AS(clients, "{'clientnr':'7','company':'A','top':'14'}", "top", "30",
		      "{'company':'A','top':'30'}");
	CHECK_WIRE_AS(clients, "{'clientnr':'7','company':'A','mandatedate':'0000-00-00'}",
		      "mandatedate", "'2024-05-01'",
		      "{'company':'A','mandatedate':'2024-05-01'}");
	CHECK_WIRE_AS(clients, "{'clientnr':'7','company':'A','mandate_date':'2024-05-01'}",
		      "mandatedate", "null", "{'company':'A','mandate_date':''}");
	CHECK_WIRE_AS(clients, "{'clientnr':'7','company':'A','mandatedate':null}", "company",
		      "'B'", "{'company':'B','mandatedate':null}");
	/* Booleans in each form the service used. */
	CHECK_WIRE_AS(clients, "{'company':'A','active':'1'}", "active", "false",
		      "{'company':'A','active':'0'}");
	CHECK_WIRE_AS(clients, "{'company':'A','active':'True'}", "active", "false",
		      "{'company':'A','active':'False'}");
	CHECK_WIRE_AS(clients, "{'company':'A','active':1}", "active", "false",
		      "{'company':'A','active':0}");
	CHECK_WIRE_AS(clients, "{'company':'A','active':true}", "active", "false",
		      "{'company':'A','active':false}");
	/* Numbers sent as JSON numbers stay numbers, text sent as a number too. */
	CHECK_WIRE_AS(clients, "{'company':'A','top':14,'zipcode':1234}", "top", "30",
		      "{'company':'A','zipcode':1234,'top':30}");
	CHECK_WIRE_AS(clients, "{'company':'A','zipcode':1234}", "zipcode", "'1235'",
		      "{'company':'A','zipcode':1235}");
	CHECK_WIRE_AS(clients, "{'company':'A','zipcode':1234}", "zipcode", "'1234 AB'",
		      "{'company':'A','zipcode':'1234 AB'}");
	/* A field the service did not send: the default form. */
	CHECK_WIRE_AS(clients, "{'company':'A','active':'true'}", "showcontact", "true",
		      "{'company':'A','active':'true','showcontact':true}");
	/* Lines: JSON numbers inside, strings outside; an edited line and a new one follow
	 * the service's lines. */
	static const char inv[] =
		"{'savename':'S','clientnr':'3','lines':{'line1':{'amount':4,'description':'x',"
		"'tax_rate':21,'price':10.5},'line2':{'amount':'1','description':'y',"
		"'tax_rate':'9','price':'2.00'}}}";
	CHECK_WIRE_AS(saved, inv, "lines",
		      "[{'amount':5,'description':'x','tax_rate':21,'price':10.5},"
		      "{'amount':1,'description':'y','tax_rate':9,'price':3},"
		      "{'amount':2,'description':'z','tax_rate':21,'price':1}]",
		      "{'savename':'S','clientnr':'3','lines':{'line1':{'amount':5,"
		      "'description':'x','tax_rate':21,'price':10.5},'line2':{'amount':'1',"
		      "'description':'y','tax_rate':'9','price':'3.00'},'line3':{'amount':2,"
		      "'description':'z','tax_rate':21,'price':1}}}");
	/* Lines sent as a JSON array go back as one. */
	CHECK_WIRE_AS(saved, "{'savename':'S','lines':[{'amount':'1','price':'2'}]}", "lines",
		      "[{'amount':1,'price':3}]",
		      "{'savename':'S','lines':[{'amount':'1','price':'3'}]}");
	/* Without what was sent: as schema_to_wire. */
	{
		cJSON *py = js("{'company':'A','active':true,'mandateid':'M'}");
		char err[256];
		cJSON *w = schema_to_wire_as(clients, py, NULL, false, err, sizeof(err));
		CHECK_JSON(w, "{'company':'A','active':true,'mandateid':'M'}");
		cJSON_Delete(w);
		cJSON_Delete(py);
	}
}

int main(void)
{
	clients = schema_find("clients");
	products = schema_find("products");
	invoices = schema_find("invoices");
	saved = schema_find("invoices_saved");
	repeated = schema_find("invoices_repeated");
	taxes = schema_find("taxes");
	balance = schema_find("balance");
	profiles = schema_find("profiles");
	payments = schema_find("invoices_payment");
	if (!payments || !clients || !products || !invoices || !saved || !repeated || !taxes || !balance ||
	    !profiles) {
		printf("missing collections\n0 passed, 1 failed\n");
		return 1;
	}
	test_tables();
	test_numbers();
	test_bools();
	test_empty_values();
	test_keyed_lists();
	test_unknown_and_order();
	test_invalid_utf8();
	test_kept_values();
	test_ids_in_records();
	test_whole_invoice();
	test_list_items();
	test_unwrap_one();
	test_record_id();
	test_is_whole();
	test_record_date();
	test_format();
	test_parse();
	test_to_wire_types();
	test_to_wire_required();
	test_to_wire_lists();
	test_round_trips();
	test_to_wire_as();
	return unit_report();
}
