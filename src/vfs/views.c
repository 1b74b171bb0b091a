/* views: views/, exports/ and templates/ (see vfs.h).
 *
 * Like a collection directory, a view asks the service only when it was
 * listed before (a TTL refresh): a cold `ls -l views/status` costs nothing.
 */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "feat/export.h"
#include "feat/views.h"
#include "model/templates.h"
#include "store/cache.h"

/* Fixed directories: views/, templates/. */
static int fixed_dir_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	vfs_attr_dir(v, st, n->ino, v->started);
	return 0;
}

static int views_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	fixed_dir_attr(v, n, st, timeout);
	st->st_nlink = 2 + VIEWS_NGROUPS;
	return 0;
}

/* ---- views/ ---------------------------------------------------------------------- */

static int views_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			double *neg)
{
	(void)d;
	(void)neg;
	int g = views_group_find(name);
	*out = g >= 0 ? inode_get(v->inodes, INO_VGROUP0 + g) : NULL;
	return 0;
}

static int views_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = VIEWS_NGROUPS;
	return 0;
}

static bool views_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			char *name, size_t len, struct node **n)
{
	(void)d;
	(void)s;
	if (i >= VIEWS_NGROUPS)
		return false;
	snprintf(name, len, "%s", views_group_name(i));
	*n = inode_get(v->inodes, INO_VGROUP0 + i);
	return true;
}

const struct vfs_ops vfs_views = {
	.attr = views_attr,
	.lookup = views_lookup,
	.list = views_list,
	.entry = views_entry,
};

/* ---- views/<group>/ ---------------------------------------------------------------- */

static int vgroup_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	char **names = NULL;
	size_t k = 0;
	struct timespec changed = {0};
	double left = -1;
	vfs_attr_dir(v, st, n->ino, v->started);
	if (n->sub == VIEWS_STATUS || !views_held(v->views, n->sub, NULL)) {
		*timeout = n->sub == VIEWS_STATUS ? VFS_FOREVER : 1.0;
		return 0;
	}
	int rc = views_names(v->views, n->sub, &names, &k, &changed, &left);
	views_names_free(names, k);
	if (rc < 0)
		return rc;
	st->st_mtim = st->st_atim = changed;
	*timeout = left;
	return 0;
}

/* Names that cannot be entries never cost a call. */
static int vgroup_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			 double *neg)
{
	struct cache_listing *l = NULL;
	*out = NULL;
	if (!views_name_plausible(d->sub, name))
		return 0;
	if (d->sub != VIEWS_STATUS) {
		/* Years and clients exist when the listings have them. */
		int rc = views_dir(v->views, d->sub, name, &l);
		if (rc == -ENOENT) {
			*neg = 1.0;
			return 0;
		}
		if (rc < 0)
			return rc;
		cache_listing_unref(l);
	}
	*out = inode_view(v->inodes, N_VDIR, d->ino, d->sub, NULL, name);
	return *out ? 0 : -ENOMEM;
}

static int vgroup_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	struct timespec changed;
	double left;
	return vfs_names_count(
	    s, views_names(v->views, d->sub, &s->names, &s->nnames, &changed, &left));
}

static bool vgroup_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			 char *name, size_t len, struct node **n)
{
	return vfs_names_entry(v, d, s, i, name, len, n, N_VDIR, d->sub, NULL);
}

static fuse_ino_t vgroup_parent(const struct node *d)
{
	(void)d;
	return INO_VIEWS;
}

const struct vfs_ops vfs_vgroup = {
	.parent = vgroup_parent,
	.attr = vgroup_attr,
	.lookup = vgroup_lookup,
	.list = vgroup_list,
	.entry = vgroup_entry,
};

/* ---- views/<group>/<name>/ ------------------------------------------------------------ */

static int vdir_listing(struct vfs *v, const struct node *d, struct cache_listing **out)
{
	return views_dir(v->views, (enum views_group)d->sub, d->id, out);
}

static int vdir_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	vfs_attr_dir(v, st, n->ino, v->started);
	*timeout = 1.0;
	if (!views_held(v->views, n->sub, n->id))
		return 0;
	int rc = vdir_listing(v, n, &l);
	if (rc < 0)
		return rc;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(v->cache, l);
	cache_listing_unref(l);
	return 0;
}

static int vdir_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	return vfs_links_lookup(v, d, name, N_VLINK, schema_invoices(), vdir_listing, out, neg);
}

static int vdir_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	return vfs_links_count(s, schema_invoices(), vdir_listing(v, d, &s->l));
}

static bool vdir_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	return vfs_links_entry(v, d, s, i, name, len, n, N_VLINK, schema_invoices());
}

const struct vfs_ops vfs_vdir = {
	.parent = vfs_node_parent, /* its group */
	.attr = vdir_attr,
	.lookup = vdir_lookup,
	.list = vdir_list,
	.entry = vdir_entry,
};

/* ---- a view's links ---------------------------------------------------------------------- */

