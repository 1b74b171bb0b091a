/* ioctl: the requests `factuurfs refresh` and `factuurfs fetch` (cli.c,
 * cli_fetch.c) send to a mount's .factuurfs directory, and control.c answers.
 * The one thing the commands and the daemon share, so that the commands need
 * nothing else of the FUSE layer.
 */
#ifndef FACTUURFS_FUSE_IOCTL_H
#define FACTUURFS_FUSE_IOCTL_H

#include <sys/ioctl.h>

/* On a read-only mount (-o ro) the kernel refuses the write to
 * .factuurfs/refresh; `factuurfs refresh` (cli.c) then sends the same text,
 * NUL-terminated, by this ioctl on the .factuurfs directory, which the
 * daemon takes as that write. */
#define FS_REFRESH_IOCTL_SIZE 1024
#define FS_IOC_REFRESH _IOW('F', 0x52, char[FS_REFRESH_IOCTL_SIZE])

/* `factuurfs fetch` asks the archive to hurry for @seconds (feat/prefetch.h,
 * prefetch_hurry) by this ioctl on the .factuurfs directory, and gets back
 * the hurry session's number in @session.  ENODEV: this mount keeps no
 * archive (-o noarchive, no disk cache). */
struct fs_fetch_ioctl {
	unsigned int seconds;
	unsigned int session;
};
#define FS_IOC_FETCH _IOWR('F', 0x46, struct fs_fetch_ioctl)

#endif
