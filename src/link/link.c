// SPDX-License-Identifier: MIT
/* The guest-link thread (specs/guest-protocol.md §4.1–§4.5). */
#include "link/link.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "base/compiler.h"
#include "base/log.h"
#include "proto/frame.h"
#include "proto/msg.h"
#include "virtio/console.h"

#define TICK_MS		250
#define BOOT_DEADLINE_S 60 /* kernel -> init (× scale) */
#define PORT_DEADLINE_S 30 /* init started -> HELO or serial record (× scale) */
#define DONE_GRACE_S	2  /* after DONE, for the VM to end (× scale) */
#define SHUT_GRACE_MS	2000
#define SHUT_WAIT_S	10 /* beyond the grace, for DONE (× scale) */
#define SIGINT_WINDOW	3000
#define PING_AFTER_S	5  /* no evidence of life this long: PING (× scale), §4.5.2 */
#define HUNG_AFTER_S	30 /* ... this long with the PING unanswered: hung (× scale) */
#define SERIAL_QUIET_S	60 /* serial mode: COM2 silence after PAYLOAD_STARTING (× scale) */

enum { EV_CONSOLE, EV_COM1, EV_COM2, EV_EXIT, EV_SIGNAL, EV_TICK, EV_STDIN };

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void link_block_signals(void)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &s, NULL);
}

static void stop_vm(struct link *l, const char *why)
{
	if (l->stop_requested)
		return;
	l->stop_requested = true;
	l->cfg.stop_vm(l->cfg.opaque, why);
}

/* Keep the last LINK_CONSOLE_KEEP bytes of COM1, and look at each line for a panic. */
static void console_bytes(struct link *l, const char *b, size_t n)
{
	if (l->cfg.echo_console && write(2, b, n) < 0) {
		/* stderr gone: nothing to do */
	}
	for (size_t i = 0; i < n; i++) {
		if (b[i] == '\n' || l->line_len == sizeof(l->line) - 1) {
			l->line[l->line_len] = '\0';
			run_note_console_line(l->run, l->line);
			l->line_len = 0;
		} else if (b[i] != '\r') {
			l->line[l->line_len++] = b[i];
		}
	}
	if (n >= LINK_CONSOLE_KEEP) {
		b += n - LINK_CONSOLE_KEEP;
		n = LINK_CONSOLE_KEEP;
	}
	if (l->con_len + n > LINK_CONSOLE_KEEP) {
		size_t drop = l->con_len + n - LINK_CONSOLE_KEEP;
		memmove(l->console, l->console + drop, l->con_len - drop);
		l->con_len -= drop;
	}
	memcpy(l->console + l->con_len, b, n);
	l->con_len += n;
	l->console[l->con_len] = '\0';
}

static void drain_pipe(struct link *l, int fd, bool com2)
{
	char buf[16384];
	ssize_t n;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		if (com2)
			run_feed_com2(l->run, buf, (size_t)n);
		else
			console_bytes(l, buf, (size_t)n);
	}
}

static void drain_console(struct link *l, bool final)
{
	uint8_t *buf = NULL;
	size_t n;

	if (!l->cfg.console)
		return;
	/* hvc0 (port 0): only shown with --verbose; the guest init does not use it. */
	n = vc_drain_output(l->cfg.console, &buf);
	if (n && l->cfg.hvc0_out >= 0) {
		if (write(l->cfg.hvc0_out, buf, n) < 0) {
			/* the terminal went away; the shell still ends the run */
		}
		/*
		 * Keystrokes go to the guest only once its shell has spoken: input
		 * that reaches hvc0 before the shell opened it can be flushed by the
		 * guest's tty set-up and would be lost (piped input shows this).
		 */
		if (!l->stdin_watched && l->cfg.stdin_fd >= 0) {
			struct epoll_event e = {.events = EPOLLIN, .data.u32 = EV_STDIN};
			l->stdin_watched =
				epoll_ctl(l->ep, EPOLL_CTL_ADD, l->cfg.stdin_fd, &e) == 0;
		}
	} else if (n && l->cfg.echo_console && write(2, buf, n) < 0) {
		/* stderr gone */
	}
	free(buf);
	buf = NULL;
	n = final ? vc_final_drain(l->cfg.console, &buf) : vc_drain_bulk(l->cfg.console, &buf);
	if (n)
		run_feed_bulk(l->run, buf, n);
	free(buf);
}

