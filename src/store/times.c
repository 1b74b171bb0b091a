/* times: record files' modification times (see times.h). */
#include "store/times.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uthash.h>

#include "base/clock.h"
#include "base/diskfile.h"
#include "base/log.h"
#include "base/safedir.h"
#include "base/strbuf.h"

#define TIMES_KIND "times"
#define TIMES_VERSION 1u
#define NS 1000000000LL
/* How often the kept times are written while they change: a kill loses at most
 * this much, and what it loses is decided again from the same listing. */
#define WRITE_EVERY 1.0

struct entry {
	char *stem;
	struct times_kept k;
	UT_hash_handle hh;
};

/* One collection's kept times. */
struct coll {
	struct entry *by_stem; /* uthash */
	bool loaded;           /* its file was read (or found missing or refused) */
	bool dirty;            /* changed since it was written */
};

struct times {
	char *dir;             /* NULL: in memory only */
	int fd;                /* dir, opened and checked (base/safedir.h); -1 */
	pthread_mutex_t lock;  /* protects colls, wrote */
	struct coll *colls;    /* one per schema collection, by schema_collection_index */
	double wrote;          /* CLOCK_MONOTONIC of the last write */
	/* Orders the writes: held across one write, taken before lock, so an older
	 * state never lands after a newer one. */
	pthread_mutex_t wlock;
};

static long long ns_of(struct timespec ts)
{
	return (long long)ts.tv_sec * NS + ts.tv_nsec;
}

static struct timespec ts_of(long long ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / NS), .tv_nsec = (long)(ns % NS)};
}

static unsigned long long hash_of(const char *s, size_t len)
{
	unsigned long long h = 1469598103934665603ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	/* 0 means "no text yet" in what is kept. */
	return h ? h : 1;
}

long long times_rule(const struct times_kept *k, long long service, long long seen,
		     long long now)
{
	long long t = seen;
	/* The service says when it changed: no later than that. */
	if (service > 0 && service < t)
		t = service;
	if (k && k->mtime > 0) {
		/* It changed since the time kept, so after it, whatever the service says
		 * (a change it does not date, or dates no later). */
		if (t <= k->mtime)
			t = seen > k->mtime ? seen : k->mtime + 1;
		/* Not before a save of ours. */
		if (t < k->saved)
			t = k->saved;
	}
	return t < now ? t : now;
}

