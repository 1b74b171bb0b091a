/* save: what users write, and when it reaches the service (see save.h). */
#include "ns/save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/events.h"
#include "base/log.h"
#include "base/names.h"
#include "base/who.h"
#include "feat/writeback.h"
#include "ns/dir.h"
#include "ns/journal.h"
#include "model/jsontext.h"
#include "store/cache.h"
#include "store/deleted.h"
#include "store/times.h"

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

/* Events of a text's life (the columns of the transition table). */
enum save_event {
	EV_WRITE,   /* write, truncate */
	EV_SEND,    /* a commit sends it */
	EV_TAKEN,   /* the service took it */
	EV_REFUSED, /* refused: bad text, the service said no, no connection */
	EV_LOST,    /* a POST of it got no answer */
	EV_UNSENT,  /* a template as it is: not sent */
	EV_NEWER,   /* the outcome came for a text written over meanwhile */
	SAVE_NEVENTS
};

#define X SAVE_NSTATES /* no such transition: a bug, logged, state kept */

/* The transition table: the state a text goes to on each event.  A commit
 * with nothing to send (CLEAN, WAITING, a REFUSED text closed again without
 * fsync) is no event.  The outcome of a send of a text written over while it
 * ran is EV_NEWER: the newer text is still to be sent. */
static const enum save_state transitions[SAVE_NSTATES][SAVE_NEVENTS] = {
	/*                 WRITE        SEND          TAKEN       REFUSED       LOST             UNSENT        NEWER */
	[SAVE_CLEAN]      = {SAVE_EDITED, X,            X,          X,            X,               X,            X},
	[SAVE_EDITED]     = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_SENDING]    = {SAVE_SENDING, X,           SAVE_CLEAN, SAVE_REFUSED, SAVE_UNANSWERED, SAVE_WAITING, SAVE_EDITED},
	[SAVE_REFUSED]    = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_UNANSWERED] = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_WAITING]    = {SAVE_EDITED, X,            X,          X,            X,               X,            X},
};

static const char *const save_state_names[SAVE_NSTATES] = {
	"clean", "edited", "sending", "refused", "unanswered", "waiting",
};

/* A version of a record a user here may be editing from: a text the mount served
 * to a read or began a text from, a base a conflict left (see struct save). */
struct seen {
	const struct schema_collection *c;
	char *id;
	char *text;
	size_t len;
	unsigned long serial; /* higher: newer */
};

/* How many such versions a mount keeps, of all records together (a few KiB each). */
#define SAVE_SEEN 512

struct save {
	struct inodes *inodes;
	struct cache *cache;
	struct wb *wb;
	struct events *events;
	double (*now)(void);
	pthread_mutex_t lock; /* protects every node's text (node->text), orphans */
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
	/* What the last save of a record the service took left unsaid but must be
	 * told (fields it sets, ignored): the node's user.factuurfs.error until it is
	 * written again, newest last; protected by lock. */
	struct {
		fuse_ino_t ino;
		char *text;
	} notices[SAVE_NOTICES];
	size_t nnotices;
	/* Journal files of texts dropped since (text_drop): removed by the next
	 * keep(). */
	char **orphans;
	size_t norphans;
	/* The journal's created names (journal_made_file) this mount keeps: the
	 * names its POSTs (or a mount killed before it) made records of.  They go
	 * at rm of the name and when the mount ends cleanly (save_end).
	 * Protected by jlock. */
	char **made;
	size_t nmade;
	/* Bytes reserved by every text: atomic, since a text is freed with the
	 * inode table's lock held (save_text_free), where ours may not be taken. */
	_Atomic size_t texts_total;
	/* The versions of records users here may be editing from, the newest
	 * SAVE_SEEN: the candidates of a save's base (wb_edit takes the one the text
	 * is nearest to).  Under no-open the daemon never sees which version an
	 * editor opened, so every version it served counts; an editor that read the
	 * record before a newer one was shown still merges against its own.
	 * Protected by lock. */
	struct seen seen[SAVE_SEEN];
	size_t seen_next;
	unsigned long seen_serial;
};

/* @n's notice (with s->lock held): its slot, or -1. */
static long notice_at(const struct save *s, const struct node *n)
{
	for (size_t i = 0; i < s->nnotices; i++)
		if (s->notices[i].ino == n->ino)
			return (long)i;
	return -1;
}

/* Drops @n's notice (with s->lock held). */
static void notice_drop(struct save *s, const struct node *n)
{
	long i = notice_at(s, n);
	if (i < 0)
		return;
	free(s->notices[i].text);
	memmove(&s->notices[i], &s->notices[i + 1],
		(s->nnotices - (size_t)i - 1) * sizeof(s->notices[0]));
	s->nnotices--;
}

/* Keeps @text as @n's notice (with s->lock held), the oldest dropped when full. */
static void notice_keep(struct save *s, const struct node *n, const char *text)
{
	char *copy = strdup(text);
	notice_drop(s, n);
	if (!copy)
		return;
	if (s->nnotices == SAVE_NOTICES) {
		free(s->notices[0].text);
		memmove(&s->notices[0], &s->notices[1], (SAVE_NOTICES - 1) * sizeof(s->notices[0]));
		s->nnotices--;
	}
	s->notices[s->nnotices].ino = n->ino;
	s->notices[s->nnotices++].text = copy;
}

static double default_now(void)
{
	return clock_mono();
}

/* With s->lock held: moves @t along the table. */
static void step(struct text *t, enum save_event ev)
{
	enum save_state next = transitions[t->state][ev];
	if (next == X) {
		log_msg(LOG_ERR, "save: no transition from %s on event %d", save_state_names[t->state],
			(int)ev);
		return;
	}
	t->state = next;
	t->steps++;
}

static void set_error(struct text *t, const char *reason)
{
	free(t->error);
	/* Without memory for the reason it is still refused, only unexplained. */
	t->error = reason ? strdup(reason) : NULL;
}

void save_text_free(struct text *t)
{
	if (!t)
		return;
	if (t->total)
		atomic_fetch_sub(t->total, t->cap);
	wb_pending_free(t->pending);
	free(t->error);
	free(t->data);
	free(t->base);
	/* (Its journal entry stays: at unmount that is the point.) */
	free(t->jfile);
	free(t);
}

int save_new(struct save **out, const struct save_config *cfg)
{
	struct save *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->inodes = cfg->inodes;
	s->cache = cfg->cache;
	s->wb = cfg->wb;
	s->events = cfg->events;
	s->now = cfg->now ? cfg->now : default_now;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->jlock, NULL);
	pthread_cond_init(&s->done, NULL);
	*out = s;
	return 0;
}

void save_free(struct save *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->jlock);
	pthread_cond_destroy(&s->done);
	for (size_t i = 0; i < s->norphans; i++)
		free(s->orphans[i]);
	free(s->orphans);
	for (size_t i = 0; i < s->nmade; i++)
		free(s->made[i]);
	free(s->made);
	for (size_t i = 0; i < s->nnotices; i++)
		free(s->notices[i].text);
	for (size_t i = 0; i < SAVE_SEEN; i++) {
		free(s->seen[i].id);
		free(s->seen[i].text);
	}
	journal_free(s->journal);
	free(s);
}

/* ---- texts -------------------------------------------------------------------------- */

/* With s->lock held: @n's text, made empty (CLEAN) on first use; NULL on ENOMEM. */
static struct text *text_of(struct save *s, struct node *n)
{
	if (!n->text && (n->text = calloc(1, sizeof(*n->text))))
		n->text->total = &s->texts_total;
	return n->text;
}

/* With s->lock held: keeps @text (@len bytes) as a version of record @id of @c a
 * user here may be editing from, the newest (the same version again is moved up). */
static void seen_note(struct save *s, const struct schema_collection *c, const char *id,
		      const char *text, size_t len)
{
	for (size_t i = 0; i < SAVE_SEEN; i++) {
		struct seen *v = &s->seen[i];
		if (v->c == c && v->id && v->len == len && !strcmp(v->id, id) &&
		    (!len || !memcmp(v->text, text, len))) {
			v->serial = ++s->seen_serial;
			return;
		}
	}
	struct seen *v = &s->seen[s->seen_next];
	char *cid = strdup(id), *ctext = malloc(len ? len : 1);
	if (!cid || !ctext) {
		free(cid);
		free(ctext);
		return; /* (a base less to choose from) */
	}
	if (len)
		memcpy(ctext, text, len);
	free(v->id);
	free(v->text);
	*v = (struct seen){.c = c, .id = cid, .text = ctext, .len = len,
			   .serial = ++s->seen_serial};
	s->seen_next = (s->seen_next + 1) % SAVE_SEEN;
}

void save_served(struct save *s, struct node *n, const char *text, size_t len)
{
	if (n->kind != N_JSON || !n->c || !n->id || !(n->c->methods & SCHEMA_M_PUT))
		return;
	pthread_mutex_lock(&s->lock);
	seen_note(s, n->c, n->id, text, len);
	pthread_mutex_unlock(&s->lock);
}

/* With s->lock held: drops @n's text (the record's own shows again); its
 * journal entry goes at the next keep(). */
