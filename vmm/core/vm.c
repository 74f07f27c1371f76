/* VM lifetime on /dev/kvm and the run-state machine (running, paused, reset,
 * shutdown) driven from the main thread. */
#include "vm.h"
#include "accel.h"
#include "vcpu.h"
#include "../arch/x86/cpuid.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Addresses KVM needs for its real-mode TSS and identity map on Intel hosts;
 * the same as a q35 PC uses, reserved in the e820 map. */
#define KVM_IDENTITY_MAP_ADDR 0xfeffc000ull
#define KVM_TSS_ADDR          0xfeffd000ull

/* Initial irqchip and PIT state, restored on reset. */
struct vm_chip_state {
    struct kvm_irqchip chips[3];
    struct kvm_pit_state2 pit;
};

const char *vm_state_name(enum vm_state s)
{
    switch (s) {
    case VM_STATE_CREATED: return "created";
    case VM_STATE_RUNNING: return "running";
    case VM_STATE_PAUSED: return "paused";
    case VM_STATE_SHUTDOWN: return "shutdown";
    }
    return "unknown";
}

static struct kvm_cpuid2 *get_supported_cpuid(int kvm_fd)
{
    for (int nent = 64; nent <= 4096; nent *= 2) {
        struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + (size_t)nent * sizeof(c->entries[0]));

        if (!c)
            return NULL;
        c->nent = (uint32_t)nent;
        if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
            return c;
        free(c);
        if (errno != E2BIG)
            return NULL;
    }
    return NULL;
}

/* PC interrupt routing: GSIs 0-15 reach the PICs, and GSIs 0-23 the IOAPIC
 * pin of the same number, except that the PIT's GSI 0 is wired to pin 2 (the
 * interrupt source override every PC firmware reports) and pin 2 has no other
 * source. KVM's default would put GSI 0 on pin 0. */
static int set_gsi_routing(struct vm *vm)
{
    struct kvm_irq_routing *r = calloc(1, sizeof(*r) + (48 + VM_MSI_ROUTES) * sizeof(r->entries[0]));
    unsigned n = 0;
    int ret = 0;

    if (!r)
        return -ENOMEM;
    for (unsigned gsi = 0; gsi < 16; gsi++) {
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                           .pin = gsi % 8 },
        };
    }
    for (unsigned gsi = 0; gsi < 24; gsi++) {
        if (gsi == 2)
            continue;
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
            .u.irqchip = { .irqchip = KVM_IRQCHIP_IOAPIC, .pin = gsi == 0 ? 2 : gsi },
        };
    }
    for (unsigned i = 0; i < VM_MSI_ROUTES; i++) {
        const struct vm_msi_route *m = &vm->msi_routes[i];

        if (!m->used || !m->programmed)
            continue;
        r->entries[n++] = (struct kvm_irq_routing_entry){
            .gsi = VM_MSI_GSI_BASE + i, .type = KVM_IRQ_ROUTING_MSI,
            .u.msi = { .address_lo = (uint32_t)m->addr, .address_hi = (uint32_t)(m->addr >> 32),
                       .data = m->data },
        };
    }
    r->nr = n;
    if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
        ret = -errno;
    free(r);
    return ret;
}

/* Slots: RAM regions from 0, the firmware at GMEM_MAX_REGIONS (machine.c),
 * the RAM above a hole, then those of vm_map_host_memory. */
#define VM_SLOT_RAM_SPLIT (GMEM_MAX_REGIONS + 1)
#define VM_SLOT_HOST_BASE (GMEM_MAX_REGIONS + 4)
#define VM_SLOT_HOST_COUNT 64

static int set_slot(struct vm *vm, unsigned slot, uint64_t gpa, uint64_t size, void *hva, unsigned flags)
{
    struct kvm_userspace_memory_region r = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = gpa,
        .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)hva,
    };

    return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

