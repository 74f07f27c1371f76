/*
 * DSDT of nook-vmm's q35-like PC: PCI host bridge with its windows, the
 * legacy devices on the LPC bus, and the S5 sleep type that the PM1a control
 * register at 0x604 acts on. Compiled by iasl at build time.
 */
DefinitionBlock ("dsdt.aml", "DSDT", 2, "NOOK  ", "NOOKPC  ", 0x00000001)
{
    /* Soft off: SLP_TYP 0 in PM1a_CNT (vmm/hw/pm.h, PM_SLP_TYP_S5). */
    Name (\_S5, Package (0x04) { Zero, Zero, Zero, Zero })

    Scope (\_SB)
    {
        Device (PCI0)
        {
            Name (_HID, EisaId ("PNP0A08"))     /* PCI Express root */
            Name (_CID, EisaId ("PNP0A03"))
            Name (_UID, Zero)
            Name (_SEG, Zero)
            Name (_BBN, Zero)

            Name (_CRS, ResourceTemplate ()
            {
                /* One bus, as the MCFG says. */
                WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode,
                    0x0000, 0x0000, 0x0000, 0x0000, 0x0001)
                IO (Decode16, 0x0CF8, 0x0CF8, 0x01, 0x08)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0000, 0x0CF7, 0x0000, 0x0CF8)
                WordIO (ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange,
                    0x0000, 0x0D00, 0xFFFF, 0x0000, 0xF300)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, Cacheable, ReadWrite,
                    0x00000000, 0x000A0000, 0x000BFFFF, 0x00000000, 0x00020000)
                DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite,
                    0x00000000, 0xC0000000, 0xFEBFFFFF, 0x00000000, 0x3EC00000)
            })

            /* PCI interrupts in APIC mode: INTx pin P of slot S is IOAPIC
             * GSI 16 + ((S + P) mod 8), level-triggered, active-low
             * (vmm/machine.c, pci_intx_gsi). Slot 0 is the host bridge. */
            Name (_PRT, Package ()
            {
                Package () { 0x0001FFFF, 0, Zero, 17 }, Package () { 0x0001FFFF, 1, Zero, 18 }, Package () { 0x0001FFFF, 2, Zero, 19 }, Package () { 0x0001FFFF, 3, Zero, 20 },
                Package () { 0x0002FFFF, 0, Zero, 18 }, Package () { 0x0002FFFF, 1, Zero, 19 }, Package () { 0x0002FFFF, 2, Zero, 20 }, Package () { 0x0002FFFF, 3, Zero, 21 },
                Package () { 0x0003FFFF, 0, Zero, 19 }, Package () { 0x0003FFFF, 1, Zero, 20 }, Package () { 0x0003FFFF, 2, Zero, 21 }, Package () { 0x0003FFFF, 3, Zero, 22 },
                Package () { 0x0004FFFF, 0, Zero, 20 }, Package () { 0x0004FFFF, 1, Zero, 21 }, Package () { 0x0004FFFF, 2, Zero, 22 }, Package () { 0x0004FFFF, 3, Zero, 23 },
                Package () { 0x0005FFFF, 0, Zero, 21 }, Package () { 0x0005FFFF, 1, Zero, 22 }, Package () { 0x0005FFFF, 2, Zero, 23 }, Package () { 0x0005FFFF, 3, Zero, 16 },
                Package () { 0x0006FFFF, 0, Zero, 22 }, Package () { 0x0006FFFF, 1, Zero, 23 }, Package () { 0x0006FFFF, 2, Zero, 16 }, Package () { 0x0006FFFF, 3, Zero, 17 },
                Package () { 0x0007FFFF, 0, Zero, 23 }, Package () { 0x0007FFFF, 1, Zero, 16 }, Package () { 0x0007FFFF, 2, Zero, 17 }, Package () { 0x0007FFFF, 3, Zero, 18 },
                Package () { 0x0008FFFF, 0, Zero, 16 }, Package () { 0x0008FFFF, 1, Zero, 17 }, Package () { 0x0008FFFF, 2, Zero, 18 }, Package () { 0x0008FFFF, 3, Zero, 19 },
                Package () { 0x0009FFFF, 0, Zero, 17 }, Package () { 0x0009FFFF, 1, Zero, 18 }, Package () { 0x0009FFFF, 2, Zero, 19 }, Package () { 0x0009FFFF, 3, Zero, 20 },
                Package () { 0x000AFFFF, 0, Zero, 18 }, Package () { 0x000AFFFF, 1, Zero, 19 }, Package () { 0x000AFFFF, 2, Zero, 20 }, Package () { 0x000AFFFF, 3, Zero, 21 },
                Package () { 0x000BFFFF, 0, Zero, 19 }, Package () { 0x000BFFFF, 1, Zero, 20 }, Package () { 0x000BFFFF, 2, Zero, 21 }, Package () { 0x000BFFFF, 3, Zero, 22 },
                Package () { 0x000CFFFF, 0, Zero, 20 }, Package () { 0x000CFFFF, 1, Zero, 21 }, Package () { 0x000CFFFF, 2, Zero, 22 }, Package () { 0x000CFFFF, 3, Zero, 23 },
                Package () { 0x000DFFFF, 0, Zero, 21 }, Package () { 0x000DFFFF, 1, Zero, 22 }, Package () { 0x000DFFFF, 2, Zero, 23 }, Package () { 0x000DFFFF, 3, Zero, 16 },
                Package () { 0x000EFFFF, 0, Zero, 22 }, Package () { 0x000EFFFF, 1, Zero, 23 }, Package () { 0x000EFFFF, 2, Zero, 16 }, Package () { 0x000EFFFF, 3, Zero, 17 },
                Package () { 0x000FFFFF, 0, Zero, 23 }, Package () { 0x000FFFFF, 1, Zero, 16 }, Package () { 0x000FFFFF, 2, Zero, 17 }, Package () { 0x000FFFFF, 3, Zero, 18 },
                Package () { 0x0010FFFF, 0, Zero, 16 }, Package () { 0x0010FFFF, 1, Zero, 17 }, Package () { 0x0010FFFF, 2, Zero, 18 }, Package () { 0x0010FFFF, 3, Zero, 19 },
                Package () { 0x0011FFFF, 0, Zero, 17 }, Package () { 0x0011FFFF, 1, Zero, 18 }, Package () { 0x0011FFFF, 2, Zero, 19 }, Package () { 0x0011FFFF, 3, Zero, 20 },
                Package () { 0x0012FFFF, 0, Zero, 18 }, Package () { 0x0012FFFF, 1, Zero, 19 }, Package () { 0x0012FFFF, 2, Zero, 20 }, Package () { 0x0012FFFF, 3, Zero, 21 },
                Package () { 0x0013FFFF, 0, Zero, 19 }, Package () { 0x0013FFFF, 1, Zero, 20 }, Package () { 0x0013FFFF, 2, Zero, 21 }, Package () { 0x0013FFFF, 3, Zero, 22 },
                Package () { 0x0014FFFF, 0, Zero, 20 }, Package () { 0x0014FFFF, 1, Zero, 21 }, Package () { 0x0014FFFF, 2, Zero, 22 }, Package () { 0x0014FFFF, 3, Zero, 23 },
                Package () { 0x0015FFFF, 0, Zero, 21 }, Package () { 0x0015FFFF, 1, Zero, 22 }, Package () { 0x0015FFFF, 2, Zero, 23 }, Package () { 0x0015FFFF, 3, Zero, 16 },
                Package () { 0x0016FFFF, 0, Zero, 22 }, Package () { 0x0016FFFF, 1, Zero, 23 }, Package () { 0x0016FFFF, 2, Zero, 16 }, Package () { 0x0016FFFF, 3, Zero, 17 },
                Package () { 0x0017FFFF, 0, Zero, 23 }, Package () { 0x0017FFFF, 1, Zero, 16 }, Package () { 0x0017FFFF, 2, Zero, 17 }, Package () { 0x0017FFFF, 3, Zero, 18 },
                Package () { 0x0018FFFF, 0, Zero, 16 }, Package () { 0x0018FFFF, 1, Zero, 17 }, Package () { 0x0018FFFF, 2, Zero, 18 }, Package () { 0x0018FFFF, 3, Zero, 19 },
                Package () { 0x0019FFFF, 0, Zero, 17 }, Package () { 0x0019FFFF, 1, Zero, 18 }, Package () { 0x0019FFFF, 2, Zero, 19 }, Package () { 0x0019FFFF, 3, Zero, 20 },
                Package () { 0x001AFFFF, 0, Zero, 18 }, Package () { 0x001AFFFF, 1, Zero, 19 }, Package () { 0x001AFFFF, 2, Zero, 20 }, Package () { 0x001AFFFF, 3, Zero, 21 },
                Package () { 0x001BFFFF, 0, Zero, 19 }, Package () { 0x001BFFFF, 1, Zero, 20 }, Package () { 0x001BFFFF, 2, Zero, 21 }, Package () { 0x001BFFFF, 3, Zero, 22 },
                Package () { 0x001CFFFF, 0, Zero, 20 }, Package () { 0x001CFFFF, 1, Zero, 21 }, Package () { 0x001CFFFF, 2, Zero, 22 }, Package () { 0x001CFFFF, 3, Zero, 23 },
                Package () { 0x001DFFFF, 0, Zero, 21 }, Package () { 0x001DFFFF, 1, Zero, 22 }, Package () { 0x001DFFFF, 2, Zero, 23 }, Package () { 0x001DFFFF, 3, Zero, 16 },
                Package () { 0x001EFFFF, 0, Zero, 22 }, Package () { 0x001EFFFF, 1, Zero, 23 }, Package () { 0x001EFFFF, 2, Zero, 16 }, Package () { 0x001EFFFF, 3, Zero, 17 },
                Package () { 0x001FFFFF, 0, Zero, 23 }, Package () { 0x001FFFFF, 1, Zero, 16 }, Package () { 0x001FFFFF, 2, Zero, 17 }, Package () { 0x001FFFFF, 3, Zero, 18 },
            })

            /* Ask the OS to leave nothing to firmware: no SMM here. */
            Method (_OSC, 4, NotSerialized)
            {
                CreateDWordField (Arg3, Zero, CDW1)
                If ((Arg0 == ToUUID ("33db4d5b-1ff7-401c-9657-7441c03dd766")))
                {
                    CreateDWordField (Arg3, 0x08, CDW3)
                    CDW3 &= 0x1F
                }
                Else
                {
                    CDW1 |= 0x04        /* unrecognized UUID */
                }
                Return (Arg3)
            }

            Device (LPC)
            {
                Name (_ADR, 0x001F0000)

                Device (COM1)
                {
                    Name (_HID, EisaId ("PNP0501"))
                    Name (_UID, One)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x03F8, 0x03F8, 0x00, 0x08)
                        IRQNoFlags () {4}
                    })
                }

                Device (RTC)
                {
                    Name (_HID, EisaId ("PNP0B00"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0070, 0x0070, 0x01, 0x02)
                        IRQNoFlags () {8}
                    })
                }

                Device (KBD)
                {
                    Name (_HID, EisaId ("PNP0303"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0060, 0x0060, 0x01, 0x01)
                        IO (Decode16, 0x0064, 0x0064, 0x01, 0x01)
                        IRQNoFlags () {1}
                    })
                }

                Device (MOU)
                {
                    Name (_HID, EisaId ("PNP0F13"))
                    Name (_CRS, ResourceTemplate ()
                    {
                        IRQNoFlags () {12}
                    })
                }

                /* Resources the board uses that belong to no driver. */
                Device (RES)
                {
                    Name (_HID, EisaId ("PNP0C02"))
                    Name (_UID, One)
                    Name (_CRS, ResourceTemplate ()
                    {
                        IO (Decode16, 0x0600, 0x0600, 0x01, 0x80)   /* ACPI PM */
                        IO (Decode16, 0x0510, 0x0510, 0x01, 0x0C)   /* fw_cfg and its DMA */
                        IO (Decode16, 0x0092, 0x0092, 0x01, 0x01)
                        IO (Decode16, 0x00F4, 0x00F4, 0x01, 0x04)   /* debug exit */
                    })
                }
            }
        }
    }
}