static void text_drop(struct save *s, struct node *n)
{
	struct text *t = n->text;
	if (t && t->jfile) {
		char **more = realloc(s->orphans, (s->norphans + 1) * sizeof(*s->orphans));
		if (more) {
			s->orphans = more;
			s->orphans[s->norphans++] = t->jfile;
			t->jfile = NULL;
		} else {
			log_msg(LOG_ERR, "journal: %s stays (out of memory)", t->jfile);
		}
	}
	save_text_free(t);
	n->text = NULL;
}

static int reserve(struct text *t, size_t len)
{
	if (len <= t->cap)
		return 0;
	/* A record is a few KiB of JSON: a bigger file is not one, and an
	 * endless writer must not take the daemon's memory. */
	if (len > SAVE_TEXT_MAX)
		return -EFBIG;
	size_t cap = t->cap ? t->cap : 4096;
	while (cap < len)
		cap *= 2;
	if (cap > SAVE_TEXT_MAX)
		cap = SAVE_TEXT_MAX;
	size_t grow = cap - t->cap;
	if (atomic_fetch_add(t->total, grow) + grow > SAVE_TEXTS_MAX) {
		atomic_fetch_sub(t->total, grow);
		return -ENOSPC;
	}
	char *data = realloc(t->data, cap);
	if (!data) {
		atomic_fetch_sub(t->total, grow);
		return -ENOMEM;
	}
	t->data = data;
	t->cap = cap;
	return 0;
}

/* With s->lock held: a change by the user, now. */
static void touched(struct save *s, struct node *n, struct text *t)
{
	struct timespec now = clock_wall();
	t->gen++;
	step(t, EV_WRITE);
	notice_drop(s, n); /* it was about the text saved before */
	inode_set_times(s->inodes, n, NULL, &now);
}

static int text_write(struct save *s, struct node *n, const char *data, size_t size, off_t off)
{
	struct text *t = text_of(s, n);
	if (!t)
		return -ENOMEM;
	if (off < 0 || (size_t)off > SIZE_MAX - size)
		return -EINVAL;
	if ((size_t)off + size > SAVE_TEXT_MAX) {
		/* The close that follows says why (save_commit), rather than the
		 * parse of the part that fit. */
		if ((size_t)off + size > t->cut)
			t->cut = (size_t)off + size;
		touched(s, n, t);
		return -EFBIG;
	}
	int rc = reserve(t, (size_t)off + size);
	if (rc < 0)
		return rc;
	if ((size_t)off > t->len)
		memset(t->data + t->len, 0, (size_t)off - t->len);
	/* A write of nothing to a text never written has no buffer: memcpy(NULL, ..., 0)
	 * is undefined. */
	if (size)
		memcpy(t->data + off, data, size);
	if ((size_t)off + size > t->len)
		t->len = (size_t)off + size;
	touched(s, n, t);
	return 0;
}

static int text_truncate(struct save *s, struct node *n, off_t size)
{
	struct text *t = text_of(s, n);
	if (!t)
		return -ENOMEM;
	if (size < 0)
		return -EINVAL;
	if ((size_t)size > SAVE_TEXT_MAX)
		return -EFBIG;
	int rc = reserve(t, (size_t)size);
	if (rc < 0)
		return rc;
	if (size == 0)
		t->cut = 0; /* written anew from nothing: whole again */
	if ((size_t)size > t->len)
		memset(t->data + t->len, 0, (size_t)size - t->len);
	t->len = (size_t)size;
	touched(s, n, t);
	return 0;
}

/* With s->lock held: makes @n's text a copy of @from, refused (what a
 * refused rename leaves at its target), or unanswered with @from's pending
 * POST, which moves to @n: saving @n again must look for the record it may
 * have made, not post again. */
static int text_keep_refused(struct save *s, struct node *n, struct text *from)
{
	int rc = text_truncate(s, n, 0);
	if (rc == 0)
		rc = text_write(s, n, from->data, from->len, 0);
	if (rc == 0) {
		n->text->state = from->pending ? SAVE_UNANSWERED : SAVE_REFUSED;
		n->text->steps++;
		n->text->pending = from->pending;
		from->pending = NULL;
		n->text->sent_gen = n->text->gen;
		n->text->sent_rc = from->sent_rc ? from->sent_rc : -EINVAL;
		set_error(n->text, from->error ? from->error : "refused");
	}
	return rc;
}

bool save_read(struct save *s, struct node *n, char *buf, size_t size, off_t off, size_t *got)
{
	bool has;
	*got = 0;
	pthread_mutex_lock(&s->lock);
	has = n->text || n->kind == N_SCRATCH || n->kind == N_NEW;
	if (n->text && off >= 0 && (size_t)off < n->text->len) {
		size_t k = n->text->len - (size_t)off < size ? n->text->len - (size_t)off : size;
		memcpy(buf, n->text->data + off, k);
		*got = k;
	}
	pthread_mutex_unlock(&s->lock);
	return has;
}

bool save_size(struct save *s, struct node *n, off_t *size)
{
	pthread_mutex_lock(&s->lock);
	bool has = n->text || n->kind == N_SCRATCH || n->kind == N_NEW;
	*size = n->text ? (off_t)n->text->len : 0;
	pthread_mutex_unlock(&s->lock);
	return has;
}

char *save_error(struct save *s, struct node *n)
{
	char *e = NULL;
	pthread_mutex_lock(&s->lock);
	long k;
	if (n->text && (n->text->state == SAVE_REFUSED || n->text->state == SAVE_UNANSWERED) &&
	    n->text->error)
		e = strdup(n->text->error);
	else if ((k = notice_at(s, n)) >= 0)
		e = strdup(s->notices[k].text);
	pthread_mutex_unlock(&s->lock);
	return e;
}

enum save_state save_state_of(struct save *s, struct node *n)
{
	pthread_mutex_lock(&s->lock);
	enum save_state st = n->text ? n->text->state : SAVE_CLEAN;
	pthread_mutex_unlock(&s->lock);
	return st;
}

/* Gives record @n a text holding its current text (nothing to send yet),
 * unless it has one.  With s->lock held (dropped while the record is read). */
static int text_load(struct save *s, struct node *n)
{
	struct cache_record *r = NULL;
	if (n->text)
		return 0;
	pthread_mutex_unlock(&s->lock);
	int rc = cache_record_get(s->cache, n->c, n->id, &r);
	pthread_mutex_lock(&s->lock);
	if (rc < 0)
		return rc;
	if (!n->text) {
		struct text *t = text_of(s, n);
		rc = t ? reserve(t, r->len) : -ENOMEM;
		if (rc == 0) {
			/* The record's own text: nothing to send yet.  (An empty one
			 * has no buffer: no memcpy to NULL.) */
			if (r->len)
				memcpy(t->data, r->text, r->len);
			t->len = r->len;
			/* What it starts from: the record as the mount serves it now. */
			free(t->base);
			t->base = strndup(r->text, r->len);
			t->base_len = t->base ? r->len : 0;
			seen_note(s, n->c, n->id, r->text, r->len);
			/* The time the file showed (store/times.h), until it is written. */
			struct timespec m = clock_wall();
			times_peek(s->times, n->c, r->stem, &m);
			inode_set_times(s->inodes, n, NULL, &m);
		}
	}
	cache_record_unref(r);
	return rc;
}

/* Makes sure @n can take a write: local files can; a record starts a text
 * holding its current text, so a write at an offset edits that text; what
 * the API cannot change refuses with EPERM.  With s->lock held (dropped
 * while the record is read). */
static int writable(struct save *s, struct node *n)
{
	if (n->kind == N_SCRATCH || n->kind == N_NEW)
		return 0;
	if (n->kind != N_JSON || !(n->c->methods & SCHEMA_M_PUT))
		return -EPERM;
	return text_load(s, n);
}

