#!/usr/bin/env bash
# Install the Autobahn|Testsuite (`wstest`, PyPI autobahntestsuite==0.8.2)
# into a Python 2.7 virtualenv at autobahn/.venv.
#
# Python 2.7 comes from pyenv when it has a 2.7.x version; otherwise from
# Debian bullseye's python2.7 package, installed through a private apt
# configuration (own sources list, lists and cache under autobahn/.cache), so
# the machine's apt sources and lists are not touched.
#
# Idempotent: when the venv matches the pinned requirements and interpreter it
# only says so and exits.
#
# Environment:
#   AUTOBAHN_FORCE_BULLSEYE=1  use the Debian bullseye python2.7 even when
#                              pyenv has a 2.7 version
#   AUTOBAHN_VENV=DIR          virtualenv location (default autobahn/.venv)
#   AUTOBAHN_CACHE=DIR         downloads/apt state (default autobahn/.cache)
#   AUTOBAHN_DEBIAN_MIRROR=URL Debian archive URL for bullseye (default: the
#                              first non-security .../debian URI of the
#                              machine's apt sources)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
VENV=${AUTOBAHN_VENV:-$HERE/.venv}
CACHE=${AUTOBAHN_CACHE:-$HERE/.cache}
REQS=$HERE/requirements.txt
BOOT_REQS=$HERE/requirements-bootstrap.txt
PIP_VERSION=20.3.4
# Bump to force a rebuild of existing venvs when this script changes meaningfully.
INSTALL_FORMAT=1

log() { printf '[autobahn/install] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

case "$VENV" in
    "" | / | /usr | /usr/* | "$HOME") die "refusing to use AUTOBAHN_VENV=$VENV" ;;
esac

mkdir -p "$CACHE"
# Serialise concurrent installs (e.g. two run.sh invocations).
exec 9>"$CACHE/install.lock"
flock 9

# ---------------------------------------------------------------- python 2.7
find_pyenv_python() {
    local root=""
    if command -v pyenv >/dev/null 2>&1; then
        root=$(pyenv root 2>/dev/null || true)
    fi
    [[ -n "$root" ]] || root=${PYENV_ROOT:-$HOME/.pyenv}
    [[ -d "$root/versions" ]] || return 1
    local cand
    cand=$(printf '%s\n' "$root"/versions/2.7.*/bin/python2.7 | sort -V | tail -n 1)
    [[ -n "$cand" && -x "$cand" ]] || return 1
    "$cand" -c 'import ssl, zlib' >/dev/null 2>&1 || return 1
    printf '%s\n' "$cand"
}

