// SPDX-License-Identifier: MIT
#include "vmm/serial.h"

#include <string.h>

void serial_init(struct serial *s, const char *name, serial_tx_fn tx, serial_irq_fn irq,
		 void *opaque)
{
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	s->name = name;
	s->tx = tx;
	s->irq = irq;
	s->opaque = opaque;
}

void serial_destroy(struct serial *s)
{
	pthread_mutex_destroy(&s->lock);
}

/* Highest-priority pending source as the IIR low nibble, or SERIAL_IIR_NONE. */
static uint8_t pending_source(const struct serial *s)
{
	if ((s->ier & SERIAL_IER_RLSI) && s->overrun)
		return SERIAL_IIR_RLSI;
	if ((s->ier & SERIAL_IER_RDI) && s->rx_count)
		return SERIAL_IIR_RDI;
	if ((s->ier & SERIAL_IER_THRI) && s->thre_pending)
		return SERIAL_IIR_THRI;
	return SERIAL_IIR_NONE;
}

/*
 * Recompute the interrupt output after every state change and raise the
 * irq only on a rising edge: the GSI is edge-triggered and wired to a plain
 * irqfd (a pulse), and a pulse with nothing pending makes Linux's handler
 * return IRQ_NONE, which eventually disables the line ("nobody cared").
 * MCR.OUT2 gates the output as on a PC; Linux sets it before enabling IER.
 */
static void update_irq(struct serial *s)
{
	bool line = (s->mcr & SERIAL_MCR_OUT2) && pending_source(s) != SERIAL_IIR_NONE;

	if (line && !s->line) {
		atomic_fetch_add_explicit(&s->irqs, 1, memory_order_relaxed);
		if (s->irq)
			s->irq(s->opaque);
	}
	s->line = line;
}

static bool rx_put(struct serial *s, uint8_t byte)
{
	if (s->rx_count == SERIAL_RX_FIFO) {
		s->overrun = true;
		atomic_fetch_add_explicit(&s->rx_dropped, 1, memory_order_relaxed);
		return false;
	}
	s->rx[(s->rx_head + s->rx_count) % SERIAL_RX_FIFO] = byte;
	s->rx_count++;
	return true;
}

static uint8_t rx_pop(struct serial *s)
{
	if (!s->rx_count)
		return 0;
	uint8_t b = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % SERIAL_RX_FIFO;
	s->rx_count--;
	return b;
}

static uint8_t read_msr(const struct serial *s)
{
	if (!(s->mcr & SERIAL_MCR_LOOP))
		return SERIAL_MSR_IDLE;
	/* Loopback wiring: RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD (status bits 4-7). */
	uint8_t m = 0;
	if (s->mcr & SERIAL_MCR_RTS)
		m |= 0x10;
	if (s->mcr & SERIAL_MCR_DTR)
		m |= 0x20;
	if (s->mcr & SERIAL_MCR_OUT1)
		m |= 0x40;
	if (s->mcr & SERIAL_MCR_OUT2)
		m |= 0x80;
	return m;
}

static uint8_t read_locked(struct serial *s, unsigned off)
{
	bool dlab = s->lcr & SERIAL_LCR_DLAB;
	uint8_t v;

	switch (off) {
	case SERIAL_RBR_THR:
		return dlab ? s->dll : rx_pop(s);
	case SERIAL_IER:
		return dlab ? s->dlm : s->ier;
	case SERIAL_IIR_FCR:
		v = pending_source(s);
		/* Reading an IIR that reports THRE acknowledges it. */
		if (v == SERIAL_IIR_THRI)
			s->thre_pending = false;
		/* Bits 7:6 set while FIFOs are on: Linux then detects a 16550A. */
		return v | ((s->fcr & SERIAL_FCR_FIFO) ? SERIAL_IIR_FIFO : 0);
	case SERIAL_LCR:
		return s->lcr;
	case SERIAL_MCR:
		return s->mcr;
	case SERIAL_LSR:
		/* THR is always empty: bytes leave at once, so THRE|TEMT are always set. */
		v = SERIAL_LSR_THRE | SERIAL_LSR_TEMT;
		if (s->rx_count)
			v |= SERIAL_LSR_DR;
		if (s->overrun)
			v |= SERIAL_LSR_OE;
		s->overrun = false;
		return v;
	case SERIAL_MSR:
		return read_msr(s);
	case SERIAL_SCR:
		return s->scr;
	default:
		return 0xff;
	}
}

static void write_locked(struct serial *s, unsigned off, uint8_t val)
{
	bool dlab = s->lcr & SERIAL_LCR_DLAB;

	switch (off) {
	case SERIAL_RBR_THR:
		if (dlab) {
			s->dll = val;
			break;
		}
		if (s->mcr & SERIAL_MCR_LOOP) {
			rx_put(s, val); /* loopback: the byte comes back on RX, not the wire */
		} else {
			atomic_fetch_add_explicit(&s->tx_bytes, 1, memory_order_relaxed);
			if (s->tx)
				s->tx(s->opaque, val);
		}
		/* THR empties at once, which re-arms THRE. */
		s->thre_pending = true;
		break;
	case SERIAL_IER:
		if (dlab) {
			s->dlm = val;
			break;
		}
		/* THRI 0->1 with an empty THR raises THRE (serial8250_do_startup relies on it). */
		if ((val & SERIAL_IER_THRI) && !(s->ier & SERIAL_IER_THRI))
			s->thre_pending = true;
		s->ier = val & SERIAL_IER_MASK;
		break;
	case SERIAL_IIR_FCR:
		s->fcr = val & (SERIAL_FCR_FIFO | 0xc0);
		if (val & SERIAL_FCR_CLRRX)
			s->rx_head = s->rx_count = 0;
		break;
	case SERIAL_LCR:
		s->lcr = val;
		break;
	case SERIAL_MCR:
		s->mcr = val & SERIAL_MCR_MASK;
		break;
	case SERIAL_SCR:
		s->scr = val;
		break;
	default: /* LSR and MSR are read-only */
		break;
	}
}

uint8_t serial_read(struct serial *s, unsigned off)
{
	pthread_mutex_lock(&s->lock);
	uint8_t v = read_locked(s, off);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return v;
}

void serial_write(struct serial *s, unsigned off, uint8_t val)
{
	pthread_mutex_lock(&s->lock);
	write_locked(s, off, val);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

size_t serial_rx_push(struct serial *s, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	size_t n = 0;

	pthread_mutex_lock(&s->lock);
	while (n < len && rx_put(s, p[n]))
		n++;
	if (n < len) /* everything past the first refused byte is lost too */
		atomic_fetch_add_explicit(&s->rx_dropped, len - n - 1, memory_order_relaxed);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return n;
}

/*
 * The UART has byte registers; a wider access touches consecutive registers
 * as one step: the interrupt output is evaluated once at the end, so a word
 * write that raises and clears a source in passing sends no pulse.
 */
static void serial_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	struct serial *s = opaque;
	uint8_t *d = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++)
		d[i] = off + i < SERIAL_NR_REGS ? read_locked(s, (unsigned)(off + i)) : 0xff;
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

static void serial_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	struct serial *s = opaque;
	const uint8_t *d = data;

	pthread_mutex_lock(&s->lock);
	for (uint32_t i = 0; i < len; i++)
		if (off + i < SERIAL_NR_REGS)
			write_locked(s, (unsigned)(off + i), d[i]);
	update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

const struct bus_ops serial_bus_ops = {
	.name = "uart16550",
	.read = serial_bus_read,
	.write = serial_bus_write,
};
