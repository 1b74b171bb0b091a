/* inode: the inode table of a mount, and the local files that live in it.
 *
 * Every file the kernel knows is a node with a stable inode number: a
 * (collection, kind, identifier) triple keeps its number for the life of the
 * mount.  Besides records, a collection directory holds local files: scratch
 * files (editor backups, swap files, temporary names) that live in memory and
 * never reach the API, and new files that become records when committed.
 * A node may carry a buffer: the text a user is writing, which overrides the
 * record's own until it is committed.
 *
 * Locking: one mutex (inode_lock) protects the tables, the local entries and
 * every node's buffer; it is never held across a network call.
 */
#ifndef FACTUURFS_INODE_H
#define FACTUURFS_INODE_H

/* 3.12: the fuse_loop_cfg_* interface of fuse_session_loop_mt. */
#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uthash.h>

#include "model/schema.h"

enum {
	INO_ROOT = 1, INO_CTL, INO_STATUS, INO_REFRESH,
	INO_VIEWS,              /* views/ */
	INO_VGROUP0,            /* views/status, views/year, views/client (views.h order) */
	INO_EXPORTS = INO_VGROUP0 + 3,
	INO_EXPORT0,            /* exports/<file>, export.h order */
	INO_COLL0 = 16,
	INO_TEMPLATES = INO_COLL0 + 64, /* templates/, after room for 64 collections */
	INO_TEMPLATE0,          /* templates/<collection>.json, templates.h order */
};

enum node_kind {
	N_ROOT,
	N_CTL,
	N_STATUS,
	N_REFRESH,
	N_COLL,    /* a collection directory */
	N_SINGLE,  /* balance.json */
	N_JSON,    /* a record */
	N_PDF,     /* an invoice's PDF */
	N_SCRATCH, /* a local file that never reaches the API */
	N_NEW,     /* a local *.json file that a commit turns into a record */
	N_VIEWS,   /* views/ */
	N_VGROUP,  /* views/<group>/: sub is the views_group */
	N_VDIR,    /* views/<group>/<id>/: sub is the group, parent its group's inode */
	N_VLINK,   /* a symlink <stem>.json|.pdf in a view: id the invoice, sub 1 for the
		      PDF, parent the view directory's inode */
	N_EXPORTS, /* exports/ */
	N_EXPORT,  /* exports/<file>: sub is the export's index */
	N_TEMPLATES, /* templates/ */
	N_TEMPLATE,  /* templates/<collection>.json: sub is the template's index, c its collection */
};

struct wb_pending;

/* What a user wrote into a node, not yet accepted by the service. */
struct buffer {
	char *data;
	size_t len, cap;
	unsigned long gen;  /* bumped by every change */
	bool dirty;         /* changed since the last commit attempt */
	bool failed;        /* the last commit was refused; data is the user's text */
	char *error;        /* while failed: why (the status file's words); owned, freed
			       with the buffer; user.factuurfs.error shows it */
	struct wb_pending *pending; /* a POST that got no answer */
};

struct node {
	fuse_ino_t ino;
	enum node_kind kind;
	const struct schema_collection *c; /* N_COLL and below */
	char *id;           /* N_JSON, N_PDF: the record's identifier */
	char *key;          /* unique: "<collection>/<kind>/<id>", "local/<ino>", "view/..." */
	int sub;            /* view and export nodes: see enum node_kind */
	fuse_ino_t parent;  /* N_VDIR, N_VLINK */
	uint64_t nlookup;   /* kernel references */
	bool unlinked;      /* a local file whose name is gone: freed at the last forget */
	bool busy;          /* a commit is in flight */
	unsigned reads;     /* N_PDF: READs being answered (fs.c) */
	struct buffer *buf; /* NULL: the record's own text */
	mode_t mode;        /* local files: as chmod set it */
	struct timespec mtime; /* local files and buffers */
	UT_hash_handle hh_ino, hh_key;
};

