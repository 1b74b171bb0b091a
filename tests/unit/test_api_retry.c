/* Unit tests of src/net/api.c's service semantics and src/net/reserve.c,
 * over tests/unit/fake_transport.c: the retry table, the deadline,
 * Retry-After, the health breaker, the rate limit, api_call's errno and
 * message, and the reserve.  Time is a fake_clock: nothing here sleeps. */
#include "fake_transport.h"
#include "net/api.h"
#include "net/reserve.h"
#include "unit.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define T0 1000.0

struct env {
	struct fake_clock clock;
	struct fake_transport *f; /* owned by api */
	struct api *api;
};

static void env_init(struct env *e, long timeout_ms)
{
	struct api_config cfg = {
	    .timeout_ms = timeout_ms,
	    .background_per_hour = -1,
	    .now = fake_clock_now,
	    .sleep = fake_clock_sleep,
	};

	memset(e, 0, sizeof(*e));
	e->clock.now = T0;
	cfg.clock_arg = &e->clock;
	e->f = fake_transport_new(&e->clock);
	if (!e->f || api_new_with(&e->api, &cfg, fake_transport_base(e->f)) != 0) {
		printf("setup failed\n");
		exit(1);
	}
}

static void env_fini(struct env *e)
{
	api_free(e->api);
	e->api = NULL;
	e->f = NULL;
}

static struct api_stats stats_of(struct env *e)
{
	struct api_stats st;

	api_get_stats(e->api, &st);
	return st;
}

/* api_call, the answer cleared after; returns the rc, @a keeps all but the body. */
static int call(struct env *e, const char *method, const char *path, const char *body,
		struct api_answer *a)
{
	int rc = api_call(e->api, method, path, body, body ? strlen(body) : 0, a);

	api_answer_clear(a);
	return rc;
}

/* Times on the fake clock are sums of doubles: compare them with a margin. */
static bool near(double a, double b)
{
	return a - b < 1e-6 && b - a < 1e-6;
}

/* Moves the fake clock just past the health's next try. */
static void past_next_try(struct env *e)
{
	e->clock.now += stats_of(e).next_try + 1e-3;
}

static bool starts_with(const char *s, const char *prefix)
{
	return s && !strncmp(s, prefix, strlen(prefix));
}

/* ---- answers: api_call's errno and message ---------------------------------- */

static void test_success(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;
	int rc;

	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "clients",
			   &(struct fake_answer){.status = 200,
						 .body = "[{\"clientnr\": 7}]",
						 .content_type = "application/json",
						 .headers = "X-RateLimit-Remaining: 42"});
	rc = api_call(e.api, "GET", "/clients", NULL, 0, &a);
	CHECK(rc == 0);
	CHECK(a.answered && !a.not_sent && !a.failed_fast);
	CHECK(a.status == 200 && a.ratelimit_remaining == 42);
	CHECK_STR(a.body, "[{\"clientnr\": 7}]");
	CHECK(a.len == strlen("[{\"clientnr\": 7}]"));
	CHECK_STR(a.content_type, "application/json");
	CHECK_STR(a.message, "");
	api_answer_clear(&a);
	CHECK(a.body == NULL);
	/* The leading '/' is not the transport's business. */
	CHECK(fake_transport_calls(e.f, "GET", "clients") == 1);

	/* A body goes through as it is; a 204 gives "" not NULL. */
	fake_transport_set(e.f, "PUT", "clients/7", &(struct fake_answer){.status = 204});
	rc = api_call(e.api, "PUT", "clients/7", "{\"naam\": \"x\"}", 13, &a);
	CHECK(rc == 0 && a.body && a.len == 0 && a.status == 204);
	CHECK_STR(fake_transport_last_body(e.f), "{\"naam\": \"x\"}");
	api_answer_clear(&a);

	st = stats_of(&e);
	CHECK(st.requests == 2 && st.failures == 0 && st.retries == 0 && st.failed_fast == 0);
	CHECK(st.bytes_in == strlen("[{\"clientnr\": 7}]"));
	CHECK(st.ratelimit_remaining == 42 && st.last_hour == 2);
	CHECK(st.health == API_UP && st.next_try == 0);
	CHECK(e.clock.sleeps == 0);
	env_fini(&e);
}

struct status_case {
	long status;
	const char *body;
	const char *headers;
	const char *error; /* the transport's words (a 3xx) */
	int rc;
	const char *message;
};

