# The README's two commands are `make demo` and `make test`; both set up the machine first.
SWIFT ?= swift
FUNAD = .build/release/funad

.PHONY: setup build demo test bench clean

setup:
	./scripts/setup

build: setup
	$(SWIFT) build -c release

test: setup
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

clean:
	rm -rf .build
