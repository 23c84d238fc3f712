# clscale: the commands a newcomer needs. Everything goes through CMake in build/.
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: all deps configure build test test-all demo bench clean install install-python

all: build

deps:
	scripts/install-deps

configure:
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release > /dev/null

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# The default suite (minutes on 2 cores); `make test-all` adds the "slow" label.
test: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure -LE slow

test-all: deps
	$(MAKE) build
	cd $(BUILD) && ctest --output-on-failure

demo: deps
	$(MAKE) build
	scripts/demo

bench: deps
	$(MAKE) build
	scripts/bench

clean:
	rm -rf $(BUILD)

# Library (.so/.a), headers, CLI, pkg-config and CMake package files into PREFIX.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Python package into PREFIX with Debian's pip, no network (docs/python.md).
install-python:
	/usr/bin/python3 -m pip install --no-build-isolation --no-deps --no-index --prefix $(PREFIX) ./python
