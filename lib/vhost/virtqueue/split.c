/* SPDX-License-Identifier: BSD-3-Clause */
/* stub: being written */
#include "vq.h"