static void test_statuses(void)
{
	static char longbody[1001];
	static char long_message[256];
	const struct status_case cases[] = {
	    {400, "  Invalid field:\tnaam\x01 \nsecond line\n", NULL, NULL, -EINVAL,
	     "HTTP 400: Invalid field: naam?"},
	    {422,
	     "{\"code\": 5, \"error\": \"ignored\", \"message\": \"Klant niet gevonden \\u00e9\"}",
	     NULL, NULL, -EINVAL, "HTTP 422: Klant niet gevonden \xc3\xa9"},
	    {422, "{\"error\": \"veld ontbreekt\"}", NULL, NULL, -EINVAL,
	     "HTTP 422: veld ontbreekt"},
	    {401, "Unauthorized", NULL, NULL, -EACCES, "HTTP 401: Unauthorized"},
	    {403, "Forbidden", "X-RateLimit-Remaining: 10", NULL, -EACCES, "HTTP 403: Forbidden"},
	    {403, "Forbidden", NULL, NULL, -EACCES, "HTTP 403: Forbidden"},
	    {404, "", NULL, NULL, -ENOENT, "HTTP 404"},
	    {404, "  \n", NULL, NULL, -ENOENT, "HTTP 404"},
	    {410, "gone", NULL, NULL, -ENOENT, "HTTP 410: gone"},
	    {405, "nope", NULL, NULL, -EPERM, "HTTP 405: nope"},
	    {408, "slow", NULL, NULL, -EIO, "HTTP 408: slow"},
	    {302, "", NULL, "redirect to http://elsewhere.invalid/x not followed", -EIO,
	     "HTTP 302: redirect to http://elsewhere.invalid/x not followed"},
	    {418, "{\"message\": \"teapot\"}", NULL, NULL, -EIO, "HTTP 418: teapot"},
	    {1000, longbody, NULL, NULL, -EIO, long_message},
	};

	memset(longbody, 'x', sizeof(longbody) - 1);
	snprintf(long_message, sizeof(long_message), "HTTP 1000: %.200s", longbody);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct status_case *c = &cases[i];
		struct env e;
		struct api_answer a;
		struct api_stats st;
		char what[64];
		int rc;

		snprintf(what, sizeof(what), "case %zu (HTTP %ld)", i, c->status);
		env_init(&e, 0);
		fake_transport_set(e.f, "GET", "x",
				   &(struct fake_answer){.status = c->status,
							 .body = c->body,
							 .headers = c->headers,
							 .error = c->error});
		rc = api_call(e.api, "GET", "x", NULL, 0, &a);
		unit_check(rc == c->rc, __FILE__, __LINE__, what);
		unit_check_str(a.message, c->message, __FILE__, __LINE__, what);
		unit_check(a.answered && !a.not_sent && !a.failed_fast && a.status == c->status &&
			       a.body == NULL,
			   __FILE__, __LINE__, what);
		/* None of these is the service failing: one call, no retry. */
		unit_check(fake_transport_calls(e.f, NULL, NULL) == 1, __FILE__, __LINE__, what);
		st = stats_of(&e);
		unit_check(st.failures == 1 && st.health == API_UP, __FILE__, __LINE__, what);
		api_answer_clear(&a);
		env_fini(&e);
	}
}

/* The legacy api_request: 0 for any answer, the server's words in error. */
static void test_api_request(void)
{
	struct env e;
	struct api_response r;
	int rc;

	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 422,
						 .body = "{\"message\": \"Klant niet gevonden\"}",
						 .headers = "X-RateLimit-Remaining: 5"});
	rc = api_request(e.api, "GET", "x", NULL, 0, &r);
	CHECK(rc == 0 && r.status == 422 && r.ratelimit_remaining == 5 && !r.not_sent);
	CHECK_STR(r.error, "Klant niet gevonden");
	CHECK_STR(r.body, "{\"message\": \"Klant niet gevonden\"}");
	api_response_clear(&r);

	fake_transport_set(e.f, "GET", "gone",
			   &(struct fake_answer){.err = -ECONNRESET, .error = "Recv failure"});
	rc = api_request(e.api, "GET", "gone", NULL, 0, &r);
	CHECK(rc == -ECONNRESET && r.status == 0 && r.body == NULL);
	CHECK_STR(r.error, "Recv failure");
	api_response_clear(&r);
	env_fini(&e);
}

/* A secret the transport holds never reaches a message, a log or the status. */
static void test_redaction(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;

	env_init(&e, 0);
	fake_transport_set_secret(e.f, "s3cr3t:K3y");
	fake_transport_set(e.f, "GET", "leaky",
			   &(struct fake_answer){
			       .status = 401, .body = "wrong key s3cr3t:K3y for me (s3cr3t:K3y)"});
	CHECK(call(&e, "GET", "leaky", NULL, &a) == -EACCES);
	CHECK_STR(a.message, "HTTP 401: wrong key *** for me (***)");

	fake_transport_set(e.f, "GET", "down",
			   &(struct fake_answer){.err = -EHOSTUNREACH,
						 .unsent = true,
						 .error = "Could not connect to s3cr3t:K3y@host"});
	CHECK(call(&e, "GET", "down", NULL, &a) == -EHOSTUNREACH);
	CHECK_STR(a.message, "not sent: Could not connect to ***@host");
	st = stats_of(&e);
	CHECK_STR(st.health_reason, "Could not connect to ***@host");
	env_fini(&e);
}

