/* cli: the commands that talk to a running mount through its control files.
 *
 *   factuurfs status MOUNTPOINT [--json]   what .factuurfs/status holds, for a person
 *   factuurfs refresh MOUNTPOINT [PATH]    drop cached listings (all, or PATH's)
 *   factuurfs fetch MOUNTPOINT [--quiet]   complete the archive (cli_fetch.h)
 *
 * They need no credentials and make no API call themselves: everything goes
 * through MOUNTPOINT/.factuurfs/, so they work for any user who can read the
 * mount, and from scripts.
 *
 *   factuurfs probe [-o OPTIONS] [--json]  what the service does where the API
 *                                          reference is uncertain (feat/probe.h)
 *
 * takes the account as a mount does (credentials.h; -o url, username,
 * apikey_file, profile, cafile, insecure, timeout) and asks the service
 * itself: GETs only, at most PROBE_MAX_CALLS.
 */
#ifndef FACTUURFS_CLI_H
#define FACTUURFS_CLI_H

#include <stdbool.h>

/* True when @argv names one of the commands above (argv[1]). */
bool cli_is_command(int argc, char **argv);

/* True for a command that holds the API key (probe): the caller hardens the
 * process first, as for a mount. */
bool cli_needs_key(char **argv);

/* Runs it; returns the process's exit status (0 ok, 1 failed, 2 usage). */
int cli_main(int argc, char **argv);

#endif
