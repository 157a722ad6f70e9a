// SPDX-License-Identifier: MIT
/*
 * `ktstr vm --exec` end to end: initramfs, devices, VM, guest link, verdict.
 *
 * Order matters in two places: SIGINT/SIGTERM/SIGHUP are blocked before any
 * thread exists so only the link's signalfd sees them (§4.5.4), and the
 * devices are destroyed only after vm_run() has joined every vCPU thread.
 */
#include "cli/vm_exec.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"
#include "cli/cmd_vm.h"
#include "initramfs/initramfs.h"
#include "link/link.h"
#include "link/run.h"
#include "virtio/blk.h"
#include "virtio/console.h"
#include "virtio/net.h"
#include "vmm/vm.h"

struct exec_ctx {
	const struct vm_exec_opts *o;
	struct vm *vm;
	struct vc_dev *con;
	struct vblk *disks[VM_EXEC_MAX_DISKS];
	unsigned ndisks;
	struct vnet *net;
	int initrd_fd;
	int com1[2], com2[2];
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A bad user input before boot: one line naming the input and the fix. With
 * --exec, 2 could just as well be the command's own status, so the input error
 * takes the host-failure code that §4.6 rule 1 reserves for anything that goes
 * wrong on our side before DONE. `ktstr shell` reuses this path but documents
 * no such table, so it keeps the usage code its own option errors give.
 */
static int input_error(const struct vm_exec_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int input_error(const struct vm_exec_opts *o, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ktstr: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return o->shell ? EXIT_USAGE : RUN_EXIT_HOST;
}

static int host_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int host_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ktstr: FAIL (%d): ", RUN_EXIT_HOST);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return RUN_EXIT_HOST;
}

/* The initramfs goes to the VMM as a file: a memfd, so nothing touches the disk. */
static int build_initrd(struct exec_ctx *c, char *path, size_t pathlen)
{
	const struct vm_exec_opts *o = c->o;
	const char *sh_argv[] = {"/bin/sh", "-c", o->exec, NULL};
	struct initramfs_opts io = {0};
	struct initramfs out = {0};
	struct ierr err = {0};
	char release[KMOD_RELEASE_MAX];
	const char *busybox = o->busybox;
	uint64_t t = mono_ns();
	int r;

	if (!busybox && access("/bin/busybox", X_OK) == 0)
		busybox = "/bin/busybox";
	if (o->exec && !busybox)
		return input_error(o,
				   "--exec runs its command through busybox sh, but /bin/busybox "
				   "was not found: install busybox-static or give --busybox PATH");
	r = kmod_kernel_release_from_bzimage(o->kernel, release, sizeof(release));
	if (r)
		return input_error(o,
				   "cannot read the kernel release from '%s': %s (is it a "
				   "bzImage?)",
				   o->kernel, strerror(-r));
	io.busybox_path = busybox;
	io.includes = o->includes;
	io.n_includes = o->nincludes;
	io.modules = kmod_virtio_modules;
	io.n_modules = kmod_n_virtio_modules;
	io.kmod.modules_dir = o->modules_dir;
	io.kmod.release = release;
	/* A custom kernel with the drivers built in has no module tree: that is fine. */
	io.kmod.missing_tree_ok = !o->modules_dir;
	if (o->exec) {
		io.argv = sh_argv;
		io.argc = 3;
	} else {
		io.argv = (const char *const *)o->exec_argv;
		io.argc = o->exec_argc;
	}
	io.env = o->env;
	io.n_env = o->nenv;
	io.ld_library_path = getenv("LD_LIBRARY_PATH");
	io.lz4 = true;
	r = initramfs_build(&io, &out, &err);
	if (r)
		return input_error(o, "initramfs: %s", err.msg);
	if (out.no_module_tree)
		fprintf(stderr,
			"ktstr: warning: no module tree for kernel %s (/lib/modules/%s): assuming "
			"its virtio drivers are built in; use --modules DIR otherwise\n",
			release, release);
	c->initrd_fd = memfd_create("ktstr-initramfs", MFD_CLOEXEC);
	if (c->initrd_fd < 0 || write(c->initrd_fd, out.data, out.len) != (ssize_t)out.len) {
		initramfs_free(&out);
		return host_error("cannot stage the initramfs: %s", strerror(errno));
	}
	if (o->verbose)
		fprintf(stderr,
			"ktstr: initramfs %zu KiB (%zu KiB uncompressed, %zu libraries, %zu modules) "
			"built in %.1f ms\n",
			out.len >> 10, out.cpio_len >> 10, out.n_libs, out.n_modules,
			(double)(mono_ns() - t) / 1e6);
	initramfs_free(&out);
	snprintf(path, pathlen, "/proc/self/fd/%d", c->initrd_fd);
	return 0;
}

static char *exec_cmdline(const struct vm_exec_opts *o)
{
	const char *base = o->no_default_cmdline ? "" : VM_DEFAULT_CMDLINE;
	const char *extra = o->cmdline_extra ? o->cmdline_extra : "";
	char *s;

	/*
	 * quiet: kernel messages stay on COM1 but only warnings and worse;
	 * rdinit: our /init, whatever the kernel's default.
	 */
	if (asprintf(&s, "%s quiet rdinit=/init KTSTR_MODE=exec KTSTR_SCALE=%u%s%s%s", base,
		     o->scale ? o->scale : 1, o->merge_output ? " KTSTR_STDIO=merged" : "",
		     *extra ? " " : "", extra) < 0)
		return NULL;
	return s;
}

static int add_devices(struct exec_ctx *c)
{
	const struct vm_exec_opts *o = c->o;
	struct vm_error verr;
	char err[512];

	c->con = vc_new(NULL);
	if (!c->con || vm_add_virtio(c->vm, vc_vdev(c->con), NULL, NULL, &verr))
		return host_error("console device: %s", c->con ? verr.msg : "out of memory");
	for (unsigned i = 0; i < o->ndisks; i++) {
		struct vblk_spec spec;
		struct vblk_opts bo;
		vblk_opts_init(&bo);
		if (vblk_parse_spec(o->disks[i], &spec, err, sizeof(err)))
			return input_error(o, "--disk '%s': %s", o->disks[i], err);
		bo.path = spec.path;
		bo.read_only = spec.read_only;
		bo.throttle = spec.throttle;
		if (vblk_create(&bo, &c->disks[i], err, sizeof(err)))
			return input_error(o, "--disk '%s': %s", o->disks[i], err);
		c->ndisks++;
		if (vm_add_virtio(c->vm, vblk_vdev(c->disks[i]), NULL, NULL, &verr))
			return host_error("disk '%s': %s", o->disks[i], verr.msg);
	}
	if (o->net) {
		struct vnet_params np = {.index = 0};
		if (vnet_create(&np, &c->net) ||
		    vm_add_virtio(c->vm, vnet_vdev(c->net), NULL, NULL, &verr))
			return host_error("network device: %s",
					  c->net ? verr.msg : "create failed");
	}
	return 0;
}

static void stop_vm(void *opaque, const char *why)
{
	struct exec_ctx *c = opaque;
	vm_stop(c->vm, why);
}

static void write_stats(const struct exec_ctx *c, const char *path)
{
	json_object *o = json_object_new_object(), *disks = json_object_new_array();
	struct vc_counters cc;

	vc_counters_snapshot(c->con, &cc);
	json_object_object_add(o, "console", vc_counters_to_json(&cc));
	for (unsigned i = 0; i < c->ndisks; i++) {
		struct vblk_stats s;
		struct vblk_counters *ctr = vblk_counters(c->disks[i]);
		vblk_counters_snapshot(ctr, &s);
		vblk_counters_put(ctr);
		char *js = vblk_stats_json(&s);
		json_object_array_add(disks, js ? json_tokener_parse(js) : NULL);
		free(js);
	}
	json_object_object_add(o, "disks", disks);
	if (c->net) {
		struct vnet_snapshot ns;
		vnet_snapshot(c->net, &ns);
		json_object_object_add(o, "net", vnet_snapshot_to_json(&ns));
	}
	if (json_object_to_file_ext(path, o, JSON_C_TO_STRING_PRETTY))
		fprintf(stderr, "ktstr: warning: cannot write --stats '%s': %s\n", path,
			strerror(errno));
	json_object_put(o);
}

static enum run_vm_end vm_end_of(enum vm_outcome out)
{
	switch (out) {
	case VM_POWEROFF:
		return RUN_VM_POWEROFF;
	case VM_REBOOT:
	case VM_PANIC:
		return RUN_VM_RESET;
	case VM_CRASH:
		return RUN_VM_TRIPLE_FAULT;
	default:
		return RUN_VM_STOPPED;
	}
}

static void cleanup(struct exec_ctx *c)
{
	vm_destroy(c->vm);
	for (unsigned i = 0; i < c->ndisks; i++)
		vblk_destroy(c->disks[i]);
	vnet_destroy(c->net);
	if (c->con)
		vc_free(c->con);
	int fds[] = {c->initrd_fd, c->com1[0], c->com1[1], c->com2[0], c->com2[1]};
	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int vm_exec_main(const struct vm_exec_opts *o)
{
	struct exec_ctx c = {.o = o, .initrd_fd = -1, .com1 = {-1, -1}, .com2 = {-1, -1}};
	struct vm_error verr;
	struct vm_result res;
	struct link link;
	struct run run;
	char initrd[64];
	int code;

	code = build_initrd(&c, initrd, sizeof(initrd));
	if (code)
		goto out;
	if (pipe2(c.com1, O_CLOEXEC | O_NONBLOCK) || pipe2(c.com2, O_CLOEXEC | O_NONBLOCK)) {
		code = host_error("pipes: %s", strerror(errno));
		goto out;
	}
	fcntl(c.com1[0], F_SETPIPE_SZ, 1 << 20);
	fcntl(c.com2[0], F_SETPIPE_SZ, 1 << 20);
	char *cmdline = exec_cmdline(o);
	struct vm_config cfg = {
		.kernel_path = o->kernel,
		.initrd_path = initrd,
		.topo = o->topo,
		.ram_bytes = o->memory,
		.cmdline = cmdline,
		.com1_fd = c.com1[1],
		.com2_fd = c.com2[1],
		.t0_ns = o->t0_ns ? o->t0_ns : mono_ns(),
		.handle_signals = false, /* the link owns SIGINT/SIGTERM (§4.5.4) */
	};
	if (!cmdline) {
		code = host_error("out of memory");
		goto out;
	}
	if (o->verbose)
		fprintf(stderr, "ktstr: cmdline: %s\n", cmdline);
	int r = vm_create(&cfg, &c.vm, &verr);
	free(cmdline);
	if (r) {
		code = verr.bad_input ? input_error(o, "%s", verr.msg) : host_error("%s", verr.msg);
		goto out;
	}
	code = add_devices(&c);
	if (code)
		goto out;

	link_block_signals();
	run_init(&run, STDOUT_FILENO, STDERR_FILENO, stderr);
	run.verbose = o->verbose;
	struct link_config lc = {.console = c.con,
				 .com1_rd = c.com1[0],
				 .com2_rd = c.com2[0],
				 .scale = o->scale ? o->scale : 1,
				 .timeout_s = o->timeout_s,
				 .echo_console = o->console,
				 .hvc0_out = o->shell ? STDOUT_FILENO : -1,
				 .stdin_fd = o->shell ? STDIN_FILENO : -1,
				 .forward_signals = true,
				 .stop_vm = stop_vm,
				 .opaque = &c};
	r = link_start(&link, &lc, &run);
	if (r) {
		code = host_error("guest link: %s", strerror(-r));
		run_destroy(&run);
		goto out;
	}
	vm_run(c.vm, &res);
	/* Every vCPU has stopped: whatever the guest wrote is in the devices now. */
	run.vm_end = vm_end_of(res.outcome);
	if (res.outcome == VM_HOST_ERROR) {
		run.host_error = true;
		snprintf(run.host_error_msg, sizeof(run.host_error_msg), "%s", res.reason);
	}
	if (res.panic_line[0])
		run_note_console_line(&run, res.panic_line);
	link_finish(&link);
	/* Declared hung (§4.5.2): where each vCPU was when the link stopped the VM. */
	if (run.hung)
		vm_describe_vcpus(c.vm, run.vcpu_table, sizeof(run.vcpu_table));

	struct run_verdict v;
	run_classify(&run, &v);
	run_print_report(&run, &v, link_console(&link), stderr);
	if (o->verbose)
		fprintf(stderr,
			"ktstr: VMM setup %.1f ms, first guest output %.1f ms, total %.1f ms (%s)\n",
			(double)res.setup_ns / 1e6, (double)res.first_output_ns / 1e6,
			(double)res.total_ns / 1e6, vm_outcome_name(res.outcome));
	if (o->stats_path)
		write_stats(&c, o->stats_path);
	if (o->result_json && run_write_json(&run, &v, o->result_json))
		fprintf(stderr, "ktstr: warning: cannot write --result-json '%s'\n",
			o->result_json);
	code = v.exit_code;
	link_destroy(&link);
	run_destroy(&run);
out:
	cleanup(&c);
	return code;
}
