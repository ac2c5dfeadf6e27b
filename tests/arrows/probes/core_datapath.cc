// An arrow probe (tests/arrows): the domain reaching the datapath (must not compile).
#include "datapath/datapath.h"
