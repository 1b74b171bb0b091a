/* log: one place where factuurfs writes diagnostics.
 *
 * Foreground mounts log to stderr, daemons to syslog.  A foreground mount
 * whose stderr is systemd's journal ($JOURNAL_STREAM names it, as systemd
 * sets it for a unit's output) writes native journal entries instead: each
 * with its PRIORITY=, and a refusal with fields naming the file.  Nothing
 * logged may contain the API key: callers pass server messages and paths,
 * never credentials.
 */
#ifndef FACTUURFS_LOG_H
#define FACTUURFS_LOG_H

#include <stdbool.h>
#include <syslog.h>

void log_init(bool foreground, bool debug);

/* @level is a syslog level (LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG);
 * LOG_DEBUG is dropped unless debug logging was asked for. */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A refused save or rm of @file (a path in the mount) for @reason: the error
 * line "@file: @reason", and in the journal an entry with PRIORITY=3,
 * FACTUURFS_FILE=@file and FACTUURFS_REASON=@reason. */
void log_refusal(const char *file, const char *reason);

/* strerror(@err) that any thread may call: glibc's strerror() formats an errno
 * it does not know into one buffer shared by every thread; this text lives in
 * the calling thread's own, until its next call. */
const char *log_strerror(int err);

#endif
