/* coll: the collections' kinds — a collection's directory, balance.json, records,
 * PDFs and local files (scratch and new) — and their tables (see vfs.h).
 */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/who.h"
#include "net/api.h"
#include "ns/dir.h"
#include "ns/save.h"
#include "store/cache.h"
#include "store/pdfstore.h"
#include "store/times.h"

/* What a file whose size is not known until it is fetched shows: a PDF never
 * fetched, a record its listing carries only in part.  Only for looking
 * (ls -l, du, a file manager's folder total): a program that opens the file
 * gets the true size, because every GETATTR that carries a file handle or
 * comes from a process holding the file open fetches it first (fuse/attr.c:
 * fs_getattr, through size_unknown and fetch_size below), and the attributes
 * of such a file are never cached (timeout 0) until its size is known.  So
 * the placeholder need not be an upper bound: it is near a typical invoice
 * PDF (tens of KiB), so that du stays near the truth (docs/SEMANTICS.md, "PDF
 * sizes"). */
#define VFS_PDF_PLACEHOLDER (32 * 1024)
#define VFS_RECORD_PLACEHOLDER 4096

/* ---- a collection directory --------------------------------------------------- */

/* A collection directory lists itself only when a listing it had went stale
 * (its mtime must follow the listing so the kernel drops its cached
 * entries); a directory never listed answers without a call, so browsing the
 * root costs nothing. */
static int coll_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	vfs_attr_dir(v, st, n->ino, v->started);
	*timeout = 1.0;
	if (!cache_has_listing(v->cache, n->c))
		return 0;
	int rc = cache_listing_get(v->cache, n->c, &l);
	if (rc < 0)
		return rc;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(v->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int coll_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	return dir_lookup(v->inodes, v->cache, d, name, clock_mono(), out, neg);
}

/* Its records (a listing snapshot), then its visible local names.  A read that
 * began with an older content goes on with it while it is kept (dir.c). */
static int coll_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	if (d->c->methods & SCHEMA_M_LIST) {
		if (s->want)
			s->l = cache_listing_version(v->cache, d->c, s->want);
		int rc = s->l ? 0 : cache_listing_get(v->cache, d->c, &s->l);
		if (rc < 0)
			return rc;
		s->version = s->l->version;
		s->stale = s->want && cache_listing_version_now(v->cache, d->c) != s->want;
	}
	s->names = inode_local_names(v->inodes, d->ino, &s->nnames);
	size_t per = d->c->pdf_path ? 2 : 1;
	s->count = (s->l ? s->l->n * per : 0) + s->nnames;
	return 0;
}

static bool coll_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	size_t per = d->c->pdf_path ? 2 : 1, nrec = s->l ? s->l->n * per : 0;
	if (i < nrec) {
		const struct cache_record *r = s->l->recs[i / per];
		bool pdf = i % per == 1;
		snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
		*n = inode_record(v->inodes, d->c, pdf ? N_PDF : N_JSON, r->id);
		return true;
	}
	if (i - nrec >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i - nrec]);
	*n = inode_local(v->inodes, d->ino, name, NULL, NULL); /* NULL: removed meanwhile */
	return true;
}

/* Its records (their ".." is the root, the table's default). */
const struct vfs_ops vfs_coll = {
	.attr = coll_attr,
	.lookup = coll_lookup,
	.list = coll_list,
	.entry = coll_entry,
	.xattrs = vfs_coll_xattrs,
	.takes_names = true,
};

/* ---- balance.json ------------------------------------------------------------------ */

static int single_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(v->cache, n->c, &l);
	if (rc < 0)
		return rc;
	const struct cache_record *r = l->n ? l->recs[0] : NULL;
	vfs_attr_file(v, st, n->ino, VFS_RO_MODE, r ? (off_t)r->len : 0, 0);
	st->st_mtim = st->st_ctim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(v->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int single_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	struct cache_listing *l = NULL;
	int rc = cache_listing_get(v->cache, n->c, &l);
	if (rc < 0)
		return rc;
	if (l->n)
		rc = vfs_slice_copy(rd, l->recs[0]->text, l->recs[0]->len, size, off);
	cache_listing_unref(l);
	return rc;
}

const struct vfs_ops vfs_single = {
	.attr = single_attr,
	.read = single_read,
	.xattrs = vfs_coll_xattrs,
};

/* ---- records and PDFs ------------------------------------------------------------- */

/* Attributes from what the user wrote, when @n has a text (true). */
static bool text_attr(struct vfs *v, struct node *n, struct stat *st, mode_t mode)
{
	off_t size;
	struct timespec mtime;
	if (!save_size(v->save, n, &size))
		return false;
	inode_times(v->inodes, n, NULL, &mtime);
	vfs_attr_file(v, st, n->ino, mode, size, 0);
	st->st_mtim = st->st_ctim = st->st_atim = mtime;
	return true;
}

