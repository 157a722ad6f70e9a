// SPDX-License-Identifier: MIT
/* `ktstr vm`: boot a kernel in the ktstr VMM and stream its console. */
#include "cli/cmd_vm.h"

#include <errno.h>
#include <stdarg.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "cli/cli.h"
#include "link/run.h"
#include "vmm/memmap.h"

/*
 * "Process start" for the --verbose boot breakdown: a constructor runs after
 * the dynamic loader and before main(), the earliest point our code sees.
 */
static uint64_t process_start_ns;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((constructor)) static void note_process_start(void)
{
	process_start_ns = mono_ns();
}

static void vm_usage(void)
{
	printf("Usage: ktstr vm --kernel PATH [options]\n"
	       "\n"
	       "Boot a Linux kernel (bzImage) in the ktstr KVM VMM with the CPU topology you\n"
	       "choose and stream the guest's serial console (COM1) to stdout.\n"
	       "\n"
	       "Options:\n"
	       "  -k, --kernel PATH      kernel image (x86 bzImage, boot protocol >= 2.12); required\n"
	       "  -i, --initramfs PATH   initramfs (cpio, optionally compressed) loaded as the initrd\n"
	       "  -t, --topology TOPO    NnLlCcTt: N NUMA nodes, L LLCs in total, C cores per LLC,\n"
	       "                         T threads per core, e.g. 1n2l4c2t (16 vCPUs); or a preset\n"
	       "                         name. Default " VM_DEFAULT_TOPOLOGY "\n"
	       "  -m, --memory SIZE      guest RAM: 512M, 2G, 2GiB (K/M/G/T are binary units; a bare\n"
	       "                         number is bytes). At least 256 MiB. Default: max(256 MiB,\n"
	       "                         64 MiB per vCPU, what the kernel and initramfs need)\n"
	       "  -c, --cmdline ARGS     appended to the default kernel command line\n"
	       "      --no-default-cmdline\n"
	       "                         use only --cmdline ARGS as the command line\n"
	       "  -T, --timeout SECONDS  end the VM after this long (0 = no limit, the default)\n"
	       "  -v, --verbose          print the boot breakdown (VMM setup = process start to\n"
	       "                         first KVM_RUN, first guest output, total wall time) and\n"
	       "                         log unhandled guest port/MMIO accesses\n"
	       "  -h, --help             show this help\n"
	       "\n"
	       "Run a command inside (no --initramfs needed: ktstr builds one with itself as /init):\n"
	       "  -e, --exec 'CMD'       run CMD with busybox sh -c; its stdout and stderr become\n"
	       "                         ours and its exit status is ktstr's\n"
	       "      --exec-argv -- PROG [ARG...]\n"
	       "                         run PROG with these arguments, no shell\n"
	       "      --disk FILE[,ro][,iops=N][,bps=N]\n"
	       "                         a virtio-blk disk backed by FILE (repeat: /dev/vda, vdb...)\n"
	       "      --net              a virtio-net NIC whose frames loop back (eth0)\n"
	       "      --include PATH     copy PATH (and its shared libraries) to /include/ (repeat)\n"
	       "      --modules DIR      the guest kernel's module tree (default /lib/modules/<rel>,\n"
	       "                         <rel> read from the bzImage); the virtio drivers come from it\n"
	       "      --busybox PATH     busybox to pack (default /bin/busybox, busybox-static)\n"
	       "      --merge-output     one pipe for the command's stdout and stderr (exact order)\n"
	       "      --scale N          multiply the guest's internal deadlines (slow CPUs)\n"
	       "      --console          echo the guest console (COM1, hvc0) to stderr live\n"
	       "      --stats FILE       write every device's counters as JSON when the VM ends\n"
	       "      --result-json FILE write the run's verdict as JSON\n"
	       "  With --exec, --timeout bounds the command (from its start) and ends it gracefully.\n"
	       "  A guest whose init goes quiet is PINGed (after 5 s x --scale without a message);\n"
	       "  no answer within 30 s x --scale of silence stops the VM at once: exit 124,\n"
	       "  \"guest unresponsive for N s (no reply from init)\", with the vCPU registers.\n"
	       "\n"
	       "Default kernel command line:\n"
	       "  " VM_DEFAULT_CMDLINE "\n"
	       "  (serial console on COM1, reboot at once on panic so the VM ends, no KASLR for\n"
	       "  reproducible runs, no PCI probing: the machine has no PCI bus). Later\n"
	       "  parameters override earlier ones for most options, so --cmdline can change\n"
	       "  them; use --no-default-cmdline to replace the line entirely. Topologies with\n"
	       "  APIC IDs above 254 also get irqaffinity=0.\n"
	       "\n"
	       "The machine: in-kernel LAPIC/IOAPIC/PIT, hardware-reduced ACPI, 16550 UARTs on\n"
	       "COM1 (console) and COM2, an i8042 reset line. The guest ends the VM by powering\n"
	       "off (ACPI S5) or rebooting (reboot, or panic with panic=-1).\n"
	       "\n"
	       "Exit status:\n"
	       "  0    the guest powered off or rebooted\n"
	       "  1    host or VMM failure (e.g. /dev/kvm missing, KVM refused the setup)\n"
	       "  2    bad usage or input (missing kernel, not a bzImage, bad topology/size)\n"
	       "  3    the guest kernel panicked (panic line shown)\n"
	       "  4    the VM ran longer than --timeout\n"
	       "  5    the guest crashed: triple fault, failed VM entry, KVM internal error\n"
	       "  130  interrupted by SIGINT or SIGTERM\n"
	       "Except for 0, one line on stderr says why.\n"
	       "\n"
	       "Exit status with --exec: the command's own (0-255; 128+N if killed by signal N,\n"
	       "127 not found), or: 121 the guest crashed or ended before init reported;\n"
	       "122 guest init failed; 123 protocol error; 124 timeout or hang; 125 host-side\n"
	       "failure, bad usage or input included; 128+N stopped by host signal N. Those\n"
	       "print 'ktstr: FAIL (<code>): <cause>' and the guest console tail on stderr;\n"
	       "bad usage or input prints only 'ktstr: <message>' (plus a --help hint).\n");
}

