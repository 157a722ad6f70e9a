// SPDX-License-Identifier: MIT
/*
 * The exit-code decision list of specs/guest-protocol.md §4.6 (first match
 * wins), the failure report of §4.7 and the --result-json document.
 */
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/compiler.h"
#include "link/run.h"

static const char *const outcome_names[] = {
	[RUN_COMMAND] = "command",	     [RUN_CRASH] = "crash",
	[RUN_INIT_FAILURE] = "init_failure", [RUN_PROTOCOL_ERROR] = "protocol_error",
	[RUN_TIMEOUT] = "timeout",	     [RUN_HOST_ERROR] = "host_error",
	[RUN_INTERRUPTED] = "interrupted",
};

const char *run_outcome_name(enum run_outcome o)
{
	return o <= RUN_INTERRUPTED ? outcome_names[o] : "unknown";
}

static void verdict(struct run_verdict *v, int code, enum run_outcome o, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void verdict(struct run_verdict *v, int code, enum run_outcome o, const char *fmt, ...)
{
	va_list ap;

	v->exit_code = code;
	v->outcome = o;
	va_start(ap, fmt);
	vsnprintf(v->cause, sizeof(v->cause), fmt, ap);
	va_end(ap);
}

static const struct run_ierr *first_fatal(const struct run *r)
{
	for (unsigned i = 0; i < r->nierr; i++)
		if (r->ierr[i].m.severity >= PROTO_SEV_FATAL)
			return &r->ierr[i];
	return NULL;
}

static bool crash_evidence(const struct run *r)
{
	return r->com1_panic[0] || r->crash_frame || r->com2_panic ||
	       r->vm_end == RUN_VM_TRIPLE_FAULT;
}

void run_classify(const struct run *r, struct run_verdict *v)
{
	memset(v, 0, sizeof(*v));
	/* 1. Host or VMM failure before DONE. */
	if (r->host_error && !r->done_seen) {
		verdict(v, RUN_EXIT_HOST, RUN_HOST_ERROR, "host error: %s", r->host_error_msg);
		return;
	}
	/* 2. Cut short by a host signal. */
	if (r->stop_signal) {
		verdict(v, 128 + r->stop_signal, RUN_INTERRUPTED, "interrupted by %s",
			strsignal(r->stop_signal));
		return;
	}
	/* 3. A deadline expired or the guest hung. */
	if (r->timed_out || r->hung) {
		verdict(v, RUN_EXIT_TIMEOUT, RUN_TIMEOUT, "%s",
			r->timeout_msg[0] ? r->timeout_msg : "timeout");
		return;
	}
	/* 4. Crash evidence. */
	if (crash_evidence(r)) {
		if (r->crash_frame || r->com2_panic)
			verdict(v, RUN_EXIT_CRASH, RUN_CRASH, "guest init crashed: %s",
				r->crash_text);
		else if (r->com1_panic[0])
			verdict(v, RUN_EXIT_CRASH, RUN_CRASH, "guest kernel panic%s: %s",
				r->excx_seen ? " after the command ran" : "", r->com1_panic);
		else
			verdict(v, RUN_EXIT_CRASH, RUN_CRASH, "guest triple fault (CPU reset)");
		return;
	}
	/* 5. Fatal init error. */
	const struct run_ierr *f = first_fatal(r);
	if (f || r->fatal_ierr) {
		verdict(v, RUN_EXIT_INIT_FAILED, RUN_INIT_FAILURE, "guest init failed: %s%s%s",
			f ? f->text : "fatal error", f && f->m.err ? ": " : "",
			f && f->m.err ? strerror(f->m.err) : "");
		return;
	}
	/* 6. No DONE and the VM ended. */
	if (!r->done_seen) {
		if (r->vm_end == RUN_VM_RESET)
			verdict(v, RUN_EXIT_CRASH, RUN_CRASH,
				"guest reset before init reported (probably a panic whose text was "
				"not captured)");
		else if (r->excx_seen)
			verdict(v, RUN_EXIT_PROTOCOL, RUN_PROTOCOL_ERROR,
				"protocol error: init powered off without DONE");
		else
			verdict(v, RUN_EXIT_CRASH, RUN_CRASH,
				"guest powered off before init reported - did the command run "
				"poweroff or reboot?");
		return;
	}
	/* 7. Stream damage, or DONE without EXCX. */
	if (r->stream_damaged || r->helo_major_mismatch || r->done_mismatch || r->data_after_done) {
		verdict(v, RUN_EXIT_PROTOCOL, RUN_PROTOCOL_ERROR, "protocol error: %s",
			r->helo_major_mismatch ? "guest init speaks another protocol major "
						 "version - stale initramfs?"
			: r->done_mismatch     ? "DONE counts do not match what arrived"
			: r->data_after_done
				? "data after DONE"
				: "bulk stream damaged (CRC error, desync or truncation)");
		return;
	}
	if (!r->excx_seen) {
		verdict(v, RUN_EXIT_PROTOCOL, RUN_PROTOCOL_ERROR,
			"protocol error: DONE without an exit status (EXCX)");
		return;
	}
	/*
	 * A process exit status is 0..255. Anything else is not a status but a
	 * damaged or hostile report, and passing it to exit() would truncate it
	 * (256 would read as success).
	 */
	if (r->excx.code < 0 || r->excx.code > 255) {
		verdict(v, RUN_EXIT_PROTOCOL, RUN_PROTOCOL_ERROR,
			"protocol error: command exit status %d out of range 0-255", r->excx.code);
		return;
	}
	/* 8. The command's own status. */
	verdict(v, r->excx.code, RUN_COMMAND, "command %s", "finished");
	if (r->excx.how == PROTO_HOW_SIGNALED)
		snprintf(v->cause, sizeof(v->cause), "command killed by SIG%s (exit %d)",
			 sigabbrev_np(r->excx.signo) ? sigabbrev_np(r->excx.signo) : "?",
			 r->excx.code);
}

/* Print the last n lines of text. */
static void print_tail(FILE *f, const char *text, size_t len, unsigned n)
{
	size_t start = len;
	unsigned lines = 0;

	while (start > 0 && lines <= n) {
		start--;
		if (text[start] == '\n' && start + 1 < len)
			lines++;
	}
	if (lines > n)
		start++;
	fwrite(text + start, 1, len - start, f);
	if (len && text[len - 1] != '\n')
		fputc('\n', f);
}

static const char *pong_state(uint8_t state)
{
	static const char *const names[] = {"not started", "running", "exited, draining",
					    "reporting"};
	return state < ARRAY_SIZE(names) ? names[state] : "unknown";
}

/*
 * §4.7 item 8: a timeout shows what the last PONG said the guest was doing;
 * a hang shows where each vCPU was when the VM was stopped.
 */
static void print_liveness(const struct run *r, FILE *f)
{
	const struct proto_pong *p = &r->pong;

	if (r->timed_out && r->pongs)
		fprintf(f,
			"ktstr: last PONG (%.3f s since start): command %s, procs_running %u, "
			"procs_blocked %u, stdout %llu bytes, stderr %llu bytes forwarded\n",
			(double)r->pong_host_ms / 1e3, pong_state(p->state), p->procs_running,
			p->procs_blocked, (unsigned long long)p->stdout_bytes,
			(unsigned long long)p->stderr_bytes);
	if (r->hung)
		fprintf(f, "ktstr: %llu PING(s) sent, %llu PONG(s) received\n",
			(unsigned long long)r->pings, (unsigned long long)r->pongs);
	if (r->hung && r->vcpu_table[0])
		fprintf(f, "--- vCPU registers when the VM was stopped ---\n%s%s", r->vcpu_table,
			r->vcpu_table[strlen(r->vcpu_table) - 1] == '\n' ? "" : "\n");
}

void run_print_report(const struct run *r, const struct run_verdict *v, const char *console_tail,
		      FILE *f)
{
	if (v->outcome == RUN_COMMAND) {
		if (r->excx.how == PROTO_HOW_SIGNALED) {
			fprintf(f, "ktstr: %s\n", v->cause);
			if (r->dmesg_len)
				print_tail(f, r->dmesg, r->dmesg_len, 20);
		}
		return;
	}
	fprintf(f, "ktstr: FAIL (%d): %s\n", v->exit_code, v->cause);
	const char *phase = proto_phase_name(r->last_phase);
	if (r->nphases)
		fprintf(f, "ktstr: stage: %s (%.3f s after boot; %.3f s since start)\n",
			phase ? phase : "unknown", (double)r->phases[r->nphases - 1].guest_ns / 1e9,
			(double)r->phases[r->nphases - 1].host_ms / 1e3);
	else
		fprintf(f, "ktstr: stage: guest init never reported\n");
	if (r->crash_text[0])
		fprintf(f, "%s\n", r->crash_text);
	for (unsigned i = 0; i < r->nierr; i++)
		fprintf(f, "ktstr: init error %u (severity %u): %s%s%s\n", r->ierr[i].m.code,
			r->ierr[i].m.severity, r->ierr[i].text, r->ierr[i].m.err ? ": " : "",
			r->ierr[i].m.err ? strerror(r->ierr[i].m.err) : "");
	if (r->stream_damaged)
		fprintf(f,
			"ktstr: bulk stream: %llu frames, %llu CRC errors, %llu desyncs, %llu bytes "
			"skipped, first damage at offset %llu\n",
			(unsigned long long)r->reader.stats.frames,
			(unsigned long long)r->reader.stats.crc_errors,
			(unsigned long long)r->reader.stats.desyncs,
			(unsigned long long)r->reader.stats.skipped_bytes,
			(unsigned long long)r->first_bad_offset);
	if (console_tail && *console_tail) {
		fprintf(f, "--- guest console (COM1), last 40 lines ---\n");
		print_tail(f, console_tail, strlen(console_tail), 40);
	}
	if (r->dmesg_len) {
		fprintf(f, "--- guest kernel log, last 60 lines ---\n");
		print_tail(f, r->dmesg, r->dmesg_len, 60);
	}
	print_liveness(r, f);
}

static json_object *liveness_json(const struct run *r)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "pings", json_object_new_uint64(r->pings));
	json_object_object_add(o, "pongs", json_object_new_uint64(r->pongs));
	if (r->pongs) {
		json_object *p = json_object_new_object();
		json_object_object_add(p, "state", json_object_new_int(r->pong.state));
		json_object_object_add(p, "procs_running",
				       json_object_new_int64(r->pong.procs_running));
		json_object_object_add(p, "procs_blocked",
				       json_object_new_int64(r->pong.procs_blocked));
		json_object_object_add(p, "stdout_bytes",
				       json_object_new_uint64(r->pong.stdout_bytes));
		json_object_object_add(p, "stderr_bytes",
				       json_object_new_uint64(r->pong.stderr_bytes));
		json_object_object_add(p, "host_ms", json_object_new_uint64(r->pong_host_ms));
		json_object_object_add(o, "last_pong", p);
	}
	json_object_object_add(o, "hung", json_object_new_boolean(r->hung));
	if (r->vcpu_table[0])
		json_object_object_add(o, "vcpus", json_object_new_string(r->vcpu_table));
	return o;
}

