/* jsontext: scanners over JSON text (see jsontext.h). */
#include "model/jsontext.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <string.h>

#include "base/strbuf.h"

/* The length of @out[0, @n) without a UTF-8 sequence cut short at its end:
 * raw multibyte text is copied byte by byte, so truncation can split one. */
static size_t jt_utf8_whole(const char *out, size_t n)
{
	size_t lead = n, need;
	unsigned char c;

	while (lead > 0 && ((unsigned char)out[lead - 1] & 0xc0) == 0x80 && n - lead < 3)
		lead--;
	if (lead == 0)
		return n;
	c = (unsigned char)out[lead - 1];
	if (c < 0x80)
		return n;
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return n - (lead - 1) >= need ? n : lead - 1;
}

/* The closing quote of the string whose body starts at @p, or NULL: memchr finds each
 * quote, and one after an odd run of backslashes is escaped.  A listing page is mostly
 * string bytes, so this is the loop its walk spends its time in. */
static const char *jt_string_close(const char *p, const char *end)
{
	const char *start = p;

	while (p < end) {
		const char *q = memchr(p, '"', (size_t)(end - p));
		size_t bs = 0;

		if (!q)
			return NULL;
		while (q - bs > start && q[-1 - (ptrdiff_t)bs] == '\\')
			bs++;
		if (!(bs & 1))
			return q;
		p = q + 1;
	}
	return NULL;
}

/* jt_string's decoded text so far: @o bytes of @out (@sz bytes), and whether it was
 * cut short (then nothing more is added). */
struct jt_out {
	char *out;
	size_t sz, o;
	bool cut;
};

static void jt_out_byte(struct jt_out *w, char c)
{
	if (w->cut)
		return;
	if (w->o + 1 < w->sz)
		w->out[w->o++] = c;
	else
		w->cut = true;
}

/* A \u escape's code point from 0x80 up (no surrogates: at most 0xffff), as UTF-8:
 * all of it or, when it does not fit, nothing and the text is cut. */
static void jt_out_wide(struct jt_out *w, unsigned long cp)
{
	size_t need = cp < 0x800 ? 2 : 3;

	if (w->cut)
		return;
	if (w->o + need >= w->sz) {
		w->cut = true;
		return;
	}
	if (need == 2) {
		w->out[w->o++] = (char)(0xc0 | cp >> 6);
	} else {
		w->out[w->o++] = (char)(0xe0 | cp >> 12);
		w->out[w->o++] = (char)(0x80 | (cp >> 6 & 0x3f));
	}
	w->out[w->o++] = (char)(0x80 | (cp & 0x3f));
}

/* The code point of the \u escape whose 'u' is at @p into *@cp: the escape's last
 * byte, or NULL when four hex digits do not follow. */
static const char *jt_unicode(const char *p, const char *end, unsigned long *cp)
{
	*cp = 0;
	for (int k = 0; k < 4; k++) {
		int h;

		if (++p >= end || (h = jt_hexval(*p)) < 0)
			return NULL;
		*cp = *cp << 4 | (unsigned long)h;
	}
	/* Surrogate halves are not worth pairing for the one-line messages
	 * this decodes. */
	if (*cp >= 0xd800 && *cp <= 0xdfff)
		*cp = '?';
	return p;
}

/* The byte a one-letter escape (the byte after the backslash) stands for. */
static char jt_unescape(char e)
{
	switch (e) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	default:
		return e; /* \" \\ \/ and anything else literally */
	}
}

/* jt_string decoding the string's body at @p into @out (@outsz > 0). */
static const char *jt_string_decode(const char *p, const char *end, char *out, size_t outsz)
{
	struct jt_out w = {.out = out, .sz = outsz};

	for (; p < end; p++) {
		unsigned long cp;

		if (*p == '"') {
			if (w.cut)
				w.o = jt_utf8_whole(out, w.o);
			out[w.o] = '\0';
			return p + 1;
		}
		if (*p != '\\') {
			jt_out_byte(&w, *p);
			continue;
		}
		if (++p >= end)
			return NULL;
		if (*p != 'u') {
			jt_out_byte(&w, jt_unescape(*p));
			continue;
		}
		if (!(p = jt_unicode(p, end, &cp)))
			return NULL;
		if (cp >= 0x80)
			jt_out_wide(&w, cp);
		else
			jt_out_byte(&w, (char)cp);
	}
	return NULL;
}

