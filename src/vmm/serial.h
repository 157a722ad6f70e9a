/* SPDX-License-Identifier: MIT */
/*
 * 16550A UART model (specs/vmm-x86.md §4.1): COM1 0x3F8 (GSI 4, the kernel
 * console) and COM2 0x2F8 (GSI 3).
 *
 * A pure state machine: bytes the guest transmits go to a tx callback,
 * interrupts to an irq callback, and host input is pushed with
 * serial_rx_push(). Nothing here knows about KVM, so the model is tested
 * byte by byte without it. All entry points take the UART's own lock (the
 * console is written from every vCPU thread); the callbacks run under it and
 * must not call back into the UART.
 */
#ifndef KTSTR_VMM_SERIAL_H
#define KTSTR_VMM_SERIAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/bus.h"

#define SERIAL_COM1_BASE 0x3F8
#define SERIAL_COM2_BASE 0x2F8
#define SERIAL_COM1_GSI	 4
#define SERIAL_COM2_GSI	 3
#define SERIAL_NR_REGS	 8
#define SERIAL_RX_FIFO	 64

/* Register offsets and the bits the model gives meaning to (16550 data sheet). */
enum {
	SERIAL_RBR_THR = 0, /* DLL when DLAB */
	SERIAL_IER = 1,	    /* DLM when DLAB */
	SERIAL_IIR_FCR = 2,
	SERIAL_LCR = 3,
	SERIAL_MCR = 4,
	SERIAL_LSR = 5,
	SERIAL_MSR = 6,
	SERIAL_SCR = 7,
};

#define SERIAL_IER_RDI	0x01 /* received data available */
#define SERIAL_IER_THRI 0x02 /* transmitter holding register empty */
#define SERIAL_IER_RLSI 0x04 /* receiver line status */
#define SERIAL_IER_MASK 0x0f

#define SERIAL_IIR_NONE	 0x01
#define SERIAL_IIR_THRI	 0x02
#define SERIAL_IIR_RDI	 0x04
#define SERIAL_IIR_RLSI	 0x06
#define SERIAL_IIR_FIFO	 0xc0
#define SERIAL_FCR_FIFO	 0x01
#define SERIAL_FCR_CLRRX 0x02
#define SERIAL_LCR_DLAB	 0x80
#define SERIAL_MCR_DTR	 0x01
#define SERIAL_MCR_RTS	 0x02
#define SERIAL_MCR_OUT1	 0x04
#define SERIAL_MCR_OUT2	 0x08
#define SERIAL_MCR_LOOP	 0x10
#define SERIAL_MCR_MASK	 0x1f
#define SERIAL_LSR_DR	 0x01
#define SERIAL_LSR_OE	 0x02
#define SERIAL_LSR_THRE	 0x20
#define SERIAL_LSR_TEMT	 0x40
#define SERIAL_MSR_IDLE	 0xb0 /* DCD | DSR | CTS, no deltas */

typedef void (*serial_tx_fn)(void *opaque, uint8_t byte);
typedef void (*serial_irq_fn)(void *opaque);

struct serial {
	pthread_mutex_t lock;
	const char *name;
	serial_tx_fn tx;   /* may be NULL: output dropped */
	serial_irq_fn irq; /* may be NULL */
	void *opaque;

	uint8_t ier, lcr, mcr, scr, dll, dlm, fcr;
	bool overrun;	   /* LSR.OE, sticky until LSR is read */
	bool thre_pending; /* THRE interrupt source armed */
	bool line;	   /* interrupt output as last computed */
	uint8_t rx[SERIAL_RX_FIFO];
	unsigned rx_head, rx_count;

	_Atomic uint64_t tx_bytes, irqs, rx_dropped;
};

void serial_init(struct serial *s, const char *name, serial_tx_fn tx, serial_irq_fn irq,
		 void *opaque);
void serial_destroy(struct serial *s);

/* One register access; `off` is 0..7 from the port base (others read 0xFF, writes dropped). */
uint8_t serial_read(struct serial *s, unsigned off);
void serial_write(struct serial *s, unsigned off, uint8_t val);

/* Host input for the guest; returns bytes accepted (the rest set LSR.OE and are dropped). */
size_t serial_rx_push(struct serial *s, const void *buf, size_t len);

/* Bus adapter: register with bus_register_pio(bus, base, SERIAL_NR_REGS, &serial_bus_ops, s). */
extern const struct bus_ops serial_bus_ops;

#endif