/* Attributes of record file @n (its PDF: @pdf) from its record @r, fetched at wall
 * time @seen (0: unknown), which holds *@timeout seconds. */
static void record_attr_of(struct vfs *v, struct node *n, bool pdf, const struct cache_record *r,
			   time_t seen, mode_t mode, struct stat *st, double *timeout)
{
	struct cache_record *whole = NULL;
	off_t size;
	/* The record's time by the one rule (store/times.h), from the text its listing
	 * shows: a whole copy fetched beside it is the same record, not a change. */
	struct timespec mtime = {.tv_sec = r->date};
	if (!pdf)
		mtime = times_of(v->times, n->c, r->stem, r->text, r->len, seen);
	if (pdf) {
		/* A fetch running now ends with the true size: wait for it
		 * rather than send the placeholder in the middle of it. */
		size = pdfstore_size(v->pdfs, n->c, n->id, true);
	} else if (cache_record_peek(v->cache, n->c, n->id, &whole) == 0) {
		size = (off_t)whole->len;
		cache_record_unref(whole);
	} else {
		size = -1;
	}
	if (size < 0) {
		/* Asked again every time, until a fetch makes it true. */
		size = pdf ? VFS_PDF_PLACEHOLDER : VFS_RECORD_PLACEHOLDER;
		*timeout = 0;
	}
	vfs_attr_file(v, st, n->ino, mode, size, mtime.tv_sec);
	st->st_mtim = st->st_ctim = st->st_atim = mtime;
}

/* The attributes of a record's .json and of its .pdf (@pdf). */
static int record_attr_as(struct vfs *v, struct node *n, bool pdf, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	struct cache_record *found = NULL;
	mode_t mode = !pdf && (n->c->methods & SCHEMA_M_PUT) ? VFS_RW_MODE : VFS_RO_MODE;
	if (!pdf && text_attr(v, n, st, mode)) {
		*timeout = 0;
		return 0;
	}
	/* Found by a search: its attributes without listing the collection. */
	if (cache_found_peek(v->cache, n->c, n->id, &found, timeout) == 0) {
		record_attr_of(v, n, pdf, found, 0, mode, st, timeout);
		cache_record_unref(found);
		return 0;
	}
	int rc = cache_listing_get(v->cache, n->c, &l);
	if (rc < 0)
		return rc;
	ssize_t pos = cache_listing_find(l, n->id);
	if (pos < 0) {
		cache_listing_unref(l);
		return -ENOENT;
	}
	*timeout = cache_listing_ttl_left(v->cache, l);
	record_attr_of(v, n, pdf, l->recs[pos], l->fetched_wall, mode, st, timeout);
	cache_listing_unref(l);
	return 0;
}

/* What the user wrote, when @n has a text (true), into @rd. */
static bool text_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd,
		      int *rc)
{
	char *buf = malloc(size ? size : 1);
	size_t got = 0;
	*rc = 0;
	if (!buf) {
		*rc = -ENOMEM;
		return true;
	}
	if (!save_read(v->save, n, buf, size, off, &got)) {
		free(buf);
		return false;
	}
	rd->owned = buf;
	rd->data = buf;
	rd->len = got;
	return true;
}

/* The user's text, else the record's (held, not copied, until vfs_read_done). */
static int record_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	return record_attr_as(v, n, false, st, timeout);
}

static int pdf_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	return record_attr_as(v, n, true, st, timeout);
}

static int record_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	struct cache_record *r = NULL;
	int rc;
	if (text_read(v, n, size, off, rd, &rc))
		return rc;
	rc = cache_record_get(v->cache, n->c, n->id, &r);
	if (rc < 0)
		return rc;
	/* A version a reader now holds: what a save of it may have started from. */
	if (off == 0)
		save_served(v->save, n, r->text, r->len);
	vfs_slice_hold(rd, r, size, off);
	return 0;
}

/* True when the size of record @n is not known until it is fetched (no call). */
static bool record_size_unknown(struct vfs *v, struct node *n)
{
	struct cache_record *r = NULL;
	off_t size;
	if (save_size(v->save, n, &size))
		return false;
	if (cache_record_peek(v->cache, n->c, n->id, &r) == 0) {
		cache_record_unref(r);
		return false;
	}
	return true;
}

static int record_fetch_size(struct vfs *v, struct node *n, pid_t pid)
{
	struct cache_record *r = NULL;
	(void)pid;
	int rc = cache_record_get(v->cache, n->c, n->id, &r);
	cache_record_unref(r);
	return rc;
}

const struct vfs_ops vfs_record = {
	.attr = record_attr,
	.read = record_read,
	.xattrs = vfs_record_xattrs,
	.size_unknown = record_size_unknown,
	.fetch_size = record_fetch_size,
	.suffix = ".json",
};

/* Seconds between two log lines about searchers' refused reads. */
#define SEARCH_LOG_EVERY 60.0

