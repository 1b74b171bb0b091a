/* who: tells the programs a user runs from those that read files on their own.
 *
 * A file manager's thumbnailer or a desktop indexer reads every PDF in a
 * folder the moment it is shown; on this filesystem each first read is an
 * API call from an hourly budget.  The reserve policy (api_background_take)
 * needs to know which reads those are: this module decides from the reading
 * process's name, by a table in who.c.
 */
#ifndef FACTUURFS_WHO_H
#define FACTUURFS_WHO_H

#include <stdbool.h>
#include <sys/types.h>

/* True when process @pid is a background reader (a thumbnailer, an
 * indexer).  Unknown or vanished processes, and pid 0, count as the user's. */
bool who_is_background(pid_t pid);

#endif
