#!/usr/bin/env bash
# Makes sure Debian's Chromium is installed: the browser test of deeprank
# serve's page (TestServeBrowser in cmd/deeprank, driven with chromedp, which
# needs no chromedriver) runs it headless. Runs as root.
# Usage: scripts/chromium.sh
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
echo "chromium: installing Debian's chromium"
"$(dirname "$0")/apt-install.sh" chromium
