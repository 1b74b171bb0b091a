/* persist: listings kept on disk, written by a thread of their own (see persist.h). */
#include "store/persist.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/diskfile.h"
#include "base/log.h"
#include "base/safedir.h"
#include "model/jsontext.h"

/* The kind and the payload format's version of every listing file, here and
 * nowhere else: this file alone writes and reads them, so a change of the
 * format (persist.h) bumps this one number, and every file of another
 * version is then refused by diskfile_read and listed again rather than
 * misread. */
#define PERSIST_KIND "listing"
#define PERSIST_VERSION 1u

/* A temporary file (diskfile's "<name>.tmp<tid>") older than this is left
 * by a writer that died; a younger one may be another mount's, still
 * writing. */
#define PERSIST_TMP_AGE 60

/* One listing waiting to be written. */
struct pending {
	char *name;
	void *snap;
	time_t fetched;
	bool fresh;
	persist_render_fn render;
	persist_release_fn release;
	struct pending *next;
};

struct persist {
	char *dir;
	int fd;                 /* dir, opened and checked (base/safedir.h) */
	pthread_t thread;
	pthread_mutex_t lock;   /* protects every field below */
	pthread_cond_t wake;    /* queued work or stop */
	struct pending *queue;  /* oldest first; at most one per name */
	bool stop;
	bool started;           /* the thread runs (persist_start); set before it does */
	/* The write in progress (its name, NULL when none), and whether an
	 * invalidation of that name came while it ran. */
	const char *writing;
	bool writing_invalidated;
};

char *persist_path(const struct persist *p, const char *name)
{
	char *path = NULL;
	if (!p || asprintf(&path, "%s/%s", p->dir, name) < 0)
		return NULL;
	return path;
}

static void pending_free(struct pending *w)
{
	if (!w)
		return;
	w->release(w->snap);
	free(w->name);
	free(w);
}

/* Sets listing @name's mtime back to the epoch: not fresh any more (persist.h).
 * A symlink there is not followed (its own time changes, and it is never read). */
static void mark_stale(const struct persist *p, const char *name)
{
	struct timespec times[2] = {{.tv_nsec = UTIME_OMIT}, {.tv_sec = 0}};
	if (utimensat(p->fd, name, times, AT_SYMLINK_NOFOLLOW) < 0 && errno != ENOENT)
		log_msg(LOG_WARNING, "%s/%s: %s: a remount may show it without our change", p->dir,
			name, log_strerror(errno));
}



/* After collection listing @name (fetched at @fetched) is written: the files of
 * records kept one by one ("<name>=<stem>", store/kept.c) written before that
 * fetch are removed.  kept.c's kept_record_load never uses a record fetched before
 * the listing it would complete, so they could only be refetched: without
 * this they would stay for good (a deleted invoice's, a record changed since). */
static void prune_records(const struct persist *p, const char *name, time_t fetched)
{
	size_t n = strlen(name);
	DIR *d = safedir_list(p->fd);
	struct dirent *e;
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		if (strncmp(e->d_name, name, n) != 0 || e->d_name[n] != '=' ||
		    strstr(e->d_name, ".tmp") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_mtime >= fetched)
			continue;
		(void)unlinkat(dirfd(d), e->d_name, 0); /* gone already is as good */
	}
	closedir(d);
}

void persist_prune(struct persist *p, const char *name, time_t fetched)
{
	if (p)
		prune_records(p, name, fetched);
}

/* Where a renderer's text goes while write_one writes a file: a listing of 10,000
 * invoices renders to ~40 MB, which is never held whole.  write_one renders it
 * twice: first counting (its length and CRC head the file, base/diskfile.h), then
 * writing; persist_put_header and persist_put_record drain the buffer every
 * PERSIST_CHUNK bytes.  Set on the writer thread only, during a render. */
#define PERSIST_CHUNK ((size_t)1 << 20)

struct sink {
	struct strbuf *b;
	struct diskfile_out *out; /* NULL: counting */
	unsigned long crc;
	size_t len;
	int err;
};

static _Thread_local struct sink *persist_sink;

static void sink_drain(struct sink *k)
{
	if (k->b->oom) {
		k->err = -ENOMEM;
	} else if (k->out) {
		int rc = diskfile_put(k->out, k->b->p, k->b->len);
		if (rc < 0 && k->err == 0)
			k->err = rc;
	} else {
		k->crc = diskfile_crc(k->crc, k->b->p, k->b->len);
		k->len += k->b->len;
	}
	k->b->len = 0;
}

