/* api: the service's semantics over a transport (see api.h). */
#include "net/api.h"

#include "base/clock.h"
#include "base/log.h"
#include "model/jsontext.h"
#include "net/http.h"
#include "net/reserve.h"
#include "net/transport.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define API_DEFAULT_TIMEOUT_MS 60000L
/* The server's words in a message: one line, at most this many bytes. */
#define API_MESSAGE_MAX 200

/* Retries: at most API_ATTEMPTS tries, the n-th wait drawn from
 * [d/2, d] with d = API_BACKOFF_MS << n capped at API_BACKOFF_MAX_MS (jitter
 * keeps eight threads that failed together from retrying together).  A
 * Retry-After up to API_RETRY_AFTER_MAX s is honoured instead when longer.
 * Nothing is retried past the call's deadline. */
#define API_ATTEMPTS 4
#define API_BACKOFF_MS 250L
#define API_BACKOFF_MAX_MS 4000L
#define API_RETRY_AFTER_MAX 10L

/* Health: after a connection is refused, or after API_DOWN_AFTER calls in a
 * row failed for the service's sake (transport errors, 502/503/504, retries
 * spent), requests fail fast for a while instead of each waiting out its
 * timeout; the wait starts at API_DOWN_FIRST s and doubles up to
 * API_DOWN_MAX s while the service stays away.  The first request after the
 * wait is sent: that is how the mount notices the service is back. */
#define API_DOWN_AFTER 2
#define API_DOWN_FIRST 1.0
#define API_DOWN_MAX 16.0
/* A spent budget without Retry-After: the reference gives no reset time. */
#define API_RATELIMIT_WAIT 60.0
/* The longest a Retry-After may keep requests from being sent.  The budget is
 * calls per hour, so an hour from now it is whole again whatever the answer
 * said: a longer wait (a year, a clock far off, a proxy's garbage) could only
 * keep the mount failing for nothing. */
#define API_RATELIMIT_WAIT_MAX 3600.0

/* Offline (api_set_offline): a probe after API_PROBE_FIRST s, the wait
 * doubling up to API_PROBE_MAX s while the service stays away: at most 120
 * probes an hour, and one that fails to connect costs the service nothing.
 * A probe is one attempt within API_PROBE_TIMEOUT s, so an unmount waits for
 * no longer than that. */
#define API_PROBE_FIRST 1.0
#define API_PROBE_MAX 30.0
#define API_PROBE_TIMEOUT 10.0

enum api_failure {
	API_FAIL_NONE,	    /* an answer, or a failure that is not the service's doing */
	API_FAIL_UNSENT,    /* connect/DNS/TLS handshake failed: nothing left this machine */
	API_FAIL_TRANSPORT, /* reset, timeout, nothing or half an answer after sending */
	API_FAIL_5XX,	    /* 500, 502, 503, 504 */
};

/* Which failures each method may retry.  GET reads; PUT sends the whole
 * record, so repeating it cannot change more than the first did.  POST
 * creates and DELETE removes: repeating one the service may have acted on
 * could create twice or report a done delete as missing, so both are
 * repeated only when the request never left. */
static const struct api_retry_rule {
	const char *method;
	bool unsent, transport, status_5xx;
} api_retry_rules[] = {
    {"GET", true, true, true},
    {"PUT", true, true, true},
    {"POST", true, false, false},
    {"DELETE", true, false, false},
};

/* An action (a payment, a reminder, a draft sent: api_call_once), whatever its
 * method: not idempotent, so repeated only when it never left. */
static const struct api_retry_rule api_once_rule = {"(once)", true, false, false};

struct api {
	/* Read-only after api_new_with. */
	struct transport *t;	 /* owned */
	struct reserve *reserve; /* owned: the hourly window, the background budget */
	long timeout_ms;
	double (*now)(void *arg);
	void (*sleep)(void *arg, double seconds);
	void *clock_arg;

