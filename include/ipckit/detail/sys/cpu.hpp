#pragma once
// Processor-level primitives: the spin-wait hint and the two halves of an asymmetric fence.
//
// Wake-ups need a store-load fence between "publish the index" and "is anybody asleep?" on the
// fast path, and between "I am going to sleep" and "is there data?" on the slow path. A full
// fence per message costs a fifth of the fast path, so ipckit makes it asymmetric: the fast side
// issues only a compiler barrier, and the sleeping side calls
// membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which runs a full barrier on every CPU that is
// running a thread of a registered process. A process that could not register falls back to a
// real fence on its fast side.

#include <atomic>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ipckit::detail::sys {

/// Tells the CPU we are spinning (x86 `pause`, Arm `yield`).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    asm volatile("yield" ::: "memory");
#else
    std::atomic_signal_fence(std::memory_order_seq_cst);
#endif
}

/// Registers this process as a target of global expedited membarriers. Idempotent and cheap;
/// call it when an endpoint attaches. Returns false where the kernel does not support it, in
/// which case the light fence of that endpoint must be a real fence.
inline bool register_light_fence() noexcept {
    static_assert(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED != 0);
    return ::syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0) == 0;
}

/// The fast side's half. `registered` is what register_light_fence() returned for this process.
inline void light_fence(bool registered) noexcept {
    if (registered)
        std::atomic_signal_fence(std::memory_order_seq_cst);
    else
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

/// The slow side's half: orders this thread's earlier stores before its later loads with respect
/// to every registered process's light fence.
inline void heavy_fence() noexcept {
    if (::syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0) != 0)
        std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace ipckit::detail::sys
