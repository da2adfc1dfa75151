#!/usr/bin/env bash
# Build the Debian package from this checkout with dpkg-deb (no cargo-deb:
# nothing to install in CI, and the package is small enough to lay out by
# hand). Prints the .deb's path last.
#
#   scripts/deb.sh              # cargo build --release, then the package
#   POPLINE_BIN=path scripts/deb.sh   # package an already built binary
#
# Contents: /usr/bin/popline (reference plugins and SDK compiled in), the
# systemd unit (examples/systemd/popline.service, ExecStart on /usr/bin),
# /etc/popline/popline.toml (examples/popline.toml, a conffile), docs; the
# maintainer scripts in packaging/debian/ create the popline user and
# /var/lib/popline, and remove them on purge.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n '/^\[workspace.package\]/,/^\[/s/^version = "\(.*\)"/\1/p' Cargo.toml)
arch=$(dpkg --print-architecture)
bin=${POPLINE_BIN:-}
if [ -z "$bin" ]; then
  cargo build --release --locked -p popline
  bin=target/release/popline
fi
[ -x "$bin" ] || { echo "deb: no executable at $bin" >&2; exit 1; }

out=target/debian
root=$out/popline_${version}_${arch}
rm -rf "$root" && mkdir -p "$root/DEBIAN"

install -D -m 0755 "$bin" "$root/usr/bin/popline"
strip --strip-unneeded "$root/usr/bin/popline" 2>/dev/null || true

# The unit the repository documents, with the packaged binary's path. Its
# LoadCredential example needs a file the package does not ship (systemd
# refuses to start without it), so it stays a comment.
unit=$root/lib/systemd/system/popline.service
install -D -m 0644 examples/systemd/popline.service "$unit"
sed -i -e 's|^# /etc/systemd/system/popline.service|# /lib/systemd/system/popline.service (Debian package)|' \
       -e 's|/usr/local/bin/popline|/usr/bin/popline|g' \
       -e 's|^LoadCredential=|#LoadCredential=|' "$unit"
grep -q '^ExecStart=/usr/bin/popline ' "$unit" || { echo "deb: the unit's ExecStart does not run /usr/bin/popline" >&2; exit 1; }

install -D -m 0644 examples/popline.toml "$root/etc/popline/popline.toml"
echo /etc/popline/popline.toml > "$root/DEBIAN/conffiles"

doc=$root/usr/share/doc/popline
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 LICENSE "$doc/copyright"
install -m 0644 docs/operations.md docs/config-reference.md docs/troubleshooting.md docs/microsoft-365.md "$doc/"
gzip -9n < CHANGELOG.md > "$doc/changelog.gz"

for s in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$s" "$root/DEBIAN/$s"
done

# Shared-library dependencies as dpkg-shlibdeps computes them, when it is here.
depends="libc6, libgcc-s1"
if command -v dpkg-shlibdeps >/dev/null 2>&1; then
  tmp=$(mktemp -d)
  mkdir "$tmp/debian" && printf 'Source: popline\n\nPackage: popline\nArchitecture: any\n' > "$tmp/debian/control"
  abs=$(realpath "$root/usr/bin/popline")
  if shl=$(cd "$tmp" && dpkg-shlibdeps -O "$abs" 2>/dev/null); then
    depends=${shl#shlibs:Depends=}
  fi
  rm -rf "$tmp"
fi

size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: popline
Version: $version
Architecture: $arch
Maintainer: popline maintainers <popline@localhost>
Section: mail
Priority: optional
Depends: adduser, $depends
Installed-Size: $size
Description: email replies in POP3 mailboxes to feedback records
 popline fetches beta testers' replies from POP3 mailboxes (Microsoft 365
 with OAuth 2.0, or any POP3 server), matches each to its feedback item,
 trims the quoted history and writes feedback records to JSON lines,
 SQLite, HTTP, PostgreSQL or NATS. The POP3 dialogue and the mapping run as
 sandboxed WebAssembly plugins; the reference plugins are built in.
 .
 Runs as the popline user under systemd (popline.service, not enabled on
 install); configuration in /etc/popline/popline.toml, state in
 /var/lib/popline.
CONTROL

deb=$out/popline_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "$deb"