	pthread_mutex_t lock;
	struct api_stats stats; /* protected by lock; the reserve's figures are
				 * filled in by api_get_stats */
	/* Health (see API_DOWN_AFTER), protected by lock. */
	double retry_at;  /* api_now: DOWN/RATELIMITED fail fast until then */
	double down_wait; /* the next DOWN wait */
	int bad_in_a_row; /* calls in a row that failed for the service's sake */
	int down_errno;	  /* what a fast failure returns while DOWN */
	unsigned seed;	  /* the backoff's jitter (rand_r); protected by lock */
	/* Offline (api_set_offline), protected by lock: the probe's thread,
	 * what it asks for, when it asks next (CLOCK_MONOTONIC) and the wait
	 * after that. */
	pthread_cond_t probe_wake; /* on CLOCK_MONOTONIC: api_free stops the prober */
	pthread_t prober;
	bool prober_started, stopping;
	bool may_start; /* api_start came: threads may run (the daemon has forked) */
	char *probe_path;
	double probe_at, probe_wait;
	/* Calls of threads other than the prefetch's (api_foreground_quiet),
	 * protected by lock: in flight now, and when the last one began or
	 * ended (api_now; 0: none yet). */
	int fg_inflight;
	double fg_last;
	atomic_bool cancelled; /* api_cancel: every transfer's req.cancel */
};

/* Set in the prefetch's thread (api_thread_is_prefetch). */
static _Thread_local bool api_prefetch_thread;

static double api_now(const struct api *api)
{
	return api->now ? api->now(api->clock_arg) : clock_mono();
}

