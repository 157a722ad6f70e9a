// SPDX-License-Identifier: MIT
/*
 * Running the --exec command and forwarding its output
 * (specs/guest-protocol.md §3.5–§3.7).
 *
 * Init blocks only in poll() and in a port write (which the host never lets
 * last), empties the command's pipes on every iteration and never writes to
 * its stdin in blocking mode, so neither side can deadlock the other.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest/guest.h"
#include "proto/serial_rec.h"

#define READS_PER_ITER 4
#define PIPE_SIZE      (1024 * 1024)
#define LINGER_MS      500
#define POSTKILL_MS    2000
#define PORT_RX_BUF    (64 * 1024)

enum { P_OUT, P_ERR, P_NPIPES };

struct run {
	struct guest *g;
	int pipe_rd[P_NPIPES]; /* init's read ends, -1 at EOF */
	int stdin_wr;	       /* init's write end of the stdin pipe, -1 when none */
	uint8_t *stdin_buf;
	size_t stdin_len;
	bool stdin_eof;
	int sigfd, tfd_drain, tfd_grace;
	bool reaped, killed_leftovers, drain_timed_out, grace_armed;
	pid_t pgid;
};

static void arm(int tfd, unsigned ms)
{
	struct itimerspec its = {.it_value = {ms / 1000, (long)(ms % 1000) * 1000000L}};
	timerfd_settime(tfd, 0, &its, NULL);
}

/* PATH search with the command's own PATH, not init's (§3.5). */
static void exec_with_path(char **argv, char **env)
{
	const char *path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char full[4096];
	int saved = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return;
	}
	for (char **e = env; *e; e++)
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
	while (*path) {
		size_t n = strcspn(path, ":");
		snprintf(full, sizeof(full), "%.*s/%s", (int)n, n ? path : ".", argv[0]);
		execve(full, argv, env);
		/* Keep the most telling error: a file that exists but cannot run beats ENOENT. */
		if (errno != ENOENT && errno != ENOTDIR)
			saved = errno;
		path += n + (path[n] == ':');
	}
	errno = saved;
}

static void child(struct guest *g, int in_fd, int out_fd, int err_fd, int errpipe, char **env)
{
	struct rlimit nocore = {0, 0};
	sigset_t none;
	int e;

	setsid();
	/* Ignored dispositions survive execve: reset every one (SIGPIPE above all). */
	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)
		goto fail;
	/* Anything inherited by accident (a test harness's fds) must not reach the command. */
	for (int fd = 3; fd < 1024; fd++)
		if (fd != errpipe)
			close(fd);
	if (chdir(g->cwd ? g->cwd : "/") < 0)
		goto fail;
	umask(022);
	setrlimit(RLIMIT_CORE, &nocore);
	exec_with_path(g->argv, env);
fail:
	e = errno;
	if (write(errpipe, &e, sizeof(e)) < 0) {
		/* the parent then sees EOF and a 127 exit */
	}
	_exit(127);
}

static int spawn(struct guest *g, struct run *r)
{
	int out[2], err[2] = {-1, -1}, in[2] = {-1, -1}, ep[2];
	char **env = guest_build_env(g, sysconf(_SC_NPROCESSORS_ONLN));
	int child_err = 0;

	if (!env || pipe2(out, O_CLOEXEC) || (!g->merged && pipe2(err, O_CLOEXEC)) ||
	    (g->stdin_fwd && pipe2(in, O_CLOEXEC)) || pipe2(ep, O_CLOEXEC))
		guest_fatal(g, PROTO_IERR_STDIO, errno, "creating the command's pipes");
	if (g->merged) {
		err[0] = -1;
		err[1] = out[1];
	}
	if (!g->stdin_fwd) {
		in[0] = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (in[0] < 0)
			guest_fatal(g, PROTO_IERR_STDIO, errno, "open /dev/null");
	}
	/* A fast writer rarely waits for init with a 1 MiB pipe; failure is harmless. */
	fcntl(out[0], F_SETPIPE_SZ, PIPE_SIZE);
	if (err[0] >= 0)
		fcntl(err[0], F_SETPIPE_SZ, PIPE_SIZE);

	guest_life(g, PROTO_PHASE_PAYLOAD_STARTING, 0, "%s: %.200s", g->argv[0],
		   g->argv[1] ? g->argv[g->argv[2] ? 2 : 1] : "");
	g->spawn_ns = guest_now_ns();
	pid_t pid = fork();
	if (pid < 0)
		guest_fatal(g, PROTO_IERR_SPAWN, errno, "fork for %s", g->argv[0]);
	if (pid == 0)
		child(g, in[0], out[1], err[1], ep[1], env);
	guest_free_env(env);
	close(ep[1]);
	while (read(ep[0], &child_err, sizeof(child_err)) < 0 && errno == EINTR) {
	}
	close(ep[0]);
	close(in[0]);
	close(out[1]);
	if (!g->merged)
		close(err[1]);
	r->pipe_rd[P_OUT] = out[0];
	r->pipe_rd[P_ERR] = err[0];
	r->stdin_wr = in[1];
	g->pid = pid;
	r->pgid = pid;
	if (child_err) {
		/* Reap the failed child here: nothing else will run for it. */
		waitpid(pid, NULL, 0);
		g->pid = 0;
		g->excx = proto_excx_not_started(child_err);
		g->excx_valid = true;
		guest_ierr(g, PROTO_IERR_SPAWN, PROTO_SEV_ERROR, child_err, "cannot execute %s",
			   g->argv[0]);
		return -child_err;
	}
	g->ran = true;
	for (int i = 0; i < P_NPIPES; i++)
		if (r->pipe_rd[i] >= 0)
			fcntl(r->pipe_rd[i], F_SETFL, O_NONBLOCK);
	if (r->stdin_wr >= 0)
		fcntl(r->stdin_wr, F_SETFL, O_NONBLOCK);
	return 0;
}

