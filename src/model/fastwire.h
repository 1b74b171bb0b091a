/* fastwire: one wire record's JSON text straight to its file's text, in a
 * single pass and without building a tree.
 *
 * The fast path of a listing (store/body.c): a 10,000-invoice listing took
 * ~75 µs per record through cJSON (parse the wire, build the pythonic tree
 * with schema_from_wire, render it with jt_format, print the wire again),
 * where the transfer itself costs ~35 µs a record.  This renders the
 * common shape of a record directly: keys without escapes, each field of the
 * table at most once, numbers already in their shortest form, keyed lists
 * in key order.  Anything else (an alias, an unknown or repeated key, an
 * exponent, bytes that are not UTF-8, a lone surrogate...) answers -EAGAIN,
 * and the caller takes the reference path, whose text this path must equal
 * byte for byte: tests/unit/test_fastwire.c checks both on the fake's
 * accounts and on hand-made oddities, and tests/fuzz/fuzz_fastwire.c on
 * anything.
 */
#ifndef FACTUURFS_MODEL_FASTWIRE_H
#define FACTUURFS_MODEL_FASTWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "base/strbuf.h"
#include "model/schema.h"

struct fastwire_record {
	const char *text; /* the file's text, as jt_format(schema_from_wire()) renders it:
			     in the buffer given, valid until its next use */
	size_t len;
	char *id;    /* as schema_record_id() gives it; malloc'd, the caller's */
	time_t date; /* as schema_record_date() of the pythonic form */
	bool whole;  /* as schema_record_is_whole() */
};

/* Renders the wire record [@p, @p + @len) (one JSON object, surrounding
 * whitespace allowed) of collection @c into @buf (base/strbuf.h: start it zeroed,
 * reuse it for every record of a page, whose pages are then faulted in once, and
 * free(buf.p) after).  0: *@out filled; -EAGAIN: not a shape this path takes
 * (nothing to free: use the reference path); -ENOMEM. */
int fastwire_render(const struct schema_collection *c, const char *p, size_t len,
		    struct strbuf *buf, struct fastwire_record *out);

/* The identifiers the reference path would cut short.  cJSON ends a string at its
 * first NUL (a "\u0000" escape, or a raw NUL byte), so a record whose id is "7\0evil"
 * would pass for record 7.  In the JSON text [@p, @p + @len), finds every member named
 * as one of @c's id fields whose value is a string holding a NUL: among @p's own members
 * when @record (@p is one record), else at any depth a record can be at in a body (a
 * wrapper, its records).  Returns how many, with what cJSON makes of each (its text
 * before the NUL) in *@cut: a malloc'd array of malloc'd strings, the caller's, NULL
 * for none; -ENOMEM.  A text without a NUL costs one memchr and one memmem. */
long fastwire_nul_ids(const struct schema_collection *c, const char *p, size_t len, bool record,
		      char ***cut);

#endif
