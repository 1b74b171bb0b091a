/* names: reversible mapping between API identifiers and file names (see names.h). */
#include "names.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Escapes written by names_encode(); decoding accepts exactly these, upper case. */
#define ESC_SLASH "%2F"
#define ESC_PERCENT "%25"
#define ESC_DOT "%2E"

char *names_encode(const char *id)
{
	size_t n = 0;
	const char *s;
	char *out, *o;

	if (!id || !*id)
		return NULL;
	for (s = id; *s; s++)
		n += (*s == '/' || *s == '%' || (s == id && *s == '.')) ? 3 : 1;
	out = malloc(n + 1);
	if (!out)
		return NULL;
	o = out;
	for (s = id; *s; s++) {
		if (*s == '/')
			o = mempcpy(o, ESC_SLASH, 3);
		else if (*s == '%')
			o = mempcpy(o, ESC_PERCENT, 3);
		else if (s == id && *s == '.')
			o = mempcpy(o, ESC_DOT, 3);
		else
			*o++ = *s;
	}
	*o = '\0';
	return out;
}

char *names_decode(const char *stem)
{
	const char *s;
	char *out, *o;

	/* A raw leading '.' would encode as "%2E": not canonical. */
	if (!stem || !*stem || *stem == '.')
		return NULL;
	out = malloc(strlen(stem) + 1);
	if (!out)
		return NULL;
	o = out;
	for (s = stem; *s; s++) {
		if (*s == '%') {
			if (strncmp(s, ESC_SLASH, 3) == 0)
				*o++ = '/';
			else if (strncmp(s, ESC_PERCENT, 3) == 0)
				*o++ = '%';
			else if (s == stem && strncmp(s, ESC_DOT, 3) == 0)
				*o++ = '.';
			else
				goto bad;
			s += 2;
		} else if (*s == '/') {
			/* names_encode never leaves a raw '/', so this is no canonical stem. */
			goto bad;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
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
	static const char hex[] = "0123456789ABCDEF";
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
			*o++ = hex[*s >> 4];
			*o++ = hex[*s & 0xf];
		}
	}
	*o = '\0';
	return out;
}
