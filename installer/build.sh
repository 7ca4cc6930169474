#!/usr/bin/env bash
# Builds the desktop app: the PyInstaller one-folder bundle in dist/crm-desktop/ and, on Debian or
# Ubuntu, dist/crm-desktop_<version>_<arch>.deb.
#   bash installer/build.sh              both
#   bash installer/build.sh --no-deb     the bundle only
#   bash installer/build.sh --deb-only   package the bundle already in dist/crm-desktop
#
#   PYTHON         the Python whose environment is bundled (default .venv/bin/python; it needs the
#                  project installed with the "package" extra: pip install -e '.[package]')
#   CRM_DIST_DIR   where the bundle and the .deb go (default dist)
#   CRM_BUILD_DIR  PyInstaller's work folder and the .deb staging tree (default build/installer)
#
# Every build starts clean (no PyInstaller cache is reused), so it is what a clean machine builds.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

PY=${PYTHON:-.venv/bin/python}
DIST=${CRM_DIST_DIR:-dist}
WORK=${CRM_BUILD_DIR:-build/installer}
MAKE_BUNDLE=1 MAKE_DEB=1
case "${1:-}" in
  "") ;;
  --no-deb) MAKE_DEB=0 ;;
  --deb-only) MAKE_BUNDLE=0 ;;
  *) echo "usage: bash installer/build.sh [--no-deb | --deb-only]" >&2; exit 2 ;;
esac

# Debian packages the bundle loads from the system (Qt's X11/xcb/GL stack, fonts, D-Bus, OpenSSL,
# the C++ runtime...). The check below fails the build if the bundle needs a library no package here
# provides. "a | b": the name on Debian 12 / Ubuntu 22.04, or its 64-bit-time rename (Ubuntu 24.04+,
# Debian 13).
DEPENDS=(
  "libc6" "libstdc++6" "libgcc-s1" "zlib1g" "libzstd1" "libbz2-1.0" "liblzma5" "libffi8" "libuuid1"
  "libsqlite3-0" "libssl3 | libssl3t64" "libglib2.0-0 | libglib2.0-0t64" "libdbus-1-3"
  "libfontconfig1" "libfreetype6" "fonts-dejavu-core | fonts-liberation2"
  "libgl1" "libegl1" "libx11-6" "libx11-xcb1" "libxcb1" "libxcb-cursor0" "libxcb-glx0"
  "libxcb-icccm4" "libxcb-image0" "libxcb-keysyms1" "libxcb-randr0" "libxcb-render0"
  "libxcb-render-util0" "libxcb-shape0" "libxcb-shm0" "libxcb-sync1" "libxcb-util1"
  "libxcb-xfixes0" "libxcb-xkb1" "libxkbcommon0" "libxkbcommon-x11-0" "libbrotli1" "libgssapi-krb5-2"
  "libcups2 | libcups2t64"  # the PDF preview's Print (QtPrintSupport)
)

say() { printf '\n== %s\n' "$*"; }

"$PY" -c "import PyInstaller" 2>/dev/null || {
  echo "PyInstaller is missing: $PY -m pip install -e '.[package]'" >&2; exit 1; }

# The bundle's --version comes from the installed metadata: it must match pyproject.toml.
VERSION=$("$PY" -c "import tomllib; print(tomllib.load(open('pyproject.toml', 'rb'))['project']['version'])")
INSTALLED=$("$PY" -c "from importlib.metadata import version; print(version('crm'))")
if [ "$VERSION" != "$INSTALLED" ]; then
  echo "pyproject.toml says $VERSION but the environment has crm $INSTALLED installed: $PY -m pip install -e ." >&2
  exit 1
fi

start=$SECONDS
BUNDLE=$DIST/crm-desktop
mkdir -p "$WORK" "$DIST"
if [ "$MAKE_BUNDLE" = 1 ]; then
  say "PyInstaller bundle -> $BUNDLE"
  rm -rf "$WORK/pyinstaller" "$BUNDLE"
  "$PY" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$DIST" --workpath "$WORK/pyinstaller" installer/crm-desktop.spec
  if command -v strip >/dev/null; then
    # A Python built from source (pyenv) carries debug info: libpython alone is 23 MB, 6 MB without.
    # Drop only the debug sections, as dh_strip does; symbols stay. Never touch the executable
    # itself: PyInstaller appends its archive to it.
    find "$BUNDLE/_internal" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
      | xargs -0 sh -c 'for f; do readelf -S "$f" 2>/dev/null | grep -q "\.debug_info" && echo "$f"; done; exit 0' sh \
      | while read -r f; do strip --strip-debug "$f"; done
  fi
  echo "bundle: $(du -sm "$BUNDLE" | cut -f1) MB in $((SECONDS - start)) s"
fi
[ -x "$BUNDLE/crm-desktop" ] || { echo "no bundle in $BUNDLE: run without --deb-only" >&2; exit 1; }

[ "$MAKE_DEB" = 1 ] || exit 0
if ! command -v dpkg-deb >/dev/null || ! command -v dpkg >/dev/null; then
  echo "dpkg-deb not found: not a Debian-like system, skipping the .deb (the bundle is in $BUNDLE)"
  exit 0
fi

