/* kinds: the mount's node-operations table (vfs/vfs.h), and the collections'
 * handlers (kind_coll.c) put in it through the small adapter below, which
 * hands them the mount and the FUSE request they still take (see mount.h). */
#include "fuse/mount.h"

#include <errno.h>
#include <stddef.h>

/* The mount whose vfs @v is. */
static struct mount *mount_of_vfs(struct vfs *v)
{
	return (struct mount *)((char *)v - offsetof(struct mount, vfs));
}

/* The collections' handlers by kind. */
static const struct kind_ops *const coll_kinds[N_KINDS] = {
	[N_COLL] = &kind_coll,
	[N_SINGLE] = &kind_single,
	[N_JSON] = &kind_record,
	[N_PDF] = &kind_pdf,
	[N_SCRATCH] = &kind_local,
	[N_NEW] = &kind_local,
};

/* The handlers of @kind (an _Atomic int: the caller loads it once), every one NULL
 * for a kind not a collection's. */
static const struct kind_ops *coll_kind(int kind)
{
	static const struct kind_ops none;
	return kind >= 0 && kind < N_KINDS && coll_kinds[kind] ? coll_kinds[kind] : &none;
}

static int coll_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	const struct kind_ops *k = coll_kind(n->kind);
	return k->attr ? k->attr(mount_of_vfs(v), n, st, timeout) : -ENOENT;
}

static int coll_lookup(struct vfs *v, struct node *d, const char *name, struct node **out,
		       double *neg)
{
	const struct kind_ops *k = coll_kind(d->kind);
	*out = NULL;
	return k->lookup ? k->lookup(mount_of_vfs(v), d, name, out, neg) : -ENOTDIR;
}

static int coll_list(struct vfs *v, struct node *d, struct vfs_list *s)
{
	const struct kind_ops *k = coll_kind(d->kind);
	return k->snap ? k->snap(mount_of_vfs(v), d, s) : -ENOTDIR;
}

static bool coll_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		       char *name, size_t len, struct node **n)
{
	const struct kind_ops *k = coll_kind(d->kind);
	return k->entry && k->entry(mount_of_vfs(v), d, s, i, name, len, n);
}

/* Their reads answer the request themselves. */
static int coll_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	const struct kind_ops *k = coll_kind(n->kind);
	int rc = k->read ? k->read(mount_of_vfs(v), rd->req, n, size, off) : -EISDIR;
	rd->replied = rc == 0;
	return rc;
}

static const struct vfs_ops coll_dir = {
	.attr = coll_attr,
	.lookup = coll_lookup,
	.list = coll_list,
	.entry = coll_entry,
	.xattrs = vfs_coll_xattrs,
	.takes_names = true,
};

static const struct vfs_ops coll_single = {
	.attr = coll_attr,
	.read = coll_read,
	.xattrs = vfs_coll_xattrs,
};

static const struct vfs_ops coll_record = {
	.attr = coll_attr,
	.read = coll_read,
	.xattrs = vfs_record_xattrs,
};

static const struct vfs_ops coll_local = {
	.attr = coll_attr,
	.read = coll_read,
};

void kinds_bind(struct mount *m)
{
	struct vfs *v = &m->vfs;
	v->inodes = m->inodes;
	v->cache = m->cache;
	v->events = m->events;
	v->save = m->save;
	v->status = &m->status;
	vfs_set_ops(v, N_COLL, &coll_dir);
	vfs_set_ops(v, N_SINGLE, &coll_single);
	vfs_set_ops(v, N_JSON, &coll_record);
	vfs_set_ops(v, N_PDF, &coll_record);
	vfs_set_ops(v, N_SCRATCH, &coll_local);
	vfs_set_ops(v, N_NEW, &coll_local);
}
