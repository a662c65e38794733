#!/usr/bin/env bash
# Fetches the default model's data from the package registries and lays it
# out for training, validation and evaluation (see
# internal/tools/mkdefaultdata):
#   emoji of two vendors (npm emoji-datasource-google 16.0.0, Apache-2.0;
#   emoji-datasource-twitter 16.0.0, CC-BY-4.0) and the landscape photos of
#   Debian's endless-sky-data / endless-sky-high-dpi (public domain and
#   CC-BY-SA, see their copyright file); and, for evaluation only, photos
#   from other sources: the nature wallpapers of mate-backgrounds (GPL-2+)
#   and the wallpapers of ukui-wallpapers (CC-BY-SA-3.0).
# Usage: scripts/fetch-default-data.sh [OUT]   (default data/default). Needs npm and apt-get.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/default}
# val/ is the newest part of the layout: data laid out before it is redone.
if [ -d "$out/val/photos/queries" ]; then
  echo "fetch-default-data: $out already there"
  exit 0
fi
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
(cd "$dl" && npm pack --silent emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0 >/dev/null)
for v in google twitter; do
  mkdir -p "$dl/$v" && tar xzf "$dl/emoji-datasource-$v-16.0.0.tgz" -C "$dl/$v"
done
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || apt-get update -qq
(cd "$dl" && chmod 777 . && apt-get download -qq endless-sky-data endless-sky-high-dpi mate-backgrounds ukui-wallpapers >/dev/null)
for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$dl/deb"; done
land=$dl/deb/usr/share/games/endless-sky
rm -rf "$out.tmp"
go run ./internal/tools/mkdefaultdata \
  -emoji-google "$dl/google/package/img/google/64" \
  -emoji-twitter "$dl/twitter/package/img/twitter/64" \
  -photos "$land/images/land" \
  -photos-2x "$land/plugins/endless-sky-high-dpi/images/land" \
  -unseen "$dl/deb/usr/share/backgrounds/mate/nature" \
  -unseen "$dl/deb/usr/share/backgrounds" \
  -out "$out.tmp"
cp "$dl/deb/usr/share/doc/endless-sky-data/copyright" "$out.tmp/endless-sky-copyright.txt"
cp "$dl/deb/usr/share/doc/mate-backgrounds/copyright" "$out.tmp/mate-backgrounds-copyright.txt"
cp "$dl/deb/usr/share/doc/ukui-wallpapers/copyright" "$out.tmp/ukui-wallpapers-copyright.txt"
rm -rf "$out" && mv "$out.tmp" "$out"
