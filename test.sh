#!/usr/bin/env bash
# The test command of rmp-rpc-demo (README.md, "Run the tests"; .ci/run runs it too):
#
#   ./test.sh
#
# 1. Python's msgpack, which tests/python.rs needs: a virtualenv in target/py (in
#    $CARGO_TARGET_DIR/py when that is set), made once, put first on PATH for the tests.
#    No root needed.
# 2. Neovim, which tests/neovim.rs needs: when `nvim` is missing, installed with apt-get if
#    this runs as root; otherwise the script stops and names the command to run.
# 3. Every test: `cargo test --workspace` (the library, its examples, the book's code and
#    its lint), then the rmp-rpc 0.3 interop crate and the last listing crate of the
#    book's part 3, each a workspace of its own.
#
# A script rather than a `cargo xtask`: all it does is run other programs (python3, pip,
# apt-get, cargo), which a shell says most plainly, and it needs nothing compiled before
# it can say what is missing. When everything is there already, steps 1 and 2 take well
# under a second.
set -euo pipefail
cd "$(dirname "$0")"

say() { printf '==> %s\n' "$*"; }
fail() {
    printf 'test.sh: %s\n' "$*" >&2
    exit 1
}

if [ $# -gt 0 ]; then
    fail "takes no arguments; to run one test file: cargo test --test NAME"
fi

# ---------------------------------------------------------------------------------------
# 1. Python's msgpack, in a virtualenv
# ---------------------------------------------------------------------------------------
venv="${CARGO_TARGET_DIR:-target}/py"
# The msgpack API the peers in tests/peers use.
msgpack_req='msgpack>=1,<2'
if ! "$venv/bin/python3" -c 'import msgpack' >/dev/null 2>&1; then
    command -v python3 >/dev/null 2>&1 \
        || fail "python3 is missing: install it (Debian 12: apt-get install -y python3 python3-venv), then run ./test.sh again"
    say "Python's msgpack: making a virtualenv in $venv"
    rm -rf "$venv"
    mkdir -p "$(dirname "$venv")"
    if python3 -m venv "$venv" 2>/dev/null; then
        "$venv/bin/python3" -m pip install --quiet --disable-pip-version-check "$msgpack_req" \
            || fail "could not install msgpack with: $venv/bin/python3 -m pip install '$msgpack_req'"
    else
        # Debian's python3 without the python3-venv package has no ensurepip: make the
        # virtualenv without pip, and let the system's pip install into it.
        rm -rf "$venv"
        python3 -m venv --without-pip "$venv" \
            || fail "could not make a virtualenv with 'python3 -m venv $venv': install python3-venv (Debian 12: apt-get install -y python3-venv), then run ./test.sh again"
        python3 -m pip --python "$venv/bin/python3" install --quiet --disable-pip-version-check "$msgpack_req" \
            || fail "could not install msgpack in $venv: install python3-venv (Debian 12: apt-get install -y python3-venv), then run ./test.sh again"
    fi
    "$venv/bin/python3" -c 'import msgpack' \
        || fail "$venv/bin/python3 cannot import msgpack even after installing it"
fi
PATH="$(cd "$venv/bin" && pwd):$PATH"
export PATH

# ---------------------------------------------------------------------------------------
# 2. Neovim
# ---------------------------------------------------------------------------------------
if ! command -v nvim >/dev/null 2>&1; then
    if [ "$(id -u)" != 0 ]; then
        fail "Neovim is missing (tests/neovim.rs talks to it). Install it, then run ./test.sh again:
    sudo apt-get update && sudo apt-get install -y neovim"
    fi
    command -v apt-get >/dev/null 2>&1 \
        || fail "Neovim is missing (tests/neovim.rs talks to it) and there is no apt-get here: install Neovim with this system's package manager, then run ./test.sh again"
    say "Neovim: installing it with apt-get"
    apt-get update || fail "apt-get update failed, so Neovim cannot be installed"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends neovim \
        || fail "could not install Neovim with: apt-get install -y --no-install-recommends neovim"
    command -v nvim >/dev/null 2>&1 \
        || fail "apt-get installed neovim, but there is no nvim on PATH ($PATH)"
fi
say "$(nvim --version | head -n 1) (tests pinned to another version say they are skipped); python msgpack $(python3 -c 'import msgpack; print(".".join(map(str, msgpack.version)))') in $venv"

# ---------------------------------------------------------------------------------------
# 3. The tests
# ---------------------------------------------------------------------------------------
say "cargo test --workspace"
cargo test --workspace
say "cargo test --manifest-path interop/rmp-rpc/Cargo.toml"
cargo test --manifest-path interop/rmp-rpc/Cargo.toml
say "cargo test --manifest-path book/listings/ch03-04-examples/Cargo.toml"
cargo test --manifest-path book/listings/ch03-04-examples/Cargo.toml
say "every test passed"
