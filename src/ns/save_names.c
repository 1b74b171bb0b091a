/* save_names: create, unlink, link and rename in a collection directory (see
 * save_names.h). */
#include "ns/save_names.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h> /* RENAME_NOREPLACE, RENAME_EXCHANGE */
#include <stdlib.h>
#include <string.h>

#include "base/events.h"
#include "base/log.h"
#include "base/names.h"
#include "base/who.h"
#include "ns/dir.h"
#include "ns/save_commit.h"
#include "ns/save_delete.h"
#include "ns/save_i.h"
#include "ns/save_keep.h"
#include "ns/save_target.h"
#include "ns/save_text.h"
#include "ns/save_write.h"
#include "store/cache.h"

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
	const struct save_target_rule *rule = save_target_rule(save_target_kind(nk, dir->c));
	char *nr = NULL;
	if (rule->named_by_record) {
		/* A payment file is named after its invoice. */
		nr = names_record_id(name, ".json");
		if (!nr)
			return -EINVAL;
	}
	/* Local files keep the owner's bits only (files here are private); a
	 * new *.json file is its owner's to edit whatever mode the create asks
	 * for (cp of a 0400 template asks for 0400). */
	mode &= 0700;
	if (rule->newfile)
		mode |= 0600;
	n = inode_local_new(s->inodes, nk, dir->c, mode);
	if (n && nr)
		inode_set_id(s->inodes, n, nr);
	free(nr);
	if (!n)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	rc = save_text_of(s, n) ? 0 : -ENOMEM;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = inode_local_add(s->inodes, dir->ino, name, n, 0, 0);
	if (rc == 0)
		*out = n;
	return rc;
}

/* With s->lock held: rm of record @n whose text the service refused (or not
 * yet sent) drops that text: the record shows again as the service has it,
 * and it takes a second rm to delete the record itself.  True when it did. */
static bool drop_unsaved(struct save *s, struct node *n)
{
	struct text *t = n->text;
	bool dropped = t && (t->state == SAVE_EDITED || t->state == SAVE_REFUSED ||
			     t->state == SAVE_UNANSWERED || t->state == SAVE_WAITING);
	if (dropped)
		save_text_drop(s, n);
	return dropped;
}

int save_unlink(struct save *s, struct node *dir, const char *name, pid_t pid,
		struct save_effects *fx)
{
	enum node_kind kind;
	char what[1100];
	int err;
	struct node *ln = inode_local(s->inodes, dir->ino, name, NULL, NULL);
	/* (A record's name held for an mv, or a created record's name, is not
	 * the new file's: the record's entry stays.) */
	if (ln && save_target_rule_of(ln)->newfile)
		save_keep_unkeep(s, dir->c, name, ln);
	else if (ln)
		save_keep_unmade(s, dir->c, name); /* a created record's name: free for a new file */
	if (inode_local_del(s->inodes, dir->ino, name))
		return 0; /* a local file: nothing reaches the API */
	char *id = dir_listed_record(s->cache, dir->c, name, &kind, &err, NULL);
	if (!id)
		return err < 0 ? err : -ENOENT;
	if (!save_target_rule(save_target_kind(kind, dir->c))->record) {
		free(id);
		return -EPERM; /* a PDF */
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
		int rc = inode_local_add(s->inodes, dir->ino, name, n, LE_HIDDEN | LE_REPLACING,
				     s->now() + SAVE_REPLACE_HOLD);
		if (rc == 0)
			log_msg(LOG_INFO, "%s: unlinked by a program that writes it anew: "
				"kept for the save that follows", what);
		return rc;
	}
	pthread_mutex_lock(&s->lock);
	bool dropped = drop_unsaved(s, n);
	pthread_mutex_unlock(&s->lock);
	if (dropped) {
		save_keep(s, n);
		events_change(s->events, "dropped the unsaved text of %s", what);
		save_effects_now(fx, n->ino);
		return 0;
	}
	return save_delete_record(s, dir, n, name, what, fx);
}

/* A local copy of @src's current text under scratch name @name in @dir (a
 * backup made by rename or link); NULL on ENOMEM or when @src cannot be read. */
