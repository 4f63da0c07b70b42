#!/usr/bin/env bash
# Fuzzes the multipart/form-data parser (Fuzz/FuzzMultipart) and the collection file decoder (Fuzz/FuzzCollection)
# with libFuzzer and AddressSanitizer, from the Swift toolchain (`-sanitize=fuzzer,address`), for SECONDS each.
# scripts/test.sh runs it for 30 seconds (SKIP_FUZZ=1 skips that); run it longer by hand, e.g. `scripts/fuzz.sh 3600`.
#
# Usage: scripts/fuzz.sh [SECONDS, default 300] [TARGET ...]      targets: FuzzMultipart FuzzCollection (default both)
#
# Builds in .build-fuzz/ (ENABLE_RAG_FUZZ=1 declares the targets in Package.swift). The corpus of each target grows in
# .build-fuzz/corpus/TARGET across runs, starting from small valid inputs this script writes (FuzzCollection writes
# its own: valid collection files, through RAG_FUZZ_SEEDS). A crash, a sanitizer report, a failed check (the two
# multipart parses must agree; a decoded collection must read back the same after saving), an input slower than 10 s,
# or an allocation over 2 GB stops the run: the input is kept in .build-fuzz/artifacts/TARGET/ and the script exits
# non-zero, printing how to replay it (`.build-fuzz/release/TARGET FILE`).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-300}"
shift || true
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(FuzzMultipart FuzzCollection)
scratch=.build-fuzz

# libFuzzer without its main (each target's main calls LLVMFuzzerRunDriver), from the toolchain's clang runtime.
swiftc_path="$(readlink -f "$(command -v swiftc)")"
runtime="$(ls -d "$(dirname "$swiftc_path")"/../lib/clang/*/lib/linux 2>/dev/null | head -n 1)"
fuzzer_lib="$runtime/libclang_rt.fuzzer_no_main-$(uname -m).a"
if [[ ! -f "$fuzzer_lib" ]]; then
  echo "fuzz.sh: this Swift toolchain has no libFuzzer ($fuzzer_lib not found)" >&2
  exit 1
fi

write_multipart_seeds() {
  local dir="$1"
  # One control byte (boundary choice in the top two bits, piece size in the low six), then the body.
  printf '\x05--fuzz-boundary\r\nContent-Disposition: form-data; name="file"; filename="a.pdf"\r\nContent-Type: application/pdf\r\n\r\n%%PDF-1.4 hello\r\n--fuzz-boundary--\r\n' >"$dir/seed-file"
  printf '\x00preamble\r\n--fuzz-boundary\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--fuzz-boundary\r\nContent-Disposition: form-data; name="file"; filename="we \\"ird\\"; name.txt"\r\n\r\nbody\r\n--fuzz-boundary--\r\nepilogue' >"$dir/seed-two-parts"
  printf '\x41--b\r\ncontent-disposition: form-data; name=file; filename=x.md\r\n\r\n--b\r\n--b--' >"$dir/seed-short-boundary"
  printf '\x3f--fuzz-boundary  \t\r\nContent-Disposition: form-data; name="a"\r\n\r\n\r\n--fuzz-boundary\r\n\r\nno headers\r\n--fuzz-boundary--' >"$dir/seed-blank"
}

write_multipart_dictionary() {
  cat >"$1" <<'EOF'
"--"
"\x0d\x0a"
"\x0d\x0a\x0d\x0a"
"--fuzz-boundary"
"\x0d\x0a--fuzz-boundary"
"--fuzz-boundary--"
"Content-Disposition"
"Content-Type"
"form-data"
"name="
"filename="
"\""
"\\\""
";"
EOF
}

failed=()
for target in "${targets[@]}"; do
  echo "== $target: building"
  ENABLE_RAG_FUZZ=1 swift build -c release --scratch-path "$scratch" --product "$target" \
    -Xlinker "$fuzzer_lib" -Xlinker -lstdc++ 2>&1 | grep -v "Cannot export local symbol" | tail -n 3
  binary="$scratch/release/$target"
  corpus="$scratch/corpus/$target"
  artifacts="$scratch/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  options=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="$artifacts/")
  case "$target" in
    FuzzMultipart)
      write_multipart_seeds "$corpus"
      write_multipart_dictionary "$scratch/multipart.dict"
      options+=(-dict="$scratch/multipart.dict" -max_len=4096)
      ;;
    FuzzCollection)
      export RAG_FUZZ_SEEDS="$corpus"
      options+=(-max_len=16384)
      ;;
  esac
  log="$scratch/$target.log"
  echo "== $target: fuzzing for ${seconds}s (log: $log)"
  # Swift's runtime keeps caches that LeakSanitizer would report at exit; leaks are not what this looks for.
  # Swift's own crash handler would hide the sanitizer's report.
  if SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$binary" "${options[@]}" "$corpus" >"$log" 2>&1; then
    grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)|^Done [0-9]+ runs" "$log" || true
    echo "== $target: no crash; corpus $(ls "$corpus" | wc -l) inputs"
  else
    tail -n 40 "$log"
    echo "== $target: FOUND A FAILURE; inputs in $artifacts/ (replay: $binary FILE)" >&2
    failed+=("$target")
  fi
done
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz.sh: failures in ${failed[*]}" >&2
  exit 1
fi