static int map_ram(struct vm *vm)
{
    for (unsigned i = 0; i < vm->mem->nregions; i++) {
        const struct gmem_region *r = &vm->mem->regions[i];
        int ret = set_slot(vm, i, r->gpa, r->size, r->hva, 0);

        if (ret < 0)
            return ret;
    }
    return 0;
}

int vm_punch_ram_hole(struct vm *vm, uint64_t gpa, uint64_t size)
{
    const struct gmem_region *r = &vm->mem->regions[0];
    uint64_t end = gpa + size;
    int ret;

    if (!size || (gpa | size) & 0xfff || gpa <= r->gpa || end >= r->gpa + r->size)
        return -EINVAL;
    /* KVM cannot shrink a slot: it goes, and two come in its place. */
    ret = set_slot(vm, 0, r->gpa, 0, r->hva, 0);
    if (ret == 0)
        ret = set_slot(vm, 0, r->gpa, gpa - r->gpa, r->hva, 0);
    if (ret == 0)
        ret = set_slot(vm, VM_SLOT_RAM_SPLIT, end, r->gpa + r->size - end, r->hva + (end - r->gpa), 0);
    return ret;
}

int vm_map_host_memory(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, unsigned flags)
{
    uint_fast64_t used = atomic_load(&vm->host_slots);
    unsigned i;
    int r;

    if (!size || (gpa | size | (uintptr_t)hva) & 0xfff)
        return -EINVAL;
    do {
        for (i = 0; i < VM_SLOT_HOST_COUNT && (used >> i) & 1; i++)
            ;
        if (i == VM_SLOT_HOST_COUNT)
            return -ENOSPC;
    } while (!atomic_compare_exchange_weak(&vm->host_slots, &used, used | (1ull << i)));
    r = set_slot(vm, VM_SLOT_HOST_BASE + i, gpa, size, hva,
                 ((flags & VM_SLOT_READONLY) ? KVM_MEM_READONLY : 0) |
                 ((flags & VM_SLOT_LOG_DIRTY) ? KVM_MEM_LOG_DIRTY_PAGES : 0));
    if (r < 0) {
        atomic_fetch_and(&vm->host_slots, ~(1ull << i));
        return r;
    }
    return (int)(VM_SLOT_HOST_BASE + i);
}

int vm_unmap_host_memory(struct vm *vm, int slot)
{
    unsigned i = (unsigned)slot - VM_SLOT_HOST_BASE;
    int r;

    if (slot < VM_SLOT_HOST_BASE || i >= VM_SLOT_HOST_COUNT || !((atomic_load(&vm->host_slots) >> i) & 1))
        return -EINVAL;
    /* A size of 0 deletes the slot. */
    r = set_slot(vm, (unsigned)slot, 0, 0, NULL, 0);
    if (r == 0)
        atomic_fetch_and(&vm->host_slots, ~(1ull << i));
    return r;
}

int vm_get_dirty_log(struct vm *vm, int slot, uint64_t *bitmap)
{
    struct kvm_dirty_log log = { .slot = (uint32_t)slot, .dirty_bitmap = bitmap };

    return ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log) < 0 ? -errno : 0;
}

struct vm *vm_new(const struct vm_config *cfg, char *err, size_t errlen)
{
    struct vm *vm = calloc(1, sizeof(*vm));
    struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
    uint64_t idmap = KVM_IDENTITY_MAP_ADDR;
    uint64_t lowmem_limit;
    struct accel_report report;

    if (!vm) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    vm->kvm_fd = vm->vm_fd = vm->wake_fd = -1;
    atomic_init(&vm->exit_status, -1);
    pthread_mutex_init(&vm->lock, NULL);
    pthread_mutex_init(&vm->route_lock, NULL);
    pthread_cond_init(&vm->cond, NULL);
    vm->rl_unhandled = (struct ratelimit)RATELIMIT_INIT;
    vm->rl_fault = (struct ratelimit)RATELIMIT_INIT;

