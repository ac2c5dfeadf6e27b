#!/usr/bin/env bash
# `vagrant validate` of vagrant/Vagrantfile, offline: no provider can run here (no
# hypervisor), so provider blocks are ignored for validation (--ignore-provider); `ruby -c`
# checks the whole file's syntax, provider blocks included. Skips (77) without vagrant.
set -uo pipefail
dir=${1:?usage: vagrant_validate.sh VAGRANT_DIR}
if ! command -v vagrant >/dev/null; then
  echo "skip: vagrant is not installed (scripts/install-deps.sh installs Debian's vagrant)"
  exit 77
fi
tmp=$(mktemp -d /tmp/wt-vagrant-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
failed=0
if command -v ruby >/dev/null; then
  ruby -c "$dir/Vagrantfile" || failed=1
fi
# VAGRANT_HOME in a temp dir: nothing of the user's vagrant state is read or written; no box
# is needed to validate. VAGRANT_CHECKPOINT_DISABLE: no version check over the network.
out=$(cd "$dir" && VAGRANT_HOME=$tmp VAGRANT_CHECKPOINT_DISABLE=1 VAGRANT_DOTFILE_PATH=$tmp/dot \
  timeout 150 vagrant validate --ignore-provider 2>&1)
rc=$?
echo "$out"
[ $rc = 0 ] && grep -q 'validated successfully' <<<"$out" || failed=1
# Every VM the README names is defined.
for vm in server cell1 cell2; do
  grep -q "\"$vm\"" "$dir/Vagrantfile" || { echo "FAIL: no VM $vm"; failed=1; }
done
exit $failed
