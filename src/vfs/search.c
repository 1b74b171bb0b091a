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
	return vfs_names_count(s, search_names(v->search, d->c, &s->names, &s->nnames));
}

static bool sarea_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			char *name, size_t len, struct node **n)
{
	return vfs_names_entry(v, d, s, i, name, len, n, N_SDIR, 0, d->c);
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

/* The query's answer (search_get). */
static int sdir_listing(struct vfs *v, const struct node *d, struct cache_listing **l)
{
	return search_get(v->search, d->c, d->id, l);
}

static int sdir_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	return vfs_links_lookup(v, d, name, N_SLINK, d->c, sdir_listing, out, neg);
}

static int sdir_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	return vfs_links_count(s, d->c, sdir_listing(v, d, &s->l));
}

static bool sdir_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	return vfs_links_entry(v, d, s, i, name, len, n, N_SLINK, d->c);
}

const struct vfs_ops vfs_sdir = {
	.parent = vfs_node_parent, /* its area */
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
	int rc = vfs_listed_link_attr(v, n, l, st, timeout);
	cache_listing_unref(l);
	return rc;
}

const struct vfs_ops vfs_slink = {
	.attr = slink_attr,
	.read = vfs_link_read,
	.link = vfs_record_link,
};
