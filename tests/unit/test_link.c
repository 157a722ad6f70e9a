// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.7: host-side dispatch and the exit-code decision list. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "link/run.h"
#include "proto/frame.h"
#include "proto/serial_rec.h"

static struct run r;
static int out_pipe[2], err_pipe[2];
static FILE *diag;

static void setup(void)
{
	cr_assert_eq(pipe2(out_pipe, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(err_pipe, O_NONBLOCK), 0);
	diag = tmpfile();
	run_init(&r, out_pipe[1], err_pipe[1], diag);
}

static void teardown(void)
{
	run_destroy(&r);
	fclose(diag);
}

TestSuite(link, .init = setup, .fini = teardown);

static void frame(uint32_t tag, const void *p, size_t n)
{
	uint8_t buf[256];
	size_t len = proto_encode(buf, sizeof(buf), tag, p, (uint32_t)n);
	run_feed_bulk(&r, buf, len);
}

static void life(uint8_t phase)
{
	uint8_t p[PROTO_LIFE_SIZE];
	struct proto_life l = {.phase = phase, .t_ns = 1000};
	proto_life_encode(p, &l);
	frame(PROTO_LIFE, p, sizeof(p));
}

static void helo(void)
{
	uint8_t p[PROTO_HELO_SIZE];
	struct proto_helo h = {.major = 1, .rx_max = PROTO_GUEST_RX_MAX};
	proto_helo_encode(p, &h);
	frame(PROTO_HELO, p, sizeof(p));
}

static void excx_exit(int code)
{
	uint8_t p[PROTO_EXCX_SIZE];
	struct proto_excx x = proto_excx_from_wait(code << 8, 9, 1);
	proto_excx_encode(p, &x);
	frame(PROTO_EXCX, p, sizeof(p));
}

static void done(int32_t result)
{
	uint8_t p[PROTO_DONE_SIZE];
	struct proto_done d = {.frames = (uint32_t)r.reader.stats.frames,
			       .bytes = r.reader.stats.bytes,
			       .result = result,
			       .flags = PROTO_DONE_RAN};
	proto_done_encode(p, &d);
	frame(PROTO_DONE, p, sizeof(p));
}

static void ierr_fatal(uint16_t code, const char *text)
{
	uint8_t p[PROTO_IERR_SIZE + 64];
	struct proto_ierr m = {.code = code, .severity = PROTO_SEV_FATAL, .err = 19};
	proto_ierr_encode(p, &m);
	memcpy(p + PROTO_IERR_SIZE, text, strlen(text));
	frame(PROTO_IERR, p, PROTO_IERR_SIZE + strlen(text));
}

static struct run_verdict classify(void)
{
	struct run_verdict v;
	run_finish(&r);
	run_classify(&r, &v);
	return v;
}

static size_t drain(int fd, char *buf, size_t cap)
{
	ssize_t n = read(fd, buf, cap);
	return n > 0 ? (size_t)n : 0;
}

Test(link, recorded_stream_gives_output_on_fd1_and_the_command_code) /* §5.7 #70 */
{
	char buf[64];

	helo();
	life(PROTO_PHASE_PAYLOAD_STARTING);
	frame(PROTO_SOUT, "hi\n", 3);
	life(PROTO_PHASE_PAYLOAD_EXITED);
	excx_exit(3);
	done(3);
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 3);
	cr_assert_eq(v.outcome, RUN_COMMAND);
	cr_assert_eq(drain(out_pipe[0], buf, sizeof(buf)), 3u);
	cr_assert_arr_eq(buf, "hi\n", 3);
	cr_assert_eq(drain(err_pipe[0], buf, sizeof(buf)), 0u);
}

Test(link, closed_stdout_drops_output_but_keeps_the_exit_code) /* §5.7 #71 */
{
	signal(SIGPIPE, SIG_IGN);
	close(out_pipe[0]);
	helo();
	frame(PROTO_SOUT, "a", 1);
	frame(PROTO_SOUT, "b", 1);
	excx_exit(5);
	done(5);
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert(r.out_broken);
	cr_assert_eq(classify().exit_code, 5);
}

Test(link, host_error_before_done_is_125) /* §5.7 #72 rule 1 */
{
	helo();
	r.host_error = true;
	snprintf(r.host_error_msg, sizeof(r.host_error_msg), "KVM_RUN failed");
	r.com1_panic[0] = 'x'; /* a panic too: rule 1 comes first */
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 125);
	cr_assert_eq(v.outcome, RUN_HOST_ERROR);
}

Test(link, host_signal_stop_is_128_plus_n) /* §5.7 #72 rule 2 */
{
	helo();
	r.stop_signal = SIGINT;
	r.timed_out = true;
	cr_assert_eq(classify().exit_code, 130);
}

