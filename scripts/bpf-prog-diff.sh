#!/usr/bin/env bash
# Compares the instructions (and map relocations) of BPF programs in two objects, ignoring
# addresses and label numbers: shows that a change to bpf/lib left a program as it was.
#
#   scripts/bpf-prog-diff.sh OLD.bpf.o NEW.bpf.o [PROG...]   (default: wt_stamp_prog wt_enforce_prog)
#
# Exit 0 when every program is identical, 1 otherwise (the differences printed).
set -uo pipefail
[ $# -ge 2 ] || { sed -n '2,7p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
old=$1 new=$2; shift 2
progs=("$@")
[ ${#progs[@]} -gt 0 ] || progs=(wt_stamp_prog wt_enforce_prog)
listing() { # listing OBJ PROG: the program's instructions, addresses and labels normalized
  llvm-objdump -d -r --no-show-raw-insn "$1" |
    awk -v f="<$2>:" '$0 ~ f {p=1; next} /^[0-9a-f]+ <wt_/ {p=0} p' |
    sed -E 's/^ *[0-9a-f]+:\s*//; s/^\s*[0-9a-f]+:\s+R_BPF/R_BPF/; s/^ *[0-9a-f]+ <LBB[0-9]+_/<LBB_/; s/<LBB[0-9]+_/<LBB_/g'
}
status=0
for p in "${progs[@]}"; do
  a=$(listing "$old" "$p") b=$(listing "$new" "$p")
  if [ -z "$a" ] || [ -z "$b" ]; then echo "$p: missing in one object"; status=1; continue; fi
  if [ "$a" = "$b" ]; then
    echo "$p: identical ($(grep -vc '^R_BPF\|^<LBB' <<<"$a") instructions)"
  else
    echo "$p: differs"; diff <(echo "$a") <(echo "$b") | head -40; status=1
  fi
done
exit $status
