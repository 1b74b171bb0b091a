/* main: factuurfs's entry.  `factuurfs status|refresh|probe|fetch` are cli.c's;
 * anything else is a mount: its command line (config.c), then the daemon that
 * builds and serves it (daemon.c). */
#include <malloc.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include "base/log.h"
#include "cli.h"
#include "config.h"
#include "daemon.h"
#include "sighup.h"

/* The process: steady memory, and the key kept out of reach. */
static void harden(void)
{
	/* glibc gives each busy thread an arena of its own and keeps what it
	 * frees: with FUSE's worker threads the resident size crept up under
	 * load long after the cache stopped growing.  Two arenas keep it flat
	 * (test_load.py measures it) at no cost visible in the benchmark. */
	mallopt(M_ARENA_MAX, 2); /* NOLINT(concurrency-mt-unsafe): no thread yet */
	/* The key will be in this process's memory: no core dump may carry it
	 * to disk, and no other process of the user may read it through
	 * ptrace or /proc/PID/mem. */
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
#ifndef __SANITIZE_ADDRESS__
	/* (LeakSanitizer ptraces its own process: not in ASan builds.) */
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
}

int main(int argc, char *argv[])
{
	/* `factuurfs status|refresh MOUNTPOINT`: talk to a running mount; `factuurfs
	 * probe`: ask the service, with the key in memory as a mount has it. */
	if (cli_is_command(argc, argv)) {
		if (cli_needs_key(argv))
			harden();
		return cli_main(argc, argv);
	}
	/* Every thread started from here on leaves SIGHUP to the waiter. */
	sighup_block();
	struct config cfg;
	struct daemon *d = NULL;
	int ret = 1;
	int rc = config_parse(&cfg, argc, argv);
	if (rc == 0) {
		log_init(cfg.fuse.foreground, cfg.fuse.debug);
		harden();
		if (daemon_new(&d, &cfg) == 0)
			ret = daemon_serve(d);
		daemon_free(d);
	} else if (rc > 0) {
		ret = 0;
	}
	config_free(&cfg);
	return ret;
}
