/* vfs: what each node of a mounted account is, below FUSE.
 *
 * Every kind of node (ns/inode.h, enum node_kind) has a table of node
 * operations: its attributes and how long they hold, the child of a name, the
 * entries of a listing, the bytes of a read, its parent, its link text, its
 * extended attributes, a write it takes itself.  The rules (sizes, timeouts,
 * which names exist, what a file holds) live here, one file per kind: the
 * root and .factuurfs/ (root.c), the collections' directories, balance.json,
 * records, PDFs and local files (coll.c), views, exports and templates (views.c),
 * .factuurfs/deleted/ (deleted.c), search/ (search.c), the status and refresh
 * files (control.c).  The FUSE layer (src/fuse/) resolves an inode, calls
 * through the table and marshals the answer; nothing here knows a FUSE
 * request, so tests/unit/test_vfs.c drives these operations without a kernel.
 *
 * attr.c holds the attributes every kind builds on and the slices reads answer
 * with; table.c the table and the calls through it; xattr.c the collections'
 * extended attributes.
 */
#ifndef FACTUURFS_VFS_VFS_H
#define FACTUURFS_VFS_VFS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>

#include "feat/status.h"
#include "ns/inode.h"

struct api;
struct cache;
struct cache_listing;
struct cache_record;
struct deleted;
struct events;
struct exports;
struct pdfstore;
struct save;
struct search;
struct times;
struct views;

/* Modes: directories are their owner's; records writable where the API can
 * change them; local files keep what chmod set, within the owner's bits. */
#define VFS_DIR_MODE 0700
#define VFS_RW_MODE 0600
#define VFS_RO_MODE 0400
#define VFS_LOCAL_MODE_MASK 0700

/* Timeout for names and attributes that never change during a mount. */
#define VFS_FOREVER 86400.0

/* One rendering of the status file, on an inode of its own (control.c). */
struct vfs_status_version {
	fuse_ino_t ino;
	char *text;
	size_t len;
	struct timespec mtime;
	unsigned handed;  /* lookups and listings given its node and not yet replied */
	bool pinned;      /* holds a reference of its node: while the newest, or handed */
	struct vfs_status_version *next;
};

/* The status file's renderings a reader may still read, newest first, protected
 * by its lock (control.c). */
struct vfs_status_file {
	pthread_mutex_t lock;
	struct vfs_status_version *versions;
	double at;              /* CLOCK_MONOTONIC of the newest's render */
	unsigned long gen;      /* the events generation it shows */
};

/* The PDF reads being answered (coll.c): every node's `reads`, and woken when
 * one ends; also the reads of PDFs not fetched yet refused to text searchers,
 * and when the log last said so. */
struct vfs_pdf_reads {
	pthread_mutex_t lock;
	pthread_cond_t done;
	unsigned long searches_refused;
	double searches_logged;
};

struct vfs_ops;

/* The nodes of one mounted account and what their operations read.  The
 * modules are borrowed (the mount makes and frees them); every one has its own
 * lock, and the table is filled before the first operation and not changed
 * after. */
struct vfs {
	struct inodes *inodes;
	struct api *api;
	struct cache *cache;
	struct pdfstore *pdfs;
	struct times *times;                 /* record files' times, or NULL (store/times.h) */
	struct events *events;
	struct save *save;
	struct views *views;
	struct exports *exports;
	struct search *search;
	struct deleted *deleted;             /* may be NULL: nothing is shown deleted */
	const struct status_sources *status; /* what .factuurfs/status shows */
	/* Fixed for the mount's life. */
	uid_t uid;
	gid_t gid;
	time_t started;
	/* Owned: */
	struct vfs_status_file status_file;
	struct vfs_pdf_reads pdf_reads;
	const struct vfs_ops *ops[N_KINDS];
};

/* A directory's entries for one listing: a snapshot the kind's list fills and
 * vfs_list_free releases. */