static void forward(struct run *r, int which, const uint8_t *buf, size_t n)
{
	struct guest *g = r->g;

	if (which == P_OUT)
		g->out_bytes += n;
	else
		g->err_bytes += n;
	if (g->serial_mode)
		guest_com2(g, buf, n, "%s n=%zu", which == P_OUT ? "KTSTR_SOUT" : "KTSTR_SERR", n);
	else
		guest_send(g, which == P_OUT ? PROTO_SOUT : PROTO_SERR, buf, n);
}

static void close_pipe(struct run *r, int which)
{
	if (r->pipe_rd[which] >= 0)
		close(r->pipe_rd[which]);
	r->pipe_rd[which] = -1;
}

static void service_pipe(struct run *r, int which)
{
	static uint8_t buf[PROTO_CHUNK];
	size_t want = r->g->serial_mode ? SERIAL_BODY_MAX : sizeof(buf);

	/* A bounded number of reads, so one flooding stream cannot starve the others. */
	for (int i = 0; i < READS_PER_ITER && r->pipe_rd[which] >= 0; i++) {
		ssize_t n = read(r->pipe_rd[which], buf, want);
		if (n > 0) {
			forward(r, which, buf, (size_t)n);
		} else if (n == 0) {
			close_pipe(r, which);
		} else if (errno != EINTR) {
			if (errno != EAGAIN)
				close_pipe(r, which);
			break;
		}
	}
}

static void kill_group(struct run *r, int sig)
{
	if (r->pgid > 0)
		r->g->sys.kill(-r->pgid, sig);
}

static void kill_everything(struct run *r)
{
	kill_group(r, SIGKILL);
	/* kill(-1) spares only the caller: correct for PID 1, fatal for a test runner. */
	if (r->g->is_pid1)
		r->g->sys.kill(-1, SIGKILL);
}

static void reap(struct run *r)
{
	struct guest *g = r->g;
	struct signalfd_siginfo si;
	int status;
	pid_t pid;

	while (read(r->sigfd, &si, sizeof(si)) > 0) {
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != g->pid || r->reaped)
			continue;
		r->reaped = true;
		uint8_t keep = g->excx.flags;
		g->excx = proto_excx_from_wait(status, (uint32_t)pid, guest_now_ns() - g->spawn_ns);
		g->excx.flags |= keep;
		g->excx_valid = true;
		guest_life(g, PROTO_PHASE_PAYLOAD_EXITED, 0, "pid=%d", pid);
		arm(r->tfd_drain, LINGER_MS * g->scale);
	}
}

static void read_proc_stat(uint32_t *running, uint32_t *blocked)
{
	char line[256];
	FILE *f = fopen("/proc/stat", "re");

	*running = *blocked = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "procs_running %u", running);
		sscanf(line, "procs_blocked %u", blocked);
	}
	fclose(f);
}

static void handle_shut(struct run *r, const struct proto_shut *s)
{
	struct guest *g = r->g;
	char path[512];

	if (g->shut_seen)
		return; /* a second SHUT while one is in progress is ignored */
	g->shut_seen = true;
	guest_life(g, PROTO_PHASE_SHUTDOWN_REQUESTED, 0, "reason=%u", s->reason);
	if (s->flags & 1) {
		int fd = open(guest_path(g, "/proc/sysrq-trigger", path, sizeof(path)),
			      O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			if (write(fd, "w", 1) < 0) {
				/* best effort: the blocked-task dump is a diagnostic */
			}
			close(fd);
		}
	}
	if (g->pid > 0 && !r->reaped) {
		g->excx.flags |= PROTO_EXCX_KILLED;
		kill_group(r, SIGTERM);
		arm(r->tfd_grace, s->grace_ms ? s->grace_ms : 1);
		r->grace_armed = true;
	}
}

