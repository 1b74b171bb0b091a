/* fs: the table of FUSE operations and the life of a mount (see fs.h).
 *
 * The table below is the table of contents of the filesystem: each operation
 * lives in the file named beside it.
 */
#include "fuse/fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/who.h"
#include "net/api.h"
#include "fuse/mount.h"

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	if (conn->capable & FUSE_CAP_NO_OPEN_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPEN_SUPPORT;
	if (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* A changed size or mtime drops cached pages and cached directory
	 * entries: this is how a TTL refresh reaches the kernel's caches. */
	if (conn->capable & FUSE_CAP_AUTO_INVAL_DATA)
		conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
	/* Under no-open the default atomic O_TRUNC is silently lost
	 * (docs/ARCHITECTURE.md): let O_TRUNC arrive as a SETATTR of size 0. */
	conn->want &= ~FUSE_CAP_ATOMIC_O_TRUNC;
}

/* The session ends cleanly (unmount, SIGTERM; never after kill -9): what the
 * journal keeps only for a crash goes (ns/save.h). */
static void fs_destroy(void *userdata)
{
	struct mount *m = userdata;
	save_end(m->save);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.lookup = fs_lookup,             /* dir.c */
	.forget = fs_forget,             /* dir.c */
	.forget_multi = fs_forget_multi, /* dir.c */
	.getattr = fs_getattr,           /* attr.c */
	.setattr = fs_setattr,           /* attr.c */
	.open = fs_open,                 /* io.c */
	.opendir = fs_opendir,           /* dir.c */
	.read = fs_read,                 /* io.c, by the node's kind */
	.write = fs_write,               /* io.c */
	.flush = fs_flush,               /* io.c: the commit */
	.fsync = fs_fsync,               /* io.c: the commit */
	.readdir = fs_readdir,           /* dir.c, by the node's kind */
	.readdirplus = fs_readdirplus,   /* dir.c */
	.create = fs_create,             /* names.c */
	.mkdir = fs_mkdir,               /* names.c */
	.mknod = fs_mknod,               /* names.c */
	.symlink = fs_symlink,           /* names.c */
	.link = fs_link,                 /* names.c */
	.unlink = fs_unlink,             /* names.c */
	.rmdir = fs_rmdir,               /* names.c */
	.rename = fs_rename,             /* names.c */
	.readlink = fs_readlink,         /* dir.c */
	.getxattr = fs_getxattr,         /* xattr.c */
	.listxattr = fs_listxattr,       /* xattr.c */
	.setxattr = fs_setxattr,         /* xattr.c */
	.removexattr = fs_removexattr,   /* xattr.c */
	.ioctl = fs_ioctl,               /* control.c */
};

/* The save machine over the mount's inodes, and what it keeps: the deleted
 * records, the journal's texts back as they were.  0 or -errno. */
static int make_save(struct mount *m, const struct mount_parts *p)
{
	m->wb.cache = p->cache;
	m->wb.api = p->api;
	struct save_config scfg = {
		.inodes = m->inodes, .cache = p->cache, .wb = &m->wb, .events = p->events,
	};
	int rc = save_new(&m->save, &scfg);
	if (rc < 0)
		return rc;
	save_set_deletes(m->save, p->deleted, p->allow_invoice_delete);
	m->vfs.times = p->times;
	save_set_times(m->save, p->times);
	/* Unsaved texts of earlier mounts (refused, unanswered, waiting) show
	 * again, offline too (read-only then). */
	if (p->journal_dir && (rc = save_journal_open(m->save, p->journal_dir)) < 0)
		log_msg(LOG_WARNING, "journal %s: %s; unsaved texts are kept in memory only",
			p->journal_dir, log_strerror(-rc));
	return 0;
}

int fs_new(struct mount **out, const struct mount_parts *p)
{
	struct mount *m = calloc(1, sizeof(*m));
	size_t nfixed = 0;
	*out = NULL;
	if (!m)
		return -ENOMEM;
	m->ttl = p->ttl;
	m->readonly = p->readonly;
	m->started = p->started;
	m->uid = getuid();
	m->gid = getgid();
	m->api = p->api;
	m->cache = p->cache;
	m->events = p->events;
	m->status = p->status;
	int rc = vfs_init(&m->vfs, m->uid, m->gid, m->started);
	/* Only the node operations read these: theirs alone. */
	m->vfs.pdfs = p->pdfs;
	m->vfs.views = p->views;
	m->vfs.exports = p->exports;
	m->vfs.search = p->search;
	m->vfs.deleted = p->deleted;
	struct inode_fixed *fixed = rc == 0 ? vfs_fixed(&nfixed) : NULL;
	rc = rc < 0 ? rc : fixed ? inodes_new(&m->inodes, fixed, nfixed, save_text_free) : -ENOMEM;
	free(fixed);
	if (rc == 0)
		rc = make_save(m, p);
	if (rc < 0) {
		fs_free(m);
		return rc;
	}
	/* Every module is the mount's now: the node operations may read them. */
	m->vfs.inodes = m->inodes;
	m->vfs.api = m->api;
	m->vfs.cache = m->cache;
	m->vfs.events = m->events;
	m->vfs.save = m->save;
	m->vfs.status = &m->status;
	*out = m;
	return 0;
}

int fs_start(struct mount *m, struct fuse_session *se, struct who_mount *who)
{
	m->se = se;
	m->who = who;
	return m->kernel ? 0 : kernel_new(&m->kernel, se);
}

void fs_stop(struct mount *m)
{
	if (!m)
		return;
	kernel_free(m->kernel);
	m->kernel = NULL;
	m->se = NULL;
}

void fs_free(struct mount *m)
{
	if (!m)
		return;
	kernel_free(m->kernel);
	who_mount_free(m->who);
	inodes_free(m->inodes);
	save_free(m->save);
	vfs_fini(&m->vfs);
	free(m);
}

/* Invalidates the kernel's view of one record file whose content changed or
 * that went away (queued: this runs below any operation that lists). */
static void notify_record(struct mount *m, fuse_ino_t dir, const struct schema_collection *c,
			  enum node_kind kind, const struct cache_record *r, bool gone)
{
	struct node *n = inode_find_record(m->inodes, c, kind, r->id);
	if (!n)
		return; /* the kernel never saw it */
	if (gone) {
		char name[1024];
		const char *suffix = vfs_ops_of(&m->vfs, kind)->suffix;
		snprintf(name, sizeof(name), "%s%s", r->stem, suffix ? suffix : "");
		kernel_inval_entry(m->kernel, dir, name);
	} else {
		kernel_inval(m->kernel, n->ino, false);
	}
}

void fs_listing_changed(struct mount *m, const struct schema_collection *c,
			const struct cache_listing *old, const struct cache_listing *cur)
{
	fuse_ino_t dir = inode_coll_ino(c);
	/* Drops cached directory content (or balance.json's).  Not for a first
	 * listing: nothing of the directory was shown before it (a lookup or a
	 * readdir lists it first, and its time is the listing's), and a notice
	 * that lands while the kernel fills its readdir cache from the very
	 * readdir that listed it drops a page under the fill, which leaves that
	 * cache never complete: every later `ls` reads the directory again. */
	if (old)
		kernel_inval(m->kernel, dir, false);
	if (c->feeds_views)
		kernel_inval_views(m, false);
	if (c->single || !old)
		return;
	for (size_t i = 0; i < old->n; i++) {
		const struct cache_record *r = old->recs[i];
		ssize_t pos = cache_listing_find(cur, r->id);
		bool gone = pos < 0;
		if (!gone && cur->recs[pos]->len == r->len && !strcmp(cur->recs[pos]->text, r->text))
			continue;
		notify_record(m, dir, c, N_JSON, r, gone);
		if (gone && c->pdf_path)
			notify_record(m, dir, c, N_PDF, r, true);
	}
}

void fs_refresh(struct mount *m)
{
	control_refresh_all(m);
}