int save_write(struct save *s, struct node *n, const char *data, size_t size, off_t off)
{
	pthread_mutex_lock(&s->lock);
	int rc = writable(s, n);
	if (rc == 0)
		rc = text_write(s, n, data, size, off);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int save_truncate(struct save *s, struct node *n, off_t size)
{
	pthread_mutex_lock(&s->lock);
	int rc = writable(s, n);
	if (rc == 0)
		rc = text_truncate(s, n, size);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- the journal ------------------------------------------------------------------ */

/* With s->lock held: the name @n's text is journaled under (malloc'd), or
 * NULL when it has none: a record's own name when @n is the record's node
 * (or one that speaks for it), a new file's local name; nothing for scratch
 * files, whose texts never reach the service. */
static char *journal_name(struct save *s, const struct node *n)
{
	char *name = NULL;
	const struct node *canon = n->kind == N_JSON && n->id && n->c
					   ? inode_find_record(s->inodes, n->c, N_JSON, n->id)
					   : NULL;
	/* A second node of a record (a created file adopted by a record the
	 * kernel had seen) speaks for it unless the record's own node has a
	 * text of its own. */
	if (n->kind == N_JSON && n->id && n->c && (!canon || canon == n || !canon->text)) {
		char *stem = names_encode(n->id);
		if (stem && asprintf(&name, "%s.json", stem) < 0)
			name = NULL;
		free(stem);
	} else if (n->kind == N_NEW && n->c) {
		name = inode_local_name(s->inodes, n);
	}
	return name;
}

static enum journal_state journal_state_of(const struct text *t)
{
	return t->state == SAVE_WAITING ? JOURNAL_WAITING
	       : t->state == SAVE_UNANSWERED ? JOURNAL_UNANSWERED
					     : JOURNAL_REFUSED;
}

/* Makes the journal agree with @n's text now (docs/SEMANTICS.md, "Unsaved
 * text survives").  A refused, unanswered or waiting text is written under
 * its name; a text that ended (taken, dropped, reverted, or @n no longer
 * holding a name of its own) has its entry removed; a text in flux (edited,
 * being sent) is left as its entry last had it, for the commit that settles
 * it.  Returns 0, or the -errno of a failed write (a failed removal is only
 * logged: the text it held was taken or dropped).  Takes s->jlock, then
 * s->lock; call it with neither held, while @n lives. */
static int keep(struct save *s, struct node *n)
{
	char *name = NULL, *file = NULL, *old = NULL, *data = NULL, **orphans = NULL;
	size_t len = 0, norphans = 0;
	enum { SKIP, PUT, DROP } act = SKIP;
	int rc = 0;
	if (!s->journal)
		return 0;
	pthread_mutex_lock(&s->jlock);
	pthread_mutex_lock(&s->lock);
	struct text *t = n->text;
	name = journal_name(s, n);
	file = name ? journal_file(n->c->name, name) : NULL;
	bool settled = !t || t->state == SAVE_CLEAN || t->state == SAVE_REFUSED ||
		       t->state == SAVE_UNANSWERED || t->state == SAVE_WAITING;
	if (!file && t && t->jfile) {
		/* No name of its own any more (rm, a record detached into a
		 * scratch file): its entry goes. */
		old = t->jfile;
		t->jfile = NULL;
	} else if (file && settled && (!t || t->state == SAVE_CLEAN)) {
		act = DROP;
	} else if (file && settled && t->cut) {
		/* Only the start of what was written: not the user's text.  Its entry,
		 * if any, keeps the last whole text written here. */
	} else if (file && settled && !(t->jfile && !strcmp(t->jfile, file) &&
					 t->jsteps == t->steps && t->jgen == t->gen)) {
		struct journal_entry e = {
			.collection = (char *)n->c->name,
			.name = name,
			.id = n->kind == N_JSON ? n->id : NULL,
			.state = journal_state_of(t),
			.err = t->state == SAVE_WAITING ? 0 : t->sent_rc < 0 ? -t->sent_rc : EINVAL,
			.error = t->state == SAVE_WAITING ? NULL : t->error,
			.pending = n->kind == N_JSON ? NULL : t->pending,
			.base = n->kind == N_JSON ? t->base : NULL,
			.base_len = t->base_len,
			.text = t->data,
			.len = t->len,
		};
		/* (A record is never left unanswered: its save is a PUT.) */
		if (n->kind == N_JSON)
			e.state = JOURNAL_REFUSED;
		if (e.state == JOURNAL_UNANSWERED && !e.pending)
			e.state = JOURNAL_REFUSED;
		mode_t mode = 0600;
		struct timespec mt = {0};
		inode_times(s->inodes, n, &mode, &mt);
		e.mode = mode & 07777;
		e.mtime = mt.tv_sec;
		e.mtime_ns = mt.tv_nsec;
		rc = journal_encode(&e, &data, &len);
		if (rc == 0) {
			act = PUT;
			if (t->jfile && strcmp(t->jfile, file) != 0)
				old = t->jfile;
			else
				free(t->jfile);
			t->jfile = strdup(file);
			t->jsteps = t->steps;
			t->jgen = t->gen;
		}
	}
	if (act == DROP && t) {
		/* (One under another name, too: it was renamed, then taken.) */
		if (t->jfile && strcmp(t->jfile, file) != 0)
			old = t->jfile;
		else
			free(t->jfile);
		t->jfile = NULL;
	}
	orphans = s->orphans;
	norphans = s->norphans;
	s->orphans = NULL;
	s->norphans = 0;
	pthread_mutex_unlock(&s->lock);

	if (act == PUT) {
		rc = journal_write(s->journal, file, data, len);
		if (rc < 0) {
			char what[600];
			snprintf(what, sizeof(what), "%s/%s", n->c->name, name);
			events_error(s->events, what, "could not be journaled: a kill or reboot "
				     "now would lose this unsaved text");
			log_msg(LOG_ERR, "journal: %s: %s", file, log_strerror(-rc));
			/* Written again at the next keep(). */
			pthread_mutex_lock(&s->lock);
			if (n->text == t)
				t->jsteps--;
			pthread_mutex_unlock(&s->lock);
		}
	}
	/* The entry under an old name (renamed, made a record) goes once the
	 * new one is written: a failed write keeps the text at the old name. */
	int drc = 0;
	if (act == DROP)
		drc = journal_drop(s->journal, file);
	if (old && rc == 0)
		drc = journal_drop(s->journal, old);
	for (size_t i = 0; i < norphans; i++) {
		if (!file || strcmp(orphans[i], file) != 0 || act != PUT)
			if (journal_drop(s->journal, orphans[i]) < 0)
				drc = -EIO;
		free(orphans[i]);
	}
	free(orphans);
	if (drc < 0)
		log_msg(LOG_ERR, "journal: an entry of a text that was taken or dropped could "
			"not be removed (%s): it would show again at the next mount",
			log_strerror(-drc));
	pthread_mutex_unlock(&s->jlock);
	free(old);
	free(data);
	free(file);
	free(name);
	return rc;
}

/* What a POST about to leave needs to journal itself (wb_post_hook). */
struct posting {
	struct save *s;
	struct node *n;
	const char *lname;
	const char *text;
	size_t len;
};

/* wb_post_hook: the new file's entry, in state "posting", with what the
 * lost-POST search needs, on disk before the POST leaves: a daemon killed
 * while it is out restores the file as unanswered, and its next save looks
 * for the record before it posts again. */
static int posting(void *ud, const struct wb_pending *p)
{
	struct posting *po = ud;
	struct save *s = po->s;
	struct node *n = po->n;
	char *file = journal_file(n->c->name, po->lname), *data = NULL;
	size_t len = 0;
	mode_t mode = 0600;
	struct timespec mt = {0};
	if (!file)
		return 0; /* no name to keep it under: nothing can save it again */
	inode_times(s->inodes, n, &mode, &mt);
	struct journal_entry e = {
		.collection = (char *)n->c->name,
		.name = (char *)po->lname,
		.state = JOURNAL_POSTING,
		.mode = mode & 07777,
		.mtime = mt.tv_sec,
		.mtime_ns = mt.tv_nsec,
		.pending = (struct wb_pending *)p,
		.text = (char *)po->text,
		.len = po->len,
	};
	pthread_mutex_lock(&s->jlock);
	int rc = journal_encode(&e, &data, &len);
	if (rc == 0)
		rc = journal_write(s->journal, file, data, len);
	if (rc == 0) {
		pthread_mutex_lock(&s->lock);
		if (n->text) {
			/* What it now holds is not the text's settled state: the
			 * keep() after the outcome writes (or drops) it. */
			if (n->text->jfile && strcmp(n->text->jfile, file) != 0) {
				char **more = realloc(s->orphans,
						      (s->norphans + 1) * sizeof(*s->orphans));
				if (more) {
					s->orphans = more;
					s->orphans[s->norphans++] = n->text->jfile;
					n->text->jfile = NULL;
				}
			}
			free(n->text->jfile);
			n->text->jfile = strdup(file);
			n->text->jsteps = n->text->steps - 1;
		}
		pthread_mutex_unlock(&s->lock);
	} else {
		log_msg(LOG_ERR, "journal: %s: %s", file, log_strerror(-rc));
	}
	pthread_mutex_unlock(&s->jlock);
	free(data);
	free(file);
	return rc;
}

/* With s->jlock held: the index of created name @file in s->made, or -1. */
static ssize_t made_find(struct save *s, const char *file)
{
	for (size_t i = 0; i < s->nmade; i++)
		if (!strcmp(s->made[i], file))
			return (ssize_t)i;
	return -1;
}

/* With s->jlock held: keeps @file (taken) in s->made; freed on ENOMEM. */
static void made_keep(struct save *s, char *file)
{
	char **more;
	if (made_find(s, file) >= 0 ||
	    !(more = realloc(s->made, (s->nmade + 1) * sizeof(*s->made)))) {
		free(file);
		return;
	}
	s->made = more;
	s->made[s->nmade++] = file;
}

/* wb_post_hook's created: the moment the service's answer names the record
 * a new file's POST made (or the listing shows the one a lost POST made), the
 * journal keeps that the file's name is that record now, before anything
 * else: a daemon killed before close() returns (or right after) brings the
 * name back, leading to the record, and the same `cp` again is a save of
 * that record, never a second POST.  The posting entry goes with the keep()
 * of the outcome; a kill before it leaves both, and the created name wins
 * (restore). */
static void created(void *ud, const struct schema_collection *in, const char *id)
{
	struct posting *po = ud;
	struct save *s = po->s;
	struct node *n = po->n;
	char *file = journal_made_file(n->c->name, po->lname), *own = NULL, *stem = NULL;
	mode_t mode = 0600;
	struct timespec mt = {0};
	if (!file)
		return;
	/* Named as the record itself is (a new file 7.json that became record
	 * 7): the record's own name leads there anyway. */
	if ((stem = names_encode(id)) && asprintf(&own, "%s.json", stem) >= 0 && in == n->c &&
	    !strcmp(own, po->lname)) {
		free(file);
		free(own);
		free(stem);
		return;
	}
	free(own);
	free(stem);
	inode_times(s->inodes, n, &mode, &mt);
	struct journal_entry e = {
		.collection = (char *)n->c->name,
		.name = (char *)po->lname,
		.state = JOURNAL_CREATED,
		.mode = mode & 07777,
		.mtime = mt.tv_sec,
		.mtime_ns = mt.tv_nsec,
		.made_in = (char *)in->name,
		.made_id = (char *)id,
		.text = (char *)po->text,
		.len = po->len,
	};
	pthread_mutex_lock(&s->jlock);
	int rc = journal_put(s->journal, &e);
	if (rc == 0) {
		made_keep(s, file);
		file = NULL;
	}
	pthread_mutex_unlock(&s->jlock);
	if (rc < 0) {
		char what[600];
		snprintf(what, sizeof(what), "%s/%s", n->c->name, po->lname);
		log_msg(LOG_ERR, "journal: %s became %s/%s, which could not be journaled (%s): "
			"after a kill now, saving it again would post it again", what, in->name, id,
			log_strerror(-rc));
	}
	free(file);
}

/* rm of the name @name of @c: a created name's entry goes (the name is free
 * for a new file). */
static void unmade(struct save *s, const struct schema_collection *c, const char *name)
{
	char *file = s->journal ? journal_made_file(c->name, name) : NULL;
	if (!file)
		return;
	pthread_mutex_lock(&s->jlock);
	ssize_t i = made_find(s, file);
	if (i >= 0) {
		int rc = journal_drop(s->journal, file);
		if (rc < 0)
			log_msg(LOG_ERR, "journal: %s could not be removed (%s): %s/%s leads to its "
				"record again at the next mount", file, log_strerror(-rc), c->name,
				name);
		free(s->made[i]);
		s->made[i] = s->made[--s->nmade];
	}
	pthread_mutex_unlock(&s->jlock);
	free(file);
}

void save_end(struct save *s)
{
	if (!s || !s->journal)
		return;
	pthread_mutex_lock(&s->jlock);
	for (size_t i = 0; i < s->nmade; i++) {
		if (journal_drop(s->journal, s->made[i]) < 0)
			log_msg(LOG_ERR, "journal: %s could not be removed: its name leads to its "
				"record again at the next mount", s->made[i]);
		free(s->made[i]);
	}
	s->nmade = 0;
	pthread_mutex_unlock(&s->jlock);
}

/* restore() of a created name (@e, in file @file): @e->name in its collection
 * leads to the record its POST made again.  0 or -errno. */
static int restore_made(struct save *s, const struct schema_collection *c,
			struct journal_entry *e, const char *file)
{
	const struct schema_collection *in = schema_find(e->made_in);
	fuse_ino_t dir = inode_coll_ino(c);
	if (!in || in->single || dir_new_kind(c, e->name) != N_NEW)
		return -EINVAL;
	if (inode_local(s->inodes, dir, e->name, NULL, NULL))
		return -EEXIST;
	struct node *r = inode_record(s->inodes, in, N_JSON, e->made_id);
	int rc = r ? inode_local_add(s->inodes, dir, e->name, r, LE_HIDDEN, 0) : -ENOMEM;
	char *copy = rc == 0 ? strdup(file) : NULL;
	if (copy)
		made_keep(s, copy); /* (s->jlock is held: save_journal_open) */
	if (rc == 0)
		log_msg(LOG_INFO, "%s/%s: its POST made %s/%s before the daemon stopped: the name "
			"leads to that record, and saving it again saves that record", c->name,
			e->name, in->name, e->made_id);
	return rc;
}

/* What the journal said in an entry that got no answer (it was restored). */
#define POSTING_ERROR "the daemon stopped while this file's POST was out, so the service may " \
		      "have made the record: saving again checks for it first"
/* The same for a payment, a reminder, a draft sent (wb_act): nothing to look for. */
#define ACTING_ERROR "the daemon stopped while this file's request was out, so the service " \
		     "may have carried it out: check the service; this text is not sent " \
		     "again by itself (remove the file and write it again to send it anyway)"

/* journal_load's callback: entry @e (file @file) back as the text it was. */
static void restore(void *ud, struct journal_entry *e, const char *file)
{
	struct save *s = ud;
	const struct schema_collection *c = schema_find(e->collection);
	struct node *n = NULL;
	char what[1100];
	int rc = -EINVAL;
	snprintf(what, sizeof(what), "%s/%s", e->collection, e->name);
	if (!c || c->single)
		goto out;
	if (e->state == JOURNAL_CREATED) {
		rc = restore_made(s, c, e, file);
		goto out;
	}
	char *made_file = e->id ? NULL : journal_made_file(c->name, e->name);
	bool name_made = made_file && made_find(s, made_file) >= 0;
	free(made_file);
	if (name_made && (e->state == JOURNAL_POSTING || e->state == JOURNAL_UNANSWERED)) {
		/* The POST it waited for made the record the name leads to now
		 * (restore_made): the daemon stopped before this entry went. */
		rc = journal_drop(s->journal, file);
		log_msg(LOG_INFO, "journal: %s: its POST made a record (above): its entry %s", what,
			rc == 0 ? "goes" : "stays");
		return;
	}
	if (e->id) {
		/* A record's refused text: the record's node holds it, whatever
		 * the service holds now (docs/SEMANTICS.md says what a save then
		 * does). */
		n = e->state == JOURNAL_REFUSED ? inode_record(s->inodes, c, N_JSON, e->id) : NULL;
	} else if (dir_new_kind(c, e->name) == N_NEW &&
		   !inode_local(s->inodes, inode_coll_ino(c), e->name, NULL, NULL)) {
		n = inode_local_new(s->inodes, N_NEW, c, (e->mode & 0700) | 0600);
		char *pay = n && !schema_creates(c) ? names_record_id(e->name, ".json")
							       : NULL;
		if (pay)
			inode_set_id(s->inodes, n, pay);
		free(pay);
		if (n && inode_local_add(s->inodes, inode_coll_ino(c), e->name, n, 0, 0) < 0)
			n = NULL;
	}
	if (!n)
		goto out;
	pthread_mutex_lock(&s->lock);
	rc = n->text ? -EEXIST : text_write(s, n, e->text, e->len, 0);
	struct text *t = n->text;
	if (rc == 0) {
		t->state = e->state == JOURNAL_WAITING ? SAVE_WAITING
			   : e->state == JOURNAL_REFUSED ? SAVE_REFUSED
							 : SAVE_UNANSWERED;
		t->steps++;
		t->sent_gen = t->gen;
		t->sent_rc = t->state == SAVE_WAITING ? 0 : -(e->err ? e->err : EINVAL);
		set_error(t, e->state != JOURNAL_POSTING      ? e->error
			     : n->c->methods & SCHEMA_M_POST ? POSTING_ERROR
							     : ACTING_ERROR);
		t->pending = e->pending;
		e->pending = NULL;
		/* A record's text merges against the base it had (a remount keeps
		 * merging right). */
		if (e->id && e->base) {
			t->base = e->base;
			t->base_len = e->base_len;
			e->base = NULL;
		}
		/* On disk as it is (a "posting" entry is rewritten as unanswered
		 * at its next change). */
		t->jfile = strdup(file);
		t->jsteps = t->steps;
		t->jgen = t->gen;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0) {
		struct timespec mt = {.tv_sec = (time_t)e->mtime, .tv_nsec = e->mtime_ns};
		mode_t mode = (e->mode & 0700) | 0600;
		inode_set_times(s->inodes, n, e->id ? NULL : &mode, &mt);
		log_msg(LOG_INFO, "%s: unsaved text restored from the journal (%s)", what,
			save_state_names[t->state]);
		if (t->state != SAVE_WAITING)
			events_refused(s->events, what, "saved",
				       t->error ? t->error : "refused (restored from the journal)");
	}
out:
	if (rc < 0)
		log_msg(LOG_ERR, "journal: %s (%s) not restored: %s; the entry stays", what, file,
			rc == -EINVAL ? "no such file can be made here" : log_strerror(-rc));
}

int save_journal_open(struct save *s, const char *dir)
{
	struct journal *j = NULL;
	int rc = journal_open(&j, dir);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->jlock);
	s->journal = j;
	rc = journal_load(j, restore, s);
	if (rc < 0) {
		s->journal = NULL;
		journal_free(j);
	}
	pthread_mutex_unlock(&s->jlock);
	return rc;
}

/* ---- commits ----------------------------------------------------------------------- */

static void effect_now(struct save_effects *fx, fuse_ino_t ino)
{
	for (size_t i = 0; i < fx->nnow; i++)
		if (fx->now[i] == ino)
			return;
	if (fx->nnow < sizeof(fx->now) / sizeof(fx->now[0]))
		fx->now[fx->nnow++] = ino;
}

static void effect_entry(struct save_effects *fx, fuse_ino_t parent, const char *name)
{
	if (fx->nentries < sizeof(fx->entries) / sizeof(fx->entries[0])) {
		fx->entries[fx->nentries].parent = parent;
		snprintf(fx->entries[fx->nentries].name, sizeof(fx->entries[0].name), "%s", name);
		fx->nentries++;
	}
}

static bool blank(const char *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != ' ' && p[i] != '\n' && p[i] != '\t' && p[i] != '\r')
			return false;
	return true;
}

