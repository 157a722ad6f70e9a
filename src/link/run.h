/* SPDX-License-Identifier: MIT */
/*
 * The host's record of one `ktstr vm --exec` run and what decides its exit
 * code (specs/guest-protocol.md §4.3, §4.6, §4.7).
 *
 * Everything the guest says (frames on the bulk port, COM2 records, COM1
 * text) and everything the host sees (VM end, deadlines, signals) lands in a
 * `struct run`; `run_classify()` is a pure function of it, so every rule of
 * the decision list is unit-tested without a VM.
 */
#ifndef KTSTR_LINK_RUN_H
#define KTSTR_LINK_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "proto/msg.h"
#include "proto/reader.h"
#include "proto/serial_rec.h"

/* Exit codes of `ktstr vm --exec` that are not the command's own (§4.6). */
enum {
	RUN_EXIT_CRASH = 121,
	RUN_EXIT_INIT_FAILED = 122,
	RUN_EXIT_PROTOCOL = 123,
	RUN_EXIT_TIMEOUT = 124,
	RUN_EXIT_HOST = 125,
};

enum run_outcome {
	RUN_COMMAND,
	RUN_CRASH,
	RUN_INIT_FAILURE,
	RUN_PROTOCOL_ERROR,
	RUN_TIMEOUT,
	RUN_HOST_ERROR,
	RUN_INTERRUPTED,
};

/* How the VM ended, as far as the classification cares. */
enum run_vm_end {
	RUN_VM_RUNNING,
	RUN_VM_POWEROFF,
	RUN_VM_RESET,
	RUN_VM_TRIPLE_FAULT,
	RUN_VM_STOPPED, /* the host stopped it (deadline, signal, post-DONE grace) */
};

#define RUN_MAX_IERR	   64
#define RUN_TEXT_MAX	   (64 * 1024)
#define RUN_MAX_PHASES	   32
#define RUN_VCPU_TABLE_MAX 4096

struct run_ierr {
	struct proto_ierr m;
	char text[256];
};

struct run_phase {
	uint8_t phase;
	uint64_t guest_ns;
	uint64_t host_ms;
};

struct run {
	/* protocol state */
	struct proto_reader reader;
	struct serial_parser com2;
	bool serial_transport;
	bool helo, excx_seen, done_seen;
	struct proto_helo helo_msg;
	struct proto_excx excx;
	struct proto_done done;
	uint64_t frames_before_done, bytes_before_done;
	bool helo_major_mismatch, done_mismatch, data_after_done, stream_damaged;
	uint64_t first_bad_offset;
	bool first_frame_not_helo;
	/* evidence */
	bool crash_frame, com2_panic, fatal_ierr;
	char crash_text[1024];
	struct run_ierr ierr[RUN_MAX_IERR];
	unsigned nierr;
	struct run_phase phases[RUN_MAX_PHASES];
	unsigned nphases;
	uint8_t last_phase;
	char *dmesg; /* last DMSG dump (reassembled) */
	size_t dmesg_len;
	uint32_t dmesg_id;
	char com1_panic[256]; /* the panic line seen on COM1, if any */
	/* host-side facts */
	enum run_vm_end vm_end;
	bool host_error;
	char host_error_msg[700];
	bool timed_out, hung;
	char timeout_msg[256];
	/*
	 * Liveness (§4.5.2). life_events counts CRC-valid frames and COM2
	 * records: what proves init still runs (COM1 text does not). The link
	 * thread sends the PINGs and counts them here so the report has them.
	 */
	uint64_t life_events, pings, pongs;
	struct proto_pong pong; /* the last PONG */
	uint64_t pong_host_ms;	/* when it arrived, ms since t0_ms */
	/* Hang report: one line per vCPU, filled after the VM stopped (VMM side). */
	char vcpu_table[RUN_VCPU_TABLE_MAX];
	int stop_signal; /* host signal that started a stop, 0 if none */
	/* output */
	int out_fd, err_fd;
	bool out_broken, err_broken;
	uint64_t out_bytes, err_bytes;
	uint64_t t0_ms;
	bool verbose;
	FILE *diag; /* where IERR warnings and reports go (stderr) */
};

void run_init(struct run *r, int out_fd, int err_fd, FILE *diag);
void run_destroy(struct run *r);
/* Bytes from the bulk port (port 1 TX). */
void run_feed_bulk(struct run *r, const void *b, size_t n);
/* Bytes from COM2. */
void run_feed_com2(struct run *r, const void *b, size_t n);
/* A console (COM1) line, for panic evidence. */
void run_note_console_line(struct run *r, const char *line);
/* End of all streams: final truncation checks. */
void run_finish(struct run *r);

struct run_verdict {
	int exit_code;
	enum run_outcome outcome;
	char cause[320];
};

void run_classify(const struct run *r, struct run_verdict *v);
const char *run_outcome_name(enum run_outcome o);
/* stderr report for non-command outcomes and killed commands (§4.7). */
void run_print_report(const struct run *r, const struct run_verdict *v, const char *console_tail,
		      FILE *f);
/* --result-json. Returns 0 or -errno. */
int run_write_json(const struct run *r, const struct run_verdict *v, const char *path);

#endif
