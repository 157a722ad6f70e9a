/* SPDX-License-Identifier: MIT */
/*
 * `ktstr vm --exec`: boot the kernel with our virtio devices and a generated
 * initramfs whose /init is this binary, run one command inside, stream its
 * stdout/stderr back over the console's bulk port, and exit with its status
 * (specs/guest-protocol.md §4.6 for the codes that are not the command's).
 */
#ifndef KTSTR_CLI_VM_EXEC_H
#define KTSTR_CLI_VM_EXEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topo/topo.h"

#define VM_EXEC_MAX_DISKS    16
#define VM_EXEC_MAX_INCLUDES 64

struct vm_exec_opts {
	/* the machine */
	const char *kernel;
	struct topo topo;
	uint64_t memory; /* 0: default */
	const char *cmdline_extra;
	bool no_default_cmdline;
	unsigned timeout_s; /* command timeout; 0 = none */
	bool verbose;
	unsigned scale; /* KTSTR_SCALE for slow (nested/emulated) CPUs; 0 = 1 */
	/* the command: a shell string (through busybox sh -c) or an argv */
	const char *exec;
	char *const *exec_argv;
	size_t exec_argc;
	bool merge_output;
	bool shell;	    /* interactive: the command talks to the user on hvc0 (ktstr shell) */
	const char *env[8]; /* extra KEY=VALUE for the command */
	unsigned nenv;
	/* what goes into the guest */
	const char *disks[VM_EXEC_MAX_DISKS]; /* FILE[,ro][,iops=N][,bps=N] */
	unsigned ndisks;
	bool net;
	const char *includes[VM_EXEC_MAX_INCLUDES];
	unsigned nincludes;
	const char *modules_dir; /* NULL: /lib/modules/<release> */
	const char *busybox;	 /* NULL: /bin/busybox when it exists */
	/* reports */
	const char *stats_path;	 /* device counters as JSON at VM exit */
	const char *result_json; /* the run's verdict */
	bool console;		 /* echo COM1 and hvc0 to stderr live */
	uint64_t t0_ns;		 /* process start, for --verbose timings */
};

/* Run it; returns the exit code of `ktstr vm --exec`. */
int vm_exec_main(const struct vm_exec_opts *o);

#endif
