/* SPDX-License-Identifier: MIT */
/*
 * Host side of a guest UART: bytes are collected into lines and written to
 * a file descriptor (stdout for the console), with the kernel's "\r\n"
 * turned into "\n". Lines are classified as they complete so the VM notices
 * a kernel panic (and the restart that follows it) from the console alone.
 * A partial line (a shell prompt) is written out by vm_console_flush(),
 * which the VM's watchdog calls periodically.
 */
#ifndef KTSTR_VMM_VM_CONSOLE_H
#define KTSTR_VMM_VM_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmm/vm.h"

#define VM_CONSOLE_LINE 1024

typedef void (*vm_console_mark_fn)(void *opaque, enum vm_console_mark mark);

struct vm_console {
	pthread_mutex_t lock;
	int fd;	   /* -1: output dropped (still scanned) */
	bool scan; /* classify lines (the kernel console) */
	vm_console_mark_fn on_mark;
	void *opaque;
	char line[VM_CONSOLE_LINE];
	size_t len;
	size_t flushed; /* bytes of `line` already written by a partial flush */
	uint64_t bytes;
	uint64_t first_byte_ns; /* CLOCK_MONOTONIC, 0 before any output */
	bool panicked, restarting;
	char panic_line[256];
};

void vm_console_init(struct vm_console *c, int fd, bool scan, vm_console_mark_fn on_mark,
		     void *opaque);
void vm_console_destroy(struct vm_console *c);
/* serial_tx_fn-compatible: one byte from the guest. */
void vm_console_putc(void *opaque, uint8_t byte);
/* Write out whatever partial line is pending. */
void vm_console_flush(struct vm_console *c);
/* At the end of the run: flush, and terminate a partial line with '\n'. */
void vm_console_finish(struct vm_console *c);

#endif
