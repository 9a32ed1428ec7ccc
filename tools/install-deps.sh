#!/usr/bin/env bash
# Everything DeltaStudio needs to build and run on Debian/Ubuntu (run as root or with sudo):
# a C toolchain (the tokenizer's regex engine), the Vulkan loader with Mesa's drivers (egui renders
# through wgpu; lavapipe lets tests and headless machines render), X11 client libraries for the
# window, D-Bus for native file dialogs, and Rust itself when it is missing.
set -euo pipefail
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
packages=(build-essential pkg-config curl ca-certificates libvulkan1 mesa-vulkan-drivers
          libxkbcommon-x11-0 libxcursor1 libxrandr2 libxi6 libx11-xcb1 libegl1 libgl1 libdbus-1-3)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
fi