/* Empties @cl's table (with t->lock held, or alone). */
static void clear(struct coll *cl)
{
	struct entry *e, *tmp;
	HASH_ITER(hh, cl->by_stem, e, tmp) {
		assert(!e->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(cl->by_stem, e);
		free(e->stem);
		free(e);
	}
}

/* One line of a kept file, "<hash>\t<mtime>\t<saved>\t<stem>" (NUL-ended): false
 * when it is not one of ours.  A stem holds no tab, '/' or newline (the file-name
 * codec writes control bytes as %01...). */
static bool parse_line(char *p, struct times_kept *k, const char **stem)
{
	char *end;
	errno = 0;
	k->hash = strtoull(p, &end, 16);
	if (end == p || *end != '\t' || errno)
		return false;
	p = end + 1;
	k->mtime = strtoll(p, &end, 10);
	if (end == p || *end != '\t' || errno || k->mtime <= 0)
		return false;
	p = end + 1;
	k->saved = strtoll(p, &end, 10);
	if (end == p || *end != '\t' || errno || k->saved < 0)
		return false;
	*stem = end + 1;
	return **stem && !strchr(*stem, '\t') && !strchr(*stem, '/');
}

/* Reads @c's file into @cl (with t->lock held): a file that is not whole, or
 * holds a line that is not one of ours, is removed and nothing of it is used. */
static void load(struct times *t, const struct schema_collection *c, struct coll *cl)
{
	char *data = NULL, *p, *nl;
	size_t len = 0;
	long long now = ns_of(clock_wall());
	cl->loaded = true;
	if (t->fd < 0)
		return;
	int rc = diskfile_readat(t->fd, t->dir, c->name, TIMES_KIND, TIMES_VERSION, &data, &len,
				 NULL);
	if (rc == -ENOENT)
		return;
	if (rc < 0)
		goto refuse;
	for (p = data; p < data + len; p = nl + 1) {
		struct times_kept k;
		const char *stem;
		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (!nl)
			goto refuse;
		*nl = '\0';
		if (!parse_line(p, &k, &stem))
			goto refuse;
		/* A time in the future (a clock set back, a file not ours) is not used:
		 * decided again. */
		if (k.mtime > now || k.saved > now)
			continue;
		struct entry *e = NULL;
		HASH_FIND_STR(cl->by_stem, stem, e);
		if (e)
			continue;
		e = calloc(1, sizeof(*e));
		if (!e || !(e->stem = strdup(stem))) {
			free(e);
			break;
		}
		e->k = k;
		HASH_ADD_KEYPTR(hh, cl->by_stem, e->stem, strlen(e->stem), e);
	}
	free(data);
	return;
refuse:
	free(data);
	log_msg(LOG_WARNING, "%s/%s: %s; the times of its records are decided again", t->dir,
		c->name, rc == -EBADMSG || rc >= 0 ? "not a whole file of ours" : log_strerror(-rc));
	clear(cl);
	safedir_remove(t->fd, c->name, false);
	cl->dirty = true;
}

int times_open(struct times **out, const char *dir)
{
	struct times *t = calloc(1, sizeof(*t));
	*out = NULL;
	if (!t || !(t->colls = calloc(schema_ncollections(), sizeof(*t->colls)))) {
		free(t);
		return -ENOMEM;
	}
	t->fd = -1;
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->wlock, NULL);
	*out = t;
	if (!dir)
		return 0;
	int fd = safedir_open(AT_FDCWD, NULL, dir, SAFEDIR_CREATE);
	if (fd < 0)
		return fd;
	if (!(t->dir = strdup(dir))) {
		close(fd);
		return -ENOMEM;
	}
	t->fd = fd;
	return 0;
}

/* @c's kept times as its file holds them (with t->lock held), malloc'd. */
static char *render(struct coll *cl, size_t *len)
{
	struct strbuf b = {0};
	struct entry *e, *tmp;
	char line[96];
	HASH_ITER(hh, cl->by_stem, e, tmp) {
		if (!e->k.mtime)
			continue; /* never decided */
		snprintf(line, sizeof(line), "%016llx\t%lld\t%lld\t", e->k.hash, e->k.mtime,
			 e->k.saved);
		strbuf_puts(&b, line);
		strbuf_puts(&b, e->stem);
		strbuf_put(&b, "\n", 1);
	}
	*len = b.len;
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	/* An empty file is still written: nothing kept is a state too. */
	return b.p ? b.p : strdup("");
}

/* Writes every collection changed since its last write (@force: now, waiting for a
 * write under way; else at most once per WRITE_EVERY, and not while another
 * writes).  Takes wlock then lock; call with neither held. */
static void flush(struct times *t, bool force)
{
	if (t->fd < 0)
		return;
	/* A write under way will be followed by the next one that is due: a reader's
	 * stat never waits for another's write. */
	if (force)
		pthread_mutex_lock(&t->wlock);
	else if (pthread_mutex_trylock(&t->wlock) != 0)
		return;
	for (size_t i = 0; i < schema_ncollections(); i++) {
		char *data = NULL;
		size_t len = 0;
		pthread_mutex_lock(&t->lock);
		double now = clock_mono();
		if (t->colls[i].dirty && (force || now - t->wrote >= WRITE_EVERY)) {
			data = render(&t->colls[i], &len);
			t->colls[i].dirty = !data;
		}
		pthread_mutex_unlock(&t->lock);
		if (!data)
			continue;
		const struct schema_collection *c = schema_collection_at(i);
		int rc = diskfile_writeat(t->fd, c->name, TIMES_KIND, TIMES_VERSION, data, len);
		if (rc < 0) {
			log_msg(LOG_WARNING, "%s/%s: %s; file times decided since are kept in memory",
				t->dir, c->name, log_strerror(-rc));
			pthread_mutex_lock(&t->lock);
			t->colls[i].dirty = true;
			pthread_mutex_unlock(&t->lock);
		}
		free(data);
	}
	pthread_mutex_lock(&t->lock);
	t->wrote = clock_mono();
	pthread_mutex_unlock(&t->lock);
	pthread_mutex_unlock(&t->wlock);
}