struct vfs_list {
	size_t count;                /* entries after "." and ".." */
	struct cache_listing *l;     /* a reference, or NULL */
	char **names;                /* malloc'd copies, or NULL */
	size_t nnames;
	/* A collection's listing is read in pieces, one READDIR each (fuse/dir.c).
	 * @want is the content version the read began with, 0 when it begins now;
	 * @version is the one the kind answers from, 0 for a directory without
	 * versions; @stale says that this is not the version held now. */
	unsigned long want, version;
	bool stale;
};

/* One read: who asks, and the bytes the kind answers with, which the caller
 * replies with before vfs_read_done. */
struct vfs_read {
	pid_t pid;          /* in: the reading process */
	/* Out: @len bytes at @data; @owned (malloc'd, or NULL) and @held (a reference)
	 * are given back by vfs_read_done, and @data may point into either. */
	const char *data;
	size_t len;
	char *owned;
	struct cache_record *held;
	/* Out: the read went past the file's end while the kernel may believe another
	 * size: it is to ask for the attributes again (after the reply). */
	bool attrs_stale;
	/* A PDF read counted in @counted's `reads` until vfs_read_done (coll.c). */
	struct vfs *v;
	struct node *counted;
};

/* What a write the kind took itself changed, for the kernel's caches: every
 * listing, or the listing of one collection. */
struct vfs_dropped {
	bool all;
	const struct schema_collection *c;
};

/* An extended attribute: its full name and value. */
#define VFS_XATTR_PREFIX "user.factuurfs."
#define VFS_XATTR_MAX 6
struct vfs_xattr {
	const char *name;
	char value[512];
};

/* The operations of a kind.  Any may be NULL: the operation does not apply to
 * it (vfs_node_attr, vfs_node_read, vfs_parent and vfs_xattrs say what then).
 * Each returns 0 or -errno. */
struct vfs_ops {
	/* Attributes of @n in @st and how long they hold (*@timeout is
	 * VFS_FOREVER on the way in). */
	int (*attr)(struct vfs *v, struct node *n, struct stat *st, double *timeout);
	/* Directories: the child @name in *@out (a node of the table), or NULL with
	 * how long "no such name" holds in *@neg (VFS_FOREVER on the way in). */
	int (*lookup)(struct vfs *v, struct node *d, const char *name, struct node **out,
		      double *neg);
	/* Directories: the entries of one listing, and entry @i of it (false past
	 * the last; *@n NULL for an entry gone meanwhile).  A kind with a list is a
	 * directory: its mode and size cannot be set. */
	int (*list)(struct vfs *v, struct node *d, struct vfs_list *s);
	bool (*entry)(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		      char *name, size_t len, struct node **n);
	/* Directories: the inode ".." names (NULL: the root). */
	fuse_ino_t (*parent)(const struct node *d);
	/* Files: up to @size bytes at @off into @rd. */
	int (*read)(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd);
	/* A write the kind takes itself instead of the save machine (ns/save.h), and
	 * what it changed.  Such a kind has no text to truncate, and takes its writes
	 * offline too (they change nothing remote). */
	int (*write)(struct vfs *v, struct node *n, const char *buf, size_t size, off_t off,
		     struct vfs_dropped *dropped);
	/* Symlinks: what @n points at (malloc'd), NULL on ENOMEM; called after its
	 * attr said it is still there. */
	char *(*link)(struct vfs *v, struct node *n);
	/* Its extended attributes besides the save's error (at most VFS_XATTR_MAX - 1),
	 * into @x; their count. */
	size_t (*xattrs)(struct vfs *v, struct node *n, struct vfs_xattr *x);
	/* A node lookup or list handed out, given back once the reply that carried it
	 * is sent (the kernel holds its own reference then). */
	void (*put)(struct vfs *v, struct node *n);
	/* Files whose size is not known until fetched (a PDF, a record its listing
	 * carries in part: their attr shows a placeholder): whether @n's is not,
	 * without a call; and the fetch that makes it true for reader @pid. */
	bool (*size_unknown)(struct vfs *v, struct node *n);
	int (*fetch_size)(struct vfs *v, struct node *n, pid_t pid);
	/* Files that keep a mode and times set on them: @mode (within
	 * VFS_LOCAL_MODE_MASK) and @mtime, either NULL when not set. */
	void (*set_times)(struct vfs *v, struct node *n, const mode_t *mode,
			  const struct timespec *mtime);
	/* Record files: what their name has after the record's stem (".json"). */
	const char *suffix;
	/* Directories that take new names (create, unlink, rename: ns/save.h). */
	bool takes_names;
	/* Its name holds a listing's TTL even while its attributes do not (a PDF of
	 * unknown size, asked again every time: its name is in the listing). */
	bool name_keeps;
	/* Its name is looked up again at every open, even when it came in a
	 * listing: entry timeout 0. */
	bool name_every_open;
};

