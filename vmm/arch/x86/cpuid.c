/* CPUID for guests. Every vCPU is one core of one package, one thread per
 * core, so leaf 1, leaf 4, leaf 0xb and AMD's 0x80000008 all agree. */
#include "cpuid.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#define CPUID_1_ECX_HYPERVISOR (1u << 31)
#define CPUID_1_ECX_X2APIC     (1u << 21)
#define CPUID_1_ECX_TSC_DEADLINE (1u << 24)
#define CPUID_1_EDX_HTT        (1u << 28)

static unsigned bits_for(unsigned n)
{
    unsigned b = 0;

    while ((1u << b) < n)
        b++;
    return b;
}

void x86_cpuid_fixup(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus)
{
    unsigned core_bits = bits_for(ncpus);

    for (uint32_t i = 0; i < c->nent; i++) {
        struct kvm_cpuid_entry2 *e = &c->entries[i];

        switch (e->function) {
        case 1:
            e->ebx = (e->ebx & 0x0000ffffu) | (apic_id << 24) |
                     ((ncpus > 255 ? 255 : ncpus) << 16);
            e->ecx |= CPUID_1_ECX_HYPERVISOR;
            /* KVM leaves the TSC-deadline timer out of its supported list
             * because it depends on the in-kernel LAPIC, which every VM
             * here has (KVM_CAP_TSC_DEADLINE_TIMER). Guests then arm their
             * timer with one MSR write instead of calibrating the LAPIC's. */
            e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
            if (ncpus > 1)
                e->edx |= CPUID_1_EDX_HTT;
            else
                e->edx &= ~CPUID_1_EDX_HTT;
            break;
        case 4:
            /* Cores per package minus one in 31:26, threads sharing the
             * cache minus one in 25:14 (caches below L3 are per core). */
            if ((e->eax & 0x1f) != 0) {
                unsigned level = (e->eax >> 5) & 7;
                unsigned sharing = level >= 3 ? ncpus - 1 : 0;

                e->eax = (e->eax & 0x3fff) | ((ncpus - 1) << 26) | (sharing << 14);
            }
            break;
        case 0xb:
        case 0x1f:
            /* Level 0: SMT, one thread; level 1: cores. */
            if (e->index == 0) {
                e->eax = 0;
                e->ebx = 1;
                e->ecx = (1u << 8) | 0;
            } else if (e->index == 1) {
                e->eax = core_bits;
                e->ebx = ncpus;
                e->ecx = (2u << 8) | 1;
            } else {
                e->eax = e->ebx = 0;
                e->ecx = e->index;
            }
            e->edx = apic_id;
            break;
        case 0x40000000:
            /* KVM's own signature: guests use it to find kvmclock and PV EOI. */
            e->eax = 0x40000001;
            memcpy(&e->ebx, "KVMK", 4);
            memcpy(&e->ecx, "VMKV", 4);
            memcpy(&e->edx, "M\0\0\0", 4);
            break;
        case 0x80000008:
            /* NC (cores - 1) and the APIC id width for AMD guests. */
            e->ecx = (e->ecx & ~0xf0ffu) | (ncpus - 1) | (core_bits << 12);
            break;
        default:
            break;
        }
    }
}

int x86_cpuid_apply(int vcpu_fd, const struct kvm_cpuid2 *supported, unsigned apic_id,
                    unsigned ncpus)
{
    size_t size = sizeof(*supported) + supported->nent * sizeof(supported->entries[0]);
    struct kvm_cpuid2 *c = malloc(size);
    int r = 0;

    if (!c)
        return -ENOMEM;
    memcpy(c, supported, size);
    x86_cpuid_fixup(c, apic_id, ncpus);
    if (ioctl(vcpu_fd, KVM_SET_CPUID2, c) < 0)
        r = -errno;
    free(c);
    return r;
}
