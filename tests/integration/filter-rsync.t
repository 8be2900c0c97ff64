#!/bin/sh
# The sync engine's rsync filter rules (src/build/filter.c) against rsync
# itself: the three eras' rules and rsync(1)'s examples, sending into an
# empty snapshot, copying out (--prune-empty-dirs) and mirroring with
# --delete; see filtercmp.py.  Runs tests/helpers/sync-tree (the engine
# without the sandboxes) as the test user.
. "$SRCDIR/tests/integration/lib.sh"
need rsync python3
SYNC_TREE=$(pwd)/tests/helpers/sync-tree
[ -x "$SYNC_TREE" ] || skip_all "$SYNC_TREE is not built (make check builds it)"
as_user python3 "$SRCDIR/tests/integration/filtercmp.py" "$SYNC_TREE" "$WORK"
