/* save_write: what the user wrote, read and written (see save_write.h). */
#include "ns/save_write.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "ns/save_i.h"
#include "ns/save_target.h"
#include "ns/save_text.h"
#include "store/cache.h"
#include "store/times.h"

void save_served(struct save *s, struct node *n, const char *text, size_t len)
{
	if (save_target_of(n) != SAVE_T_RECORD || !n->id)
		return;
	pthread_mutex_lock(&s->lock);
	save_seen_note(&s->seen, n->c, n->id, text, len);
	pthread_mutex_unlock(&s->lock);
}

bool save_read(struct save *s, struct node *n, char *buf, size_t size, off_t off, size_t *got)
{
	bool has;
	*got = 0;
	pthread_mutex_lock(&s->lock);
	has = n->text || save_target_rule_of(n)->local;
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
	bool has = n->text || save_target_rule_of(n)->local;
	*size = n->text ? (off_t)n->text->len : 0;
	pthread_mutex_unlock(&s->lock);
	return has;
}

char *save_error(struct save *s, struct node *n)
{
	char *e = NULL;
	pthread_mutex_lock(&s->lock);
	const char *notice;
	if (n->text && (n->text->state == SAVE_REFUSED || n->text->state == SAVE_UNANSWERED) &&
	    n->text->error)
		e = strdup(n->text->error);
	else if ((notice = save_notice_get(&s->notices, n->ino)))
		e = strdup(notice);
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

int save_write_load(struct save *s, struct node *n)
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
		struct text *t = save_text_of(s, n);
		rc = t ? save_text_reserve(t, r->len) : -ENOMEM;
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
			save_seen_note(&s->seen, n->c, n->id, r->text, r->len);
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
	enum save_target tg = save_target_of(n);
	if (save_target_rule(tg)->local)
		return 0;
	if (tg != SAVE_T_RECORD)
		return -EPERM;
	return save_write_load(s, n);
}

int save_write(struct save *s, struct node *n, const char *data, size_t size, off_t off)
{
	pthread_mutex_lock(&s->lock);
	int rc = writable(s, n);
	if (rc == 0)
		rc = save_text_write(s, n, data, size, off);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int save_truncate(struct save *s, struct node *n, off_t size)
{
	pthread_mutex_lock(&s->lock);
	int rc = writable(s, n);
	if (rc == 0)
		rc = save_text_truncate(s, n, size);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
