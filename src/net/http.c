/* http: struct transport over libcurl (see http.h). */
#include "net/http.h"

#include "base/arena.h"
#include "base/clock.h"
#include "base/log.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#ifndef FACTUURFS_VERSION
#define FACTUURFS_VERSION "0"
#endif

#define HTTP_DEFAULT_CONNECT_MS 10000L
/* Stall guard: abort when less than 1 byte/s flows for this long. */
#define HTTP_STALL_SECONDS 30L

/* One pooled easy handle; the error buffer must outlive every transfer on it. */
struct http_conn {
	CURL *curl;
	char errbuf[CURL_ERROR_SIZE];
};

struct http {
	struct transport base; /* first: a struct transport * is a struct http * */

	/* Read-only after http_new. */
	char *url; /* base URL, always ending in '/' */
	char *username;
	char *apikey; /* malloc'd; wiped with explicit_bzero before free */
	size_t apikey_len;
	char *cainfo;
	long connect_timeout_ms;
	bool insecure;
	struct curl_slist *hdr_plain; /* shared by all handles */
	struct curl_slist *hdr_body;

	/* DNS cache and TLS sessions, shared by every handle of the pool.  curl
	 * takes share_lock[kind] through http_share_lock around each use. */
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];

	pthread_mutex_t pool_lock;
	pthread_cond_t pool_cond;	       /* a handle came back; CLOCK_MONOTONIC */
	struct http_conn *idle[HTTP_POOL_MAX]; /* protected by pool_lock */
	int n_idle;			       /* protected by pool_lock */
	int n_conns;			       /* idle + busy; protected by pool_lock */
};

/* Per-transfer state handed to the curl callbacks. */
struct http_xfer {
	char *buf;
	size_t len;
	size_t cap;
	size_t announced; /* the Content-Length, 0 when none came (or over the cap) */
	long ratelimit_remaining;
	long retry_after;
	char ratelimit_headers[160]; /* transport.h */
	bool too_big;
	bool oom;
	const atomic_bool *cancel; /* the request's (transport.h), or NULL */
};

/* The one piece of process-wide state: curl_global_init's once-flag. */
static pthread_once_t http_curl_once = PTHREAD_ONCE_INIT;
static CURLcode http_curl_init_rc;

static void http_curl_init(void)
{
	http_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void http_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *userp)
{
	struct http *http = userp;

	(void)h;
	(void)access; /* shared or single: one mutex serves both */
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_lock(&http->share_lock[data]);
}

static void http_share_unlock(CURL *h, curl_lock_data data, void *userp)
{
	struct http *http = userp;

	(void)h;
	if ((int)data >= 0 && data < CURL_LOCK_DATA_LAST)
		pthread_mutex_unlock(&http->share_lock[data]);
}

/* A body announced this big or bigger gets its buffer faulted in at once. */
#define HTTP_POPULATE_MIN ((size_t)1 << 20)
/* What a Content-Length may reserve before the body arrives: a server may
 * announce 60 MiB and send ten bytes, then hang up.  A bigger body's buffer
 * grows as its bytes come, doubling, so it never holds much more than twice
 * what arrived. */
#define HTTP_RESERVE_FIRST ((size_t)4 << 20)

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb;

	if (n > HTTP_BODY_MAX - x->len) {
		x->too_big = true;
		return 0;
	}
	if (x->len + n + 1 > x->cap) {
		size_t need = x->len + n + 1, cap = x->cap ? x->cap : 4096;
		char *nb;

		while (cap < need)
			cap *= 2;
		/* No more than the announced body needs, when it fits. */
		if (x->announced + 1 >= need && cap > x->announced + 1)
			cap = x->announced + 1;
		nb = realloc(x->buf, cap);
		if (!nb) {
			x->oom = true;
			return 0;
		}
		/* The part a big body grew by is faulted in at once, as
		 * http_body_reserve does for its first part. */
		if (cap - x->cap >= HTTP_POPULATE_MIN)
			arena_prefault(nb + x->cap, cap - x->cap);
		x->buf = nb;
		x->cap = cap;
	}
	memcpy(x->buf + x->len, data, n);
	x->len += n;
	x->buf[x->len] = '\0';
	return n;
}

/* The value of header line @data (@n bytes) when its name is @name (lower
 * case): true, with *@v and *@vlen the value without the spaces around it. */
