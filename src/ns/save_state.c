/* save_state: the transition table of a text's states (see save_state.h). */
#include "ns/save_state.h"

#define X SAVE_NSTATES /* no such transition: a bug, logged, state kept */

/* The transition table: the state a text goes to on each event.  A commit
 * with nothing to send (CLEAN, WAITING, a REFUSED text closed again without
 * fsync) is no event.  The outcome of a send of a text written over while it
 * ran is SAVE_EV_NEWER: the newer text is still to be sent. */
static const enum save_state transitions[SAVE_NSTATES][SAVE_NEVENTS] = {
	/*                 WRITE        SEND          TAKEN       REFUSED       LOST             UNSENT        NEWER */
	[SAVE_CLEAN]      = {SAVE_EDITED, X,            X,          X,            X,               X,            X},
	[SAVE_EDITED]     = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_SENDING]    = {SAVE_SENDING, X,           SAVE_CLEAN, SAVE_REFUSED, SAVE_UNANSWERED, SAVE_WAITING, SAVE_EDITED},
	[SAVE_REFUSED]    = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_UNANSWERED] = {SAVE_EDITED, SAVE_SENDING, X,          X,            X,               X,            X},
	[SAVE_WAITING]    = {SAVE_EDITED, X,            X,          X,            X,               X,            X},
};

static const char *const state_names[SAVE_NSTATES] = {
	"clean", "edited", "sending", "refused", "unanswered", "waiting",
};

enum save_state save_state_next(enum save_state from, enum save_event ev)
{
	if ((unsigned)from >= SAVE_NSTATES || (unsigned)ev >= SAVE_NEVENTS)
		return X;
	return transitions[from][ev];
}

const char *save_state_name(enum save_state st)
{
	return (unsigned)st < SAVE_NSTATES ? state_names[st] : "?";
}
