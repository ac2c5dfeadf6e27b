// An arrow probe (tests/arrows): the domain reaching the logging library (must not compile).
#include "common/log.h"
