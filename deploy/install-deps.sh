#!/usr/bin/env bash
# Installs the Debian 12 packages sharpeyes needs to build, test and run the demo.
# Idempotent: only missing packages are installed; `apt-get update` runs once per call when needed.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build ccache pkg-config git
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev libgstrtspserver-1.0-dev
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-tools
  libopencv-dev opencv-data opencv-doc motion
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev ffmpeg
  gsoap libgsoap-dev
  libboost-dev libboost-system-dev
  libzmq3-dev cppzmq-dev python3-zmq
  libsqlite3-dev sqlite3 libpq-dev postgresql
  libyaml-cpp-dev nlohmann-json3-dev libspdlog-dev libfmt-dev libcli11-dev libssl-dev
  libgtest-dev libgmock-dev
  vlc-bin vlc-plugin-base procps psmisc iproute2 curl
  chromium wrk fonts-wqy-microhei
  clang-format clang-tidy
)

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root; run as root" >&2; exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
