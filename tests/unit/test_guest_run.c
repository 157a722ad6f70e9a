// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.6: the command, its output and the report, on a fake root. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "proto/msg.h"
#include "unit/guest_fixture.h"

static struct guest_fixture fx;

static void run_sh(const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	gf_set_argv(&fx, argv);
	gf_run(&fx);
}

static struct proto_excx excx(void)
{
	const struct gf_frame *fr = gf_find(&fx, PROTO_EXCX, 0);
	struct proto_excx x;

	cr_assert_not_null(fr, "no EXCX frame");
	cr_assert_eq(proto_excx_decode(fr->payload, fr->len, &x), 0);
	return x;
}

static struct proto_done done(void)
{
	const struct gf_frame *fr = gf_find(&fx, PROTO_DONE, 0);
	struct proto_done d;

	cr_assert_not_null(fr, "no DONE frame");
	cr_assert_eq(proto_done_decode(fr->payload, fr->len, &d), 0);
	return d;
}

static int life_index(uint8_t phase)
{
	for (unsigned i = 0; i < fx.nframes; i++)
		if (fx.frames[i].tag == PROTO_LIFE && fx.frames[i].payload[0] == phase)
			return (int)i;
	return -1;
}

static void setup_port(void)
{
	gf_setup(&fx, true);
}

static void teardown(void)
{
	gf_teardown(&fx);
}

TestSuite(guest_run, .init = setup_port, .fini = teardown, .timeout = 30);

Test(guest_run, output_and_exit_status_arrive_in_protocol_order) /* §5.6 #53 */
{
	run_sh("printf out1; printf err1 >&2; exit 3");
	cr_assert_eq(fx.out_len, 4u);
	cr_assert_arr_eq(fx.out, "out1", 4);
	cr_assert_eq(fx.err_len, 4u);
	cr_assert_arr_eq(fx.err, "err1", 4);
	struct proto_excx x = excx();
	cr_assert_eq(x.code, 3);
	cr_assert_eq(x.how, PROTO_HOW_EXITED);
	/* HELO first, DONE last; output before EXCX; PAYLOAD_EXITED and OUTPUT_DRAINED before EXCX. */
	cr_assert_eq(fx.frames[0].tag, (uint32_t)PROTO_HELO);
	cr_assert_eq(fx.frames[fx.nframes - 1].tag, (uint32_t)PROTO_DONE);
	int ex = gf_index(&fx, PROTO_EXCX, 0);
	cr_assert_lt(gf_index(&fx, PROTO_SOUT, 0), ex);
	cr_assert_lt(gf_index(&fx, PROTO_SERR, 0), ex);
	cr_assert_lt(life_index(PROTO_PHASE_PAYLOAD_STARTING), gf_index(&fx, PROTO_SOUT, 0));
	cr_assert_lt(life_index(PROTO_PHASE_PAYLOAD_EXITED), ex);
	cr_assert_lt(life_index(PROTO_PHASE_OUTPUT_DRAINED), ex);
	cr_assert_eq(done().result, 3);
	cr_assert(done().flags & PROTO_DONE_RAN);
	cr_assert_eq(fx.bad_events, 0u);
}

/* A generator the command runs: seeded bytes on stdout and stderr at the same time. */
static void pattern(uint8_t *buf, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (uint8_t)(seed >> 16);
	}
}

Test(guest_run, sixteen_mebibytes_on_each_stream_arrive_byte_exact) /* §5.6 #54 */
{
	const size_t n = 16u * 1024 * 1024;
	uint8_t *want = malloc(n);
	char path[300];

	pattern(want, n, 1);
	snprintf(path, sizeof(path), "%s/blob", fx.root);
	gf_write_file(&fx, "/blob", want, n);
	char script[700];
	snprintf(script, sizeof(script), "cat %s & cat %s >&2; wait", path, path);
	run_sh(script);
	cr_assert_eq(fx.out_len, n);
	cr_assert_eq(fx.err_len, n);
	cr_assert(memcmp(fx.out, want, n) == 0, "stdout differs");
	cr_assert(memcmp(fx.err, want, n) == 0, "stderr differs");
	cr_assert_eq(excx().code, 0);
	free(want);
}

Test(guest_run, binary_output_without_trailing_newline_is_byte_exact) /* §5.6 #55 */
{
	uint8_t all[256];
	char path[300], script[400];

	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	gf_write_file(&fx, "/bytes", all, sizeof(all));
	snprintf(path, sizeof(path), "%s/bytes", fx.root);
	snprintf(script, sizeof(script), "cat %s", path);
	run_sh(script);
	cr_assert_eq(fx.out_len, 256u);
	cr_assert_arr_eq(fx.out, all, 256);
}

