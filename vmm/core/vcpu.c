/* vCPU threads: run the guest and dispatch its exits to the buses. */
#include "vcpu.h"
#include "vm.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define KICK_SIGNAL SIGUSR1

/* The vCPU this thread runs. The kick signal sets its immediate_exit, so
 * that a kick that lands after the thread checked for requests but before
 * it entered KVM_RUN still makes KVM_RUN return at once: vcpu_kick's own
 * store may be overwritten by the thread clearing the flag. */
static _Thread_local struct vcpu *this_vcpu;

static void kick_handler(int sig)
{
    (void)sig;
    if (this_vcpu)
        this_vcpu->run->immediate_exit = 1;
}

/* Captures the state KVM gives a vCPU at creation; reset goes back to it. */
static int vcpu_capture_reset_state(struct vcpu *vcpu)
{
    if (ioctl(vcpu->fd, KVM_GET_REGS, &vcpu->reset_regs) < 0 ||
        ioctl(vcpu->fd, KVM_GET_SREGS, &vcpu->reset_sregs) < 0 ||
        ioctl(vcpu->fd, KVM_GET_FPU, &vcpu->reset_fpu) < 0 ||
        ioctl(vcpu->fd, KVM_GET_LAPIC, &vcpu->reset_lapic) < 0)
        return -errno;
    return 0;
}

struct vcpu *vcpu_new(struct vm *vm, unsigned id)
{
    struct vcpu *vcpu = calloc(1, sizeof(*vcpu));

    if (!vcpu)
        return NULL;
    vcpu->vm = vm;
    vcpu->id = id;
    vcpu->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
    if (vcpu->fd < 0)
        goto err_free;
    vcpu->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
    if (vcpu->run == MAP_FAILED)
        goto err_close;
    if (vcpu_capture_reset_state(vcpu) < 0)
        goto err_unmap;
    return vcpu;

err_unmap:
    munmap(vcpu->run, (size_t)vm->run_size);
err_close:
    close(vcpu->fd);
err_free:
    free(vcpu);
    return NULL;
}

void vcpu_free(struct vcpu *vcpu)
{
    if (!vcpu)
        return;
    munmap(vcpu->run, (size_t)vcpu->vm->run_size);
    close(vcpu->fd);
    free(vcpu);
}

int vcpu_reset(struct vcpu *vcpu)
{
    struct kvm_mp_state mp = {
        .mp_state = vcpu->id == 0 ? KVM_MP_STATE_RUNNABLE : KVM_MP_STATE_UNINITIALIZED,
    };
    struct kvm_vcpu_events ev;

    if (ioctl(vcpu->fd, KVM_SET_SREGS, &vcpu->reset_sregs) < 0 ||
        ioctl(vcpu->fd, KVM_SET_REGS, &vcpu->reset_regs) < 0 ||
        ioctl(vcpu->fd, KVM_SET_FPU, &vcpu->reset_fpu) < 0 ||
        ioctl(vcpu->fd, KVM_SET_LAPIC, &vcpu->reset_lapic) < 0)
        return -errno;
    /* Drop any exception or interrupt that was pending at reset time. */
    if (ioctl(vcpu->fd, KVM_GET_VCPU_EVENTS, &ev) == 0) {
        memset(&ev.exception, 0, sizeof(ev.exception));
        memset(&ev.interrupt, 0, sizeof(ev.interrupt));
        ev.nmi.injected = ev.nmi.pending = 0;
        ev.flags = 0;
        ioctl(vcpu->fd, KVM_SET_VCPU_EVENTS, &ev);
    }
    if (ioctl(vcpu->fd, KVM_SET_MP_STATE, &mp) < 0)
        return -errno;
    return x86_msrs_reset(vcpu->fd, &vcpu->vm->msrs);
}

static void handle_io(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    struct vm *vm = vcpu->vm;
    uint8_t *data = (uint8_t *)run + run->io.data_offset;
    unsigned size = run->io.size;

    for (uint32_t i = 0; i < run->io.count; i++, data += size) {
        bool ok;

        if (run->io.direction == KVM_EXIT_IO_OUT) {
            ok = bus_write(vm->pio, run->io.port, data, size);
        } else {
            ok = bus_read(vm->pio, run->io.port, data, size);
            if (!ok)
                memset(data, 0xff, size);
        }
        /* Firmware probes many ports that have no device; that is normal. */
        if (!ok)
            log_debug("vCPU %u: %s of port 0x%x (size %u) with no device", vcpu->id,
                      run->io.direction == KVM_EXIT_IO_OUT ? "write" : "read",
                      run->io.port, size);
    }
}

static void handle_mmio(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    struct vm *vm = vcpu->vm;
    unsigned len = run->mmio.len > 8 ? 8 : run->mmio.len;
    bool ok;

    if (run->mmio.is_write) {
        ok = bus_write(vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
    } else {
        ok = bus_read(vm->mmio, run->mmio.phys_addr, run->mmio.data, len);
        if (!ok)
            memset(run->mmio.data, 0xff, len);
    }
    if (!ok)
        log_warn_rl(&vm->rl_unhandled,
                    "vCPU %u: %s of unmapped guest address 0x%llx (size %u) ignored",
                    vcpu->id, run->mmio.is_write ? "write" : "read",
                    (unsigned long long)run->mmio.phys_addr, len);
}

static void log_fault(struct vcpu *vcpu, const char *what)
{
    struct kvm_regs regs;
    struct kvm_sregs sregs;

    if (ioctl(vcpu->fd, KVM_GET_REGS, &regs) == 0 && ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) == 0)
        log_warn_rl(&vcpu->vm->rl_fault, "vCPU %u: %s at cs:rip %04x:%llx (cr0 %llx efer %llx)",
                    vcpu->id, what, sregs.cs.selector, (unsigned long long)regs.rip,
                    (unsigned long long)sregs.cr0, (unsigned long long)sregs.efer);
    else
        log_warn_rl(&vcpu->vm->rl_fault, "vCPU %u: %s", vcpu->id, what);
}

