/* i8042: the PS/2 controller, its keyboard and its mouse, including the
 * output-port reset line that PC guests use to reboot. */
#include "i8042.h"

#include "../core/keymap.h"

#include <string.h>

#define ST_OBF      0x01
#define ST_IBF      0x02
#define ST_SYS      0x04
#define ST_CMD      0x08
#define ST_UNLOCKED 0x10
#define ST_AUX_OBF  0x20

#define CCB_KBD_INT  0x01
#define CCB_AUX_INT  0x02
#define CCB_SYS      0x04
#define CCB_KBD_DIS  0x10
#define CCB_AUX_DIS  0x20
#define CCB_XLATE    0x40

#define ACK 0xfa

static void q_push(struct ps2_queue *q, uint8_t v)
{
    if (q->count == I8042_QUEUE)
        return;     /* a real device drops input it cannot buffer */
    q->data[(q->head + q->count) % I8042_QUEUE] = v;
    q->count++;
}

static unsigned q_room(const struct ps2_queue *q)
{
    return I8042_QUEUE - q->count;
}

static uint8_t q_pop(struct ps2_queue *q)
{
    uint8_t v = q->data[q->head];

    q->head = (q->head + 1) % I8042_QUEUE;
    q->count--;
    return v;
}

static void q_clear(struct ps2_queue *q)
{
    q->head = q->count = 0;
}

/* Set 2 to set 1 translation of the make code; break prefixes are folded
 * by the caller. Bytes it cannot translate pass unchanged. */
static uint8_t translate(uint8_t code)
{
    uint8_t v = keymap_set2_to_set1(code);

    /* 00, a set 2 overrun, is set 1's overrun ff. */
    return v == 0xff && code != 0 ? code : v;
}

/* Moves the next queued byte into the output buffer and sets the IRQs. */
static void update(struct i8042 *k)
{
    int kbd = 0, aux = 0;

    if (!(k->status & ST_OBF)) {
        if (k->kbd_q.count && !(k->ccb & CCB_KBD_DIS)) {
            k->out = q_pop(&k->kbd_q);
            k->out_aux = false;
            k->status = (uint8_t)((k->status | ST_OBF) & ~ST_AUX_OBF);
        } else if (k->aux_q.count && !(k->ccb & CCB_AUX_DIS)) {
            k->out = q_pop(&k->aux_q);
            k->out_aux = true;
            k->status |= ST_OBF | ST_AUX_OBF;
        }
    }
    if (k->status & ST_OBF) {
        if (k->out_aux)
            aux = !!(k->ccb & CCB_AUX_INT);
        else
            kbd = !!(k->ccb & CCB_KBD_INT);
    }
    irq_set(&k->kbd_irq, kbd);
    irq_set(&k->aux_irq, aux);
}

/* Replies from the controller itself go to the front of the output. */
static void reply(struct i8042 *k, uint8_t v, bool aux)
{
    k->out = v;
    k->out_aux = aux;
    k->status |= ST_OBF;
    if (aux)
        k->status |= ST_AUX_OBF;
    else
        k->status &= (uint8_t)~ST_AUX_OBF;
}

static void kbd_reset_dev(struct i8042 *k)
{
    k->kbd_enabled = true;
    k->kbd_set = 2;
    k->kbd_cmd = 0;
    k->kbd_leds = 0;
}

static void aux_reset_dev(struct i8042 *k)
{
    k->aux_enabled = false;
    k->aux_remote = false;
    k->aux_wrap = false;
    k->aux_rate = 100;
    k->aux_res = 2;
    k->aux_scaling = 1;
    k->aux_cmd = 0;
    k->aux_id = 0;
    memset(k->aux_rates, 0, sizeof(k->aux_rates));
}