static bool http_header_value(const char *data, size_t n, const char *name, const char **v,
			      size_t *vlen)
{
	size_t i = 0, namelen, want = strlen(name);

	while (i < n && data[i] != ':')
		i++;
	if (i == n)
		return false;
	namelen = i;
	while (namelen > 0 && (data[namelen - 1] == ' ' || data[namelen - 1] == '\t'))
		namelen--;
	if (namelen != want || strncasecmp(data, name, namelen) != 0)
		return false;
	for (i++; i < n && (data[i] == ' ' || data[i] == '\t'); i++)
		;
	while (n > i && isspace((unsigned char)data[n - 1]))
		n--;
	*v = data + i;
	*vlen = n - i;
	return true;
}

/* A header value as a non-negative number (at most about 10^9), else -1. */
static long http_number(const char *v, size_t n)
{
	long out = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		if (out < 1000000000L)
			out = out * 10 + (v[i] - '0');
	}
	return out;
}

/* The value of header line @data when its name is @name (lower case), as a
 * non-negative number, else -1 (absent, not a number). */
static long http_header_number(const char *data, size_t n, const char *name)
{
	const char *v;
	size_t vlen;

	return http_header_value(data, n, name, &v, &vlen) ? http_number(v, vlen) : -1;
}

/* Retry-After (RFC 9110, 10.2.3) in seconds from now: delta-seconds, or an
 * HTTP-date (0 when it is past); -1 for anything else.  How long is too long
 * to wait is net/api's to say. */
static long http_retry_after(const char *v, size_t n)
{
	char date[64];
	long secs = http_number(v, n);
	time_t at, now;

	if (secs >= 0 || n == 0 || n >= sizeof(date))
		return secs;
	memcpy(date, v, n);
	date[n] = '\0';
	/* curl_getdate reads the date forms RFC 9110 allows; -1 for none. */
	at = curl_getdate(date, NULL);
	if (at == (time_t)-1)
		return -1;
	now = time(NULL);
	if (at <= now)
		return 0;
	return at - now > 1000000000L ? 1000000000L : (long)(at - now);
}

/* Makes room for a body of @len bytes (Content-Length) before it arrives: one
 * allocation instead of a doubling per arrival, its pages made huge and writable
 * at once rather than faulted in 4 KiB at a time as the bytes land (~12 us each
 * on a Firecracker VM: 15 MB of listing would take ~45 ms; base/arena.h).  At
 * most HTTP_RESERVE_FIRST: the length is the server's word, not yet its bytes;
 * http_write_cb grows a bigger body the same way as it comes.  A compressed body
 * decodes longer and grows past it as any other; failing here costs nothing. */
static void http_body_reserve(struct http_xfer *x, size_t len)
{
	size_t want = len < HTTP_RESERVE_FIRST ? len : HTTP_RESERVE_FIRST;
	char *nb;

	if (x->buf || len == 0 || len > HTTP_BODY_MAX)
		return;
	x->announced = len;
	nb = malloc(want + 1);
	if (!nb)
		return;
	x->buf = nb;
	x->cap = want + 1;
	x->buf[0] = '\0';
	if (want >= HTTP_POPULATE_MIN)
		arena_prefault(nb, want + 1);
}

/* Notes header line @data's name in x->ratelimit_headers when it is a rate limit's
 * (X-RateLimit-*, RateLimit-*, Retry-After): `factuurfs probe` reports which the
 * service sends, names only. */
static void http_note_ratelimit_header(struct http_xfer *x, const char *data, size_t n)
{
	static const char *const prefixes[] = {"x-ratelimit", "ratelimit", "retry-after"};
	char name[48];
	size_t len = 0;
	while (len < n && len + 1 < sizeof(name) && data[len] != ':' && data[len] != ' ') {
		name[len] = (char)tolower((unsigned char)data[len]);
		len++;
	}
	if (len == n || data[len] != ':')
		return;
	name[len] = '\0';
	bool ours = false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		ours = ours || !strncmp(name, prefixes[i], strlen(prefixes[i]));
	size_t have = strlen(x->ratelimit_headers);
	if (!ours || strstr(x->ratelimit_headers, name) ||
	    have + len + 3 > sizeof(x->ratelimit_headers))
		return;
	snprintf(x->ratelimit_headers + have, sizeof(x->ratelimit_headers) - have, "%s%s",
		 have ? ", " : "", name);
}

