/* root: the fixed nodes of every mount, the root and .factuurfs/ (see vfs.h). */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "feat/export.h"
#include "feat/views.h"
#include "model/templates.h"

struct inode_fixed *vfs_fixed(size_t *n)
{
	size_t cap = 9 + VIEWS_NGROUPS + export_count() + 2 * schema_ncollections() +
		     templates_count() + schema_nsearch_areas(), k = 0;
	struct inode_fixed *f = calloc(cap, sizeof(*f));
	if (!f)
		return NULL;
#define FIXED(i, kd, cc, s, ...)                                                            \
	do {                                                                                \
		f[k] = (struct inode_fixed){.ino = (i), .kind = (kd), .c = (cc), .sub = (s)}; \
		snprintf(f[k].key, sizeof(f[k].key), __VA_ARGS__);                          \
		k++;                                                                        \
	} while (0)
	FIXED(INO_ROOT, N_ROOT, NULL, 0, "/");
	FIXED(INO_CTL, N_CTL, NULL, 0, "/.factuurfs");
	FIXED(INO_REFRESH, N_REFRESH, NULL, 0, "/.factuurfs/refresh");
	FIXED(INO_DELETED, N_DELDIR, NULL, 0, "/.factuurfs/deleted");
	FIXED(INO_VIEWS, N_VIEWS, NULL, 0, "/views");
	FIXED(INO_EXPORTS, N_EXPORTS, NULL, 0, "/exports");
	FIXED(INO_TEMPLATES, N_TEMPLATES, NULL, 0, "/templates");
	FIXED(INO_SEARCH, N_SEARCH, NULL, 0, "/search");
	for (size_t i = 0; i < schema_nsearch_areas() && INO_SAREA0 + i < INO_DYNAMIC; i++)
		FIXED(INO_SAREA0 + i, N_SAREA, schema_search_area_at(i), (int)i, "/search/%s",
		      schema_search_area_at(i)->name);
	for (int g = 0; g < VIEWS_NGROUPS; g++)
		FIXED(INO_VGROUP0 + g, N_VGROUP, NULL, g, "/views/%s", views_group_name(g));
	for (size_t i = 0; i < export_count() && INO_EXPORT0 + i < INO_COLL0; i++)
		FIXED(INO_EXPORT0 + i, N_EXPORT, NULL, (int)i, "/exports/%s", export_name(i));
	for (size_t i = 0; i < schema_ncollections() && INO_COLL0 + i < INO_TEMPLATES; i++) {
		const struct schema_collection *c = schema_collection_at(i);
		FIXED(INO_COLL0 + i, c->single ? N_SINGLE : N_COLL, c, 0, "/%s", c->name);
		if (INO_DELCOLL0 + i < INO_DYNAMIC)
			FIXED(INO_DELCOLL0 + i, N_DELCOLL, c, 0, "/.factuurfs/deleted/%s", c->name);
	}
	for (size_t i = 0; i < templates_count(); i++) {
		char name[64];
		if (!templates_name(i, name, sizeof(name)))
			break;
		FIXED(INO_TEMPLATE0 + i, N_TEMPLATE, templates_collection(i), (int)i,
		      "/templates/%s", name);
	}
#undef FIXED
	*n = k;
	return f;
}

/* ---- the root -------------------------------------------------------------------- */

/* The names of the root after .factuurfs and the collections. */
static const struct {
	const char *name;
	fuse_ino_t ino;
} root_dirs[] = {{"views", INO_VIEWS},
		 {"exports", INO_EXPORTS},
		 {"templates", INO_TEMPLATES},
		 {"search", INO_SEARCH}};
#define NROOT_DIRS (sizeof(root_dirs) / sizeof(root_dirs[0]))

static int root_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	vfs_attr_dir(v, st, n->ino, v->started);
	st->st_nlink = 3 + schema_ncollections() + NROOT_DIRS;
	return 0;
}

static int root_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	(void)d;
	(void)neg;
	*out = NULL;
	if (!strcmp(name, ".factuurfs")) {
		*out = inode_get(v->inodes, INO_CTL);
		return 0;
	}
	for (size_t i = 0; i < schema_ncollections(); i++) {
		const struct schema_collection *c = schema_collection_at(i);
		char buf[96];
		snprintf(buf, sizeof(buf), c->single ? "%s.json" : "%s", c->name);
		if (!strcmp(name, buf)) {
			*out = inode_get(v->inodes, INO_COLL0 + i);
			return 0;
		}
	}
	for (size_t i = 0; i < NROOT_DIRS; i++)
		if (!strcmp(name, root_dirs[i].name))
			*out = inode_get(v->inodes, root_dirs[i].ino);
	return 0;
}

static int root_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = 1 + schema_ncollections() + NROOT_DIRS;
	return 0;
}

static bool root_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	(void)d;
	(void)s;
	if (i == 0) {
		snprintf(name, len, ".factuurfs");
		*n = inode_get(v->inodes, INO_CTL);
	} else if (i - 1 < schema_ncollections()) {
		const struct schema_collection *c = schema_collection_at(i - 1);
		snprintf(name, len, c->single ? "%s.json" : "%s", c->name);
		*n = inode_get(v->inodes, INO_COLL0 + i - 1);
	} else if (i - 1 - schema_ncollections() < NROOT_DIRS) {
		size_t k = i - 1 - schema_ncollections();
		snprintf(name, len, "%s", root_dirs[k].name);
		*n = inode_get(v->inodes, root_dirs[k].ino);
	} else {
		return false;
	}
	return true;
}

const struct vfs_ops vfs_root = {
	.attr = root_attr,
	.lookup = root_lookup,
	.list = root_list,
	.entry = root_entry,
};

/* ---- .factuurfs/ ---------------------------------------------------------------- */

static int ctl_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	(void)timeout;
	vfs_attr_dir(v, st, n->ino, v->started);
	return 0;
}

static int ctl_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		      double *neg)
{
	(void)d;
	(void)neg;
	if (!strcmp(name, "status")) {
		*out = vfs_status_node(v);
		return *out ? 0 : -ENOMEM;
	}
	*out = !strcmp(name, "refresh")   ? inode_get(v->inodes, INO_REFRESH)
	       : !strcmp(name, "deleted") ? inode_get(v->inodes, INO_DELETED)
					  : NULL;
	return 0;
}

static const struct {
	const char *name;
	fuse_ino_t ino;
} ctl_files[] = {{"status", INO_STATUS}, {"refresh", INO_REFRESH}, {"deleted", INO_DELETED}};

static int ctl_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = sizeof(ctl_files) / sizeof(ctl_files[0]);
	return 0;
}

static bool ctl_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		      char *name, size_t len, struct node **n)
{
	(void)d;
	(void)s;
	if (i >= sizeof(ctl_files) / sizeof(ctl_files[0]))
		return false;
	snprintf(name, len, "%s", ctl_files[i].name);
	*n = ctl_files[i].ino == INO_STATUS ? vfs_status_node(v)
					    : inode_get(v->inodes, ctl_files[i].ino);
	return true;
}

const struct vfs_ops vfs_ctl = {
	.attr = ctl_attr,
	.lookup = ctl_lookup,
	.list = ctl_list,
	.entry = ctl_entry,
};
