/* The VM core on /dev/kvm without the board: a guest's port and MMIO writes
 * reach ioeventfds inside the kernel, an irqfd raises its GSI, and the
 * debug-exit status travels back from a vCPU thread. */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch/x86/boot.h"
#include "core/vcpu.h"
#include "core/vm.h"
#include "hw/debug_exit.h"

#define CODE_GPA 0x100000

/* 32-bit protected mode: out 1 to 0x500, out 1 and 2 to 0x504, a dword to
 * MMIO 0xd0000000, then debug-exit with 0x2a. */
static const uint8_t guest_code[] = {
    0x66, 0xba, 0x00, 0x05,             /* mov dx, 0x500 */
    0xb0, 0x01,                         /* mov al, 1 */
    0xee,                               /* out dx, al */
    0x66, 0xba, 0x04, 0x05,             /* mov dx, 0x504 */
    0xee,                               /* out dx, al (1: no match) */
    0xb0, 0x02,                         /* mov al, 2 */
    0xee,                               /* out dx, al (2: match) */
    0xb8, 0x34, 0x12, 0x00, 0x00,       /* mov eax, 0x1234 */
    0xa3, 0x00, 0x00, 0x00, 0xd0,       /* mov [0xd0000000], eax */
    0x66, 0xba, 0xf4, 0x00,             /* mov dx, 0xf4 */
    0xb8, 0x2a, 0x00, 0x00, 0x00,       /* mov eax, 0x2a */
    0xef,                               /* out dx, eax */
    0xf4,                               /* hlt */
    0xeb, 0xfd,                         /* jmp hlt */
};

struct port_log {
    unsigned writes;
    uint8_t last;
};

static void log_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct port_log *l = opaque;

    l->writes++;
    l->last = data[0];
}

static const struct bus_ops log_ops = { .write = log_write };

static void request_exit(void *opaque, int status, const char *reason)
{
    vm_request_exit(opaque, status, reason);
}

static uint64_t drain(int fd)
{
    uint64_t v = 0;

    if (read(fd, &v, sizeof(v)) != sizeof(v))
        return 0;
    return v;
}

static struct vm *new_vm(void)
{
    struct vm_config cfg = { "/dev/kvm", 64 << 20, 1 };
    char err[256];
    struct vm *vm = vm_new(&cfg, err, sizeof(err));

    if (!vm)
        g_printerr("%s\n", err);
    return vm;
}

static void test_ioeventfd_irqfd(void)
{
    struct vm *vm = new_vm();
    struct debug_exit dexit;
    struct port_log port504 = { 0 };
    struct boot_info info = { BOOT_PVH, CODE_GPA, 0 };
    int ev500 = eventfd(0, EFD_NONBLOCK), ev504 = eventfd(0, EFD_NONBLOCK);
    int evmmio = eventfd(0, EFD_NONBLOCK), evirq = eventfd(0, EFD_NONBLOCK);
    struct kvm_irqchip pic = { .chip_id = KVM_IRQCHIP_PIC_MASTER };
    struct pollfd pfd;

    g_assert_nonnull(vm);
    dexit.power = (struct power){ request_exit, NULL, vm };
    g_assert_cmpint(bus_register(vm->pio, 0xf4, 4, &debug_exit_bus_ops, &dexit, "debug-exit"), ==, 0);
    g_assert_cmpint(bus_register(vm->pio, 0x504, 1, &log_ops, &port504, "log"), ==, 0);
    g_assert_cmpint(gmem_write(vm->mem, CODE_GPA, guest_code, sizeof(guest_code)), ==, 0);
    g_assert_cmpint(boot_setup_vcpu(vm->vcpus[0]->fd, vm->mem, &info), ==, 0);

    g_assert_cmpint(vm_ioeventfd_add(vm, 0x500, 1, true, false, 0, ev500), ==, 0);
    g_assert_cmpint(vm_ioeventfd_add(vm, 0x504, 1, true, true, 2, ev504), ==, 0);
    g_assert_cmpint(vm_ioeventfd_add(vm, 0xd0000000, 4, false, true, 0x1234, evmmio), ==, 0);
    g_assert_cmpint(vm_irqfd_add(vm, 5, evirq, -1), ==, 0);

    g_assert_cmpint(vm_start(vm), ==, 0);
    pfd = (struct pollfd){ .fd = vm->wake_fd, .events = POLLIN };
    for (int i = 0; i < 100 && !vm_exit_requested(vm); i++)
        poll(&pfd, 1, 100);
    vm_stop(vm);

    g_assert_true(vm_exit_requested(vm));
    g_assert_cmpint(atomic_load(&vm->exit_status), ==, (0x2a << 1) | 1);
    g_assert_cmpuint(drain(ev500), ==, 1);
    /* Only the matching value went to the eventfd; the other reached the bus. */
    g_assert_cmpuint(drain(ev504), ==, 1);
    g_assert_cmpuint(port504.writes, ==, 1);
    g_assert_cmpuint(port504.last, ==, 1);
    g_assert_cmpuint(drain(evmmio), ==, 1);

    /* The irqfd edge latches IRQ 5 in the master PIC's request register. */
    g_assert_cmpint(ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &pic), ==, 0);
    g_assert_cmpuint(pic.chip.pic.irr & (1u << 5), ==, 0);
    g_assert_cmpint(write(evirq, &(uint64_t){ 1 }, 8), ==, 8);
    for (int i = 0; i < 100; i++) {
        g_assert_cmpint(ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &pic), ==, 0);
        if (pic.chip.pic.irr & (1u << 5))
            break;
        g_usleep(1000);     /* irqfd injection runs from a kernel work item */
    }
    g_assert_cmpuint(pic.chip.pic.irr & (1u << 5), !=, 0);

    /* An MSI to LAPIC 0 reaches KVM (a masked LAPIC makes it a no-op, not
     * an error). */
    g_assert_cmpint(vm_signal_msi(vm, 0, 0xfee00000, 0x0031), >=, 0);

    g_assert_cmpint(vm_irqfd_del(vm, 5, evirq), ==, 0);
    g_assert_cmpint(vm_ioeventfd_del(vm, 0x500, 1, true, false, 0, ev500), ==, 0);
    /* Removing it twice is an error, not a crash. */
    g_assert_cmpint(vm_ioeventfd_del(vm, 0x500, 1, true, false, 0, ev500), <, 0);
    vm_free(vm);
    close(ev500);
    close(ev504);
    close(evmmio);
    close(evirq);
}

