/* SPDX-License-Identifier: MIT */
/*
 * Guest init: the ktstr binary running as PID 1 inside the VM
 * (specs/guest-protocol.md §3). It mounts the file systems, loads the
 * modules the host packed, finds the bulk port by name, runs the --exec
 * command, streams its output and exit status to the host in frames, and
 * powers the VM off. It never returns and never exits: PID 1 exiting panics
 * the kernel and loses the explanation.
 *
 * Every path goes through a root prefix and every dangerous system call
 * through `struct guest_sys`, so the pieces run in unit tests against a fake
 * root and a socketpair standing in for the port (§5.6).
 */
#ifndef KTSTR_GUEST_GUEST_H
#define KTSTR_GUEST_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proto/frame.h"
#include "proto/msg.h"
#include "proto/reader.h"

#define GUEST_REPLAY_MAX 64
#define GUEST_IERR_MAX	 64
#define GUEST_DETAIL_MAX 256
#define GUEST_ARGV_MAX	 (1024 * 1024)
#define GUEST_STDIN_MAX	 (1024 * 1024)
#define GUEST_BULK_NAME	 "ktstr-bulk"

/* System calls that a unit test must be able to replace. */
struct guest_sys {
	int (*mount)(const char *src, const char *target, const char *type, unsigned long flags,
		     const void *data);
	int (*finit_module)(int fd, const char *params, int flags); /* returns 0 or -1/errno */
	int (*kill)(pid_t pid, int sig);
	void (*poweroff)(void *opaque); /* must not return in the real init */
	void *opaque;
};

enum guest_dmesg { GUEST_DMESG_AUTO, GUEST_DMESG_OFF, GUEST_DMESG_TAIL, GUEST_DMESG_ALL };

struct guest_replay {
	bool is_life;
	uint8_t phase; /* LIFE */
	uint16_t code; /* IERR */
	uint8_t severity;
	int32_t err;
	uint64_t t_ns;
	char text[GUEST_DETAIL_MAX];
};

struct guest {
	/* configuration */
	const char *root; /* "" in the real init, a temp dir in tests */
	bool is_pid1;	  /* allows kill(-1) and the real power-off */
	struct guest_sys sys;
	unsigned scale;
	enum guest_dmesg dmesg;
	bool merged, stdin_fwd, force_serial;
	char **argv, **env_extra;
	char *cwd;
	char *argv_buf, *env_buf; /* backing storage of argv / env_extra */

	/* channels */
	int kmsg_fd, com2_fd, port_fd;
	bool serial_mode, port_ready, port_dead;
	char port_dev[300];
	const char *fallback_reason;

	/* reporting */
	uint32_t frames, ierr_frames;
	uint64_t bytes;
	uint32_t com2_records;
	unsigned ierr_count;
	struct guest_replay replay[GUEST_REPLAY_MAX];
	unsigned nreplay;
	uint8_t last_phase;
	uint64_t t0_ns, last_t_ns;
	bool fatal_sent, shut_seen, dmsg_sent, ran, error_reported;
	unsigned mod_loaded, mod_present, mod_failed;

	/* the command */
	pid_t pid;
	uint64_t spawn_ns;
	struct proto_excx excx;
	bool excx_valid;
	struct proto_reader rx; /* host -> guest frames on port 1 */
	bool rx_stopped;
	uint64_t out_bytes, err_bytes;
};

/* init.c */
void guest_defaults(struct guest *g);
_Noreturn void guest_init(void);
/* Steps 7-19 of §3.1 (modules, port, command, report) without the power-off. */
void guest_run(struct guest *g);
_Noreturn void guest_fatal(struct guest *g, uint16_t code, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void guest_poweroff(struct guest *g);

/* fsroot: "<root><path>" into buf; returns buf. */
const char *guest_path(const struct guest *g, const char *path, char *buf, size_t len);
uint64_t guest_now_ns(void);

/* mounts.c */
struct guest_mount {
	const char *target, *type, *source;
	unsigned long flags;
	const char *data;
	bool required;
};
extern const struct guest_mount guest_mounts[];
extern const size_t guest_nmounts;
int guest_mount_all(struct guest *g);

/* config.c */
int guest_parse_cmdline(struct guest *g, const char *cmdline);
int guest_load_exec_config(struct guest *g);
/* NULL-terminated environment for the command; caller frees with guest_free_env. */
char **guest_build_env(const struct guest *g, long ncpus);
void guest_free_env(char **env);

/* modules.c */
int guest_module_flags(const struct guest *g, const char *name, int *flags);
void guest_load_modules(struct guest *g);

/* ports.c: finds the port named `name`; returns an open fd or -1 with *reason set. */
int guest_open_port(struct guest *g, const char *name, const char **reason);

/* report.c */
int guest_send(struct guest *g, uint32_t tag, const void *payload, size_t len);
void guest_life(struct guest *g, uint8_t phase, uint8_t flags, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void guest_ierr(struct guest *g, uint16_t code, uint8_t severity, int err, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void guest_com2(struct guest *g, const void *body, size_t n, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void guest_kmsg(struct guest *g, int prio, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void guest_replay_flush(struct guest *g);
void guest_send_dmesg(struct guest *g, bool whole);
void guest_send_done(struct guest *g, int32_t result, uint32_t flags);
void guest_send_excx(struct guest *g);

/* payload.c: prepare, spawn and supervise the command; returns when it is over. */
int guest_run_payload(struct guest *g);

#endif