const char *jt_string(const char *p, const char *end, char *out, size_t outsz)
{
	if (out && outsz == 0)
		out = NULL;
	if (p >= end || *p != '"')
		return NULL;
	if (!out) {
		/* Skipping is structure only, as cJSON finds a string's end: a
		 * backslash hides the byte after it.  (cJSON then takes a bad \u
		 * escape too: a skip must not refuse what cJSON parses.) */
		p = jt_string_close(p + 1, end);
		return p ? p + 1 : NULL;
	}
	return jt_string_decode(p + 1, end, out, outsz);
}

/* The bytes a scalar ends at (jt_skip_value): structure, whitespace and NUL. */
static const bool jt_scalar_stop[256] = {
	['\0'] = true, [','] = true, [':'] = true, ['{'] = true, ['}'] = true, ['['] = true,
	[']'] = true, ['"'] = true, [' '] = true, ['\t'] = true, ['\r'] = true, ['\n'] = true,
};

const char *jt_skip_value(const char *p, const char *end)
{
	int depth = 0;

	do {
		p = jt_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '"') {
			p = jt_string_close(p + 1, end);
			if (!p)
				return NULL;
			p++;
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			/* At depth 0 this closes the caller's container: no value here. */
			if (--depth < 0)
				return NULL;
			p++;
		} else if (*p == ',' || *p == ':') {
			if (depth == 0)
				return NULL;
			p++;
		} else if (*p == '\0') {
			return NULL;
		} else {
			/* number, true, false, null: up to the next structural byte */
			while (p < end && !jt_scalar_stop[(unsigned char)*p])
				p++;
		}
	} while (depth > 0);
	return p;
}

bool jt_message(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p, *end;
	bool found = false;

	if (!body || !out || outsz == 0)
		return false;
	end = body + len;
	p = jt_ws(body, end);
	if (p >= end || *p != '{')
		return false;
	p++;
	for (;;) {
		char key[16];

		p = jt_ws(p, end);
		if (p < end && *p == '}')
			break;
		p = jt_string(p, end, key, sizeof(key));
		if (!p)
			break;
		p = jt_ws(p, end);
		if (p >= end || *p != ':')
			break;
		p = jt_ws(p + 1, end);
		/* "message" wins over "error", whichever comes first. */
		if (p < end && *p == '"' &&
		    (!strcmp(key, "message") || (!found && !strcmp(key, "error")))) {
			p = jt_string(p, end, out, outsz);
			if (!p) {
				out[0] = '\0';
				return false;
			}
			found = true;
			if (!strcmp(key, "message"))
				break;
		} else {
			p = jt_skip_value(p, end);
			if (!p)
				break;
		}
		p = jt_ws(p, end);
		if (p >= end || *p != ',')
			break;
		p++;
	}
	return found;
}

/* ---- UTF-8 and numbers ------------------------------------------------------------------- */

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* clang-format off */
static const struct utf8_row {
	unsigned char lead_lo, lead_hi, len, second_lo, second_hi;
} utf8_rows[] = {
	{0x00, 0x7f, 1, 0x00, 0x00},
	{0xc2, 0xdf, 2, 0x80, 0xbf},
	{0xe0, 0xe0, 3, 0xa0, 0xbf},
	{0xe1, 0xec, 3, 0x80, 0xbf},
	{0xed, 0xed, 3, 0x80, 0x9f},
	{0xee, 0xef, 3, 0x80, 0xbf},
	{0xf0, 0xf0, 4, 0x90, 0xbf},
	{0xf1, 0xf3, 4, 0x80, 0xbf},
	{0xf4, 0xf4, 4, 0x80, 0x8f},
};
/* clang-format on */

