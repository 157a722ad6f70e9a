// SPDX-License-Identifier: MIT
/* specs/guest-protocol.md §5.6: mounts, modules, port discovery, configuration, serial mode. */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/serial_rec.h"
#include "unit/guest_fixture.h"

static struct guest_fixture fx;

static void setup_serial(void)
{
	gf_setup(&fx, false);
}

static void teardown(void)
{
	gf_teardown(&fx);
}

TestSuite(guest_setup, .init = setup_serial, .fini = teardown, .timeout = 30);

Test(guest_setup, mount_table_matches_the_spec_in_order) /* §5.6 #44 */
{
	static const struct {
		const char *target, *type;
		unsigned long flags;
		const char *data;
		bool required;
	} want[] = {
		{"/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true},
		{"/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, true},
		{"/dev", "devtmpfs", MS_NOSUID, "mode=0755", true},
		{"/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", true},
		{"/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, "mode=0620,ptmxmode=0666", false},
		{"/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777", false},
		{"/run", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755", false},
		{"/sys/fs/cgroup", "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false},
		{"/sys/kernel/debug", "debugfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false},
		{"/sys/kernel/tracing", "tracefs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL, false},
		{"/sys/fs/bpf", "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700", false},
	};

	cr_assert_eq(guest_nmounts, sizeof(want) / sizeof(want[0]));
	for (size_t i = 0; i < guest_nmounts; i++) {
		const struct guest_mount *m = &guest_mounts[i];
		cr_assert_str_eq(m->target, want[i].target);
		cr_assert_str_eq(m->type, want[i].type);
		cr_assert_str_eq(m->source, want[i].type);
		cr_assert_eq(m->flags, want[i].flags, "%s", m->target);
		if (want[i].data)
			cr_assert_str_eq(m->data, want[i].data);
		else
			cr_assert_null(m->data);
		cr_assert_eq(m->required, want[i].required);
	}
}

static int fail_proc_mount(const char *src, const char *target, const char *type,
			   unsigned long flags, const void *data)
{
	(void)src;
	(void)target;
	(void)flags;
	(void)data;
	if (!strcmp(type, "proc") || !strcmp(type, "bpf")) {
		errno = ENODEV;
		return -1;
	}
	return 0;
}

static void expect_fatal_mount(void *opaque)
{
	struct guest_fixture *f = opaque;
	uint8_t buf[4096];
	size_t n = gf_com2(f, buf, sizeof(buf));

	cr_assert(memmem(buf, n, "KTSTR_INIT_ERROR code=1 sev=fatal", 33) != NULL);
}

Test(guest_setup, required_mount_failure_is_fatal, .exit_code = 100) /* §5.6 #45 */
{
	fx.g.sys.mount = fail_proc_mount;
	fx.g.sys.poweroff = expect_fatal_mount;
	guest_mount_all(&fx.g);
	cr_assert_fail("a failed /proc mount must not return");
}

static int fail_bpf_mount(const char *src, const char *target, const char *type,
			  unsigned long flags, const void *data)
{
	(void)src;
	(void)target;
	(void)flags;
	(void)data;
	if (!strcmp(type, "bpf")) {
		errno = EPERM;
		return -1;
	}
	return 0;
}

Test(guest_setup, best_effort_mount_failure_only_logs) /* §5.6 #45 */
{
	fx.g.sys.mount = fail_bpf_mount;
	cr_assert_eq(guest_mount_all(&fx.g), 0);
	cr_assert_eq(fx.g.nreplay, 1u);
	cr_assert_eq(fx.g.replay[0].code, PROTO_IERR_MOUNT);
	cr_assert_eq(fx.g.replay[0].severity, PROTO_SEV_WARNING);
	cr_assert_not(fx.g.fatal_sent);
}

Test(guest_setup, module_flags_follow_the_kernel_compression) /* §5.6 #46 */
{
	int flags = -1;

	cr_assert_eq(guest_module_flags(&fx.g, "001-virtio.ko", &flags), 0);
	cr_assert_eq(flags, 0);
	cr_assert_eq(guest_module_flags(&fx.g, "002-virtio_mmio.ko.xz", &flags), -EOPNOTSUPP);
	gf_write_file(&fx, "/sys/module/compression", "xz\n", 3);
	cr_assert_eq(guest_module_flags(&fx.g, "002-virtio_mmio.ko.xz", &flags), 0);
	cr_assert_eq(flags, 4);
	cr_assert_eq(guest_module_flags(&fx.g, "003-x.ko.zst", &flags), -EOPNOTSUPP);
}

static char loaded[8][64];
static int nloaded;

static int record_finit(int fd, const char *params, int flags)
{
	char link[64], path[512];
	ssize_t n;

	(void)params;
	(void)flags;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	path[n > 0 ? n : 0] = '\0';
	snprintf(loaded[nloaded++], 64, "%s", strrchr(path, '/') + 1);
	if (strstr(path, "present")) {
		errno = EEXIST;
		return -1;
	}
	if (strstr(path, "broken")) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}

Test(guest_setup, modules_load_in_lexical_order_with_exact_counts) /* §5.6 #47 */
{
	gf_write_file(&fx, "/ktstr/modules/010-broken.ko", "x", 1);
	gf_write_file(&fx, "/ktstr/modules/002-present.ko", "x", 1);
	gf_write_file(&fx, "/ktstr/modules/001-virtio.ko", "x", 1);
	fx.g.sys.finit_module = record_finit;
	guest_load_modules(&fx.g);
	cr_assert_eq(nloaded, 3);
	cr_assert_str_eq(loaded[0], "001-virtio.ko");
	cr_assert_str_eq(loaded[1], "002-present.ko");
	cr_assert_str_eq(loaded[2], "010-broken.ko");
	cr_assert_eq(fx.g.mod_loaded, 1u);
	cr_assert_eq(fx.g.mod_present, 1u);
	cr_assert_eq(fx.g.mod_failed, 1u);
	/* The failure is an IERR MODULE_LOAD with the errno, then the MODULES_LOADED phase. */
	cr_assert_eq(fx.g.replay[0].code, PROTO_IERR_MODULE_LOAD);
	cr_assert_eq(fx.g.replay[0].err, ENOENT);
	cr_assert(fx.g.replay[1].is_life);
	cr_assert_str_eq(fx.g.replay[1].text, "loaded=1 present=1 failed=1");
}

static void *late_name(void *arg)
{
	usleep(200 * 1000);
	gf_write_file(arg, "/sys/class/virtio-ports/vport1p3/name", "ktstr-bulk\n", 11);
	return NULL;
}

Test(guest_setup, bulk_port_is_found_by_name_not_number) /* §5.6 #48 */
{
	const char *reason = NULL;
	pthread_t t;

	gf_write_file(&fx, "/sys/class/virtio-ports/vport1p1/name", "ktstr-bulk2\n", 12);
	gf_write_file(&fx, "/sys/class/virtio-ports/vport1p2/name", "(null)\n", 7);
	gf_write_file(&fx, "/sys/class/virtio-ports/vport1p3/name", "\n", 1);
	gf_write_file(&fx, "/dev/vport1p3", "", 0);
	pthread_create(&t, NULL, late_name, &fx);
	int fd = guest_open_port(&fx.g, GUEST_BULK_NAME, &reason);
	pthread_join(t, NULL);
	cr_assert_geq(fd, 0, "reason %s", reason ? reason : "-");
	cr_assert_str_eq(fx.g.port_dev, "/dev/vport1p3");
	close(fd);
}

Test(guest_setup, missing_driver_falls_back_at_once) /* §5.6 #48 */
{
	const char *reason = NULL;

	cr_assert_lt(guest_open_port(&fx.g, GUEST_BULK_NAME, &reason), 0);
	cr_assert_str_eq(reason, "no-driver");
}

Test(guest_setup, exec_argv_keeps_strings_verbatim) /* §5.6 #49 */
{
	static const char argv[] = "/bin/sh\0-c\0echo 'a b' \"c\"\0";
	gf_write_file(&fx, "/ktstr/exec.argv", argv, sizeof(argv) - 1);
	guest_load_exec_config(&fx.g);
	cr_assert_str_eq(fx.g.argv[0], "/bin/sh");
	cr_assert_str_eq(fx.g.argv[1], "-c");
	cr_assert_str_eq(fx.g.argv[2], "echo 'a b' \"c\"");
	cr_assert_null(fx.g.argv[3]);
	cr_assert_str_eq(fx.g.cwd, "/");
}

static void expect_config_error(void *opaque)
{
	struct guest_fixture *f = opaque;
	uint8_t buf[4096];
	size_t n = gf_com2(f, buf, sizeof(buf));

	cr_assert(memmem(buf, n, "KTSTR_INIT_ERROR code=6 sev=fatal", 33) != NULL);
}

Test(guest_setup, empty_exec_argv_is_a_config_error, .exit_code = 100) /* §5.6 #49 */
{
	gf_write_file(&fx, "/ktstr/exec.argv", "", 0);
	fx.g.sys.poweroff = expect_config_error;
	guest_load_exec_config(&fx.g);
}

Test(guest_setup, exec_argv_without_trailing_nul_is_a_config_error, .exit_code = 100)
{
	gf_write_file(&fx, "/ktstr/exec.argv", "/bin/true", 9);
	fx.g.sys.poweroff = expect_config_error;
	guest_load_exec_config(&fx.g);
}

static const char *env_get(char **env, const char *key)
{
	size_t k = strlen(key);
	for (; *env; env++)
		if (!strncmp(*env, key, k) && (*env)[k] == '=')
			return *env + k + 1;
	return NULL;
}

Test(guest_setup, environment_is_built_from_scratch_with_overrides) /* §5.6 #50 */
{
	static const char env[] = "PATH=/opt/bin:/bin\0EXTRA=1\0";
	gf_write_file(&fx, "/ktstr/exec.argv", "true\0", 5);
	gf_write_file(&fx, "/ktstr/exec.env", env, sizeof(env) - 1);
	setenv("KTSTR_MODE", "exec", 1);
	guest_load_exec_config(&fx.g);
	char **e = guest_build_env(&fx.g, 4);
	cr_assert_str_eq(env_get(e, "PATH"), "/opt/bin:/bin");
	cr_assert_str_eq(env_get(e, "EXTRA"), "1");
	cr_assert_str_eq(env_get(e, "HOME"), "/root");
	cr_assert_str_eq(env_get(e, "TERM"), "dumb");
	cr_assert_str_eq(env_get(e, "KTSTR_GUEST"), "1");
	cr_assert_str_eq(env_get(e, "KTSTR_NR_CPUS"), "4");
	cr_assert_null(env_get(e, "KTSTR_MODE"));
	guest_free_env(e);
}

Test(guest_setup, cmdline_keys_are_parsed_as_exact_tokens)
{
	guest_parse_cmdline(&fx.g, "console=ttyS0 KTSTR_SCALE=7 KTSTR_DMESG=all KTSTR_STDIO=merged "
				   "XKTSTR_STDIN=1 KTSTR_PROTO=serial\n");
	cr_assert_eq(fx.g.scale, 7u);
	cr_assert_eq(fx.g.dmesg, GUEST_DMESG_ALL);
	cr_assert(fx.g.merged);
	cr_assert_not(fx.g.stdin_fwd);
	cr_assert(fx.g.force_serial);
	guest_parse_cmdline(&fx.g, "KTSTR_SCALE=5000");
	cr_assert_eq(fx.g.scale, 1u);
}

/* Split the COM2 stream into records: header strings and bodies, in order. */
static size_t parse_records(const uint8_t *b, size_t n, char hdr[][128], size_t *body_len,
			    const uint8_t **body, size_t max)
{
	size_t i = 0, count = 0;

	while (i < n && count < max) {
		cr_assert_eq(b[i], SERIAL_RS, "record %zu does not start with RS", count);
		const uint8_t *lf = memchr(b + i, '\n', n - i);
		cr_assert_not_null(lf);
		size_t hl = (size_t)(lf - b - i - 1);
		snprintf(hdr[count], 128, "%.*s", (int)hl, (const char *)b + i + 1);
		i += hl + 2;
		body_len[count] = 0;
		body[count] = b + i;
		const char *nn = strstr(hdr[count], " n=");
		if (nn)
			body_len[count] = strtoul(nn + 3, NULL, 10);
		i += body_len[count];
		count++;
	}
	return count;
}

Test(guest_setup, serial_mode_writes_records_in_order) /* §5.6 #67 */
{
	static uint8_t com2[65536];
	char hdr[64][128];
	size_t blen[64];
	const uint8_t *body[64];
	const char *argv[] = {"/bin/sh", "-c", "printf out; printf err >&2; exit 4", NULL};

	gf_set_argv(&fx, argv);
	guest_load_exec_config(&fx.g);
	guest_run(&fx.g);
	size_t n = gf_com2(&fx, com2, sizeof(com2));
	size_t nrec = parse_records(com2, n, hdr, blen, body, 64);
	cr_assert_geq(nrec, 5u);
	cr_assert_str_eq(hdr[0], "KTSTR_PROTO=serial reason=forced");
	int sout = -1, serr = -1, exitrec = -1;
	for (size_t i = 0; i < nrec; i++) {
		if (!strncmp(hdr[i], "KTSTR_SOUT", 10))
			sout = (int)i;
		if (!strncmp(hdr[i], "KTSTR_SERR", 10))
			serr = (int)i;
		if (!strncmp(hdr[i], "KTSTR_EXEC_EXIT=", 16))
			exitrec = (int)i;
	}
	cr_assert_geq(sout, 0);
	cr_assert_eq(blen[sout], 3u);
	cr_assert_arr_eq(body[sout], "out", 3);
	cr_assert_geq(serr, 0);
	cr_assert_arr_eq(body[serr], "err", 3);
	cr_assert_str_eq(hdr[exitrec], "KTSTR_EXEC_EXIT=4 how=exited value=4 core=0");
	char want[64];
	snprintf(want, sizeof(want), "KTSTR_DONE result=4 records=%zu", nrec - 1);
	cr_assert_str_eq(hdr[nrec - 1], want);
}
