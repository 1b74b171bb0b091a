/* fake_transport: see fake_transport.h. */
#include "fake_transport.h"

#include "base/clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct fake_entry {
	char *method, *path;  /* NULL: any */
	struct fake_answer a; /* its strings owned by the entry */
};

struct fake_count {
	char *method, *path;
	unsigned n;
};

struct fake_transport {
	struct transport base;	  /* first: a struct transport * is a struct fake_transport * */
	struct fake_clock *clock; /* NULL: real time; the test owns it */

	pthread_mutex_t lock;
	struct fake_entry *entries; /* protected by lock */
	size_t n_entries;	    /* protected by lock */
	struct fake_count *counts;  /* protected by lock */
	size_t n_counts;	    /* protected by lock */
	fake_answer_fn fn;	    /* protected by lock */
	void *fn_arg;		    /* protected by lock */
	char *secret;		    /* protected by lock */
	char *last_body;	    /* protected by lock */
};

double fake_clock_now(void *clock)
{
	return ((struct fake_clock *)clock)->now;
}

void fake_clock_sleep(void *clock, double seconds)
{
	struct fake_clock *c = clock;

	c->now += seconds;
	c->slept += seconds;
	c->last_sleep = seconds;
	c->sleeps++;
}

static char *fake_dup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		abort(); /* a test out of memory has nothing better to do */
	return d;
}

static void fake_answer_free(struct fake_answer *a)
{
	free((char *)a->body);
	free((char *)a->content_type);
	free((char *)a->headers);
	free((char *)a->error);
}

static bool fake_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The number in header @name of @headers, or -1. */
static long fake_header(const char *headers, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = headers; p && *p;) {
		const char *eol = strchr(p, '\n');

		if (!strncasecmp(p, name, n) && p[n] == ':') {
			char *end;
			long v = strtol(p + n + 1, &end, 10);

			return end != p + n + 1 && v >= 0 ? v : -1;
		}
		p = eol ? eol + 1 : NULL;
	}
	return -1;
}

/* Waits @seconds on the fake's clock. */
static void fake_wait(struct fake_transport *f, double seconds)
{
	struct timespec ts;

	if (seconds <= 0)
		return;
	if (f->clock) {
		/* Not a sleep of the api's: only the time moves. */
		f->clock->now += seconds;
		return;
	}
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static double fake_now(struct fake_transport *f)
{
	return f->clock ? f->clock->now : clock_mono();
}

static int fake_send(struct transport *t, const struct transport_request *req,
		     struct transport_result *res)
{
	struct fake_transport *f = (struct fake_transport *)t;
	struct fake_answer a = {
	    .status = 404, .body = "no such thing", .content_type = "text/plain"};
	struct fake_count *cnt = NULL;
	fake_answer_fn fn;
	void *fn_arg;
	unsigned call;
	bool found = false;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_counts && !cnt; i++)
		if (fake_same(f->counts[i].method, req->method) &&
		    fake_same(f->counts[i].path, req->path))
			cnt = &f->counts[i];
	if (!cnt) {
		struct fake_count *nc = realloc(f->counts, (f->n_counts + 1) * sizeof(*nc));

		if (!nc)
			abort();
		f->counts = nc;
		cnt = &f->counts[f->n_counts++];
		cnt->method = fake_dup(req->method);
		cnt->path = fake_dup(req->path);
		cnt->n = 0;
	}
	call = ++cnt->n;
	free(f->last_body);
	f->last_body = fake_dup(req->body);
	fn = f->fn;
	fn_arg = f->fn_arg;
	pthread_mutex_unlock(&f->lock);

	/* The callback runs unlocked: it may look at the counts itself. */
	if (fn)
		found = fn(fn_arg, req, call, &a);
	pthread_mutex_lock(&f->lock);
	for (size_t i = f->n_entries; i > 0 && !found; i--) {
		const struct fake_entry *e = &f->entries[i - 1];

		if ((!e->method || !strcmp(e->method, req->method)) &&
		    (!e->path || !strcmp(e->path, req->path))) {
			a = e->a;
			found = true;
		}
	}
	/* Copy what the result needs while the entry cannot change. */
	if (a.err == 0) {
		res->status = a.status;
		res->body = fake_dup(a.body ? a.body : "");
		res->len = strlen(res->body);
		res->received = res->len;
		snprintf(res->content_type, sizeof(res->content_type), "%s",
			 a.content_type ? a.content_type : "");
	}
	res->ratelimit_remaining = fake_header(a.headers, "X-RateLimit-Remaining");
	res->retry_after = fake_header(a.headers, "Retry-After");
	if (a.error)
		snprintf(res->error, sizeof(res->error), "%s", a.error);
	pthread_mutex_unlock(&f->lock);

	if (a.delay > 0) {
		double left = req->deadline - fake_now(f);

		if (a.delay > left) {
			/* Sent, and no answer before the deadline: what curl says. */
			fake_wait(f, left);
			transport_result_clear(res);
			res->status = 0;
			res->received = 0;
			res->content_type[0] = '\0';
			res->err = -ETIMEDOUT;
			res->unsent = false;
			res->local = false;
			snprintf(res->error, sizeof(res->error), "Timeout was reached (fake)");
			return res->err;
		}
		fake_wait(f, a.delay);
	}
	if (a.err < 0) {
		res->err = a.err;
		res->unsent = a.unsent;
		res->local = a.local;
		if (!res->error[0])
			snprintf(res->error, sizeof(res->error), "%s (fake)", strerror(-a.err));
	}
	return res->err;
}

