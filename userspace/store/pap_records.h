// The PAP's records now live with their port in the domain.
#pragma once

#include "core/ports/pap.h"
