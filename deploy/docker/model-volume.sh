#!/bin/sh
# The model volume's three steps (deploy/README.md, "Put the model on the model volume"); POSIX sh and
# sha256sum only, so that it runs in the model image (busybox) and the service image (Debian) alike.
#   expertmesh-model-volume sums DIR          writes DIR/SHA256SUMS: every file under DIR (the model image's build)
#   expertmesh-model-volume load SRC DEST     copies SRC to DEST on the volume and checks every file against
#                                             SRC/SHA256SUMS; DEST appears only complete and checked (a rename),
#                                             and a DEST already there that checks is kept (the Job can rerun)
#   expertmesh-model-volume check DIR [WAIT]  checks DIR against its SHA256SUMS (read-only), waiting up to WAIT
#                                             seconds (default 0) for it to appear: each service pod's initContainer
set -eu

die() {
  echo "expertmesh-model-volume: $*" >&2
  exit 1
}

# Checks every file listed in $1/SHA256SUMS; prints only the files that fail.
verify() {
  [ -f "$1/SHA256SUMS" ] || die "$1/SHA256SUMS is missing (not a loaded model directory)"
  if ! out=$(cd "$1" && sha256sum -c SHA256SUMS 2>&1); then
    printf '%s\n' "$out" | grep -v ': OK$' >&2 || true
    return 1
  fi
  echo "expertmesh-model-volume: $1: $(grep -c . "$1/SHA256SUMS") files match SHA256SUMS"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  sums)
    [ $# -eq 1 ] || die "usage: sums DIR"
    [ -d "$1" ] || die "sums: $1 is not a directory"
    (cd "$1" && find . -type f ! -name SHA256SUMS -exec sha256sum {} + | sort -k 2 > SHA256SUMS)
    [ -s "$1/SHA256SUMS" ] || die "sums: $1 holds no files"
    echo "expertmesh-model-volume: $1/SHA256SUMS: $(grep -c . "$1/SHA256SUMS") files"
    ;;
  load)
    [ $# -eq 2 ] || die "usage: load SRC DEST"
    src="$1"
    dest="${2%/}"
    [ -f "$src/SHA256SUMS" ] || die "load: $src/SHA256SUMS is missing (build the model image with Dockerfile.model)"
    if [ -e "$dest" ]; then
      if cmp -s "$src/SHA256SUMS" "$dest/SHA256SUMS" 2>/dev/null && verify "$dest"; then
        echo "expertmesh-model-volume: $dest is already loaded and checked"
        exit 0
      fi
      echo "expertmesh-model-volume: $dest is incomplete, damaged or another model: loading it again" >&2
      rm -rf "$dest"
    fi
    partial="$dest.partial"
    rm -rf "$partial"
    mkdir -p "$partial"
    cp -R "$src/." "$partial/"
    verify "$partial" || die "load: the copy in $partial does not match $src/SHA256SUMS"
    mv "$partial" "$dest"
    echo "expertmesh-model-volume: loaded $dest"
    ;;
  check)
    [ $# -ge 1 ] && [ $# -le 2 ] || die "usage: check DIR [WAIT_SECONDS]"
    dir="$1"
    wait="${2:-0}"
    case "$wait" in '' | *[!0-9]*) die "check: WAIT_SECONDS must be a whole number of seconds, got '$wait'" ;; esac
    waited=0
    while [ ! -f "$dir/SHA256SUMS" ]; do
      [ "$waited" -ge "$wait" ] && die "check: no model at $dir after ${wait}s (has the model-loader Job run? kubectl logs job/model-loader)"
      [ "$waited" -eq 0 ] && echo "expertmesh-model-volume: waiting up to ${wait}s for $dir (the model-loader Job)"
      sleep 2
      waited=$((waited + 2))
    done
    verify "$dir" || die "check: $dir does not match its SHA256SUMS (the files above); rerun the model-loader Job"
    ;;
  *) die "usage: expertmesh-model-volume sums DIR | load SRC DEST | check DIR [WAIT_SECONDS]" ;;
esac
