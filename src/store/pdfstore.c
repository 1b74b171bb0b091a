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
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <uthash.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/flight.h"
#include "base/log.h"
#include "base/names.h"
#include "base/safedir.h"
#include "base/vec.h"
#include "model/schema.h"
#include "store/get.h"

/* A fetch that just failed is not repeated for this long (base/flight.h). */
#define PDFSTORE_FAIL_HOLD 1.0

/* Seconds after which a temporary file in the cache is a dead writer's. */
#define PDFSTORE_LEFTOVER_AGE 60

/* Each cached "<stem>.pdf" has its digest beside it in "<stem>.sha256": one line,
 * "factuurfs pdf-sha256 1 <size> <64 hex digits>\n" (1: this format's version),
 * the SHA-256 of the record it belongs to and the bytes fetched (pdf_digest).  A
 * PDF without one, or whose bytes do not give it, is never served: it is fetched
 * again. */
#define SUM_SUFFIX ".sha256"
#define SUM_HEAD "factuurfs pdf-sha256 1 "
#define SUM_LEN 32

/* A PDF known to this mount. */
struct pdf {
	char *key;        /* "<collection>/<id>": collection names hold no '/' */
	const struct schema_collection *c;
	char *nr;         /* the record's id, inside key */
	off_t size;       /* -1 until known */
	char *data;       /* in memory only when the disk cache is unusable or off */
	double used;      /* last read: LRU for memory copies */
	bool seen;        /* read (or fetched) during this mount: counted in the hit rate */
	/* On disk: what its digest file says it is, and whether the file as it
	 * is now (its identity, size and mtime) was checked against it. */
	unsigned char digest[SUM_LEN];
	bool verified;
	dev_t dev;
	ino_t ino;
	struct timespec mtim;
	struct flight fl;
	UT_hash_handle hh;
};

struct pdfstore {
	char *dir;             /* NULL: memory only (the path, for messages) */
	int fd;                /* dir, opened and checked (base/safedir.h); -1: none */
	off_t max;
	bool archive;          /* invoices' PDFs on disk are never evicted (pdf_archived) */
	struct api *api;
	struct events *events;
	double (*now)(void);
	pthread_mutex_t lock;  /* protects every field below and every struct pdf */
	pthread_cond_t done;   /* broadcast when a fetch ends */
	struct pdf *pdfs;
	off_t disk_used;       /* bytes of PDFs in dir, -1 until first counted */
	off_t evictable;       /* of which not the archive's: what cache_max bounds */
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

/* The cache file's name of the PDF of record @nr of @c: an invoice's is
 * <stem>.pdf (as before quotations had PDFs), any other's .<collection>=<stem>.pdf,
 * a name no invoice's can be (a stem never starts with '.': names_encode writes
 * %2E).  Malloc'd; NULL without a disk cache, or on ENOMEM. */
static char *pdf_name(struct pdfstore *ps, const struct schema_collection *c, const char *nr)
{
	char *stem = names_encode(nr), *name = NULL;
	bool plain = c->pdf_archived;
	if (stem && ps->dir &&
	    asprintf(&name, "%s%s%s%s.pdf", plain ? "" : ".", plain ? "" : c->name,
		     plain ? "" : "=", stem) < 0)
		name = NULL;
	free(stem);
	return name;
}

/* The name of the digest file of PDF file @name ("x.pdf" -> "x.sha256"),
 * malloc'd, or NULL. */
static char *sum_name(const char *name)
{
	size_t n = strlen(name);
	char *sum = NULL;
	if (n < 4 || strcmp(name + n - 4, ".pdf") != 0 ||
	    asprintf(&sum, "%.*s%s", (int)(n - 4), name, SUM_SUFFIX) < 0)
		return NULL;
	return sum;
}

/* Starts the digest of the PDF of record @nr of @c: SHA-256 over the record's
 * collection and id (each with its NUL), then the bytes.  Binding the record
 * in means a PDF moved to another record's name, its digest file with it or
 * not, does not match there.  NULL on ENOMEM. */
static EVP_MD_CTX *pdf_digest_begin(const struct schema_collection *c, const char *nr)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx && (!EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) ||
		    !EVP_DigestUpdate(ctx, "factuurfs-pdf", 14) ||
		    !EVP_DigestUpdate(ctx, c->name, strlen(c->name) + 1) ||
		    !EVP_DigestUpdate(ctx, nr, strlen(nr) + 1))) {
		EVP_MD_CTX_free(ctx);
		ctx = NULL;
	}
	return ctx;
}