static void api_sleep(const struct api *api, double seconds)
{
	struct timespec ts;

	if (api->sleep) {
		api->sleep(api->clock_arg, seconds);
		return;
	}
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Copies the first line of @src (length @n) into @dst: trimmed, at most
 * API_MESSAGE_MAX bytes, control bytes replaced so a log line stays one line. */
static void api_clean_line(char *dst, size_t dstsz, const char *src, size_t n)
{
	size_t i = 0, out = 0, max = dstsz - 1;

	if (max > API_MESSAGE_MAX)
		max = API_MESSAGE_MAX;
	while (i < n && isspace((unsigned char)src[i]))
		i++;
	for (; i < n && out < max + 1; i++) {
		unsigned char c = (unsigned char)src[i];

		if (c == '\n' || c == '\r' || c == '\0')
			break;
		if (c == '\t')
			c = ' ';
		else if (c < 0x20 || c == 0x7f)
			c = '?';
		dst[out++] = (char)c;
	}
	if (out > max) {
		/* Cut on a UTF-8 character boundary, never inside a sequence. */
		out = max;
		while (out > 0 && ((unsigned char)dst[out] & 0xc0) == 0x80)
			out--;
	}
	while (out > 0 && isspace((unsigned char)dst[out - 1]))
		out--;
	dst[out] = '\0';
}

/* The words of one attempt's outcome @res into @out (key redacted): the
 * transport's for a failure or a redirect; for an error status the server's
 * (a JSON "message"/"error", else the body's first line, else "HTTP <n>");
 * "" for a 2xx. */
static void api_words(struct api *api, const struct transport_result *res, char *out, size_t outsz)
{
	char msg[API_MESSAGE_MAX * 2 + 4];

	out[0] = '\0';
	if (res->err < 0)
		snprintf(out, outsz, "%s", res->error[0] ? res->error : log_strerror(-res->err));
	else if (res->status >= 300 && res->status < 400 && res->error[0])
		snprintf(out, outsz, "%s", res->error);
	else if (res->status >= 300 && res->len > 0 &&
		 jt_message(res->body, res->len, msg, sizeof(msg)))
		api_clean_line(out, outsz, msg, strlen(msg));
	else if (res->status >= 300 && res->len > 0)
		api_clean_line(out, outsz, res->body, res->len);
	if (res->err == 0 && res->status >= 300 && out[0] == '\0')
		snprintf(out, outsz, "HTTP %ld", res->status);
	transport_redact(api->t, out);
}

/* "HTTP <status>: <words>", or "HTTP <status>" when the words say no more. */
static void api_status_line(const struct api_response *resp, char *out, size_t outsz)
{
	char bare[32];

	snprintf(bare, sizeof(bare), "HTTP %ld", resp->status);
	if (!resp->error[0] || !strcmp(resp->error, bare))
		snprintf(out, outsz, "%s", bare);
	else
		snprintf(out, outsz, "%s: %s", bare, resp->error);
}

/* The one place an answer becomes an errno and a line for the log and the
 * status file.  @rc and @resp are api_exchange's, @unsent whether a failed
 * request provably never left.  Returns 0 for a 2xx (@msg ""), else -errno
 * with @msg saying why. */
static int api_verdict(int rc, const struct api_response *resp, bool unsent, char *msg,
		       size_t msgsz)
{
	msg[0] = '\0';
	if (rc < 0) {
		if (resp->not_sent) /* failed fast: the words already say "not sent: " */
			snprintf(msg, msgsz, "%s", resp->error);
		else
			snprintf(msg, msgsz, "%s: %s", unsent ? "not sent" : "no answer",
				 resp->error);
		return rc;
	}
	if (resp->status >= 200 && resp->status <= 299)
		return 0;
	api_status_line(resp, msg, msgsz);
	if (api_response_is_ratelimited(resp))
		return -EAGAIN;
	return -api_status_errno(resp->status);
}

static bool api_method_ok(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") || !strcmp(m, "DELETE");
}

static const struct api_retry_rule *api_rule(const char *method)
{
	for (size_t i = 0; i < sizeof(api_retry_rules) / sizeof(api_retry_rules[0]); i++)
		if (!strcmp(api_retry_rules[i].method, method))
			return &api_retry_rules[i];
	return NULL;
}

static bool api_may_retry(const char *method, bool once, enum api_failure f)
{
	const struct api_retry_rule *r = once ? &api_once_rule : api_rule(method);

	if (!r)
		return false;
	return (f == API_FAIL_UNSENT && r->unsent) || (f == API_FAIL_TRANSPORT && r->transport) ||
	       (f == API_FAIL_5XX && r->status_5xx);
}

/* How an attempt failed for the service's sake, if it did. */
static enum api_failure api_failure_of(const struct transport_result *res)
{
	if (res->err < 0) {
		if (res->local)
			return API_FAIL_NONE;
		return res->unsent ? API_FAIL_UNSENT : API_FAIL_TRANSPORT;
	}
	if (res->status == 500 || res->status == 502 || res->status == 503 || res->status == 504)
		return API_FAIL_5XX;
	return API_FAIL_NONE;
}

/* The wait before retry number @n (0 = the first retry), in ms. */
static long api_backoff_ms(struct api *api, int n, long retry_after)
{
	long d = API_BACKOFF_MS << (n < 8 ? n : 8);
	unsigned r;

	if (d > API_BACKOFF_MAX_MS)
		d = API_BACKOFF_MAX_MS;
	pthread_mutex_lock(&api->lock);
	r = (unsigned)rand_r(&api->seed);
	pthread_mutex_unlock(&api->lock);
	d = d / 2 + (long)(r % (unsigned)(d / 2 + 1));
	if (retry_after >= 0 && retry_after <= API_RETRY_AFTER_MAX && retry_after * 1000 > d)
		d = retry_after * 1000;
	return d;
}

/* Records how a call ended in the health state.  @resp is its last answer
 * (status 0 when none came), @rc its result, @f the kind of failure. */
static void api_note_health(struct api *api, const struct api_response *resp, int rc,
			    enum api_failure f, long retry_after)
{
	pthread_mutex_lock(&api->lock);
	api->stats.last_status = resp->status;
	if (api->stats.health == API_OFFLINE) {
		/* Only a probe brings an offline mount back (api_note_probe). */
	} else if (rc == 0 && api_response_is_ratelimited(resp)) {
		double wait = retry_after > 0 ? (double)retry_after : API_RATELIMIT_WAIT;

		if (wait > API_RATELIMIT_WAIT_MAX)
			wait = API_RATELIMIT_WAIT_MAX;

		api->stats.health = API_RATELIMITED;
		api->retry_at = api_now(api) + wait;
		api_status_line(resp, api->stats.health_reason, sizeof(api->stats.health_reason));
	} else if (f == API_FAIL_NONE) {
		/* An answer, or a failure of this machine's own (memory, size cap,
		 * no free connection) that says nothing against the service. */
		api->stats.health = API_UP;
		api->bad_in_a_row = 0;
		api->down_wait = API_DOWN_FIRST;
		api->stats.health_reason[0] = '\0';
	} else if (f != API_FAIL_5XX || resp->status != 500) {
		/* A 500 is one request's trouble, not the service's absence. */
		api->bad_in_a_row++;
		if (f == API_FAIL_UNSENT || api->bad_in_a_row >= API_DOWN_AFTER) {
			api->stats.health = API_DOWN;
			api->retry_at = api_now(api) + api->down_wait;
			api->down_wait =
			    api->down_wait * 2 < API_DOWN_MAX ? api->down_wait * 2 : API_DOWN_MAX;
			api->down_errno = rc < 0 ? rc : -EIO;
			if (resp->status)
				api_status_line(resp, api->stats.health_reason,
						sizeof(api->stats.health_reason));
			else
				snprintf(api->stats.health_reason, sizeof(api->stats.health_reason),
					 "%s", resp->error);
		}
	}
	pthread_mutex_unlock(&api->lock);
}

/* When the health state says not to send: fills @resp and returns -errno;
 * else 0. */
static int api_fail_fast(struct api *api, struct api_response *resp)
{
	int rc = 0;
	double left;

	pthread_mutex_lock(&api->lock);
	left = api->retry_at - api_now(api);
	if (api->stats.health == API_OFFLINE) {
		/* Nothing is sent, and nothing waits: the probe alone asks. */
		rc = -EHOSTUNREACH;
		snprintf(resp->error, sizeof(resp->error), "not sent: offline (%.200s)",
			 api->stats.health_reason);
		resp->not_sent = true;
		api->stats.failed_fast++;
	} else if (api->stats.health != API_UP && left > 0) {
		rc = api->stats.health == API_RATELIMITED ? -EAGAIN : api->down_errno;
		snprintf(resp->error, sizeof(resp->error),
			 "not sent: %s; next try in %.0f s (%.150s)",
			 api->stats.health == API_RATELIMITED ? "the hourly API budget is spent"
							      : "the service is unreachable",
			 ceil(left), api->stats.health_reason);
		resp->not_sent = true;
		api->stats.failed_fast++;
	}
	pthread_mutex_unlock(&api->lock);
	return rc;
}

/* Counts one attempt's outcome @res in the stats and the hourly window. */
static void api_count(struct api *api, const struct transport_result *res)
{
	/* Failed before anything was tried (no free connection, no memory):
	 * no call to count. */
	if (res->err < 0 && res->unsent && res->local)
		return;
	reserve_note_call(api->reserve);
	pthread_mutex_lock(&api->lock);
	api->stats.requests++;
	api->stats.bytes_in += res->received;
	if (res->err < 0 || res->status >= 300)
		api->stats.failures++;
	if (res->ratelimit_remaining >= 0)
		api->stats.ratelimit_remaining = res->ratelimit_remaining;
	if (api_prefetch_thread)
		api->stats.prefetch_requests++;
	pthread_mutex_unlock(&api->lock);
}

/* A call of the user's (any thread but the prefetch's) begins (+1) or ends (-1). */
static void api_foreground(struct api *api, int delta)
{
	if (api_prefetch_thread)
		return;
	pthread_mutex_lock(&api->lock);
	api->fg_inflight += delta;
	api->fg_last = api_now(api);
	pthread_mutex_unlock(&api->lock);
}

static long api_ms_since(const struct api *api, double t0)
{
	return (long)((api_now(api) - t0) * 1000);
}

static void api_note_probe(struct api *api, const struct api_response *resp, int rc);

/* Checks the request's @method and @path: @path without a leading '/', or NULL with
 * the reason in resp->error when it is not a request to send. */
static const char *api_request_path(const struct api *api, const char *method, const char *path,
				    struct api_response *resp)
{
	if (!api || !method || !path || !api_method_ok(method)) {
		snprintf(resp->error, sizeof(resp->error), "invalid request");
		return NULL;
	}
	/* The base URL ends in '/'; a leading '/' in @path would double it. */
	while (*path == '/')
		path++;
	for (const char *p = path; *p; p++) {
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			snprintf(resp->error, sizeof(resp->error), "path is not URL-escaped");
			return NULL;
		}
	}
	return path;
}

