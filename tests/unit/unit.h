/* unit: a tiny check-and-report helper for the C unit tests (no framework).
 *
 * Each failed check prints one line "file:line: message"; unit_report() prints
 * "N passed, M failed" and returns the exit status for main().
 */
#ifndef FACTUURFS_UNIT_H
#define FACTUURFS_UNIT_H

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static unsigned unit_passed, unit_failed;

static inline bool unit_check(bool ok, const char *file, int line, const char *what)
{
	if (ok) {
		unit_passed++;
	} else {
		unit_failed++;
		printf("%s:%d: check failed: %s\n", file, line, what);
	}
	return ok;
}

/* Compares two strings, either of which may be NULL; shows both on failure. */
static inline bool unit_check_str(const char *got, const char *want, const char *file, int line,
				  const char *what)
{
	bool ok = (!got && !want) || (got && want && strcmp(got, want) == 0);

	if (ok) {
		unit_passed++;
	} else {
		unit_failed++;
		printf("%s:%d: %s: got %s%s%s, want %s%s%s\n", file, line, what, got ? "\"" : "",
		       got ? got : "NULL", got ? "\"" : "", want ? "\"" : "", want ? want : "NULL",
		       want ? "\"" : "");
	}
	return ok;
}

static inline int unit_report(void)
{
	printf("%u passed, %u failed\n", unit_passed, unit_failed);
	return unit_failed ? 1 : 0;
}

#define CHECK(cond) unit_check((cond), __FILE__, __LINE__, #cond)
#define CHECK_STR(got, want) unit_check_str((got), (want), __FILE__, __LINE__, #got)

#endif
