/* ATAPI CD/DVD-ROM drive: ATA8-ACS IDENTIFY PACKET DEVICE, and the MMC-6 and
 * SPC packet commands a BIOS, Linux's sr and Windows setup send. Every CDB
 * field comes from the guest; answers are built in a fixed buffer and cut
 * to the allocation length, reads are checked against the image. */
#include "atapi.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* A disc holds at most this many sectors of a CD (80 minutes); larger
 * images are DVDs. */
#define CD_MAX_SECTORS (80u * 60 * 75)

#define PROFILE_NONE   0x0000
#define PROFILE_CDROM  0x0008
#define PROFILE_DVDROM 0x0010

enum {
    CMD_TEST_UNIT_READY = 0x00,
    CMD_REQUEST_SENSE = 0x03,
    CMD_INQUIRY = 0x12,
    CMD_MODE_SENSE_6 = 0x1a,
    CMD_START_STOP_UNIT = 0x1b,
    CMD_PREVENT_ALLOW = 0x1e,
    CMD_READ_FORMAT_CAPACITIES = 0x23,
    CMD_READ_CAPACITY = 0x25,
    CMD_READ_10 = 0x28,
    CMD_READ_TOC = 0x43,
    CMD_GET_CONFIGURATION = 0x46,
    CMD_GET_EVENT_STATUS = 0x4a,
    CMD_READ_DISC_INFO = 0x51,
    CMD_READ_TRACK_INFO = 0x52,
    CMD_MODE_SENSE_10 = 0x5a,
    CMD_READ_12 = 0xa8,
    CMD_READ_DVD_STRUCTURE = 0xad,
    CMD_READ_CD_MSF = 0xb9,
    CMD_SET_CD_SPEED = 0xbb,
    CMD_MECHANISM_STATUS = 0xbd,
    CMD_READ_CD = 0xbe,
};

/* The first physical sector of a DVD's data area (ECMA-267). */
#define DVD_DATA_START_PSN 0x30000u

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v);
}

static uint32_t get16(const uint8_t *p)
{
    return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
    return get16(p) << 16 | get16(p + 2);
}

void atapi_init(struct atapi_cd *cd, const char *serial)
{
    memset(cd, 0, sizeof(*cd));
    cd->disk.fd = -1;
    snprintf(cd->serial, sizeof(cd->serial), "%s", serial);
}

void atapi_destroy(struct atapi_cd *cd)
{
    blk_close(&cd->disk);
}

bool atapi_has_medium(const struct atapi_cd *cd)
{
    return cd->disk.fd >= 0 && !cd->tray_open;
}

int atapi_open_medium(struct blk_backend *b, const char *path, char *err, size_t errlen)
{
    int r = blk_open_raw(b, path, true, err, errlen);

    if (r < 0)
        return r;
    if (b->size < ATAPI_SECTOR) {
        snprintf(err, errlen, "CD-ROM image '%s' is smaller than one 2048-byte sector", path);
        blk_close(b);
        return -EINVAL;
    }
    return 0;
}

void atapi_insert(struct atapi_cd *cd, struct blk_backend *b)
{
    bool had = atapi_has_medium(cd);

    blk_close(&cd->disk);
    cd->disk = *b;
    b->fd = -1;
    cd->sectors = cd->disk.fd >= 0 ? cd->disk.size / ATAPI_SECTOR : 0;
    cd->tray_open = false;
    if (cd->disk.fd >= 0) {
        cd->media_event = ATAPI_EV_NEW_MEDIA;
        cd->unit_attention = true;
    } else if (had) {
        cd->media_event = ATAPI_EV_MEDIA_REMOVAL;
        cd->unit_attention = true;
    }
}

void atapi_reset(struct atapi_cd *cd)
{
    cd->locked = false;
    cd->unit_attention = false;
    cd->media_event = ATAPI_EV_NONE;
    cd->sense_key = ATAPI_SK_NO_SENSE;
    cd->asc = 0;
}

