/* CPUID presented to the guest: what KVM supports, with a hypervisor leaf and
 * a topology that matches the vCPU count. */
#pragma once

#include <linux/kvm.h>

/* Sets the CPUID of vCPU fd (APIC id apic_id of ncpus) from KVM's supported
 * list. Returns 0 or -errno. */
int x86_cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned apic_id,
                    unsigned ncpus);
/* Edits entries in place; exposed for unit tests. */
void x86_cpuid_fixup(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus);
