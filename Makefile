# The two commands of the README: `make demo` (the whole flow in one process on the embedded
# directory grant store) and `make test` (every test). CI runs `make test` via .ci/run.

CARGO ?= cargo
# Where cargo puts its output (honours CARGO_TARGET_DIR).
TARGET_DIR ?= $(abspath $(or $(CARGO_TARGET_DIR),target))

.PHONY: fmt venv-wheel dist dist-python dist-jvm dist-c dist-bin install test-install test-install-python test-install-c generated demo demo-kafka bench-kafka bench-kafka-json bench-perf-test bench-miss-storm test lint test-rust test-core-portable test-c examples-c test-python test-kafka bench-python test-jvm bench-jvm bench bench-build fuzz-smoke vectors

demo:
	$(CARGO) run --release -q -p rewrap-cli -- demo

# The same flow on a real broker through the rewrap proxy (starts and stops both).
demo-kafka:
	tests/kafka/demo.sh

# The demos run the binaries test-rust built (one feature set for the whole run: a `-p` build
# unifies features differently and recompiles Shotover and everything that derives serde).
# Benches and examples are built (in debug, linted by clippy) by test-rust; `make bench-build`
# compiles them in release, which make test leaves out (a third build of every dependency).
test: fmt test-rust test-core-portable test-c examples-c test-python test-jvm test-kafka test-install
	$(TARGET_DIR)/debug/rewrap demo --messages 600 --mode producer
	$(TARGET_DIR)/debug/rewrap demo --messages 600 --mode channel
	REWRAP_PROFILE=debug REWRAP_PREBUILT=1 tests/kafka/demo.sh --messages 300 --mode channel

# `make test` lints while it builds: clippy-driver is the compiler of our own crates (as
# `cargo clippy` runs it, warnings denied) in test-rust's and test-core-portable's builds of
# every target (benches and examples too), so dependencies are compiled once instead of checked
# for clippy and then built again (8 of CI's minutes). Crates a build reuses are not linted
# again: `make lint` runs cargo clippy on its own (workspace with the CLI's real-broker feature,
# then rewrap-core alone, no_std).
CLIPPY_WRAP = RUSTC_WORKSPACE_WRAPPER="$$(command -v clippy-driver)" CLIPPY_ARGS=-Dwarnings
fmt:
	$(CARGO) fmt --all -- --check

lint: fmt
	$(CARGO) clippy --workspace --all-targets --features rewrap-cli/kafka -- -D warnings
	$(CARGO) clippy -p rewrap-core --all-targets -- -D warnings

# The workspace run builds rewrap-core with `std` (ring AES-GCM backend), and the CLI with its
# real-broker demo; test-kafka and the demos reuse this build.
# Every build of this feature set goes through clippy-driver, so the lint build, the test run
# and test-kafka's executable list share one set of artifacts.
WORKSPACE_TEST = $(CLIPPY_WRAP) $(CARGO) test --workspace --features rewrap-cli/kafka
test-rust:
	command -v clippy-driver >/dev/null
	$(WORKSPACE_TEST) --tests --bins --examples --benches --no-run
	$(WORKSPACE_TEST)

# rewrap-core alone: no_std + alloc with the portable RustCrypto AES-GCM backend.
test-core-portable:
	$(CLIPPY_WRAP) $(CARGO) test -p rewrap-core --all-targets --no-run
	$(CLIPPY_WRAP) $(CARGO) test -p rewrap-core

# The C ABI from C: tests built warning-free as C11 (and the header as C++17), run plainly
# and under valgrind memcheck (any leak or memory error fails).
CFLAGS_STRICT = -std=c11 -Wall -Wextra -Werror -pedantic -Iinclude
CXXFLAGS_STRICT = -std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude
C_LIBS = $(TARGET_DIR)/debug/librewrap_ffi.a -lpthread -ldl -lm
VALGRIND = valgrind --quiet --error-exitcode=1 --leak-check=full --suppressions=tests/c/valgrind.supp \
	--errors-for-leak-kinds=definite,indirect,possible --show-leak-kinds=definite,indirect,possible

