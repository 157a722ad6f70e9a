/* SPDX-License-Identifier: MIT */
/*
 * The initramfs of `ktstr vm --exec`, built in memory to the contract of
 * guest-protocol.md §3.0:
 *
 *   /dev/console            char 5:1, 0600 (the kernel opens it for PID 1)
 *   /init                   the ktstr binary without its debug sections
 *                           (elfstrip.h), plus the shared libraries of
 *                           every packed ELF at the paths the loader searches
 *   /bin/busybox, /bin/sh   when a busybox is given (sh -> busybox)
 *   /include/<name>         each --include file, host permission bits kept
 *   /ktstr/modules/NNN-<name>.ko[.xz|.zst|.gz]   modules, load order
 *   /ktstr/exec.argv        NUL-terminated strings (at least one)
 *   /ktstr/exec.env         NUL-terminated KEY=VALUE strings (only if any)
 *   /ktstr/exec.cwd         the working directory, bare path without NUL
 *                           or newline (only if given)
 *   /ktstr/.complete        empty, the last entry of the archive
 *
 * A library that is the same file as one already packed (the interpreter
 * under its requested and canonical paths, a soname and its target) is a
 * relative symlink to the first copy.
 */
#ifndef KTSTR_INITRAMFS_INITRAMFS_H
#define KTSTR_INITRAMFS_INITRAMFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "initramfs/ierr.h"
#include "initramfs/kmod.h"

/* The paths of the contract, for the builder and the guest init alike. */
#define INITRAMFS_INIT	      "/init"
#define INITRAMFS_CONSOLE     "/dev/console"
#define INITRAMFS_BUSYBOX     "/bin/busybox"
#define INITRAMFS_SH	      "/bin/sh"
#define INITRAMFS_INCLUDE_DIR "/include"
#define INITRAMFS_MODULE_DIR  KMOD_PACK_DIR
#define INITRAMFS_ARGV	      "/ktstr/exec.argv"
#define INITRAMFS_ENV	      "/ktstr/exec.env"
#define INITRAMFS_CWD	      "/ktstr/exec.cwd"
#define INITRAMFS_COMPLETE    "/ktstr/.complete"

#define INITRAMFS_ARGV_MAX (1u << 20) /* guest init refuses more (guest-protocol.md §3.1 step 6) */

struct initramfs_opts {
	const char *init_path;	  /* packed as /init; NULL = /proc/self/exe */
	const char *busybox_path; /* NULL = no shell */
	const char *const *includes;
	size_t n_includes;
	const char *const *modules; /* module names; none = no /ktstr/modules */
	size_t n_modules;
	struct kmod_opts kmod;
	const char *const *argv; /* the command, argc >= 1, argv[0] not empty */
	size_t argc;
	const char *const *env; /* KEY=VALUE */
	size_t n_env;
	const char *cwd;	     /* NULL = not written (guest default /) */
	const char *ld_library_path; /* library search as on the host; NULL = none */
	const char *ld_so_cache;     /* NULL = /etc/ld.so.cache */
	bool keep_debug;	     /* pack /init with its DWARF sections (default: dropped) */
	bool lz4;		     /* compress in the legacy LZ4 format */
	int lz4_level;		     /* 0 = LZ4 fast (about 6x faster to build), 1..12 = LZ4HC */
};

struct initramfs {
	uint8_t *data; /* the archive as the guest gets it (compressed if lz4) */
	size_t len;
	size_t cpio_len; /* size before compression */
	size_t n_libs;	 /* shared-library entries (files and symlinks) */
	size_t n_modules;
	size_t n_builtin;    /* requested modules skipped because built in */
	bool no_module_tree; /* kmod.missing_tree_ok and no tree: nothing packed */
};

/*
 * Build the archive. Errors come with a message naming the file at fault:
 * a missing --include or binary (-ENOENT), a directory given as a file
 * (-EISDIR), two includes with the same name (-EEXIST), a library that cannot
 * be found (-ENOENT, naming it and who needs it), an unknown module, an
 * empty or oversized argv or a malformed env entry (-EINVAL, -E2BIG).
 */
int initramfs_build(const struct initramfs_opts *o, struct initramfs *out, struct ierr *err);
void initramfs_free(struct initramfs *r);

/*
 * Relative target for a symlink at link_path pointing to target (both
 * absolute): "/lib64/ld.so" -> "/usr/lib/ld.so" gives "../usr/lib/ld.so".
 * Relative, so that the tree also reads right when extracted elsewhere.
 */
int initramfs_rel_link(const char *link_path, const char *target, char *buf, size_t len);

#endif
