// SPDX-License-Identifier: MIT
/*
 * specs/guest-protocol.md §4.5.2: PING/PONG liveness, "hung" versus "slow".
 *
 * The link thread runs against a real virtio-console device with no guest
 * driver attached: the fake guest puts its frames straight into port 1's
 * capture (vc_inject_tx, then a wake on tx_fd, as a notify would), and what
 * the host sends to the guest stays in port 1's pending input, where the test
 * reads it back and parses it with the protocol reader. `unit_ms` shortens a
 * guest-deadline second so the 5 s / 30 s / 60 s rules take milliseconds.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link/link.h"
#include "proto/frame.h"
#include "proto/serial_rec.h"
#include "virtio/console.h"

static struct run r;
static struct link l;
static struct vc_dev *con;
static int com1[2], com2[2], out[2], err[2];
static atomic_int stops;
static char stop_why[200];
static FILE *diag;
static bool started, finished;

static void on_stop(void *opaque, const char *why)
{
	(void)opaque;
	snprintf(stop_why, sizeof(stop_why), "%s", why);
	atomic_fetch_add(&stops, 1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void wait_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static void start(unsigned unit_ms, unsigned timeout_s)
{
	struct link_config cfg = {.console = con,
				  .com1_rd = com1[0],
				  .com2_rd = com2[0],
				  .scale = 1,
				  .timeout_s = timeout_s,
				  .unit_ms = unit_ms,
				  .hvc0_out = -1,
				  .stdin_fd = -1,
				  .stop_vm = on_stop};
	cr_assert_eq(link_start(&l, &cfg, &r), 0);
	started = true;
}

/* The VM has ended: join the link thread; run fields may be read after this. */
static void finish(void)
{
	link_finish(&l);
	finished = true;
}

