// k_lstm_seq.cc: kernels/lstm_seq.cu compiled for the host emulator.
#include "../../kernels/lstm_seq.cu"
#include "emu_registry.h"

EMU_KERNEL(lstm_seq_forward_f32)
EMU_KERNEL(lstm_seq_forward_f16)
EMU_KERNEL(lstm_seq_forward_bf16)
EMU_KERNEL(lstm_seq_backward_f32)
EMU_KERNEL(lstm_seq_backward_f16)
EMU_KERNEL(lstm_seq_backward_bf16)
