/* Intel ICH9 AHCI controller (8086:2922, AHCI 1.3.1) whose ports hold ATAPI
 * CD/DVD-ROM drives. The registers are in BAR 5 (ABAR); interrupts are MSI
 * or INTA. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/gmem.h"
#include "../core/irq.h"
#include "../core/log.h"
#include "../pci/msix.h"
#include "../pci/pci.h"
#include "atapi.h"

#define AHCI_PORTS 6
#define AHCI_ABAR_SIZE 0x1000
#define AHCI_ABAR_BAR 5

struct ahci_port {
    uint32_t clb, clbu, fb, fbu;
    uint32_t is, ie, cmd, tfd, sig, ssts, sctl, serr, sact, ci;
    bool srst;                  /* a control FIS asserted SRST */
    bool failed;                /* the last command ended in an error */
    struct atapi_cd *cd;        /* owned; NULL: nothing attached */
};

struct ahci {
    pthread_mutex_t lock;       /* everything below; taken inside the PCI host lock */
    struct pci_dev pci;
    const struct gmem *mem;     /* borrowed */
    struct msi_sink msi;
    struct irq_line intx;
    uint32_t ghc;
    struct ahci_port port[AHCI_PORTS];

    /* PCI command and MSI state, copied when the guest writes config. */
    bool bus_master, intx_disabled, msi_enabled;
    uint64_t msi_addr;
    uint32_t msi_data;
    int intx_level;

    bool warned_bad_addr, warned_no_bus_master;
    uint8_t scratch[ATAPI_BUF_LEN];
    struct iovec *iov;          /* owned: AHCI_MAX_IOV entries */
};

struct ahci *ahci_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx);
void ahci_free(struct ahci *a);
/* Puts an empty CD-ROM drive on port p; 0 or -errno. */
int ahci_attach_cdrom(struct ahci *a, unsigned p, const char *serial);
/* Inserts the image at path in the drive on port p, or ejects for NULL;
 * the guest sees a media change. Refused (-EBUSY) while the guest locks
 * the tray unless force. 0 or -errno with a reason in err. */
int ahci_change_cdrom(struct ahci *a, unsigned p, const char *path, bool force, char *err, size_t errlen);
/* Whether the drive on port p holds a disc with its tray closed: a guest
 * can open the tray itself. */
bool ahci_cdrom_loaded(struct ahci *a, unsigned p);
/* Power-on state of the controller and its drives (media stay). */
void ahci_reset(struct ahci *a);

extern const struct bus_ops ahci_abar_ops;