/* Length of the well-formed UTF-8 sequence at @s (@n bytes left), 0 when there is none. */
size_t jt_utf8_len(const unsigned char *s, size_t n)
{
	size_t i, k;

	for (i = 0; i < N(utf8_rows); i++) {
		const struct utf8_row *r = &utf8_rows[i];

		if (s[0] < r->lead_lo || s[0] > r->lead_hi)
			continue;
		if (n < r->len)
			return 0;
		if (r->len > 1 && (s[1] < r->second_lo || s[1] > r->second_hi))
			return 0;
		for (k = 2; k < r->len; k++)
			if (s[k] < 0x80 || s[k] > 0xbf)
				return 0;
		return r->len;
	}
	return 0;
}

/* A copy of @s that is valid UTF-8: each byte that starts no well-formed sequence is
 * read as the ISO-8859-1 character of its value (U+0080-U+00FF, two bytes), the
 * likeliest reading of a server that sent Latin-1.  malloc'd, NULL on ENOMEM. */
char *jt_utf8_repaired(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0;
	char *out = malloc(2 * n + 1), *o = out;

	if (!out)
		return NULL;
	while (i < n) {
		size_t k = jt_utf8_len(p + i, n - i);
		if (k) {
			memcpy(o, p + i, k);
			o += k;
			i += k;
		} else {
			*o++ = (char)(0xc0 | p[i] >> 6);
			*o++ = (char)(0x80 | (p[i] & 0x3f));
			i++;
		}
	}
	*o = '\0';
	return out;
}

/* Python's repr of a float, which its json module writes: integral values below 1e16
 * plainly (Python adds ".0"), otherwise the fewest digits that strtod reads back as the
 * same double, with an exponent from 1e16 on (%g alone would wait until 1e17). */
void jt_number(double v, char out[32])
{
	bool big = v <= -1e16 || v >= 1e16;
	int prec;

	if (!big && (double)(long long)v == v) {
		snprintf(out, 32, "%lld", (long long)v);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		if (big)
			snprintf(out, 32, "%.*e", prec - 1, v);
		else
			snprintf(out, 32, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			return;
	}
}

/* ---- a file's text ------------------------------------------------------------------------------------ */


static void buf_indent(struct strbuf *b, int depth)
{
	static const char spaces[] = "                ";
	size_t n = 2 * (size_t)depth;

	while (n) {
		size_t k = n < sizeof(spaces) - 1 ? n : sizeof(spaces) - 1;

		strbuf_put(b, spaces, k);
		n -= k;
	}
}

/* JSON's mandatory escapes only, spelt as Python's json writes them; UTF-8 and '/' raw. */
size_t jt_escape(unsigned char c, char out[8])
{
	static const char hex[] = "0123456789abcdef";
	char e = 0;

	switch (c) {
	case '"':
	case '\\':
		e = (char)c;
		break;
	case '\n':
		e = 'n';
		break;
	case '\r':
		e = 'r';
		break;
	case '\t':
		e = 't';
		break;
	case '\b':
		e = 'b';
		break;
	case '\f':
		e = 'f';
		break;
	default:
		if (c >= 0x20)
			return 0;
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 0xf];
		out[6] = '\0';
		return 6;
	}
	out[0] = '\\';
	out[1] = e;
	out[2] = '\0';
	return 2;
}

static void put_string(struct strbuf *b, const char *s)
{
	const unsigned char *p;
	char esc[8];

	strbuf_put(b, "\"", 1);
	for (p = (const unsigned char *)s; *p; p++) {
		size_t n = jt_escape(*p, esc);

		if (n)
			strbuf_put(b, esc, n);
		else
			strbuf_put(b, (const char *)p, 1);
	}
	strbuf_put(b, "\"", 1);
}

