/* SPDX-License-Identifier: MIT */
/*
 * Port-I/O and MMIO dispatch for the VMM (specs/vmm-x86.md §1.11).
 *
 * Devices register an address window with an ops table and an opaque
 * pointer; a vCPU exit is routed to the window that contains it, with the
 * offset relative to the window base. Every window is registered while the
 * machine is built, before any vCPU runs, so lookups take no lock. Accesses
 * that hit no window are never fatal: reads return all-ones, writes are
 * dropped, and each unknown port or address is logged once.
 *
 * Devices serialise their own state (a UART or a virtio transport can be
 * reached from several vCPU threads at once).
 */
#ifndef KTSTR_VMM_BUS_H
#define KTSTR_VMM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/log.h"

struct bus_ops {
	const char *name; /* shown in logs */
	/* `off` is relative to the window base; len is 1, 2, 4 or 8. */
	void (*read)(void *opaque, uint64_t off, void *data, uint32_t len);
	void (*write)(void *opaque, uint64_t off, const void *data, uint32_t len);
};

struct bus_range {
	uint64_t base, len;
	const struct bus_ops *ops;
	void *opaque;
};

struct bus_space {
	struct bus_range *ranges; /* sorted by base, non-overlapping */
	unsigned count, cap;
};

/* How many distinct unknown MMIO pages are remembered for "log once". */
#define BUS_UNKNOWN_MMIO_SLOTS 64

struct bus {
	struct bus_space pio, mmio;
	/* Log-once bookkeeping for accesses that hit no window. */
	_Atomic uint64_t pio_seen[65536 / 64];
	pthread_mutex_t unknown_lock;
	uint64_t mmio_seen[BUS_UNKNOWN_MMIO_SLOTS];
	unsigned mmio_seen_count;
	struct ratelimit rl_unknown_mmio;
	_Atomic uint64_t unknown_accesses; /* every access that hit no window */
};

void bus_init(struct bus *b);
void bus_destroy(struct bus *b);

/* 0, -EINVAL (len 0, wraps, or a port window beyond 0xFFFF), -EEXIST (overlap), -ENOMEM. */
int bus_register_pio(struct bus *b, uint16_t base, uint32_t len, const struct bus_ops *ops,
		     void *opaque);
int bus_register_mmio(struct bus *b, uint64_t base, uint64_t len, const struct bus_ops *ops,
		      void *opaque);

/*
 * Dispatch one access of `len` bytes. On a read `data` is filled (all-ones
 * when nothing claims the address). Returns true when a window handled it.
 * An access that straddles a window's end is treated as unknown.
 */
bool bus_pio(struct bus *b, uint16_t port, bool is_write, void *data, uint32_t len);
bool bus_mmio(struct bus *b, uint64_t addr, bool is_write, void *data, uint32_t len);

/* The window containing [addr, addr+len), or NULL. */
const struct bus_range *bus_find(const struct bus_space *s, uint64_t addr, uint64_t len);

#endif
