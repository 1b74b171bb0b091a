/* save_i: the save machine's state, shared by the files that make it up.
 *
 * ns/save.h is the interface; save.c holds the life cycle, and the rest is
 * split by concern: save_state (the transition table), save_target (what a
 * save targets), save_effects (what the kernel is told), save_seen and
 * save_notice (what the mount remembers of records), save_text (a text and
 * its limits), save_write (reads and writes of a node), save_keep (the
 * journal kept in agreement with the texts), save_restore (the journal read
 * back), save_commit (a commit: send, take), save_delete (a record's delete)
 * and save_names (create, unlink, link, rename).  The files that work on the
 * machine's state (struct save, and a node's struct text) include this
 * header; save_state, save_target, save_effects, save_seen and save_notice
 * know nothing of it.
 */
#ifndef FACTUURFS_NS_SAVE_I_H
#define FACTUURFS_NS_SAVE_I_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "ns/inode.h"
#include "ns/save_notice.h"
#include "ns/save_seen.h"
#include "ns/save_state.h"

struct cache;
struct deleted;
struct events;
struct journal;
struct times;
struct wb;
struct wb_pending;

/* What a user wrote into a node, and where its save stands. */
struct text {
	char *data;
	size_t len, cap;
	unsigned long gen;          /* bumped by every change */
	enum save_state state;
	unsigned long sent_gen;     /* the gen of the text the last commit sent */
	int sent_rc;                /* and how it ended: what a waiting FLUSH reports */
	char *error;                /* REFUSED, UNANSWERED: why (user.factuurfs.error) */
	struct wb_pending *pending; /* UNANSWERED: the POST that got no answer */
	_Atomic size_t *total;      /* its mount's bytes reserved by every text (struct save) */
	unsigned long steps;        /* bumped by every change of state */
	/* A record's text: the version of the record it started from (pythonic text,
	 * malloc'd; NULL: not known), which its save merges against (wb_edit): the
	 * record as the mount served it when the text began, then what the last save
	 * left (struct wb_bases).  Journaled with the text. */
	char *base;
	size_t base_len;
	char *jfile;                /* the journal file its entry went to, or NULL */
	unsigned long jsteps;       /* the steps and gen of what that entry holds */
	unsigned long jgen;
	/* Nonzero: a write past SAVE_TEXT_MAX was refused, and this is the end it asked
	 * for.  The text holds only the start of what was written, which is not the
	 * user's text: it is never sent nor journaled (cleared by a truncation to 0). */
	size_t cut;
};

struct save {
	struct inodes *inodes;
	struct cache *cache;
	struct wb *wb;
	struct events *events;
	double (*now)(void);
	pthread_mutex_t lock; /* protects every node's text (node->text), orphans,
				 notices, seen */
	pthread_cond_t done;  /* broadcast when a send ends */
	/* The journal (NULL: none, -o nodiskcache).  jlock orders its writes:
	 * taken before s->lock, never while holding it, and held across the
	 * disk write so that an older state never lands after a newer one. */
	struct journal *journal;
	pthread_mutex_t jlock;
	/* Deletes (save_set_deletes): where deleted records are kept (NULL: nowhere),
	 * and whether a collection's delete_guard may be passed. */
	struct deleted *deleted;
	bool allow_guarded;
	struct times *times; /* save_set_times, or NULL */
	struct save_notices notices;
	/* Journal files of texts dropped since (save_text_drop): removed by the
	 * next save_keep(). */
	char **orphans;
	size_t norphans, orphans_cap;
	/* The journal's created names (journal_made_file) this mount keeps: the
	 * names its POSTs (or a mount killed before it) made records of.  They go
	 * at rm of the name and when the mount ends cleanly (save_end).
	 * Protected by jlock. */
	char **made;
	size_t nmade, made_cap;
	/* Bytes reserved by every text: atomic, since a text is freed with the
	 * inode table's lock held (save_text_free), where ours may not be taken. */
	_Atomic size_t texts_total;
	struct save_seen seen;
};

#endif
