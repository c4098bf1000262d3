#!/usr/bin/env bash
# Builds the images under images/ from Debian packages with mmdebstrap and imports them into a
# Kiln data dir (`kiln image import --rootfs`). Cached: a root-filesystem tarball is kept per
# recipe content in $KILN_IMAGE_CACHE (default ~/.cache/kiln/images), so only a changed recipe
# (or a changed file it copies) runs mmdebstrap again (~100 s each), replacing that recipe's older
# tarball; importing an unchanged tarball is a no-op.
#
#   scripts/build-images.sh [--kiln PATH] [--data-dir DIR] [--mirror URL] [RECIPE...]
#
# RECIPE is a directory name under images/ (default: all). Needs root (mmdebstrap as root).
#
# A recipe (images/<name>/recipe.sh, sourced by bash) sets IMAGE_NAME, PACKAGES (comma-separated
# Debian packages), IMAGE_CMD, IMAGE_ENV and IMAGE_WORKDIR (the image config), and optionally
# IMAGE_FILES: SRC:DEST pairs that copy files of this repository into the image, e.g.
#   IMAGE_FILES=(examples/two-host-cluster/program:/opt/program)
# SRC (relative to the repository) is a directory whose contents go into the directory DEST, or a
# file copied to the path DEST; owned by root, modes kept. Their contents are part of the cache
# key, so changing a copied file rebuilds the image.
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
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
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

# Sets copy_hooks (mmdebstrap customize hooks copying the recipe's IMAGE_FILES into the root) and
# files_key (each pair with the hash of what it copies, for the cache key). The files are packed
# once, here, so the image gets exactly the bytes the key names even if they change meanwhile.
image_files() {
  copy_hooks=() files_key=
  local pair src dest pack i=0
  for pair in "${IMAGE_FILES[@]}"; do
    src=${pair%%:*} dest=${pair#*:} pack=$scratch/$recipe-files-$((i++)).tar
    if [[ $pair != *:* || ! $src =~ ^[A-Za-z0-9._/-]+$ || $src == *..* ||
          ! $dest =~ ^/[A-Za-z0-9._/-]*[A-Za-z0-9._-]$ ]]; then
      echo "build-images.sh: $recipe: IMAGE_FILES entry '$pair' is not SRC:/DEST (plain paths)" >&2
      exit 2
    fi
    # Root-owned, modes kept, mtimes zeroed: the tarball depends on names, bytes and modes only.
    local tar_args=(--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$pack")
    if [[ -d $here/$src ]]; then
      tar -C "$here/$src" "${tar_args[@]}" .
      copy_hooks+=(--customize-hook="mkdir -p \"\$1$dest\" && tar -C \"\$1$dest\" -xpf '$pack'")
    elif [[ -f $here/$src ]]; then
      tar -C "$(dirname "$here/$src")" --transform="s|.*|$(basename "$dest")|" "${tar_args[@]}" \
        "$(basename "$src")"
      copy_hooks+=(--customize-hook="mkdir -p \"\$1$(dirname "$dest")\" && \
tar -C \"\$1$(dirname "$dest")\" -xpf '$pack'")
    else
      echo "build-images.sh: $recipe: IMAGE_FILES: no file or directory $here/$src" >&2
      exit 2
    fi
    files_key+="$pair $(sha256sum <"$pack" | cut -c1-64)"$'\n'
  done
}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT

for recipe in "${recipes[@]}"; do
  file=$here/images/$recipe/recipe.sh
  [[ -f $file ]] || { echo "build-images.sh: no recipe $file" >&2; exit 2; }
  unset IMAGE_NAME PACKAGES IMAGE_CMD IMAGE_ENV IMAGE_WORKDIR IMAGE_FILES
  IMAGE_FILES=()
  # shellcheck source=/dev/null
  source "$file"
  image_files
  # A recipe without IMAGE_FILES keeps the key it always had (and its cached tarball).
  key=$( (cat "$file"; echo "$mirror"; printf '%s\n' "${slim[@]}"; printf '%s' "$files_key") |
        sha256sum | cut -c1-16)
  tarball=$cache/$recipe-$key.tar
  if [[ -s $tarball ]]; then
    echo "build-images.sh: $recipe: cached $tarball" >&2
  else
    echo "build-images.sh: $recipe: mmdebstrap (about 100 s)" >&2
    rm -f "$cache/$recipe-$key.partial.tar"
    mmdebstrap --variant=minbase --include="$PACKAGES" "${slim[@]}" \
      --customize-hook='chroot "$1" apt-get clean' \
      --customize-hook='rm -rf "$1"/var/lib/apt/lists/*' \
      "${copy_hooks[@]}" \
      bookworm "$cache/$recipe-$key.partial.tar" "$mirror"  # the .tar suffix picks the format
    mv "$cache/$recipe-$key.partial.tar" "$tarball"
    # Only the newest tarball of a recipe is kept (each is a few hundred MB).
    find "$cache" -maxdepth 1 -name "$recipe-*.tar" ! -name "$(basename "$tarball")" -delete
  fi
  args=(--rootfs "$tarball" --name "$IMAGE_NAME" --workdir "$IMAGE_WORKDIR")
  for word in "${IMAGE_CMD[@]}"; do args+=(--cmd "$word"); done
  for kv in "${IMAGE_ENV[@]}"; do args+=(--env "$kv"); done
  "$kiln" "${data_args[@]}" image import "${args[@]}"
done
