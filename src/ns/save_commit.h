/* save_commit: a commit of a node's text — it is sent whole (feat/writeback.c)
 * by the way its target says (ns/save_target.h), and the outcome moves it
 * along the transition table (ns/save_state.h); the journal is made to agree
 * before the commit returns (ns/save_keep.h).
 */
#ifndef FACTUURFS_NS_SAVE_COMMIT_H
#define FACTUURFS_NS_SAVE_COMMIT_H

#include <stdbool.h>

#include "ns/inode.h"
#include "ns/save_effects.h"

struct save;

/* Commits @n's text: on FLUSH (@fsync false: close() reports the result),
 * FSYNC (@fsync: a refused text is tried again).  0 when there was nothing to
 * send or the service took it; -errno after a refusal, recorded with the
 * reason.  A commit finding one of the same text in flight waits for it and
 * reports its outcome.  Takes the locks itself; none may be held. */
int save_commit(struct save *s, struct node *n, bool fsync, struct save_effects *fx);

#endif