    vm->kvm_fd = accel_open(cfg->accel_path, &report);
    if (vm->kvm_fd < 0) {
        accel_report_line(&report, err, errlen);
        goto err;
    }
    vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (vm->run_size < (int)sizeof(struct kvm_run)) {
        snprintf(err, errlen, "%s: bad vCPU mmap size", cfg->accel_path);
        goto err;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0UL);
    if (vm->vm_fd < 0) {
        accel_explain_create(cfg->accel_path, errno, &report);
        accel_report_line(&report, err, errlen);
        goto err;
    }
    /* Best effort: only Intel hosts need these. */
    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
    ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR);
    /* Like a q35 PC: RAM below the ECAM window at 2.75 GiB, or below 2 GiB
     * when it would not leave room for PCI holes, the rest above 4 GiB. */
    lowmem_limit = cfg->ram_size >= 0xb0000000ull ? 0x80000000ull : 0xb0000000ull;
    vm->mem = gmem_new(cfg->ram_size, lowmem_limit);
    if (!vm->mem) {
        snprintf(err, errlen, "cannot allocate %llu MiB of guest memory: %s",
                 (unsigned long long)(cfg->ram_size >> 20), strerror(errno));
        goto err;
    }
    if (map_ram(vm) < 0) {
        snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
        goto err;
    }
    /* Memory before the irqchip: adding a memslot to a VM that already has
     * an in-kernel irqchip waits for an SRCU grace period, which costs
     * milliseconds at every start. */
    if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
        snprintf(err, errlen, "KVM_CREATE_IRQCHIP failed: %s", strerror(errno));
        goto err;
    }
    if (set_gsi_routing(vm) < 0) {
        snprintf(err, errlen, "KVM_SET_GSI_ROUTING failed: %s", strerror(errno));
        goto err;
    }
    if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
        snprintf(err, errlen, "KVM_CREATE_PIT2 failed: %s", strerror(errno));
        goto err;
    }

    vm->pio = bus_new("pio", 0x10000);
    vm->mmio = bus_new("mmio", 1ull << 52);
    vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!vm->pio || !vm->mmio || vm->wake_fd < 0) {
        snprintf(err, errlen, "out of memory");
        goto err;
    }

    if (x86_msr_list_init(&vm->msrs, vm->kvm_fd) < 0)
        log_warn("cannot read KVM's MSR list; MSRs are not reset on reset");
    vm->supported_cpuid = get_supported_cpuid(vm->kvm_fd);
    if (!vm->supported_cpuid) {
        snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID failed: %s", strerror(errno));
        goto err;
    }
    for (unsigned i = 0; i < cfg->ncpus; i++) {
        int r;

        vm->vcpus[i] = vcpu_new(vm, i);
        if (!vm->vcpus[i]) {
            snprintf(err, errlen, "cannot create vCPU %u: %s", i, strerror(errno));
            goto err;
        }
        vm->ncpus = i + 1;
        r = x86_cpuid_apply(vm->vcpus[i]->fd, vm->supported_cpuid, i, cfg->ncpus);
        if (r < 0) {
            snprintf(err, errlen, "cannot set CPUID of vCPU %u: %s", i, strerror(-r));
            goto err;
        }
    }
    return vm;

err:
    vm_free(vm);
    return NULL;
}

void vm_free(struct vm *vm)
{
    if (!vm)
        return;
    vm_stop(vm);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_free(vm->vcpus[i]);
    free(vm->supported_cpuid);
    x86_msr_list_free(&vm->msrs);
    bus_free(vm->pio);
    bus_free(vm->mmio);
    if (vm->vm_fd >= 0)
        close(vm->vm_fd);
    gmem_free(vm->mem);
    if (vm->kvm_fd >= 0)
        close(vm->kvm_fd);
    if (vm->wake_fd >= 0)
        close(vm->wake_fd);
    free(vm->reset_chips);
    pthread_cond_destroy(&vm->cond);
    pthread_mutex_destroy(&vm->lock);
    free(vm);
}

int vm_irq_line(struct vm *vm, unsigned gsi, int level)
{
    struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

    return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}

