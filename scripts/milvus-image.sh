#!/usr/bin/env bash
# Builds a local Docker image of a real Milvus standalone server, for the
# integration tests on machines that reach no container registry.
#
# The server is the full Milvus standalone binary that PyPI's "milvus"
# package (embedded Milvus) ships, lzma-compressed, with its own shared
# libraries; glibc comes from this machine. 2.3.5 is the newest release of
# that package with a Linux x86-64 wheel (2.3.6-2.3.9 ship macOS only).
# The image follows the official milvusdb/milvus layout (/milvus/bin,
# /milvus/configs, data under /var/lib/milvus; command: milvus run
# standalone), so the tests start it the way they start the official image.
#
# Usage: scripts/milvus-image.sh [TAG]   (default deeprank/milvus-standalone:v2.3.5)
# Needs: a Docker engine (scripts/docker-engine.sh), pip, xz.
set -euo pipefail
version=2.3.5
tag=${1:-deeprank/milvus-standalone:v$version}
if docker image inspect "$tag" >/dev/null 2>&1; then
  echo "milvus-image: $tag already built"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "milvus-image: fetching milvus==$version from PyPI"
pip download --quiet --no-deps --only-binary=:all: --platform manylinux2014_x86_64 \
  "milvus==$version" -d "$work/wheel"
python3 -m zipfile -e "$work"/wheel/milvus-*.whl "$work/wheel/x"
pkg=$work/wheel/x/milvus/data
root=$work/root
mkdir -p "$root/milvus/bin" "$root/milvus/lib" "$root/milvus/configs" "$root/var/lib/milvus" "$root/tmp" "$root/etc"
chmod 1777 "$root/tmp"
for f in "$pkg"/bin/*.lzma; do
  name=$(basename "$f" .lzma)
  case $name in
    milvus) dest=$root/milvus/bin/milvus ;;
    *) dest=$root/milvus/lib/$name ;;
  esac
  xz -d -c --format=auto "$f" >"$dest"
done
chmod +x "$root/milvus/bin/milvus"
# glibc and the loader, from this machine.
LD_LIBRARY_PATH=$root/milvus/lib ldd "$root/milvus/bin/milvus" | awk '/=> \// {print $3} /^\s*\/lib/ {print $1}' |
  grep -v "^$root" | sort -u | while read -r lib; do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
  done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || { mkdir -p "$root/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"; }
# The package's configuration template, filled in as its own launcher
# would: data under /var/lib/milvus, logs to stdout, default ports.
data=/var/lib/milvus
sed -E -e "s#\{\{ *etcd_data_dir *\}\}#$data/etcd#" -e "s#\{\{ *local_storage_dir *\}\}#$data#" \
  -e "s#\{\{ *rocksmq_data_dir *\}\}#$data/rocksmq#" -e 's#\{\{ *system_log_path *\}\}#""#' \
  -e 's/\{\{ *[a-z_]+(\([a-z]+\))?: *([^ }]*) *\}\}/\2/g' \
  "$pkg/config.yaml.template" >"$root/milvus/configs/milvus.yaml"
if grep -q '{{' "$root/milvus/configs/milvus.yaml"; then
  echo "milvus-image: a template variable was left unfilled" >&2
  exit 1
fi
cp "$pkg/glog.conf" "$root/milvus/configs/"
echo "root:x:0:0:root:/root:/bin/sh" >"$root/etc/passwd"
echo "milvus-image: importing $tag"
tar -C "$root" -c . | docker import \
  --change 'ENV PATH=/milvus/bin' \
  --change 'ENV LD_LIBRARY_PATH=/milvus/lib' \
  --change 'ENV MILVUSCONF=/milvus/configs' \
  --change 'ENV DEPLOY_MODE=STANDALONE' \
  --change 'ENV HOME=/var/lib/milvus' \
  --change 'WORKDIR /milvus' \
  --change 'EXPOSE 19530 9091' \
  --change 'CMD ["milvus", "run", "standalone"]' \
  --message "Milvus $version standalone from PyPI milvus==$version" \
  - "$tag" >/dev/null
docker image inspect "$tag" --format 'milvus-image: built {{index .RepoTags 0}}, {{.Size}} bytes'
