#!/usr/bin/env bash
# Create the project's virtualenv. On a bare Debian, python3 -m venv needs python3-venv: install it
# when running as root.
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
if [ -z "$python" ]; then
  echo "Python 3.11 is needed (python3.11 or python3 on PATH)." >&2
  exit 1
fi
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    version=$("$python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "python${version}-venv" || \
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    "$python" -m venv "$venv"
  else
    echo "Cannot create a virtualenv: install python3-venv (sudo apt-get install python3-venv)." >&2
    exit 1
  fi
fi
"$venv/bin/pip" install --disable-pip-version-check -q --upgrade pip