static int ioeventfd(struct vm *vm, uint64_t addr, unsigned len, bool pio, bool match,
                     uint64_t value, int fd, bool del)
{
    struct kvm_ioeventfd ev = {
        .datamatch = value,
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = (pio ? KVM_IOEVENTFD_FLAG_PIO : 0) | (match ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0) |
                 (del ? KVM_IOEVENTFD_FLAG_DEASSIGN : 0),
    };

    return ioctl(vm->vm_fd, KVM_IOEVENTFD, &ev) < 0 ? -errno : 0;
}

int vm_ioeventfd_add(struct vm *vm, uint64_t addr, unsigned len, bool pio, bool match,
                     uint64_t value, int fd)
{
    return ioeventfd(vm, addr, len, pio, match, value, fd, false);
}

int vm_ioeventfd_del(struct vm *vm, uint64_t addr, unsigned len, bool pio, bool match,
                     uint64_t value, int fd)
{
    return ioeventfd(vm, addr, len, pio, match, value, fd, true);
}

int vm_irqfd_add(struct vm *vm, unsigned gsi, int fd, int resample_fd)
{
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

    if (resample_fd >= 0) {
        irqfd.flags = KVM_IRQFD_FLAG_RESAMPLE;
        irqfd.resamplefd = (uint32_t)resample_fd;
    }
    return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int vm_irqfd_del(struct vm *vm, unsigned gsi, int fd)
{
    struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi, .flags = KVM_IRQFD_FLAG_DEASSIGN };

    return ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0 ? -errno : 0;
}

int vm_signal_msi(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct vm *vm = opaque;
    struct kvm_msi msi = {
        .address_lo = (uint32_t)addr,
        .address_hi = (uint32_t)(addr >> 32),
        .data = data,
    };

    /* 0 means the interrupt was blocked (e.g. a masked LAPIC), not failure. */
    return ioctl(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0 ? -errno : 0;
}

struct vm_msi_group {
    struct vm *vm;
    unsigned nvec;
    struct {
        int route;              /* index in vm->msi_routes */
        int fd;                 /* irqfd */
    } v[];
};

struct vm_msi_group *vm_msi_group_new(struct vm *vm, unsigned nvec)
{
    struct vm_msi_group *g = calloc(1, sizeof(*g) + nvec * sizeof(g->v[0]));
    int err = 0;

    if (!g)
        return NULL;
    g->vm = vm;
    for (unsigned i = 0; i < nvec; i++)
        g->v[i].route = g->v[i].fd = -1;
    pthread_mutex_lock(&vm->route_lock);
    for (unsigned i = 0, r = 0; i < nvec && !err; i++) {
        while (r < VM_MSI_ROUTES && vm->msi_routes[r].used)
            r++;
        if (r == VM_MSI_ROUTES) {
            err = ENOSPC;
            break;
        }
        g->v[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (g->v[i].fd < 0) {
            err = errno;
            break;
        }
        vm->msi_routes[r] = (struct vm_msi_route){ .used = true };
        g->v[i].route = (int)r;
        g->nvec = i + 1;
        /* Until the first message the GSI has no route: nothing fires. */
        err = -vm_irqfd_add(vm, VM_MSI_GSI_BASE + r, g->v[i].fd, -1);
        if (err) {
            g->nvec = i;
            close(g->v[i].fd);
            vm->msi_routes[r].used = false;
        }
    }
    pthread_mutex_unlock(&vm->route_lock);
    if (err) {
        vm_msi_group_free(g);
        errno = err;
        return NULL;
    }
    return g;
}

int vm_msi_group_signal(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct vm_msi_group *g = opaque;
    struct vm *vm = g->vm;
    struct vm_msi_route *m;
    uint64_t one = 1;

    if (vec >= g->nvec)
        return vm_signal_msi(vm, vec, addr, data);
    m = &vm->msi_routes[g->v[vec].route];
    if (!m->programmed || m->addr != addr || m->data != data) {
        int r;

        pthread_mutex_lock(&vm->route_lock);
        m->addr = addr;
        m->data = data;
        m->programmed = true;
        r = set_gsi_routing(vm);
        pthread_mutex_unlock(&vm->route_lock);
        if (r < 0) {
            m->programmed = false;
            log_warn_rl(&vm->rl_fault, "cannot route an MSI to an irqfd: %s", strerror(-r));
            return vm_signal_msi(vm, vec, addr, data);
        }
    }
    return write(g->v[vec].fd, &one, sizeof(one)) == sizeof(one) || errno == EAGAIN ? 0 : -errno;
}

void vm_msi_group_free(struct vm_msi_group *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->vm->route_lock);
    for (unsigned i = 0; i < g->nvec; i++) {
        vm_irqfd_del(g->vm, VM_MSI_GSI_BASE + (unsigned)g->v[i].route, g->v[i].fd);
        close(g->v[i].fd);
        g->vm->msi_routes[g->v[i].route] = (struct vm_msi_route){ 0 };
    }
    pthread_mutex_unlock(&g->vm->route_lock);
    free(g);
}

static void gsi_set(void *opaque, unsigned gsi, int level)
{
    vm_irq_line(opaque, gsi, level);
}

struct irq_line vm_gsi(struct vm *vm, unsigned gsi)
{
    return (struct irq_line){ gsi_set, vm, gsi };
}

static int capture_chips(struct vm *vm)
{
    struct vm_chip_state *cs = calloc(1, sizeof(*cs));

    if (!cs)
        return -ENOMEM;
    for (unsigned i = 0; i < 3; i++) {
        cs->chips[i].chip_id = i;
        if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &cs->chips[i]) < 0)
            goto fail;
    }
    if (ioctl(vm->vm_fd, KVM_GET_PIT2, &cs->pit) < 0)
        goto fail;
    vm->reset_chips = cs;
    return 0;
