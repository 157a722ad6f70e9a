// SPDX-License-Identifier: MIT
#include "unit/guest_fixture.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/reader.h"

static void on_frame(void *opaque, const struct proto_event *ev)
{
	struct guest_fixture *f = opaque;

	if (ev->kind != PROTO_EV_FRAME) {
		f->bad_events++;
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (ev->tag == PROTO_SOUT || ev->tag == PROTO_SERR) {
		uint8_t **dst = ev->tag == PROTO_SOUT ? &f->out : &f->err;
		size_t *len = ev->tag == PROTO_SOUT ? &f->out_len : &f->err_len;
		*dst = realloc(*dst, *len + ev->len);
		memcpy(*dst + *len, ev->payload, ev->len);
		*len += ev->len;
	}
	if (f->nframes < GF_MAX_FRAMES) {
		struct gf_frame *fr = &f->frames[f->nframes++];
		fr->tag = ev->tag;
		fr->len = ev->len;
		/* Output payloads are kept in out/err only, to bound memory in volume tests. */
		fr->payload = (ev->tag == PROTO_SOUT || ev->tag == PROTO_SERR)
				      ? NULL
				      : malloc(ev->len + 1);
		if (fr->payload)
			memcpy(fr->payload, ev->payload, ev->len);
	}
	pthread_mutex_unlock(&f->lock);
}

static void *host_main(void *arg)
{
	struct guest_fixture *f = arg;
	struct proto_reader_cfg cfg = {
		.max_payload = PROTO_MAX_PAYLOAD, .resync = true, .dir = PROTO_G2H};
	struct proto_reader r;
	static __thread uint8_t buf[65536];
	ssize_t n;

	proto_reader_init(&r, &cfg);
	while ((n = read(f->host_fd, buf, sizeof(buf))) > 0) {
		proto_reader_feed(&r, buf, (size_t)n, on_frame, f);
		pthread_mutex_lock(&f->lock);
		bool done = f->nframes && f->frames[f->nframes - 1].tag == PROTO_DONE;
		pthread_mutex_unlock(&f->lock);
		if (done)
			break;
	}
	f->reader_frames = r.stats.frames;
	f->reader_bytes = r.stats.bytes;
	proto_reader_destroy(&r);
	return NULL;
}

static void stub_poweroff(void *opaque)
{
	struct guest_fixture *f = opaque;
	f->poweroffs++;
}

static int stub_mount(const char *src, const char *target, const char *type, unsigned long flags,
		      const void *data)
{
	(void)src;
	(void)target;
	(void)type;
	(void)flags;
	(void)data;
	return 0;
}

static int stub_finit(int fd, const char *params, int flags)
{
	(void)fd;
	(void)params;
	(void)flags;
	errno = ENOSYS;
	return -1;
}

void gf_write_file(struct guest_fixture *f, const char *path, const void *data, size_t len)
{
	char full[512], dir[512];

	snprintf(full, sizeof(full), "%s%s", f->root, path);
	snprintf(dir, sizeof(dir), "%s", full);
	for (char *p = dir + strlen(f->root) + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0755);
			*p = '/';
		}
	}
	int fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	cr_assert_geq(fd, 0, "open %s", full);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

void gf_set_argv(struct guest_fixture *f, const char *const *argv)
{
	char buf[8192];
	size_t n = 0;

	for (; *argv; argv++) {
		size_t l = strlen(*argv) + 1;
		memcpy(buf + n, *argv, l);
		n += l;
	}
	gf_write_file(f, "/ktstr/exec.argv", buf, n);
}

void gf_setup(struct guest_fixture *f, bool port)
{
	int sv[2], cp[2];

	memset(f, 0, sizeof(*f));
	snprintf(f->root, sizeof(f->root), "/tmp/ktstr-guest-XXXXXX");
	cr_assert_not_null(mkdtemp(f->root));
	pthread_mutex_init(&f->lock, NULL);
	guest_defaults(&f->g);
	f->g.root = f->root;
	f->g.sys.mount = stub_mount;
	f->g.sys.finit_module = stub_finit;
	f->g.sys.poweroff = stub_poweroff;
	f->g.sys.opaque = f;
	cr_assert_eq(pipe2(cp, O_CLOEXEC), 0);
	fcntl(cp[0], F_SETFL, O_NONBLOCK);
	fcntl(cp[0], F_SETPIPE_SZ, 1024 * 1024);
	f->com2_rd = cp[0];
	f->g.com2_fd = cp[1];
	f->host_fd = -1;
	/*
	 * SIGCHLD must be blocked in every thread before any exists, or the
	 * kernel hands it to the host thread and the guest's signalfd never fires.
	 */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, NULL);
	if (port) {
		cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
		f->host_fd = sv[0];
		f->g.port_fd = sv[1];
		snprintf(f->g.port_dev, sizeof(f->g.port_dev), "/dev/vport0p1");
		pthread_create(&f->host_thread, NULL, host_main, f);
	} else {
		f->g.force_serial = true;
	}
}

void gf_send(struct guest_fixture *f, uint32_t tag, const void *p, size_t n)
{
	uint8_t buf[PROTO_HDR_SIZE + 4096];
	size_t len = proto_encode(buf, sizeof(buf), tag, p, (uint32_t)n);

	cr_assert_eq(write(f->host_fd, buf, len), (ssize_t)len);
}

void gf_run(struct guest_fixture *f)
{
	guest_load_exec_config(&f->g);
	guest_run(&f->g);
	if (f->host_fd >= 0)
		pthread_join(f->host_thread, NULL);
}

size_t gf_com2(struct guest_fixture *f, uint8_t *buf, size_t cap)
{
	size_t n = 0;
	ssize_t r;

	while (n < cap && (r = read(f->com2_rd, buf + n, cap - n)) > 0)
		n += (size_t)r;
	return n;
}

int gf_index(struct guest_fixture *f, uint32_t tag, unsigned nth)
{
	for (unsigned i = 0; i < f->nframes; i++)
		if (f->frames[i].tag == tag && nth-- == 0)
			return (int)i;
	return -1;
}

const struct gf_frame *gf_find(struct guest_fixture *f, uint32_t tag, unsigned nth)
{
	int i = gf_index(f, tag, nth);
	return i < 0 ? NULL : &f->frames[i];
}

unsigned gf_count(struct guest_fixture *f, uint32_t tag)
{
	unsigned n = 0;
	for (unsigned i = 0; i < f->nframes; i++)
		n += f->frames[i].tag == tag;
	return n;
}

void gf_teardown(struct guest_fixture *f)
{
	char cmd[300];

	for (unsigned i = 0; i < f->nframes; i++)
		free(f->frames[i].payload);
	free(f->out);
	free(f->err);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", f->root);
}