Test(link, timeout_beats_a_panic) /* §5.7 #72 rule 3 */
{
	helo();
	r.timed_out = true;
	run_note_console_line(&r, "[ 1.0] Kernel panic - not syncing: hung_task");
	excx_exit(0);
	done(0);
	cr_assert_eq(classify().exit_code, 124);
}

Test(link, panic_beats_truncation) /* §5.7 #72 rule 4 */
{
	uint8_t buf[64];

	helo();
	size_t n = proto_encode(buf, sizeof(buf), PROTO_EXCX, buf, 24);
	run_feed_bulk(&r, buf, n - 5); /* a partial EXCX frame */
	run_note_console_line(&r, "Kernel panic - not syncing: Attempted to kill init!");
	r.vm_end = RUN_VM_RESET;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 121);
	cr_assert(strstr(v.cause, "Kernel panic") != NULL);
}

Test(link, fatal_ierr_with_done_but_no_excx_is_122) /* §5.7 #72 rule 5 */
{
	helo();
	ierr_fatal(PROTO_IERR_MOUNT, "mount proc on /proc");
	done(-1);
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 122);
	cr_assert(strstr(v.cause, "mount proc") != NULL);
}

Test(link, fatal_com2_record_and_poweroff_without_done_is_122) /* §5.7 #72 */
{
	uint8_t rec[256];
	size_t n = serial_record_encode(rec, sizeof(rec),
					"KTSTR_INIT_ERROR code=13 sev=fatal errno=32 msg=port died",
					NULL, 0);
	helo();
	run_feed_com2(&r, rec, n);
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert_eq(classify().exit_code, 122);
}

Test(link, reset_without_done_or_panic_text_is_121) /* §5.7 #72 rule 6 */
{
	helo();
	r.vm_end = RUN_VM_RESET;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 121);
	cr_assert(strstr(v.cause, "reset before init reported") != NULL);
}

Test(link, done_with_wrong_frame_count_is_123) /* §5.7 #73 */
{
	uint8_t p[PROTO_DONE_SIZE];
	struct proto_done d = {.frames = 99, .bytes = 1, .result = 0};

	helo();
	excx_exit(0);
	proto_done_encode(p, &d);
	frame(PROTO_DONE, p, sizeof(p));
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert_eq(classify().exit_code, 123);
}

Test(link, data_after_done_is_123) /* §5.7 #73 */
{
	helo();
	excx_exit(0);
	done(0);
	frame(PROTO_SOUT, "late", 4);
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 123);
	cr_assert(strstr(v.cause, "after DONE") != NULL);
}

Test(link, excx_without_done_and_poweroff_is_123) /* §5.7 #73 */
{
	helo();
	excx_exit(0);
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert_eq(classify().exit_code, 123);
}

Test(link, nothing_and_poweroff_is_121_asking_about_poweroff) /* §5.7 #73 */
{
	helo();
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 121);
	cr_assert(strstr(v.cause, "did the command run poweroff") != NULL);
}

Test(link, done_without_excx_is_123) /* §4.6 rule 7 */
{
	helo();
	done(-1);
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert_eq(classify().exit_code, 123);
}

Test(link, crc_error_in_an_otherwise_complete_run_is_123) /* §4.6 rule 7 */
{
	uint8_t buf[64];

	helo();
	size_t n = proto_encode(buf, sizeof(buf), PROTO_SOUT, "xyz", 3);
	buf[17] ^= 1;
	run_feed_bulk(&r, buf, n);
	excx_exit(0);
	done(0);
	r.vm_end = RUN_VM_POWEROFF;
	cr_assert_eq(classify().exit_code, 123);
}

Test(link, killed_command_report_names_the_signal) /* §4.7 */
{
	uint8_t p[PROTO_EXCX_SIZE];
	struct proto_excx x = proto_excx_from_wait(SIGKILL, 9, 1);
	char text[512] = "";

	helo();
	proto_excx_encode(p, &x);
	frame(PROTO_EXCX, p, sizeof(p));
	done(137);
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 137);
	FILE *f = tmpfile();
	run_print_report(&r, &v, NULL, f);
	rewind(f);
	cr_assert_not_null(fgets(text, sizeof(text), f));
	cr_assert_str_eq(text, "ktstr: command killed by SIGKILL (exit 137)\n");
	fclose(f);
}

