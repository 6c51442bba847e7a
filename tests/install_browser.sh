#!/usr/bin/env bash
# Installs what the browser tests need and pip cannot give: Debian's chromium and a CJK font.
# Does nothing when both are present; needs root (or sudo) when they are not.
set -euo pipefail
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"
have_font() { command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }
if [ -x "$chromium" ] && have_font; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then sudo=""; elif command -v sudo >/dev/null; then sudo="sudo"; else
  echo "install_browser: chromium or a CJK font is missing and this user cannot apt-get install;" >&2
  echo "  run: apt-get install chromium fonts-wqy-microhei (browser tests skip without them)" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei fontconfig >/dev/null
echo "install_browser: $("$chromium" --version 2>/dev/null || echo chromium installed)"
