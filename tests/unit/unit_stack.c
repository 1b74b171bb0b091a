/* unit_stack: the service side of the unit tests (see unit_stack.h). */
#include "unit_stack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void unit_stack_failed(void)
{
	printf("setup failed\n");
	exit(1);
}

void unit_stack_init(struct unit_stack *st, struct fake_clock *clk, double t0,
		     struct cache_config *ccfg)
{
	struct api_config acfg = {
	    .background_per_hour = -1,
	    .now = fake_clock_now,
	    .sleep = fake_clock_sleep,
	    .clock_arg = clk,
	};

	memset(st, 0, sizeof(*st));
	*clk = (struct fake_clock){.now = t0};
	st->f = fake_transport_new(clk);
	st->svc = fake_service_new(st->f);
	if (api_new_with(&st->api, &acfg, fake_transport_base(st->f)) != 0 ||
	    events_new(&st->ev) != 0)
		unit_stack_failed();
	unit_stack_new_cache(st, ccfg);
}

void unit_stack_new_cache(struct unit_stack *st, struct cache_config *ccfg)
{
	cache_free(st->cache);
	st->cache = NULL;
	ccfg->events = st->ev;
	if (cache_new(&st->cache, st->api, ccfg) != 0)
		unit_stack_failed();
}

void unit_stack_fini(struct unit_stack *st)
{
	cache_free(st->cache);
	api_free(st->api);
	fake_service_free(st->svc);
	events_free(st->ev);
}