static size_t http_header_cb(char *data, size_t size, size_t nmemb, void *userp)
{
	struct http_xfer *x = userp;
	size_t n = size * nmemb, vlen;
	const char *v;
	long num;

	/* A new status line (after a 1xx) starts a new set of headers. */
	if (n >= 5 && !strncmp(data, "HTTP/", 5)) {
		x->ratelimit_remaining = -1;
		x->retry_after = -1;
		x->ratelimit_headers[0] = '\0';
		x->announced = 0;
		return n;
	}
	http_note_ratelimit_header(x, data, n);
	if ((num = http_header_number(data, n, "content-length")) >= 0)
		http_body_reserve(x, (size_t)num);
	else if ((num = http_header_number(data, n, "x-ratelimit-remaining")) >= 0)
		x->ratelimit_remaining = num;
	else if (http_header_value(data, n, "retry-after", &v, &vlen))
		x->retry_after = http_retry_after(v, vlen);
	return n;
}

/* A free handle, or NULL when none came before @deadline (clock_mono) or
 * memory ran out (*@err says which). */
static struct http_conn *http_conn_take(struct http *http, double deadline, int *err)
{
	struct http_conn *c = NULL;
	struct timespec until;
	double left = deadline - clock_mono();
	long long ns;

	/* pool_cond waits on CLOCK_MONOTONIC (http_new), as the deadline counts. */
	clock_gettime(CLOCK_MONOTONIC, &until);
	ns = (long long)(left > 0 ? left * 1e9 : 0) + until.tv_nsec;
	until.tv_sec += (time_t)(ns / 1000000000LL);
	until.tv_nsec = (long)(ns % 1000000000LL);

	*err = 0;
	pthread_mutex_lock(&http->pool_lock);
	/* At most HTTP_POOL_MAX transfers in flight: the rest wait for a
	 * handle, but never past their own deadline. */
	while (http->n_idle == 0 && http->n_conns >= HTTP_POOL_MAX) {
		if (pthread_cond_timedwait(&http->pool_cond, &http->pool_lock, &until) ==
			ETIMEDOUT &&
		    http->n_idle == 0 && http->n_conns >= HTTP_POOL_MAX) {
			pthread_mutex_unlock(&http->pool_lock);
			*err = -ETIMEDOUT;
			return NULL;
		}
	}
	if (http->n_idle > 0) {
		c = http->idle[--http->n_idle];
		pthread_mutex_unlock(&http->pool_lock);
		return c;
	}
	http->n_conns++;
	pthread_mutex_unlock(&http->pool_lock);

	c = calloc(1, sizeof(*c));
	if (c && !(c->curl = curl_easy_init())) {
		free(c);
		c = NULL;
	}
	if (!c) {
		pthread_mutex_lock(&http->pool_lock);
		http->n_conns--;
		pthread_cond_signal(&http->pool_cond);
		pthread_mutex_unlock(&http->pool_lock);
		*err = -ENOMEM;
	}
	return c;
}

static void http_conn_give(struct http *http, struct http_conn *c)
{
	/* Drop pointers into this request's stack before the handle idles;
	 * the connection itself survives curl_easy_reset. */
	curl_easy_reset(c->curl);
	pthread_mutex_lock(&http->pool_lock);
	http->idle[http->n_idle++] = c;
	pthread_cond_signal(&http->pool_cond);
	pthread_mutex_unlock(&http->pool_lock);
}

#define HTTP_SETOPT(h, opt, val)                                                                   \
	do {                                                                                       \
		if (cc == CURLE_OK)                                                                \
			cc = curl_easy_setopt((h), (opt), (val));                                  \
	} while (0)

/* curl asks at least once a second, and on every piece of data: nonzero cuts the
 * transfer off (CURLE_ABORTED_BY_CALLBACK) once the mount has ended. */
static int http_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
			    curl_off_t ulnow)
{
	const struct http_xfer *x = arg;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return x->cancel && atomic_load(x->cancel);
}

/* Applies every option of a request to a freshly reset handle. */
static CURLcode http_setup(struct http *http, struct http_conn *c, const char *url,
			   const struct transport_request *req, long timeout_ms,
			   struct http_xfer *x)
{
	CURL *h = c->curl;
	CURLcode cc = CURLE_OK;
	const char *method = req->method;
	bool send_body = req->body || !strcmp(method, "POST") || !strcmp(method, "PUT");

