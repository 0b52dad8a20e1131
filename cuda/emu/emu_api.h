// emu_api.h: the C interface the Go side of the emulator calls.
#ifndef TRAINER_EMU_API_H
#define TRAINER_EMU_API_H

#ifdef __cplusplus
extern "C" {
#endif

#define EMU_ERR_UNKNOWN_KERNEL 1
#define EMU_ERR_BAD_LAUNCH 2

// emu_launch runs the named kernel over a grid; args[i] points at argument
// i, as for cuLaunchKernel. It returns 0 or an EMU_ERR_ code.
int emu_launch(const char* name, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
               void** args);

// emu_kernel_count and emu_kernel_name list the registered kernels.
int emu_kernel_count(void);
const char* emu_kernel_name(int i);

#ifdef __cplusplus
}
#endif

#endif // TRAINER_EMU_API_H
