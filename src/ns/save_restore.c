/* save_restore: the journal read back (see save_restore.h). */
#include "ns/save_restore.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/events.h"
#include "base/log.h"
#include "base/names.h"
#include "ns/dir.h"
#include "ns/journal.h"
#include "ns/save_i.h"
#include "ns/save_keep.h"
#include "ns/save_target.h"
#include "ns/save_text.h"

/* What the journal said in an entry that got no answer (it was restored). */
#define POSTING_ERROR "the daemon stopped while this file's POST was out, so the service may " \
		      "have made the record: saving again checks for it first"
/* The same for a payment, a reminder, a draft sent (wb_act): nothing to look for. */
#define ACTING_ERROR "the daemon stopped while this file's request was out, so the service " \
		     "may have carried it out: check the service; this text is not sent " \
		     "again by itself (remove the file and write it again to send it anyway)"

/* A created name (@e, in file @file): @e->name in its collection leads to the
 * record its POST made again.  0 or -errno. */
static int restore_made(struct save *s, const struct schema_collection *c,
			struct journal_entry *e, const char *file)
{
	const struct schema_collection *in = schema_find(e->made_in);
	fuse_ino_t dir = inode_coll_ino(c);
	enum save_target tg = save_target_kind(dir_new_kind(c, e->name), c);
	if (!in || in->single || !save_target_rule(tg)->newfile)
		return -EINVAL;
	if (inode_local(s->inodes, dir, e->name, NULL, NULL))
		return -EEXIST;
	struct node *r = inode_record(s->inodes, in, N_JSON, e->made_id);
	int rc = r ? inode_local_add(s->inodes, dir, e->name, r, LE_HIDDEN, 0) : -ENOMEM;
	char *copy = rc == 0 ? strdup(file) : NULL;
	if (copy)
		save_keep_made_add(s, copy); /* (s->jlock is held: save_journal_open) */
	if (rc == 0)
		log_msg(LOG_INFO, "%s/%s: its POST made %s/%s before the daemon stopped: the name "
			"leads to that record, and saving it again saves that record", c->name,
			e->name, in->name, e->made_id);
	return rc;
}

/* The node entry @e of @c goes back into: a record's, or a new file made
 * under its name; NULL when there is none to be had. */
static struct node *restore_node(struct save *s, const struct schema_collection *c,
				 const struct journal_entry *e)
{
	struct node *n = NULL;
	if (e->id) {
		/* A record's refused text: the record's node holds it, whatever
		 * the service holds now (docs/SEMANTICS.md says what a save then
		 * does). */
		return e->state == JOURNAL_REFUSED ? inode_record(s->inodes, c, N_JSON, e->id)
						   : NULL;
	}
	enum save_target tg = save_target_kind(dir_new_kind(c, e->name), c);
	if (!save_target_rule(tg)->newfile ||
	    inode_local(s->inodes, inode_coll_ino(c), e->name, NULL, NULL))
		return NULL;
	n = inode_local_new(s->inodes, N_NEW, c, (e->mode & 0700) | 0600);
	/* A payment file is named after its invoice. */
	char *pay = n && save_target_rule(tg)->named_by_record
			    ? names_record_id(e->name, ".json") : NULL;
	if (pay)
		inode_set_id(s->inodes, n, pay);
	free(pay);
	if (n && inode_local_add(s->inodes, inode_coll_ino(c), e->name, n, 0, 0) < 0)
		n = NULL;
	return n;
}

/* With s->lock held: @n's text becomes entry @e's (file @file), as it was. */
static int restore_text(struct save *s, struct node *n, struct journal_entry *e,
			const char *file)
{
	int rc = n->text ? -EEXIST : save_text_write(s, n, e->text, e->len, 0);
	struct text *t = n->text;
	if (rc < 0)
		return rc;
	t->state = e->state == JOURNAL_WAITING ? SAVE_WAITING
		   : e->state == JOURNAL_REFUSED ? SAVE_REFUSED
						 : SAVE_UNANSWERED;
	t->steps++;
	t->sent_gen = t->gen;
	t->sent_rc = t->state == SAVE_WAITING ? 0 : -(e->err ? e->err : EINVAL);
	save_text_set_error(t, e->state != JOURNAL_POSTING      ? e->error
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
	/* On disk as it is (a "posting" entry is rewritten as unanswered at its
	 * next change). */
	t->jfile = strdup(file);
	t->jsteps = t->steps;
	t->jgen = t->gen;
	return 0;
}

/* The entry of a POST that made the record its name leads to now
 * (restore_made): the daemon stopped before this entry went.  True when @e
 * is one (its entry then goes). */
static bool restore_posted(struct save *s, const struct schema_collection *c,
			   const struct journal_entry *e, const char *file, const char *what)
{
	char *made_file = e->id ? NULL : journal_made_file(c->name, e->name);
	bool name_made = made_file && save_keep_made_find(s, made_file) >= 0;
	free(made_file);
	if (!name_made || !(e->state == JOURNAL_POSTING || e->state == JOURNAL_UNANSWERED))
		return false;
	int rc = journal_drop(s->journal, file);
	log_msg(LOG_INFO, "journal: %s: its POST made a record (above): its entry %s", what,
		rc == 0 ? "goes" : "stays");
	return true;
}

void save_restore(void *ud, struct journal_entry *e, const char *file)
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
	if (restore_posted(s, c, e, file, what))
		return;
	if (!(n = restore_node(s, c, e)))
		goto out;
	pthread_mutex_lock(&s->lock);
	rc = restore_text(s, n, e, file);
	struct text *t = n->text;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0) {
		struct timespec mt = {.tv_sec = (time_t)e->mtime, .tv_nsec = e->mtime_ns};
		mode_t mode = (e->mode & 0700) | 0600;
		inode_set_times(s->inodes, n, e->id ? NULL : &mode, &mt);
		log_msg(LOG_INFO, "%s: unsaved text restored from the journal (%s)", what,
			save_state_name(t->state));
		if (t->state != SAVE_WAITING)
			events_refused(s->events, what, "saved",
				       t->error ? t->error : "refused (restored from the journal)");
	}
out:
	if (rc < 0)
		log_msg(LOG_ERR, "journal: %s (%s) not restored: %s; the entry stays", what, file,
			rc == -EINVAL ? "no such file can be made here" : log_strerror(-rc));
}
