// SPDX-License-Identifier: MIT
/* 16550A model, driven byte by byte as Linux's 8250 driver does (specs/vmm-x86.md §4.1). */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/serial.h"

struct sink {
	uint8_t out[256];
	unsigned n_out;
	unsigned irqs;
};

static void sink_tx(void *opaque, uint8_t b)
{
	struct sink *s = opaque;
	if (s->n_out < sizeof(s->out))
		s->out[s->n_out++] = b;
}

static void sink_irq(void *opaque)
{
	((struct sink *)opaque)->irqs++;
}

static struct serial uart;
static struct sink sink;

static void setup(void)
{
	memset(&sink, 0, sizeof(sink));
	serial_init(&uart, "test", sink_tx, sink_irq, &sink);
}

static void teardown(void)
{
	serial_destroy(&uart);
}

TestSuite(serial, .init = setup, .fini = teardown);

/*
 * The decisions of autoconfig() / autoconfig_16550a() in
 * drivers/tty/serial/8250/8250_port.c, replayed against the model.
 */
static const char *linux_autoconfig(struct serial *s)
{
	/* IER scratch test: must keep exactly the low four bits. */
	serial_write(s, SERIAL_IER, 0);
	uint8_t scratch2 = serial_read(s, SERIAL_IER) & 0x0f;
	serial_write(s, SERIAL_IER, 0x0f);
	uint8_t scratch3 = serial_read(s, SERIAL_IER) & 0x0f;
	serial_write(s, SERIAL_IER, 0);
	if (scratch2 != 0 || scratch3 != 0x0f)
		return "none";
	/* Loopback test: MCR = LOOP|OUT2|RTS must read back DCD|CTS in MSR. */
	serial_write(s, SERIAL_MCR, SERIAL_MCR_LOOP | 0x0a);
	uint8_t status1 = serial_read(s, SERIAL_MSR) & 0xf0;
	serial_write(s, SERIAL_MCR, 0);
	if (status1 != 0x90)
		return "none";
	serial_write(s, SERIAL_LCR, 0);
	serial_write(s, SERIAL_IIR_FCR, SERIAL_FCR_FIFO);
	uint8_t fifo = serial_read(s, SERIAL_IIR_FCR) >> 6;
	if (fifo != 3)
		return fifo == 0 ? "16450" : "16550";
	/* EFR probe with LCR = 0xBF: a zero read would mean a 16650-class part. */
	serial_write(s, SERIAL_LCR, 0xbf);
	if (serial_read(s, SERIAL_IIR_FCR) == 0)
		return "16650";
	/* 16750 probe: the 64-byte FIFO bit must not show up in IIR bit 5. */
	serial_write(s, SERIAL_LCR, 0);
	serial_write(s, SERIAL_IIR_FCR, SERIAL_FCR_FIFO | 0x20);
	uint8_t st1 = serial_read(s, SERIAL_IIR_FCR) >> 5;
	serial_write(s, SERIAL_IIR_FCR, SERIAL_FCR_FIFO);
	serial_write(s, SERIAL_LCR, SERIAL_LCR_DLAB);
	serial_write(s, SERIAL_IIR_FCR, SERIAL_FCR_FIFO | 0x20);
	uint8_t st2 = serial_read(s, SERIAL_IIR_FCR) >> 5;
	serial_write(s, SERIAL_IIR_FCR, SERIAL_FCR_FIFO);
	serial_write(s, SERIAL_LCR, 0);
	if (st1 == 6 && st2 == 7)
		return "16750";
	/* XScale probe: IER bit 6 (UUE) must not stick. */
	serial_write(s, SERIAL_IER, 0x40);
	if (serial_read(s, SERIAL_IER) & 0x40)
		return "xscale";
	serial_write(s, SERIAL_IER, 0);
	return "16550A";
}

/* spec §5 #23: autoconfig */
Test(serial, linux_autoconfig_identifies_a_16550a)
{
	cr_assert_str_eq(linux_autoconfig(&uart), "16550A");
}

