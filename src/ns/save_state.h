/* save_state: the states of a text of the user's and the table of its
 * transitions (docs/ARCHITECTURE.md, the save state machine).
 *
 * Data only: the table says which state a text goes to on each event of its
 * life; every module of the save machine moves a text through
 * save_text_step (ns/save_text.h), which reads it.  No lock: the table is
 * constant.
 */
#ifndef FACTUURFS_NS_SAVE_STATE_H
#define FACTUURFS_NS_SAVE_STATE_H

/* The states of a text. */
enum save_state {
	SAVE_CLEAN,      /* nothing of the user's unsent: a record's own text, or what the
			    service took */
	SAVE_EDITED,     /* written since the last commit */
	SAVE_SENDING,    /* a commit of it is in flight */
	SAVE_REFUSED,    /* refused: the user's text, kept with the reason */
	SAVE_UNANSWERED, /* a POST of it got no answer: the next commit looks for the record
			    it may have made before it posts again */
	SAVE_WAITING,    /* a template copied as it is: kept, not sent, until edited */
	SAVE_NSTATES
};

/* Events of a text's life (the columns of the transition table). */
enum save_event {
	SAVE_EV_WRITE,   /* write, truncate */
	SAVE_EV_SEND,    /* a commit sends it */
	SAVE_EV_TAKEN,   /* the service took it */
	SAVE_EV_REFUSED, /* refused: bad text, the service said no, no connection */
	SAVE_EV_LOST,    /* a POST of it got no answer */
	SAVE_EV_UNSENT,  /* a template as it is: not sent */
	SAVE_EV_NEWER,   /* the outcome came for a text written over meanwhile */
	SAVE_NEVENTS
};

/* The state a text in @from goes to on @ev, or SAVE_NSTATES when the table has
 * no such transition (a bug: the caller logs it and keeps the state). */
enum save_state save_state_next(enum save_state from, enum save_event ev);
/* "clean", "edited", ...: how the log names @st. */
const char *save_state_name(enum save_state st);

#endif
