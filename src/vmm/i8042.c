// SPDX-License-Identifier: MIT
#include "vmm/i8042.h"

#include <string.h>

void i8042_init(struct i8042 *k, i8042_event_fn event, void *opaque)
{
	k->event = event;
	k->opaque = opaque;
}

static enum i8042_event fire(struct i8042 *k, enum i8042_event ev)
{
	if (ev != I8042_EV_NONE && k->event)
		k->event(k->opaque, ev);
	return ev;
}

uint8_t i8042_read(struct i8042 *k, uint16_t port)
{
	(void)k;
	(void)port;
	/*
	 * Status 0: output buffer empty and, above all, input buffer empty (bit
	 * 1), which Linux's kb_wait() polls before sending the reset command.
	 * Data 0: there is no keyboard.
	 */
	return 0;
}

enum i8042_event i8042_write(struct i8042 *k, uint16_t port, uint8_t val)
{
	/* Linux sends the pulse up to ten times; the first one ends the VM. */
	if (acpi_is_reset_write(port, val))
		return fire(k, I8042_EV_REBOOT);
	return I8042_EV_NONE;
}

uint8_t acpi_sleep_read(struct i8042 *k, unsigned off)
{
	(void)k;
	(void)off;
	/* WAK_STS never set: the guest only writes it (to clear) before sleeping. */
	return 0;
}

enum i8042_event acpi_sleep_write(struct i8042 *k, unsigned off, uint8_t val)
{
	/*
	 * Linux's acpi_power_off writes (SLP_TYP << 2) | SLP_EN; any SLP_EN write
	 * is treated as S5 since \_S5 is the only sleep state we declare.
	 */
	if (acpi_is_poweroff_write((uint16_t)(ACPI_SLEEP_CTL_PORT + off), val))
		return fire(k, I8042_EV_POWEROFF);
	return I8042_EV_NONE;
}

static void kbc_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	if (off == 0 || off == I8042_CMD_PORT - I8042_DATA_PORT) {
		memset(data, 0, len);
		*(uint8_t *)data = i8042_read(opaque, (uint16_t)(I8042_DATA_PORT + off));
	}
}

static void kbc_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	(void)len;
	i8042_write(opaque, (uint16_t)(I8042_DATA_PORT + off), *(const uint8_t *)data);
}

static void sleep_bus_read(void *opaque, uint64_t off, void *data, uint32_t len)
{
	memset(data, 0, len);
	*(uint8_t *)data = acpi_sleep_read(opaque, (unsigned)off);
}

static void sleep_bus_write(void *opaque, uint64_t off, const void *data, uint32_t len)
{
	(void)len;
	acpi_sleep_write(opaque, (unsigned)off, *(const uint8_t *)data);
}

const struct bus_ops i8042_bus_ops = {
	.name = "i8042",
	.read = kbc_bus_read,
	.write = kbc_bus_write,
};

const struct bus_ops acpi_sleep_bus_ops = {
	.name = "acpi-sleep",
	.read = sleep_bus_read,
	.write = sleep_bus_write,
};

int i8042_register(struct i8042 *k, struct bus *b)
{
	int r = bus_register_pio(b, I8042_DATA_PORT, I8042_CMD_PORT - I8042_DATA_PORT + 1,
				 &i8042_bus_ops, k);
	if (r)
		return r;
	return bus_register_pio(b, ACPI_SLEEP_CTL_PORT, ACPI_SLEEP_PORTS, &acpi_sleep_bus_ops, k);
}