static int vlink_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	struct node *d = inode_get(v->inodes, n->parent);
	int rc = !d ? -ENOENT : vdir_listing(v, d, &l);
	if (rc == 0)
		rc = vfs_listed_link_attr(v, n, l, st, timeout);
	cache_listing_unref(l);
	return rc;
}

const struct vfs_ops vfs_vlink = {
	.attr = vlink_attr,
	.read = vfs_link_read,
	.link = vfs_record_link,
};

/* ---- exports/ --------------------------------------------------------------------------- */

/* Its names follow the invoices listing (the quarters): its mtime and
 * timeouts are that listing's once it is held. */
static int exports_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct cache_listing *l = NULL;
	vfs_attr_dir(v, st, n->ino, v->started);
	if (!cache_has_listing(v->cache, schema_invoices()))
		return 0;
	int rc = cache_listing_get(v->cache, schema_invoices(), &l);
	if (rc < 0)
		return rc;
	st->st_mtim = st->st_atim = l->changed;
	*timeout = cache_listing_ttl_left(v->cache, l);
	cache_listing_unref(l);
	return 0;
}

/* The node of export @name: fixed for the collections' files, made on first
 * sight for a quarter's. */
static struct node *export_node(struct vfs *v, const char *name)
{
	int i = export_find(name);
	if (i >= 0)
		return inode_get(v->inodes, INO_EXPORT0 + i);
	return inode_view(v->inodes, N_EXPORT, INO_EXPORTS, -1, NULL, name);
}

/* Names that cannot be exports never cost a call. */
static int exports_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			  double *neg)
{
	(void)d;
	struct export_text *t = NULL;
	*out = NULL;
	if (export_find(name) < 0) {
		if (!export_quarter_plausible(name))
			return 0;
		/* A quarter is there while an invoice is dated in it. */
		int rc = export_get(v->exports, name, &t);
		if (rc == -ENOENT) {
			*neg = 1.0;
			return 0;
		}
		if (rc < 0)
			return rc;
		export_text_unref(t);
	}
	*out = export_node(v, name);
	return *out ? 0 : -ENOMEM;
}

static int exports_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)d;
	int rc = export_names(v->exports, &s->names, &s->nnames);
	s->count = s->nnames;
	return rc;
}

static bool exports_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			  char *name, size_t len, struct node **n)
{
	(void)d;
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = export_node(v, s->names[i]);
	return true;
}

const struct vfs_ops vfs_exports = {
	.attr = exports_attr,
	.lookup = exports_lookup,
	.list = exports_list,
	.entry = exports_entry,
};

/* The file name of export node @n. */
static const char *export_node_name(const struct node *n)
{
	const char *id = n->id;
	return id ? id : export_name((size_t)n->sub);
}

static int export_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct export_text *t = NULL;
	struct timespec changed;
	int rc = export_get(v->exports, export_node_name(n), &t);
	if (rc < 0)
		return rc;
	vfs_attr_file(v, st, n->ino, VFS_RO_MODE, (off_t)t->len, 0);
	export_text_times(v->exports, t, &changed, timeout);
	st->st_mtim = st->st_ctim = st->st_atim = changed;
	export_text_unref(t);
	return 0;
}

static int export_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	struct export_text *t = NULL;
	int rc = export_get(v->exports, export_node_name(n), &t);
	if (rc < 0)
		return rc;
	rc = vfs_slice_copy(rd, t->data, t->len, size, off);
	export_text_unref(t);
	return rc;
}

const struct vfs_ops vfs_export = {
	.attr = export_attr,
	.read = export_read,
};

/* ---- templates/ ------------------------------------------------------------------------- */

static int templates_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			    double *neg)
{
	(void)d;
	(void)neg;
	int i = templates_find(name);
	*out = i >= 0 ? inode_get(v->inodes, INO_TEMPLATE0 + i) : NULL;
	return 0;
}

static int templates_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = templates_count();
	return 0;
}

static bool templates_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			    char *name, size_t len, struct node **n)
{
	(void)d;
	if (i >= s->count || !templates_name(i, name, len))
		return false;
	*n = inode_get(v->inodes, INO_TEMPLATE0 + i);
	return true;
}

const struct vfs_ops vfs_templates = {
	.attr = fixed_dir_attr,
	.lookup = templates_lookup,
	.list = templates_list,
	.entry = templates_entry,
};

static int template_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	/* Made again for its size: microseconds, and no state to keep. */
	size_t len = 0;
	char *text = templates_text((size_t)n->sub, &len);
	if (!text)
		return -ENOMEM;
	free(text);
	vfs_attr_file(v, st, n->ino, VFS_RO_MODE, (off_t)len, v->started);
	return 0;
}

static int template_read(struct vfs *v, struct node *n, size_t size, off_t off,
			 struct vfs_read *rd)
{
	(void)v;
	size_t len = 0;
	char *text = templates_text((size_t)n->sub, &len);
	if (!text)
		return -ENOMEM;
	vfs_slice_take(rd, text, len, size, off);
	return 0;
}

const struct vfs_ops vfs_template = {
	.attr = template_attr,
	.read = template_read,
};
