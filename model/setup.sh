#!/usr/bin/env bash
# Installs what model/ needs, idempotently: Debian's PyTorch, ONNX, numpy, matplotlib, Pillow, PyYAML and
# CairoSVG for /usr/bin/python3, and the emoji packages (images and captions) from npm into
# model/node_modules at the versions pinned in package-lock.json.
set -euo pipefail
cd "$(dirname "$0")"

debs=(python3-torch python3-torchvision python3-onnx python3-numpy python3-matplotlib python3-pil python3-cairosvg python3-yaml)
missing=()
for deb in "${debs[@]}"; do
    dpkg-query -W -f='${Status}' "$deb" 2>/dev/null | grep -q "install ok installed" || missing+=("$deb")
done
if ((${#missing[@]})); then
    echo "setup: installing ${missing[*]}"
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null \
        || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >/dev/null; }
fi

# npm ci only when an installed package is missing or at another version than package.json pins.
if ! node -e '
  const deps = require("./package.json").dependencies;
  for (const [name, version] of Object.entries(deps)) {
    if (require("./node_modules/" + name + "/package.json").version !== version) process.exit(1);
  }' 2>/dev/null; then
    echo "setup: npm ci (emoji images and captions, about 280 MB)"
    npm ci --no-audit --no-fund --loglevel=error
fi
/usr/bin/python3 -c 'import torch, torchvision, onnx, numpy, matplotlib, PIL, cairosvg, yaml' \
    || { echo "setup: a Python module is still missing for /usr/bin/python3" >&2; exit 1; }
