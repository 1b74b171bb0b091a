/* names: reversible mapping between API identifiers and file names.
 *
 * A record's file name is its identifier with a few bytes written %XX (upper-case
 * hex), so that any usable identifier is a valid, harmless file name and the mapping
 * is exactly invertible:
 *   '/' -> "%2F", '%' -> "%25", a leading '.' -> "%2E",
 *   control bytes 0x01-0x1F and 0x7F -> "%01".."%1F", "%7F" (a tab is "%09").
 * Everything else (spaces, UTF-8, '+', '~', even bytes that are not UTF-8) stays as
 * it is.  The identifiers "", "." and ".." have no file name: they cannot name a file,
 * nor a record in a URL path (where they mean "here" and "up").  Decoding accepts only
 * the canonical form, so every file name maps to at most one identifier and
 * names_encode(names_decode(n)) == n whenever decoding succeeds.
 */
#ifndef FACTUURFS_NAMES_H
#define FACTUURFS_NAMES_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The longest stem a record's file name may have: NAME_MAX less the longest suffix a
 * record's file takes (".json"; a PDF's ".pdf" is shorter).  A longer name would be
 * listed, but no lookup of it reaches a file system (the kernel refuses names over
 * NAME_MAX once its cache of the entry is gone). */
#define NAMES_STEM_MAX (NAME_MAX - sizeof(".json") + 1)

/* The file-name stem of @id in *@out (malloc'd, the caller's): 0; -EINVAL when @id
 * has no file name ("", "." or ".."); -ENAMETOOLONG when the stem would be longer
 * than @max bytes; -ENOMEM.  *@out is NULL unless 0 is returned. */
int names_stem(const char *id, size_t max, char **out);

/* names_stem without a bound, for identifiers that have a name (those of a listing):
 * the stem, or NULL for one that has none, for NULL and on ENOMEM. */
char *names_encode(const char *id);

/* Returns the malloc'd identifier for file-name stem @stem (caller frees), or
 * NULL when @stem is not a canonical encoding: a '%' not followed by an escape
 * names_encode writes (lower-case hex, "%41", "%00", a "%2E" that is not leading),
 * a raw '/', control byte or leading '.', an empty stem, or a stem that would
 * decode to "." or ".." ("%2E", "%2E.").  The result may hold '/' (from "%2F"). */
char *names_decode(const char *stem);

/* Splits "@name" into stem and suffix when it ends in @suffix (".json",
 * ".pdf"); returns a malloc'd decoded identifier or NULL when @name is not
 * "<canonical stem><suffix>". */
char *names_record_id(const char *name, const char *suffix);

/* True for names that are never records and must never reach the API:
 * dotfiles, editor scratch names (`~` suffix, `#x#`, `.swp`, vim's `4913`),
 * desktop probes (desktop.ini, autorun.inf, Thumbs.db, .Trash-UID, ...). */
bool names_is_scratch(const char *name);

/* Percent-escapes @id for a URL path segment: every byte except the RFC 3986
 * unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX, so '/' is %2F and a
 * space %20.  Returns a malloc'd string (caller frees) or NULL on ENOMEM. */
char *names_url_escape(const char *id);

/* True when @s is one or more ASCII digits (an integer identifier). */
bool names_all_digits(const char *s);

#endif
