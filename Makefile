# clscale: the commands a newcomer needs. Everything goes through CMake in build/.
BUILD ?= build
JOBS  ?= $(shell nproc 2>/dev/null || echo 2)
PREFIX ?= /usr/local

.PHONY: all deps configure build test test-all test-portable test-sanitize test-nodnnl demo bench clean install install-python

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

# The same suite on a portable x86-64 build (-DCLS_NATIVE=OFF: no -march=native).
test-portable: deps
	cmake -S . -B build-portable -DCMAKE_BUILD_TYPE=Release -DCLS_NATIVE=OFF > /dev/null
	cmake --build build-portable -j $(JOBS)
	cd build-portable && ctest --output-on-failure -LE slow

# The same suite without oneDNN (-DCLS_USE_DNNL=OFF): every product on OpenBLAS, bf16
# products as bf16-rounded inputs to fp32 GEMMs (docs/gemm.md, the fallback).
test-nodnnl: deps
	cmake -S . -B build-nodnnl -DCMAKE_BUILD_TYPE=Release -DCLS_USE_DNNL=OFF > /dev/null
	cmake --build build-nodnnl -j $(JOBS)
	cd build-nodnnl && ctest --output-on-failure -LE slow

# The fast C tests under AddressSanitizer + UndefinedBehaviorSanitizer (build-sanitize;
# the Python and MPI tests are left out there: they load the library into python/mpirun).
SANITIZE_ENV = ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
test-sanitize: deps
	cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCLS_SANITIZE=address,undefined > /dev/null
	cmake --build build-sanitize -j $(JOBS)
	cd build-sanitize && $(SANITIZE_ENV) ctest --output-on-failure -LE slow

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
	rm -rf $(BUILD) build-portable build-sanitize build-nodnnl

# Library (.so/.a), headers, CLI, pkg-config and CMake package files into PREFIX.
install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

# The Python package into PREFIX with Debian's pip, no network (docs/python.md).
install-python:
	/usr/bin/python3 -m pip install --no-build-isolation --no-deps --no-index --prefix $(PREFIX) ./python