static void test_invalid(void)
{
	struct env e;
	struct api_answer a;

	env_init(&e, 0);
	CHECK(call(&e, "PATCH", "x", NULL, &a) == -EINVAL);
	CHECK(a.not_sent && !a.answered && !a.failed_fast);
	CHECK_STR(a.message, "not sent: invalid request");
	CHECK(call(&e, "GET", "a b", NULL, &a) == -EINVAL);
	CHECK_STR(a.message, "not sent: path is not URL-escaped");
	CHECK(call(&e, "GET", "a\x7f", NULL, &a) == -EINVAL);
	CHECK(call(&e, NULL, "x", NULL, &a) == -EINVAL);
	CHECK(call(&e, "GET", NULL, NULL, &a) == -EINVAL);
	CHECK(api_call(e.api, "GET", "x", NULL, 0, NULL) == -EINVAL);
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 0);
	CHECK(stats_of(&e).requests == 0);
	env_fini(&e);
}

/* ---- the retry table ----------------------------------------------------- */

struct retry_case {
	const char *method;
	struct fake_answer a;
	unsigned calls; /* sends the call makes (API_ATTEMPTS is 4) */
	int rc;
	const char *prefix; /* of the message */
	bool not_sent;
	bool once; /* api_call_once: an action, whatever its method */
};

