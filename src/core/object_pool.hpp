// Storage for objects made and destroyed at the rate of connections (a million a second
// and more): connections, sessions. A class routes its operator new/delete here and gets a
// free list of its own per thread, that is per engine (DESIGN.md "Memory": per-engine
// pools, not the general allocator). malloc's own bins, locks and consolidation cost the
// engine a sixth of its cycles at 250k new connections a second.
//
// Storage comes in slabs of 2 MiB, aligned to a huge page and advised to be backed by one
// (MADV_HUGEPAGE, best effort), and is reused, never given back to the system: a pool is as
// large as the most objects its thread ever held at once. A slab's objects are handed out
// in order as they are first needed, so memory is touched as the pool grows and not a slab
// ahead. On a VM that backs the guest's memory as it is first touched, a 4 KiB page fault
// cost 12-24 us (2026-12-04: 3-6 s a GiB, against 0.07-0.12 s a GiB in huge pages), and
// opening connections at 167k a second, each ~540 bytes, spent a third of each engine's
// time in faults. Slabs outlive their thread on purpose (an object made on an engine's
// thread may be destroyed by the thread that tears the engine down), so an object may be
// freed on any thread; its storage then joins that thread's list. Under AddressSanitizer a
// free or not yet handed out slot is poisoned, so a use after free is still reported.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define TERN_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define TERN_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define TERN_POOL_POISON(p, n) ((void)(p), (void)(n))
#define TERN_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace tern {

template <typename T>
class object_pool {
public:
    static void* allocate(std::size_t size) {
        assert(size <= sizeof(slot));
        (void)size;
        list& l = free_list();
        slot* s = l.head;
        if (s) {
            TERN_POOL_UNPOISON(s, sizeof(slot));
            l.head = s->next;
            return s;
        }
        if (l.fresh == l.fresh_end) new_slab(l);
        s = l.fresh++;
        TERN_POOL_UNPOISON(s, sizeof(slot));
        return s;
    }

    static void release(void* p) {
        if (!p) return;
        list& l = free_list();
        auto* s = static_cast<slot*>(p);
        s->next = l.head;
        l.head = s;
        TERN_POOL_POISON(s, sizeof(slot));
    }

    static constexpr std::size_t slab_bytes = std::size_t(2) << 20; // one huge page

private:
    union slot {
        slot* next;
        alignas(T) std::byte storage[sizeof(T)];
    };
    static constexpr std::size_t per_slab = std::max<std::size_t>(1, slab_bytes / sizeof(slot));
    struct list {
        slot* head = nullptr;       // freed objects, the last freed first (its lines are warm)
        slot* fresh = nullptr;      // the current slab's objects never handed out: [fresh, fresh_end)
        slot* fresh_end = nullptr;
    };

    static list& free_list() {
        thread_local list l;
        return l;
    }
    // A new slab, whose objects allocate() hands out in order. Never freed (see the header
    // comment), but kept in a list of all slabs, so that a leak checker sees them reachable
    // once every slot of one is free (the free lists point into poisoned memory and are
    // thread-local).
    static void new_slab(list& l) {
        constexpr std::size_t bytes = (sizeof(slot) * per_slab + slab_bytes - 1) / slab_bytes * slab_bytes;
        void* p = ::operator new(bytes, std::align_val_t(slab_bytes));
        ::madvise(p, bytes, MADV_HUGEPAGE); // best effort: 4 KiB pages otherwise
        auto* slab = static_cast<slot*>(p);
        {
            static std::mutex m; // new slabs are rare: a slab holds 2 MiB of objects
            static auto* slabs = new std::vector<slot*>(); // never destroyed, as the slabs
            std::lock_guard lock(m);
            slabs->push_back(slab);
        }
        TERN_POOL_POISON(slab, bytes);
        l.fresh = slab;
        l.fresh_end = slab + per_slab;
    }
};

} // namespace tern
