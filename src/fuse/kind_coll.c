/* kind_coll: collection directories, records, PDFs and local files (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/who.h"
#include "net/api.h"
#include "ns/dir.h"
#include "store/cache.h"
#include "store/pdfstore.h"
#include "store/times.h"

/* What a file whose size is not known until it is fetched shows: a PDF never
 * fetched, a record its listing carries only in part.  Only for looking
 * (ls -l, du, a file manager's folder total): a program that opens the file
 * gets the true size, because every GETATTR that carries a file handle or
 * comes from a process holding the file open fetches it first
 * (attr.c: fs_getattr), and the attributes of such a file are never cached
 * (timeout 0) until its size is known.  So the placeholder need not be an
 * upper bound: it is near a typical invoice PDF (tens of KiB), so that du
 * stays near the truth (docs/SEMANTICS.md, "PDF sizes"). */
#define FS_PDF_PLACEHOLDER (32 * 1024)
#define FS_RECORD_PLACEHOLDER 4096

/* ---- a collection directory --------------------------------------------------- */

/* A collection directory lists itself only when a listing it had went stale
 * (its mtime must follow the listing so the kernel drops its cached
 * entries); a directory never listed answers without a call, so browsing the
 * root costs nothing. */
static int coll_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	attr_dir(m, st, n->ino, m->started);
	*timeout = 1.0;
	if (!cache_has_listing(m->cache, n->c))
		return 0;
	int rc = cache_listing_get(m->cache, n->c, &l);
	if (rc < 0)
		return rc;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(m->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int coll_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	return dir_lookup(m->inodes, m->cache, d, name, clock_mono(), out, neg);
}

/* Its records (a listing snapshot), then its visible local names.  A read that
 * began with an older content goes on with it while it is kept (dir.c). */
static int coll_snap(struct mount *m, struct node *d, struct vfs_list *s)
{
	if (d->c->methods & SCHEMA_M_LIST) {
		if (s->want)
			s->l = cache_listing_version(m->cache, d->c, s->want);
		int rc = s->l ? 0 : cache_listing_get(m->cache, d->c, &s->l);
		if (rc < 0)
			return rc;
		s->version = s->l->version;
		s->stale = s->want && cache_listing_version_now(m->cache, d->c) != s->want;
	}
	s->names = inode_local_names(m->inodes, d->ino, &s->nnames);
	size_t per = d->c->pdf_path ? 2 : 1;
	s->count = (s->l ? s->l->n * per : 0) + s->nnames;
	return 0;
}

static bool coll_entry(struct mount *m, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	size_t per = d->c->pdf_path ? 2 : 1, nrec = s->l ? s->l->n * per : 0;
	if (i < nrec) {
		const struct cache_record *r = s->l->recs[i / per];
		bool pdf = i % per == 1;
		snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
		*n = inode_record(m->inodes, d->c, pdf ? N_PDF : N_JSON, r->id);
		return true;
	}
	if (i - nrec >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i - nrec]);
	*n = inode_local(m->inodes, d->ino, name, NULL, NULL); /* NULL: removed meanwhile */
	return true;
}

const struct kind_ops kind_coll = {
	.attr = coll_attr,
	.lookup = coll_lookup,
	.snap = coll_snap,
	.entry = coll_entry,
};

/* ---- balance.json ------------------------------------------------------------------ */

static int single_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(m->cache, n->c, &l);
	if (rc < 0)
		return rc;
	const struct cache_record *r = l->n ? l->recs[0] : NULL;
	attr_file(m, st, n->ino, FS_RO_MODE, r ? (off_t)r->len : 0, 0);
	st->st_mtim = st->st_ctim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(m->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int single_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(m->cache, n->c, &l);
	if (rc < 0)
		return rc;
	if (l->n)
		reply_slice(req, l->recs[0]->text, l->recs[0]->len, size, off);
	else
		fuse_reply_buf(req, NULL, 0);
	cache_listing_unref(l);
	return 0;
}