test-c:
	$(CARGO) build -p rewrap-ffi
	mkdir -p $(TARGET_DIR)/c
	$(CC) $(CFLAGS_STRICT) tests/c/test_rewrap.c $(C_LIBS) -o $(TARGET_DIR)/c/test_rewrap
	$(CXX) $(CXXFLAGS_STRICT) tests/c/header_cpp.cpp $(C_LIBS) -o $(TARGET_DIR)/c/header_cpp
	$(TARGET_DIR)/c/header_cpp
	$(TARGET_DIR)/c/test_rewrap tests/vectors/records.kv
	$(VALGRIND) $(TARGET_DIR)/c/test_rewrap tests/vectors/records.kv

# The wheel dist-python built (the one release build of the binding), installed from
# dist/python into a venv as a user would install it, then its pytest suite (scenario, vectors,
# errors, threads, serializers, umbral-pre interop); test-kafka reuses the venv.
PYTHON ?= python3
VENV = $(TARGET_DIR)/venv

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip

# The dist wheel and its test extras in the venv (test-python, bench-python).
venv-wheel: dist-python $(VENV)/bin/python
	$(VENV)/bin/pip install -q --force-reinstall --no-deps --no-index --find-links $(DIST)/python rewrap
	$(VENV)/bin/pip install -q --find-links $(DIST)/python "rewrap[test]"

test-python: venv-wheel
	$(VENV)/bin/pytest -q -p no:cacheprovider -m 'not kafka' python/tests

# Real Apache Kafka (tests/kafka/broker.sh): started here, stopped whatever the outcome, its
# log printed on failure.
KAFKA_DIR = $(TARGET_DIR)/kafka
# Python, Rust end-to-end and hostile-client suites against one broker (tests/kafka/run-tests.sh).
# The proxy and its test executables come from test-rust's build.
test-kafka: test-python examples-c test-jvm
	$(WORKSPACE_TEST) --no-run --message-format=json-render-diagnostics > $(TARGET_DIR)/test-executables.json
	tests/kafka/run-tests.sh $(KAFKA_DIR) $(TARGET_DIR) $(VENV) $(TARGET_DIR)/test-executables.json

# Kafka end to end: plaintext vs sealed vs through the proxy vs Shotover alone (docs/BENCHMARKS.md),
# for 100 B, 1 KiB and 10 KiB records and every topic codec.
bench-kafka:
	REWRAP_BENCH_SIZES="100 1024 10240" benches/kafka/run.sh

# Compressible payloads: ~1 KiB JSON events on an lz4 topic, sealed with no inner codec, lz4
# and zstd; each run against plaintext on the same topic codec (bytes on disk, throughput).
bench-kafka-json:
	REWRAP_BENCH_PAYLOAD=json REWRAP_BENCH_CODECS=lz4 REWRAP_BENCH_INNER="none lz4 zstd" benches/kafka/run.sh 100000 2

# Kafka's own perf-test tools direct, through rewrap and through Shotover; the sizing rule.
bench-perf-test:
	benches/kafka/perf_test.sh

# An honest consumer's fetch throughput with and without a storm of 1,000 new sessions/s.
bench-miss-storm:
	benches/kafka/miss_storm.sh

bench-python: venv-wheel
	$(VENV)/bin/python python/bench/bench_binding.py

# The JVM library: Maven builds the JNI crate with cargo (dist profile), packs it into the jar,
# runs the JUnit 5 suite (surefire prints its summary) and deploys the tested jar, with its
# sources and javadoc jars, to dist/maven (what dist-jvm ships).
MVN ?= mvn -B -ntp
test-jvm:
	cd jvm && $(MVN) deploy -DaltDeploymentRepository=dist::file:$(DIST)/maven
	cd jvm && $(MVN) -q dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile=target/classpath.txt

bench-jvm:
	cd jvm && $(MVN) -q -DskipTests package && $(MVN) -q test-compile
	java -cp jvm/target/classes:jvm/target/test-classes io.rewrap.bench.JniOverhead