void atapi_set_sense(struct atapi_cd *cd, uint8_t key, uint16_t asc)
{
    cd->sense_key = key;
    cd->asc = asc;
}

uint8_t atapi_error_reg(const struct atapi_cd *cd)
{
    return (uint8_t)(cd->sense_key << 4 | (cd->asc == ATAPI_ASC_INVALID_OPCODE ? 0x04 : 0));
}

/* ATA strings: space padded, two characters to a word, the first in the
 * high byte. */
static void ata_string(uint8_t *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        size_t n = strlen(s);

        out[i ^ 1] = (uint8_t)(i < n ? s[i] : ' ');
    }
}

void atapi_identify(const struct atapi_cd *cd, uint8_t out[512])
{
    static const struct { unsigned word; uint16_t v; } words[] = {
        /* ATAPI, CD-ROM, removable, DRQ within 50 us, 12-byte packets */
        { 0, 0x85c0 },
        { 49, 0x0300 },     /* LBA and DMA */
        { 53, 0x0006 },     /* words 64-70 and 88 are valid */
        { 63, 0x0007 },     /* multiword DMA 0-2 */
        { 64, 0x0003 },     /* PIO 3 and 4 */
        { 65, 0x00b4 }, { 66, 0x00b4 }, { 67, 0x012c }, { 68, 0x00b4 },
        { 76, 0x0002 },     /* SATA 1.5 Gb/s */
        { 80, 0x01f0 },     /* ATA/ATAPI-4 to ATA8-ACS */
        { 82, 0x0210 },     /* PACKET and DEVICE RESET */
        { 83, 0x4000 }, { 84, 0x4000 },
        { 85, 0x0210 },
        { 86, 0x0000 }, { 87, 0x4000 },
        { 88, 0x203f },     /* UDMA 0-5, 5 selected */
    };

    memset(out, 0, 512);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        out[2 * words[i].word] = (uint8_t)words[i].v;
        out[2 * words[i].word + 1] = (uint8_t)(words[i].v >> 8);
    }
    ata_string(out + 2 * 10, cd->serial, 20);
    ata_string(out + 2 * 23, "1.0", 8);
    ata_string(out + 2 * 27, "NOOK DVD-ROM", 40);
}

static bool check(struct atapi_cd *cd, uint8_t key, uint16_t asc)
{
    atapi_set_sense(cd, key, asc);
    return false;
}

static bool no_medium(struct atapi_cd *cd)
{
    return check(cd, ATAPI_SK_NOT_READY, cd->tray_open ? ATAPI_ASC_NO_MEDIUM_TRAY_OPEN : ATAPI_ASC_NO_MEDIUM);
}

static bool is_dvd(const struct atapi_cd *cd)
{
    return cd->sectors > CD_MAX_SECTORS;
}

static uint16_t current_profile(const struct atapi_cd *cd)
{
    if (!atapi_has_medium(cd))
        return PROFILE_NONE;
    return is_dvd(cd) ? PROFILE_DVDROM : PROFILE_CDROM;
}

/* The answer is len bytes; the host takes at most alloc of them. */
static bool reply(struct atapi_xfer *x, size_t len, uint32_t alloc)
{
    x->len = len < alloc ? len : alloc;
    return true;
}

static void lba_to_msf(uint8_t *p, uint32_t lba)
{
    uint32_t f = lba + 150;

    p[0] = 0;
    p[1] = (uint8_t)(f / (75 * 60));
    p[2] = (uint8_t)(f / 75 % 60);
    p[3] = (uint8_t)(f % 75);
}

static void put_addr(uint8_t *p, uint32_t lba, bool msf)
{
    if (msf)
        lba_to_msf(p, lba);
    else
        put32(p, lba);
}

