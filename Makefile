# ktstr — build, test, fuzz, benchmark.
#
# Sources are discovered by directory, so adding a file needs no edit here:
#   src/<layer>/*.c      the ktstr binary (src/cli/main.c holds main())
#   tests/unit/*.c       Criterion unit tests and their fixtures (one binary: build/unit-tests)
#   tests/support/*.c    helpers linked into unit tests, fuzzers and benchmarks (no Criterion here)
#   tests/fuzz/fuzz_*.c  libFuzzer targets, one binary each
#   bench/bench_*.c      benchmarks, one binary each (print figures, never fail on time)

V ?= 0
Q := $(if $(filter 1,$(V)),,@)

CC	?= gcc
CLANG	?= clang
BUILD	?= build

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

WARNINGS := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	    -Wformat=2 -Wundef -Wwrite-strings
CPPFLAGS += -Isrc -Itests -D_GNU_SOURCE -DKTSTR_VERSION='"$(VERSION)"' -DKTSTR_GIT_REV='"$(GIT_REV)"'
CFLAGS	?= -O2 -g
CFLAGS	+= -std=gnu17 -pthread -MMD -MP $(WARNINGS)
LDLIBS	+= -pthread -ljson-c -lelf -llz4 -llzma -lzstd -lz

SRC_ALL   := $(sort $(wildcard src/*/*.c))
SRC_MAIN  := src/cli/main.c
SRC_LIB   := $(filter-out $(SRC_MAIN),$(SRC_ALL))
SRC_SUP   := $(sort $(wildcard tests/support/*.c))
SRC_UNIT  := $(sort $(wildcard tests/unit/*.c))
SRC_FUZZ  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
SRC_BENCH := $(sort $(wildcard bench/bench_*.c))

# One object tree per flavour: plain, asan (gcc ASan+UBSan), fuzz (clang).
obj = $(patsubst %.c,$(BUILD)/$(1)/%.o,$(2))

LIB_O	  := $(call obj,rel,$(SRC_LIB))
SUP_O	  := $(call obj,rel,$(SRC_SUP))
UNIT_O	  := $(call obj,rel,$(SRC_UNIT))
ASAN_LIB_O  := $(call obj,asan,$(SRC_LIB))
ASAN_SUP_O  := $(call obj,asan,$(SRC_SUP))
ASAN_UNIT_O := $(call obj,asan,$(SRC_UNIT))
FUZZ_LIB_O  := $(call obj,fuzz,$(SRC_LIB))
FUZZ_SUP_O  := $(call obj,fuzz,$(SRC_SUP))
FUZZ_BINS   := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/bin/%,$(SRC_FUZZ))
BENCH_BINS  := $(patsubst bench/%.c,$(BUILD)/bench/%,$(SRC_BENCH))

ASAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_FLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -O1 -g

# Fuzz smoke in `make check`; a long run is `make fuzz FUZZ_RUNS=1000000`.
FUZZ_RUNS ?= 20000

.PHONY: all check check-unit check-asan fuzz bench bench-e2e e2e demo format format-check \
	clean deps help
all: ktstr

help:
	@echo "make              build ./ktstr"
	@echo "make check        everything CI runs: deps, format, unit, ASan/UBSan, fuzz smoke, e2e"
	@echo "make check-unit   Criterion unit tests"
	@echo "make check-asan   unit tests under ASan+UBSan"
	@echo "make fuzz         each libFuzzer target for FUZZ_RUNS runs (default $(FUZZ_RUNS))"
	@echo "make e2e          nested-KVM end-to-end tests (tests/e2e)"
	@echo "make bench        micro-benchmarks (print figures)"
	@echo "make demo         boot a kernel and run a command in it"
	@echo "make format       reformat; make format-check  verify formatting"

ktstr: $(BUILD)/rel/$(SRC_MAIN:.c=.o) $(LIB_O)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/rel/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/asan/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-ASAN $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -O1 $(ASAN_FLAGS) -c -o $@ $<

# clang 14 does not know every gcc warning; the same -Werror set applies.
$(BUILD)/fuzz/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC-FUZZ $<"
	$(Q)$(CLANG) $(CPPFLAGS) -std=gnu17 -pthread -MMD -MP $(WARNINGS) $(FUZZ_FLAGS) -c -o $@ $<

$(BUILD)/unit-tests: $(UNIT_O) $(SUP_O) $(LIB_O)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/unit-tests-asan: $(ASAN_UNIT_O) $(ASAN_SUP_O) $(ASAN_LIB_O)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(ASAN_FLAGS) -o $@ $^ -lcriterion $(LDLIBS)

$(BUILD)/fuzz/bin/%: $(BUILD)/fuzz/tests/fuzz/%.o $(FUZZ_SUP_O) $(FUZZ_LIB_O)
	@mkdir -p $(dir $@)
	@echo "  LD-FUZZ $@"
	$(Q)$(CLANG) -fsanitize=fuzzer,address,undefined -pthread -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/rel/bench/%.o $(SUP_O) $(LIB_O)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

deps:
	$(Q)scripts/install-deps.sh

# Criterion runs each test in its own process; -j2 matches the machines here.
check-unit: $(BUILD)/unit-tests
	$(Q)$(BUILD)/unit-tests -j2 --short-filename

check-asan: $(BUILD)/unit-tests-asan
	$(Q)ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		$(BUILD)/unit-tests-asan -j2 --short-filename

fuzz: $(FUZZ_BINS)
	$(Q)set -e; for f in $(FUZZ_BINS); do \
		name=$$(basename $$f); corpus=tests/fuzz/corpus/$$name; \
		work=$(BUILD)/fuzz/work/$$name; rm -rf $$work; mkdir -p $$work; \
		[ -d $$corpus ] && cp -r $$corpus/. $$work/ || true; \
		echo "  FUZZ    $$name ($(FUZZ_RUNS) runs)"; \
		$$f -runs=$(FUZZ_RUNS) -seed=1 -print_final_stats=1 -artifact_prefix=$(BUILD)/fuzz/ \
			$$work > $(BUILD)/fuzz/$$name.log 2>&1 || { tail -40 $(BUILD)/fuzz/$$name.log; exit 1; }; \
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' $(BUILD)/fuzz/$$name.log \
			| sed 's/^/          /'; \
	done

bench: $(BENCH_BINS)
	$(Q)set -e; for b in $(BENCH_BINS); do echo "== $$(basename $$b)"; $$b; done

e2e: ktstr
	$(Q)tests/e2e/run.sh

bench-e2e: ktstr
	$(Q)tests/e2e/run.sh --bench

demo: ktstr
	$(Q)scripts/demo.sh

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	$(Q)clang-format -i $(FORMAT_FILES)

format-check:
	$(Q)clang-format --dry-run --Werror $(FORMAT_FILES) && echo "  FORMAT  ok ($(words $(FORMAT_FILES)) files)"

# The real Debian kernels (downloaded once into ~/.cache/ktstr) also feed the unit
# tests that parse a real bzImage and pick real modules; without them those tests
# say SKIPPED loudly.
check: deps
	$(Q)$(MAKE) --no-print-directory format-check
	$(Q)$(MAKE) --no-print-directory ktstr
	$(Q)kenv=$$(tests/e2e/fetch-kernels.sh) || { echo "check: fetching the test kernels failed" >&2; exit 1; }; \
		env $$kenv $(MAKE) --no-print-directory check-unit check-asan
	$(Q)$(MAKE) --no-print-directory fuzz
	$(Q)$(MAKE) --no-print-directory e2e

clean:
	rm -rf $(BUILD) ktstr

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