/* The tables of the kinds, one per file. */
extern const struct vfs_ops vfs_root, vfs_ctl, vfs_status, vfs_refresh;
extern const struct vfs_ops vfs_coll, vfs_single, vfs_record, vfs_pdf, vfs_local;
extern const struct vfs_ops vfs_views, vfs_vgroup, vfs_vdir, vfs_vlink;
extern const struct vfs_ops vfs_exports, vfs_export, vfs_templates, vfs_template;
extern const struct vfs_ops vfs_deldir, vfs_delcoll, vfs_delfile;
extern const struct vfs_ops vfs_search, vfs_sarea, vfs_sdir, vfs_slink;

/* ---- the mount's table (table.c) ---------------------------------------------------- */

/* @v zeroed, with the kinds of this layer in its table and its owner and start time;
 * the caller sets the modules.  0 or -errno. */
int vfs_init(struct vfs *v, uid_t uid, gid_t gid, time_t started);
/* Frees what @v owns (the status renderings); the modules are the caller's. */
void vfs_fini(struct vfs *v);
/* Puts @ops in the table for @kind in place of this layer's (a test's stand-in). */
void vfs_set_ops(struct vfs *v, enum node_kind kind, const struct vfs_ops *ops);
/* The operations of @kind (never NULL: an empty table for a kind without). */
const struct vfs_ops *vfs_ops_of(const struct vfs *v, enum node_kind kind);
/* The fixed nodes of every mount (for inodes_new), malloc'd; count in *@n (root.c). */
struct inode_fixed *vfs_fixed(size_t *n);

/* Attributes of @n, or -ENOENT for a kind without. */
int vfs_node_attr(struct vfs *v, struct node *n, struct stat *st, double *timeout);
/* A read of @n (-EISDIR for a kind without); vfs_read_done frees what it holds. */
int vfs_node_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd);
/* The inode ".." of directory @d names. */
fuse_ino_t vfs_parent(const struct vfs *v, const struct node *d);
/* Gives back a node a lookup or a listing handed out (vfs_ops.put). */
void vfs_put(struct vfs *v, struct node *n);
/* Whether directory @d takes new names (vfs_ops.takes_names). */
bool vfs_takes_names(const struct vfs *v, const struct node *d);

/* ---- what the kinds answer with (attr.c) ------------------------------------------------ */

/* Attributes of a directory, a regular file and a symlink (of @len bytes), owned by
 * the mount's user, with mtime @mtime. */
void vfs_attr_dir(const struct vfs *v, struct stat *st, fuse_ino_t ino, time_t mtime);
void vfs_attr_file(const struct vfs *v, struct stat *st, fuse_ino_t ino, mode_t mode,
		   off_t size, time_t mtime);
void vfs_attr_link(const struct vfs *v, struct stat *st, fuse_ino_t ino, size_t len,
		   time_t mtime);
/* The text of link @n to a record of its collection (n->c, n->id; n->sub: to its PDF):
 * "../../../<collection>/<stem>.json".  A view's and a search result's links are
 * both three levels down, so the text is relative and works wherever the mount is.
 * malloc'd; NULL on ENOMEM.  (vfs_ops.link of both kinds.) */
