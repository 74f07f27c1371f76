/* Guest physical memory: private anonymous memory, as large pages where the
 * host allows (transparent huge pages on request: a guest's TLB misses then
 * walk one level less of the host's tables), never inherited by a child
 * process (the teardown child of vm.c has no use for it, and copying the
 * page tables of a large guest would take long). */
#include "gmem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define GIB (1ull << 30)
#define HUGE_PAGE (2ull << 20)

/* An anonymous mapping of size bytes that starts on a 2 MiB boundary: huge
 * pages only back aligned 2 MiB ranges, and KVM maps a guest range with a
 * huge page only when its host address has the same offset in a 2 MiB page
 * as its guest address (RAM starts at guest address 0). */
static void *map_aligned(uint64_t size)
{
    uint8_t *p = mmap(NULL, size + HUGE_PAGE, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    uintptr_t start, end;

    if (p == MAP_FAILED)
        return p;
    start = ((uintptr_t)p + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    end = (uintptr_t)p + size + HUGE_PAGE;
    if (start > (uintptr_t)p)
        munmap(p, start - (uintptr_t)p);
    if (end > start + size)
        munmap((void *)(start + size), end - (start + size));
    return (void *)start;
}

struct gmem *gmem_new(uint64_t ram_size, uint64_t lowmem_limit)
{
    struct gmem *mem = calloc(1, sizeof(*mem));
    uint64_t low;

    if (!mem)
        return NULL;
    mem->fd = -1;
    /* MAP_NORESERVE: pages are only committed when the guest touches them. */
    mem->base = map_aligned(ram_size);
    if (mem->base == MAP_FAILED) {
        free(mem);
        return NULL;
    }
    mem->owned = true;
    mem->size = ram_size;
    /* Advice only: a host without THP or with it off still works. */
    madvise(mem->base, ram_size, MADV_HUGEPAGE);
    if (madvise(mem->base, ram_size, MADV_DONTFORK) < 0) {
        munmap(mem->base, ram_size);
        free(mem);
        return NULL;
    }

    low = ram_size < lowmem_limit ? ram_size : lowmem_limit;
    mem->regions[0] = (struct gmem_region){ 0, low, mem->base, 0 };
    mem->nregions = 1;
    if (ram_size > low) {
        mem->regions[1] = (struct gmem_region){ 4 * GIB, ram_size - low, mem->base + low, low };
        mem->nregions = 2;
    }
    return mem;
}

struct gmem *gmem_new_from_buffer(void *buf, uint64_t size, uint64_t gpa)
{
    struct gmem *mem = calloc(1, sizeof(*mem));

    if (!mem)
        return NULL;
    mem->fd = -1;
    mem->regions[0] = (struct gmem_region){ gpa, size, buf, 0 };
    mem->nregions = 1;
    return mem;
}

void gmem_free(struct gmem *mem)
{
    if (!mem)
        return;
    if (mem->owned)
        munmap(mem->base, mem->size);
    free(mem);
}

static const struct gmem_region *find(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
    for (unsigned i = 0; i < mem->nregions; i++) {
        const struct gmem_region *r = &mem->regions[i];

        if (gpa >= r->gpa && gpa - r->gpa < r->size && r->size - (gpa - r->gpa) >= len)
            return r;
    }
    return NULL;
}

void *gmem_ptr(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
    const struct gmem_region *r = find(mem, gpa, len ? len : 1);

    return r ? r->hva + (gpa - r->gpa) : NULL;
}

bool gmem_is_ram(const struct gmem *mem, uint64_t gpa, uint64_t len)
{
    return find(mem, gpa, len ? len : 1) != NULL;
}

int gmem_read(const struct gmem *mem, uint64_t gpa, void *buf, size_t len)
{
    void *p = gmem_ptr(mem, gpa, len);

    if (!p)
        return -EFAULT;
    memcpy(buf, p, len);
    return 0;
}

int gmem_write(const struct gmem *mem, uint64_t gpa, const void *buf, size_t len)
{
    void *p = gmem_ptr(mem, gpa, len);

    if (!p)
        return -EFAULT;
    memcpy(p, buf, len);
    return 0;
}

uint64_t gmem_lowmem_end(const struct gmem *mem)
{
    return mem->regions[0].gpa + mem->regions[0].size;
}

uint64_t gmem_highmem_size(const struct gmem *mem)
{
    return mem->nregions > 1 ? mem->regions[1].size : 0;
}