/* After each piece a renderer wrote into @out: drained when it is write_one's. */
static void sink_maybe_drain(const struct strbuf *out)
{
	if (persist_sink && persist_sink->b == out && out->len >= PERSIST_CHUNK)
		sink_drain(persist_sink);
}

/* Renders @w into @k (counting, or writing to k->out); 0 or -errno. */
static int render_into(struct pending *w, struct sink *k)
{
	persist_sink = k;
	int rc = w->render(w->snap, w->fetched, w->fresh, k->b);
	sink_drain(k);
	persist_sink = NULL;
	return rc < 0 ? rc : k->err;
}

static void write_one(struct persist *p, struct pending *w)
{
	struct strbuf b = {0};
	struct sink k = {.b = &b};
	int rc = render_into(w, &k);
	if (rc == 0)
		rc = diskfile_openat(&k.out, p->fd, w->name, PERSIST_KIND, PERSIST_VERSION, k.len,
				     k.crc);
	bool opened = rc == 0;
	if (opened) {
		/* The snapshot is immutable: the same bytes again, now to the file. */
		rc = render_into(w, &k);
		if (rc < 0)
			(void)diskfile_close(k.out, true);
		else
			rc = diskfile_ready(k.out);
	}
	free(b.p);
	pthread_mutex_lock(&p->lock);
	/* An invalidation while it was written hit the old file: the new one
	 * (which may miss that change) takes the mark before it takes the name.
	 * Renamed under the lock persist_invalidate marks under, so a change is
	 * never between the two: its mark is on the new file, or the old file
	 * is still there to carry it (a kill -9 right after is safe either way). */
	bool again = p->writing_invalidated;
	if (opened && rc == 0)
		rc = diskfile_commit(k.out, again, false);
	p->writing = NULL;
	p->writing_invalidated = false;
	pthread_mutex_unlock(&p->lock);
	/* Its rename durable, outside the lock (a listing can always be fetched
	 * again: nothing waits for this). */
	if (opened && rc == 0)
		(void)safedir_sync(p->fd);
	if (rc < 0)
		log_msg(LOG_WARNING, "%s/%s: not kept on disk: %s", p->dir, w->name,
			log_strerror(-rc));
	/* A whole collection's listing: not a filtered one ("invoices.open"),
	 * nor a record kept one by one. */
	if (rc == 0 && !strpbrk(w->name, ".="))
		prune_records(p, w->name, w->fetched);
}

static void *writer_main(void *arg)
{
	struct persist *p = arg;
	/* The writer renders and writes a big listing (tens of MB) right after it
	 * arrived, while the reader that asked for it is still being answered: on
	 * Linux a thread's nice value is its own, and at 19 it takes the CPU only
	 * when nothing in the mount's answers wants it.  No reply waits for it;
	 * a failure to lower it is harmless. */
	(void)setpriority(PRIO_PROCESS, (id_t)gettid(), 19);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->queue && !p->stop)
			pthread_cond_wait(&p->wake, &p->lock);
		struct pending *w = p->queue;
		if (!w)
			break; /* stopped with nothing left */
		p->queue = w->next;
		p->writing = w->name;
		p->writing_invalidated = false;
		pthread_mutex_unlock(&p->lock);
		write_one(p, w);
		pending_free(w);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Removes the temporary files of writers that died (persist.h). */
static void remove_old_temporaries(const struct persist *p)
{
	DIR *d = safedir_list(p->fd);
	struct dirent *e;
	time_t now = time(NULL);
	if (!d)
		return;
	while ((e = readdir(d))) {
		struct stat st;
		if (!strstr(e->d_name, ".tmp") ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < PERSIST_TMP_AGE)
			continue;
		(void)unlinkat(dirfd(d), e->d_name, 0); /* gone already is as good */
	}
	closedir(d);
}

int persist_new(struct persist **out, const char *dir)
{
	struct persist *p = NULL;
	int rc;
	*out = NULL;
	if (!dir)
		return 0;
	rc = safedir_open(AT_FDCWD, NULL, dir, SAFEDIR_CREATE);
	if (rc < 0)
		return rc;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->dir = strdup(dir))) {
		close(rc);
		free(p);
		return -ENOMEM;
	}
	p->fd = rc;
	remove_old_temporaries(p);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	*out = p;
	return 0;
}

