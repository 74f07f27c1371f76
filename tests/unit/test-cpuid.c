/* Unit tests for the CPUID fix-ups applied to KVM's supported list: topology
 * leaves that agree with the vCPU count, and the hypervisor leaves. */
#include "arch/x86/cpuid.h"
#include "unit.h"

enum { L1, L4_L1D, L4_L3, L4_NULL, LB_0, LB_1, LB_2, L1F_1, LHV, L80000008, L7, NLEAVES };

static struct kvm_cpuid2 *make_cpuid(void)
{
    struct kvm_cpuid2 *c = g_malloc0(sizeof(*c) + NLEAVES * sizeof(c->entries[0]));
    struct kvm_cpuid_entry2 *e = c->entries;

    c->nent = NLEAVES;
    /* What a host might report: APIC id 5 of 16, CLFLUSH 64 bytes. */
    e[L1] = (struct kvm_cpuid_entry2){ .function = 1, .eax = 0x000a0f11, .ebx = 0x05100800,
                                       .ecx = 0x7ed8320b, .edx = 0x178bfbff };
    e[L4_L1D] = (struct kvm_cpuid_entry2){ .function = 4, .index = 0, .eax = 0x1c004121 };
    e[L4_L3] = (struct kvm_cpuid_entry2){ .function = 4, .index = 3, .eax = 0x1c03c163 };
    e[L4_NULL] = (struct kvm_cpuid_entry2){ .function = 4, .index = 4, .eax = 0 };
    e[LB_0] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 0, .eax = 1, .ebx = 2,
                                         .ecx = 0x100, .edx = 5 };
    e[LB_1] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 1, .eax = 5, .ebx = 16,
                                         .ecx = 0x201, .edx = 5 };
    e[LB_2] = (struct kvm_cpuid_entry2){ .function = 0xb, .index = 2, .eax = 7, .ebx = 7,
                                         .ecx = 0x302, .edx = 5 };
    e[L1F_1] = (struct kvm_cpuid_entry2){ .function = 0x1f, .index = 1, .eax = 5, .ebx = 16 };
    e[LHV] = (struct kvm_cpuid_entry2){ .function = 0x40000000 };
    e[L80000008] = (struct kvm_cpuid_entry2){ .function = 0x80000008, .eax = 0x3030,
                                              .ecx = 0x0000700f };
    e[L7] = (struct kvm_cpuid_entry2){ .function = 7, .ebx = 0x219c91a9 };
    return c;
}

static void test_leaf1(void)
{
    g_autofree struct kvm_cpuid2 *c = make_cpuid();
    g_autofree struct kvm_cpuid2 *one = make_cpuid();
    g_autofree struct kvm_cpuid2 *many = make_cpuid();
    const struct kvm_cpuid_entry2 *e = &c->entries[L1];

    x86_cpuid_fixup(c, 3, 4);
    g_assert_cmphex(e->ebx >> 24, ==, 3);                  /* initial APIC id */
    g_assert_cmphex((e->ebx >> 16) & 0xff, ==, 4);         /* logical processors */
    g_assert_cmphex(e->ebx & 0xffff, ==, 0x0800);          /* CLFLUSH kept */
    g_assert_cmphex(e->ecx >> 31, ==, 1);                  /* hypervisor */
    g_assert_cmphex(e->ecx & (1u << 24), ==, 1u << 24);     /* TSC deadline */
    g_assert_cmphex(e->ecx & 0x7effffff, ==, 0x7ed8320b);    /* the rest as KVM said */
    g_assert_cmphex(e->edx & (1u << 28), ==, 1u << 28);    /* HTT */
    g_assert_cmphex(e->eax, ==, 0x000a0f11);

    e = &one->entries[L1];
    x86_cpuid_fixup(one, 0, 1);
    g_assert_cmphex(e->ebx >> 16, ==, 0x0001);
    g_assert_cmphex(e->edx & (1u << 28), ==, 0);

    /* The count field is 8 bits wide. */
    e = &many->entries[L1];
    x86_cpuid_fixup(many, 200, 300);
    g_assert_cmphex(e->ebx >> 24, ==, 200);
    g_assert_cmphex((e->ebx >> 16) & 0xff, ==, 255);
}