static bool read_toc(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    bool msf = cdb[1] & 2;
    unsigned format = cdb[2] & 0xf, track = cdb[6];
    uint32_t leadout = cd->sectors > 0xffffffffu ? 0xffffffffu : (uint32_t)cd->sectors;
    size_t n = 4;

    if (!atapi_has_medium(cd))
        return no_medium(cd);
    /* Old drives took the format from the top bits of the control byte. */
    if (format == 0 && (cdb[9] >> 6))
        format = cdb[9] >> 6;
    memset(buf, 0, 64);
    buf[2] = 1;
    buf[3] = 1;
    switch (format) {
    case 0:
        if (track > 1 && track != 0xaa)
            return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
        if (track <= 1) {
            buf[n + 1] = 0x14;  /* ADR 1, data track */
            buf[n + 2] = 1;
            put_addr(buf + n + 4, 0, msf);
            n += 8;
        }
        buf[n + 1] = 0x14;
        buf[n + 2] = 0xaa;
        put_addr(buf + n + 4, leadout, msf);
        n += 8;
        break;
    case 1:     /* the first track of the last (only) session */
        buf[n + 1] = 0x14;
        buf[n + 2] = 1;
        put_addr(buf + n + 4, 0, msf);
        n += 8;
        break;
    case 2: {   /* raw TOC: A0 first track, A1 last track, A2 lead-out, track 1 */
        static const uint8_t points[] = { 0xa0, 0xa1, 0xa2, 0x01 };

        for (unsigned i = 0; i < sizeof(points); i++) {
            uint8_t *d = buf + n;

            d[0] = 1;
            d[1] = 0x14;
            d[3] = points[i];
            if (points[i] == 0xa0 || points[i] == 0xa1) {
                d[8] = 1;
            } else {
                uint8_t m[4];

                lba_to_msf(m, points[i] == 0xa2 ? leadout : 0);
                d[8] = m[1];
                d[9] = m[2];
                d[10] = m[3];
            }
            n += 11;
        }
        break;
    }
    default:
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    }
    put16(buf, (uint32_t)n - 2);
    return reply(x, n, get16(cdb + 7));
}

/* One feature descriptor: code, version, whether it is current, and its
 * additional bytes. */
static size_t feature(uint8_t *p, uint16_t code, unsigned version, bool persistent, bool current,
                      const uint8_t *data, uint8_t len)
{
    put16(p, code);
    p[2] = (uint8_t)(version << 2 | (persistent ? 2 : 0) | (current ? 1 : 0));
    p[3] = len;
    memcpy(p + 4, data, len);
    return 4u + len;
}

static bool get_configuration(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    unsigned rt = cdb[1] & 3, start = get16(cdb + 2);
    uint16_t profile = current_profile(cd);
    bool medium = atapi_has_medium(cd), dvd = medium && is_dvd(cd), cdrom = medium && !dvd;
    uint8_t d[16], one[64];
    size_t n = 8;

    if (rt == 3)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, 8);
    for (unsigned code = 0; code <= 0x1f; code++) {
        size_t len = 0;
        bool current = true;

        memset(d, 0, sizeof(d));
        switch (code) {
        case 0x0000:    /* profile list, the current one flagged */
            put16(d, PROFILE_DVDROM);
            d[2] = dvd;
            put16(d + 4, PROFILE_CDROM);
            d[6] = cdrom;
            len = feature(one, code, 0, true, true, d, 8);
            break;
        case 0x0001:    /* core: ATAPI */
            put32(d, 2);
            len = feature(one, code, 2, true, true, d, 8);
            break;
        case 0x0002:    /* morphing: polled media events */
            d[0] = 0x02;
            len = feature(one, code, 1, true, true, d, 4);
            break;
        case 0x0003:    /* removable medium: tray, can eject, lockable */
            d[0] = 0x29;
            len = feature(one, code, 1, true, true, d, 4);
            break;
        case 0x0010:    /* random readable */
            current = medium;
            put32(d, ATAPI_SECTOR);
            put16(d + 4, dvd ? 16 : 1);
            len = feature(one, code, 0, false, current, d, 8);
            break;
        case 0x001e:    /* CD read */
            current = cdrom;
            len = feature(one, code, 2, false, current, d, 4);
            break;
        case 0x001f:    /* DVD read */
            current = dvd;
            len = feature(one, code, 1, false, current, d, 4);
            break;
        default:
            continue;
        }
        if (code < start || (rt == 1 && !current) || (rt == 2 && code != start))
            continue;
        if (n + len > ATAPI_BUF_LEN)
            break;
        memcpy(buf + n, one, len);
        n += len;
    }
    put32(buf, (uint32_t)n - 4);
    put16(buf + 6, profile);
    return reply(x, n, get16(cdb + 7));
}

