#!/usr/bin/env bash
# Sets up a machine to work on ssekit: the system programs the tests drive, pnpm, and the
# workspace's dependencies. Safe to re-run: when everything is there it only runs
# `pnpm install`. Starts no server.
#
#   ./scripts/setup.sh   (or `pnpm run setup` once pnpm exists; plain `pnpm setup` is
#                         pnpm's own command, which edits your shell profile)
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '%s\n' "$*"; }
fail() {
  printf 'setup: %s\n' "$*" >&2
  exit 1
}

# Node first: everything else goes through npm and pnpm.
command -v node >/dev/null 2>&1 || fail "Node.js 20 or newer is required: install it from your package manager or https://nodejs.org, then re-run ./scripts/setup.sh"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || fail "Node.js 20 or newer is required (found $(node --version))"

# System programs the tests drive for real: headless Chromium (browser EventSource tests),
# nginx (the proxy tests) and redis-server. Plain strings, not arrays: macOS's bash 3.2
# treats an empty array as unset under `set -u`.
missing=''
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
command -v redis-server >/dev/null 2>&1 || missing="$missing redis-server"
missing=${missing# }

if [ -n "$missing" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    sudo=''
    if [ "$(id -u)" -ne 0 ]; then
      command -v sudo >/dev/null 2>&1 ||
        fail "not root and no sudo: as root, run: apt-get update && apt-get install -y --no-install-recommends $missing fonts-dejavu-core"
      sudo=sudo
    fi
    # Debian starts nginx and redis-server as services when it installs them; the tests
    # start their own on free ports, so service starts are refused during the install
    # (policy-rc.d exiting 101), unless the machine already has a policy of its own.
    policy=/usr/sbin/policy-rc.d
    if [ ! -e "$policy" ]; then
      printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
      $sudo chmod 755 "$policy"
      trap '$sudo rm -f "$policy"' EXIT
    fi
    say "setup: apt-get install $missing"
    $sudo apt-get update -qq
    # fonts-dejavu-core: headless Chromium needs a font to render pages.
    # shellcheck disable=SC2086 # $missing is a list of package names
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      $missing fonts-dejavu-core >/dev/null
    case " $missing " in
      *' chromium '*)
        [ -x /usr/bin/chromium ] ||
          fail "chromium was installed but is not at /usr/bin/chromium, where the browser tests look" ;;
    esac
  elif command -v brew >/dev/null 2>&1; then
    # brew names: redis-server comes with the formula redis, chromium is a cask.
    formulae=$(printf '%s\n' $missing | sed -e '/^chromium$/d' -e 's/^redis-server$/redis/' | tr '\n' ' ')
    formulae=${formulae% }
    if [ -n "$formulae" ]; then
      say "setup: brew install $formulae"
      # shellcheck disable=SC2086
      brew install $formulae
    fi
    case " $missing " in
      *' chromium '*)
        say 'setup: brew install --cask chromium'
        brew install --cask chromium ;;
    esac
  else
    fail "no apt-get or brew here: install $missing yourself (Debian/Ubuntu: sudo apt-get install -y --no-install-recommends $missing fonts-dejavu-core; macOS: brew install nginx redis && brew install --cask chromium), then re-run ./scripts/setup.sh"
  fi
fi

# pnpm through npm, not corepack: corepack fails its signature check against some
# registries, and Node 25+ no longer ships it.
if ! command -v pnpm >/dev/null 2>&1; then
  say "setup: npm install -g pnpm@10"
  if [ -w "$(npm prefix -g)" ]; then
    npm install -g --no-audit --no-fund pnpm@10 >/dev/null
  elif command -v sudo >/dev/null 2>&1; then
    sudo npm install -g --no-audit --no-fund pnpm@10 >/dev/null
  else
    fail "cannot write npm's global prefix $(npm prefix -g): run \`sudo npm install -g pnpm@10\`, then re-run ./scripts/setup.sh"
  fi
fi

say "setup: node $(node --version), pnpm $(pnpm --version)"
# optimistic-repeat-install: when the lockfile, the manifests and node_modules have not
# changed since the last install, pnpm says so in about a second instead of re-checking
# every package (about 15 s here); any change still gets a full install.
if [ -n "${CI:-}" ]; then
  pnpm install --frozen-lockfile --config.optimistic-repeat-install=true
else
  pnpm install --config.optimistic-repeat-install=true
fi

# The packaging test installs the built packages (dist/), so a fresh clone builds once here
# and `pnpm test` works right away; after that, `pnpm build` is yours to re-run. (Not in
# CI: .ci/run runs `pnpm build` next.)
if [ -z "${CI:-}" ]; then
  for pkg in core express fastify hono; do
    if [ ! -d "packages/$pkg/dist" ]; then
      pnpm build
      break
    fi
  done
fi

say ''
say 'Ready. Next:'
say '  pnpm test   # run every test'
say '  pnpm demo   # the Express example on http://localhost:3000'