static void test_leaf4(void)
{
    g_autofree struct kvm_cpuid2 *c = make_cpuid();

    x86_cpuid_fixup(c, 1, 4);
    /* Cores per package - 1 in 31:26; L1 per core, L3 shared by all. */
    g_assert_cmphex(c->entries[L4_L1D].eax >> 26, ==, 3);
    g_assert_cmphex((c->entries[L4_L1D].eax >> 14) & 0xfff, ==, 0);
    g_assert_cmphex(c->entries[L4_L1D].eax & 0x3fff, ==, 0x0121);
    g_assert_cmphex(c->entries[L4_L3].eax >> 26, ==, 3);
    g_assert_cmphex((c->entries[L4_L3].eax >> 14) & 0xfff, ==, 3);
    g_assert_cmphex(c->entries[L4_NULL].eax, ==, 0);
}

static void test_leaf_b(void)
{
    g_autofree struct kvm_cpuid2 *c = make_cpuid();
    const struct kvm_cpuid_entry2 *e = c->entries;

    x86_cpuid_fixup(c, 6, 8);
    /* Level 0: SMT with one thread, so no bits to shift. */
    g_assert_cmpuint(e[LB_0].eax & 0x1f, ==, 0);
    g_assert_cmpuint(e[LB_0].ebx & 0xffff, ==, 1);
    g_assert_cmphex(e[LB_0].ecx, ==, 0x100 | 0);
    g_assert_cmpuint(e[LB_0].edx, ==, 6);
    /* Level 1: cores; shifting out 3 bits leaves the package id. */
    g_assert_cmpuint(e[LB_1].eax & 0x1f, ==, 3);
    g_assert_cmpuint(e[LB_1].ebx & 0xffff, ==, 8);
    g_assert_cmphex(e[LB_1].ecx, ==, 0x200 | 1);
    g_assert_cmpuint(e[LB_1].edx, ==, 6);
    /* Level 2 is invalid: type 0, index echoed. */
    g_assert_cmpuint(e[LB_2].eax, ==, 0);
    g_assert_cmpuint(e[LB_2].ebx, ==, 0);
    g_assert_cmphex(e[LB_2].ecx, ==, 2);
    g_assert_cmpuint(e[LB_2].edx, ==, 6);
    /* Leaf 0x1f says the same. */
    g_assert_cmpuint(e[L1F_1].eax, ==, 3);
    g_assert_cmpuint(e[L1F_1].ebx, ==, 8);
    g_assert_cmpuint(e[L1F_1].edx, ==, 6);

    /* A count that is not a power of two rounds the shift up. */
    g_free(c);
    c = make_cpuid();
    x86_cpuid_fixup(c, 4, 5);
    g_assert_cmpuint(c->entries[LB_1].eax, ==, 3);
    g_assert_cmpuint(c->entries[LB_1].ebx, ==, 5);
}

static void test_hypervisor_leaf(void)
{
    g_autofree struct kvm_cpuid2 *c = make_cpuid();
    const struct kvm_cpuid_entry2 *e = &c->entries[LHV];
    char sig[13] = { 0 };

    x86_cpuid_fixup(c, 0, 2);
    memcpy(sig, &e->ebx, 4);
    memcpy(sig + 4, &e->ecx, 4);
    memcpy(sig + 8, &e->edx, 4);
    g_assert_cmpstr(sig, ==, "KVMKVMKVM");
    g_assert_cmpmem(sig + 9, 3, "\0\0\0", 3);
    g_assert_cmphex(e->eax, ==, 0x40000001);
}

static void test_amd_and_untouched(void)
{
    g_autofree struct kvm_cpuid2 *c = make_cpuid();

    x86_cpuid_fixup(c, 0, 4);
    g_assert_cmphex(c->entries[L80000008].ecx & 0xff, ==, 3);
    g_assert_cmphex((c->entries[L80000008].ecx >> 12) & 0xf, ==, 2);
    g_assert_cmphex(c->entries[L80000008].eax, ==, 0x3030);
    /* Leaves that say nothing about topology are left alone. */
    g_assert_cmphex(c->entries[L7].ebx, ==, 0x219c91a9);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/cpuid/leaf1", test_leaf1);
    g_test_add_func("/cpuid/leaf4", test_leaf4);
    g_test_add_func("/cpuid/leaf-b", test_leaf_b);
    g_test_add_func("/cpuid/hypervisor-leaf", test_hypervisor_leaf);
    g_test_add_func("/cpuid/amd-and-untouched", test_amd_and_untouched);
    return g_test_run();
}
