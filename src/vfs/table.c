/* table: the node operations of every kind, and the calls through them (see vfs.h). */
#include "vfs/vfs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ns/save.h"


/* The kinds, one table each. */
static const struct vfs_ops *const own[N_KINDS] = {
	[N_ROOT] = &vfs_root,
	[N_CTL] = &vfs_ctl,
	[N_STATUS] = &vfs_status,
	[N_REFRESH] = &vfs_refresh,
	[N_COLL] = &vfs_coll,
	[N_SINGLE] = &vfs_single,
	[N_JSON] = &vfs_record,
	[N_PDF] = &vfs_pdf,
	[N_SCRATCH] = &vfs_local,
	[N_NEW] = &vfs_local,
	[N_VIEWS] = &vfs_views,
	[N_VGROUP] = &vfs_vgroup,
	[N_VDIR] = &vfs_vdir,
	[N_VLINK] = &vfs_vlink,
	[N_EXPORTS] = &vfs_exports,
	[N_EXPORT] = &vfs_export,
	[N_TEMPLATES] = &vfs_templates,
	[N_TEMPLATE] = &vfs_template,
	[N_DELDIR] = &vfs_deldir,
	[N_DELCOLL] = &vfs_delcoll,
	[N_DELFILE] = &vfs_delfile,
	[N_SEARCH] = &vfs_search,
	[N_SAREA] = &vfs_sarea,
	[N_SDIR] = &vfs_sdir,
	[N_SLINK] = &vfs_slink,
};

int vfs_init(struct vfs *v, uid_t uid, gid_t gid, time_t started)
{
	memset(v, 0, sizeof(*v));
	v->uid = uid;
	v->gid = gid;
	v->started = started;
	memcpy(v->ops, own, sizeof(v->ops));
	int rc = pthread_mutex_init(&v->status_file.lock, NULL);
	if (rc == 0 && (rc = pthread_mutex_init(&v->pdf_reads.lock, NULL)) != 0)
		pthread_mutex_destroy(&v->status_file.lock);
	if (rc == 0 && (rc = pthread_cond_init(&v->pdf_reads.done, NULL)) != 0) {
		pthread_mutex_destroy(&v->pdf_reads.lock);
		pthread_mutex_destroy(&v->status_file.lock);
	}
	return -rc;
}

void vfs_fini(struct vfs *v)
{
	struct vfs_status_file *f = &v->status_file;
	while (f->versions) {
		struct vfs_status_version *s = f->versions;
		f->versions = s->next;
		free(s->text);
		free(s);
	}
	pthread_mutex_destroy(&f->lock);
	pthread_cond_destroy(&v->pdf_reads.done);
	pthread_mutex_destroy(&v->pdf_reads.lock);
}

void vfs_set_ops(struct vfs *v, enum node_kind kind, const struct vfs_ops *ops)
{
	if (kind < N_KINDS)
		v->ops[kind] = ops;
}

const struct vfs_ops *vfs_ops_of(const struct vfs *v, enum node_kind kind)
{
	static const struct vfs_ops none;
	return kind < N_KINDS && v->ops[kind] ? v->ops[kind] : &none;
}

int vfs_node_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	*timeout = VFS_FOREVER;
	return k->attr ? k->attr(v, n, st, timeout) : -ENOENT;
}

int vfs_node_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	rd->data = rd->owned = NULL;
	rd->held = NULL;
	rd->len = 0;
	rd->attrs_stale = false;
	rd->v = NULL;
	rd->counted = NULL;
	return k->read ? k->read(v, n, size, off, rd) : -EISDIR;
}

fuse_ino_t vfs_parent(const struct vfs *v, const struct node *d)
{
	const struct vfs_ops *k = vfs_ops_of(v, d->kind);
	return k->parent ? k->parent(d) : INO_ROOT;
}

void vfs_put(struct vfs *v, struct node *n)
{
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	if (k->put)
		k->put(v, n);
}

bool vfs_takes_names(const struct vfs *v, const struct node *d)
{
	return vfs_ops_of(v, d->kind)->takes_names;
}

size_t vfs_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x)
{
	size_t nx = 0;
	char *error = save_error(v->save, n);
	if (error) {
		x[nx].name = VFS_XATTR_PREFIX "error";
		snprintf(x[nx++].value, sizeof(x->value), "%s", error);
		free(error);
	}
	const struct vfs_ops *k = vfs_ops_of(v, n->kind);
	if (k->xattrs)
		nx += k->xattrs(v, n, x + nx);
	return nx;
}
