#!/usr/bin/env bash
# Fetch (once) and unpack the Debian cloud kernels the e2e harness and the
# bzImage unit tests use, then print where they are:
#
#   KTSTR_TEST_VMLINUZ=<bookworm 6.1 cloud vmlinuz>      (also L1's kernel)
#   KTSTR_TEST_VMLINUZ_72=<7.2 cloud vmlinuz, sched_ext + BTF>
#   KTSTR_E2E_KDIR_61=<unpacked 6.1 package root>         (modules under lib/modules)
#   KTSTR_TEST_MODULES_DIR=<the same as KTSTR_E2E_KDIR_61> (kmod/initramfs unit tests)
#   KTSTR_E2E_KDIR_72=<unpacked 7.2 package root>         (modules under usr/lib/modules)
#
# one KEY=path per line (no spaces), so `env $(tests/e2e/fetch-kernels.sh) CMD`
# or `set -a; eval "$(tests/e2e/fetch-kernels.sh)"` sets them. Progress and
# errors go to stderr; a kernel that cannot be fetched is left out, exit 1.
#
# Packages are downloaded with `apt-get download` through a private apt
# configuration under the cache (own source list, lists and archives), built
# from the archive URI the machine already uses: the system's apt setup is
# never touched and no mirror name is written into the project. The .debs are
# unpacked with `dpkg-deb -x`, never installed.
#
# Cache: ${KTSTR_CACHE:-$HOME/.cache/ktstr}/kernels/<abi>/ with a SHA256SUMS
# manifest that is checked every time the kernel is reused; <label>.abi files
# (6.1.abi, 7.2.abi) say which abi a label currently means.
#
# Options: --refresh  look the versions up again (the cached ones are used
#                     otherwise, without any network access)
#          --only 6.1|7.2  fetch just one kernel
# Environment: KTSTR_DEBIAN_URI, KTSTR_DEBIAN_SECURITY_URI override the archive
# URIs found in /etc/apt; KTSTR_SUITE_72 (default "trixie-backports sid") is the
# list of suites tried, in order, for the 7.2 kernel.
set -euo pipefail
E2E_PROG=fetch-kernels
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"

refresh=0
only=""
while [ $# -gt 0 ]; do
	case "$1" in
	--refresh) refresh=1 ;;
	--only)
		only=${2:-}
		shift
		;;
	-h | --help) e2e_help ;;
	*) e2e_die "unknown argument '$1' (try --help)" ;;
	esac
	shift
done

KDIR=$CACHE_DIR/kernels
APTDIR=$CACHE_DIR/apt
DEBDIR=$CACHE_DIR/debs
mkdir -p "$KDIR" "$DEBDIR"

# Print "URI|signed-by" of the first enabled deb source that serves suite $1.
# Reads both the one-line (.list) and the deb822 (.sources) formats.
source_for_suite() {
	local suite=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			/^[ \t]*deb[ \t]/ {
				sb = ""; i = 2
				if ($2 ~ /^\[/) {
					for (; i <= NF; i++) {
						if ($i ~ /signed-by=/) { sb = $i; sub(/.*signed-by=/, "", sb); sub(/\]$/, "", sb) }
						if ($i ~ /\]$/) { i++; break }
					}
				}
				if ($(i + 1) == s) { print $i "|" sb; exit }
			}' "$f"
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v s="$suite" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && enabled != "no" && (" " suites " ") ~ (" " s " "))
					{ split(uris, u, " "); print u[1] "|" sb; found = 1; exit }
				types = uris = suites = sb = ""; enabled = ""
			}
			/^[ \t]*#/ { next }
			/^[ \t]*$/ { flush(); next }
			/^Types:/ { sub(/^Types:[ \t]*/, ""); types = $0 }
			/^URIs:/ { sub(/^URIs:[ \t]*/, ""); uris = $0 }
			/^Suites:/ { sub(/^Suites:[ \t]*/, ""); suites = $0 }
			/^Enabled:/ { sub(/^Enabled:[ \t]*/, ""); enabled = tolower($0) }
			/^Signed-By:[ \t]*\// { sub(/^Signed-By:[ \t]*/, ""); sb = $0 }
			END { if (!found) flush() }' "$f"
	done | head -n1
}