static void fake_redact(struct transport *t, char *s)
{
	struct fake_transport *f = (struct fake_transport *)t;
	size_t n;
	char *p;

	pthread_mutex_lock(&f->lock);
	n = f->secret ? strlen(f->secret) : 0;
	while (n > 0 && (p = strstr(s, f->secret))) {
		memmove(p + 3, p + n, strlen(p + n) + 1);
		memcpy(p, "***", 3);
	}
	pthread_mutex_unlock(&f->lock);
}

static void fake_free(struct transport *t)
{
	struct fake_transport *f = (struct fake_transport *)t;

	for (size_t i = 0; i < f->n_entries; i++) {
		free(f->entries[i].method);
		free(f->entries[i].path);
		fake_answer_free(&f->entries[i].a);
	}
	for (size_t i = 0; i < f->n_counts; i++) {
		free(f->counts[i].method);
		free(f->counts[i].path);
	}
	free(f->entries);
	free(f->counts);
	free(f->secret);
	free(f->last_body);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

static const struct transport_ops fake_ops = {
    .send = fake_send,
    .redact = fake_redact,
    .free = fake_free,
};

struct fake_transport *fake_transport_new(struct fake_clock *clock)
{
	struct fake_transport *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->base.ops = &fake_ops;
	f->clock = clock;
	pthread_mutex_init(&f->lock, NULL);
	return f;
}

struct transport *fake_transport_base(struct fake_transport *f)
{
	return &f->base;
}

void fake_transport_set(struct fake_transport *f, const char *method, const char *path,
			const struct fake_answer *a)
{
	struct fake_entry *e = NULL;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_entries; i++) {
		if (fake_same(f->entries[i].method, method) &&
		    fake_same(f->entries[i].path, path)) {
			/* Replaced: it moves to the end, the latest set. */
			struct fake_entry old = f->entries[i];

			memmove(&f->entries[i], &f->entries[i + 1],
				(f->n_entries - i - 1) * sizeof(*e));
			f->entries[f->n_entries - 1] = old;
			e = &f->entries[f->n_entries - 1];
			fake_answer_free(&e->a);
			break;
		}
	}
	if (!e) {
		struct fake_entry *ne = realloc(f->entries, (f->n_entries + 1) * sizeof(*ne));

		if (!ne)
			abort();
		f->entries = ne;
		e = &f->entries[f->n_entries++];
		e->method = fake_dup(method);
		e->path = fake_dup(path);
	}
	e->a = *a;
	e->a.body = fake_dup(a->body);
	e->a.content_type = fake_dup(a->content_type);
	e->a.headers = fake_dup(a->headers);
	e->a.error = fake_dup(a->error);
	pthread_mutex_unlock(&f->lock);
}

void fake_transport_set_fn(struct fake_transport *f, fake_answer_fn fn, void *arg)
{
	pthread_mutex_lock(&f->lock);
	f->fn = fn;
	f->fn_arg = arg;
	pthread_mutex_unlock(&f->lock);
}

void fake_transport_set_secret(struct fake_transport *f, const char *secret)
{
	pthread_mutex_lock(&f->lock);
	free(f->secret);
	f->secret = fake_dup(secret);
	pthread_mutex_unlock(&f->lock);
}

unsigned fake_transport_calls(struct fake_transport *f, const char *method, const char *path)
{
	unsigned n = 0;

	pthread_mutex_lock(&f->lock);
	for (size_t i = 0; i < f->n_counts; i++)
		if ((!method || !strcmp(f->counts[i].method, method)) &&
		    (!path || !strcmp(f->counts[i].path, path)))
			n += f->counts[i].n;
	pthread_mutex_unlock(&f->lock);
	return n;
}

const char *fake_transport_last_body(struct fake_transport *f)
{
	const char *b;

	pthread_mutex_lock(&f->lock);
	b = f->last_body;
	pthread_mutex_unlock(&f->lock);
	return b;
}