Test(link, panic_report_has_fail_stage_and_console_in_order) /* §5.7 #78 */
{
	char text[4096];
	size_t n;

	helo();
	life(PROTO_PHASE_PAYLOAD_STARTING);
	run_note_console_line(&r, "Kernel panic - not syncing: sysrq triggered crash");
	r.vm_end = RUN_VM_RESET;
	struct run_verdict v = classify();
	FILE *f = tmpfile();
	run_print_report(&r, &v, "line1\nKernel panic - not syncing: sysrq triggered crash\n", f);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	char *fail = strstr(text, "ktstr: FAIL (121)");
	char *stage = strstr(text, "ktstr: stage: PAYLOAD_STARTING");
	char *console = strstr(text, "--- guest console (COM1)");
	cr_assert(fail && stage && console, "%s", text);
	cr_assert(fail < stage && stage < console);

	char path[] = "/tmp/ktstr-json-XXXXXX";
	int fd = mkstemp(path);
	close(fd);
	cr_assert_eq(run_write_json(&r, &v, path), 0);
	json_object *o = json_object_from_file(path);
	unlink(path);
	cr_assert_not_null(o);
	json_object *k;
	cr_assert(json_object_object_get_ex(o, "outcome", &k));
	cr_assert_str_eq(json_object_get_string(k), "crash");
	cr_assert(json_object_object_get_ex(o, "exit_code", &k));
	cr_assert_eq(json_object_get_int(k), 121);
	const char *keys[] = {"stage", "transport", "phases", "protocol", "messages"};
	for (size_t i = 0; i < 5; i++)
		cr_assert(json_object_object_get_ex(o, keys[i], &k), "missing %s", keys[i]);
	json_object_put(o);
}

Test(link, serial_transport_records_drive_output_and_code) /* §4.6 serial mode */
{
	uint8_t buf[512];
	size_t n = 0;
	char out[16], err[16];

	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_PROTO=serial reason=no-port",
				  NULL, 0);
	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_SOUT n=3", "abc", 3);
	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_SERR n=2", "de", 2);
	n += serial_record_encode(buf + n, sizeof(buf) - n,
				  "KTSTR_EXEC_EXIT=7 how=exited value=7 core=0", NULL, 0);
	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_DONE result=7 records=4", NULL,
				  0);
	for (size_t i = 0; i < n; i++) /* byte by byte, as COM2 delivers it */
		run_feed_com2(&r, buf + i, 1);
	r.vm_end = RUN_VM_POWEROFF;
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 7);
	cr_assert(r.serial_transport);
	cr_assert_eq(drain(out_pipe[0], out, sizeof(out)), 3u);
	cr_assert_eq(drain(err_pipe[0], err, sizeof(err)), 2u);
}

/* Found by fuzz_link_dispatch: 256 would have reached exit() and read as success. */
Test(link, excx_status_out_of_range_is_a_protocol_error) /* §4.6 rule 8 */
{
	static const int32_t bad[] = {256, -1, 1000};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t p[PROTO_EXCX_SIZE];
		struct proto_excx x = {.code = bad[i], .how = PROTO_HOW_EXITED, .pid = 9};

		teardown();
		setup();
		helo();
		proto_excx_encode(p, &x);
		frame(PROTO_EXCX, p, sizeof(p));
		done(0);
		r.vm_end = RUN_VM_POWEROFF;
		struct run_verdict v = classify();
		cr_assert_eq(v.exit_code, RUN_EXIT_PROTOCOL, "code %d", bad[i]);
		cr_assert_eq(v.outcome, RUN_PROTOCOL_ERROR);
		cr_assert(strstr(v.cause, "out of range"), "cause: %s", v.cause);
	}
}

static void serial_run(const char *plain_text, int32_t done_result)
{
	uint8_t buf[512];
	size_t n = 0;
	char done_hdr[64];

	n += serial_record_encode(buf + n, sizeof(buf) - n, "KTSTR_PROTO=serial reason=no-port",
				  NULL, 0);
	memcpy(buf + n, plain_text, strlen(plain_text));
	n += strlen(plain_text);
	snprintf(done_hdr, sizeof(done_hdr), "KTSTR_DONE result=%d records=2", done_result);
	n += serial_record_encode(buf + n, sizeof(buf) - n, done_hdr, NULL, 0);
	run_feed_com2(&r, buf, n);
	r.vm_end = RUN_VM_POWEROFF;
}

/* §2.7 leniency, §5.5 #42: the reference's bare sentinel line carries the status. */
Test(link, plain_exec_exit_line_at_a_line_start_gives_the_code)
{
	serial_run("KTSTR_EXEC_EXIT=9\n", 9);
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, 9);
	cr_assert_eq(v.outcome, RUN_COMMAND);
}

Test(link, plain_exec_exit_in_mid_line_is_not_a_status)
{
	serial_run("echo KTSTR_EXEC_EXIT=9\n", 9);
	struct run_verdict v = classify();
	cr_assert_eq(v.exit_code, RUN_EXIT_PROTOCOL, "no EXCX: DONE alone is a protocol error");
}