static bool event_status(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    uint8_t request = cdb[4];
    size_t n = 4;

    /* Only polled operation; asynchronous notification is not offered. */
    if (!(cdb[1] & 1))
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, 8);
    buf[3] = 0x10;      /* supported: media class */
    if (request & 0x10) {
        buf[2] = 4;
        buf[4] = cd->media_event;
        buf[5] = (atapi_has_medium(cd) ? 2 : 0) | (cd->tray_open ? 1 : 0);
        cd->media_event = ATAPI_EV_NONE;
        n = 8;
    } else {
        buf[2] = 0x80;  /* no event available of the classes asked for */
    }
    put16(buf, (uint32_t)n - 2);
    return reply(x, n, get16(cdb + 7));
}

static size_t capabilities_page(const struct atapi_cd *cd, uint8_t *p, bool changeable)
{
    memset(p, 0, 22);
    p[0] = 0x2a;
    p[1] = 20;
    if (changeable)
        return 22;
    p[2] = 0x0b;        /* reads CD-R, CD-RW, DVD-ROM */
    p[4] = 0x70;        /* mode 2 form 1 and 2, multi-session */
    p[6] = (uint8_t)(0x29 | (cd->locked ? 0x02 : 0));   /* tray, eject, lock */
    put16(p + 8, 706 * 8);      /* maximum read speed, kB/s (obsolete) */
    put16(p + 10, 0);
    put16(p + 12, 512);         /* buffer, KiB */
    put16(p + 14, 706 * 8);     /* current read speed (obsolete) */
    return 22;
}

/* MODE SENSE(6) and (10): the same pages after a 4- or 8-byte header. */
static bool mode_sense(struct atapi_cd *cd, const uint8_t *cdb, bool ten, uint8_t *buf, struct atapi_xfer *x)
{
    unsigned page = cdb[2] & 0x3f, pc = cdb[2] >> 6;
    uint8_t medium = atapi_has_medium(cd) ? 0x01 : 0x70;   /* 120 mm data disc, or no disc */
    size_t n = ten ? 8 : 4;

    if (pc == 3)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_SAVING_NOT_SUPPORTED);
    if (page != 0x01 && page != 0x2a && page != 0x3f)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, 64);
    if (page == 0x01 || page == 0x3f) {
        /* read error recovery: defaults, nothing changeable */
        buf[n] = 0x01;
        buf[n + 1] = 6;
        n += 8;
    }
    if (page == 0x2a || page == 0x3f)
        n += capabilities_page(cd, buf + n, pc == 1);
    if (!ten) {
        buf[0] = (uint8_t)(n - 1);
        buf[1] = medium;
        return reply(x, n, cdb[4]);
    }
    put16(buf, (uint32_t)n - 2);
    buf[2] = medium;
    return reply(x, n, get16(cdb + 7));
}

static bool inquiry(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    /* No vital product data pages. */
    if (cdb[1] & 1 || cdb[2])
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, 36);
    buf[0] = 0x05;      /* CD/DVD device */
    buf[1] = 0x80;      /* removable */
    buf[2] = 0x05;      /* SPC-3 */
    buf[3] = 0x02;      /* response data format 2 */
    buf[4] = 36 - 5;
    memcpy(buf + 8, "NOOK    ", 8);
    memcpy(buf + 16, "DVD-ROM         ", 16);
    memcpy(buf + 32, "1.0 ", 4);
    return reply(x, 36, get16(cdb + 3));
}

