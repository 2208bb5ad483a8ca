#!/usr/bin/env bash
# The Debian packages the tests use for real, in one place (.ci/run and `npm test` use it).
#
#   bash scripts/system-deps.sh            report: exit 0 when all are there, else name them and exit 1
#   bash scripts/system-deps.sh --install  install the missing ones with apt-get (as root, or through sudo)
#   bash scripts/system-deps.sh --auto     `npm test`'s pretest: install when allowed without a
#                                          password prompt (root, or passwordless sudo), else say
#                                          exactly what to run and exit 1. GPUSERVE_NO_INSTALL=1
#                                          turns the install off (report only).
#
# For the tests of this script: SYSTEM_DEPS_ROOT prefixes the binary paths, APT_GET replaces apt-get.
set -euo pipefail
# package:binary the tests call
DEPS=(chromium:/usr/bin/chromium prometheus:/usr/bin/prometheus prometheus:/usr/bin/promtool redis-server:/usr/bin/redis-server nginx:/usr/sbin/nginx
  containerd:/usr/bin/containerd containerd:/usr/bin/ctr docker-registry:/usr/bin/docker-registry skopeo:/usr/bin/skopeo curl:/usr/bin/curl python3:/usr/bin/python3
  awscli:/usr/bin/aws)
ROOT_PREFIX=${SYSTEM_DEPS_ROOT:-}
APT=${APT_GET:-apt-get}
mode=${1:-report}
case "$mode" in report|--install|--auto) ;; *) echo "usage: $0 [--install|--auto]" >&2; exit 2 ;; esac

missing=()
for d in "${DEPS[@]}"; do
  pkg=${d%%:*}; bin=${d#*:}
  [ -x "$ROOT_PREFIX$bin" ] || missing+=("$pkg")
done
missing=($(printf '%s\n' "${missing[@]:-}" | sort -u | grep -v '^$' || true))
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi

# How this user may install: directly as root, through sudo without a password, or not at all.
SUDO=""
can_install=no
if [ "$(id -u)" -eq 0 ]; then can_install=yes
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; can_install=yes
fi
command -v "$APT" >/dev/null 2>&1 || can_install=no-apt

explain() {
  echo "The tests run these programs for real and need the Debian packages: ${missing[*]}" >&2
  if [ "$can_install" = no-apt ]; then
    echo "This machine has no apt-get: install ${missing[*]} with your package manager so that these exist:" >&2
    for d in "${DEPS[@]}"; do echo "  ${d#*:}" >&2; done
  else
    echo "Install them once with:  sudo apt-get install -y ${missing[*]}   (or: npm run test:deps)" >&2
  fi
}

if [ "$mode" = report ] || { [ "$mode" = --auto ] && { [ "${GPUSERVE_NO_INSTALL:-}" = 1 ] || [ "$can_install" != yes ]; }; }; then
  explain
  exit 1
fi
if [ "$can_install" = no-apt ]; then explain; exit 1; fi
if [ "$mode" = --install ] && [ "$can_install" = no ]; then SUDO="sudo"; fi
echo "== installing Debian packages for the tests: ${missing[*]} (${SUDO:-as root} $APT install)" >&2
$SUDO "$APT" update -qq
DEBIAN_FRONTEND=noninteractive $SUDO "$APT" install -y -qq "${missing[@]}" >/dev/null
