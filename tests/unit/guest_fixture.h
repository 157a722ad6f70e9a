/* SPDX-License-Identifier: MIT */
/*
 * Fixture for guest-init tests (specs/guest-protocol.md §5.6): a temporary
 * fake root, a socketpair standing in for the bulk port with a host thread
 * decoding every frame, and a pipe standing in for COM2.
 */
#ifndef KTSTR_TESTS_GUEST_FIXTURE_H
#define KTSTR_TESTS_GUEST_FIXTURE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest/guest.h"

#define GF_MAX_FRAMES 4096

struct gf_frame {
	uint32_t tag;
	uint32_t len;
	uint8_t *payload;
};

struct guest_fixture {
	char root[256];
	struct guest g;
	int host_fd; /* host end of the port socketpair, -1 without a port */
	int com2_rd; /* read end of the COM2 pipe */
	pthread_t host_thread;
	pthread_mutex_t lock;
	struct gf_frame frames[GF_MAX_FRAMES];
	unsigned nframes;
	uint64_t reader_frames, reader_bytes, bad_events;
	uint8_t *out, *err; /* concatenated SOUT / SERR */
	size_t out_len, err_len;
	unsigned poweroffs;
};

/* port: give the guest a socketpair port (else serial mode). */
void gf_setup(struct guest_fixture *f, bool port);
/* Write argv (NUL-separated) to <root>/ktstr/exec.argv. */
void gf_set_argv(struct guest_fixture *f, const char *const *argv);
void gf_write_file(struct guest_fixture *f, const char *path, const void *data, size_t len);
/* Run the guest (steps 7-19), then wait until the host thread saw DONE. */
void gf_run(struct guest_fixture *f);
/* Send a host->guest frame. */
void gf_send(struct guest_fixture *f, uint32_t tag, const void *p, size_t n);
/* Read everything written to COM2 so far (non-blocking). */
size_t gf_com2(struct guest_fixture *f, uint8_t *buf, size_t cap);
const struct gf_frame *gf_find(struct guest_fixture *f, uint32_t tag, unsigned nth);
unsigned gf_count(struct guest_fixture *f, uint32_t tag);
int gf_index(struct guest_fixture *f, uint32_t tag, unsigned nth);
void gf_teardown(struct guest_fixture *f);

#endif