static bool read_sectors(struct atapi_cd *cd, uint64_t lba, uint64_t count, struct atapi_xfer *x)
{
    if (!atapi_has_medium(cd))
        return no_medium(cd);
    if (lba > cd->sectors || count > cd->sectors - lba)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_LBA_OUT_OF_RANGE);
    x->from_image = true;
    x->image_off = lba * ATAPI_SECTOR;
    x->image_len = count * ATAPI_SECTOR;
    return true;
}

/* The disc's size in sectors as a 32-bit field holds it. */
static uint32_t sectors32(const struct atapi_cd *cd)
{
    return cd->sectors > 0xffffffffu ? 0xffffffffu : (uint32_t)cd->sectors;
}

/* READ CD and READ CD MSF: an ISO image holds only the 2048 bytes of user
 * data of Mode 1 sectors, so only those can be asked for; no sync, header,
 * EDC/ECC, C2 or subchannel bytes. */
static bool read_cd(struct atapi_cd *cd, const uint8_t *cdb, uint64_t lba, uint64_t count, struct atapi_xfer *x)
{
    unsigned type = cdb[1] >> 2 & 7;
    unsigned fields = cdb[9] & 0xfe;

    if (type > 5 || (fields != 0x00 && fields != 0x10) || (cdb[10] & 7))
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    if (!atapi_has_medium(cd))
        return no_medium(cd);
    /* Any sector (0) or Mode 1 (2): CD-DA and Mode 2 do not match the disc. */
    if (type != 0 && type != 2)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_ILLEGAL_MODE);
    if (!read_sectors(cd, lba, count, x))
        return false;
    /* With no field selected the command moves nothing. */
    if (!fields)
        memset(x, 0, sizeof(*x));
    return true;
}

/* An MSF address to an LBA; false if seconds or frames are out of range. */
static bool msf_to_lba(const uint8_t *p, int64_t *lba)
{
    if (p[1] >= 60 || p[2] >= 75)
        return false;
    *lba = ((int64_t)p[0] * 60 + p[1]) * 75 + p[2] - 150;
    return true;
}

static bool read_cd_msf(struct atapi_cd *cd, const uint8_t *cdb, struct atapi_xfer *x)
{
    int64_t start, end;

    if (!msf_to_lba(cdb + 3, &start) || !msf_to_lba(cdb + 6, &end) || start > end)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    /* The pregap before 00:02:00 is not in the image. */
    if (start < 0)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_LBA_OUT_OF_RANGE);
    return read_cd(cd, cdb, (uint64_t)start, (uint64_t)(end - start), x);
}

/* READ DVD STRUCTURE for a pressed single-layer DVD-ROM. */
static bool read_dvd_structure(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    /* Structures this drive returns, with each one's length with header. */
    static const struct { uint8_t format; uint16_t len; } list[] = {
        { 0x00, 4 + 2048 },     /* physical format information */
        { 0x01, 4 + 4 },        /* copyright information */
        { 0x04, 4 + 2048 },     /* disc manufacturing information */
    };
    unsigned format = cdb[7];
    size_t n = 4;

    /* Media type 0 is DVD; Blu-ray structures are not offered. */
    if (cdb[1] & 0xf)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    if (!atapi_has_medium(cd))
        return no_medium(cd);
    if (format == 0xff) {
        memset(buf, 0, 4 + 4 * sizeof(list) / sizeof(list[0]));
        for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); i++, n += 4) {
            buf[n] = list[i].format;
            buf[n + 1] = 0x40;      /* readable, not writable */
            put16(buf + n + 2, list[i].len);
        }
        put16(buf, (uint32_t)n - 2);
        return reply(x, n, get16(cdb + 8));
    }
    if (format != 0x00 && format != 0x01 && format != 0x04)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    if (!is_dvd(cd))
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INCOMPATIBLE_FORMAT);
    if (cdb[6])     /* layer: there is only layer 0 */
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, ATAPI_BUF_LEN);
    switch (format) {
    case 0x00: {
        uint64_t end = DVD_DATA_START_PSN + cd->sectors - 1;

        buf[4] = 0x01;      /* DVD-ROM book, part version 1 */
        buf[5] = 0x0f;      /* 120 mm, maximum rate not specified */
        buf[6] = 0x01;      /* one layer, parallel track path, embossed */
        put32(buf + 8, DVD_DATA_START_PSN);
        put32(buf + 12, end > 0xffffff ? 0xffffff : (uint32_t)end);
        n += 2048;
        break;
    }
    case 0x01:              /* no copy protection, every region */
        n += 4;
        break;
    case 0x04:              /* no manufacturing information */
        n += 2048;
        break;
    }
    put16(buf, (uint32_t)n - 2);
    return reply(x, n, get16(cdb + 8));
}

