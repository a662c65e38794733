#!/usr/bin/env bash
# Fetches a training corpus of many kinds of images from the package
# registries and lays it out with internal/tools/mkcorpus (which documents
# the layout, the filters and the dedupe rule): photos, drawings and
# paintings, clip art, icons and emoji, game and rendered art, screenshots,
# textures, from Debian packages and npm emoji packages. The sources, their
# licences and which are held out of training are the plan below;
# models/default/CORPUS.md has the figures of a run. Each package's
# copyright file is copied to OUT/licences/. Then OUT/eval gets the
# copy-detection evaluation sets of the held-out sources
# (internal/tools/mkcopyeval; models/default/eval.yaml reads them), and
# OUT/val the validation set of the training sources (validation.yaml).
# Usage: scripts/fetch-corpus.sh [OUT]   (default data/corpus). Needs npm,
# apt-get and dpkg-deb, and rsvg-convert (installed from librsvg2-bin when
# missing, as root). About 1.3 GB is downloaded; the corpus is a few hundred MB.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-data/corpus}
# copy_eval lays out OUT/eval from the held-out screenshots, game art and
# icons (each source at least 200 images), and OUT/val from the training
# sources' held-out images. The resizes that change the aspect
# (queries/stretch) are their newest part: sets laid out before them are
# made again (the same files, and those), both before either replaces what
# is there, so that an interrupted run leaves the old sets whole.
copy_eval() {
  [ -d "$out/eval/gimp-help/queries/stretch" ] && [ -d "$out/val/queries/stretch" ] && return
  rm -rf "$out/eval.tmp" "$out/val.tmp"
  go run ./internal/tools/mkcopyeval -corpus "$out" -out "$out/eval.tmp" \
    -source screenshot/gimp-help -source screenshot/gnome-help \
    -source rendered/hedgewars -source icon/oxygen-icons
  go run ./internal/tools/mkcopyeval -corpus "$out" -out "$out/eval.tmp/hedgewars-frames" -frames rendered/hedgewars
  go run ./internal/tools/mkcopyeval -corpus "$out" -out "$out/val.tmp" -validation -originals 400
  rm -rf "$out/eval" "$out/val"
  mv -T "$out/eval.tmp" "$out/eval"
  mv -T "$out/val.tmp" "$out/val"
}
# frames_val writes OUT/groups.tsv, the animations of the training sources
# whose files are frames (NAME-N.png; internal/tools/mkgroups), for
# data.mix groups, and OUT/val-frames, the animation-frame validation set of
# the groups a trainer holds out whole (validation.yaml).
frames_val() {
  [ -d "$out/val-frames" ] && return
  go run ./internal/tools/mkgroups -corpus "$out" -source rendered/wesnoth-units
  rm -rf "$out/val-frames.tmp"
  go run ./internal/tools/mkcopyeval -corpus "$out" -out "$out/val-frames.tmp" -validation-frames
  mv "$out/val-frames.tmp" "$out/val-frames"
}
if [ -f "$out/SOURCES.tsv" ]; then
  echo "fetch-corpus: $out already there"
  copy_eval
  frames_val
  exit 0
fi
# rsvg-convert rasterises the SVG sources; corpus-building only.
if ! command -v rsvg-convert >/dev/null; then
  apt-get install -y -qq librsvg2-bin >/dev/null
fi
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT

debs=(openclipart-png tuxpaint-stamps-default wesnoth-1.16-data freeciv-data
  frozen-bubble-data pingus-data endless-sky-data plasma-workspace-wallpapers
  gnome-backgrounds desktop-base gimp-data gnome-user-docs gimp-help-en
  gimp-help-common hedgewars-data oxygen-icon-theme mate-backgrounds ukui-wallpapers)
npms=(emoji-datasource-google@16.0.0 emoji-datasource-twitter@16.0.0 openmoji@17.0.0)
[ -n "$(ls /var/lib/apt/lists/ 2>/dev/null | grep -v lock)" ] || apt-get update -qq
(cd "$dl" && chmod 777 . && apt-get download -qq "${debs[@]}" >/dev/null)
(cd "$dl" && npm pack --silent "${npms[@]}" >/dev/null)
declare -A version
mkdir -p "$dl/x" "$dl/licences"
for p in "${debs[@]}"; do
  deb=$(ls "$dl/$p"_*.deb)
  version[$p]=$(dpkg-deb -f "$deb" Version)
  dpkg-deb -x "$deb" "$dl/x/$p"
  # gimp-help-en's doc folder is a link to gimp-help-common's.
  [ -f "$dl/x/$p/usr/share/doc/$p/copyright" ] && cp "$dl/x/$p/usr/share/doc/$p/copyright" "$dl/licences/$p.copyright"