Test(guest_run, background_leftovers_are_killed_after_the_linger) /* §5.6 #56 */
{
	run_sh("sleep 1000 & exit 0");
	struct proto_excx x = excx();
	cr_assert_eq(x.code, 0);
	cr_assert(x.flags & PROTO_EXCX_LEFTOVERS);
	bool leftover_ierr = false;
	for (unsigned i = 0; i < fx.nframes; i++) {
		struct proto_ierr e;
		if (fx.frames[i].tag == PROTO_IERR &&
		    !proto_ierr_decode(fx.frames[i].payload, fx.frames[i].len, &e))
			leftover_ierr |= e.code == PROTO_IERR_LEFTOVER_PROCS;
	}
	cr_assert(leftover_ierr);
}

Test(guest_run, exec_failure_reports_127_and_spawn_error_without_output) /* §5.6 #64 */
{
	const char *argv[] = {"/nonexistent/program", NULL};
	gf_set_argv(&fx, argv);
	gf_run(&fx);
	struct proto_excx x = excx();
	cr_assert_eq(x.how, PROTO_HOW_NOT_STARTED);
	cr_assert_eq(x.code, 127);
	cr_assert_eq(x.raw, ENOENT);
	cr_assert_eq(gf_count(&fx, PROTO_SOUT) + gf_count(&fx, PROTO_SERR), 0u);
	const struct gf_frame *e = gf_find(&fx, PROTO_IERR, 0);
	cr_assert_not_null(e);
	struct proto_ierr ie;
	proto_ierr_decode(e->payload, e->len, &ie);
	cr_assert_eq(ie.code, PROTO_IERR_SPAWN);
	cr_assert_eq(ie.severity, PROTO_SEV_ERROR);
	cr_assert_eq(done().result, -1);
}

Test(guest_run, command_not_on_path_reports_127) /* §3.5 PATH search */
{
	const char *argv[] = {"no-such-command-ktstr", NULL};
	gf_set_argv(&fx, argv);
	gf_run(&fx);
	cr_assert_eq(excx().code, 127);
}

Test(guest_run, done_counters_equal_what_the_host_counted) /* §5.6 #66 */
{
	run_sh("echo a; echo b >&2; echo c");
	struct proto_done d = done();
	/* The reader's totals include DONE itself. */
	cr_assert_eq((uint64_t)d.frames + 1, fx.reader_frames);
	cr_assert_eq(d.bytes + 16 + PROTO_DONE_SIZE, fx.reader_bytes);
}

Test(guest_run, replayed_phases_follow_helo_with_their_original_times) /* §5.6 #65 */
{
	int port = fx.g.port_fd;
	struct proto_life l;
	struct proto_ierr e;

	fx.g.port_fd = -1; /* before the port is open, phases and errors go to the replay log */
	guest_life(&fx.g, PROTO_PHASE_INIT_STARTED, 0, NULL);
	uint64_t t = fx.g.replay[0].t_ns;
	guest_ierr(&fx.g, PROTO_IERR_MOUNT, PROTO_SEV_WARNING, ENODEV, "mount bpf");
	guest_life(&fx.g, PROTO_PHASE_MOUNTS_DONE, 0, NULL);
	fx.g.port_fd = port;
	run_sh("true");
	cr_assert_eq(fx.frames[0].tag, (uint32_t)PROTO_HELO);
	cr_assert_eq(fx.frames[1].tag, (uint32_t)PROTO_LIFE);
	cr_assert_eq(proto_life_decode(fx.frames[1].payload, fx.frames[1].len, &l), 0);
	cr_assert_eq(l.phase, PROTO_PHASE_INIT_STARTED);
	cr_assert(l.flags & PROTO_LIFE_REPLAYED);
	cr_assert_eq(l.t_ns, t);
	cr_assert_eq(fx.frames[2].tag, (uint32_t)PROTO_IERR);
	cr_assert_eq(proto_ierr_decode(fx.frames[2].payload, fx.frames[2].len, &e), 0);
	cr_assert_eq(e.code, PROTO_IERR_MOUNT);
	cr_assert_eq(e.err, ENODEV);
	cr_assert_eq(proto_life_decode(fx.frames[3].payload, fx.frames[3].len, &l), 0);
	cr_assert_eq(l.phase, PROTO_PHASE_MOUNTS_DONE);
}

Test(guest_run, ping_while_busy_gets_a_running_pong) /* §5.6 #58 */
{
	uint8_t p[PROTO_PING_SIZE];

	proto_ping_encode(p, 77);
	/* Sent before the run: the guest answers once its loop polls the port. */
	const char *argv[] = {"/bin/sh", "-c", "sleep 1", NULL};
	gf_set_argv(&fx, argv);
	guest_load_exec_config(&fx.g);
	pid_t sender = fork();
	if (sender == 0) {
		usleep(300 * 1000);
		gf_send(&fx, PROTO_PING, p, sizeof(p));
		_exit(0);
	}
	guest_run(&fx.g);
	pthread_join(fx.host_thread, NULL);
	const struct gf_frame *pf = gf_find(&fx, PROTO_PONG, 0);
	cr_assert_not_null(pf);
	struct proto_pong pong;
	cr_assert_eq(proto_pong_decode(pf->payload, pf->len, &pong), 0);
	cr_assert_eq(pong.nonce, 77u);
	cr_assert_eq(pong.state, 1);
}

