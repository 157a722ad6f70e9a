/* SPDX-License-Identifier: MIT */
/* `ktstr vm`: option parsing, exposed for the unit tests (tests/unit/test_vm_cli.c). */
#ifndef KTSTR_CLI_CMD_VM_H
#define KTSTR_CLI_CMD_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/vm_exec.h"
#include "topo/topo.h"
#include "vmm/vm.h"

/* Exit codes of `ktstr vm` (also listed in its --help). */
enum {
	VM_EXIT_OK = 0,		   /* guest powered off or rebooted */
	VM_EXIT_HOST = 1,	   /* VMM or host failure (no /dev/kvm, KVM refused something) */
	VM_EXIT_USAGE = 2,	   /* bad usage or input */
	VM_EXIT_PANIC = 3,	   /* guest kernel panic */
	VM_EXIT_TIMEOUT = 4,	   /* --timeout elapsed */
	VM_EXIT_CRASH = 5,	   /* triple fault, KVM internal error, failed VM entry */
	VM_EXIT_INTERRUPTED = 130, /* SIGINT or SIGTERM */
};

/* Kernel command line used unless --no-default-cmdline (specs/vmm-x86.md §1.13). */
#define VM_DEFAULT_CMDLINE  "console=ttyS0,115200 panic=-1 nokaslr pci=off"
#define VM_DEFAULT_TOPOLOGY "1n1l1c1t"

struct vm_cli_opts {
	const char *kernel;
	const char *initramfs;
	struct topo topo;
	uint64_t memory; /* 0: default */
	const char *cmdline_extra;
	bool no_default_cmdline;
	unsigned timeout_s;
	bool verbose;
	bool help;
	/* --exec mode (cli/vm_exec.h); exec.kernel etc. are filled from the fields above */
	bool is_exec;
	struct vm_exec_opts exec;
};

/*
 * Parse `vm` arguments (argv[0] is "vm"). Returns 0, or -EINVAL with a
 * one-line message in err. Files are not opened here.
 */
int vm_cli_parse(int argc, char **argv, struct vm_cli_opts *o, char *err, size_t errlen);

/* The full kernel command line for these options (malloc'd; NULL on ENOMEM). */
char *vm_cli_cmdline(const struct vm_cli_opts *o);

/* Copy the machine options into o->exec for vm_exec_main(). */
void vm_cli_fill_exec(struct vm_cli_opts *o, uint64_t t0_ns);

/* Exit code for a VM outcome. */
int vm_cli_exit_code(enum vm_outcome o);

#endif
