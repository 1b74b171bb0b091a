/* pdfstore: the invoices' (and quotations') PDFs, fetched once and kept (see pdfstore.h). */
#include "store/pdfstore.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uthash.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/flight.h"
#include "base/log.h"
#include "base/names.h"
#include "model/schema.h"
#include "store/get.h"

/* A fetch that just failed is not repeated for this long (base/flight.h). */
#define PDFSTORE_FAIL_HOLD 1.0

/* Seconds after which a temporary file in the cache is a dead writer's. */
#define PDFSTORE_LEFTOVER_AGE 60

/* A PDF known to this mount. */
struct pdf {
	char *key;        /* "<collection>/<id>": collection names hold no '/' */
	const struct schema_collection *c;
	char *nr;         /* the record's id, inside key */
	off_t size;       /* -1 until known */
	char *data;       /* in memory only when the disk cache is unusable or off */
	double used;      /* last read: LRU for memory copies */
	bool seen;        /* read (or fetched) during this mount: counted in the hit rate */
	struct flight fl;
	UT_hash_handle hh;
};

struct pdfstore {
	char *dir;             /* NULL: memory only */
	off_t max;
	struct api *api;
	struct events *events;
	double (*now)(void);
	pthread_mutex_t lock;  /* protects every field below and every struct pdf */
	pthread_cond_t done;   /* broadcast when a fetch ends */
	struct pdf *pdfs;
	off_t disk_used;       /* bytes of PDFs in dir, -1 until first counted */
	off_t mem_used;        /* bytes of PDFs held in memory */
	unsigned long fetches, disk_hits;
	unsigned long prefetched; /* fetched by pdfstore_prefetch, not in fetches */
	/* By collection (schema_collection_index): which of its PDF paths answered
	 * with a PDF (0: pdf_path, k: pdf_also[k - 1]), -1 until one did. */
	int *path_found;
	/* The names in dir when this mount first needed one (one readdir): a PDF
	 * not among them is not opened to be checked, which an `ls -l` of 10,000
	 * never fetched PDFs would otherwise pay for each (an open that fails,
	 * ~5 us).  Those this mount writes get their entry's size directly. */
	struct present *present;
	bool present_read, present_tried;
};

struct present {
	char *name;
	UT_hash_handle hh;
};

static double default_now(void)
{
	return clock_mono();
}

/* The cache file of the PDF of record @nr of @c: an invoice's is <stem>.pdf (as
 * before quotations had PDFs), any other's .<collection>=<stem>.pdf, a name no
 * invoice's can be (a stem never starts with '.': names_encode writes %2E). */
static char *pdf_path(struct pdfstore *ps, const struct schema_collection *c, const char *nr)
{
	char *stem = names_encode(nr), *path = NULL;
	bool invoice = !strcmp(c->name, "invoices");
	if (stem && ps->dir &&
	    asprintf(&path, "%s/%s%s%s%s.pdf", ps->dir, invoice ? "" : ".", invoice ? "" : c->name,
		     invoice ? "" : "=", stem) < 0)
		path = NULL;
	free(stem);
	return path;
}

/* True when @head and @tail (the last KiB) look like one whole PDF: its
 * header first and its %%EOF trailer at the end. */
static bool pdf_whole(const char *head, size_t headlen, const char *tail, size_t taillen)
{
	return headlen >= 5 && !memcmp(head, "%PDF-", 5) && memmem(tail, taillen, "%%EOF", 5);
}

/* The size of cached file @path when it holds a whole PDF, else -1 after
 * removing it: a file cut short by a full disk or a crash elsewhere is
 * fetched again rather than served. */

