/* MSI-X: vector table, pending bit array, per-vector and function masks. */
#include "msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CTRL_ENABLE 0x8000
#define CTRL_FMASK  0x4000
#define ENTRY_MASKED 0x1

static uint16_t control(const struct msix *m)
{
    return (uint16_t)(m->dev->cfg[m->cap + 2] | m->dev->cfg[m->cap + 3] << 8);
}

int msix_init(struct msix *m, struct pci_dev *dev, unsigned nvec, uint8_t cap, unsigned bar,
              uint32_t table_off, uint32_t pba_off, struct msi_sink sink)
{
    /* Checked before touching *m, which may hold a live table. */
    if (nvec == 0 || nvec > MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS || (table_off & 7) ||
        (pba_off & 7) || cap < 0x40 || cap > 0x100 - MSIX_CAP_LEN)
        return -EINVAL;
    memset(m, 0, sizeof(*m));
    m->table = calloc(nvec, 16);
    if (!m->table)
        return -ENOMEM;
    pthread_mutex_init(&m->lock, NULL);
    m->dev = dev;
    m->nvec = nvec;
    m->cap = cap;
    m->sink = sink;
    dev->cfg[cap] = 0x11;               /* MSI-X */
    dev->cfg[cap + 1] = 0;
    pci_set16(&dev->cfg[cap + 2], (uint16_t)(nvec - 1));
    pci_set16(&dev->wmask[cap + 2], CTRL_ENABLE | CTRL_FMASK);
    pci_set32(&dev->cfg[cap + 4], table_off | bar);
    pci_set32(&dev->cfg[cap + 8], pba_off | bar);
    dev->cfg[PCI_STATUS] |= 0x10;       /* capability list */
    msix_reset(m);
    return 0;
}

void msix_destroy(struct msix *m)
{
    if (!m->table)
        return;
    free(m->table);
    m->table = NULL;
    pthread_mutex_destroy(&m->lock);
}

void msix_reset(struct msix *m)
{
    pthread_mutex_lock(&m->lock);
    memset(m->table, 0, m->nvec * 16u);
    for (unsigned i = 0; i < m->nvec; i++)
        m->table[16 * i + 12] = ENTRY_MASKED;
    memset(m->pba, 0, sizeof(m->pba));
    m->dev->cfg[m->cap + 3] &= (uint8_t)~((CTRL_ENABLE | CTRL_FMASK) >> 8);
    pthread_mutex_unlock(&m->lock);
}

bool msix_enabled(struct msix *m)
{
    return control(m) & CTRL_ENABLE;
}

static bool deliverable(const struct msix *m, unsigned vec)
{
    uint16_t c = control(m);

    return (c & CTRL_ENABLE) && !(c & CTRL_FMASK) && !(m->table[16 * vec + 12] & ENTRY_MASKED);
}

/* Called with the lock held. */
static void deliver(struct msix *m, unsigned vec)
{
    const uint8_t *e = &m->table[16 * vec];
    uint64_t addr = pci_get32(e) | (uint64_t)pci_get32(e + 4) << 32;

    if (m->sink.signal)
        m->sink.signal(m->sink.opaque, vec, addr, pci_get32(e + 8));
}

static void deliver_pending(struct msix *m)
{
    for (unsigned v = 0; v < m->nvec; v++) {
        if ((m->pba[v / 64] >> (v % 64) & 1) && deliverable(m, v)) {
            m->pba[v / 64] &= ~(1ull << (v % 64));
            deliver(m, v);
        }
    }
}

void msix_notify(struct msix *m, unsigned vec)
{
    if (vec >= m->nvec)
        return;     /* a vector the driver never set up, e.g. VIRTIO_MSI_NO_VECTOR */
    pthread_mutex_lock(&m->lock);
    if (deliverable(m, vec))
        deliver(m, vec);
    else if (control(m) & CTRL_ENABLE)
        m->pba[vec / 64] |= 1ull << (vec % 64);
    pthread_mutex_unlock(&m->lock);
}

void msix_table_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size)
{
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < size; i++)
        data[i] = off + i < m->nvec * 16ull ? m->table[off + i] : 0;
    pthread_mutex_unlock(&m->lock);
}

void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned size)
{
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < size; i++) {
        uint64_t o = off + i;

        if (o >= m->nvec * 16ull)
            break;
        /* Only the mask bit of vector control is writable. */
        if (o % 16 == 12)
            m->table[o] = data[i] & ENTRY_MASKED;
        else if (o % 16 < 12)
            m->table[o] = data[i];
    }
    deliver_pending(m);
    pthread_mutex_unlock(&m->lock);
}

void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size)
{
    pthread_mutex_lock(&m->lock);
    for (unsigned i = 0; i < size; i++) {
        uint64_t o = off + i;

        data[i] = o < (m->nvec + 7) / 8 ? (uint8_t)(m->pba[o / 8] >> (8 * (o % 8))) : 0;
    }
    pthread_mutex_unlock(&m->lock);
}

void msix_config_written(struct msix *m, unsigned off, unsigned size)
{
    if (off >= m->cap + 4u || off + size <= m->cap + 2u)
        return;
    pthread_mutex_lock(&m->lock);
    if (!(control(m) & CTRL_ENABLE))
        memset(m->pba, 0, sizeof(m->pba));
    deliver_pending(m);
    pthread_mutex_unlock(&m->lock);
}
