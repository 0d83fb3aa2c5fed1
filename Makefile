# The two commands of the README: `make demo` (the whole flow in one process on the embedded
# directory grant store) and `make test` (every test). CI runs `make test` via .ci/run.

CARGO ?= cargo

.PHONY: demo test lint test-rust test-core-portable bench bench-build fuzz-smoke vectors

demo:
	$(CARGO) run --release -q -p rewrap-cli -- demo

test: lint test-rust test-core-portable bench-build
	$(CARGO) run -q -p rewrap-cli -- demo --messages 600 --mode producer
	$(CARGO) run -q -p rewrap-cli -- demo --messages 600 --mode channel

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p rewrap-core --all-targets -- -D warnings

# The workspace run builds rewrap-core with `std` (ring AES-GCM backend).
test-rust:
	$(CARGO) test --workspace

# rewrap-core alone: no_std + alloc with the portable RustCrypto AES-GCM backend.
test-core-portable:
	$(CARGO) test -p rewrap-core

bench-build:
	$(CARGO) bench --workspace --no-run

bench:
	$(CARGO) bench --bench engine

# Rewrites tests/vectors/records.json after an intended format change.
vectors:
	REWRAP_BLESS=1 $(CARGO) test -p rewrap --test vectors

# Needs a nightly toolchain and cargo-fuzz; not part of `make test`.
fuzz-smoke:
	cd fuzz && for t in envelope edek cfrag grant record; do \
		$(CARGO) +nightly fuzz run $$t -- -max_total_time=30 || exit 1; done
