#!/usr/bin/env bash
# Make sure Docker has SAM's Python 3.12 base image, public.ecr.aws/lambda/python:3.12-x86_64:
# AWS's own when it is there or can be pulled, else a stand-in built here from Debian's packages
# (no registry needed). `sam local` then runs with --skip-pull-image.
#
#     [ARCH=x86_64] devtools/lambda_image.sh [PYTHON3.12]   # the interpreter to copy in (Makefile's SAM_PYTHON)
#
# The stand-in is what AWS's image is, as far as the runtime interface goes: a Debian bookworm
# root file system (debootstrap --variant=minbase, from the mirror this machine's apt uses), a
# CPython 3.12 at /var/lang (a copy of the given interpreter), awslambdaric and boto3 in
# /var/runtime, /var/runtime/bootstrap running `python3.12 -m awslambdaric "$_HANDLER"`, and
# /lambda-entrypoint.sh as AWS's image has it. About 2 minutes; nothing to do once it exists.
set -euo pipefail

ARCH=${ARCH:-x86_64}
IMAGE=public.ecr.aws/lambda/python:3.12-$ARCH
PYTHON=${1:-python3.12}
SUITE=bookworm
# Shared libraries the interpreter's extension modules link against (ssl, ctypes, sqlite3, ...).
LIBRARIES=libssl3,libffi8,libsqlite3-0,libbz2-1.0,liblzma5,zlib1g,libreadline8,libncursesw6,libuuid1,libgdbm6,libexpat1

log() { echo "lambda_image: $*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    exit 0
fi
if timeout 60 docker pull --quiet "$IMAGE" >/dev/null 2>&1; then
    log "pulled AWS's $IMAGE"
    exit 0
fi
log "cannot pull $IMAGE: building a stand-in from Debian's packages"

"$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null \
    || { log "need a Python 3.12 to copy into the image (got: $PYTHON)"; exit 1; }
[ "$ARCH" = x86_64 ] && [ "$(uname -m)" = x86_64 ] \
    || { log "the stand-in is x86_64 only (wanted $ARCH on $(uname -m)): pull AWS's image instead"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap is missing (apt-get install -y debootstrap)"; exit 1; }

# The Debian mirror apt already uses here (deb822 .sources or one-line .list), else deb.debian.org.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^[:space:]]*\/debian\)\/\?[[:space:]]*$/\1/p' \
    /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
if [ -z "$mirror" ]; then
    mirror=$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\(http[^[:space:]]*\/debian\)\/\?[[:space:]]\+.*/\2/p' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -n1)
fi
mirror=${mirror:-http://deb.debian.org/debian}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs

log "debootstrap $SUITE from $mirror"
debootstrap --variant=minbase --include="$LIBRARIES" "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; exit 1; }
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

log "CPython $("$PYTHON" -c 'import platform; print(platform.python_version())') at /var/lang"
prefix=$("$PYTHON" -c 'import sys; print(sys.base_prefix)')
mkdir -p "$root/var/lang"
tar -C "$prefix" --exclude='lib/python3.12/test' --exclude='lib/python3.12/site-packages/*' \
    --exclude='__pycache__' -cf - . | tar -C "$root/var/lang" -xf -

log "awslambdaric and boto3 in /var/runtime"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-compile --target "$root/var/runtime" \
    --only-binary=:all: --platform manylinux2014_x86_64 --python-version 3.12 awslambdaric boto3

cat >"$root/var/runtime/bootstrap" <<'EOF'
#!/bin/sh
# The runtime: awslambdaric talks to the Runtime API (the emulator locally) and runs $_HANDLER.
export PYTHONPATH="${LAMBDA_TASK_ROOT:-/var/task}:/opt/python/lib/python3.12/site-packages:/opt/python:/var/runtime${PYTHONPATH:+:$PYTHONPATH}"
cd "${LAMBDA_TASK_ROOT:-/var/task}"
exec /var/lang/bin/python3.12 -m awslambdaric "$_HANDLER"
EOF
cat >"$root/lambda-entrypoint.sh" <<'EOF'
#!/bin/sh
# As in AWS's images: the handler is the first argument; outside Lambda, run under the emulator.
if [ $# -ne 1 ]; then
  echo "entrypoint requires the handler name to be the first argument" 1>&2
  exit 142
fi
export _HANDLER="$1"
RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie $RUNTIME_ENTRYPOINT
else
  exec $RUNTIME_ENTRYPOINT
fi
EOF
chmod 755 "$root/var/runtime/bootstrap" "$root/lambda-entrypoint.sh"
mkdir -p "$root/var/task" "$root/opt"

log "docker import as $IMAGE"
tar -C "$root" -cf - . | docker import \
    --change 'ENV LANG=en_US.UTF-8' \
    --change 'ENV TZ=:/etc/localtime' \
    --change 'ENV PATH=/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin' \
    --change 'ENV LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib' \
    --change 'ENV LAMBDA_TASK_ROOT=/var/task' \
    --change 'ENV LAMBDA_RUNTIME_DIR=/var/runtime' \
    --change 'WORKDIR /var/task' \
    --change 'ENTRYPOINT ["/lambda-entrypoint.sh"]' \
    - "$IMAGE" >/dev/null
log "built $IMAGE (stand-in)"
