# The README's two commands are `make demo` and `make test`; both set up the machine first.
SWIFT ?= swift
FUNAD = .build/release/funad

.PHONY: setup build demo test bench clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build -c release

# Tests run in release: the numeric kernels are 10-100x slower in debug builds.
# -enable-testing keeps @testable imports working.
TESTFLAGS = -c release -Xswiftc -enable-testing

test: setup
	$(SWIFT) build $(TESTFLAGS) --build-tests
	$(SWIFT) test $(TESTFLAGS) --skip-build

clean:
	rm -rf .build
