#!/usr/bin/env bash
# Installs everything clcdd needs to build and test on Debian 12 (bookworm) or newer.
# Run as root (or through sudo). Safe to run again.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends \
  build-essential cmake pkg-config git ca-certificates \
  ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo \
  libclblast-dev libzstd-dev libmsgpack-dev libcriterion-dev \
  libjansson-dev libpcre2-dev libutf8proc-dev \
  clang libclang-rt-14-dev libopenblas-dev libxml2-utils \
  libopenmpi-dev openmpi-bin