int persist_start(struct persist *p)
{
	if (!p || p->started)
		return 0;
	int rc = -pthread_create(&p->thread, NULL, writer_main, p);
	p->started = rc == 0;
	return rc;
}

void persist_free(struct persist *p)
{
	if (!p)
		return;
	/* What is queued is written first: the thread ends on an empty queue. */
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	/* Never started (the mount failed before it could): the caller writes. */
	if (p->started)
		pthread_join(p->thread, NULL);
	else
		writer_main(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->wake);
	close(p->fd);
	free(p->dir);
	free(p);
}

void persist_save(struct persist *p, const char *name, void *snap, time_t fetched, bool fresh,
		  persist_render_fn render, persist_release_fn release)
{
	struct pending *w = NULL, *old = NULL;
	if (!p || !(w = calloc(1, sizeof(*w))) || !(w->name = strdup(name))) {
		free(w);
		release(snap);
		return;
	}
	w->snap = snap;
	w->fetched = fetched;
	w->fresh = fresh;
	w->render = render;
	w->release = release;
	pthread_mutex_lock(&p->lock);
	/* A newer listing of the same name replaces the queued one, in its
	 * place: a busy mount writes each listing at most once per write. */
	struct pending **at = &p->queue;
	while (*at && strcmp((*at)->name, name) != 0)
		at = &(*at)->next;
	if (*at) {
		old = *at;
		w->next = old->next;
	}
	*at = w;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pending_free(old); /* outside the lock: it may free a whole listing */
}

void persist_invalidate(struct persist *p, const char *name)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	for (struct pending *w = p->queue; w; w = w->next)
		if (!strcmp(w->name, name))
			w->fresh = false;
	if (p->writing && !strcmp(p->writing, name))
		p->writing_invalidated = true;
	/* Under the lock the writer renames under (write_one). */
	mark_stale(p, name);
	pthread_mutex_unlock(&p->lock);
}

void persist_remove(const struct persist *p, const char *name)
{
	int rc = p ? safedir_remove(p->fd, name, false) : 0;
	if (rc < 0)
		log_msg(LOG_WARNING, "%s/%s: %s", p->dir, name, log_strerror(-rc));
}

/* ---- the format ------------------------------------------------------------- */

static void put_json(struct strbuf *out, cJSON *o)
{
	char *s = o ? cJSON_PrintUnformatted(o) : NULL;
	if (!s) {
		out->oom = true;
	} else {
		strbuf_puts(out, s);
		strbuf_put(out, "\n", 1);
	}
	free(s);
	cJSON_Delete(o);
}

void persist_put_header(struct strbuf *out, const char *name, time_t fetched, bool fresh,
			size_t count)
{
	cJSON *o = cJSON_CreateObject();
	if (o && (!cJSON_AddStringToObject(o, "listing", name) ||
		  !cJSON_AddNumberToObject(o, "fetched", (double)fetched) ||
		  !cJSON_AddBoolToObject(o, "fresh", fresh) ||
		  !cJSON_AddNumberToObject(o, "count", (double)count))) {
		cJSON_Delete(o);
		o = NULL;
	}
	put_json(out, o);
	sink_maybe_drain(out);
}

static bool utf8_valid(const char *s, size_t n);

