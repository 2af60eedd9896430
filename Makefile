# Thin wrapper over CMake/CTest. `make demo` and `make test` are all the set-up on Debian 12.
PRESET ?= default
BUILD_DIR ?= build

.PHONY: all deps configure build test demo bench lint tidy format clean

all: build

deps:
	bash deploy/install-deps.sh

configure: deps
	cmake --preset $(PRESET)

build: configure
	cmake --build --preset $(PRESET)

test: build
	bash deploy/lint.sh
	bash deploy/tidy.sh $(BUILD_DIR)
	ctest --preset $(PRESET)

demo: build
	bash deploy/demo.sh

# Benchmarks (bench/): built in build-bench (Release); each prints its ratio to a baseline.
bench: deps
	cmake --preset bench
	cmake --build --preset bench

lint:
	bash deploy/lint.sh

tidy: build
	bash deploy/tidy.sh $(BUILD_DIR)

format:
	bash deploy/lint.sh --fix

clean:
	rm -rf $(BUILD_DIR)