struct frame_ctx {
	struct run *r;
};

static void on_host_frame(void *opaque, const struct proto_event *ev)
{
	struct run *r = ((struct frame_ctx *)opaque)->r;
	struct guest *g = r->g;

	if (g->rx_stopped)
		return;
	if (ev->kind != PROTO_EV_FRAME) {
		/* The host is trusted and starts at a frame boundary: damage is not recoverable. */
		g->rx_stopped = true;
		guest_ierr(g, PROTO_IERR_HOST_STREAM, PROTO_SEV_ERROR, 0,
			   "bad frame from the host at offset %llu; port input ignored from now on",
			   (unsigned long long)ev->offset);
		return;
	}
	switch (ev->tag) {
	case PROTO_PING: {
		uint64_t nonce;
		uint8_t p[PROTO_PONG_SIZE];
		if (proto_ping_decode(ev->payload, ev->len, &nonce))
			break;
		struct proto_pong pong = {.nonce = nonce,
					  .t_ns = guest_now_ns(),
					  .state = g->pid <= 0 ? 0
						   : r->reaped ? 2
							       : 1,
					  .stdin_pending = (uint32_t)r->stdin_len,
					  .stdout_bytes = g->out_bytes,
					  .stderr_bytes = g->err_bytes};
		read_proc_stat(&pong.procs_running, &pong.procs_blocked);
		proto_pong_encode(p, &pong);
		guest_send(g, PROTO_PONG, p, sizeof(p));
		break;
	}
	case PROTO_SHUT: {
		struct proto_shut s;
		if (!proto_shut_decode(ev->payload, ev->len, &s))
			handle_shut(r, &s);
		break;
	}
	case PROTO_SIGN: {
		struct proto_sign s;
		if (proto_sign_decode(ev->payload, ev->len, &s))
			break;
		if (g->pid <= 0 || r->reaped) {
			guest_ierr(g, PROTO_IERR_SIGNAL_DELIVERY, PROTO_SEV_INFO, 0,
				   "no command to signal");
		} else if (g->sys.kill((s.flags & 1) ? g->pid : -r->pgid, (int)s.signo)) {
			guest_ierr(g, PROTO_IERR_SIGNAL_DELIVERY, PROTO_SEV_WARNING, errno,
				   "signal %u", s.signo);
		}
		break;
	}
	case PROTO_SINP:
		if (!g->stdin_fwd || r->stdin_eof) {
			guest_ierr(g, PROTO_IERR_HOST_STREAM, PROTO_SEV_WARNING, 0,
				   "stdin bytes without stdin forwarding");
		} else if (r->stdin_len + ev->len > GUEST_STDIN_MAX) {
			guest_ierr(g, PROTO_IERR_HOST_STREAM, PROTO_SEV_ERROR, 0,
				   "stdin buffer over 1 MiB; %u bytes dropped", ev->len);
		} else {
			memcpy(r->stdin_buf + r->stdin_len, ev->payload, ev->len);
			r->stdin_len += ev->len;
		}
		break;
	case PROTO_SEOF:
		r->stdin_eof = true;
		break;
	default:
		break; /* unknown or later-milestone tags are skipped */
	}
}

static void service_port(struct run *r)
{
	static uint8_t buf[PORT_RX_BUF];
	struct frame_ctx ctx = {r};
	struct guest *g = r->g;
	ssize_t n = read(g->port_fd, buf, sizeof(buf));

	if (n > 0) {
		proto_reader_feed(&g->rx, buf, (size_t)n, on_host_frame, &ctx);
	} else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
		g->rx_stopped = true; /* the host closed the port */
	}
}

static void service_stdin(struct run *r)
{
	if (r->stdin_len) {
		ssize_t w = write(r->stdin_wr, r->stdin_buf, r->stdin_len);
		if (w > 0) {
			memmove(r->stdin_buf, r->stdin_buf + w, r->stdin_len - (size_t)w);
			r->stdin_len -= (size_t)w;
		} else if (w < 0 && errno == EPIPE) {
			r->stdin_len = 0; /* the command stopped reading */
			r->stdin_eof = true;
		}
	}
	if (!r->stdin_len && r->stdin_eof) {
		close(r->stdin_wr);
		r->stdin_wr = -1;
	}
}