/* Sends @req, and again after a backoff while its failure may be retried (for a
 * @once call: only one that never left) and the attempts and the deadline
 * leave room (a probe: once).  The last attempt is the
 * answer: its rc, *@res, *@fail and what went wrong in @words (@wlen bytes). */
static int api_attempts(struct api *api, const struct transport_request *req, bool probe,
			bool once, struct transport_result *res, enum api_failure *fail, char *words,
			size_t wlen)
{
	const char *method = req->method, *path = req->path;
	int rc;
	for (int attempt = 0;; attempt++) {
		double t0 = api_now(api);
		long left_ms, wait_ms;

		rc = transport_send(api->t, req, res);
		*fail = api_failure_of(res);
		api_count(api, res);
		api_words(api, res, words, wlen);
		if (rc < 0)
			log_msg(LOG_DEBUG, "%s %s -> %s (%ld ms)", method, path, words,
				api_ms_since(api, t0));
		else
			log_msg(LOG_DEBUG, "%s %s -> %ld, %zu bytes (%ld ms)", method, path,
				res->status, res->len, api_ms_since(api, t0));

		if (*fail == API_FAIL_NONE || attempt + 1 >= API_ATTEMPTS || probe ||
		    !api_may_retry(method, once, *fail) || atomic_load(&api->cancelled))
			break;
		wait_ms = api_backoff_ms(api, attempt, res->retry_after);
		left_ms = (long)((req->deadline - api_now(api)) * 1000);
		/* Not worth a try that could not finish before the deadline. */
		if (wait_ms + 100 > left_ms)
			break;
		log_msg(LOG_INFO, "%s %s: %s; retrying in %ld ms", method, path, words, wait_ms);
		transport_result_clear(res);
		transport_result_init(res);
		pthread_mutex_lock(&api->lock);
		api->stats.retries++;
		pthread_mutex_unlock(&api->lock);
		api_sleep(api, (double)wait_ms / 1000.0);
	}
	return rc;
}