static void test_retry_table(void)
{
	const struct fake_answer reset = {.err = -ECONNRESET, .error = "Recv failure"};
	const struct fake_answer refused = {
	    .err = -EHOSTUNREACH, .unsent = true, .error = "Couldn't connect to server"};
	const struct fake_answer timeout = {.err = -ETIMEDOUT, .error = "Timeout was reached"};
	const struct fake_answer busy = {.status = 503, .body = "busy"};
	const struct retry_case cases[] = {
	    /* GET and PUT: 5xx and any transport failure. */
	    {"GET", busy, 4, -EIO, "HTTP 503: busy", false, false},
	    {"PUT", busy, 4, -EIO, "HTTP 503: busy", false, false},
	    {"GET", {.status = 502}, 4, -EIO, "HTTP 502", false, false},
	    {"GET", {.status = 504}, 4, -EIO, "HTTP 504", false, false},
	    {"GET",
	     {.status = 500, .body = "one bad record"},
	     4,
	     -EIO,
	     "HTTP 500: one bad record",
	     false, false},
	    {"GET", reset, 4, -ECONNRESET, "no answer: Recv failure", false, false},
	    {"PUT", reset, 4, -ECONNRESET, "no answer: Recv failure", false, false},
	    {"GET", timeout, 4, -ETIMEDOUT, "no answer: Timeout was reached", false, false},
	    {"PUT", refused, 4, -EHOSTUNREACH, "not sent: Couldn't connect to server", true, false},
	    /* POST and DELETE: only what provably never left. */
	    {"POST", busy, 1, -EIO, "HTTP 503: busy", false, false},
	    {"DELETE", busy, 1, -EIO, "HTTP 503: busy", false, false},
	    {"POST", reset, 1, -ECONNRESET, "no answer: Recv failure", false, false},
	    {"DELETE", reset, 1, -ECONNRESET, "no answer: Recv failure", false, false},
	    {"POST", timeout, 1, -ETIMEDOUT, "no answer: Timeout was reached", false, false},
	    {"POST", refused, 4, -EHOSTUNREACH, "not sent: Couldn't connect to server", true, false},
	    {"DELETE", refused, 4, -EHOSTUNREACH, "not sent: Couldn't connect to server", true, false},
	    /* An action (a payment, a reminder: PUT or POST): as a POST. */
	    {"PUT", busy, 1, -EIO, "HTTP 503: busy", false, true},
	    {"PUT", {.status = 500}, 1, -EIO, "HTTP 500", false, true},
	    {"PUT", reset, 1, -ECONNRESET, "no answer: Recv failure", false, true},
	    {"PUT", timeout, 1, -ETIMEDOUT, "no answer: Timeout was reached", false, true},
	    {"POST", busy, 1, -EIO, "HTTP 503: busy", false, true},
	    {"PUT", refused, 4, -EHOSTUNREACH, "not sent: Couldn't connect to server", true, true},
	    /* This machine's own failures: nobody else to ask again. */
	    {"GET",
	     {.err = -EFBIG, .local = true, .error = "response larger than 64 MiB refused"},
	     1,
	     -EFBIG,
	     "no answer: response larger than 64 MiB refused",
	     false, false},
	    {"GET", {.err = -ENOMEM, .local = true}, 1, -ENOMEM, "no answer: ", false, false},
	    {"POST",
	     {.err = -ETIMEDOUT,
	      .unsent = true,
	      .local = true,
	      .error = "no free connection before the timeout"},
	     1,
	     -ETIMEDOUT,
	     "not sent: no free connection before the timeout",
	     true, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct retry_case *c = &cases[i];
		struct env e;
		struct api_answer a;
		struct api_stats st;
		char what[96];
		int rc;

		snprintf(what, sizeof(what), "case %zu: %s%s, err %d, HTTP %ld", i, c->method,
			 c->once ? " (once)" : "", c->a.err, c->a.status);
		env_init(&e, 0);
		fake_transport_set(e.f, c->method, "x", &c->a);
		if (c->once) {
			rc = api_call_once(e.api, c->method, "x", "{}", 2, &a);
			api_answer_clear(&a);
		} else {
			rc = call(&e, c->method, "x", c->method[0] == 'P' ? "{}" : NULL, &a);
		}
		unit_check(rc == c->rc, __FILE__, __LINE__, what);
		unit_check(fake_transport_calls(e.f, c->method, "x") == c->calls, __FILE__,
			   __LINE__, what);
		unit_check(starts_with(a.message, c->prefix), __FILE__, __LINE__, a.message);
		unit_check(a.not_sent == c->not_sent && a.answered == (c->a.err == 0) &&
			       !a.failed_fast,
			   __FILE__, __LINE__, what);
		st = stats_of(&e);
		unit_check(st.retries == c->calls - 1 && e.clock.sleeps == c->calls - 1, __FILE__,
			   __LINE__, what);
		/* "no free connection": nothing was tried, no call counted. */
		unit_check(st.requests == (c->a.local && c->a.unsent ? 0 : c->calls), __FILE__,
			   __LINE__, what);
		env_fini(&e);
	}
}

/* A GET that fails twice and then works: one call for the caller. */
static bool flaky_fn(void *arg, const struct transport_request *req, unsigned n,
		     struct fake_answer *out)
{
	(void)arg;
	(void)req;
	if (n <= 2)
		*out = (struct fake_answer){.status = 503, .body = "busy, try again"};
	else
		*out = (struct fake_answer){.status = 200, .body = "{\"ok\": 3}"};
	return true;
}

static void test_retry_until_it_works(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;

	env_init(&e, 0);
	fake_transport_set_fn(e.f, flaky_fn, NULL);
	CHECK(api_call(e.api, "GET", "flaky", NULL, 0, &a) == 0);
	CHECK_STR(a.body, "{\"ok\": 3}");
	api_answer_clear(&a);
	st = stats_of(&e);
	CHECK(fake_transport_calls(e.f, "GET", "flaky") == 3);
	CHECK(st.requests == 3 && st.retries == 2 && st.failures == 2 && st.health == API_UP);
	/* Backoff with jitter: the n-th wait is in [d/2, d], d = 250 ms << n. */
	CHECK(e.clock.sleeps == 2);
	CHECK(e.clock.slept >= 0.125 + 0.25 - 1e-9 && e.clock.slept <= 0.25 + 0.5 + 1e-9);
	env_fini(&e);
}

/* ---- the deadline -------------------------------------------------------- */

static void test_deadline(void)
{
	struct env e;
	struct api_answer a;
	unsigned n;

	/* Always 503: retries stop where the next could not end in time. */
	env_init(&e, 500);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 503, .body = "busy"});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	n = fake_transport_calls(e.f, "GET", "x");
	CHECK(n >= 2 && n <= 3);
	CHECK(e.clock.now - T0 <= 0.5 - 0.1 + 1e-9);
	env_fini(&e);

	/* The same with slow answers: the last attempt is cut at the deadline
	 * at the latest. */
	env_init(&e, 1500);
	fake_transport_set(e.f, "GET", "slow503",
			   &(struct fake_answer){.status = 503, .body = "busy", .delay = 0.4});
	n = (unsigned)call(&e, "GET", "slow503", NULL, &a);
	CHECK((int)n == -EIO || (int)n == -ETIMEDOUT);
	n = fake_transport_calls(e.f, "GET", "slow503");
	CHECK(n >= 2 && n <= 3);
	CHECK(e.clock.now - T0 <= 1.5 + 1e-9);
	env_fini(&e);

	/* One attempt that would take longer than the whole call: it ends at
	 * the deadline, and no retry fits after it. */
	env_init(&e, 2000);
	fake_transport_set(e.f, NULL, "hang", &(struct fake_answer){.status = 200, .delay = 100});
	CHECK(call(&e, "GET", "hang", NULL, &a) == -ETIMEDOUT);
	CHECK(!a.answered && !a.not_sent);
	CHECK_STR(a.message, "no answer: Timeout was reached (fake)");
	CHECK(e.clock.now - T0 >= 2.0 - 1e-9 && e.clock.now - T0 <= 2.0 + 1e-9);
	CHECK(fake_transport_calls(e.f, "GET", "hang") == 1);
	/* The deadline is per call: the next one has its own 2 s. */
	CHECK(call(&e, "POST", "hang", "{}", &a) == -ETIMEDOUT);
	CHECK(e.clock.now - T0 >= 4.0 - 1e-9 && e.clock.now - T0 <= 4.0 + 1e-9);
	CHECK(fake_transport_calls(e.f, "POST", "hang") == 1);
	env_fini(&e);

	/* A fast failure well inside the deadline still gets all its tries. */
	env_init(&e, 60000);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 503});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	CHECK(fake_transport_calls(e.f, "GET", "x") == 4);
	env_fini(&e);
}

/* ---- Retry-After ----------------------------------------------------------- */

static bool retry_after_fn(void *arg, const struct transport_request *req, unsigned n,
			   struct fake_answer *out)
{
	const char *headers = arg;

	(void)req;
	if (n == 1)
		*out = (struct fake_answer){.status = 503, .body = "busy", .headers = headers};
	else
		*out = (struct fake_answer){.status = 200, .body = "{}"};
	return true;
}

