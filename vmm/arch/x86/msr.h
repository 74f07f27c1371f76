/* Model-specific registers a reset must put back to their power-on values. */
#pragma once

#include <stdint.h>

struct x86_msr_list {
    uint32_t n;
    uint32_t *index;    /* owned: what KVM saves and restores */
};

/* Reads the MSRs KVM knows from the /dev/kvm fd. 0 or -errno. */
int x86_msr_list_init(struct x86_msr_list *l, int kvm_fd);
void x86_msr_list_free(struct x86_msr_list *l);
/* Writes the power-on values of the MSRs a guest can change and that no
 * other reset path covers (PAT, SYSENTER, SYSCALL, MTRRs, kvmclock...). */
int x86_msrs_reset(int vcpu_fd, const struct x86_msr_list *supported);
