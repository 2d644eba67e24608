#!/usr/bin/env bash
# Debian packages the tests use: ffmpeg (test videos), GStreamer's RTSP server run by the system python3,
# fonts for synthetic plates (a CJK font for Chinese province characters), headless Chromium for the web UI test.
# Installs only what is missing.
set -euo pipefail
packages=(ffmpeg gir1.2-gst-rtsp-server-1.0 gstreamer1.0-plugins-base gstreamer1.0-plugins-good
          gstreamer1.0-plugins-bad gstreamer1.0-tools python3-gi fonts-dejavu-core fonts-liberation fonts-urw-base35
          fonts-wqy-microhei chromium)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${missing[*]} (run as root: apt-get install ${missing[*]})" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