static void setup(void)
{
	cr_assert_eq(pipe2(com1, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(com2, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(out, O_NONBLOCK), 0);
	cr_assert_eq(pipe2(err, O_NONBLOCK), 0);
	con = vc_new(NULL);
	cr_assert_not_null(con);
	diag = tmpfile();
	run_init(&r, out[1], err[1], diag);
	atomic_store(&stops, 0);
	started = finished = false;
}

static void teardown(void)
{
	if (started && !finished)
		link_finish(&l);
	if (started)
		link_destroy(&l);
	run_destroy(&r);
	vc_free(con);
	fclose(diag);
}

/*
 * No suite .timeout: every wait below has its own bound, and with this many
 * long timed tests beside link_thread's and guest_run's under -j2, Criterion's
 * runner leaks a timeout record that fails the ASan run (LeakSanitizer, 48
 * bytes allocated inside libcriterion).
 */
TestSuite(link_liveness, .init = setup, .fini = teardown);

/* ---- the fake guest ---- */

static void wake_link(void)
{
	uint64_t one = 1;
	cr_assert_eq(write(vc_tx_fd(con), &one, sizeof(one)), (ssize_t)sizeof(one));
}

static void guest_frame(uint32_t tag, const void *p, size_t n)
{
	uint8_t buf[256];
	size_t len = proto_encode(buf, sizeof(buf), tag, p, (uint32_t)n);

	cr_assert_gt(len, 0);
	cr_assert_eq(vc_inject_tx(con, VC_PORT_BULK, buf, len), 0);
	wake_link();
}

static void guest_helo(void)
{
	uint8_t p[PROTO_HELO_SIZE];
	struct proto_helo h = {.major = PROTO_VERSION_MAJOR, .rx_max = PROTO_GUEST_RX_MAX};
	proto_helo_encode(p, &h);
	guest_frame(PROTO_HELO, p, sizeof(p));
}

static void guest_life(uint8_t phase)
{
	uint8_t p[PROTO_LIFE_SIZE];
	struct proto_life m = {.phase = phase, .t_ns = 1000};
	proto_life_encode(p, &m);
	guest_frame(PROTO_LIFE, p, sizeof(p));
}

static void guest_pong(uint64_t nonce)
{
	uint8_t p[PROTO_PONG_SIZE];
	struct proto_pong m = {.nonce = nonce,
			       .state = 1,
			       .procs_running = 3,
			       .procs_blocked = 1,
			       .stdout_bytes = 42,
			       .stderr_bytes = 7};
	proto_pong_encode(p, &m);
	guest_frame(PROTO_PONG, p, sizeof(p));
}

static void com2_record(const char *hdr)
{
	uint8_t buf[256];
	size_t len = serial_record_encode(buf, sizeof(buf), hdr, NULL, 0);
	cr_assert_eq(write(com2[1], buf, len), (ssize_t)len);
}

/* What the host has sent on port 1 so far (never consumed: no guest driver). */
struct sent {
	unsigned pings, shuts, bad;
	uint64_t last_nonce;
};

static void on_host_frame(void *opaque, const struct proto_event *ev)
{
	struct sent *s = opaque;

	if (ev->kind != PROTO_EV_FRAME) {
		s->bad++;
		return;
	}
	if (ev->tag == PROTO_PING && !proto_ping_decode(ev->payload, ev->len, &s->last_nonce))
		s->pings++;
	else if (ev->tag == PROTO_SHUT)
		s->shuts++;
}

static struct sent host_sent(void)
{
	struct proto_reader_cfg cfg = {
		.max_payload = PROTO_GUEST_RX_MAX, .resync = false, .dir = PROTO_H2G};
	struct proto_reader rd;
	struct sent s = {0};
	size_t n = vc_pending_rx_len(con, VC_PORT_BULK);
	uint8_t *buf = malloc(n + 1);

	cr_assert_not_null(buf);
	n = vc_pending_rx_copy(con, VC_PORT_BULK, buf, n);
	proto_reader_init(&rd, &cfg);
	proto_reader_feed(&rd, buf, n, on_host_frame, &s);
	proto_reader_destroy(&rd);
	free(buf);
	cr_assert_eq(s.bad, 0, "the host's own stream must be well formed");
	return s;
}

/* Poll until the host has sent `pings` PINGs; returns the host time it was seen, 0 on timeout. */
static uint64_t wait_pings(unsigned pings, unsigned limit_ms)
{
	uint64_t end = now_ms() + limit_ms;

	while (now_ms() < end) {
		if (host_sent().pings >= pings)
			return now_ms();
		wait_ms(2);
	}
	return 0;
}

static uint64_t wait_stop(unsigned limit_ms)
{
	uint64_t end = now_ms() + limit_ms;

	while (now_ms() < end) {
		if (atomic_load(&stops))
			return now_ms();
		wait_ms(2);
	}
	return 0;
}

static unsigned unresponsive_seconds(const char *why)
{
	unsigned n = 0;
	cr_assert_eq(sscanf(why, "guest unresponsive for %u s (no reply from init)", &n), 1, "%s",
		     why);
	return n;
}

/* ---- PING timing ---- */

/* The failure report as run_print_report() writes it, NUL-terminated in buf. */
static void report_text(struct run *run, const struct run_verdict *v, const char *console,
			char *buf, size_t cap)
{
	FILE *f = tmpfile();
	size_t n;

	cr_assert_not_null(f);
	run_print_report(run, v, console, f);
	rewind(f);
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
}

Test(link_liveness, ping_is_sent_after_five_units_of_silence_and_not_before) /* §4.5.2 */
{
	const unsigned unit = 40;

	start(unit, 0);
	wait_ms(3 * unit);
	cr_assert_eq(host_sent().pings, 0, "no PING before HELO");
	uint64_t t0 = now_ms();
	guest_helo();
	wait_ms(3 * unit);
	cr_assert_eq(host_sent().pings, 0, "PING after only 3 units of silence");
	uint64_t seen = wait_pings(1, 40 * unit);
	cr_assert_neq(seen, 0, "no PING after a silent guest");
	cr_assert_geq(seen - t0, 5 * unit, "PING after %llu ms, before 5 units",
		      (unsigned long long)(seen - t0));
	cr_assert_eq(host_sent().last_nonce, 1, "the first PING carries nonce 1 (a counter)");
}

Test(link_liveness, at_most_one_ping_is_outstanding) /* §4.5.2 */
{
	const unsigned unit = 20;

	start(unit, 0);
	guest_helo();
	/* 25 units: five PING intervals, still short of the 30-unit hang. */
	wait_ms(25 * unit);
	cr_assert_eq(host_sent().pings, 1);
	cr_assert_eq(atomic_load(&stops), 0);
}

Test(link_liveness, pong_clears_the_ping_and_restarts_the_clock) /* §4.5.2 */
{
	const unsigned unit = 40;

	start(unit, 0);
	guest_helo();
	cr_assert_neq(wait_pings(1, 40 * unit), 0);
	uint64_t answered = now_ms();
	guest_pong(host_sent().last_nonce);
	uint64_t seen = wait_pings(2, 40 * unit);
	cr_assert_neq(seen, 0, "a PONG must allow the next PING");
	cr_assert_geq(seen - answered, 5 * unit, "next PING %llu ms after the PONG",
		      (unsigned long long)(seen - answered));
	cr_assert_eq(host_sent().last_nonce, 2);
	cr_assert_eq(atomic_load(&stops), 0);
	finish();
	cr_assert_eq(r.pongs, 1);
	cr_assert_eq(r.pings, 2);
	cr_assert_not(r.hung);
}

Test(link_liveness, pong_with_a_stale_nonce_leaves_the_ping_outstanding) /* §4.5.2 */
{
	const unsigned unit = 20;

	start(unit, 0);
	guest_helo();
	cr_assert_neq(wait_pings(1, 40 * unit), 0);
	guest_pong(99); /* evidence of life, but not the answer */
	wait_ms(15 * unit);
	cr_assert_eq(host_sent().pings, 1, "a PONG for another nonce must not clear the PING");
}

/* ---- evidence of life ---- */

static void beat_frame(void)
{
	guest_life(PROTO_PHASE_MOUNTS_DONE);
}

static void beat_com2(void)
{
	com2_record("KTSTR_PROTO=virtio port=/dev/vport0p1");
}

/* After HELO the guest shows life every 2 units for 40 units: the PINGs that drew. */
static unsigned pings_with_heartbeat(void (*beat)(void))
{
	const unsigned unit = 20;

	start(unit, 0);
	guest_helo();
	for (int i = 0; i < 20; i++) {
		beat();
		wait_ms(2 * unit);
	}
	return host_sent().pings;
}

Test(link_liveness, any_valid_frame_counts_as_life) /* §4.5.2 */
{
	cr_assert_eq(pings_with_heartbeat(beat_frame), 0, "LIFE frames every 2 units drew a PING");
}

Test(link_liveness, com2_records_count_as_life) /* §4.5.2 */
{
	cr_assert_eq(pings_with_heartbeat(beat_com2), 0, "COM2 records every 2 units drew a PING");
}

Test(link_liveness, frames_with_a_bad_crc_are_not_life) /* §4.5.2 */
{
	const unsigned unit = 40;
	uint8_t buf[64], p[PROTO_LIFE_SIZE] = {2};

	start(unit, 0);
	guest_helo();
	size_t len = proto_encode(buf, sizeof(buf), PROTO_LIFE, p, sizeof(p));
	buf[PROTO_HDR_SIZE] ^= 0xff; /* payload no longer matches the CRC */
	/* Damaged frames every unit for 12 units: the PING (due at 5) must come meanwhile. */
	for (int i = 0; i < 12; i++) {
		cr_assert_eq(vc_inject_tx(con, VC_PORT_BULK, buf, len), 0);
		wake_link();
		wait_ms(unit);
	}
	cr_assert_eq(host_sent().pings, 1, "damaged frames kept the guest 'alive'");
}

Test(link_liveness, kernel_console_output_alone_does_not_keep_the_guest_alive) /* §4.5.2 */
{
	const unsigned unit = 20;
	const char line[] = "[  12.345] rcu: INFO: rcu_sched self-detected stall on CPU\n";

	start(unit, 0);
	guest_helo();
	uint64_t t0 = now_ms(), end = t0 + 60 * unit;
	while (!atomic_load(&stops) && now_ms() < end) {
		cr_assert_eq(write(com1[1], line, sizeof(line) - 1), (ssize_t)sizeof(line) - 1);
		wait_ms(unit);
	}
	cr_assert_eq(atomic_load(&stops), 1, "a chatty kernel hid a silent init");
	cr_assert_eq(host_sent().pings, 1);
	finish();
	cr_assert(r.hung);
	cr_assert_geq(unresponsive_seconds(r.timeout_msg), 30);
}

/* ---- hung ---- */

Test(link_liveness, silent_guest_is_hung_after_thirty_units_and_exits_124) /* §4.5.2, §4.6 #3 */
{
	const unsigned unit = 20;

	start(unit, 0);
	uint64_t t0 = now_ms();
	guest_helo();
	guest_life(PROTO_PHASE_PAYLOAD_STARTING);
	uint64_t stopped = wait_stop(100 * unit);
	cr_assert_neq(stopped, 0, "a guest that never answers was not declared hung");
	cr_assert_geq(stopped - t0, 30 * unit, "hung after %llu ms, before 30 units",
		      (unsigned long long)(stopped - t0));
	cr_assert_eq(host_sent().pings, 1);
	cr_assert_eq(host_sent().shuts, 0, "a hung init is stopped at once, not sent SHUT");
	finish();
	unsigned n = unresponsive_seconds(stop_why);
	cr_assert(n >= 30 && n < 40, "N = %u", n);
	cr_assert(r.hung);
	cr_assert_not(r.timed_out);
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, RUN_EXIT_TIMEOUT);
	cr_assert_eq(v.outcome, RUN_TIMEOUT);
	cr_assert_str_eq(v.cause, r.timeout_msg);
	cr_assert(strstr(v.cause, "(no reply from init)") != NULL, "%s", v.cause);
}

Test(link_liveness, hang_report_carries_the_vcpu_table_and_the_json_says_timeout) /* §4.7 */
{
	const unsigned unit = 10;
	char path[] = "/tmp/ktstr-liveness-XXXXXX", text[4096];

	start(unit, 0);
	guest_helo();
	cr_assert_neq(wait_stop(100 * unit), 0);
	finish();
	/* What the VMM's owner fills in after every vCPU was kicked out of KVM_RUN. */
	snprintf(r.vcpu_table, sizeof(r.vcpu_table),
		 "[vCPU 0 rip=0xffffffff81000000 halted]\n[vCPU 1 rip=0xffffffff81000010]\n");
	struct run_verdict v;
	run_classify(&r, &v);
	report_text(&r, &v, link_console(&l), text, sizeof(text));
	cr_assert(strstr(text, "ktstr: FAIL (124): guest unresponsive for ") != NULL, "%s", text);
	cr_assert(strstr(text, "[vCPU 1 rip=0xffffffff81000010]") != NULL, "%s", text);
	cr_assert(strstr(text, "1 PING(s) sent, 0 PONG(s) received") != NULL, "%s", text);

	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(run_write_json(&r, &v, path), 0);
	json_object *o = json_object_from_file(path), *x, *live;
	unlink(path);
	cr_assert_not_null(o);
	cr_assert(json_object_object_get_ex(o, "outcome", &x));
	cr_assert_str_eq(json_object_get_string(x), "timeout");
	cr_assert(json_object_object_get_ex(o, "exit_code", &x));
	cr_assert_eq(json_object_get_int(x), 124);
	cr_assert(json_object_object_get_ex(o, "messages", &x));
	cr_assert(strstr(json_object_get_string(json_object_array_get_idx(x, 0)),
			 "no reply from init") != NULL);
	cr_assert(json_object_object_get_ex(o, "liveness", &live));
	cr_assert(json_object_object_get_ex(live, "hung", &x));
	cr_assert(json_object_get_boolean(x));
	cr_assert(json_object_object_get_ex(live, "vcpus", &x));
	cr_assert(strstr(json_object_get_string(x), "vCPU 0") != NULL);
	json_object_put(o);
}

/* ---- slow ---- */

/* The fake guest answers every PING until `until_ms` or until the host sends SHUT. */
static void answer_pings_until(uint64_t until_ms)
{
	unsigned answered = 0;

	while (now_ms() < until_ms) {
		struct sent s = host_sent();
		if (s.shuts)
			return;
		if (s.pings > answered) {
			guest_pong(s.last_nonce);
			answered = s.pings;
		}
		wait_ms(2);
	}
}

Test(link_liveness, guest_that_answers_pings_runs_into_the_timeout_as_responsive) /* §4.5.2 */
{
	const unsigned unit = 20;
	char text[4096];

	start(unit, 1); /* --timeout 1: wall-clock seconds, not units */
	guest_helo();
	guest_life(PROTO_PHASE_PAYLOAD_STARTING);
	/* 1.5 s is 75 units: far past the 30-unit hang rule, had the PONGs not come. */
	answer_pings_until(now_ms() + 1500);
	struct sent s = host_sent();
	cr_assert_eq(s.shuts, 1, "the command timeout must start a graceful stop");
	cr_assert_geq(s.pings, 3, "a quiet but answering guest is pinged every 5 units");
	finish();
	cr_assert(r.timed_out);
	cr_assert_not(r.hung, "a guest that answers PINGs is slow, not hung");
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, RUN_EXIT_TIMEOUT);
	cr_assert(strstr(v.cause, "timeout after 1 s") != NULL, "%s", v.cause);
	cr_assert(strstr(v.cause, "command still running (guest responsive)") != NULL, "%s",
		  v.cause);
	report_text(&r, &v, "", text, sizeof(text));
	cr_assert(strstr(text, "procs_running 3, procs_blocked 1") != NULL, "%s", text);
	cr_assert(strstr(text, "stdout 42 bytes, stderr 7 bytes forwarded") != NULL, "%s", text);
}