debian_mirror() {
    if [[ -n "${AUTOBAHN_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "${AUTOBAHN_DEBIAN_MIRROR%/}"
        return
    fi
    local m
    m=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
            /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -E '^[[:space:]]*(URIs:|deb[[:space:]])' \
        | grep -oE 'https?://[^[:space:]]+' \
        | grep -vE 'security' \
        | grep -E '/debian/?$' | head -n 1 || true)
    [[ -n "$m" ]] || return 1
    printf '%s\n' "${m%/}"
}

bullseye_python_ok() {
    [[ -x /usr/bin/python2.7 && -f /usr/include/python2.7/Python.h ]] || return 1
    local st
    st=$(dpkg-query -W -f='${Status}\n' python2.7 python2.7-dev 2>/dev/null) || return 1
    [[ $(grep -c '^install ok installed$' <<<"$st") -eq 2 ]]
}

install_bullseye_python() {
    if bullseye_python_ok && /usr/bin/python2.7 -c 'import ssl, zlib' >/dev/null 2>&1; then
        log "Debian python2.7 already installed: /usr/bin/python2.7"
        return
    fi
    command -v apt-get >/dev/null || die "no pyenv 2.7 and no apt-get: cannot get Python 2.7"
    [[ $(id -u) -eq 0 ]] || die "installing Debian's python2.7 needs root"
    local apt_dir=$CACHE/apt-bullseye mirror
    mirror=$(debian_mirror) ||
        die "no Debian mirror found in /etc/apt/sources.list*; set AUTOBAHN_DEBIAN_MIRROR"
    mkdir -p "$apt_dir/state/lists/partial" "$apt_dir/cache/archives/partial"
    printf 'deb %s bullseye main\n' "$mirror" >"$apt_dir/sources.list"
    local -a apt_opts=(
        -o "Dir::Etc::SourceList=$apt_dir/sources.list"
        -o "Dir::Etc::SourceParts=/dev/null"
        -o "Dir::State=$apt_dir/state"
        -o "Dir::Cache=$apt_dir/cache"
        -o "Acquire::Check-Valid-Until=false"
        -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
        -o "Acquire::IndexTargets::deb::DEP-11-icons-hidpi::DefaultEnabled=false"
        -o "DPkg::Lock::Timeout=300"
    )
    log "installing python2.7 from Debian bullseye ($mirror) with a private apt config in $apt_dir"
    apt-get "${apt_opts[@]}" -q update
    # python2.7-dev: wsaccel and zope.interface are built from source.
    # Deliberately NOT python-pip / python-virtualenv (they would replace the
    # system's Python 3 pip/venv with bullseye's); pip is bootstrapped below.
    DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" -q -y \
        install --no-install-recommends python2.7 python2.7-dev
    bullseye_python_ok || die "python2.7 from bullseye did not install"
}

if [[ "${AUTOBAHN_FORCE_BULLSEYE:-0}" == 1 ]]; then
    log "AUTOBAHN_FORCE_BULLSEYE=1: using Debian bullseye's python2.7"
    install_bullseye_python
    PY27=/usr/bin/python2.7
    FLAVOR=bullseye
elif PY27=$(find_pyenv_python); then
    FLAVOR=pyenv
else
    log "pyenv has no Python 2.7; falling back to Debian bullseye's python2.7"
    install_bullseye_python
    PY27=/usr/bin/python2.7
    FLAVOR=bullseye
fi
PY27_VERSION=$("$PY27" -c 'import sys; print(sys.version.split()[0])')

# ---------------------------------------------------------------- up to date?
req_sum=$(cat "$REQS" "$BOOT_REQS" | sha256sum | cut -d' ' -f1)
STAMP_WANT="format=$INSTALL_FORMAT python=$PY27 version=$PY27_VERSION reqs=$req_sum"
STAMP=$VENV/.autobahn-install-stamp

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$STAMP_WANT" && -x "$VENV/bin/wstest" ]] &&
    "$VENV/bin/wstest" -a >/dev/null 2>&1; then
    log "wstest already installed in $VENV (Python $PY27_VERSION, $FLAVOR: $PY27)"
    exit 0
fi

# ---------------------------------------------------------------- bootstrap
log "using Python $PY27_VERSION ($FLAVOR): $PY27"
WHEELS=$CACHE/wheels
PIP_WHL=$WHEELS/pip-$PIP_VERSION-py2.py3-none-any.whl
if [[ ! -f "$PIP_WHL" ]]; then
    log "downloading pip $PIP_VERSION wheel from PyPI"
    mkdir -p "$WHEELS"
    python3 -m pip download -q --disable-pip-version-check "pip==$PIP_VERSION" \
        --no-deps --only-binary=:all: --python-version 27 --implementation py \
        --abi none --platform any -d "$WHEELS"
    [[ -f "$PIP_WHL" ]] || die "pip wheel download failed"
fi
# pip runs straight from its wheel (zipimport): python2.7 pip.whl/pip ...
pip27_from_wheel() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$PY27" "$PIP_WHL/pip" "$@" --no-python-version-warning
}

TOOLS=$CACHE/py27-tools-$FLAVOR
tools_sum_file=$TOOLS/.reqs-sha256
boot_sum=$(sha256sum "$BOOT_REQS" | cut -d' ' -f1)
if [[ ! -f "$tools_sum_file" || "$(cat "$tools_sum_file")" != "$boot_sum" ]]; then
    log "installing virtualenv (pinned, Python 2.7) into $TOOLS"
    rm -rf "$TOOLS"
    # Pass 1: setuptools + wheel (wheels only): Debian's python2.7 has no
    # setuptools, and pass 2 builds scandir from its sdist.
    local_setup_reqs=()
    mapfile -t local_setup_reqs < <(grep -E '^(setuptools|wheel)==' "$BOOT_REQS")
    pip27_from_wheel install -q --no-deps --only-binary=:all: --target "$TOOLS/setup" \
        --cache-dir "$CACHE/pip-$FLAVOR" "${local_setup_reqs[@]}"
    PYTHONPATH=$TOOLS/setup pip27_from_wheel install -q --no-deps --target "$TOOLS/site" \
        --cache-dir "$CACHE/pip-$FLAVOR" \
        -r <(grep -vE '^(setuptools|wheel)==' "$BOOT_REQS")
    echo "$boot_sum" >"$tools_sum_file"
fi

# ---------------------------------------------------------------- venv
log "creating virtualenv $VENV"
rm -rf "$VENV"
PYTHONPATH=$TOOLS/site "$PY27" -m virtualenv -q --no-periodic-update --no-download \
    --app-data "$CACHE/virtualenv-app-data" \
    --pip bundle --setuptools bundle --wheel bundle "$VENV"
venv_pip() {
    PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip "$@"
}
if ! venv_pip --version 2>/dev/null | grep -q "^pip $PIP_VERSION "; then
    # virtualenv seeds its bundled pip; make sure it is exactly the pinned one.
    venv_pip install -q --no-python-version-warning --no-index --force-reinstall "$PIP_WHL"
fi

log "installing pinned requirements (autobahntestsuite) into $VENV"
venv_pip install -q --no-python-version-warning --no-deps \
    --cache-dir "$CACHE/pip-$FLAVOR" -r "$REQS"
venv_pip check --no-python-version-warning >&2
"$VENV/bin/wstest" -a 2>/dev/null | sed 's/^/[autobahn\/install] /' >&2
echo "$STAMP_WANT" >"$STAMP"
log "done: $VENV/bin/wstest"