static void test_retry_after(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;

	/* Honoured when longer than the backoff... */
	env_init(&e, 0);
	fake_transport_set_fn(e.f, retry_after_fn, "Retry-After: 3");
	CHECK(call(&e, "GET", "x", NULL, &a) == 0);
	CHECK(e.clock.sleeps == 1 && e.clock.last_sleep == 3.0);
	env_fini(&e);

	/* ...but not past API_RETRY_AFTER_MAX (10 s): then the backoff. */
	env_init(&e, 0);
	fake_transport_set_fn(e.f, retry_after_fn, "Retry-After: 30");
	CHECK(call(&e, "GET", "x", NULL, &a) == 0);
	CHECK(e.clock.sleeps == 1 && e.clock.last_sleep >= 0.125 && e.clock.last_sleep <= 0.25);
	env_fini(&e);

	/* Nor past the call's deadline: no try that could not finish. */
	env_init(&e, 2000);
	fake_transport_set_fn(e.f, retry_after_fn, "Retry-After: 5");
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	CHECK_STR(a.message, "HTTP 503: busy");
	CHECK(e.clock.sleeps == 0 && fake_transport_calls(e.f, NULL, NULL) == 1);
	env_fini(&e);

	/* A 429's Retry-After is when the budget comes back. */
	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 429,
						 .body = "Too Many Requests",
						 .headers = "Retry-After: 5"});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EAGAIN);
	st = stats_of(&e);
	CHECK(st.health == API_RATELIMITED && near(st.next_try, 5.0));
	CHECK(call(&e, "GET", "x", NULL, &a) == -EAGAIN);
	CHECK(starts_with(a.message,
			  "not sent: the hourly API budget is spent; next try in 5 s (HTTP 429: "
			  "Too Many Requests)"));
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 1);
	env_fini(&e);

	/* A year is an hour at most: the budget is whole again by then. */
	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 429,
						 .body = "Too Many Requests",
						 .headers = "Retry-After: 31536000"});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EAGAIN);
	st = stats_of(&e);
	CHECK(st.health == API_RATELIMITED && near(st.next_try, 3600.0));
	CHECK(call(&e, "GET", "x", NULL, &a) == -EAGAIN);
	CHECK(starts_with(a.message, "not sent: the hourly API budget is spent; next try in 3600 s"));
	e.clock.now += 3601;
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 200, .body = "{}"});
	CHECK(call(&e, "GET", "x", NULL, &a) == 0);
	CHECK(stats_of(&e).health == API_UP);
	env_fini(&e);
}

/* ---- the health breaker ---------------------------------------------------- */

static void test_breaker(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;
	unsigned n;

	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 503, .body = "down for maintenance"});
	/* One call with its retries spent: not yet down (API_DOWN_AFTER is 2). */
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	CHECK(stats_of(&e).health == API_UP);
	/* The second in a row: down, for 1 s. */
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	st = stats_of(&e);
	CHECK(st.health == API_DOWN && near(st.next_try, 1.0));
	CHECK_STR(st.health_reason, "HTTP 503: down for maintenance");
	n = fake_transport_calls(e.f, NULL, NULL);
	CHECK(n == 8);

	/* While down nothing is sent, any path: EIO as the 503s, at once. */
	e.clock.now += 0.5;
	CHECK(call(&e, "GET", "y", NULL, &a) == -EIO);
	CHECK(a.not_sent && a.failed_fast && !a.answered);
	CHECK_STR(a.message, "not sent: the service is unreachable; next try in 1 s "
			     "(HTTP 503: down for maintenance)");
	CHECK(fake_transport_calls(e.f, NULL, NULL) == n);
	CHECK(stats_of(&e).failed_fast == 1);

	/* After the wait the next call is sent; still failing, the wait doubles. */
	past_next_try(&e);
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	CHECK(fake_transport_calls(e.f, NULL, NULL) == n + 4);
	st = stats_of(&e);
	CHECK(st.health == API_DOWN && near(st.next_try, 2.0));

	/* Back: the first answer brings it up, and resets the wait. */
	past_next_try(&e);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 200, .body = "[]"});
	CHECK(call(&e, "GET", "x", NULL, &a) == 0);
	st = stats_of(&e);
	CHECK(st.health == API_UP && st.next_try == 0);
	CHECK_STR(st.health_reason, "");
	/* Any answer is the service being there, a 404 too. */
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 503});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 404});
	CHECK(call(&e, "GET", "x", NULL, &a) == -ENOENT);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 503});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	CHECK(stats_of(&e).health == API_UP);
	CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	st = stats_of(&e);
	CHECK(st.health == API_DOWN && near(st.next_try, 1.0));
	env_fini(&e);

	/* A 500 is one request's trouble, not the service's absence. */
	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x", &(struct fake_answer){.status = 500});
	for (int i = 0; i < 3; i++)
		CHECK(call(&e, "GET", "x", NULL, &a) == -EIO);
	st = stats_of(&e);
	CHECK(st.health == API_UP && st.failed_fast == 0);
	env_fini(&e);

	/* Refused: down at once, and the errno of the refusal while down; the
	 * waits double up to 16 s. */
	env_init(&e, 0);
	fake_transport_set(e.f, NULL, NULL,
			   &(struct fake_answer){.err = -EHOSTUNREACH,
						 .unsent = true,
						 .error = "Couldn't connect to server"});
	CHECK(call(&e, "POST", "x", "{}", &a) == -EHOSTUNREACH);
	CHECK(fake_transport_calls(e.f, "POST", "x") == 4);
	st = stats_of(&e);
	CHECK(st.health == API_DOWN && near(st.next_try, 1.0));
	e.clock.now += 0.25;
	CHECK(call(&e, "GET", "x", NULL, &a) == -EHOSTUNREACH);
	CHECK(a.failed_fast && a.not_sent);
	CHECK(starts_with(a.message, "not sent: the service is unreachable; next try in 1 s "
				     "(Couldn't connect to server)"));
	for (double wait = 1.0; wait < 64; wait *= 2) {
		past_next_try(&e);
		CHECK(call(&e, "GET", "x", NULL, &a) == -EHOSTUNREACH && !a.failed_fast);
		st = stats_of(&e);
		CHECK(near(st.next_try, wait * 2 < 16 ? wait * 2 : 16));
	}
	/* A failure of this machine's own says nothing against the service. */
	past_next_try(&e);
	fake_transport_set(e.f, NULL, NULL, &(struct fake_answer){.err = -EFBIG, .local = true});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EFBIG);
	CHECK(stats_of(&e).health == API_UP);
	env_fini(&e);
}

