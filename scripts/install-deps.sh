#!/usr/bin/env bash
# Install every Debian package the build, the tests and the e2e harness need.
# Idempotent: installs only what is missing, runs `apt-get update` at most once,
# works as root or through sudo, and says clearly when it cannot.
set -euo pipefail

PKGS=(
	build-essential make pkg-config git
	clang libclang-rt-14-dev clang-format
	libcriterion-dev
	libjson-c-dev libelf-dev liblz4-dev zlib1g-dev liblzma-dev libzstd-dev
	linux-libc-dev
	# tests: lz4(1) decodes our legacy-LZ4 initramfs, iasl cross-checks the ACPI tables
	lz4 acpica-tools
	# e2e harness (tests/e2e): the outer VM, guest userland, image tools
	qemu-system-x86 busybox-static cpio xz-utils zstd e2fsprogs
)

missing=()
for p in "${PKGS[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done

if [ ${#missing[@]} -eq 0 ]; then
	echo "install-deps: all ${#PKGS[@]} packages present"
	exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
	echo "install-deps: missing packages (${missing[*]}) and no apt-get: install them by hand" >&2
	exit 1
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO=(sudo -n)
	else
		echo "install-deps: need root to install: ${missing[*]}" >&2
		echo "install-deps: run 'sudo scripts/install-deps.sh' or install those packages" >&2
		exit 1
	fi
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
