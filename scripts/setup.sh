#!/usr/bin/env bash
# Installs everything dcnet needs on a Debian 12 machine (run as root), idempotently:
# the system packages its data plane and tests use, then the npm dependencies and the build.
# Fast when everything is already there: apt is only touched when a binary is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# package -> a file it installs; apt runs only if one of these files is missing.
declare -A probe=(
  [iproute2]=/usr/sbin/ip
  [nftables]=/usr/sbin/nft
  [containernetworking-plugins]=/usr/lib/cni/bridge
  [haproxy]=/usr/sbin/haproxy
  [openssl]=/usr/bin/openssl
  [etcd-server]=/usr/bin/etcd
  [etcd-client]=/usr/bin/etcdctl
  [dnsperf]=/usr/bin/dnsperf
  [bind9-dnsutils]=/usr/bin/dig
  [dnsmasq-base]=/usr/sbin/dnsmasq
  [docker.io]=/usr/sbin/dockerd
  [iputils-ping]=/usr/bin/ping
  [netcat-openbsd]=/usr/bin/nc.openbsd
  [curl]=/usr/bin/curl
  [wrk]=/usr/bin/wrk
  [iperf3]=/usr/bin/iperf3
  [conntrack]=/usr/sbin/conntrack
  [iptables]=/usr/sbin/iptables
  [busybox-static]=/usr/bin/busybox
  [tcpdump]=/usr/bin/tcpdump
)
missing=()
for pkg in "${!probe[@]}"; do
  [ -e "${probe[$pkg]}" ] || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing system packages (${missing[*]}); run this script as root" >&2
    exit 1
  fi
  echo "setup: installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm dependencies: reinstall only when the lock file changed since the last install.
stamp=node_modules/.dcnet-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "setup: installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

# Build (incremental: tsc only rewrites what changed).
npm run --silent build

# Mesos' network/cni isolator runs the `type` of each config in its plugins dir: the configs
# `dcnet agent` writes name `mesos-cni-port-mapper`, which DC/OS ships and Debian does not. Install
# dcnet's compatible one there when that name is absent (a real Mesos' binary is left alone).
# A script dcnet wrote before (marked) is rewritten for this checkout, so it never points at an old one.
pm=/usr/lib/cni/mesos-cni-port-mapper
want=$(printf '#!/bin/sh\n# dcnet port-mapper (scripts/setup.sh)\nexec %q %q "$@"\n' "$(command -v node)" "$PWD/dist/src/overlay/port-mapper/main.js")
if [ "$(id -u)" -eq 0 ] && [ -d /usr/lib/cni ] &&
  { [ ! -e "$pm" ] || grep -q -e '^# dcnet port-mapper' -e 'port-mapper/main.js' "$pm"; } &&
  [ "$(cat "$pm" 2>/dev/null)" != "$want" ]; then
  echo "setup: installing $pm (dcnet's port-mapper)"
  printf '%s\n' "$want" >"$pm.tmp" && chmod 755 "$pm.tmp" && mv "$pm.tmp" "$pm"
fi
