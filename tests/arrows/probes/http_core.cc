// An arrow probe (tests/arrows): HTTP reaching the domain (must not compile).
#include "core/policy_graph.h"
