#!/usr/bin/env bash
# Make sure Debian's chromium exists for the dashboard's browser test (driven by Playwright
# from PyPI through executable_path; a browser download such as `playwright install` is never
# used). Where it cannot be had, the test skips and says why.
set -euo pipefail
# fonts-wqy-microhei: the zh page (and its screenshots) needs a CJK font, else boxes show.
if { command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; } && \
   fc-list 2>/dev/null | grep -qi -e microhei -e cjk; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing chromium (apt-get) for the dashboard's browser test" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null \
    || echo "could not install chromium; the browser test will be skipped" >&2
else
  echo "chromium not found and cannot install it; the browser test will be skipped" >&2
fi
