#!/usr/bin/env bash
# After `vagrant up`: the cross-VM checks (allowed and denied TCP, UDP, ping, IPv6 across the
# cells; cell2's agent restarted; the server restarted). Exit 0 when all passed.
cd "$(dirname "$0")" && exec ../scripts/provision/check.sh --vagrant
