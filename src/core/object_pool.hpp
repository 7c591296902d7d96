// Storage for objects made and destroyed at the rate of connections (a million a second
// and more): connections, sessions. A class routes its operator new/delete here and gets a
// free list of its own per thread, that is per engine (DESIGN.md "Memory": per-engine
// pools, not the general allocator). malloc's own bins, locks and consolidation cost the
// engine a sixth of its cycles at 250k new connections a second.
//
// Storage comes in slabs of objects and is reused, never given back to the system: a pool
// is as large as the most objects its thread ever held at once. Slabs outlive their thread
// on purpose (an object made on an engine's thread may be destroyed by the thread that
// tears the engine down), so an object may be freed on any thread; its storage then joins
// that thread's list. Under AddressSanitizer a free slot is poisoned, so a use after free
// is still reported.
#pragma once

#include <cassert>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define TERN_POOL_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define TERN_POOL_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define TERN_POOL_POISON(p, n) ((void)(p), (void)(n))
#define TERN_POOL_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace tern {

template <typename T, std::size_t PerSlab = 256>
class object_pool {
public:
    static void* allocate(std::size_t size) {
        assert(size <= sizeof(slot));
        (void)size;
        list& l = free_list();
        if (!l.head) refill(l);
        slot* s = l.head;
        TERN_POOL_UNPOISON(s, sizeof(slot));
        l.head = s->next;
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

private:
    union slot {
        slot* next;
        alignas(T) std::byte storage[sizeof(T)];
    };
    struct list {
        slot* head = nullptr;
    };

    static list& free_list() {
        thread_local list l;
        return l;
    }
    // A new slab threaded onto the list. Never freed (see the header comment), but kept in
    // a list of all slabs, so that a leak checker sees them reachable once every slot of
    // one is free (the free lists point into poisoned memory and are thread-local).
    static void refill(list& l) {
        auto* slab = static_cast<slot*>(::operator new(sizeof(slot) * PerSlab, std::align_val_t(alignof(slot))));
        {
            static std::mutex m; // refills are rare: a slab holds PerSlab objects
            static auto* slabs = new std::vector<slot*>(); // never destroyed, as the slabs
            std::lock_guard lock(m);
            slabs->push_back(slab);
        }
        for (std::size_t i = PerSlab; i-- > 0;) {
            slab[i].next = l.head;
            l.head = &slab[i];
            TERN_POOL_POISON(&slab[i], sizeof(slot));
        }
    }
};

} // namespace tern
