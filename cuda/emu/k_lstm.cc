// k_lstm.cc: kernels/lstm.cu compiled for the host emulator.
#include "../../kernels/lstm.cu"
#include "emu_registry.h"

EMU_KERNEL(lstm_cell_forward_f32)
EMU_KERNEL(lstm_cell_forward_f16)
EMU_KERNEL(lstm_cell_forward_bf16)
EMU_KERNEL(lstm_cell_backward_f32)
EMU_KERNEL(lstm_cell_backward_f16)
EMU_KERNEL(lstm_cell_backward_bf16)
