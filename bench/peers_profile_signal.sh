#!/bin/sh
# ctest bench.peers_profile_signal: wiretag-bench-peers --profile killed by SIGTERM while perf
# records leaves neither perf's data file nor its namespaces behind. Argument: the bench.
bench=$1
"$bench" --only wiretag-10 --sizes 10 --loads 0 --rounds 1 --seconds 6 --profile >/dev/null 2>&1 &
pid=$!
file=/tmp/wiretag-bench-peers-$pid.perf
trap 'kill -KILL $pid 2>/dev/null; rm -f "$file"' EXIT
i=0
while [ ! -e "$file" ]; do  # perf starts with the wiretag flood, after the unfiltered one
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 $pid 2>/dev/null; then
    echo "perf's data file $file never appeared"
    exit 1
  fi
  sleep 0.1
done
sleep 1
kill -TERM $pid
wait $pid
if [ -e "$file" ]; then
  echo "left behind: $file"
  exit 1
fi
if ip netns list | grep -q "wtpb${pid}c"; then
  echo "left behind: namespaces wtpb${pid}c*"
  exit 1
fi
echo "SIGTERM mid-flood: perf's data file and the namespaces removed"
