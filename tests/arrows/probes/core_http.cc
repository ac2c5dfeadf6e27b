// An arrow probe (tests/arrows): the domain reaching HTTP (must not compile).
#include "http/router.h"