apt_opts=()
apt_setup() {
	local main sec keyring sb suite
	main=${KTSTR_DEBIAN_URI:-}
	sec=${KTSTR_DEBIAN_SECURITY_URI:-}
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	if [ -z "$main" ]; then
		main=$(source_for_suite bookworm)
		[ -n "$main" ] || e2e_die "no Debian archive URI for 'bookworm' in /etc/apt (set KTSTR_DEBIAN_URI)"
		sb=${main#*|}
		[ -n "$sb" ] && keyring=$sb
		main=${main%%|*}
	fi
	if [ -z "$sec" ]; then
		sec=$(source_for_suite bookworm-security)
		sec=${sec%%|*}
	fi
	[ -f "$keyring" ] || e2e_die "missing archive keyring $keyring (package debian-archive-keyring)"

	mkdir -p "$APTDIR/lists/partial" "$APTDIR/archives/partial" "$APTDIR/prefs"
	{
		echo "deb [signed-by=$keyring] $main bookworm main"
		[ -n "$sec" ] && echo "deb [signed-by=$keyring] $sec bookworm-security main"
		for suite in ${KTSTR_SUITE_72:-trixie-backports sid}; do
			echo "deb [signed-by=$keyring] $main $suite main"
		done
	} >"$APTDIR/sources.list"
	apt_opts=(
		-o "Dir::Etc::sourcelist=$APTDIR/sources.list"
		-o "Dir::Etc::sourceparts=-"
		-o "Dir::Etc::preferences=$APTDIR/prefs/none"
		-o "Dir::Etc::preferencesparts=$APTDIR/prefs"
		-o "Dir::State::lists=$APTDIR/lists"
		-o "Dir::Cache=$APTDIR"
		-o "Dir::Cache::archives=$APTDIR/archives"
		-o "Acquire::Languages=none"
		-o "APT::Architecture=amd64"
		-o "APT::Architectures=amd64"
		-o "APT::Sandbox::User=root"
		-o "Debug::NoLocking=1"
	)
	[ "$(id -u)" -eq 0 ] || apt_opts=("${apt_opts[@]/APT::Sandbox::User=root/APT::Sandbox::User=$(id -un)}")
}

# Update at most once per run (ensure_kernel runs in subshells, so a file marks it).
apt_update() {
	[ -f "$APTDIR/.updated.$$" ] && return 0
	command -v apt-get >/dev/null || e2e_die "apt-get not found: cannot download kernels"
	e2e_log "updating the private package lists in $APTDIR"
	apt-get "${apt_opts[@]}" -q update >"$APTDIR/update.log" 2>&1 ||
		e2e_die "apt-get update failed (see $APTDIR/update.log)"
	: >"$APTDIR/.updated.$$"
}

# Newest version of linux-image-cloud-amd64 matching $1 (a version prefix),
# taking suites in the order given by $2...
pick_version() {
	local prefix=$1 suite v
	shift
	for suite in "$@"; do
		v=$(apt-cache "${apt_opts[@]}" madison linux-image-cloud-amd64 |
			awk -F'|' -v p="$prefix" -v s="$suite" '
				{ gsub(/ /, "", $2); split($3, a, " "); split(a[2], b, "/") }
				index($2, p) == 1 && b[1] == s { print $2; exit }')
		if [ -n "$v" ]; then
			printf '%s\n' "$v"
			return 0
		fi
	done
	return 1
}

# The kernel abi name (e.g. 6.1.0-56-cloud-amd64) the metapackage version $1 points to.
abi_of() {
	apt-cache "${apt_opts[@]}" show "linux-image-cloud-amd64=$1" |
		sed -n 's/^Depends:.*linux-image-\([^ ,]*-cloud-amd64\).*/\1/p' | head -n1
}

# Is the kernel in $KDIR/$1 complete and unchanged since it was unpacked?
verify_kernel() {
	local d=$KDIR/$1
	[ -f "$d/SHA256SUMS" ] && [ -e "$d/vmlinuz" ] || return 1
	(cd "$d" && sha256sum --quiet --strict -c SHA256SUMS >/dev/null 2>&1) || return 1
	e2e_is_bzimage "$d/vmlinuz"
}

# Download the packages of abi $1 at version $2 and unpack them into $KDIR/$1.
fetch_kernel() {
	local abi=$1 ver=$2 label=$3 pkgs=() p tmp vmlinuz
	case "$label" in
	6.1) pkgs=("linux-image-$abi") ;;
	# From 6.17/7.x Debian splits the image: binary (vmlinuz), modules, base (config, System.map).
	*) pkgs=("linux-binary-$abi" "linux-modules-$abi" "linux-base-$abi") ;;
	esac
	tmp=$(mktemp -d "$KDIR/.unpack.XXXXXX")
	for p in "${pkgs[@]}"; do
		local deb
		deb=$(find "$DEBDIR" -maxdepth 1 -name "${p}_*.deb" | head -n1)
		if [ -z "$deb" ] || ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
			apt_update
			e2e_log "downloading $p=$ver"
			(cd "$DEBDIR" && apt-get "${apt_opts[@]}" -q download "$p=$ver" >/dev/null) ||
				{
					rm -rf "$tmp"
					e2e_die "apt-get download $p=$ver failed"
				}
			deb=$(find "$DEBDIR" -maxdepth 1 -name "${p}_*.deb" | head -n1)
		fi
		dpkg-deb -x "$deb" "$tmp/root"
	done
	vmlinuz=$(find "$tmp/root" -name "vmlinuz*" -type f | head -n1)
	if [ -z "$vmlinuz" ] || ! e2e_is_bzimage "$vmlinuz"; then
		rm -rf "$tmp"
		e2e_die "no bzImage vmlinuz in ${pkgs[*]}"
	fi
	ln -s "${vmlinuz#"$tmp"/}" "$tmp/vmlinuz"
	local cfg
	cfg=$(find "$tmp/root" \( -name "config-$abi" -o -path "*/modules/$abi/config" \) -type f | head -n1)
	[ -n "$cfg" ] && ln -s "${cfg#"$tmp"/}" "$tmp/config"
	printf '%s\n' "$ver" >"$tmp/VERSION"
	(cd "$tmp" && find root VERSION -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum >SHA256SUMS)
	rm -rf "${KDIR:?}/$abi"
	mv "$tmp" "$KDIR/$abi"
	e2e_log "unpacked $abi ($ver) into $KDIR/$abi"
}