static void put_value(struct strbuf *b, const cJSON *v, int depth)
{
	char num[32];
	const cJSON *m;

	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		bool obj = cJSON_IsObject(v);

		if (!v->child) {
			strbuf_puts(b, obj ? "{}" : "[]");
			return;
		}
		strbuf_puts(b, obj ? "{\n" : "[\n");
		cJSON_ArrayForEach(m, v)
		{
			buf_indent(b, depth + 1);
			if (obj) {
				put_string(b, m->string ? m->string : "");
				strbuf_puts(b, ": ");
			}
			put_value(b, m, depth + 1);
			strbuf_puts(b, m->next ? ",\n" : "\n");
		}
		buf_indent(b, depth);
		strbuf_puts(b, obj ? "}" : "]");
	} else if (cJSON_IsString(v)) {
		put_string(b, v->valuestring);
	} else if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
		jt_number(v->valuedouble, num);
		strbuf_puts(b, num);
	} else if (cJSON_IsTrue(v)) {
		strbuf_puts(b, "true");
	} else if (cJSON_IsFalse(v)) {
		strbuf_puts(b, "false");
	} else if (cJSON_IsRaw(v) && v->valuestring) {
		strbuf_puts(b, v->valuestring);
	} else {
		/* null, and what JSON cannot say (NaN, infinities). */
		strbuf_puts(b, "null");
	}
}

