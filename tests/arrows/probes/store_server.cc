// An arrow probe (tests/arrows): the store reaching the server (must not compile).
#include "server/auth.h"
