/* unit_stack: what the unit tests above net/ stand on — a fake service behind
 * a fake transport on a fake clock, the api over it, events, and a cache —
 * built and freed in one place (test_store.c, test_writeback.c, test_save.c).
 */
#ifndef FACTUURFS_UNIT_STACK_H
#define FACTUURFS_UNIT_STACK_H

#include "fake_service.h"
#include "fake_transport.h"

#include "base/events.h"
#include "net/api.h"
#include "store/cache.h"

struct unit_stack {
	struct fake_transport *f; /* owned by the api */
	struct fake_service *svc; /* empty: the test seeds it */
	struct api *api;
	struct events *ev;
	struct cache *cache;
};

/* Builds @st on clock @clk, which it sets to @t0 (the api sleeps and reads
 * time on it; no background share), with the cache made from @ccfg (its
 * `events` is set here).  Exits the test on failure. */
void unit_stack_init(struct unit_stack *st, struct fake_clock *clk, double t0,
		     struct cache_config *ccfg);
/* A new cache from @ccfg in place of the old (a remount's). */
void unit_stack_new_cache(struct unit_stack *st, struct cache_config *ccfg);
void unit_stack_fini(struct unit_stack *st);

#endif
