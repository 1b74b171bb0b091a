/* cli_fetch: `factuurfs fetch MOUNTPOINT` — completes a mount's archive in
 * the foreground.
 *
 * It asks the mount to hurry (the FS_IOC_FETCH ioctl on .factuurfs/, renewed
 * every second while it runs: feat/prefetch.h, prefetch_hurry) and shows from
 * .factuurfs/status how far the archive is: a progress bar on a terminal, a
 * line every few seconds otherwise, and the time left at the service's rate.
 * It ends when every invoice's PDF is on disk (exit 0), or cleanly when the
 * hourly budget is down to what is kept for the user and the thumbnailers
 * (exit 3: the mount goes on in the background when the hour turns).  Like
 * the other commands it needs no credentials and makes no call itself.
 */
#ifndef FACTUURFS_CLI_FETCH_H
#define FACTUURFS_CLI_FETCH_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Exit status when the budget stopped it before the archive was complete. */
#define CLI_FETCH_AT_BUDGET 3

/* `factuurfs fetch MOUNTPOINT [--quiet]` (argv[1] is "fetch"): the process's
 * exit status (0 complete, 1 failed, 2 usage, CLI_FETCH_AT_BUDGET). */
int cli_fetch(int argc, char **argv);

/* @n as a count people read, "1,200", into @buf (@len bytes); returns @buf.  Also
 * what `factuurfs status` (cli.c) shows the archive's counts with. */
const char *cli_fetch_count(double n, char *buf, size_t len);

/* What `factuurfs status` (cli.c) reads the status file with, too. */

/* All of @path in a malloc'd NUL-terminated buffer (the caller's), or NULL with
 * errno set (EFBIG past 16 MiB). */
char *cli_fetch_slurp(const char *path);

/* The number at @key of @o, 0 when it is not one; the string, "" when it is not one
 * (@o's, valid while @o is). */
double cli_fetch_num(const cJSON *o, const char *key);
const char *cli_fetch_str(const cJSON *o, const char *key);

#endif
