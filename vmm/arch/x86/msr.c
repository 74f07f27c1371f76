/* MSR reset. KVM keeps MSR values across KVM_SET_REGS/SREGS, so a guest that
 * set PAT or kvmclock before a reset would otherwise keep them afterwards. */
#include "msr.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/ioctl.h>

struct msr_default {
    uint32_t index;
    uint64_t value;
};

/* Values from the SDM's "state after reset" and KVM's paravirtual MSR docs. */
static const struct msr_default defaults[] = {
    { 0x00000010, 0 },                      /* TSC */
    { 0x00000174, 0 },                      /* SYSENTER_CS */
    { 0x00000175, 0 },                      /* SYSENTER_ESP */
    { 0x00000176, 0 },                      /* SYSENTER_EIP */
    { 0x000001a0, 1 },                      /* MISC_ENABLE: fast strings */
    { 0x00000277, 0x0007040600070406ull },  /* PAT */
    { 0x000002ff, 0 },                      /* MTRR default type */
    { 0x00000250, 0 }, { 0x00000258, 0 }, { 0x00000259, 0 },   /* fixed MTRRs */
    { 0x00000268, 0 }, { 0x00000269, 0 }, { 0x0000026a, 0 }, { 0x0000026b, 0 },
    { 0x0000026c, 0 }, { 0x0000026d, 0 }, { 0x0000026e, 0 }, { 0x0000026f, 0 },
    { 0x00000200, 0 }, { 0x00000201, 0 }, { 0x00000202, 0 }, { 0x00000203, 0 },  /* variable */
    { 0x00000204, 0 }, { 0x00000205, 0 }, { 0x00000206, 0 }, { 0x00000207, 0 },
    { 0x00000208, 0 }, { 0x00000209, 0 }, { 0x0000020a, 0 }, { 0x0000020b, 0 },
    { 0x0000020c, 0 }, { 0x0000020d, 0 }, { 0x0000020e, 0 }, { 0x0000020f, 0 },
    { 0xc0000081, 0 },                      /* STAR */
    { 0xc0000082, 0 },                      /* LSTAR */
    { 0xc0000083, 0 },                      /* CSTAR */
    { 0xc0000084, 0 },                      /* SFMASK */
    { 0xc0000102, 0 },                      /* KERNEL_GS_BASE */
    { 0xc0000103, 0 },                      /* TSC_AUX */
    { 0x00000011, 0 }, { 0x00000012, 0 },   /* kvmclock, old numbers */
    { 0x4b564d00, 0 }, { 0x4b564d01, 0 },   /* kvmclock wall clock, system time */
    { 0x4b564d02, 0 },                      /* async page faults */
    { 0x4b564d03, 0 },                      /* steal time */
    { 0x4b564d04, 0 },                      /* PV EOI */
};

int x86_msr_list_init(struct x86_msr_list *l, int kvm_fd)
{
    struct kvm_msr_list probe = { .nmsrs = 0 }, *full;

    l->n = 0;
    l->index = NULL;
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno != E2BIG)
        return -errno;
    full = calloc(1, sizeof(*full) + probe.nmsrs * sizeof(uint32_t));
    if (!full)
        return -ENOMEM;
    full->nmsrs = probe.nmsrs;
    if (ioctl(kvm_fd, KVM_GET_MSR_INDEX_LIST, full) < 0) {
        free(full);
        return -errno;
    }
    l->index = malloc(full->nmsrs * sizeof(uint32_t) + 1);
    if (!l->index) {
        free(full);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < full->nmsrs; i++)
        l->index[i] = full->indices[i];
    l->n = full->nmsrs;
    free(full);
    return 0;
}

void x86_msr_list_free(struct x86_msr_list *l)
{
    free(l->index);
    l->index = NULL;
    l->n = 0;
}

static bool supported(const struct x86_msr_list *l, uint32_t index)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->index[i] == index)
            return true;
    return false;
}

int x86_msrs_reset(int vcpu_fd, const struct x86_msr_list *list)
{
    size_t max = sizeof(defaults) / sizeof(defaults[0]);
    struct kvm_msrs *m = calloc(1, sizeof(*m) + max * sizeof(m->entries[0]));
    int r = 0, n;

    if (!m)
        return -ENOMEM;
    for (size_t i = 0; i < max; i++) {
        /* MTRRs and a few others are emulated without being listed. */
        if (!supported(list, defaults[i].index) && defaults[i].index >= 0x300)
            continue;
        m->entries[m->nmsrs].index = defaults[i].index;
        m->entries[m->nmsrs].data = defaults[i].value;
        m->nmsrs++;
    }
    /* KVM stops at the first MSR it refuses; skip it and carry on. */
    for (uint32_t done = 0; done < m->nmsrs;) {
        struct kvm_msrs *rest = calloc(1, sizeof(*rest) + (m->nmsrs - done) * sizeof(rest->entries[0]));

        if (!rest) {
            r = -ENOMEM;
            break;
        }
        rest->nmsrs = m->nmsrs - done;
        for (uint32_t i = 0; i < rest->nmsrs; i++)
            rest->entries[i] = m->entries[done + i];
        n = ioctl(vcpu_fd, KVM_SET_MSRS, rest);
        free(rest);
        if (n < 0) {
            r = -errno;
            break;
        }
        done += (uint32_t)n + 1;
    }
    free(m);
    return r;
}
