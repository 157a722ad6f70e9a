// SPDX-License-Identifier: MIT
/*
 * libFuzzer target: the machine's own guest-facing port I/O (specs/vmm-x86.md
 * §1.11, §4.1, §4.2) as a hostile guest sees it: a bus with COM1, COM2, the
 * i8042 and the ACPI sleep registers, fed arbitrary sequences of port reads
 * and writes of every width (including ports nobody claims) and host input
 * bursts. After every step:
 *   - a UART's LSR never reads 0xFF and always shows THRE|TEMT;
 *   - IER reads back at most the low four bits, IIR bits 5:4 stay clear;
 *   - the RX FIFO never holds more than SERIAL_RX_FIFO bytes;
 *   - an irq is raised only when the IIR then reports a pending source;
 *   - unclaimed ports read all-ones;
 *   - the reset/power-off callback fires only for 0xFE -> 0x64 and SLP_EN
 *     writes to the sleep control port.
 * ASan/UBSan catch the rest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/compiler.h"
#include "base/log.h"
#include "vmm/bus.h"
#include "vmm/i8042.h"
#include "vmm/serial.h"

struct uart_probe {
	struct serial s;
	unsigned irqs;
};

static unsigned events;

static void on_irq(void *opaque)
{
	((struct uart_probe *)opaque)->irqs++;
}

static void on_event(void *opaque, enum i8042_event ev)
{
	(void)opaque;
	if (ev != I8042_EV_NONE)
		events++;
}

static const uint16_t ports[] = {
	0x3f8, 0x3f9, 0x3fa, 0x3fb, 0x3fc, 0x3fd, 0x3fe, 0x3ff, 0x2f8, 0x2fa, 0x2fd,
	0x2ff, 0x60,  0x61,  0x64,  0x600, 0x601, 0x80,	 0xcf8, 0x3e8, 0x70,  0x71,
};

static void check_uart(struct uart_probe *u)
{
	uint8_t lsr = serial_read(&u->s, SERIAL_LSR);
	uint8_t ier = serial_read(&u->s, SERIAL_IER);
	uint8_t lcr = serial_read(&u->s, SERIAL_LCR);

	if (lsr == 0xff || (lsr & 0x60) != 0x60)
		abort();
	if (!(lcr & SERIAL_LCR_DLAB) && (ier & 0xf0))
		abort();
	if (u->s.rx_count > SERIAL_RX_FIFO)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct uart_probe com1, com2;
	struct i8042 kbc;
	struct bus b;

	log_set_level(LOG_ERR);
	bus_init(&b);
	serial_init(&com1.s, "COM1", NULL, on_irq, &com1);
	serial_init(&com2.s, "COM2", NULL, on_irq, &com2);
	com1.irqs = com2.irqs = 0;
	events = 0;
	i8042_init(&kbc, on_event, NULL);
	if (bus_register_pio(&b, SERIAL_COM1_BASE, SERIAL_NR_REGS, &serial_bus_ops, &com1.s) ||
	    bus_register_pio(&b, SERIAL_COM2_BASE, SERIAL_NR_REGS, &serial_bus_ops, &com2.s) ||
	    i8042_register(&kbc, &b))
		abort();

	unsigned expected_events = 0;
	for (size_t i = 0; i + 3 <= size; i += 3) {
		uint8_t op = data[i], arg = data[i + 1], val = data[i + 2];
		uint16_t port = ports[arg % (sizeof(ports) / sizeof(ports[0]))];
		uint32_t len = 1u << ((op >> 2) & 3); /* 1, 2, 4 or 8 */
		uint8_t buf[8];
		unsigned before1 = com1.irqs, before2 = com2.irqs;

		memset(buf, val, sizeof(buf));
		switch (op & 3) {
		case 0: /* guest write */
			/* Only accesses that fit a window reach it (0x64 ends one, 0x600 has two bytes). */
			if (len == 1 && port == I8042_CMD_PORT && val == 0xFE)
				expected_events++;
			if (len <= 2 && port == ACPI_SLEEP_CTL_PORT && (val & ACPI_SLP_EN))
				expected_events++;
			bus_pio(&b, port, true, buf, len > 4 ? 4 : len);
			break;
		case 1: /* guest read */
			if (!bus_pio(&b, port, false, buf, len > 4 ? 4 : len))
				for (uint32_t k = 0; k < (len > 4 ? 4 : len); k++)
					if (buf[k] != 0xff)
						abort();
			break;
		case 2: /* host input burst */
			serial_rx_push(val & 1 ? &com2.s : &com1.s, data + i,
				       MIN((size_t)(arg % 80), size - i));
			break;
		case 3: /* MMIO nobody claims */
			if (bus_mmio(&b, 0xd0000000ull + arg * 8ull, !(val & 1), buf, len))
				abort();
			break;
		}
		/* A new irq means the IIR now names a source (it is not acknowledged here). */
		if (com1.irqs != before1 &&
		    (serial_read(&com1.s, SERIAL_IIR_FCR) & 0x0f) == SERIAL_IIR_NONE)
			abort();
		if (com2.irqs != before2 &&
		    (serial_read(&com2.s, SERIAL_IIR_FCR) & 0x0f) == SERIAL_IIR_NONE)
			abort();
		check_uart(&com1);
		check_uart(&com2);
		if ((serial_read(&com1.s, SERIAL_IIR_FCR) & 0x30) ||
		    (serial_read(&com2.s, SERIAL_IIR_FCR) & 0x30))
			abort();
	}
	if (events != expected_events)
		abort();
	serial_destroy(&com1.s);
	serial_destroy(&com2.s);
	bus_destroy(&b);
	return 0;
}