# Resolve label $1 (6.1 or 7.2) to a verified kernel; print its abi.
ensure_kernel() {
	local label=$1 abi="" ver suites
	[ -f "$KDIR/$label.abi" ] && abi=$(cat "$KDIR/$label.abi")
	if [ $refresh -eq 0 ] && [ -n "$abi" ] && verify_kernel "$abi"; then
		printf '%s\n' "$abi"
		return 0
	fi
	[ -n "$abi" ] && [ $refresh -eq 0 ] && e2e_log "cached $label kernel $abi failed verification: fetching again"
	[ ${#apt_opts[@]} -gt 0 ] || apt_setup
	apt_update
	case "$label" in
	6.1) suites=(bookworm-security bookworm) ;;
	*) read -r -a suites <<<"${KTSTR_SUITE_72:-trixie-backports sid}" ;;
	esac
	ver=$(pick_version "$label." "${suites[@]}") ||
		e2e_die "no linux-image-cloud-amd64 $label.x in ${suites[*]}"
	abi=$(abi_of "$ver")
	[ -n "$abi" ] || e2e_die "cannot find the kernel package linux-image-cloud-amd64=$ver depends on"
	verify_kernel "$abi" || fetch_kernel "$abi" "$ver" "$label"
	verify_kernel "$abi" || e2e_die "kernel $abi does not verify after unpacking"
	printf '%s\n' "$abi" >"$KDIR/$label.abi"
	printf '%s\n' "$abi"
}

e2e_require_tools dpkg-deb sha256sum flock
# Several engineers (and make -j) may fetch at once: one at a time.
exec 9>"$CACHE_DIR/.fetch.lock"
flock 9
trap 'rm -f "$APTDIR/.updated.$$"' EXIT

labels=(6.1 7.2)
[ -n "$only" ] && labels=("$only")
for label in "${labels[@]}"; do
	case "$label" in
	6.1 | 7.2) ;;
	*) e2e_die "unknown kernel label '$label' (6.1 or 7.2)" ;;
	esac
	abi=$(ensure_kernel "$label")
	suffix=${label/./}
	if [ "$label" = 6.1 ]; then
		echo "KTSTR_TEST_VMLINUZ=$KDIR/$abi/vmlinuz"
		# The module-picking unit tests want an unpacked linux-image package.
		echo "KTSTR_TEST_MODULES_DIR=$KDIR/$abi/root"
	else
		echo "KTSTR_TEST_VMLINUZ_$suffix=$KDIR/$abi/vmlinuz"
	fi
	echo "KTSTR_E2E_KDIR_$suffix=$KDIR/$abi/root"
done
