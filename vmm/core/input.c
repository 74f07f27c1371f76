/* The input router: see input.h. */
#include "input.h"

#include <errno.h>

#define BITS_PER_LONG (8 * sizeof(unsigned long))

void input_init(struct input *in)
{
    *in = (struct input){ 0 };
    pthread_mutex_init(&in->lock, NULL);
}

void input_destroy(struct input *in)
{
    pthread_mutex_destroy(&in->lock);
}

int input_add_device(struct input *in, const char *name, unsigned caps,
                     const struct input_device_ops *ops, void *opaque)
{
    int r = -ENOSPC;

    pthread_mutex_lock(&in->lock);
    if (in->ndev < INPUT_MAX_DEVICES) {
        in->dev[in->ndev].name = name;
        in->dev[in->ndev].caps = caps;
        in->dev[in->ndev].ops = ops;
        in->dev[in->ndev].opaque = opaque;
        in->ndev++;
        r = 0;
    }
    pthread_mutex_unlock(&in->lock);
    return r;
}

/* The device for cap, newest first; -1 if none is active. Lock held. */
static int target(struct input *in, unsigned cap)
{
    for (unsigned i = in->ndev; i-- > 0;) {
        if (!(in->dev[i].caps & cap))
            continue;
        if (!in->dev[i].ops->active || in->dev[i].ops->active(in->dev[i].opaque))
            return (int)i;
    }
    return -1;
}

static void key_locked(struct input *in, unsigned code, bool down)
{
    unsigned long bit = 1ul << (code % BITS_PER_LONG);
    unsigned long *word = &in->pressed[code / BITS_PER_LONG];
    int t;

    if (down)
        *word |= bit;
    else
        *word &= ~bit;
    t = target(in, INPUT_CAP_KEYBOARD);
    if (t >= 0 && in->dev[t].ops->key) {
        in->dev[t].ops->key(in->dev[t].opaque, code, down);
        in->events++;
    }
}

void input_key(struct input *in, unsigned code, bool down)
{
    if (code == 0 || code > 255)
        return;
    pthread_mutex_lock(&in->lock);
    key_locked(in, code, down);
    pthread_mutex_unlock(&in->lock);
}

void input_release_keys(struct input *in)
{
    pthread_mutex_lock(&in->lock);
    for (unsigned code = 1; code <= 255; code++)
        if (in->pressed[code / BITS_PER_LONG] & (1ul << (code % BITS_PER_LONG)))
            key_locked(in, code, false);
    pthread_mutex_unlock(&in->lock);
}

void input_rel(struct input *in, int dx, int dy, int wheel, unsigned buttons)
{
    int t;

    pthread_mutex_lock(&in->lock);
    in->buttons = buttons;
    t = target(in, INPUT_CAP_REL);
    if (t >= 0 && in->dev[t].ops->rel) {
        in->dev[t].ops->rel(in->dev[t].opaque, dx, dy, wheel, buttons);
        in->events++;
    }
    pthread_mutex_unlock(&in->lock);
}

void input_abs(struct input *in, unsigned x, unsigned y, int wheel, unsigned buttons)
{
    int t;

    if (x > INPUT_ABS_MAX)
        x = INPUT_ABS_MAX;
    if (y > INPUT_ABS_MAX)
        y = INPUT_ABS_MAX;
    pthread_mutex_lock(&in->lock);
    in->buttons = buttons;
    t = target(in, INPUT_CAP_ABS);
    if (t >= 0 && in->dev[t].ops->abs) {
        in->dev[t].ops->abs(in->dev[t].opaque, x, y, wheel, buttons);
        in->events++;
    }
    pthread_mutex_unlock(&in->lock);
}

bool input_absolute(struct input *in)
{
    bool r;

    pthread_mutex_lock(&in->lock);
    r = target(in, INPUT_CAP_ABS) >= 0;
    pthread_mutex_unlock(&in->lock);
    return r;
}

unsigned input_leds(struct input *in)
{
    unsigned v = 0;
    int t;

    pthread_mutex_lock(&in->lock);
    t = target(in, INPUT_CAP_KEYBOARD);
    if (t >= 0 && in->dev[t].ops->leds)
        v = in->dev[t].ops->leds(in->dev[t].opaque);
    pthread_mutex_unlock(&in->lock);
    return v;
}

const char *input_target(struct input *in, unsigned cap)
{
    const char *name;
    int t;

    pthread_mutex_lock(&in->lock);
    t = target(in, cap);
    name = t >= 0 ? in->dev[t].name : NULL;
    pthread_mutex_unlock(&in->lock);
    return name;
}
