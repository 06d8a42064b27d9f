# leec — top-level entry points. Everything real happens in meson/ninja and
# the scripts under scripts/; see README.md.
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 60
MESON_OPTS ?= --werror --buildtype=debugoptimized

.PHONY: all deps build demo check test unit e2e bench bench-crash bench-fleet lint asan fuzz install uninstall clean

all: build

deps:
	@bash scripts/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) $(MESON_OPTS) --prefix=$(PREFIX)

build: deps $(BUILD)/build.ninja
	@if [ "$$(meson introspect $(BUILD) --buildoptions | python3 -c 'import json,sys; print([o["value"] for o in json.load(sys.stdin) if o["name"]=="prefix"][0])')" != "$(PREFIX)" ]; then \
		meson configure $(BUILD) --prefix=$(PREFIX); fi
	ninja -C $(BUILD)

demo: build
	python3 scripts/demo.py --leec $(BUILD)/cli/leec

# Every test: lint, unit + state machine (plain and under ASan/UBSan), end to
# end against pebble. Ends with one "N passed, N failed" line.
check: build
	@bash scripts/check.sh $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

unit: build
	meson test -C $(BUILD) --print-errorlogs

e2e: build
	python3 tests/e2e/run.py --leec $(BUILD)/cli/leec

# Timing, CPU, memory, requests and connections for 1..1000 certificates
# against a local pebble (BIG=1: also 10000, several minutes more); writes
# bench/RESULTS.md (bench/run.py --help).
bench: build
	python3 bench/run.py --leec $(BUILD)/cli/leec $(if $(BIG),--big)

# Orders wasted by kill -9: 60 certificates, 8 random kills, a clean run
# (issue 11's target); bench/crash.py --help.
bench-crash: build
	python3 bench/crash.py --leec $(BUILD)/cli/leec

# Fleet mode: 3 leec daemons on one PostgreSQL store, N certificates
# (default 3000; N=300 for a quicker look): wall time, orders, finalizes,
# statements per certificate, idle cost, takeover after SIGKILL, throughput
# per node vs one process; appends a "Fleet" section to bench/RESULTS.md
# (bench/fleet.py --help). Takes minutes.
bench-fleet: build
	python3 bench/fleet.py --leec $(BUILD)/cli/leec $(if $(N),--certs $(N))

lint:
	@bash scripts/lint.sh $(BUILD)

# Every libFuzzer target of tests/fuzz (clang, ASan, UBSan; built in
# $(FUZZ_BUILD)) for FUZZ_SECONDS each, from its seed corpus; one line per
# target; fails when one finds a crash, a leak or a hang.
fuzz: deps
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh $(FUZZ_BUILD)

install: build
	DESTDIR=$(DESTDIR) meson install -C $(BUILD) --no-rebuild

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD) demo-state
