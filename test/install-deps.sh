#!/bin/bash
# Installs what secgw's tests need on Debian 12, only what is missing.
set -euo pipefail

need=()
command -v yanglint >/dev/null || need+=(libyang2-tools)

if [ ${#need[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "install-deps: missing ${need[*]}: run as root or apt-get install them" >&2
		exit 1
	fi
	echo "install-deps: installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
go mod download
