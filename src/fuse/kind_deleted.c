/* kind_deleted: .factuurfs/deleted/<collection>/<file>, the records deleted through
 * the mount as store/deleted.h keeps them: read-only here (copy one back into its
 * collection to restore it; a POST). */
#include "fuse/mount.h"

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
static int deldir_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct timespec when;
	attr_dir(m, st, n->ino, m->started);
	if (n->kind == N_DELCOLL && deleted_changed(m->deleted, n->c->name, &when) == 0)
		st->st_mtim = st->st_ctim = when;
	*timeout = 0;
	return 0;
}

static int deldir_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
			 double *neg)
{
	(void)d;
	(void)neg;
	const struct schema_collection *c = schema_find(name);
	*out = shown(c) ? inode_get(m->inodes, INO_DELCOLL0 + schema_collection_index(c)) : NULL;
	return 0;
}

static int deldir_snap(struct mount *m, struct node *d, struct dirsnap *s)
{
	(void)m;
	(void)d;
	s->count = schema_ncollections();
	return 0;
}

static bool deldir_entry(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
			 char *name, size_t len, struct node **n)
{
	(void)d;
	/* Entry i is the i-th shown collection. */
	for (size_t k = 0, seen = 0; k < s->count; k++) {
		const struct schema_collection *c = schema_collection_at(k);
		if (!shown(c) || seen++ != i)
			continue;
		snprintf(name, len, "%s", c->name);
		*n = inode_get(m->inodes, INO_DELCOLL0 + k);
		return true;
	}
	return false;
}

const struct kind_ops kind_deldir = {
	.attr = deldir_attr,
	.lookup = deldir_lookup,
	.snap = deldir_snap,
	.entry = deldir_entry,
};

static int delcoll_lookup(struct mount *m, struct node *d, const char *name, struct node **out,
			  double *neg)
{
	struct stat st;
	*out = NULL;
	*neg = 0; /* a delete may make it any moment */
	if (deleted_stat(m->deleted, d->c->name, name, &st) == 0 &&
	    !(*out = inode_record(m->inodes, d->c, N_DELFILE, name)))
		return -ENOMEM;
	return 0;
}

static int delcoll_snap(struct mount *m, struct node *d, struct dirsnap *s)
{
	int rc = deleted_names(m->deleted, d->c->name, &s->names, &s->nnames);
	s->count = s->nnames;
	return rc;
}

static bool delcoll_entry(struct mount *m, struct node *d, const struct dirsnap *s, size_t i,
			  char *name, size_t len, struct node **n)
{
	if (i >= s->nnames)
		return false;
	snprintf(name, len, "%s", s->names[i]);
	*n = inode_record(m->inodes, d->c, N_DELFILE, s->names[i]);
	return *n != NULL;
}

const struct kind_ops kind_delcoll = {
	.attr = deldir_attr,
	.lookup = delcoll_lookup,
	.snap = delcoll_snap,
	.entry = delcoll_entry,
};

/* Read-only here (the mount takes no write into deleted/); 0600 on disk. */
static int delfile_attr(struct mount *m, struct node *n, struct stat *st, double *timeout)
{
	struct stat ds;
	int rc = deleted_stat(m->deleted, n->c->name, n->id, &ds);
	if (rc < 0)
		return rc;
	attr_file(m, st, n->ino, FS_RO_MODE, ds.st_size, ds.st_mtime);
	/* A second delete of the same record replaces the file. */
	*timeout = 0;
	return 0;
}

static int delfile_read(struct mount *m, fuse_req_t req, struct node *n, size_t size, off_t off)
{
	char *text = NULL;
	size_t len = 0;
	int rc = deleted_read(m->deleted, n->c->name, n->id, &text, &len);
	if (rc < 0)
		return rc;
	reply_slice(req, text, len, size, off);
	free(text);
	return 0;
}

const struct kind_ops kind_delfile = {
	.attr = delfile_attr,
	.read = delfile_read,
};
