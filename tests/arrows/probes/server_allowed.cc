// An arrow probe (tests/arrows): the server reaches the domain's ports and HTTP (must compile).
#include "core/ports/store.h"
#include "http/router.h"
