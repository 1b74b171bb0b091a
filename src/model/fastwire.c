/* fastwire: a wire record's text to its file's text in one pass (see fastwire.h).
 *
 * Each rule below mirrors one of schema.c's wire -> pythonic conversion
 * (wire_object, wire_value, keyed_to_array, wire_copy) and of jsontext.c's
 * rendering (put_value, put_string, jt_number) for the shapes it takes; every
 * other shape returns FW_NO, which unwinds to -EAGAIN.
 */
#include "model/fastwire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "model/jsontext.h"

#define FW_NO (-EAGAIN)
/* The most fields a table of schema.c has, with room to spare: a larger table
 * takes the reference path. */
#define FW_MAX_FIELDS 96
/* Keyed lists deeper than this (never in the API) take the reference path. */
#define FW_MAX_DEPTH 8


/* The writers below append without ending the text (fastwire_render ends it once);
 * strbuf_reserve keeps room for the NUL. */
static inline void put(struct strbuf *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap && !strbuf_reserve(o, n))
		return;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static inline void putc1(struct strbuf *o, char c)
{
	if (o->len + 2 > o->cap && !strbuf_reserve(o, 1))
		return;
	o->p[o->len++] = c;
}

static void indent(struct strbuf *o, int depth)
{
	static const char spaces[] = "                                ";
	size_t n = 2 * (size_t)depth;

	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		put(o, spaces, k);
		n -= k;
	}
}