/* ---- the rate limit ---------------------------------------------------------- */

static void test_ratelimit(void)
{
	struct env e;
	struct api_answer a;
	struct api_stats st;
	struct api_response r;

	/* 403 with X-RateLimit-Remaining: 0 is the budget, not a refusal. */
	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 403,
						 .body = "Rate limit exceeded",
						 .headers = "X-RateLimit-Remaining: 0"});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EAGAIN);
	CHECK(a.answered && !a.not_sent && a.status == 403 && a.ratelimit_remaining == 0);
	CHECK_STR(a.message, "HTTP 403: Rate limit exceeded");
	st = stats_of(&e);
	CHECK(st.health == API_RATELIMITED && st.next_try == 60.0 && st.ratelimit_remaining == 0);
	CHECK_STR(st.health_reason, "HTTP 403: Rate limit exceeded");
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 1 && e.clock.sleeps == 0);

	/* Nothing is sent until the next try, whatever the method. */
	fake_transport_set(e.f, NULL, NULL, &(struct fake_answer){.status = 200, .body = "{}"});
	e.clock.now += 59.5;
	CHECK(call(&e, "POST", "y", "{}", &a) == -EAGAIN);
	CHECK(a.failed_fast && a.not_sent && !a.answered);
	CHECK_STR(a.message, "not sent: the hourly API budget is spent; next try in 1 s "
			     "(HTTP 403: Rate limit exceeded)");
	CHECK(api_request(e.api, "GET", "y", NULL, 0, &r) == -EAGAIN);
	CHECK(r.not_sent && r.status == 0);
	api_response_clear(&r);
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 1);
	CHECK(stats_of(&e).failed_fast == 2);
	e.clock.now += 0.5;
	CHECK(call(&e, "GET", "y", NULL, &a) == 0);
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 2);
	CHECK(stats_of(&e).health == API_UP);

	/* The legacy call sees the 403 itself (0), and the same state after. */
	fake_transport_set(e.f, "GET", "z",
			   &(struct fake_answer){.status = 403,
						 .body = "Rate limit exceeded",
						 .headers = "X-RateLimit-Remaining: 0"});
	CHECK(api_request(e.api, "GET", "z", NULL, 0, &r) == 0);
	CHECK(r.status == 403 && api_response_is_ratelimited(&r));
	api_response_clear(&r);
	CHECK(stats_of(&e).health == API_RATELIMITED);
	env_fini(&e);

	/* 429 without Retry-After: 60 s; not retried (not the service failing). */
	env_init(&e, 0);
	fake_transport_set(e.f, "PUT", "x",
			   &(struct fake_answer){.status = 429, .body = "Too Many Requests"});
	CHECK(call(&e, "PUT", "x", "{}", &a) == -EAGAIN);
	CHECK_STR(a.message, "HTTP 429: Too Many Requests");
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 1);
	st = stats_of(&e);
	CHECK(st.health == API_RATELIMITED && st.next_try == 60.0);
	env_fini(&e);

	/* A 403 with budget left is a refusal: no fast failures after it. */
	env_init(&e, 0);
	fake_transport_set(e.f, "GET", "x",
			   &(struct fake_answer){.status = 403,
						 .body = "Forbidden",
						 .headers = "X-RateLimit-Remaining: 10"});
	CHECK(call(&e, "GET", "x", NULL, &a) == -EACCES);
	CHECK(call(&e, "GET", "x", NULL, &a) == -EACCES);
	CHECK(fake_transport_calls(e.f, NULL, NULL) == 2);
	CHECK(stats_of(&e).health == API_UP);
	env_fini(&e);
}

