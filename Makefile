# Dyna top-level Makefile: set-up, build and test behind two commands.
#   make        build bin/dynad, bin/dyna, lib/libdyna.a (gcc, RelWithDebInfo)
#   make run    build and start a node (see README.md)
#   make test   build with gcc and with clang+ASan+UBSan, run every test, fuzz smoke
#   make sim SEED=n   replay one simulator seed
#   make release  a Release build in build-release/ without deliberate test bugs
#   make tsan-test  the promise tests under ThreadSanitizer (build-tsan/; not in `make test`)
#   make asan | tsan | fuzz | bench | clean
.PHONY: all build setup run test asan tsan tsan-test fuzz sim bench clean release

BUILD      ?= build
JOBS       ?= $(shell nproc)
CMAKE_GEN   = -G Ninja

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_C_COMPILER=gcc -DDYNA_TOP_OUTPUT=ON -DDYNA_TEST_BUGS=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The release build: -O2, no deliberate test bugs (CMake refuses DYNA_TEST_BUGS=ON in a
# Release build; its dynad refuses to start when the variable DYNA_TEST_BUGS is set).
# Binaries in build-release/bin.
release: setup
	@cmake -S . -B build-release $(CMAKE_GEN) -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release -DDYNA_TEST_BUGS=OFF >/dev/null
	@cmake --build build-release -j $(JOBS)

asan: setup
	@cmake -S . -B build-asan $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DDYNA_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug -DDYNA_TEST_BUGS=ON >/dev/null
	@cmake --build build-asan -j $(JOBS)

# ThreadSanitizer build (clang, build-tsan/): the loop against the LMDB engine's log and
# checkpoint threads. A Debug build at -O1 with the deliberate test bugs, like `make asan`,
# so that every promise test and the campaign's bug checks run in it.
# `make tsan-test` runs the unit tests, the promise tests against real dynad and the
# campaign in it (scripts/tsan-test.sh: TSan's options, reports collected from every
# process, tests/tsan.supp): 3-4 minutes on two loaded cores; not part of `make test`,
# which must stay under 15 minutes (docs/reliability.md, Under ThreadSanitizer).
tsan: setup
	@cmake -S . -B build-tsan $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=Debug -DDYNA_TEST_BUGS=ON \
	  -DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -O1" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=thread" >/dev/null
	@cmake --build build-tsan -j $(JOBS)

tsan-test: tsan
	@bash scripts/tsan-test.sh

fuzz: setup
	@cmake -S . -B build-fuzz $(CMAKE_GEN) -DCMAKE_C_COMPILER=clang -DDYNA_SANITIZE=ON -DDYNA_FUZZ=ON >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target fuzz_all

run: build
	@SECURE=$(or $(SECURE),0) bash scripts/run.sh

test: build asan fuzz
	@bash scripts/test.sh

sim: build
	@./bin/dyna-sim --seed $(or $(SEED),1)

bench: build
	@bash bench/single.sh

clean:
	rm -rf $(BUILD) build-asan build-release build-tsan build-fuzz bin lib var
