#!/bin/sh
# Debian's Chromium for the console's browser tests: `tools/chromium.sh` prints the binary's path,
# installing the Debian package first when it is missing (needs root and apt). Playwright drives
# this binary (executable_path); it never downloads a browser of its own (no `playwright install`).
set -eu

for bin in /usr/bin/chromium /usr/lib/chromium/chromium; do
    if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
done
if [ "$(id -u)" != 0 ]; then echo "chromium.sh: chromium is not installed and we are not root" >&2; exit 1; fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2 && apt-get install -y -q chromium >&2
[ -x /usr/bin/chromium ] || { echo "chromium.sh: the chromium install failed" >&2; exit 1; }
echo /usr/bin/chromium