static void send_frame(struct link *l, uint32_t tag, const void *p, size_t n)
{
	uint8_t buf[PROTO_HDR_SIZE + 64];
	size_t len = proto_encode(buf, sizeof(buf), tag, p, (uint32_t)n);

	/* The host sends nothing before HELO (§1.7): the guest's reader would not be there. */
	if (l->cfg.console && l->run->helo && len)
		vc_queue_input_port1(l->cfg.console, buf, len);
}

/* Graceful stop (§4.5.3): SHUT, then wait for DONE, then stop the VM. */
static void graceful_stop(struct link *l, uint32_t reason, uint32_t flags)
{
	if (l->shut_sent)
		return;
	l->shut_sent = true;
	l->shut_ms = now_ms();
	if (l->run->serial_transport || !l->run->helo) {
		stop_vm(l, "stopping the VM (no protocol channel for a graceful stop)");
		return;
	}
	uint8_t p[PROTO_SHUT_SIZE];
	struct proto_shut s = {.reason = reason, .grace_ms = SHUT_GRACE_MS, .flags = flags};
	proto_shut_encode(p, &s);
	send_frame(l, PROTO_SHUT, p, sizeof(p));
}

static void on_signal(struct link *l)
{
	struct signalfd_siginfo si;

	while (read(l->sig_fd, &si, sizeof(si)) == sizeof(si)) {
		uint64_t t = now_ms();
		int sig = (int)si.ssi_signo;

		if (sig == SIGINT && l->sigints == 0) {
			/* First Ctrl-C: the command decides what it means (§4.5.4). */
			l->sigints = 1;
			l->last_sigint_ms = t;
			uint8_t p[PROTO_SIGN_SIZE];
			struct proto_sign s = {.signo = SIGINT};
			proto_sign_encode(p, &s);
			send_frame(l, PROTO_SIGN, p, sizeof(p));
			continue;
		}
		if (sig == SIGINT && l->sigints == 1 && t - l->last_sigint_ms > SIGINT_WINDOW) {
			l->last_sigint_ms = t;
			continue;
		}
		if (!l->run->stop_signal)
			l->run->stop_signal = sig;
		if (l->shut_sent || (sig == SIGINT && l->sigints >= 2)) {
			stop_vm(l, "stopping the VM at once (signal)");
			continue;
		}
		l->sigints++;
		graceful_stop(l, sig == SIGINT ? 2 : 4, 0);
	}
}

static void timeout(struct link *l, const char *msg, bool graceful)
{
	if (l->run->timed_out)
		return;
	l->run->timed_out = true;
	snprintf(l->run->timeout_msg, sizeof(l->run->timeout_msg), "%s", msg);
	if (graceful)
		graceful_stop(l, 1, 1);
	else
		stop_vm(l, msg);
}

/*
 * Evidence of life (§4.5.2) is counted by the run as frames and COM2 records
 * arrive; here the count is turned into "when did init last show it runs".
 * COM1 is deliberately not looked at: a chatty kernel says nothing about a
 * wedged PID 1.
 */
static void note_life(struct link *l)
{
	struct run *r = l->run;

	if (r->life_events != l->life_seen) {
		l->life_seen = r->life_events;
		l->life_ms = now_ms();
	}
	if (r->pongs != l->pongs_seen) {
		l->pongs_seen = r->pongs;
		/* Only the answer to the PING in flight clears it; a stray nonce does not. */
		if (l->ping_nonce && r->pong.nonce == l->ping_nonce)
			l->ping_nonce = 0;
	}
}

static void send_ping(struct link *l)
{
	uint8_t p[PROTO_PING_SIZE];

	/* The nonce is a counter: the PONG that echoes it answers this PING and no older one. */
	l->ping_nonce = ++l->run->pings;
	proto_ping_encode(p, l->ping_nonce);
	send_frame(l, PROTO_PING, p, sizeof(p));
}

/*
 * Hung: stop at once (init does not read a SHUT either). The VMM kicks every
 * vCPU out of KVM_RUN; the vCPU registers are read after that, by the caller,
 * into run->vcpu_table.
 */
