/* cli: the commands that talk to a running mount through its control files.
 *
 *   factuurfs status MOUNTPOINT [--json]   what .factuurfs/status holds, for a person
 *   factuurfs refresh MOUNTPOINT [PATH]    drop cached listings (all, or PATH's)
 *
 * They need no credentials and make no API call themselves: everything goes
 * through MOUNTPOINT/.factuurfs/, so they work for any user who can read the
 * mount, and from scripts.
 */
#ifndef FACTUURFS_CLI_H
#define FACTUURFS_CLI_H

#include <stdbool.h>

/* True when @argv names one of the commands above (argv[1]). */
bool cli_is_command(int argc, char **argv);

/* Runs it; returns the process's exit status (0 ok, 1 failed, 2 usage). */
int cli_main(int argc, char **argv);

#endif
