#!/usr/bin/env bash
# Makes camera-size JPEGs for imageio's scaled-decode tests and benchmark
# (imageio and imageio/internal/jpegscale use them when present and skip
# those tests, saying so, when not).
#
# Sources: real photos from Debian's mate-backgrounds (camera photos) and
# plasma-workspace-wallpapers, both GPL-2+ by the authors their copyright
# files name (copied beside the photos), enlarged where smaller,
# centre-cropped to 4032x3024 (12 MP, a phone
# camera's size) and encoded at quality 92 in every variant the decoder
# handles: 420 (baseline 4:2:0), 420p (progressive), 422, 444, grey, rst
# (a restart marker after every MCU row), cmyk (Adobe CMYK, written by
# GraphicsMagick) and ycck (Adobe YCCK, written by ImageMagick).
# Layout: OUT/<photo>-<variant>.jpg, OUT/SOURCES.txt, OUT/*-copyright.txt.
# Usage: scripts/fetch-camera-photos.sh [OUT]   (default data/camera)
# Run as root on Debian (it installs libjpeg-turbo-progs, imagemagick and
# graphicsmagick).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/camera}
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ]; then
  echo "fetch-camera-photos: $out already there"
  exit 0
fi
scripts/apt-install.sh libjpeg-turbo-progs imagemagick graphicsmagick
# The ImageMagick 6 binary by its versioned name: a 'convert' earlier in PATH
# may be something else.
im=$(command -v convert-im6.q16 || command -v magick)
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
chmod 777 "$dl"
(cd "$dl" && apt-get download -qq mate-backgrounds plasma-workspace-wallpapers >/dev/null 2>&1)
for deb in "$dl"/*.deb; do dpkg-deb -x "$deb" "$dl/x"; done
mate=$dl/x/usr/share/backgrounds/mate/nature
plasma=$dl/x/usr/share/wallpapers
sources=(
  "$mate/Wood.jpg" "$mate/Storm.jpg" "$mate/Blinds.jpg" "$mate/Dune.jpg"
  "$plasma/SafeLanding/contents/images/5120x2880.jpg"
  "$plasma/Honeywave/contents/images/5120x2880.jpg"
)
W=4032 H=3024
mkdir -p "$out.tmp"
: >"$out.tmp/SOURCES.txt"
for src in "${sources[@]}"; do
  case $src in
    "$mate"/*) name=$(basename "$src" .jpg | tr 'A-Z' 'a-z') ;;
    *) name=$(echo "$src" | sed -E 's|.*/wallpapers/([^/]+)/.*|\1|' | tr 'A-Z' 'a-z') ;;
  esac
  read -r w h < <(djpeg -ppm "$src" | head -c 64 | sed -n 2p)
  # Fill 4032x3024 (enlarging where smaller; djpeg's own scaling stops at 2x)
  # and crop the centre.
  djpeg -ppm "$src" | "$im" ppm:- -filter Lanczos -resize "${W}x${H}^" \
    -gravity center -crop "${W}x${H}+0+0" +repage "$dl/$name.ppm"
  cjpeg -quality 92 -sample 2x2 "$dl/$name.ppm" >"$out.tmp/$name-420.jpg"
  jpegtran -progressive "$out.tmp/$name-420.jpg" >"$out.tmp/$name-420p.jpg"
  cjpeg -quality 92 -sample 2x1 "$dl/$name.ppm" >"$out.tmp/$name-422.jpg"
  cjpeg -quality 92 -sample 1x1 "$dl/$name.ppm" >"$out.tmp/$name-444.jpg"
  cjpeg -quality 92 -grayscale "$dl/$name.ppm" >"$out.tmp/$name-grey.jpg"
  cjpeg -quality 92 -sample 2x2 -restart 1 "$dl/$name.ppm" >"$out.tmp/$name-rst.jpg"
  gm convert "$dl/$name.ppm" -colorspace CMYK -quality 92 "$out.tmp/$name-cmyk.jpg"
  "$im" "$dl/$name.ppm" -colorspace CMYK -quality 92 "$out.tmp/$name-ycck.jpg"
  echo "$name: ${src#"$dl/x"} (${w}x$h, resized and cropped to ${W}x$H)" >>"$out.tmp/SOURCES.txt"
  rm "$dl/$name.ppm"
done
for pkg in mate-backgrounds plasma-workspace-wallpapers; do
  cp "$dl/x/usr/share/doc/$pkg/copyright" "$out.tmp/$pkg-copyright.txt"
done
rm -rf "$out" && mv "$out.tmp" "$out"
echo "fetch-camera-photos: $(ls "$out"/*.jpg | wc -l) JPEGs in $out"
