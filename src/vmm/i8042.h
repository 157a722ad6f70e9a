/* SPDX-License-Identifier: MIT */
/*
 * The machine's "end of life" registers (specs/vmm-x86.md §3.5, §4.2):
 *
 * - an i8042 keyboard controller reduced to its reset line: command 0xFE on
 *   port 0x64 (Linux's keyboard-controller reboot, and the FADT reset
 *   register, which points at the same port and value) ends the VM as a
 *   reboot; port 0x60/0x64 otherwise read 0 (no data, input buffer empty);
 * - the hardware-reduced ACPI sleep control/status registers: a control
 *   write with SLP_EN (bit 5) is the guest's power-off.
 *
 * Pure model: the outcome goes to a callback; nothing here knows about KVM.
 */
#ifndef KTSTR_VMM_I8042_H
#define KTSTR_VMM_I8042_H

#include <stdint.h>

#include "vmm/acpi.h" /* the reset and sleep register conventions the FADT announces */
#include "vmm/bus.h"

#define I8042_DATA_PORT 0x60
#define I8042_CMD_PORT	ACPI_RESET_PORT
/* Sleep control and status: two byte-wide ports from ACPI_SLEEP_CTL_PORT. */
#define ACPI_SLEEP_PORTS 2

enum i8042_event {
	I8042_EV_NONE = 0,
	I8042_EV_REBOOT,
	I8042_EV_POWEROFF,
};

typedef void (*i8042_event_fn)(void *opaque, enum i8042_event ev);

struct i8042 {
	i8042_event_fn event;
	void *opaque;
};

void i8042_init(struct i8042 *k, i8042_event_fn event, void *opaque);

/* Keyboard controller: port is 0x60 or 0x64. Returns the event the write caused. */
uint8_t i8042_read(struct i8042 *k, uint16_t port);
enum i8042_event i8042_write(struct i8042 *k, uint16_t port, uint8_t val);

/* Sleep registers: off 0 = control, 1 = status. */
uint8_t acpi_sleep_read(struct i8042 *k, unsigned off);
enum i8042_event acpi_sleep_write(struct i8042 *k, unsigned off, uint8_t val);

/*
 * Bus adapters: i8042_bus_ops covers a window at 0x60 of length 5 (0x60..0x64;
 * 0x61 is KVM's own PIT speaker port and never exits, 0x62/0x63 read 0);
 * acpi_sleep_bus_ops covers ACPI_SLEEP_CTL_PORT, length ACPI_SLEEP_PORTS.
 */
extern const struct bus_ops i8042_bus_ops;
extern const struct bus_ops acpi_sleep_bus_ops;
int i8042_register(struct i8042 *k, struct bus *b);

#endif