/* "clients/1.json", as the status file names a file. */
static void record_path(const struct node *n, char *buf, size_t len)
{
	char *stem = n->id ? names_encode(n->id) : NULL;
	snprintf(buf, len, "%s/%s.%s", n->c ? n->c->name : "?", stem ? stem : "?",
		 n->kind == N_PDF ? "pdf" : "json");
	free(stem);
}

/* What a commit of @n sent and how it went. */
struct sent {
	enum node_kind kind;
	const struct schema_collection *c, *in; /* in: where a new record landed */
	char *id, *new_id, *lname;
	char what[1100];
	bool changed;    /* a PUT went out (not: the same text again) */
	struct wb_pending *pending;
	/* A record's: the bases its save chooses from (copies), and what it leaves. */
	char **btexts;
	size_t *blens, nb;
	struct wb_bases bases;
};

static void sent_clear(struct sent *x)
{
	free(x->id);
	free(x->new_id);
	free(x->lname);
	wb_pending_free(x->pending);
	for (size_t i = 0; i < x->nb; i++)
		free(x->btexts[i]);
	free(x->btexts);
	free(x->blens);
	free(x->bases.keep);
}

static int by_newest(const void *a, const void *b)
{
	const struct seen *x = *(const struct seen *const *)a, *y = *(const struct seen *const *)b;
	return x->serial < y->serial ? 1 : x->serial > y->serial ? -1 : 0;
}

