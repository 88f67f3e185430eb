#!/usr/bin/env bash
# Installs the third-party programs the interop tests run as real peers (test/interop/peers.ts) and
# the browser and PDF tests use (chromium, poppler-utils), from the distribution's packages (Debian 12 here: orthanc 1.10.1,
# orthanc-dicomweb 1.7, dcmtk 3.6.7, nmap 7.93, chromium). Idempotent: installs only when something is
# missing, runs `apt-get update` at most once, never prompts.
#
# Debian's orthanc package may start a system service (on a machine with systemd) that listens on
# 0.0.0.0:4242 and :8042: off loopback, and in the way of the peers. A policy-rc.d keeps services from
# starting during the install, and a running orthanc service is stopped and disabled afterwards.
#
# INSTALL_PEERS_SIMULATE=1 runs `apt-get install -s` (prints what it would do, changes nothing).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PATH="$PATH:/usr/sbin:/sbin"

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n env DEBIAN_FRONTEND=noninteractive); else
    echo "install-peers: not root and no sudo: cannot install packages" >&2
    exit 1
  fi
fi

DICOMWEB_PLUGIN=/usr/share/orthanc/plugins/libOrthancDicomWeb.so

# binary -> package
declare -A PKG=(
  [Orthanc]=orthanc
  [storescp]=dcmtk
  [dcmqrscp]=dcmtk
  [dcmqridx]=dcmtk
  [echoscu]=dcmtk
  [findscu]=dcmtk
  [dump2dcm]=dcmtk
  [nmap]=nmap
  [chromium]=chromium
  [pdftoppm]=poppler-utils
  [gcc]=gcc
  [ss]=iproute2
  [vsftpd]=vsftpd
  [x11vnc]=x11vnc
  [Xvfb]=xvfb
  [Xtigervnc]=tigervnc-standalone-server
  [vncpasswd]=tigervnc-tools
  [telnetd]=inetutils-telnetd
  [xrdp]=xrdp
  [openssl]=openssl
)
# Remote-access peers (test/interop/remote-peers.ts): vsftpd, x11vnc on Xvfb, TigerVNC, GNU inetutils
# telnetd, xrdp; openssl makes their test certificates.
BASE_PACKAGES=(orthanc orthanc-dicomweb dcmtk nmap chromium vsftpd x11vnc xvfb tigervnc-standalone-server tigervnc-tools inetutils-telnetd xrdp openssl poppler-utils)

missing=()
for b in "${!PKG[@]}"; do
  command -v "$b" >/dev/null 2>&1 || missing+=("$b")
done
[ -f "$DICOMWEB_PLUGIN" ] || missing+=("$DICOMWEB_PLUGIN")

if [ "${#missing[@]}" -eq 0 ]; then
  echo "install-peers: everything present"
else
  echo "install-peers: missing: ${missing[*]}"
  packages=("${BASE_PACKAGES[@]}")
  for b in "${missing[@]}"; do
    case "$b" in
      gcc) packages+=(gcc libc6-dev) ;;
      ss) packages+=(iproute2) ;;
    esac
  done

  # Keep maintainer scripts from starting services while we install (invoke-rc.d honours this).
  created_policy=0
  simulate=()
  if [ -n "${INSTALL_PEERS_SIMULATE:-}" ]; then simulate=(-s); fi
  if [ ! -e /usr/sbin/policy-rc.d ] && [ "${#simulate[@]}" -eq 0 ]; then
    printf '#!/bin/sh\nexit 101\n' | "${SUDO[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${SUDO[@]}" chmod 755 /usr/sbin/policy-rc.d
    created_policy=1
  fi
  cleanup_policy() { if [ "$created_policy" = 1 ]; then "${SUDO[@]}" rm -f /usr/sbin/policy-rc.d; fi; }
  trap cleanup_policy EXIT

  apt_opts=(-y -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  updated=0
  for attempt in 1 2 3; do
    if [ "$updated" = 0 ]; then
      if "${SUDO[@]}" apt-get update; then updated=1; else sleep $((attempt * 5)); continue; fi
    fi
    if "${SUDO[@]}" apt-get install "${simulate[@]}" "${apt_opts[@]}" "${packages[@]}"; then break; fi
    if [ "$attempt" = 3 ]; then
      echo "install-peers: apt-get install failed" >&2
      exit 1
    fi
    sleep $((attempt * 5))
  done
  if [ "$updated" = 0 ]; then
    echo "install-peers: apt-get update failed" >&2
    exit 1
  fi
fi

# A system Orthanc, vsftpd or xrdp service would listen on 0.0.0.0: never leave one running.
if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  for svc in orthanc vsftpd xrdp xrdp-sesman; do
    if systemctl is-active --quiet "$svc" 2>/dev/null || systemctl is-enabled --quiet "$svc" 2>/dev/null; then
      echo "install-peers: stopping and disabling the system $svc service"
      "${SUDO[@]}" systemctl disable --now "$svc" || true
    fi
  done
fi

still=()
for b in "${!PKG[@]}"; do
  command -v "$b" >/dev/null 2>&1 || still+=("$b")
done
[ -f "$DICOMWEB_PLUGIN" ] || still+=("$DICOMWEB_PLUGIN")
if [ "${#still[@]}" -ne 0 ]; then
  echo "install-peers: still missing after install: ${still[*]}" >&2
  exit 1
fi

echo "install-peers: $(Orthanc --version 2>/dev/null | head -1 | sed 's#^.*/##'), $(storescp --version 2>/dev/null | head -1 | tr -d '$'), $(nmap --version | head -1), $(chromium --version 2>/dev/null || echo chromium)"
