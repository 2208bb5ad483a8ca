#!/usr/bin/env bash
# The Debian packages the tests use for real, in one place. Without --install it only
# reports what is missing (exit 1); with --install it installs the missing ones with
# apt-get (as root, or through sudo when available).
set -euo pipefail
# package:binary the tests call
DEPS=(chromium:/usr/bin/chromium prometheus:/usr/bin/prometheus prometheus:/usr/bin/promtool redis-server:/usr/bin/redis-server nginx:/usr/sbin/nginx)
missing=()
for d in "${DEPS[@]}"; do
  pkg=${d%%:*}; bin=${d#*:}
  [ -x "$bin" ] || missing+=("$pkg")
done
missing=($(printf '%s\n' "${missing[@]:-}" | sort -u | grep -v '^$' || true))
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "${1:-}" != "--install" ]; then
  echo "The tests need these Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}   (or: npm run test:deps)" >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "== installing Debian packages for the tests: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
