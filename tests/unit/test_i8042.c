// SPDX-License-Identifier: MIT
/* i8042 reset line and ACPI sleep registers (specs/vmm-x86.md §3.5, §4.2). */
#include <criterion/criterion.h>
#include <string.h>

#include "vmm/bus.h"
#include "vmm/i8042.h"

static enum i8042_event events[16];
static unsigned nevents;

static void record(void *opaque, enum i8042_event ev)
{
	(void)opaque;
	if (nevents < 16)
		events[nevents++] = ev;
}

static struct i8042 kbc;

static void setup(void)
{
	nevents = 0;
	i8042_init(&kbc, record, NULL);
}

TestSuite(i8042, .init = setup);

/* spec §5 #24: 0x64 reads 0 */
Test(i8042, status_and_data_ports_read_zero)
{
	cr_assert_eq(i8042_read(&kbc, I8042_CMD_PORT), 0);
	cr_assert_eq(i8042_read(&kbc, I8042_DATA_PORT), 0);
	cr_assert_eq(nevents, 0);
}

/* spec §5 #24: 0xFE write reports "reboot" */
Test(i8042, reset_command_reports_reboot)
{
	cr_assert_eq(i8042_write(&kbc, I8042_CMD_PORT, 0xFE), I8042_EV_REBOOT);
	cr_assert_eq(nevents, 1);
	cr_assert_eq(events[0], I8042_EV_REBOOT);
}

/* spec §5 #24: other writes nothing */
Test(i8042, other_writes_report_nothing)
{
	for (unsigned v = 0; v < 256; v++) {
		if (v != 0xFE)
			cr_assert_eq(i8042_write(&kbc, I8042_CMD_PORT, (uint8_t)v), I8042_EV_NONE);
		cr_assert_eq(i8042_write(&kbc, I8042_DATA_PORT, (uint8_t)v), I8042_EV_NONE);
	}
	cr_assert_eq(nevents, 0);
}

/* spec §5 #24: sleep-control write 0x34 reports "poweroff" */
Test(i8042, sleep_control_with_slp_en_reports_poweroff)
{
	cr_assert_eq(acpi_sleep_write(&kbc, 0, 0x34), I8042_EV_POWEROFF);
	cr_assert_eq(nevents, 1);
	cr_assert_eq(events[0], I8042_EV_POWEROFF);
}

/* spec §5 #24: 0x14 (no SLP_EN) nothing */
Test(i8042, sleep_control_without_slp_en_reports_nothing)
{
	cr_assert_eq(acpi_sleep_write(&kbc, 0, 0x14), I8042_EV_NONE);
	/* Linux clears WAK_STS in the status register first: never an event. */
	cr_assert_eq(acpi_sleep_write(&kbc, 1, 0x80), I8042_EV_NONE);
	cr_assert_eq(acpi_sleep_write(&kbc, 1, 0x20), I8042_EV_NONE);
	cr_assert_eq(acpi_sleep_read(&kbc, 0), 0);
	cr_assert_eq(acpi_sleep_read(&kbc, 1), 0);
	cr_assert_eq(nevents, 0);
}

Test(i8042, bus_registration_serves_both_windows)
{
	struct bus b;
	uint8_t v;

	bus_init(&b);
	cr_assert_eq(i8042_register(&kbc, &b), 0);
	v = 0xFF;
	cr_assert(bus_pio(&b, I8042_CMD_PORT, false, &v, 1));
	cr_assert_eq(v, 0, "kb_wait() needs the input-buffer-full bit clear");
	v = 0xFE;
	cr_assert(bus_pio(&b, I8042_CMD_PORT, true, &v, 1));
	v = 0x34;
	cr_assert(bus_pio(&b, ACPI_SLEEP_CTL_PORT, true, &v, 1));
	cr_assert_eq(nevents, 2);
	cr_assert_eq(events[0], I8042_EV_REBOOT);
	cr_assert_eq(events[1], I8042_EV_POWEROFF);
	/* 0x61 (KVM's speaker port) lies inside the window but is not ours: reads all-ones. */
	v = 0;
	cr_assert(bus_pio(&b, 0x61, false, &v, 1));
	cr_assert_eq(v, 0xFF);
	bus_destroy(&b);
}

Test(i8042, works_without_a_callback)
{
	struct i8042 quiet;
	i8042_init(&quiet, NULL, NULL);
	cr_assert_eq(i8042_write(&quiet, I8042_CMD_PORT, 0xFE), I8042_EV_REBOOT);
	cr_assert_eq(acpi_sleep_write(&quiet, 0, 0x34), I8042_EV_POWEROFF);
}