/* api_request, and whether a failure (rc < 0) provably never left this
 * machine (*@unsent).  A @probe (offline: api_probe_main) is sent while
 * everything else fails fast, tried once within API_PROBE_TIMEOUT, and its
 * outcome decides whether the mount is online again. */
static int api_exchange(struct api *api, const char *method, const char *path, const char *body,
			size_t body_len, struct api_response *resp, bool *unsent, bool probe,
			bool once)
{
	struct transport_request req = {0};
	struct transport_result res;
	enum api_failure fail = API_FAIL_NONE;
	char words[sizeof(resp->error)];
	int rc = 0;

	*unsent = true;
	if (!resp)
		return -EINVAL;
	memset(resp, 0, sizeof(*resp));
	resp->ratelimit_remaining = -1;
	path = api_request_path(api, method, path, resp);
	if (!path)
		return -EINVAL;
	rc = probe ? 0 : api_fail_fast(api, resp);
	if (atomic_load(&api->cancelled)) {
		rc = -ECANCELED;
		snprintf(resp->error, sizeof(resp->error), "not sent: unmounting");
		resp->not_sent = true;
	}
	if (rc < 0) {
		log_msg(LOG_DEBUG, "%s %s -> %s", method, path, resp->error);
		return rc;
	}

	req.method = method;
	req.path = path;
	req.body = body;
	req.len = body_len;
	req.cancel = &api->cancelled;
	/* One deadline for the whole call: the wait for a connection and every
	 * attempt and backoff share the configured total timeout. */
	double total = (double)api->timeout_ms / 1000.0;
	if (probe && total > API_PROBE_TIMEOUT)
		total = API_PROBE_TIMEOUT;
	req.deadline = api_now(api) + total;
	transport_result_init(&res);
	if (!probe)
		api_foreground(api, +1);
	rc = api_attempts(api, &req, probe, once, &res, &fail, words, sizeof(words));

	/* The last attempt is the answer. */
	*unsent = rc < 0 && res.unsent;
	memcpy(resp->error, words, sizeof(resp->error));
	memcpy(resp->content_type, res.content_type, sizeof(resp->content_type));
	resp->ratelimit_remaining = res.ratelimit_remaining;
	memcpy(resp->ratelimit_headers, res.ratelimit_headers, sizeof(resp->ratelimit_headers));
	if (rc == 0) {
		resp->status = res.status;
		resp->body = res.body; /* ownership moves to @resp */
		resp->len = res.len;
		res.body = NULL;
	}
	transport_result_clear(&res);
	/* Cut off by the unmount: no word on the service's health. */
	if (rc < 0 && atomic_load(&api->cancelled))
		rc = -ECANCELED;
	else if (probe)
		api_note_probe(api, resp, rc);
	else
		api_note_health(api, resp, rc, fail, res.retry_after);
	if (!probe)
		api_foreground(api, -1);
	return rc;
}

