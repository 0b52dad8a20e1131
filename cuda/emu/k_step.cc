// k_step.cc: kernels/step.cu compiled for the host emulator.
#include "../../kernels/step.cu"
#include "emu_registry.h"

EMU_KERNEL(grad_unscale_sumsq)
EMU_KERNEL(mark_rows)
EMU_KERNEL(add_f32)
EMU_KERNEL(adamw_resident)