const struct kind_ops kind_single = {
	.attr = single_attr,
	.read = single_read,
};

/* ---- records and PDFs ------------------------------------------------------------- */

/* Attributes from what the user wrote, when @n has a text (true). */
static bool text_attr(struct mount *m, struct node *n, struct stat *st, mode_t mode)
{
	off_t size;
	struct timespec mtime;
	if (!save_size(m->save, n, &size))
		return false;
	inode_times(m->inodes, n, NULL, &mtime);
	attr_file(m, st, n->ino, mode, size, 0);
	st->st_mtim = st->st_ctim = st->st_atim = mtime;
	return true;
}

/* Attributes of record file @n from its record @r, fetched at wall time @seen (0:
 * unknown), which holds *@timeout seconds. */
static void record_attr_of(struct mount *m, struct node *n, const struct cache_record *r,
			   time_t seen, mode_t mode, struct stat *st, double *timeout)
{
	struct cache_record *whole = NULL;
	bool pdf = n->kind == N_PDF;
	off_t size;
	/* The record's time by the one rule (store/times.h), from the text its listing
	 * shows: a whole copy fetched beside it is the same record, not a change. */
	struct timespec mtime = {.tv_sec = r->date};
	if (!pdf)
		mtime = times_of(m->times, n->c, r->stem, r->text, r->len, seen);
	if (pdf) {
		/* A fetch running now ends with the true size: wait for it
		 * rather than send the placeholder in the middle of it. */
		size = pdfstore_size(m->pdfs, n->c, n->id, true);
	} else if (cache_record_peek(m->cache, n->c, n->id, &whole) == 0) {
		size = (off_t)whole->len;
		cache_record_unref(whole);
	} else {
		size = -1;
	}
	if (size < 0) {
		/* Asked again every time, until a fetch makes it true. */
		size = pdf ? FS_PDF_PLACEHOLDER : FS_RECORD_PLACEHOLDER;
		*timeout = 0;
	}
	attr_file(m, st, n->ino, mode, size, mtime.tv_sec);
	st->st_mtim = st->st_ctim = st->st_atim = mtime;
}

static int record_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	struct cache_record *found = NULL;
	bool pdf = n->kind == N_PDF;
	mode_t mode = !pdf && (n->c->methods & SCHEMA_M_PUT) ? FS_RW_MODE : FS_RO_MODE;
	if (!pdf && text_attr(m, n, st, mode)) {
		*timeout = 0;
		return 0;
	}
	/* Found by a search: its attributes without listing the collection. */
	if (cache_found_peek(m->cache, n->c, n->id, &found, timeout) == 0) {
		record_attr_of(m, n, found, 0, mode, st, timeout);
		cache_record_unref(found);
		return 0;
	}
	int rc = cache_listing_get(m->cache, n->c, &l);
	if (rc < 0)
		return rc;
	ssize_t pos = cache_listing_find(l, n->id);
	if (pos < 0) {
		cache_listing_unref(l);
		return -ENOENT;
	}
	*timeout = cache_listing_ttl_left(m->cache, l);
	record_attr_of(m, n, l->recs[pos], l->fetched_wall, mode, st, timeout);
	cache_listing_unref(l);
	return 0;
}

static int record_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	struct cache_record *r = NULL;
	char *buf = malloc(size ? size : 1);
	size_t got;
	if (!buf)
		return -ENOMEM;
	if (save_read(m->save, n, buf, size, off, &got)) {
		fuse_reply_buf(req, buf, got);
		free(buf);
		return 0;
	}
	free(buf);
	int rc = cache_record_get(m->cache, n->c, n->id, &r);
	if (rc < 0)
		return rc;
	/* A version a reader now holds: what a save of it may have started from. */
	if (off == 0)
		save_served(m->save, n, r->text, r->len);
	reply_slice(req, r->text, r->len, size, off);
	cache_record_unref(r);
	return 0;
}

const struct kind_ops kind_record = {
	.attr = record_attr,
	.read = record_read,
};