static bool lapic_irr(struct vm *vm, unsigned vector)
{
    struct kvm_lapic_state l;

    g_assert_cmpint(ioctl(vm->vcpus[0]->fd, KVM_GET_LAPIC, &l), ==, 0);
    return (((const uint32_t *)(const void *)&l.regs[0x200 + 0x10 * (vector / 32)])[0] >> (vector % 32)) & 1;
}

static void test_msi_irqfd(void)
{
    struct vm *vm = new_vm();
    struct vm_msi_group *g, *h;
    struct kvm_lapic_state l;
    unsigned routes = 0;

    g_assert_nonnull(vm);
    /* A software-enabled LAPIC accepts fixed interrupts into its IRR. */
    g_assert_cmpint(ioctl(vm->vcpus[0]->fd, KVM_GET_LAPIC, &l), ==, 0);
    l.regs[0xf1] |= 1;                          /* SVR bit 8 */
    g_assert_cmpint(ioctl(vm->vcpus[0]->fd, KVM_SET_LAPIC, &l), ==, 0);

    g = vm_msi_group_new(vm, 3);
    h = vm_msi_group_new(vm, 2);
    g_assert_nonnull(g);
    g_assert_nonnull(h);
    for (unsigned i = 0; i < VM_MSI_ROUTES; i++)
        routes += vm->msi_routes[i].used;
    g_assert_cmpuint(routes, ==, 5);

    /* Vector 1 of g to LAPIC 0, vector 0x31: the route is written on the
     * first message and the irqfd raises it. */
    g_assert_false(lapic_irr(vm, 0x31));
    g_assert_cmpint(vm_msi_group_signal(g, 1, 0xfee00000, 0x31), ==, 0);
    for (int i = 0; i < 100 && !lapic_irr(vm, 0x31); i++)
        g_usleep(1000);
    g_assert_true(lapic_irr(vm, 0x31));
    /* The guest reprograms the vector: the route follows. */
    g_assert_cmpint(vm_msi_group_signal(g, 1, 0xfee00000, 0x42), ==, 0);
    for (int i = 0; i < 100 && !lapic_irr(vm, 0x42); i++)
        g_usleep(1000);
    g_assert_true(lapic_irr(vm, 0x42));
    /* Another device's vector is routed on its own. */
    g_assert_false(lapic_irr(vm, 0x53));
    g_assert_cmpint(vm_msi_group_signal(h, 0, 0xfee00000, 0x53), ==, 0);
    for (int i = 0; i < 100 && !lapic_irr(vm, 0x53); i++)
        g_usleep(1000);
    g_assert_true(lapic_irr(vm, 0x53));
    /* A vector beyond the group still gets through, by KVM_SIGNAL_MSI. */
    g_assert_cmpint(vm_msi_group_signal(h, 7, 0xfee00000, 0x64), ==, 0);
    g_assert_true(lapic_irr(vm, 0x64));

    vm_msi_group_free(g);
    routes = 0;
    for (unsigned i = 0; i < VM_MSI_ROUTES; i++)
        routes += vm->msi_routes[i].used;
    g_assert_cmpuint(routes, ==, 2);
    vm_msi_group_free(h);
    vm_free(vm);
}

static void test_two_vms(void)
{
    /* No global state: two VMs live side by side in one process. */
    struct vm *a = new_vm(), *b = new_vm();

    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_cmpint(gmem_write(a->mem, 0x1000, "A", 1), ==, 0);
    g_assert_cmpint(gmem_write(b->mem, 0x1000, "B", 1), ==, 0);
    g_assert_cmpint(*(char *)gmem_ptr(a->mem, 0x1000, 1), ==, 'A');
    g_assert_cmpint(*(char *)gmem_ptr(b->mem, 0x1000, 1), ==, 'B');
    vm_free(a);
    vm_free(b);
}

int main(int argc, char **argv)
{
    int fd;

    g_test_init(&argc, &argv, NULL);
    fd = open("/dev/kvm", O_RDWR);
    if (fd < 0) {
        /* A TAP plan of nothing with a reason is TAP's skip; an exit
         * status of 77 would count as an error. */
        g_print("1..0 # SKIP /dev/kvm cannot be opened: %s\n", g_strerror(errno));
        return 0;
    }
    close(fd);
    g_test_add_func("/kvm/ioeventfd-irqfd", test_ioeventfd_irqfd);
    g_test_add_func("/kvm/msi-irqfd", test_msi_irqfd);
    g_test_add_func("/kvm/two-vms", test_two_vms);
    return g_test_run();
}