static void on_drain_timer(struct run *r)
{
	struct guest *g = r->g;
	uint64_t ticks;

	if (read(r->tfd_drain, &ticks, sizeof(ticks)) < 0)
		return;
	if (!r->killed_leftovers) {
		/* Linger over, a background process still holds a pipe (e.g. `cmd &`). */
		r->killed_leftovers = true;
		kill_everything(r);
		g->excx.flags |= PROTO_EXCX_LEFTOVERS;
		guest_ierr(g, PROTO_IERR_LEFTOVER_PROCS, PROTO_SEV_INFO, 0,
			   "killed processes still running after the command exited");
		arm(r->tfd_drain, POSTKILL_MS * g->scale);
		return;
	}
	/* Something in uninterruptible sleep keeps a pipe open: give up on the rest. */
	close_pipe(r, P_OUT);
	close_pipe(r, P_ERR);
	r->drain_timed_out = true;
	g->excx.flags |= PROTO_EXCX_DRAIN_TO;
	guest_ierr(g, PROTO_IERR_DRAIN_TIMEOUT, PROTO_SEV_WARNING, 0,
		   "output pipes still open %u ms after killing leftovers", POSTKILL_MS * g->scale);
}

static void on_grace_timer(struct run *r)
{
	uint64_t ticks;

	if (read(r->tfd_grace, &ticks, sizeof(ticks)) < 0)
		return;
	r->grace_armed = false;
	if (!r->reaped)
		kill_group(r, SIGKILL);
}

static void poll_loop(struct run *r)
{
	struct guest *g = r->g;

	while (!(r->reaped && r->pipe_rd[P_OUT] < 0 && r->pipe_rd[P_ERR] < 0)) {
		struct pollfd pfd[7];
		int idx[7], n = 0;
		enum { F_PORT, F_OUT, F_ERR, F_SIG, F_DRAIN, F_GRACE, F_STDIN };

#define ADD(fd_, ev_, id_)                                              \
	do {                                                            \
		pfd[n] = (struct pollfd){.fd = (fd_), .events = (ev_)}; \
		idx[n++] = (id_);                                       \
	} while (0)
		if (g->port_ready && !g->serial_mode && !g->rx_stopped)
			ADD(g->port_fd, POLLIN, F_PORT);
		if (r->pipe_rd[P_OUT] >= 0)
			ADD(r->pipe_rd[P_OUT], POLLIN, F_OUT);
		if (r->pipe_rd[P_ERR] >= 0)
			ADD(r->pipe_rd[P_ERR], POLLIN, F_ERR);
		ADD(r->sigfd, POLLIN, F_SIG);
		ADD(r->tfd_drain, POLLIN, F_DRAIN);
		ADD(r->tfd_grace, POLLIN, F_GRACE);
		if (r->stdin_wr >= 0 && (r->stdin_len || r->stdin_eof))
			ADD(r->stdin_wr, POLLOUT, F_STDIN);
#undef ADD
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			guest_fatal(g, PROTO_IERR_INTERNAL, errno, "poll");
		}
		for (int i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			switch (idx[i]) {
			case F_PORT:
				service_port(r);
				break;
			case F_OUT:
				service_pipe(r, P_OUT);
				break;
			case F_ERR:
				service_pipe(r, P_ERR);
				break;
			case F_SIG:
				reap(r);
				break;
			case F_DRAIN:
				on_drain_timer(r);
				break;
			case F_GRACE:
				on_grace_timer(r);
				break;
			case F_STDIN:
				service_stdin(r);
				break;
			}
		}
	}
}

int guest_run_payload(struct guest *g)
{
	struct run r = {.g = g, .pipe_rd = {-1, -1}, .stdin_wr = -1};
	sigset_t chld;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	r.sigfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	r.tfd_drain = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	r.tfd_grace = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (r.sigfd < 0 || r.tfd_drain < 0 || r.tfd_grace < 0)
		guest_fatal(g, PROTO_IERR_INTERNAL, errno, "signalfd/timerfd");
	if (g->stdin_fwd && !(r.stdin_buf = malloc(GUEST_STDIN_MAX)))
		guest_fatal(g, PROTO_IERR_INTERNAL, ENOMEM, "stdin buffer");

	/* Host frames that arrived before the spawn (a SHUT may cancel it, §3.7.3 step 3). */
	if (g->port_ready && !g->serial_mode) {
		struct pollfd pfd = {.fd = g->port_fd, .events = POLLIN};
		while (!g->rx_stopped && poll(&pfd, 1, 0) == 1)
			service_port(&r);
	}
	if (!g->shut_seen && spawn(g, &r) == 0)
		poll_loop(&r);

	if (g->ran && !r.drain_timed_out)
		kill_everything(&r); /* nothing may write to disks or the console after EXCX */
	if (g->ran)
		guest_life(g, PROTO_PHASE_OUTPUT_DRAINED,
			   r.drain_timed_out ? PROTO_LIFE_TIMED_OUT : 0, "stdout=%llu stderr=%llu",
			   (unsigned long long)g->out_bytes, (unsigned long long)g->err_bytes);
	close(r.sigfd);
	close(r.tfd_drain);
	close(r.tfd_grace);
	if (r.stdin_wr >= 0)
		close(r.stdin_wr);
	free(r.stdin_buf);
	return 0;
}
