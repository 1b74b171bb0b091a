/* sighup: the SIGHUP waiter (see sighup.h). */
#include "sighup.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

struct sighup {
	pthread_t thread;
	void (*fn)(void *arg);
	void *arg;
};

void sighup_block(void)
{
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
}

static void *waiter(void *arg)
{
	struct sighup *s = arg;
	sigset_t set;
	int sig;
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0 || sig != SIGHUP)
			continue;
		/* Cancelled only in sigwait: never inside @fn, holding its locks. */
		int old;
		pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
		s->fn(s->arg);
		pthread_setcancelstate(old, NULL);
	}
	return NULL;
}

int sighup_start(struct sighup **out, void (*fn)(void *arg), void *arg)
{
	struct sighup *s = calloc(1, sizeof(*s));
	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->fn = fn;
	s->arg = arg;
	int rc = pthread_create(&s->thread, NULL, waiter, s);
	if (rc != 0) {
		free(s);
		return -rc;
	}
	*out = s;
	return 0;
}

void sighup_stop(struct sighup *s)
{
	if (!s)
		return;
	/* sigwait is a cancellation point: the waiter ends there, or once @fn
	 * returns. */
	pthread_cancel(s->thread);
	pthread_join(s->thread, NULL);
	free(s);
}
