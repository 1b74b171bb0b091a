/* jsontext: scanners over JSON text (see jsontext.h). */
#include "model/jsontext.h"

#include <string.h>

const char *jt_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
		p++;
	return p;
}

static int jt_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

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

const char *jt_string(const char *p, const char *end, char *out, size_t outsz)
{
	size_t o = 0;
	bool cut = false;

	if (out && outsz == 0)
		out = NULL;
	if (p >= end || *p != '"')
		return NULL;
	if (!out) {
		/* Skipping is structure only, as cJSON finds a string's end: a
		 * backslash hides the byte after it.  (cJSON then takes a bad \u
		 * escape too: a skip must not refuse what cJSON parses.) */
		for (p++; p < end; p++) {
			if (*p == '\\') {
				if (++p >= end)
					return NULL;
				continue;
			}
			if (*p == '"')
				return p + 1;
		}
		return NULL;
	}
	for (p++; p < end; p++) {
		char c = *p;
		unsigned long cp;

		if (c == '"') {
			if (out) {
				if (cut)
					o = jt_utf8_whole(out, o);
				out[o] = '\0';
			}
			return p + 1;
		}
		if (c == '\\') {
			if (++p >= end)
				return NULL;
			switch (*p) {
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'u':
				cp = 0;
				for (int k = 0; k < 4; k++) {
					int h;

					if (++p >= end || (h = jt_hexval(*p)) < 0)
						return NULL;
					cp = cp << 4 | (unsigned long)h;
				}
				/* Surrogate halves are not worth pairing for the one-line
				 * messages this decodes. */
				if (cp >= 0xd800 && cp <= 0xdfff)
					cp = '?';
				if (cp >= 0x80) {
					size_t need = cp < 0x800 ? 2 : 3;

					if (!out || cut)
						continue;
					if (o + need >= outsz) {
						cut = true;
						continue;
					}
					if (need == 2) {
						out[o++] = (char)(0xc0 | cp >> 6);
					} else {
						out[o++] = (char)(0xe0 | cp >> 12);
						out[o++] = (char)(0x80 | (cp >> 6 & 0x3f));
					}
					out[o++] = (char)(0x80 | (cp & 0x3f));
					continue;
				}
				c = (char)cp;
				break;
			default:
				c = *p; /* \" \\ \/ and anything else literally */
				break;
			}
		}
		if (out && !cut) {
			if (o + 1 < outsz)
				out[o++] = c;
			else
				cut = true;
		}
	}
	return NULL;
}

const char *jt_skip_value(const char *p, const char *end)
{
	int depth = 0;

	do {
		p = jt_ws(p, end);
		if (p >= end)
			return NULL;
		if (*p == '"') {
			p = jt_string(p, end, NULL, 0);
			if (!p)
				return NULL;
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
			while (p < end && *p != '\0' && !strchr(",:{}[]\" \t\r\n", *p))
				p++;
		}
	} while (depth > 0);
	return p;
}

bool jt_message(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p = body, *end = body + len;
	bool found = false;

	if (!body || !out || outsz == 0)
		return false;
	p = jt_ws(p, end);
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
