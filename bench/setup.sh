#!/usr/bin/env bash
# Installs what the real-node benchmark needs besides the node: Debian's FAISS (the reference exact
# binary scan), numpy and matplotlib (the chart), for /usr/bin/python3. Idempotent.
set -euo pipefail
need=()
for pkg in python3-faiss python3-numpy python3-matplotlib; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
/usr/bin/python3 -c 'import faiss, numpy, matplotlib; print("faiss", faiss.__version__, "numpy", numpy.__version__, "matplotlib", matplotlib.__version__)'
