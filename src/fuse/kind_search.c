/* kind_search: search/, its areas, a query's directory and its links (see mount.h).
 *
 * What a name means and what the service is asked is store/search.h; these
 * handlers only resolve nodes.  search/<area>/<query>/ holds a symlink per
 * record found, "../../../<area>/<stem>.json" (and .pdf where the area has
 * PDFs), so that a found record opens, and saves, as its own file.
 */
#include "fuse/mount.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "store/cache.h"
#include "store/search.h"

/* ---- search/ ------------------------------------------------------------------------ */

static int search_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	attr_dir(m, st, n->ino, m->started);
	st->st_nlink = 2 + schema_nsearch_areas();
	return 0;
}

static int search_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
			 double *neg)
{
	(void)d;
	(void)neg;
	*out = NULL;
	for (size_t i = 0; i < schema_nsearch_areas(); i++)
		if (!strcmp(name, schema_search_area_at(i)->name))
			*out = inode_get(m->inodes, INO_SAREA0 + i);
	return 0;
}

static int search_snap(struct mount *m, struct node *d, struct dirsnap *s)
{
	(void)m;
	(void)d;
	s->count = schema_nsearch_areas();
	return 0;
}

static bool search_entry(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
			 char *name, size_t len, struct node **n)
{
	(void)d;
	(void)s;
	if (i >= schema_nsearch_areas())
		return false;
	snprintf(name, len, "%s", schema_search_area_at(i)->name);
	*n = inode_get(m->inodes, INO_SAREA0 + i);
	return true;
}

const struct kind_ops kind_search = {
	.attr = search_attr,
	.lookup = search_lookup,
	.snap = search_snap,
	.entry = search_entry,
};

/* ---- search/<area>/ -------------------------------------------------------------------- */

static int sarea_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	attr_dir(m, st, n->ino, m->started);
	/* Its entries are the queries made within the TTL: asked again soon, and its
	 * mtime moves with them (the kernel keeps cached entries while it stays). */
	struct timespec changed = search_area_changed(m->search, n->c);
	if (changed.tv_sec)
		st->st_mtim = st->st_atim = changed;
	*timeout = 1.0;
	return 0;
}

/* A name that can be a query is one call (or none, within the TTL); one that cannot
 * is "no such directory" for good, without a call. */
static int sarea_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
			double *neg)
{
	struct cache_listing *l = NULL;
	*out = NULL;
	int rc = search_get(m->search, d->c, name, &l);
	if (rc == -ENOENT) {
		*neg = FS_FOREVER;
		return 0;
	}
	if (rc < 0)
		return rc;
	cache_listing_unref(l);
	*out = inode_view(m->inodes, N_SDIR, d->ino, 0, d->c, name);
	return *out ? 0 : -ENOMEM;
}

static int sarea_snap(struct mount *m, struct node *d, struct dirsnap *s)
{
	int rc = search_names(m->search, d->c, &s->names, &s->nnames);
	s->count = s->nnames;
	return rc;
}

static bool sarea_entry(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
			char *name, size_t len, struct node **n)
{
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = inode_view(m->inodes, N_SDIR, d->ino, 0, d->c, s->names[i]);
	return true;
}

const struct kind_ops kind_sarea = {
	.attr = sarea_attr,
	.lookup = sarea_lookup,
	.snap = sarea_snap,
	.entry = sarea_entry,
};

/* ---- search/<area>/<query>/ ----------------------------------------------------------- */

static int sdir_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = search_held(m->search, n->c, n->id);
	attr_dir(m, st, n->ino, m->started);
	*timeout = 1.0;
	if (!l)
		return 0;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(m->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int sdir_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	struct cache_listing *l = NULL;
	bool pdf = false;
	char *id = NULL;
	*out = NULL;
	if (!names_is_scratch(name)) {
		id = names_record_id(name, ".json");
		if (!id && d->c->pdf_path) {
			id = names_record_id(name, ".pdf");
			pdf = id != NULL;
		}
	}
	if (!id)
		return 0;
	int rc = search_get(m->search, d->c, d->id, &l);
	if (rc < 0) {
		free(id);
		return rc;
	}
	*neg = cache_listing_ttl_left(m->cache, l);
	if (cache_listing_find(l, id) >= 0) {
		*out = inode_view(m->inodes, N_SLINK, d->ino, pdf, d->c, id);
		rc = *out ? 0 : -ENOMEM;
	}
	cache_listing_unref(l);
	free(id);
	return rc;
}

static int sdir_snap(struct mount *m, struct node *d, struct dirsnap *s)
{
	int rc = search_get(m->search, d->c, d->id, &s->l);
	s->count = rc == 0 ? s->l->n * (d->c->pdf_path ? 2 : 1) : 0;
	return rc;
}

static bool sdir_entry(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	size_t per = d->c->pdf_path ? 2 : 1;
	if (i >= s->count)
		return false;
	const struct cache_record *r = s->l->recs[i / per];
	bool pdf = i % per == 1;
	snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
	*n = inode_view(m->inodes, N_SLINK, d->ino, pdf, d->c, r->id);
	return true;
}

const struct kind_ops kind_sdir = {
	.attr = sdir_attr,
	.lookup = sdir_lookup,
	.snap = sdir_snap,
	.entry = sdir_entry,
};

/* ---- the links ----------------------------------------------------------------------- */

/* "../../../<area>/<stem>.json": a query's directory is three levels down, so the
 * text is relative and works wherever the mount is.  malloc'd. */
static char *slink_link(struct mount *m, struct node *n)
{
	(void)m;
	char *stem = names_encode(n->id), *t = NULL;
	if (stem && asprintf(&t, "../../../%s/%s.%s", n->c->name, stem, n->sub ? "pdf" : "json") < 0)
		t = NULL;
	free(stem);
	return t;
}

/* A result's link has the times of its query's answer while that answer holds it.
 * No call is made here: a link the kernel keeps past the TTL is gone until the
 * query is looked up again. */
static int slink_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct node *d = inode_get(m->inodes, n->parent);
	struct cache_listing *l = d ? search_held(m->search, d->c, d->id) : NULL;
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	char *t = pos >= 0 ? slink_link(m, n) : NULL;
	int rc = pos < 0 ? -ENOENT : !t ? -ENOMEM : 0;
	if (rc == 0) {
		const struct cache_record *r = l->recs[pos];
		attr_link(m, st, n->ino, strlen(t), n->sub ? r->date : r->mtime);
		*timeout = cache_listing_ttl_left(m->cache, l);
	}
	cache_listing_unref(l);
	free(t);
	return rc;
}

static int slink_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	(void)m;
	(void)req;
	(void)n;
	(void)size;
	(void)off;
	return -EINVAL;
}

const struct kind_ops kind_slink = {
	.attr = slink_attr,
	.read = slink_read,
	.link = slink_link,
};
