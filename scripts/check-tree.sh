#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-or-later
# Tree rules from STYLE.md that a compiler does not check: every public
# header (and tests/unit helper header) compiles alone with a BATON_*_H
# guard, KVM ioctls stay in accel/kvm/ and VFIO ioctls in hw/vfio/, folder-private headers stay in
# their folder (tests may look inside) and so do a folder's trace events, every source file starts with its
# SPDX line, and no file grows past the size limit.
# Usage: scripts/check-tree.sh SRCDIR [CC]
src=${1:-.}
cc=${2:-cc}
cd "$src" || exit 1
fail=0
err() { echo "check-tree: $*"; fail=1; }

cflags="-std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Iinclude $(pkg-config --cflags glib-2.0 json-glib-1.0)"
# The unit tests' shared helper headers (tests/unit/*.h) too.
for h in $(git ls-files 'include/*.h' 'tests/unit/*.h' 2>/dev/null ||
           find include tests/unit -name '*.h'); do
    guard=$(echo "BATON_${h#include/}" | tr 'a-z/.-' 'A-Z___')
    grep -q "#ifndef $guard" "$h" || err "$h: include guard should be $guard"
    printf '#include "util/osdep.h"\n#include "%s"\n#include "%s"\n' \
        "${h#include/}" "${h#include/}" |
        $cc $cflags -I. -fsyntax-only -x c - 2>/tmp/check-tree.$$ ||
        { err "$h does not compile on its own:"; head -5 /tmp/check-tree.$$; }
done
rm -f /tmp/check-tree.$$

files=$(git ls-files '*.c' '*.h' 2>/dev/null)
# KVM ioctls only through accel/kvm's wrappers.
stray=$(grep -n 'ioctl *(.*KVM_' $files | grep -v '^accel/kvm/' | grep -v '^tests/')
[ -n "$stray" ] && err "KVM ioctl outside accel/kvm/:
$stray"

# VFIO ioctls only through hw/vfio's wrapper (vfio_ioctl, traced).
stray=$(grep -n 'ioctl *(.*VFIO_' $files | grep -v '^hw/vfio/' | grep -v '^tests/')
[ -n "$stray" ] && err "VFIO ioctl outside hw/vfio/:
$stray"
stray=$(grep -n '[^_]ioctl *(' $(git ls-files 'hw/vfio/*.c') | grep -v '^hw/vfio/helpers.c')
[ -n "$stray" ] && err "raw ioctl() in hw/vfio/ (use VFIO_IOCTL):
$stray"

# Folder-private headers: included only from their own folder or tests/.
for f in $files; do
    case $f in tests/*) continue ;; esac
    dir=$(dirname "$f")
    grep -o '#include "[^"]*"' "$f" | sed 's/#include "\(.*\)"/\1/' |
    while read -r inc; do
        case $inc in
        ../*) echo "$f: includes $inc from another folder (private header)" ;;
        # Generated from trace-events files (include/trace/meson.build): the
        # event list, and only a folder's own events, through its trace.h.
        trace/trace-list.h) ;;
        trace/trace-*.h)
            group=${inc#trace/trace-}
            [ "${group%.h}" = "$(printf %s "$dir" | tr -c 'A-Za-z0-9' '_')" ] &&
                [ -f "$dir/trace-events" ] ||
                echo "$f: includes $inc, the trace events of another folder" ;;
        */*) [ -f "include/$inc" ] || echo "$f: includes $inc, which is not a public header" ;;
        *) [ -f "$dir/$inc" ] || echo "$f: includes $inc, not in $dir/" ;;
        esac
    done
done > /tmp/check-tree-inc.$$
[ -s /tmp/check-tree-inc.$$ ] && err "private or missing includes:
$(cat /tmp/check-tree-inc.$$)"
rm -f /tmp/check-tree-inc.$$

# SPDX line near the top of every source file.
for f in $(git ls-files '*.c' '*.h' '*.py' '*.sh' '*.s' '*.inc' 'meson.build' '*/meson.build' 'scripts/*' 2>/dev/null); do
    head -n 3 "$f" | grep -q 'SPDX-License-Identifier: GPL-2.0-or-later' ||
        err "$f: missing SPDX-License-Identifier line"
done

# Size: over 1,500 lines needs a split plan, over 2,500 is refused.
for f in $files; do
    n=$(wc -l < "$f")
    [ "$n" -gt 2500 ] && err "$f has $n lines (limit 2500)"
    [ "$n" -gt 1500 ] && echo "check-tree: note: $f has $n lines (split plan needed over 1500)"
done

[ $fail = 0 ] && echo "check-tree: ok"
exit $fail