/* With s->lock held: the bases record @n's text @t may have started from, copied
 * into @x: its own, and the versions seen of the record, newest first.  False on
 * ENOMEM. */
static bool bases_of(struct save *s, const struct node *n, const struct text *t, struct sent *x)
{
	const struct seen *v[SAVE_SEEN] = {0};
	size_t nv = 0;
	for (size_t i = 0; i < SAVE_SEEN; i++)
		if (s->seen[i].c == n->c && s->seen[i].id && !strcmp(s->seen[i].id, n->id))
			v[nv++] = &s->seen[i];
	qsort(v, nv, sizeof(const struct seen *), by_newest);
	/* [0]: its own base (or NULL), then the versions seen. */
	x->btexts = calloc(nv + 1, sizeof(*x->btexts));
	x->blens = calloc(nv + 1, sizeof(*x->blens));
	if (!x->btexts || !x->blens)
		return false;
	x->nb = nv + 1;
	if (t->base && !(x->btexts[0] = strndup(t->base, t->base_len)))
		return false;
	x->blens[0] = t->base ? t->base_len : 0;
	for (size_t i = 0; i < nv; i++) {
		if (!(x->btexts[i + 1] = malloc(v[i]->len ? v[i]->len : 1)))
			return false;
		if (v[i]->len)
			memcpy(x->btexts[i + 1], v[i]->text, v[i]->len);
		x->blens[i + 1] = v[i]->len;
	}
	x->bases = (struct wb_bases){.own = x->btexts[0], .own_len = x->blens[0],
				     .seen = (const char *const *)x->btexts + 1,
				     .seen_lens = x->blens + 1, .nseen = nv};
	return true;
}

/* A new file of @c, which @via's POST makes (a draft: invoices'), asks for @c: its
 * `action` is @c's restore_action, or it is refused before any call (an invoice
 * written into invoices_saved/ must never be sent to its client).  A text that is
 * not JSON is left to wb_create to say so. */
static int check_through(const struct schema_collection *c, const struct schema_collection *via,
			 const char *text, size_t len, char *msg, size_t msglen)
{
	char err[64];
	cJSON *rec = jt_parse(text, len, err, sizeof(err));
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "action");
	int rc = 0;
	if (rec && !(cJSON_IsString(a) && !strcmp(a->valuestring, c->restore_action))) {
		snprintf(msg, msglen, "a new file in %s/ is made through %s/ (a POST with \"action\": "
			 "\"%s\"): this one %s; not sent", c->name, via->name, c->restore_action,
			 cJSON_IsString(a) ? "asks for another action" : "has no \"action\"");
		rc = -EINVAL;
	}
	cJSON_Delete(rec);
	return rc;
}

/* Sends @text of @n (the lock dropped meanwhile): 0, -errno, or WB_UNSENT. */
static int send_text(struct save *s, struct node *n, const char *text, size_t len,
		     struct sent *x, char *msg, size_t msglen)
{
	if (x->kind == N_JSON)
		return wb_edit(s->wb, x->c, x->id, text, len, &x->bases, &x->changed, msg, msglen);
	struct posting po = {.s = s, .n = n, .lname = x->lname, .text = text, .len = len};
	struct wb_post_hook hook = {.fn = posting, .created = created, .ud = &po};
	const struct schema_collection *via = schema_creates(x->c);
	if (!via)
		return wb_act(s->wb, x->c, x->id, text, len, &x->pending, msg, msglen,
			      s->journal && x->lname ? &hook : NULL);
	int rc = via == x->c ? 0 : check_through(x->c, via, text, len, msg, msglen);
	if (rc < 0)
		return rc;
	return wb_create(s->wb, via, text, len, &x->pending, &x->new_id, &x->in, msg, msglen,
			 s->journal && x->lname ? &hook : NULL);
}

/* With s->lock held: new file @n is the record a POST made (x->new_id: a
 * POST that names no record is not taken, wb_create), and the kernel is told. */
static void made(struct save *s, struct node *n, struct sent *x, struct save_effects *fx)
{
	fuse_ino_t dir = inode_coll_ino(x->c);
	events_change(s->events, "created %s/%s from %s", x->in->name, x->new_id, x->what);
	inode_make_record(s->inodes, n, x->in, x->new_id);
	/* The name the user wrote stays usable, but the record is listed under
	 * its id from now on. */
	if (x->lname)
		inode_local_add(s->inodes, dir, x->lname, n, LE_HIDDEN, 0);
	effect_now(fx, dir);
	if (x->in && x->in != x->c)
		effect_now(fx, inode_coll_ino(x->in));
	fx->views = true;
}

/* The service took a save of ours changing record @id of @c: its file's time is
 * no earlier than now (store/times.h). */
static void saved_now(struct save *s, const struct schema_collection *c, const char *id)
{
	char *stem = c && id ? names_encode(id) : NULL;
	if (stem)
		times_saved(s->times, c, stem, clock_wall());
	free(stem);
}

/* With s->lock held: what the service took becomes what @n is — a new file
 * the record (its name kept usable, not listed), a payment's name free for
 * the next one — and the kernel is told. */
static void taken(struct save *s, struct node *n, struct sent *x, bool same,
		  struct save_effects *fx)
{
	/* A new file or a payment lies in a collection; a record needs no directory. */
	fuse_ino_t dir = x->kind == N_JSON ? 0 : inode_coll_ino(x->c);
	if (x->kind == N_JSON) {
		if (x->changed) {
			events_change(s->events, "updated %s", x->what);
			saved_now(s, x->c, x->id); /* (nothing sent: no save, no new time) */
		}
	} else if (!schema_creates(x->c)) {
		saved_now(s, schema_find(x->c->acts_on), x->id);
		events_change(s->events, "%s %s (%s)", x->c->done, x->id, x->what);
		inode_set_kind(s->inodes, n, N_SCRATCH);
		if (x->lname)
			inode_local_del(s->inodes, dir, x->lname);
		/* It changes its record (an invoice's open amount and status; a draft
		 * gone) and what it lists, and maybe another listing (a new invoice). */
		const struct schema_collection *on = schema_find(x->c->acts_on);
		struct node *r;
		if (on && (r = inode_find_record(s->inodes, on, N_JSON, x->id)))
			effect_now(fx, r->ino);
		if (on && (r = inode_find_record(s->inodes, on, N_PDF, x->id)))
			effect_now(fx, r->ino);
		if (on)
			effect_now(fx, inode_coll_ino(on));
		if (x->c->changes_too)
			effect_now(fx, inode_coll_ino(schema_find(x->c->changes_too)));
	} else if (x->new_id) {
		made(s, n, x, fx);
	}
	struct text *t = n->text;
	if (same && n->kind == N_JSON) {
		text_drop(s, n); /* the record's text takes over */
	} else if (t) {
		set_error(t, NULL); /* this save went through */
	}
	effect_now(fx, n->ino);
	fx->views = true; /* a change may move invoices between views */
}

