/* jsontext: small scanners over JSON text, without building a tree.
 *
 * For the places where parsing the whole text with cJSON is not worth it
 * (one field of an error body) or costs too much (a page of records, walked
 * one element at a time).  Every function takes the text as [p, end): the
 * text need not be NUL-terminated, and nothing is read at or past @end.
 * None of them allocates; all are safe from any thread.
 */
#ifndef FACTUURFS_MODEL_JSONTEXT_H
#define FACTUURFS_MODEL_JSONTEXT_H

#include <stdbool.h>
#include <stddef.h>

/* The first byte at or after @p that is not JSON whitespace (@end when none).
 * Inline: a page's walk (model/fastwire.c) calls it between every two tokens. */
static inline const char *jt_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

/* The value of hexadecimal digit @c, or -1. */
static inline int jt_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Skips the one JSON value at @p (leading whitespace allowed) and returns the
 * byte just after it, or NULL when the text ends inside it or it does not
 * start a value (a ',', ':', ']' or '}' where a value belongs).  Only the
 * structure is checked: as many brackets close as open (of either kind) and
 * strings close; scalars and the kind of each closing bracket are not
 * (parse the value with cJSON when that matters).  A scalar ends at
 * the first structural byte or whitespace, so inside an array this stops
 * just before the ',' or ']' after the element.  Walking a top-level array:
 *
 *	p = jt_ws(p, end);  // '['
 *	p = jt_ws(p + 1, end);
 *	if (*p != ']') for (;;) {
 *		const char *e = jt_skip_value(p, end);  // element is [p, e)
 *		p = jt_ws(e, end);
 *		if (*p == ']') break;
 *		if (*p != ',') fail;
 *		p = jt_ws(p + 1, end);
 *	}
 *
 * (with the NULL and p == end checks a real caller makes). */
const char *jt_skip_value(const char *p, const char *end);

/* Decodes the JSON string at @p (on its opening quote) into @out, silently
 * truncated to @outsz - 1 bytes (never inside a UTF-8 sequence it wrote) and
 * NUL-terminated.  \uXXXX becomes UTF-8; a surrogate half becomes '?'.
 * Returns the byte after the closing quote, or NULL when the string is
 * unclosed or (when decoding) has a bad \u escape.  With @out NULL it only
 * skips the string, structure only like jt_skip_value: escapes are not
 * checked. */
const char *jt_string(const char *p, const char *end, char *out, size_t outsz);

/* The service's words in an error body [@body, @body + @len): the top-level
 * "message" string of a JSON object, else its "error" string.  Returns true
 * and fills @out (as jt_string) when one was found; false for any other body
 * (not an object, no such key, not a string). */
bool jt_message(const char *body, size_t len, char *out, size_t outsz);

/* ---- a file's text ------------------------------------------------------------------------ */

#include <cjson/cJSON.h>

/* Length of the well-formed UTF-8 sequence at @s (@n bytes left), 0 when
 * there is none (overlong forms, surrogates and code points above U+10FFFF
 * are not well-formed). */
size_t jt_utf8_len(const unsigned char *s, size_t n);

/* A copy of @s that is valid UTF-8: each byte that starts no well-formed
 * sequence is read as the ISO-8859-1 character of its value (U+0080-U+00FF),
 * the likeliest reading of a server that sent Latin-1.  malloc'd, NULL on
 * ENOMEM. */
char *jt_utf8_repaired(const char *s);

/* @v as Python's json module writes a float: integral values below 1e16
 * plainly, otherwise the fewest digits that read back as the same double,
 * with an exponent from 1e16 on. */
void jt_number(double v, char out[32]);

/* How a file's text writes byte @c inside a string: JSON's mandatory escapes only,
 * spelt as Python's json writes them (\" \\ \n \r \t \b \f, else \u00XX below 0x20).
 * Fills @out (NUL-terminated) and returns its length; 0 when @c stands as it is. */
size_t jt_escape(unsigned char c, char out[8]);

/* Text of a file: pretty-printed with two-space indent, keys in the record's
 * order, UTF-8 and '/' unescaped, shortest round-trip numbers, trailing
 * newline.  malloc'd (caller frees), length in *@len. */
char *jt_format(const cJSON *rec, size_t *len);

/* Parses the text of a file as one JSON object, with nothing but whitespace
 * after it and no key repeated.  NULL with a message in @err ("line 3,
 * column 5: invalid JSON", "expected a JSON object") when it is not.  Beyond
 * what cJSON checks, it refuses (the first problem in the text is named):
 *   bytes that are not UTF-8         "line 1, column 9: invalid UTF-8"
 *   a NUL byte anywhere              "line 1, column 9: NUL byte"
 *   a raw control character in a     "line 2, column 7: line break in a string: write it as \n"
 *     string (JSON wants U+0000-     "line 1, column 8: control character U+0001 in a string:
 *     U+001F escaped)                 write it as \u0001"
 *   one between tokens other than    "line 1, column 2: control character U+000C outside a string"
 *     space, tab, CR and LF
 *   a \u0000 escape (a C string      "line 1, column 9: \u0000 in a string: a NUL cannot be stored"
 *     would end there)
 *   a number beyond a double         "field 'lines[1].price': number out of range"
 * A UTF-8 byte-order mark and raw DEL (U+007F) are accepted.  @text need not be
 * NUL-terminated.  Caller deletes. */
cJSON *jt_parse(const char *text, size_t len, char *err, size_t errlen);

#endif
