/* probe: what the live service does where docs/API.md is uncertain.
 *
 * `factuurfs probe` (cli.c) asks the service a small fixed set of questions,
 * each a GET and never a write, at most PROBE_MAX_CALLS requests (retries
 * included), and answers per reading: the fields an invoice carries (is there
 * a `date`), which paging parameter it honours and what count=-1 does, the
 * forms of booleans per field, how one record comes (wrapped or bare, and a
 * missing one), the quotation PDF's path, countrylist/<lang>, what a search
 * that matches nothing answers, and the rate-limit headers.  The report holds
 * field names and forms only, never a value of a record, an identifier or the
 * key: a user can paste it into a bug report.  It ends with the mount options
 * it suggests (-o paging=).
 */
#ifndef FACTUURFS_FEAT_PROBE_H
#define FACTUURFS_FEAT_PROBE_H

#include <cjson/cJSON.h>
#include <stdio.h>

struct api;

/* Requests the probe sends at most. */
#define PROBE_MAX_CALLS 25

/* Asks the questions through @api: a new object (cJSON_Delete it) of readings,
 * each a string, in the order they are asked (only "credentials" and "calls"
 * when the credentials were refused or the service did not answer); NULL on
 * ENOMEM. */
cJSON *probe_run(struct api *api);

/* The report @r as text for a person, one reading a line, to @out. */
void probe_print(FILE *out, const char *url, const cJSON *r);

#endif
