#!/bin/bash -eu
# Builds baton's fuzz targets into $OUT, as ClusterFuzzLite and OSS-Fuzz
# expect: one binary per target, `<target>_seed_corpus.zip` from the
# committed seeds, and `<target>.dict` where there is a dictionary.
#
# In the base-builder-rust image, `cargo fuzz build` picks the sanitizer and
# coverage flags from the environment ($SANITIZER, $RUSTFLAGS). Without
# Docker (.ci/run, tests) run it as
#   SRC=<checkout's parent> OUT=<dir> CARGO_FUZZ_ARGS="--sanitizer none" .clusterfuzzlite/build.sh
# with SRC/baton being the checkout (or BATON_DIR pointing at it).
BATON_DIR=${BATON_DIR:-$SRC/baton}
cd "$BATON_DIR"

# shellcheck disable=SC2086
cargo fuzz build -O ${CARGO_FUZZ_ARGS:-}

FUZZ_OUT=fuzz/target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$FUZZ_OUT/$target" "$OUT/"
  if [ -d "fuzz/corpus/$target" ]; then
    rm -f "$OUT/${target}_seed_corpus.zip"
    (cd "fuzz/corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
  if [ -f "fuzz/dict/$target.dict" ]; then
    cp "fuzz/dict/$target.dict" "$OUT/$target.dict"
  fi
done
