// The Store and its transaction as backends implement them; the interfaces are the domain's
// (core/ports/), so the domain includes nothing of store/.
#pragma once

#include "core/ports/store.h"