static off_t pdf_verified(const char *path)
{
	char head[5];
	struct stat st;
	off_t size = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size >= 16 &&
	    pread(fd, head, sizeof(head), 0) == (ssize_t)sizeof(head)) {
		char tail[1024];
		size_t n = st.st_size < (off_t)sizeof(tail) ? (size_t)st.st_size : sizeof(tail);
		if (pread(fd, tail, n, st.st_size - (off_t)n) == (ssize_t)n &&
		    pdf_whole(head, sizeof(head), tail, n))
			size = st.st_size;
	}
	close(fd);
	if (size < 0) {
		log_msg(LOG_WARNING, "removing %s from the PDF cache: not a whole PDF", path);
		unlink(path);
	} else {
		/* Its time is when it was last used: eviction takes the oldest. */
		utimensat(AT_FDCWD, path, NULL, 0);
	}
	return size;
}

/* Reads the names in ps->dir into ps->present, once; called with ps->lock held.
 * present_read stays false when the directory cannot be read or memory runs out:
 * every name then counts as present (opened to be checked, as before). */
static void pdf_read_present(struct pdfstore *ps)
{
	DIR *d;
	struct dirent *de;
	bool ok = true;
	if (ps->present_read || ps->present_tried || !ps->dir)
		return;
	ps->present_tried = true;
	if (!(d = opendir(ps->dir))) {
		/* Not made yet: nothing in it. */
		ps->present_read = errno == ENOENT;
		return;
	}
	while (ok && (de = readdir(d))) {
		struct present *x = calloc(1, sizeof(*x));
		if (!x || !(x->name = strdup(de->d_name))) {
			free(x);
			ok = false;
			break;
		}
		HASH_ADD_KEYPTR(hh, ps->present, x->name, strlen(x->name), x);
	}
	closedir(d);
	ps->present_read = ok;
}

/* False when @path is known not to be in the cache directory (pdf_read_present). */
static bool pdf_maybe_present(struct pdfstore *ps, const char *path)
{
	struct present *x = NULL;
	const char *base = strrchr(path, '/');
	pdf_read_present(ps);
	if (!ps->present_read)
		return true;
	base = base ? base + 1 : path;
	HASH_FIND_STR(ps->present, base, x);
	return x != NULL;
}

/* Finds or adds the entry of record @nr of @c; called with ps->lock held. */
static struct pdf *pdf_entry(struct pdfstore *ps, const struct schema_collection *c,
			     const char *nr)
{
	struct pdf *p = NULL;
	char buf[512], *key = NULL;
	int len = snprintf(buf, sizeof(buf), "%s/%s", c->name, nr);
	/* Looked up on the stack: a directory listing asks for each of its PDFs. */
	if (len >= 0 && (size_t)len < sizeof(buf)) {
		HASH_FIND(hh, ps->pdfs, buf, (size_t)len, p);
		if (p)
			return p;
	}
	if (asprintf(&key, "%s/%s", c->name, nr) < 0)
		return NULL;
	HASH_FIND_STR(ps->pdfs, key, p);
	if (p) {
		free(key);
		return p;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		free(key);
		return NULL;
	}
	p->key = key;
	p->c = c;
	p->nr = key + strlen(c->name) + 1;
	char *path = pdf_path(ps, c, nr);
	p->size = path && pdf_maybe_present(ps, path) ? pdf_verified(path) : -1;
	free(path);
	HASH_ADD_KEYPTR(hh, ps->pdfs, p->key, strlen(p->key), p);
	return p;
}

struct cached_file {
	char *name;
	struct timespec mtime; /* last used; nanoseconds matter: many arrive a second */
	off_t size;
};

static int cmp_mtime(const void *a, const void *b)
{
	const struct timespec *x = &((const struct cached_file *)a)->mtime;
	const struct timespec *y = &((const struct cached_file *)b)->mtime;
	if (x->tv_sec != y->tv_sec)
		return x->tv_sec < y->tv_sec ? -1 : 1;
	return (x->tv_nsec > y->tv_nsec) - (x->tv_nsec < y->tv_nsec);
}

/* Counts the disk cache and, past cache_max, removes the PDFs used longest
 * ago (but not @keep, just written).  Called with ps->lock held; only
 * local disk I/O. */
