/* sighup: `kill -HUP` of the daemon runs a callback (the mount drops every
 * cached listing, as a write to .factuurfs/refresh does).  The signal is waited
 * for on a thread of its own, so the callback may lock and call what it likes:
 * sighup_block, called before any thread is started, leaves SIGHUP to that
 * thread in every other one.
 */
#ifndef FACTUURFS_SIGHUP_H
#define FACTUURFS_SIGHUP_H

/* Blocks SIGHUP in the calling thread and every thread it starts later. */
void sighup_block(void);

struct sighup;

/* Starts the waiter: @fn(@arg) at every SIGHUP.  0 or -errno. */
int sighup_start(struct sighup **out, void (*fn)(void *arg), void *arg);
/* Ends the waiter; a call of @fn under way ends first.  @s may be NULL. */
void sighup_stop(struct sighup *s);

#endif