	c->errbuf[0] = '\0';
	HTTP_SETOPT(h, CURLOPT_ERRORBUFFER, c->errbuf);
	HTTP_SETOPT(h, CURLOPT_SHARE, http->share);
	HTTP_SETOPT(h, CURLOPT_URL, url);
	HTTP_SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
	HTTP_SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	/* A redirect would need the credentials re-sent to another place. */
	HTTP_SETOPT(h, CURLOPT_FOLLOWLOCATION, 0L);
	HTTP_SETOPT(h, CURLOPT_USERNAME, http->username);
	HTTP_SETOPT(h, CURLOPT_PASSWORD, http->apikey);
	HTTP_SETOPT(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	/* Signals are process-wide; a FUSE daemon has many threads. */
	HTTP_SETOPT(h, CURLOPT_NOSIGNAL, 1L);
	/* The ids in a path are escaped, but "." and ".." are unreserved bytes:
	 * curl must not squash them as dot segments into another URL. */
	HTTP_SETOPT(h, CURLOPT_PATH_AS_IS, 1L);
	HTTP_SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
		    http->connect_timeout_ms < timeout_ms ? http->connect_timeout_ms : timeout_ms);
	HTTP_SETOPT(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	HTTP_SETOPT(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	HTTP_SETOPT(h, CURLOPT_LOW_SPEED_TIME, HTTP_STALL_SECONDS);
	HTTP_SETOPT(h, CURLOPT_SSL_VERIFYPEER, http->insecure ? 0L : 1L);
	HTTP_SETOPT(h, CURLOPT_SSL_VERIFYHOST, http->insecure ? 0L : 2L);
	if (http->cainfo)
		HTTP_SETOPT(h, CURLOPT_CAINFO, http->cainfo);
	HTTP_SETOPT(h, CURLOPT_USERAGENT, "factuurfs/" FACTUURFS_VERSION);
	HTTP_SETOPT(h, CURLOPT_ACCEPT_ENCODING, "");
	HTTP_SETOPT(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	HTTP_SETOPT(h, CURLOPT_TCP_KEEPALIVE, 1L);
	HTTP_SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)HTTP_BODY_MAX);
	HTTP_SETOPT(h, CURLOPT_HTTPHEADER, send_body ? http->hdr_body : http->hdr_plain);
	HTTP_SETOPT(h, CURLOPT_WRITEFUNCTION, http_write_cb);
	HTTP_SETOPT(h, CURLOPT_WRITEDATA, x);
	HTTP_SETOPT(h, CURLOPT_HEADERFUNCTION, http_header_cb);
	HTTP_SETOPT(h, CURLOPT_HEADERDATA, x);
	x->cancel = req->cancel;
	if (req->cancel) {
		HTTP_SETOPT(h, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
		HTTP_SETOPT(h, CURLOPT_XFERINFODATA, x);
		HTTP_SETOPT(h, CURLOPT_NOPROGRESS, 0L);
	}

	if (send_body) {
		/* POSTFIELDS does not copy: the body lives until http_send returns. */
		HTTP_SETOPT(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		HTTP_SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)(req->body ? req->len : 0));
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0)
		HTTP_SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
	/* libcurl resends a request once when a reused connection turns out to
	 * be dead; for a POST or DELETE the service may have acted on the first
	 * one, so these get a connection of their own and are never resent. */
	if (!strcmp(method, "POST") || !strcmp(method, "DELETE"))
		HTTP_SETOPT(h, CURLOPT_FRESH_CONNECT, 1L);
	return cc;
}

static int http_curl_errno(CURLcode cc, const struct http_xfer *x)
{
	switch (cc) {
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
		return -EHOSTUNREACH;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
		return -ECONNRESET;
	case CURLE_FILESIZE_EXCEEDED:
		return -EFBIG;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_WRITE_ERROR:
		if (x->too_big)
			return -EFBIG;
		if (x->oom)
			return -ENOMEM;
		return -EIO;
	default:
		return -EIO;
	}
}

/* True when the request provably never left this machine. */
static bool http_unsent(CURLcode cc, CURL *h)
{
	curl_off_t pre = 0;

	switch (cc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		return true;
	default:
		/* Pre-transfer time stays 0 until the request is about to be sent
		 * (a connect that timed out, say). */
		return curl_easy_getinfo(h, CURLINFO_PRETRANSFER_TIME_T, &pre) == CURLE_OK &&
		       pre == 0;
	}
}

static bool http_method_ok(const char *m)
{
	return m && (!strcmp(m, "GET") || !strcmp(m, "POST") || !strcmp(m, "PUT") ||
		     !strcmp(m, "DELETE"));
}

/* Fills @res after curl_easy_perform on @c returned @cc. */
static void http_result(struct http_conn *c, CURLcode cc, struct http_xfer *x,
			struct transport_result *res)
{
	res->ratelimit_remaining = x->ratelimit_remaining;
	res->retry_after = x->retry_after;
	memcpy(res->ratelimit_headers, x->ratelimit_headers, sizeof(res->ratelimit_headers));
	res->received = x->len;
	if (cc != CURLE_OK) {
		res->err = http_curl_errno(cc, x);
		if (res->err == -EFBIG)
			snprintf(res->error, sizeof(res->error),
				 "response larger than %zu MiB refused", HTTP_BODY_MAX >> 20);
		else if (c->errbuf[0])
			snprintf(res->error, sizeof(res->error), "%.60s: %.190s",
				 curl_easy_strerror(cc), c->errbuf);
		else
			snprintf(res->error, sizeof(res->error), "%s", curl_easy_strerror(cc));
		if (res->err == -EFBIG || res->err == -ENOMEM || res->err == -ECANCELED)
			res->local = true;
		else
			res->unsent = http_unsent(cc, c->curl);
		return;
	}
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
	{
		const char *ct = NULL;

		if (curl_easy_getinfo(c->curl, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct)
			snprintf(res->content_type, sizeof(res->content_type), "%s", ct);
	}
	/* Callers may treat the body as a string even when the server sent none. */
	if (!x->buf && !(x->buf = calloc(1, 1))) {
		res->err = -ENOMEM;
		res->local = true;
		res->status = 0;
		snprintf(res->error, sizeof(res->error), "out of memory");
		return;
	}
	res->body = x->buf;
	res->len = x->len;
	x->buf = NULL;
	if (res->status >= 300 && res->status < 400) {
		const char *loc = NULL;

		curl_easy_getinfo(c->curl, CURLINFO_REDIRECT_URL, &loc);
		snprintf(res->error, sizeof(res->error), "redirect to %.200s not followed",
			 loc ? loc : "(no location)");
	}
}

static int http_send(struct transport *t, const struct transport_request *req,
		     struct transport_result *res)
{
	struct http *http = (struct http *)t;
	struct http_xfer x = {.ratelimit_remaining = -1, .retry_after = -1};
	struct http_conn *c = NULL;
	const char *path = req->path;
	char *url = NULL;
	long timeout_ms;
	CURLcode cc;