void persist_put_record(struct strbuf *out, const char *id, bool whole, const char *text,
			size_t len, const char *wire_bytes, size_t wire_len)
{
	cJSON *o = cJSON_CreateObject();
	/* A C string for cJSON: the wire may be a slice of its page. */
	char *wire = wire_bytes ? strndup(wire_bytes, wire_len) : NULL;
	/* A service that sent Latin-1 left bytes the reader would refuse the file for
	 * (and a NUL, which would cut it): without its wire, the record is still kept. */
	if (wire && (strlen(wire) != wire_len || !utf8_valid(wire, wire_len))) {
		free(wire);
		wire = NULL;
	}
	/* Texts are NUL-free (jsontext renders them); @len is the check. */
	if (o && (strlen(text) != len || !cJSON_AddStringToObject(o, "id", id) ||
		  !cJSON_AddBoolToObject(o, "whole", whole) ||
		  !cJSON_AddStringToObject(o, "text", text) ||
		  (wire && !cJSON_AddStringToObject(o, "wire", wire)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	free(wire);
	put_json(out, o);
	sink_maybe_drain(out);
}

static bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	while (n > 0) {
		size_t l = jt_utf8_len(p, n);
		if (l == 0)
			return false;
		p += l;
		n -= l;
	}
	return true;
}

/* The object on the line starting at *@pos in [@pos, @end): the line (up to
 * its '\n', which is replaced by NUL) must be exactly one JSON object with
 * exactly @members members.  *@pos moves past the line.  NULL when not. */
/* One line: a JSON object of @members members (or @members + 1 with @more). */
static cJSON *parse_line(char **pos, char *end, int members, bool more)
{
	char *line = *pos, *nl = memchr(line, '\n', (size_t)(end - line));
	const char *stop = NULL;
	if (!nl)
		return NULL; /* the last line ends with '\n' too */
	*nl = '\0';
	*pos = nl + 1;
	cJSON *o = cJSON_ParseWithOpts(line, &stop, true);
	/* A NUL inside the line would end it early: the whole line or nothing. */
	if (o && (stop != nl || !cJSON_IsObject(o) || (cJSON_GetArraySize(o) != members &&
			 !(more && cJSON_GetArraySize(o) == members + 1)))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* A whole number in [0, @max], else -1. */
static double whole_number(const cJSON *v, double max)
{
	if (!cJSON_IsNumber(v))
		return -1;
	double d = v->valuedouble;
	return d >= 0 && d <= max && floor(d) == d ? d : -1;
}

static const char *str_of(const cJSON *o, const char *key, size_t *len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsString(v) || !v->valuestring)
		return NULL;
	*len = strlen(v->valuestring);
	return utf8_valid(v->valuestring, *len) ? v->valuestring : NULL;
}

static int bool_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsBool(v) ? cJSON_IsTrue(v) : -1;
}

int persist_read(const char *path, const char *name, struct persist_meta *meta,
		 persist_record_fn each, void *ud)
{
	char *data = NULL;
	size_t len = 0, n;
	struct stat st;
	cJSON *o = NULL;
	int rc = diskfile_readat(AT_FDCWD, NULL, path, PERSIST_KIND, PERSIST_VERSION, &data, &len, &st);
	memset(meta, 0, sizeof(*meta));
	if (rc < 0)
		return rc;
	char *pos = data, *end = data + len;
	rc = -EBADMSG;
	/* The header: this listing's, with its numbers in range (2^53: what a
	 * double holds exactly; a count cannot pass the payload's length). */
	o = parse_line(&pos, end, 4, false);
	const char *got = o ? str_of(o, "listing", &n) : NULL;
	double fetched =
	    o ? whole_number(cJSON_GetObjectItemCaseSensitive(o, "fetched"), 9007199254740992.0)
	      : -1;
	double count =
	    o ? whole_number(cJSON_GetObjectItemCaseSensitive(o, "count"), (double)len) : -1;
	int fresh = o ? bool_of(o, "fresh") : -1;
	if (!got || strcmp(got, name) != 0 || fetched < 0 || count < 0 || fresh < 0)
		goto out;
	meta->fetched = (time_t)fetched;
	meta->count = (size_t)count;
	/* The mark of persist_invalidate: an mtime set back before the fetch. */
	meta->fresh = fresh && st.st_mtime > 0 && st.st_mtime >= meta->fetched;
	cJSON_Delete(o);
	o = NULL;
	for (size_t i = 0; i < meta->count; i++) {
		size_t idlen, tlen;
		o = parse_line(&pos, end, 3, true);
		const char *id = o ? str_of(o, "id", &idlen) : NULL;
		const char *text = o ? str_of(o, "text", &tlen) : NULL;
		int whole = o ? bool_of(o, "whole") : -1;
		/* The fourth member, when there is one, is the wire text. */
		size_t wlen;
		const char *wire = o && cJSON_GetArraySize(o) == 4 ? str_of(o, "wire", &wlen) : NULL;
		if (!id || !*id || !text || whole < 0 || (cJSON_GetArraySize(o) == 4 && !wire))
			goto out;
		int r = each(ud, id, whole, text, tlen, wire);
		if (r < 0) {
			rc = r == -ENOMEM ? r : -EBADMSG;
			goto out;
		}
		cJSON_Delete(o);
		o = NULL;
	}
	/* Exactly @count records, and nothing after them. */
	if (pos == end)
		rc = 0;
out:
	cJSON_Delete(o);
	free(data);
	return rc;
}
