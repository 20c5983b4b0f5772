#!/usr/bin/env bash
# Installs FastChat's own `show_result.py` (from the fschat wheel on the Python package
# index, never copied into the repository) with pandas in a virtual environment, so a test
# can check that the judgment files shinpan writes give FastChat's numbers. The directory is
# $SHINPAN_FASTCHAT_DIR, else ~/.cache/shinpan/fastchat. Idempotent.
set -euo pipefail
DIR="${SHINPAN_FASTCHAT_DIR:-$HOME/.cache/shinpan/fastchat}"
FSCHAT=fschat==0.2.36
mkdir -p "$DIR"
if [ ! -x "$DIR/venv/bin/python" ] || ! "$DIR/venv/bin/python" -c "import pandas" 2>/dev/null; then
  echo "fetch-fastchat: installing pandas into $DIR/venv" >&2
  rm -rf "$DIR/venv"
  python3 -m venv "$DIR/venv"
  "$DIR/venv/bin/python" -m pip install -q --disable-pip-version-check "pandas==2.0.3" "numpy==1.26.4"
fi
if [ ! -f "$DIR/show_result.py" ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-fastchat: downloading $FSCHAT" >&2
  python3 -m pip download -q --no-deps --disable-pip-version-check -d "$work" "$FSCHAT"
  python3 -m zipfile -e "$work"/fschat-*.whl "$work/x"
  cp "$work/x/fastchat/llm_judge/show_result.py" "$DIR/show_result.py.tmp"
  mv "$DIR/show_result.py.tmp" "$DIR/show_result.py"
fi
echo "$DIR"
