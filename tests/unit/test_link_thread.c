// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §4.1–§4.5 and §5.7 #74/#75: the guest-link thread over pipes. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link/link.h"
#include "proto/serial_rec.h"

static struct run r;
static struct link l;
static int com1[2], com2[2], out[2], err[2];
static int stops;
static char stop_why[200];
static FILE *diag;

static void on_stop(void *opaque, const char *why)
{
	(void)opaque;
	stops++;
	snprintf(stop_why, sizeof(stop_why), "%s", why);
}

static void start(unsigned unit_ms)
{
	struct link_config cfg = {.com1_rd = com1[0],
				  .com2_rd = com2[0],
				  .scale = 1,
				  .unit_ms = unit_ms,
				  .stop_vm = on_stop};
	cr_assert_eq(link_start(&l, &cfg, &r), 0);
}

static void setup(void)
{
	cr_assert_eq(pipe2(com1, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(com2, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(out, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(err, O_NONBLOCK), 0);
	diag = tmpfile();
	run_init(&r, out[1], err[1], diag);
	stops = 0;
}

static void teardown(void)
{
	link_destroy(&l);
	run_destroy(&r);
	fclose(diag);
}

TestSuite(link_thread, .init = setup, .fini = teardown, .timeout = 20);

static void com2_record(const char *hdr, const void *body, size_t n)
{
	uint8_t buf[512];
	size_t len = serial_record_encode(buf, sizeof(buf), hdr, body, n);
	cr_assert_eq(write(com2[1], buf, len), (ssize_t)len);
}

static void wait_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

Test(link_thread, serial_run_streams_output_and_ends_with_the_command_code)
{
	char buf[16];

	start(0);
	com2_record("KTSTR_PROTO=serial reason=no-port", NULL, 0);
	com2_record("KTSTR_SOUT n=2", "ok", 2);
	com2_record("KTSTR_EXEC_EXIT=9 how=exited value=9 core=0", NULL, 0);
	com2_record("KTSTR_DONE result=9 records=3", NULL, 0);
	wait_ms(100);
	r.vm_end = RUN_VM_POWEROFF;
	link_finish(&l);
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, 9);
	cr_assert_eq(read(out[0], buf, sizeof(buf)), 2);
	cr_assert_eq(stops, 0);
}

Test(link_thread, silent_boot_hits_the_boot_deadline) /* §4.5.1 */
{
	start(10); /* a guest second is 10 ms: the 60 s deadline is 600 ms */
	wait_ms(1200);
	cr_assert_eq(stops, 1);
	cr_assert(strstr(stop_why, "boot did not reach init") != NULL, "%s", stop_why);
	link_finish(&l);
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, 124);
}

Test(link_thread, vm_still_running_after_done_is_stopped_and_the_run_stays_clean) /* §5.7 #75 */
{
	start(10);
	com2_record("KTSTR_PROTO=serial reason=forced", NULL, 0);
	com2_record("KTSTR_EXEC_EXIT=0 how=exited value=0 core=0", NULL, 0);
	com2_record("KTSTR_DONE result=0 records=2", NULL, 0);
	wait_ms(800);
	cr_assert_eq(stops, 1);
	cr_assert(strstr(stop_why, "after DONE") != NULL, "%s", stop_why);
	r.vm_end = RUN_VM_STOPPED;
	link_finish(&l);
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, 0);
	cr_assert_eq(v.outcome, RUN_COMMAND);
}

Test(link_thread, console_panic_line_is_evidence_and_the_tail_is_kept)
{
	const char *text =
		"booting\r\n[  1.2] Kernel panic - not syncing: Attempted to kill init!\n";

	start(0);
	cr_assert_eq(write(com1[1], text, strlen(text)), (ssize_t)strlen(text));
	wait_ms(100);
	r.vm_end = RUN_VM_RESET;
	link_finish(&l);
	cr_assert(strstr(r.com1_panic, "Attempted to kill init") != NULL);
	cr_assert(strstr(link_console(&l), "booting") != NULL);
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, 121);
}
