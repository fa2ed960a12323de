#!/usr/bin/env bash
# Nightly fuzzing on one machine.
#
#   fuzz/nightly.sh [SECONDS_PER_TARGET]      (default 600)
#
# Builds every target, runs each for SECONDS_PER_TARGET on a working corpus
# (fuzz/work/<target>, merged with the committed seeds of fuzz/corpus/), then
# minimizes it with `cargo fuzz cmin`. Every crash that was not in
# fuzz/artifacts/<target>/ before the run is new: the operation-sequence ones
# (differential, model_ops) are turned into shrunk counterexamples with
# `baton fuzz-import` under fuzz/counterexamples/. Exits 1 on a new crash.
#
# Environment:
#   TARGETS          targets to run (default: all of `cargo fuzz list`)
#   FUZZ_TOOLCHAIN   e.g. nightly: runs `cargo +nightly fuzz` (default: the
#                    default toolchain)
#   FUZZ_SANITIZER   none (default; works on stable) or address (nightly)
#   FUZZ_FEATURES    features of the fuzz crate, e.g. mutant-send-non-owner
#                    (fuzz-import then gets the matching --mutant)
#   FUZZ_WORK        working corpus root (default fuzz/work)
#   FUZZ_JOBS        libFuzzer -fork=N workers per target (default 1: none)
set -euo pipefail
cd "$(dirname "$0")/.."

SECS=${1:-600}
SANITIZER=${FUZZ_SANITIZER:-none}
WORK=${FUZZ_WORK:-fuzz/work}
TC=()
[ -n "${FUZZ_TOOLCHAIN:-}" ] && TC=("+$FUZZ_TOOLCHAIN")
FEAT=()
MUTANTS=()
if [ -n "${FUZZ_FEATURES:-}" ]; then
  FEAT=(--features "$FUZZ_FEATURES")
  for f in ${FUZZ_FEATURES//,/ }; do
    case $f in mutant-*) MUTANTS+=(--mutant "${f#mutant-}") ;; esac
  done
fi

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

echo "== build (sanitizer $SANITIZER${FUZZ_TOOLCHAIN:+, toolchain $FUZZ_TOOLCHAIN})"
cargo "${TC[@]}" fuzz build --sanitizer "$SANITIZER" "${FEAT[@]}"
cargo build --release --quiet
BATON=target/release/baton

TARGETS=${TARGETS:-$(cargo fuzz list)}
new_crashes=()
for t in $TARGETS; do
  corpus="$WORK/$t"
  artifacts="fuzz/artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp -n fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  before=$(ls "$artifacts")
  fork=()
  [ "${FUZZ_JOBS:-1}" -gt 1 ] && fork=(-fork="$FUZZ_JOBS" -ignore_crashes=1)
  [ -f "fuzz/dict/$t.dict" ] && fork+=(-dict="fuzz/dict/$t.dict")
  echo "== run $t for ${SECS}s"
  set +e
  cargo "${TC[@]}" fuzz run --sanitizer "$SANITIZER" "${FEAT[@]}" "$t" "$corpus" -- \
    -max_total_time="$SECS" -print_final_stats=1 "${fork[@]}" 2>&1 |
    tee "$WORK/$t.log" | grep -E '^(#[0-9]+.*(pulse|DONE)|stat::|SUMMARY|==[0-9]+==)'
  status=${PIPESTATUS[0]}
  set -e
  grep -E 'panicked|divergence:' "$WORK/$t.log" | head -5 || true
  echo "== cmin $t"
  cargo "${TC[@]}" fuzz cmin --sanitizer "$SANITIZER" "${FEAT[@]}" "$t" "$corpus" >/dev/null 2>&1 ||
    echo "cmin of $t failed (corpus kept as is)"
  echo "$t: exit $status, corpus $(ls "$corpus" | wc -l) files"
  for f in $(ls "$artifacts"); do
    if ! grep -qxF "$f" <<<"$before"; then
      new_crashes+=("$artifacts/$f")
      case $t in
        differential|model_ops)
          echo "== fuzz-import $artifacts/$f"
          "$BATON" fuzz-import "$artifacts/$f" "${MUTANTS[@]}" --out fuzz/counterexamples || true ;;
        *)
          echo "reproduce with: cargo fuzz run --sanitizer $SANITIZER $t $artifacts/$f" ;;
      esac
    fi
  done
done

if [ ${#new_crashes[@]} -gt 0 ]; then
  echo "NEW CRASHES: ${new_crashes[*]}"
  exit 1
fi
echo "no new crash"
