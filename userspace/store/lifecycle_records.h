// The lifecycle API's records and LifecycleTx now live with their port in the domain.
#pragma once

#include "core/ports/lifecycle.h"
