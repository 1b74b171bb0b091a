/* desktop: refusals as desktop notifications (see desktop.h). */
#include "feat/desktop.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <systemd/sd-bus.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"

/* Notifications waiting for the thread; more are dropped (the status file
 * and the log still have them). */
#define DESKTOP_QUEUE_MAX 16
/* Notifications remembered for coalescing. */
#define DESKTOP_RECENT 16
/* How long a Notify may wait for its answer: only this thread waits. */
#define DESKTOP_CALL_USEC (5 * 1000000ULL)
/* At unmount, how long queued notifications may take to leave. */
#define DESKTOP_DRAIN_MSEC 1000

struct item {
	char *summary, *body;
	struct item *next;
};

struct desktop {
	pthread_mutex_t lock; /* protects every field up to recent_next */
	bool stop;
	int wake;             /* eventfd: the queue changed, or stop */
	pthread_t thread;
	struct item *head, *tail;
	unsigned queued;
	struct {
		uint64_t hash;
		double at;    /* CLOCK_MONOTONIC seconds; 0: unused */
	} recent[DESKTOP_RECENT];
	unsigned recent_next;
	/* Said once per mount in the debug log: the thread's own, no lock. */
	bool said_no_bus, said_no_server;
};

static double now_mono(void)
{
	return clock_mono();
}