int run_write_json(const struct run *r, const struct run_verdict *v, const char *path)
{
	static const char *const how[] = {"exited", "signaled", "not_started"};
	json_object *o = json_object_new_object(), *cmd, *proto, *phases, *msgs;
	int rc = 0;

	json_object_object_add(o, "outcome", json_object_new_string(run_outcome_name(v->outcome)));
	json_object_object_add(o, "exit_code", json_object_new_int(v->exit_code));
	if (r->excx_seen) {
		cmd = json_object_new_object();
		json_object_object_add(cmd, "how", json_object_new_string(how[r->excx.how % 3]));
		json_object_object_add(cmd, "code", json_object_new_int(r->excx.code));
		json_object_object_add(cmd, "signal", json_object_new_int(r->excx.signo));
		json_object_object_add(cmd, "core_dumped",
				       json_object_new_boolean(r->excx.flags & PROTO_EXCX_CORE));
		json_object_object_add(cmd, "runtime_ns",
				       json_object_new_uint64(r->excx.runtime_ns));
		json_object_object_add(o, "command", cmd);
	}
	const char *stage = proto_phase_name(r->last_phase);
	json_object_object_add(o, "stage", json_object_new_string(stage ? stage : "none"));
	json_object_object_add(o, "transport",
			       json_object_new_string(r->serial_transport ? "serial" : "virtio"));
	phases = json_object_new_array();
	for (unsigned i = 0; i < r->nphases; i++) {
		json_object *p = json_object_new_object();
		const char *n = proto_phase_name(r->phases[i].phase);
		json_object_object_add(p, "phase", json_object_new_string(n ? n : "unknown"));
		json_object_object_add(p, "guest_ns",
				       json_object_new_uint64(r->phases[i].guest_ns));
		json_object_object_add(p, "host_ms", json_object_new_uint64(r->phases[i].host_ms));
		json_object_array_add(phases, p);
	}
	json_object_object_add(o, "phases", phases);
	proto = json_object_new_object();
	json_object_object_add(proto, "frames", json_object_new_uint64(r->reader.stats.frames));
	json_object_object_add(proto, "bytes", json_object_new_uint64(r->reader.stats.bytes));
	json_object_object_add(proto, "crc_errors",
			       json_object_new_uint64(r->reader.stats.crc_errors));
	json_object_object_add(proto, "desyncs", json_object_new_uint64(r->reader.stats.desyncs));
	json_object_object_add(proto, "skipped_bytes",
			       json_object_new_uint64(r->reader.stats.skipped_bytes));
	json_object_object_add(proto, "unknown_tags",
			       json_object_new_uint64(r->reader.stats.unknown_tags));
	json_object_object_add(o, "protocol", proto);
	json_object_object_add(o, "liveness", liveness_json(r));
	msgs = json_object_new_array();
	if (v->outcome != RUN_COMMAND)
		json_object_array_add(msgs, json_object_new_string(v->cause));
	for (unsigned i = 0; i < r->nierr; i++)
		json_object_array_add(msgs, json_object_new_string(r->ierr[i].text));
	json_object_object_add(o, "messages", msgs);
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY))
		rc = -EIO;
	json_object_put(o);
	return rc;
}
