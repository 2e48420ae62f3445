# Flow — the two commands a newcomer needs:
#   make demo    the main job: a trace analysis on every layer (ARGS="--help" for options)
#   make test    layering check + docs check + the whole test suite
SHELL := /bin/bash
SHARED ?= ../shared
SWIFT ?= swift
# Concurrency suites run under ThreadSanitizer (make tsan).
TSAN_FILTER ?= FlowTraceAnalysisTests|FlowAtomicsTests|FlowExecutorTests|FlowWatchdogTests|FlowChannelsTests|FlowGraphTests|FlowPipelineTests|FlowTestSupportTests
# Stress rounds are scaled by this factor under the sanitizer.
TSAN_SCALE ?= 0.1
FILTER ?= .*

.PHONY: all build test layers docs-check tsan bench bench-median demo clean

all: build

build:
	$(SWIFT) build

layers:
	@if [ -x "$(SHARED)/tools/check-layers" ]; then "$(SHARED)/tools/check-layers" .; \
	else echo "check-layers: $(SHARED)/tools/check-layers not found, skipped"; fi

# Every ```swift block of README.md and docs/*.md must appear, verbatim, in
# a test (Scripts/check-doc-examples), so that the docs cannot rot.
docs-check:
	python3 Scripts/check-doc-examples .

# --no-parallel: the suites run one after another. Many are stress tests that
# block OS threads on purpose; run side by side on 2 cores they can starve
# Swift's cooperative pool and push async tests past their time limits when
# the machine is loaded (seen under artificial load). Serial runs take the
# same wall time here (about 70 s) and pass under load.
test: layers docs-check
	$(SWIFT) test --no-parallel

# Scripts/tsan-suppressions.txt: one known false positive of the Swift
# runtime (a continuation's resume; see the file). Nothing else is suppressed.
tsan:
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/Scripts/tsan-suppressions.txt" FLOW_STRESS_SCALE=$(TSAN_SCALE) \
	  $(SWIFT) test --no-parallel --sanitize=thread --scratch-path .build-tsan --filter '$(TSAN_FILTER)'

bench:
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark --filter '.*($(FILTER)).*' --no-progress --format markdown 2>&1 | tee .bench-output.txt
	@cd Benchmarks && python3 Scripts/ratios.py .bench-output.txt

# The main job, built in release mode. ARGS passes options, e.g.
#   make demo ARGS="--sequential"      also time a plain single-threaded loop
#   make demo ARGS="--input DIR"       analyse real trace files
ARGS ?=
demo:
	$(SWIFT) build -c release --product flow-demo
	.build/release/flow-demo $(ARGS)

clean:
	rm -rf .build .build-tsan Benchmarks/.build

# Medians of RUNS runs of each ratio (what docs/Performance.md quotes).
RUNS ?= 3
bench-median:
	cd Benchmarks && python3 Scripts/median-ratios.py $(RUNS) '$(FILTER)'
