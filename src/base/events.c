/* events: errors and changes of a mount (see events.h). */
#include "base/events.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

/* The last EVENTS_KEPT entries, newest at (next - 1). */
struct ring {
	struct events_entry items[EVENTS_KEPT];
	unsigned next, count;
};

struct events {
	pthread_mutex_t lock;     /* protects everything below */
	struct ring rings[2];     /* enum events_ring */
	unsigned long total;      /* errors ever */
	unsigned long generation; /* bumped by every entry and touch */
	events_refusal_fn on_refusal; /* set before serving, then read-only */
	void *on_refusal_ud;
};

int events_new(struct events **out)
{
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev)
		return -ENOMEM;
	pthread_mutex_init(&ev->lock, NULL);
	*out = ev;
	return 0;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

void events_on_refusal(struct events *ev, events_refusal_fn fn, void *ud)
{
	if (!ev)
		return;
	ev->on_refusal = fn;
	ev->on_refusal_ud = ud;
}

static struct events_entry *ring_newest(struct ring *r, unsigned i)
{
	return &r->items[(r->next + EVENTS_KEPT - 1 - i) % EVENTS_KEPT];
}

/* With ev->lock held. */
static void ring_push(struct events *ev, struct ring *r, const char *what, const char *message)
{
	struct events_entry *e;
	ev->generation++;
	/* A failing file manager repeats one error hundreds of times: count
	 * it, so the errors before it stay visible. */
	if (r->count) {
		e = ring_newest(r, 0);
		if (!strncmp(e->what, what, sizeof(e->what) - 1) &&
		    !strncmp(e->message, message, sizeof(e->message) - 1)) {
			e->when = time(NULL);
			e->times++;
			return;
		}
	}
	e = &r->items[r->next];
	e->times = 1;
	e->when = time(NULL);
	snprintf(e->what, sizeof(e->what), "%s", what);
	snprintf(e->message, sizeof(e->message), "%s", message);
	r->next = (r->next + 1) % EVENTS_KEPT;
	if (r->count < EVENTS_KEPT)
		r->count++;
}

static void add_error(struct events *ev, const char *what, const char *message)
{
	pthread_mutex_lock(&ev->lock);
	ring_push(ev, &ev->rings[EVENTS_ERRORS], what, message);
	ev->total++;
	pthread_mutex_unlock(&ev->lock);
}

void events_error(struct events *ev, const char *what, const char *message)
{
	log_msg(LOG_ERR, "%s: %s", what, message);
	add_error(ev, what, message);
}

void events_refused(struct events *ev, const char *file, const char *done, const char *reason)
{
	char summary[1200];
	log_refusal(file, reason);
	add_error(ev, file, reason);
	snprintf(summary, sizeof(summary), "%s was not %s", file, done);
	if (ev->on_refusal)
		ev->on_refusal(ev->on_refusal_ud, summary, reason);
}

void events_change(struct events *ev, const char *fmt, ...)
{
	char buf[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_msg(LOG_INFO, "%s", buf);
	pthread_mutex_lock(&ev->lock);
	ring_push(ev, &ev->rings[EVENTS_CHANGES], "", buf);
	pthread_mutex_unlock(&ev->lock);
}

void events_touch(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	ev->generation++;
	pthread_mutex_unlock(&ev->lock);
}

unsigned long events_generation(struct events *ev)
{
	pthread_mutex_lock(&ev->lock);
	unsigned long g = ev->generation;
	pthread_mutex_unlock(&ev->lock);
	return g;
}

char *events_last_error(struct events *ev)
{
	char *msg = NULL;
	pthread_mutex_lock(&ev->lock);
	struct ring *r = &ev->rings[EVENTS_ERRORS];
	if (r->count)
		msg = strdup(ring_newest(r, 0)->message);
	pthread_mutex_unlock(&ev->lock);
	return msg;
}

size_t events_list(struct events *ev, enum events_ring ring, struct events_entry *out,
		   size_t max, unsigned long *total)
{
	size_t n = 0;
	pthread_mutex_lock(&ev->lock);
	struct ring *r = &ev->rings[ring];
	for (; n < r->count && n < max; n++)
		out[n] = *ring_newest(r, (unsigned)n);
	if (total)
		*total = ev->total;
	pthread_mutex_unlock(&ev->lock);
	return n;
}
