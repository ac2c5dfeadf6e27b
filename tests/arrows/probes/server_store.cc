// An arrow probe (tests/arrows): the server's library reaching a store backend (must not compile).
#include "store/sqlite_store.h"