int api_request(struct api *api, const char *method, const char *path, const char *body,
		size_t body_len, struct api_response *resp)
{
	bool unsent;

	return api_exchange(api, method, path, body, body_len, resp, &unsent, false, false);
}

static int api_call_as(struct api *api, const char *method, const char *path, const char *body,
		       size_t len, bool once, struct api_answer *out)
{
	struct api_response resp;
	bool unsent;
	int rc;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->ratelimit_remaining = -1;
	rc = api_exchange(api, method, path, body, len, &resp, &unsent, false, once);
	out->answered = rc == 0;
	out->failed_fast = resp.not_sent;
	out->not_sent = rc < 0 && (resp.not_sent || unsent);
	/* 4xx: the client's error, by HTTP's meaning not carried out (the rate
	 * limit's 403 and 429 included).  A 3xx may follow an action (303 See
	 * Other), a 5xx may come after one: neither is a refusal. */
	out->refused = out->not_sent || (rc == 0 && resp.status >= 400 && resp.status <= 499);
	out->status = resp.status;
	out->ratelimit_remaining = resp.ratelimit_remaining;
	memcpy(out->ratelimit_headers, resp.ratelimit_headers, sizeof(out->ratelimit_headers));
	memcpy(out->content_type, resp.content_type, sizeof(out->content_type));
	rc = api_verdict(rc, &resp, unsent, out->message, sizeof(out->message));
	if (rc == 0) {
		out->body = resp.body; /* ownership moves to @out */
		out->len = resp.len;
		resp.body = NULL;
	}
	api_response_clear(&resp);
	return rc;
}

int api_call(struct api *api, const char *method, const char *path, const char *body, size_t len,
	     struct api_answer *out)
{
	return api_call_as(api, method, path, body, len, false, out);
}

int api_call_once(struct api *api, const char *method, const char *path, const char *body,
		  size_t len, struct api_answer *out)
{
	return api_call_as(api, method, path, body, len, true, out);
}

void api_answer_clear(struct api_answer *a)
{
	if (!a)
		return;
	free(a->body);
	a->body = NULL;
	a->len = 0;
}

void api_answer_describe(struct api *api, const struct api_answer *a, char *out, size_t outsz)
{
	char line[API_MESSAGE_MAX + 8];
	int n;

	line[0] = '\0';
	if (a->body && a->len)
		api_clean_line(line, sizeof(line), a->body, a->len);
	n = snprintf(out, outsz, "HTTP %ld, ", a->status);
	if (n < 0 || (size_t)n >= outsz)
		return;
	if (!line[0])
		snprintf(out + n, outsz - (size_t)n, "%s", a->len ? "a blank body" : "an empty body");
	else
		snprintf(out + n, outsz - (size_t)n, "%s%s\"%s\"",
			 a->content_type[0] ? a->content_type : "", a->content_type[0] ? ": " : "",
			 line);
	transport_redact(api->t, out);
}

void api_response_clear(struct api_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
}

