#!/usr/bin/env bash
# Fetches a small sample of real photos for the quickstart: the landscape
# photos of Debian's endless-sky-data (720x360; public domain and CC-BY-SA,
# see endless-sky-copyright.txt) and, for a few, their 2x versions from
# endless-sky-high-dpi, which a good model finds as near duplicates.
# Layout: OUT/<scene>/<name>.jpg (scene from the file name: beach, desert...).
# Usage: scripts/fetch-sample.sh [OUT] [N]   (default data/sample, 120 photos)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/sample}
n=${2:-120}
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "fetch-sample: $out already there"
  exit 0
fi
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
chmod 777 "$dl"
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || apt-get update -qq
(cd "$dl" && apt-get download -qq endless-sky-data endless-sky-high-dpi >/dev/null 2>&1)
for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$dl/x"; done
land=$dl/x/usr/share/games/endless-sky/images/land
hidpi=$dl/x/usr/share/games/endless-sky/plugins/endless-sky-high-dpi/images/land
mkdir -p "$out.tmp"
i=0
for f in $(ls "$land" | sort | awk "NR % 2 == 1" | head -n "$n"); do
  name=${f%.jpg}
  scene=$(echo "$name" | sed -E 's/[0-9].*$//; s/-.*$//')
  mkdir -p "$out.tmp/$scene"
  cp "$land/$f" "$out.tmp/$scene/$f"
  # Every fourth photo also comes at twice the size: a near duplicate.
  if [ $((i % 4)) = 0 ] && [ -f "$hidpi/$name@2x.jpg" ]; then
    cp "$hidpi/$name@2x.jpg" "$out.tmp/$scene/$name@2x.jpg"
  fi
  i=$((i + 1))
done
cp "$dl/x/usr/share/doc/endless-sky-data/copyright" "$out.tmp/endless-sky-copyright.txt"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "fetch-sample: $(find "$out" -name '*.jpg' | wc -l) photos in $out"