static void pdf_evict(struct pdfstore *ps, const char *keep)
{
	DIR *d = opendir(ps->dir);
	struct cached_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	off_t total = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".pdf") != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct cached_file *more = realloc(files, cap * sizeof(*files));
			if (!more)
				break;
			files = more;
		}
		files[n].name = strdup(de->d_name);
		files[n].mtime = st.st_mtim;
		files[n].size = st.st_size;
		if (files[n].name) {
			total += st.st_size;
			n++;
		}
	}
	if (n > 1)
		qsort(files, n, sizeof(*files), cmp_mtime);
	for (size_t i = 0; i < n && total > ps->max; i++) {
		if (keep && !strcmp(files[i].name, keep))
			continue;
		if (unlinkat(dirfd(d), files[i].name, 0) == 0) {
			total -= files[i].size;
			log_msg(LOG_DEBUG, "PDF cache: evicted %s", files[i].name);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(files[i].name);
	free(files);
	closedir(d);
	ps->disk_used = total;
}

/* Keeps memory copies within cache_max, dropping the least recently read;
 * called with ps->lock held. */
static void pdf_trim_memory(struct pdfstore *ps, const struct pdf *keep)
{
	while (ps->mem_used > ps->max) {
		struct pdf *p, *tmp, *oldest = NULL;
		HASH_ITER(hh, ps->pdfs, p, tmp) {
			if (p->data && p != keep && !p->fl.loading && (!oldest || p->used < oldest->used))
				oldest = p;
		}
		if (!oldest)
			break;
		ps->mem_used -= oldest->size;
		free(oldest->data);
		oldest->data = NULL;
		oldest->size = -1; /* fetched again when read */
	}
}

off_t pdfstore_size(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		     bool wait)
{
	pthread_mutex_lock(&ps->lock);
	struct pdf *p = pdf_entry(ps, c, nr);
	if (wait && p)
		flight_wait(&p->fl, &ps->lock, &ps->done);
	off_t size = p ? p->size : -1;
	pthread_mutex_unlock(&ps->lock);
	return size;
}

/* Writes @data to the disk cache atomically; false when it could not. */
static bool pdf_store(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		      const char *data, size_t len)
{
	char *path = pdf_path(ps, c, nr), *tmp = NULL;
	bool ok = false;
	int fd = -1;
	if (!path || asprintf(&tmp, "%s.tmp%ld", path, (long)gettid()) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		goto out;
	for (size_t done = 0; done < len;) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		done += (size_t)w;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto out;
	}
	fd = -1;
	ok = rename(tmp, path) == 0;
	if (ok) {
		pthread_mutex_lock(&ps->lock);
		if (ps->disk_used >= 0)
			ps->disk_used += (off_t)len;
		if (ps->disk_used < 0 || ps->disk_used > ps->max)
			pdf_evict(ps, strrchr(path, '/') + 1);
		pthread_mutex_unlock(&ps->lock);
	}
out:
	if (fd >= 0)
		close(fd);
	if (!ok && tmp)
		unlink(tmp);
	free(tmp);
	free(path);
	return ok;
}

/* Path @k of @c's PDF of @nr (0: pdf_path/<id>, k: pdf_also[k - 1] with the id
 * for its %s), malloc'd; NULL past the last. */
static char *pdf_url(const struct schema_collection *c, size_t k, const char *esc)
{
	size_t nalso = sizeof(c->pdf_also) / sizeof(c->pdf_also[0]);
	const char *fmt = k == 0 ? NULL : k <= nalso ? c->pdf_also[k - 1] : NULL;
	const char *at = fmt ? strstr(fmt, "%s") : NULL;
	char *path = NULL;
	int n;
	if (k == 0)
		n = asprintf(&path, "%s/%s", c->pdf_path, esc);
	else if (at) /* the table's text around its one %s, the id in its place */
		n = asprintf(&path, "%.*s%s%s", (int)(at - fmt), fmt, esc, at + 2);
	else
		return NULL;
	return n < 0 ? NULL : path;
}

/* True when @resp holds a PDF: its header; with @whole also its %%EOF trailer. */
static bool is_pdf(const struct api_answer *resp, bool whole)
{
	if (resp->len < 5 || memcmp(resp->body, "%PDF-", 5) != 0)
		return false;
	size_t n = resp->len < 1024 ? resp->len : 1024;
	return !whole || pdf_whole(resp->body, resp->len, resp->body + resp->len - n, n);
}

/* GETs the PDF of @nr of @c into @resp.  Where the service keeps a collection's
 * PDFs may be unknown (quotations: schema.c's pdf_also): until one path has
 * answered with a PDF, a 404, a 405 or an answer that is no PDF moves on to the
 * next, and only the last one's failure is recorded. */
static int pdf_get(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		   const char *what, struct api_answer *resp)
{
	size_t ci = schema_collection_index(c);
	char *esc = names_url_escape(nr);
	int rc = -ENOMEM;
	if (!esc)
		return rc;
	pthread_mutex_lock(&ps->lock);
	int found = ps->path_found[ci];
	pthread_mutex_unlock(&ps->lock);
	for (size_t k = found < 0 ? 0 : (size_t)found;; k++) {
		char *path = pdf_url(c, k, esc), *next = found < 0 ? pdf_url(c, k + 1, esc) : NULL;
		if (!path) {
			free(next);
			rc = -ENOMEM;
			break;
		}
		rc = next ? api_call(ps->api, "GET", path, NULL, 0, resp)
			  : store_get(ps->api, ps->events, what, path, resp);
		bool moved = rc == -ENOENT || rc == -EPERM || (rc == 0 && !is_pdf(resp, false));
		if (next && moved) {
			log_msg(LOG_INFO, "%s: GET %s: %s; trying %s", what, path,
				rc < 0 ? resp->message : "not a PDF", next);
			api_answer_clear(resp);
		} else if (next && rc < 0) {
			store_failed(ps->events, what, resp);
		}
		if (rc == 0 && found < 0 && is_pdf(resp, false)) {
			pthread_mutex_lock(&ps->lock);
			ps->path_found[ci] = (int)k;
			pthread_mutex_unlock(&ps->lock);
			if (k > 0)
				log_msg(LOG_NOTICE, "%s PDFs are at %s, not %s/<id>", c->name, path,
					c->pdf_path);
		}
		free(path);
		free(next);
		if (!next || !moved)
			break;
	}
	free(esc);
	return rc;
}

/* Fetches the PDF of @nr; @prefetch: for the prefetch, not for a read (the
 * first read of it is then a disk hit). */
static int pdf_fetch(struct pdfstore *ps, const char *nr, struct pdf *p, bool prefetch)
{
	char what[96];
	struct api_answer resp;
	int rc;
	snprintf(what, sizeof(what), "get the PDF of %s%s", !strcmp(p->c->name, "invoices") ? ""
			   : "quotation ", nr);
	rc = pdf_get(ps, p->c, nr, what, &resp);
	if (rc < 0)
		goto out;
	if (!is_pdf(&resp, false)) {
		events_error(ps->events, what, "the service sent something that is not a PDF");
		rc = -EIO;
		goto out;
	}
	if (!is_pdf(&resp, true)) {
		/* Cut short (with a Content-Length to match): never kept. */
		events_error(ps->events, what, "the service sent a PDF without its end (%%EOF): "
				   "not kept, the next read asks again");
		rc = -EIO;
		goto out;
	}
	bool on_disk = ps->dir && pdf_store(ps, p->c, nr, resp.body, resp.len);
	pthread_mutex_lock(&ps->lock);
	if (prefetch) {
		ps->prefetched++;
	} else {
		ps->fetches++;
		p->seen = true;
	}
	p->size = (off_t)resp.len; /* under the lock: pdfstore_size reads it without a flight */
	if (!on_disk) {
		/* No disk cache (off, or unusable): keep the bytes in memory. */
		p->data = resp.body;
		resp.body = NULL;
		ps->mem_used += p->size;
		pdf_trim_memory(ps, p);
	}
	pthread_mutex_unlock(&ps->lock);
out:
	api_answer_clear(&resp);
	return rc;
}

/* With ps->lock held: makes the bytes of @p known, fetching them (one
 * shared call) when they are not.  1 when this call fetched them, 0 when
 * they were known (or another caller's fetch just brought them), -errno;
 * the lock is held again on return. */
static int pdf_ensure(struct pdfstore *ps, const char *nr, struct pdf *p, bool prefetch)
{
	bool waited = flight_wait(&p->fl, &ps->lock, &ps->done);
	if ((waited || flight_failed_within(&p->fl, ps->now(), PDFSTORE_FAIL_HOLD)) &&
	    p->fl.rc < 0 && p->size < 0)
		return p->fl.rc;
	if (p->size < 0) {
		flight_begin(&p->fl);
		pthread_mutex_unlock(&ps->lock);
		int err = pdf_fetch(ps, nr, p, prefetch);
		pthread_mutex_lock(&ps->lock);
		flight_end(&p->fl, &ps->done, err, ps->now());
		return err < 0 ? err : 1;
	}
	return 0;
}

off_t pdfstore_fetch(struct pdfstore *ps, const struct schema_collection *c, const char *nr)
{
	pthread_mutex_lock(&ps->lock);
	struct pdf *p = pdf_entry(ps, c, nr);
	int rc = p ? pdf_ensure(ps, nr, p, false) : -ENOMEM;
	off_t size = rc < 0 ? rc : p->size;
	pthread_mutex_unlock(&ps->lock);
	return size;
}

ssize_t pdfstore_read(struct pdfstore *ps, const struct schema_collection *c, const char *nr,
		      char *buf, size_t size, off_t off)
{
	struct pdf *p;
	ssize_t rc = 0;
	pthread_mutex_lock(&ps->lock);
	p = pdf_entry(ps, c, nr);
	if (!p) {
		pthread_mutex_unlock(&ps->lock);
		return -ENOMEM;
	}
	rc = pdf_ensure(ps, nr, p, false);
	if (rc < 0) {
		pthread_mutex_unlock(&ps->lock);
		return rc;
	}
	/* The hit rate counts PDFs, not READs: one read from the disk cache
	 * per PDF this mount did not fetch. */
	if (rc == 0 && !p->seen && !p->data)
		ps->disk_hits++;
	p->seen = true;
	off_t total = p->size;
	if (off >= total) {
		pthread_mutex_unlock(&ps->lock);
		return 0;
	}
	if ((off_t)size > total - off)
		size = (size_t)(total - off);
	if (p->data) {
		p->used = ps->now();
		memcpy(buf, p->data + off, size);
		pthread_mutex_unlock(&ps->lock);
		return (ssize_t)size;
	}
	pthread_mutex_unlock(&ps->lock);

	char *path = pdf_path(ps, c, nr);
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
	free(path);
	if (fd < 0) {
		/* Someone removed the cached file: forget its size and fetch again. */
		pthread_mutex_lock(&ps->lock);
		p->size = -1;
		pthread_mutex_unlock(&ps->lock);
		return -EAGAIN;
	}
	rc = pread(fd, buf, size, off);
	if (rc < 0)
		rc = -errno;
	close(fd);
	return rc;
}

bool pdfstore_is_local(struct pdfstore *ps, const struct schema_collection *c, const char *nr)
{
	struct pdf *p = NULL;
	struct stat st;
	bool local;
	char *key = NULL;
	if (asprintf(&key, "%s/%s", c->name, nr) < 0)
		return false;
	pthread_mutex_lock(&ps->lock);
	HASH_FIND_STR(ps->pdfs, key, p);
	local = p && p->size >= 0;
	free(key);
	pthread_mutex_unlock(&ps->lock);
	if (local || !ps->dir)
		return local;
	/* A stat, not pdf_verified: that opens the file and makes it the most
	 * recently used, and the prefetch asks this of every invoice. */
	char *path = pdf_path(ps, c, nr);
	local = path && stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	free(path);
	return local;
}

int pdfstore_prefetch(struct pdfstore *ps, const struct schema_collection *c, const char *nr)
{
	pthread_mutex_lock(&ps->lock);
	struct pdf *p = pdf_entry(ps, c, nr);
	int rc = p ? pdf_ensure(ps, nr, p, true) : -ENOMEM;
	pthread_mutex_unlock(&ps->lock);
	return rc;
}

off_t pdfstore_room(struct pdfstore *ps)
{
	off_t room = -1;
	pthread_mutex_lock(&ps->lock);
	if (ps->dir) {
		if (ps->disk_used < 0)
			pdf_evict(ps, NULL); /* counts it */
		room = ps->max > ps->disk_used ? ps->max - ps->disk_used : 0;
	}
	pthread_mutex_unlock(&ps->lock);
	return room;
}

/* Removes the temporary files of PDFs whose writer died (kill -9, a crash)
 * before renaming them into place.  Only old ones: another mount of the same
 * account may be writing one right now.  Returns the bytes of the cached
 * PDFs found, or -1 when the directory cannot be read. */
static off_t pdf_remove_leftovers(const char *dir)
{
	off_t pdfs = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	time_t now = time(NULL);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		if (len > 4 && !strcmp(de->d_name + len - 4, ".pdf") &&
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode))
			pdfs += st.st_size;
		if (!strstr(de->d_name, ".pdf.tmp") ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || now - st.st_mtime < PDFSTORE_LEFTOVER_AGE)
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_msg(LOG_INFO, "PDF cache: removed %s, left by a writer that died",
				de->d_name);
	}
	closedir(d);
	return pdfs;
}

