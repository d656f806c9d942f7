#!/bin/sh
# Installs the Debian packages that tests and `expertmesh up` need (nats-server), when they are missing.
set -eu
missing=""
command -v nats-server >/dev/null 2>&1 || [ -x /usr/sbin/nats-server ] || missing="$missing nats-server"
[ -z "$missing" ] && exit 0
echo "install-system-deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing
