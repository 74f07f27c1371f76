/* An ATAPI CD/DVD-ROM drive: IDENTIFY PACKET DEVICE and the MMC/SPC packet
 * commands firmware, Linux's sr and Windows setup use, over a read-only
 * image of 2048-byte sectors. The transport (AHCI) moves the data. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../block/raw.h"

#define ATAPI_SECTOR 2048
#define ATAPI_CDB_LEN 12
/* Large enough for every answer that is not sector data: the largest is a
 * 2048-byte DVD structure after its 4-byte header. */
#define ATAPI_BUF_LEN (4 + ATAPI_SECTOR)

/* Sense keys (SPC-4 4.5.6). */
#define ATAPI_SK_NO_SENSE        0x0
#define ATAPI_SK_NOT_READY       0x2
#define ATAPI_SK_MEDIUM_ERROR    0x3
#define ATAPI_SK_ILLEGAL_REQUEST 0x5
#define ATAPI_SK_UNIT_ATTENTION  0x6

/* Additional sense codes (ASC << 8 | ASCQ). */
#define ATAPI_ASC_INVALID_OPCODE       0x2000
#define ATAPI_ASC_LBA_OUT_OF_RANGE     0x2100
#define ATAPI_ASC_INVALID_FIELD        0x2400
#define ATAPI_ASC_MEDIUM_CHANGED       0x2800
#define ATAPI_ASC_SAVING_NOT_SUPPORTED 0x3900
#define ATAPI_ASC_NO_MEDIUM            0x3a01
#define ATAPI_ASC_NO_MEDIUM_TRAY_OPEN  0x3a02
#define ATAPI_ASC_REMOVAL_PREVENTED    0x5302
#define ATAPI_ASC_READ_ERROR           0x1100
#define ATAPI_ASC_INCOMPATIBLE_FORMAT  0x3002
#define ATAPI_ASC_ILLEGAL_MODE         0x6400

/* GET EVENT STATUS NOTIFICATION media event codes (MMC-6 6.6.2.6). */
#define ATAPI_EV_NONE          0
#define ATAPI_EV_NEW_MEDIA     2
#define ATAPI_EV_MEDIA_REMOVAL 3

struct atapi_cd {
    struct blk_backend disk;    /* owned; fd -1 when the drive is empty */
    uint64_t sectors;           /* whole 2048-byte sectors of the image */
    bool tray_open;
    bool locked;                /* PREVENT ALLOW MEDIUM REMOVAL */
    bool unit_attention;        /* the medium changed since the last command */
    uint8_t media_event;        /* the next GET EVENT STATUS media event */
    uint8_t sense_key;
    uint16_t asc;               /* ASC << 8 | ASCQ */
    char serial[21];
};

/* What a packet command asks the transport to move to the host: len bytes
 * of buf, or sectors of the image from byte offset image_off. */
struct atapi_xfer {
    size_t len;
    bool from_image;
    uint64_t image_off;
    uint64_t image_len;
};

/* An empty drive (no medium, tray closed). */
void atapi_init(struct atapi_cd *cd, const char *serial);
void atapi_destroy(struct atapi_cd *cd);
/* Opens the image at path read-only as a disc: 0, or -errno with a reason
 * in err. Needs no lock: it touches no drive. */
int atapi_open_medium(struct blk_backend *b, const char *path, char *err, size_t errlen);
/* Puts the disc b (taken over; fd -1 for none) in the drive in place of the
 * current one, which is closed; the guest sees a media change. */
void atapi_insert(struct atapi_cd *cd, struct blk_backend *b);
bool atapi_has_medium(const struct atapi_cd *cd);
/* Power-on or device reset: sense, lock and pending events go. */
void atapi_reset(struct atapi_cd *cd);

/* Fills the 256 words of IDENTIFY PACKET DEVICE, little-endian. */
void atapi_identify(const struct atapi_cd *cd, uint8_t out[512]);

/* Runs one packet command. true: GOOD status, and x says what to send from
 * buf (ATAPI_BUF_LEN bytes) or the image; false: CHECK CONDITION, with the
 * sense kept for REQUEST SENSE and atapi_error_reg giving the error
 * register. */
bool atapi_packet(struct atapi_cd *cd, const uint8_t cdb[ATAPI_CDB_LEN], uint8_t *buf, struct atapi_xfer *x);
/* Records a failure the transport found (an unreadable image). */
void atapi_set_sense(struct atapi_cd *cd, uint8_t key, uint16_t asc);
/* The ATA error register after CHECK CONDITION: sense key in the high
 * nibble, ABRT for an unknown command. */
uint8_t atapi_error_reg(const struct atapi_cd *cd);