static struct node *local_copy(struct save *s, struct node *src, struct node *dir,
			       const char *name)
{
	struct cache_record *r = NULL;
	pthread_mutex_lock(&s->lock);
	const struct save_target_rule *rule = save_target_rule_of(src);
	bool has = src->text || rule->local;
	pthread_mutex_unlock(&s->lock);
	if (!has && (!rule->record || cache_record_get(s->cache, src->c, src->id, &r) < 0))
		return NULL;
	struct node *n = inode_local_new(s->inodes, N_SCRATCH, dir->c, 0600);
	int rc = n ? 0 : -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (rc == 0) {
		const char *text = r ? r->text : src->text ? src->text->data : "";
		size_t len = r ? r->len : src->text ? src->text->len : 0;
		rc = save_text_of(s, n) ? save_text_write(s, n, text, len, 0) : -ENOMEM;
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
	int rc = save_write_load(s, n);
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
	if (dir->kind != N_COLL ||
	    save_target_kind(dir_new_kind(dir->c, name), dir->c) != SAVE_T_SCRATCH ||
	    save_target_of(src) == SAVE_T_NONE)
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
	int rc = rec == src ? 0 : save_text_truncate(s, rec, 0);
	if (rc == 0 && rec != src)
		rc = save_text_write(s, rec, data, len, 0);
	/* A backup renamed back (vim's, after a failed write) brings the base it
	 * was detached with. */
	if (rc == 0 && rec != src && src->text && src->text->base && !rec->text->base &&
	    (rec->text->base = strndup(src->text->base, src->text->base_len)))
		rec->text->base_len = src->text->base_len;
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		rc = save_commit(s, rec, true, fx);
	save_effects_now(fx, rec->ino);
	if (rc < 0)
		return rc;
	/* The kernel now shows the source's inode under the record's name: it
	 * becomes (a second node of) the record. */
	if (!src->id || !strcmp(src->id, rec->id)) {
		inode_make_record(s->inodes, src, rec->c, rec->id);
		pthread_mutex_lock(&s->lock);
		save_text_drop(s, src); /* the record's text takes over */
		pthread_mutex_unlock(&s->lock);
	}
	inode_local_del(s->inodes, dir->ino, from);
	if (target)
		inode_local_add(s->inodes, dir->ino, to, src, lflags, 0);
	save_effects_now(fx, src->ino);
	save_effects_now(fx, dir->ino);
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
	bool kept = copy && src->text && save_text_keep_refused(s, copy, src->text) == 0;
	if (kept) {
		/* The refusal is the new name's: the source is a scratch file
		 * again, as it was before the rename.  The entry its commit
		 * wrote under the new name is the copy's now (keep(copy)
		 * rewrites it): the source must not drop it. */
		save_text_step(src->text, SAVE_EV_WRITE);
		save_text_set_error(src->text, NULL);
		free(src->text->jfile);
		src->text->jfile = NULL;
	}
	pthread_mutex_unlock(&s->lock);
	if (kept && inode_local_add(s->inodes, dir->ino, to, copy, 0, 0) == 0) {
		/* The kernel may hold "no such name" for it (the rename's own
		 * lookup): an entry notice, queued (the rename holds the
		 * directory's lock). */
		save_effects_entry(fx, dir->ino, to);
		save_effects_now(fx, copy->ino);
		/* The refused text is the new name's now, on disk too (the
		 * source's entry went with the commit's keep()). */
		save_keep(s, copy);
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
	const struct save_target_rule *rule = save_target_rule(save_target_kind(nk, dir->c));
	/* A payment file is named after its invoice (as in save_create). */
	char *pay_id = NULL;
	if (rule->named_by_record && !(pay_id = names_record_id(to, ".json")))
		return -EINVAL;
	enum node_kind was = src->kind;
	/* A scratch file turned into a new file: its commit sends it. */
	bool posts = rule->newfile && save_target_kind(was, dir->c) == SAVE_T_SCRATCH;
	/* A new file there whose POST got no answer hands that pending POST on
	 * to the text saved over it (gio save again): it must look first. */
	struct node *prev = inode_local(s->inodes, dir->ino, to, NULL, NULL);
	if (prev && prev != src && save_target_rule_of(prev)->newfile && posts) {
		pthread_mutex_lock(&s->lock);
		struct text *t = save_text_of(s, src);
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
	if (rc < 0 || !posts) {
		free(pay_id);
		return rc;
	}
	/* A new record saved through a temporary name: POST now, whatever it
	 * holds. */
	if (pay_id)
		inode_set_id(s->inodes, src, pay_id);
	free(pay_id);
	pthread_mutex_lock(&s->lock);
	struct text *t = save_text_of(s, src);
	if (t)
		save_text_step(t, SAVE_EV_WRITE);
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
	if (target && !save_target_rule_of(target)->record)
		target = NULL; /* (only a created record's name counts as a record) */
	bool taken_name = tid || inode_local(s->inodes, dir->ino, to, NULL, NULL);
	int nk = tid || target ? N_JSON : dir_new_kind(dir->c, to);
	if (taken_name && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
	} else if (tid && !save_target_rule(save_target_kind(kind, dir->c))->record) {
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
		save_keep(s, src);
		return rc;
	}
	src = NULL;
	if (!(lflags & (LE_HIDDEN | LE_REPLACING))) {
		char *id = dir_listed_record(s->cache, dir->c, from, &kind, &err, NULL);
		if (!id)
			return err < 0 ? err : -ENOENT;
		src = save_target_rule(save_target_kind(kind, dir->c))->record
			      ? inode_record(s->inodes, dir->c, N_JSON, id) : NULL;
		free(id);
	}
	/* A record renamed to a scratch name (vim's and emacs' backups by
	 * rename): the record stays on the service, and the new name is a local
	 * file holding its text. */
	if (!src || save_target_kind(dir_new_kind(dir->c, to), dir->c) != SAVE_T_SCRATCH)
		return -EPERM;
	if ((flags & RENAME_NOREPLACE) && inode_local(s->inodes, dir->ino, to, NULL, NULL))
		return -EEXIST;
	int rc = detach_record(s, dir, src, to);
	/* A refused text moves with the node into the backup, a scratch file:
	 * the record's name shows the record again, and its entry goes. */
	save_keep(s, src);
	return rc;
}
