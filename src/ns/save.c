/* save: the save machine's life cycle (see save.h; its state is save_i.h's). */
#include "ns/save.h"

#include <errno.h>
#include <stdlib.h>

#include "base/clock.h"
#include "base/log.h"
#include "ns/journal.h"
#include "ns/save_i.h"
#include "ns/save_restore.h"

static double default_now(void)
{
	return clock_mono();
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
	save_notice_clear(&s->notices);
	save_seen_clear(&s->seen);
	journal_free(s->journal);
	free(s);
}

int save_journal_open(struct save *s, const char *dir)
{
	struct journal *j = NULL;
	int rc = journal_open(&j, dir);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->jlock);
	s->journal = j;
	rc = journal_load(j, save_restore, s);
	if (rc < 0) {
		s->journal = NULL;
		journal_free(j);
	}
	pthread_mutex_unlock(&s->jlock);
	return rc;
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

void save_set_times(struct save *s, struct times *t)
{
	s->times = t;
}

void save_set_deletes(struct save *s, struct deleted *d, bool allow_guarded)
{
	s->deleted = d;
	s->allow_guarded = allow_guarded;
}