static void declare_hung(struct link *l, const char *msg)
{
	l->run->hung = true;
	snprintf(l->run->timeout_msg, sizeof(l->run->timeout_msg), "%s", msg);
	stop_vm(l, msg);
}

/* t: now; unit: one guest-deadline second; s: the time scale. */
static void check_liveness(struct link *l, uint64_t t, uint64_t unit, uint64_t s)
{
	struct run *r = l->run;
	char msg[200];

	/* A stop under way has its own budget; after it nothing more is decided here. */
	if (l->shut_sent || l->stop_requested || r->timed_out || r->hung)
		return;
	if (r->serial_transport) {
		/* No PING on COM2: only silence after the command started is a hint. */
		uint64_t since = MAX(l->life_ms, l->payload_ms);
		if (l->payload_ms && t - since >= SERIAL_QUIET_S * unit * s) {
			snprintf(msg, sizeof(msg),
				 "no output for %llu s (serial channel: init cannot be pinged)",
				 (unsigned long long)((t - since) / unit));
			declare_hung(l, msg);
		}
		return;
	}
	if (!r->helo || !l->cfg.console)
		return;
	if (l->ping_nonce && t - l->life_ms >= HUNG_AFTER_S * unit * s) {
		snprintf(msg, sizeof(msg), "guest unresponsive for %llu s (no reply from init)",
			 (unsigned long long)((t - l->life_ms) / unit));
		declare_hung(l, msg);
	} else if (!l->ping_nonce && t - l->life_ms >= PING_AFTER_S * unit * s) {
		send_ping(l);
	}
}

static void on_tick(struct link *l)
{
	struct run *r = l->run;
	uint64_t t = now_ms(), s = l->cfg.scale ? l->cfg.scale : 1;
	uint64_t unit = l->cfg.unit_ms ? l->cfg.unit_ms : 1000; /* a guest "second" */
	uint64_t ticks;
	char msg[200];

	if (read(l->tick_fd, &ticks, sizeof(ticks)) < 0) {
		/* spurious wake-up */
	}
	note_life(l);
	if (r->done_seen) {
		if (!l->done_ms)
			l->done_ms = t;
		else if (t - l->done_ms > DONE_GRACE_S * unit * s)
			stop_vm(l, "guest did not power off after DONE");
		return;
	}
	for (unsigned i = 0; !l->payload_ms && i < r->nphases; i++)
		if (r->phases[i].phase == PROTO_PHASE_PAYLOAD_STARTING)
			l->payload_ms = r->t0_ms + r->phases[i].host_ms;
	check_liveness(l, t, unit, s);
	if (r->hung)
		return;
	bool init_seen = r->nphases || r->helo || r->serial_transport;
	if (!init_seen && t - l->start_ms > BOOT_DEADLINE_S * unit * s) {
		snprintf(msg, sizeof(msg), "boot did not reach init within %llu s",
			 (unsigned long long)(BOOT_DEADLINE_S * s));
		timeout(l, msg, false);
	} else if (init_seen && !r->helo && !r->serial_transport &&
		   t - l->start_ms > (BOOT_DEADLINE_S + PORT_DEADLINE_S) * unit * s) {
		timeout(l, "init did not set up the guest link", false);
	} else if (l->payload_ms && l->cfg.timeout_s &&
		   t - l->payload_ms > (uint64_t)l->cfg.timeout_s * 1000) {
		/* Not hung (checked first, every tick): init still shows it runs. */
		snprintf(msg, sizeof(msg), "timeout after %u s: command still running%s",
			 l->cfg.timeout_s, r->serial_transport ? "" : " (guest responsive)");
		timeout(l, msg, true);
	}
	if (l->shut_sent && t - l->shut_ms > SHUT_GRACE_MS * s + SHUT_WAIT_S * unit * s)
		stop_vm(l, "guest did not finish after SHUT");
}

/* Interactive shell: the user's keystrokes go to hvc0 (port 0). */
static void forward_stdin(struct link *l)
{
	char buf[4096];
	ssize_t n = read(l->cfg.stdin_fd, buf, sizeof(buf));

	if (n > 0) {
		vc_queue_input(l->cfg.console, buf, (size_t)n);
	} else if (n == 0 || errno != EAGAIN) {
		/* End of input: stop watching (the shell decides when the run ends). */
		epoll_ctl(l->ep, EPOLL_CTL_DEL, l->cfg.stdin_fd, NULL);
	}
}

