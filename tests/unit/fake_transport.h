/* fake_transport: an in-process struct transport (src/net/transport.h) for
 * unit tests of net/api and the layers above, as mountpoint-s3's mock client:
 * no sockets, no threads of its own, and (with a fake_clock) no real waiting.
 *
 * Answers come from a callback, when one is set and it answers, else from a
 * table of canned answers by method and path (NULL in either matches any;
 * the latest entry that matches wins), else 404 "no such thing".  Every send
 * is counted by method and path.  An answer may instead be a fault: a
 * transport -errno, whether it never left this machine, a delay.
 */
#ifndef FACTUURFS_FAKE_TRANSPORT_H
#define FACTUURFS_FAKE_TRANSPORT_H

#include "net/transport.h"

#include <stdbool.h>

/* A clock the api and the fake share (api_config.now/sleep with
 * fake_clock_now/fake_clock_sleep and the clock as clock_arg): time moves
 * only when someone sleeps or a test moves it. */
struct fake_clock {
	double now;	   /* seconds; tests may set it */
	double slept;	   /* total of every sleep */
	double last_sleep; /* the last one */
	unsigned sleeps;   /* how many */
};

double fake_clock_now(void *clock);
void fake_clock_sleep(void *clock, double seconds);

struct fake_answer {
	long status;		  /* with err 0: the HTTP status */
	const char *body;	  /* NULL: "" */
	const char *content_type; /* NULL: "" */
	const char *headers;	  /* "Name: value" lines, '\n' between: the fake reads
				   * X-RateLimit-Remaining and Retry-After from them */
	int err;		  /* a fault: this -errno instead of an answer */
	bool unsent;		  /* with err: it provably never left this machine */
	bool local;		  /* with err: this machine's failure (transport.h) */
	const char *error;	  /* with err, or a 3xx: the transport's words */
	double delay;		  /* seconds the attempt takes; one that would end past the
				   * request's deadline ends there with -ETIMEDOUT (sent) */
};

/* Computes the answer to the @call-th send (1 for the first) of @req's
 * method and path; true when it filled @out, false to fall back to the
 * table.  @out's strings must live until the send returns. */
typedef bool (*fake_answer_fn)(void *arg, const struct transport_request *req, unsigned call,
			       struct fake_answer *out);

struct fake_transport;

/* A new fake on @clock (NULL: the real monotonic clock and real sleeps), or
 * NULL when out of memory.  Free it with transport_free(fake_transport_base(f))
 * unless it was handed to api_new_with, which then owns it. */
struct fake_transport *fake_transport_new(struct fake_clock *clock);
struct transport *fake_transport_base(struct fake_transport *f);

/* Answers @method @path (either NULL: any) with @a from now on; @a's
 * strings are copied. */
void fake_transport_set(struct fake_transport *f, const char *method, const char *path,
			const struct fake_answer *a);
void fake_transport_set_fn(struct fake_transport *f, fake_answer_fn fn, void *arg);

/* A secret the redact op replaces by "***" (an API key, as net/http's). */
void fake_transport_set_secret(struct fake_transport *f, const char *secret);

/* Sends of @method @path so far (either NULL: any). */
unsigned fake_transport_calls(struct fake_transport *f, const char *method, const char *path);

/* The body of the last send (NULL before any, or when it had none). */
const char *fake_transport_last_body(struct fake_transport *f);

#endif