	if (!http_method_ok(req->method) || !path) {
		res->err = -EINVAL;
		goto refuse;
	}
	while (*path == '/')
		path++;
	if (asprintf(&url, "%s%s", http->url, path) < 0) {
		url = NULL;
		res->err = -ENOMEM;
		goto refuse;
	}
	c = http_conn_take(http, req->deadline, &res->err);
	if (!c)
		goto refuse;
	timeout_ms = (long)((req->deadline - clock_mono()) * 1000);
	if (timeout_ms < 1)
		timeout_ms = 1;
	cc = http_setup(http, c, url, req, timeout_ms, &x);
	if (cc != CURLE_OK) {
		res->err = -EIO;
		snprintf(res->error, sizeof(res->error), "curl setup: %s", curl_easy_strerror(cc));
		goto refuse;
	}
	cc = curl_easy_perform(c->curl);
	http_result(c, cc, &x, res);
	goto out;

refuse:
	/* Nothing was tried: not the service's doing. */
	res->unsent = true;
	res->local = true;
	if (!res->error[0])
		snprintf(res->error, sizeof(res->error), "%s",
			 res->err == -ETIMEDOUT ? "no free connection before the timeout"
			 : res->err == -EINVAL	? "invalid request"
						: log_strerror(-res->err));
out:
	if (c)
		http_conn_give(http, c);
	free(x.buf);
	free(url);
	return res->err;
}

/* Replaces every occurrence of the key in @s by "***": error texts come from
 * curl and the server, and neither may carry the key into a log. */
static void http_redact(struct transport *t, char *s)
{
	struct http *http = (struct http *)t;
	char *p;

	if (!http->apikey || http->apikey_len == 0)
		return;
	while ((p = memmem(s, strlen(s), http->apikey, http->apikey_len))) {
		size_t tail = strlen(p + http->apikey_len);

		memset(p, '*', 3);
		if (http->apikey_len != 3)
			memmove(p + 3, p + http->apikey_len, tail + 1);
	}
}

static void http_free(struct transport *t)
{
	struct http *http = (struct http *)t;

	if (!http)
		return;
	/* Every send has returned its handle by now: the caller stops all
	 * users before freeing.  The handles go before the share they use. */
	for (int i = 0; i < http->n_idle; i++) {
		curl_easy_cleanup(http->idle[i]->curl);
		free(http->idle[i]);
	}
	if (http->share)
		curl_share_cleanup(http->share);
	curl_slist_free_all(http->hdr_plain);
	curl_slist_free_all(http->hdr_body);
	if (http->apikey) {
		explicit_bzero(http->apikey, http->apikey_len);
		free(http->apikey);
	}
	free(http->url);
	free(http->username);
	free(http->cainfo);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&http->share_lock[i]);
	pthread_mutex_destroy(&http->pool_lock);
	pthread_cond_destroy(&http->pool_cond);
	free(http);
}

static const struct transport_ops http_ops = {
    .send = http_send,
    .redact = http_redact,
    .free = http_free,
};

/* Unlike curl_slist_append, keeps *@list intact when out of memory. */
static bool http_slist_add(struct curl_slist **list, const char *s)
{
	struct curl_slist *l = curl_slist_append(*list, s);

	if (!l)
		return false;
	*list = l;
	return true;
}

static bool http_url_ok(const char *url)
{
	if (!strncasecmp(url, "http://", 7))
		return url[7] != '\0';
	if (!strncasecmp(url, "https://", 8))
		return url[8] != '\0';
	return false;
}

static int http_share_new(struct http *http)
{
	CURLSHcode sc;

	http->share = curl_share_init();
	if (!http->share)
		return -ENOMEM;
	sc = curl_share_setopt(http->share, CURLSHOPT_LOCKFUNC, http_share_lock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http->share, CURLSHOPT_UNLOCKFUNC, http_share_unlock);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http->share, CURLSHOPT_USERDATA, http);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (sc == CURLSHE_OK)
		sc = curl_share_setopt(http->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	if (sc == CURLSHE_NOMEM)
		return -ENOMEM;
	return sc == CURLSHE_OK ? 0 : -EIO;
}

int http_new(struct transport **out, const struct http_config *cfg)
{
	struct http *http = NULL;
	pthread_condattr_t ca;
	size_t ulen;
	int rc = 0;

	*out = NULL;
	if (!cfg || !cfg->url || !cfg->username || !cfg->apikey || !http_url_ok(cfg->url))
		return -EINVAL;
	pthread_once(&http_curl_once, http_curl_init);
	if (http_curl_init_rc != CURLE_OK)
		return -EIO;

	http = calloc(1, sizeof(*http));
	if (!http)
		return -ENOMEM;
	http->base.ops = &http_ops;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&http->share_lock[i], NULL);
	pthread_mutex_init(&http->pool_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&http->pool_cond, &ca);
	pthread_condattr_destroy(&ca);
	http->insecure = cfg->insecure;
	http->connect_timeout_ms =
	    cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : HTTP_DEFAULT_CONNECT_MS;

