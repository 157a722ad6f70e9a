#!/bin/sh
# Build and run every virtio-blk unit test under ThreadSanitizer (gcc), with
# the Criterion stand-in in this directory. Not part of `make check`:
#   tests/unit/test_blk_tsan/run.sh [suite-prefix]
set -e
cd "$(dirname "$0")/../../.."
out=${TMPDIR:-/tmp}/ktstr-blk-tsan
mkdir -p "$out"
gcc -std=gnu17 -D_GNU_SOURCE -O1 -g -fsanitize=thread -pthread \
	-Itests/unit/test_blk_tsan -Isrc -Itests \
	src/base/*.c src/virtio/guestmem.c src/virtio/virtqueue.c src/virtio/mmio.c \
	src/virtio/blk*.c tests/support/vdriver.c tests/unit/test_blk*.c \
	tests/unit/test_blk_tsan/shim.c -ljson-c -o "$out/blk-tsan"
TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}" "$out/blk-tsan" "$@"