int save_commit(struct save *s, struct node *n, bool fsync, struct save_effects *fx)
{
	char msg[512] = "", *copy = NULL;
	struct sent x = {0};
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	struct text *t = n->text;
	/* A commit of this text is in flight (another descriptor's close):
	 * wait for it, and report its outcome when nothing was written since. */
	while (t && t->state == SAVE_SENDING) {
		unsigned long gen = t->gen;
		pthread_cond_wait(&s->done, &s->lock);
		t = n->text;
		if (!t || (t->gen == gen && t->sent_gen == gen && !(fsync && t->sent_rc < 0))) {
			rc = t ? t->sent_rc : 0;
			pthread_mutex_unlock(&s->lock);
			return rc;
		}
	}
	/* FLUSH comes on every close, and first before anything is written (a
	 * shell's `>` dups and closes): nothing new, or nothing yet, is nothing
	 * to send.  fsync sends a refused text again. */
	bool again = fsync && (t && (t->state == SAVE_REFUSED || t->state == SAVE_UNANSWERED));
	if (!t || n->kind == N_SCRATCH || !(t->state == SAVE_EDITED || again) ||
	    blank(t->data, t->len)) {
		/* Nothing to send; but a kept text whose entry could not be
		 * written is tried again here, and close() says if it still
		 * cannot be. */
		bool behind = t && s->journal && n->kind != N_SCRATCH && !t->cut &&
			      (t->state == SAVE_REFUSED || t->state == SAVE_UNANSWERED ||
			       t->state == SAVE_WAITING) &&
			      !(t->jfile && t->jsteps == t->steps && t->jgen == t->gen);
		pthread_mutex_unlock(&s->lock);
		return behind ? keep(s, n) : 0;
	}
	copy = malloc(t->len ? t->len : 1);
	if (!copy) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	memcpy(copy, t->data, t->len);
	size_t len = t->len, cut = t->cut;
	unsigned long gen = t->gen;
	x.kind = n->kind;
	x.c = n->c;
	x.id = n->id ? strdup(n->id) : NULL;
	x.pending = t->pending;
	t->pending = NULL;
	t->sent_gen = gen;
	step(t, EV_SEND);
	inode_set_busy(s->inodes, n, true);
	if (x.kind == N_JSON) {
		record_path(n, x.what, sizeof(x.what));
		if (!bases_of(s, n, t, &x))
			log_msg(LOG_WARNING, "%s: out of memory: saved against the record as held",
				x.what);
	} else {
		/* The name the user wrote: hidden or freed once committed. */
		x.lname = inode_local_name(s->inodes, n);
		snprintf(x.what, sizeof(x.what), "%s/%s", x.c->name, x.lname ? x.lname : "?");
	}
	pthread_mutex_unlock(&s->lock);

	if (cut) {
		snprintf(msg, sizeof(msg),
			 "file too large: a file here holds at most %zu bytes (1 MiB), and %zu or "
			 "more were written; not sent: its first %zu bytes are kept under this name "
			 "until rm or the unmount, and not journaled (they are not the whole text)",
			 SAVE_TEXT_MAX, cut, len);
		rc = -EFBIG;
	} else {
		rc = send_text(s, n, copy, len, &x, msg, sizeof(msg));
	}

	pthread_mutex_lock(&s->lock);
	t = text_of(s, n);
	if (!t) {
		rc = rc < 0 ? rc : -ENOMEM;
		goto out;
	}
	bool same = t->gen == gen; /* nothing written while it was sent */
	t->sent_rc = rc == WB_UNSENT ? 0 : rc;
	if (x.bases.keep && n->kind == N_JSON && n->c == x.c && n->id && x.id &&
	    !strcmp(n->id, x.id)) {
		/* What the text starts from now.  A conflict's (the service's values of
		 * its fields, so the same text saved again keeps the user's) is also a
		 * version a user here holds: an editor that writes a new file at each
		 * save (vim) finds it there. */
		if (rc == -WB_CONFLICT)
			seen_note(s, x.c, x.id, x.bases.keep, x.bases.keep_len);
		free(t->base);
		t->base = x.bases.keep;
		t->base_len = x.bases.keep_len;
		x.bases.keep = NULL;
	}
	if (rc == WB_UNSENT) {
		/* A template copied as it is: a new file waiting for its edit
		 * (still carrying a POST that got no answer, if one did). */
		t->pending = x.pending;
		x.pending = NULL;
		step(t, same ? EV_UNSENT : EV_NEWER);
		log_msg(LOG_INFO, "%s: %s", x.what, msg);
		rc = 0;
	} else if (rc < 0) {
		set_error(t, msg);
		t->pending = x.pending;
		x.pending = NULL;
		step(t, !same ? EV_NEWER : t->pending ? EV_LOST : EV_REFUSED);
		/* A POST that got no answer had made the record, and the edit
		 * since was refused: the file is that record now, its text the
		 * refused edit (never a second POST). */
		if (x.new_id && x.kind == N_NEW)
			made(s, n, &x, fx);
	} else {
		step(t, same ? EV_TAKEN : EV_NEWER);
		taken(s, n, &x, same, fx);
		/* Saved, with something to tell (fields the service sets, ignored): a
		 * notice, in the change log, the log and the file's attribute. */
		if (msg[0] && x.kind == N_JSON) {
			char notice[600];
			snprintf(notice, sizeof(notice), "saved; %s", msg);
			notice_keep(s, n, notice);
			events_change(s->events, "%s: %s", x.what, notice);
		}
	}
out:
	pthread_cond_broadcast(&s->done);
	pthread_mutex_unlock(&s->lock);
	if (rc < 0)
		events_refused(s->events, x.what, "saved", msg);
	/* Before close() returns: what the service does not have is on disk
	 * (or close() says it is not: a text kept only in memory must not
	 * pass for safe, and the disk's errno wins over a refusal's: the
	 * refusal is in the status file, the lost safety only here). */
	int jrc = keep(s, n);
	if (jrc < 0)
		rc = jrc;
	inode_set_busy(s->inodes, n, false); /* last touch: @n may go now */
	sent_clear(&x);
	free(copy);
	return rc;
}

/* ---- names --------------------------------------------------------------------------- */

int save_create(struct save *s, struct node *dir, const char *name, mode_t mode, int flags,
		struct node **out)
{
	enum node_kind kind;
	int err, lflags = 0, rc = 0;
	double until = 0;
	char *id = NULL;
	struct node *n = inode_local(s->inodes, dir->ino, name, &lflags, &until);
	*out = NULL;
	if (n && (lflags & LE_REPLACING)) {
		/* mv writing the record it unlinked: an edit of the record. */
		inode_local_del(s->inodes, dir->ino, name);
		flags = (flags & ~O_EXCL) | O_TRUNC;
	}
	if (!n) {
		id = dir_listed_record(s->cache, dir->c, name, &kind, &err, NULL);
		if (err < 0)
			return err;
		if (id)
			n = inode_record(s->inodes, dir->c, kind, id);
		free(id);
	}
	if (n) {
		/* The name exists (a race with the kernel's "no such name"). */
		if (flags & O_EXCL)
			rc = -EEXIST;
		else if (flags & O_TRUNC)
			rc = save_truncate(s, n, 0);
		*out = rc == 0 ? n : NULL;
		return rc;
	}
	int nk = dir_new_kind(dir->c, name);
	if (nk == -EPERM && dir->c->restore_action) {
		/* A kept copy of a deleted record (.factuurfs/deleted/) copied back
		 * here, where the API makes none: say where it restores. */
		char what[600], why[300];
		snprintf(what, sizeof(what), "%s/%s", dir->c->name, name);
		snprintf(why, sizeof(why), "the API cannot create a record in %s/; a copy with "
			 "\"action\": \"%s\" written into invoices/ makes it a draft in "
			 "invoices_saved/", dir->c->name, dir->c->restore_action);
		events_refused(s->events, what, "created", why);
	}
	if (nk < 0)
		return nk;
	char *nr = NULL;
	if (nk == N_NEW && !schema_creates(dir->c)) {
		/* A payment file is named after its invoice. */
		nr = names_record_id(name, ".json");
		if (!nr)
			return -EINVAL;
	}
	/* Local files keep the owner's bits only (files here are private); a
	 * new *.json file is its owner's to edit whatever mode the create asks
	 * for (cp of a 0400 template asks for 0400). */
	mode &= 0700;
	if (nk == N_NEW)
		mode |= 0600;
	n = inode_local_new(s->inodes, nk, dir->c, mode);
	if (n && nr)
		inode_set_id(s->inodes, n, nr);
	free(nr);
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	rc = text_of(s, n) ? 0 : -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = inode_local_add(s->inodes, dir->ino, name, n, 0, 0);
	if (rc == 0)
		*out = n;
	return rc;
}