void i8042_reset(struct i8042 *k)
{
    pthread_mutex_lock(&k->lock);
    k->status = ST_UNLOCKED;
    k->ccb = CCB_KBD_INT | CCB_AUX_INT | CCB_XLATE;
    k->outport = 0x03;  /* not in reset, A20 on */
    k->pending_cmd = 0;
    q_clear(&k->kbd_q);
    q_clear(&k->aux_q);
    kbd_reset_dev(k);
    aux_reset_dev(k);
    k->aux_buttons = 0;
    update(k);
    pthread_mutex_unlock(&k->lock);
}

void i8042_init(struct i8042 *k, struct irq_line kbd, struct irq_line aux, struct power power)
{
    memset(k, 0, sizeof(*k));
    pthread_mutex_init(&k->lock, NULL);
    k->kbd_irq = kbd;
    k->aux_irq = aux;
    k->power = power;
    i8042_reset(k);
}

static void kbd_write(struct i8042 *k, uint8_t v)
{
    struct ps2_queue *q = &k->kbd_q;

    if (k->kbd_cmd) {
        uint8_t cmd = k->kbd_cmd;

        k->kbd_cmd = 0;
        if (cmd == 0xf0) {
            q_push(q, ACK);
            /* The set number is keyboard output like any other: a
             * translating controller turns 1, 2, 3 into 43, 41, 3f. */
            if (v == 0)
                q_push(q, (k->ccb & CCB_XLATE) ? translate(k->kbd_set) : k->kbd_set);
            else if (v <= 3)
                k->kbd_set = v;
            return;
        }
        if (cmd == 0xed)
            k->kbd_leds = v & 7;
        q_push(q, ACK);     /* LEDs (0xed) and typematic rate (0xf3) */
        return;
    }
    switch (v) {
    case 0xed: case 0xf3: case 0xf0:
        k->kbd_cmd = v;
        q_push(q, ACK);
        break;
    case 0xee:
        q_push(q, 0xee);
        break;
    case 0xf2:
        q_push(q, ACK);
        q_push(q, 0xab);
        q_push(q, (k->ccb & CCB_XLATE) ? 0x41 : 0x83);
        break;
    case 0xf4:
        k->kbd_enabled = true;
        q_push(q, ACK);
        break;
    case 0xf5:
        k->kbd_enabled = false;
        q_push(q, ACK);
        break;
    case 0xf6:
        kbd_reset_dev(k);
        q_push(q, ACK);
        break;
    case 0xff:
        q_clear(q);
        kbd_reset_dev(k);
        q_push(q, ACK);
        q_push(q, 0xaa);
        break;
    default:
        q_push(q, 0xfe);    /* resend: unknown command */
        break;
    }
}

static void aux_write(struct i8042 *k, uint8_t v)
{
    struct ps2_queue *q = &k->aux_q;

    if (k->aux_cmd) {
        uint8_t cmd = k->aux_cmd;

        k->aux_cmd = 0;
        if (cmd == 0xf3) {
            k->aux_rate = v;
            /* The IntelliMouse knock: rates 200, 100, 80 in a row. */
            k->aux_rates[0] = k->aux_rates[1];
            k->aux_rates[1] = k->aux_rates[2];
            k->aux_rates[2] = v;
            if (k->aux_rates[0] == 200 && k->aux_rates[1] == 100 && k->aux_rates[2] == 80)
                k->aux_id = 3;
        } else if (cmd == 0xe8)
            k->aux_res = v & 3;
        q_push(q, ACK);
        return;
    }
    if (k->aux_wrap && v != 0xec && v != 0xff) {
        q_push(q, v);
        return;
    }
    switch (v) {
    case 0xe6: k->aux_scaling = 1; q_push(q, ACK); break;
    case 0xe7: k->aux_scaling = 2; q_push(q, ACK); break;
    case 0xe8: case 0xf3: k->aux_cmd = v; q_push(q, ACK); break;
    case 0xe9:
        q_push(q, ACK);
        q_push(q, (uint8_t)((k->aux_remote ? 0x40 : 0) | (k->aux_enabled ? 0x20 : 0) |
                            (k->aux_scaling == 2 ? 0x10 : 0) | (k->aux_buttons & 7)));
        q_push(q, k->aux_res);
        q_push(q, k->aux_rate);
        break;
    case 0xea: k->aux_remote = false; q_push(q, ACK); break;
    case 0xeb:
        q_push(q, ACK);
        q_push(q, (uint8_t)(0x08 | (k->aux_buttons & 7)));
        q_push(q, 0);
        q_push(q, 0);
        if (k->aux_id == 3)
            q_push(q, 0);
        break;
    case 0xec: k->aux_wrap = false; q_push(q, ACK); break;
    case 0xee: k->aux_wrap = true; q_push(q, ACK); break;
    case 0xf0: k->aux_remote = true; q_push(q, ACK); break;
    case 0xf2: q_push(q, ACK); q_push(q, k->aux_id); break;
    case 0xf4: k->aux_enabled = true; q_push(q, ACK); break;
    case 0xf5: k->aux_enabled = false; q_push(q, ACK); break;
    case 0xf6: aux_reset_dev(k); q_push(q, ACK); break;
    case 0xff:
        q_clear(q);
        aux_reset_dev(k);
        q_push(q, ACK);
        q_push(q, 0xaa);
        q_push(q, 0x00);
        break;
    default:
        q_push(q, 0xfe);
        break;
    }
}

/* Returns true when the guest pulled the reset line. */
static bool write_outport(struct i8042 *k, uint8_t v)
{
    k->outport = v;
    return !(v & 0x01);
}

static bool controller_cmd(struct i8042 *k, uint8_t cmd)
{
    switch (cmd) {
    case 0x20:
        reply(k, k->ccb, false);
        break;
    case 0x60: case 0xd1: case 0xd2: case 0xd3: case 0xd4:
        k->pending_cmd = cmd;
        break;
    case 0xa7: k->ccb |= CCB_AUX_DIS; break;
    case 0xa8: k->ccb &= (uint8_t)~CCB_AUX_DIS; break;
    case 0xa9: reply(k, 0x00, false); break;
    case 0xaa:
        k->status |= ST_SYS;
        reply(k, 0x55, false);
        break;
    case 0xab: reply(k, 0x00, false); break;
    case 0xad: k->ccb |= CCB_KBD_DIS; break;
    case 0xae: k->ccb &= (uint8_t)~CCB_KBD_DIS; break;
    case 0xc0: reply(k, 0x80, false); break;   /* input port: keyboard not locked */
    case 0xd0: reply(k, k->outport, false); break;
    case 0xdd: k->outport &= (uint8_t)~0x02; break;
    case 0xdf: k->outport |= 0x02; break;
    default:
        /* 0xf0-0xff pulse output-port lines; bit 0 low is the reset line. */
        if (cmd >= 0xf0 && !(cmd & 0x01))
            return true;
        break;
    }
    return false;
}

static bool data_write(struct i8042 *k, uint8_t v)
{
    uint8_t cmd = k->pending_cmd;

    k->pending_cmd = 0;
    switch (cmd) {
    case 0x60:
        k->ccb = v;
        if (v & CCB_SYS)
            k->status |= ST_SYS;
        else
            k->status &= (uint8_t)~ST_SYS;
        return false;
    case 0xd1:
        return write_outport(k, v);
    case 0xd2:
        reply(k, v, false);
        return false;
    case 0xd3:
        reply(k, v, true);
        return false;
    case 0xd4:
        aux_write(k, v);
        return false;
    default:
        /* Writing to the keyboard re-enables its interface. */
        k->ccb &= (uint8_t)~CCB_KBD_DIS;
        kbd_write(k, v);
        return false;
    }
}