/* A vCPU in shutdown state would exit again at once: it waits until the
 * main thread's pause for the reset (or a stop) reaches it. */
static void wait_for_reset(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;

    pthread_mutex_lock(&vm->lock);
    while (atomic_load(&vm->reset_requested) && !atomic_load(&vm->pause_req) &&
           !atomic_load(&vm->stop_req))
        pthread_cond_wait(&vm->cond, &vm->lock);
    pthread_mutex_unlock(&vm->lock);
}

/* Returns false when the thread must leave its run loop. */
static bool handle_exit(struct vcpu *vcpu)
{
    struct kvm_run *run = vcpu->run;
    struct vm *vm = vcpu->vm;

    switch (run->exit_reason) {
    case KVM_EXIT_IO:
        handle_io(vcpu);
        return true;
    case KVM_EXIT_MMIO:
        handle_mmio(vcpu);
        return true;
    case KVM_EXIT_INTR:
        return true;
    case KVM_EXIT_HLT:
        /* Only without an in-kernel LAPIC; treat as an idle guest. */
        usleep(1000);
        return true;
    case KVM_EXIT_SHUTDOWN:
        /* A triple fault resets a PC. */
        log_fault(vcpu, "triple fault");
        vm_request_reset(vm, "triple-fault");
        wait_for_reset(vcpu);
        return true;
    case KVM_EXIT_SYSTEM_EVENT:
        switch (run->system_event.type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            vm_request_exit(vm, 0, "poweroff");
            return false;
        case KVM_SYSTEM_EVENT_RESET:
            vm_request_reset(vm, "guest-reset");
            wait_for_reset(vcpu);
            return true;
        default:
            log_warn("vCPU %u: guest crash event %u", vcpu->id, run->system_event.type);
            vm_request_exit(vm, VM_EXIT_GUEST_ERROR, "guest-crash");
            return false;
        }
    case KVM_EXIT_FAIL_ENTRY:
        log_error("vCPU %u: KVM could not enter the guest (reason 0x%llx)", vcpu->id,
                  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
        vm_request_exit(vm, VM_EXIT_GUEST_ERROR, "internal-error");
        return false;
    case KVM_EXIT_INTERNAL_ERROR:
        log_fault(vcpu, run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
                            ? "KVM could not emulate an instruction"
                            : "KVM internal error");
        vm_request_exit(vm, VM_EXIT_GUEST_ERROR, "internal-error");
        return false;
    default:
        log_warn_rl(&vm->rl_fault, "vCPU %u: unexpected exit reason %u", vcpu->id,
                    run->exit_reason);
        return true;
    }
}

/* Parks the thread while a pause is requested; false when it must stop. */
static bool vcpu_check_requests(struct vcpu *vcpu)
{
    struct vm *vm = vcpu->vm;

    if (atomic_load(&vm->stop_req))
        return false;
    if (!atomic_load(&vm->pause_req))
        return true;
    pthread_mutex_lock(&vm->lock);
    vcpu->paused = true;
    vm->paused_count++;
    pthread_cond_broadcast(&vm->cond);
    while (atomic_load(&vm->pause_req) && !atomic_load(&vm->stop_req))
        pthread_cond_wait(&vm->cond, &vm->lock);
    vcpu->paused = false;
    vm->paused_count--;
    pthread_mutex_unlock(&vm->lock);
    return !atomic_load(&vm->stop_req);
}

static void *vcpu_thread(void *arg)
{
    struct vcpu *vcpu = arg;
    sigset_t set;

    sigemptyset(&set);
    sigaddset(&set, KICK_SIGNAL);
    this_vcpu = vcpu;
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);

    for (;;) {
        vcpu->run->immediate_exit = 0;
        /* The flag's store before the loads of the requests: else a kick
         * between them could be lost (x86 reorders a store after a load). */
        atomic_thread_fence(memory_order_seq_cst);
        if (!vcpu_check_requests(vcpu))
            break;
        if (ioctl(vcpu->fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            log_error("vCPU %u: KVM_RUN failed: %s", vcpu->id, strerror(errno));
            vm_request_exit(vcpu->vm, VM_EXIT_GUEST_ERROR, "internal-error");
            break;
        }
        if (!handle_exit(vcpu))
            break;
    }
    /* A vCPU that left on its own must still answer a later pause. */
    pthread_mutex_lock(&vcpu->vm->lock);
    vcpu->paused = true;
    vcpu->vm->paused_count++;
    pthread_cond_broadcast(&vcpu->vm->cond);
    pthread_mutex_unlock(&vcpu->vm->lock);
    return NULL;
}

int vcpu_start(struct vcpu *vcpu)
{
    static const struct sigaction sa = { .sa_handler = kick_handler };
    int r;

    sigaction(KICK_SIGNAL, &sa, NULL);
    r = pthread_create(&vcpu->thread, NULL, vcpu_thread, vcpu);
    if (r)
        return -r;
    vcpu->thread_started = true;
    return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
    vcpu->run->immediate_exit = 1;
    if (vcpu->thread_started)
        pthread_kill(vcpu->thread, KICK_SIGNAL);
}