/* READ TRACK INFORMATION for the one complete data track of the one
 * session. The lead-in (track 0) and an invisible track (0xff) exist only
 * on CDs being read raw and on open discs, so they are not offered. */
static bool read_track_info(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    unsigned type = cdb[1] & 3;
    uint32_t addr = get32(cdb + 2);

    if (type == 3)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    if (!atapi_has_medium(cd))
        return no_medium(cd);
    if (type == 0 && addr >= cd->sectors)
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_LBA_OUT_OF_RANGE);
    if (type != 0 && addr != 1)     /* track 1, or session 1 */
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
    memset(buf, 0, 48);
    put16(buf, 46);
    buf[2] = 1;         /* track */
    buf[3] = 1;         /* session */
    buf[5] = 0x04;      /* data track, recorded uninterrupted */
    buf[6] = 0x01;      /* complete: not reserved, not blank; data mode 1 */
    put32(buf + 8, 0);  /* track start */
    put32(buf + 24, sectors32(cd));
    return reply(x, 48, get16(cdb + 7));
}

static bool read_format_capacities(struct atapi_cd *cd, const uint8_t *cdb, uint8_t *buf, struct atapi_xfer *x)
{
    bool medium = atapi_has_medium(cd);

    memset(buf, 0, 12);
    buf[3] = 8;         /* one capacity descriptor, nothing to format */
    put32(buf + 4, medium ? sectors32(cd) : 0);
    buf[8] = medium ? 0x02 : 0x03;      /* formatted medium, or none */
    put16(buf + 10, ATAPI_SECTOR);
    return reply(x, 12, get16(cdb + 7));
}

/* Commands that do not stop at a pending unit attention (SPC-4 5.14,
 * MMC-6 for GET EVENT STATUS NOTIFICATION and GET CONFIGURATION). */
static bool passes_unit_attention(uint8_t op)
{
    return op == CMD_INQUIRY || op == CMD_REQUEST_SENSE || op == CMD_GET_EVENT_STATUS ||
           op == CMD_GET_CONFIGURATION;
}

