# Sourced by scripts/test: what the browser tests (pytest marker `browser`) drive.
# Debian's Chromium (Playwright cannot download its own browser here) and axe-core from npm,
# both kept outside the repository; each is installed only when missing.
# BMMSYNC_NODE_PREFIX chooses where axe-core goes (default ~/.cache/bmmsync/node).
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing Debian's chromium for the browser tests" >&2
    log=$(mktemp)
    if ! { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; } \
        >"$log" 2>&1; then
      cat "$log" >&2
    fi
    rm -f "$log"
  else
    echo "warning: /usr/bin/chromium is missing and this is not root:" \
      "run 'apt-get install chromium' or the browser tests will be skipped" >&2
  fi
fi
BMMSYNC_NODE_PREFIX=${BMMSYNC_NODE_PREFIX:-$HOME/.cache/bmmsync/node}
export BMMSYNC_AXE_JS="$BMMSYNC_NODE_PREFIX/node_modules/axe-core/axe.min.js"
if [ ! -f "$BMMSYNC_AXE_JS" ]; then
  if command -v npm >/dev/null; then
    echo "installing axe-core into $BMMSYNC_NODE_PREFIX for the browser tests" >&2
    npm install --prefix "$BMMSYNC_NODE_PREFIX" --no-audit --no-fund --loglevel=error \
      axe-core@4.14.1 >&2 || true
  else
    echo "warning: npm is missing: the accessibility tests need axe-core" >&2
  fi
fi