static void *link_main(void *arg)
{
	struct link *l = arg;
	struct epoll_event ev[8];
	bool exiting = false;

	while (!exiting) {
		int n = epoll_wait(l->ep, ev, 8, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			break;
		for (int i = 0; i < n; i++) {
			uint64_t cnt;
			switch (ev[i].data.u32) {
			case EV_CONSOLE:
				if (read(vc_tx_fd(l->cfg.console), &cnt, sizeof(cnt)) < 0) {
					/* counter already reset */
				}
				drain_console(l, false);
				break;
			case EV_COM1:
				drain_pipe(l, l->cfg.com1_rd, false);
				break;
			case EV_COM2:
				drain_pipe(l, l->cfg.com2_rd, true);
				break;
			case EV_SIGNAL:
				on_signal(l);
				break;
			case EV_TICK:
				on_tick(l);
				break;
			case EV_EXIT:
				exiting = true;
				break;
			case EV_STDIN:
				forward_stdin(l);
				break;
			}
		}
	}
	/* The VM is gone: collect what is left, including chains never notified (§4.4). */
	drain_console(l, false);
	drain_console(l, true);
	if (l->cfg.com1_rd >= 0)
		drain_pipe(l, l->cfg.com1_rd, false);
	if (l->cfg.com2_rd >= 0)
		drain_pipe(l, l->cfg.com2_rd, true);
	if (l->line_len)
		console_bytes(l, "\n", 1);
	run_finish(l->run);
	return NULL;
}

static int watch(struct link *l, int fd, uint32_t id)
{
	struct epoll_event e = {.events = EPOLLIN, .data.u32 = id};
	return fd < 0 ? 0 : epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e);
}

int link_start(struct link *l, const struct link_config *cfg, struct run *run)
{
	long tick_ns = (cfg->unit_ms && cfg->unit_ms < TICK_MS ? cfg->unit_ms : TICK_MS) * 1000000L;
	struct itimerspec tick = {.it_interval = {0, tick_ns}, .it_value = {0, tick_ns}};
	sigset_t s;

	memset(l, 0, sizeof(*l));
	l->cfg = *cfg;
	l->run = run;
	l->start_ms = l->life_ms = now_ms();
	l->sig_fd = l->tick_fd = l->exit_fd = l->ep = -1;
	l->console = malloc(LINK_CONSOLE_KEEP + 1);
	if (!l->console)
		return -ENOMEM;
	l->console[0] = '\0';
	l->ep = epoll_create1(EPOLL_CLOEXEC);
	l->exit_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	l->tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (l->ep < 0 || l->exit_fd < 0 || l->tick_fd < 0)
		return -errno;
	timerfd_settime(l->tick_fd, 0, &tick, NULL);
	if (cfg->forward_signals) {
		sigemptyset(&s);
		sigaddset(&s, SIGINT);
		sigaddset(&s, SIGTERM);
		sigaddset(&s, SIGHUP);
		l->sig_fd = signalfd(-1, &s, SFD_CLOEXEC | SFD_NONBLOCK);
	}
	if (watch(l, cfg->console ? vc_tx_fd(cfg->console) : -1, EV_CONSOLE) ||
	    watch(l, cfg->com1_rd, EV_COM1) || watch(l, cfg->com2_rd, EV_COM2) ||
	    watch(l, l->exit_fd, EV_EXIT) || watch(l, l->sig_fd, EV_SIGNAL) ||
	    watch(l, l->tick_fd, EV_TICK))
		return -errno;
	return -pthread_create(&l->thread, NULL, link_main, l);
}

void link_finish(struct link *l)
{
	uint64_t one = 1;

	if (write(l->exit_fd, &one, sizeof(one)) < 0) {
		/* cannot fail on a fresh eventfd */
	}
	pthread_join(l->thread, NULL);
}

const char *link_console(const struct link *l)
{
	return l->console ? l->console : "";
}

void link_destroy(struct link *l)
{
	int fds[] = {l->ep, l->exit_fd, l->tick_fd, l->sig_fd};

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(l->console);
	l->console = NULL;
}