/* ---- the reserve ----------------------------------------------------------- */

static time_t wall_now(void *arg)
{
	return *(time_t *)arg;
}

static void test_reserve_window(void)
{
	time_t now = 1800000000; /* a minute boundary: 1800000000 = 30000000 * 60 */
	struct reserve_config cfg = {.background_per_hour = 2, .now = wall_now, .now_arg = &now};
	struct reserve *r;
	struct reserve_stats st;

	CHECK(reserve_new(&r, &cfg) == 0);
	CHECK(reserve_background_take(r));
	now += 600;
	CHECK(reserve_background_take(r));
	CHECK(!reserve_background_take(r));
	CHECK(!reserve_background_take(r));
	reserve_note_call(r);
	reserve_get_stats(r, &st);
	CHECK(st.background_last_hour == 2 && st.background_refused == 2 && st.last_hour == 1);
	CHECK(st.background_per_hour == 2);
	/* The first take leaves the window an hour after its minute. */
	now += 3540 - 600 - 1;
	CHECK(!reserve_background_take(r));
	now += 61;
	CHECK(reserve_background_take(r));
	CHECK(!reserve_background_take(r));
	reserve_get_stats(r, &st);
	CHECK(st.background_last_hour == 2 && st.background_refused == 4 && st.last_hour == 1);
	now += 3600;
	reserve_get_stats(r, &st);
	CHECK(st.background_last_hour == 0 && st.last_hour == 0);
	reserve_free(r);

	/* No limit, and a limit of nothing. */
	cfg.background_per_hour = -1;
	CHECK(reserve_new(&r, &cfg) == 0);
	for (int i = 0; i < 1000; i++)
		reserve_background_take(r);
	reserve_get_stats(r, &st);
	CHECK(st.background_last_hour == 1000 && st.background_refused == 0);
	reserve_free(r);
	cfg.background_per_hour = 0;
	CHECK(reserve_new(&r, &cfg) == 0);
	CHECK(!reserve_background_take(r));
	reserve_free(r);
}

