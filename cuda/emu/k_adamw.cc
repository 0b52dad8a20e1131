// k_adamw.cc: kernels/adamw.cu compiled for the host emulator.
#include "../../kernels/adamw.cu"
#include "emu_registry.h"

EMU_KERNEL(adamw_step)
