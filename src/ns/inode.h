/* inode: the inode table of a mount, and the names in it that are not
 * records' (docs/ARCHITECTURE.md, "namespace").
 *
 * Every file the kernel knows is a node with a stable inode number: a
 * (collection, kind, identifier) triple keeps its number for the life of the
 * mount, and fixed nodes (the root, .factuurfs, the collections, views/ ...)
 * keep theirs on every mount.  Besides records, a collection directory holds
 * local names: scratch files (editor backups, swap files, temporary names)
 * that never reach the API, new files that become records when committed,
 * the name a created record was written under (usable, not listed), and a
 * record's name held for the save that follows an unlink (mv).
 *
 * One table per mount.  Its lock is private: every function takes it, and it
 * is never held across a call.  What the user wrote into a node (its text)
 * belongs to the save machine (ns/save_text.h), which frees it through the
 * hook given here.
 */
#ifndef FACTUURFS_NS_INODE_H
#define FACTUURFS_NS_INODE_H

/* 3.12: the fuse_loop_cfg_* interface of fuse_session_loop_mt. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "model/schema.h"

enum {
	INO_ROOT = 1, INO_CTL, INO_STATUS, INO_REFRESH,
	INO_VIEWS,              /* views/ */
	INO_VGROUP0,            /* views/status, year, client, quarter (views.h order) */
	INO_EXPORTS = INO_VGROUP0 + 4,
	INO_EXPORT0,            /* exports/<file>, export.h order */
	INO_COLL0 = 16,         /* the collections, in the dictionary's order */
	INO_TEMPLATES = INO_COLL0 + 64, /* templates/ */
	INO_TEMPLATE0,          /* templates/<collection>.json, templates.h order */
	INO_DELETED = INO_TEMPLATES + 64, /* .factuurfs/deleted/ */
	INO_DELCOLL0,           /* .factuurfs/deleted/<collection>/, the dictionary's order */
	INO_SEARCH = INO_DELETED + 64, /* search/ */
	INO_SAREA0,             /* search/<area>/, schema_search_area_at order */
	INO_DYNAMIC = 4096      /* records, local files and view entries from here */
};

/* What a node is.  Each kind has a table of node operations
 * (vfs/vfs.h); only local files change kind (ns/save_commit.c,
 * ns/save_names.c). */
enum node_kind {
	N_ROOT,
	N_CTL,      /* .factuurfs/ */
	N_STATUS,   /* .factuurfs/status */
	N_REFRESH,  /* .factuurfs/refresh */
	N_COLL,     /* a collection directory */
	N_SINGLE,   /* balance.json */
	N_JSON,     /* a record */
	N_PDF,      /* an invoice's PDF */
	N_SCRATCH,  /* a local file that never reaches the API */
	N_NEW,      /* a local *.json file that a commit turns into a record (or a payment) */
	N_VIEWS,    /* views/ */
	N_VGROUP,   /* views/<group>/: sub is the views_group */
	N_VDIR,     /* views/<group>/<id>/: sub is the group, parent its group's inode */
	N_VLINK,    /* a symlink <stem>.json|.pdf in a view: id the invoice, sub 1 for the
		       PDF, parent the view directory's inode */
	N_EXPORTS,  /* exports/ */
	N_EXPORT,   /* exports/<file>: sub is the export's index */
	N_TEMPLATES,/* templates/ */
	N_TEMPLATE, /* templates/<collection>.json: sub is the template's index */
	N_DELDIR,   /* .factuurfs/deleted/ */
	N_DELCOLL,  /* .factuurfs/deleted/<collection>/ */
	N_DELFILE,  /* a record kept there (store/deleted.h): id its file name */
	N_SEARCH,   /* search/ */
	N_SAREA,    /* search/<area>/: c the area's collection */
	N_SDIR,     /* search/<area>/<query>/: id the name as looked up, parent the area */
	N_SLINK,    /* a symlink <stem>.json|.pdf in it: id the record, sub 1 for the PDF,
		       parent the query's directory */
	N_KINDS
};

struct text; /* ns/save_i.h (the save machine's own) */

struct node {
	fuse_ino_t ino;                      /* fixed */
	_Atomic int kind;                    /* enum node_kind: local files change it */
	const struct schema_collection *_Atomic c; /* N_COLL, records and local files */
	char *_Atomic id;   /* records: the identifier; set once, never freed before the node */
	char *key;          /* unique: "<collection>/<kind>/<id>", "local/<ino>", "view/..." */
	int sub;            /* view, export and template nodes: see enum node_kind */
	fuse_ino_t parent;  /* N_VDIR, N_VLINK */
	/* Protected by the table's lock: */
	uint64_t nlookup;   /* kernel references */
	bool unlinked;      /* a local file whose name is gone: freed at the last forget */
	bool busy;          /* a commit of it is in flight: kept until it ends */
	mode_t mode;        /* local files: as chmod set it */
	struct timespec mtime; /* local files */
	/* Protected by the save machine's lock (ns/save_i.h): */
	struct text *text;  /* what the user wrote; NULL: the record's own text */
	/* Protected by the FUSE layer's read lock (fuse/io.c): */
	unsigned reads;     /* N_PDF: READs being answered */
	UT_hash_handle hh_ino, hh_key;
};