void times_free(struct times *t)
{
	if (!t)
		return;
	flush(t, true);
	for (size_t i = 0; i < schema_ncollections(); i++)
		clear(&t->colls[i]);
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->wlock);
	free(t->colls);
	free(t->dir);
	free(t);
}

/* @stem's entry of @c (with t->lock held), made with @make; NULL when none. */
static struct entry *entry_of(struct times *t, const struct schema_collection *c,
			      const char *stem, bool make)
{
	struct coll *cl = &t->colls[schema_collection_index(c)];
	struct entry *e = NULL;
	if (!cl->loaded)
		load(t, c, cl);
	HASH_FIND_STR(cl->by_stem, stem, e);
	if (e || !make)
		return e;
	e = calloc(1, sizeof(*e));
	if (!e || !(e->stem = strdup(stem))) {
		free(e);
		return NULL;
	}
	HASH_ADD_KEYPTR(hh, cl->by_stem, e->stem, strlen(e->stem), e);
	return e;
}

struct timespec times_of(struct times *t, const struct schema_collection *c, const char *stem,
			 const char *text, size_t len, time_t seen)
{
	struct timespec now = clock_wall();
	/* A fetch time in whole seconds: seen by the end of that second at the latest
	 * (the rule never gives a time past now). */
	long long nnow = ns_of(now), nseen = seen > 0 ? (long long)seen * NS + NS - 1 : nnow, mt;
	if (!t || !c || !stem)
		return ts_of(nseen < nnow ? nseen : nnow);
	unsigned long long h = hash_of(text, len);
	bool decided = false;
	pthread_mutex_lock(&t->lock);
	struct entry *e = entry_of(t, c, stem, true);
	if (e && e->k.hash == h) {
		mt = e->k.mtime;
	} else {
		/* New content (or none kept): scanned only now, once per content. */
		long long service = schema_record_changed(c, text, len);
		mt = times_rule(e ? &e->k : NULL, service, nseen, nnow);
		if (e) {
			e->k.hash = h;
			e->k.mtime = mt;
			t->colls[schema_collection_index(c)].dirty = true;
			decided = true;
		}
	}
	bool due = decided && clock_mono() - t->wrote >= WRITE_EVERY;
	pthread_mutex_unlock(&t->lock);
	if (due)
		flush(t, false);
	return ts_of(mt);
}

bool times_peek(struct times *t, const struct schema_collection *c, const char *stem,
		struct timespec *ts)
{
	bool found = false;
	if (!t || !c || !stem)
		return false;
	pthread_mutex_lock(&t->lock);
	struct entry *e = entry_of(t, c, stem, false);
	if (e && e->k.mtime > 0) {
		*ts = ts_of(e->k.mtime);
		found = true;
	}
	pthread_mutex_unlock(&t->lock);
	return found;
}

void times_saved(struct times *t, const struct schema_collection *c, const char *stem,
		 struct timespec when)
{
	if (!t || !c || !stem)
		return;
	long long w = ns_of(when);
	pthread_mutex_lock(&t->lock);
	struct entry *e = entry_of(t, c, stem, true);
	if (e) {
		e->k.saved = w;
		/* A save the service took without a change it shows is still a save. */
		if (e->k.mtime < w)
			e->k.mtime = w;
		t->colls[schema_collection_index(c)].dirty = true;
	}
	pthread_mutex_unlock(&t->lock);
}