bool atapi_packet(struct atapi_cd *cd, const uint8_t cdb[ATAPI_CDB_LEN], uint8_t *buf, struct atapi_xfer *x)
{
    uint8_t op = cdb[0];

    memset(x, 0, sizeof(*x));
    if (op != CMD_REQUEST_SENSE)
        atapi_set_sense(cd, ATAPI_SK_NO_SENSE, 0);
    if (cd->unit_attention && !passes_unit_attention(op)) {
        cd->unit_attention = false;
        return check(cd, ATAPI_SK_UNIT_ATTENTION, ATAPI_ASC_MEDIUM_CHANGED);
    }

    switch (op) {
    case CMD_TEST_UNIT_READY:
        return atapi_has_medium(cd) ? true : no_medium(cd);
    case CMD_REQUEST_SENSE:
        memset(buf, 0, 18);
        buf[0] = 0x70;
        buf[2] = cd->sense_key;
        buf[7] = 10;
        buf[12] = (uint8_t)(cd->asc >> 8);
        buf[13] = (uint8_t)cd->asc;
        /* A pending unit attention is what a driver asking for sense
         * learns first. */
        if (cd->unit_attention && cd->sense_key == ATAPI_SK_NO_SENSE) {
            buf[2] = ATAPI_SK_UNIT_ATTENTION;
            buf[12] = ATAPI_ASC_MEDIUM_CHANGED >> 8;
            cd->unit_attention = false;
        }
        atapi_set_sense(cd, ATAPI_SK_NO_SENSE, 0);
        return reply(x, 18, cdb[4]);
    case CMD_INQUIRY:
        return inquiry(cd, cdb, buf, x);
    case CMD_START_STOP_UNIT:
        if (cdb[4] & 2) {
            bool load = cdb[4] & 1;

            if (!load && cd->locked)
                return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_REMOVAL_PREVENTED);
            if (!load && !cd->tray_open && cd->disk.fd >= 0)
                cd->media_event = ATAPI_EV_MEDIA_REMOVAL;
            if (load && cd->tray_open && cd->disk.fd >= 0)
                cd->media_event = ATAPI_EV_NEW_MEDIA;
            cd->tray_open = !load;
        }
        return true;
    case CMD_PREVENT_ALLOW:
        cd->locked = cdb[4] & 1;
        return true;
    case CMD_READ_CAPACITY:
        if (!atapi_has_medium(cd))
            return no_medium(cd);
        put32(buf, cd->sectors > 0xffffffffu ? 0xffffffffu : (uint32_t)(cd->sectors - 1));
        put32(buf + 4, ATAPI_SECTOR);
        return reply(x, 8, 8);
    case CMD_READ_10:
        return read_sectors(cd, get32(cdb + 2), get16(cdb + 7), x);
    case CMD_READ_12:
        return read_sectors(cd, get32(cdb + 2), get32(cdb + 6), x);
    case CMD_READ_TOC:
        return read_toc(cd, cdb, buf, x);
    case CMD_GET_CONFIGURATION:
        return get_configuration(cd, cdb, buf, x);
    case CMD_GET_EVENT_STATUS:
        return event_status(cd, cdb, buf, x);
    case CMD_READ_DISC_INFO:
        if (cdb[1] & 7)
            return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_FIELD);
        if (!atapi_has_medium(cd))
            return no_medium(cd);
        memset(buf, 0, 34);
        put16(buf, 32);
        buf[2] = 0x0e;      /* complete disc, complete last session */
        buf[3] = 1;         /* first track */
        buf[4] = 1;         /* sessions */
        buf[5] = 1;         /* first and last track of the last session */
        buf[6] = 1;
        memset(buf + 16, 0xff, 8);  /* no next session: lead-in and lead-out unused */
        return reply(x, 34, get16(cdb + 7));
    case CMD_READ_TRACK_INFO:
        return read_track_info(cd, cdb, buf, x);
    case CMD_READ_FORMAT_CAPACITIES:
        return read_format_capacities(cd, cdb, buf, x);
    case CMD_MODE_SENSE_6:
        return mode_sense(cd, cdb, false, buf, x);
    case CMD_MODE_SENSE_10:
        return mode_sense(cd, cdb, true, buf, x);
    case CMD_READ_CD:
        return read_cd(cd, cdb, get32(cdb + 2), (uint32_t)cdb[6] << 16 | get16(cdb + 7), x);
    case CMD_READ_CD_MSF:
        return read_cd_msf(cd, cdb, x);
    case CMD_READ_DVD_STRUCTURE:
        return read_dvd_structure(cd, cdb, buf, x);
    case CMD_SET_CD_SPEED:
        return true;
    case CMD_MECHANISM_STATUS:
        memset(buf, 0, 8);
        buf[1] = cd->tray_open ? 0x10 : 0;
        return reply(x, 8, get16(cdb + 8));
    default:
        return check(cd, ATAPI_SK_ILLEGAL_REQUEST, ATAPI_ASC_INVALID_OPCODE);
    }
}