/* rm of new file @n, named @name in @c: its journal entry goes for good. */
static void unkeep(struct save *s, const struct schema_collection *c, const char *name,
		   struct node *n)
{
	char *file = s->journal ? journal_file(c->name, name) : NULL;
	if (!file)
		return;
	pthread_mutex_lock(&s->jlock);
	pthread_mutex_lock(&s->lock);
	if (n->text && n->text->jfile && !strcmp(n->text->jfile, file)) {
		free(n->text->jfile);
		n->text->jfile = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	int rc = journal_drop(s->journal, file);
	if (rc < 0)
		log_msg(LOG_ERR, "journal: %s could not be removed (%s): %s/%s shows again at "
			"the next mount", file, log_strerror(-rc), c->name, name);
	pthread_mutex_unlock(&s->jlock);
	free(file);
}

void save_set_times(struct save *s, struct times *t)
{
	s->times = t;
}

void save_set_deletes(struct save *s, struct deleted *d, bool allow_guarded)
{
	s->deleted = d;
	s->allow_guarded = allow_guarded;
}

/* True when pythonic value @v holds something: a date, a true, a number. */
static bool holds_value(const cJSON *v)
{
	return v && !cJSON_IsNull(v) && !cJSON_IsFalse(v) &&
	       !(cJSON_IsString(v) && !*v->valuestring);
}

/* Refuses the delete of record @r of @c when its collection guards it (a sent
 * invoice) and the mount does not allow it: -EPERM with the reason in @msg. */
static int delete_guarded(const struct save *s, const struct schema_collection *c,
			  const struct cache_record *r, char *msg, size_t msglen)
{
	if (!c->delete_guard || s->allow_guarded || !r)
		return 0;
	cJSON *rec = cJSON_ParseWithLength(r->text, r->len);
	bool guarded = holds_value(cJSON_GetObjectItemCaseSensitive(rec, c->delete_guard));
	cJSON_Delete(rec);
	if (!guarded)
		return 0;
	snprintf(msg, msglen, "not deleted: this invoice was sent (\"%s\" is set), and Dutch "
		 "invoice numbers must run on without gaps: correct it with a credit invoice, "
		 "or mount with -o allow_invoice_delete to delete it anyway", c->delete_guard);
	return -EPERM;
}

/* The text kept of deleted record @r: as the file showed it, with "action" (and a
 * "savename" when it has none) where its collection says how a copy restores. */
static char *kept_text(const struct schema_collection *c, const struct cache_record *r,
		       size_t *len)
{
	cJSON *rec = NULL;
	char *text = NULL;
	if (!c->restore_action) {
		*len = r->len;
		return strndup(r->text, r->len);
	}
	rec = cJSON_ParseWithLength(r->text, r->len);
	if (!rec)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(rec, "action");
	bool ok = cJSON_AddStringToObject(rec, "action", c->restore_action) != NULL;
	if (ok && !holds_value(cJSON_GetObjectItemCaseSensitive(rec, "savename"))) {
		char savename[300];
		snprintf(savename, sizeof(savename), "%s (deleted)", r->id);
		cJSON_DeleteItemFromObjectCaseSensitive(rec, "savename");
		ok = cJSON_AddStringToObject(rec, "savename", savename) != NULL;
	}
	if (ok)
		text = jt_format(rec, len);
	cJSON_Delete(rec);
	return text;
}

/* Keeps record @r of @c, about to be deleted, under .factuurfs/deleted/<c>/@name.
 * 0 (also without a store: -o nodiskcache), or -errno with the reason in @msg. */
static int keep_deleted(struct save *s, const struct schema_collection *c, const char *name,
			const struct cache_record *r, char *msg, size_t msglen)
{
	size_t len = 0;
	if (!s->deleted)
		return 0;
	char *text = kept_text(c, r, &len);
	int rc = text ? deleted_keep(s->deleted, c->name, name, text, len) : -ENOMEM;
	if (rc < 0)
		snprintf(msg, msglen, "not deleted: its copy could not be kept in "
			 ".factuurfs/deleted (%s), and a delete is never made without one",
			 log_strerror(-rc));
	free(text);
	return rc;
}

int save_unlink(struct save *s, struct node *dir, const char *name, pid_t pid,
		struct save_effects *fx)
{
	enum node_kind kind;
	char msg[512], what[1100];
	int err, rc;
	struct node *ln = inode_local(s->inodes, dir->ino, name, NULL, NULL);
	/* (A record's name held for an mv, or a created record's name, is not
	 * the new file's: the record's entry stays.) */
	if (ln && ln->kind == N_NEW)
		unkeep(s, dir->c, name, ln);
	else if (ln)
		unmade(s, dir->c, name); /* a created record's name: free for a new file */
	if (inode_local_del(s->inodes, dir->ino, name))
		return 0; /* a local file: nothing reaches the API */
	char *id = dir_listed_record(s->cache, dir->c, name, &kind, &err, NULL);
	if (!id)
		return err < 0 ? err : -ENOENT;
	if (kind == N_PDF) {
		free(id);
		return -EPERM;
	}
	struct node *n = inode_record(s->inodes, dir->c, kind, id);
	snprintf(what, sizeof(what), "%s/%s", dir->c->name, name);
	free(id);
	if (!n)
		return -ENOMEM;
	/* mv onto a record from another file system unlinks it and creates it
	 * anew: that is a save over the record, so nothing is deleted; the name
	 * is "no such file" until the create comes (SAVE_REPLACE_HOLD). */
	if (who_replaces(pid)) {
		rc = inode_local_add(s->inodes, dir->ino, name, n, LE_HIDDEN | LE_REPLACING,
				     s->now() + SAVE_REPLACE_HOLD);
		if (rc == 0)
			log_msg(LOG_INFO, "%s: unlinked by a program that writes it anew: "
				"kept for the save that follows", what);
		return rc;
	}
	/* rm of a record whose text the service refused drops that text (the
	 * record shows again as the service has it); it takes a second rm to
	 * delete the record itself. */
	pthread_mutex_lock(&s->lock);
	struct text *t = n->text;
	bool dropped = t && (t->state == SAVE_EDITED || t->state == SAVE_REFUSED ||
			     t->state == SAVE_UNANSWERED || t->state == SAVE_WAITING);
	if (dropped)
		text_drop(s, n);
	pthread_mutex_unlock(&s->lock);
	if (dropped) {
		keep(s, n);
		events_change(s->events, "dropped the unsaved text of %s", what);
		effect_now(fx, n->ino);
		return 0;
	}
	/* The record as it is now: what the guard reads, and what is kept.  One
	 * that cannot be read is not deleted: its guard cannot be checked, nor its
	 * copy kept. */
	struct cache_record *r = NULL;
	rc = cache_record_get(s->cache, dir->c, n->id, &r);
	if (rc < 0)
		snprintf(msg, sizeof(msg), "not deleted: it could not be read first (%s)",
			 log_strerror(-rc));
	if (rc == 0)
		rc = delete_guarded(s, dir->c, r, msg, sizeof(msg));
	/* Kept before the DELETE leaves, so that a daemon that dies as it is
	 * answered has it too; a copy of one whose DELETE failed stays (the
	 * service may have carried out a DELETE whose answer was lost). */
	if (rc == 0)
		rc = keep_deleted(s, dir->c, name, r, msg, sizeof(msg));
	if (rc == 0)
		rc = wb_delete(s->wb, dir->c, n->id, msg, sizeof(msg));
	cache_record_unref(r);
	if (rc < 0) {
		events_refused(s->events, what, "deleted", msg);
		return rc;
	}
	events_change(s->events, "deleted %s", what);
	effect_now(fx, dir->ino);
	fx->views = true;
	return 0;
}

/* A local copy of @src's current text under scratch name @name in @dir (a
 * backup made by rename or link); NULL on ENOMEM or when @src cannot be read. */
static struct node *local_copy(struct save *s, struct node *src, struct node *dir,
			       const char *name)
{
	struct cache_record *r = NULL;
	pthread_mutex_lock(&s->lock);
	bool has = src->text || src->kind == N_SCRATCH || src->kind == N_NEW;
	pthread_mutex_unlock(&s->lock);
	if (!has && (src->kind != N_JSON || cache_record_get(s->cache, src->c, src->id, &r) < 0))
		return NULL;
	struct node *n = inode_local_new(s->inodes, N_SCRATCH, dir->c, 0600);
	int rc = n ? 0 : -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		const char *text = r ? r->text : src->text ? src->text->data : "";
		size_t len = r ? r->len : src->text ? src->text->len : 0;
		rc = text_of(s, n) ? text_write(s, n, text, len, 0) : -ENOMEM;
	}
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = inode_local_add(s->inodes, dir->ino, name, n, 0, 0);
	cache_record_unref(r);
	return rc == 0 ? n : NULL;
}

/* Turns record node @n into the local file @name of @dir, with the text it
 * shows (its own, or the user's unsaved one).  Why the node moves rather
 * than a copy being made: the kernel has moved its entry (and the inode
 * number, and any open descriptor) to the new name, as POSIX has it, and
 * telling it otherwise takes an entry notice, which can only be queued (the
 * rename holds the directory's lock).  Under load it came after vim's next
 * calls, and vim took the backup and the record for one file.  The record's
 * name, which the kernel no longer has, gets a new node at its next lookup. */
static int detach_record(struct save *s, struct node *dir, struct node *n, const char *name)
{
	pthread_mutex_lock(&s->lock);
	int rc = text_load(s, n);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = inode_detach_record(s->inodes, n, N_SCRATCH);
	if (rc == 0 && (rc = inode_local_add(s->inodes, dir->ino, name, n, 0, 0)) < 0)
		inode_make_record(s->inodes, n, n->c, n->id); /* the rename fails: as it was */
	if (rc < 0)
		log_msg(LOG_ERR, "%s/%s: %s", dir->c->name, name, log_strerror(-rc));
	return rc;
}

int save_link(struct save *s, struct node *src, struct node *dir, const char *name,
	      struct node **out)
{
	*out = NULL;
	/* Only backups (gio save -b links file to file~): a copy, since a
	 * record cannot have two names on the service. */
	if (dir->kind != N_COLL || dir_new_kind(dir->c, name) != N_SCRATCH ||
	    (src->kind != N_JSON && src->kind != N_SCRATCH && src->kind != N_NEW))
		return -EPERM;
	if (inode_local(s->inodes, dir->ino, name, NULL, NULL))
		return -EEXIST;
	*out = local_copy(s, src, dir, name);
	return *out ? 0 : -EIO;
}