/* spec §5 #23: IER keeps 4 bits */
Test(serial, ier_keeps_only_the_low_four_bits)
{
	serial_write(&uart, SERIAL_IER, 0xff);
	cr_assert_eq(serial_read(&uart, SERIAL_IER), 0x0f);
}

/* spec §5 #23: LSR never 0xFF and always has THRE|TEMT */
Test(serial, lsr_always_reports_an_empty_transmitter_and_never_reads_ff)
{
	for (unsigned i = 0; i < 70; i++) {
		uint8_t lsr = serial_read(&uart, SERIAL_LSR);
		cr_assert_neq(lsr, 0xff);
		cr_assert_eq(lsr & 0x60, 0x60);
		uint8_t b = (uint8_t)i;
		serial_rx_push(&uart, &b, 1);
	}
}

/* spec §5 #23: THRE pending after IER 0->1, cleared by the IIR read */
Test(serial, thre_is_raised_by_enabling_thri_and_acknowledged_by_reading_iir)
{
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_OUT2);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_NONE);
	serial_write(&uart, SERIAL_IER, SERIAL_IER_THRI);
	cr_assert_eq(sink.irqs, 1);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_THRI);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_NONE);
	/* Rewriting IER with THRI already set is not a 0->1 edge. */
	serial_write(&uart, SERIAL_IER, SERIAL_IER_THRI);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_NONE);
	/* Clearing and setting it again re-arms THRE, as serial8250_do_startup expects. */
	serial_write(&uart, SERIAL_IER, 0);
	serial_write(&uart, SERIAL_IER, SERIAL_IER_THRI);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_THRI);
}

Test(serial, thr_write_transmits_and_rearms_thre)
{
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_OUT2);
	serial_write(&uart, SERIAL_IER, SERIAL_IER_THRI);
	(void)serial_read(&uart, SERIAL_IIR_FCR); /* ack */
	unsigned before = sink.irqs;
	serial_write(&uart, SERIAL_RBR_THR, 'A');
	serial_write(&uart, SERIAL_RBR_THR, 'B');
	cr_assert_eq(sink.n_out, 2);
	cr_assert_eq(memcmp(sink.out, "AB", 2), 0);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_THRI);
	/* One rising edge for the batch: the line stayed high between the two writes. */
	cr_assert_eq(sink.irqs, before + 1);
	cr_assert_eq(uart.tx_bytes, 2);
}

/* spec §5 #23: RX priority over THRE */
Test(serial, received_data_outranks_thre_in_iir)
{
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_OUT2);
	serial_write(&uart, SERIAL_IER, SERIAL_IER_THRI | SERIAL_IER_RDI);
	serial_rx_push(&uart, "xy", 2);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_RDI);
	cr_assert_eq(serial_read(&uart, SERIAL_LSR) & SERIAL_LSR_DR, SERIAL_LSR_DR);
	cr_assert_eq(serial_read(&uart, SERIAL_RBR_THR), 'x');
	cr_assert_eq(serial_read(&uart, SERIAL_RBR_THR), 'y');
	cr_assert_eq(serial_read(&uart, SERIAL_LSR) & SERIAL_LSR_DR, 0);
	/* RX drained: THRE (still pending, never acknowledged) shows through. */
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_THRI);
}

