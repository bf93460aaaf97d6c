#!/usr/bin/env bash
# Set up everything Reelytics needs on a Debian machine with Python 3.11.
#   scripts/setup.sh          runtime: virtualenv in .venv with the app installed, a CJK font
#   scripts/setup.sh --spark  also the Spark engine: pyspark (the [spark] extra) and Java 17
#   scripts/setup.sh --test   also what the tests need: Chromium (browser tests), the Spark engine with Java
# Idempotent: packages already present are not installed again.
set -euo pipefail
cd "$(dirname "$0")/.."

extras=""
apt_pkgs=()
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_pkgs+=(python3-venv)
# Chinese titles, names and the 简体中文 interface need a CJK font (browsers and charts fall back to it)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || apt_pkgs+=(fonts-noto-cjk)
if [ "${1:-}" = "--test" ]; then
  extras="[dev,spark]"
  command -v chromium >/dev/null 2>&1 || apt_pkgs+=(chromium)
elif [ "${1:-}" = "--spark" ]; then
  extras="[spark]"
fi
if [ -n "$extras" ]; then  # Debian 12's default JRE is Java 17, which Spark 4 needs
  command -v java >/dev/null 2>&1 || apt_pkgs+=(default-jre-headless)
fi
if [ ${#apt_pkgs[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "Installing Debian packages: ${apt_pkgs[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.reelytics-installed
want="$(sha256sum pyproject.toml | cut -c1-16)$extras"
have="$(cat "$stamp" 2>/dev/null || true)"
# an install with the test extras also serves the runtime
if [ "$have" != "$want" ] && ! { [ -z "$extras" ] && [ "${have%%\[*}" = "$want" ]; }; then
  echo "Installing Python packages into .venv ($extras)"
  .venv/bin/python -m pip install -q -e ".$extras"
  echo "$want" > "$stamp"
fi