done
for n in "${npms[@]}"; do
  p=${n%@*}
  version[$p]=${n#*@}
  mkdir -p "$dl/x/$p" && tar xzf "$dl/$p-${n#*@}.tgz" -C "$dl/x/$p"
  cp "$(ls "$dl/x/$p/package/"LICENSE* | head -1)" "$dl/licences/$p.licence"
done

# The plan: name, package, version, kind, split, licence, folder, include
# and exclude patterns (regular expressions on the path below the folder,
# - for none). Held out: the screenshots (a kind not trained on), one game
# (hedgewars), one icon theme (oxygen) and the wallpapers the default model
# is evaluated on; the emoji codes and landscape photos the default model
# evaluates on are held out of their sources too.
plan=$dl/plan.tsv
src() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "${version[$2]}" "$3" "$4" "$5" "$2/$6" "$7" "$8" >>"$plan"; }
wes=usr/share/games/wesnoth/1.16/data/core/images
es=usr/share/games/endless-sky/images
src openclipart            openclipart-png              lineart    train     "CC0 (public domain dedication)" usr/share/openclipart/png - -
src tuxpaint-stamps        tuxpaint-stamps-default      drawing    train     "GPL-2"                  usr/share/tuxpaint/stamps - -
src wesnoth-portraits      wesnoth-1.16-data            drawing    train     "GPL-2+"                 $wes/portraits - -
src wesnoth-units          wesnoth-1.16-data            rendered   train     "GPL-2+"                 $wes/units - -
src wesnoth-terrain        wesnoth-1.16-data            texture    train     "GPL-2+"                 $wes/terrain - -
src emoji-google           emoji-datasource-google      icon       train-except-default-eval "Apache-2.0" package/img/google/64 - -
src emoji-twitter          emoji-datasource-twitter     icon       train-except-default-eval "CC-BY-4.0"  package/img/twitter/64 - -
src openmoji               openmoji                     icon       train     "CC-BY-SA-4.0"           package/color/svg - -
src freeciv                freeciv-data                 rendered   train     "GPL-2+"                 usr/share/games/freeciv - -
src frozen-bubble          frozen-bubble-data           rendered   train     "GPL-2"                  usr/share/games/frozen-bubble - -
src pingus                 pingus-data                  rendered   train     "GPL-2+"                 usr/share/games/pingus - -
src endless-sky-land       endless-sky-data             photo      train-except-default-eval "public domain, CC-BY-SA-3.0/4.0 (see copyright)" $es/land - -
src endless-sky-sprites    endless-sky-data             rendered   train     "CC-BY-SA-4.0, GPL-3+, public domain (see copyright)" $es - '^land/'
src plasma-wallpapers      plasma-workspace-wallpapers  photo      train     "GPL-2+"                 usr/share/wallpapers - -
src gnome-backgrounds      gnome-backgrounds            rendered   train     "CC-BY-SA-3.0/2.0, CC-BY-2.0 (see copyright)" usr/share/backgrounds - -
src desktop-base           desktop-base                 rendered   train     "GPL-2+, CC-BY-SA-3.0 (see copyright)" usr/share/desktop-base - -
src gimp-patterns          gimp-data                    texture    train     "GPL-3+"                 usr/share/gimp/2.0/patterns - -
src gnome-help             gnome-user-docs              screenshot heldout   "CC-BY-SA-3.0"           usr/share/help - -
src gimp-help              gimp-help-en                 screenshot heldout   "GFDL-1.2+"              usr/share/gimp/2.0/help/en/images - -
src hedgewars              hedgewars-data               rendered   heldout   "GPL-2 (see copyright)"  usr/share/games/hedgewars - -
src oxygen-icons           oxygen-icon-theme            icon       heldout   "LGPL-3+"                usr/share/icons/oxygen - -
src mate-backgrounds       mate-backgrounds             photo      heldout   "GPL-2+, CC-BY-SA-4.0 (see copyright)" usr/share/backgrounds - -
src ukui-wallpapers        ukui-wallpapers              photo      heldout   "CC-BY-SA-3.0"           usr/share/backgrounds - -

go build -o "$dl/mkcorpus" ./internal/tools/mkcorpus
rm -rf "$out.tmp"
start=$(date +%s)
# nice and two workers: the machine is shared.
nice -n 10 "$dl/mkcorpus" -plan "$plan" -root "$dl/x" -out "$out.tmp" -workers 2
cp "$plan" "$out.tmp/plan.tsv"
cp -r "$dl/licences" "$out.tmp/licences"
echo "fetch-corpus: $(du -sh "$out.tmp" | cut -f1) in $(( $(date +%s) - start )) s"
rm -rf "$out" && mv "$out.tmp" "$out"
copy_eval
frames_val