char *vfs_record_link(struct vfs *v, struct node *n);
/* The attributes of link @n to a record listed in @l (NULL: none): -ENOENT when @l
 * does not hold it; its time the record's date, held as long as @l.  (The attr of
 * views' and search results' links, each with the listing it is in.) */
int vfs_listed_link_attr(struct vfs *v, struct node *n, const struct cache_listing *l,
			 struct stat *st, double *timeout);
/* A symlink is not read (readlink is): -EINVAL.  (vfs_ops.read of the link kinds.) */
int vfs_link_read(struct vfs *v, struct node *n, size_t size, off_t off, struct vfs_read *rd);

/* The bytes @off to @off + @size of @len at @text into @rd: copied (0 or -ENOMEM),
 * or, with vfs_slice_take, taking @text over (malloc'd; freed by vfs_read_done). */
int vfs_slice_copy(struct vfs_read *rd, const char *text, size_t len, size_t size, off_t off);
void vfs_slice_take(struct vfs_read *rd, char *text, size_t len, size_t size, off_t off);
/* The same from record @r, whose reference @rd takes over (given back by vfs_read_done). */
void vfs_slice_hold(struct vfs_read *rd, struct cache_record *r, size_t size, off_t off);
void vfs_read_done(struct vfs_read *rd);
void vfs_list_free(struct vfs_list *s);
/* A directory of links to records of @c (views/<group>/<name>/, search/<area>/<query>/):
 * <stem>.json, and <stem>.pdf where @c has PDFs, for each record of the listing
 * @listing gives, as nodes inode_view makes of @kind under @d (sub 1: the PDF's).
 * Its lookup (a name of no record: *@neg untouched; of one not listed: held as long
 * as the listing), its list's count (from @rc, @listing's answer into s->l), and its
 * entry @i.  vfs_node_parent: a ".." kept in the node (d->parent). */
int vfs_links_lookup(struct vfs *v, struct node *d, const char *name, enum node_kind kind,
		     const struct schema_collection *c,
		     int (*listing)(struct vfs *v, const struct node *d, struct cache_listing **l),
		     struct node **out, double *neg);
int vfs_links_count(struct vfs_list *s, const struct schema_collection *c, int rc);
bool vfs_links_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		     char *name, size_t len, struct node **n, enum node_kind kind,
		     const struct schema_collection *c);
fuse_ino_t vfs_node_parent(const struct node *d);
/* A directory whose entries are names (s->names): their count set in @s, @rc passed
 * back (the list of views/<group>/ and search/<area>/); and its entry @i, the node
 * inode_view makes of @kind, @sub and @c under @d (their entry). */
int vfs_names_count(struct vfs_list *s, int rc);
bool vfs_names_entry(struct vfs *v, struct node *d, const struct vfs_list *s, size_t i,
		     char *name, size_t len, struct node **n, enum node_kind kind, int sub,
		     const struct schema_collection *c);

/* ---- extended attributes (table.c, xattr.c) -------------------------------------------- */

/* The extended attributes of @n into @x (VFS_XATTR_MAX of them): why its last save
 * was refused, then its kind's.  Their count (table.c). */
size_t vfs_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x);
/* The xattrs of a collection's directory and balance.json, and of records and PDFs
 * (the collections' tables, coll.c). */
size_t vfs_coll_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x);
size_t vfs_record_xattrs(struct vfs *v, struct node *n, struct vfs_xattr *x);

/* ---- the control files (control.c) --------------------------------------------------- */

/* The node .factuurfs/status names now: the newest rendering, or a new one on an
 * inode of its own (see control.c); NULL on ENOMEM.  The node stays until the
 * caller, having replied with it, gives it back (vfs_put). */
struct node *vfs_status_node(struct vfs *v);
/* What a write of @text (@len bytes) to .factuurfs/refresh drops: the listing of the
 * collection a path names, or every listing; said in @dropped. */
void vfs_refresh_path(struct vfs *v, const char *text, size_t len, struct vfs_dropped *dropped);
/* Drops every cached listing (SIGHUP, a refresh that names no collection). */
void vfs_refresh_all(struct vfs *v);

#endif
