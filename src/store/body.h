/* body: the records of a list body, in the shapes the service sends one in (a bare
 * array, converted one element at a time; else an object wrapping the list, parsed
 * whole: schema_list_items), appended to a struct recs (store/record.h).
 */
#ifndef FACTUURFS_STORE_BODY_H
#define FACTUURFS_STORE_BODY_H

#include <stddef.h>

#include "model/schema.h"
#include "store/record.h"

struct arena_block;
struct events;

/* A page at least this big puts its records in an arena (base/arena.h), and keeps
 * its body as their wire (pages_fetch). */
#define BODY_ARENA_PAGE ((size_t)256 << 10)

/* The records of the bare JSON array @body (@len bytes) of collection @c, appended
 * to @rs; @body_block (may be NULL) holds @body, for the records' wire to point
 * into.  Records whose id names no file are left out and said to @ev.  The number
 * of elements, -EIO when @body is no bare array (@rs may then hold some of its
 * records: drop them), or -ENOMEM. */
long body_add_array(const struct schema_collection *c, const char *body, size_t len,
		    struct arena_block *body_block, struct recs *rs, struct events *ev);

/* The records of list body @body in any shape, appended to @rs: the number of
 * elements, or -EIO (not a list) or -ENOMEM. */
long body_records(const struct schema_collection *c, const char *body, size_t len,
		  struct recs *rs, struct events *ev);

#endif
