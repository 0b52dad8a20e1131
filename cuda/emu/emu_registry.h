// emu_registry.h: registers kernels under their names so that a launch can
// pass arguments the way cuLaunchKernel does: one pointer per argument.
#ifndef TRAINER_EMU_REGISTRY_H
#define TRAINER_EMU_REGISTRY_H

#include <functional>
#include <type_traits>
#include <utility>

namespace emu {

using KernelThunk = std::function<void(void**)>;

template <typename... Args, size_t... I>
void call_unpacked(void (*f)(Args...), void** a, std::index_sequence<I...>) {
    f(*static_cast<typename std::remove_cv<typename std::remove_reference<Args>::type>::type*>(a[I])...);
}

template <typename... Args> KernelThunk thunk(void (*f)(Args...)) {
    return [f](void** a) { call_unpacked(f, a, std::index_sequence_for<Args...>{}); };
}

struct Registrar {
    Registrar(const char* name, KernelThunk fn);
};

} // namespace emu

#define EMU_KERNEL(name) static emu::Registrar emu_registrar_##name(#name, emu::thunk(&name));

#endif // TRAINER_EMU_REGISTRY_H
