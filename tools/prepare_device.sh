#!/usr/bin/env bash
# Pack what a lent GPU machine needs but lacks, into git-ignored folders that the device tool can carry.
#
#   tools/prepare_device.sh sr      # .whl/ (kornia, kornia_rs, lpips for Python 3.12) + .data/sr (58 MB)
#   tools/prepare_device.sh faces   # .whl/ + .data/faces64 (39 MB)
#
# The device tool carries at most 64 MiB per call (working tree included), hence one profile per
# session. On the device: `pip install --no-index --no-deps --target /tmp/site .whl/*.whl` and
# PYTHONPATH=/tmp/site, then e.g.
#   restore train srresnet --data .data/sr/train/* --val .data/sr/val/sun_hays80 --memory-resident --out .runs/srresnet_x4
# (see ../shared/GUIDE.md for the detached-run-and-poll workflow).
set -euo pipefail
cd "$(dirname "$0")/.."
profile=${1:?usage: tools/prepare_device.sh sr|faces}
data=${RESTORE_SHARED_DATA:-../shared/data}

rm -rf .whl && mkdir -p .whl
for pkg in kornia kornia_rs lpips; do
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform any -d .whl "$pkg"
done

rm -rf .data && mkdir -p .data
case "$profile" in
  sr)
    mkdir -p .data/sr/train .data/sr/val
    cp -r "$data"/sr/train/bsds500_train "$data"/sr/train/bsds500_test "$data"/sr/train/t91 .data/sr/train/
    cp -r "$data"/sr/val/sun_hays80 .data/sr/val/ ;;
  faces)
    mkdir -p .data/faces64
    cp "$data"/faces64/celeba64_train.tar.gz .data/faces64/ ;;
  *) echo "unknown profile $profile (sr or faces)" >&2; exit 2 ;;
esac
du -sh .whl .data