Test(guest_run, shut_kills_a_command_that_ignores_sigterm) /* §5.6 #59 */
{
	uint8_t p[PROTO_SHUT_SIZE];
	struct proto_shut s = {.reason = 1, .grace_ms = 200};

	proto_shut_encode(p, &s);
	const char *argv[] = {"/bin/sh", "-c", "trap '' TERM; sleep 30 & wait; sleep 30", NULL};
	gf_set_argv(&fx, argv);
	guest_load_exec_config(&fx.g);
	pid_t sender = fork();
	if (sender == 0) {
		usleep(300 * 1000);
		gf_send(&fx, PROTO_SHUT, p, sizeof(p));
		_exit(0);
	}
	guest_run(&fx.g);
	pthread_join(fx.host_thread, NULL);
	struct proto_excx x = excx();
	cr_assert_eq(x.how, PROTO_HOW_SIGNALED);
	cr_assert_eq(x.signo, SIGKILL);
	cr_assert(x.flags & PROTO_EXCX_KILLED);
	cr_assert(done().flags & PROTO_DONE_SHUT);
	cr_assert_geq(life_index(PROTO_PHASE_SHUTDOWN_REQUESTED), 0);
}

Test(guest_run, shut_before_the_spawn_cancels_the_command) /* §5.6 #60 */
{
	uint8_t p[PROTO_SHUT_SIZE];
	struct proto_shut s = {.reason = 2, .grace_ms = 100};

	proto_shut_encode(p, &s);
	gf_send(&fx, PROTO_SHUT, p, sizeof(p));
	run_sh("echo should-not-run");
	cr_assert_eq(fx.out_len, 0u);
	cr_assert_null(gf_find(&fx, PROTO_EXCX, 0));
	cr_assert_eq(done().result, -1);
	cr_assert_not(done().flags & PROTO_DONE_RAN);
}

Test(guest_run, forwarded_stdin_reaches_the_command) /* §5.6 #62 */
{
	fx.g.stdin_fwd = true;
	gf_send(&fx, PROTO_SINP, "abc", 3);
	gf_send(&fx, PROTO_SEOF, NULL, 0);
	const char *argv[] = {"/bin/cat", NULL};
	gf_set_argv(&fx, argv);
	gf_run(&fx);
	cr_assert_eq(fx.out_len, 3u);
	cr_assert_arr_eq(fx.out, "abc", 3);
	cr_assert_eq(excx().code, 0);
}

Test(guest_run, corrupt_host_frame_stops_port_reads_but_the_run_completes) /* §5.6 #63 */
{
	uint8_t junk[16] = {'x', 'x', 'x', 'x', 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9};

	cr_assert_eq(write(fx.host_fd, junk, sizeof(junk)), 16);
	run_sh("echo fine");
	cr_assert_eq(fx.out_len, 5u);
	bool host_stream = false;
	for (unsigned i = 0; i < fx.nframes; i++) {
		struct proto_ierr e;
		if (fx.frames[i].tag == PROTO_IERR &&
		    !proto_ierr_decode(fx.frames[i].payload, fx.frames[i].len, &e))
			host_stream |= e.code == PROTO_IERR_HOST_STREAM;
	}
	cr_assert(host_stream);
	cr_assert(fx.g.rx_stopped);
	cr_assert_not_null(gf_find(&fx, PROTO_DONE, 0));
}

static void expect_fatal_port_io(void *opaque)
{
	struct guest_fixture *f = opaque;
	static uint8_t buf[65536];
	size_t n = gf_com2(f, buf, sizeof(buf) - 1);

	buf[n] = 0;
	cr_assert(memmem(buf, n, "KTSTR_INIT_ERROR code=13 sev=fatal", 34) != NULL, "COM2 got: %s",
		  buf);
}

Test(guest_run, port_write_failure_takes_the_fatal_path_on_com2, .exit_code = 100) /* §5.6 #68 */
{
	const char *argv[] = {"/bin/sh", "-c", "sleep 0.3; echo late", NULL};

	gf_set_argv(&fx, argv);
	guest_load_exec_config(&fx.g);
	signal(SIGPIPE, SIG_IGN);
	shutdown(fx.host_fd, SHUT_RDWR);
	fx.g.sys.poweroff = expect_fatal_port_io;
	guest_run(&fx.g);
	cr_assert_fail("guest_run returned after the port died");
}
