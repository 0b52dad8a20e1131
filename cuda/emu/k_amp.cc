// k_amp.cc: kernels/amp.cu compiled for the host emulator.
#include "../../kernels/amp.cu"
#include "emu_registry.h"

EMU_KERNEL(scale_f32)
EMU_KERNEL(unscale_check_f32)
EMU_KERNEL(cast_f32_f16)
EMU_KERNEL(cast_f32_bf16)
