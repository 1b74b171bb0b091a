/* credentials: the account's user name and API key, from the options,
 * the environment and the rc file, in that order of preference:
 *
 *   user name  -o username=, $FACTUURSTUREN_USERNAME, the rc file's username
 *   API key    $FACTUURSTUREN_APIKEY, -o apikey_file=, the rc file's apikey
 *
 * The rc file is ./.factuursturen_rc, else ~/.factuursturen_rc (INI; keys
 * outside any section are the default profile), its section -o profile=.  A
 * file holding the key that group or others may read is refused, as ssh
 * refuses such a private key.  Used by the mount (daemon.c) and by
 * `factuurfs probe` (cli.c): both take the account the same way.
 */
#ifndef FACTUURFS_CREDENTIALS_H
#define FACTUURFS_CREDENTIALS_H

#define CREDENTIALS_RC ".factuursturen_rc"
/* The service, unless -o url= says otherwise. */
#define CREDENTIALS_URL "https://www.factuursturen.nl/api/v1/"

/* What the command line said (each may be NULL); borrowed. */
struct credentials_opts {
	const char *username;
	const char *apikey_file;
	const char *profile;
};

/* Fills *@username and *@apikey (malloc'd; the key freed with credentials_wipe)
 * as above; 0, or -1 after printing why not on stderr.  $FACTUURSTUREN_APIKEY is
 * wiped from the environment (also from /proc/PID/environ's block) once read. */
int credentials_get(const struct credentials_opts *o, char **username, char **apikey);

/* Overwrites @s with zeros and frees it (NULL: nothing). */
void credentials_wipe(char *s);

#endif
