// SPDX-License-Identifier: MIT
/* The mount table of specs/guest-protocol.md §3.2, as data, and its application. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "guest/guest.h"

#define NSNDX (MS_NOSUID | MS_NODEV | MS_NOEXEC)

const struct guest_mount guest_mounts[] = {
	{"/proc", "proc", "proc", NSNDX, NULL, true},
	{"/sys", "sysfs", "sysfs", NSNDX, NULL, true},
	{"/dev", "devtmpfs", "devtmpfs", MS_NOSUID, "mode=0755", true},
	{"/tmp", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", true},
	{"/dev/pts", "devpts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
	{"/dev/shm", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
	{"/run", "tmpfs", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", false},
	{"/sys/fs/cgroup", "cgroup2", "cgroup2", NSNDX, NULL, false},
	{"/sys/kernel/debug", "debugfs", "debugfs", NSNDX, NULL, false},
	{"/sys/kernel/tracing", "tracefs", "tracefs", NSNDX, NULL, false},
	{"/sys/fs/bpf", "bpf", "bpf", NSNDX, "mode=0700", false},
};
const size_t guest_nmounts = sizeof(guest_mounts) / sizeof(guest_mounts[0]);

const char *guest_path(const struct guest *g, const char *path, char *buf, size_t len)
{
	snprintf(buf, len, "%s%s", g->root, path);
	return buf;
}

static void mkdir_p(const char *path)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(tmp, 0755);
			*p = '/';
		}
	}
	mkdir(tmp, 0755);
}

int guest_mount_all(struct guest *g)
{
	char target[512], link[512];

	for (size_t i = 0; i < guest_nmounts; i++) {
		const struct guest_mount *m = &guest_mounts[i];

		guest_path(g, m->target, target, sizeof(target));
		mkdir_p(target);
		if (g->sys.mount(m->source, target, m->type, m->flags, m->data) == 0)
			continue;
		int err = errno;
		if (m->required)
			guest_fatal(g, PROTO_IERR_MOUNT, err, "mount %s on %s", m->type, m->target);
		/* A file system the kernel lacks is expected on minimal kernels: info only. */
		guest_ierr(g, PROTO_IERR_MOUNT, err == ENODEV ? PROTO_SEV_INFO : PROTO_SEV_WARNING,
			   err, "mount %s on %s", m->type, m->target);
		if (!strcmp(m->target, "/dev/pts"))
			symlink("pts/ptmx", guest_path(g, "/dev/ptmx", link, sizeof(link)));
	}
	static const char *const fdlinks[][2] = {
		{"/proc/self/fd", "/dev/fd"},
		{"/proc/self/fd/0", "/dev/stdin"},
		{"/proc/self/fd/1", "/dev/stdout"},
		{"/proc/self/fd/2", "/dev/stderr"},
	};
	for (size_t i = 0; i < sizeof(fdlinks) / sizeof(fdlinks[0]); i++)
		symlink(fdlinks[i][0], guest_path(g, fdlinks[i][1], link, sizeof(link)));
	mkdir(guest_path(g, "/root", link, sizeof(link)), 0700);
	return 0;
}
