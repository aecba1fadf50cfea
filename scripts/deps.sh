#!/bin/sh
# deps.sh - install the Debian packages listed in scripts/packages.txt (and
# any extra list files given as arguments) that are missing. Needs root to
# install; without root it only reports what is missing.
set -eu
here=$(dirname "$0")
lists="$here/packages.txt $*"
missing=""
for pkg in $(cat $lists | sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$'); do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
        missing="$missing $pkg"
    fi
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" != 0 ]; then
    echo "deps: not root; please install:$missing" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing
