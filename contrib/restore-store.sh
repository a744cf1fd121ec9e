#!/bin/sh
# Restores what backup-store.sh saved into a store (new or existing): imports every release —
# each archive must add up to its recorded fingerprint, or nothing of it is published — then
# points each channel at the release it served. See docs/operations.md.
#
#   restore-store.sh BACKUP_FOLDER STORE
set -eu
backup=$1
store=$2
strata=${STRATA:-strata}
for archive in "$backup"/*.tar.gz; do
    [ -e "$archive" ] || continue
    "$strata" import "$archive" --root "$store" > /dev/null
done
while read -r channel id; do
    "$strata" activate "$id" --channel "$channel" --root "$store"
done < "$backup/channels"