/* A name in a collection directory that is not (only) a record's name. */
struct lentry {
	fuse_ino_t parent;
	char *name;
	struct node *node;
	bool hidden;        /* the name a created record was written under: usable, not listed */
	double replacing;   /* CLOCK_MONOTONIC until which a record's own name, unlinked by
			       a program that replaces files (mv), is "no such file" for
			       the create that follows: then an edit, not DELETE + POST */
	char *key;          /* "<parent>/<name>" */
	UT_hash_handle hh;
};

extern pthread_mutex_t inode_lock;

/* Creates the fixed nodes (root, .factuurfs, collections, views, exports, templates);
 * -errno. */
int inode_init(void);
void inode_destroy(void);

/* Lookups; called with inode_lock held unless said otherwise. */
struct node *inode_get(fuse_ino_t ino);          /* takes the lock itself */
struct node *inode_record(const struct schema_collection *c, enum node_kind kind,
			  const char *id);        /* made on first sight; takes the lock */
struct node *inode_find_record(const struct schema_collection *c, enum node_kind kind,
			       const char *id);   /* takes the lock */
struct node *inode_coll(const struct schema_collection *c); /* takes the lock */
/* The directory inode of @c (fixed: no lock needed). */
fuse_ino_t inode_coll_ino(const struct schema_collection *c);
void inode_ref(struct node *n);                  /* takes the lock */
/* The inode numbers of every view directory and export the kernel was shown
 * (malloc'd array, count in *@n): their content follows other listings. */
fuse_ino_t *inode_view_dirs(size_t *n);          /* takes the lock */
/* The node of view entry @id (a directory name, or an invoice id for
 * N_VLINK) under directory @parent: made on first sight with a number that
 * stays for the mount; takes the lock. */
struct node *inode_view(enum node_kind kind, fuse_ino_t parent, int sub,
			const struct schema_collection *c, const char *id);
/* Drops @nlookup references; frees an unlinked local node at zero. */
void inode_forget(fuse_ino_t ino, uint64_t nlookup); /* takes the lock */

/* Local files (inode_lock held). */
struct node *inode_local_new(enum node_kind kind, const struct schema_collection *c);
struct lentry *inode_lentry(fuse_ino_t parent, const char *name);
struct lentry *inode_lentry_add(fuse_ino_t parent, const char *name, struct node *n);
void inode_lentry_del(struct lentry *e); /* marks a local node unlinked if this was its name */
/* The visible local names under @parent, sorted; caller frees the array
 * (not the names, which stay the entries'). */
const char **inode_lentry_names(fuse_ino_t parent, size_t *n);
/* A name of local node @n (a visible one first), or NULL. */
const char *inode_local_name(struct node *n);
/* Gives local node @n the record identity (@c, @id): it becomes N_JSON. */
int inode_make_record(struct node *n, const struct schema_collection *c, const char *id);

/* Buffers (inode_lock held). */
/* Limits of what users write: one file (record or scratch) holds at most
 * INODE_BUFFER_MAX bytes (more: -EFBIG), all buffers together
 * INODE_BUFFERS_TOTAL_MAX (more: -ENOSPC). */
#define INODE_BUFFER_MAX ((size_t)1 << 20)
#define INODE_BUFFERS_TOTAL_MAX ((size_t)64 << 20)

struct buffer *inode_buffer(struct node *n); /* made empty on first use; NULL on ENOMEM */
/* Both return 0 or -EFBIG, -ENOSPC, -ENOMEM, -EINVAL. */
int inode_buffer_write(struct node *n, const char *data, size_t size, off_t off);
int inode_buffer_truncate(struct node *n, off_t size);
/* Makes @n's buffer hold the text of @from, a save that was just refused
 * (failed, not dirty, with @from's reason): what a refused rename leaves at
 * its target.  0 or -errno. */
int inode_buffer_keep_refused(struct node *n, const struct buffer *from);
void inode_buffer_drop(struct node *n);
/* Marks @b's last commit refused for @reason (copied), or with @reason NULL
 * taken: failed and error follow. */
void inode_buffer_set_refusal(struct buffer *b, const char *reason);

#endif