/* A text searcher (grep -r, rg) read a PDF not fetched yet: it is not fetched
 * for it (a whole tree's PDFs would be a whole hour's budget, and their
 * compressed text holds nothing a searcher finds); the read fails with EAGAIN,
 * which the searcher names, and the log says why, once a minute. */
static int pdf_refuse_search(struct vfs *v, pid_t pid, struct node *n)
{
	struct vfs_pdf_reads *p = &v->pdf_reads;
	double now = clock_mono();
	pthread_mutex_lock(&p->lock);
	unsigned long refused = ++p->searches_refused;
	bool say = p->searches_logged == 0 || now - p->searches_logged >= SEARCH_LOG_EVERY;
	if (say)
		p->searches_logged = now;
	pthread_mutex_unlock(&p->lock);
	if (say)
		log_msg(LOG_NOTICE, "%s/%s.pdf: not fetched for a text search (process %ld): "
			"PDFs not fetched yet are not searched (%lu refused so far; `factuurfs "
			"fetch` fetches them all)", n->c->name, n->id, (long)pid, refused);
	return -EAGAIN;
}

/* Fetches the PDF of @n for a reader (@pid), unless it is known: a thumbnailer's
 * first read counts against its hourly share (the reserve). */
static int pdf_fetch_for(struct vfs *v, struct node *n, pid_t pid)
{
	if (pdfstore_size(v->pdfs, n->c, n->id, false) >= 0)
		return 0;
	if (who_kind(pid) == WHO_SEARCHER)
		return pdf_refuse_search(v, pid, n);
	if (who_is_background(pid) && !api_background_take(v->api))
		return -EAGAIN;
	off_t size = pdfstore_fetch(v->pdfs, n->c, n->id);
	return size < 0 ? (int)size : 0;
}

static bool pdf_size_unknown(struct vfs *v, struct node *n)
{
	return pdfstore_size(v->pdfs, n->c, n->id, false) < 0;
}

/* The read is counted in the node (n->reads) from its start until vfs_read_done,
 * after the caller replied. */
static int pdf_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	struct vfs_pdf_reads *p = &v->pdf_reads;
	int rc = pdf_fetch_for(v, n, rd->pid);
	if (rc < 0)
		return rc;
	char *buf = malloc(size ? size : 1);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&p->lock);
	n->reads++;
	pthread_mutex_unlock(&p->lock);
	ssize_t got = pdfstore_read(v->pdfs, n->c, n->id, buf, size, off);
	if (got == -EAGAIN) /* the disk copy vanished: fetch once more */
		got = pdfstore_read(v->pdfs, n->c, n->id, buf, size, off);
	pthread_mutex_lock(&p->lock);
	if (got == 0 && off > 0) {
		/* A read past the true end while the kernel still believes
		 * another size: readahead sends the READ holding the end and the
		 * one past it together, and whichever reply arrives first sets
		 * the size (the later one is ignored).  Let the one holding the
		 * end go first, or the bytes between would read as zeros. */
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 1;
		while (n->reads > 1 && pthread_cond_timedwait(&p->done, &p->lock, &until) == 0)
			;
	}
	if (got < 0) {
		n->reads--;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->lock);
	if (got < 0) {
		free(buf);
		return (int)got;
	}
	rd->owned = buf;
	rd->data = buf;
	rd->len = (size_t)got;
	rd->v = v;
	rd->counted = n;
	/* And a read past the end (pdfinfo seeks to the end of what it was
	 * told) leaves the kernel's size at that offset: it is to ask for the
	 * attributes again. */
	rd->attrs_stale = got == 0 && off > 0;
	return 0;
}

const struct vfs_ops vfs_pdf = {
	.attr = pdf_attr,
	.read = pdf_read,
	.xattrs = vfs_record_xattrs,
	.size_unknown = pdf_size_unknown,
	.fetch_size = pdf_fetch_for,
	.suffix = ".pdf",
	.name_keeps = true,
};

/* ---- local files (scratch and new) ------------------------------------------------ */

static int local_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	mode_t mode;
	inode_times(v->inodes, n, &mode, NULL);
	text_attr(v, n, st, mode & 07777);
	*timeout = 0;
	return 0;
}

static int local_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	int rc;
	text_read(v, n, size, off, rd, &rc); /* none: nothing to read */
	return rc;
}

/* Local files keep a mode and times, as on a disk (on records they are accepted
 * and ignored: the service has neither). */
static void local_set_times(struct vfs *v, struct node *n, const mode_t *mode,
			    const struct timespec *mtime)
{
	mode_t m = mode ? *mode & VFS_LOCAL_MODE_MASK : 0;
	inode_set_times(v->inodes, n, mode ? &m : NULL, mtime);
}

const struct vfs_ops vfs_local = {
	.attr = local_attr,
	.read = local_read,
	.set_times = local_set_times,
};
