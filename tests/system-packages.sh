#!/usr/bin/env bash
# Install the Debian packages the test suite needs, once; used by `make test`
# and by .ci/run, so the README's two commands are really two.
#
# Usage: tests/system-packages.sh [--check]
#   --check   list what is missing and exit 1 if anything is (installs nothing)
#
# apt-get runs as root directly, through sudo otherwise (non-interactively:
# `sudo -n`, so a password prompt never hangs a run); when neither works the
# script names the packages and the command to run, and exits 1.
#
# Every entry is "how to tell it is there" + "the Debian package that has it".
# The tests name the same package when a tool is missing (never a skip).
set -euo pipefail

check_only=false
[ "${1:-}" = "--check" ] && check_only=true

need=()
want() { # want PACKAGE TEST...
  local pkg="$1"
  shift
  "$@" >/dev/null 2>&1 || need+=("$pkg")
}
has() { command -v "$1"; }
file() { [ -e "$1" ]; }

# Set-up itself: a venv for the project, gcc for uwsgi (the Glance test venv).
want make has make
want python3-venv python3 -c 'import ensurepip, venv'
want build-essential has gcc
want git has git
# Linked data: Virtuoso 7; the HTML report rendered in headless Chromium.
want virtuoso-opensource has virtuoso-t
want chromium has chromium
# Image recipes: the build tools, GRUB for bare disks, QEMU for the boot checks.
want mmdebstrap has mmdebstrap
want e2fsprogs has debugfs
want fdisk has sfdisk
want qemu-utils has qemu-img
want qemu-system-x86 has qemu-system-x86_64
want grub-pc-bin file /usr/lib/grub/i386-pc/boot.img
# Volume pools: the restricted SSH wrapper is tested through a real sshd.
want openssh-server file /usr/sbin/sshd
want openssh-client has ssh
# The lab storage host: libiscsi's userspace initiator, QEMU's iSCSI block
# driver (qemu-io writes and reads volumes), and the network namespace tools.
want libiscsi-bin has iscsi-inq
want qemu-block-extra file /usr/lib/x86_64-linux-gnu/qemu/block-iscsi.so
want iproute2 has ip
want util-linux has nsenter
# mmdebstrap fetches Debian's packages; the lab image needs contrib (zfs-dkms).
want ca-certificates file /etc/ssl/certs/ca-certificates.crt

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if $check_only; then
  echo "missing Debian packages: ${need[*]}"
  exit 1
fi

if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "the tests need these Debian packages: ${need[*]}" >&2
  echo "install them as root (no root here and sudo cannot run without a password):" >&2
  echo "  sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi

echo "installing Debian packages: ${need[*]}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -q >/dev/null
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -q "${need[@]}" >/dev/null
echo "Debian packages installed in $(($(date +%s) - start)) s"
