/* A vCPU: its KVM fd, shared kvm_run page, thread, and the register state it
 * returns to on reset. */
#pragma once

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

struct vm;

struct vcpu {
    struct vm *vm;              /* borrowed: the VM outlives its vCPUs */
    unsigned id;
    int fd;                     /* owned */
    struct kvm_run *run;        /* owned mapping */
    pthread_t thread;
    bool thread_started;
    bool paused;                /* guarded by vm->lock */

    /* Power-on state captured before the first run, restored on reset. */
    struct kvm_regs reset_regs;
    struct kvm_sregs reset_sregs;
    struct kvm_fpu reset_fpu;
    struct kvm_lapic_state reset_lapic;
};

struct vcpu *vcpu_new(struct vm *vm, unsigned id);
void vcpu_free(struct vcpu *vcpu);
int vcpu_start(struct vcpu *vcpu);
/* Makes a running KVM_RUN return promptly. */
void vcpu_kick(struct vcpu *vcpu);
/* Restores the power-on state; the caller has paused the vCPU. */
int vcpu_reset(struct vcpu *vcpu);
