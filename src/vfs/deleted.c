/* deleted: .factuurfs/deleted/<collection>/<file>, the records deleted through
 * the mount as store/deleted.h keeps them: read-only here (copy one back into its
 * collection to restore it; a POST). */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/deleted.h"

/* A collection whose records can be deleted has a directory here. */
static bool shown(const struct schema_collection *c)
{
	return c && !c->single && (c->methods & SCHEMA_M_DELETE);
}

/* Entries change whenever a record is deleted: the kernel asks again each time,
 * and a collection's directory has the mtime of its directory on disk (the kernel
 * keeps a directory's cached entries while its mtime stays the same). */
static int deldir_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	vfs_attr_dir(v, st, n->ino, v->started);
	*timeout = 0;
	return 0;
}

static int delcoll_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct timespec when;
	deldir_attr(v, n, st, timeout);
	if (deleted_changed(v->deleted, n->c->name, &when) == 0)
		st->st_mtim = st->st_ctim = when;
	return 0;
}

static int deldir_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			 double *neg)
{
	(void)d;
	(void)neg;
	const struct schema_collection *c = schema_find(name);
	*out = shown(c) ? inode_get(v->inodes, INO_DELCOLL0 + schema_collection_index(c)) : NULL;
	return 0;
}

static int deldir_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	(void)v;
	(void)d;
	s->count = schema_ncollections();
	return 0;
}

static bool deldir_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			 char *name, size_t len, struct node **n)
{
	(void)d;
	/* Entry i is the i-th shown collection. */
	for (size_t k = 0, seen = 0; k < s->count; k++) {
		const struct schema_collection *c = schema_collection_at(k);
		if (!shown(c) || seen++ != i)
			continue;
		snprintf(name, len, "%s", c->name);
		*n = inode_get(v->inodes, INO_DELCOLL0 + k);
		return true;
	}
	return false;
}

static fuse_ino_t deldir_parent(const struct node *d)
{
	(void)d;
	return INO_CTL;
}

const struct vfs_ops vfs_deldir = {
	.parent = deldir_parent,
	.attr = deldir_attr,
	.lookup = deldir_lookup,
	.list = deldir_list,
	.entry = deldir_entry,
};

static int delcoll_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
			  double *neg)
{
	struct stat st;
	*out = NULL;
	*neg = 0; /* a delete may make it any moment */
	if (deleted_stat(v->deleted, d->c->name, name, &st) == 0 &&
	    !(*out = inode_record(v->inodes, d->c, N_DELFILE, name)))
		return -ENOMEM;
	return 0;
}

static int delcoll_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	int rc = deleted_names(v->deleted, d->c->name, &s->names, &s->nnames);
	s->count = s->nnames;
	return rc;
}

static bool delcoll_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
			  char *name, size_t len, struct node **n)
{
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = inode_record(v->inodes, d->c, N_DELFILE, s->names[i]);
	return *n != NULL;
}

static fuse_ino_t delcoll_parent(const struct node *d)
{
	(void)d;
	return INO_DELETED;
}

const struct vfs_ops vfs_delcoll = {
	.parent = delcoll_parent,
	.attr = delcoll_attr,
	.lookup = delcoll_lookup,
	.list = delcoll_list,
	.entry = delcoll_entry,
};

/* Read-only here (the mount takes no write into deleted/); 0600 on disk. */
static int delfile_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	struct stat ds;
	int rc = deleted_stat(v->deleted, n->c->name, n->id, &ds);
	if (rc < 0)
		return rc;
	vfs_attr_file(v, st, n->ino, VFS_RO_MODE, ds.st_size, ds.st_mtime);
	/* A second delete of the same record replaces the file. */
	*timeout = 0;
	return 0;
}

static int delfile_read(struct vfs *v, struct node *n, size_t size, off_t off,
			struct vfs_read *rd)
{
	char *text = NULL;
	size_t len = 0;
	int rc = deleted_read(v->deleted, n->c->name, n->id, &text, &len);
	if (rc < 0)
		return rc;
	vfs_slice_take(rd, text, len, size, off);
	return 0;
}

const struct vfs_ops vfs_delfile = {
	.attr = delfile_attr,
	.read = delfile_read,
};