static long hex4(const char *p, const char *end)
{
	long v = 0;

	if (end - p < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		int h = jt_hexval(p[i]);

		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

/* put_string's escape of a byte below 0x20 (and of '"' and '\\'): jt_escape. */
static void put_escaped(struct strbuf *o, unsigned c)
{
	char e[8];

	put(o, e, jt_escape((unsigned char)c, e));
}

static void put_utf8(struct strbuf *o, unsigned long cp)
{
	char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (char)(0xc0 | (cp >> 6));
		b[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (char)(0xe0 | (cp >> 12));
		b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (char)(0xf0 | (cp >> 18));
		b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	put(o, b, n);
}

/* The code point of the \uXXXX escape at @p (on its backslash), with the low half
 * that must follow a high surrogate, into *@cp; the byte after it, or NULL for FW_NO:
 * a \u0000 (cJSON cuts the string there) or a surrogate that is not half of a pair. */
static inline const char *unicode_escape(const char *p, const char *end, long *cp)
{
	long hi = hex4(p + 2, end);

	if (hi <= 0)
		return NULL;
	p += 6;
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return NULL;
	if (hi >= 0xd800 && hi <= 0xdbff) {
		if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
			return NULL;
		long lo = hex4(p + 2, end);
		if (lo < 0xdc00 || lo > 0xdfff)
			return NULL;
		p += 6;
		hi = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	}
	*cp = hi;
	return p;
}

/* The escape at @p (on its backslash) as put_string writes what cJSON decodes from it:
 * the byte after it, or NULL for FW_NO (an escape cJSON refuses, or see
 * unicode_escape). */
static inline const char *copy_escape(struct strbuf *o, const char *p, const char *end)
{
	long cp;

	if (end - p < 2)
		return NULL;
	switch (p[1]) {
	case '"':
	case '\\':
	case 'n':
	case 'r':
	case 't':
	case 'b':
	case 'f':
		/* put_string writes these escapes as they came. */
		put(o, p, 2);
		return p + 2;
	case '/':
		putc1(o, '/');
		return p + 2;
	case 'u':
		if (!(p = unicode_escape(p, end, &cp)))
			return NULL;
		if (cp < 0x20 || cp == '"' || cp == '\\')
			put_escaped(o, (unsigned)cp);
		else
			put_utf8(o, (unsigned long)cp);
		return p;
	default:
		return NULL;
	}
}

/* The JSON string at @p (on its opening quote) as put_string writes the value cJSON
 * reads from it: escapes decoded, then JSON's mandatory escapes only, UTF-8 and '/'
 * raw.  Returns the byte after the closing quote, or NULL for FW_NO: a raw control
 * byte or bytes that are not UTF-8 (cJSON keeps them; schema.c repairs them), an
 * escape copy_escape does not take, or no closing quote.  The loop runs over every
 * byte of a listing's strings: plain runs are copied in one put, and the helpers it
 * calls are static inline so that it stays one function to the compiler. */
static const char *copy_string(struct strbuf *o, const char *p, const char *end)
{
	const char *run;

	putc1(o, '"');
	p++;
	run = p;
	for (;;) {
		unsigned char c;

		if (p >= end)
			return NULL;
		c = (unsigned char)*p;
		if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
			p++;
			continue;
		}
		if (c >= 0x80) {
			size_t k = jt_utf8_len((const unsigned char *)p, (size_t)(end - p));

			if (!k)
				return NULL;
			p += k;
			continue;
		}
		put(o, run, (size_t)(p - run));
		if (c == '"') {
			putc1(o, '"');
			return p + 1;
		}
		if (c < 0x20)
			return NULL;
		if (!(p = copy_escape(o, p, end)))
			return NULL;
		run = p;
	}
}

/* A number's text [@p, @e) in the form jt_number writes its double, when that is
 * plain: -?(0|[1-9][0-9]*)(.[0-9]+)? with at most 15 significant digits (fifteen
 * decimal digits always come back from a double as they were, so the shortest form
 * is these digits without the trailing zeros of the fraction) and no fraction that
 * starts with four zeros (%g writes those with an exponent).  Writes it to @buf
 * (32 bytes) and returns its length, with *@integral; 0 for any other number. */
static size_t canon_number(const char *p, const char *e, char *buf, bool *integral)
{
	const char *ip, *ie, *fp = NULL, *fe = NULL;
	bool neg = false;
	size_t n = 0;

	if (p < e && *p == '-') {
		neg = true;
		p++;
	}
	ip = p;
	while (p < e && *p >= '0' && *p <= '9')
		p++;
	ie = p;
	if (ie == ip || (ie - ip > 1 && *ip == '0') || ie - ip > 15)
		return 0;
	if (p < e && *p == '.') {
		fp = ++p;
		while (p < e && *p >= '0' && *p <= '9')
			p++;
		fe = p;
		if (fe == fp)
			return 0;
		while (fe > fp && fe[-1] == '0')
			fe--;
	}
	if (p != e)
		return 0;
	bool zero_int = ie - ip == 1 && *ip == '0';
	if (fp && fe > fp) {
		size_t sig, lead = 0;

		for (const char *q = fp; q < fe && *q == '0'; q++)
			lead++;
		if (zero_int && lead >= 4)
			return 0;
		sig = (zero_int ? 0 : (size_t)(ie - ip)) + (size_t)(fe - fp) - (zero_int ? lead : 0);
		if (sig > 15)
			return 0;
	} else if (zero_int && neg) {
		return 0; /* -0: leave its sign to the reference path */
	}
	if (neg)
		buf[n++] = '-';
	memcpy(buf + n, ip, (size_t)(ie - ip));
	n += (size_t)(ie - ip);
	*integral = !(fp && fe > fp);
	if (!*integral) {
		buf[n++] = '.';
		memcpy(buf + n, fp, (size_t)(fe - fp));
		n += (size_t)(fe - fp);
	}
	buf[n] = '\0';
	return n;
}

/* The end of the scalar token at @p (a number or a literal). */
static const char *scalar_end(const char *p, const char *end)
{
	while (p < end && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' &&
	       *p != '\r' && *p != '\t')
		p++;
	return p;
}

/* The end of a string's token at @p (on its opening quote), or NULL. */
static inline const char *string_end(const char *p, const char *end)
{
	return jt_string(p, end, NULL, 0);
}

/* The value after the key that ends at @ke (its ':' and whitespace skipped), or NULL. */
static const char *value_after(const char *ke, const char *end)
{
	const char *p = jt_ws(ke, end);

	if (p >= end || *p != ':')
		return NULL;
	p = jt_ws(p + 1, end);
	return p < end ? p : NULL;
}

/* A string's bytes when they hold no escape: [*@s, *@s + *@n), else false. */
static bool plain_string(const char *p, const char *e, const char **s, size_t *n)
{
	*s = p + 1;
	*n = (size_t)(e - p - 2);
	return !memchr(*s, '\\', *n);
}

/* wire_copy of a value that is not a container, or of an empty container. */
static const char *copy_scalar(struct strbuf *o, const char *p, const char *end)
{
	char num[32];
	bool integral;
	const char *e;

	if (*p == '"')
		return copy_string(o, p, end);
	if (*p == '{' || *p == '[') {
		const char *q = jt_ws(p + 1, end);

		if (q < end && *q == (*p == '{' ? '}' : ']')) {
			put(o, *p == '{' ? "{}" : "[]", 2);
			return q + 1;
		}
		return NULL;
	}
	e = scalar_end(p, end);
	if ((e - p == 4 && !memcmp(p, "true", 4)) || (e - p == 5 && !memcmp(p, "false", 5)) ||
	    (e - p == 4 && !memcmp(p, "null", 4))) {
		put(o, p, (size_t)(e - p));
		return e;
	}
	size_t n = canon_number(p, e, num, &integral);
	if (!n)
		return NULL;
	put(o, num, n);
	return e;
}

struct slot {
	const char *v; /* the value's first byte, NULL when absent */
};

static const char *render_object(struct strbuf *o, const struct schema_field *fields, size_t n,
				 const char *p, const char *end, int depth, struct slot *top);

/* A keyed list's or plain list's element: an object converted by @f's sub-fields,
 * anything else copied (wire_element). */
static const char *render_element(struct strbuf *o, const struct schema_field *f, const char *p,
				  const char *end, int depth)
{
	if (*p == '{')
		return render_object(o, f->sub, f->nsub, p, end, depth, NULL);
	return copy_scalar(o, p, end);
}

/* The number a keyed list's key stands for (keyed_to_array): its digits after the
 * prefix, at most nine; -1 for any other key. */
static long keyed_num(const struct schema_field *f, const char *k, size_t n)
{
	size_t plen = f->key_prefix ? strlen(f->key_prefix) : 0;
	long v = 0;

	if (plen && n >= plen && !memcmp(k, f->key_prefix, plen)) {
		k += plen;
		n -= plen;
	}
	if (!n || n > 9)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (k[i] < '0' || k[i] > '9')
			return -1;
		v = v * 10 + (k[i] - '0');
	}
	return v;
}

/* A keyed list as an array: {"line1": .., "line2": ..} (@keyed: its keys must come in
 * ascending order already, and then keyed_to_array's stable sort keeps them) or a wire
 * array of the elements, as the array it already is. */
static const char *render_elements(struct strbuf *o, const struct schema_field *f,
				   const char *p, const char *end, int depth, bool keyed)
{
	const char close = keyed ? '}' : ']';
	long last = -1;
	bool first = true;

	p = jt_ws(p + 1, end);
	if (p < end && *p == close) {
		put(o, "[]", 2);
		return p + 1;
	}
	put(o, "[\n", 2);
	for (;;) {
		if (p >= end)
			return NULL;
		if (keyed) {
			const char *ke, *ks;
			size_t kn;
			long num;

			if (*p != '"' || !(ke = string_end(p, end)) || !plain_string(p, ke, &ks, &kn))
				return NULL;
			num = keyed_num(f, ks, kn);
			if (num < 0 || num <= last)
				return NULL;
			last = num;
			if (!(p = value_after(ke, end)))
				return NULL;
		}
		if (!first)
			put(o, ",\n", 2);
		first = false;
		indent(o, depth + 1);
		p = render_element(o, f, p, end, depth + 1);
		if (!p)
			return NULL;
		p = jt_ws(p, end);
		if (p < end && *p == ',') {
			p = jt_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == close)
			break;
		return NULL;
	}
	putc1(o, '\n');
	indent(o, depth);
	putc1(o, ']');
	return p + 1;
}

/* wire_value of a string [@p, @e) for an INT or FLOAT field of type @t: its bytes
 * [@s, @s + @n) are also in @sbuf, ended. */
static const char *render_numeric_string(struct strbuf *o, enum schema_type t, const char *p,
					 const char *e, const char *end, const char *s, size_t n,
					 const char *sbuf)
{
	char num[32];
	bool integral;
	double d;
	size_t k = canon_number(s, s + n, num, &integral);

	if (k && (t == SCHEMA_FLOAT || integral)) {
		put(o, num, k);
		return e;
	}
	/* Not a number: kept as the string it came as.  A number in
	 * another spelling ("10,92", "+5", "1e3"): the reference path. */
	if (!schema_parse_number(sbuf, &d))
		return copy_string(o, p, end);
	if (t == SCHEMA_INT && k && !integral)
		return copy_string(o, p, end);
	return NULL;
}

/* wire_value of field @f for the string at @p: strings as they are, the other scalar
 * types read from their text (schema_parse_number, _bool, schema_empty_date). */
static const char *render_string(struct strbuf *o, const struct schema_field *f, const char *p,
				 const char *end)
{
	enum schema_type t = f->type;
	char sbuf[64];
	const char *e, *s;
	size_t n;

	if (t == SCHEMA_STRING || t == SCHEMA_OBJECT || t == SCHEMA_KEYED_LIST)
		return copy_string(o, p, end);
	e = string_end(p, end);
	if (!e || !plain_string(p, e, &s, &n))
		return NULL;
	if (n == 0) {
		/* "" is null for the scalar types that are not strings. */
		put(o, "null", 4);
		return e;
	}
	if (n >= sizeof(sbuf))
		return t == SCHEMA_DATE ? copy_string(o, p, end) : NULL;
	memcpy(sbuf, s, n);
	sbuf[n] = '\0';
	switch (t) {
	case SCHEMA_INT:
	case SCHEMA_FLOAT:
		return render_numeric_string(o, t, p, e, end, s, n, sbuf);
	case SCHEMA_BOOL: {
		int b = schema_parse_bool(sbuf);

		if (b < 0)
			return copy_string(o, p, end);
		put(o, b ? "true" : "false", b ? 4 : 5);
		return e;
	}
	case SCHEMA_DATE:
		if (schema_empty_date(sbuf)) {
			put(o, "null", 4);
			return e;
		}
		return copy_string(o, p, end);
	default:
		return NULL;
	}
}

/* wire_value of field @f for the value at @p. */
static const char *render_value(struct strbuf *o, const struct schema_field *f, const char *p,
				const char *end, int depth)
{
	if (depth > FW_MAX_DEPTH)
		return NULL;
	if (*p == '"')
		return render_string(o, f, p, end);
	if (*p == '{') {
		if (f->type == SCHEMA_OBJECT)
			return render_object(o, f->sub, f->nsub, p, end, depth, NULL);
		if (f->type == SCHEMA_KEYED_LIST)
			return render_elements(o, f, p, end, depth, true);
		return copy_scalar(o, p, end);
	}
	if (*p == '[') {
		if (f->type == SCHEMA_OBJECT) {
			/* PHP writes an empty associative array as []. */
			const char *q = jt_ws(p + 1, end);

			if (q < end && *q == ']') {
				put(o, "{}", 2);
				return q + 1;
			}
			return NULL;
		}
		if (f->type == SCHEMA_KEYED_LIST)
			return render_elements(o, f, p, end, depth, false);
		return copy_scalar(o, p, end);
	}
	if (f->type == SCHEMA_BOOL) {
		char num[32];
		bool integral;
		const char *e = scalar_end(p, end);
		size_t n = canon_number(p, e, num, &integral);
		if (n == 1 && (num[0] == '0' || num[0] == '1')) {
			put(o, num[0] == '1' ? "true" : "false", num[0] == '1' ? 4 : 5);
			return e;
		}
	}
	return copy_scalar(o, p, end);
}

/* The field of @fields named [@k, @k + @kn), by name only (an alias takes the
 * reference path); starts looking at *@hint, where the service's order puts it. */
static long field_at(const struct schema_field *fields, size_t n, const char *k, size_t kn,
		     size_t *hint)
{
	for (size_t j = 0; j < n; j++) {
		size_t i = *hint + j < n ? *hint + j : *hint + j - n;
		const char *name = fields[i].name;

		if (name[0] == k[0] && !strncmp(name, k, kn) && name[kn] == '\0') {
			*hint = i + 1 < n ? i + 1 : 0;
			return (long)i;
		}
	}
	return -1;
}

/* wire_object: the fields of @fields in table order.  @top, when given, receives the
 * slots (the caller reads the record's id, date and marker from them). */
static const char *render_object(struct strbuf *o, const struct schema_field *fields, size_t n,
				 const char *p, const char *end, int depth, struct slot *top)
{
	struct slot own[FW_MAX_FIELDS];
	struct slot *slots = top ? top : own;
	size_t hint = 0;
	bool any = false, first = true;

	if (n > FW_MAX_FIELDS || depth > FW_MAX_DEPTH)
		return NULL;
	memset(slots, 0, n * sizeof(*slots));
	p = jt_ws(p + 1, end);
	if (p < end && *p == '}') {
		p++;
		goto emit;
	}
	for (;;) {
		const char *ke, *ks, *ve;
		size_t kn;
		long i;

		if (p >= end || *p != '"' || !(ke = string_end(p, end)) ||
		    !plain_string(p, ke, &ks, &kn) || kn == 0)
			return NULL;
		i = field_at(fields, n, ks, kn, &hint);
		/* Unknown, or named twice: the reference path sorts and dedups. */
		if (i < 0 || slots[i].v || !(p = value_after(ke, end)))
			return NULL;
		slots[i].v = p;
		any = true;
		ve = jt_skip_value(p, end);
		if (!ve)
			return NULL;
		p = jt_ws(ve, end);
		if (p < end && *p == ',') {
			p = jt_ws(p + 1, end);
			continue;
		}
		if (p < end && *p == '}') {
			p++;
			break;
		}
		return NULL;
	}
emit:
	if (!any) {
		put(o, "{}", 2);
		return p;
	}
	put(o, "{\n", 2);
	for (size_t i = 0; i < n; i++) {
		if (!slots[i].v)
			continue;
		if (!first)
			put(o, ",\n", 2);
		first = false;
		indent(o, depth + 1);
		putc1(o, '"');
		put(o, fields[i].name, strlen(fields[i].name));
		put(o, "\": ", 3);
		if (!render_value(o, &fields[i], slots[i].v, end, depth + 1))
			return NULL;
	}
	putc1(o, '\n');
	indent(o, depth);
	putc1(o, '}');
	return p;
}

/* schema_record_id's part @i of the record, from its slot. */
static char *id_from(const struct schema_collection *c, const struct slot *slots, long i,
		     const char *end)
{
	const char *p = i >= 0 ? slots[i].v : NULL, *e, *s;
	char num[32];
	bool integral;
	size_t n;

	if (!p)
		return NULL;
	if (*p == '"') {
		e = string_end(p, end);
		if (!e || e - p <= 2)
			return NULL;
		if (c->fields[i].type == SCHEMA_INT) {
			if (!plain_string(p, e, &s, &n) || n >= 256)
				return NULL;
			char sbuf[256];
			double d;

			memcpy(sbuf, s, n);
			sbuf[n] = '\0';
			if (canon_number(s, s + n, num, &integral) && integral)
				return strdup(num);
			/* Another spelling of a whole number: the reference path. */
			if (schema_parse_number(sbuf, &d))
				return NULL;
		}
		/* The decoded value: put_string's text of it is the same bytes when
		 * it holds nothing put_string escapes. */
		{
			struct strbuf t = {0};
			char *id = NULL;

			if (copy_string(&t, p, end) == e && !t.oom &&
			    !memchr(t.p + 1, '\\', t.len - 2))
				id = strndup(t.p + 1, t.len - 2);
			free(t.p);
			return id;
		}
	}
	e = scalar_end(p, end);
	if (canon_number(p, e, num, &integral))
		return strdup(num);
	return NULL;
}

static long field_index(const struct schema_collection *c, const char *name)
{
	for (size_t i = 0; name && i < c->nfields; i++)
		if (!strcmp(c->fields[i].name, name))
			return (long)i;
	return -1;
}

/* schema_record_date from the slots: the first date field that holds a date, in
 * *@t (0 for none).  False when a candidate holds an escape or a long text, or is a
 * keyed list with elements (an invoice never sent, dated by its history): the
 * reference path reads those. */
static bool date_from(const struct schema_collection *c, const struct slot *slots,
		      const char *end, time_t *t)
{
	*t = 0;
	for (size_t k = 0; k < sizeof(c->date_fields) / sizeof(c->date_fields[0]) &&
			   c->date_fields[k];
	     k++) {
		long i = field_index(c, c->date_fields[k]);
		const char *p = i >= 0 ? slots[i].v : NULL, *e, *s;
		char sbuf[64];
		size_t n;

		if (i < 0)
			return false;
		if (p && c->fields[i].type == SCHEMA_KEYED_LIST) {
			const char *in = (*p == '[' || *p == '{') ? jt_ws(p + 1, end) : NULL;
			if (in && in < end && (*in == ']' || *in == '}'))
				continue; /* empty: no date */
			return false;
		}
		if (!p || *p != '"')
			continue;
		e = string_end(p, end);
		if (!e || !plain_string(p, e, &s, &n) || n >= sizeof(sbuf))
			return false;
		memcpy(sbuf, s, n);
		sbuf[n] = '\0';
		/* A DATE field's empty forms are null in the file, which has no date. */
		if (c->fields[i].type == SCHEMA_DATE && schema_empty_date(sbuf))
			continue;
		if ((*t = schema_date_of(sbuf)) != 0)
			return true;
	}
	return true;
}

int fastwire_render(const struct schema_collection *c, const char *p, size_t len,
		    struct strbuf *buf, struct fastwire_record *out)
{
	struct strbuf *o = buf;
	struct slot slots[FW_MAX_FIELDS];
	const char *end = p + len, *q;
	long idi, wi;

	memset(out, 0, sizeof(*out));
	/* One-object collections and composite names: the reference path. */
	if (!c || c->single || !c->id_field || c->id_field2 || c->nfields > FW_MAX_FIELDS)
		return FW_NO;
	p = jt_ws(p, end);
	if (p >= end || *p != '{')
		return FW_NO;
	o->len = 0;
	o->oom = false;
	if (o->cap < len + len / 2 + 64 && !strbuf_reserve(o, len + len / 2 + 64))
		return -ENOMEM;
	q = render_object(o, c->fields, c->nfields, p, end, 0, slots);
	if (!q || jt_ws(q, end) != end || o->oom)
		goto no;
	putc1(o, '\n');
	if (o->oom)
		goto no;
	o->p[o->len] = '\0';
	idi = field_index(c, c->id_field);
	/* An id field the table does not have: the reference path. */
	if (idi < 0)
		goto no;
	out->id = id_from(c, slots, idi, end);
	if (!out->id)
		goto no;
	wi = c->whole_marker ? field_index(c, c->whole_marker) : -1;
	if (c->whole_marker && wi < 0)
		goto no;
	out->whole = !c->whole_marker || slots[wi].v != NULL;
	if (!date_from(c, slots, end, &out->date))
		goto no;
	out->text = o->p;
	out->len = o->len;
	return 0;
no:
	free(out->id);
	memset(out, 0, sizeof(*out));
	return o->oom ? -ENOMEM : FW_NO;
}

/* ---- identifiers the reference path would cut short ----------------------------- */

/* A record's identifiers live at most this deep in a body: a wrapper, its records. */
#define FW_ID_DEPTH 4

struct cuts {
	char **v;
	size_t n, cap; /* base/vec.h */
	bool oom;
};

/* The first NUL in the string at @p (on its opening quote): a raw NUL byte or a
 * \u0000 escape, where cJSON's C string of it ends; NULL for none (or no string). */
static const char *nul_in_string(const char *p, const char *end)
{
	end = string_end(p, end);
	for (const char *q = p + 1; end && q < end - 1; q++) {
		if (!*q)
			return q;
		if (*q != '\\')
			continue;
		if (end - q >= 6 && q[1] == 'u' && !memcmp(q + 2, "0000", 4))
			return q;
		q++;
	}
	return NULL;
}

/* Adds what a C string of the string at @p holds before its NUL at @nul. */
static void cut_add(struct cuts *out, const char *p, const char *nul)
{
	size_t n = (size_t)(nul - p);
	char *raw = malloc(n + 2), *dec = malloc(n + 1);
	bool room = vec_reserve(out, 1) == 0;

	if (!raw || !dec || !room) {
		free(raw);
		free(dec);
		out->oom = true;
		return;
	}
	/* The string up to the NUL, closed there: decoded as cJSON decodes it. */
	memcpy(raw, p, n);
	raw[n] = '"';
	raw[n + 1] = '\0';
	if (!jt_string(raw, raw + n + 1, dec, n + 1))
		dec[0] = '\0';
	free(raw);
	out->v[out->n++] = dec;
}

static bool is_id_field(const struct schema_collection *c, const char *key)
{
	return (c->id_field && !strcmp(key, c->id_field)) ||
	       (c->id_field2 && !strcmp(key, c->id_field2));
}

/* Walks the value at @p: the members of each object down to @depth levels whose
 * key is an id field and whose value is a string with a NUL go to @out.  Returns the
 * end of the value, or NULL where the text is not JSON (the parse that follows then
 * refuses it anyway). */
static const char *nul_walk(const struct schema_collection *c, const char *p, const char *end,
			    int depth, struct cuts *out)
{
	bool obj;

	p = jt_ws(p, end);
	if (p >= end)
		return NULL;
	if (depth <= 0 || (*p != '{' && *p != '['))
		return jt_skip_value(p, end);
	obj = *p == '{';
	p = jt_ws(p + 1, end);
	if (p < end && *p == (obj ? '}' : ']'))
		return p + 1;
	for (;;) {
		const char *v = p;

		if (obj) {
			/* A key decoded as cJSON reads it ("i\u0064" is "id"). */
			char key[64];
			const char *ke = jt_string(p, end, key, sizeof(key)), *nul;

			if (!ke || !(v = value_after(ke, end)))
				return NULL;
			if (*v == '"' && is_id_field(c, key) && (nul = nul_in_string(v, end)))
				cut_add(out, v, nul);
		}
		p = nul_walk(c, v, end, depth - 1, out);
		if (!p)
			return NULL;
		p = jt_ws(p, end);
		if (p < end && *p == ',') {
			p = jt_ws(p + 1, end);
			continue;
		}
		return p < end && *p == (obj ? '}' : ']') ? p + 1 : NULL;
	}
}

long fastwire_nul_ids(const struct schema_collection *c, const char *p, size_t len, bool record,
		      char ***cut)
{
	struct cuts out = {0};

	*cut = NULL;
	if (!c || !c->id_field || (!memchr(p, '\0', len) && !memmem(p, len, "\\u0000", 6)))
		return 0;
	(void)nul_walk(c, p, p + len, record ? 1 : FW_ID_DEPTH, &out);
	if (out.oom) {
		for (size_t i = 0; i < out.n; i++)
			free(out.v[i]);
		free(out.v);
		return -ENOMEM;
	}
	*cut = out.v;
	return (long)out.n;
}
