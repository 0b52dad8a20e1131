// k_head.cc: kernels/head.cu compiled for the host emulator.
#include "../../kernels/head.cu"
#include "emu_registry.h"

EMU_KERNEL(pool_mean_forward)
EMU_KERNEL(pool_max_forward)
EMU_KERNEL(pool_max_backward)
EMU_KERNEL(bce_head_forward)
EMU_KERNEL(bce_head_backward)
