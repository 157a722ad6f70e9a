/* SPDX-License-Identifier: MIT */
/*
 * Kernel modules for the guest: given a kernel's module tree and the names
 * of the modules wanted (the virtio drivers when the guest kernel has them
 * as modules), find their dependency closure and the files, and prepare them
 * as /ktstr/modules/NNN-<name>.ko[.xz|.zst|.gz] where lexical order is
 * load order (guest-protocol.md §3.0, §3.3).
 *
 * Dependencies come from modules.dep when depmod has run; an unpacked
 * Debian package has no modules.dep (depmod runs at install time), so then
 * each module's own ".modinfo" "depends=" list is read instead. Names are
 * compared the way modprobe does: '-' and '_' are the same.
 *
 * A compressed module is shipped as is only if the guest kernel's config has
 * CONFIG_MODULE_DECOMPRESS=y with the matching CONFIG_MODULE_COMPRESS_*;
 * otherwise it is decompressed here, so finit_module() never sees a format
 * the kernel cannot read. Without a config file every module is shipped
 * uncompressed (always loadable).
 */
#ifndef KTSTR_INITRAMFS_KMOD_H
#define KTSTR_INITRAMFS_KMOD_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "initramfs/decomp.h"
#include "initramfs/ierr.h"

#define KMOD_PACK_DIR	 "/ktstr/modules"
#define KMOD_MAX_MODULES 999u /* NNN has three digits */
#define KMOD_RELEASE_MAX 256u

struct kmod_opts {
	/*
	 * NULL: /lib/modules/<release>. Otherwise either a release directory
	 * (holds modules.dep, modules.order, modules.builtin or kernel/) or a root
	 * holding lib/modules/<release> or usr/lib/modules/<release> (an unpacked
	 * package); with one release only, the release may be omitted.
	 */
	const char *modules_dir;
	const char *release; /* kernel release, e.g. from kmod_kernel_release_from_bzimage() */
	/*
	 * Kernel config. NULL: <release dir>/config-<release>, <release dir>/config,
	 * <root>/boot/config-<release>, /boot/config-<release>; none found = no
	 * in-kernel decompression assumed.
	 */
	const char *config;
	/*
	 * A kernel built with its drivers in (a custom build) may have no module
	 * tree at all: with this set, a missing tree gives an empty set with
	 * no_tree set instead of an error, and the caller says so.
	 */
	bool missing_tree_ok;
};

struct kmod_module {
	char *name;	 /* normalised module name (underscores) */
	char *host_path; /* the file in the module tree */
	char *pack_path; /* /ktstr/modules/NNN-<name>.ko[suffix] */
	uint8_t *data;	 /* bytes to pack */
	size_t len;
};

struct kmod_set {
	struct kmod_module *v; /* load order: dependencies first */
	size_t n;
	size_t n_builtin;	   /* requested or needed names skipped because built in */
	enum decomp_fmt guest_fmt; /* format the guest kernel decompresses, DECOMP_NONE if none */
	char release[KMOD_RELEASE_MAX];
	char release_dir[PATH_MAX];
	char config_path[PATH_MAX]; /* "" when no config was found */
	bool no_tree;		    /* missing_tree_ok and there was no module tree */
};

/*
 * The drivers a guest needs for our devices (vmm-x86.md §1.13, E2E.md):
 * virtio, virtio_ring, failover and net_failover come in as dependencies
 * where they are modules; built-in ones are skipped.
 */
extern const char *const kmod_virtio_modules[];
extern const size_t kmod_n_virtio_modules;

/*
 * Resolve names[0..n). Errors (message names the module, file or
 * directory): -ENOENT unknown module, missing dependency, missing tree or
 * config; -EINVAL no release given where one is needed, several releases;
 * -ELOOP a dependency cycle; -E2BIG more than KMOD_MAX_MODULES; -EBADMSG a
 * corrupt compressed module; -ENOMEM.
 */
int kmod_resolve(struct kmod_set *out, const struct kmod_opts *o, const char *const *names,
		 size_t n, struct ierr *err);
void kmod_set_free(struct kmod_set *s);

/*
 * Kernel release of a bzImage (x86 boot protocol: "HdrS" at 0x202, u16
 * kernel_version at 0x20E pointing to a string at 0x200 + value); the
 * release is its first word. 0, -EINVAL not a bzImage or no version string,
 * -ENAMETOOLONG, or -errno from reading.
 */
int kmod_kernel_release_from_bzimage(const char *path, char *buf, size_t len);

/* Normalise a module name or file name: basename, no ".ko[.xz|.zst|.gz]", '-' -> '_'. */
int kmod_name_normalize(const char *in, char *out, size_t len);

#endif
