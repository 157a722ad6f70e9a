// SPDX-License-Identifier: MIT
/* Finding the bulk port by its name (specs/guest-protocol.md §3.4). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guest/guest.h"

/* The vport entry whose sysfs name is exactly `name`; false while none is (yet). */
static bool find_entry(const struct guest *g, const char *name, char *entry, size_t len)
{
	char dir[512], path[1024], val[128];
	struct dirent *d;
	bool found = false;
	DIR *dp = opendir(guest_path(g, "/sys/class/virtio-ports", dir, sizeof(dir)));

	if (!dp)
		return false;
	while (!found && (d = readdir(dp))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/name", dir, d->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		/* Empty or "(null)" until PORT_NAME arrives: no match, keep polling. */
		if (fgets(val, sizeof(val), f)) {
			val[strcspn(val, "\n")] = '\0';
			if (!strcmp(val, name)) {
				snprintf(entry, len, "%s", d->d_name);
				found = true;
			}
		}
		fclose(f);
	}
	closedir(dp);
	return found;
}

int guest_open_port(struct guest *g, const char *name, const char **reason)
{
	char path[512], entry[256];
	uint64_t deadline = guest_now_ns() + 10ull * 1000000000ull * g->scale;
	struct timespec tick = {0, 10 * 1000 * 1000};
	struct pollfd pfd;
	int fd;

	if (access(guest_path(g, "/sys/module/virtio_console", path, sizeof(path)), F_OK) &&
	    access(guest_path(g, "/sys/class/virtio-ports", path, sizeof(path)), F_OK)) {
		*reason = "no-driver";
		return -1;
	}
	for (;;) {
		if (find_entry(g, name, entry, sizeof(entry))) {
			snprintf(path, sizeof(path), "%s/dev/%s", g->root, entry);
			if (access(path, F_OK) == 0)
				break;
		}
		if (guest_now_ns() >= deadline) {
			*reason = "no-port";
			return -1;
		}
		nanosleep(&tick, NULL);
	}
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		*reason = "open-failed";
		return -1;
	}
	/* Writable once the host side has opened the port. */
	pfd = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&pfd, 1, 5000 * (int)g->scale) != 1 || !(pfd.revents & POLLOUT)) {
		close(fd);
		*reason = "not-writable";
		return -1;
	}
	snprintf(g->port_dev, sizeof(g->port_dev), "/dev/%s", entry);
	return fd;
}
