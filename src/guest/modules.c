// SPDX-License-Identifier: MIT
/* Loading the packed kernel modules (specs/guest-protocol.md §3.3). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest/guest.h"

#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE 4
#endif

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The one compression format the kernel can undo itself, or "" when it cannot. */
static void kernel_compression(const struct guest *g, char *out, size_t len)
{
	char path[512];
	FILE *f = fopen(guest_path(g, "/sys/module/compression", path, sizeof(path)), "re");

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)len, f))
		out[strcspn(out, "\n")] = '\0';
	fclose(f);
}

int guest_module_flags(const struct guest *g, const char *name, int *flags)
{
	static const char *const fmt[][2] = {
		{".ko.xz", "xz"}, {".ko.zst", "zstd"}, {".ko.gz", "gzip"}};
	char have[32];

	*flags = 0;
	if (ends_with(name, ".ko"))
		return 0;
	for (size_t i = 0; i < sizeof(fmt) / sizeof(fmt[0]); i++) {
		if (!ends_with(name, fmt[i][0]))
			continue;
		kernel_compression(g, have, sizeof(have));
		if (strcmp(have, fmt[i][1]))
			return -EOPNOTSUPP;
		*flags = MODULE_INIT_COMPRESSED_FILE;
		return 0;
	}
	return -EINVAL;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int not_dot(const struct dirent *d)
{
	return d->d_name[0] != '.';
}

void guest_load_modules(struct guest *g)
{
	char dir[512], path[1024];
	struct dirent **list;
	int n, flags;

	n = scandir(guest_path(g, "/ktstr/modules", dir, sizeof(dir)), &list, not_dot, by_name);
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			g->mod_failed++;
			guest_ierr(g, PROTO_IERR_MODULE_OPEN, PROTO_SEV_ERROR, errno, "%s", name);
			continue;
		}
		if (guest_module_flags(g, name, &flags)) {
			g->mod_failed++;
			guest_ierr(g, PROTO_IERR_MODULE_COMPRESSION, PROTO_SEV_ERROR, 0,
				   "%s: the kernel cannot decompress this format", name);
			close(fd);
			continue;
		}
		if (g->sys.finit_module(fd, "", flags) == 0) {
			g->mod_loaded++;
		} else if (errno == EEXIST) {
			g->mod_present++;
		} else {
			int err = errno;
			g->mod_failed++;
			if (flags && (err == EINVAL || err == EOPNOTSUPP))
				guest_ierr(g, PROTO_IERR_MODULE_COMPRESSION, PROTO_SEV_ERROR, err,
					   "%s", name);
			else
				guest_ierr(g, PROTO_IERR_MODULE_LOAD, PROTO_SEV_ERROR, err, "%s",
					   name);
		}
		close(fd);
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	if (n >= 0)
		free(list);
	guest_life(g, PROTO_PHASE_MODULES_LOADED, 0, "loaded=%u present=%u failed=%u",
		   g->mod_loaded, g->mod_present, g->mod_failed);
}
