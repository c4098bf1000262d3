#!/usr/bin/env bash
# Builds the images under images/ from Debian packages with mmdebstrap and imports them into a
# Kiln data dir (`kiln image import --rootfs`). Cached: a root-filesystem tarball is kept per
# recipe content in $KILN_IMAGE_CACHE (default ~/.cache/kiln/images), so only a changed recipe
# runs mmdebstrap again (~100 s each); importing an unchanged tarball is a no-op.
#
#   scripts/build-images.sh [--kiln PATH] [--data-dir DIR] [--mirror URL] [RECIPE...]
#
# RECIPE is a directory name under images/ (default: all). Needs root (mmdebstrap as root).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
kiln=${KILN:-$here/build/bin/kiln}
data_dir=
mirror=${KILN_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${KILN_IMAGE_CACHE:-$HOME/.cache/kiln/images}
recipes=()
while (($#)); do
  case $1 in
    --kiln) kiln=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --mirror) mirror=$2; shift 2 ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    *) recipes+=("$1"); shift ;;
  esac
done
((${#recipes[@]})) || for d in "$here"/images/*/recipe.sh; do recipes+=("$(basename "$(dirname "$d")")"); done
[[ -x $kiln ]] || { echo "build-images.sh: no kiln at $kiln (build it, or pass --kiln)" >&2; exit 2; }
command -v mmdebstrap >/dev/null || { echo "build-images.sh: mmdebstrap missing (scripts/setup.sh)" >&2; exit 2; }
mkdir -p "$cache"
data_args=()
[[ -n $data_dir ]] && data_args=(--data-dir "$data_dir")

# Slim root: no docs, man pages, locales, compilers or boost headers (they arrive with scipy's
# pythran dependency); see shared/notes/runtime-recipes.md §2.
slim=(--dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright'
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*'
      --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/include/boost/*'
      --dpkgopt='path-exclude=/usr/lib/gcc/*' --dpkgopt='path-exclude=/usr/bin/x86_64-linux-gnu-lto-dump-12')

for recipe in "${recipes[@]}"; do
  file=$here/images/$recipe/recipe.sh
  [[ -f $file ]] || { echo "build-images.sh: no recipe $file" >&2; exit 2; }
  unset IMAGE_NAME PACKAGES IMAGE_CMD IMAGE_ENV IMAGE_WORKDIR
  # shellcheck source=/dev/null
  source "$file"
  key=$( (cat "$file"; echo "$mirror"; printf '%s\n' "${slim[@]}") | sha256sum | cut -c1-16)
  tarball=$cache/$recipe-$key.tar
  if [[ -s $tarball ]]; then
    echo "build-images.sh: $recipe: cached $tarball" >&2
  else
    echo "build-images.sh: $recipe: mmdebstrap (about 100 s)" >&2
    mmdebstrap --variant=minbase --include="$PACKAGES" "${slim[@]}" \
      --customize-hook='chroot "$1" apt-get clean' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
      bookworm "$cache/$recipe-$key.partial.tar" "$mirror"  # the .tar suffix picks the format
    mv "$cache/$recipe-$key.partial.tar" "$tarball"
  fi
  args=(--rootfs "$tarball" --name "$IMAGE_NAME" --workdir "$IMAGE_WORKDIR")
  for word in "${IMAGE_CMD[@]}"; do args+=(--cmd "$word"); done
  for kv in "${IMAGE_ENV[@]}"; do args+=(--env "$kv"); done
  "$kiln" "${data_args[@]}" image import "${args[@]}"
done
