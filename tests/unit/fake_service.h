/* fake_service: a small factuursturen account behind a fake_transport, for
 * the unit tests of the layers above net/ (store, writeback, the save
 * machine): what tests/fakeapi/fakeapi.py is to the mount, in-process.
 *
 * It keeps records in their wire form (strings for numbers, as the service
 * sends them) per collection and answers, in the API's wire forms:
 *   GET <coll>?[filter=F&]count=N&offset=M  a page of the listing (invoice
 *                                           filters open and paid)
 *   GET <coll>/<id>                         {"<one_key>": record}
 *   GET invoices_pdf/<nr>                   the PDF's bytes
 *   PUT <coll>/<id>                         the body's fields merged in
 *   PUT invoices_payment/<nr>               the amount taken off `open`
 *   POST <coll>                             a new record (invoices: by action)
 *   DELETE <coll>/<id>                      the record removed
 * Tests shape the answers (list shapes, paging quirks, listings without a
 * field, how a POST says its id), inject faults per method and path, and
 * hold requests until released (a condition variable) to make threads meet.
 * Every request is logged; counts are by method and path (query left out).
 */
#ifndef FACTUURFS_FAKE_SERVICE_H
#define FACTUURFS_FAKE_SERVICE_H

#include "fake_transport.h"

#include <stdbool.h>
#include <stddef.h>

struct fake_service;

/* A service answering every request of @f (it sets @f's callback); the test
 * frees it after the api that owns @f. */
struct fake_service *fake_service_new(struct fake_transport *f);
void fake_service_free(struct fake_service *s);

/* Adds wire record @wire (JSON text; single quotes read as double quotes,
 * as test_schema.c's fixtures) to @coll, or replaces the one with its id. */
void fake_service_put(struct fake_service *s, const char *coll, const char *wire);
/* The record @id of @coll as unformatted JSON (malloc'd), or NULL. */
char *fake_service_get(struct fake_service *s, const char *coll, const char *id);
size_t fake_service_count(struct fake_service *s, const char *coll);
/* The small bakery account test_save and test_writeback start from: clients
 * 1 and 2, products 1 and 2, invoice 2026-0001 of client 1. */
void fake_service_seed(struct fake_service *s);
/* The PDF of invoice @nr: @len bytes (copied). */
void fake_service_pdf(struct fake_service *s, const char *nr, const char *data, size_t len);

/* How a listing is wrapped. */
enum fake_shape {
	FAKE_ARRAY,    /* [{..}, {..}] */
	FAKE_WRAPPED,  /* {"clients": [{..}, {..}]} */
	FAKE_NUMBERED, /* {"0": {..}, "1": {..}} */
};
void fake_service_shape(struct fake_service *s, enum fake_shape shape);
/* Paging quirks: @ignore_offset sends the first page for every offset;
 * @server_page > 0 ignores `count` and pages at that many. */
void fake_service_paging(struct fake_service *s, bool ignore_offset, long server_page);
/* Listings of @coll leave out @field (NULL: nothing), as listings that carry
 * records only in part. */
void fake_service_partial(struct fake_service *s, const char *coll, const char *field);

/* How a POST answers the new record's id. */
enum fake_post {
	FAKE_POST_NATURAL, /* as the service: clients, products a JSON number; invoices the
			      number as plain text */
	FAKE_POST_NUMBER,  /* 42 */
	FAKE_POST_STRING,  /* "42" */
	FAKE_POST_WRAPPED, /* {"product": {... "id": "42" ...}} */
	FAKE_POST_EMPTY,   /* nothing */
};
void fake_service_post_answer(struct fake_service *s, enum fake_post how);

/* From now on, the next @times requests (< 0: all) of @method to @path (the
 * path without its query; either NULL: any) are answered with @a (strings
 * copied) instead; with @act the service does what was asked first (a POST
 * that made its record and lost its answer). */
void fake_service_fail(struct fake_service *s, const char *method, const char *path,
		       const struct fake_answer *a, bool act, int times);
void fake_service_clear_faults(struct fake_service *s);

/* Requests of @method to @path (without query; NULL: any) wait, unanswered,
 * until fake_service_release; fake_service_wait_held waits (10 s at most:
 * false then) until @n of them are waiting. */
void fake_service_hold(struct fake_service *s, const char *method, const char *path);
bool fake_service_wait_held(struct fake_service *s, unsigned n);
void fake_service_release(struct fake_service *s);

/* Requests of @method to @path so far (the path without its query; either
 * NULL: any). */
unsigned fake_service_calls(struct fake_service *s, const char *method, const char *path);
/* The body of the last such request (malloc'd), or NULL. */
char *fake_service_last_body(struct fake_service *s, const char *method, const char *path);
/* The full path (query included) of the @i-th request (0: the first), or
 * NULL; borrowed, valid until the service is freed. */
const char *fake_service_path(struct fake_service *s, unsigned i);

#endif