static char *read_all(const char *path)
{
	static char buf[4096];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static void test_reserve_persist(void)
{
	time_t now = 1800000000;
	struct reserve_config cfg = {.background_per_hour = 3, .now = wall_now, .now_arg = &now};
	char dir[] = "/tmp/test_api_retry.XXXXXX", path[64], want[256], bad[96];
	struct reserve *r, *r2;
	struct reserve_stats st;
	struct stat sb;
	FILE *f;

	if (!mkdtemp(dir)) {
		CHECK(!"mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/background", dir);
	f = fopen(path, "w");
	/* Older than an hour, two in it, garbage, one from the future. */
	fprintf(f, "%lld\n%lld\n%lld\nnonsense\n%lld\n", (long long)now - 4000,
		(long long)now - 100, (long long)now - 10, (long long)now + 100);
	fclose(f);

	CHECK(reserve_new(&r, &cfg) == 0);
	CHECK(reserve_persist(r, path) == 0);
	snprintf(want, sizeof(want), "%lld\n%lld\n", (long long)now - 100, (long long)now - 10);
	CHECK_STR(read_all(path), want);
	CHECK(stat(path, &sb) == 0 && (sb.st_mode & 0777) == 0600);
	reserve_get_stats(r, &st);
	CHECK(st.background_last_hour == 2);
	CHECK(reserve_background_take(r));
	CHECK(!reserve_background_take(r));
	snprintf(want, sizeof(want), "%lld\n%lld\n%lld\n", (long long)now - 100,
		 (long long)now - 10, (long long)now);
	CHECK_STR(read_all(path), want);

	/* A remount reads the same hour back: the share is not granted anew. */
	CHECK(reserve_new(&r2, &cfg) == 0);
	CHECK(reserve_persist(r2, path) == 0);
	CHECK(!reserve_background_take(r2));
	reserve_free(r2);
	reserve_free(r);

	/* A file that cannot be written: -errno, and the count per mount. */
	snprintf(bad, sizeof(bad), "%s/no/such/dir/background", dir);
	CHECK(reserve_new(&r, &cfg) == 0);
	CHECK(reserve_persist(r, bad) == -ENOENT);
	CHECK(reserve_background_take(r));
	reserve_free(r);

	unlink(path);
	rmdir(dir);
}

/* The api's share of it: api_background_take and the stats. */
static void test_api_background(void)
{
	struct fake_clock clock = {.now = T0};
	struct api_config cfg = {.background_per_hour = 1,
				 .now = fake_clock_now,
				 .sleep = fake_clock_sleep,
				 .clock_arg = &clock};
	struct fake_transport *f = fake_transport_new(&clock);
	struct api *api = NULL;
	struct api_answer a;
	struct api_stats st;

	CHECK(api_new_with(&api, &cfg, fake_transport_base(f)) == 0);
	CHECK(api_background_take(api));
	CHECK(!api_background_take(api));
	fake_transport_set(f, NULL, NULL, &(struct fake_answer){.status = 200});
	CHECK(api_call(api, "GET", "x", NULL, 0, &a) == 0);
	api_answer_clear(&a);
	api_get_stats(api, &st);
	CHECK(st.background_last_hour == 1 && st.background_refused == 1);
	CHECK(st.background_per_hour == 1 && st.last_hour == 1);
	api_free(api);

	/* Without a transport nothing is made, and a given one is freed (ASan
	 * would see the leak). */
	CHECK(api_new_with(&api, &cfg, NULL) == -EINVAL && !api);
	f = fake_transport_new(NULL);
	CHECK(api_new_with(&api, NULL, fake_transport_base(f)) == -EINVAL && !api);
}

/* ---- many threads ------------------------------------------------------------ */

#define THREADS 8
#define CALLS 50

static void *hammer(void *arg)
{
	struct api *api = arg;
	long bad = 0;

	for (int i = 0; i < CALLS; i++) {
		struct api_answer a;

		if (api_call(api, "GET", i % 2 ? "a" : "b", NULL, 0, &a) != 0 || a.len != 2)
			bad++;
		api_answer_clear(&a);
	}
	return (void *)bad;
}

/* On the real clock (nothing waits): the stats add up under contention. */
static void test_threads(void)
{
	struct api_config cfg = {.background_per_hour = -1};
	struct fake_transport *f = fake_transport_new(NULL);
	struct api *api = NULL;
	pthread_t th[THREADS];
	struct api_stats st;
	long bad = 0;

	CHECK(api_new_with(&api, &cfg, fake_transport_base(f)) == 0);
	fake_transport_set(f, "GET", NULL, &(struct fake_answer){.status = 200, .body = "[]"});
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, hammer, api);
	for (int i = 0; i < THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		bad += (long)r;
	}
	CHECK(bad == 0);
	api_get_stats(api, &st);
	CHECK(st.requests == THREADS * CALLS && st.bytes_in == 2 * THREADS * CALLS);
	CHECK(st.last_hour == THREADS * CALLS);
	CHECK(fake_transport_calls(f, "GET", "a") == THREADS * CALLS / 2);
	api_free(api);
}

/* ---- the prefetch's calls (api_thread_is_prefetch, api_foreground_quiet) -------- */

struct quiet_probe {
	struct api *api;
	double seen; /* api_foreground_quiet while the call was in flight */
};

static bool quiet_fn(void *arg, const struct transport_request *req, unsigned n,
		     struct fake_answer *out)
{
	struct quiet_probe *q = arg;
	(void)req;
	(void)n;
	q->seen = api_foreground_quiet(q->api);
	*out = (struct fake_answer){.status = 200, .body = "[]", .headers = "X-RateLimit-Remaining: 7"};
	return true;
}

/* The call's result goes back through the join: the check counters are the
 * main thread's (a CHECK here raced the main thread's CHECK of pthread_create). */
static void *prefetch_thread(void *arg)
{
	struct env *e = arg;
	struct api_answer a;
	api_thread_is_prefetch();
	return (void *)(intptr_t)call(e, "GET", "invoices_pdf/1", NULL, &a);
}

static void test_prefetch_calls(void)
{
	struct env e;
	struct api_answer a;
	struct quiet_probe q = {0};
	pthread_t t;

	env_init(&e, 0);
	q.api = e.api;
	q.seen = -1;
	fake_transport_set_fn(e.f, quiet_fn, &q);
	/* No call yet: the user has been quiet for ever. */
	CHECK(api_foreground_quiet(e.api) >= 1e8);
	/* A call of the user's: 0 while it is in flight, then the time since it ended. */
	CHECK(call(&e, "GET", "clients", NULL, &a) == 0);
	CHECK(q.seen == 0);
	CHECK(near(api_foreground_quiet(e.api), 0));
	e.clock.now += 3;
	CHECK(near(api_foreground_quiet(e.api), 3));
	/* The prefetch's calls are counted apart and are not the user's activity. */
	void *trc = (void *)(intptr_t)-1;
	CHECK(pthread_create(&t, NULL, prefetch_thread, &e) == 0 && pthread_join(t, &trc) == 0);
	CHECK((intptr_t)trc == 0);
	CHECK(near(q.seen, 3));
	CHECK(near(api_foreground_quiet(e.api), 3));
	struct api_stats st = stats_of(&e);
	CHECK(st.requests == 2 && st.prefetch_requests == 1 && st.ratelimit_remaining == 7);
	/* This thread is still the user's. */
	CHECK(call(&e, "GET", "clients", NULL, &a) == 0);
	CHECK(stats_of(&e).prefetch_requests == 1 && near(api_foreground_quiet(e.api), 0));
	env_fini(&e);
}

int main(void)
{
	test_success();
	test_statuses();
	test_api_request();
	test_redaction();
	test_invalid();
	test_retry_table();
	test_retry_until_it_works();
	test_deadline();
	test_retry_after();
	test_breaker();
	test_ratelimit();
	test_reserve_window();
	test_reserve_persist();
	test_api_background();
	test_threads();
	test_prefetch_calls();
	return unit_report();
}
