/* log: one place where factuurfs writes diagnostics.
 *
 * Foreground mounts log to stderr, daemons to syslog.  Nothing logged may
 * contain the API key: callers pass server messages and paths, never
 * credentials.
 */
#ifndef FACTUURFS_LOG_H
#define FACTUURFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(bool foreground, bool debug);

/* @level is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG);
 * LOG_DEBUG is dropped unless debug logging was asked for. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
