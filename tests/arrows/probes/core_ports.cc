// An arrow probe (tests/arrows): the domain reaches its own ports (must compile).
#include "core/ports/cells.h"
#include "core/ports/store.h"
