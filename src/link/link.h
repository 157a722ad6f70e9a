/* SPDX-License-Identifier: MIT */
/*
 * The guest-link thread (specs/guest-protocol.md §4.1–§4.5): it owns all
 * host-side protocol work while the VM runs. It waits on the console's TX
 * eventfd (ports 0 and 1), the COM1 and COM2 output pipes, a VM-exit eventfd,
 * a signalfd and a 250 ms tick; feeds the run record; enforces the boot,
 * command and post-DONE deadlines; PINGs a quiet guest and declares it hung
 * when init stops answering (§4.5.2); forwards Ctrl-C; and asks the VMM to
 * stop the VM when a deadline, a hang or a signal says so.
 */
#ifndef KTSTR_LINK_LINK_H
#define KTSTR_LINK_LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "link/run.h"

struct vc_dev;

#define LINK_CONSOLE_KEEP (256u * 1024) /* COM1 tail kept for the report */

struct link_config {
	struct vc_dev *console;
	int com1_rd, com2_rd; /* read ends of the COM1/COM2 pipes (non-blocking), -1 if none */
	unsigned scale;	      /* KTSTR_SCALE: multiplies the guest deadlines */
	unsigned timeout_s;   /* command timeout from PAYLOAD_STARTING; 0 = none */
	/* Length of a guest-deadline second (tests shorten it; 0 = 1000 ms); a unit below the
	 * 250 ms tick also shortens the tick to one unit, so tests see the deadlines on time. */
	unsigned unit_ms;
	bool echo_console;    /* --console: COM1 and hvc0 to stderr as they arrive */
	int hvc0_out;	      /* interactive shell: hvc0 output goes here (-1 = none) */
	int stdin_fd;	      /* interactive shell: forwarded to hvc0 until EOF (-1 = none) */
	bool forward_signals; /* SIGINT/SIGTERM/SIGHUP handled here (blocked elsewhere) */
	/* Stop the VM now (the VMM kicks every vCPU out and vm_run returns). */
	void (*stop_vm)(void *opaque, const char *why);
	void *opaque;
};

struct link {
	struct link_config cfg;
	struct run *run;
	pthread_t thread;
	int exit_fd, sig_fd, tick_fd, ep;
	char *console; /* COM1 tail */
	size_t con_len;
	char line[1024]; /* COM1 line being assembled, for panic detection */
	size_t line_len;
	uint64_t start_ms, done_ms, payload_ms, shut_ms, last_sigint_ms;
	unsigned sigints;
	bool shut_sent, stop_requested, stdin_watched;
	uint32_t shut_grace_ms;
	/* liveness (§4.5.2) */
	uint64_t life_ms;    /* host time of the last evidence of life */
	uint64_t life_seen;  /* run->life_events at that time */
	uint64_t pongs_seen; /* run->pongs already looked at */
	uint64_t ping_nonce; /* nonce of the outstanding PING, 0 when none */
};

/* SIGINT/SIGTERM/SIGHUP must be blocked in every thread before the VM starts them. */
void link_block_signals(void);
int link_start(struct link *l, const struct link_config *cfg, struct run *run);
/* The VM has ended: final drain, then the thread exits; joins it. */
void link_finish(struct link *l);
/* The COM1 tail (NUL-terminated) for the failure report. */
const char *link_console(const struct link *l);
void link_destroy(struct link *l);

#endif
