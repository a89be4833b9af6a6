#!/usr/bin/env bash
# The bench's setup step: installs what neither npm nor cargo brings, i.e.
# Mosquitto (Debian package). Exits non-zero when it cannot; the bench then
# shows Mosquitto as "n/a" instead of failing.
set -u
if [ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "setup: no apt-get here; install mosquitto by hand" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "setup: not root and no sudo; install mosquitto by hand" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null && $SUDO apt-get install -y -qq --no-install-recommends mosquitto >/dev/null
status=$?
# The package may start a system daemon; the bench starts its own, so stop
# that one (it is ours: this script just installed it).
if [ $status -eq 0 ] && command -v service >/dev/null 2>&1; then
  $SUDO service mosquitto stop >/dev/null 2>&1 || true
fi
exit $status