/* FNV-1a over summary, a NUL, body. */
static uint64_t pair_hash(const char *summary, const char *body)
{
	uint64_t h = 1469598103934665603ULL;
	for (const char *s = summary;; s++) {
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
		if (!*s)
			break;
	}
	for (const char *s = body; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void item_free(struct item *it)
{
	if (!it)
		return;
	free(it->summary);
	free(it->body);
	free(it);
}

/* @s with &, < and > as entities (the body may be read as markup); malloc'd. */
static char *markup_escape(const char *s)
{
	size_t n = 1;
	for (const char *p = s; *p; p++)
		n += *p == '&' ? 5 : *p == '<' || *p == '>' ? 4 : 1;
	char *out = malloc(n), *o = out;
	if (!out)
		return NULL;
	for (const char *p = s; *p; p++) {
		const char *e = *p == '&' ? "&amp;" : *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : NULL;
		if (e) {
			memcpy(o, e, strlen(e));
			o += strlen(e);
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

void desktop_notify(void *ud, const char *summary, const char *body)
{
	struct desktop *dt = ud;
	struct item *it = NULL;
	if (!dt)
		return;
	uint64_t h = pair_hash(summary, body);
	double now = now_mono();

	pthread_mutex_lock(&dt->lock);
	if (dt->stop || dt->queued >= DESKTOP_QUEUE_MAX)
		goto out;
	for (unsigned i = 0; i < DESKTOP_RECENT; i++)
		if (dt->recent[i].at > 0 && dt->recent[i].hash == h &&
		    now - dt->recent[i].at < DESKTOP_COALESCE_SECONDS)
			goto out;
	it = calloc(1, sizeof(*it));
	if (!it || !(it->summary = strdup(summary)) || !(it->body = markup_escape(body))) {
		item_free(it);
		it = NULL;
		goto out;
	}
	dt->recent[dt->recent_next].hash = h;
	dt->recent[dt->recent_next].at = now;
	dt->recent_next = (dt->recent_next + 1) % DESKTOP_RECENT;
	if (dt->tail)
		dt->tail->next = it;
	else
		dt->head = it;
	dt->tail = it;
	dt->queued++;
	uint64_t one = 1;
	if (write(dt->wake, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is already woken. */
	}
out:
	pthread_mutex_unlock(&dt->lock);
}

/* The answer to a Notify: an error means nobody shows notifications here. */
static int notify_reply(sd_bus_message *m, void *userdata, sd_bus_error *err)
{
	struct desktop *dt = userdata;
	(void)err;
	if (sd_bus_message_is_method_error(m, NULL) && !dt->said_no_server) {
		const sd_bus_error *e = sd_bus_message_get_error(m);
		log_msg(LOG_DEBUG, "no desktop notification: %s", e && e->name ? e->name : "error");
		dt->said_no_server = true;
	}
	return 0;
}

/* Connects if need be and queues @it's Notify on *@bus (sent by pump). */
static void send_item(struct desktop *dt, sd_bus **bus, const struct item *it)
{
	sd_bus_message *m = NULL;
	int r;

	if (!*bus) {
		r = sd_bus_open_user(bus);
		if (r < 0) {
			*bus = NULL;
			if (!dt->said_no_bus)
				log_msg(LOG_DEBUG, "no session bus for desktop notifications: %s",
					log_strerror(-r));
			dt->said_no_bus = true;
			return;
		}
	}
	r = sd_bus_message_new_method_call(*bus, &m, "org.freedesktop.Notifications",
					   "/org/freedesktop/Notifications",
					   "org.freedesktop.Notifications", "Notify");
	/* app_name, replaces_id, app_icon, summary, body, actions, hints
	 * (urgency: normal), expire_timeout (the server's default). */
	if (r >= 0)
		r = sd_bus_message_append(m, "susssasa{sv}i", "factuurfs", (uint32_t)0,
					  "dialog-error", it->summary, it->body, 0, 1, "urgency",
					  "y", (uint8_t)1, (int32_t)-1);
	if (r >= 0)
		r = sd_bus_call_async(*bus, NULL, m, notify_reply, dt, DESKTOP_CALL_USEC);
	if (r < 0)
		log_msg(LOG_DEBUG, "desktop notification not sent: %s", log_strerror(-r));
	sd_bus_message_unref(m);
}

/* Does what the bus can do now without waiting; a broken connection is
 * closed (the next notification connects again). */
static void pump(sd_bus **bus)
{
	int r;
	if (!*bus)
		return;
	while ((r = sd_bus_process(*bus, NULL)) > 0)
		;
	if (r < 0) {
		log_msg(LOG_DEBUG, "session bus connection lost: %s", log_strerror(-r));
		*bus = sd_bus_close_unref(*bus);
	}
}

/* Waits for the queue, or for the bus, at most @max_ms (-1: no limit). */
static void wait_for_work(struct desktop *dt, sd_bus *bus, int max_ms)
{
	struct pollfd p[2] = {{.fd = dt->wake, .events = POLLIN}, {.fd = -1}};
	int timeout = max_ms;
	uint64_t until, v;

	if (bus) {
		int events = sd_bus_get_events(bus);
		p[1].fd = sd_bus_get_fd(bus);
		p[1].events = (short)(events > 0 ? events : 0);
		if (sd_bus_get_timeout(bus, &until) > 0 && until != UINT64_MAX) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			uint64_t now = (uint64_t)ts.tv_sec * 1000000ULL + (uint64_t)ts.tv_nsec / 1000;
			int ms = until > now ? (int)((until - now + 999) / 1000) : 0;
			if (timeout < 0 || ms < timeout)
				timeout = ms;
		}
	}
	if (poll(p, p[1].fd >= 0 ? 2 : 1, timeout) > 0 && (p[0].revents & POLLIN)) {
		if (read(dt->wake, &v, sizeof(v)) < 0) {
			/* EAGAIN: someone else read it; nothing to do. */
		}
	}
}

static void *desktop_main(void *arg)
{
	struct desktop *dt = arg;
	sd_bus *bus = NULL;
	bool stop = false;

	while (!stop) {
		pthread_mutex_lock(&dt->lock);
		struct item *list = dt->head;
		dt->head = dt->tail = NULL;
		dt->queued = 0;
		stop = dt->stop;
		pthread_mutex_unlock(&dt->lock);
		while (list) {
			struct item *it = list;
			list = it->next;
			send_item(dt, &bus, it);
			item_free(it);
		}
		pump(&bus);
		if (!stop)
			wait_for_work(dt, bus, -1);
	}
	/* Unmounting: what is queued may leave for a moment, not longer (a
	 * bus that stopped reading must not hold the unmount). */
	double end = now_mono() + DESKTOP_DRAIN_MSEC / 1000.0;
	uint64_t unsent;
	while (bus && sd_bus_get_n_queued_write(bus, &unsent) >= 0 && unsent > 0 &&
	       now_mono() < end) {
		wait_for_work(dt, bus, (int)((end - now_mono()) * 1000) + 1);
		pump(&bus);
	}
	sd_bus_close_unref(bus);
	return NULL;
}

int desktop_start(struct desktop **out)
{
	struct desktop *dt = calloc(1, sizeof(*dt));
	int rc;
	*out = NULL;
	if (!dt)
		return -ENOMEM;
	pthread_mutex_init(&dt->lock, NULL);
	dt->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (dt->wake < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&dt->thread, NULL, desktop_main, dt);
	if (rc < 0)
		goto fail;
	*out = dt;
	return 0;
fail:
	if (dt->wake >= 0)
		close(dt->wake);
	pthread_mutex_destroy(&dt->lock);
	free(dt);
	return rc;
}

void desktop_stop(struct desktop *dt)
{
	uint64_t one = 1;
	if (!dt)
		return;
	pthread_mutex_lock(&dt->lock);
	dt->stop = true;
	if (write(dt->wake, &one, sizeof(one)) < 0) {
		/* The counter is full: the thread is already woken. */
	}
	pthread_mutex_unlock(&dt->lock);
	pthread_join(dt->thread, NULL);
	while (dt->head) {
		struct item *it = dt->head;
		dt->head = it->next;
		item_free(it);
	}
	close(dt->wake);
	pthread_mutex_destroy(&dt->lock);
	free(dt);
}