static int parse_seconds(const char *s, unsigned *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || *end || v > 365ul * 24 * 3600)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int opt_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int opt_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The options of `ktstr vm`, shared by the parser and vm_argv_asks_for_exec(). */
static const struct option vm_opts[] = {
	{"kernel", required_argument, NULL, 'k'},
	{"initramfs", required_argument, NULL, 'i'},
	{"topology", required_argument, NULL, 't'},
	{"memory", required_argument, NULL, 'm'},
	{"cmdline", required_argument, NULL, 'c'},
	{"no-default-cmdline", no_argument, NULL, 'N'},
	{"timeout", required_argument, NULL, 'T'},
	{"verbose", no_argument, NULL, 'v'},
	{"help", no_argument, NULL, 'h'},
	{"exec", required_argument, NULL, 'e'},
	{"exec-argv", no_argument, NULL, 'A'},
	{"disk", required_argument, NULL, 'D'},
	{"net", no_argument, NULL, 'n'},
	{"include", required_argument, NULL, 'I'},
	{"modules", required_argument, NULL, 'M'},
	{"busybox", required_argument, NULL, 'B'},
	{"merge-output", no_argument, NULL, 'O'},
	{"scale", required_argument, NULL, 'S'},
	{"console", no_argument, NULL, 'C'},
	{"stats", required_argument, NULL, 's'},
	{"result-json", required_argument, NULL, 'R'},
	{NULL, 0, NULL, 0},
};
#define VM_SHORT_OPTS ":k:i:t:m:c:T:vhe:"

/*
 * Whether the command line asks for --exec (or --exec-argv), for choosing the
 * exit code of an option error. The parser stops at the first error, which may
 * come before the --exec, so the whole line is walked again with the same
 * table: an "--exec" that is another option's value or follows "--" is not
 * one, while an --exec whose command is missing still is.
 */
static bool vm_argv_asks_for_exec(int argc, char **argv)
{
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, VM_SHORT_OPTS, vm_opts, NULL)) != -1)
		if (c == 'e' || c == 'A' || (c == ':' && optopt == 'e'))
			return true;
	return false;
}