/* ---- serial mode ---- */

Test(link_liveness, serial_mode_sends_no_ping_and_treats_sixty_units_of_com2_silence_as_hung)
/* §4.5.2 last bullet */
{
	const unsigned unit = 10;

	start(unit, 0);
	com2_record("KTSTR_PROTO=serial reason=forced");
	wait_ms(20 * unit);
	cr_assert_eq(atomic_load(&stops), 0, "no silence rule before PAYLOAD_STARTING");
	uint64_t t0 = now_ms();
	com2_record("KTSTR_PHASE=payload_starting t=5000");
	uint64_t stopped = wait_stop(200 * unit);
	cr_assert_neq(stopped, 0);
	cr_assert_geq(stopped - t0, 60 * unit);
	cr_assert(strstr(stop_why, "no output for ") != NULL, "%s", stop_why);
	cr_assert_eq(host_sent().pings, 0, "no PING on the serial channel");
	finish();
	cr_assert_eq(r.last_phase, PROTO_PHASE_PAYLOAD_STARTING, "serial phase not recorded");
	struct run_verdict v;
	run_classify(&r, &v);
	cr_assert_eq(v.exit_code, RUN_EXIT_TIMEOUT);
}

Test(link_liveness, serial_records_keep_a_serial_run_alive) /* §4.5.2 last bullet */
{
	const unsigned unit = 10;

	start(unit, 0);
	com2_record("KTSTR_PROTO=serial reason=forced");
	com2_record("KTSTR_PHASE=payload_starting t=5000");
	for (int i = 0; i < 30; i++) {
		com2_record("KTSTR_SOUT n=0");
		wait_ms(5 * unit);
	}
	cr_assert_eq(atomic_load(&stops), 0,
		     "150 units of steady COM2 records were called silence");
}