# librdkafka producer and consumer on the C ABI (Debian librdkafka-dev).
examples-c:
	$(CARGO) build -p rewrap-ffi
	$(MAKE) -C examples/c TARGET_DIR=$(TARGET_DIR)

bench-build:
	$(CARGO) bench -p rewrap -p rewrap-ffi -p rewrap-proxy --no-run

bench:
	$(CARGO) bench --bench engine
	$(CARGO) bench -p rewrap-ffi --bench abi
	$(CARGO) bench -p rewrap-proxy --bench rewrite

# Rewrites the binding sources generated from the engine's tables (the C header, the Java
# exception and constant classes, the Python stubs' block, FORMAT.md's code table) after a new
# error kind or constant.
generated:
	REWRAP_BLESS=1 $(CARGO) test -p rewrap-ffi --test header
	REWRAP_BLESS=1 $(CARGO) test -p rewrap --test generated
	REWRAP_BLESS=1 $(CARGO) test -p rewrap --test vectors

# Rewrites tests/vectors/records.json after an intended format change.
vectors:
	REWRAP_BLESS=1 $(CARGO) test -p rewrap --test vectors

# Needs a nightly toolchain and cargo-fuzz; not part of `make test`.
fuzz-smoke:
	cd fuzz && for t in envelope edek cfrag grant record fetch_rewrite request_inspect; do \
		$(CARGO) +nightly fuzz run $$t -- -max_total_time=30 || exit 1; done

# ---------------------------------------------------------------------------------------------
# Binary packages (README "Install"): everything lands in dist/, built with the `dist` cargo
# profile (fat LTO, no debuginfo, stripped). `make test` builds the libraries' packages and
# installs them as a user would (test-install, and the Java steps of tests/kafka/run-tests.sh).
DIST ?= $(abspath dist)
PREFIX ?= /usr/local
# The one version (Cargo.toml [workspace.package]; tests/version.rs checks the others agree).
VERSION := $(shell sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)

dist: dist-python dist-jvm dist-c dist-bin

# The Python wheels (abi3: one wheel per platform for CPython 3.9 and later) into dist/python,
# for x86_64 and aarch64 Linux. zig links them against glibc 2.17 (manylinux2014), so they
# install on any Linux since 2014 whatever glibc builds them, and cross-links aarch64 (a rustup
# target, added when missing; that wheel is checked here, not run). auditwheel must find each
# wheel manylinux_2_17 for its architecture or the target fails. maturin, zig and auditwheel
# come from PyPI into a tools venv, pinned so every machine builds the same (the venv leads
# PATH, where maturin looks for zig).
DIST_VENV = $(TARGET_DIR)/dist-venv
DIST_TOOLS = maturin==1.16.0 ziglang==0.17.1 auditwheel==6.8.2
# make test builds (and runs) the wheel of this machine only; `make dist` also cross-builds the
# aarch64 one (zig; checked by auditwheel, not run here).
PYTHON_WHEEL_TARGETS ?= $(shell uname -m)-unknown-linux-gnu
dist: PYTHON_WHEEL_TARGETS = x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu
dist-python:
	test -x $(DIST_VENV)/bin/python || $(PYTHON) -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/pip install -q $(DIST_TOOLS)
	rm -rf $(DIST)/python
	set -e; for target in $(PYTHON_WHEEL_TARGETS); do \
		test -d "$$(rustc --print sysroot)/lib/rustlib/$$target" || rustup target add $$target; \
		PATH=$(DIST_VENV)/bin:$$PATH maturin build -m python/Cargo.toml --profile dist \
			--zig --compatibility manylinux2014 --target $$target --out $(DIST)/python; \
		arch=$${target%%-*}; \
		$(DIST_VENV)/bin/auditwheel show $(DIST)/python/rewrap-*_$$arch.whl | tee $(TARGET_DIR)/auditwheel-$$arch.txt; \
		tr -s '\n ' '  ' < $(TARGET_DIR)/auditwheel-$$arch.txt \
			| grep -q "consistent with the following platform tag: \"manylinux_2_17_$$arch\"" \
			|| { echo "dist-python: auditwheel does not find the $$arch wheel manylinux_2_17 (above)" >&2; exit 1; }; \
	done