int vm_cli_parse(int argc, char **argv, struct vm_cli_opts *o, char *err, size_t errlen)
{
	struct vm_exec_opts *x = &o->exec;
	bool exec_argv = false, exec_only = false;
	const char *topo = VM_DEFAULT_TOPOLOGY;
	char msg[256];
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while (!exec_argv && (c = getopt_long(argc, argv, VM_SHORT_OPTS, vm_opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			x->exec = optarg;
			o->is_exec = true;
			break;
		case 'A':
			exec_argv = true;
			o->is_exec = true;
			break;
		case 'D':
			if (x->ndisks == VM_EXEC_MAX_DISKS)
				return opt_err(err, errlen, "too many --disk options (at most %d)",
					       VM_EXEC_MAX_DISKS);
			x->disks[x->ndisks++] = optarg;
			exec_only = true;
			break;
		case 'n':
			x->net = true;
			exec_only = true;
			break;
		case 'I':
			if (x->nincludes == VM_EXEC_MAX_INCLUDES)
				return opt_err(err, errlen,
					       "too many --include options (at most %d)",
					       VM_EXEC_MAX_INCLUDES);
			x->includes[x->nincludes++] = optarg;
			exec_only = true;
			break;
		case 'M':
			x->modules_dir = optarg;
			exec_only = true;
			break;
		case 'B':
			x->busybox = optarg;
			exec_only = true;
			break;
		case 'O':
			x->merge_output = true;
			exec_only = true;
			break;
		case 'S':
			if (parse_seconds(optarg, &x->scale) || x->scale < 1 || x->scale > 1000)
				return opt_err(
					err, errlen,
					"invalid --scale '%s': expected a whole number from 1 "
					"to 1000",
					optarg);
			exec_only = true;
			break;
		case 'C':
			x->console = true;
			exec_only = true;
			break;
		case 's':
			x->stats_path = optarg;
			exec_only = true;
			break;
		case 'R':
			x->result_json = optarg;
			exec_only = true;
			break;
		case 'k':
			o->kernel = optarg;
			break;
		case 'i':
			o->initramfs = optarg;
			break;
		case 't':
			topo = optarg;
			break;
		case 'm':
			if (memmap_parse_ram(optarg, &o->memory, msg, sizeof(msg)))
				return opt_err(err, errlen, "%s", msg);
			break;
		case 'c':
			o->cmdline_extra = optarg;
			break;
		case 'N':
			o->no_default_cmdline = true;
			break;
		case 'T':
			if (parse_seconds(optarg, &o->timeout_s))
				return opt_err(err, errlen,
					       "invalid --timeout '%s': expected whole seconds "
					       "(0 = no limit)",
					       optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
			o->help = true;
			return 0;
		case ':':
			return opt_err(err, errlen, "option '%s' needs a value", argv[optind - 1]);
		default:
			return opt_err(err, errlen, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (exec_argv) {
		/* Everything after --exec-argv (and an optional "--") is the command. */
		if (optind < argc && !strcmp(argv[optind], "--"))
			optind++;
		if (optind >= argc)
			return opt_err(err, errlen,
				       "--exec-argv needs a program: --exec-argv -- "
				       "PROG [ARG...]");
		if (x->exec)
			return opt_err(err, errlen, "give either --exec or --exec-argv, not both");
		x->exec_argv = argv + optind;
		x->exec_argc = (size_t)(argc - optind);
		optind = argc;
	}
	if (optind < argc)
		return opt_err(err, errlen, "unexpected argument '%s'", argv[optind]);
	if (!o->kernel)
		return opt_err(err, errlen, "missing --kernel PATH");
	if (exec_only && !o->is_exec)
		return opt_err(err, errlen,
			       "--disk, --net, --include and the other device and "
			       "report options need --exec or --exec-argv");
	if (o->is_exec && o->initramfs)
		return opt_err(err, errlen, "--exec builds its own initramfs: drop --initramfs");
	if (x->exec && !*x->exec)
		return opt_err(err, errlen, "--exec needs a command");
	if (topo_parse(topo, &o->topo, msg, sizeof(msg)))
		return opt_err(err, errlen, "%s", msg);
	return 0;
}

char *vm_cli_cmdline(const struct vm_cli_opts *o)
{
	const char *base = o->no_default_cmdline ? "" : VM_DEFAULT_CMDLINE;
	const char *extra = o->cmdline_extra ? o->cmdline_extra : "";
	char *s;

	if (asprintf(&s, "%s%s%s", base, *base && *extra ? " " : "", extra) < 0)
		return NULL;
	return s;
}

void vm_cli_fill_exec(struct vm_cli_opts *o, uint64_t t0_ns)
{
	o->exec.kernel = o->kernel;
	o->exec.topo = o->topo;
	o->exec.memory = o->memory;
	o->exec.cmdline_extra = o->cmdline_extra;
	o->exec.no_default_cmdline = o->no_default_cmdline;
	o->exec.timeout_s = o->timeout_s;
	o->exec.verbose = o->verbose;
	o->exec.t0_ns = t0_ns;
}

int vm_cli_exit_code(enum vm_outcome o)
{
	switch (o) {
	case VM_POWEROFF:
	case VM_REBOOT:
		return VM_EXIT_OK;
	case VM_PANIC:
		return VM_EXIT_PANIC;
	case VM_TIMEOUT:
		return VM_EXIT_TIMEOUT;
	case VM_CRASH:
		return VM_EXIT_CRASH;
	case VM_INTERRUPTED:
		return VM_EXIT_INTERRUPTED;
	case VM_HOST_ERROR:
		break;
	}
	return VM_EXIT_HOST;
}

static double ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

static void print_breakdown(const struct vm_result *res)
{
	fprintf(stderr, "ktstr: boot breakdown: VMM setup %.1f ms (process start -> first KVM_RUN)",
		ms(res->setup_ns));
	if (res->first_output_ns)
		fprintf(stderr, ", first guest output %.1f ms", ms(res->first_output_ns));
	else
		fprintf(stderr, ", no guest output");
	fprintf(stderr, ", total %.1f ms\n", ms(res->total_ns));
	fprintf(stderr,
		"ktstr: %s; %" PRIu64 " console bytes, %" PRIu64 " port-I/O and %" PRIu64
		" MMIO exits\n",
		vm_outcome_name(res->outcome), res->console_bytes, res->exits_io, res->exits_mmio);
}

static int vm_main(int argc, char **argv)
{
	struct vm_cli_opts o;
	struct vm_result res;
	struct vm_error verr;
	struct vm *vm;
	char err[512];

	if (vm_cli_parse(argc, argv, &o, err, sizeof(err))) {
		/*
		 * Same text as cli_usage_error(), which lives in main.c and so is
		 * not linked into the unit tests that drive this command.
		 */
		fprintf(stderr, "ktstr: %s\nTry 'ktstr vm --help'.\n", err);
		/*
		 * With --exec, 2 may be the command's own status: §4.6 rule 1 makes
		 * a bad argument a host-side failure there, so it cannot be mistaken.
		 */
		return vm_argv_asks_for_exec(argc, argv) ? RUN_EXIT_HOST : EXIT_USAGE;
	}
	if (o.help) {
		vm_usage();
		return 0;
	}
	if (o.is_exec) {
		vm_cli_fill_exec(&o, process_start_ns ? process_start_ns : mono_ns());
		return vm_exec_main(&o.exec);
	}
	if (o.verbose && !log_enabled(LOG_INFO))
		log_set_level(LOG_INFO); /* never lowers KTSTR_LOG=debug */
	char *cmdline = vm_cli_cmdline(&o);
	if (!cmdline) {
		fprintf(stderr, "ktstr: out of memory\n");
		return VM_EXIT_HOST;
	}
	struct vm_config cfg = {
		.kernel_path = o.kernel,
		.initrd_path = o.initramfs,
		.topo = o.topo,
		.ram_bytes = o.memory,
		.cmdline = cmdline,
		.timeout_s = o.timeout_s,
		.com1_fd = STDOUT_FILENO,
		.com2_fd = STDOUT_FILENO,
		.t0_ns = process_start_ns ? process_start_ns : mono_ns(),
		.handle_signals = true,
	};
	if (o.verbose) {
		char t[TOPO_STR_LEN];
		fprintf(stderr, "ktstr: kernel %s, topology %s (%u vCPUs), cmdline: %s\n", o.kernel,
			topo_format(&o.topo, t, sizeof(t)), topo_nr_cpus(&o.topo), cmdline);
	}
	int r = vm_create(&cfg, &vm, &verr);
	free(cmdline);
	if (r) {
		fprintf(stderr, "ktstr: %s\n", verr.msg);
		return verr.bad_input ? VM_EXIT_USAGE : VM_EXIT_HOST;
	}
	if (o.verbose) {
		uint64_t bytes;
		vm_ram(vm, &bytes);
		fprintf(stderr, "ktstr: guest RAM %" PRIu64 " MiB\n", bytes >> 20);
	}
	vm_run(vm, &res);
	vm_destroy(vm);
	int code = vm_cli_exit_code(res.outcome);
	if (code != VM_EXIT_OK)
		fprintf(stderr, "ktstr: %s\n", res.reason);
	else if (o.verbose)
		fprintf(stderr, "ktstr: %s\n", res.reason);
	if (o.verbose)
		print_breakdown(&res);
	return code;
}

const struct cli_cmd cli_cmd_vm = {
	.name = "vm",
	.summary = "boot a kernel with a chosen CPU topology",
	.run = vm_main,
	.usage = vm_usage,
};
