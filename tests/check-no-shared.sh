#!/bin/sh
# SPDX-License-Identifier: MIT
# A clone must work on its own: no tracked file outside docs/ may read or mention the shared
# workspace beside the repository (its real-BlueZ rig is an optional developer tool that
# docs/bluetooth.md describes). Usage: check-no-shared.sh SOURCE-ROOT
set -u
cd "$1" || exit 1
pattern='\.\./'"shared"   # split, so that this file does not match itself

if [ -e .git ] && command -v git >/dev/null 2>&1; then
        files=$(git ls-files -- . ':!docs')
else
        # an unpacked release without git: every file but docs/ and build trees
        files=$(find . -type f ! -path './docs/*' ! -path './.git/*' ! -path './build*' | sed 's|^\./||')
fi
[ -n "$files" ] || { echo "no files found under $1" >&2; exit 1; }

hits=$(printf '%s\n' "$files" | tr '\n' '\0' | xargs -0 grep -IHn -e "$pattern" -- 2>/dev/null)
if [ -n "$hits" ]; then
        echo "These files outside docs/ refer to the shared workspace; reword them (see docs/bluetooth.md for the rig):" >&2
        printf '%s\n' "$hits" >&2
        exit 1
fi
echo "ok: $(printf '%s\n' "$files" | wc -l) files outside docs/, none refers to the shared workspace"