int api_status_errno(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 400:
	case 422:
		return EINVAL;
	case 401:
	case 403: /* a rate-limit 403 is told apart by api_response_is_ratelimited */
		return EACCES;
	case 404:
	case 410:
		return ENOENT;
	case 405:
		return EPERM;
	case 429:
		return EAGAIN;
	default:
		return EIO; /* 408, 5xx, unfollowed 3xx, anything unexpected */
	}
}

bool api_response_is_ratelimited(const struct api_response *resp)
{
	if (!resp)
		return false;
	return resp->status == 429 || (resp->status == 403 && resp->ratelimit_remaining == 0);
}

bool api_background_take(struct api *api)
{
	return reserve_background_take(api->reserve);
}

int api_background_persist(struct api *api, const char *path)
{
	return reserve_persist(api->reserve, path);
}

/* ---- offline ------------------------------------------------------------ */

/* How a probe ended: a 2xx is the service back (online: API_UP); anything else
 * keeps the mount offline, with the probe's words as the reason. */
static void api_note_probe(struct api *api, const struct api_response *resp, int rc)
{
	bool back = rc == 0 && resp->status >= 200 && resp->status <= 299;
	pthread_mutex_lock(&api->lock);
	api->stats.last_status = resp->status;
	if (back) {
		api->stats.health = API_UP;
		api->bad_in_a_row = 0;
		api->down_wait = API_DOWN_FIRST;
		api->stats.health_reason[0] = '\0';
	} else if (resp->status) {
		api_status_line(resp, api->stats.health_reason, sizeof(api->stats.health_reason));
	} else {
		snprintf(api->stats.health_reason, sizeof(api->stats.health_reason), "%s",
			 resp->error);
	}
	pthread_mutex_unlock(&api->lock);
	if (back)
		log_msg(LOG_NOTICE, "the service answers again: online");
}

static void *api_probe_main(void *arg)
{
	struct api *api = arg;
	pthread_mutex_lock(&api->lock);
	while (!api->stopping && api->stats.health == API_OFFLINE) {
		double wait = api->probe_at - clock_mono();
		if (wait > 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			double at = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 + wait;
			ts.tv_sec = (time_t)at;
			ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
			pthread_cond_timedwait(&api->probe_wake, &api->lock, &ts);
			continue;
		}
		pthread_mutex_unlock(&api->lock);
		struct api_response resp;
		bool unsent;
		(void)api_exchange(api, "GET", api->probe_path, NULL, 0, &resp, &unsent, true, false);
		api_response_clear(&resp);
		pthread_mutex_lock(&api->lock);
		api->probe_at = clock_mono() + api->probe_wait;
		api->probe_wait = api->probe_wait * 2 < API_PROBE_MAX ? api->probe_wait * 2
								      : API_PROBE_MAX;
	}
	pthread_mutex_unlock(&api->lock);
	return NULL;
}

/* Starts the probe's thread when one is asked for and threads may run (with
 * api->lock held).  0 or -errno. */
static int api_start_prober(struct api *api)
{
	int rc = 0;
	if (api->may_start && api->probe_path && !api->prober_started) {
		rc = -pthread_create(&api->prober, NULL, api_probe_main, api);
		api->prober_started = rc == 0;
	}
	return rc;
}

int api_set_offline(struct api *api, const char *reason, const char *probe_path)
{
	int rc = 0;
	pthread_mutex_lock(&api->lock);
	api->stats.health = API_OFFLINE;
	snprintf(api->stats.health_reason, sizeof(api->stats.health_reason), "%s", reason);
	if (probe_path && !api->probe_path) {
		api->probe_path = strdup(probe_path);
		api->probe_wait = API_PROBE_FIRST;
		api->probe_at = clock_mono() + API_PROBE_FIRST;
		rc = !api->probe_path ? -ENOMEM : 0;
	}
	if (rc == 0)
		rc = api_start_prober(api);
	pthread_mutex_unlock(&api->lock);
	return rc;
}

int api_start(struct api *api)
{
	pthread_mutex_lock(&api->lock);
	api->may_start = true;
	int rc = api_start_prober(api);
	pthread_mutex_unlock(&api->lock);
	return rc;
}

