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

/* The first byte at or after @p that is not JSON whitespace (@end when none). */
const char *jt_ws(const char *p, const char *end);

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

#endif
