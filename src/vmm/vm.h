/* SPDX-License-Identifier: MIT */
/*
 * The whole machine: build -> run -> wait -> teardown
 * (design/ARCHITECTURE.md §5, specs/vmm-x86.md §1.10).
 *
 *   vm_create()      checks the inputs (kernel, initrd, topology, memory)
 *                    before touching /dev/kvm, then creates the VM, guest
 *                    RAM, the legacy devices (COM1, COM2, i8042, ACPI sleep
 *                    registers), loads the kernel and creates the vCPUs;
 *   vm_add_virtio()  plugs a virtio-mmio device into the next window
 *                    (bus window, irqfd, ioeventfds, guest memory, DSDT);
 *   vm_run()         writes the ACPI tables, runs one thread per vCPU plus a
 *                    watchdog, and returns when the guest powers off or
 *                    reboots, panics, crashes, times out or is interrupted;
 *   vm_destroy()     releases everything.
 */
#ifndef KTSTR_VMM_VM_H
#define KTSTR_VMM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "topo/topo.h"

struct vm;
struct vdev;

struct vm_config {
	const char *kernel_path;
	const char *initrd_path; /* NULL: none */
	struct topo topo;
	uint64_t ram_bytes;  /* 0: default (vm_default_ram) */
	const char *cmdline; /* complete kernel command line */
	unsigned timeout_s;  /* 0: no limit */
	int com1_fd;	     /* guest console (COM1) output, -1 to drop */
	int com2_fd;	     /* COM2 output, -1 to drop */
	uint64_t t0_ns;	     /* CLOCK_MONOTONIC "process start" for timings; 0 = vm_create */
	bool handle_signals; /* SIGINT/SIGTERM end the VM (VM_INTERRUPTED) during vm_run */
};

enum vm_outcome {
	VM_POWEROFF = 0, /* ACPI power-off or KVM shutdown event */
	VM_REBOOT,	 /* i8042/ACPI reset, or a triple fault right after "Restarting system" */
	VM_PANIC,	 /* guest kernel panic seen on the console */
	VM_TIMEOUT,	 /* vm_config.timeout_s elapsed */
	VM_CRASH,	 /* triple fault, failed VM entry, KVM internal error */
	VM_INTERRUPTED,	 /* SIGINT/SIGTERM */
	VM_HOST_ERROR,	 /* the VMM itself failed while running */
};

#define VM_REASON_LEN 640

struct vm_result {
	enum vm_outcome outcome;
	char reason[VM_REASON_LEN]; /* one line, no newline */
	char panic_line[256];	    /* "Kernel panic - not syncing: ..." when seen */
	/* Nanoseconds since vm_config.t0_ns; 0 when it never happened. */
	uint64_t setup_ns;	  /* first KVM_RUN of the BSP */
	uint64_t first_output_ns; /* first byte on COM1 */
	uint64_t total_ns;	  /* end of the VM */
	uint64_t console_bytes;	  /* bytes the guest wrote to COM1 */
	uint64_t exits_io, exits_mmio;
};

/* A failure of vm_create(): one line, and whether it is the user's input (exit 2). */
struct vm_error {
	char msg[512];
	bool bad_input;
};

int vm_create(const struct vm_config *cfg, struct vm **out, struct vm_error *err);

/*
 * Attach a virtio-mmio device (initialised with vdev_init) to the next free
 * window: MMIO window on the bus, KVM irqfd on its GSI, a KVM ioeventfd for
 * every queue whose vmmio_notify_fd() is >= 0, guest memory, and an
 * LNRO0005 entry in the DSDT. Call between vm_create() and vm_run(). The
 * window base and GSI are returned if the pointers are not NULL.
 */
int vm_add_virtio(struct vm *vm, struct vdev *d, uint64_t *base, uint32_t *gsi,
		  struct vm_error *err);

/*
 * Run to the end and fill res. Failures to start (ACPI tables, threads) are
 * reported as VM_HOST_ERROR in res; the return value is always 0. Call once.
 */
int vm_run(struct vm *vm, struct vm_result *res);

void vm_destroy(struct vm *vm);

/*
 * Ask a running VM to end now (any thread): every vCPU is kicked out of
 * KVM_RUN and vm_run() returns with VM_INTERRUPTED and this reason. Used by
 * the guest link when a deadline or a host signal ends the run.
 */
void vm_stop(struct vm *vm, const char *why);

/*
 * One line per vCPU, "[vCPU n rip=... cpl=... halted ...]", into buf (NUL-
 * terminated, cut at len); returns the length. Call after vm_run() returned:
 * the vCPUs are out of KVM_RUN then, so the register reads cannot wait on a
 * running vCPU. For the hang report (specs/guest-protocol.md §4.5.2).
 */
size_t vm_describe_vcpus(struct vm *vm, char *buf, size_t len);

/* Host RAM mapping and size, for devices/tests that need the raw view (e.g. host-shared memory). */
void *vm_ram(struct vm *vm, uint64_t *bytes);

/*
 * RAM used when vm_config.ram_bytes is 0: max(memmap_default_ram(topo),
 * enough for the kernel's decompression window, the initrd and its unpacked
 * copy), rounded up to 2 MiB.
 */
uint64_t vm_default_ram(const struct topo *t, uint64_t kernel_window_end, uint64_t initrd_bytes);

const char *vm_outcome_name(enum vm_outcome o);

/* Scan one console line for the kernel's panic markers (pure, for tests). */
enum vm_console_mark {
	VM_MARK_NONE = 0,
	VM_MARK_PANIC,	   /* "Kernel panic - not syncing" */
	VM_MARK_PANIC_END, /* "---[ end Kernel panic": the guest now spins forever */
	VM_MARK_RESTART,   /* "reboot: Restarting system" */
};
enum vm_console_mark vm_console_classify(const char *line);

#endif
