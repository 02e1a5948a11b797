#!/usr/bin/env bash
# Install what is missing, and nothing else: safe to run again (a second run takes a few seconds).
#   - Debian packages: Java (Kafka), Maven (fetches Kafka's jars), Prometheus, Alertmanager, Dovecot (IMAP tests)
#   - .venv with Python 3.11 and pxstream installed editable, pinned by constraints.txt
#   - the Apache Kafka jars, from Maven Central into $PXSTREAM_DATA_DIR/kafka/libs
#   - the owners' page assets: nhsuk-frontend (served) and axe-core (tests), pinned, from npm into
#     pxstream/web/static/node_modules (docs/owners-page.md); no front-end build step
set -euo pipefail
cd "$(dirname "$0")/.."
export PXSTREAM_DATA_DIR="${PXSTREAM_DATA_DIR:-./.pxstream}"

say() { printf 'setup: %s\n' "$*"; }

# -- Debian packages ------------------------------------------------------------------------------
missing=()
command -v java >/dev/null 2>&1 || missing+=(default-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 && command -v amtool >/dev/null 2>&1 \
    || missing+=(prometheus-alertmanager)
# The IMAP connector's integration test runs a real Dovecot on loopback (its own config, no service).
command -v dovecot >/dev/null 2>&1 || missing+=(dovecot-imapd)
# The owners' page tests drive Debian's own headless chromium through its chromedriver (selenium
# never downloads a browser); npm installs the NHS.UK design system's compiled assets.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
[ -x /usr/bin/chromedriver ] || missing+=(chromium-driver)
command -v npm >/dev/null 2>&1 || missing+=(npm)
python_bin=""
for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 \
        && "$candidate" -c 'import sys, venv; sys.exit(sys.version_info[:2] < (3, 11))' 2>/dev/null; then
        python_bin="$(command -v "$candidate")"
        break
    fi
done
[ -n "$python_bin" ] || missing+=(python3 python3-venv)

if [ "${#missing[@]}" -gt 0 ]; then
    say "installing Debian packages: ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    # The packages start system services on 9090/9093 where systemd runs; pxstream runs its own on
    # loopback, so stop the ones this script just installed (ones already there are left alone).
    services=()
    for pkg in "${missing[@]}"; do
        case "$pkg" in prometheus | prometheus-alertmanager) services+=("$pkg") ;; dovecot-imapd) services+=(dovecot) ;; esac
    done
    if [ "${#services[@]}" -gt 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        $sudo systemctl disable --now "${services[@]}" || true
    fi
    if [ -z "$python_bin" ]; then python_bin="$(command -v python3)"; fi
fi

# -- Python environment ---------------------------------------------------------------------------
if [ ! -x .venv/bin/python ]; then
    say "creating .venv with $python_bin"
    "$python_bin" -m venv .venv
fi
stamp=".venv/.pxstream-installed"
want="$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    say "installing pxstream and its dependencies into .venv (pinned by constraints.txt)"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'
    echo "$want" > "$stamp"
fi

# -- Owners' page assets (npm, pinned; the compiled CSS/JS is served as it ships) ------------------
web_assets="pxstream/web/static"
if [ ! -f "$web_assets/node_modules/nhsuk-frontend/package.json" ] \
    || [ ! -f "$web_assets/node_modules/axe-core/axe.min.js" ] \
    || ! cmp -s "$web_assets/package.json" "$web_assets/node_modules/.pxstream-installed"; then
    say "installing nhsuk-frontend and axe-core into $web_assets/node_modules (npm, pinned)"
    (cd "$web_assets" && npm install --no-audit --no-fund --ignore-scripts --loglevel=error)
    cp "$web_assets/package.json" "$web_assets/node_modules/.pxstream-installed"
fi

# -- Kafka jars -----------------------------------------------------------------------------------
.venv/bin/python - <<'PY'
from infra.broker import KafkaBroker
from infra.config import InfraConfig
from schemas.settings import Settings

KafkaBroker(InfraConfig.from_settings(Settings.from_env())).fetch_jars(lambda message: print(f"setup: {message}", flush=True))
PY
say "ready (.venv/bin/pxstream; data in $PXSTREAM_DATA_DIR)"