bool api_offline(struct api *api)
{
	if (!api)
		return false;
	pthread_mutex_lock(&api->lock);
	bool off = api->stats.health == API_OFFLINE;
	pthread_mutex_unlock(&api->lock);
	return off;
}

void api_thread_is_prefetch(void)
{
	api_prefetch_thread = true;
}

double api_foreground_quiet(struct api *api)
{
	double quiet;

	pthread_mutex_lock(&api->lock);
	if (api->fg_inflight > 0)
		quiet = 0;
	else if (api->fg_last <= 0)
		quiet = 1e9;
	else
		quiet = api_now(api) - api->fg_last;
	pthread_mutex_unlock(&api->lock);
	return quiet;
}

void api_get_stats(struct api *api, struct api_stats *out)
{
	struct reserve_stats rs;

	reserve_get_stats(api->reserve, &rs);
	pthread_mutex_lock(&api->lock);
	*out = api->stats;
	out->next_try = 0;
	if (out->health == API_OFFLINE) {
		double left = api->prober_started ? api->probe_at - clock_mono() : 0;

		out->next_try = left > 0 ? left : 0;
	} else if (out->health != API_UP) {
		double left = api->retry_at - api_now(api);

		out->next_try = left > 0 ? left : 0;
	}
	pthread_mutex_unlock(&api->lock);
	out->last_hour = rs.last_hour;
	out->background_last_hour = rs.background_last_hour;
	out->background_refused = rs.background_refused;
	out->background_per_hour = rs.background_per_hour;
}

int api_new_with(struct api **out, const struct api_config *cfg, struct transport *t)
{
	struct reserve_config rcfg = {0};
	struct api *api = NULL;
	int rc = 0;

	*out = NULL;
	if (!cfg || !t) {
		rc = -EINVAL;
		goto out;
	}
	api = calloc(1, sizeof(*api));
	if (!api) {
		rc = -ENOMEM;
		goto out;
	}
	rcfg.background_per_hour = cfg->background_per_hour;
	rc = reserve_new(&api->reserve, &rcfg);
	if (rc < 0)
		goto out;
	pthread_mutex_init(&api->lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&api->probe_wake, &ca);
	pthread_condattr_destroy(&ca);
	api->t = t;
	t = NULL;
	api->now = cfg->now;
	api->sleep = cfg->sleep;
	api->clock_arg = cfg->clock_arg;
	api->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : API_DEFAULT_TIMEOUT_MS;
	api->stats.ratelimit_remaining = -1;
	api->down_wait = API_DOWN_FIRST;
	api->seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)api;
	*out = api;
	api = NULL;
out:
	if (api) {
		reserve_free(api->reserve);
		free(api);
	}
	transport_free(t);
	return rc;
}

int api_new(struct api **out, const struct api_config *cfg)
{
	struct transport *t = NULL;
	struct http_config hcfg = {0};
	int rc;

	*out = NULL;
	if (!cfg)
		return -EINVAL;
	hcfg.url = cfg->url;
	hcfg.username = cfg->username;
	hcfg.apikey = cfg->apikey;
	hcfg.connect_timeout_ms = cfg->connect_timeout_ms;
	hcfg.insecure = cfg->insecure;
	hcfg.cainfo = cfg->cainfo;
	rc = http_new(&t, &hcfg);
	if (rc < 0)
		return rc;
	return api_new_with(out, cfg, t);
}

void api_cancel(struct api *api)
{
	if (api)
		atomic_store(&api->cancelled, true);
}

void api_free(struct api *api)
{
	if (!api)
		return;
	if (api->prober_started) {
		pthread_mutex_lock(&api->lock);
		api->stopping = true;
		pthread_cond_signal(&api->probe_wake);
		pthread_mutex_unlock(&api->lock);
		pthread_join(api->prober, NULL);
	}
	free(api->probe_path);
	transport_free(api->t);
	reserve_free(api->reserve);
	pthread_cond_destroy(&api->probe_wake);
	pthread_mutex_destroy(&api->lock);
	free(api);
}