/* spec §5 #23: loopback MSR mapping */
Test(serial, loopback_maps_modem_control_onto_modem_status)
{
	const struct {
		uint8_t mcr, msr;
	} cases[] = {
		{SERIAL_MCR_LOOP, 0x00},
		{SERIAL_MCR_LOOP | SERIAL_MCR_RTS, 0x10},
		{SERIAL_MCR_LOOP | SERIAL_MCR_DTR, 0x20},
		{SERIAL_MCR_LOOP | SERIAL_MCR_OUT1, 0x40},
		{SERIAL_MCR_LOOP | SERIAL_MCR_OUT2, 0x80},
		{SERIAL_MCR_LOOP | 0x0f, 0xf0},
		{0, SERIAL_MSR_IDLE},
		{0x0f, SERIAL_MSR_IDLE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		serial_write(&uart, SERIAL_MCR, cases[i].mcr);
		cr_assert_eq(serial_read(&uart, SERIAL_MSR), cases[i].msr, "MCR 0x%02x",
			     cases[i].mcr);
	}
}

Test(serial, loopback_returns_transmitted_bytes_on_rx_instead_of_the_wire)
{
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_LOOP);
	serial_write(&uart, SERIAL_RBR_THR, 'q');
	cr_assert_eq(sink.n_out, 0);
	cr_assert_eq(serial_read(&uart, SERIAL_RBR_THR), 'q');
}

/* spec §5 #23: the irq fires only when a source becomes pending */
Test(serial, irq_fires_only_on_a_newly_pending_source)
{
	/* Nothing enabled: no irq for RX, THR writes or IER writes without sources. */
	serial_rx_push(&uart, "a", 1);
	serial_write(&uart, SERIAL_RBR_THR, 'z');
	cr_assert_eq(sink.irqs, 0);
	/* OUT2 gates the line: enabling RDI without OUT2 raises nothing. */
	serial_write(&uart, SERIAL_IER, SERIAL_IER_RDI);
	cr_assert_eq(sink.irqs, 0);
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_OUT2);
	cr_assert_eq(sink.irqs, 1);
	/* Still pending: more RX bytes are no new edge. */
	serial_rx_push(&uart, "b", 1);
	cr_assert_eq(sink.irqs, 1);
	(void)serial_read(&uart, SERIAL_RBR_THR);
	(void)serial_read(&uart, SERIAL_RBR_THR);
	cr_assert_eq(sink.irqs, 1);
	/* Drained, then new data: a new edge. */
	serial_rx_push(&uart, "c", 1);
	cr_assert_eq(sink.irqs, 2);
	/* Reads of registers that change nothing never pulse. */
	for (unsigned off = 0; off < 8; off++)
		if (off != SERIAL_RBR_THR)
			(void)serial_read(&uart, off);
	cr_assert_eq(sink.irqs, 2);
}

/* spec §5 #23: 64-byte RX overflow sets OE */
Test(serial, rx_overflow_sets_a_sticky_overrun_cleared_by_reading_lsr)
{
	uint8_t buf[SERIAL_RX_FIFO + 3];
	for (unsigned i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)i;
	cr_assert_eq(serial_rx_push(&uart, buf, SERIAL_RX_FIFO), SERIAL_RX_FIFO);
	cr_assert_eq(serial_read(&uart, SERIAL_LSR) & SERIAL_LSR_OE, 0);
	cr_assert_eq(serial_rx_push(&uart, buf, 3), 0);
	cr_assert_eq(uart.rx_dropped, 3);
	uint8_t lsr = serial_read(&uart, SERIAL_LSR);
	cr_assert_eq(lsr & (SERIAL_LSR_OE | SERIAL_LSR_DR), SERIAL_LSR_OE | SERIAL_LSR_DR);
	cr_assert_eq(serial_read(&uart, SERIAL_LSR) & SERIAL_LSR_OE, 0);
	/* The FIFO kept the first 64 bytes in order. */
	for (unsigned i = 0; i < SERIAL_RX_FIFO; i++)
		cr_assert_eq(serial_read(&uart, SERIAL_RBR_THR), (uint8_t)i);
}

Test(serial, overrun_raises_a_line_status_interrupt_when_enabled)
{
	uint8_t buf[SERIAL_RX_FIFO + 1] = {0};
	serial_write(&uart, SERIAL_MCR, SERIAL_MCR_OUT2);
	serial_write(&uart, SERIAL_IER, SERIAL_IER_RLSI);
	serial_rx_push(&uart, buf, sizeof(buf));
	cr_assert_eq(sink.irqs, 1);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_RLSI);
	(void)serial_read(&uart, SERIAL_LSR);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & 0x0f, SERIAL_IIR_NONE);
}

