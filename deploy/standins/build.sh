#!/usr/bin/env bash
# Build local stand-ins for the official images that docker-compose.yaml and the Dockerfile name,
# under the same names and tags, for a machine that reaches Debian's mirror and PyPI but no image
# registry (CI). What each one is and how it differs: README.md beside this script.
#
#   deploy/standins/build.sh            # needs root, a running Docker engine, debootstrap, uv sync
#
# An image that already exists is kept: an official one (pulled), or a stand-in built from the
# same files. Debian bases come from debootstrap against the mirror the machine's apt uses.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
label=org.iris-assets.standin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

debian_mirror() {
    local uri
    uri=$(awk '/^URIs:/ {print $2; exit} /^deb / {print $2; exit}' \
        /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null | head -n 1 || true)
    echo "${uri:-http://deb.debian.org/debian}"
}

digest() {  # of the files a stand-in is built from, so a changed folder is rebuilt
    (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
}

existing_label() {  # prints the stand-in label of an image; fails if there is no such image
    docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$1" 2>/dev/null
}

make_base() {  # iris-standin/debian:<suite>, a minimal Debian from debootstrap
    local suite=$1 root="$work/rootfs-$1"
    echo "debootstrap $suite from $(debian_mirror)"
    debootstrap --variant=minbase --include=ca-certificates "$suite" "$root" "$(debian_mirror)" \
        >"$work/debootstrap-$suite.log" 2>&1 || {
        tail -n 30 "$work/debootstrap-$suite.log" >&2
        return 1
    }
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
        "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import --change "LABEL $label=base" - "iris-standin/debian:$suite"
    rm -rf "$root"
}

add_build_inputs() {  # what build.sh copies into a context besides the folder's own files
    local folder=$1 tag=$2 context=$3
    case "$folder" in
        python)
            mkdir -p "$context/extra-ca-certificates"
            find /usr/local/share/ca-certificates -name '*.crt' \
                -exec cp {} "$context/extra-ca-certificates/" \; 2>/dev/null || true
            ;;
        uv)
            local version=${tag##*:} arch
            arch=$(uname -m)
            python3 -m pip download --quiet --no-deps --only-binary=:all: \
                --platform "musllinux_1_1_$arch" --dest "$work/uv-wheel" "uv==$version"
            python3 - "$work"/uv-wheel/uv-*.whl "$context" <<'PY'
import sys, zipfile
from pathlib import Path
wheel, context = zipfile.ZipFile(sys.argv[1]), Path(sys.argv[2])
for name in wheel.namelist():
    if name.endswith(("/scripts/uv", "/scripts/uvx")):
        target = context / Path(name).name
        target.write_bytes(wheel.read(name))
        target.chmod(0o755)
PY
            ;;
        seaweedfs)
            local weed="$repo/.venv/bin/weed" version=${tag##*:}
            [ -x "$weed" ] || { echo "no $weed: run 'uv sync' first" >&2; return 1; }
            "$weed" version 2>/dev/null | grep -q " $version " || {
                echo "$weed is not SeaweedFS $version: $("$weed" version)" >&2
                return 1
            }
            cp "$weed" "$context/weed"
            ;;
    esac
}

entries=$(grep -v '^#' "$here/images" | awk 'NF == 2')
declare -A wanted_bases=()
declare -a to_build=()
while read -r folder tag; do
    want=$(digest "$here/$folder")
    if have=$(existing_label "$tag"); then
        if [ -z "$have" ]; then
            echo "$tag: present and not a stand-in (pulled): kept"
            continue
        elif [ "$have" = "$want" ]; then
            echo "$tag: stand-in up to date"
            continue
        fi
    fi
    to_build+=("$folder $tag $want")
    suite=$(sed -n 's|^FROM iris-standin/debian:\([a-z]*\).*|\1|p' "$here/$folder/Dockerfile")
    if [ -n "$suite" ] && ! existing_label "iris-standin/debian:$suite" >/dev/null; then
        wanted_bases[$suite]=1
    fi
done <<<"$entries"

pids=()
for suite in "${!wanted_bases[@]}"; do
    make_base "$suite" &
    pids+=($!)
done
for pid in "${pids[@]}"; do
    wait "$pid"
done

for item in "${to_build[@]}"; do
    read -r folder tag want <<<"$item"
    context="$work/context-$folder"
    cp -r "$here/$folder" "$context"
    add_build_inputs "$folder" "$tag" "$context"
    echo "building $tag (stand-in) from deploy/standins/$folder"
    # The classic builder: BuildKit's Dockerfile frontend would be fetched from a registry.
    DOCKER_BUILDKIT=0 docker build --label "$label=$want" --tag "$tag" "$context" \
        >"$work/build-$folder.log" 2>&1 || {
        tail -n 40 "$work/build-$folder.log" >&2
        return 1
    }
done
echo "stand-ins ready: $(echo "$entries" | awk '{print $2}' | xargs)"
