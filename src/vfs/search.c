/* search: search/, its areas, a query's directory and its links (see vfs.h).
 *
 * What a name means and what the service is asked is store/search.h; these
 * handlers only resolve nodes.  search/<area>/<query>/ holds a symlink per
 * record found, "../../../<area>/<stem>.json" (and .pdf where the area has
 * PDFs), so that a found record opens, and saves, as its own file.
 */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "store/cache.h"
#include "store/search.h"

/* ---- search/ ------------------------------------------------------------------------ */

static int search_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	vfs_attr_dir(v, st, n->ino, v->started);
	st->st_nlink = 2 + schema_nsearch_areas();
	return 0;
}

static int search_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			 double *neg)
{
	(void)d;
	(void)neg;
	*out = NULL;
	for (size_t i = 0; i < schema_nsearch_areas(); i++)
		if (!strcmp(name, schema_search_area_at(i)->name))
			*out = inode_get(v->inodes, INO_SAREA0 + i);
	return 0;
}

static int search_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = schema_nsearch_areas();
	return 0;
}

static bool search_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			 char *name, size_t len, struct node **n)
{
	(void)d;
	(void)s;
	if (i >= schema_nsearch_areas())
		return false;
	snprintf(name, len, "%s", schema_search_area_at(i)->name);
	*n = inode_get(v->inodes, INO_SAREA0 + i);
	return true;
}

const struct vfs_ops vfs_search = {
	.attr = search_attr,
	.lookup = search_lookup,
	.list = search_list,
	.entry = search_entry,
};

/* ---- search/<area>/ -------------------------------------------------------------------- */

static int sarea_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	vfs_attr_dir(v, st, n->ino, v->started);
	/* Its entries are the queries made within the TTL: asked again soon, and its
	 * mtime moves with them (the kernel keeps cached entries while it stays). */
	struct timespec changed = search_area_changed(v->search, n->c);
	if (changed.tv_sec)
		st->st_mtim = st->st_atim = changed;
	*timeout = 1.0;
	return 0;
}

/* A name that can be a query is one call (or none, within the TTL); one that cannot
 * is "no such directory" for good, without a call. */
static int sarea_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			double *neg)
{
	struct cache_listing *l = NULL;
	*out = NULL;
	int rc = search_get(v->search, d->c, name, &l);
	if (rc == -ENOENT) {
		*neg = VFS_FOREVER;
		return 0;
	}
	if (rc < 0)
		return rc;
	cache_listing_unref(l);
	*out = inode_view(v->inodes, N_SDIR, d->ino, 0, d->c, name);
	return *out ? 0 : -ENOMEM;
}

static int sarea_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	int rc = search_names(v->search, d->c, &s->names, &s->nnames);
	s->count = s->nnames;
	return rc;
}

static bool sarea_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			char *name, size_t len, struct node **n)
{
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = inode_view(v->inodes, N_SDIR, d->ino, 0, d->c, s->names[i]);
	return true;
}

static fuse_ino_t sarea_parent(const struct node *d)
{
	(void)d;
	return INO_SEARCH;
}

const struct vfs_ops vfs_sarea = {
	.parent = sarea_parent,
	.attr = sarea_attr,
	.lookup = sarea_lookup,
	.list = sarea_list,
	.entry = sarea_entry,
};

/* ---- search/<area>/<query>/ ----------------------------------------------------------- */

static int sdir_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = search_held(v->search, n->c, n->id);
	vfs_attr_dir(v, st, n->ino, v->started);
	*timeout = 1.0;
	if (!l)
		return 0;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(v->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int sdir_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
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
	int rc = search_get(v->search, d->c, d->id, &l);
	if (rc < 0) {
		free(id);
		return rc;
	}
	*neg = cache_listing_ttl_left(v->cache, l);
	if (cache_listing_find(l, id) >= 0) {
		*out = inode_view(v->inodes, N_SLINK, d->ino, pdf, d->c, id);
		rc = *out ? 0 : -ENOMEM;
	}
	cache_listing_unref(l);
	free(id);
	return rc;
}

static int sdir_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	int rc = search_get(v->search, d->c, d->id, &s->l);
	s->count = rc == 0 ? s->l->n * (d->c->pdf_path ? 2 : 1) : 0;
	return rc;
}

static bool sdir_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	size_t per = d->c->pdf_path ? 2 : 1;
	if (i >= s->count)
		return false;
	const struct cache_record *r = s->l->recs[i / per];
	bool pdf = i % per == 1;
	snprintf(name, len, "%s.%s", r->stem, pdf ? "pdf" : "json");
	*n = inode_view(v->inodes, N_SLINK, d->ino, pdf, d->c, r->id);
	return true;
}

static fuse_ino_t sdir_parent(const struct node *d)
{
	return d->parent; /* its area */
}

const struct vfs_ops vfs_sdir = {
	.parent = sdir_parent,
	.attr = sdir_attr,
	.lookup = sdir_lookup,
	.list = sdir_list,
	.entry = sdir_entry,
};

/* ---- the links ----------------------------------------------------------------------- */

/* A result's link has the times of its query's answer while that answer holds it.
 * No call is made here: a link the kernel keeps past the TTL is gone until the
 * query is looked up again. */
static int slink_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct node *d = inode_get(v->inodes, n->parent);
	struct cache_listing *l = d ? search_held(v->search, d->c, d->id) : NULL;
	ssize_t pos = l ? cache_listing_find(l, n->id) : -1;
	char *t = pos >= 0 ? vfs_record_link(v, n) : NULL;
	int rc = pos < 0 ? -ENOENT : !t ? -ENOMEM : 0;
	if (rc == 0) {
		const struct cache_record *r = l->recs[pos];
		vfs_attr_link(v, st, n->ino, strlen(t), r->date);
		*timeout = cache_listing_ttl_left(v->cache, l);
	}
	cache_listing_unref(l);
	free(t);
	return rc;
}

const struct vfs_ops vfs_slink = {
	.attr = slink_attr,
	.read = vfs_link_read,
	.link = vfs_record_link,
};