fail:
    free(cs);
    return -errno;
}

static void wake_main(struct vm *vm)
{
    uint64_t one = 1;

    if (write(vm->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("cannot wake the main loop: %s", strerror(errno));
}

void vm_emit(struct vm *vm, const char *event, const char *reason)
{
    if (vm->event_fn)
        vm->event_fn(vm->event_opaque, event, vm_state_name(vm->state), reason);
}

int vm_start(struct vm *vm)
{
    int r = capture_chips(vm);

    if (r < 0)
        log_warn("cannot save the interrupt controllers' reset state: %s", strerror(-r));
    if (vm->reset_hook) {
        r = vm->reset_hook(vm, vm->reset_opaque);
        if (r < 0)
            return r;
    }
    vm->state = VM_STATE_RUNNING;
    for (unsigned i = 0; i < vm->ncpus; i++) {
        r = vcpu_start(vm->vcpus[i]);
        if (r < 0)
            return r;
    }
    vm_emit(vm, "state-changed", "start");
    return 0;
}

/* Brings every vCPU out of KVM_RUN and parks it; main thread only. */
static void pause_all(struct vm *vm)
{
    atomic_store(&vm->pause_req, true);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_kick(vm->vcpus[i]);
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond);
    while (vm->paused_count < vm->ncpus)
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
}

static void resume_all(struct vm *vm)
{
    pthread_mutex_lock(&vm->lock);
    atomic_store(&vm->pause_req, false);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm)
{
    if (vm->state != VM_STATE_RUNNING)
        return;
    pause_all(vm);
    vm->state = VM_STATE_PAUSED;
    vm_emit(vm, "state-changed", "pause");
}

void vm_resume(struct vm *vm)
{
    if (vm->state != VM_STATE_PAUSED)
        return;
    vm->state = VM_STATE_RUNNING;
    resume_all(vm);
    vm_emit(vm, "state-changed", "resume");
}

int vm_reset(struct vm *vm)
{
    bool was_running = vm->state == VM_STATE_RUNNING;
    struct vm_chip_state *cs = vm->reset_chips;
    int r = 0;

    if (vm->state == VM_STATE_SHUTDOWN)
        return -ESHUTDOWN;
    if (was_running)
        pause_all(vm);
    atomic_store(&vm->reset_requested, false);
    if (cs) {
        for (unsigned i = 0; i < 3; i++)
            ioctl(vm->vm_fd, KVM_SET_IRQCHIP, &cs->chips[i]);
        ioctl(vm->vm_fd, KVM_SET_PIT2, &cs->pit);
    }
    for (unsigned i = 0; i < vm->ncpus && r == 0; i++)
        r = vcpu_reset(vm->vcpus[i]);
    if (r == 0 && vm->reset_hook)
        r = vm->reset_hook(vm, vm->reset_opaque);
    if (r < 0)
        log_error("reset failed: %s", strerror(-r));
    if (was_running)
        resume_all(vm);
    vm_emit(vm, "reset", vm->reset_reason ? vm->reset_reason : "request");
    vm->reset_reason = NULL;
    return r;
}

void vm_stop(struct vm *vm)
{
    atomic_store(&vm->stop_req, true);
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpus[i])
            vcpu_kick(vm->vcpus[i]);
    pthread_mutex_lock(&vm->lock);
    pthread_cond_broadcast(&vm->cond);
    pthread_mutex_unlock(&vm->lock);
    for (unsigned i = 0; i < vm->ncpus; i++) {
        if (vm->vcpus[i] && vm->vcpus[i]->thread_started) {
            pthread_join(vm->vcpus[i]->thread, NULL);
            vm->vcpus[i]->thread_started = false;
        }
    }
    if (vm->state != VM_STATE_CREATED)
        vm->state = VM_STATE_SHUTDOWN;
}