	ulen = strlen(cfg->url);
	http->url = malloc(ulen + 2);
	http->username = strdup(cfg->username);
	http->apikey_len = strlen(cfg->apikey);
	http->apikey = malloc(http->apikey_len + 1);
	http->cainfo = cfg->cainfo ? strdup(cfg->cainfo) : NULL;
	if (!http->url || !http->username || !http->apikey || (cfg->cainfo && !http->cainfo)) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(http->url, cfg->url, ulen + 1);
	if (http->url[ulen - 1] != '/')
		memcpy(http->url + ulen, "/", 2);
	memcpy(http->apikey, cfg->apikey, http->apikey_len + 1);

	/* "Expect:" stops curl from waiting a second for 100-continue on big bodies. */
	if (!http_slist_add(&http->hdr_plain, "Accept: application/json") ||
	    !http_slist_add(&http->hdr_plain, "Expect:") ||
	    !http_slist_add(&http->hdr_body, "Accept: application/json") ||
	    !http_slist_add(&http->hdr_body, "Expect:") ||
	    !http_slist_add(&http->hdr_body, "Content-Type: application/json")) {
		rc = -ENOMEM;
		goto out;
	}
	rc = http_share_new(http);
	if (rc < 0)
		goto out;
	*out = &http->base;
out:
	if (rc < 0)
		http_free(&http->base);
	return rc;
}