Test(serial, dlab_switches_offsets_zero_and_one_to_the_divisor_latch)
{
	serial_write(&uart, SERIAL_LCR, SERIAL_LCR_DLAB | 0x03);
	serial_write(&uart, SERIAL_RBR_THR, 0x01);
	serial_write(&uart, SERIAL_IER, 0x02);
	cr_assert_eq(sink.n_out, 0, "a divisor write is not a transmitted byte");
	cr_assert_eq(serial_read(&uart, SERIAL_RBR_THR), 0x01);
	cr_assert_eq(serial_read(&uart, SERIAL_IER), 0x02);
	serial_write(&uart, SERIAL_LCR, 0x03);
	cr_assert_eq(serial_read(&uart, SERIAL_IER), 0);
	cr_assert_eq(serial_read(&uart, SERIAL_LCR), 0x03);
}

Test(serial, fcr_clear_rx_empties_the_fifo_and_iir_shows_fifo_bits)
{
	serial_rx_push(&uart, "abc", 3);
	serial_write(&uart, SERIAL_IIR_FCR, SERIAL_FCR_FIFO | SERIAL_FCR_CLRRX);
	cr_assert_eq(serial_read(&uart, SERIAL_LSR) & SERIAL_LSR_DR, 0);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR) & SERIAL_IIR_FIFO, SERIAL_IIR_FIFO);
	serial_write(&uart, SERIAL_IIR_FCR, 0);
	cr_assert_eq(serial_read(&uart, SERIAL_IIR_FCR), SERIAL_IIR_NONE);
}

Test(serial, scratch_register_holds_a_byte)
{
	serial_write(&uart, SERIAL_SCR, 0x5a);
	cr_assert_eq(serial_read(&uart, SERIAL_SCR), 0x5a);
	cr_assert_eq(serial_read(&uart, 9), 0xff, "out-of-range offsets read all-ones");
}

Test(serial, bus_adapter_routes_port_accesses_by_offset)
{
	struct bus b;
	bus_init(&b);
	cr_assert_eq(bus_register_pio(&b, SERIAL_COM1_BASE, SERIAL_NR_REGS, &serial_bus_ops, &uart),
		     0);
	uint8_t v = 'K';
	cr_assert(bus_pio(&b, SERIAL_COM1_BASE, true, &v, 1));
	cr_assert_eq(sink.n_out, 1);
	cr_assert_eq(sink.out[0], 'K');
	cr_assert(bus_pio(&b, SERIAL_COM1_BASE + SERIAL_LSR, false, &v, 1));
	cr_assert_eq(v & 0x60, 0x60);
	bus_destroy(&b);
}

Test(serial, a_word_access_is_one_step_for_the_interrupt_line)
{
	struct bus b;
	bus_init(&b);
	cr_assert_eq(bus_register_pio(&b, SERIAL_COM1_BASE, SERIAL_NR_REGS, &serial_bus_ops, &uart),
		     0);
	uint8_t mcr = SERIAL_MCR_OUT2, ier = SERIAL_IER_THRI;
	cr_assert(bus_pio(&b, SERIAL_COM1_BASE + SERIAL_MCR, true, &mcr, 1));
	cr_assert(bus_pio(&b, SERIAL_COM1_BASE + SERIAL_IER, true, &ier, 1));
	cr_assert_eq(sink.irqs, 1);
	(void)serial_read(&uart, SERIAL_IIR_FCR); /* ack THRE */
	/* outw: THR = 'x' (re-arms THRE) and IER = 0 (masks it) in one access: no pulse. */
	uint8_t word[2] = {'x', 0};
	cr_assert(bus_pio(&b, SERIAL_COM1_BASE, true, word, 2));
	cr_assert_eq(sink.irqs, 1);
	cr_assert_eq(sink.n_out, 1);
	cr_assert_eq(serial_read(&uart, SERIAL_IER), 0);
	bus_destroy(&b);
}