/* Ends @ctx into @out and frees it; false when it failed. */
static bool pdf_digest_end(EVP_MD_CTX *ctx, unsigned char out[SUM_LEN])
{
	unsigned int n = 0;
	bool ok = EVP_DigestFinal_ex(ctx, out, &n) && n == SUM_LEN;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static bool pdf_digest(const struct schema_collection *c, const char *nr, const char *data,
		       size_t len, unsigned char out[SUM_LEN])
{
	EVP_MD_CTX *ctx = pdf_digest_begin(c, nr);
	if (!ctx)
		return false;
	if (!EVP_DigestUpdate(ctx, data, len)) {
		EVP_MD_CTX_free(ctx);
		return false;
	}
	return pdf_digest_end(ctx, out);
}

/* The digest of the bytes of open file @fd (@size of them) as a PDF of @nr of
 * @c; false when it cannot be read whole. */
static bool pdf_digest_file(const struct schema_collection *c, const char *nr, int fd,
			    off_t size, unsigned char out[SUM_LEN])
{
	static const size_t chunk = 256 << 10;
	EVP_MD_CTX *ctx = pdf_digest_begin(c, nr);
	char *buf = ctx ? malloc(chunk) : NULL;
	bool ok = buf != NULL;
	for (off_t at = 0; ok && at < size;) {
		size_t want = size - at < (off_t)chunk ? (size_t)(size - at) : chunk;
		ssize_t got = pread(fd, buf, want, at);
		if (got < 0 && errno == EINTR)
			continue;
		ok = got > 0 && EVP_DigestUpdate(ctx, buf, (size_t)got);
		at += got > 0 ? got : 0;
	}
	free(buf);
	if (!ok) {
		EVP_MD_CTX_free(ctx);
		return false;
	}
	return pdf_digest_end(ctx, out);
}

/* Removes the PDF file @name and its digest file; @why said once, at @level. */
static void pdf_forget_file(struct pdfstore *ps, const char *name, int level, const char *why)
{
	char *sum = sum_name(name);
	log_msg(level, "PDF cache: %s/%s %s: removed, fetched again when read", ps->dir, name,
		why);
	(void)unlinkat(ps->fd, name, 0);
	if (sum)
		(void)unlinkat(ps->fd, sum, 0);
	free(sum);
}

/* A lowercase hex digit's value, else -1. */
static int hex_value(char ch)
{
	return ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* Reads digest file @sum into *@size and @digest: true when it is one whole
 * line of this format. */
static bool sum_read(struct pdfstore *ps, const char *sum, off_t *size,
		     unsigned char digest[SUM_LEN])
{
	char line[160], *end;
	int fd = safedir_open_read(ps->fd, ps->dir, sum, NULL);
	ssize_t n = fd >= 0 ? pread(fd, line, sizeof(line) - 1, 0) : -1;
	size_t head = strlen(SUM_HEAD);
	if (fd >= 0)
		close(fd);
	if (n < (ssize_t)head || line[n - 1] != '\n' || memcmp(line, SUM_HEAD, head) != 0)
		return false;
	line[n] = '\0';
	errno = 0;
	unsigned long long v = strtoull(line + head, &end, 10);
	if (errno || end == line + head || *end != ' ' || v > (unsigned long long)INT64_MAX ||
	    strlen(end + 1) != 2 * SUM_LEN + 1)
		return false;
	for (size_t i = 0; i < SUM_LEN; i++) {
		int hi = hex_value(end[1 + 2 * i]), lo = hex_value(end[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return false;
		digest[i] = (unsigned char)(hi << 4 | lo);
	}
	*size = (off_t)v;
	return true;
}

static bool pdf_maybe_present(struct pdfstore *ps, const char *name);

/* The size of cached file @name of @p when its digest file is there and the
 * file is the size it says, else -1 (after removing what cannot be used).  Its
 * bytes are checked against the digest at their first read (pdf_checked). */
static off_t pdf_on_disk(struct pdfstore *ps, struct pdf *p, const char *name)
{
	char *sum = sum_name(name);
	struct stat st;
	off_t size = -1;
	bool have = sum && pdf_maybe_present(ps, sum) && sum_read(ps, sum, &size, p->digest);
	free(sum);
	if (!have) {
		/* No digest: not known to be what was fetched for it.  (Every PDF a
		 * version without digests kept: one line each would be noise.) */
		pdf_forget_file(ps, name, LOG_DEBUG, "has no digest file, or one that is not whole");
		return -1;
	}
	if (fstatat(ps->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || st.st_size != size) {
		pdf_forget_file(ps, name, LOG_WARNING, "is not the file that was fetched (its "
				"type, owner or size is not its digest file's)");
		return -1;
	}
	/* Its time is when it was last used: eviction takes the oldest. */
	(void)utimensat(ps->fd, name, NULL, AT_SYMLINK_NOFOLLOW);
	p->verified = false;
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
	if (!(d = safedir_list(ps->fd))) {
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

/* False when @name is known not to be in the cache directory (pdf_read_present). */
static bool pdf_maybe_present(struct pdfstore *ps, const char *name)
{
	struct present *x = NULL;
	pdf_read_present(ps);
	if (!ps->present_read)
		return true;
	HASH_FIND_STR(ps->present, name, x);
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
	char *name = pdf_name(ps, c, nr);
	p->size = name && pdf_maybe_present(ps, name) ? pdf_on_disk(ps, p, name) : -1;
	free(name);
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

/* True when cache file @name is the archive's: an invoice's PDF (pdf_path:
 * any other collection's name starts with '.') while the archive is kept.
 * Invoices are what the law asks a business to keep; a quotation's PDF can
 * be fetched again as long as the service has it. */
static bool pdf_archived(const struct pdfstore *ps, const char *name)
{
	return ps->archive && name[0] != '.';
}

/* Counts the disk cache and, past cache_max, removes the PDFs used longest
 * ago (but not @keep, just written, nor the archive's).  Called with
 * ps->lock held; only local disk I/O. */
static void pdf_evict(struct pdfstore *ps, const char *keep)
{
	DIR *d = safedir_list(ps->fd);
	struct cached_file *files = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	off_t total = 0, evictable = 0;
	if (!d)
		return;
	while ((de = readdir(d))) {
		struct stat st;
		size_t len = strlen(de->d_name);
		if (len < 5 || strcmp(de->d_name + len - 4, ".pdf") != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (n == cap && vec_grow(&files, &cap, n + 1, sizeof(*files)) < 0)
			break;
		files[n].name = strdup(de->d_name);
		files[n].mtime = st.st_mtim;
		files[n].size = st.st_size;
		if (!files[n].name)
			continue;
		total += st.st_size;
		if (pdf_archived(ps, files[n].name)) {
			free(files[n].name); /* never evicted: counted only */
			continue;
		}
		evictable += st.st_size;
		n++;
	}
	if (n > 1)
		qsort(files, n, sizeof(*files), cmp_mtime);
	for (size_t i = 0; i < n && evictable > ps->max; i++) {
		if (keep && !strcmp(files[i].name, keep))
			continue;
		if (unlinkat(dirfd(d), files[i].name, 0) == 0) {
			char *sum = sum_name(files[i].name);
			if (sum)
				(void)unlinkat(dirfd(d), sum, 0);
			free(sum);
			total -= files[i].size;
			evictable -= files[i].size;
			log_msg(LOG_DEBUG, "PDF cache: evicted %s", files[i].name);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(files[i].name);
	free(files);
	closedir(d);
	ps->disk_used = total;
	ps->evictable = evictable;
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

/* Writes @len bytes of @data to a new temporary file @tmp of the cache and
 * renames it to @name; *@st (may be NULL) gets its fstat.  0 or -errno. */
static int put_file(struct pdfstore *ps, const char *tmp, const char *name, const char *data,
		    size_t len, struct stat *st)
{
	int fd = safedir_create(ps->fd, tmp, 0), rc = 0;
	if (fd < 0)
		return fd;
	for (size_t done = 0; rc == 0 && done < len;) {
		ssize_t w = write(fd, data + done, len - done);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (rc == 0 && st && fstat(fd, st) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Not fsynced: a file a crash left torn no longer matches its digest,
	 * and is fetched again. */
	if (rc == 0)
		rc = safedir_rename(ps->fd, tmp, name, false);
	if (rc < 0)
		(void)unlinkat(ps->fd, tmp, 0);
	return rc;
}

/* Writes @data, the PDF of @nr of @c whose digest is @digest, to the disk
 * cache, its digest file first: a crash between the two leaves an older PDF
 * that does not match it (fetched again), never a PDF passed as checked.
 * False when it could not; else @p's file identity is noted as checked. */
static bool pdf_store(struct pdfstore *ps, struct pdf *p, const char *nr, const char *data,
		      size_t len, const unsigned char digest[SUM_LEN])
{
	char *name = pdf_name(ps, p->c, nr), *sum = name ? sum_name(name) : NULL;
	char *tmp = NULL, *sumtmp = NULL, line[160];
	struct stat st;
	bool ok = false;
	int n = snprintf(line, sizeof(line), SUM_HEAD "%zu ", len);
	for (size_t i = 0; i < SUM_LEN && n > 0; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%02x", digest[i]);
	if (n > 0)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "\n");
	if (!sum || asprintf(&tmp, "%s.tmp%ld", name, (long)gettid()) < 0 ||
	    asprintf(&sumtmp, "%s.tmp%ld", sum, (long)gettid()) < 0)
		goto out;
	if (put_file(ps, sumtmp, sum, line, (size_t)n, NULL) < 0)
		goto out;
	ok = put_file(ps, tmp, name, data, len, &st) == 0;
	if (ok) {
		pthread_mutex_lock(&ps->lock);
		memcpy(p->digest, digest, SUM_LEN);
		p->verified = true;
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		p->mtim = st.st_mtim;
		if (ps->disk_used >= 0) {
			ps->disk_used += (off_t)len;
			ps->evictable += pdf_archived(ps, name) ? 0 : (off_t)len;
		}
		if (ps->disk_used < 0 || ps->evictable > ps->max)
			pdf_evict(ps, name);
		pthread_mutex_unlock(&ps->lock);
	} else {
		(void)unlinkat(ps->fd, sum, 0);
	}
out:
	free(tmp);
	free(sumtmp);
	free(sum);
	free(name);
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

/* True when @resp starts as a PDF does: the header. */
static bool is_pdf(const struct api_answer *resp)
{
	return resp->len >= 5 && !memcmp(resp->body, "%PDF-", 5);
}

static const char *skip_space(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t' || *p == '\f' ||
			   *p == '\0'))
		p++;
	return p;
}

static const char *skip_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

/* Whether PDF body @b of @len bytes ends as a whole PDF does: the last
 * "startxref" of its last KiB gives an offset inside it, where its
 * cross-reference section starts: a table ("xref") or a stream object ("12 0
 * obj"); and "%%EOF" follows.  Cheap (the last KiB and a few bytes at the
 * offset), and it refuses what the header and trailer alone let through: a
 * page cut short, or an error page wrapped in "%PDF-" ... "%%EOF". */
static bool pdf_ends_whole(const char *b, size_t len)
{
	size_t n = len < 1024 ? len : 1024;
	const char *tail = b + len - n, *end = b + len, *at = NULL;
	for (const char *p = tail; (p = memmem(p, (size_t)(end - p), "startxref", 9)); p++)
		at = p;
	if (!at)
		return false;
	const char *num = skip_space(at + 9, end), *after = skip_digits(num, end);
	if (after == num || after - num > 18 || !memmem(after, (size_t)(end - after), "%%EOF", 5))
		return false;
	unsigned long long off = strtoull(num, NULL, 10);
	if (off >= len)
		return false;
	const char *x = skip_space(b + off, end);
	if ((size_t)(end - x) >= 4 && !memcmp(x, "xref", 4))
		return true;
	/* A cross-reference stream: "<object number> <generation> obj". */
	const char *g = skip_digits(x, end);
	if (g == x || g == end || *g != ' ')
		return false;
	const char *o = skip_digits(g + 1, end);
	return o > g + 1 && (size_t)(end - skip_space(o, end)) >= 3 &&
	       !memcmp(skip_space(o, end), "obj", 3);
}

/* Why answer @resp is not a PDF worth keeping, or NULL when it is: the one
 * place that decides what is cached and served. */
static const char *pdf_refusal(const struct api_answer *resp)
{
	if (!is_pdf(resp))
		return "the service sent something that is not a PDF";
	size_t n = resp->len < 1024 ? resp->len : 1024;
	if (!memmem(resp->body + resp->len - n, n, "%%EOF", 5))
		/* Cut short (with a Content-Length to match). */
		return "the service sent a PDF without its end (%%EOF): not kept, the next "
		       "read asks again";
	if (!pdf_ends_whole(resp->body, resp->len))
		return "the service sent a PDF whose trailer does not point at its "
		       "cross-reference section (startxref): not kept, the next read asks again";
	/* The Content-Type is not looked at: the sources say only that
	 * invoices_pdf answers with the PDF's bytes, not under which type (the
	 * fake says application/pdf), so any is taken; a page between a PDF's
	 * markers fails the checks above whatever it is labelled. */
	return NULL;
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
		bool moved = rc == -ENOENT || rc == -EPERM || (rc == 0 && !is_pdf(resp));
		if (next && moved) {
			log_msg(LOG_INFO, "%s: GET %s: %s; trying %s", what, path,
				rc < 0 ? resp->message : "not a PDF", next);
			api_answer_clear(resp);
		} else if (next && rc < 0) {
			store_failed(ps->events, what, resp);
		}
		if (rc == 0 && found < 0 && is_pdf(resp)) {
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

/* Whether open cache file @fd (its fstat @st), file @name of @p, holds the
 * bytes its digest says.  Checked once per identity of the file (device,
 * inode, size, mtime: a file swapped or written since is checked again) and
 * remembered; one that does not match is removed, said once. */
static bool pdf_checked(struct pdfstore *ps, struct pdf *p, const char *name, int fd,
			const struct stat *st)
{
	unsigned char want[SUM_LEN], got[SUM_LEN];
	pthread_mutex_lock(&ps->lock);
	bool known = p->verified && p->dev == st->st_dev && p->ino == st->st_ino &&
		     p->size == st->st_size && p->mtim.tv_sec == st->st_mtim.tv_sec &&
		     p->mtim.tv_nsec == st->st_mtim.tv_nsec;
	off_t size = p->size;
	memcpy(want, p->digest, SUM_LEN);
	pthread_mutex_unlock(&ps->lock);
	if (known)
		return true;
	/* Outside the lock: a 50 MB PDF takes a while. */
	bool ok = st->st_size == size && pdf_digest_file(p->c, p->nr, fd, size, got) &&
		  !memcmp(got, want, SUM_LEN);
	if (!ok) {
		pdf_forget_file(ps, name, LOG_WARNING, "does not hold the bytes fetched for it "
				"(its SHA-256 is not the one kept)");
		return false;
	}
	pthread_mutex_lock(&ps->lock);
	p->verified = true;
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->mtim = st->st_mtim;
	pthread_mutex_unlock(&ps->lock);
	return true;
}

/* Fetches the PDF of @nr; @prefetch: for the prefetch, not for a read (the
 * first read of it is then a disk hit). */
static int pdf_fetch(struct pdfstore *ps, const char *nr, struct pdf *p, bool prefetch)
{
	char what[96];
	struct api_answer resp;
	int rc;
	snprintf(what, sizeof(what), "get the PDF of %s%s%s", p->c->noun ? p->c->noun : "",
		 p->c->noun ? " " : "", nr);
	rc = pdf_get(ps, p->c, nr, what, &resp);
	if (rc < 0)
		goto out;
	const char *why = pdf_refusal(&resp);
	if (why) {
		events_error(ps->events, what, why);
		rc = -EIO;
		goto out;
	}
	unsigned char digest[SUM_LEN];
	bool on_disk = ps->fd >= 0 && pdf_digest(p->c, nr, resp.body, resp.len, digest) &&
		       pdf_store(ps, p, nr, resp.body, resp.len, digest);
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
	 * per PDF this mount did not fetch (counted once its bytes are checked). */
	bool hit = rc == 0 && !p->seen && !p->data;
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

	struct stat st;
	char *name = pdf_name(ps, c, nr);
	int fd = name ? safedir_open_read(ps->fd, ps->dir, name, &st) : -ENOMEM;
	if (fd >= 0 && !pdf_checked(ps, p, name, fd, &st)) {
		close(fd);
		fd = -EBADMSG;
	}
	free(name);
	pthread_mutex_lock(&ps->lock);
	if (fd < 0) {
		/* Removed, or not the bytes fetched for it: forget its size and
		 * fetch again. */
		p->size = -1;
		p->verified = false;
		p->seen = false;
	} else if (hit) {
		ps->disk_hits++;
	}
	pthread_mutex_unlock(&ps->lock);
	if (fd < 0)
		return -EAGAIN;
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
	/* A stat, not pdf_on_disk: that reads its digest file and makes it the
	 * most recently used, and the prefetch asks this of every invoice. */
	char *name = pdf_name(ps, c, nr);
	local = name && fstatat(ps->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		S_ISREG(st.st_mode) && st.st_size > 0;
	free(name);
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

off_t pdfstore_room(struct pdfstore *ps, const struct schema_collection *c)
{
	off_t room = -1;
	struct statvfs fs;
	pthread_mutex_lock(&ps->lock);
	if (ps->dir && ps->archive && c->pdf_archived) {
		/* The archive is bounded by the disk alone (its directory may not
		 * be made yet: nothing written, all of the disk free). */
		room = ps->fd >= 0 && fstatvfs(ps->fd, &fs) == 0 ? (off_t)fs.f_bavail * (off_t)fs.f_frsize
						   : (off_t)1 << 62;
	} else if (ps->dir) {
		if (ps->disk_used < 0)
			pdf_evict(ps, NULL); /* counts it */
		room = ps->max > ps->evictable ? ps->max - ps->evictable : 0;
	}
	pthread_mutex_unlock(&ps->lock);
	return room;
}

/* Whether @name ends with @suffix. */
static bool ends_with(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);
	return n > k && !strcmp(name + n - k, suffix);
}

/* Removes the temporary files of PDFs (and of their digest files) whose writer
 * died (kill -9, a crash) before renaming them into place, and digest files
 * whose PDF is gone.  Only old ones: another mount of the same account may be
 * writing one right now.  Returns the bytes of the cached PDFs found (of which
 * not the archive's in ps->evictable), or -1 when the directory cannot be read. */
static off_t pdf_remove_leftovers(struct pdfstore *ps)
{
	off_t pdfs = 0;
	DIR *d = safedir_list(ps->fd);
	struct dirent *de;
	time_t now = time(NULL);
	if (!d)
		return -1;
	while ((de = readdir(d))) {
		struct stat st, pst;
		const char *n = de->d_name;
		if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (ends_with(n, ".pdf")) {
			pdfs += st.st_size;
			ps->evictable += pdf_archived(ps, n) ? 0 : st.st_size;
		}
		bool temp = strstr(n, ".pdf.tmp") || strstr(n, SUM_SUFFIX ".tmp");
		char *pdf = NULL;
		bool orphan = ends_with(n, SUM_SUFFIX) &&
			      asprintf(&pdf, "%.*s.pdf", (int)(strlen(n) - strlen(SUM_SUFFIX)), n) >= 0 &&
			      fstatat(dirfd(d), pdf, &pst, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
		free(pdf);
		if ((!temp && !orphan) || now - st.st_mtime < PDFSTORE_LEFTOVER_AGE)
			continue;
		if (unlinkat(dirfd(d), n, 0) == 0)
			log_msg(LOG_INFO, "PDF cache: removed %s, left by a writer that died", n);
	}
	closedir(d);
	return pdfs;
}

int pdfstore_new(struct pdfstore **out, const struct pdfstore_config *cfg)
{
	struct pdfstore *ps = calloc(1, sizeof(*ps));
	if (!ps)
		return -ENOMEM;
	ps->fd = -1;
	ps->max = cfg->max;
	ps->archive = cfg->archive && cfg->dir;
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
		ps->fd = safedir_open(AT_FDCWD, NULL, cfg->dir, SAFEDIR_CREATE);
		if (ps->fd >= 0 && !(ps->dir = strdup(cfg->dir))) {
			close(ps->fd);
			free(ps->path_found);
			free(ps);
			return -ENOMEM;
		}
		if (ps->fd < 0)
			log_msg(LOG_WARNING, "PDF cache %s: %s; keeping PDFs in memory", cfg->dir,
				log_strerror(-ps->fd));
		else
			ps->disk_used = pdf_remove_leftovers(ps);
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
	if (ps->fd >= 0)
		close(ps->fd);
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
