#!/bin/bash
# No control flow branches on an error code's text (issue 20): handlers ask the error's kind
# (include/wiretag/error_kind.h); userspace/http/errors.cc is the one code → HTTP status map.
# Fails, naming each line, when a source compares an Error's code with a string.
set -u
root=${1:?usage: error_code_branches.sh SOURCE_DIR}
cd "$root" || exit 2
hits=$(grep -rnE '(\bcode|\.code\(\))[[:space:]]*(==|!=)[[:space:]]*"|"[A-Z_]+"[[:space:]]*(==|!=)[[:space:]]*[A-Za-z_.()]*\bcode\b|\bcode(\(\))?\.(starts_with|ends_with|find|compare|rfind)\(' \
  --include='*.cc' --include='*.h' userspace include |
  grep -v '^userspace/http/errors.cc:' | grep -v '^include/wiretag/error_kind.h:')
if [ -n "$hits" ]; then
  echo "error codes compared as text (branch on error_kind() instead):"
  echo "$hits"
  exit 1
fi
echo "no branch on an error code's text"
