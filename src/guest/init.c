// SPDX-License-Identifier: MIT
/*
 * PID 1: the order of specs/guest-protocol.md §3.1, the fatal path and the
 * crash handler of §3.10, and power-off (§3.8).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include "guest/guest.h"

static struct guest *crash_g; /* for the signal handler, which gets no argument */

static int sys_mount(const char *src, const char *target, const char *type, unsigned long flags,
		     const void *data)
{
	return mount(src, target, type, flags, data);
}

static int sys_finit_module(int fd, const char *params, int flags)
{
	return (int)syscall(SYS_finit_module, fd, params, flags);
}

static void sys_poweroff(void *opaque)
{
	(void)opaque;
	reboot(RB_POWER_OFF);
	/* Still here: no power-off handler. A reset ends the VM too (§3.8 step 4). */
	reboot(RB_AUTOBOOT);
	for (;;)
		pause();
}

void guest_defaults(struct guest *g)
{
	memset(g, 0, sizeof(*g));
	g->root = "";
	g->scale = 1;
	g->kmsg_fd = g->com2_fd = g->port_fd = -1;
	g->sys = (struct guest_sys){.mount = sys_mount,
				    .finit_module = sys_finit_module,
				    .kill = kill,
				    .poweroff = sys_poweroff};
	struct proto_reader_cfg rx = {
		.max_payload = PROTO_GUEST_RX_MAX, .resync = false, .dir = PROTO_H2G};
	proto_reader_init(&g->rx, &rx);
}

void guest_poweroff(struct guest *g)
{
	sync();
	if (g->com2_fd >= 0)
		tcdrain(g->com2_fd);
	g->sys.poweroff(g->sys.opaque);
}