static void i8042_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct i8042 *k = opaque;

    if (offset != 0 && offset != 4) {
        bus_put(data, size, ~0ull);
        return;
    }
    pthread_mutex_lock(&k->lock);
    if (offset == 0) {
        data[0] = k->out;
        k->status &= (uint8_t)~(ST_OBF | ST_AUX_OBF);
        /* The IRQ lines follow the output buffer: reading it drops them,
         * and the next queued byte raises them again. The PIC and IOAPIC
         * take ISA interrupts on the edge, so a firmware that reads one
         * byte per interrupt (SeaBIOS) needs that drop to hear of the
         * next byte. */
        irq_set(&k->kbd_irq, 0);
        irq_set(&k->aux_irq, 0);
    } else {
        data[0] = k->status;
    }
    update(k);
    pthread_mutex_unlock(&k->lock);
    for (unsigned i = 1; i < size; i++)
        data[i] = 0xff;
}

static void i8042_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct i8042 *k = opaque;
    bool reset;

    if (offset != 0 && offset != 4)
        return;
    pthread_mutex_lock(&k->lock);
    if (offset == 0) {
        k->status &= (uint8_t)~ST_CMD;
        reset = data_write(k, data[0]);
    } else {
        k->status |= ST_CMD;
        reset = controller_cmd(k, data[0]);
    }
    update(k);
    pthread_mutex_unlock(&k->lock);
    if (reset)
        power_reset(&k->power, "keyboard-controller");
}

void i8042_key(struct i8042 *k, const uint8_t *set2, unsigned len)
{
    bool brk = false;

    pthread_mutex_lock(&k->lock);
    /* A key's whole sequence or nothing: half of one would leave the guest
     * with a prefix that changes the meaning of the next key. */
    if (k->kbd_enabled && q_room(&k->kbd_q) >= len) {
        for (unsigned i = 0; i < len; i++) {
            uint8_t c = set2[i];

            if (!(k->ccb & CCB_XLATE) || k->kbd_set != 2) {
                q_push(&k->kbd_q, c);
                continue;
            }
            if (c == 0xf0) {
                brk = true;
                continue;
            }
            if (c == 0xe0 || c == 0xe1) {
                q_push(&k->kbd_q, c);
                continue;
            }
            q_push(&k->kbd_q, (uint8_t)(translate(c) | (brk ? 0x80 : 0)));
            brk = false;
        }
        update(k);
    }
    pthread_mutex_unlock(&k->lock);
}

static int clamp9(int v)
{
    return v > 255 ? 255 : v < -256 ? -256 : v;
}

void i8042_mouse(struct i8042 *k, int dx, int dy, int dz, uint8_t buttons)
{
    pthread_mutex_lock(&k->lock);
    k->aux_buttons = buttons;
    /* Whole packets only: a partial one would shift every later packet. */
    if (k->aux_enabled && !k->aux_remote && q_room(&k->aux_q) >= (k->aux_id == 3 ? 4u : 3u)) {
        int x = clamp9(dx), y = clamp9(-dy);

        q_push(&k->aux_q, (uint8_t)(0x08 | (buttons & 7) | (x < 0 ? 0x10 : 0) | (y < 0 ? 0x20 : 0)));
        q_push(&k->aux_q, (uint8_t)x);
        q_push(&k->aux_q, (uint8_t)y);
        if (k->aux_id == 3) {
            /* Z counts towards the user; dz away from the user. */
            int z = -dz;

            q_push(&k->aux_q, (uint8_t)(z > 7 ? 7 : z < -8 ? -8 : z));
        }
        update(k);
    }
    pthread_mutex_unlock(&k->lock);
}

uint8_t i8042_leds(struct i8042 *k)
{
    uint8_t v;

    pthread_mutex_lock(&k->lock);
    v = k->kbd_leds;
    pthread_mutex_unlock(&k->lock);
    return v;
}

const struct bus_ops i8042_bus_ops = { .read = i8042_read, .write = i8042_write };
