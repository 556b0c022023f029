#!/usr/bin/env bash
# Chromium, headless: the admin page's test (host/service) drives it through the DevTools
# protocol to check the page in a real browser and take its screenshot.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/deps-lib.sh
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1; then
	echo "deps: installing chromium"
	apt_install chromium
fi