_Noreturn void guest_fatal(struct guest *g, uint16_t code, int err, const char *fmt, ...)
{
	static char msg[GUEST_DETAIL_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (g->fatal_sent) /* a failure while reporting a failure: stop here */
		goto off;
	g->fatal_sent = true;
	guest_kmsg(g, 2, "fatal: %s%s%s", msg, err ? ": " : "", err ? strerror(err) : "");
	/* Fatal errors always reach COM2: it cannot block and survives a broken port. */
	guest_com2(g, NULL, 0, "KTSTR_INIT_ERROR code=%u sev=fatal errno=%d msg=%s", code, err,
		   msg);
	if (g->pid > 0) {
		g->sys.kill(-g->pid, SIGKILL);
		if (g->is_pid1)
			g->sys.kill(-1, SIGKILL);
	}
	if (g->port_ready && !g->port_dead && !g->serial_mode) {
		uint8_t p[PROTO_IERR_SIZE + GUEST_DETAIL_MAX];
		struct proto_ierr m = {.code = code, .severity = PROTO_SEV_FATAL, .err = err};
		size_t tl = strnlen(msg, GUEST_DETAIL_MAX);
		proto_ierr_encode(p, &m);
		memcpy(p + PROTO_IERR_SIZE, msg, tl);
		guest_send(g, PROTO_IERR, p, PROTO_IERR_SIZE + tl);
		guest_send_dmesg(g, false);
		guest_send_done(g, -1, PROTO_DONE_FATAL);
	} else {
		bool serial = g->serial_mode;
		g->serial_mode = true; /* DMESG and DONE as COM2 records */
		guest_send_dmesg(g, false);
		guest_send_done(g, -1, PROTO_DONE_FATAL);
		g->serial_mode = serial;
	}
off:
	guest_poweroff(g);
	/* Only a test's power-off stub returns; a real PID 1 never gets here. */
	_exit(100);
}

/* ---- crash handler: async-signal-safe calls only ---- */

static char *fmt_u(char *p, unsigned long v, int base)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = "0123456789abcdef"[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *fmt_s(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static void crash_handler(int sig, siginfo_t *si, void *uc)
{
	static volatile sig_atomic_t in_crash;
	struct guest *g = crash_g;
	char rec[256], *p = rec;

	(void)uc;
	if (in_crash || !g)
		reboot(RB_AUTOBOOT);
	in_crash = 1;
	*p++ = 0x1E;
	p = fmt_s(p, "PANIC: ktstr-init: signal ");
	p = fmt_u(p, (unsigned long)sig, 10);
	p = fmt_s(p, " code ");
	p = fmt_u(p, (unsigned long)(unsigned)si->si_code, 10);
	p = fmt_s(p, " addr 0x");
	p = fmt_u(p, (unsigned long)si->si_addr, 16);
	p = fmt_s(p, " phase ");
	p = fmt_u(p, g->last_phase, 10);
	*p++ = '\n';
	if (write(g->com2_fd >= 0 ? g->com2_fd : 2, rec, (size_t)(p - rec)) < 0) {
		/* nothing left to tell */
	}
	if (g->port_ready && !g->port_dead) {
		uint8_t frame[PROTO_HDR_SIZE + 256];
		size_t n = proto_encode(frame, sizeof(frame), PROTO_CRSH, rec + 1,
					(uint32_t)(p - rec - 2));
		fcntl(g->port_fd, F_SETFL, O_NONBLOCK);
		if (write(g->port_fd, frame, n) < 0) {
			/* the port may be what broke */
		}
	}
	if (g->pid > 0)
		kill(-g->pid, SIGKILL);
	g->sys.poweroff(g->sys.opaque);
	_exit(101);
}

static void install_crash_handler(struct guest *g)
{
	static char altstack[64 * 1024];
	static const int sigs[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGSYS};
	stack_t ss = {.ss_sp = altstack, .ss_size = sizeof(altstack)};
	struct sigaction sa = {.sa_sigaction = crash_handler, .sa_flags = SA_SIGINFO | SA_ONSTACK};

	crash_g = g;
	sigaltstack(&ss, NULL);
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

/* ---- the order of §3.1 ---- */

static void open_com2(struct guest *g)
{
	char path[512];
	struct termios t;

	g->com2_fd = open(guest_path(g, "/dev/ttyS1", path, sizeof(path)),
			  O_WRONLY | O_NOCTTY | O_CLOEXEC);
	if (g->com2_fd < 0) {
		guest_kmsg(g, 4, "no COM2 (/dev/ttyS1): %s", strerror(errno));
		return;
	}
	/* Raw output: record bodies are binary and must pass unchanged. */
	if (tcgetattr(g->com2_fd, &t) == 0) {
		t.c_oflag &= ~(tcflag_t)OPOST;
		t.c_cflag |= CLOCAL;
		tcsetattr(g->com2_fd, TCSANOW, &t);
	}
}

static void read_cmdline(struct guest *g)
{
	char path[512], buf[4096];
	int fd = open(guest_path(g, "/proc/cmdline", path, sizeof(path)), O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		guest_parse_cmdline(g, buf);
	}
}

static void send_helo(struct guest *g)
{
	uint8_t p[PROTO_HELO_SIZE + 256];
	struct proto_helo h = {.major = PROTO_VERSION_MAJOR,
			       .minor = PROTO_VERSION_MINOR,
			       .flags = (g->merged ? PROTO_HELO_STDIO_MERGED : 0) |
					(g->stdin_fwd ? PROTO_HELO_STDIN_FORWARDED : 0),
			       .rx_max = PROTO_GUEST_RX_MAX};
	char release[128] = "unknown";
	char path[512];
	FILE *f = fopen(guest_path(g, "/proc/sys/kernel/osrelease", path, sizeof(path)), "re");

	if (f) {
		if (fgets(release, sizeof(release), f))
			release[strcspn(release, "\n")] = '\0';
		fclose(f);
	}
	proto_helo_encode(p, &h);
	int n = snprintf((char *)p + PROTO_HELO_SIZE, sizeof(p) - PROTO_HELO_SIZE,
			 "ktstr=%s\nkernel=%s\nmode=exec\nscale=%u\n", KTSTR_VERSION, release,
			 g->scale);
	guest_send(g, PROTO_HELO, p, PROTO_HELO_SIZE + (size_t)n);
}

/* Steps 7-19: shared by the real init and the tests, which stub power-off. */
static void guest_main(struct guest *g)
{
	const char *reason = "forced";
	uint32_t flags = 0;

	guest_load_modules(g);
	/* A test hands in a socketpair end as the port. */
	if (g->port_fd < 0 && !g->force_serial)
		g->port_fd = guest_open_port(g, GUEST_BULK_NAME, &reason);
	if (g->port_fd >= 0) {
		g->port_ready = true;
		send_helo(g);
		guest_com2(g, NULL, 0, "KTSTR_PROTO=virtio port=%s", g->port_dev);
		guest_replay_flush(g);
		guest_life(g, PROTO_PHASE_PORT_READY, 0, "%s", g->port_dev);
	} else {
		g->serial_mode = true;
		g->fallback_reason = reason;
		guest_com2(g, NULL, 0, "KTSTR_PROTO=serial reason=%s", reason);
		guest_replay_flush(g);
	}
	guest_run_payload(g);
	if (g->excx_valid)
		guest_send_excx(g);
	bool killed = g->excx_valid && g->excx.how == PROTO_HOW_SIGNALED;
	if (g->shut_seen || g->dmesg == GUEST_DMESG_ALL || g->dmesg == GUEST_DMESG_TAIL ||
	    (g->dmesg == GUEST_DMESG_AUTO && (killed || g->error_reported)))
		guest_send_dmesg(g, g->dmesg == GUEST_DMESG_ALL);
	if (g->ran)
		flags |= PROTO_DONE_RAN;
	if (g->shut_seen)
		flags |= PROTO_DONE_SHUT;
	guest_send_done(g, g->ran && g->excx_valid ? g->excx.code : -1, flags);
}

void guest_run(struct guest *g)
{
	guest_main(g);
}

_Noreturn void guest_init(void)
{
	static struct guest g;
	char path[512];
	sigset_t block;

	guest_defaults(&g);
	g.is_pid1 = true;
	bool placeholder[3] = {false, false, false};

	/* Keep 0-2 occupied so nothing opened later lands there (§3.1 step 2). */
	for (int fd = 0; fd < 3; fd++)
		if (fcntl(fd, F_GETFD) < 0)
			placeholder[fd] = open("/", O_RDONLY) == fd;
	umask(022);
	if (chdir("/") < 0) {
		/* "/" always exists */
	}
	g.t0_ns = guest_now_ns();
	guest_life(&g, PROTO_PHASE_INIT_STARTED, 0, NULL);
	install_crash_handler(&g);
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGQUIT);
	sigprocmask(SIG_BLOCK, &block, NULL);

	guest_mount_all(&g);
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	for (int fd = 0; fd < 3 && null_fd >= 0; fd++)
		if (placeholder[fd])
			dup2(null_fd, fd);
	guest_life(&g, PROTO_PHASE_MOUNTS_DONE, 0, NULL);

	g.kmsg_fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
	open_com2(&g);
	guest_com2(&g, NULL, 0, "KTSTR_INIT_STARTED t=%llu", (unsigned long long)g.t0_ns);

	if (access(guest_path(&g, "/ktstr/.complete", path, sizeof(path)), F_OK))
		guest_fatal(&g, PROTO_IERR_INITRAMFS_INCOMPLETE, ENOENT,
			    "/ktstr/.complete missing: the initramfs was not fully unpacked");
	read_cmdline(&g);
	guest_load_exec_config(&g);
	guest_main(&g);
	guest_poweroff(&g);
	for (;;)
		pause();
}