# The jar (stripped native library per platform), its sources and javadoc jars, in a Maven
# repository layout under dist/maven.
dist-jvm:
	cd jvm && $(MVN) -DskipTests clean deploy -DaltDeploymentRepository=dist::file:$(DIST)/maven

# The C package into dist/c: lib/librewrap_ffi.so and .a, include/rewrap.h, lib/pkgconfig/rewrap.pc.
dist-c:
	$(CARGO) build --profile dist -p rewrap-ffi
	CARGO="$(CARGO)" ffi/package.sh $(TARGET_DIR)/dist $(DIST)/c

# The C package into PREFIX (from dist/c), under DESTDIR if set; the .pc gets PREFIX. Builds
# nothing (so `sudo make install` runs no cargo): `make dist-c` first.
install:
	@test -f $(DIST)/c/lib/pkgconfig/rewrap.pc || { echo "no C package in $(DIST)/c: run make dist-c first" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/share/doc/rewrap
	cp -P --remove-destination $(DIST)/c/lib/librewrap_ffi.* $(DESTDIR)$(PREFIX)/lib/
	install -m 644 $(DIST)/c/include/rewrap.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(DIST)/c/share/doc/rewrap/LICENSE $(DESTDIR)$(PREFIX)/share/doc/rewrap/
	sed 's|^prefix=.*|prefix=$(PREFIX)|' $(DIST)/c/lib/pkgconfig/rewrap.pc > $(DESTDIR)$(PREFIX)/lib/pkgconfig/rewrap.pc

# The proxy and the CLI (with its Kafka commands) as release binaries, with the sample topology
# and config (proxy/config, the README's), into dist/bin and one tarball. Both link the
# system's OpenSSL 3 (librdkafka's TLS and SASL).
BIN_PACKAGE = rewrap-$(VERSION)-linux-$(shell uname -m)
dist-bin:
	$(CARGO) build --profile dist -p rewrap-proxy -p rewrap-cli --features rewrap-cli/kafka
	rm -rf $(DIST)/bin $(DIST)/$(BIN_PACKAGE)
	mkdir -p $(DIST)/bin $(DIST)/$(BIN_PACKAGE)/bin $(DIST)/$(BIN_PACKAGE)/etc/rewrap-proxy
	cp $(TARGET_DIR)/dist/rewrap-proxy $(TARGET_DIR)/dist/rewrap $(DIST)/bin/
	cp $(DIST)/bin/* $(DIST)/$(BIN_PACKAGE)/bin/
	cp proxy/config/topology.yaml proxy/config/config.yaml $(DIST)/$(BIN_PACKAGE)/etc/rewrap-proxy/
	cp LICENSE CHANGELOG.md $(DIST)/$(BIN_PACKAGE)/
	tar -C $(DIST) -czf $(DIST)/$(BIN_PACKAGE).tar.gz $(BIN_PACKAGE)
	$(DIST)/bin/rewrap --version | grep -qx "rewrap $(VERSION)"
	$(DIST)/bin/rewrap-proxy --version | grep -q "^rewrap-proxy $(VERSION) "
	ls -l $(DIST)/bin $(DIST)/$(BIN_PACKAGE).tar.gz

# Fresh-machine install tests without a broker: a new venv with no Rust on PATH installs the
# wheel; a C program built with pkg-config against an installed prefix.
test-install: test-install-python test-install-c

# tests/install/python.sh: a new venv with no Rust on PATH, the wheel file from dist/python,
# the seed scenario against the installed package; Cargo's version, a stripped extension.
test-install-python: dist-python
	PYTHON=$(PYTHON) tests/install/python.sh $(DIST)/python $(TARGET_DIR)/install-venv

test-install-c: dist-c
	rm -rf $(TARGET_DIR)/install-prefix
	$(MAKE) install PREFIX=$(TARGET_DIR)/install-prefix DESTDIR=
	tests/install/c/run.sh $(TARGET_DIR)/install-prefix $(TARGET_DIR)/install-c
