/* names: reversible mapping between API identifiers and file names (see names.h). */
#include "base/names.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char hex_upper[] = "0123456789ABCDEF";

/* The one rule both directions share: the bytes a file name spells as %XX.  '/' cannot
 * be in a name, '%' is the escape itself, a leading '.' would make a dotfile, and
 * control bytes make names that terminals and shell scripts mangle. */
static bool must_escape(unsigned char c, bool leading)
{
	return c == '/' || c == '%' || (leading && c == '.') || (c >= 0x01 && c <= 0x1f) ||
	       c == 0x7f;
}

/* "." and ".." are no file names, and as a URL path segment they mean "here" and "up". */
static bool unusable_id(const char *id)
{
	return !*id || strcmp(id, ".") == 0 || strcmp(id, "..") == 0;
}

int names_stem(const char *id, size_t max, char **out)
{
	const unsigned char *s;
	size_t n = 0;
	char *o;

	*out = NULL;
	if (unusable_id(id))
		return -EINVAL;
	for (s = (const unsigned char *)id; *s; s++)
		n += must_escape(*s, s == (const unsigned char *)id) ? 3 : 1;
	if (n > max)
		return -ENAMETOOLONG;
	*out = o = malloc(n + 1);
	if (!o)
		return -ENOMEM;
	for (s = (const unsigned char *)id; *s; s++) {
		if (must_escape(*s, s == (const unsigned char *)id)) {
			*o++ = '%';
			*o++ = hex_upper[*s >> 4];
			*o++ = hex_upper[*s & 0xf];
		} else {
			*o++ = (char)*s;
		}
	}
	*o = '\0';
	return 0;
}

char *names_encode(const char *id)
{
	char *stem = NULL;

	if (id)
		(void)names_stem(id, SIZE_MAX, &stem);
	return stem;
}

/* Value of an upper-case hex digit, -1 for anything else ("%2f" is not canonical). */
static int hex_value(char c)
{
	const char *p = c ? strchr(hex_upper, c) : NULL;

	return p ? (int)(p - hex_upper) : -1;
}

char *names_decode(const char *stem)
{
	const char *s;
	char *out, *o;
	int hi, lo;

	if (!stem || !*stem)
		return NULL;
	out = malloc(strlen(stem) + 1);
	if (!out)
		return NULL;
	o = out;
	for (s = stem; *s; s++) {
		bool leading = s == stem;
		unsigned char c = (unsigned char)*s;

		if (c == '%') {
			/* Only an escape names_encode writes: so every name has one reading. */
			hi = hex_value(s[1]);
			lo = hi < 0 ? -1 : hex_value(s[2]);
			if (lo < 0)
				goto bad;
			c = (unsigned char)(hi << 4 | lo);
			if (!must_escape(c, leading))
				goto bad;
			s += 2;
		} else if (must_escape(c, leading)) {
			/* A raw '/', control byte or leading '.': names_encode never leaves one. */
			goto bad;
		}
		*o++ = (char)c;
	}
	*o = '\0';
	if (unusable_id(out))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

char *names_record_id(const char *name, const char *suffix)
{
	size_t nlen, slen;
	char *stem, *id;

	if (!name || !suffix)
		return NULL;
	nlen = strlen(name);
	slen = strlen(suffix);
	if (nlen <= slen || strcmp(name + nlen - slen, suffix) != 0)
		return NULL;
	stem = strndup(name, nlen - slen);
	if (!stem)
		return NULL;
	id = names_decode(stem);
	free(stem);
	return id;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t slen = strlen(suffix);

	return len >= slen && strcmp(s + len - slen, suffix) == 0;
}

bool names_is_scratch(const char *name)
{
	/* Names Windows-minded tools probe; Windows compares names case-insensitively. */
	static const char *const probes[] = {"desktop.ini", "autorun.inf", "Thumbs.db",
					     "folder.jpg"};
	/* Swap, backup and temporary files of vim and of save-to-temp tools. */
	static const char *const suffixes[] = {"~", ".swp", ".swx", ".swo", ".tmp"};
	size_t len, i;

	if (!name || !*name)
		return false;
	len = strlen(name);
	/* Dotfiles: .hidden, .directory, .Trash-1000, .goutputstream-*, vim's .x.swp... */
	if (name[0] == '.')
		return true;
	/* emacs autosave "#file#". */
	if (len >= 2 && name[0] == '#' && name[len - 1] == '#')
		return true;
	/* vim probes whether it may create files with "4913"; "4913.json" is a record. */
	if (strcmp(name, "4913") == 0)
		return true;
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (ends_with(name, len, suffixes[i]))
			return true;
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++)
		if (strcasecmp(name, probes[i]) == 0)
			return true;
	return false;
}

static bool url_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *names_url_escape(const char *id)
{
	const unsigned char *s;
	size_t n = 0;
	char *out, *o;

	if (!id)
		return NULL;
	for (s = (const unsigned char *)id; *s; s++)
		n += url_unreserved(*s) ? 1 : 3;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	for (s = (const unsigned char *)id; *s; s++) {
		if (url_unreserved(*s)) {
			*o++ = (char)*s;
		} else {
			*o++ = '%';
			*o++ = hex_upper[*s >> 4];
			*o++ = hex_upper[*s & 0xf];
		}
	}
	*o = '\0';
	return out;
}

bool names_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}
