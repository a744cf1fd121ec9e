#!/bin/sh
# Backs up a Strata store as archives: every release as `strata export` writes it (the same
# release gives the same bytes, so an unchanged release is never written twice), and which
# release each channel serves. Restore with restore-store.sh. See docs/operations.md.
#
#   backup-store.sh STORE BACKUP_FOLDER
set -eu
store=$1
backup=$2
strata=${STRATA:-strata}
mkdir -p "$backup"
"$strata" releases --root "$store" | awk 'NR > 1 { print $1 }' | while read -r id; do
    # export writes the archive whole or not at all
    if [ ! -f "$backup/$id.tar.gz" ]; then "$strata" export "$id" --root "$store" -o "$backup/$id.tar.gz"; fi
done
# channel release, one per line; a channel with no release yet is left out
"$strata" status --root "$store" | awk 'NR > 1 && $2 != "-" { print $1, $2 }' > "$backup/channels.part"
mv "$backup/channels.part" "$backup/channels"