char *jt_format(const cJSON *rec, size_t *len)
{
	struct strbuf b = {0};

	put_value(&b, rec, 0);
	strbuf_put(&b, "\n", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	if (len)
		*len = b.len;
	return b.p;
}

/* snprintf for messages and field paths: a NULL @dst is no error, and a cut text is
 * acceptable (the start names the problem). */
static void set_err(char *dst, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *dst, size_t n, const char *fmt, ...)
{
	va_list ap;

	if (!dst || !n)
		return;
	va_start(ap, fmt);
	vsnprintf(dst, n, fmt, ap);
	va_end(ap);
}

/* 1-based line and column (in characters, not bytes) of @pos in @text. */
static void line_col(const char *text, const char *pos, unsigned *line, unsigned *col)
{
	const char *p;

	*line = 1;
	*col = 1;
	for (p = text; p < pos; p++) {
		if (*p == '\n') {
			(*line)++;
			*col = 1;
		} else if (((unsigned char)*p & 0xc0) != 0x80) {
			(*col)++;
		}
	}
}

static bool json_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Raw control characters that JSON has a short escape for, named in messages. */
/* clang-format off */
static const struct {
	char c;
	const char *what, *esc;
} control_names[] = {
	{'\n', "line break", "\\n"},
	{'\t', "tab", "\\t"},
	{'\r', "carriage return", "\\r"},
	{'\b', "backspace", "\\b"},
	{'\f', "form feed", "\\f"},
};
/* clang-format on */

static void control_problem(unsigned char c, bool in_string, char *why, size_t whylen)
{
	size_t i;

	if (!in_string) {
		set_err(why, whylen, "control character U+%04X outside a string", c);
		return;
	}
	for (i = 0; i < N(control_names); i++) {
		if (control_names[i].c == (char)c) {
			set_err(why, whylen, "%s in a string: write it as %s",
				control_names[i].what, control_names[i].esc);
			return;
		}
	}
	set_err(why, whylen, "control character U+%04X in a string: write it as \\u%04X", c, c);
}

/* The first place where @text breaks a rule of JSON that cJSON does not check (it takes
 * a string's bytes as they are and any byte up to ' ' for space): bytes that are not
 * UTF-8, a NUL byte, a raw control character (a string must escape every one; between
 * tokens only space, tab, CR and LF may stand), or a "\u0000" escape (a C string ends
 * there, so cJSON would cut the value short without a word).  Returns its position
 * with the reason in @why, or NULL.  Which bytes are inside a string is certain only up
 * to the first syntax error, so the caller reports whichever of the two comes first. */
static const char *text_problem(const char *text, size_t len, char *why, size_t whylen)
{
	const unsigned char *p = (const unsigned char *)text;
	bool in_string = false;
	size_t i = 0, k;

	while (i < len) {
		unsigned char c = p[i];

		if (c >= 0x80) {
			k = jt_utf8_len(p + i, len - i);
			if (!k) {
				set_err(why, whylen, "invalid UTF-8");
				return text + i;
			}
			i += k;
			continue;
		}
		if (!c) {
			set_err(why, whylen, "NUL byte");
			return text + i;
		}
		if (c < 0x20 && (in_string || (c != '\t' && c != '\n' && c != '\r'))) {
			control_problem(c, in_string, why, whylen);
			return text + i;
		}
		if (c == '"') {
			in_string = !in_string;
		} else if (in_string && c == '\\' && i + 1 < len) {
			if (len - i >= 6 && memcmp(p + i + 1, "u0000", 5) == 0) {
				set_err(why, whylen, "\\u0000 in a string: a NUL cannot be stored");
				return text + i;
			}
			/* The escaped character cannot end the string; anything unusable after
			 * the backslash is left to the checks above and to cJSON. */
			if (p[i + 1] >= 0x20 && p[i + 1] < 0x80)
				i++;
		}
		i++;
	}
	return NULL;
}

/* The first key that occurs twice in one object anywhere in @v, or NULL. */
static const char *duplicate_key(const cJSON *v)
{
	const cJSON *m, *o;

	cJSON_ArrayForEach(m, v)
	{
		const char *d;

		if (cJSON_IsObject(v))
			for (o = v->child; o != m; o = o->next)
				if (strcmp(o->string, m->string) == 0)
					return m->string;
		if ((cJSON_IsObject(m) || cJSON_IsArray(m)) && (d = duplicate_key(m)))
			return d;
	}
	return NULL;
}

/* Whether @v holds a number too large for a double (cJSON reads 1e999 as infinity, which
 * the file would show as null); the first one's path ("lines[0].price") in @path. */
static bool out_of_range(const cJSON *v, char *path, size_t pathlen)
{
	size_t used = strlen(path), i = 0;
	const cJSON *m;

	if (cJSON_IsNumber(v))
		return !isfinite(v->valuedouble);
	cJSON_ArrayForEach(m, v)
	{
		if (cJSON_IsObject(v))
			set_err(path + used, pathlen - used, "%s%s", used ? "." : "", m->string);
		else
			set_err(path + used, pathlen - used, "[%zu]", i);
		i++;
		if (out_of_range(m, path, pathlen))
			return true;
		path[used] = '\0';
	}
	return false;
}

cJSON *jt_parse(const char *text, size_t len, char *err, size_t errlen)
{
	const char *end = NULL, *p, *bad, *dup;
	char why[96], path[256] = "";
	unsigned line, col;
	cJSON *root;

	if (!text)
		len = 0;
	for (p = text; p && p < text + len && json_space(*p); p++)
		;
	if (!len || p == text + len) {
		set_err(err, errlen, "empty file: expected a JSON object");
		return NULL;
	}
	bad = text_problem(text, len, why, sizeof(why));
	/* The parse-end pointer locates the error without cJSON's global error pointer. */
	root = cJSON_ParseWithLengthOpts(text, len, &end, false);
	if (!root) {
		p = end && end >= text && end <= text + len ? end : text;
		line_col(text, bad && bad <= p ? bad : p, &line, &col);
		set_err(err, errlen, "line %u, column %u: %s", line, col,
			bad && bad <= p ? why : "invalid JSON");
		return NULL;
	}
	for (p = end; p < text + len && json_space(*p); p++)
		;
	if (bad && (p == text + len || bad <= p)) {
		line_col(text, bad, &line, &col);
		set_err(err, errlen, "line %u, column %u: %s", line, col, why);
		goto fail;
	}
	if (!cJSON_IsObject(root)) {
		set_err(err, errlen, "expected a JSON object");
		goto fail;
	}
	if (p < text + len) {
		line_col(text, p, &line, &col);
		set_err(err, errlen, "line %u, column %u: unexpected text after the JSON object",
			line, col);
		goto fail;
	}
	/* cJSON keeps both copies of a repeated key; which one the user meant is unknowable. */
	dup = duplicate_key(root);
	if (dup) {
		set_err(err, errlen, "duplicate key '%s'", dup);
		goto fail;
	}
	if (out_of_range(root, path, sizeof(path))) {
		set_err(err, errlen, "field '%s': number out of range", path);
		goto fail;
	}
	return root;
fail:
	cJSON_Delete(root);
	return NULL;
}