void vm_request_exit(struct vm *vm, int status, const char *reason)
{
    int expected = -1;

    if (atomic_compare_exchange_strong(&vm->exit_status, &expected, status))
        vm->exit_reason = reason;
    atomic_store(&vm->stop_req, true);
    for (unsigned i = 0; i < vm->ncpus; i++)
        vcpu_kick(vm->vcpus[i]);
    wake_main(vm);
}

void vm_request_reset(struct vm *vm, const char *reason)
{
    vm->reset_reason = reason;
    atomic_store(&vm->reset_requested, true);
    wake_main(vm);
}

bool vm_exit_requested(struct vm *vm)
{
    return atomic_load(&vm->exit_status) >= 0;
}

static bool keep_fd(const struct vm *vm, int fd)
{
    if (fd == vm->kvm_fd || fd == vm->vm_fd || (vm->mem && fd == vm->mem->fd))
        return true;
    for (unsigned i = 0; i < vm->ncpus; i++)
        if (vm->vcpus[i] && fd == vm->vcpus[i]->fd)
            return true;
    return false;
}

/* Destroying a VM with an in-kernel irqchip waits for several SRCU grace
 * periods (tens of milliseconds on some hosts). A child process that holds
 * the last references does that after this process has exited, so whoever
 * waits for nook-vmm (a script, the GUI restarting the VM) does not. */
int vm_detach_teardown(struct vm *vm)
{
    int pipefd[2];
    pid_t pid;

    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return -errno;
    pid = fork();
    if (pid < 0) {
        close(pipefd[0]);
        close(pipefd[1]);
        return -errno;
    }
    if (pid == 0) {
        DIR *d = opendir("/proc/self/fd");
        struct dirent *e;
        char c;

        /* Keep nothing the parent's waiters could be waiting on (pipes,
         * sockets, the terminal): only the VM's own descriptors. */
        if (d) {
            int dfd = dirfd(d);

            while ((e = readdir(d))) {
                int fd = atoi(e->d_name);

                if (e->d_name[0] != '.' && fd != dfd && fd != pipefd[0] && !keep_fd(vm, fd))
                    close(fd);
            }
            closedir(d);
        }
        while (read(pipefd[0], &c, 1) < 0 && errno == EINTR)
            ;
        _exit(0);
    }
    /* The write end closes when this process exits, releasing the child. */
    close(pipefd[0]);
    return 0;
}