/* Seconds between two log lines about searchers' refused reads. */
#define SEARCH_LOG_EVERY 60.0

/* A text searcher (grep -r, rg) read a PDF not fetched yet: it is not fetched
 * for it (a whole tree's PDFs would be a whole hour's budget, and their
 * compressed text holds nothing a searcher finds); the read fails with EAGAIN,
 * which the searcher names, and the log says why, once a minute. */
static int pdf_refuse_search(struct mount *m, pid_t pid, struct node *n)
{
	double now = clock_mono();
	pthread_mutex_lock(&m->read_lock);
	unsigned long refused = ++m->searches_refused;
	bool say = m->searches_logged == 0 || now - m->searches_logged >= SEARCH_LOG_EVERY;
	if (say)
		m->searches_logged = now;
	pthread_mutex_unlock(&m->read_lock);
	if (say)
		log_msg(LOG_NOTICE, "%s/%s.pdf: not fetched for a text search (process %ld): "
			"PDFs not fetched yet are not searched (%lu refused so far; `factuurfs "
			"fetch` fetches them all)", n->c->name, n->id, (long)pid, refused);
	return -EAGAIN;
}

int pdf_fetch_for(struct mount *m, pid_t pid, struct node *n)
{
	if (pdfstore_size(m->pdfs, n->c, n->id, false) >= 0)
		return 0;
	if (who_kind(pid) == WHO_SEARCHER)
		return pdf_refuse_search(m, pid, n);
	if (who_is_background(pid) && !api_background_take(m->api))
		return -EAGAIN;
	off_t size = pdfstore_fetch(m->pdfs, n->c, n->id);
	return size < 0 ? (int)size : 0;
}

static int pdf_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	int rc = pdf_fetch_for(m, fuse_req_ctx(req)->pid, n);
	if (rc < 0)
		return rc;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&m->read_lock);
	n->reads++;
	pthread_mutex_unlock(&m->read_lock);
	ssize_t got = pdfstore_read(m->pdfs, n->c, n->id, buf, size, off);
	if (got == -EAGAIN) /* the disk copy vanished: fetch once more */
		got = pdfstore_read(m->pdfs, n->c, n->id, buf, size, off);
	pthread_mutex_lock(&m->read_lock);
	if (got == 0 && off > 0) {
		/* A read past the true end while the kernel still believes
		 * another size: readahead sends the READ holding the end and the
		 * one past it together, and whichever reply arrives first sets
		 * the size (the later one is ignored).  Let the one holding the
		 * end go first, or the bytes between would read as zeros. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (n->reads > 1 &&
		       pthread_cond_timedwait(&m->read_done, &m->read_lock, &until) == 0)
			;
	}
	pthread_mutex_unlock(&m->read_lock);
	if (got >= 0)
		fuse_reply_buf(req, buf, (size_t)got);
	pthread_mutex_lock(&m->read_lock);
	n->reads--;
	pthread_cond_broadcast(&m->read_done);
	pthread_mutex_unlock(&m->read_lock);
	/* And a read past the end (pdfinfo seeks to the end of what it was
	 * told) leaves the kernel's size at that offset: make it ask for the
	 * attributes again (queued: this is below a READ of the same inode). */
	if (got == 0 && off > 0)
		kernel_inval(m->kernel, n->ino, true);
	free(buf);
	return got < 0 ? (int)got : 0;
}

const struct kind_ops kind_pdf = {
	.attr = record_attr,
	.read = pdf_read,
};

/* ---- local files (scratch and new) ------------------------------------------------ */

static int local_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	mode_t mode;
	inode_times(m->inodes, n, &mode, NULL);
	text_attr(m, n, st, mode & 07777);
	*timeout = 0;
	return 0;
}

static int local_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	if (!buf)
		return -ENOMEM;
	save_read(m->save, n, buf, size, off, &got);
	fuse_reply_buf(req, buf, got);
	free(buf);
	return 0;
}

const struct kind_ops kind_local = {
	.attr = local_attr,
	.read = local_read,
};