say "system libraries the bundle needs"
# Every NEEDED entry of every ELF file in the bundle that the bundle does not carry itself must come
# from a package in DEPENDS (resolved on this machine: ldconfig -> file -> dpkg -S -> package).
declare -A ALLOWED=()
for dep in "${DEPENDS[@]}"; do
  for alt in ${dep//|/ }; do ALLOWED[$alt]=1; done
done
mapfile -t carried < <(find "$BUNDLE" \( -type f -o -type l \) -name '*.so*' -printf '%f\n' | sort -u)
declare -A CARRIED=()
for name in "${carried[@]}"; do CARRIED[$name]=1; done
# (readelf fails on the non-ELF files among the candidates, e.g. scripts: ignore that.)
needed=$(find "$BUNDLE" -type f \( -name '*.so*' -o -perm -u+x \) -print0 \
  | xargs -0 sh -c 'readelf -d "$@" 2>/dev/null; exit 0' readelf \
  | awk '/\(NEEDED\)/ {gsub(/[][]/, "", $5); print $5}' | sort -u)
# soname -> path of this machine's native library (ldconfig's cache lists other ABIs too).
declare -A SYSLIB=()
while read -r name abi path; do
  [[ $abi == *x86-64* || $abi == *AArch64* || $abi == *64bit* || -z ${SYSLIB[$name]:-} ]] && SYSLIB[$name]=$path
done < <(ldconfig -p | awk 'NR > 1 {print $1, $2, $NF}')
missing=0
for soname in $needed; do
  [ -n "${CARRIED[$soname]:-}" ] && continue
  [[ $soname == ld-linux* ]] && continue  # the dynamic loader itself (libc6)
  path=${SYSLIB[$soname]:-}
  pkg=""
  if [ -n "$path" ]; then
    # merged /usr: the file may be registered under /lib or /usr/lib, or only its real name.
    for candidate in "$path" "$(readlink -f "$path")" "${path/#\/lib\//\/usr\/lib\/}" "${path/#\/usr\/lib\//\/lib\/}"; do
      pkg=$(dpkg -S "$candidate" 2>/dev/null | head -n1 | cut -d: -f1 || true)
      [ -n "$pkg" ] && break
    done
  fi
  if [ -z "$pkg" ]; then
    # Not installed on the build machine (e.g. libxcb-icccm4 on a headless builder): DEPENDS must list it.
    echo "  $soname: not on this machine (must come from one of DEPENDS)"
    continue
  fi
  [ -n "${CRM_BUILD_VERBOSE:-}" ] && echo "  $soname -> $pkg"
  if [ -z "${ALLOWED[$pkg]:-}" ]; then
    echo "  $soname ($path) is in package $pkg, which DEPENDS does not list" >&2
    missing=1
  fi
done
[ "$missing" = 0 ] || { echo "add the packages above to DEPENDS in installer/build.sh" >&2; exit 1; }
echo "all covered by Depends"

say "Debian package"
ARCH=$(dpkg --print-architecture)
# PEP 440 pre-releases sort before the release in Debian only with "~" (0.2.0~rc1 < 0.2.0).
DEB_VERSION=$(echo "$VERSION" | sed -E 's/\.?(dev|a|b|rc)([0-9]+)/~\1\2/')
STAGE=$WORK/deb/crm-desktop
rm -rf "$STAGE"
mkdir -p "$STAGE/DEBIAN" "$STAGE/opt" "$STAGE/usr/bin" "$STAGE/usr/share/applications" \
  "$STAGE/usr/share/icons/hicolor/scalable/apps" "$STAGE/usr/share/doc/crm-desktop"
cp -a "$BUNDLE" "$STAGE/opt/crm-desktop"
ln -s /opt/crm-desktop/crm-desktop "$STAGE/usr/bin/crm-desktop"
install -m 0644 installer/linux/crm-desktop.desktop "$STAGE/usr/share/applications/crm-desktop.desktop"
install -m 0644 resources/icons/app.svg "$STAGE/usr/share/icons/hicolor/scalable/apps/crm-desktop.svg"
install -m 0644 installer/linux/copyright "$STAGE/usr/share/doc/crm-desktop/copyright"
# dpkg installs modes as they are in the tree: readable by all, executables and folders searchable.
chmod -R u+rwX,go+rX,go-w "$STAGE"

depends=$(IFS=,; echo "${DEPENDS[*]}" | sed 's/,/, /g')
cat > "$STAGE/DEBIAN/control" <<EOF
Package: crm-desktop
Version: $DEB_VERSION
Section: misc
Priority: optional
Architecture: $ARCH
Maintainer: CRM maintainers <crm@example.com>
Installed-Size: $(du -sk --exclude=DEBIAN "$STAGE" | cut -f1)
Depends: $depends
Homepage: https://crm.example.com
Description: CRM desktop app for sales and support offices
 The office app of the CRM: leads, clients, activities, tickets, proposals,
 invoices, stock and reports, kept live with the shared CRM server.
 Includes a local demo server on an embedded PostgreSQL (crm-desktop --demo).
EOF
# No maintainer scripts: the icon cache and the desktop menu are refreshed by dpkg triggers, and
# dpkg -r removes every file it installed. Per-user settings (~/.config/crm) stay, as usual.

DEB=$DIST/crm-desktop_${DEB_VERSION}_${ARCH}.deb
rm -f "$DIST"/crm-desktop_*.deb
# zstd -9: 5 s instead of xz's 30-90 s for 230 MB, 10% bigger. dpkg reads zstd since Debian 12 and
# Ubuntu 21.10, the same releases that have the libssl3 we depend on.
dpkg-deb --root-owner-group -Zzstd -z9 --build "$STAGE" "$DEB" >/dev/null
echo "$DEB: $(du -m "$DEB" | cut -f1) MB"
echo "total: $((SECONDS - start)) s"
