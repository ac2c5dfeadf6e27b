// An arrow probe (tests/arrows): the domain reaches its own ports (must compile).
#include "core/ports/store.h"
