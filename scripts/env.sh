# Sourced by the npm scripts and CI: makes sure a WebGPU adapter exists and
# quiets Mesa. On a machine with no GPU, Mesa's lavapipe (Vulkan on the CPU)
# provides one; it comes from Debian's mesa-vulkan-drivers package.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
if ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 && [ -z "${VISIONEVAL_SKIP_LAVAPIPE:-}" ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "visioneval: installing Mesa lavapipe (mesa-vulkan-drivers) for a software WebGPU adapter" >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mesa-vulkan-drivers) >&2 \
      || echo "visioneval: could not install mesa-vulkan-drivers; GPU tests will fail without an adapter" >&2
  else
    echo "visioneval: no lavapipe found; install Debian's mesa-vulkan-drivers (as root) if there is no GPU" >&2
  fi
fi
export PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/node_modules/.bin:$PATH"
