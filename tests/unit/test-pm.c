/* Unit tests for chipset power management: S5 power-off, the ACPI PM timer
 * and the reset ports (0xcf9 through the PCI host, and port 0x92). */
#include "hw/pm.h"
#include "pci/pci.h"
#include "unit.h"

#define PM1_STS 0x00
#define PM1_EN 0x02
#define PM1_CNT 0x04
#define PM_TMR 0x08
#define SLP_EN 0x2000

struct fixture {
    struct pm pm;
    struct power_rec power;
};

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    pm_init(&f->pm, power_rec_power(&f->power), (struct irq_line){ 0 });
}

static void teardown(struct fixture *f, gconstpointer data)
{
    pthread_mutex_destroy(&f->pm.lock);
}

static void test_s5_powers_off(struct fixture *f, gconstpointer data)
{
    dev_write(&pm_bus_ops, &f->pm, PM1_CNT, 2, (PM_SLP_TYP_S5 << 10) | SLP_EN | 0x0001);
    g_assert_cmpuint(f->power.exits, ==, 1);
    g_assert_cmpint(f->power.status, ==, 0);
    g_assert_cmpuint(f->power.resets, ==, 0);
    /* SLP_EN is write-only: it reads back as zero, the rest stays. */
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_CNT, 2), ==, 0x0001);

    /* Byte writes, as some guests do, with SLP_EN in the high byte. */
    dev_write(&pm_bus_ops, &f->pm, PM1_CNT + 1, 1, SLP_EN >> 8);
    g_assert_cmpuint(f->power.exits, ==, 2);
    g_assert_cmpint(f->power.status, ==, 0);
}

static void test_other_sleep_types(struct fixture *f, gconstpointer data)
{
    for (unsigned typ = 1; typ < 8; typ++) {
        dev_write(&pm_bus_ops, &f->pm, PM1_CNT, 2, (typ << 10) | SLP_EN);
        g_assert_cmpuint(f->power.exits, ==, 0);
        g_assert_cmpuint(f->power.resets, ==, 0);
    }
    /* SLP_TYP without SLP_EN does nothing either, even for S5. */
    dev_write(&pm_bus_ops, &f->pm, PM1_CNT, 2, PM_SLP_TYP_S5 << 10);
    g_assert_cmpuint(f->power.exits, ==, 0);
}

static void test_pm1_registers(struct fixture *f, gconstpointer data)
{
    dev_write(&pm_bus_ops, &f->pm, PM1_EN, 2, 0x0121);
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_EN, 2), ==, 0x0121);
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_EN + 1, 1), ==, 0x01);
    /* A dword read at 0 covers status and enable. */
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_STS, 4), ==, 0x01210000);
    /* Beyond the registers reads are zero. */
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, 0x40, 4), ==, 0);
}

static void test_power_button(struct fixture *f, gconstpointer data)
{
    struct irq_rec sci = { 0 };

    f->pm.sci = irq_rec_line(&sci, 9);
    /* SCI_EN reads 1: no mode switch is needed. */
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_CNT, 2) & 1, ==, 1);
    /* Pressed while not enabled: status only, no SCI. */
    pm_power_button(&f->pm);
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_STS, 2) & 0x100, ==, 0x100);
    g_assert_cmpint(sci.level, ==, 0);
    /* Enabling it with the status pending raises the SCI... */
    dev_write(&pm_bus_ops, &f->pm, PM1_EN, 2, 0x0100);
    g_assert_cmpint(sci.level, ==, 1);
    /* ...and writing the status bit back clears both. */
    dev_write(&pm_bus_ops, &f->pm, PM1_STS, 2, 0x0100);
    g_assert_cmphex(dev_read(&pm_bus_ops, &f->pm, PM1_STS, 2) & 0x100, ==, 0);
    g_assert_cmpint(sci.level, ==, 0);
    pm_power_button(&f->pm);
    g_assert_cmpint(sci.level, ==, 1);
    g_assert_cmpint(f->power.exits, ==, 0);
}

static void test_pm_timer(struct fixture *f, gconstpointer data)
{
    uint32_t t0, t1, ticks;

    t0 = (uint32_t)dev_read(&pm_bus_ops, &f->pm, PM_TMR, 4);
    g_usleep(20 * 1000);
    t1 = (uint32_t)dev_read(&pm_bus_ops, &f->pm, PM_TMR, 4);
    g_assert_cmphex(t0 & 0xff000000u, ==, 0);
    g_assert_cmphex(t1 & 0xff000000u, ==, 0);
    /* 24 bits at 3.579545 MHz; 20 ms is about 71591 ticks. */
    ticks = (t1 - t0) & 0xffffff;
    g_assert_cmpuint(ticks, >=, 71000);
    g_assert_cmpuint(ticks, <, 3579545);
}

static void test_reset_control(struct fixture *f, gconstpointer data)
{
    struct pci_host host;
    struct bus *mmio = bus_new("mmio", 1ull << 40);

    /* 0xcf9 shares its dword with CONFIG_ADDRESS; the PCI host decodes it. */
    pci_host_init(&host, mmio, &f->pm);
    dev_write(&pci_cf8_bus_ops, &host, 1, 1, 0x02);
    g_assert_cmpuint(f->power.resets, ==, 0);
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &host, 1, 1), ==, 0x02);
    dev_write(&pci_cf8_bus_ops, &host, 1, 1, 0x06);
    g_assert_cmpuint(f->power.resets, ==, 1);
    g_assert_cmpstr(f->power.reason, ==, "reset-control");
    g_assert_cmpuint(f->power.exits, ==, 0);
    /* CONFIG_ADDRESS was not touched by the byte accesses. */
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &host, 0, 4), ==, 0);
    pci_host_destroy(&host);
    bus_free(mmio);
}

static void test_port92(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(dev_read(&pm_port92_bus_ops, &f->pm, 0, 1), ==, 0x02);
    dev_write(&pm_port92_bus_ops, &f->pm, 0, 1, 0x00);
    g_assert_cmphex(dev_read(&pm_port92_bus_ops, &f->pm, 0, 1), ==, 0x00);
    g_assert_cmpuint(f->power.resets, ==, 0);
    dev_write(&pm_port92_bus_ops, &f->pm, 0, 1, 0x03);
    g_assert_cmpuint(f->power.resets, ==, 1);
    g_assert_cmpstr(f->power.reason, ==, "port-92");
    g_assert_cmphex(dev_read(&pm_port92_bus_ops, &f->pm, 0, 1), ==, 0x02);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/pm/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("s5-powers-off", test_s5_powers_off);
    ADD("other-sleep-types", test_other_sleep_types);
    ADD("pm1-registers", test_pm1_registers);
    ADD("pm-timer", test_pm_timer);
    ADD("power-button", test_power_button);
    ADD("reset-control", test_reset_control);
    ADD("port92", test_port92);
#undef ADD
    return g_test_run();
}
