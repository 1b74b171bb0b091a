/* templates: the example records of templates/, made from the data dictionary.
 *
 * One template per collection a user can make records in: those the API can
 * POST to (clients, products, invoices) and the write-only ones whose new
 * file is one request about the record it is named after
 * (invoices_payment/<invoicenr>.json).  A template
 * holds every field a user may send when creating, in dictionary order, each
 * with its .example (or a value of its type: "", 0, false, null), a keyed list
 * with one element, and no read-only field; schema_to_wire() takes it as it is, but
 * for a required date it leaves null (a payment's day is the user's to say).
 * Nothing here is stored: the text is made again on each call, the same each
 * time, so it costs no state and no API call.
 */
#ifndef FACTUURFS_TEMPLATES_H
#define FACTUURFS_TEMPLATES_H

#include <stdbool.h>
#include <stddef.h>

#include "model/schema.h"

/* Whether a new *.json file in @c's directory can become a record (or a payment). */
bool templates_creatable(const struct schema_collection *c);

/* The templates, in dictionary order: how many, the collection of template @i (NULL
 * past the end), and the index of file name @name ("products.json"), or -1. */
size_t templates_count(void);
const struct schema_collection *templates_collection(size_t i);
int templates_find(const char *name);
/* The file name of template @i ("products.json") into @buf; false past the end or
 * when it does not fit. */
bool templates_name(size_t i, char *buf, size_t len);

/* The template record of @c (pythonic; caller deletes), NULL when @c is not
 * creatable or on ENOMEM. */
cJSON *templates_record(const struct schema_collection *c);

/* The text of template @i as jt_format() writes it: malloc'd (caller frees),
 * length in *@len; NULL past the end or on ENOMEM. */
char *templates_text(size_t i, size_t *len);

/* True when pythonic record @rec is @c's template unchanged (compared as JSON, so
 * spacing and key order do not count): what a user saved without editing it. */
bool templates_is_verbatim(const struct schema_collection *c, const cJSON *rec);

#endif
