/* save_keep: the journal kept in agreement with the texts (see save_keep.h). */
#include "ns/save_keep.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/events.h"
#include "base/log.h"
#include "base/names.h"
#include "base/vec.h"
#include "feat/writeback.h"
#include "ns/journal.h"
#include "ns/save_i.h"
#include "ns/save_target.h"
#include "ns/save_text.h"

/* With s->lock held: the name @n's text is journaled under (malloc'd), or
 * NULL when it has none: a record's own name when @n is the record's node
 * (or one that speaks for it), a new file's local name; nothing for scratch
 * files, whose texts never reach the service. */
static char *journal_name(struct save *s, const struct node *n)
{
	char *name = NULL;
	const struct save_target_rule *rule = save_target_rule_of(n);
	if (!n->c)
		return NULL; /* (none of a collection: no name there) */
	bool record = rule->record && n->id;
	const struct node *canon = record ? inode_find_record(s->inodes, n->c, N_JSON, n->id)
					  : NULL;
	/* A second node of a record (a created file adopted by a record the
	 * kernel had seen) speaks for it unless the record's own node has a
	 * text of its own. */
	if (record && (!canon || canon == n || !canon->text)) {
		char *stem = names_encode(n->id);
		if (stem && asprintf(&name, "%s.json", stem) < 0)
			name = NULL;
		free(stem);
	} else if (rule->newfile) {
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

/* With s->lock held: @n's settled text @t, named @name, encoded as its entry
 * into *@data (malloc'd), *@len. */
static int keep_entry(struct save *s, struct node *n, const struct text *t, char *name,
		      char **data, size_t *len)
{
	bool record = save_target_rule_of(n)->record;
	struct journal_entry e = {
		.collection = (char *)n->c->name,
		.name = name,
		.id = record ? n->id : NULL,
		.state = journal_state_of(t),
		.err = t->state == SAVE_WAITING ? 0 : t->sent_rc < 0 ? -t->sent_rc : EINVAL,
		.error = t->state == SAVE_WAITING ? NULL : t->error,
		.pending = record ? NULL : t->pending,
		.base = record ? t->base : NULL,
		.base_len = t->base_len,
		.text = t->data,
		.len = t->len,
	};
	/* (A record is never left unanswered: its save is a PUT.) */
	if (record)
		e.state = JOURNAL_REFUSED;
	if (e.state == JOURNAL_UNANSWERED && !e.pending)
		e.state = JOURNAL_REFUSED;
	mode_t mode = 0600;
	struct timespec mt = {0};
	inode_times(s->inodes, n, &mode, &mt);
	e.mode = mode & 07777;
	e.mtime = mt.tv_sec;
	e.mtime_ns = mt.tv_nsec;
	return journal_encode(&e, data, len);
}

/* What save_keep decided under the lock, and does with the disk after it. */
struct keep_plan {
	enum { SKIP, PUT, DROP } act;
	struct text *t;    /* @n's text then (may be NULL) */
	char *name, *file; /* its journal name and file (NULL: none) */
	char *old;         /* an entry under another name, to go once @file is written */
	char *data;        /* PUT: the entry */
	size_t len;
	char **orphans;    /* the entries of texts dropped since, to go */
	size_t norphans;
};

/* The entry under another name than @p->file goes (it was renamed, made a
 * record) once the new one is written; with s->lock held. */
static void keep_move(struct keep_plan *p)
{
	if (p->t->jfile && strcmp(p->t->jfile, p->file) != 0)
		p->old = p->t->jfile;
	else
		free(p->t->jfile);
	p->t->jfile = NULL;
}

/* With s->lock held: what the journal must do to agree with @n's text. */
static int keep_plan(struct save *s, struct node *n, struct keep_plan *p)
{
	struct text *t = p->t = n->text;
	int rc = 0;
	p->name = journal_name(s, n);
	p->file = p->name ? journal_file(n->c->name, p->name) : NULL;
	bool settled = !t || t->state == SAVE_CLEAN || t->state == SAVE_REFUSED ||
		       t->state == SAVE_UNANSWERED || t->state == SAVE_WAITING;
	if (!p->file && t && t->jfile) {
		/* No name of its own any more (rm, a record detached into a
		 * scratch file): its entry goes. */
		p->old = t->jfile;
		t->jfile = NULL;
	} else if (p->file && settled && (!t || t->state == SAVE_CLEAN)) {
		p->act = DROP;
		/* (One under another name, too: it was renamed, then taken.) */
		if (t)
			keep_move(p);
	} else if (p->file && settled && t->cut) {
		/* Only the start of what was written: not the user's text.  Its entry,
		 * if any, keeps the last whole text written here. */
	} else if (p->file && settled && !(t->jfile && !strcmp(t->jfile, p->file) &&
					   t->jsteps == t->steps && t->jgen == t->gen)) {
		rc = keep_entry(s, n, t, p->name, &p->data, &p->len);
		if (rc == 0) {
			p->act = PUT;
			keep_move(p);
			t->jfile = strdup(p->file);
			t->jsteps = t->steps;
			t->jgen = t->gen;
		}
	}
	p->orphans = s->orphans;
	p->norphans = s->norphans;
	s->orphans = NULL;
	s->norphans = s->orphans_cap = 0;
	return rc;
}

/* With s->jlock held: @p's entry written (a failure told and logged). */
static int keep_write(struct save *s, struct node *n, struct keep_plan *p)
{
	int rc = journal_write(s->journal, p->file, p->data, p->len);
	if (rc < 0) {
		char what[600];
		snprintf(what, sizeof(what), "%s/%s", n->c->name, p->name);
		events_error(s->events, what, "could not be journaled: a kill or reboot "
			     "now would lose this unsaved text");
		log_msg(LOG_ERR, "journal: %s: %s", p->file, log_strerror(-rc));
		/* Written again at the next save_keep(). */
		pthread_mutex_lock(&s->lock);
		if (n->text == p->t)
			p->t->jsteps--;
		pthread_mutex_unlock(&s->lock);
	}
	return rc;
}

/* With s->jlock held: the entries @p drops, after its write ended in @rc. */
static void keep_drops(struct save *s, struct keep_plan *p, int rc)
{
	/* The entry under an old name (renamed, made a record) goes once the
	 * new one is written: a failed write keeps the text at the old name. */
	int drc = 0;
	if (p->act == DROP)
		drc = journal_drop(s->journal, p->file);
	if (p->old && rc == 0)
		drc = journal_drop(s->journal, p->old);
	for (size_t i = 0; i < p->norphans; i++) {
		if (!p->file || strcmp(p->orphans[i], p->file) != 0 || p->act != PUT)
			if (journal_drop(s->journal, p->orphans[i]) < 0)
				drc = -EIO;
		free(p->orphans[i]);
	}
	if (drc < 0)
		log_msg(LOG_ERR, "journal: an entry of a text that was taken or dropped could "
			"not be removed (%s): it would show again at the next mount",
			log_strerror(-drc));
}

int save_keep(struct save *s, struct node *n)
{
	struct keep_plan p = {0};
	if (!s->journal)
		return 0;
	pthread_mutex_lock(&s->jlock);
	pthread_mutex_lock(&s->lock);
	int rc = keep_plan(s, n, &p);
	pthread_mutex_unlock(&s->lock);
	if (p.act == PUT)
		rc = keep_write(s, n, &p);
	keep_drops(s, &p, rc);
	pthread_mutex_unlock(&s->jlock);
	free(p.orphans);
	free(p.old);
	free(p.data);
	free(p.file);
	free(p.name);
	return rc;
}

/* The new file's entry, in state "posting", with what the lost-POST search
 * needs, on disk before the POST leaves: a daemon killed while it is out
 * restores the file as unanswered, and its next save looks for the record
 * before it posts again. */
int save_keep_posting(void *ud, const struct wb_pending *p)
{
	struct save_posting *po = ud;
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
			 * save_keep() after the outcome writes (or drops) it. */
			if (n->text->jfile && strcmp(n->text->jfile, file) != 0)
				save_text_orphan(s, n->text);
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

ssize_t save_keep_made_find(struct save *s, const char *file)
{
	for (size_t i = 0; i < s->nmade; i++)
		if (!strcmp(s->made[i], file))
			return (ssize_t)i;
	return -1;
}

void save_keep_made_add(struct save *s, char *file)
{
	if (save_keep_made_find(s, file) >= 0 ||
	    (s->nmade == s->made_cap &&
	     vec_grow(&s->made, &s->made_cap, s->nmade + 1, sizeof(*s->made)) < 0)) {
		free(file);
		return;
	}
	s->made[s->nmade++] = file;
}

/* The moment the service's answer names the record a new file's POST made
 * (or the listing shows the one a lost POST made), the journal keeps that
 * the file's name is that record now, before anything else: a daemon killed
 * before close() returns (or right after) brings the name back, leading to
 * the record, and the same `cp` again is a save of that record, never a
 * second POST.  The posting entry goes with the save_keep() of the outcome;
 * a kill before it leaves both, and the created name wins (save_restore). */
void save_keep_created(void *ud, const struct schema_collection *in, const char *id)
{
	struct save_posting *po = ud;
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
		save_keep_made_add(s, file);
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

void save_keep_unmade(struct save *s, const struct schema_collection *c, const char *name)
{
	char *file = s->journal ? journal_made_file(c->name, name) : NULL;
	if (!file)
		return;
	pthread_mutex_lock(&s->jlock);
	ssize_t i = save_keep_made_find(s, file);
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

void save_keep_unkeep(struct save *s, const struct schema_collection *c, const char *name,
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
