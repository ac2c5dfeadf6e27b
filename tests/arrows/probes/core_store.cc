// An arrow probe (tests/arrows): the domain reaching the store (must not compile).
#include "store/store.h"