/* Saving over a record (gio, sed -i, editors' temp files): the rename of
 * local file @src (named @from) onto record @rec (named @to; @target when
 * @to is a created record's name, with its flags @lflags) is the commit of
 * the source's text as the record's, and fails if the service refuses.  The
 * record's node holds the text while it is sent, so a refusal leaves it
 * there, as after a refused save in place: sed -i and gio remove their
 * temporary file when the rename fails, and the user's text must survive
 * that (the rename still fails, so the program reports it). */
static int rename_onto_record(struct save *s, struct node *dir, struct node *src,
			      const char *from, const char *to, struct node *rec,
			      const struct node *target, int lflags, struct save_effects *fx)
{
	pthread_mutex_lock(&s->lock);
	const char *data = src->text ? src->text->data : "";
	size_t len = src->text ? src->text->len : 0;
	int rc = rec == src ? 0 : text_truncate(s, rec, 0);
	if (rc == 0 && rec != src)
		rc = text_write(s, rec, data, len, 0);
	/* A backup renamed back (vim's, after a failed write) brings the base it
	 * was detached with. */
	if (rc == 0 && rec != src && src->text && src->text->base && !rec->text->base &&
	    (rec->text->base = strndup(src->text->base, src->text->base_len)))
		rec->text->base_len = src->text->base_len;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = save_commit(s, rec, true, fx);
	effect_now(fx, rec->ino);
	if (rc < 0)
		return rc;
	/* The kernel now shows the source's inode under the record's name: it
	 * becomes (a second node of) the record. */
	if (!src->id || !strcmp(src->id, rec->id)) {
		inode_make_record(s->inodes, src, rec->c, rec->id);
		pthread_mutex_lock(&s->lock);
		text_drop(s, src); /* the record's text takes over */
		pthread_mutex_unlock(&s->lock);
	}
	inode_local_del(s->inodes, dir->ino, from);
	if (target)
		inode_local_add(s->inodes, dir->ino, to, src, lflags, 0);
	effect_now(fx, src->ino);
	effect_now(fx, dir->ino);
	return 0;
}

/* After a refused commit of @src under new name @to: the new name keeps a
 * copy of the refused text (a new file that failed), for the same reason as
 * over a record; the source is already back under its old name. */
static void keep_refused_copy(struct save *s, struct node *dir, struct node *src, const char *to,
			      struct save_effects *fx)
{
	mode_t mode;
	inode_times(s->inodes, src, &mode, NULL);
	struct node *copy = inode_local_new(s->inodes, N_NEW, dir->c, mode);
	if (copy && src->id)
		inode_set_id(s->inodes, copy, src->id);
	pthread_mutex_lock(&s->lock);
	bool kept = copy && src->text && text_keep_refused(s, copy, src->text) == 0;
	if (kept) {
		/* The refusal is the new name's: the source is a scratch file
		 * again, as it was before the rename.  The entry its commit
		 * wrote under the new name is the copy's now (keep(copy)
		 * rewrites it): the source must not drop it. */
		step(src->text, EV_WRITE);
		set_error(src->text, NULL);
		free(src->text->jfile);
		src->text->jfile = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (kept && inode_local_add(s->inodes, dir->ino, to, copy, 0, 0) == 0) {
		/* The kernel may hold "no such name" for it (the rename's own
		 * lookup): an entry notice, queued (the rename holds the
		 * directory's lock). */
		effect_entry(fx, dir->ino, to);
		effect_now(fx, copy->ino);
		/* The refused text is the new name's now, on disk too (the
		 * source's entry went with the commit's keep()). */
		keep(s, copy);
	} else {
		inode_local_del(s->inodes, dir->ino, to);
	}
}

/* Renames local file @src (named @from) onto the name @to, which no record
 * has, as a file of kind @nk: a scratch file turned into a new *.json file is
 * committed (POST), and on refusal goes back to what it was under its old
 * name (keep_refused_copy keeps the text at the new one). */
static int rename_onto_name(struct save *s, struct node *dir, struct node *src, const char *from,
			    const char *to, int nk, struct save_effects *fx)
{
	/* A payment file is named after its invoice (as in save_create). */
	char *pay_id = NULL;
	if (nk == N_NEW && !schema_creates(dir->c) &&
	    !(pay_id = names_record_id(to, ".json")))
		return -EINVAL;
	enum node_kind was = src->kind;
	/* A new file there whose POST got no answer hands that pending POST on
	 * to the text saved over it (gio save again): it must look first. */
	struct node *prev = inode_local(s->inodes, dir->ino, to, NULL, NULL);
	if (prev && prev != src && prev->kind == N_NEW && nk == N_NEW && was == N_SCRATCH) {
		pthread_mutex_lock(&s->lock);
		struct text *t = text_of(s, src);
		if (t && !t->pending && prev->text && prev->text->pending) {
			t->pending = prev->text->pending;
			prev->text->pending = NULL;
		}
		pthread_mutex_unlock(&s->lock);
	}
	/* Move the name first: a commit names the file by its new name. */
	int rc = inode_local_add(s->inodes, dir->ino, to, src, 0, 0);
	if (rc == 0) {
		inode_local_del(s->inodes, dir->ino, from); /* src keeps its new name */
		inode_set_kind(s->inodes, src, nk);
	}
	if (rc < 0 || !(nk == N_NEW && was == N_SCRATCH)) {
		free(pay_id);
		return rc;
	}
	/* A new record saved through a temporary name: POST now, whatever it
	 * holds. */
	if (pay_id)
		inode_set_id(s->inodes, src, pay_id);
	free(pay_id);
	pthread_mutex_lock(&s->lock);
	struct text *t = text_of(s, src);
	if (t)
		step(t, EV_WRITE);
	pthread_mutex_unlock(&s->lock);
	rc = t ? save_commit(s, src, true, fx) : -ENOMEM;
	if (rc < 0) {
		inode_set_kind(s->inodes, src, was);
		if (inode_local_add(s->inodes, dir->ino, from, src, 0, 0) == 0)
			keep_refused_copy(s, dir, src, to, fx);
	}
	return rc;
}

/* Renames local file @src (named @from) onto @to: the commit when @to is a
 * record or a new *.json name, a plain local rename otherwise. */
static int rename_local(struct save *s, struct node *dir, struct node *src, const char *from,
			const char *to, unsigned int flags, struct save_effects *fx)
{
	enum node_kind kind;
	int lflags = 0, err, rc;
	char *tid = dir_listed_record(s->cache, dir->c, to, &kind, &err, NULL);
	if (err < 0)
		return err;
	struct node *target = inode_local(s->inodes, dir->ino, to, &lflags, NULL);
	if (target && target->kind != N_JSON)
		target = NULL; /* (only a created record's name counts as a record) */
	bool taken_name = tid || inode_local(s->inodes, dir->ino, to, NULL, NULL);
	int nk = tid || target ? N_JSON : dir_new_kind(dir->c, to);
	if (taken_name && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else if (tid && kind == N_PDF) {
		rc = -EPERM;
	} else if (tid || target) {
		struct node *rec = target ? target : inode_record(s->inodes, dir->c, N_JSON, tid);
		rc = rec ? rename_onto_record(s, dir, src, from, to, rec, target, lflags, fx)
			 : -ENOMEM;
	} else if (nk < 0) {
		rc = nk;
	} else {
		rc = rename_onto_name(s, dir, src, from, to, nk, fx);
	}
	free(tid);
	return rc;
}

int save_rename(struct save *s, struct node *dir, const char *from, const char *to,
		unsigned int flags, struct save_effects *fx)
{
	enum node_kind kind;
	int lflags = 0, err;
	struct node *src = inode_local(s->inodes, dir->ino, from, &lflags, NULL);
	if (src && !(lflags & (LE_HIDDEN | LE_REPLACING))) {
		int rc = rename_local(s, dir, src, from, to, flags, fx);
		/* Its entry follows the name (or goes, when it became a scratch
		 * file or the record's). */
		keep(s, src);
		return rc;
	}
	src = NULL;
	if (!(lflags & (LE_HIDDEN | LE_REPLACING))) {
		char *id = dir_listed_record(s->cache, dir->c, from, &kind, &err, NULL);
		if (!id)
			return err < 0 ? err : -ENOENT;
		src = kind == N_JSON ? inode_record(s->inodes, dir->c, N_JSON, id) : NULL;
		free(id);
	}
	/* A record renamed to a scratch name (vim's and emacs' backups by
	 * rename): the record stays on the service, and the new name is a local
	 * file holding its text. */
	if (!src || dir_new_kind(dir->c, to) != N_SCRATCH)
		return -EPERM;
	if ((flags & RENAME_NOREPLACE) && inode_local(s->inodes, dir->ino, to, NULL, NULL))
		return -EEXIST;
	int rc = detach_record(s, dir, src, to);
	/* A refused text moves with the node into the backup, a scratch file:
	 * the record's name shows the record again, and its entry goes. */
	keep(s, src);
	return rc;
}
