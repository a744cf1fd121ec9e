#!/usr/bin/env bash
# `make test`'s last step: `swift test --skip-build`, its output line by line (so a log cut short
# still says what was running), under a time limit. A suite still running after it is stopped,
# and the tests that started and never ended are named, with the processes still around: a hang
# becomes a failure that says where, not a CI job that times out saying nothing.
set -uo pipefail
swift=${SWIFT:-swift}
limit=${STRATA_TEST_TIME_LIMIT:-40m}
log=.build/test-run.log
mkdir -p .build

stdbuf -oL -eL timeout --kill-after=30s "$limit" "$swift" test --skip-build 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "make test: the suite was still running after $limit and was stopped. Started and never ended:" >&2
    python3 - "$log" >&2 <<'EOF'
import re, sys
started, ended = {}, set()
for line in open(sys.argv[1], errors="replace"):
    if m := re.search(r"Test (\w+\([^)]*\)) started", line):
        started.setdefault(m.group(1), line.strip())
    elif m := re.search(r"Test (\w+\([^)]*\))(?: with \d+ test cases?)? (passed|failed|skipped)", line):
        ended.add(m.group(1))
for name in started:
    if name not in ended:
        print("  " + name)
EOF
    echo "processes still running:" >&2
    ps -eo pid,ppid,etime,args --forest | grep -v " ps -eo" | cut -c1-200 >&2
fi
exit "$status"