/* A name in a collection directory that is not (only) a record's name. */
enum lentry_flags {
	LE_HIDDEN = 1,      /* the name a created record was written under: usable, not listed */
	LE_REPLACING = 2,   /* a record's own name, unlinked by a program that writes it
			       anew (mv): "no such file" until a create, or its hold, ends */
};

struct inodes;

/* A fixed node: made by inodes_new, the same number on every mount. */
struct inode_fixed {
	fuse_ino_t ino;
	enum node_kind kind;
	const struct schema_collection *c;
	int sub;
	char key[96];       /* unique, e.g. "/views/status" */
};

/* The table of a mount with its @n fixed nodes; @text_free frees a node's
 * text when the node goes (called with the table's lock held: it must not
 * take locks of its own).  0 or -errno. */
int inodes_new(struct inodes **out, const struct inode_fixed *fixed, size_t n,
	       void (*text_free)(struct text *));
void inodes_free(struct inodes *t);

/* The node of @ino, or NULL; it lives until the kernel forgets it. */
struct node *inode_get(struct inodes *t, fuse_ino_t ino);
/* The node of record @id of @c (N_JSON or N_PDF), made on first sight. */
struct node *inode_record(struct inodes *t, const struct schema_collection *c,
			  enum node_kind kind, const char *id);
/* The same, or NULL when the kernel was never shown it. */
struct node *inode_find_record(struct inodes *t, const struct schema_collection *c,
			       enum node_kind kind, const char *id);
/* The directory inode of @c (fixed). */
fuse_ino_t inode_coll_ino(const struct schema_collection *c);
/* The node of view entry @id (a directory name, or an invoice id for
 * N_VLINK) under directory @parent: made on first sight, its number kept for
 * the mount. */
struct node *inode_view(struct inodes *t, enum node_kind kind, fuse_ino_t parent, int sub,
			const struct schema_collection *c, const char *id);
/* The inode numbers of every view directory and export the kernel was shown
 * (malloc'd array, count in *@n): their content follows other listings. */
fuse_ino_t *inode_view_dirs(struct inodes *t, size_t *n);

void inode_ref(struct inodes *t, struct node *n);
/* Drops @nlookup references; frees an unlinked local node at zero. */
void inode_forget(struct inodes *t, fuse_ino_t ino, uint64_t nlookup);

/* Local names.  @parent is a collection directory's inode. */
struct node *inode_local_new(struct inodes *t, enum node_kind kind,
			     const struct schema_collection *c, mode_t mode);
/* The node named @name in @parent by a local entry, or NULL; *@flags gets
 * its lentry_flags and *@until its hold (CLOCK_MONOTONIC, LE_REPLACING);
 * either may be NULL. */
struct node *inode_local(struct inodes *t, fuse_ino_t parent, const char *name, int *flags,
			 double *until);
/* Names @n as @name in @parent (replacing what the name held: an old local
 * node left without names is unlinked), with @flags and, for LE_REPLACING,
 * the hold @until.  0 or -ENOMEM. */
int inode_local_add(struct inodes *t, fuse_ino_t parent, const char *name, struct node *n,
		    int flags, double until);
/* Removes the local name @name of @parent; a local node without names is
 * unlinked.  True when there was one. */
bool inode_local_del(struct inodes *t, fuse_ino_t parent, const char *name);
/* The visible local names of @parent, sorted: malloc'd copies (free each,
 * then the array). */
char **inode_local_names(struct inodes *t, fuse_ino_t parent, size_t *n);
/* A name of local node @n (a visible one first), malloc'd, or NULL. */
char *inode_local_name(struct inodes *t, const struct node *n);
/* Gives local node @n the record identity (@c, @id): it becomes N_JSON, and
 * the record's node unless the record has one already.  0 or -ENOMEM. */
int inode_make_record(struct inodes *t, struct node *n, const struct schema_collection *c,
		      const char *id);
/* The reverse: record node @n becomes a local node of kind @kind, unnamed
 * (give it a name with inode_local_add).  Its number goes with it; the record
 * gets a new node at its next lookup.  Its identifier stays (set once).
 * 0 or -ENOMEM. */
int inode_detach_record(struct inodes *t, struct node *n, enum node_kind kind);
/* Gives local node @n its identifier (a payment file's invoice number) when
 * it has none: identifiers are set once. */
void inode_set_id(struct inodes *t, struct node *n, const char *id);
/* Changes a local node's kind (scratch, new). */
void inode_set_kind(struct inodes *t, struct node *n, enum node_kind kind);
/* A local file's mode and time (chmod, utime); NULL leaves one as it is. */
void inode_set_times(struct inodes *t, struct node *n, const mode_t *mode,
		     const struct timespec *mtime);
/* Its mode and time, read under the lock. */
void inode_times(struct inodes *t, struct node *n, mode_t *mode, struct timespec *mtime);
/* Marks @n's commit in flight (kept alive meanwhile) or done. */
void inode_set_busy(struct inodes *t, struct node *n, bool busy);

#endif
