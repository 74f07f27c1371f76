/* One virtual machine on /dev/kvm: memory, buses, vCPU threads, and the run
 * state that the control socket and devices act on. */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "gmem.h"
#include "irq.h"
#include "log.h"
#include "../arch/x86/msr.h"

#define VM_MAX_CPUS 64

/* Exit statuses of nook-vmm; odd numbers belong to the debug-exit device. */
#define VM_EXIT_POWEROFF     0
#define VM_EXIT_CONFIG_ERROR 2
#define VM_EXIT_GUEST_ERROR  4

enum vm_state {
    VM_STATE_CREATED,
    VM_STATE_RUNNING,
    VM_STATE_PAUSED,
    VM_STATE_SHUTDOWN,
};

const char *vm_state_name(enum vm_state s);

struct vm;
struct vcpu;

/* Called on the main thread when the run state changes or the VM resets. */
typedef void (*vm_event_fn)(void *opaque, const char *event, const char *state,
                            const char *reason);

struct vm_config {
    const char *accel_path;     /* /dev/kvm or /dev/nookhv */
    uint64_t ram_size;
    unsigned ncpus;
};

#define VM_MSI_GSI_BASE 24
#define VM_MSI_ROUTES 256

struct vm {
    int kvm_fd;                 /* owned */
    int vm_fd;                  /* owned */
    int run_size;
    struct gmem *mem;           /* owned */
    struct bus *pio;            /* owned */
    struct bus *mmio;           /* owned */
    unsigned ncpus;
    struct vcpu *vcpus[VM_MAX_CPUS];
    struct kvm_cpuid2 *supported_cpuid;  /* owned */
    struct x86_msr_list msrs;   /* owned: MSRs KVM knows */

    /* Firmware or kernel setup re-run on every reset; set by the machine. */
    int (*reset_hook)(struct vm *vm, void *opaque);
    void *reset_opaque;

    vm_event_fn event_fn;
    void *event_opaque;

    /* Requests from vCPU threads to the main thread. */
    int wake_fd;                /* owned eventfd, watched by the main loop */
    atomic_int exit_status;     /* -1 while running */
    atomic_bool reset_requested;
    const char *exit_reason;    /* static string */
    const char *reset_reason;   /* static string */

    /* Pause protocol between the main thread and the vCPUs. */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool pause_req;
    atomic_bool stop_req;
    unsigned paused_count;
    enum vm_state state;        /* main thread only */

    struct vm_chip_state *reset_chips;  /* owned */

    /* GSIs from VM_MSI_GSI_BASE on carry MSI routes for irqfds. */
    pthread_mutex_t route_lock;
    struct vm_msi_route {
        bool used, programmed;
        uint64_t addr;
        uint32_t data;
    } msi_routes[VM_MSI_ROUTES];

    struct ratelimit rl_unhandled;
    struct ratelimit rl_fault;

    /* Memory slots of vm_map_host_memory: bit i is slot VM_SLOT_HOST_BASE + i. */
    atomic_uint_fast64_t host_slots;
};

/* Fills *err with a one-line message and returns NULL on failure. */
struct vm *vm_new(const struct vm_config *cfg, char *err, size_t errlen);
void vm_free(struct vm *vm);

int vm_irq_line(struct vm *vm, unsigned gsi, int level);

/* Guest writes of len bytes to addr (a port when pio) signal fd inside the
 * kernel without leaving KVM_RUN; with match, only writes of that value. */
int vm_ioeventfd_add(struct vm *vm, uint64_t addr, unsigned len, bool pio, bool match,
                     uint64_t value, int fd);
int vm_ioeventfd_del(struct vm *vm, uint64_t addr, unsigned len, bool pio, bool match,
                     uint64_t value, int fd);
/* A write to fd raises gsi (edge); with resample_fd >= 0 the line is level
 * triggered and resample_fd is signalled when the guest EOIs it. */
int vm_irqfd_add(struct vm *vm, unsigned gsi, int fd, int resample_fd);
int vm_irqfd_del(struct vm *vm, unsigned gsi, int fd);
/* Injects one MSI; an msi_sink's signal for PCI devices (vec unused). */
int vm_signal_msi(void *vm, unsigned vec, uint64_t addr, uint32_t data);

/* MSI vectors of one device delivered through irqfds: each vector has a GSI
 * routed to its last address and data, so a device thread raises it with a
 * write to an eventfd; the route is rewritten only when the guest reprograms
 * the vector. NULL (errno set) when KVM refuses; vm_signal_msi still works. */
struct vm_msi_group;
struct vm_msi_group *vm_msi_group_new(struct vm *vm, unsigned nvec);
/* An msi_sink's signal: opaque is the group. */
int vm_msi_group_signal(void *group, unsigned vec, uint64_t addr, uint32_t data);
void vm_msi_group_free(struct vm_msi_group *g);
/* An irq_line that drives a GSI of this VM's in-kernel irqchip. */
struct irq_line vm_gsi(struct vm *vm, unsigned gsi);

/* Host memory that the guest reaches without exits (a framebuffer, a ROM):
 * hva, gpa and size page aligned. VM_SLOT_READONLY makes guest writes exit
 * as MMIO; VM_SLOT_LOG_DIRTY has KVM record the pages the guest writes.
 * Returns a slot number for the calls below, or -errno. */
#define VM_SLOT_READONLY  0x1
#define VM_SLOT_LOG_DIRTY 0x2
/* Leaves [gpa, gpa + size) of low RAM out of KVM's memory slots so that
 * guest accesses there reach the MMIO bus (the VGA window at 0xa0000).
 * Before the vCPUs run; the range must lie inside the first RAM region. */
int vm_punch_ram_hole(struct vm *vm, uint64_t gpa, uint64_t size);
int vm_map_host_memory(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, unsigned flags);
int vm_unmap_host_memory(struct vm *vm, int slot);
/* Sets a bit in bitmap (64-bit words, one bit per 4 KiB page of the slot)
 * for each page the guest wrote since the last call, and restarts the log. */
int vm_get_dirty_log(struct vm *vm, int slot, uint64_t *bitmap);

int vm_start(struct vm *vm);
void vm_pause(struct vm *vm);
void vm_resume(struct vm *vm);
int vm_reset(struct vm *vm);
/* Stops and joins every vCPU thread. */
void vm_stop(struct vm *vm);

/* Thread-safe requests, usually from a vCPU thread; the main loop acts on
 * them after reading wake_fd. The first exit request wins. */
void vm_request_exit(struct vm *vm, int status, const char *reason);
void vm_request_reset(struct vm *vm, const char *reason);
bool vm_exit_requested(struct vm *vm);

void vm_emit(struct vm *vm, const char *event, const char *reason);

/* After vm_stop: leaves the kernel's VM teardown to a child process that
 * finishes it once this process has exited. */
int vm_detach_teardown(struct vm *vm);