int pdfstore_new(struct pdfstore **out, const struct pdfstore_config *cfg)
{
	struct pdfstore *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->max = cfg->max;
	ps->api = cfg->api;
	ps->events = cfg->events;
	ps->now = cfg->now ? cfg->now : default_now;
	ps->disk_used = -1;
	ps->path_found = malloc(schema_ncollections() * sizeof(*ps->path_found));
	if (!ps->path_found) {
		free(ps);
		return -ENOMEM;
	}
	for (size_t i = 0; i < schema_ncollections(); i++)
		ps->path_found[i] = -1;
	if (cfg->dir) {
		ps->dir = strdup(cfg->dir);
		if (!ps->dir) {
			free(ps->path_found);
			free(ps);
			return -ENOMEM;
		}
		ps->disk_used = pdf_remove_leftovers(ps->dir);
	}
	pthread_mutex_init(&ps->lock, NULL);
	pthread_cond_init(&ps->done, NULL);
	*out = ps;
	return 0;
}

void pdfstore_free(struct pdfstore *ps)
{
	struct pdf *p, *pt;
	if (!ps)
		return;
	HASH_ITER(hh, ps->pdfs, p, pt) {
		assert(!p->hh.prev); /* the head, front to back (for clang: uthash #128) */
		HASH_DEL(ps->pdfs, p);
		free(p->key);
		free(p->data);
		free(p);
	}
	struct present *x, *xt;
	HASH_ITER(hh, ps->present, x, xt) {
		assert(!x->hh.prev);
		HASH_DEL(ps->present, x);
		free(x->name);
		free(x);
	}
	pthread_mutex_destroy(&ps->lock);
	pthread_cond_destroy(&ps->done);
	free(ps->dir);
	free(ps->path_found);
	free(ps);
}

void pdfstore_describe(struct pdfstore *ps, cJSON *out)
{
	pthread_mutex_lock(&ps->lock);
	cJSON_AddNumberToObject(out, "pdfs_fetched", (double)ps->fetches);
	cJSON_AddNumberToObject(out, "pdf_disk_cache_hits", (double)ps->disk_hits);
	cJSON_AddNumberToObject(out, "pdfs_prefetched", (double)ps->prefetched);
	cJSON_AddNumberToObject(out, "pdf_disk_bytes", (double)(ps->disk_used > 0 ? ps->disk_used : 0));
	cJSON_AddNumberToObject(out, "pdf_memory_bytes", (double)ps->mem_used);
	pthread_mutex_unlock(&ps->lock);
}
